//! The sessions in memory, driven only as their documentation says a transport drives
//! them: an [`ScuSession`] and an [`ScpSession`] (and, for C-MOVE, the destination's own
//! `ScpSession`) joined by byte pipes on a virtual clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::dimse::{CEchoRq, Message, Status};
use dicomwire::pdu::{AeTitle, PresentationContextId};
use dicomwire::service::scu::{FindProgress, ScuService, association_request};
use dicomwire::service::{
    Destination, Handlers, InMemoryHangingProtocols, InMemoryWorklist, StaticDestinations, uids,
};
use dicomwire::session::{
    ClientError, ClientEvent, LinkId, MAX_QUEUED_OUTGOING, Operation, OperationResult, ScpConfig,
    ScpEvent, ScpServer, ScpSession, ScuSession,
};
use dicomwire::ul::{
    Aborted, AcceptorPolicy, Association, AssociationConfig, Event, RejectReason, RolePolicy,
    SendQueue, State, SupportedSyntax, Timer,
};
use dicomwire_tests::services::{
    RecordingStore, hp_instances, hp_uid, retrieve_query, worklist_query, worklist_record,
};

const MOVE_DESTINATION: &str = "STORESCP";

/// An SCP configuration serving a worklist of `items`, hanging protocols, and C-MOVE to
/// [`MOVE_DESTINATION`] at `destination`.
fn scp_config(items: usize, protocols: usize, destination: Option<Destination>) -> ScpConfig {
    let ts = uids::uncompressed_transfer_syntaxes();
    let policy = AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uids::VERIFICATION, ts.clone()),
            SupportedSyntax::new(uids::MODALITY_WORKLIST_FIND, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_FIND, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_MOVE, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_GET, ts.clone()),
            SupportedSyntax::new(uids::HANGING_PROTOCOL_STORAGE, ts).with_roles(RolePolicy {
                requestor_may_be_scu: true,
                requestor_may_be_scp: true,
            }),
        ],
        ..AcceptorPolicy::default()
    };
    let records = (0..items)
        .map(|i| {
            worklist_record(
                &format!("DOE^{i}"),
                &format!("P{i}"),
                "CT",
                "20240102",
                "0900",
            )
        })
        .collect();
    let mut destinations = StaticDestinations::new();
    if let Some(d) = destination {
        destinations.insert(MOVE_DESTINATION, d);
    }
    let hanging = Arc::new(InMemoryHangingProtocols::new(hp_instances(protocols)));
    let handlers = Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(records))),
        hanging_protocol_find: Some(Arc::clone(&hanging) as _),
        hanging_protocol_retrieve: Some(hanging),
        move_destinations: Some(Arc::new(destinations)),
        ..Handlers::default()
    };
    ScpConfig::new(Arc::new(policy), Arc::new(handlers))
}

/// A C-STORE SCP destination for C-MOVE sub-associations.
fn store_scp_config(store: Arc<RecordingStore>) -> ScpConfig {
    let policy = AcceptorPolicy {
        abstract_syntaxes: vec![SupportedSyntax::new(
            uids::HANGING_PROTOCOL_STORAGE,
            uids::uncompressed_transfer_syntaxes(),
        )],
        ..AcceptorPolicy::default()
    };
    let handlers = Handlers {
        store: Some(store),
        ..Handlers::default()
    };
    ScpConfig::new(Arc::new(policy), Arc::new(handlers))
}

fn client(now: Instant, services: &[ScuService]) -> ScuSession {
    let request = association_request(
        AeTitle::new("SCU").expect("AE"),
        AeTitle::new("SCP").expect("AE"),
        services,
    );
    ScuSession::new(now, AssociationConfig::default(), request).expect("session")
}

/// The sessions of one test and the pipes between them, on a virtual clock.
struct World {
    now: Instant,
    scu: ScuSession,
    scp: ScpSession,
    /// A C-MOVE destination reachable at `DESTINATION_PORT`; its sessions by the SCP's
    /// link id.
    destination: Option<Arc<ScpConfig>>,
    hosts: HashMap<LinkId, ScpSession>,
    /// Links connected, still connecting (answered on the next round), or refused.
    connecting: Vec<LinkId>,
    client_events: Vec<ClientEvent>,
    scp_events: Vec<ScpEvent>,
    scp_closed: bool,
    /// The client closed its end (the SCP was told).
    scu_closed: bool,
    /// Bytes of the client's that the SCP refused, offered again later.
    refused: Bytes,
    /// Bytes of the SCP's that the client refused (its user had not taken events yet).
    scu_refused: Bytes,
    /// At most this many PDUs from the SCP's main link per round (a socket with little
    /// room), when set.
    pdu_budget: Option<usize>,
    /// Sub-association connections never open (a destination that does not answer).
    hold_connects: bool,
}

const DESTINATION_PORT: u16 = 11113;

impl World {
    fn new(config: ScpConfig, services: &[ScuService]) -> Self {
        let now = Instant::now();
        let mut scu = client(now, services);
        scu.handle_transport_connected(now);
        let scp = ScpSession::new(now, Arc::new(config), 0).expect("scp");
        Self {
            now,
            scu,
            scp,
            destination: None,
            hosts: HashMap::new(),
            connecting: Vec::new(),
            client_events: Vec::new(),
            scp_events: Vec::new(),
            scp_closed: false,
            scu_closed: false,
            refused: Bytes::new(),
            scu_refused: Bytes::new(),
            pdu_budget: None,
            hold_connects: false,
        }
    }

    /// One round, as a transport drives: bytes each way, then the drains.
    fn round(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        // Client to SCP.
        let mut queue = SendQueue::new();
        let mut wire = self.refused.to_vec();
        while self.scu.poll_transmit(now, &mut queue).is_some() {}
        queue.drain_into(&mut wire);
        if !wire.is_empty() && !self.scp_closed {
            let bytes = Bytes::from(wire);
            let taken = self
                .scp
                .handle_input(now, LinkId::MAIN, &bytes)
                .expect("input");
            moved |= taken > 0;
            self.refused = bytes.slice(taken..);
        }
        // SCP to client, main link first.
        let mut back = self.scu_refused.to_vec();
        let budget = self.pdu_budget.unwrap_or(usize::MAX);
        for _ in 0..budget {
            if self
                .scp
                .poll_transmit(now, LinkId::MAIN, &mut queue)
                .is_none()
            {
                break;
            }
        }
        queue.drain_into(&mut back);
        if !back.is_empty() {
            let bytes = Bytes::from(back);
            let taken = self.scu.handle_input(now, &bytes).expect("input");
            moved |= taken > 0;
            self.scu_refused = bytes.slice(taken..);
        }
        // Sub-associations: SCP <-> destination sessions.
        let links: Vec<LinkId> = self.hosts.keys().copied().collect();
        for link in links {
            let mut out = Vec::new();
            while self.scp.poll_transmit(now, link, &mut queue).is_some() {}
            queue.drain_into(&mut out);
            let host = self.hosts.get_mut(&link).expect("host");
            if !out.is_empty() {
                moved = true;
                host.handle_input(now, LinkId::MAIN, &Bytes::from(out))
                    .expect("input");
            }
            let mut back = Vec::new();
            while host.poll_transmit(now, LinkId::MAIN, &mut queue).is_some() {}
            queue.drain_into(&mut back);
            while host.poll_event().is_some() {}
            if !back.is_empty() {
                moved = true;
                let _ = self.scp.handle_input(now, link, &Bytes::from(back));
            }
            if host.poll_close().is_some() {
                moved = true;
                self.scp.handle_transport_closed(now, link);
                self.hosts.remove(&link);
            }
        }
        for link in std::mem::take(&mut self.connecting) {
            if self.hold_connects {
                self.connecting.push(link);
                continue;
            }
            moved = true;
            match &self.destination {
                Some(config) => {
                    let host = ScpSession::new(now, Arc::clone(config), 0).expect("host");
                    self.hosts.insert(link, host);
                    self.scp
                        .handle_transport_connected(now, link)
                        .expect("connected");
                }
                None => self.scp.handle_transport_connect_failed(
                    now,
                    link,
                    std::io::ErrorKind::ConnectionRefused.into(),
                ),
            }
        }
        while let Some(connect) = self.scp.poll_connect() {
            moved = true;
            assert_eq!(connect.destination.port, DESTINATION_PORT);
            self.connecting.push(connect.link);
        }
        while let Some(link) = self.scp.poll_close() {
            moved = true;
            if link == LinkId::MAIN {
                self.scp_closed = true;
                self.scu.handle_transport_closed(now);
            } else if let Some(mut host) = self.hosts.remove(&link) {
                host.handle_transport_closed(now, LinkId::MAIN);
            }
        }
        while let Some(event) = self.scp.poll_event() {
            moved = true;
            self.scp_events.push(event);
        }
        while let Some(event) = self.scu.poll_event() {
            moved = true;
            self.client_events.push(event);
        }
        if !self.scu_closed && self.scu.should_close_transport() && !self.scu.wants_write() {
            moved = true;
            self.scu_closed = true;
            if !self.scp_closed {
                self.scp.handle_transport_closed(now, LinkId::MAIN);
            }
        }
        moved
    }

    /// Rounds until nothing moves.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            if !self.round() {
                return;
            }
        }
        panic!("still moving after 100,000 rounds");
    }

    /// Settles, then lets time pass to the next deadline of either session.
    fn advance_to_next_timeout(&mut self) -> bool {
        self.settle();
        let next = [self.scu.poll_timeout(), self.scp.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        self.scu.handle_timeout(self.now);
        self.scp.handle_timeout(self.now);
        self.settle();
        true
    }

    fn finish(&mut self) {
        self.settle();
        assert!(self.scu.is_finished(), "{:?}", self.client_events);
    }

    fn closed(&self) -> &Result<(), ClientError> {
        match self.client_events.last() {
            Some(ClientEvent::Closed(outcome)) => outcome,
            other => panic!("the client did not close: {other:?}"),
        }
    }
}

fn matches(events: &[ClientEvent]) -> (usize, Option<Status>) {
    let mut n = 0;
    let mut status = None;
    for event in events {
        if let ClientEvent::Find { progress, .. } = event {
            match progress {
                FindProgress::Match { .. } => n += 1,
                FindProgress::Finished { status: s, .. } => status = Some(*s),
                _ => {}
            }
        }
    }
    (n, status)
}

#[test]
fn finds_of_any_size_drain_to_the_end_with_the_documented_loop() {
    // Scp::poll's private limit of 4 queued messages once hung a 4-match C-FIND for a
    // loop that followed the documentation.
    for items in [0, 1, 3, 4, 5, 17, 300] {
        let mut w = World::new(scp_config(items, 0, None), &[ScuService::WorklistFind]);
        w.scu
            .submit(Operation::worklist_find(worklist_query()))
            .expect("submit");
        w.scu.release(w.now);
        w.finish();
        assert_eq!(
            matches(&w.client_events),
            (items, Some(Status::SUCCESS)),
            "{items}"
        );
        assert!(w.closed().is_ok());
        assert!(w.scp.is_finished());
        let outcomes: Vec<_> = w
            .scp_events
            .iter()
            .filter_map(|e| match e {
                ScpEvent::Operation(o) => Some(o.status),
                _ => None,
            })
            .collect();
        assert_eq!(outcomes, [Status::SUCCESS]);
    }
}

#[test]
fn the_queue_runs_in_order_and_release_waits_for_it() {
    let mut w = World::new(
        scp_config(2, 0, None),
        &[ScuService::Verification, ScuService::WorklistFind],
    );
    let echo = w.scu.submit(Operation::Echo).expect("submit");
    let find = w
        .scu
        .submit(Operation::worklist_find(worklist_query()))
        .expect("submit");
    let echo2 = w.scu.submit(Operation::Echo).expect("submit");
    w.scu.release(w.now);
    assert!(matches!(
        w.scu.submit(Operation::Echo),
        Err(ClientError::NotAccepting)
    ));
    w.finish();
    let order: Vec<String> = w
        .client_events
        .iter()
        .map(|e| match e {
            ClientEvent::Established(_) => "established".into(),
            ClientEvent::Echo { op, status } => format!("echo {op} {status:?}"),
            ClientEvent::Find {
                op,
                progress: FindProgress::Match { .. },
            } => format!("match {op}"),
            ClientEvent::Find {
                op,
                progress: FindProgress::Finished { .. },
            } => format!("found {op}"),
            ClientEvent::Closed(r) => format!("closed {}", r.is_ok()),
            other => format!("{other:?}"),
        })
        .collect();
    let ok = Status::SUCCESS;
    assert_eq!(
        order,
        [
            "established".to_owned(),
            format!("echo {echo} {ok:?}"),
            format!("match {find}"),
            format!("match {find}"),
            format!("found {find}"),
            format!("echo {echo2} {ok:?}"),
            "closed true".to_owned(),
        ]
    );
}

#[test]
fn over_the_limit_a_server_rejects_and_admits_again_once_a_slot_frees() {
    let mut config = scp_config(0, 0, None);
    config.max_associations = 2;
    let mut server = ScpServer::new(Arc::new(config)).expect("server");
    let now = Instant::now();
    let first = server.accept(now).expect("first");
    let second = server.accept(now).expect("second");
    let third = server.accept(now).expect("third");
    assert_eq!(server.slots(), 2);
    assert_eq!(server.connections(), 3);
    let run = |scp: ScpSession| {
        let mut w = World {
            scp,
            ..World::new(scp_config(0, 0, None), &[ScuService::Verification])
        };
        w.scu.submit(Operation::Echo).expect("submit");
        w.settle();
        w
    };
    let w3 = run(third);
    assert!(
        matches!(
            w3.closed(),
            Err(ClientError::Rejected(r)) if r.rj == RejectReason::LocalLimitExceeded.to_pdu()
        ),
        "{:?}",
        w3.client_events
    );
    drop(w3);
    assert_eq!(server.connections(), 2);
    // The first association ends: its slot is free as soon as it is released.
    let mut w1 = run(first);
    w1.scu.release(w1.now);
    w1.settle();
    assert!(w1.closed().is_ok());
    assert_eq!(server.slots(), 1, "a released association holds no slot");
    let fourth = server.accept(now).expect("fourth");
    let w4 = run(fourth);
    assert!(
        w4.client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Echo { .. }))
    );
    assert_eq!(server.slots(), 2);
    drop((second, w1, w4));
    assert_eq!((server.slots(), server.connections()), (0, 0));
}

#[test]
fn shutdown_releases_an_idle_association_and_finishes_one_at_work() {
    // Idle: released at once.
    let mut w = World::new(scp_config(0, 0, None), &[ScuService::Verification]);
    w.settle();
    w.scp.shutdown(w.now);
    w.settle();
    assert!(
        matches!(w.closed(), Err(ClientError::ReleasedByPeer)),
        "{:?}",
        w.client_events
    );
    assert!(w.scp.is_finished());
    // Busy with a long C-FIND: it finishes, then the association is released.
    let mut w = World::new(scp_config(50, 0, None), &[ScuService::WorklistFind]);
    w.scu
        .submit(Operation::worklist_find(worklist_query()))
        .expect("submit");
    for _ in 0..5 {
        w.round();
    }
    w.scp.shutdown(w.now);
    w.settle();
    assert_eq!(matches(&w.client_events), (50, Some(Status::SUCCESS)));
    assert!(matches!(w.closed(), Err(ClientError::ReleasedByPeer)));
}

#[test]
fn shutdown_aborts_what_is_left_after_the_grace_period() {
    // A C-MOVE whose destination never answers keeps the operation in progress: the
    // grace period ends it with an A-ABORT.
    let destination = Destination {
        host: "127.0.0.1".into(),
        port: DESTINATION_PORT,
        tls: false,
    };
    let mut config = scp_config(0, 1, Some(destination));
    config.shutdown_grace = Duration::from_secs(5);
    let mut w = World::new(config, &[ScuService::HangingProtocolMove]);
    w.scu
        .submit(Operation::hanging_protocol_move(
            retrieve_query(&[hp_uid(1)]),
            AeTitle::new(MOVE_DESTINATION).expect("AE"),
        ))
        .expect("submit");
    // The destination's connection never opens: the link stays connecting.
    w.hold_connects = true;
    w.settle();
    assert_eq!(w.connecting.len(), 1);
    let asked = w.now;
    w.scp.shutdown(w.now);
    w.settle();
    assert!(
        !w.scu.is_finished(),
        "the C-MOVE still runs within the grace period"
    );
    while !w.scu.is_finished() && w.advance_to_next_timeout() {}
    assert!(
        matches!(w.closed(), Err(ClientError::Aborted(Aborted::ByPeer(_)))),
        "{:?}",
        w.client_events
    );
    assert!(
        w.now - asked <= Duration::from_secs(5),
        "{:?}",
        w.now - asked
    );
}

#[test]
fn a_release_collision_at_shutdown_completes_at_once() {
    // The server releases (shutdown) while the client releases: PS3.8 Sta9-Sta12. The
    // server must still send its A-RELEASE-RP; before, it aborted at the grace period.
    let mut w = World::new(scp_config(0, 0, None), &[ScuService::Verification]);
    w.settle();
    w.scu.release(w.now);
    w.scp.shutdown(w.now);
    let started = w.now;
    w.settle();
    assert!(w.scu.is_finished(), "{:?}", w.client_events);
    assert!(w.scp.is_finished());
    assert_eq!(w.now, started, "no timer had to fire");
    assert!(w.closed().is_ok(), "{:?}", w.client_events);
    assert!(w.scp_events.iter().any(|e| matches!(e, ScpEvent::Released)));
    assert!(
        !w.scp_events
            .iter()
            .any(|e| matches!(e, ScpEvent::Aborted(_)))
    );
}

#[test]
fn a_move_runs_over_a_sub_association_link() {
    let destination = Destination {
        host: "127.0.0.1".into(),
        port: DESTINATION_PORT,
        tls: false,
    };
    let store = Arc::new(RecordingStore::new());
    let mut w = World::new(
        scp_config(0, 3, Some(destination)),
        &[ScuService::HangingProtocolMove],
    );
    w.destination = Some(Arc::new(store_scp_config(Arc::clone(&store))));
    let identifier = retrieve_query(&[hp_uid(1), hp_uid(2), hp_uid(3)]);
    w.scu
        .submit(Operation::hanging_protocol_move(
            identifier,
            AeTitle::new(MOVE_DESTINATION).expect("AE"),
        ))
        .expect("submit");
    w.scu.release(w.now);
    w.finish();
    let mut outcome = OperationResult::default();
    for e in &w.client_events {
        outcome.add(e);
    }
    assert_eq!(outcome.status, Status::SUCCESS, "{:?}", w.client_events);
    assert_eq!(outcome.sub_operations.completed, Some(3));
    assert_eq!(store.uids().len(), 3);
    assert!(w.hosts.is_empty(), "the sub-association closed");
    assert!(w.scp.is_finished());
}

#[test]
fn a_move_to_an_unreachable_destination_fails_its_sub_operations() {
    let destination = Destination {
        host: "127.0.0.1".into(),
        port: DESTINATION_PORT,
        tls: false,
    };
    let mut w = World::new(
        scp_config(0, 2, Some(destination)),
        &[ScuService::HangingProtocolMove],
    );
    let identifier = retrieve_query(&[hp_uid(1), hp_uid(2)]);
    w.scu
        .submit(Operation::hanging_protocol_move(
            identifier,
            AeTitle::new(MOVE_DESTINATION).expect("AE"),
        ))
        .expect("submit");
    w.finish_op();
    let mut outcome = OperationResult::default();
    for e in &w.client_events {
        outcome.add(e);
    }
    assert_eq!(outcome.status, Status::OUT_OF_RESOURCES_SUB_OPERATIONS);
    assert_eq!(outcome.sub_operations.failed, Some(2));
    assert!(
        w.scp_events
            .iter()
            .any(|e| matches!(e, ScpEvent::SubAssociationFailed { .. }))
    );
}

impl World {
    fn finish_op(&mut self) {
        self.settle();
        self.scu.release(self.now);
        self.finish();
    }
}

#[test]
fn a_peer_that_sends_requests_without_reading_is_held_back() {
    // A raw requestor that pipelines C-ECHO-RQs and never reads the answers: the session
    // stops taking its input once MAX_QUEUED_OUTGOING answers wait to be sent.
    let now = Instant::now();
    let mut config = scp_config(0, 0, None);
    let mut policy = (*config.policy).clone();
    policy.async_operations_window = Some(dicomwire::pdu::AsyncOperationsWindow {
        max_operations_invoked: 0,
        max_operations_performed: 0,
    });
    config.policy = Arc::new(policy);
    let mut scp = ScpSession::new(now, Arc::new(config), 0).expect("scp");
    let request = association_request(
        AeTitle::new("SCU").expect("AE"),
        AeTitle::new("SCP").expect("AE"),
        &[ScuService::Verification],
    );
    let mut window = request;
    window.async_operations_window = Some(dicomwire::pdu::AsyncOperationsWindow {
        max_operations_invoked: 0,
        max_operations_performed: 0,
    });
    let mut peer = Association::requestor(now, AssociationConfig::default(), window).expect("rq");
    peer.handle_transport_connected(now).expect("connect");
    let mut wire = Vec::new();
    while peer.poll_transmit(now, &mut wire).is_some() {}
    scp.handle_input(now, LinkId::MAIN, &Bytes::from(wire))
        .expect("input");
    let mut queue = SendQueue::new();
    let mut back = Vec::new();
    while scp.poll_transmit(now, LinkId::MAIN, &mut queue).is_some() {}
    queue.drain_into(&mut back);
    peer.handle_input(now, &back).expect("input");
    while let Some(e) = peer.poll_event() {
        assert!(matches!(e, Event::Established(_)), "{e:?}");
    }
    let pc = PresentationContextId::new(1).expect("pc");
    let mut requests = Vec::new();
    for _ in 0..200 {
        let rq = Message::CEchoRq(CEchoRq {
            message_id: 0,
            affected_sop_class_uid: uids::VERIFICATION.to_string(),
        });
        peer.send_request(now, pc, rq, None).expect("C-ECHO-RQ");
        while peer.poll_transmit(now, &mut requests).is_some() {}
    }
    let input = Bytes::from(requests);
    let taken = scp.handle_input(now, LinkId::MAIN, &input).expect("input");
    assert!(taken < input.len(), "the session took every request");
    assert!(!scp.wants_read(LinkId::MAIN));
    // Refused between calls: one call takes at most MAX_PENDING_EVENTS requests.
    assert!(
        scp.association().queued_messages()
            <= MAX_QUEUED_OUTGOING + dicomwire::ul::MAX_PENDING_EVENTS
    );
    // Once the answers go out, it takes more.
    while scp.poll_transmit(now, LinkId::MAIN, &mut queue).is_some() {}
    assert!(scp.wants_read(LinkId::MAIN));
    let more = scp
        .handle_input(now, LinkId::MAIN, &input.slice(taken..))
        .expect("input");
    assert!(more > 0);
}

#[test]
fn a_client_whose_request_goes_unanswered_is_closed_by_the_dimse_timer() {
    // The SCP never sees the request (its input is dropped): the client's DIMSE timer.
    let mut w = World::new(scp_config(0, 0, None), &[ScuService::Verification]);
    w.settle();
    w.scu.submit(Operation::Echo).expect("submit");
    w.scp_closed = true; // nothing reaches the SCP any more
    while w.advance_to_next_timeout() {
        if w.scu.is_finished() {
            break;
        }
    }
    assert!(
        matches!(
            w.closed(),
            Err(ClientError::Aborted(Aborted::Timeout(Timer::DimseResponse)))
        ),
        "{:?}",
        w.client_events
    );
    assert!(w.client_events.iter().any(|e| matches!(
        e,
        ClientEvent::OperationFailed {
            error: ClientError::Ended,
            ..
        }
    )));
}

#[test]
fn a_client_that_cannot_connect_says_why() {
    let now = Instant::now();
    let mut scu = client(now, &[ScuService::Verification]);
    scu.submit(Operation::Echo).expect("submit");
    scu.handle_transport_connect_failed(now, std::io::ErrorKind::ConnectionRefused.into());
    let events: Vec<_> = std::iter::from_fn(|| scu.poll_event()).collect();
    assert!(
        matches!(
            events.as_slice(),
            [
                ClientEvent::OperationFailed { .. },
                ClientEvent::Closed(Err(ClientError::Connect(_)))
            ]
        ),
        "{events:?}"
    );
    assert!(scu.is_finished());

    let mut scu = client(now, &[ScuService::Verification]);
    let deadline = scu.poll_timeout().expect("the connect timer");
    assert_eq!(deadline, now + AssociationConfig::default().connect_timeout);
    scu.handle_timeout(deadline);
    let events: Vec<_> = std::iter::from_fn(|| scu.poll_event()).collect();
    assert!(
        matches!(
            events.as_slice(),
            [ClientEvent::Closed(Err(ClientError::ConnectTimeout(_)))]
        ),
        "{events:?}"
    );
}

#[test]
fn a_client_whose_contexts_were_all_refused_aborts() {
    let mut w = World::new(scp_config(0, 0, None), &[ScuService::HangingProtocolGet]);
    // The SCP accepts HP GET; make it refuse by asking for a class it does not offer.
    let now = w.now;
    let request = association_request(
        AeTitle::new("SCU").expect("AE"),
        AeTitle::new("SCP").expect("AE"),
        &[],
    )
    .with_context(dicomwire::ul::ProposedContext::new(
        dicomwire::pdu::Uid::new("1.2.3.4.5").expect("uid"),
        uids::uncompressed_transfer_syntaxes(),
    ));
    w.scu = ScuSession::new(now, AssociationConfig::default(), request).expect("session");
    w.scu.handle_transport_connected(now);
    w.scu.submit(Operation::Echo).expect("submit");
    w.settle();
    assert!(
        matches!(
            w.closed(),
            Err(ClientError::NoAcceptedContext(_)) | Err(ClientError::Rejected(_))
        ),
        "{:?}",
        w.client_events
    );
}

#[test]
fn a_queued_operation_can_be_cancelled_and_a_running_find_is() {
    let mut w = World::new(
        scp_config(40, 0, None),
        &[ScuService::WorklistFind, ScuService::Verification],
    );
    w.pdu_budget = Some(2);
    let find = w
        .scu
        .submit(Operation::worklist_find(worklist_query()))
        .expect("submit");
    let echo = w.scu.submit(Operation::Echo).expect("submit");
    w.scu.cancel(w.now, echo).expect("cancel queued");
    for _ in 0..4 {
        w.round();
    }
    w.scu.cancel(w.now, find).expect("cancel running");
    w.finish_op();
    let (n, status) = matches(&w.client_events);
    assert!(n < 40, "{n} matches after the cancel");
    assert_eq!(status, Some(Status::CANCEL));
    assert!(w.client_events.iter().any(|e| matches!(
        e,
        ClientEvent::OperationFailed { op, error: ClientError::Cancelled } if *op == echo
    )));
    assert!(matches!(
        w.scu.cancel(w.now, find),
        Err(ClientError::UnknownOperation)
    ));
    let _ = State::Idle;
}

// ---------------------------------------------------------------------------------------
// C-STORE

/// A reader that gives `data` at most `chunk` bytes a read, counting them in `read`, and
/// fails (or ends, when `fail` is false) after `stop_at` bytes when set.
struct Source {
    data: Bytes,
    at: usize,
    chunk: usize,
    stop_at: Option<(usize, bool)>,
    read: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::io::Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let end = self.stop_at.map_or(self.data.len(), |(n, _)| n);
        if self.at >= end {
            return match self.stop_at {
                Some((_, true)) => Err(std::io::Error::other("disk unplugged")),
                _ => Ok(0),
            };
        }
        let n = buf.len().min(self.chunk).min(end - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// A world whose client proposes Hanging Protocol Storage (as SCU) to a storage SCP with
/// `store`, at a 4 KiB maximum PDU.
fn storage_world(store: Arc<RecordingStore>) -> World {
    let mut world = World::new(store_scp_config(store), &[ScuService::Verification]);
    let config = AssociationConfig {
        max_pdu_length: 4096,
        max_send_pdu_length: 4096,
        ..AssociationConfig::default()
    };
    let request = dicomwire::ul::AssociationRequest::new(
        AeTitle::new("SCU").expect("AE"),
        AeTitle::new("SCP").expect("AE"),
    )
    .with_context(dicomwire::ul::ProposedContext::new(
        uids::HANGING_PROTOCOL_STORAGE,
        vec![uids::EXPLICIT_VR_LITTLE_ENDIAN],
    ));
    world.scu = ScuSession::new(world.now, config, request).expect("session");
    world.scu.handle_transport_connected(world.now);
    world
}

/// A C-STORE of `instance` read from a [`Source`].
fn store_op(
    instance: &dicomwire::service::Instance,
    stop_at: Option<(usize, bool)>,
    read: &Arc<std::sync::atomic::AtomicUsize>,
) -> Operation {
    let source = Source {
        data: instance.data.clone(),
        at: 0,
        chunk: 1000,
        stop_at,
        read: Arc::clone(read),
    };
    Operation::Store {
        sop_class: uids::HANGING_PROTOCOL_STORAGE,
        sop_instance_uid: instance.sop_instance_uid.clone(),
        transfer_syntax: instance.transfer_syntax.clone(),
        data: dicomwire::dimse::DataSetReader::new(source, instance.data.len() as u64),
    }
}

/// Hanging protocol instances with 20,000 bytes of private data each: several PDUs.
fn large_instances(n: usize) -> Vec<dicomwire::service::Instance> {
    hp_instances(n)
        .into_iter()
        .map(|mut i| {
            i.object.put(dicom_core::DataElement::new(
                dicom_core::Tag(0x0009, 0x0010),
                dicom_core::VR::LO,
                dicom_core::PrimitiveValue::from("DICOMWIRE TEST"),
            ));
            i.object.put(dicom_core::DataElement::new(
                dicom_core::Tag(0x0009, 0x1001),
                dicom_core::VR::OB,
                dicom_core::PrimitiveValue::U8(vec![0x5A; 20_000].into()),
            ));
            i.instance.data =
                dicomwire::service::dataset::encode(&i.object, i.instance.transfer_syntax.as_str())
                    .expect("encodes");
            i.instance
        })
        .collect()
}

#[test]
fn stores_are_sent_as_they_are_read_and_answer_their_status() {
    let store = Arc::new(RecordingStore::new().answering(&hp_uid(2), 0xB007));
    let mut world = storage_world(Arc::clone(&store));
    let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let instances = large_instances(3);
    let ops: Vec<_> = instances
        .iter()
        .map(|i| world.scu.submit(store_op(i, None, &read)).expect("queued"))
        .collect();
    // Nothing is read before the association is established and the request goes.
    assert_eq!(read.load(std::sync::atomic::Ordering::Relaxed), 0);
    world.scu.release(world.now);
    world.finish();
    assert!(world.closed().is_ok(), "{:?}", world.client_events);
    let statuses: Vec<_> = world
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Store { op, status, .. } => Some((*op, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (ops[0], Status::SUCCESS),
            (ops[1], Status(0xB007)),
            (ops[2], Status::SUCCESS)
        ]
    );
    let total: usize = instances.iter().map(|i| i.data.len()).sum();
    assert_eq!(read.load(std::sync::atomic::Ordering::Relaxed), total);
    let stored = store.stored();
    assert_eq!(store.uids(), [hp_uid(1), hp_uid(2), hp_uid(3)]);
    for (record, instance) in stored.iter().zip(&instances) {
        let object = record.object.as_ref().expect("decodes");
        let sent = dicomwire::service::dataset::decode(&dicomwire::dimse::DataSet {
            transfer_syntax: instance.transfer_syntax.clone(),
            bytes: instance.data.clone(),
        })
        .expect("decodes");
        assert_eq!(object, &sent);
    }
}

#[test]
fn a_data_set_that_cannot_be_read_aborts_and_nothing_is_stored() {
    for (stop_at, fail) in [(5000, true), (5000, false), (0, true)] {
        let store = Arc::new(RecordingStore::new());
        let mut world = storage_world(Arc::clone(&store));
        let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let instance = &large_instances(1)[0];
        let op = world
            .scu
            .submit(store_op(instance, Some((stop_at, fail)), &read))
            .expect("queued");
        world.finish();
        assert!(
            matches!(
                world.closed(),
                Err(ClientError::Aborted(Aborted::DataSetUnreadable(_)))
            ),
            "{stop_at} {fail}: {:?}",
            world.client_events
        );
        assert!(
            world.client_events.iter().any(|e| matches!(
                e,
                ClientEvent::OperationFailed { op: o, .. } if *o == op
            )),
            "{:?}",
            world.client_events
        );
        assert!(store.stored().is_empty(), "nothing half-sent is stored");
        assert!(
            world
                .scp_events
                .iter()
                .any(|e| matches!(e, ScpEvent::Aborted(_))),
            "{:?}",
            world.scp_events
        );
    }
}

#[test]
fn a_store_in_a_transfer_syntax_not_accepted_fails_before_sending() {
    let store = Arc::new(RecordingStore::new());
    let mut world = storage_world(Arc::clone(&store));
    let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut instance = large_instances(1).remove(0);
    instance.transfer_syntax = uids::IMPLICIT_VR_LITTLE_ENDIAN;
    let op = world
        .scu
        .submit(store_op(&instance, None, &read))
        .expect("queued");
    world.scu.release(world.now);
    world.finish();
    assert!(world.closed().is_ok());
    let failure = world.client_events.iter().find_map(|e| match e {
        ClientEvent::OperationFailed { op: o, error } if *o == op => Some(error.to_string()),
        _ => None,
    });
    assert_eq!(
        failure.as_deref(),
        Some("no accepted presentation context for 1.2.840.10008.5.1.4.38.1 in 1.2.840.10008.1.2")
    );
    assert_eq!(read.load(std::sync::atomic::Ordering::Relaxed), 0);
}
