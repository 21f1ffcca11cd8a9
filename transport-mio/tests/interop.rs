//! The mio client against real peers: DCMTK's `wlmscpfs` and pynetdicom (the
//! `cli/tests/interop/pyscp.py` script, used read-only). Runs when
//! `DICOMWIRE_INTEROP=1` is set, and then fails rather than skips when a peer is missing.

mod common;
use common::{drive_until_closed, text};

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::pdu::AeTitle;
use dicomwire::service::scu::{FindProgress, RetrieveProgress, ScuService, association_request};
use dicomwire::service::{HandlerError, StoreHandler, StoreRequest, dataset, uids};
use dicomwire::session::{ClientEvent, Operation};
use dicomwire::ul::AssociationConfig;
use dicomwire_mio::EventLoop;

const LIMIT: Duration = Duration::from_secs(30);
const PYSCP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/tests/interop/pyscp.py");

fn enabled(test: &str) -> bool {
    if std::env::var("DICOMWIRE_INTEROP").as_deref() == Ok("1") {
        true
    } else {
        println!("{test}: not run; set DICOMWIRE_INTEROP=1 to run the interop tests");
        false
    }
}

/// A peer process, killed when dropped; its stdin stays open until then (pyscp.py ends
/// when it closes) and its output is collected for failure messages.
struct Peer {
    name: String,
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Peer {
    fn spawn(name: &str, command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        for mut pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output.lock().expect("lock").extend_from_slice(&buf[..n]);
                }
            });
        }
        Self {
            name: name.to_owned(),
            child,
            output,
        }
    }

    fn logs(&self) -> String {
        format!(
            "--- {} output:\n{}",
            self.name,
            String::from_utf8_lossy(&self.output.lock().expect("lock"))
        )
    }

    /// Waits until something accepts connections on `port`.
    fn wait_for_port(&mut self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("{} exited early ({status})\n{}", self.name, self.logs());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} does not listen on {addr}\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free port")
        .port()
}

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "dicomwire-mio-interop-{}-{name}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `object` as a DICOM Part 10 file in Explicit VR Little Endian.
fn part10(object: &InMemDicomObject, sop_class: &str, sop_instance: &str) -> Vec<u8> {
    fn element(out: &mut Vec<u8>, element: u16, vr: &[u8; 2], value: &[u8]) {
        out.extend_from_slice(&0x0002u16.to_le_bytes());
        out.extend_from_slice(&element.to_le_bytes());
        out.extend_from_slice(vr);
        if vr == b"OB" {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&u32::try_from(value.len()).expect("short").to_le_bytes());
        } else {
            out.extend_from_slice(&u16::try_from(value.len()).expect("short").to_le_bytes());
        }
        out.extend_from_slice(value);
    }
    fn uid(value: &str) -> Vec<u8> {
        let mut v = value.as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(0);
        }
        v
    }
    let ts = uids::EXPLICIT_VR_LITTLE_ENDIAN;
    let ts = ts.as_str();
    let mut meta = Vec::new();
    element(&mut meta, 0x0001, b"OB", &[0, 1]);
    element(&mut meta, 0x0002, b"UI", &uid(sop_class));
    element(&mut meta, 0x0003, b"UI", &uid(sop_instance));
    element(&mut meta, 0x0010, b"UI", &uid(ts));
    element(
        &mut meta,
        0x0012,
        b"UI",
        &uid("1.2.826.0.1.3680043.10.1234.999"),
    );
    let mut file = vec![0u8; 128];
    file.extend_from_slice(b"DICM");
    let length = u32::try_from(meta.len()).expect("short").to_le_bytes();
    element(&mut file, 0x0000, b"UL", &length);
    file.extend_from_slice(&meta);
    file.extend_from_slice(&dataset::encode(object, ts).expect("encode"));
    file
}

fn sequence(tag: dicom_core::Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

/// A worklist item complete enough for `wlmscpfs` (it ignores incomplete ones): CT for
/// even `n`, MR for odd.
fn worklist_item(n: usize) -> InMemDicomObject {
    let step = InMemDicomObject::from_element_iter([
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, "STATION1"),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            "20250101",
        ),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, "0900"),
        text(tags::MODALITY, VR::CS, if n % 2 == 0 { "CT" } else { "MR" }),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
            VR::LO,
            "EXAMINATION",
        ),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_ID,
            VR::SH,
            &format!("SPS{n}"),
        ),
    ]);
    InMemDicomObject::from_element_iter([
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::ACCESSION_NUMBER, VR::SH, &format!("ACC{n:04}")),
        sequence(tags::REFERENCED_STUDY_SEQUENCE, Vec::new()),
        sequence(tags::REFERENCED_PATIENT_SEQUENCE, Vec::new()),
        text(tags::PATIENT_NAME, VR::PN, &format!("DOE^PATIENT{n}")),
        text(tags::PATIENT_ID, VR::LO, &format!("PID{n:04}")),
        text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &format!("1.2.826.0.1.3680043.10.1234.7.{n}"),
        ),
        text(tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO, "PROCEDURE"),
        sequence(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![step]),
        text(tags::REQUESTED_PROCEDURE_ID, VR::SH, &format!("RP{n}")),
    ])
}

fn accession_number(identifier: &InMemDicomObject) -> String {
    identifier
        .element(tags::ACCESSION_NUMBER)
        .expect("accession number")
        .to_str()
        .expect("text")
        .trim()
        .to_owned()
}

fn options() -> AssociationConfig {
    AssociationConfig {
        connect_timeout: Duration::from_secs(5),
        dimse_timeout: Some(Duration::from_secs(15)),
        ..AssociationConfig::default()
    }
}

/// C-ECHO and a worklist C-FIND (MR only) against DCMTK's `wlmscpfs`, two associations
/// at once from one loop: the matches are exactly the MR items of the files it serves.
#[test]
fn mio_client_to_dcmtk_wlmscpfs() {
    if !enabled("mio_client_to_dcmtk_wlmscpfs") {
        return;
    }
    const ITEMS: usize = 6;
    let tool = Path::new("/usr/bin/wlmscpfs");
    assert!(
        tool.is_file(),
        "DICOMWIRE_INTEROP=1 but DCMTK's wlmscpfs is missing (apt-get install dcmtk)"
    );
    let data = TempDir::new("wlmscpfs");
    let ae_dir = data.0.join("WLMSCP");
    std::fs::create_dir(&ae_dir).expect("create the AE directory");
    std::fs::write(ae_dir.join("lockfile"), b"").expect("write the lockfile");
    for n in 0..ITEMS {
        let file = part10(
            &worklist_item(n),
            uids::MODALITY_WORKLIST_FIND.as_str(),
            &format!("1.2.826.0.1.3680043.10.1234.8.{n}"),
        );
        std::fs::write(ae_dir.join(format!("item{n}.wl")), file).expect("write a .wl file");
    }
    let port = free_port();
    let mut peer = Peer::spawn(
        "wlmscpfs",
        Command::new(tool)
            .env("TCP_NODELAY", "1")
            .arg("-dfp")
            .arg(&data.0)
            .args(["-csk", "-dhl"])
            .arg(port.to_string()),
    );
    peer.wait_for_port(port);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mut event_loop = EventLoop::new().expect("loop");
    let request = || {
        association_request(
            AeTitle::new("MIOSCU").expect("ae"),
            AeTitle::new("WLMSCP").expect("ae"),
            &[ScuService::Verification, ScuService::WorklistFind],
        )
    };
    let echo_client = event_loop
        .connect(addr, request(), options())
        .expect("connect");
    let echo = event_loop
        .submit(echo_client, Operation::Echo)
        .expect("submit");
    event_loop.release(echo_client).expect("release");
    let find_client = event_loop
        .connect(addr, request(), options())
        .expect("connect");
    let query = InMemDicomObject::from_element_iter([
        text(tags::ACCESSION_NUMBER, VR::SH, ""),
        text(tags::PATIENT_NAME, VR::PN, ""),
        sequence(
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([text(
                tags::MODALITY,
                VR::CS,
                "MR",
            )])],
        ),
    ]);
    let find = event_loop
        .submit(find_client, Operation::worklist_find(query))
        .expect("submit");
    event_loop.release(find_client).expect("release");
    let logs = drive_until_closed(
        &mut event_loop,
        &[echo_client, find_client],
        LIMIT,
        |_, _, _| {},
    );

    let echo_log = &logs[&echo_client];
    assert!(
        echo_log.events.iter().any(|e| matches!(
            e,
            ClientEvent::Echo { op, status } if *op == echo && status.is_success()
        )),
        "{:?}\n{}",
        echo_log.events,
        peer.logs()
    );
    assert!(echo_log.closed().is_ok(), "{:?}", echo_log.closed());

    let find_log = &logs[&find_client];
    let mut found = BTreeSet::new();
    let mut final_status = None;
    for event in &find_log.events {
        if let ClientEvent::Find { op, progress } = event {
            assert_eq!(*op, find);
            match progress {
                FindProgress::Match { identifier, .. } => {
                    found.insert(accession_number(identifier));
                }
                FindProgress::Finished { status, .. } => final_status = Some(*status),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let expected: BTreeSet<String> = (0..ITEMS)
        .filter(|n| n % 2 == 1)
        .map(|n| format!("ACC{n:04}"))
        .collect();
    assert_eq!(found, expected, "{}", peer.logs());
    assert!(
        final_status.is_some_and(|s| s.is_success()),
        "{final_status:?}"
    );
    assert!(find_log.closed().is_ok(), "{:?}", find_log.closed());
}

/// Keeps the SOP Instance UIDs it is given.
#[derive(Default)]
struct Received(Mutex<BTreeSet<String>>);

impl StoreHandler for Received {
    fn store(&self, request: &StoreRequest<'_>) -> Result<u16, HandlerError> {
        self.0
            .lock()
            .expect("lock")
            .insert(request.sop_instance_uid.to_owned());
        Ok(0x0000)
    }
}

/// Hanging Protocol C-GET against pynetdicom: the C-STORE sub-operations come back on
/// the association and reach the store handler.
#[test]
fn mio_client_get_from_pynetdicom() {
    if !enabled("mio_client_get_from_pynetdicom") {
        return;
    }
    let check = Command::new("python3")
        .args(["-c", "import pynetdicom"])
        .output();
    assert!(
        check.as_ref().is_ok_and(|o| o.status.success()),
        "DICOMWIRE_INTEROP=1 but python3 with pynetdicom is missing (pip install pynetdicom)"
    );
    let worklist = TempDir::new("pyscp-worklist");
    let hanging = TempDir::new("pyscp-hanging");
    let uid = |n: usize| format!("1.2.826.0.1.3680043.10.1234.9.{n}");
    for n in 0..2 {
        let object = InMemDicomObject::from_element_iter([
            text(
                tags::SOP_CLASS_UID,
                VR::UI,
                uids::HANGING_PROTOCOL_STORAGE.as_str(),
            ),
            text(tags::SOP_INSTANCE_UID, VR::UI, &uid(n)),
            text(tags::HANGING_PROTOCOL_NAME, VR::SH, &format!("PROTOCOL{n}")),
        ]);
        let file = part10(&object, uids::HANGING_PROTOCOL_STORAGE.as_str(), &uid(n));
        std::fs::write(hanging.0.join(format!("hp{n}.dcm")), file).expect("write");
    }
    let port = free_port();
    let mut peer = Peer::spawn(
        "pyscp.py",
        Command::new("python3")
            .arg(PYSCP)
            .arg(port.to_string())
            .args(["--ae-title", "PYSCP", "--worklist"])
            .arg(&worklist.0)
            .arg("--hanging-protocols")
            .arg(&hanging.0),
    );
    peer.wait_for_port(port);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mut event_loop = EventLoop::new().expect("loop");
    let request = association_request(
        AeTitle::new("MIOSCU").expect("ae"),
        AeTitle::new("PYSCP").expect("ae"),
        &[ScuService::HangingProtocolGet],
    );
    let client = event_loop
        .connect(addr, request, options())
        .expect("connect");
    let received = Arc::new(Received::default());
    let get = event_loop
        .submit(
            client,
            Operation::hanging_protocol_get(
                InMemDicomObject::from_element_iter([text(
                    tags::SOP_INSTANCE_UID,
                    VR::UI,
                    &format!("{}\\{}", uid(0), uid(1)),
                )]),
                Arc::clone(&received) as _,
            ),
        )
        .expect("submit");
    event_loop.release(client).expect("release");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    let finished = log.events.iter().find_map(|e| match e {
        ClientEvent::Retrieve {
            op,
            progress:
                RetrieveProgress::Finished {
                    status,
                    sub_operations,
                    ..
                },
        } if *op == get => Some((*status, *sub_operations)),
        _ => None,
    });
    let (status, counts) = finished.unwrap_or_else(|| panic!("{:?}\n{}", log.events, peer.logs()));
    assert!(status.is_success(), "{status:?}\n{}", peer.logs());
    assert_eq!(counts.completed, Some(2));
    let expected: BTreeSet<String> = (0..2).map(uid).collect();
    assert_eq!(*received.0.lock().expect("lock"), expected);
    assert!(log.closed().is_ok(), "{:?}", log.closed());
}
