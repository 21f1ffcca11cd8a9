#!/usr/bin/env python3
"""A pynetdicom SCU for dicomwire's interop tests (cli/tests/interop.rs).

Runs one operation against a DICOM SCP and prints the results as JSON lines on stdout,
one object per line, the last one with "op" set to the operation and "done" true:

    pyscu.py find-worklist HOST PORT --aec AE [--modality MR]
        {"match": {"PatientName": ..., "PatientID": ..., "AccessionNumber": ...,
                   "Modality": ..., "ScheduledProcedureStepStartDate": ...}}  per match
        {"op": "find-worklist", "done": true, "status": 0, "matches": N}
    pyscu.py find-hp HOST PORT --aec AE [--modality CT]
        {"match": {"SOPInstanceUID": ..., "HangingProtocolName": ...,
                   "HangingProtocolLevel": ..., "NumberOfScreens": ...}}  per match
        {"op": "find-hp", "done": true, "status": 0, "matches": N}
    pyscu.py get HOST PORT --aec AE --uid UID [--uid UID]...
        {"received": {"SOPInstanceUID": ..., "SOPClassUID": ..., "HangingProtocolName": ...}}
        {"op": "get", "done": true, "status": 0, "completed": N, "failed": N, "warning": N,
         "role_selection_proposed": true, "as_scp": true, "received": N}
    pyscu.py move HOST PORT --aec AE --uid UID --dest AE --store-port P
        (a Storage SCP titled --dest listens on 127.0.0.1:P for the sub-operations)
        {"received": {...}}  per instance the Storage SCP got
        {"op": "move", "done": true, "status": 0, "completed": N, "failed": N,
         "warning": N, "received": N}

With --tls-ca the association runs over TLS (an ssl.SSLContext, TLS 1.2 or later, the
server's certificate verified against --tls-ca and --tls-server-name, default HOST),
presenting --tls-cert and --tls-key when given; --tls12 allows TLS 1.2 only.

Exit code 0 when the operation ran to a final response (whatever its status), 2 when the
association was not established or the peer stopped answering.
"""

import argparse
import json
import ssl
import sys
import threading
import time

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, build_role, debug_logger, evt
from pynetdicom.sop_class import (
    HangingProtocolInformationModelFind,
    HangingProtocolInformationModelGet,
    HangingProtocolInformationModelMove,
    HangingProtocolStorage,
    ModalityWorklistInformationFind,
)

TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


def emit(obj):
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def text(ds, keyword):
    value = getattr(ds, keyword, None) if ds is not None else None
    if value is None:
        return None
    return str(value).strip()


def counts(status):
    return {
        "completed": int(getattr(status, "NumberOfCompletedSuboperations", 0) or 0),
        "failed": int(getattr(status, "NumberOfFailedSuboperations", 0) or 0),
        "warning": int(getattr(status, "NumberOfWarningSuboperations", 0) or 0),
    }


def tls_args(args):
    if not args.tls_ca:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if args.tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(args.tls_ca)
    if args.tls_cert:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    return (context, args.tls_server_name or args.host)


def associate(ae, args, **kwargs):
    assoc = ae.associate(args.host, args.port, ae_title=args.aec, tls_args=tls_args(args), **kwargs)
    if not assoc.is_established:
        print("association not established", file=sys.stderr)
        sys.exit(2)
    return assoc


def new_ae(args):
    ae = AE(ae_title=args.aet)
    ae.acse_timeout = 15
    ae.dimse_timeout = 30
    ae.network_timeout = 30
    return ae


def find(args, sop_class, query, describe):
    ae = new_ae(args)
    ae.add_requested_context(sop_class, TRANSFER_SYNTAXES)
    assoc = associate(ae, args)
    final = None
    matches = 0
    for status, identifier in assoc.send_c_find(query, sop_class):
        if status is None or "Status" not in status:
            print("no response or an invalid one", file=sys.stderr)
            assoc.abort()
            sys.exit(2)
        if status.Status in (0xFF00, 0xFF01):
            matches += 1
            emit({"match": describe(identifier)})
        else:
            final = status.Status
    assoc.release()
    return final, matches


def find_worklist(args):
    query = Dataset()
    query.PatientName = ""
    query.PatientID = ""
    query.AccessionNumber = ""
    step = Dataset()
    step.Modality = args.modality or ""
    step.ScheduledProcedureStepStartDate = ""
    step.ScheduledStationAETitle = ""
    query.ScheduledProcedureStepSequence = [step]

    def describe(ds):
        steps = getattr(ds, "ScheduledProcedureStepSequence", None) or []
        step = steps[0] if steps else None
        return {
            "PatientName": text(ds, "PatientName"),
            "PatientID": text(ds, "PatientID"),
            "AccessionNumber": text(ds, "AccessionNumber"),
            "Modality": text(step, "Modality"),
            "ScheduledProcedureStepStartDate": text(step, "ScheduledProcedureStepStartDate"),
        }

    status, matches = find(args, ModalityWorklistInformationFind, query, describe)
    emit({"op": "find-worklist", "done": True, "status": status, "matches": matches})


def find_hp(args):
    query = Dataset()
    query.SOPClassUID = ""
    query.SOPInstanceUID = ""
    query.HangingProtocolName = ""
    query.HangingProtocolLevel = ""
    query.NumberOfScreens = None
    definition = Dataset()
    definition.Modality = args.modality or ""
    query.HangingProtocolDefinitionSequence = [definition]
    query.HangingProtocolUserIdentificationCodeSequence = []

    def describe(ds):
        screens = getattr(ds, "NumberOfScreens", None)
        return {
            "SOPInstanceUID": text(ds, "SOPInstanceUID"),
            "HangingProtocolName": text(ds, "HangingProtocolName"),
            "HangingProtocolLevel": text(ds, "HangingProtocolLevel"),
            "NumberOfScreens": int(screens) if screens is not None else None,
        }

    status, matches = find(args, HangingProtocolInformationModelFind, query, describe)
    emit({"op": "find-hp", "done": True, "status": status, "matches": matches})


def describe_instance(ds):
    return {
        "SOPInstanceUID": text(ds, "SOPInstanceUID"),
        "SOPClassUID": text(ds, "SOPClassUID"),
        "HangingProtocolName": text(ds, "HangingProtocolName"),
    }


def retrieve_query(args):
    query = Dataset()
    query.SOPInstanceUID = args.uid if len(args.uid) == 1 else list(args.uid)
    return query


def final_response(responses):
    final = None
    for status, _identifier in responses:
        if status is None or "Status" not in status:
            print("no response or an invalid one", file=sys.stderr)
            sys.exit(2)
        if status.Status != 0xFF00:
            final = status
    return final


def get(args):
    received = []

    def on_store(event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        received.append(describe_instance(ds))
        emit({"received": describe_instance(ds)})
        return 0x0000

    ae = new_ae(args)
    ae.add_requested_context(HangingProtocolInformationModelGet, TRANSFER_SYNTAXES)
    ae.add_requested_context(HangingProtocolStorage, TRANSFER_SYNTAXES)
    # SCP/SCU Role Selection: we propose to be the SCP of Hanging Protocol Storage.
    role = build_role(HangingProtocolStorage, scp_role=True)
    assoc = associate(ae, args, ext_neg=[role], evt_handlers=[(evt.EVT_C_STORE, on_store)])
    as_scp = any(
        cx.abstract_syntax == HangingProtocolStorage and cx.as_scp
        for cx in assoc.accepted_contexts
    )
    final = final_response(assoc.send_c_get(retrieve_query(args), HangingProtocolInformationModelGet))
    assoc.release()
    emit(
        {
            "op": "get",
            "done": True,
            "status": final.Status if final is not None else None,
            **(counts(final) if final is not None else {}),
            "role_selection_proposed": True,
            "as_scp": as_scp,
            "received": len(received),
        }
    )


def move(args):
    received = []
    lock = threading.Lock()

    def on_store(event):
        ds = event.dataset
        with lock:
            received.append(describe_instance(ds))
        emit({"received": describe_instance(ds)})
        return 0x0000

    store = AE(ae_title=args.dest)
    store.add_supported_context(HangingProtocolStorage, TRANSFER_SYNTAXES)
    server = store.start_server(
        ("127.0.0.1", args.store_port),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    try:
        ae = new_ae(args)
        ae.add_requested_context(HangingProtocolInformationModelMove, TRANSFER_SYNTAXES)
        assoc = associate(ae, args)
        final = final_response(
            assoc.send_c_move(retrieve_query(args), args.dest, HangingProtocolInformationModelMove)
        )
        assoc.release()
        # The sub-association has ended before the final response; give the handler
        # thread a moment all the same.
        time.sleep(0.2)
    finally:
        server.shutdown()
    emit(
        {
            "op": "move",
            "done": True,
            "status": final.Status if final is not None else None,
            **(counts(final) if final is not None else {}),
            "received": len(received),
        }
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("op", choices=["find-worklist", "find-hp", "get", "move"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--aet", default="PYSCU")
    parser.add_argument("--aec", default="ANY-SCP")
    parser.add_argument("--modality")
    parser.add_argument("--uid", action="append", default=[])
    parser.add_argument("--dest")
    parser.add_argument("--store-port", type=int)
    parser.add_argument("--tls-ca")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-server-name")
    parser.add_argument("--tls12", action="store_true")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    if args.debug:
        debug_logger()
    {"find-worklist": find_worklist, "find-hp": find_hp, "get": get, "move": move}[args.op](args)


if __name__ == "__main__":
    main()
