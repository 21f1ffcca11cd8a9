//! Faults that a hostile or careless peer, or the machine itself, brings to `dicomwire
//! serve`, run against each transport: what the peer sees, and what the server's process
//! shows in `/proc` (memory, CPU, descriptors, its log).
//!
//! Every process is a child of the test and killed when its guard drops; every wait is
//! bounded (a test's budget is 60 s). These need no peer but `prlimit` (util-linux), and
//! run in plain `cargo test`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::dimse::{CStoreRq, Message, Priority, Status};
use dicomwire::pdu::{AeTitle, PresentationContextId};
use dicomwire::service::uids;
use dicomwire::ul::{Association, AssociationConfig, AssociationRequest, Event, ProposedContext};
use support::*;

/// The transports `serve` offers; every fault runs against each.
const TRANSPORTS: &[&str] = &["mio", "std", "tokio"];

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// The server's process, as /proc shows it

/// A line of `/proc/PID/status` in KiB (`VmHWM`: the peak resident set).
fn status_kib(pid: u32, field: &str) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// User plus system CPU time of the whole process (every thread), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Clock ticks per second for `/proc/PID/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

// ---------------------------------------------------------------------------------------
// A requestor driven over a blocking socket, for what the CLI clients do not send

/// One association as a requestor, over a blocking socket, each wait bounded.
struct Wire {
    stream: TcpStream,
    assoc: Association,
    buf: Vec<u8>,
}

impl Wire {
    /// Connects to 127.0.0.1:`port` and establishes an association proposing `contexts`.
    fn associate(port: u16, contexts: &[&dicomwire::pdu::Uid]) -> Self {
        Self::try_associate(port, contexts)
            .unwrap_or_else(|other| panic!("association not established: {other:?}"))
    }

    /// Connects and asks to associate; the first event that is not the establishment.
    fn try_associate(port: u16, contexts: &[&dicomwire::pdu::Uid]) -> Result<Self, Event> {
        let mut request = AssociationRequest::new(
            AeTitle::new("FAULTS").expect("AE"),
            AeTitle::new("DICOMWIRE").expect("AE"),
        );
        for uid in contexts {
            request = request.with_context(ProposedContext::new(
                (*uid).clone(),
                uids::uncompressed_transfer_syntaxes(),
            ));
        }
        Self::associate_with(port, request)
    }

    /// Connects and proposes `request`; the first event that is not the establishment.
    fn associate_with(port: u16, request: AssociationRequest) -> Result<Self, Event> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let now = Instant::now();
        let mut assoc =
            Association::requestor(now, AssociationConfig::default(), request).expect("request");
        assoc.handle_transport_connected(now).expect("connected");
        let mut wire = Self {
            stream,
            assoc,
            buf: vec![0; 256 * 1024],
        };
        match wire.next_event() {
            Event::Established(_) => Ok(wire),
            other => Err(other),
        }
    }

    /// Sends what is queued, one PDU at a time.
    fn flush(&mut self) {
        let mut out = Vec::new();
        loop {
            out.clear();
            if self.assoc.poll_transmit(Instant::now(), &mut out).is_none() {
                return;
            }
            self.stream.write_all(&out).expect("write");
        }
    }

    /// The next event, reading as needed; panics after the test's budget.
    fn next_event(&mut self) -> Event {
        let until = deadline(CLIENT_TIMEOUT);
        loop {
            self.flush();
            if let Some(event) = self.assoc.poll_event() {
                return event;
            }
            let left = until.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no event from the server in time");
            self.stream
                .set_read_timeout(Some(left.min(Duration::from_secs(1))))
                .expect("timeout");
            match self.stream.read(&mut self.buf) {
                Ok(0) => self.assoc.handle_transport_closed(Instant::now()),
                Ok(n) => {
                    let taken = self
                        .assoc
                        .handle_input(Instant::now(), &self.buf[..n])
                        .expect("input");
                    assert_eq!(taken, n, "the requestor held input back");
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// The accepted context for `sop_class`.
    fn context(&self, sop_class: &dicomwire::pdu::Uid) -> PresentationContextId {
        let n = self.assoc.negotiated().expect("established");
        n.accepted()
            .find(|c| &c.abstract_syntax == sop_class)
            .map(|c| c.id)
            .unwrap_or_else(|| panic!("{sop_class} not accepted"))
    }

    /// The transfer syntax accepted for `context`.
    fn transfer_syntax(&self, context: PresentationContextId) -> dicomwire::pdu::Uid {
        let n = self.assoc.negotiated().expect("established");
        n.accepted_context(context)
            .and_then(|c| c.transfer_syntax.clone())
            .expect("a transfer syntax")
    }

    /// A C-STORE-RQ with `data` on `context` (whatever its SOP class); its status.
    fn store(&mut self, context: PresentationContextId, data: Bytes) -> Status {
        let rq = Message::CStoreRq(CStoreRq {
            message_id: 0,
            affected_sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.to_string(),
            affected_sop_instance_uid: "1.2.826.0.1.3680043.2.1143.1".into(),
            priority: Priority::Medium,
            move_originator_ae_title: None,
            move_originator_message_id: None,
        });
        let id = self
            .assoc
            .send_request(Instant::now(), context, rq, Some(data))
            .expect("C-STORE-RQ");
        loop {
            match self.next_event() {
                Event::Message(m) if m.message.responded_to() == Some(id) => {
                    return m.message.status().expect("a status");
                }
                Event::Aborted(a) => panic!("aborted during the C-STORE: {a}"),
                Event::Closed => panic!("closed during the C-STORE"),
                _ => {}
            }
        }
    }

    /// A C-ECHO on the Verification context; panics unless it succeeds.
    fn echo(&mut self) {
        let context = self.context(&uids::VERIFICATION);
        let rq = Message::CEchoRq(dicomwire::dimse::CEchoRq {
            message_id: 0,
            affected_sop_class_uid: uids::VERIFICATION.to_string(),
        });
        let id = self
            .assoc
            .send_request(Instant::now(), context, rq, None)
            .expect("C-ECHO-RQ");
        loop {
            match self.next_event() {
                Event::Message(m) if m.message.responded_to() == Some(id) => {
                    assert_eq!(m.message.status(), Some(Status::SUCCESS));
                    return;
                }
                Event::Aborted(a) => panic!("aborted during the C-ECHO: {a}"),
                Event::Closed => panic!("closed during the C-ECHO"),
                _ => {}
            }
        }
    }

    /// Releases and waits for the confirmation.
    fn release(mut self) {
        self.assoc.release(Instant::now()).expect("release");
        loop {
            match self.next_event() {
                Event::Released | Event::Closed => return,
                Event::Aborted(a) => panic!("aborted during release: {a}"),
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Data sets that will be refused cost no memory

#[test]
fn refused_store_data_sets_keep_serve_memory_flat() {
    start_budget(TEST_BUDGET);
    // Four peers at once send 64 MiB each on the Verification context of a server that
    // stores nothing (no --store): each gets 0x0122, and the server's peak resident set
    // stays far below what gathering even one data set would take.
    let data = Bytes::from(vec![0xA5_u8; 64 * MIB]);
    for transport in TRANSPORTS {
        let (server, port) = serve_on(transport, &[]);
        let pid = server.child.id();
        let before = status_kib(pid, "VmHWM");
        let peers: Vec<_> = (0..4)
            .map(|_| {
                let data = data.clone();
                std::thread::spawn(move || {
                    start_budget(TEST_BUDGET);
                    let mut wire = Wire::associate(port, &[&uids::VERIFICATION]);
                    let context = wire.context(&uids::VERIFICATION);
                    let status = wire.store(context, data);
                    wire.release();
                    status
                })
            })
            .collect();
        for peer in peers {
            let status = peer.join().expect("peer thread");
            assert_eq!(status, Status::SOP_CLASS_NOT_SUPPORTED, "{transport}");
        }
        let peak = status_kib(pid, "VmHWM");
        assert!(
            peak < before + 48 * 1024,
            "{transport}: serve's peak RSS went from {before} KiB to {peak} KiB while 4 x 64 MiB were refused\n{}",
            server.logs()
        );
    }
}

// ---------------------------------------------------------------------------------------
// No descriptor left

#[test]
fn past_the_descriptor_limit_serve_backs_off_and_recovers() {
    start_budget(TEST_BUDGET);
    for transport in TRANSPORTS {
        // 48 descriptors: about 40 connections, then accept fails with EMFILE.
        let mut prlimit = Command::new("prlimit");
        prlimit.args(["--nofile=48:48", "--", DICOMWIRE]);
        let (mut server, port) = serve_with(prlimit, transport, &[]);
        let pid = server.child.id();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // More idle connections than it has descriptors: they queue in the backlog.
        let fillers: Vec<TcpStream> = (0..80)
            .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect"))
            .collect();
        // A real client queued behind them.
        let mut echo = Command::new(DICOMWIRE);
        echo.args(["echo", &format!("127.0.0.1:{port}")]);
        let client = std::thread::spawn(move || {
            start_budget(TEST_BUDGET);
            run("dicomwire echo", &mut echo)
        });
        std::thread::sleep(Duration::from_millis(500));
        // Out of descriptors, it neither spins nor floods its log.
        let (ticks, start) = (cpu_ticks(pid), Instant::now());
        std::thread::sleep(Duration::from_secs(2));
        let used = cpu_ticks(pid) - ticks;
        let seconds = start.elapsed().as_secs_f64();
        server.assert_running();
        assert!(
            used * 4 < TICKS_PER_SECOND * 2,
            "{transport}: {used} ticks of CPU in {seconds:.1} s with no descriptor left\n{}",
            server.logs()
        );
        let warnings = lossy(&server.stderr)
            .lines()
            .filter(|l| l.contains("accept failed"))
            .count();
        assert!(
            (1..=2).contains(&warnings),
            "{transport}: {warnings} lines about failed accepts\n{}",
            server.logs()
        );
        // Descriptors free up: the queued client is served, without a new connection.
        let freed = Instant::now();
        drop(fillers);
        let outcome = client.join().expect("client thread");
        outcome.assert_success(&format!(
            "{transport}: echo queued past the descriptor limit"
        ));
        assert!(
            freed.elapsed() < Duration::from_secs(5),
            "{transport}: the queued client waited {:?} after descriptors freed up",
            freed.elapsed()
        );
        assert!(
            lossy(&server.stderr).contains("accepting again"),
            "{transport}: no line saying accept recovered\n{}",
            server.logs()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Peers that hold a slot and say nothing

#[test]
fn idle_associations_do_not_lock_others_out() {
    start_budget(TEST_BUDGET);
    for transport in TRANSPORTS {
        // ARTIM 1 s: an aborted association holds its connection until the peer closes
        // it or ARTIM expires (PS3.8 Sta13).
        let (server, port) = serve_on(
            transport,
            &[
                "--max-associations",
                "4",
                "--idle-timeout",
                "2",
                "--artim-timeout",
                "1",
            ],
        );
        // Four peers associate and then say nothing.
        let idle: Vec<Wire> = (0..4)
            .map(|_| Wire::associate(port, &[&uids::VERIFICATION]))
            .collect();
        let opened = Instant::now();
        match Wire::try_associate(port, &[&uids::VERIFICATION]) {
            Err(Event::Rejected(r)) => assert_eq!(
                r.rj.source.codes(),
                (3, 2),
                "{transport}: a fifth is rejected as local-limit-exceeded: {r}"
            ),
            Ok(_) => panic!("{transport}: a fifth association was accepted over the limit"),
            Err(other) => panic!("{transport}: a fifth association: {other:?}"),
        }
        // Once the idle timeout (2 s) and ARTIM (1 s, the aborted connections waiting for
        // the peers to close) passed, the server serves a fifth. Tried from 2.5 s on, so
        // that a loaded machine's late timer does not fail the test; without the idle
        // timeout it is rejected for ever.
        std::thread::sleep(Duration::from_millis(2500).saturating_sub(opened.elapsed()));
        let mut fifth = loop {
            match Wire::try_associate(port, &[&uids::VERIFICATION]) {
                Ok(wire) => break wire,
                Err(Event::Rejected(_)) if opened.elapsed() < Duration::from_secs(8) => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(other) => panic!(
                    "{transport}: the fifth, {:?} after the four: {other:?}\n{}",
                    opened.elapsed(),
                    server.logs()
                ),
            }
        };
        fifth.echo();
        fifth.release();
        for mut wire in idle {
            match wire.next_event() {
                Event::Aborted(a) => assert!(
                    matches!(a, dicomwire::ul::Aborted::ByPeer(_)),
                    "{transport}: {a}"
                ),
                other => {
                    panic!("{transport}: an idle peer saw {other:?}, not the server's A-ABORT")
                }
            }
        }
    }
}

#[test]
fn a_trickled_pdu_is_aborted() {
    start_budget(TEST_BUDGET);
    for transport in TRANSPORTS {
        let (server, port) = serve_on(transport, &["--idle-timeout", "1"]);
        let mut wire = Wire::associate(port, &[&uids::VERIFICATION]);
        // A P-DATA-TF announcing 2,000 bytes, whose body comes one byte every 200 ms.
        let mut header = vec![0x04, 0x00];
        header.extend_from_slice(&2000u32.to_be_bytes());
        wire.stream.write_all(&header).expect("write");
        let started = Instant::now();
        let mut aborted = false;
        while started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(200));
            if wire.stream.write_all(&[0]).is_err() {
                aborted = true;
                break;
            }
            wire.stream
                .set_read_timeout(Some(Duration::from_millis(10)))
                .expect("timeout");
            let mut answer = [0u8; 10];
            match wire.stream.read(&mut answer) {
                Ok(0) => {
                    aborted = true;
                    break;
                }
                Ok(n) => {
                    assert_eq!(
                        answer[0], 0x07,
                        "{transport}: the server's answer is an A-ABORT ({n} bytes)"
                    );
                    aborted = true;
                    break;
                }
                Err(_) => {}
            }
        }
        assert!(
            aborted,
            "{transport}: a PDU trickled for {:?} was not aborted\n{}",
            started.elapsed(),
            server.logs()
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{transport}: aborted only after {:?}",
            started.elapsed()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Shutdown

/// Sends `signal` (`TERM`, `INT`) to `pid` with kill(1).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits for `server` to exit, at most `limit`; its exit status and how long it took.
fn wait_exit(server: &mut Peer, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    let until = deadline(limit);
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return (status, started.elapsed());
        }
        assert!(
            Instant::now() < until,
            "serve still runs {limit:?} after the signal\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a TCP connection to 127.0.0.1:`port` is refused within a second.
fn refused_soon(port: u16) -> bool {
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn sigterm_refuses_new_clients_releases_the_idle_and_exits_zero() {
    start_budget(TEST_BUDGET);
    for transport in TRANSPORTS {
        let (mut server, port) = serve_on(transport, &["--shutdown-grace", "5"]);
        let mut idle = Wire::associate(port, &[&uids::VERIFICATION]);
        signal(server.child.id(), "TERM");
        assert!(
            refused_soon(port),
            "{transport}: new clients are not refused"
        );
        // The idle association is released by the server.
        match idle.next_event() {
            Event::ReleaseRequested { .. } => {
                idle.assoc.release_response(Instant::now()).expect("RP")
            }
            other => panic!("{transport}: the idle peer saw {other:?}"),
        }
        idle.flush();
        let (status, took) = wait_exit(&mut server, Duration::from_secs(5));
        assert!(
            status.success(),
            "{transport}: exit {status}\n{}",
            server.logs()
        );
        assert!(
            took < Duration::from_secs(3),
            "{transport}: exit after {took:?}"
        );
    }
}

/// A C-GET of one large instance from a peer that reads nothing of the answer: the
/// server's writes stall (the grace period, or a second signal, must still end it).
fn stalled_get(port: u16, uid: &str) -> Wire {
    let request = dicomwire::service::scu::association_request(
        AeTitle::new("FAULTS").expect("AE"),
        AeTitle::new("DICOMWIRE").expect("AE"),
        &[dicomwire::service::scu::ScuService::HangingProtocolGet],
    );
    let mut wire = Wire::associate_with(port, request).expect("associated");
    let context = wire.context(&uids::HANGING_PROTOCOL_GET);
    let mut identifier = dicom_object::InMemDicomObject::new_empty();
    identifier.put(dicom_core::DataElement::new(
        dicom_dictionary_std::tags::SOP_INSTANCE_UID,
        dicom_core::VR::UI,
        dicom_core::PrimitiveValue::from(uid),
    ));
    let ts = wire.transfer_syntax(context);
    let data = dicomwire::service::dataset::encode(&identifier, ts.as_str()).expect("identifier");
    let rq = Message::CGetRq(dicomwire::dimse::CGetRq {
        message_id: 0,
        affected_sop_class_uid: uids::HANGING_PROTOCOL_GET.to_string(),
        priority: Priority::Medium,
    });
    wire.assoc
        .send_request(Instant::now(), context, rq, Some(data))
        .expect("C-GET-RQ");
    wire.flush();
    wire
}

/// A folder with one 64 MiB hanging protocol; its SOP Instance UID.
fn large_protocol() -> (tempfile::TempDir, String) {
    let dir = temp_dir();
    let (uid, file) = padded_protocols(&[64 * MIB]).pop().expect("one");
    std::fs::write(
        dir.path()
            .join(dicomwire_cli::files::instance_file_name(&uid)),
        file,
    )
    .expect("write");
    (dir, uid)
}

#[test]
fn sigterm_with_a_peer_that_does_not_read_ends_after_the_grace_period() {
    start_budget(TEST_BUDGET);
    let (dir, uid) = large_protocol();
    let served = dir.path().to_str().expect("UTF-8").to_owned();
    for transport in TRANSPORTS {
        let args = ["--hanging-protocols", &served, "--shutdown-grace", "2"];
        let (mut server, port) = serve_on(transport, &args);
        let _stalled = stalled_get(port, &uid);
        std::thread::sleep(Duration::from_millis(500));
        signal(server.child.id(), "TERM");
        assert!(
            refused_soon(port),
            "{transport}: new clients are not refused"
        );
        let (status, took) = wait_exit(&mut server, Duration::from_secs(10));
        assert!(
            status.success(),
            "{transport}: exit {status}\n{}",
            server.logs()
        );
        assert!(
            took < Duration::from_secs(5),
            "{transport}: exit {took:?} after the signal, grace 2 s"
        );
    }
}

#[test]
fn a_second_signal_stops_at_once() {
    start_budget(TEST_BUDGET);
    let (dir, uid) = large_protocol();
    let served = dir.path().to_str().expect("UTF-8").to_owned();
    for transport in TRANSPORTS {
        let args = ["--hanging-protocols", &served, "--shutdown-grace", "30"];
        let (mut server, port) = serve_on(transport, &args);
        let _stalled = stalled_get(port, &uid);
        std::thread::sleep(Duration::from_millis(500));
        signal(server.child.id(), "TERM");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            server.child.try_wait().expect("wait").is_none(),
            "{transport}: the grace period"
        );
        signal(server.child.id(), "INT");
        let (_, took) = wait_exit(&mut server, Duration::from_secs(5));
        assert!(
            took < Duration::from_secs(1),
            "{transport}: exit {took:?} after the second signal"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Operators

#[test]
fn operator_faults_are_one_clear_line_and_a_non_zero_exit() {
    start_budget(TEST_BUDGET);
    let file = tempfile::NamedTempFile::new().expect("a file");
    let file = file.path().to_str().expect("UTF-8").to_owned();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = taken.local_addr().expect("addr").to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["serve", "--artim-timeout", "0"], "--artim-timeout"),
        (
            vec!["serve", "--max-associations", "0"],
            "--max-associations",
        ),
        (vec!["serve", "--max-pdu", "3"], "--max-pdu"),
        (
            vec!["serve", "--worklist", "/nonexistent/worklist"],
            "--worklist /nonexistent/worklist",
        ),
        (
            vec!["serve", "--hanging-protocols", "/nonexistent/hp"],
            "--hanging-protocols /nonexistent/hp",
        ),
        (vec!["serve", "--store", &file], "not a folder"),
        (vec!["serve", "--bind", &taken], "Address already in use"),
        (
            vec!["serve", "--bind", "999.1.1.1:5"],
            "cannot listen on 999.1.1.1:5",
        ),
        (
            vec!["serve", "--move-destination", "NOPORT"],
            "expected AE=HOST:PORT",
        ),
        (
            vec!["serve", "--move-destination", "AE=host:http"],
            "is not a port",
        ),
        (
            vec!["find", "worklist", "127.0.0.1:9", "-k", "(zzzz,0010)=X"],
            "(zzzz,0010)",
        ),
        (
            vec!["find", "worklist", "127.0.0.1:9", "-k", "NoSuchKeyword=X"],
            "NoSuchKeyword",
        ),
    ];
    for (args, says) in cases {
        let outcome = run(&format!("dicomwire {args:?}"), &mut dicomwire(&args));
        assert!(!outcome.status.success(), "{args:?} succeeded");
        let lines: Vec<&str> = outcome
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, not {lines:?}");
        assert!(
            lines[0].contains(says),
            "{args:?}: {:?} does not say {says:?}",
            lines[0]
        );
    }
}
