//! The mio server over loopback, with `dicomwire_std::Client` as the SCU.

mod common;
use common::{Running, text, worklist_record};

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self};
use std::time::{Duration, Instant};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::pdu::{AeTitle, PresentationReason, RejectResult, RejectSource};
use dicomwire::service::scu::{FindProgress, ScuService, association_request};
use dicomwire::service::{
    Destination, FindHandler, FindRequest, FindResults, HandlerError, Handlers,
    InMemoryHangingProtocols, InMemoryWorklist, Instance, StaticDestinations, StoreHandler,
    StoreRequest, StoredInstance, dataset, uids,
};
use dicomwire::session::{ClientEvent, Operation, ScpConfig};
use dicomwire::ul::{AcceptorPolicy, AssociationConfig, RolePolicy, SupportedSyntax};
use dicomwire_std::{Client, ClientError};

const WORKLIST_RECORDS: usize = 5;
const PROTOCOL_UID: &str = "1.2.826.0.1.3680043.10.1234.1";

fn hanging_protocol() -> StoredInstance {
    let object = InMemDicomObject::from_element_iter([
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::HANGING_PROTOCOL_STORAGE.as_str(),
        ),
        text(tags::SOP_INSTANCE_UID, VR::UI, PROTOCOL_UID),
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, "CHEST"),
    ]);
    let data = dataset::encode(&object, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str()).expect("encode");
    StoredInstance {
        object,
        instance: Instance {
            sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.as_str().to_owned(),
            sop_instance_uid: PROTOCOL_UID.to_owned(),
            transfer_syntax: uids::EXPLICIT_VR_LITTLE_ENDIAN,
            data,
        },
    }
}

fn policy() -> Arc<AcceptorPolicy> {
    let ts = uids::uncompressed_transfer_syntaxes();
    Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uids::VERIFICATION, ts.clone()),
            SupportedSyntax::new(uids::MODALITY_WORKLIST_FIND, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_FIND, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_MOVE, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_STORAGE, ts).with_roles(RolePolicy {
                requestor_may_be_scu: true,
                requestor_may_be_scp: true,
            }),
        ],
        ..AcceptorPolicy::default()
    })
}

/// C-MOVE sub-associations connect within 3 s, 2 s of shutdown grace.
fn options(mut handlers: Handlers) -> ScpConfig {
    handlers.sub_association_config.connect_timeout = Duration::from_secs(3);
    let mut config = ScpConfig::new(policy(), Arc::new(handlers));
    config.shutdown_grace = Duration::from_secs(2);
    config
}

fn provider_handlers(destinations: StaticDestinations) -> Handlers {
    let worklist = Arc::new(InMemoryWorklist::new(
        (0..WORKLIST_RECORDS).map(worklist_record).collect(),
    ));
    let hanging = Arc::new(InMemoryHangingProtocols::new(vec![hanging_protocol()]));
    Handlers {
        worklist: Some(worklist),
        hanging_protocol_find: Some(Arc::clone(&hanging) as _),
        hanging_protocol_retrieve: Some(hanging as _),
        move_destinations: Some(Arc::new(destinations)),
        ..Handlers::default()
    }
}

fn client_options() -> AssociationConfig {
    AssociationConfig {
        connect_timeout: Duration::from_secs(5),
        dimse_timeout: Some(Duration::from_secs(10)),
        ..AssociationConfig::default()
    }
}

fn connect(addr: SocketAddr, services: &[ScuService]) -> Result<Client, ClientError> {
    let request = association_request(
        AeTitle::new("TESTSCU").expect("ae"),
        AeTitle::new("MIOSCP").expect("ae"),
        services,
    );
    Client::connect(addr, request, client_options())
}

/// C-FIND on the worklist with universal keys: the number of matches.
fn find_all(client: &mut Client) -> usize {
    let query = InMemDicomObject::from_element_iter([
        text(tags::PATIENT_NAME, VR::PN, ""),
        text(tags::PATIENT_ID, VR::LO, ""),
        text(tags::ACCESSION_NUMBER, VR::SH, ""),
    ]);
    let result = client
        .run(Operation::worklist_find(query), |event| match event {
            ClientEvent::Find {
                progress: FindProgress::Match { .. } | FindProgress::Finished { .. },
                ..
            } => {}
            other => panic!("unexpected {other:?}"),
        })
        .expect("find");
    assert!(
        result.status.is_success(),
        "final status {:?}",
        result.status
    );
    result.matches
}

#[test]
fn echo() {
    let server = Running::start(options(provider_handlers(StaticDestinations::new())));
    let mut client = connect(server.addr, &[ScuService::Verification]).expect("associate");
    assert!(client.echo().expect("echo").is_success());
    client.release().expect("release");
    server.stop();
}

#[test]
fn worklist_find_returns_all_matches() {
    let server = Running::start(options(provider_handlers(StaticDestinations::new())));
    let mut client = connect(server.addr, &[ScuService::WorklistFind]).expect("associate");
    assert_eq!(find_all(&mut client), WORKLIST_RECORDS);
    // The same association serves a second query.
    assert_eq!(find_all(&mut client), WORKLIST_RECORDS);
    client.release().expect("release");
    server.stop();
}

#[test]
fn two_hundred_concurrent_associations() {
    let mut opts = options(provider_handlers(StaticDestinations::new()));
    opts.max_associations = 256;
    let server = Running::start(opts);
    let addr = server.addr;
    let barrier = Arc::new(std::sync::Barrier::new(200));
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut client =
                    connect(addr, &[ScuService::Verification, ScuService::WorklistFind])
                        .expect("associate");
                // All 200 are associated at once before any of them does work.
                barrier.wait();
                assert!(client.echo().expect("echo").is_success());
                assert_eq!(find_all(&mut client), WORKLIST_RECORDS);
                client.release().expect("release");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    server.stop();
}

#[test]
fn over_the_limit_is_rejected_local_limit_exceeded() {
    let mut opts = options(provider_handlers(StaticDestinations::new()));
    opts.max_associations = 2;
    let server = Running::start(opts);
    let held: Vec<Client> = (0..2)
        .map(|_| connect(server.addr, &[ScuService::Verification]).expect("associate"))
        .collect();
    match connect(server.addr, &[ScuService::Verification]) {
        Err(ClientError::Rejected(r)) => {
            assert_eq!(r.rj.result, RejectResult::Transient);
            assert_eq!(
                r.rj.source,
                RejectSource::ServiceProviderPresentation(PresentationReason::LocalLimitExceeded)
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Once one is released, a new association is served again.
    let mut held = held.into_iter();
    held.next().expect("one").release().expect("release");
    let started = Instant::now();
    let mut client = loop {
        match connect(server.addr, &[ScuService::Verification]) {
            Ok(c) => break c,
            Err(ClientError::Rejected(_)) if started.elapsed() < Duration::from_secs(5) => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(client.echo().expect("echo").is_success());
    client.release().expect("release");
    for c in held {
        c.release().expect("release");
    }
    server.stop();
}

#[test]
fn artim_closes_an_idle_connection_while_others_are_served() {
    let mut opts = options(provider_handlers(StaticDestinations::new()));
    opts.association = AssociationConfig {
        artim_timeout: Duration::from_secs(1),
        ..AssociationConfig::default()
    };
    let server = Running::start(opts);
    let started = Instant::now();
    let mut idle = TcpStream::connect(server.addr).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // Meanwhile another association is served normally.
    let mut client = connect(server.addr, &[ScuService::Verification]).expect("associate");
    assert!(client.echo().expect("echo").is_success());
    // The idle connection is closed by ARTIM: end of stream, nothing sent.
    let mut buf = [0u8; 64];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "nothing should be sent on an idle connection");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "closed after {elapsed:?}"
    );
    // The other association outlived ARTIM and still works.
    assert!(client.echo().expect("echo").is_success());
    client.release().expect("release");
    server.stop();
}

/// Records what a storage SCP receives.
#[derive(Default)]
struct Recorder {
    stored: Mutex<Vec<(String, String, Option<String>)>>,
}

impl StoreHandler for Recorder {
    fn store(&self, request: &StoreRequest<'_>) -> Result<u16, HandlerError> {
        self.stored.lock().expect("lock").push((
            request.sop_class_uid.to_owned(),
            request.sop_instance_uid.to_owned(),
            request.move_originator.map(str::to_owned),
        ));
        Ok(0x0000)
    }
}

#[test]
fn move_to_a_second_mio_server() {
    // The destination: a mio server with a recording store handler.
    let recorder = Arc::new(Recorder::default());
    let destination = Running::start(options(Handlers {
        store: Some(Arc::clone(&recorder) as _),
        ..Handlers::default()
    }));
    let mut destinations = StaticDestinations::new();
    destinations.insert(
        "STORESCP",
        Destination {
            host: "127.0.0.1".into(),
            port: destination.addr.port(),
            tls: false,
        },
    );
    destinations.insert(
        "NOWHERE",
        Destination {
            host: "127.0.0.1".into(),
            port: unused_port(),
            tls: false,
        },
    );
    let server = Running::start(options(provider_handlers(destinations)));
    let mut client = connect(server.addr, &[ScuService::HangingProtocolMove]).expect("associate");
    let identifier =
        InMemDicomObject::from_element_iter([text(tags::SOP_INSTANCE_UID, VR::UI, PROTOCOL_UID)]);
    let operation = Operation::Move {
        sop_class: uids::HANGING_PROTOCOL_MOVE,
        identifier: identifier.clone(),
        destination: AeTitle::new("STORESCP").expect("ae"),
    };
    let outcome = client.run(operation, |_| {}).expect("move");
    assert!(outcome.status.is_success(), "{outcome:?}");
    assert_eq!(outcome.sub_operations.completed, Some(1), "{outcome:?}");
    let stored = recorder.stored.lock().expect("lock").clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, uids::HANGING_PROTOCOL_STORAGE.as_str());
    assert_eq!(stored[0].1, PROTOCOL_UID);
    assert_eq!(stored[0].2.as_deref(), Some("TESTSCU"));

    // A destination nobody listens on: the connect fails, the move says so, and the
    // association goes on.
    let operation = Operation::Move {
        sop_class: uids::HANGING_PROTOCOL_MOVE,
        identifier: identifier.clone(),
        destination: AeTitle::new("NOWHERE").expect("ae"),
    };
    let outcome = client.run(operation, |_| {}).expect("move");
    assert!(!outcome.status.is_success(), "{outcome:?}");
    client.release().expect("release");
    server.stop();
    destination.stop();
}

/// A loopback port with no listener (bound, then freed).
fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn a_client_that_stops_reading_does_not_stall_the_others() {
    const RECORDS: usize = 3000;
    let mut handlers = provider_handlers(StaticDestinations::new());
    handlers.worklist = Some(Arc::new(InMemoryWorklist::new(
        (0..RECORDS).map(worklist_record).collect(),
    )));
    let server = Running::start(options(handlers));
    let mut slow = connect(server.addr, &[ScuService::WorklistFind]).expect("associate");
    let query = InMemDicomObject::from_element_iter([text(tags::PATIENT_NAME, VR::PN, "")]);
    let find = slow
        .session()
        .submit(Operation::worklist_find(query))
        .expect("find starts");
    let next_progress = |slow: &mut Client| loop {
        match slow.next_event().expect("find progresses") {
            ClientEvent::Find { op, progress } if op == find => return progress,
            ClientEvent::Established(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(matches!(
        next_progress(&mut slow),
        FindProgress::Match { .. }
    ));
    // The slow client reads nothing for a while; its responses back up (bounded), and
    // another association is served meanwhile.
    let started = Instant::now();
    let mut other = connect(server.addr, &[ScuService::Verification]).expect("associate");
    assert!(other.echo().expect("echo").is_success());
    other.release().expect("release");
    assert!(started.elapsed() < Duration::from_secs(2));
    thread::sleep(Duration::from_millis(300));
    // Then it reads on, and gets every match.
    let mut count = 1;
    loop {
        match next_progress(&mut slow) {
            FindProgress::Match { .. } => count += 1,
            FindProgress::Finished { status, .. } => {
                assert!(status.is_success());
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(count, RECORDS);
    slow.release().expect("release");
    server.stop();
}

/// A worklist whose first query blocks the loop thread for `block` (the crate's contract
/// asks handlers not to; here it stands for a loop busy with something else).
struct BlockingOnce {
    started: Arc<AtomicBool>,
    block: Duration,
}

impl FindHandler for BlockingOnce {
    fn find(&self, _: &FindRequest<'_>) -> Result<FindResults, HandlerError> {
        if !self.started.swap(true, Ordering::SeqCst) {
            thread::sleep(self.block);
        }
        Ok(Box::new(std::iter::empty()))
    }
}

#[test]
fn a_request_that_waited_while_the_loop_was_busy_is_served() {
    // An association with a short idle timeout sends a request well within it, but the
    // loop thread is busy until after the deadline: the request waiting in the socket is
    // taken before the deadline is looked at, and answered.
    let started = Arc::new(AtomicBool::new(false));
    let idle_timeout = Duration::from_millis(500);
    let mut opts = options(Handlers {
        worklist: Some(Arc::new(BlockingOnce {
            started: Arc::clone(&started),
            block: 3 * idle_timeout,
        })),
        ..Handlers::default()
    });
    opts.association.idle_timeout = Some(idle_timeout);
    let server = Running::start(opts);
    let addr = server.addr;
    let mut waiting = connect(addr, &[ScuService::Verification]).expect("associate");
    let busy = thread::spawn(move || {
        let mut client = connect(addr, &[ScuService::WorklistFind]).expect("associate");
        assert_eq!(find_all(&mut client), 0);
        client.release().expect("release");
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !started.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the query never reached the handler"
        );
        thread::sleep(Duration::from_millis(1));
    }
    // The loop is blocked now, the idle deadline still ahead: the C-ECHO-RQ is sent in
    // time, and waits.
    let status = waiting.echo();
    assert!(
        status.as_ref().is_ok_and(|s| s.is_success()),
        "a request sent in time was cut off by the idle timeout: {status:?}"
    );
    waiting.release().expect("release");
    busy.join().expect("busy client");
    server.stop();
}
