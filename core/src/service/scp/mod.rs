//! The SCP side of Verification, Basic Worklist Management, Hanging Protocol Q/R and
//! Storage, IO-free, over one [`Association`].
//!
//! [`Scp`] takes the association's events, calls the user's handlers, and answers with
//! the statuses PS3.4 prescribes (and the implementation-specific ones of `DESIGN.md` when
//! a handler misbehaves). Operations run one step at a time in [`Scp::poll`], so a long
//! C-FIND or C-GET streams its responses as the transport drains them, with flat memory.
//!
//! A C-MOVE needs a sub-association to the move destination. The SCP builds it as an
//! [`Association`] of its own and asks the transport, through [`Scp::poll_connect`], to
//! open a TCP connection for it; the transport then moves bytes and time for it exactly as
//! for any association, and gives its events back with [`Scp::handle_sub_events`]. Every
//! decision stays here.

mod find;
pub(super) mod handler;
mod outcome;
pub(super) mod reply;
mod retrieve;
mod store;
mod sub;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::provider::{Destination, FindHandler, MoveDestinations, RetrieveHandler, StoreHandler};
use super::uids;
use crate::dimse::{IncomingMessage, Message, MessageId, Status};
use crate::pdu::{AeTitle, PresentationContextId};
use crate::ul::{AcceptOptions, Association, AssociationConfig, Event, RejectReason, State};

use find::FindJob;
use outcome::{Outcomes, send_final};
use reply::with_detail;
use retrieve::{RetrieveJob, RetrieveKind, Step};
use store::IncomingStore;
use sub::Sub;

pub use outcome::OperationOutcome;

/// Whether a server may take one more association; the transport knows the count, the
/// core decides the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Accept it (subject to the acceptor policy already applied by the core).
    Open,
    /// The server holds its maximum: reject, transient, local-limit-exceeded.
    OverLimit,
    /// The server is shutting down: reject, transient, temporary-congestion.
    ShuttingDown,
}

/// What [`Scp::shutdown_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStep {
    /// Nothing yet: an operation is still running and the grace period is not over.
    Waiting,
    /// An A-RELEASE-RQ or A-ABORT was queued; keep driving until the association closes.
    Closing,
    /// No association to end (none asked for, or already over): close the socket.
    CloseTransport,
}

/// The handlers an SCP serves with. Absent handlers mean the service is not offered: a
/// request for it gets 0x0122 (SOP class not supported).
#[derive(Clone, Default)]
pub struct Handlers {
    /// Modality Worklist C-FIND.
    pub worklist: Option<Arc<dyn FindHandler>>,
    /// Hanging Protocol C-FIND.
    pub hanging_protocol_find: Option<Arc<dyn FindHandler>>,
    /// Hanging Protocol C-GET and C-MOVE.
    pub hanging_protocol_retrieve: Option<Arc<dyn RetrieveHandler>>,
    /// The C-MOVE destination table.
    pub move_destinations: Option<Arc<dyn MoveDestinations>>,
    /// C-STORE (instances pushed to us).
    pub store: Option<Arc<dyn StoreHandler>>,
    /// The configuration of C-MOVE sub-associations.
    pub sub_association_config: AssociationConfig,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("worklist", &self.worklist.is_some())
            .field(
                "hanging_protocol_find",
                &self.hanging_protocol_find.is_some(),
            )
            .field(
                "hanging_protocol_retrieve",
                &self.hanging_protocol_retrieve.is_some(),
            )
            .field("move_destinations", &self.move_destinations.is_some())
            .field("store", &self.store.is_some())
            .finish()
    }
}

/// Identifies a C-MOVE sub-association of one [`Scp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubAssociationId(u64);

/// A request to the transport: open a TCP connection for a sub-association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Which sub-association.
    pub id: SubAssociationId,
    /// Where to.
    pub destination: Destination,
}

/// The most C-STORE sub-operations of one C-GET or C-MOVE under way at once, when the
/// asynchronous operations window allows more than one: the SCP sends the next instances
/// while the first are being stored, instead of waiting a round trip after each.
pub const SUB_OPERATIONS_IN_FLIGHT: usize = 8;
/// [`SUB_OPERATIONS_IN_FLIGHT`] as proposed in an asynchronous operations window.
pub const SUB_OPERATIONS_WINDOW: u16 = 8;

/// How many DIMSE messages may wait in the association's queue before `poll` stops
/// producing responses (backpressure: the next ones are made after the transport sends).
const MAX_QUEUED_MESSAGES: usize = 4;

/// An operation in progress: one is stepped at a time, in the order the requests came.
enum Job {
    Find(FindJob),
    Retrieve(Box<RetrieveJob>),
}

/// The SCP of one association.
///
/// After each input (an event of the association through [`serve_event`](Self::serve_event)
/// or [`handle_event`](Self::handle_event), and after the transport sent what was queued),
/// call [`poll`](Self::poll), then drain [`poll_connect`](Self::poll_connect) for C-MOVE
/// sub-associations to open, then the association's own outputs. What each operation
/// ended with waits in [`poll_outcome`](Self::poll_outcome) for whoever reports them.
pub struct Scp {
    handlers: Arc<Handlers>,
    jobs: VecDeque<Job>,
    cancelled: HashSet<MessageId>,
    connects: VecDeque<ConnectRequest>,
    next_sub: u64,
    /// Sub-associations whose job ended, kept until they close.
    finished_subs: Vec<Sub>,
    /// Streaming mode: the C-STORE whose data set is arriving.
    incoming_store: Option<IncomingStore>,
    outcomes: Outcomes,
}

impl std::fmt::Debug for Scp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scp")
            .field("jobs", &self.jobs.len())
            .field("handlers", &self.handlers)
            .finish()
    }
}

impl Scp {
    /// An SCP serving with `handlers`.
    pub fn new(handlers: Arc<Handlers>) -> Self {
        Self {
            handlers,
            jobs: VecDeque::new(),
            cancelled: HashSet::new(),
            connects: VecDeque::new(),
            next_sub: 1,
            finished_subs: Vec::new(),
            incoming_store: None,
            outcomes: Outcomes::default(),
        }
    }

    /// An acceptor association for a transport connection that just arrived, configured
    /// the way the SCP needs it: C-STORE data sets are streamed
    /// ([`DimseConfig::stream_store_data`](crate::dimse::DimseConfig) is forced on), so a
    /// data set the SCP refuses (no store handler, a context where we are not SCP, a
    /// handler that fails) is discarded fragment by fragment as it arrives instead of
    /// being gathered first, and one gathered for a handler's
    /// [`store`](StoreHandler::store) is bounded by `max_store_length`.
    pub fn acceptor(
        now: Instant,
        mut config: AssociationConfig,
        policy: Arc<crate::ul::AcceptorPolicy>,
    ) -> Association {
        config.dimse.stream_store_data = true;
        Association::acceptor(now, config, policy)
    }

    /// What the next operation the SCP answered ended with, oldest first: one outcome per
    /// request given a final response (C-ECHO, C-FIND, C-GET, C-MOVE and C-STORE, whatever
    /// the status, a cancel's 0xFE00 and a request refused at once included), recorded
    /// when that response is queued on the association. A request the association answers
    /// itself (0x0210, duplicate invocation) and an operation the association's end cut
    /// short (no final response could be queued) give none.
    ///
    /// At most 64 outcomes wait: past that the oldest is dropped (with a debug log line),
    /// so an SCP whose outcomes nobody takes keeps flat memory.
    #[must_use]
    pub fn poll_outcome(&mut self) -> Option<OperationOutcome> {
        self.outcomes.pop()
    }

    /// Whether no operation is in progress and no sub-association is open.
    pub fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.finished_subs.is_empty()
    }

    /// Everything a server does with one event of its association: answers the
    /// A-ASSOCIATE indication per `admission`, answers a release request, and gives DIMSE
    /// messages to [`handle_event`](Self::handle_event). The transports call this and
    /// decide nothing themselves.
    pub fn serve_event(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        event: Event,
        admission: Admission,
    ) {
        match event {
            Event::AssociationRequested(incoming) => {
                let result = match admission {
                    Admission::OverLimit => {
                        tracing::warn!("too many associations; rejecting (local-limit-exceeded)");
                        assoc.reject(now, incoming, RejectReason::LocalLimitExceeded)
                    }
                    Admission::ShuttingDown => {
                        tracing::info!("shutting down; rejecting (temporary-congestion)");
                        assoc.reject(now, incoming, RejectReason::TemporaryCongestion)
                    }
                    Admission::Open => {
                        let request = incoming.request();
                        tracing::info!(calling = %request.calling_ae_title, called = %request.called_ae_title, "association requested");
                        assoc.accept(now, incoming, AcceptOptions::default())
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "cannot answer the association request");
                }
            }
            Event::Established(n) => {
                tracing::info!(calling = %n.calling_ae_title, accepted = n.accepted().count(), "association established");
            }
            Event::ReleaseRequested { .. } => {
                if let Err(e) = assoc.release_response(now) {
                    tracing::warn!(error = %e, "cannot answer the release request");
                }
            }
            Event::Rejected(r) => tracing::info!(%r, "association rejected"),
            Event::Released => tracing::info!("association released"),
            other => {
                if let Event::Aborted(a) = &other {
                    tracing::info!(%a, "association aborted");
                }
                if let Some(rest) = self.handle_event(assoc, now, other) {
                    tracing::debug!(event = ?rest, "event not handled");
                }
            }
        }
    }

    /// One step of a graceful shutdown: release an idle association; once the grace
    /// period is over, abort whatever is left.
    pub fn shutdown_step(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        grace_over: bool,
    ) -> ShutdownStep {
        match assoc.state() {
            State::Established if self.is_idle() => {
                let _ = assoc.release(now);
                ShutdownStep::Closing
            }
            State::Idle => ShutdownStep::CloseTransport,
            State::AwaitingAssociateRq if grace_over => ShutdownStep::CloseTransport,
            _ if grace_over => {
                if assoc.abort(now).is_ok() {
                    tracing::warn!("shutdown grace period over; aborting");
                    ShutdownStep::Closing
                } else {
                    ShutdownStep::CloseTransport
                }
            }
            _ => ShutdownStep::Waiting,
        }
    }

    /// Takes an event of the main association. DIMSE requests, cancels and the C-STORE
    /// responses of C-GET sub-operations are handled here; every other event is given
    /// back for the caller (association-level events such as release or abort).
    pub fn handle_event(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        event: Event,
    ) -> Option<Event> {
        let incoming = match event {
            Event::Message(incoming) => incoming,
            Event::StoreStarted(m) => {
                self.start_streamed_store(assoc, *m);
                return None;
            }
            Event::StoreFragment {
                message_id,
                data,
                last,
                ..
            } => {
                self.streamed_fragment(assoc, now, message_id, data, last);
                return None;
            }
            other => {
                if let Event::Aborted(_) | Event::Closed = other {
                    self.incoming_store = None;
                    self.abandon(now);
                }
                return Some(other);
            }
        };
        let IncomingMessage {
            context_id,
            message,
            data,
        } = *incoming;
        match message {
            Message::CEchoRq(rq) => {
                let ok = assoc
                    .negotiated()
                    .and_then(|n| n.accepted_context(context_id))
                    .is_some_and(|c| c.abstract_syntax == uids::VERIFICATION);
                let status = if ok {
                    Status::SUCCESS
                } else {
                    Status::SOP_CLASS_NOT_SUPPORTED
                };
                let rsp = Message::CEchoRq(rq).response_with(status);
                self.respond(assoc, now, context_id, rsp, None);
            }
            Message::CCancelRq(c) => {
                let id = c.message_id_being_responded_to;
                // Only an operation in progress can be cancelled; a stray ID kept here
                // would cancel a later request that reuses it.
                let running = self.jobs.iter().any(|job| match job {
                    Job::Find(f) => f.message_id == id,
                    Job::Retrieve(r) => r.message_id == id,
                });
                if running {
                    tracing::info!(id, "C-CANCEL-RQ received");
                    self.cancelled.insert(id);
                } else {
                    tracing::debug!(id, "C-CANCEL-RQ for no operation in progress; ignored");
                }
            }
            Message::CFindRq(rq) => {
                let request = Message::CFindRq(rq.clone());
                if let Err(fail) = self.start_find(assoc, context_id, &rq, data) {
                    let (status, d) = fail;
                    self.respond(
                        assoc,
                        now,
                        context_id,
                        with_detail(request.response_with(status), d),
                        None,
                    );
                }
            }
            Message::CGetRq(ref rq) => {
                let (id, sop, prio) = (
                    rq.message_id,
                    rq.affected_sop_class_uid.clone(),
                    rq.priority,
                );
                self.start_retrieve(
                    assoc,
                    now,
                    RetrieveKind::Get,
                    context_id,
                    &message,
                    id,
                    sop,
                    prio,
                    None,
                    data,
                );
            }
            Message::CMoveRq(ref rq) => {
                let (id, sop, prio) = (
                    rq.message_id,
                    rq.affected_sop_class_uid.clone(),
                    rq.priority,
                );
                let dest = rq.move_destination.clone();
                self.start_retrieve(
                    assoc,
                    now,
                    RetrieveKind::Move,
                    context_id,
                    &message,
                    id,
                    sop,
                    prio,
                    Some(dest),
                    data,
                );
            }
            Message::CStoreRq(rq) => {
                let (status, d) = self.store_whole(assoc, context_id, &rq, data);
                let rsp = reply::with_detail(Message::CStoreRq(rq).response_with(status), d);
                self.respond(assoc, now, context_id, rsp, None);
            }
            Message::CStoreRsp(rsp) => {
                let id = rsp.message_id_being_responded_to;
                if let Some(Job::Retrieve(job)) = self.jobs.front_mut() {
                    if job.kind == RetrieveKind::Get {
                        job.store_finished(assoc, now, id, rsp.status);
                    }
                }
            }
            other => {
                tracing::debug!(message = %other, "message not handled by the SCP");
                return Some(Event::Message(Box::new(IncomingMessage {
                    context_id,
                    message: other,
                    data,
                })));
            }
        }
        None
    }

    /// Answers a request finally outside a job: C-ECHO, C-STORE, and a C-FIND, C-GET or
    /// C-MOVE that ends before it starts.
    fn respond(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        context_id: PresentationContextId,
        response: Option<Message>,
        data: Option<Bytes>,
    ) {
        let Some(response) = response else { return };
        if let Some(id) = response.responded_to() {
            if response.status().is_some_and(|s| !s.is_pending()) {
                self.cancelled.remove(&id);
            }
        }
        send_final(&mut self.outcomes, assoc, now, context_id, response, data);
    }

    /// Advances the operations in progress: produces responses while the association's
    /// outgoing queue has room. Call it after each batch of events and after sending.
    pub fn poll(&mut self, assoc: &mut Association, now: Instant) {
        if matches!(assoc.state(), State::Idle | State::AwaitingTransportClose) {
            // The association is over (aborted, or closed): no response can be sent, so
            // the queue never fills and a C-FIND would run its handler's results to the
            // end for nothing, stalling the caller. Drop the finds; retrieves wind their
            // sub-associations down on their own.
            self.jobs.retain(|job| !matches!(job, Job::Find(_)));
        }
        while assoc.queued_messages() < MAX_QUEUED_MESSAGES {
            let Some(job) = self.jobs.front_mut() else {
                return;
            };
            let finished = match job {
                Job::Find(find) => {
                    let cancelled = self.cancelled.remove(&find.message_id);
                    find.step(assoc, now, cancelled, &mut self.outcomes)
                }
                Job::Retrieve(r) => {
                    let cancelled = self.cancelled.contains(&r.message_id);
                    match r.step(assoc, now, cancelled, &mut self.outcomes) {
                        Step::Wait => return,
                        Step::Continue => false,
                        Step::Finished => {
                            self.cancelled.remove(&r.message_id);
                            true
                        }
                    }
                }
            };
            if finished {
                if let Some(Job::Retrieve(mut r)) = self.jobs.pop_front() {
                    if let Some(mut sub) = r.sub.take() {
                        if sub.association.release(now).is_err() {
                            let _ = sub.association.abort(now);
                        }
                        self.finished_subs.push(sub);
                    }
                }
            }
        }
    }

    /// Operations stop when the association ends; sub-associations are aborted.
    fn abandon(&mut self, now: Instant) {
        for job in self.jobs.drain(..) {
            if let Job::Retrieve(mut r) = job {
                if let Some(mut sub) = r.sub.take() {
                    let _ = sub.association.abort(now);
                    self.finished_subs.push(sub);
                }
            }
        }
        self.cancelled.clear();
    }
}

/// The peer's AE title, for the handlers' requests.
fn calling_ae(assoc: &Association) -> AeTitle {
    assoc
        .negotiated()
        .map(|n| n.calling_ae_title)
        .or_else(|| AeTitle::new("UNKNOWN").ok())
        .unwrap_or_else(|| unreachable!("UNKNOWN is a valid AE title"))
}
