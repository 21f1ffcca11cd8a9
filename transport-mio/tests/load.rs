//! Load tests for the mio server over loopback (issue #7), bounded in time and size.
//!
//! - 2,000 associations held open at once, each doing a C-ECHO and a worklist C-FIND;
//! - 10,000 idle TCP connections that never send a PDU, all closed by ARTIM, while a
//!   normal association is still served within a second.
//!
//! The two tests are serialised (they would compete for the two cores and the
//! descriptor table otherwise). The 10,000-connection test runs the server in a child
//! process (this test binary, started again with an environment variable): the
//! descriptor limit (20,000 here) cannot hold both ends of 10,000 connections in one
//! process, and a separate process lets the server's own RSS be measured alone.

mod common;
use common::{Running, text, worklist_record};

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::pdu::AeTitle;
use dicomwire::service::scu::{FindProgress, ScuService, association_request};
use dicomwire::service::{Handlers, InMemoryWorklist, uids};
use dicomwire::session::{ClientEvent, Operation, ScpConfig};
use dicomwire::ul::{AcceptorPolicy, AssociationConfig, SupportedSyntax};
use dicomwire_std::Client;

const WORKLIST_RECORDS: usize = 10;

const CLIENT_THREADS: usize = 50;
const CLIENTS_PER_THREAD: usize = 40;
const CONCURRENT: usize = CLIENT_THREADS * CLIENTS_PER_THREAD;

const IDLE_CONNECTIONS: usize = 10_000;
/// Long enough that all 10,000 are open before the first may be closed, also on a
/// loaded 2-core machine (opening them takes about 1 s when it is quiet).
const ARTIM: Duration = Duration::from_secs(5);

/// Set in the child process that serves the 10,000 idle connections: its ARTIM in ms.
const CHILD_ENV: &str = "DICOMWIRE_LOAD_SERVER_CHILD";
/// The line the child prints with its address.
const ADDR_PREFIX: &str = "DICOMWIRE_LOAD_ADDR=";
const IDLE_TEST: &str = "ten_thousand_idle_connections_closed_by_artim";

/// Serialises the tests of this file.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------
// Server and client set-up
// ---------------------------------------------------------------------------------

fn server_options(max_associations: usize, artim: Option<Duration>) -> ScpConfig {
    let ts = uids::uncompressed_transfer_syntaxes();
    let policy = Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uids::VERIFICATION, ts.clone()),
            SupportedSyntax::new(uids::MODALITY_WORKLIST_FIND, ts),
        ],
        ..AcceptorPolicy::default()
    });
    let handlers = Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(
            (0..WORKLIST_RECORDS).map(worklist_record).collect(),
        ))),
        ..Handlers::default()
    };
    let mut options = ScpConfig::new(policy, Arc::new(handlers));
    options.max_associations = max_associations;
    options.shutdown_grace = Duration::from_secs(2);
    if let Some(artim) = artim {
        options.association = AssociationConfig {
            artim_timeout: artim,
            ..AssociationConfig::default()
        };
    }
    options
}

fn connect(addr: SocketAddr, services: &[ScuService]) -> Result<Client, String> {
    let request = association_request(
        AeTitle::new("LOADSCU").expect("ae"),
        AeTitle::new("MIOSCP").expect("ae"),
        services,
    );
    let options = AssociationConfig {
        connect_timeout: Duration::from_secs(10),
        dimse_timeout: Some(Duration::from_secs(20)),
        ..AssociationConfig::default()
    };
    Client::connect(addr, request, options).map_err(|e| format!("associate: {e}"))
}

/// C-ECHO, then a worklist C-FIND with universal keys that must return every record.
fn echo_and_find(client: &mut Client) -> Result<(), String> {
    let status = client.echo().map_err(|e| format!("echo: {e}"))?;
    if !status.is_success() {
        return Err(format!("echo status {status:?}"));
    }
    let query = InMemDicomObject::from_element_iter([
        text(tags::PATIENT_NAME, VR::PN, ""),
        text(tags::PATIENT_ID, VR::LO, ""),
        text(tags::ACCESSION_NUMBER, VR::SH, ""),
    ]);
    let mut matches = 0;
    let mut finished = false;
    let mut unexpected = None;
    client
        .run(Operation::worklist_find(query), |event| match event {
            ClientEvent::Find { progress, .. } => match progress {
                FindProgress::Match { .. } => matches += 1,
                FindProgress::Finished { status, .. } if status.is_success() => finished = true,
                other => unexpected = Some(format!("find: unexpected {other:?}")),
            },
            other => unexpected = Some(format!("find: unexpected {other:?}")),
        })
        .map_err(|e| format!("find: {e}"))?;
    if let Some(e) = unexpected {
        return Err(e);
    }
    if !finished || matches != WORKLIST_RECORDS {
        return Err(format!(
            "find: {matches} matches (finished: {finished}), expected {WORKLIST_RECORDS}"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Process figures
// ---------------------------------------------------------------------------------

/// The soft limit on open files of this process.
fn open_file_limit() -> usize {
    let limits = fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|soft| {
            if soft == "unlimited" {
                Some(usize::MAX)
            } else {
                soft.parse().ok()
            }
        })
        .expect("Max open files in /proc/self/limits")
}

fn require_open_files(needed: usize) {
    let limit = open_file_limit();
    assert!(
        limit >= needed,
        "this test needs {needed} open files but the limit (ulimit -n) is {limit}; \
         raise it (e.g. `ulimit -n 20000`) before running the load tests"
    );
}

/// Resident set size of process `pid` ("self" for this one), in KiB.
fn rss_kib(pid: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc status")
}

/// How many descriptors process `pid` has open.
fn open_fds(pid: &str) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Waits until `count` reaches `n` (true), another party failed, or `deadline` passed.
fn wait_for_all(count: &AtomicUsize, n: usize, failed: &AtomicBool, deadline: Instant) -> bool {
    loop {
        if count.load(Ordering::SeqCst) >= n {
            return true;
        }
        if failed.load(Ordering::SeqCst) || Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------
// 2,000 concurrent associations
// ---------------------------------------------------------------------------------

#[test]
fn two_thousand_concurrent_associations() {
    let _serial = serial();
    // Both ends of every connection live in this process.
    require_open_files(2 * CONCURRENT + 256);

    let server = Running::start(server_options(CONCURRENT + 100, None));
    let addr = server.addr;
    let base_fds = open_fds("self");

    let associated = Arc::new(AtomicUsize::new(0));
    let worked = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(90);
    let started = Instant::now();

    let threads: Vec<JoinHandle<Result<(), String>>> = (0..CLIENT_THREADS)
        .map(|_| {
            let (associated, worked, failed) = (
                Arc::clone(&associated),
                Arc::clone(&worked),
                Arc::clone(&failed),
            );
            thread::spawn(move || {
                let result = (|| {
                    let mut clients = Vec::with_capacity(CLIENTS_PER_THREAD);
                    for _ in 0..CLIENTS_PER_THREAD {
                        clients.push(connect(
                            addr,
                            &[ScuService::Verification, ScuService::WorklistFind],
                        )?);
                        associated.fetch_add(1, Ordering::SeqCst);
                    }
                    // Every association of every thread is open before any works.
                    if !wait_for_all(&associated, CONCURRENT, &failed, deadline) {
                        return Err("not all associations were established".to_owned());
                    }
                    for client in &mut clients {
                        echo_and_find(client)?;
                        worked.fetch_add(1, Ordering::SeqCst);
                    }
                    // ... and none is released before all have worked.
                    if !wait_for_all(&worked, CONCURRENT, &failed, deadline) {
                        return Err("not all associations did their work".to_owned());
                    }
                    for client in clients {
                        client.release().map_err(|e| format!("release: {e}"))?;
                    }
                    Ok(())
                })();
                if result.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                result
            })
        })
        .collect();

    // Observe the peak: once all 2,000 are established, this process holds 2,000
    // client sockets and the server 2,000 accepted ones.
    let mut peak_fds = 0;
    if wait_for_all(&associated, CONCURRENT, &failed, deadline) {
        peak_fds = open_fds("self");
    }
    let associate_time = started.elapsed();

    let mut errors = Vec::new();
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("client thread panicked".to_owned()),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        errors.is_empty(),
        "{} client threads failed; first: {}",
        errors.len(),
        errors[0]
    );
    assert_eq!(associated.load(Ordering::SeqCst), CONCURRENT);
    assert_eq!(worked.load(Ordering::SeqCst), CONCURRENT);
    let server_side = peak_fds.saturating_sub(base_fds + CONCURRENT);
    assert!(
        server_side >= CONCURRENT,
        "the server held {server_side} connections at the peak, expected {CONCURRENT} \
         ({peak_fds} descriptors open, {base_fds} before)"
    );
    println!(
        "load: {CONCURRENT} concurrent associations ({CLIENT_THREADS} threads x \
         {CLIENTS_PER_THREAD}), each C-ECHO + worklist C-FIND ({WORKLIST_RECORDS} matches): \
         all established after {associate_time:.2?}, all done and released after \
         {elapsed:.2?}; the server held {server_side} connections at once"
    );
    server.stop();
}

// ---------------------------------------------------------------------------------
// 10,000 idle connections
// ---------------------------------------------------------------------------------

/// The child process: serves until its stdin closes.
fn serve_as_child(artim_ms: &str) {
    let artim = Duration::from_millis(artim_ms.parse().expect("ARTIM in ms"));
    let server = Running::start(server_options(IDLE_CONNECTIONS + 100, Some(artim)));
    println!("{ADDR_PREFIX}{}", server.addr);
    std::io::stdout().flush().expect("flush");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    server.stop();
}

/// The server child process; killed if still running when dropped.
struct ServerChild {
    child: Child,
    pid: String,
    drain: Option<JoinHandle<()>>,
}

impl ServerChild {
    fn start(artim: Duration) -> (Self, SocketAddr) {
        let exe = std::env::current_exe().expect("test executable");
        let mut child = Command::new(exe)
            .args(["--exact", IDLE_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, artim.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server process");
        let pid = child.id().to_string();
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the child's output to its end, so it never blocks on a full pipe.
        let drain = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may have printed the test's name on the same line.
                if let Some((_, addr)) = line.split_once(ADDR_PREFIX) {
                    let addr = addr.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let me = Self {
            child,
            pid,
            drain: Some(drain),
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the server process did not report its address");
        let addr = addr.parse().expect("server address");
        (me, addr)
    }

    /// Closes its stdin (it shuts down) and waits, bounded, for a clean exit.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the server process did not stop"
            );
            thread::sleep(Duration::from_millis(20));
        };
        if let Some(d) = self.drain.take() {
            let _ = d.join();
        }
        assert!(status.success(), "the server process failed: {status}");
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Opens `n` TCP connections to `addr` that never send anything. The kernel completes
/// a handshake before the server accepts it, so the opener keeps at most `AHEAD`
/// connections in the listen backlog (128) ahead of what the server process `pid` has
/// accepted (its descriptor count above `base_fds`); a full backlog drops SYNs, and
/// each dropped SYN costs its client a one-second retransmission.
fn open_idle(addr: SocketAddr, n: usize, pid: &str, base_fds: usize) -> Vec<TcpStream> {
    const AHEAD: usize = 64;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut streams = Vec::with_capacity(n);
    let mut accepted = 0;
    while streams.len() < n {
        while streams.len() >= accepted + AHEAD {
            assert!(
                Instant::now() < deadline,
                "the server fell behind accepting (or ARTIM closed some before all were open)"
            );
            accepted = open_fds(pid).saturating_sub(base_fds);
            if streams.len() >= accepted + AHEAD {
                thread::sleep(Duration::from_millis(1));
            }
        }
        let mut attempt = 0;
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    eprintln!("load: idle connect failed ({e}); retrying");
                    thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("idle connect: {e}"),
            }
        };
        streams.push(stream);
    }
    streams
}

#[test]
fn ten_thousand_idle_connections_closed_by_artim() {
    if let Ok(artim_ms) = std::env::var(CHILD_ENV) {
        serve_as_child(&artim_ms);
        return;
    }
    let _serial = serial();
    // This process holds the client ends; the server process (same limit) the others.
    require_open_files(IDLE_CONNECTIONS + 256);

    let (server, addr) = ServerChild::start(ARTIM);
    let pid = server.pid.clone();

    // Warm up: one normal association, so what every association allocates once is
    // already there before the baseline.
    let mut warm = connect(addr, &[ScuService::Verification]).expect("associate");
    assert!(warm.echo().expect("echo").is_success());
    warm.release().expect("release");
    thread::sleep(Duration::from_millis(100));
    let base_rss = rss_kib(&pid);
    let base_fds = open_fds(&pid);

    // Open the idle connections.
    let started = Instant::now();
    let mut idle = open_idle(addr, IDLE_CONNECTIONS, &pid, base_fds);
    let opened = started.elapsed();
    assert_eq!(idle.len(), IDLE_CONNECTIONS);

    // Wait until the server process holds all of them (accepted, not only queued by
    // the kernel): its descriptor count tells.
    let peak_deadline = started + Duration::from_secs(30);
    let mut server_fds = open_fds(&pid);
    while server_fds < base_fds + IDLE_CONNECTIONS && Instant::now() < peak_deadline {
        thread::sleep(Duration::from_millis(10));
        server_fds = open_fds(&pid);
    }
    let all_accepted = started.elapsed();
    let peak_rss = rss_kib(&pid);
    assert!(
        server_fds >= base_fds + IDLE_CONNECTIONS,
        "the server never held all {IDLE_CONNECTIONS} idle connections at once \
         ({} at most; opening took {opened:.2?}, ARTIM is {ARTIM:?})",
        server_fds.saturating_sub(base_fds)
    );

    // While they are idle, a normal association is served within a second.
    let echo_started = Instant::now();
    let mut client = connect(addr, &[ScuService::Verification]).expect("associate under load");
    assert!(client.echo().expect("echo").is_success());
    client.release().expect("release");
    let echo_time = echo_started.elapsed();
    assert!(
        echo_time < Duration::from_secs(1),
        "associate + C-ECHO + release took {echo_time:?} with {IDLE_CONNECTIONS} idle \
         connections"
    );

    // Every idle connection is closed by the server (ARTIM): end of stream or a reset,
    // never a byte, within ARTIM plus a margin after the last was opened.
    let close_deadline = started + opened + ARTIM + Duration::from_secs(15);
    let mut buf = [0u8; 64];
    for (i, stream) in idle.iter_mut().enumerate() {
        let left = close_deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("idle connection {i} received {n} bytes"),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "idle connection {i} was still open {:.2?} after the start",
                    started.elapsed()
                )
            }
            Err(e) => panic!("idle connection {i}: {e}"),
        }
    }
    let all_closed = started.elapsed();
    let first_could_close = ARTIM;
    assert!(
        all_closed >= first_could_close,
        "closed before ARTIM could expire ({all_closed:?})"
    );
    drop(idle);

    // And the server let go of them.
    let release_deadline = Instant::now() + Duration::from_secs(10);
    let mut left_fds = open_fds(&pid);
    while left_fds > base_fds + 16 && Instant::now() < release_deadline {
        thread::sleep(Duration::from_millis(20));
        left_fds = open_fds(&pid);
    }
    assert!(
        left_fds <= base_fds + 16,
        "the server still holds {} descriptors more than before",
        left_fds - base_fds
    );
    let after_rss = rss_kib(&pid);

    let delta = peak_rss.saturating_sub(base_rss);
    println!(
        "load: {IDLE_CONNECTIONS} idle connections opened in {opened:.2?}, all accepted by \
         the server after {all_accepted:.2?}; server RSS {base_rss} KiB -> {peak_rss} KiB \
         (+{delta} KiB, {:.2} KiB per idle association; user-space only, kernel socket \
         buffers are not in RSS); after they closed: {after_rss} KiB",
        delta as f64 / IDLE_CONNECTIONS as f64
    );
    println!(
        "load: associate + C-ECHO + release under the idle load: {echo_time:.2?}; all \
         {IDLE_CONNECTIONS} closed by ARTIM ({ARTIM:?}) {all_closed:.2?} after the first \
         connect ({:.2?} after the last was opened)",
        all_closed.saturating_sub(opened)
    );
    server.stop();
}
