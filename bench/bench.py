#!/usr/bin/env python3
"""The measuring half of bench/run (which builds, installs the peers and generates the
data first). Runs every contender of a row group in turn, round after round (the order
rotates each round), so that the noise of a shared machine falls on all of them alike;
prints a markdown table of medians and writes it to --out.

Wall time is the client's, from start to exit. CPU time is user+sys: the client's from
wait4() (its rusage, threads included), the server's as the growth of utime+stime (and
of its reaped children) in /proc/PID/stat over the run. Servers stay up for the whole
group; everything listens on 127.0.0.1 only.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DCMTK_ENV = {"TCP_NODELAY": "1"}
CLIENT_TIMEOUT = 600
TICK = os.sysconf("SC_CLK_TCK")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Processes


class Server:
    """A server process, started once, killed at the end of its group."""

    live = []

    def __init__(self, name, argv, port, env=None, stdin_pipe=False):
        self.name, self.argv, self.port = name, argv, port
        self.env = dict(os.environ, **(env or {}))
        self.stdin_pipe = stdin_pipe
        self.proc = None

    def start(self):
        log(f"  starting {self.name}: {' '.join(self.argv)}")
        self.log_path = f"{ARGS.scratch}/{self.name.replace(' ', '_').replace('/', '_')}.log"
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.PIPE if self.stdin_pipe else subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Server.live.append(self)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} does not listen on {self.port}")

    def cpu(self):
        """CPU seconds of the server and of its children, live, exited or reaped: a
        child's time is in its own /proc entry until it is reaped, then in our cutime
        (wlmscpfs and storescp may fork an association off; dcmqrscp forks every one)."""
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # After ')': state, ppid, ...; utime, stime, cutime, cstime are 11-14.
                stats[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            total += stats.get(pid, (0, 0))[1]
            todo += [child for child, (ppid, _) in stats.items() if ppid == pid]
        return total / TICK

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self in Server.live:
            Server.live.remove(self)


def stop_all():
    for server in list(Server.live):
        server.stop()


def run_client(argv, env=None, stdout_path="/dev/null", timeout=CLIENT_TIMEOUT):
    """Runs a client to its end: (wall s, cpu s, exit code, stdout path)."""
    out = open(stdout_path, "wb")
    err = open(stdout_path + ".err" if stdout_path != "/dev/null" else "/dev/null", "wb")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=dict(os.environ, **(env or {})), stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.0005)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.close()
    err.close()
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


# ---------------------------------------------------------------------------------------
# Rows


class Contender:
    """One row: a client command against a server (or several)."""

    def __init__(self, name, argv, servers, env=None, check=None, reset=None, parse=None,
                 side_servers=()):
        self.name, self.argv, self.servers, self.env = name, argv, servers, env
        self.check, self.reset, self.parse = check, reset, parse
        # Servers on the client's side (a C-MOVE destination): their CPU counts as client.
        self.side_servers = side_servers
        self.samples = []

    def measure(self):
        if self.reset:
            self.reset()
        before = [s.cpu() for s in self.servers]
        side_before = [s.cpu() for s in self.side_servers]
        out = f"{ARGS.scratch}/client.out"
        wall, cpu, code = run_client(self.argv, self.env, out)
        # Let the server finish its side (release, closing) before reading its CPU.
        time.sleep(0.05)
        server_cpu = sum(s.cpu() - b for s, b in zip(self.servers, before))
        side_cpu = sum(s.cpu() - b for s, b in zip(self.side_servers, side_before))
        with open(out, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        if code != 0:
            err = open(out + ".err", "rb").read().decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"{self.name}: exit {code}\n{text[-2000:]}\n{err}")
        if self.check:
            problem = self.check(text, out)
            if problem:
                raise RuntimeError(f"{self.name}: {problem}")
        extra = self.parse(text) if self.parse else {}
        sample = {"wall": wall, "client_cpu": cpu + side_cpu, "server_cpu": server_cpu, **extra}
        self.samples.append(sample)
        return sample

    def median(self, key):
        values = [s[key] for s in self.samples if key in s]
        return statistics.median(values) if values else None


def alternate(contenders, runs):
    for r in range(runs):
        order = contenders[r % len(contenders):] + contenders[: r % len(contenders)]
        for c in order:
            s = c.measure()
            log(f"    run {r + 1}/{runs} {c.name}: {s['wall']:.3f} s")


# ---------------------------------------------------------------------------------------
# Checks


def lines_ending(expected):
    def check(text, _path):
        last = text.strip().splitlines()[-1] if text.strip() else ""
        return None if last.startswith(expected) else f"expected a last line {expected!r}, got {last!r}"
    return check


def json_done(key, expected):
    def check(text, _path):
        last = json.loads(text.strip().splitlines()[-1])
        return None if last.get(key) == expected and last.get("status") == 0 else f"got {last}"
    return check


def findscu_count(expected):
    def check(_text, path):
        with open(path + ".err", "rb") as f:
            n = f.read().count(b"Find Response:")
        # The last response (Success) is counted too.
        return None if n in (expected, expected + 1) else f"{n} responses, expected {expected}"
    return check


def storescp_count(directory, expected):
    def check(_text, _path):
        n = len(os.listdir(directory))
        return None if n == expected else f"{n} files in {directory}, expected {expected}"
    return check


def getscu_received(directory, source):
    """Every instance of `source` arrived, each within 1 KiB of its source file's size
    (getscu writes its own file meta information: the data sets must be whole)."""
    sizes = {f[:-len(".dcm")]: os.path.getsize(os.path.join(source, f)) for f in os.listdir(source)}

    def check(_text, _path):
        got = os.listdir(directory)
        if len(got) != len(sizes):
            return f"{len(got)} files in {directory}, expected {len(sizes)}"
        for name in got:
            # getscu names a file <modality>.<SOP Instance UID>.
            uid = name.split(".", 1)[-1]
            size = os.path.getsize(os.path.join(directory, name))
            if uid not in sizes or abs(size - sizes[uid]) > 1024:
                return f"{name}: {size} bytes, its source {sizes.get(uid)}"
        return None
    return check


def emptied(*dirs):
    def reset():
        for d in dirs:
            os.makedirs(d, exist_ok=True)
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))
    return reset


# ---------------------------------------------------------------------------------------
# Tables


def fmt(x, digits=3):
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def ratio(x, ref):
    if x is None or not ref:
        return "–"
    return f"{x / ref:.2f}×"


TABLES = []


def table(title, header, rows, notes=()):
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    for note in notes:
        lines += ["", note]
    text = "\n".join(lines) + "\n"
    TABLES.append(text)
    print(text, flush=True)


def time_table(title, contenders, notes=(), rate=None):
    """Medians; the ratio is the contender's wall time over the first row's."""
    ref = contenders[0].median("wall")
    header = ["contender", "wall s", "client CPU s", "server CPU s"]
    if rate:
        header.append(rate[0])
    header.append("time ÷ first row")
    rows = []
    for c in contenders:
        row = [c.name, fmt(c.median("wall")), fmt(c.median("client_cpu")),
               fmt(c.median("server_cpu"))]
        if rate:
            row.append(fmt(rate[1] / c.median("wall"), 1))
        row.append(ratio(c.median("wall"), ref))
        rows.append(row)
    table(title, header, rows, notes)


# ---------------------------------------------------------------------------------------
# Groups

PORT = 21100

# storescp and storescu know no Hanging Protocol Storage of their own: a profile for it.
DCMTK_STORE_CONFIG = """\
[[TransferSyntaxes]]
[Uncompressed]
TransferSyntax1 = LocalEndianExplicit
TransferSyntax2 = LittleEndianImplicit
[[PresentationContexts]]
[HangingProtocols]
PresentationContext1 = VerificationSOPClass\\Uncompressed
PresentationContext2 = HangingProtocolStorage\\Uncompressed
[[Profiles]]
[HangingProtocols]
PresentationContexts = HangingProtocols
"""


def dcmtk_store_config():
    path = f"{ARGS.scratch}/dcmtk-store.cfg"
    with open(path, "w") as f:
        f.write(DCMTK_STORE_CONFIG)
    return ["-xf", path, "HangingProtocols"]


# dcmqrscp's configuration: one storage area (AE title QRSCP), readable by GETSCU on
# localhost only. maxBytesPerStudy is capped at 1 GiB by dcmqrscp; 20 × 50 MiB fits.
DCMQRSCP_CONFIG = """\
NetworkTCPPort  = {port}
MaxPDUSize      = {pdu}
MaxAssociations = 16
HostTable BEGIN
getscu = (GETSCU, localhost, 0)
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
QRSCP {db} R (10, 1024mb) getscu
AETable END
"""


def dcmqrscp(ct, p):
    """dcmqrscp serving the CT images in `ct`: its database (index.dat) is made in the
    scratch dir by dcmqridx, which indexes the files where they are, before any timing.
    dcmqrscp forks a child per association (its --single-process mode crashes after the
    first C-GET association in DCMTK 3.6.7); Server.cpu counts the children."""
    pdu = str(ARGS.max_pdu)
    qr = f"{ARGS.scratch}/dcmqrscp-{os.path.basename(ct)}"
    db = f"{qr}/QRSCP"
    shutil.rmtree(qr, ignore_errors=True)
    os.makedirs(db)
    config = f"{qr}/dcmqrscp.cfg"
    with open(config, "w") as f:
        f.write(DCMQRSCP_CONFIG.format(port=p, pdu=pdu, db=db))
    files = sorted(os.path.join(ct, f) for f in os.listdir(ct))
    subprocess.run(["/usr/bin/dcmqridx", db, *files], check=True, env=dict(os.environ, **DCMTK_ENV))
    return Server("dcmqrscp", ["/usr/bin/dcmqrscp", "-c", config, "--max-pdu", pdu, str(p)], p,
                  env=DCMTK_ENV)


def port():
    global PORT
    PORT += 1
    if PORT >= 21200:
        PORT = 21101
    return PORT


def dicomwire(*args):
    return [f"{ARGS.bin}/dicomwire", *args]


def bench_bin(*args):
    return [f"{ARGS.bin}/dicomwire-bench", *args]


def peers(*args):
    return [sys.executable, f"{HERE}/peers.py", *args]


def serve(name, transport, extra, p=None):
    p = p or port()
    return Server(name, dicomwire("serve", "--bind", f"127.0.0.1:{p}", "--transport", transport,
                                  "--max-associations", "256", *extra), p)


def tls_files(who):
    """`who`'s certificate and key, and the CA (bench/run makes them with openssl)."""
    return (f"{ARGS.pki}/{who}.pem", f"{ARGS.pki}/{who}-key.pem", f"{ARGS.pki}/ca.pem")


def dicomwire_tls(who):
    """dicomwire's --tls-cert/--tls-key/--tls-ca flags for `who` (server or client)."""
    cert, key, ca = tls_files(who)
    return ["--tls-cert", cert, "--tls-key", key, "--tls-ca", ca]


def dcmtk_tls(who):
    """DCMTK's +tls KEY CERT +cf CA for `who`."""
    cert, key, ca = tls_files(who)
    return ["+tls", key, cert, "+cf", ca]


def serve_tls(name, transport, extra, p=None):
    """`dicomwire serve` on a TLS listener only, client certificates required."""
    p = p or port()
    return Server(name, dicomwire("serve", "--tls-bind", f"127.0.0.1:{p}", "--transport", transport,
                                  "--max-associations", "256", *dicomwire_tls("server"), *extra), p)


def tls_cost_table(title, pairs, rate_of, unit, notes=()):
    """Each TLS contender beside its plain counterpart: `rate_of(contender)` of both (in
    `unit`, higher is better) and the time over TLS as a multiple of the time in plain."""
    rows = []
    for plain, tls in pairs:
        p, t = rate_of(plain), rate_of(tls)
        rows.append([tls.name, fmt(p, 1), fmt(t, 1), f"{p / t:.2f}×" if p and t else "–",
                     fmt(plain.median("client_cpu")), fmt(tls.median("client_cpu")),
                     fmt(plain.median("server_cpu")), fmt(tls.median("server_cpu"))])
    table(title, ["over TLS", f"plain {unit}", f"TLS {unit}", "TLS time ÷ plain",
                  "client CPU s plain", "client CPU s TLS", "server CPU s plain",
                  "server CPU s TLS"], rows, notes)


WORKLIST_KEYS = ["PatientName", "PatientID", "AccessionNumber",
                 "ScheduledProcedureStepSequence[0].Modality",
                 "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
                 "ScheduledProcedureStepSequence[0].ScheduledStationAETitle"]


def find_group(n):
    data = ARGS.data
    wl = f"{data}/wl-{n}"                     # the items, for dicomwire and pynetdicom
    wlm = f"{data}/wlm-{n}"                   # the same items in WLMSCP/, for wlmscpfs
    empty = f"{data}/empty"
    mio = serve("dicomwire serve mio", "mio", ["--worklist", wl])
    std = serve("dicomwire serve std", "std", ["--worklist", wl])
    wlmscpfs_port = port()
    wlmscpfs = Server("wlmscpfs", ["/usr/bin/wlmscpfs", "-dfp", wlm, str(wlmscpfs_port)],
                      wlmscpfs_port, env=DCMTK_ENV)
    py_port = port()
    pyscp = Server("pyscp", peers("pyscp.py", str(py_port), "--worklist", wl,
                                  "--hanging-protocols", empty), py_port, stdin_pipe=True)
    servers = [mio, std, wlmscpfs]
    if not ARGS.quick or n <= 1000:
        servers.append(pyscp)
    for s in servers:
        s.start()

    def dw_find(server, aec="ANY-SCP"):
        args = ["find", "worklist", f"127.0.0.1:{server.port}", "--aec", aec]
        for k in WORKLIST_KEYS:
            args += ["-k", k]
        return dicomwire(*args)

    def findscu(server, aec="ANY-SCP"):
        args = ["/usr/bin/findscu", "-W", "-aec", aec]
        for k in WORKLIST_KEYS:
            args += ["-k", k]
        return args + ["127.0.0.1", str(server.port)]

    def pyscu(server, aec="ANY-SCP"):
        return peers("pyscu.py", "find-worklist", "127.0.0.1", str(server.port), "--aec", aec)

    done = lines_ending(f"{n} matches; final status 0x0000")
    contenders = [
        Contender("dicomwire find → dicomwire serve (mio)", dw_find(mio), [mio], check=done),
        Contender("dicomwire find → dicomwire serve (std)", dw_find(std), [std], check=done),
        Contender("DCMTK findscu -W → wlmscpfs", findscu(wlmscpfs, "WLMSCP"), [wlmscpfs],
                  env=DCMTK_ENV, check=findscu_count(n)),
        Contender("DCMTK findscu -W → dicomwire serve (mio)", findscu(mio), [mio],
                  env=DCMTK_ENV, check=findscu_count(n)),
        Contender("dicomwire find → wlmscpfs", dw_find(wlmscpfs, "WLMSCP"), [wlmscpfs],
                  check=done),
    ]
    if pyscp in servers:
        contenders += [
            Contender("pynetdicom → pynetdicom", pyscu(pyscp), [pyscp],
                      check=json_done("matches", n)),
            Contender("pynetdicom → dicomwire serve (mio)", pyscu(mio), [mio],
                      check=json_done("matches", n)),
            Contender("dicomwire find → pynetdicom", dw_find(pyscp), [pyscp], check=done),
        ]
    runs = ARGS.runs
    log(f"== worklist FIND, {n:,} matches, {runs} runs")
    alternate(contenders, runs)
    for s in servers:
        s.stop()
    time_table(
        f"Worklist C-FIND, {n:,} matches (universal query, 6 return keys)", contenders,
        notes=[f"Medians of {runs} runs. Each SCU prints every match (dicomwire one line, "
               "findscu its default dump, pynetdicom one JSON line) to a file on tmpfs."])


def raw_tcp():
    samples = []
    for _ in range(max(3, ARGS.runs)):
        _, _, code = run_client(bench_bin("tcp", "--mib", "2048"), stdout_path=f"{ARGS.scratch}/tcp.out")
        samples.append(json.load(open(f"{ARGS.scratch}/tcp.out"))["mb_s"])
    return statistics.median(samples)


def retrieve_group(count, size, name, ct_name):
    data = ARGS.data
    hp = f"{data}/{name}"
    # The same data-set sizes as CT images of one study, for dcmqrscp (gen-ct).
    ct = f"{data}/{ct_name}"
    study = open(f"{ct}.study").read().strip()
    uids = open(f"{hp}.uids").read()
    total = sum(os.path.getsize(os.path.join(hp, f)) for f in os.listdir(hp))
    pdu = str(ARGS.max_pdu)
    scratch = ARGS.scratch
    dest_port, store_port, py_store_port, dcm_store_port = port(), port(), port(), port()
    get_out, move_out, storescp_out, dw_store_out = (f"{scratch}/get-out", f"{scratch}/move-out",
                                                     f"{scratch}/storescp-out", f"{scratch}/dw-store")
    getscu_out = f"{scratch}/getscu-out"
    out_dirs = (get_out, move_out, storescp_out, dw_store_out, getscu_out)
    for d in out_dirs:
        os.makedirs(d, exist_ok=True)
    common = ["--hanging-protocols", hp, "--max-pdu", pdu,
              "--move-destination", f"DWSTORE=127.0.0.1:{dest_port}",
              "--move-destination", f"STORESCP=127.0.0.1:{dcm_store_port}"]
    mio = serve("dicomwire serve mio", "mio", common)
    std = serve("dicomwire serve std", "std", common)
    dest = serve("dicomwire store destination", "mio",
                 ["--store", move_out, "--max-pdu", pdu, "--ae-title", "DWSTORE"], dest_port)
    dw_storescp = serve("dicomwire serve --store", "mio", ["--store", dw_store_out, "--max-pdu", pdu],
                        store_port)
    storescp = Server("storescp", ["/usr/bin/storescp", "--max-pdu", pdu, *dcmtk_store_config(),
                                   "-aet", "STORESCP", "-od", storescp_out, str(dcm_store_port)],
                      dcm_store_port, env=DCMTK_ENV)
    py_port = port()
    pyenv = {"BENCH_MAX_PDU": pdu}
    pyscp = Server("pyscp", peers("pyscp.py", str(py_port), "--worklist", f"{data}/empty",
                                  "--hanging-protocols", hp, "--move-dest",
                                  f"PYSTORE=127.0.0.1:{py_store_port}"),
                   py_port, env=pyenv, stdin_pipe=True)
    qrscp = dcmqrscp(ct, port())
    tls_mio = serve_tls("dicomwire serve --tls mio", "mio", ["--hanging-protocols", hp, "--max-pdu", pdu])
    tls_std = serve_tls("dicomwire serve --tls std", "std", ["--hanging-protocols", hp, "--max-pdu", pdu])
    tls_store_port = port()
    storescp_tls = Server("storescp +tls", ["/usr/bin/storescp", "--max-pdu", pdu, *dcmtk_store_config(),
                                            *dcmtk_tls("server"), "-aet", "STORESCP", "-od",
                                            storescp_out, str(tls_store_port)],
                          tls_store_port, env=DCMTK_ENV)
    servers = [mio, std, dest, dw_storescp, storescp, qrscp, pyscp, tls_mio, tls_std, storescp_tls]
    for s in servers:
        s.start()

    def dw_get(server, tls=()):
        return dicomwire("get", "hanging-protocol", f"127.0.0.1:{server.port}", "--max-pdu", pdu,
                         "-k", f"SOPInstanceUID={uids}", "--out", get_out, *tls)

    client_tls = ["--tls", *dicomwire_tls("client")]

    def dw_move(server, dest_ae):
        return dicomwire("move", "hanging-protocol", f"127.0.0.1:{server.port}", "--dest", dest_ae,
                         "-k", f"SOPInstanceUID={uids}")

    uid_args = [a for u in uids.split("\\") for a in ("--uid", u)]
    got = lines_ending(f"C-GET: {count} instance(s)")
    moved = lines_ending("C-MOVE to")
    files = sorted(os.path.join(hp, f) for f in os.listdir(hp))
    contenders = [
        Contender("dicomwire get ← dicomwire serve (mio)", dw_get(mio), [mio], check=got,
                  reset=emptied(get_out)),
        Contender("dicomwire get ← dicomwire serve (std)", dw_get(std), [std], check=got,
                  reset=emptied(get_out)),
        Contender("dicomwire move, serve (mio) → dicomwire serve --store", dw_move(mio, "DWSTORE"),
                  [mio], check=storescp_count(move_out, count), reset=emptied(move_out),
                  side_servers=[dest]),
        Contender("dicomwire move, serve (mio) → DCMTK storescp", dw_move(mio, "STORESCP"),
                  [mio], check=storescp_count(storescp_out, count), reset=emptied(storescp_out),
                  side_servers=[storescp]),
        Contender("DCMTK storescu → storescp (C-STORE)",
                  ["/usr/bin/storescu", "--max-pdu", pdu, *dcmtk_store_config(), "-aec", "STORESCP", "127.0.0.1",
                   str(dcm_store_port), *files],
                  [storescp], env=DCMTK_ENV, check=storescp_count(storescp_out, count),
                  reset=emptied(storescp_out)),
        Contender("DCMTK getscu ← dcmqrscp",
                  ["/usr/bin/getscu", "-S", "--max-pdu", pdu, "-aet", "GETSCU", "-aec", "QRSCP",
                   "-od", getscu_out, "-k", "QueryRetrieveLevel=STUDY",
                   "-k", f"StudyInstanceUID={study}", "127.0.0.1", str(qrscp.port)],
                  [qrscp], env=DCMTK_ENV, check=getscu_received(getscu_out, ct),
                  reset=emptied(getscu_out)),
        Contender("DCMTK storescu → dicomwire serve --store", 
                  ["/usr/bin/storescu", "--max-pdu", pdu, *dcmtk_store_config(), "127.0.0.1",
                   str(store_port), *files],
                  [dw_storescp], env=DCMTK_ENV, check=storescp_count(dw_store_out, count),
                  reset=emptied(dw_store_out)),
        Contender("pynetdicom get ← pynetdicom", peers("pyscu.py", "get", "127.0.0.1", str(py_port),
                                                        *uid_args),
                  [pyscp], env=pyenv, check=json_done("received", count)),
        Contender("pynetdicom move → pynetdicom", peers("pyscu.py", "move", "127.0.0.1", str(py_port),
                                                         "--dest", "PYSTORE", "--store-port",
                                                         str(py_store_port), *uid_args),
                  [pyscp], env=pyenv, check=json_done("received", count)),
        Contender("dicomwire get ← pynetdicom", dw_get(pyscp), [pyscp], check=got,
                  reset=emptied(get_out)),
        Contender("pynetdicom get ← dicomwire serve (mio)",
                  peers("pyscu.py", "get", "127.0.0.1", str(mio.port), *uid_args),
                  [mio], env=pyenv, check=json_done("received", count)),
        Contender("dicomwire get --tls ← dicomwire serve --tls (mio)", dw_get(tls_mio, client_tls),
                  [tls_mio], check=got, reset=emptied(get_out)),
        Contender("dicomwire get --tls ← dicomwire serve --tls (std)", dw_get(tls_std, client_tls),
                  [tls_std], check=got, reset=emptied(get_out)),
        Contender("DCMTK storescu +tls → storescp +tls (C-STORE)",
                  ["/usr/bin/storescu", "--max-pdu", pdu, *dcmtk_store_config(), *dcmtk_tls("client"),
                   "-aec", "STORESCP", "127.0.0.1", str(tls_store_port), *files],
                  [storescp_tls], env=DCMTK_ENV, check=storescp_count(storescp_out, count),
                  reset=emptied(storescp_out)),
    ]
    runs = ARGS.runs
    log(f"== retrieve {count} × {size}, {runs} runs")
    alternate(contenders, runs)
    for s in servers:
        s.stop()
    for d in out_dirs:
        emptied(d)()
    tcp = raw_tcp()
    time_table(
        f"Retrieve {count} × {size} instances ({total / 1e6:,.0f} MB), max PDU {ARGS.max_pdu:,} everywhere",
        contenders, rate=("MB/s", total / 1e6),
        notes=[f"Raw loopback TCP in the same run (1 MiB writes, one stream): **{tcp:,.0f} MB/s**; "
               f"dicomwire get ← serve (mio) reaches "
               f"{total / 1e6 / contenders[0].median('wall') / tcp:.0%} of it.",
               "Every receiver writes each instance as a file on tmpfs; client CPU of a "
               "C-MOVE includes its destination's. pynetdicom runs with TCP_NODELAY and "
               "the same max PDU patched in (bench/peers.py).",
               "DCMTK getscu ← dcmqrscp retrieves (Study Root, STUDY level) CT images whose data "
               "sets are as long as the hanging protocols' (`dicomwire-bench gen-ct`), indexed by "
               "dcmqridx beforehand; dcmqrscp forks a child per association, counted in its "
               "server CPU.",
               "The TLS rows use RSA 2048 certificates on both ends (mutual authentication); "
               "dicomwire negotiates TLS 1.3 with itself and with DCMTK 3.6.7."])
    by_name = {c.name: c for c in contenders}
    pairs = [(by_name[p], by_name[t]) for p, t in [
        ("dicomwire get ← dicomwire serve (mio)", "dicomwire get --tls ← dicomwire serve --tls (mio)"),
        ("dicomwire get ← dicomwire serve (std)", "dicomwire get --tls ← dicomwire serve --tls (std)"),
        ("DCMTK storescu → storescp (C-STORE)", "DCMTK storescu +tls → storescp +tls (C-STORE)"),
    ]]
    tls_cost_table(f"The cost of TLS: retrieve {count} × {size}, max PDU {ARGS.max_pdu:,}", pairs,
                   lambda c: total / 1e6 / c.median("wall"), "MB/s",
                   notes=["Medians of the same runs as the table above; each TLS row beside the "
                          "same transfer in plain."])


def assoc_group():
    counts = {"dicomwire": 2000, "dcmtk": 400, "py": 100}
    if ARGS.quick:
        counts = {k: max(50, v // 4) for k, v in counts.items()}
    mio = serve("dicomwire serve mio", "mio", [])
    std = serve("dicomwire serve std", "std", [])
    sp = port()
    storescp = Server("storescp", ["/usr/bin/storescp", "-od", f"{ARGS.scratch}", str(sp)], sp,
                      env=DCMTK_ENV)
    wp = port()
    wlmscpfs = Server("wlmscpfs", ["/usr/bin/wlmscpfs", "-dfp", f"{ARGS.data}/wlm-1000", str(wp)],
                      wp, env=DCMTK_ENV)
    pp = port()
    pyscp = Server("pyscp", peers("pyscp.py", str(pp), "--worklist", f"{ARGS.data}/empty",
                                  "--hanging-protocols", f"{ARGS.data}/empty"), pp, stdin_pipe=True)
    tls_mio = serve_tls("dicomwire serve --tls mio", "mio", [])
    tls_std = serve_tls("dicomwire serve --tls std", "std", [])
    tsp = port()
    storescp_tls = Server("storescp +tls", ["/usr/bin/storescp", *dcmtk_tls("server"), "-od",
                                            f"{ARGS.scratch}", str(tsp)], tsp, env=DCMTK_ENV)
    servers = [mio, std, storescp, wlmscpfs, pyscp, tls_mio, tls_std, storescp_tls]
    for s in servers:
        s.start()
    _, _, ca = tls_files("client")
    client_tls = ["--tls-ca", ca, "--tls-cert", tls_files("client")[0], "--tls-key",
                  tls_files("client")[1]]
    groups = {}
    for parallel in (1, 8):
        def client(server, n, aec="ANY-SCP", tls=()):
            return bench_bin("assoc", f"127.0.0.1:{server.port}", "--aec", aec, "--count", str(n),
                             "--parallel", str(parallel), *tls)
        parse = json.loads
        contenders = [
            Contender("dicomwire serve (mio)", client(mio, counts["dicomwire"]), [mio], parse=parse),
            Contender("dicomwire serve (std)", client(std, counts["dicomwire"]), [std], parse=parse),
            Contender("DCMTK storescp", client(storescp, counts["dcmtk"]), [storescp], parse=parse),
            Contender("DCMTK wlmscpfs", client(wlmscpfs, counts["dcmtk"], "WLMSCP"), [wlmscpfs],
                      parse=parse),
            Contender("pynetdicom SCP", client(pyscp, counts["py"]), [pyscp], parse=parse),
            Contender("pynetdicom SCU → pynetdicom SCP (its own client)",
                      peers("echo-loop", "127.0.0.1", str(pp), str(counts["py"]), str(parallel)),
                      [pyscp], parse=parse),
            Contender("dicomwire serve --tls (mio), full handshake",
                      client(tls_mio, counts["dicomwire"], tls=client_tls), [tls_mio], parse=parse),
            Contender("dicomwire serve --tls (std), full handshake",
                      client(tls_std, counts["dicomwire"], tls=client_tls), [tls_std], parse=parse),
            Contender("DCMTK storescp +tls, full handshake",
                      client(storescp_tls, counts["dcmtk"], tls=client_tls), [storescp_tls],
                      parse=parse),
        ]
        if parallel == 1:
            contenders.append(Contender(
                "DCMTK echoscu process → storescp (one process per association)",
                ["sh", "-c", f"for i in $(seq {counts['py']}); do /usr/bin/echoscu 127.0.0.1 {sp} "
                             f"|| exit 1; done"], [storescp], env=DCMTK_ENV))
        log(f"== associations per second, {parallel} client(s)")
        alternate(contenders, ARGS.runs)
        groups[parallel] = contenders
    for s in servers:
        s.stop()
    for parallel, contenders in groups.items():
        ref = None
        rows = []
        for c in contenders:
            n = c.samples[0].get("count") or counts["py"]
            per_s = statistics.median(n / s["wall"] if "count" not in s else s["per_s"]
                                      for s in c.samples)
            ref = ref or per_s
            rows.append([c.name, fmt(per_s, 1), fmt(c.median("median_ms"), 3),
                         fmt(c.median("p99_ms"), 3),
                         fmt(c.median("client_cpu") / n * 1e3, 3),
                         fmt(c.median("server_cpu") / n * 1e3, 3), f"{ref / per_s:.2f}×"])
        table(f"Associations per second: open, C-ECHO, release; {parallel} client thread(s)",
              ["SCP", "assoc/s", "median ms", "p99 ms", "client CPU ms/assoc",
               "server CPU ms/assoc", "time ÷ first row"], rows,
              notes=[f"Client: `dicomwire-bench assoc` (dicomwire-std Client, one process, "
                     f"{parallel} thread(s)), {counts['dicomwire']} associations against "
                     f"dicomwire, {counts['dcmtk']} against DCMTK, {counts['py']} against "
                     "pynetdicom, per run; medians of runs. Server CPU has 10 ms resolution "
                     "(/proc ticks). The TLS rows: the same client with `--tls-ca/--tls-cert/"
                     "--tls-key`, a fresh client configuration per association (no session "
                     "resumption: every one a full handshake, mutual authentication, RSA 2048)."])
    for parallel, contenders in groups.items():
        by_name = {c.name: c for c in contenders}
        pairs = [(by_name[p], by_name[t]) for p, t in [
            ("dicomwire serve (mio)", "dicomwire serve --tls (mio), full handshake"),
            ("dicomwire serve (std)", "dicomwire serve --tls (std), full handshake"),
            ("DCMTK storescp", "DCMTK storescp +tls, full handshake"),
        ]]
        tls_cost_table(f"The cost of TLS: associations per second, {parallel} client thread(s)",
                       pairs, lambda c: statistics.median(s["per_s"] for s in c.samples), "assoc/s",
                       notes=["Medians of the same runs as the table above; client and server CPU "
                              "are per run (all its associations)."])


def concurrency_group():
    sizes = [1000] if ARGS.quick else [1000, 10000]
    rows = []
    for n in sizes:
        for transport in (["mio", "std"] if n <= 1000 else ["mio"]):
            samples = []
            for r in range(ARGS.runs if n <= 1000 else max(3, ARGS.runs // 2 + 1)):
                # A fresh server each run, so that its RSS before is that of an idle server.
                p = port()
                server = Server(f"dicomwire serve {transport}",
                                dicomwire("serve", "--bind", f"127.0.0.1:{p}", "--transport",
                                          transport, "--max-associations", str(n + 100)), p)
                server.start()
                _, _, code = run_client(bench_bin("hold", f"127.0.0.1:{p}", "--count", str(n),
                                                  "--server-pid", str(server.proc.pid)),
                                        stdout_path=f"{ARGS.scratch}/hold.out", timeout=300)
                server.stop()
                if code != 0:
                    raise RuntimeError(f"hold {n}: exit {code}: "
                                       + open(f"{ARGS.scratch}/hold.out.err").read()[-2000:])
                samples.append(json.load(open(f"{ARGS.scratch}/hold.out")))
                log(f"    hold {n} on {transport}: {samples[-1]}")
            med = lambda k: statistics.median(s[k] for s in samples)
            rows.append([f"{n:,} on serve ({transport})", fmt(med("open_s")), fmt(med("rss_before_kib") / 1024, 1),
                         fmt(med("rss_held_kib") / 1024, 1),
                         fmt((med("rss_held_kib") - med("rss_before_kib")) / n, 1),
                         fmt(med("echo_median_ms"), 3), fmt(med("echo_p99_ms"), 3),
                         fmt(med("fresh_assoc_ms"), 3), fmt(med("release_s")),
                         fmt(med("rss_after_kib") / 1024, 1)])
    table("Concurrency: associations held open at once", [
        "associations", "open all s", "server RSS before MiB", "RSS held MiB", "KiB/assoc",
        "C-ECHO median ms (held)", "C-ECHO p99 ms", "new assoc+echo ms", "release all s",
        "RSS after MiB"], rows,
        notes=["`dicomwire-bench hold` against a freshly started `dicomwire serve` (sample "
               "data) each run: 8 threads open the associations (A-ASSOCIATE-RQ/AC each), "
               "then 200 C-ECHOs on held associations one by one, one new association and "
               "C-ECHO, then all released. RSS from /proc/PID/status of the server; "
               "KiB/assoc is (held − before) / associations."])


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    keep = ("Model name", "CPU(s):", "Thread(s) per core", "L3 cache", "CPU max MHz")
    cpu = "; ".join(" ".join(l.split()) for l in lscpu.splitlines() if l.startswith(keep))
    mem = open("/proc/meminfo").readline().split()[1]
    return f"{cpu}; nproc {os.cpu_count()}; {int(mem) // 1024:,} MiB RAM; Linux {platform.release()}"


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-pdu", type=int, default=131072)
    parser.add_argument("--out", required=True)
    parser.add_argument("--commit", default="")
    parser.add_argument("--only", default="find,retrieve,assoc,concurrency")
    parser.add_argument("--pki", required=True, help="the TLS rows' certificates (bench/run makes them)")
    ARGS = parser.parse_args()
    # Measure what a user runs: with RUST_BACKTRACE set, every end-of-data error inside
    # dicom-parser (snafu) captures a backtrace, which doubled the find client's CPU.
    for name in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE"):
        os.environ.pop(name, None)
    only = ARGS.only.split(",")
    started = time.time()
    load_before = os.getloadavg()[0]
    try:
        if "find" in only:
            for n in ([1000] if ARGS.quick else [1000, 10000]):
                find_group(n)
        if "retrieve" in only:
            retrieve_group(200, "512 KiB", "hp-512k", "ct-512k")
            if not ARGS.quick:
                retrieve_group(20, "50 MiB", "hp-50m", "ct-50m")
        if "assoc" in only:
            assoc_group()
        if "concurrency" in only:
            concurrency_group()
    finally:
        stop_all()
    header = (f"## dicomwire side-by-side benchmarks\n\n"
              f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
              f"- commit: {ARGS.commit}\n- machine: {machine()}\n"
              f"- command: `bench/run{' --quick' if ARGS.quick else ''} --runs {ARGS.runs}` "
              f"({time.time() - started:.0f} s)\n"
              f"- peers: DCMTK {dcmtk_version()}, pynetdicom {pynetdicom_version()}\n"
              f"- load average (1 min) before / after the run: {load_before:.2f} / "
              f"{os.getloadavg()[0]:.2f}; only ratios measured in one run mean much.\n")
    with open(ARGS.out, "w") as f:
        f.write(header + "\n" + "\n".join(TABLES))
    log(f"written to {ARGS.out}")


def dcmtk_version():
    out = subprocess.run(["/usr/bin/echoscu", "--version"], capture_output=True, text=True).stdout
    return out.split("\n")[0].split("v", 1)[-1].split()[0] if out else "?"


def pynetdicom_version():
    import importlib.metadata
    return importlib.metadata.version("pynetdicom")


if __name__ == "__main__":
    main()
