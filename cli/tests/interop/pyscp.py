#!/usr/bin/env python3
"""A pynetdicom SCP for dicomwire's interop tests (cli/tests/interop.rs).

    pyscp.py PORT --ae-title AE --worklist DIR --hanging-protocols DIR
             [--move-dest AE=HOST:PORT]...
             [--tls-cert PEM --tls-key PEM --tls-ca PEM]

Serves Verification, Modality Worklist FIND and Hanging Protocol FIND, GET and MOVE on
127.0.0.1:PORT from the DICOM files in the two directories (read once at start). It is a
test peer, so C-FIND matching is simple: a key with an empty value is a return key; a key
with a value matches by equality, or as a pattern when it holds * or ?, each value of a
multi-valued key being a candidate (list of UID matching); a sequence key whose item
holds only zero-length keys is a return key too, and one with values matches when some
item of the record's sequence matches the item's keys. Responses carry
the requested keys with the record's values (sequence items reduced to the requested
keys) and the record's Specific Character Set.

With --tls-cert, --tls-key and --tls-ca it serves over TLS only (an ssl.SSLContext, TLS
1.2 or later, client certificates required and verified against --tls-ca).

Prints "pyscp listening on 127.0.0.1:PORT" once the server socket is open.
"""

import argparse
import fnmatch
import os
import ssl
import sys

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    HangingProtocolInformationModelFind,
    HangingProtocolInformationModelGet,
    HangingProtocolInformationModelMove,
    HangingProtocolStorage,
    ModalityWorklistInformationFind,
    Verification,
)

TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


def load(directory):
    records = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            records.append(dcmread(path))
    return records


def values(element):
    value = element.value
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v).strip() for v in value]
    text = str(value).strip()
    return [text] if text else []


def element_matches(key, record_element):
    if key.VR == "SQ":
        items = list(key.value or [])
        if not items or is_universal(items[0]):
            return True
        candidates = list(record_element.value or []) if record_element is not None else []
        return any(dataset_matches(items[0], item) for item in candidates)
    wanted = values(key)
    if not wanted:
        return True
    if record_element is None:
        return False
    have = values(record_element)
    for pattern in wanted:
        for value in have:
            if "*" in pattern or "?" in pattern:
                if fnmatch.fnmatchcase(value, pattern):
                    return True
            elif value == pattern:
                return True
    return False


def is_universal(item):
    """Whether every key of a sequence item is universal (zero-length)."""
    return all(
        is_universal_items(element) if element.VR == "SQ" else not values(element)
        for element in item
    )


def is_universal_items(element):
    items = list(element.value or [])
    return not items or is_universal(items[0])


def dataset_matches(query, record):
    for key in query:
        if key.tag == 0x00080005:
            continue
        if not element_matches(key, record.get(key.tag)):
            return False
    return True


def response(query, record):
    out = Dataset()
    if "SpecificCharacterSet" in record:
        out.SpecificCharacterSet = record.SpecificCharacterSet
    for key in query:
        if key.tag == 0x00080005:
            continue
        have = record.get(key.tag)
        if key.VR == "SQ":
            items = list(key.value or [])
            if have is None:
                out.add_new(key.tag, "SQ", Sequence([]))
            elif not items or len(items[0]) == 0:
                out.add_new(key.tag, "SQ", Sequence(list(have.value)))
            else:
                out.add_new(
                    key.tag, "SQ", Sequence([response(items[0], item) for item in have.value])
                )
        elif have is None:
            out.add_new(key.tag, key.VR, None)
        else:
            out.add_new(key.tag, have.VR, have.value)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--ae-title", default="PYSCP")
    parser.add_argument("--worklist", required=True)
    parser.add_argument("--hanging-protocols", required=True)
    parser.add_argument("--move-dest", action="append", default=[])
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-ca")
    args = parser.parse_args()

    worklist = load(args.worklist)
    protocols = load(args.hanging_protocols)
    destinations = {}
    for spec in args.move_dest:
        title, address = spec.split("=", 1)
        host, port = address.rsplit(":", 1)
        destinations[title] = (host, int(port))

    def find(records, event):
        query = event.identifier
        for record in records:
            if event.is_cancelled:
                yield (0xFE00, None)
                return
            if dataset_matches(query, record):
                yield (0xFF00, response(query, record))

    def on_find(event):
        if event.request.AffectedSOPClassUID == ModalityWorklistInformationFind:
            yield from find(worklist, event)
        else:
            yield from find(protocols, event)

    def selected(event):
        return [p for p in protocols if dataset_matches(event.identifier, p)]

    def on_get(event):
        matches = selected(event)
        yield len(matches)
        for instance in matches:
            if event.is_cancelled:
                yield (0xFE00, None)
                return
            yield (0xFF00, instance)

    def on_move(event):
        destination = destinations.get(event.move_destination.strip())
        if destination is None:
            yield (None, None)
            return
        yield destination
        matches = selected(event)
        yield len(matches)
        for instance in matches:
            if event.is_cancelled:
                yield (0xFE00, None)
                return
            yield (0xFF00, instance)

    ae = AE(ae_title=args.ae_title)
    ae.add_supported_context(Verification, TRANSFER_SYNTAXES)
    ae.add_supported_context(ModalityWorklistInformationFind, TRANSFER_SYNTAXES)
    ae.add_supported_context(HangingProtocolInformationModelFind, TRANSFER_SYNTAXES)
    ae.add_supported_context(HangingProtocolInformationModelGet, TRANSFER_SYNTAXES)
    ae.add_supported_context(HangingProtocolInformationModelMove, TRANSFER_SYNTAXES)
    # C-GET sends C-STORE back on the association: accept the requestor as the SCP of
    # Hanging Protocol Storage (SCP/SCU Role Selection).
    ae.add_supported_context(
        HangingProtocolStorage, TRANSFER_SYNTAXES, scu_role=False, scp_role=True
    )
    # C-MOVE sub-associations request Hanging Protocol Storage.
    ae.add_requested_context(HangingProtocolStorage, TRANSFER_SYNTAXES)
    ae.acse_timeout = 15
    ae.dimse_timeout = 30
    ae.network_timeout = 30

    handlers = [
        (evt.EVT_C_FIND, on_find),
        (evt.EVT_C_GET, on_get),
        (evt.EVT_C_MOVE, on_move),
    ]
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.tls_cert, args.tls_key)
        context.load_verify_locations(args.tls_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    server = ae.start_server(
        ("127.0.0.1", args.port), block=False, evt_handlers=handlers, ssl_context=context
    )
    print(f"pyscp listening on 127.0.0.1:{args.port}", flush=True)
    try:
        # Until the test kills us (or stdin closes, when run by hand).
        sys.stdin.read()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
