#!/usr/bin/env python3
"""Runs one of the pynetdicom interop scripts (cli/tests/interop/pyscp.py, pyscu.py) with
two patches for the benchmarks, so that pynetdicom is measured at its best:

- TCP_NODELAY on every association socket (pynetdicom never sets it, and Nagle's
  algorithm then delays small PDUs by up to 40 ms);
- the maximum PDU length we receive set from $BENCH_MAX_PDU (pynetdicom's default is
  16,382 bytes), so that every contender of a retrieve row runs at the same max PDU;
- at most 64 associations at once rather than 10 (8 parallel clients need more).

    peers.py pyscp.py ARGS...     peers.py pyscu.py ARGS...
    peers.py echo-loop HOST PORT COUNT PARALLEL   (open, C-ECHO, release; prints JSON)
"""

import json
import os
import runpy
import socket
import sys
import threading
import time

from pynetdicom import ae as ae_module
from pynetdicom import transport

_init = transport.AssociationSocket.__init__


def _init_nodelay(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    if getattr(self, "socket", None) is not None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


transport.AssociationSocket.__init__ = _init_nodelay

_ae_init = ae_module.ApplicationEntity.__init__


def _ae_init_pdu(self, *args, **kwargs):
    _ae_init(self, *args, **kwargs)
    if os.environ.get("BENCH_MAX_PDU"):
        self.maximum_pdu_size = int(os.environ["BENCH_MAX_PDU"])
    # The default of 10 refuses 8 parallel clients whose finished associations have not
    # been reaped yet (A-ASSOCIATE-RJ local-limit-exceeded).
    self.maximum_associations = 64


ae_module.ApplicationEntity.__init__ = _ae_init_pdu

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "tests", "interop")


def echo_loop(host, port, count, parallel):
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    latencies = []
    lock = threading.Lock()

    def worker(n):
        ae = AE(ae_title="PYBENCH")
        ae.add_requested_context(Verification)
        for _ in range(n):
            start = time.perf_counter()
            assoc = ae.associate(host, port)
            if not assoc.is_established:
                raise SystemExit("association not established")
            status = assoc.send_c_echo()
            if status is None or status.Status != 0:
                raise SystemExit("echo failed")
            assoc.release()
            with lock:
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    threads = [
        threading.Thread(target=worker, args=(count // parallel + (1 if i < count % parallel else 0),))
        for i in range(parallel)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if len(latencies) != count:
        raise SystemExit(f"only {len(latencies)} of {count} associations")
    latencies.sort()
    print(json.dumps({
        "count": count,
        "wall_s": wall,
        "per_s": count / wall,
        "median_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] * 1e3,
    }))


def main():
    if sys.argv[1] == "echo-loop":
        host, port, count, parallel = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        echo_loop(host, port, count, parallel)
        return
    script = os.path.join(SCRIPTS, sys.argv[1])
    sys.argv = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
