//! The mio client: against listeners on the same `EventLoop`, against the blocking
//! `dicomwire-std` server, and many at once against a mio server.

mod common;
use common::{Log, Running, drive_until_closed, text, worklist_record};

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::dimse::Status;
use dicomwire::pdu::{AeTitle, PresentationReason, RejectResult, RejectSource};
use dicomwire::service::scu::{FindProgress, RetrieveProgress, ScuService, association_request};
use dicomwire::service::{
    Destination, FindHandler, FindItem, FindRequest, FindResults, HandlerError, Handlers,
    InMemoryHangingProtocols, InMemoryWorklist, Instance, StaticDestinations, StoreHandler,
    StoreRequest, StoredInstance, dataset, uids,
};
use dicomwire::session::{ClientError, ClientEvent, OpId, Operation, ScpConfig};
use dicomwire::ul::{
    Aborted, AcceptorPolicy, AssociationConfig, RolePolicy, SupportedSyntax, Timer,
};
use dicomwire_mio::{ClientId, EventLoop};

const LIMIT: Duration = Duration::from_secs(20);

fn protocol_uid(n: usize) -> String {
    format!("1.2.826.0.1.3680043.10.1234.{}", n + 1)
}

fn hanging_protocol(n: usize) -> StoredInstance {
    let uid = protocol_uid(n);
    let object = InMemDicomObject::from_element_iter([
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::HANGING_PROTOCOL_STORAGE.as_str(),
        ),
        text(tags::SOP_INSTANCE_UID, VR::UI, &uid),
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, &format!("PROTOCOL{n}")),
    ]);
    let data = dataset::encode(&object, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str()).expect("encode");
    StoredInstance {
        object,
        instance: Instance {
            sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.as_str().to_owned(),
            sop_instance_uid: uid,
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
            SupportedSyntax::new(uids::HANGING_PROTOCOL_GET, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_MOVE, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_STORAGE, ts).with_roles(RolePolicy {
                requestor_may_be_scu: true,
                requestor_may_be_scp: true,
            }),
        ],
        ..AcceptorPolicy::default()
    })
}

/// The served side: C-MOVE sub-associations connect within 3 s, 2 s of shutdown grace.
fn server_config(mut handlers: Handlers) -> ScpConfig {
    handlers.sub_association_config.connect_timeout = Duration::from_secs(3);
    let mut config = ScpConfig::new(policy(), Arc::new(handlers));
    config.shutdown_grace = Duration::from_secs(2);
    config
}

/// [`server_config`] shared, as `listen` takes it.
fn server_options(handlers: Handlers) -> Arc<ScpConfig> {
    Arc::new(server_config(handlers))
}

/// Worklist (`records` records), three hanging protocols, and `destinations` for C-MOVE.
fn provider_handlers(records: usize, destinations: StaticDestinations) -> Handlers {
    let worklist = Arc::new(InMemoryWorklist::new(
        (0..records).map(worklist_record).collect(),
    ));
    let hanging = Arc::new(InMemoryHangingProtocols::new(
        (0..3).map(hanging_protocol).collect(),
    ));
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

fn connect(event_loop: &mut EventLoop, addr: SocketAddr, services: &[ScuService]) -> ClientId {
    let request = association_request(
        AeTitle::new("TESTSCU").expect("ae"),
        AeTitle::new("MIOSCP").expect("ae"),
        services,
    );
    event_loop
        .connect(addr, request, client_options())
        .expect("connect starts")
}

fn universal_worklist_query() -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        text(tags::PATIENT_NAME, VR::PN, ""),
        text(tags::PATIENT_ID, VR::LO, ""),
        text(tags::ACCESSION_NUMBER, VR::SH, ""),
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

/// The matches and final status of operation `op` in `log`.
fn find_result(log: &Log, op: OpId) -> (Vec<InMemDicomObject>, Status) {
    let mut matches = Vec::new();
    let mut finished = None;
    for event in &log.events {
        if let ClientEvent::Find { op: o, progress } = event {
            if *o != op {
                continue;
            }
            assert!(finished.is_none(), "progress after the final response");
            match progress {
                FindProgress::Match { identifier, .. } => matches.push(identifier.clone()),
                FindProgress::Finished { status, .. } => finished = Some(*status),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    (matches, finished.expect("the C-FIND finished"))
}

/// The `RetrieveProgress` of operation `op` in `log`.
fn retrieve_progress(log: &Log, op: OpId) -> Vec<&RetrieveProgress> {
    log.events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Retrieve { op: o, progress } if *o == op => Some(progress),
            _ => None,
        })
        .collect()
}

fn echo_status(log: &Log, op: OpId) -> Status {
    log.events
        .iter()
        .find_map(|event| match event {
            ClientEvent::Echo { op: o, status } if *o == op => Some(*status),
            _ => None,
        })
        .expect("a C-ECHO response")
}

/// Shuts a loop with listeners down and turns it until it has finished.
fn shut_down(mut event_loop: EventLoop) {
    event_loop.shutdown_handle().shutdown();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !event_loop.is_finished() {
        assert!(Instant::now() < deadline, "the loop did not finish");
        event_loop
            .turn(Some(Duration::from_millis(100)))
            .expect("turn");
        while event_loop.poll_event().is_some() {}
    }
}

/// Records what a storage SCP receives: SOP class, instance and move originator.
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

impl Recorder {
    fn instances(&self) -> BTreeSet<String> {
        self.stored
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, uid, _)| uid.clone())
            .collect()
    }
}

/// A worklist that never ends (a million generated records, made one at a time): only a
/// cancel or an abort stops a query on it early.
struct EndlessWorklist;

impl FindHandler for EndlessWorklist {
    fn find(&self, _: &FindRequest<'_>) -> Result<FindResults, HandlerError> {
        Ok(Box::new(
            (0..1_000_000).map(|n| FindItem::Match(worklist_record(n))),
        ))
    }
}

/// A loopback port with no listener (bound, then freed).
fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

// ---------------------------------------------------------------------------------------
// Client and server on one loop

#[test]
fn echo_on_one_loop() {
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(provider_handlers(5, StaticDestinations::new())),
        )
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::Verification]);
    let first = event_loop.submit(client, Operation::Echo).expect("submit");
    let second = event_loop.submit(client, Operation::Echo).expect("submit");
    event_loop.release(client).expect("release");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    assert!(matches!(log.events[0], ClientEvent::Established(_)));
    assert!(echo_status(log, first).is_success());
    assert!(echo_status(log, second).is_success());
    assert!(log.closed().is_ok(), "{:?}", log.closed());
    assert_eq!(log.events.len(), 4, "{:?}", log.events);
    // Released after submitting: no more operations.
    assert!(matches!(
        event_loop.submit(client, Operation::Echo),
        Err(ClientError::UnknownClient)
    ));
    shut_down(event_loop);
}

#[test]
fn worklist_find_with_a_thousand_matches_on_one_loop() {
    const RECORDS: usize = 1000;
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(provider_handlers(RECORDS, StaticDestinations::new())),
        )
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::WorklistFind]);
    let all = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    let ct = event_loop
        .submit(
            client,
            Operation::worklist_find(InMemDicomObject::from_element_iter([
                text(tags::ACCESSION_NUMBER, VR::SH, ""),
                dicom_core::DataElement::new(
                    tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
                    VR::SQ,
                    dicom_core::value::DataSetSequence::from(vec![
                        InMemDicomObject::from_element_iter([text(tags::MODALITY, VR::CS, "CT")]),
                    ]),
                ),
            ])),
        )
        .expect("submit");
    event_loop.release(client).expect("release");
    // Matches arrive while the query runs, not all at the end.
    let mut seen_before_final = 0;
    let mut finished = false;
    let logs = drive_until_closed(
        &mut event_loop,
        &[client],
        LIMIT,
        |_, _, event| match event {
            ClientEvent::Find {
                progress: FindProgress::Match { .. },
                op,
            } if *op == all && !finished => seen_before_final += 1,
            ClientEvent::Find {
                progress: FindProgress::Finished { .. },
                op,
            } if *op == all => finished = true,
            _ => {}
        },
    );
    let log = &logs[&client];
    let (matches, status) = find_result(log, all);
    assert!(status.is_success(), "{status:?}");
    assert_eq!(seen_before_final, RECORDS);
    let accession: BTreeSet<String> = matches.iter().map(accession_number).collect();
    let expected: BTreeSet<String> = (0..RECORDS).map(|n| format!("ACC{n:04}")).collect();
    assert_eq!(accession, expected);
    let (matches, status) = find_result(log, ct);
    assert!(status.is_success(), "{status:?}");
    assert_eq!(matches.len(), RECORDS / 2, "the even records are CT");
    assert!(log.closed().is_ok(), "{:?}", log.closed());
    shut_down(event_loop);
}

#[test]
fn cancel_a_find_in_progress_and_one_still_queued() {
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(Handlers {
                worklist: Some(Arc::new(EndlessWorklist)),
                ..Handlers::default()
            }),
        )
        .expect("listen");
    let client = connect(
        &mut event_loop,
        addr,
        &[ScuService::WorklistFind, ScuService::Verification],
    );
    let endless = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    let queued = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    let echo = event_loop.submit(client, Operation::Echo).expect("submit");
    event_loop
        .cancel(client, queued)
        .expect("cancel the queued one");
    assert!(matches!(
        event_loop.cancel(client, queued),
        Err(ClientError::UnknownOperation)
    ));
    event_loop.release(client).expect("release");
    let mut matches_seen = 0;
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |el, client, event| {
        if let ClientEvent::Find {
            op,
            progress: FindProgress::Match { .. },
        } = event
        {
            assert_eq!(*op, endless);
            matches_seen += 1;
            if matches_seen == 10 {
                el.cancel(client, endless).expect("cancel");
            }
        }
    });
    let log = &logs[&client];
    assert!(matches!(
        log.events.iter().find(|e| matches!(e, ClientEvent::OperationFailed { .. })),
        Some(ClientEvent::OperationFailed { op, error: ClientError::Cancelled }) if *op == queued
    ));
    let (matches, status) = find_result(log, endless);
    assert_eq!(status, Status::CANCEL);
    assert!(
        matches.len() >= 10 && matches.len() < 1_000_000,
        "{} matches",
        matches.len()
    );
    // The association goes on after the cancel.
    assert!(echo_status(log, echo).is_success());
    assert!(log.closed().is_ok(), "{:?}", log.closed());
    shut_down(event_loop);
}

#[test]
fn hanging_protocol_get_stores_the_sub_operations() {
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(provider_handlers(0, StaticDestinations::new())),
        )
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::HangingProtocolGet]);
    let store = Arc::new(Recorder::default());
    let all_uids = (0..3).map(protocol_uid).collect::<Vec<_>>().join("\\");
    let get = event_loop
        .submit(
            client,
            Operation::hanging_protocol_get(
                InMemDicomObject::from_element_iter([text(
                    tags::SOP_INSTANCE_UID,
                    VR::UI,
                    &all_uids,
                )]),
                Arc::clone(&store) as _,
            ),
        )
        .expect("submit");
    event_loop.release(client).expect("release");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    let progress = retrieve_progress(log, get);
    let stored: BTreeSet<String> = progress
        .iter()
        .filter_map(|p| match p {
            RetrieveProgress::Stored {
                sop_instance_uid,
                status,
            } => {
                assert!(status.is_success());
                Some(sop_instance_uid.clone())
            }
            _ => None,
        })
        .collect();
    let expected: BTreeSet<String> = (0..3).map(protocol_uid).collect();
    assert_eq!(stored, expected);
    assert_eq!(store.instances(), expected);
    match progress.last() {
        Some(RetrieveProgress::Finished {
            status,
            sub_operations,
            ..
        }) => {
            assert!(status.is_success(), "{status:?}");
            assert_eq!(sub_operations.completed, Some(3));
        }
        other => panic!("not finished: {other:?}"),
    }
    assert!(log.closed().is_ok(), "{:?}", log.closed());
    shut_down(event_loop);
}

#[test]
fn move_to_a_destination_served_by_the_same_loop() {
    let mut event_loop = EventLoop::new().expect("loop");
    let recorder = Arc::new(Recorder::default());
    let destination = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(Handlers {
                store: Some(Arc::clone(&recorder) as _),
                ..Handlers::default()
            }),
        )
        .expect("listen");
    let mut destinations = StaticDestinations::new();
    destinations.insert(
        "STORESCP",
        Destination {
            host: "127.0.0.1".into(),
            port: destination.port(),
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
    let source = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(provider_handlers(0, destinations)),
        )
        .expect("listen");
    let client = connect(&mut event_loop, source, &[ScuService::HangingProtocolMove]);
    let identifier = InMemDicomObject::from_element_iter([text(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        &protocol_uid(1),
    )]);
    let moved = event_loop
        .submit(
            client,
            Operation::hanging_protocol_move(
                identifier.clone(),
                AeTitle::new("STORESCP").expect("ae"),
            ),
        )
        .expect("submit");
    let nowhere = event_loop
        .submit(
            client,
            Operation::hanging_protocol_move(identifier, AeTitle::new("NOWHERE").expect("ae")),
        )
        .expect("submit");
    let unknown = event_loop
        .submit(
            client,
            Operation::hanging_protocol_move(
                InMemDicomObject::from_element_iter([text(
                    tags::SOP_INSTANCE_UID,
                    VR::UI,
                    &protocol_uid(0),
                )]),
                AeTitle::new("UNKNOWN").expect("ae"),
            ),
        )
        .expect("submit");
    event_loop.release(client).expect("release");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    let finished = |op| match retrieve_progress(log, op).last() {
        Some(RetrieveProgress::Finished {
            status,
            sub_operations,
            ..
        }) => (*status, *sub_operations),
        other => panic!("not finished: {other:?}"),
    };
    let (status, counts) = finished(moved);
    assert!(status.is_success(), "{status:?}");
    assert_eq!(counts.completed, Some(1));
    let stored = recorder.stored.lock().expect("lock").clone();
    assert_eq!(
        stored,
        vec![(
            uids::HANGING_PROTOCOL_STORAGE.as_str().to_owned(),
            protocol_uid(1),
            Some("TESTSCU".to_owned())
        )]
    );
    // Nobody listens there: the sub-association's connect fails, the move says so.
    let (status, _) = finished(nowhere);
    assert!(status.is_failure(), "{status:?}");
    // An AE title the source does not know: 0xA801.
    let (status, _) = finished(unknown);
    assert_eq!(status, Status(0xA801));
    assert!(log.closed().is_ok(), "{:?}", log.closed());
    shut_down(event_loop);
}

#[test]
fn rejection_is_reported_with_its_reason() {
    let mut event_loop = EventLoop::new().expect("loop");
    let mut options = server_config(provider_handlers(0, StaticDestinations::new()));
    options.policy = Arc::new(AcceptorPolicy {
        called_ae_titles: vec![AeTitle::new("SOMEONEELSE").expect("ae")],
        ..(*policy()).clone()
    });
    let addr = event_loop
        .listen("127.0.0.1:0", Arc::new(options))
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::Verification]);
    let echo = event_loop.submit(client, Operation::Echo).expect("submit");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    assert!(matches!(
        &log.events[0],
        ClientEvent::OperationFailed { op, error: ClientError::Ended } if *op == echo
    ));
    match log.closed() {
        Err(ClientError::Rejected(r)) => {
            assert!(r.by_peer);
            assert_eq!(r.rj.result, RejectResult::Permanent);
            let words = ClientError::Rejected(*r).to_string();
            assert!(words.contains("called-AE-title-not-recognized"), "{words}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }

    // Over the association limit: transient, local limit exceeded.
    let mut options = server_config(provider_handlers(0, StaticDestinations::new()));
    options.max_associations = 0;
    let addr = event_loop
        .listen("127.0.0.1:0", Arc::new(options))
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::Verification]);
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    match logs[&client].closed() {
        Err(ClientError::Rejected(r)) => {
            assert_eq!(r.rj.result, RejectResult::Transient);
            assert_eq!(
                r.rj.source,
                RejectSource::ServiceProviderPresentation(PresentationReason::LocalLimitExceeded)
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    shut_down(event_loop);
}

#[test]
fn no_accepted_context_is_reported() {
    let mut event_loop = EventLoop::new().expect("loop");
    let mut options = server_config(provider_handlers(0, StaticDestinations::new()));
    options.policy = Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![SupportedSyntax::new(
            uids::VERIFICATION,
            uids::uncompressed_transfer_syntaxes(),
        )],
        // The client's side of an AC that accepts nothing (by default: an RJ).
        accept_with_no_context: true,
        ..AcceptorPolicy::default()
    });
    let addr = event_loop
        .listen("127.0.0.1:0", Arc::new(options))
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::WorklistFind]);
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    assert_eq!(log.events.len(), 1, "{:?}", log.events);
    assert!(
        matches!(log.closed(), Err(ClientError::NoAcceptedContext(_))),
        "{:?}",
        log.closed()
    );
    shut_down(event_loop);
}

#[test]
fn local_abort_during_a_find_ends_both_sides() {
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(Handlers {
                worklist: Some(Arc::new(EndlessWorklist)),
                ..Handlers::default()
            }),
        )
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::WorklistFind]);
    let find = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    let mut seen = 0;
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |el, client, event| {
        if matches!(event, ClientEvent::Find { .. }) {
            seen += 1;
            if seen == 5 {
                el.abort(client).expect("abort");
            }
        }
    });
    let log = &logs[&client];
    assert!(
        matches!(log.closed(), Err(ClientError::LocalAbort)),
        "{:?}",
        log.closed()
    );
    assert!(log.events.iter().any(|e| matches!(
        e,
        ClientEvent::OperationFailed { op, error: ClientError::Ended } if *op == find
    )));
    // The server side heard the A-ABORT and dropped its association.
    let deadline = Instant::now() + Duration::from_secs(5);
    while event_loop.association_count() > 0 {
        assert!(Instant::now() < deadline, "the server kept the association");
        event_loop
            .turn(Some(Duration::from_millis(50)))
            .expect("turn");
    }
    shut_down(event_loop);
}

#[test]
fn peer_abort_is_reported_with_its_reason() {
    // A separate mio server aborts the association when its shutdown grace runs out
    // while a query is still going.
    let mut options = server_config(Handlers {
        worklist: Some(Arc::new(EndlessWorklist)),
        ..Handlers::default()
    });
    options.shutdown_grace = Duration::from_millis(200);
    let server = Running::start(options);
    let mut event_loop = EventLoop::new().expect("loop");
    let client = connect(&mut event_loop, server.addr, &[ScuService::WorklistFind]);
    event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    let mut server = Some(server);
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, event| {
        if matches!(event, ClientEvent::Find { .. }) {
            if let Some(s) = server.take() {
                thread::spawn(move || s.stop());
            }
        }
    });
    match logs[&client].closed() {
        Err(e @ ClientError::Aborted(Aborted::ByPeer(_))) => {
            assert!(e.to_string().contains("aborted by the peer"), "{e}");
        }
        other => panic!("expected an abort by the peer, got {other:?}"),
    }
}

#[test]
fn connect_refused_is_reported() {
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = SocketAddr::from(([127, 0, 0, 1], unused_port()));
    let client = connect(&mut event_loop, addr, &[ScuService::Verification]);
    let echo = event_loop.submit(client, Operation::Echo).expect("submit");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    assert!(matches!(
        &log.events[0],
        ClientEvent::OperationFailed { op, error: ClientError::Ended } if *op == echo
    ));
    match log.closed() {
        Err(ClientError::Connect(source)) => {
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
    assert!(event_loop.is_finished());
}

#[test]
fn connect_timeout_is_reported() {
    // A listener that never accepts, its backlog filled: the kernel drops further SYNs,
    // so a connection attempt neither succeeds nor fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut held = Vec::new();
    loop {
        assert!(held.len() < 20_000, "the backlog never filled");
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(e) => panic!("{e}"),
        }
    }
    let mut event_loop = EventLoop::new().expect("loop");
    let request = association_request(
        AeTitle::new("TESTSCU").expect("ae"),
        AeTitle::new("MIOSCP").expect("ae"),
        &[ScuService::Verification],
    );
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let client = event_loop
        .connect(
            addr,
            request,
            AssociationConfig {
                connect_timeout: timeout,
                ..client_options()
            },
        )
        .expect("connect starts");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let elapsed = started.elapsed();
    match logs[&client].closed() {
        Err(e @ ClientError::ConnectTimeout(after)) => {
            assert_eq!(*after, timeout);
            assert!(e.to_string().contains("no answer within"), "{e}");
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(5),
        "gave up after {elapsed:?}"
    );
    drop(held);
}

#[test]
fn dimse_timeout_aborts_a_silent_peer() {
    // A peer that accepts the association but never answers anything: a raw acceptor
    // core on a thread, fed by a blocking socket, that sends only what association
    // needs.
    use dicomwire::ul::{AcceptOptions, Association, Event};
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let peer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let mut assoc =
            Association::acceptor(Instant::now(), AssociationConfig::default(), policy());
        let mut buf = vec![0u8; 65536];
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut requests = 0;
        while Instant::now() < deadline {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let _ = assoc.handle_input(Instant::now(), &buf[..n]);
                }
                Err(_) => {}
            }
            while let Some(event) = assoc.poll_event() {
                match event {
                    Event::AssociationRequested(incoming) => {
                        assoc
                            .accept(Instant::now(), incoming, AcceptOptions::default())
                            .expect("accept");
                    }
                    Event::Message(_) => requests += 1,
                    _ => {}
                }
            }
            out.clear();
            while assoc.poll_transmit(Instant::now(), &mut out).is_some() {}
            if !out.is_empty() && stream.write_all(&out).is_err() {
                break;
            }
        }
        (requests, assoc.state())
    });
    let mut event_loop = EventLoop::new().expect("loop");
    let request = association_request(
        AeTitle::new("TESTSCU").expect("ae"),
        AeTitle::new("MIOSCP").expect("ae"),
        &[ScuService::Verification],
    );
    let dimse_timeout = Duration::from_millis(1500);
    let client = event_loop
        .connect(
            addr,
            request,
            AssociationConfig {
                dimse_timeout: Some(dimse_timeout),
                ..client_options()
            },
        )
        .expect("connect starts");
    let echo = event_loop.submit(client, Operation::Echo).expect("submit");
    let started = Instant::now();
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    assert!(started.elapsed() >= dimse_timeout);
    assert!(log.events.iter().any(|e| matches!(
        e,
        ClientEvent::OperationFailed { op, error: ClientError::Ended } if *op == echo
    )));
    assert!(
        matches!(
            log.closed(),
            Err(ClientError::Aborted(Aborted::Timeout(Timer::DimseResponse)))
        ),
        "{:?}",
        log.closed()
    );
    let (requests, state) = peer.join().expect("peer");
    assert_eq!(requests, 1, "the C-ECHO-RQ reached the peer");
    assert_eq!(
        state,
        dicomwire::ul::State::Idle,
        "the peer heard the abort"
    );
}

// ---------------------------------------------------------------------------------------
// Against other servers

#[test]
fn against_the_blocking_std_server() {
    use dicomwire_std::Server;
    let server = Server::bind(
        "127.0.0.1:0",
        server_options(provider_handlers(50, StaticDestinations::new())),
    )
    .expect("bind");
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    let thread = thread::spawn(move || server.run());

    let mut event_loop = EventLoop::new().expect("loop");
    let client = connect(
        &mut event_loop,
        addr,
        &[
            ScuService::Verification,
            ScuService::WorklistFind,
            ScuService::HangingProtocolGet,
        ],
    );
    let echo = event_loop.submit(client, Operation::Echo).expect("submit");
    let find = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    let store = Arc::new(Recorder::default());
    let get = event_loop
        .submit(
            client,
            Operation::hanging_protocol_get(
                InMemDicomObject::from_element_iter([text(
                    tags::SOP_INSTANCE_UID,
                    VR::UI,
                    &protocol_uid(2),
                )]),
                Arc::clone(&store) as _,
            ),
        )
        .expect("submit");
    event_loop.release(client).expect("release");
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    assert!(echo_status(log, echo).is_success());
    let (matches, status) = find_result(log, find);
    assert!(status.is_success());
    assert_eq!(matches.len(), 50);
    assert!(matches!(
        retrieve_progress(log, get).last(),
        Some(RetrieveProgress::Finished { status, .. }) if status.is_success()
    ));
    assert_eq!(store.instances(), BTreeSet::from([protocol_uid(2)]));
    assert!(log.closed().is_ok(), "{:?}", log.closed());
    stop.shutdown();
    thread.join().expect("server thread").expect("server run");
}

#[test]
fn five_hundred_concurrent_client_associations_from_one_loop() {
    const CLIENTS: usize = 500;
    const RECORDS: usize = 5;
    let mut options = server_config(provider_handlers(RECORDS, StaticDestinations::new()));
    options.max_associations = CLIENTS + 10;
    let server = Running::start(options);
    let mut event_loop = EventLoop::new().expect("loop");
    let mut ops: HashMap<ClientId, (OpId, OpId)> = HashMap::new();
    let clients: Vec<ClientId> = (0..CLIENTS)
        .map(|_| {
            let c = connect(
                &mut event_loop,
                server.addr,
                &[ScuService::Verification, ScuService::WorklistFind],
            );
            let echo = event_loop.submit(c, Operation::Echo).expect("submit");
            let find = event_loop
                .submit(c, Operation::worklist_find(universal_worklist_query()))
                .expect("submit");
            ops.insert(c, (echo, find));
            c
        })
        .collect();
    // Each is released only once all of them are established: they are all open at once.
    let mut established = 0;
    let mut most_open = 0;
    let logs = drive_until_closed(
        &mut event_loop,
        &clients,
        Duration::from_secs(60),
        |el, _, event| {
            most_open = most_open.max(el.client_count());
            if matches!(event, ClientEvent::Established(_)) {
                established += 1;
                if established == CLIENTS {
                    for c in ops.keys() {
                        el.release(*c).expect("release");
                    }
                }
            }
        },
    );
    assert_eq!(established, CLIENTS);
    assert_eq!(most_open, CLIENTS);
    for (client, (echo, find)) in &ops {
        let log = &logs[client];
        assert!(echo_status(log, *echo).is_success());
        let (matches, status) = find_result(log, *find);
        assert!(status.is_success());
        assert_eq!(matches.len(), RECORDS);
        assert!(log.closed().is_ok(), "{:?}", log.closed());
    }
    assert_eq!(event_loop.client_count(), 0);
    server.stop();
}

#[test]
fn a_user_who_stops_taking_events_holds_the_peer_back() {
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(Handlers {
                worklist: Some(Arc::new(EndlessWorklist)),
                ..Handlers::default()
            }),
        )
        .expect("listen");
    let client = connect(&mut event_loop, addr, &[ScuService::WorklistFind]);
    let find = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    // Many turns without taking an event: the client stops at its bound of 64 waiting
    // events (it stops reading; the server's responses back up in TCP and its bounded
    // queue) instead of queueing the endless results.
    for _ in 0..200 {
        event_loop
            .turn(Some(Duration::from_millis(5)))
            .expect("turn");
    }
    let mut waiting = 0;
    while event_loop.poll_event().is_some() {
        waiting += 1;
    }
    assert_eq!(waiting, 64, "events queued while the user took none");
    // Taking them lets it go on: more matches arrive, then a cancel ends the query.
    let mut more = 0;
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |el, client, event| {
        if let ClientEvent::Find {
            progress: FindProgress::Match { .. },
            ..
        } = event
        {
            more += 1;
            if more == 100 {
                el.cancel(client, find).expect("cancel");
                el.release(client).expect("release");
            }
        }
    });
    assert!(more >= 100);
    let log = &logs[&client];
    assert!(log.events.iter().any(|e| matches!(
        e,
        ClientEvent::Find { progress: FindProgress::Finished { status, .. }, .. }
            if *status == Status::CANCEL
    )));
    assert!(log.closed().is_ok(), "{:?}", log.closed());
    shut_down(event_loop);
}

#[test]
fn holding_events_back_longer_than_the_dimse_timeout_does_not_abort() {
    // The peer is not at fault while our user takes no events (the old loop suspended
    // the DIMSE timeout then): the running query outlives several DIMSE timeouts of the
    // user holding its events back.
    let mut event_loop = EventLoop::new().expect("loop");
    let addr = event_loop
        .listen(
            "127.0.0.1:0",
            server_options(Handlers {
                worklist: Some(Arc::new(EndlessWorklist)),
                ..Handlers::default()
            }),
        )
        .expect("listen");
    let dimse_timeout = Duration::from_millis(500);
    let request = association_request(
        AeTitle::new("TESTSCU").expect("ae"),
        AeTitle::new("MIOSCP").expect("ae"),
        &[ScuService::WorklistFind],
    );
    let client = event_loop
        .connect(
            addr,
            request,
            AssociationConfig {
                dimse_timeout: Some(dimse_timeout),
                ..client_options()
            },
        )
        .expect("connect starts");
    let find = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    // The user takes events until the first match...
    let mut log = Log::default();
    let deadline = Instant::now() + LIMIT;
    while !log
        .events
        .iter()
        .any(|e| matches!(e, ClientEvent::Find { .. }))
    {
        assert!(Instant::now() < deadline, "no match");
        event_loop
            .turn(Some(Duration::from_millis(5)))
            .expect("turn");
        while let Some((_, event)) = event_loop.poll_event() {
            assert!(!matches!(event, ClientEvent::Closed(_)), "{event:?}");
            log.events.push(event);
        }
    }
    // ... then takes none for four DIMSE timeouts, while the loop turns.
    let held_until = Instant::now() + 4 * dimse_timeout;
    while Instant::now() < held_until {
        event_loop
            .turn(Some(Duration::from_millis(5)))
            .expect("turn");
    }
    // Taking them lets the query go on; a cancel then ends it, and the release follows.
    let mut more = 0;
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |el, client, event| {
        if let ClientEvent::Find {
            progress: FindProgress::Match { .. },
            ..
        } = event
        {
            more += 1;
            if more == 1000 {
                el.cancel(client, find).expect("cancel");
                el.release(client).expect("release");
            }
        }
    });
    let log = &logs[&client];
    assert!(
        log.closed().is_ok(),
        "the association ended while its user held the events back: {:?} (after {more} \
         more matches)",
        log.closed()
    );
    assert!(more >= 1000);
    assert!(log.events.iter().any(|e| matches!(
        e,
        ClientEvent::Find { progress: FindProgress::Finished { status, .. }, .. }
            if *status == Status::CANCEL
    )));
    shut_down(event_loop);
}

/// A worklist that takes `delay` to answer (on the blocking server, which has a thread
/// per association for that).
struct SlowWorklist {
    delay: Duration,
}

impl FindHandler for SlowWorklist {
    fn find(&self, _: &FindRequest<'_>) -> Result<FindResults, HandlerError> {
        thread::sleep(self.delay);
        Ok(Box::new(
            (0..3).map(|n| FindItem::Match(worklist_record(n))),
        ))
    }
}

#[test]
fn a_response_that_waited_while_the_loop_was_busy_is_in_time() {
    // The responses arrive well within the DIMSE timeout, but the loop thread is busy (a
    // slow handler, a user callback, a long turn of other sessions) until after it: the
    // responses waiting in the socket are taken before the deadline is looked at.
    use dicomwire_std::Server;
    let dimse_timeout = Duration::from_millis(300);
    let server = Server::bind(
        "127.0.0.1:0",
        server_options(Handlers {
            worklist: Some(Arc::new(SlowWorklist {
                delay: dimse_timeout / 6,
            })),
            ..Handlers::default()
        }),
    )
    .expect("bind");
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    let thread = thread::spawn(move || server.run());

    let mut event_loop = EventLoop::new().expect("loop");
    let request = association_request(
        AeTitle::new("TESTSCU").expect("ae"),
        AeTitle::new("MIOSCP").expect("ae"),
        &[ScuService::WorklistFind],
    );
    let client = event_loop
        .connect(
            addr,
            request,
            AssociationConfig {
                dimse_timeout: Some(dimse_timeout),
                ..client_options()
            },
        )
        .expect("connect starts");
    let find = event_loop
        .submit(client, Operation::worklist_find(universal_worklist_query()))
        .expect("submit");
    event_loop.release(client).expect("release");
    // Established: the C-FIND-RQ goes out in the same turn; the answer takes a while.
    let mut early = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while early.is_empty() {
        assert!(Instant::now() < deadline, "not established");
        event_loop
            .turn(Some(Duration::from_millis(5)))
            .expect("turn");
        early.extend(std::iter::from_fn(|| event_loop.poll_event()).map(|(_, e)| e));
    }
    assert!(
        matches!(early[..], [ClientEvent::Established(_)]),
        "{early:?}"
    );
    // The loop thread is busy for longer than the DIMSE timeout.
    thread::sleep(3 * dimse_timeout);
    let logs = drive_until_closed(&mut event_loop, &[client], LIMIT, |_, _, _| {});
    let log = &logs[&client];
    assert!(
        log.closed().is_ok(),
        "responses that arrived in time were timed out: {:?}",
        log.closed()
    );
    let (matches, status) = find_result(log, find);
    assert!(status.is_success(), "{status:?}");
    assert_eq!(matches.len(), 3);
    stop.shutdown();
    thread.join().expect("server thread").expect("server run");
}
