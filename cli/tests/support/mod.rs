//! What the CLI's process-level tests share: servers and clients started as children of
//! the test, on 127.0.0.1, each killed when its guard drops (also on panic), every wait
//! bounded by its own limit and by the running test's budget.

#![allow(dead_code, unreachable_pub)]

pub mod pki;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server may take to listen.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may run.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a whole test may run: every wait ends by then at the latest.
pub const TEST_BUDGET: Duration = Duration::from_secs(60);

thread_local! {
    /// When the running test's budget ends (each test runs on its own thread).
    pub static TEST_DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// The end of a wait of at most `limit`, and not after the test's budget.
pub fn deadline(limit: Duration) -> Instant {
    let wanted = Instant::now() + limit;
    TEST_DEADLINE
        .get()
        .map_or(wanted, |budget| wanted.min(budget))
}

pub const DICOMWIRE: &str = env!("CARGO_BIN_EXE_dicomwire");
/// Starts the running test's budget: every wait of this thread ends by then.
pub fn start_budget(budget: Duration) {
    TEST_DEADLINE.set(Some(Instant::now() + budget));
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free port on 127.0.0.1")
        .port()
}

/// Collects what a child writes to one of its pipes.
pub fn collect(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buffer);
    let handle = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    (buffer, handle)
}

pub fn lossy(buffer: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

/// A server child: killed and reaped on drop, also when the test panics.
pub struct Peer {
    pub name: String,
    pub child: Child,
    pub stdout: Arc<Mutex<Vec<u8>>>,
    pub stderr: Arc<Mutex<Vec<u8>>>,
}

impl Peer {
    /// Starts `command` with its output collected; its stdin stays open until the drop
    /// (pyscp.py ends when it closes, so that no peer outlives a killed test).
    pub fn spawn(name: &str, command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (stdout, _) = collect(child.stdout.take().expect("stdout"));
        let (stderr, _) = collect(child.stderr.take().expect("stderr"));
        Self {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
        }
    }

    /// What it printed so far, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- {} stdout:\n{}\n--- {} stderr:\n{}",
            self.name,
            lossy(&self.stdout),
            self.name,
            lossy(&self.stderr)
        )
    }

    /// Panics when the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            // Let the readers drain the pipes.
            std::thread::sleep(Duration::from_millis(100));
            panic!("{} exited early ({status})\n{}", self.name, self.logs());
        }
    }

    /// Waits until something accepts TCP connections on 127.0.0.1:`port`.
    pub fn wait_for_port(&mut self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = deadline(READY_TIMEOUT);
        loop {
            self.assert_running();
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} does not listen on {addr} after {READY_TIMEOUT:?} (or the test's {TEST_BUDGET:?})\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a line of stdout starting with `prefix` and returns it.
    pub fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = deadline(READY_TIMEOUT);
        loop {
            if let Some(line) = lossy(&self.stdout).lines().find(|l| l.starts_with(prefix)) {
                return line.to_owned();
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} did not print {prefix:?} within {READY_TIMEOUT:?} (or the test's {TEST_BUDGET:?})\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Peer {
    /// Waits for a line of stderr (its log) containing `text` and returns it.
    pub fn wait_for_log(&mut self, text: &str) -> String {
        let deadline = deadline(READY_TIMEOUT);
        loop {
            if let Some(line) = lossy(&self.stderr).lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log {text:?} within {READY_TIMEOUT:?} (or the test's {TEST_BUDGET:?})\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dicomwire serve` on a port of its choosing, with `args`; returns the guard and the
/// port it printed. `DICOMWIRE_SERVE_TRANSPORT` (`mio`, the default, `std` or `tokio`)
/// picks the transport, so the same suite runs against each.
pub fn serve(args: &[&str]) -> (Peer, u16) {
    let transport = std::env::var("DICOMWIRE_SERVE_TRANSPORT").unwrap_or_else(|_| "mio".into());
    serve_on(&transport, args)
}

/// `dicomwire serve --transport TRANSPORT` with `args`.
pub fn serve_on(transport: &str, args: &[&str]) -> (Peer, u16) {
    serve_with(Command::new(DICOMWIRE), transport, args)
}

/// `dicomwire serve` run by `command` (the binary itself, or a wrapper such as
/// `prlimit ... --` whose last argument is the binary), with `args`.
pub fn serve_with(mut command: Command, transport: &str, args: &[&str]) -> (Peer, u16) {
    command.args(["serve", "--bind", "127.0.0.1:0", "--transport", transport]);
    if !args.contains(&"--artim-timeout") {
        command.args(["--artim-timeout", "10"]);
    }
    let mut peer = Peer::spawn("dicomwire serve", command.args(args));
    let line = peer.wait_for_line("dicomwire serving on ");
    let port = line
        .strip_prefix("dicomwire serving on ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse::<SocketAddr>().ok())
        .map(|addr| addr.port())
        .unwrap_or_else(|| panic!("cannot read the address in {line:?}"));
    peer.wait_for_port(port);
    (peer, port)
}

/// `dicomwire serve --transport TRANSPORT` with `args`, which say where it listens
/// (`--bind`, `--tls-bind`); returns the guard and each listener's port, with whether it
/// is the TLS one, in the order its startup line gives them.
pub fn serve_listeners(transport: &str, args: &[&str]) -> (Peer, Vec<(u16, bool)>) {
    let mut command = Command::new(DICOMWIRE);
    command.args(["serve", "--transport", transport]);
    if !args.contains(&"--artim-timeout") {
        command.args(["--artim-timeout", "10"]);
    }
    let mut peer = Peer::spawn("dicomwire serve", command.args(args));
    let line = peer.wait_for_line("dicomwire serving on ");
    let on = line
        .strip_prefix("dicomwire serving on ")
        .and_then(|rest| rest.split_once(" as "))
        .map_or("", |(on, _)| on);
    let listeners: Vec<(u16, bool)> = on
        .split(" and on ")
        .map(|listener| {
            let addr = listener
                .split_whitespace()
                .next()
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .unwrap_or_else(|| panic!("cannot read the listeners in {line:?}"));
            (addr.port(), listener.contains(" over TLS"))
        })
        .collect();
    for (port, _) in &listeners {
        peer.wait_for_port(*port);
    }
    (peer, listeners)
}

/// [`serve_plain_and_tls`] on the transport `DICOMWIRE_SERVE_TRANSPORT` picks (as
/// [`serve`]).
pub fn serve_tls(args: &[&str]) -> (Peer, u16, u16) {
    let transport = std::env::var("DICOMWIRE_SERVE_TRANSPORT").unwrap_or_else(|_| "mio".into());
    serve_plain_and_tls(&transport, args)
}

/// `dicomwire serve --transport TRANSPORT` on a plain and a TLS listener (both on ports
/// of its choosing) with `args`: the guard, the plain port and the TLS port.
pub fn serve_plain_and_tls(transport: &str, args: &[&str]) -> (Peer, u16, u16) {
    let all = [
        &["--bind", "127.0.0.1:0", "--tls-bind", "127.0.0.1:0"][..],
        args,
    ]
    .concat();
    let (peer, listeners) = serve_listeners(transport, &all);
    match listeners[..] {
        [(plain, false), (tls, true)] => (peer, plain, tls),
        _ => panic!(
            "expected a plain and a TLS listener, got {listeners:?}\n{}",
            peer.logs()
        ),
    }
}

/// What a client did.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what} failed ({})\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// Runs a client to its end, killing it after [`CLIENT_TIMEOUT`] or at the end of the
/// test's budget.
pub fn run(what: &str, command: &mut Command) -> Outcome {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let (stdout, out_reader) = collect(child.stdout.take().expect("stdout"));
    let (stderr, err_reader) = collect(child.stderr.take().expect("stderr"));
    let deadline = deadline(CLIENT_TIMEOUT);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = (out_reader.join(), err_reader.join());
                panic!(
                    "{what} did not finish within {CLIENT_TIMEOUT:?} (or the test's {TEST_BUDGET:?}); killed\n--- stdout:\n{}\n--- stderr:\n{}",
                    lossy(&stdout),
                    lossy(&stderr)
                );
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    };
    let _ = (out_reader.join(), err_reader.join());
    Outcome {
        status,
        stdout: lossy(&stdout),
        stderr: lossy(&stderr),
    }
}

pub fn dicomwire(args: &[&str]) -> Command {
    let mut command = Command::new(DICOMWIRE);
    command.args(args);
    command
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Hanging protocols padded with a private OB element to about `size` bytes of data set
/// each, the padding a pattern that differs by instance and by offset, so that a lost,
/// repeated or reordered fragment shows.
pub fn padded_protocols(sizes: &[usize]) -> Vec<(String, Vec<u8>)> {
    use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
    use dicom_dictionary_std::tags;
    use dicomwire::service::{dataset, uids};
    use dicomwire_cli::{files, sample};
    let samples = sample::hanging_protocols();
    let explicit = uids::EXPLICIT_VR_LITTLE_ENDIAN;
    let ts = explicit.as_str();
    sizes
        .iter()
        .enumerate()
        .map(|(n, &size)| {
            let mut object = samples[n % samples.len()].object.clone();
            let uid = sample::uid_for(&format!("interop/large/{n}"));
            object.put(DataElement::new(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from(uid.as_str()),
            ));
            object.put(DataElement::new(
                Tag(0x0009, 0x0010),
                VR::LO,
                PrimitiveValue::from("DICOMWIRE TEST"),
            ));
            let pattern: Vec<u8> = (0..size)
                .map(|i| ((i.wrapping_mul(31) ^ (i >> 13) ^ n) & 0xFF).to_le_bytes()[0])
                .collect();
            object.put(DataElement::new(
                Tag(0x0009, 0x1001),
                VR::OB,
                PrimitiveValue::U8(pattern.into()),
            ));
            let data = dataset::encode(&object, ts).expect("encode a padded protocol");
            let file = files::part10(uids::HANGING_PROTOCOL_STORAGE.as_str(), &uid, ts, &data);
            (uid, file)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Interop peers

/// Where the pynetdicom scripts of the interop tests are.
pub const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// Whether the interop tests are to run; says so when not.
pub fn enabled(test: &str) -> bool {
    if std::env::var("DICOMWIRE_INTEROP").as_deref() == Ok("1") {
        TEST_DEADLINE.set(Some(Instant::now() + TEST_BUDGET));
        true
    } else {
        println!("{test}: not run; set DICOMWIRE_INTEROP=1 to run the interop tests");
        false
    }
}

/// The path of a DCMTK tool; panics when it is not installed.
pub fn dcmtk(tool: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(tool);
    assert!(
        path.is_file(),
        "DICOMWIRE_INTEROP=1 but DCMTK's {} is missing (apt-get install dcmtk)",
        path.display()
    );
    path
}

/// A DCMTK command with Nagle's algorithm off.
pub fn dcmtk_command(tool: &str) -> Command {
    let mut command = Command::new(dcmtk(tool));
    command.env("TCP_NODELAY", "1");
    command
}

/// `python3` with pynetdicom; panics when either is missing.
pub fn python(script: &str) -> Command {
    let check = run(
        "python3 -c 'import pynetdicom'",
        Command::new("python3").args(["-c", "import pynetdicom"]),
    );
    assert!(
        check.status.success(),
        "DICOMWIRE_INTEROP=1 but python3 with pynetdicom is missing (pip install pynetdicom): {}",
        check.stderr
    );
    let mut command = Command::new("python3");
    command.arg(Path::new(SCRIPTS).join(script));
    command
}

/// `python3 -m pynetdicom APP`: one of pynetdicom's bundled applications (`storescu`,
/// `storescp`, ...); panics when pynetdicom is missing.
pub fn python_module(app: &str) -> Command {
    let check = run(
        "python3 -c 'import pynetdicom'",
        Command::new("python3").args(["-c", "import pynetdicom"]),
    );
    assert!(
        check.status.success(),
        "DICOMWIRE_INTEROP=1 but python3 with pynetdicom is missing (pip install pynetdicom): {}",
        check.stderr
    );
    let mut command = Command::new("python3");
    command.args(["-m", "pynetdicom", app]);
    command
}
