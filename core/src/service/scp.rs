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

use std::any::Any;
use std::collections::{HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;

use super::dataset::{self, DataSetError};
use super::model::{self, InformationModel};
use super::provider::{
    Destination, FindHandler, FindItem, FindRequest, FindResults, HandlerError, MoveDestinations,
    Reply, RetrieveHandler, RetrieveItem, RetrieveRequest, StoreHandler, StoreRequest, StoreStart,
};
use super::streamed::{StoreEnd, StreamedStore};
use super::uids;
use crate::dimse::{
    self, CFindRsp, CStoreRq, IncomingMessage, Message, MessageId, Priority, RetrieveRsp, Service,
    Status, StatusDetail, SubOperations,
};
use crate::pdu::{AeTitle, AsyncOperationsWindow, PresentationContextId, Uid};
use crate::ul::{
    AcceptOptions, Association, AssociationConfig, AssociationRequest, Event, Negotiated,
    ProposedContext, RejectReason, State,
};

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

enum Job {
    Find(FindJob),
    Retrieve(Box<RetrieveJob>),
}

struct FindJob {
    context_id: PresentationContextId,
    message_id: MessageId,
    sop_class_uid: String,
    service: Service,
    transfer_syntax: Uid,
    results: FindResults,
    pending: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetrieveKind {
    Get,
    Move,
}

#[derive(Debug)]
enum SubState {
    Connecting,
    Associating,
    Ready,
    Failed(String),
}

struct Sub {
    id: SubAssociationId,
    association: Association,
    state: SubState,
    closed: bool,
}

struct RetrieveJob {
    kind: RetrieveKind,
    context_id: PresentationContextId,
    message_id: MessageId,
    sop_class_uid: String,
    priority: Priority,
    items: Box<dyn Iterator<Item = RetrieveItem> + Send>,
    total: u16,
    completed: u16,
    failed: u16,
    warning: u16,
    failed_uids: Vec<String>,
    /// The C-STORE sub-operations sent and not answered yet, in order: each request's
    /// message ID and its instance UID. As many as the asynchronous operations window
    /// of the association they go on lets us invoke, up to [`SUB_OPERATIONS_IN_FLIGHT`].
    awaiting: VecDeque<(MessageId, String)>,
    /// C-MOVE only.
    sub: Option<Sub>,
    originator: Option<(String, MessageId)>,
}

impl RetrieveJob {
    fn service(&self) -> Service {
        match self.kind {
            RetrieveKind::Get => Service::GetHangingProtocol,
            RetrieveKind::Move => Service::MoveHangingProtocol,
        }
    }

    fn done(&self) -> u16 {
        self.completed + self.failed + self.warning
    }

    fn remaining(&self) -> u16 {
        self.total.saturating_sub(self.done())
    }

    fn counts(&self, with_remaining: bool) -> SubOperations {
        SubOperations {
            remaining: with_remaining.then(|| self.remaining()),
            completed: Some(self.completed),
            failed: Some(self.failed),
            warning: Some(self.warning),
        }
    }

    fn fail_one(&mut self, uid: Option<String>) {
        self.failed += 1;
        if let Some(uid) = uid {
            self.failed_uids.push(uid);
        }
    }
}

/// The SCP of one association.
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
}

/// A streamed C-STORE-RQ being received ([`crate::dimse::DimseConfig::stream_store_data`]).
struct IncomingStore {
    context_id: PresentationContextId,
    rq: CStoreRq,
    sink: StreamedStore,
}

impl std::fmt::Debug for Scp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scp")
            .field("jobs", &self.jobs.len())
            .field("handlers", &self.handlers)
            .finish()
    }
}

pub(super) fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

fn detail(comment: impl Into<String>) -> StatusDetail {
    let mut text: String = comment.into();
    // Error Comment is LO: at most 64 characters.
    if text.len() > 64 {
        let mut end = 64;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    StatusDetail {
        error_comment: Some(text),
        ..StatusDetail::default()
    }
}

/// A handler's explicit reply, checked: the status and detail to send, or the
/// implementation-specific failure for a malformed reply.
fn resolve_reply(reply: Reply, service: Service) -> (Status, StatusDetail) {
    let (code, mut d) = match reply {
        Reply::Status(code) => (code, StatusDetail::default()),
        Reply::DataSet(ds) => {
            let Some(code) = ds
                .get(Tag(0x0000, 0x0900))
                .and_then(|e| e.value().to_int::<u16>().ok())
            else {
                tracing::warn!("handler gave a status data set without (0000,0900)");
                return (
                    Status::HANDLER_STATUS_WITHOUT_STATUS_ELEMENT,
                    detail("status data set without Status (0000,0900)"),
                );
            };
            let comment = ds
                .get(Tag(0x0000, 0x0902))
                .and_then(|e| e.value().to_str().ok())
                .map(|s| s.trim().to_owned());
            let offending = ds
                .get(Tag(0x0000, 0x0901))
                .and_then(|e| match e.value().primitive() {
                    Some(PrimitiveValue::Tags(tags)) => Some(tags.to_vec()),
                    _ => None,
                });
            (
                code,
                StatusDetail {
                    offending_element: offending,
                    error_comment: comment,
                    error_id: None,
                },
            )
        }
    };
    let status = Status(code);
    if !status.is_valid_for(service) {
        tracing::warn!(
            code = format_args!("0x{code:04X}"),
            ?service,
            "handler gave a status not valid for the service"
        );
        d = detail(format!("handler status 0x{code:04X} is not valid"));
        return (Status::HANDLER_INVALID_STATUS, d);
    }
    (status, d)
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
                let status = self.store(assoc, context_id, &rq, data);
                let rsp = Message::CStoreRq(rq).response_with(status);
                self.respond(assoc, now, context_id, rsp, None);
            }
            Message::CStoreRsp(rsp) => {
                let id = rsp.message_id_being_responded_to;
                if let Some(Job::Retrieve(job)) = self.jobs.front_mut() {
                    if job.kind == RetrieveKind::Get {
                        Self::store_finished(assoc, now, job, id, rsp.status);
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
        if let Err(e) = assoc.send_response(now, context_id, response, data) {
            tracing::warn!(error = %e, "cannot send response");
        }
    }

    fn start_find(
        &mut self,
        assoc: &Association,
        context_id: PresentationContextId,
        rq: &dimse::CFindRq,
        data: Option<dimse::DataSet>,
    ) -> Result<(), (Status, StatusDetail)> {
        let (service, handler, model): (Service, Option<&Arc<dyn FindHandler>>, &InformationModel) =
            match rq.affected_sop_class_uid.as_str() {
                s if s == uids::MODALITY_WORKLIST_FIND.as_str() => (
                    Service::FindWorklist,
                    self.handlers.worklist.as_ref(),
                    &model::MODALITY_WORKLIST,
                ),
                s if s == uids::HANGING_PROTOCOL_FIND.as_str() => (
                    Service::FindHangingProtocol,
                    self.handlers.hanging_protocol_find.as_ref(),
                    &model::HANGING_PROTOCOL,
                ),
                _ => (Service::FindWorklist, None, &model::MODALITY_WORKLIST),
            };
        let Some(handler) = handler.cloned() else {
            return Err((Status::SOP_CLASS_NOT_SUPPORTED, StatusDetail::default()));
        };
        let Some(data) = data else {
            tracing::warn!("C-FIND-RQ without an identifier");
            return Err((
                Status::FIND_IDENTIFIER_DECODE_FAILED,
                detail("no identifier"),
            ));
        };
        let identifier = dataset::decode(&data).map_err(|e| {
            tracing::warn!(error = %e, "C-FIND identifier does not decode");
            (Status::FIND_IDENTIFIER_DECODE_FAILED, detail(e.to_string()))
        })?;
        let check = model::check_identifier(model, &identifier);
        if let Some(why) = check.invalid {
            tracing::info!(%why, "C-FIND identifier does not fit the model");
            return Err((Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, detail(why)));
        }
        // Keys we do not support for matching are return keys only (0xFF01 pendings).
        let identifier = if check.unsupported.is_empty() {
            identifier
        } else {
            check.matching_query(&identifier)
        };
        let calling = calling_ae(assoc);
        let request = FindRequest {
            calling_ae_title: calling,
            sop_class_uid: &rq.affected_sop_class_uid,
            identifier: &identifier,
        };
        let results = match catch_unwind(AssertUnwindSafe(|| handler.find(&request))) {
            Ok(Ok(results)) => results,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "C-FIND handler failed");
                return Err((Status::FIND_HANDLER_FAILED, detail(e.to_string())));
            }
            Err(p) => {
                let text = panic_text(p.as_ref());
                tracing::error!(panic = %text, "C-FIND handler panicked");
                return Err((
                    Status::FIND_HANDLER_FAILED,
                    detail(format!("handler panicked: {text}")),
                ));
            }
        };
        let pending = if check.unsupported.is_empty() {
            Status::PENDING
        } else {
            tracing::debug!(keys = ?check.unsupported, "optional keys not supported: 0xFF01");
            Status::PENDING_WARNING
        };
        self.jobs.push_back(Job::Find(FindJob {
            context_id,
            message_id: rq.message_id,
            sop_class_uid: rq.affected_sop_class_uid.clone(),
            service,
            transfer_syntax: data.transfer_syntax,
            results,
            pending,
        }));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn start_retrieve(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        kind: RetrieveKind,
        context_id: PresentationContextId,
        request_message: &Message,
        message_id: MessageId,
        sop_class_uid: String,
        priority: Priority,
        move_destination: Option<String>,
        data: Option<dimse::DataSet>,
    ) {
        let (decode_failed, handler_failed, count_missing, count_invalid, expected_sop) = match kind
        {
            RetrieveKind::Get => (
                Status::GET_IDENTIFIER_DECODE_FAILED,
                Status::GET_HANDLER_FAILED,
                Status::GET_INVALID_SUB_OPERATION_COUNT,
                Status::GET_INVALID_SUB_OPERATION_COUNT,
                uids::HANGING_PROTOCOL_GET,
            ),
            RetrieveKind::Move => (
                Status::MOVE_IDENTIFIER_DECODE_FAILED,
                Status::MOVE_HANDLER_FAILED,
                Status::MOVE_NO_DESTINATION_OR_COUNT,
                Status::MOVE_INVALID_SUB_OPERATION_COUNT,
                uids::HANGING_PROTOCOL_MOVE,
            ),
        };
        let fail = |scp: &mut Self, assoc: &mut Association, status: Status, d: StatusDetail| {
            let rsp = with_detail(request_message.response_with(status), d);
            scp.respond(assoc, now, context_id, rsp, None);
        };
        let handler = match &self.handlers.hanging_protocol_retrieve {
            Some(h) if sop_class_uid == expected_sop.as_str() => Arc::clone(h),
            _ => {
                return fail(
                    self,
                    assoc,
                    Status::SOP_CLASS_NOT_SUPPORTED,
                    StatusDetail::default(),
                );
            }
        };
        let Some(data) = data else {
            return fail(self, assoc, decode_failed, detail("no identifier"));
        };
        let identifier = match dataset::decode(&data) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "retrieve identifier does not decode");
                return fail(self, assoc, decode_failed, detail(e.to_string()));
            }
        };
        let uids_requested = match model::check_retrieve_identifier(&identifier) {
            Ok(u) => u,
            Err(why) => {
                tracing::info!(%why, "retrieve identifier does not fit the model");
                return fail(
                    self,
                    assoc,
                    Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
                    detail(why),
                );
            }
        };
        let destination = if kind == RetrieveKind::Move {
            let ae = move_destination.clone().unwrap_or_default();
            let resolved = self
                .handlers
                .move_destinations
                .as_ref()
                .and_then(|d| d.resolve(&ae));
            let Some(dest) = resolved else {
                tracing::info!(destination = %ae, "C-MOVE destination unknown");
                return fail(
                    self,
                    assoc,
                    Status::MOVE_DESTINATION_UNKNOWN,
                    detail(format!("unknown destination {ae}")),
                );
            };
            if !dest.is_valid() {
                tracing::warn!(destination = %ae, address = %dest, "C-MOVE destination address invalid");
                return fail(
                    self,
                    assoc,
                    Status::MOVE_INVALID_DESTINATION_ADDRESS,
                    detail(format!("invalid address {dest}")),
                );
            }
            Some((ae, dest))
        } else {
            None
        };
        let calling = calling_ae(assoc);
        let request = RetrieveRequest {
            calling_ae_title: calling,
            sop_class_uid: &sop_class_uid,
            identifier: &identifier,
            sop_instance_uids: &uids_requested,
            move_destination: move_destination.as_deref(),
        };
        let set = match catch_unwind(AssertUnwindSafe(|| handler.retrieve(&request))) {
            Ok(Ok(set)) => set,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "retrieve handler failed");
                return fail(self, assoc, handler_failed, detail(e.to_string()));
            }
            Err(p) => {
                let text = panic_text(p.as_ref());
                tracing::error!(panic = %text, "retrieve handler panicked");
                return fail(
                    self,
                    assoc,
                    handler_failed,
                    detail(format!("handler panicked: {text}")),
                );
            }
        };
        let total = match set.count {
            None => {
                tracing::warn!("retrieve handler gave no number of sub-operations");
                return fail(
                    self,
                    assoc,
                    count_missing,
                    detail("no number of sub-operations"),
                );
            }
            Some(n) => match u16::try_from(n) {
                Ok(n) => n,
                Err(_) => {
                    tracing::warn!(n, "retrieve handler gave more than 65535 sub-operations");
                    return fail(
                        self,
                        assoc,
                        count_invalid,
                        detail(format!("{n} sub-operations")),
                    );
                }
            },
        };
        if total == 0 {
            let rsp = request_message.response_with(Status::SUCCESS).map(|m| {
                with_counts(
                    m,
                    SubOperations {
                        remaining: None,
                        completed: Some(0),
                        failed: Some(0),
                        warning: Some(0),
                    },
                )
            });
            return self.respond(assoc, now, context_id, rsp, None);
        }
        let mut job = RetrieveJob {
            kind,
            context_id,
            message_id,
            sop_class_uid,
            priority,
            items: set.items,
            total,
            completed: 0,
            failed: 0,
            warning: 0,
            failed_uids: Vec::new(),
            awaiting: VecDeque::new(),
            sub: None,
            originator: None,
        };
        if let Some((ae, dest)) = destination {
            job.originator = Some((calling.as_str().to_owned(), message_id));
            let local = assoc.negotiated().map_or_else(
                || AeTitle::new("DICOMWIRE").unwrap_or(calling),
                |n| n.called_ae_title,
            );
            let called = AeTitle::new(&ae).unwrap_or(local);
            let mut request =
                AssociationRequest::new(local, called).with_context(ProposedContext::new(
                    uids::HANGING_PROTOCOL_STORAGE,
                    uids::uncompressed_transfer_syntaxes(),
                ));
            // We may keep several C-STOREs under way if the destination agrees.
            request.async_operations_window = Some(AsyncOperationsWindow {
                max_operations_invoked: SUB_OPERATIONS_WINDOW,
                max_operations_performed: 1,
            });
            match Association::requestor(now, self.handlers.sub_association_config.clone(), request)
            {
                Ok(association) => {
                    let id = SubAssociationId(self.next_sub);
                    self.next_sub += 1;
                    tracing::info!(destination = %ae, address = %dest, "opening C-MOVE sub-association");
                    self.connects.push_back(ConnectRequest {
                        id,
                        destination: dest,
                    });
                    job.sub = Some(Sub {
                        id,
                        association,
                        state: SubState::Connecting,
                        closed: false,
                    });
                }
                Err(e) => {
                    return fail(
                        self,
                        assoc,
                        Status::MOVE_INVALID_DESTINATION_ADDRESS,
                        detail(e.to_string()),
                    );
                }
            }
        }
        self.jobs.push_back(Job::Retrieve(Box::new(job)));
    }

    fn store(
        &self,
        assoc: &Association,
        context_id: PresentationContextId,
        rq: &CStoreRq,
        data: Option<dimse::DataSet>,
    ) -> Status {
        let negotiated = assoc.negotiated();
        let may_store = negotiated
            .and_then(|n| n.accepted_context(context_id).map(|c| (n, c)))
            .is_some_and(|(n, c)| n.local_is_scp(c));
        let (Some(handler), true) = (&self.handlers.store, may_store) else {
            tracing::info!(sop_class = %rq.affected_sop_class_uid, "C-STORE refused: no SCP role for it");
            return Status::SOP_CLASS_NOT_SUPPORTED;
        };
        let Some(data) = data else {
            return Status::STORE_CANNOT_UNDERSTAND;
        };
        let request = StoreRequest {
            calling_ae_title: calling_ae(assoc),
            sop_class_uid: &rq.affected_sop_class_uid,
            sop_instance_uid: &rq.affected_sop_instance_uid,
            transfer_syntax: &data.transfer_syntax,
            data: &data.bytes,
            move_originator: rq.move_originator_ae_title.as_deref(),
        };
        store_status(catch_unwind(AssertUnwindSafe(|| handler.store(&request))))
    }

    /// Streaming mode: a C-STORE-RQ starts; the store handler is asked for a sink.
    fn start_streamed_store(&mut self, assoc: &Association, incoming: IncomingMessage) {
        let Message::CStoreRq(rq) = incoming.message else {
            tracing::warn!(message = %incoming.message, "streamed message is not a C-STORE-RQ; ignored");
            return;
        };
        let context = assoc
            .negotiated()
            .and_then(|n| n.accepted_context(incoming.context_id).map(|c| (n, c)))
            .filter(|(n, c)| n.local_is_scp(c));
        let sink = match (&self.handlers.store, context) {
            (Some(handler), Some((_, c))) => match c.transfer_syntax.clone() {
                Some(transfer_syntax) => {
                    let start = StoreStart {
                        calling_ae_title: calling_ae(assoc),
                        sop_class_uid: &rq.affected_sop_class_uid,
                        sop_instance_uid: &rq.affected_sop_instance_uid,
                        transfer_syntax: &transfer_syntax,
                        move_originator: rq.move_originator_ae_title.as_deref(),
                    };
                    StreamedStore::begin(
                        handler.as_ref(),
                        &start,
                        Status::STORE_HANDLER_FAILED,
                        assoc.config().dimse.max_store_length,
                    )
                }
                None => StreamedStore::Failed(Status::STORE_CANNOT_UNDERSTAND),
            },
            _ => {
                tracing::info!(sop_class = %rq.affected_sop_class_uid, "C-STORE refused: no SCP role for it");
                StreamedStore::Failed(Status::SOP_CLASS_NOT_SUPPORTED)
            }
        };
        self.incoming_store = Some(IncomingStore {
            context_id: incoming.context_id,
            rq,
            sink,
        });
    }

    /// Streaming mode: a fragment of the data set; after the last, the C-STORE-RSP.
    fn streamed_fragment(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        message_id: MessageId,
        data: Bytes,
        last: bool,
    ) {
        let Some(mut incoming) = self
            .incoming_store
            .take()
            .filter(|i| i.rq.message_id == message_id)
        else {
            tracing::debug!(message_id, "fragment of no C-STORE in progress; ignored");
            return;
        };
        incoming.sink = incoming.sink.take(data, Status::STORE_HANDLER_FAILED);
        if !last {
            self.incoming_store = Some(incoming);
            return;
        }
        let IncomingStore {
            context_id,
            rq,
            sink,
        } = incoming;
        let status = match sink.end() {
            StoreEnd::Finished(result) => store_status(result),
            StoreEnd::Gathered(data) => self.store(assoc, context_id, &rq, Some(data)),
            StoreEnd::Failed(status) => status,
        };
        let rsp = Message::CStoreRq(rq).response_with(status);
        self.respond(assoc, now, context_id, rsp, None);
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
                    Self::step_find(assoc, now, find, cancelled)
                }
                Job::Retrieve(r) => {
                    let cancelled = self.cancelled.contains(&r.message_id);
                    match Self::step_retrieve(assoc, now, r, cancelled) {
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

    /// Returns true when the find job is over.
    fn step_find(
        assoc: &mut Association,
        now: Instant,
        job: &mut FindJob,
        cancelled: bool,
    ) -> bool {
        let request_rsp = |status: Status, d: StatusDetail| {
            Message::CFindRsp(CFindRsp {
                message_id_being_responded_to: job.message_id,
                affected_sop_class_uid: Some(job.sop_class_uid.clone()),
                status,
                detail: d,
            })
        };
        let send = |assoc: &mut Association, m: Message, data: Option<Bytes>| {
            if let Err(e) = assoc.send_response(now, job.context_id, m, data) {
                tracing::warn!(error = %e, "cannot send C-FIND-RSP");
            }
        };
        if cancelled {
            tracing::info!(id = job.message_id, "C-FIND cancelled");
            send(
                assoc,
                request_rsp(Status::CANCEL, StatusDetail::default()),
                None,
            );
            return true;
        }
        let item = match catch_unwind(AssertUnwindSafe(|| job.results.next())) {
            Ok(item) => item,
            Err(p) => {
                let text = panic_text(p.as_ref());
                tracing::error!(panic = %text, "C-FIND handler panicked");
                send(
                    assoc,
                    request_rsp(
                        Status::FIND_HANDLER_FAILED,
                        detail(format!("handler panicked: {text}")),
                    ),
                    None,
                );
                return true;
            }
        };
        let (status, identifier) = match item {
            None => {
                send(
                    assoc,
                    request_rsp(Status::SUCCESS, StatusDetail::default()),
                    None,
                );
                return true;
            }
            Some(FindItem::Match(obj)) => (job.pending, obj),
            Some(FindItem::PendingWith(code, obj)) if Status(code).is_pending() => {
                if !Status(code).is_valid_for(job.service) {
                    send(
                        assoc,
                        request_rsp(
                            Status::HANDLER_INVALID_STATUS,
                            detail("invalid pending status"),
                        ),
                        None,
                    );
                    return true;
                }
                (Status(code), obj)
            }
            Some(FindItem::PendingWith(code, _)) => {
                let (status, d) = resolve_reply(Reply::Status(code), job.service);
                send(assoc, request_rsp(status, d), None);
                return true;
            }
            Some(FindItem::Reply(reply)) => {
                let (status, d) = resolve_reply(reply, job.service);
                if status.is_pending() {
                    // A pending response must carry its identifier.
                    tracing::warn!("C-FIND handler gave a pending status without an identifier");
                    send(
                        assoc,
                        request_rsp(
                            Status::FIND_IDENTIFIER_ENCODE_FAILED,
                            detail("pending status without identifier"),
                        ),
                        None,
                    );
                } else {
                    send(assoc, request_rsp(status, d), None);
                }
                return true;
            }
        };
        match dataset::encode(&identifier, job.transfer_syntax.as_str()) {
            Ok(bytes) => {
                send(
                    assoc,
                    request_rsp(status, StatusDetail::default()),
                    Some(bytes),
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "C-FIND handler's identifier does not encode");
                send(
                    assoc,
                    request_rsp(Status::FIND_IDENTIFIER_ENCODE_FAILED, detail(e.to_string())),
                    None,
                );
                true
            }
        }
    }

    fn step_retrieve(
        assoc: &mut Association,
        now: Instant,
        job: &mut RetrieveJob,
        cancelled: bool,
    ) -> Step {
        if job.awaiting.len() >= Self::sub_operations_window(assoc, job) {
            return Step::Wait;
        }
        if let Some(sub) = &job.sub {
            match &sub.state {
                SubState::Connecting | SubState::Associating => return Step::Wait,
                SubState::Ready => {}
                SubState::Failed(why) => {
                    tracing::warn!(%why, "C-MOVE sub-association failed; remaining sub-operations fail");
                    let why = why.clone();
                    for (_, uid) in std::mem::take(&mut job.awaiting) {
                        job.fail_one(Some(uid));
                    }
                    // Every sub-operation not done fails (PS3.4 C.4.2.3.1: A702 if all did).
                    while job.remaining() > 0 {
                        job.failed += 1;
                    }
                    for item in job.items.by_ref().take(usize::from(job.total)) {
                        if let RetrieveItem::Instance(i) = item {
                            job.failed_uids.push(i.sop_instance_uid);
                        }
                    }
                    Self::finish_retrieve(assoc, now, job, None, detail(why));
                    return Step::Finished;
                }
            }
        }
        if cancelled && !job.awaiting.is_empty() {
            // The sub-operations under way finish first; none is started.
            return Step::Wait;
        }
        if cancelled {
            tracing::info!(id = job.message_id, "retrieve cancelled");
            Self::finish_retrieve(
                assoc,
                now,
                job,
                Some(Status::CANCEL),
                StatusDetail::default(),
            );
            return Step::Finished;
        }
        if job.remaining() == 0 {
            Self::finish_retrieve(assoc, now, job, None, StatusDetail::default());
            return Step::Finished;
        }
        if usize::from(job.remaining()) <= job.awaiting.len() {
            // Every sub-operation is under way.
            return Step::Wait;
        }
        let item = match catch_unwind(AssertUnwindSafe(|| job.items.next())) {
            Ok(item) => item,
            Err(p) => {
                let text = panic_text(p.as_ref());
                tracing::error!(panic = %text, "retrieve handler panicked");
                let status = match job.kind {
                    RetrieveKind::Get => Status::GET_HANDLER_FAILED,
                    RetrieveKind::Move => Status::MOVE_HANDLER_FAILED,
                };
                job.failed += job.remaining();
                Self::finish_retrieve(
                    assoc,
                    now,
                    job,
                    Some(status),
                    detail(format!("handler panicked: {text}")),
                );
                return Step::Finished;
            }
        };
        match item {
            None => {
                // Fewer items than announced: the rest failed.
                tracing::warn!(missing = job.remaining(), "retrieve handler ended early");
                job.failed += job.remaining();
                Self::finish_retrieve(assoc, now, job, None, StatusDetail::default());
                Step::Finished
            }
            Some(RetrieveItem::Failed(uid)) => {
                job.fail_one(uid);
                Self::send_pending(assoc, now, job);
                Step::Continue
            }
            Some(RetrieveItem::Reply(reply)) => {
                let (status, d) = resolve_reply(reply, job.service());
                if status.is_pending() {
                    // A pending result without a data set is a failed sub-operation.
                    tracing::warn!("retrieve handler gave a pending status without an instance");
                    job.fail_one(None);
                    Self::send_pending(assoc, now, job);
                    return Step::Continue;
                }
                if status.is_failure() {
                    job.failed += job.remaining();
                }
                Self::finish_retrieve(assoc, now, job, Some(status), d);
                Step::Finished
            }
            Some(RetrieveItem::Instance(instance)) => {
                Self::start_store(assoc, now, job, instance);
                Step::Continue
            }
        }
    }

    /// Sends one C-STORE sub-operation, on the main association (C-GET) or the
    /// sub-association (C-MOVE).
    fn start_store(
        assoc: &mut Association,
        now: Instant,
        job: &mut RetrieveJob,
        instance: super::provider::Instance,
    ) {
        let target: &mut Association = match &mut job.sub {
            Some(sub) => &mut sub.association,
            None => assoc,
        };
        let Some((ctx, ts)) = target
            .negotiated()
            .and_then(|n| storage_context(n, &instance.sop_class_uid))
        else {
            tracing::warn!(sop_class = %instance.sop_class_uid, uid = %instance.sop_instance_uid, "no storage context we may use as SCU; sub-operation failed");
            job.fail_one(Some(instance.sop_instance_uid));
            Self::send_pending(assoc, now, job);
            return;
        };
        let data = if ts == instance.transfer_syntax {
            Ok(instance.data.clone())
        } else {
            transcode(&instance, &ts)
        };
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, uid = %instance.sop_instance_uid, "cannot transcode; sub-operation failed");
                job.fail_one(Some(instance.sop_instance_uid));
                Self::send_pending(assoc, now, job);
                return;
            }
        };
        let (originator_ae, originator_id) = match &job.originator {
            Some((ae, id)) => (Some(ae.clone()), Some(*id)),
            None => (None, None),
        };
        let rq = Message::CStoreRq(CStoreRq {
            message_id: 0,
            affected_sop_class_uid: instance.sop_class_uid.clone(),
            affected_sop_instance_uid: instance.sop_instance_uid.clone(),
            priority: job.priority,
            move_originator_ae_title: originator_ae,
            move_originator_message_id: originator_id,
        });
        match target.send_request(now, ctx, rq, Some(data)) {
            Ok(id) => job.awaiting.push_back((id, instance.sop_instance_uid)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot send C-STORE sub-operation");
                job.fail_one(Some(instance.sop_instance_uid));
                Self::send_pending(assoc, now, job);
            }
        }
    }

    /// How many C-STORE sub-operations of `job` may be under way at once: what the
    /// asynchronous operations window of the association they go on lets us invoke (0
    /// there is unlimited), at most [`SUB_OPERATIONS_IN_FLIGHT`]. Without a window
    /// negotiated, one.
    fn sub_operations_window(assoc: &Association, job: &RetrieveJob) -> usize {
        let target = job.sub.as_ref().map_or(assoc, |s| &s.association);
        match target.negotiated().map(|n| n.max_invoked_by_us()) {
            Some(0) => SUB_OPERATIONS_IN_FLIGHT,
            Some(n) => usize::from(n).min(SUB_OPERATIONS_IN_FLIGHT),
            None => 1,
        }
    }

    /// The C-STORE-RSP to sub-operation `id` arrived (one not under way is ignored).
    fn store_finished(
        assoc: &mut Association,
        now: Instant,
        job: &mut RetrieveJob,
        id: MessageId,
        status: Status,
    ) {
        let Some(at) = job.awaiting.iter().position(|(a, _)| *a == id) else {
            return;
        };
        let Some((_, uid)) = job.awaiting.remove(at) else {
            return;
        };
        if status.is_success() {
            job.completed += 1;
        } else if status.is_warning() {
            job.warning += 1;
        } else {
            tracing::info!(status = %format_args!("0x{:04X}", status.0), %uid, "C-STORE sub-operation failed");
            job.fail_one(Some(uid));
        }
        Self::send_pending(assoc, now, job);
    }

    fn send_pending(assoc: &mut Association, now: Instant, job: &RetrieveJob) {
        if job.remaining() == 0 {
            // The final response follows at once; PS3.4 asks pendings only while work remains.
            return;
        }
        let rsp = retrieve_rsp(
            job,
            Status::PENDING,
            job.counts(true),
            StatusDetail::default(),
        );
        if let Err(e) = assoc.send_response(now, job.context_id, rsp, None) {
            tracing::warn!(error = %e, "cannot send pending response");
        }
    }

    fn finish_retrieve(
        assoc: &mut Association,
        now: Instant,
        job: &mut RetrieveJob,
        status: Option<Status>,
        d: StatusDetail,
    ) {
        let status = status.unwrap_or(if job.failed == 0 && job.warning == 0 {
            Status::SUCCESS
        } else if job.failed > 0 && job.failed == job.total {
            Status::OUT_OF_RESOURCES_SUB_OPERATIONS
        } else {
            Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES
        });
        // Remaining only in a cancel's final response (PS3.4 C.4.2.3.1).
        let counts = job.counts(status.is_cancel());
        let identifier = if job.failed_uids.is_empty() {
            None
        } else {
            let mut obj = InMemDicomObject::new_empty();
            obj.put(DataElement::new(
                Tag(0x0008, 0x0058),
                VR::UI,
                PrimitiveValue::Strs(job.failed_uids.iter().cloned().collect()),
            ));
            let ts = assoc
                .negotiated()
                .and_then(|n| n.accepted_context(job.context_id))
                .and_then(|c| c.transfer_syntax.clone())
                .unwrap_or(uids::IMPLICIT_VR_LITTLE_ENDIAN);
            dataset::encode(&obj, ts.as_str()).ok()
        };
        tracing::info!(
            status = %format_args!("0x{:04X}", status.0),
            completed = job.completed,
            failed = job.failed,
            warning = job.warning,
            "retrieve finished"
        );
        let rsp = retrieve_rsp(job, status, counts, d);
        if let Err(e) = assoc.send_response(now, job.context_id, rsp, identifier) {
            tracing::warn!(error = %e, "cannot send final response");
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

    // ------------------------------------------------------------------------------
    // C-MOVE sub-associations

    /// The next sub-association the transport should open a connection for.
    pub fn poll_connect(&mut self) -> Option<ConnectRequest> {
        self.connects.pop_front()
    }

    fn sub_mut(&mut self, id: SubAssociationId) -> Option<&mut Sub> {
        self.jobs
            .iter_mut()
            .filter_map(|j| match j {
                Job::Retrieve(r) => r.sub.as_mut(),
                Job::Find(_) => None,
            })
            .chain(self.finished_subs.iter_mut())
            .find(|s| s.id == id)
    }

    /// The sub-association `id`, for the transport to move its bytes and time.
    pub fn sub_association(&mut self, id: SubAssociationId) -> Option<&mut Association> {
        self.sub_mut(id).map(|s| &mut s.association)
    }

    /// The ids of the open sub-associations.
    pub fn sub_association_ids(&self) -> Vec<SubAssociationId> {
        self.jobs
            .iter()
            .filter_map(|j| match j {
                Job::Retrieve(r) => r.sub.as_ref().map(|s| s.id),
                Job::Find(_) => None,
            })
            .chain(self.finished_subs.iter().map(|s| s.id))
            .collect()
    }

    /// The transport connected the sub-association.
    pub fn sub_connected(&mut self, id: SubAssociationId, now: Instant) {
        if let Some(sub) = self.sub_mut(id) {
            if sub.association.handle_transport_connected(now).is_ok() {
                sub.state = SubState::Associating;
            }
        }
    }

    /// The transport could not connect the sub-association.
    pub fn sub_connect_failed(&mut self, id: SubAssociationId, now: Instant, why: &str) {
        if let Some(sub) = self.sub_mut(id) {
            tracing::warn!(%why, "C-MOVE destination unreachable");
            sub.state = SubState::Failed(format!("destination unreachable: {why}"));
            let _ = sub.association.abort(now);
            sub.closed = true;
        }
        self.finished_subs.retain(|s| !(s.id == id && s.closed));
    }

    /// Drains the sub-association's events and acts on them; then advances the job.
    /// Returns false once the sub-association is over and can be forgotten.
    pub fn handle_sub_events(
        &mut self,
        main: &mut Association,
        id: SubAssociationId,
        now: Instant,
    ) -> bool {
        let mut store_results: Vec<(MessageId, Status)> = Vec::new();
        let mut alive = true;
        if let Some(sub) = self.sub_mut(id) {
            while let Some(event) = sub.association.poll_event() {
                match event {
                    Event::Established(n) => {
                        let usable = n.accepted().any(|c| n.local_is_scu(c));
                        sub.state = if usable {
                            SubState::Ready
                        } else {
                            SubState::Failed(format!(
                                "destination accepted no storage context: {}",
                                n.rejected_summary()
                            ))
                        };
                    }
                    Event::Rejected(r) => sub.state = SubState::Failed(format!("destination {r}")),
                    Event::Aborted(a) => {
                        if matches!(
                            sub.state,
                            SubState::Ready | SubState::Connecting | SubState::Associating
                        ) {
                            sub.state = SubState::Failed(a.to_string());
                        }
                    }
                    Event::Message(m) => {
                        if let Message::CStoreRsp(rsp) = m.message {
                            store_results.push((rsp.message_id_being_responded_to, rsp.status));
                        }
                    }
                    Event::ReleaseRequested { .. } => {
                        let _ = sub.association.release_response(now);
                    }
                    Event::Closed => {
                        sub.closed = true;
                        alive = false;
                        if matches!(
                            sub.state,
                            SubState::Ready | SubState::Connecting | SubState::Associating
                        ) {
                            sub.state =
                                SubState::Failed("the destination closed the connection".into());
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(Job::Retrieve(job)) = self.jobs.front_mut() {
            if job.sub.as_ref().is_some_and(|s| s.id == id) {
                for (message_id, status) in store_results {
                    Self::store_finished(main, now, job, message_id, status);
                }
            }
        }
        // A sub-association that dies with stores outstanding fails those sub-operations.
        if let Some(Job::Retrieve(job)) = self.jobs.front_mut() {
            if job
                .sub
                .as_ref()
                .is_some_and(|s| s.id == id && matches!(s.state, SubState::Failed(_)))
            {
                for (_, uid) in std::mem::take(&mut job.awaiting) {
                    job.fail_one(Some(uid));
                }
            }
        }
        self.finished_subs.retain(|s| !s.closed);
        self.poll(main, now);
        alive
    }
}

enum Step {
    Wait,
    Continue,
    Finished,
}

/// The C-STORE-RSP status for what a store handler (or its sink) gave, as caught by
/// `catch_unwind` (`Err` is a panic's payload).
fn store_status(
    result: Result<Result<u16, HandlerError>, Box<dyn std::any::Any + Send>>,
) -> Status {
    match result {
        Ok(Ok(code)) if Status(code).is_valid_for(Service::Store) => Status(code),
        Ok(Ok(code)) => {
            tracing::warn!(
                code = format_args!("0x{code:04X}"),
                "C-STORE handler gave a status not valid for C-STORE"
            );
            Status::HANDLER_INVALID_STATUS
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "C-STORE handler failed");
            Status::STORE_HANDLER_FAILED
        }
        Err(p) => {
            tracing::error!(panic = %panic_text(p.as_ref()), "C-STORE handler panicked");
            Status::STORE_HANDLER_FAILED
        }
    }
}

fn calling_ae(assoc: &Association) -> AeTitle {
    assoc
        .negotiated()
        .map(|n| n.calling_ae_title)
        .or_else(|| AeTitle::new("UNKNOWN").ok())
        .unwrap_or_else(|| unreachable!("UNKNOWN is a valid AE title"))
}

fn with_detail(message: Option<Message>, d: StatusDetail) -> Option<Message> {
    message.map(|m| match m {
        Message::CFindRsp(mut r) => {
            r.detail = d;
            Message::CFindRsp(r)
        }
        Message::CGetRsp(mut r) => {
            r.detail = d;
            Message::CGetRsp(r)
        }
        Message::CMoveRsp(mut r) => {
            r.detail = d;
            Message::CMoveRsp(r)
        }
        Message::CStoreRsp(mut r) => {
            r.detail = d;
            Message::CStoreRsp(r)
        }
        Message::CEchoRsp(mut r) => {
            r.detail = d;
            Message::CEchoRsp(r)
        }
        other => other,
    })
}

fn with_counts(message: Message, counts: SubOperations) -> Message {
    match message {
        Message::CGetRsp(mut r) => {
            r.sub_operations = counts;
            Message::CGetRsp(r)
        }
        Message::CMoveRsp(mut r) => {
            r.sub_operations = counts;
            Message::CMoveRsp(r)
        }
        other => other,
    }
}

fn retrieve_rsp(
    job: &RetrieveJob,
    status: Status,
    counts: SubOperations,
    d: StatusDetail,
) -> Message {
    let rsp = RetrieveRsp {
        message_id_being_responded_to: job.message_id,
        affected_sop_class_uid: Some(job.sop_class_uid.clone()),
        status,
        sub_operations: counts,
        detail: d,
    };
    match job.kind {
        RetrieveKind::Get => Message::CGetRsp(rsp),
        RetrieveKind::Move => Message::CMoveRsp(rsp),
    }
}

/// An accepted context for `sop_class` on which we may act as SCU, and its transfer syntax.
fn storage_context(n: &Negotiated, sop_class: &str) -> Option<(PresentationContextId, Uid)> {
    n.accepted()
        .filter(|c| c.abstract_syntax.as_str() == sop_class && n.local_is_scu(c))
        .find_map(|c| c.transfer_syntax.clone().map(|ts| (c.id, ts)))
}

fn transcode(instance: &super::provider::Instance, to: &Uid) -> Result<Bytes, DataSetError> {
    let object = dataset::decode(&dimse::DataSet {
        transfer_syntax: instance.transfer_syntax.clone(),
        bytes: instance.data.clone(),
    })?;
    dataset::encode(&object, to.as_str())
}
