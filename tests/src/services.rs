//! The service harness: an SCU and an [`Scp`] on one association, on a virtual clock,
//! with no IO, and in-memory hosts for C-MOVE sub-associations.
//!
//! A [`Harness`] holds a requestor [`Association`] that the test drives with the
//! `service::scu` operation objects, and an acceptor [`Association`] served by an [`Scp`]:
//! every acceptor event goes to [`Scp::handle_event`], [`Scp::poll`] runs after each
//! round, association requests are accepted and release requests answered. Two byte pipes
//! join them, delivered whole or byte by byte ([`Delivery`]).
//!
//! C-MOVE plumbing: when [`Scp::poll_connect`] asks for a connection, the harness looks the
//! destination up in its table of [`Host`]s. A known host gets an acceptor `Association` of
//! its own, served by its own `Scp` with a [`RecordingStore`], joined by pipes to the
//! sub-association ([`Scp::sub_association`]); the harness calls [`Scp::sub_connected`] and,
//! after each pump, [`Scp::handle_sub_events`]. An unknown address gets
//! [`Scp::sub_connect_failed`]; a host whose policy refuses the caller rejects the
//! association like any acceptor would.
//!
//! [`Harness::next_event`] runs rounds until the requestor has an event, so the responses
//! of a long operation are produced, moved and consumed a few at a time; [`Stats`] records
//! how much ever waited in the acceptor's queue and in the pipe.
//!
//! ```
//! use std::sync::Arc;
//! use dicomwire::dimse::Status;
//! use dicomwire::service::{Handlers, InMemoryWorklist, uids};
//! use dicomwire_tests::services::{Harness, Setup, worklist_query, worklist_record};
//!
//! let worklist = InMemoryWorklist::new(vec![worklist_record("DOE^JOHN", "P1", "CT", "20240102", "0900")]);
//! let handlers = Handlers { worklist: Some(Arc::new(worklist)), ..Handlers::default() };
//! let mut h = Harness::new(Setup::new(handlers));
//! let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
//! assert_eq!(run.matches.len(), 1);
//! assert_eq!(run.status(), Status::SUCCESS);
//! assert_eq!(h.echo(), Status::SUCCESS);
//! h.release();
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use dicomwire::dimse::{
    DataSet, IncomingMessage, Message, MessageId, Status, StatusDetail, SubOperations,
};
use dicomwire::pdu::{
    AeTitle, AsyncOperationsWindow, MessageControlHeader, PData, Pdv, PresentationContextId, Uid,
};
use dicomwire::service::scu::{
    self, EchoScu, FindProgress, FindScu, RetrieveProgress, RetrieveScu, ScuService,
};
use dicomwire::service::{
    ConnectRequest, Destination, HandlerError, Handlers, Instance, OperationOutcome, Scp,
    StoreHandler, StoreRequest, StoredInstance, SubAssociationId, dataset, uids,
};
use dicomwire::ul::{
    AcceptOptions, AcceptorPolicy, Association, AssociationConfig, Event, ProposedContext,
    RolePolicy, SupportedSyntax,
};

/// The requestor's AE title.
pub const SCU_AE: &str = "SCU";
/// The acceptor's AE title.
pub const SCP_AE: &str = "SCP";

/// An AE title from a literal.
///
/// # Panics
///
/// When `title` is not a valid AE title.
pub fn ae(title: &str) -> AeTitle {
    AeTitle::new(title).unwrap_or_else(|e| panic!("AE title {title:?}: {e}"))
}

/// How the pipes hand bytes to the receiving side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Everything in the pipe in one `handle_input` call.
    Whole,
    /// One byte per `handle_input` call, events served after each.
    Bytewise,
}

/// A C-STORE-RQ as the side that performs it received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedStore {
    /// Message ID.
    pub message_id: MessageId,
    /// Affected SOP Class UID.
    pub sop_class_uid: String,
    /// Affected SOP Instance UID.
    pub sop_instance_uid: String,
    /// Move Originator Application Entity Title (0000,1030).
    pub move_originator_ae_title: Option<String>,
    /// Move Originator Message ID (0000,1031).
    pub move_originator_message_id: Option<MessageId>,
}

impl ReceivedStore {
    /// The store request of `message`, if it is a C-STORE-RQ.
    pub fn of(message: &Message) -> Option<Self> {
        let Message::CStoreRq(rq) = message else {
            return None;
        };
        Some(Self {
            message_id: rq.message_id,
            sop_class_uid: rq.affected_sop_class_uid.clone(),
            sop_instance_uid: rq.affected_sop_instance_uid.clone(),
            move_originator_ae_title: rq.move_originator_ae_title.clone(),
            move_originator_message_id: rq.move_originator_message_id,
        })
    }
}

/// What a [`RecordingStore`] was given.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The peer that sent it.
    pub calling_ae_title: String,
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
    /// The C-MOVE originator, for a C-MOVE sub-operation.
    pub move_originator: Option<String>,
    /// The data set, decoded (`None` if it does not decode).
    pub object: Option<InMemDicomObject>,
    /// The status it answered.
    pub status: u16,
}

/// A C-STORE handler that records every instance and answers 0x0000, or the status set for
/// its SOP Instance UID with [`answering`](Self::answering).
#[derive(Debug, Default)]
pub struct RecordingStore {
    statuses: HashMap<String, u16>,
    stored: Mutex<Vec<StoredRecord>>,
}

impl RecordingStore {
    /// A store that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `status` for the instance `uid`.
    pub fn answering(mut self, uid: &str, status: u16) -> Self {
        self.statuses.insert(uid.to_owned(), status);
        self
    }

    /// What was stored, in order.
    pub fn stored(&self) -> Vec<StoredRecord> {
        self.stored
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The SOP Instance UIDs stored, in order.
    pub fn uids(&self) -> Vec<String> {
        self.stored()
            .into_iter()
            .map(|r| r.sop_instance_uid)
            .collect()
    }
}

impl StoreHandler for RecordingStore {
    fn store(&self, request: &StoreRequest<'_>) -> Result<u16, HandlerError> {
        let status = self
            .statuses
            .get(request.sop_instance_uid)
            .copied()
            .unwrap_or(0x0000);
        let object = dataset::decode(&DataSet {
            transfer_syntax: request.transfer_syntax.clone(),
            bytes: request.data.clone(),
        })
        .ok();
        self.stored
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(StoredRecord {
                calling_ae_title: request.calling_ae_title.as_str().to_owned(),
                sop_class_uid: request.sop_class_uid.to_owned(),
                sop_instance_uid: request.sop_instance_uid.to_owned(),
                move_originator: request.move_originator.map(str::to_owned),
                object,
                status,
            });
        Ok(status)
    }
}

/// A machine C-MOVE sub-associations can reach: an acceptor policy and a store.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its AE title (the name the tests use for it).
    pub ae_title: String,
    /// Who may associate, and for what.
    pub policy: AcceptorPolicy,
    /// Where instances go.
    pub store: Arc<RecordingStore>,
}

impl Host {
    /// A storage SCP for Hanging Protocol Storage that accepts anyone.
    pub fn storage(ae_title: &str) -> Self {
        Self {
            ae_title: ae_title.to_owned(),
            policy: AcceptorPolicy {
                abstract_syntaxes: vec![SupportedSyntax::new(
                    uids::HANGING_PROTOCOL_STORAGE,
                    uids::uncompressed_transfer_syntaxes(),
                )],
                ..AcceptorPolicy::default()
            },
            store: Arc::new(RecordingStore::new()),
        }
    }

    /// A storage SCP whose policy only lets `NOBODY` in: it rejects our sub-association
    /// (calling AE title not recognized).
    pub fn refusing(ae_title: &str) -> Self {
        let mut host = Self::storage(ae_title);
        host.policy.calling_ae_titles = vec![ae("NOBODY")];
        host
    }

    /// This host granting our sub-associations `invoked` C-STOREs under way at once.
    pub fn with_window(mut self, invoked: u16) -> Self {
        self.policy.async_operations_window = Some(AsyncOperationsWindow {
            max_operations_invoked: invoked,
            max_operations_performed: 1,
        });
        self
    }

    /// This host with its store replaced.
    pub fn with_store(mut self, store: RecordingStore) -> Self {
        self.store = Arc::new(store);
        self
    }
}

/// How the harness is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The acceptor's handlers.
    pub handlers: Handlers,
    /// What the requestor proposes.
    pub services: Vec<ScuService>,
    /// Whether the acceptor grants the requestor the SCP role for Hanging Protocol
    /// Storage (the C-GET sub-operations need it).
    pub grant_storage_scp_role: bool,
    /// How the pipes deliver.
    pub delivery: Delivery,
    /// The hosts C-MOVE sub-associations can reach, by address.
    pub hosts: Vec<(Destination, Host)>,
    /// Both associations' configuration.
    pub config: AssociationConfig,
    /// Contexts the requestor proposes besides those of `services`.
    pub extra_contexts: Vec<ProposedContext>,
    /// The asynchronous operations window the acceptor can handle (none: 1 and 1).
    pub window: Option<AsyncOperationsWindow>,
    /// The asynchronous operations window the requestor proposes, instead of the one of
    /// [`scu::association_request`].
    pub requestor_window: Option<AsyncOperationsWindow>,
    /// The acceptor's [`AcceptorPolicy::storage`]: every storage SOP class of the
    /// standard, with these roles.
    pub storage: Option<RolePolicy>,
}

impl Setup {
    /// Every service proposed, the storage role granted, whole delivery, no hosts.
    pub fn new(handlers: Handlers) -> Self {
        Self {
            handlers,
            services: vec![
                ScuService::Verification,
                ScuService::WorklistFind,
                ScuService::HangingProtocolFind,
                ScuService::HangingProtocolGet,
                ScuService::HangingProtocolMove,
            ],
            grant_storage_scp_role: true,
            delivery: Delivery::Whole,
            hosts: Vec::new(),
            config: AssociationConfig::default(),
            extra_contexts: Vec::new(),
            window: None,
            requestor_window: None,
            storage: None,
        }
    }

    /// Also proposing `context` as it is.
    pub fn with_proposed(mut self, context: ProposedContext) -> Self {
        self.extra_contexts.push(context);
        self
    }

    /// With an acceptor that accepts every storage SOP class of the standard, the
    /// requestor as SCU ([`AcceptorPolicy::storage`]).
    pub fn with_any_storage(mut self) -> Self {
        self.storage = Some(RolePolicy::default());
        self
    }

    /// With an acceptor that grants the requestor `invoked` operations under way and
    /// lets it perform `performed` of the SCP's at once (0: unlimited).
    pub fn with_window(mut self, invoked: u16, performed: u16) -> Self {
        self.window = Some(AsyncOperationsWindow {
            max_operations_invoked: invoked,
            max_operations_performed: performed,
        });
        self
    }

    /// With a requestor that proposes to invoke `invoked` operations at once and perform
    /// `performed` of the acceptor's.
    pub fn with_requestor_window(mut self, invoked: u16, performed: u16) -> Self {
        self.requestor_window = Some(AsyncOperationsWindow {
            max_operations_invoked: invoked,
            max_operations_performed: performed,
        });
        self
    }

    /// Proposing only `services`.
    pub fn with_services(mut self, services: &[ScuService]) -> Self {
        self.services = services.to_vec();
        self
    }

    /// Also proposing `sop_class` in the uncompressed transfer syntaxes, without a role
    /// selection (the requestor as SCU).
    pub fn with_context(mut self, sop_class: Uid) -> Self {
        self.extra_contexts.push(ProposedContext::new(
            sop_class,
            uids::uncompressed_transfer_syntaxes(),
        ));
        self
    }

    /// With byte-by-byte (or whole) delivery.
    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// Without the SCP role for Hanging Protocol Storage.
    pub fn without_storage_scp_role(mut self) -> Self {
        self.grant_storage_scp_role = false;
        self
    }

    /// With a host reachable at `destination`.
    pub fn with_host(mut self, destination: Destination, host: Host) -> Self {
        self.hosts.push((destination, host));
        self
    }

    /// The acceptor policy: every service of the harness in the uncompressed transfer
    /// syntaxes (Explicit VR Little Endian first), storage with the role as set.
    pub fn policy(&self) -> AcceptorPolicy {
        let ts = uids::uncompressed_transfer_syntaxes;
        let mut syntaxes: Vec<SupportedSyntax> = [
            uids::VERIFICATION,
            uids::MODALITY_WORKLIST_FIND,
            uids::HANGING_PROTOCOL_FIND,
            uids::HANGING_PROTOCOL_GET,
            uids::HANGING_PROTOCOL_MOVE,
        ]
        .into_iter()
        .map(|uid| SupportedSyntax::new(uid, ts()))
        .collect();
        syntaxes.push(
            SupportedSyntax::new(uids::HANGING_PROTOCOL_STORAGE, ts()).with_roles(RolePolicy {
                requestor_may_be_scu: true,
                requestor_may_be_scp: self.grant_storage_scp_role,
            }),
        );
        AcceptorPolicy {
            called_ae_titles: vec![ae(SCP_AE)],
            abstract_syntaxes: syntaxes,
            async_operations_window: self.window,
            storage: self.storage,
            ..AcceptorPolicy::default()
        }
    }
}

/// The high-water marks of a run: what ever waited at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// The most messages and PDUs queued in the acceptor (`queued_messages`) after the
    /// SCP produced responses.
    pub max_acceptor_queued: usize,
    /// The most PDUs the acceptor put in the pipe in one round.
    pub max_pipe_pdus: usize,
    /// The most bytes waiting in the acceptor-to-requestor pipe.
    pub max_pipe_bytes: usize,
    /// How many rounds ran.
    pub rounds: u64,
    /// The most requests the SCP had under way at once on the association or a C-MOVE
    /// sub-association (its C-STORE sub-operations).
    pub max_scp_requests_outstanding: usize,
}

struct SubLink {
    id: SubAssociationId,
    host: usize,
    acceptor: Association,
    scp: Scp,
    to_host: Vec<u8>,
    to_sub: Vec<u8>,
    host_saw_close: bool,
    sub_saw_close: bool,
}

/// An SCU and an SCP joined by byte pipes, on a virtual clock.
pub struct Harness {
    /// The virtual clock.
    pub now: Instant,
    /// The requestor (SCU side), driven by the test.
    pub requestor: Association,
    /// The acceptor, served by [`scp`](Self::scp).
    pub acceptor: Association,
    /// The SCP under test.
    pub scp: Scp,
    /// The acceptor's events the SCP gave back, in words (`AssociationRequested(SCU ->
    /// SCP)`, `Established(…)`, `Released`, …).
    pub acceptor_log: Vec<String>,
    /// Every DIMSE message the acceptor received, in order.
    pub acceptor_received: Vec<Message>,
    /// The connections the SCP asked for.
    pub connects: Vec<ConnectRequest>,
    /// High-water marks.
    pub stats: Stats,
    delivery: Delivery,
    config: AssociationConfig,
    to_acceptor: Vec<u8>,
    to_requestor: Vec<u8>,
    acceptor_saw_close: bool,
    requestor_saw_close: bool,
    hosts: Vec<(Destination, Host)>,
    host_received: Vec<Vec<ReceivedStore>>,
    host_logs: Vec<Vec<String>>,
    links: Vec<SubLink>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("requestor", &self.requestor)
            .field("acceptor", &self.acceptor)
            .field("scp", &self.scp)
            .field("stats", &self.stats)
            .finish()
    }
}

/// A short description of an event, for logs and assertions.
pub fn describe(event: &Event) -> String {
    match event {
        Event::AssociationRequested(_) => "AssociationRequested".into(),
        Event::Established(n) => format!("Established({} accepted)", n.accepted().count()),
        Event::Rejected(r) => format!("Rejected({r})"),
        Event::ReleaseRequested { .. } => "ReleaseRequested".into(),
        Event::Released => "Released".into(),
        Event::Aborted(a) => format!("Aborted({a})"),
        Event::Message(m) => format!("Message({})", m.message),
        Event::Closed => "Closed".into(),
        other => format!("{other:?}"),
    }
}

/// Moves everything `from` has to send into `pipe`; returns how many PDUs.
fn fill(from: &mut Association, pipe: &mut Vec<u8>, now: Instant) -> usize {
    let mut pdus = 0;
    while from.poll_transmit(now, pipe).is_some() {
        pdus += 1;
    }
    pdus
}

/// Hands `pipe` to `to` as `delivery` says, calling `drain` after each input; keeps what
/// `to` does not take (it holds back while its events wait). Returns the bytes taken.
fn feed(
    to: &mut Association,
    pipe: &mut Vec<u8>,
    now: Instant,
    delivery: Delivery,
    drain: &mut dyn FnMut(&mut Association) -> usize,
) -> usize {
    let mut taken = 0;
    while taken < pipe.len() {
        let end = match delivery {
            Delivery::Whole => pipe.len(),
            Delivery::Bytewise => taken + 1,
        };
        // A side that is gone discards what still arrives.
        let n = to
            .handle_input(now, &pipe[taken..end])
            .unwrap_or(end - taken);
        taken += n;
        let handled = drain(to);
        if n == 0 && handled == 0 {
            break;
        }
    }
    pipe.drain(..taken);
    taken
}

/// Serves an acceptor's events with its SCP: accepts associations, answers releases,
/// records the DIMSE messages it receives and the events the SCP gives back.
fn serve(
    scp: &mut Scp,
    assoc: &mut Association,
    now: Instant,
    log: &mut Vec<String>,
    received: &mut dyn FnMut(&Message),
) -> usize {
    let mut handled = 0;
    while let Some(event) = assoc.poll_event() {
        handled += 1;
        if let Event::Message(m) | Event::StoreStarted(m) = &event {
            received(&m.message);
        }
        match scp.handle_event(assoc, now, event) {
            None => {}
            Some(Event::AssociationRequested(incoming)) => {
                let rq = incoming.request();
                log.push(format!(
                    "AssociationRequested({} -> {})",
                    rq.calling_ae_title, rq.called_ae_title
                ));
                if let Err(e) = assoc.accept(now, incoming, AcceptOptions::default()) {
                    panic!("cannot accept: {e}");
                }
            }
            Some(Event::ReleaseRequested { collision }) => {
                log.push("ReleaseRequested".into());
                if let Err(e) = assoc.release_response(now) {
                    panic!("cannot answer the release (collision {collision}): {e}");
                }
            }
            Some(other) => log.push(describe(&other)),
        }
    }
    handled
}

fn fire_timers(assoc: &mut Association, now: Instant) -> bool {
    match assoc.poll_timeout() {
        Some(deadline) if deadline <= now => {
            assoc.handle_timeout(now);
            true
        }
        _ => false,
    }
}

impl Harness {
    /// Builds both sides and runs until the association is established.
    ///
    /// # Panics
    ///
    /// When the association is not established.
    pub fn new(setup: Setup) -> Self {
        let now = Instant::now();
        let policy = setup.policy();
        let mut request = scu::association_request(ae(SCU_AE), ae(SCP_AE), &setup.services);
        request
            .contexts
            .extend(setup.extra_contexts.iter().cloned());
        if let Some(window) = setup.requestor_window {
            request.async_operations_window = Some(window);
        }
        let mut requestor = Association::requestor(now, setup.config.clone(), request)
            .unwrap_or_else(|e| panic!("requestor: {e}"));
        if let Err(e) = requestor.handle_transport_connected(now) {
            panic!("connect: {e}");
        }
        let acceptor = Association::acceptor(now, setup.config.clone(), Arc::new(policy));
        let hosts_len = setup.hosts.len();
        let mut h = Self {
            now,
            requestor,
            acceptor,
            scp: Scp::new(Arc::new(setup.handlers)),
            acceptor_log: Vec::new(),
            acceptor_received: Vec::new(),
            connects: Vec::new(),
            stats: Stats::default(),
            delivery: setup.delivery,
            config: setup.config,
            to_acceptor: Vec::new(),
            to_requestor: Vec::new(),
            acceptor_saw_close: false,
            requestor_saw_close: false,
            hosts: setup.hosts,
            host_received: vec![Vec::new(); hosts_len],
            host_logs: vec![Vec::new(); hosts_len],
            links: Vec::new(),
        };
        match h.next_event() {
            Some(Event::Established(n)) => assert!(n.accepted().count() > 0, "nothing accepted"),
            other => panic!(
                "expected Established, got {:?}",
                other.as_ref().map(describe)
            ),
        }
        h
    }

    /// The requestor's next event, running rounds until there is one; `None` once nothing
    /// moves any more.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.requestor.poll_event() {
                return Some(event);
            }
            if !self.round() {
                return None;
            }
        }
    }

    /// Runs rounds until nothing moves; returns the requestor's events, described.
    pub fn settle(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event() {
            events.push(describe(&event));
        }
        events
    }

    /// Moves the clock on (timers fire in the next round).
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// One round: requestor to acceptor, the SCP, the sub-associations, acceptor to
    /// requestor, transport closes, timers. Returns whether anything happened.
    pub fn round(&mut self) -> bool {
        let now = self.now;
        let delivery = self.delivery;
        let mut moved = false;
        self.stats.rounds += 1;

        // Requestor to acceptor, the SCP serving each event.
        moved |= fill(&mut self.requestor, &mut self.to_acceptor, now) > 0;
        {
            let (scp, log, received) = (
                &mut self.scp,
                &mut self.acceptor_log,
                &mut self.acceptor_received,
            );
            let mut drain = |a: &mut Association| {
                serve(scp, a, now, log, &mut |m: &Message| {
                    received.push(m.clone())
                })
            };
            moved |= feed(
                &mut self.acceptor,
                &mut self.to_acceptor,
                now,
                delivery,
                &mut drain,
            ) > 0;
            moved |= drain(&mut self.acceptor) > 0;
        }
        self.scp.poll(&mut self.acceptor, now);
        self.note_queue();

        // C-MOVE sub-associations.
        moved |= self.connect_subs();
        moved |= self.pump_subs();
        self.note_queue();

        // Acceptor to requestor: the requestor's events wait for the test.
        let pdus = fill(&mut self.acceptor, &mut self.to_requestor, now);
        moved |= pdus > 0;
        self.stats.max_pipe_pdus = self.stats.max_pipe_pdus.max(pdus);
        self.stats.max_pipe_bytes = self.stats.max_pipe_bytes.max(self.to_requestor.len());
        moved |= feed(
            &mut self.requestor,
            &mut self.to_requestor,
            now,
            delivery,
            &mut |_| 0,
        ) > 0;

        // A side that decided to close closes once its bytes are out; the other side sees
        // it after reading them.
        if !self.acceptor_saw_close
            && self.requestor.should_close_transport()
            && !self.requestor.wants_write()
            && self.to_acceptor.is_empty()
        {
            self.acceptor_saw_close = true;
            self.acceptor.handle_transport_closed(now);
            moved = true;
        }
        if !self.requestor_saw_close
            && self.acceptor.should_close_transport()
            && !self.acceptor.wants_write()
            && self.to_requestor.is_empty()
        {
            self.requestor_saw_close = true;
            self.requestor.handle_transport_closed(now);
            moved = true;
        }
        moved |= fire_timers(&mut self.requestor, now);
        moved |= fire_timers(&mut self.acceptor, now);
        {
            let (scp, log, received) = (
                &mut self.scp,
                &mut self.acceptor_log,
                &mut self.acceptor_received,
            );
            moved |= serve(scp, &mut self.acceptor, now, log, &mut |m: &Message| {
                received.push(m.clone())
            }) > 0;
        }
        self.now += Duration::from_millis(1);
        moved
    }

    fn note_queue(&mut self) {
        self.stats.max_acceptor_queued = self
            .stats
            .max_acceptor_queued
            .max(self.acceptor.queued_messages());
        let mut outstanding = self.acceptor.outstanding_requests();
        for id in self.scp.sub_association_ids() {
            if let Some(sub) = self.scp.sub_association(id) {
                outstanding = outstanding.max(sub.outstanding_requests());
            }
        }
        self.stats.max_scp_requests_outstanding =
            self.stats.max_scp_requests_outstanding.max(outstanding);
    }

    fn connect_subs(&mut self) -> bool {
        let mut moved = false;
        while let Some(request) = self.scp.poll_connect() {
            moved = true;
            self.connects.push(request.clone());
            let found = self
                .hosts
                .iter()
                .position(|(address, _)| *address == request.destination);
            let Some(host) = found else {
                self.scp
                    .sub_connect_failed(request.id, self.now, "connection refused");
                continue;
            };
            let policy = Arc::new(self.hosts[host].1.policy.clone());
            let handlers = Handlers {
                store: Some(self.hosts[host].1.store.clone()),
                ..Handlers::default()
            };
            self.links.push(SubLink {
                id: request.id,
                host,
                acceptor: Association::acceptor(self.now, self.config.clone(), policy),
                scp: Scp::new(Arc::new(handlers)),
                to_host: Vec::new(),
                to_sub: Vec::new(),
                host_saw_close: false,
                sub_saw_close: false,
            });
            self.scp.sub_connected(request.id, self.now);
        }
        moved
    }

    fn pump_subs(&mut self) -> bool {
        let now = self.now;
        let delivery = self.delivery;
        let mut moved = false;
        for link in &mut self.links {
            let Some(sub) = self.scp.sub_association(link.id) else {
                // The SCP forgot the sub-association: its transport is gone.
                if !link.host_saw_close {
                    link.host_saw_close = true;
                    link.acceptor.handle_transport_closed(now);
                    let (host_scp, log, received) = (
                        &mut link.scp,
                        &mut self.host_logs[link.host],
                        &mut self.host_received[link.host],
                    );
                    serve(
                        host_scp,
                        &mut link.acceptor,
                        now,
                        log,
                        &mut |m: &Message| {
                            received.extend(ReceivedStore::of(m));
                        },
                    );
                    moved = true;
                }
                continue;
            };
            let (host_scp, log, received) = (
                &mut link.scp,
                &mut self.host_logs[link.host],
                &mut self.host_received[link.host],
            );
            let mut drain = |a: &mut Association| {
                serve(host_scp, a, now, log, &mut |m: &Message| {
                    received.extend(ReceivedStore::of(m));
                })
            };
            moved |= fill(sub, &mut link.to_host, now) > 0;
            moved |= feed(
                &mut link.acceptor,
                &mut link.to_host,
                now,
                delivery,
                &mut drain,
            ) > 0;
            link.scp.poll(&mut link.acceptor, now);
            moved |= fill(&mut link.acceptor, &mut link.to_sub, now) > 0;
            moved |= feed(sub, &mut link.to_sub, now, delivery, &mut |_| 0) > 0;
            if !link.host_saw_close
                && sub.should_close_transport()
                && !sub.wants_write()
                && link.to_host.is_empty()
            {
                link.host_saw_close = true;
                link.acceptor.handle_transport_closed(now);
                moved = true;
            }
            if !link.sub_saw_close
                && link.acceptor.should_close_transport()
                && !link.acceptor.wants_write()
                && link.to_sub.is_empty()
            {
                link.sub_saw_close = true;
                sub.handle_transport_closed(now);
                moved = true;
            }
            moved |= fire_timers(sub, now);
            moved |= fire_timers(&mut link.acceptor, now);
            let (host_scp, log, received) = (
                &mut link.scp,
                &mut self.host_logs[link.host],
                &mut self.host_received[link.host],
            );
            moved |= serve(
                host_scp,
                &mut link.acceptor,
                now,
                log,
                &mut |m: &Message| {
                    received.extend(ReceivedStore::of(m));
                },
            ) > 0;
        }
        // Every sub-association the SCP holds, connected or not, gets its events handled.
        for id in self.scp.sub_association_ids() {
            let before = self.acceptor.queued_messages();
            let pending = self
                .scp
                .sub_association(id)
                .is_some_and(|s| s.wants_write());
            // Whether it is still alive shows in what follows: the job's responses, or
            // the id leaving the list.
            let _alive = self.scp.handle_sub_events(&mut self.acceptor, id, now);
            moved |= pending || self.acceptor.queued_messages() != before;
        }
        let scp = &mut self.scp;
        self.links
            .retain(|link| scp.sub_association(link.id).is_some() || !link.host_saw_close);
        moved
    }

    /// The C-STORE-RQs the host named `ae_title` received.
    ///
    /// # Panics
    ///
    /// When there is no such host.
    pub fn host_received(&self, ae_title: &str) -> &[ReceivedStore] {
        &self.host_received[self.host_index(ae_title)]
    }

    /// What the host named `ae_title` logged (association events its SCP gave back).
    ///
    /// # Panics
    ///
    /// When there is no such host.
    pub fn host_log(&self, ae_title: &str) -> &[String] {
        &self.host_logs[self.host_index(ae_title)]
    }

    /// The store of the host named `ae_title`.
    ///
    /// # Panics
    ///
    /// When there is no such host.
    pub fn host_store(&self, ae_title: &str) -> &RecordingStore {
        &self.hosts[self.host_index(ae_title)].1.store
    }

    fn host_index(&self, ae_title: &str) -> usize {
        self.hosts
            .iter()
            .position(|(_, h)| h.ae_title == ae_title)
            .unwrap_or_else(|| panic!("no host {ae_title}"))
    }

    /// How many sub-associations are being pumped.
    pub fn open_sub_links(&self) -> usize {
        self.links.len()
    }

    /// The accepted context for `sop_class` on which the requestor is SCU.
    ///
    /// # Panics
    ///
    /// When there is none.
    pub fn context(&self, sop_class: &Uid) -> PresentationContextId {
        self.requestor
            .negotiated()
            .and_then(|n| scu::scu_context(n, sop_class))
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("no context for {sop_class}"))
    }

    /// An accepted context for `sop_class`, whatever the roles on it.
    ///
    /// # Panics
    ///
    /// When there is none.
    pub fn accepted_context(&self, sop_class: &Uid) -> PresentationContextId {
        self.requestor
            .negotiated()
            .and_then(|n| n.accepted().find(|c| &c.abstract_syntax == sop_class))
            .map(|c| c.id)
            .unwrap_or_else(|| panic!("no accepted context for {sop_class}"))
    }

    /// The transfer syntax accepted for `sop_class`.
    ///
    /// # Panics
    ///
    /// When there is no context for it.
    pub fn transfer_syntax(&self, sop_class: &Uid) -> Uid {
        self.requestor
            .negotiated()
            .and_then(|n| scu::scu_context(n, sop_class))
            .map(|(_, ts)| ts)
            .unwrap_or_else(|| panic!("no context for {sop_class}"))
    }

    /// Sends raw P-DATA from `side`'s association: one command set, and a data set when
    /// given, as the bytes of `message` encoded with no checks of the DIMSE rules.
    ///
    /// # Panics
    ///
    /// When the association refuses the P-DATA.
    pub fn send_raw(
        assoc: &mut Association,
        now: Instant,
        context_id: PresentationContextId,
        message: &Message,
        data: Option<&[u8]>,
    ) {
        let mut command = Vec::new();
        if let Err(e) = message.to_command(data.is_some()).encode(&mut command) {
            panic!("command: {e}");
        }
        let mut pdvs = vec![Pdv {
            context_id,
            header: MessageControlHeader::COMMAND | MessageControlHeader::LAST,
            data: &command,
        }];
        if let Some(data) = data {
            pdvs.push(Pdv {
                context_id,
                header: MessageControlHeader::LAST,
                data,
            });
        }
        if let Err(e) = assoc.send_pdata(now, &PData::new(pdvs)) {
            panic!("send_pdata: {e}");
        }
    }

    /// A C-ECHO: the status of its response.
    ///
    /// # Panics
    ///
    /// When the echo cannot be sent or gets no response.
    pub fn echo(&mut self) -> Status {
        let scu =
            EchoScu::start(&mut self.requestor, self.now).unwrap_or_else(|e| panic!("C-ECHO: {e}"));
        while let Some(event) = self.next_event() {
            if let Ok(status) = scu.handle(event) {
                return status;
            }
        }
        panic!("no C-ECHO-RSP");
    }

    /// A C-FIND, every identifier kept.
    pub fn find(&mut self, sop_class: &Uid, query: &InMemDicomObject) -> FindRun {
        self.find_with(sop_class, query, FindOptions::default())
    }

    /// A C-FIND with options (cancel after some matches, identifiers not kept).
    ///
    /// # Panics
    ///
    /// When the C-FIND cannot be sent.
    pub fn find_with(
        &mut self,
        sop_class: &Uid,
        query: &InMemDicomObject,
        options: FindOptions,
    ) -> FindRun {
        let mut scu = FindScu::start(&mut self.requestor, self.now, sop_class, query)
            .unwrap_or_else(|e| panic!("C-FIND: {e}"));
        let mut run = FindRun::new(scu.message_id());
        while let Some(event) = self.next_event() {
            match scu.handle(event) {
                Ok(FindProgress::Match { status, identifier }) => {
                    run.pending(status, options.keep_identifiers.then_some(identifier));
                    if options.cancel_after == Some(run.statuses.len()) {
                        if let Err(e) = scu.cancel(&mut self.requestor, self.now) {
                            panic!("C-CANCEL: {e}");
                        }
                        run.cancelled_after = Some(run.statuses.len());
                    }
                }
                Ok(FindProgress::Undecodable(e)) => {
                    run.pending(Status::PENDING, None);
                    run.undecodable.push(e.to_string());
                }
                Ok(FindProgress::Finished { status, detail }) => run.finals.push((status, detail)),
                Ok(other) => run.others.push(format!("{other:?}")),
                Err(other) => run.others.push(describe(&other)),
            }
        }
        run
    }

    /// A C-FIND-RQ sent with `identifier` as raw bytes (anything, even garbage or nothing),
    /// through [`Association::send_request`]; the responses collected as they come.
    ///
    /// # Panics
    ///
    /// When the request cannot be sent.
    pub fn find_raw(&mut self, sop_class: &Uid, identifier: Bytes) -> FindRun {
        let context = self.context(sop_class);
        let message_id = self
            .requestor
            .send_request(
                self.now,
                context,
                Message::CFindRq(dicomwire::dimse::CFindRq {
                    message_id: 0,
                    affected_sop_class_uid: sop_class.to_string(),
                    priority: dicomwire::dimse::Priority::Medium,
                }),
                Some(identifier),
            )
            .unwrap_or_else(|e| panic!("C-FIND-RQ: {e}"));
        let mut run = FindRun::new(message_id);
        while let Some(event) = self.next_event() {
            let Event::Message(m) = event else {
                run.others.push(describe(&event));
                continue;
            };
            let IncomingMessage { message, data, .. } = *m;
            match message {
                Message::CFindRsp(rsp) if rsp.message_id_being_responded_to == message_id => {
                    if rsp.status.is_pending() {
                        let identifier = data.as_ref().and_then(|d| dataset::decode(d).ok());
                        if identifier.is_none() {
                            run.undecodable
                                .push("pending without a decodable identifier".into());
                        }
                        run.pending(rsp.status, identifier);
                    } else {
                        if data.is_some() {
                            run.others.push("final response with a data set".into());
                        }
                        run.finals.push((rsp.status, rsp.detail));
                    }
                }
                other => run.others.push(format!("Message({other})")),
            }
        }
        run
    }

    /// A C-GET of the Hanging Protocol instances `query` names, stored by `store`.
    pub fn get(&mut self, query: &InMemDicomObject, store: Arc<dyn StoreHandler>) -> RetrieveRun {
        self.get_with(query, store, None)
    }

    /// A C-GET, cancelled after `cancel_after` C-STORE sub-operations when given.
    ///
    /// # Panics
    ///
    /// When the C-GET cannot be sent.
    pub fn get_with(
        &mut self,
        query: &InMemDicomObject,
        store: Arc<dyn StoreHandler>,
        cancel_after: Option<usize>,
    ) -> RetrieveRun {
        let scu = RetrieveScu::get(
            &mut self.requestor,
            self.now,
            &uids::HANGING_PROTOCOL_GET,
            query,
            store,
        )
        .unwrap_or_else(|e| panic!("C-GET: {e}"));
        self.collect_retrieve(scu, cancel_after, None)
    }

    /// A C-MOVE of the instances `query` names to `destination`.
    pub fn move_to(&mut self, query: &InMemDicomObject, destination: &str) -> RetrieveRun {
        self.move_with(query, destination, None)
    }

    /// A C-MOVE, cancelled after `cancel_after` pending responses when given.
    ///
    /// # Panics
    ///
    /// When the C-MOVE cannot be sent.
    pub fn move_with(
        &mut self,
        query: &InMemDicomObject,
        destination: &str,
        cancel_after_pendings: Option<usize>,
    ) -> RetrieveRun {
        let scu = RetrieveScu::move_to(
            &mut self.requestor,
            self.now,
            &uids::HANGING_PROTOCOL_MOVE,
            query,
            &ae(destination),
        )
        .unwrap_or_else(|e| panic!("C-MOVE: {e}"));
        self.collect_retrieve(scu, None, cancel_after_pendings)
    }

    fn collect_retrieve(
        &mut self,
        mut scu: RetrieveScu,
        cancel_after_stores: Option<usize>,
        cancel_after_pendings: Option<usize>,
    ) -> RetrieveRun {
        let mut run = RetrieveRun {
            message_id: scu.message_id(),
            ..RetrieveRun::default()
        };
        // Streaming mode: the C-STORE-RQ came with StoreStarted; its Stored progress
        // comes with the last fragment.
        let mut streaming: Option<ReceivedStore> = None;
        while let Some(event) = self.next_event() {
            let store = match &event {
                Event::Message(m) => ReceivedStore::of(&m.message),
                Event::StoreStarted(m) => {
                    streaming = ReceivedStore::of(&m.message);
                    None
                }
                Event::StoreFragment { last: true, .. } => streaming.take(),
                _ => None,
            };
            if let Event::Message(m) = &event {
                let last = m.message.responded_to() == Some(run.message_id)
                    && m.message.status().is_some_and(|s| !s.is_pending());
                if last {
                    run.final_data_set = m.data.is_some();
                }
            }
            let mut cancel = false;
            match scu.handle(&mut self.requestor, self.now, event) {
                Ok(RetrieveProgress::Stored {
                    sop_instance_uid,
                    status,
                }) => {
                    let store = store.unwrap_or_else(|| panic!("{sop_instance_uid}: no request"));
                    run.stores.push((store, status));
                    cancel = cancel_after_stores == Some(run.stores.len());
                }
                Ok(RetrieveProgress::Pending(counts)) => {
                    run.pendings.push(counts);
                    cancel = cancel_after_pendings == Some(run.pendings.len());
                }
                Ok(RetrieveProgress::Finished {
                    status,
                    sub_operations,
                    failed_sop_instance_uids,
                    detail,
                }) => run.finals.push(RetrieveFinal {
                    status,
                    sub_operations,
                    failed_sop_instance_uids,
                    detail,
                }),
                Ok(RetrieveProgress::Receiving { .. }) => {}
                Ok(other) => run.others.push(format!("{other:?}")),
                Err(other) => run.others.push(describe(&other)),
            }
            if cancel && !scu.is_finished() {
                if let Err(e) = scu.cancel(&mut self.requestor, self.now) {
                    panic!("C-CANCEL: {e}");
                }
                run.cancelled = true;
            }
        }
        run
    }

    /// What the SCP under test reported of the operations it answered since the last call
    /// ([`Scp::poll_outcome`]), oldest first.
    pub fn outcomes(&mut self) -> Vec<OperationOutcome> {
        std::iter::from_fn(|| self.scp.poll_outcome()).collect()
    }

    /// Releases the association from the requestor's side and runs until both sides are
    /// closed; returns the requestor's events.
    ///
    /// # Panics
    ///
    /// When the release cannot be asked.
    pub fn release(&mut self) -> Vec<String> {
        if let Err(e) = self.requestor.release(self.now) {
            panic!("release: {e}");
        }
        self.settle()
    }
}

/// Options of [`Harness::find_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindOptions {
    /// Send a C-CANCEL after this many pending responses.
    pub cancel_after: Option<usize>,
    /// Keep the identifiers (turn off for very long runs).
    pub keep_identifiers: bool,
}

impl Default for FindOptions {
    fn default() -> Self {
        Self {
            cancel_after: None,
            keep_identifiers: true,
        }
    }
}

/// What a C-FIND gave back.
#[derive(Debug, Clone, Default)]
pub struct FindRun {
    /// The request's message ID.
    pub message_id: MessageId,
    /// The pending statuses, in order.
    pub statuses: Vec<Status>,
    /// The identifiers of the pending responses (when kept).
    pub matches: Vec<InMemDicomObject>,
    /// Why pending identifiers did not decode.
    pub undecodable: Vec<String>,
    /// The final responses (exactly one when all is well).
    pub finals: Vec<(Status, StatusDetail)>,
    /// Pending responses that came after a final one.
    pub after_final: usize,
    /// After how many pendings the C-CANCEL was sent.
    pub cancelled_after: Option<usize>,
    /// Every other requestor event, described.
    pub others: Vec<String>,
}

impl FindRun {
    fn new(message_id: MessageId) -> Self {
        Self {
            message_id,
            ..Self::default()
        }
    }

    fn pending(&mut self, status: Status, identifier: Option<InMemDicomObject>) {
        if !self.finals.is_empty() {
            self.after_final += 1;
        }
        self.statuses.push(status);
        self.matches.extend(identifier);
    }

    /// The final status.
    ///
    /// # Panics
    ///
    /// Unless exactly one final response arrived, and nothing after it.
    pub fn status(&self) -> Status {
        self.final_response().0
    }

    /// The final status and its detail.
    ///
    /// # Panics
    ///
    /// Unless exactly one final response arrived, and nothing after it.
    pub fn final_response(&self) -> &(Status, StatusDetail) {
        assert_eq!(self.finals.len(), 1, "final responses: {:?}", self.finals);
        assert_eq!(self.after_final, 0, "pending responses after the final one");
        &self.finals[0]
    }

    /// The final response's Error Comment, or `""`.
    pub fn comment(&self) -> String {
        self.final_response()
            .1
            .error_comment
            .clone()
            .unwrap_or_default()
    }

    /// The text value of `tag` in each match.
    pub fn values(&self, tag: Tag) -> Vec<String> {
        self.matches.iter().map(|m| text_of(m, tag)).collect()
    }
}

/// The final response of a C-GET or C-MOVE.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrieveFinal {
    /// Status.
    pub status: Status,
    /// The counts.
    pub sub_operations: SubOperations,
    /// Failed SOP Instance UID List (0008,0058).
    pub failed_sop_instance_uids: Vec<String>,
    /// Error comment and friends.
    pub detail: StatusDetail,
}

/// What a C-GET or C-MOVE gave back.
#[derive(Debug, Clone, Default)]
pub struct RetrieveRun {
    /// The request's message ID.
    pub message_id: MessageId,
    /// C-GET: the C-STORE-RQs that arrived on the association, and what we answered.
    pub stores: Vec<(ReceivedStore, Status)>,
    /// The counts of each pending response.
    pub pendings: Vec<SubOperations>,
    /// The final responses (exactly one when all is well).
    pub finals: Vec<RetrieveFinal>,
    /// Whether a C-CANCEL was sent.
    pub cancelled: bool,
    /// Whether the final response carried a data set (the Failed SOP Instance UID List).
    pub final_data_set: bool,
    /// Every other requestor event, described.
    pub others: Vec<String>,
}

impl RetrieveRun {
    /// The single final response.
    ///
    /// # Panics
    ///
    /// Unless exactly one final response arrived.
    pub fn final_response(&self) -> &RetrieveFinal {
        assert_eq!(self.finals.len(), 1, "final responses: {:?}", self.finals);
        &self.finals[0]
    }

    /// The final status.
    ///
    /// # Panics
    ///
    /// Unless exactly one final response arrived.
    pub fn status(&self) -> Status {
        self.final_response().status
    }

    /// The final counts as (remaining, completed, failed, warning).
    ///
    /// # Panics
    ///
    /// Unless exactly one final response arrived.
    pub fn counts(&self) -> (Option<u16>, Option<u16>, Option<u16>, Option<u16>) {
        let c = self.final_response().sub_operations;
        (c.remaining, c.completed, c.failed, c.warning)
    }

    /// The final Error Comment, or `""`.
    ///
    /// # Panics
    ///
    /// Unless exactly one final response arrived.
    pub fn comment(&self) -> String {
        self.final_response()
            .detail
            .error_comment
            .clone()
            .unwrap_or_default()
    }

    /// The SOP Instance UIDs of the C-STORE-RQs that arrived, in order.
    pub fn stored_uids(&self) -> Vec<String> {
        self.stores
            .iter()
            .map(|(s, _)| s.sop_instance_uid.clone())
            .collect()
    }
}

// ------------------------------------------------------------------------------------
// Data sets

/// A text element.
pub fn text(tag: Tag, vr: VR, value: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

/// A sequence element.
pub fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
}

/// A data set of `elements`.
pub fn set(elements: Vec<InMemElement>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elements)
}

/// The text of `tag` in `object`, trimmed; `""` when absent or empty.
pub fn text_of(object: &InMemDicomObject, tag: Tag) -> String {
    object
        .get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
        .unwrap_or_default()
}

/// The first item of the sequence `tag` in `object`.
pub fn first_item(object: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    object.get(tag)?.items()?.first()
}

/// A Modality Worklist record: patient, one Scheduled Procedure Step (modality, start date
/// and time, station `SCANNER1`, step ID `SPS-<id>`), and a Study Instance UID derived from
/// the patient ID.
pub fn worklist_record(
    patient_name: &str,
    patient_id: &str,
    modality: &str,
    start_date: &str,
    start_time: &str,
) -> InMemDicomObject {
    set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::ACCESSION_NUMBER, VR::SH, &format!("A{patient_id}")),
        text(tags::PATIENT_NAME, VR::PN, patient_name),
        text(tags::PATIENT_ID, VR::LO, patient_id),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101"),
        text(tags::PATIENT_SEX, VR::CS, "O"),
        text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &format!("1.2.826.0.1.3680043.9.7777.{}", uid_digits(patient_id)),
        ),
        text(
            tags::REQUESTED_PROCEDURE_ID,
            VR::SH,
            &format!("RP{patient_id}"),
        ),
        seq(
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            vec![set(vec![
                text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, "SCANNER1"),
                text(
                    tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
                    VR::DA,
                    start_date,
                ),
                text(
                    tags::SCHEDULED_PROCEDURE_STEP_START_TIME,
                    VR::TM,
                    start_time,
                ),
                text(tags::MODALITY, VR::CS, modality),
                text(tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME, VR::PN, "HOUSE^G"),
                text(
                    tags::SCHEDULED_PROCEDURE_STEP_ID,
                    VR::SH,
                    &format!("SPS-{patient_id}"),
                ),
            ])],
        ),
    ])
}

fn uid_digits(id: &str) -> String {
    let digits: String = id.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        "1".into()
    } else {
        digits.into()
    }
}

/// A worklist query asking for the usual return keys, everything universal: patient name
/// and ID, Study Instance UID, and the step's modality, start date and time, station and
/// step ID.
pub fn worklist_query() -> InMemDicomObject {
    worklist_query_with(&[], &[])
}

/// [`worklist_query`] with some top-level keys and some Scheduled Procedure Step keys set.
pub fn worklist_query_with(top: &[(Tag, VR, &str)], step: &[(Tag, VR, &str)]) -> InMemDicomObject {
    let mut query = set(vec![
        text(tags::PATIENT_NAME, VR::PN, ""),
        text(tags::PATIENT_ID, VR::LO, ""),
        text(tags::STUDY_INSTANCE_UID, VR::UI, ""),
    ]);
    for &(tag, vr, value) in top {
        query.put(text(tag, vr, value));
    }
    let mut sps = set(vec![
        text(tags::MODALITY, VR::CS, ""),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, ""),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, ""),
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, ""),
        text(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, ""),
    ]);
    for &(tag, vr, value) in step {
        sps.put(text(tag, vr, value));
    }
    query.put(seq(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![sps]));
    query
}

/// A Hanging Protocol instance (Hanging Protocol Storage), its data set encoded in
/// Explicit VR Little Endian with `service::dataset::encode`.
///
/// # Panics
///
/// When the data set does not encode (it always does).
pub fn hp_instance(sop_instance_uid: &str, name: &str) -> StoredInstance {
    let object = set(vec![
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::HANGING_PROTOCOL_STORAGE.as_str(),
        ),
        text(tags::SOP_INSTANCE_UID, VR::UI, sop_instance_uid),
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, name),
        text(tags::HANGING_PROTOCOL_DESCRIPTION, VR::LO, "test protocol"),
        text(tags::HANGING_PROTOCOL_LEVEL, VR::CS, "SITE"),
        text(tags::HANGING_PROTOCOL_CREATOR, VR::LO, "dicomwire"),
        text(
            tags::HANGING_PROTOCOL_CREATION_DATE_TIME,
            VR::DT,
            "20240101120000",
        ),
        DataElement::new(
            tags::NUMBER_OF_PRIORS_REFERENCED,
            VR::US,
            PrimitiveValue::from(0_u16),
        ),
    ]);
    let data = dataset::encode(&object, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str())
        .unwrap_or_else(|e| panic!("HP instance: {e}"));
    StoredInstance {
        object,
        instance: Instance {
            sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.to_string(),
            sop_instance_uid: sop_instance_uid.to_owned(),
            transfer_syntax: uids::EXPLICIT_VR_LITTLE_ENDIAN,
            data,
        },
    }
}

/// `count` Hanging Protocol instances with UIDs `1.2.826.0.1.3680043.9.7777.100.<n>`,
/// `n` from 1.
pub fn hp_instances(count: usize) -> Vec<StoredInstance> {
    (1..=count)
        .map(|n| hp_instance(&hp_uid(n), &format!("PROTOCOL {n}")))
        .collect()
}

/// The SOP Instance UID of the `n`th instance of [`hp_instances`].
pub fn hp_uid(n: usize) -> String {
    format!("1.2.826.0.1.3680043.9.7777.100.{n}")
}

/// A Hanging Protocol C-GET / C-MOVE identifier naming `uids`.
pub fn retrieve_query(uids: &[String]) -> InMemDicomObject {
    set(vec![DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::Strs(uids.iter().cloned().collect()),
    )])
}

/// A Hanging Protocol C-FIND query: name (maybe wild-carded) and SOP Instance UID.
pub fn hp_query(name: &str) -> InMemDicomObject {
    set(vec![
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, name),
        text(tags::SOP_INSTANCE_UID, VR::UI, ""),
    ])
}

/// The `Destination` of a host name and port.
pub fn destination(host: &str, port: u16) -> Destination {
    Destination {
        host: host.to_owned(),
        port,
        tls: false,
    }
}
