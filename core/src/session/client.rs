//! [`ScuSession`]: one client association with a queue of operations, no IO.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicom_object::InMemDicomObject;
use thiserror::Error;

use crate::dimse::{DataSetReader, Status};
use crate::pdu::{AeTitle, Uid};
use crate::service::StoreHandler;
use crate::service::scu::{
    EchoScu, FindProgress, FindScu, RetrieveProgress, RetrieveScu, ScuError, StoreScu,
};
use crate::service::uids;
use crate::ul::{
    Aborted, ApiMisuse, Association, AssociationConfig, AssociationRequest, ConfigError, Event,
    Negotiated, Rejected, SendQueue, State, Timer, Transmit,
};

/// While this many events wait in [`ScuSession::poll_event`], the session takes no input:
/// a user who does not take matches slows the peer down rather than growing a queue.
pub const MAX_UNTAKEN_EVENTS: usize = 64;

/// An operation submitted to a [`ScuSession`] (unique within the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(u64);

impl OpId {
    /// Its number: 1 for the first operation submitted, then counting up.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op{}", self.0)
    }
}

/// An operation for a client association to run.
#[non_exhaustive]
pub enum Operation {
    /// C-ECHO.
    Echo,
    /// C-FIND with `identifier` on the information model `sop_class`.
    Find {
        /// Modality Worklist or Hanging Protocol FIND.
        sop_class: Uid,
        /// The query.
        identifier: InMemDicomObject,
    },
    /// C-GET: the instances arrive as C-STORE sub-operations on this association and go
    /// to `store`, called from whatever drives the session.
    Get {
        /// Hanging Protocol GET.
        sop_class: Uid,
        /// What to retrieve.
        identifier: InMemDicomObject,
        /// Where the instances go.
        store: Arc<dyn StoreHandler>,
    },
    /// C-STORE of one instance, its data set sent as it is read (or from memory, see
    /// [`DataSetReader::from_bytes`]), on an accepted context for its SOP class and
    /// transfer syntax (nothing is transcoded).
    Store {
        /// The SOP class (a storage SOP class, or Hanging Protocol Storage).
        sop_class: Uid,
        /// The instance.
        sop_instance_uid: String,
        /// The transfer syntax `data` is encoded in.
        transfer_syntax: Uid,
        /// The data set (without a Part 10 header).
        data: DataSetReader,
    },
    /// C-MOVE to `destination`.
    Move {
        /// Hanging Protocol MOVE.
        sop_class: Uid,
        /// What to retrieve.
        identifier: InMemDicomObject,
        /// The AE title the SCP sends the instances to.
        destination: AeTitle,
    },
}

impl Operation {
    /// Modality Worklist C-FIND.
    pub fn worklist_find(identifier: InMemDicomObject) -> Self {
        Self::Find {
            sop_class: uids::MODALITY_WORKLIST_FIND,
            identifier,
        }
    }

    /// Hanging Protocol C-FIND.
    pub fn hanging_protocol_find(identifier: InMemDicomObject) -> Self {
        Self::Find {
            sop_class: uids::HANGING_PROTOCOL_FIND,
            identifier,
        }
    }

    /// Hanging Protocol C-GET into `store`.
    pub fn hanging_protocol_get(
        identifier: InMemDicomObject,
        store: Arc<dyn StoreHandler>,
    ) -> Self {
        Self::Get {
            sop_class: uids::HANGING_PROTOCOL_GET,
            identifier,
            store,
        }
    }

    /// Hanging Protocol C-MOVE to `destination`.
    pub fn hanging_protocol_move(identifier: InMemDicomObject, destination: AeTitle) -> Self {
        Self::Move {
            sop_class: uids::HANGING_PROTOCOL_MOVE,
            identifier,
            destination,
        }
    }

    /// Its DIMSE service, in words.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Echo => "C-ECHO",
            Self::Find { .. } => "C-FIND",
            Self::Get { .. } => "C-GET",
            Self::Store { .. } => "C-STORE",
            Self::Move { .. } => "C-MOVE",
        }
    }
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Echo => f.write_str("Echo"),
            Self::Find { sop_class, .. } => f
                .debug_struct("Find")
                .field("sop_class", sop_class)
                .finish(),
            Self::Get { sop_class, .. } => {
                f.debug_struct("Get").field("sop_class", sop_class).finish()
            }
            Self::Store {
                sop_class,
                sop_instance_uid,
                transfer_syntax,
                data,
            } => f
                .debug_struct("Store")
                .field("sop_class", sop_class)
                .field("sop_instance_uid", sop_instance_uid)
                .field("transfer_syntax", transfer_syntax)
                .field("len", &data.len())
                .finish(),
            Self::Move {
                sop_class,
                destination,
                ..
            } => f
                .debug_struct("Move")
                .field("sop_class", sop_class)
                .field("destination", destination)
                .finish(),
        }
    }
}

/// Why a client association or one of its operations failed, or why a call was refused.
/// Every transport reports its clients' failures with it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be opened (refused, unreachable, no such host...).
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The TCP connection did not open within the connect timeout.
    #[error("cannot connect: no answer within {0:?}")]
    ConnectTimeout(Duration),
    /// The peer rejected the association (result, source and reason in words).
    #[error("{0}")]
    Rejected(Rejected),
    /// The association was aborted: by the peer, for a protocol violation, a transport
    /// that closed, or a timer ([`Aborted::Timeout`]: no response in time, say).
    #[error("{0}")]
    Aborted(Aborted),
    /// We aborted, because [`ScuSession::abort`] was called.
    #[error("aborted at our request")]
    LocalAbort,
    /// The association was established but the peer accepted no presentation context;
    /// we aborted.
    #[error("the peer accepted no presentation context we can use: {0}")]
    NoAcceptedContext(String),
    /// The peer released the association (we did not ask).
    #[error("the peer released the association")]
    ReleasedByPeer,
    /// The association ended without a reason from the upper layer.
    #[error("the association closed")]
    Closed,
    /// The association ended before the operation finished (the session's `Closed`
    /// event says why).
    #[error("the association ended before the operation finished")]
    Ended,
    /// The operation was cancelled before it started.
    #[error("cancelled before it started")]
    Cancelled,
    /// The session is shutting down: queued operations are dropped, new ones refused.
    #[error("shutting down")]
    ShuttingDown,
    /// The operation could not start (no accepted context for it, an identifier that
    /// does not encode, ...).
    #[error(transparent)]
    Scu(#[from] ScuError),
    /// A call the association refused.
    #[error(transparent)]
    Misuse(#[from] ApiMisuse),
    /// The association request or configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The transport failed to read, write or register the socket.
    #[error("network error: {0}")]
    Io(io::Error),
    /// A transport that runs several client associations was given an id it does not
    /// know (it never existed, or its `Closed` event was taken).
    #[error("no such client association")]
    UnknownClient,
    /// No operation with that id is running or queued (or it cannot be cancelled).
    #[error("no such operation to cancel")]
    UnknownOperation,
    /// The association takes no more operations: it is being released or has ended.
    #[error("the association takes no more operations")]
    NotAccepting,
}

/// What happened to a client association, in the order it happened: `Established`
/// (unless it never was), progress of the operations in the order they were submitted,
/// then `Closed`, always, exactly once.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The association is established, with what was negotiated.
    Established(Box<Negotiated>),
    /// A C-ECHO finished with this status.
    Echo {
        /// The operation.
        op: OpId,
        /// The C-ECHO-RSP status.
        status: Status,
    },
    /// A C-STORE finished with this status.
    Store {
        /// The operation.
        op: OpId,
        /// The C-STORE-RSP status.
        status: Status,
        /// Its Error Comment and friends.
        detail: crate::dimse::StatusDetail,
    },
    /// A C-FIND progressed: a match, or its end ([`FindProgress::Finished`]).
    Find {
        /// The operation.
        op: OpId,
        /// What arrived.
        progress: FindProgress,
    },
    /// A C-GET or C-MOVE progressed: an instance stored, a pending response, or its end
    /// ([`RetrieveProgress::Finished`]).
    Retrieve {
        /// The operation.
        op: OpId,
        /// What arrived.
        progress: RetrieveProgress,
    },
    /// An operation could not start, was cancelled before it started, or was cut short
    /// by the end of the association.
    OperationFailed {
        /// The operation.
        op: OpId,
        /// Why.
        error: ClientError,
    },
    /// The association is over: `Ok(())` after a release (ours, after the queue, or the
    /// idle timeout's), otherwise why it ended. The last event of the session.
    Closed(Result<(), ClientError>),
}

impl ClientEvent {
    /// The operation the event belongs to, if it belongs to one.
    pub fn op(&self) -> Option<OpId> {
        match self {
            Self::Echo { op, .. }
            | Self::Store { op, .. }
            | Self::Find { op, .. }
            | Self::Retrieve { op, .. }
            | Self::OperationFailed { op, .. } => Some(*op),
            Self::Established(_) | Self::Closed(_) => None,
        }
    }

    /// Whether it is the last event of its operation: its final response, or its
    /// failure.
    pub fn ends_operation(&self) -> bool {
        match self {
            Self::Echo { .. } | Self::Store { .. } | Self::OperationFailed { .. } => true,
            Self::Find { progress, .. } => matches!(progress, FindProgress::Finished { .. }),
            Self::Retrieve { progress, .. } => {
                matches!(progress, RetrieveProgress::Finished { .. })
            }
            Self::Established(_) | Self::Closed(_) => false,
        }
    }
}

/// What an operation ended with, gathered from its events with [`add`](Self::add).
#[derive(Debug, Clone, PartialEq)]
pub struct OperationResult {
    /// The final status (0xC000 until the final response arrives).
    pub status: Status,
    /// Error Comment and friends of the final response.
    pub detail: crate::dimse::StatusDetail,
    /// C-FIND: the matches that arrived (pending responses with an identifier).
    pub matches: usize,
    /// C-GET, C-MOVE: the final counts.
    pub sub_operations: crate::dimse::SubOperations,
    /// C-GET, C-MOVE: the Failed SOP Instance UID List of the final response.
    pub failed_sop_instance_uids: Vec<String>,
    /// C-GET: instances received and not refused.
    pub received: usize,
}

impl Default for OperationResult {
    fn default() -> Self {
        Self {
            status: Status::UNABLE_TO_PROCESS,
            detail: crate::dimse::StatusDetail::default(),
            matches: 0,
            sub_operations: crate::dimse::SubOperations::default(),
            failed_sop_instance_uids: Vec::new(),
            received: 0,
        }
    }
}

impl OperationResult {
    /// Adds one event of the operation; true once it was the last.
    pub fn add(&mut self, event: &ClientEvent) -> bool {
        match event {
            ClientEvent::Echo { status, .. } => self.status = *status,
            ClientEvent::Store { status, detail, .. } => {
                self.status = *status;
                self.detail = detail.clone();
            }
            ClientEvent::Find { progress, .. } => match progress {
                FindProgress::Match { .. } => self.matches += 1,
                FindProgress::Finished { status, detail } => {
                    self.status = *status;
                    self.detail = detail.clone();
                }
                _ => {}
            },
            ClientEvent::Retrieve { progress, .. } => match progress {
                RetrieveProgress::Stored { status, .. } if !status.is_failure() => {
                    self.received += 1;
                }
                RetrieveProgress::Finished {
                    status,
                    sub_operations,
                    failed_sop_instance_uids,
                    detail,
                } => {
                    self.status = *status;
                    self.sub_operations = *sub_operations;
                    self.failed_sop_instance_uids
                        .clone_from(failed_sop_instance_uids);
                    self.detail = detail.clone();
                }
                _ => {}
            },
            _ => {}
        }
        event.ends_operation()
    }
}

/// An operation in progress.
enum Running {
    Echo(EchoScu),
    Store(StoreScu),
    Find(FindScu),
    Retrieve(Box<RetrieveScu>),
}

/// Where a client association is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The transport connection is being opened.
    Connecting,
    /// A-ASSOCIATE-RQ sent (or about to be); waiting for the answer.
    Associating,
    /// Established: operations run.
    Ready,
    /// The `Closed` event was produced.
    Ended,
}

/// One client association, in a Sans-IO session: the [`Association`], a queue of
/// [`Operation`]s run one after the other once it is established, cancel, release after
/// the queue, abort. Every decision of a client is here; a transport moves bytes and
/// time for it and hands its [`ClientEvent`]s to the user.
///
/// # Driving it
///
/// - **inputs**: [`handle_transport_connected`](Self::handle_transport_connected) (or
///   [`handle_transport_connect_failed`](Self::handle_transport_connect_failed)),
///   [`handle_input`](Self::handle_input), [`handle_transport_closed`](Self::handle_transport_closed),
///   [`handle_timeout`](Self::handle_timeout);
/// - **verbs**: [`submit`](Self::submit), [`cancel`](Self::cancel),
///   [`release`](Self::release), [`abort`](Self::abort), [`shutdown`](Self::shutdown);
/// - **outputs**: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout), and
///   [`should_close_transport`](Self::should_close_transport).
///
/// After every input or verb: `poll_transmit` until `None` (write what it gave),
/// `poll_event` until `None`, then `poll_timeout`; close the transport once
/// `should_close_transport` is true and what was written has gone; drop the session once
/// [`is_finished`](Self::is_finished). Every timer of a client is the association's (see
/// [`Timer`]): the connect timeout, the A-ASSOCIATE and A-RELEASE responses, the DIMSE
/// response to the running operation, and the idle timeout, after which an association
/// with nothing queued is released.
///
/// # Backpressure
///
/// [`handle_input`](Self::handle_input) takes less than it is given while
/// [`MAX_UNTAKEN_EVENTS`] events wait to be taken: keep the rest, and offer it again once
/// [`wants_read`](Self::wants_read) is true (after taking events). Output is produced as
/// `poll_transmit` is called: a transport whose socket is full stops calling it.
pub struct ScuSession {
    assoc: Association,
    phase: Phase,
    queue: VecDeque<(OpId, Operation)>,
    running: Option<(OpId, Running)>,
    next_op: u64,
    release_asked: bool,
    release_sent: bool,
    /// The association was released (by us, after the queue or the idle timeout).
    released: bool,
    /// The transport was asked to close ([`Session::poll_close`](super::Session::poll_close)).
    close_given: bool,
    /// The first reason the association is ending.
    error: Option<ClientError>,
    events: VecDeque<ClientEvent>,
}

impl fmt::Debug for ScuSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScuSession")
            .field("state", &self.assoc.state())
            .field("phase", &self.phase)
            .field("queued", &self.queue.len())
            .field("running", &self.running.as_ref().map(|(op, _)| *op))
            .field("events", &self.events.len())
            .finish()
    }
}

impl ScuSession {
    /// A session that will propose `request` once its transport connection is open
    /// (Sta4, the connect timer running: the transport connects now, and says how it
    /// went).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `request` or `config` is invalid.
    pub fn new(
        now: Instant,
        config: AssociationConfig,
        request: AssociationRequest,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            assoc: Association::requestor(now, config, request)?,
            phase: Phase::Connecting,
            queue: VecDeque::new(),
            running: None,
            next_op: 1,
            release_asked: false,
            release_sent: false,
            released: false,
            close_given: false,
            error: None,
            events: VecDeque::new(),
        })
    }

    // ----------------------------------------------------------------------------------
    // Getters

    /// The association (for its state and what was negotiated).
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// What was negotiated, once established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.assoc.negotiated()
    }

    /// Whether the session takes input now.
    pub fn wants_read(&self) -> bool {
        self.assoc.wants_read() && self.events.len() < MAX_UNTAKEN_EVENTS
    }

    /// Whether bytes wait to be taken with [`poll_transmit`](Self::poll_transmit).
    pub fn wants_write(&self) -> bool {
        self.assoc.wants_write()
    }

    /// Whether the transport should be closed once what was taken is written.
    pub fn should_close_transport(&self) -> bool {
        self.assoc.should_close_transport() || self.assoc.state() == State::Idle
    }

    /// Whether the session is over: its `Closed` event was produced and taken, and
    /// nothing is left to send.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Ended && self.events.is_empty() && !self.assoc.wants_write()
    }

    /// How many operations are queued or running.
    pub fn operations(&self) -> usize {
        self.queue.len() + usize::from(self.running.is_some())
    }

    // ----------------------------------------------------------------------------------
    // Verbs

    /// Queues `operation`; it runs after the operations queued before it, once the
    /// association is established.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotAccepting`] once the session is being released or has ended.
    pub fn submit(&mut self, operation: Operation) -> Result<OpId, ClientError> {
        if self.phase == Phase::Ended || self.release_asked || self.error.is_some() {
            return Err(ClientError::NotAccepting);
        }
        let op = OpId(self.next_op);
        self.next_op += 1;
        tracing::debug!(%op, operation = operation.name(), "queued");
        self.queue.push_back((op, operation));
        Ok(op)
    }

    /// Cancels `op`: a C-FIND, C-GET or C-MOVE in progress gets a C-CANCEL-RQ (its final
    /// response, normally 0xFE00, still follows as progress); an operation still queued
    /// is dropped and reported failed with [`ClientError::Cancelled`].
    ///
    /// # Errors
    ///
    /// [`ClientError::UnknownOperation`] when `op` is neither running nor queued, or is
    /// a C-ECHO.
    pub fn cancel(&mut self, now: Instant, op: OpId) -> Result<(), ClientError> {
        if let Some(i) = self.queue.iter().position(|(o, _)| *o == op) {
            self.queue.remove(i);
            self.events.push_back(ClientEvent::OperationFailed {
                op,
                error: ClientError::Cancelled,
            });
            return Ok(());
        }
        match &self.running {
            Some((o, Running::Find(find))) if *o == op => Ok(find.cancel(&mut self.assoc, now)?),
            Some((o, Running::Retrieve(r))) if *o == op => Ok(r.cancel(&mut self.assoc, now)?),
            _ => Err(ClientError::UnknownOperation),
        }
    }

    /// Releases once the queue is done (A-RELEASE-RQ); the `Closed` event then carries
    /// `Ok(())`.
    pub fn release(&mut self, now: Instant) {
        self.release_asked = true;
        self.advance(now);
    }

    /// Aborts now (A-ABORT, or only closing a transport connection not yet open);
    /// operations running or queued fail, and the `Closed` event carries
    /// [`ClientError::LocalAbort`].
    pub fn abort(&mut self, now: Instant) {
        if self.phase == Phase::Ended {
            return;
        }
        self.fail(ClientError::LocalAbort);
        if let Err(e) = self.assoc.abort(now) {
            tracing::debug!(error = %e, "abort refused");
        }
        self.drain(now);
    }

    /// Shutting down: what is queued is dropped ([`ClientError::ShuttingDown`]); the
    /// running operation finishes, then the association is released.
    pub fn shutdown(&mut self, now: Instant) {
        while let Some((op, _)) = self.queue.pop_front() {
            self.events.push_back(ClientEvent::OperationFailed {
                op,
                error: ClientError::ShuttingDown,
            });
        }
        self.release(now);
    }

    // ----------------------------------------------------------------------------------
    // Inputs

    /// The transport connection opened: the A-ASSOCIATE-RQ is queued.
    pub fn handle_transport_connected(&mut self, now: Instant) {
        if self.phase != Phase::Connecting {
            return;
        }
        match self.assoc.handle_transport_connected(now) {
            Ok(()) => self.phase = Phase::Associating,
            // Aborted before the connection opened: closing it is all that is left.
            Err(e) => tracing::debug!(error = %e, "transport connected too late"),
        }
        self.drain(now);
    }

    /// The transport connection could not be opened.
    pub fn handle_transport_connect_failed(&mut self, now: Instant, error: io::Error) {
        if self.phase != Phase::Connecting {
            return;
        }
        self.fail(ClientError::Connect(error));
        let _ = self.assoc.abort(now);
        self.drain(now);
    }

    /// The transport connection closed.
    pub fn handle_transport_closed(&mut self, now: Instant) {
        self.assoc.handle_transport_closed(now);
        if self.phase == Phase::Connecting {
            let _ = self.assoc.abort(now);
        }
        self.drain(now);
    }

    /// Bytes from the transport; returns how many were taken. Fewer than given while
    /// events wait to be taken: offer the rest again once [`wants_read`](Self::wants_read).
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NoTransport`] before the transport connection opened.
    pub fn handle_input(&mut self, now: Instant, input: &Bytes) -> Result<usize, ApiMisuse> {
        let mut taken = 0;
        while taken < input.len() {
            if self.events.len() >= MAX_UNTAKEN_EVENTS {
                // The peer is not at fault while our user holds input back.
                self.assoc.note_activity(now);
                break;
            }
            let rest = input.slice(taken..);
            let n = self.assoc.handle_input_shared(now, &rest)?;
            taken += n;
            let before = self.events.len();
            self.drain(now);
            if n == 0 && self.events.len() == before {
                break;
            }
        }
        Ok(taken)
    }

    /// Fires the timers due at `now`. While input is held back because events wait to
    /// be taken, the peer is not at fault: the DIMSE and idle timers count from now.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.events.len() >= MAX_UNTAKEN_EVENTS {
            self.assoc.note_activity(now);
        }
        self.assoc.handle_timeout(now);
        self.drain(now);
    }

    // ----------------------------------------------------------------------------------
    // Outputs

    /// Appends the next PDU to `out` (data set fragments by reference).
    pub fn poll_transmit(&mut self, now: Instant, out: &mut SendQueue) -> Option<Transmit> {
        let sent = self.assoc.poll_transmit_queue(now, out);
        if !self.assoc.wants_write() {
            // A release waiting for the queue to drain, or an operation whose request
            // just went out: nothing else moves on its own.
            self.drain(now);
        }
        sent.or_else(|| self.assoc.poll_transmit_queue(now, out))
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// [`LinkId::MAIN`](super::LinkId::MAIN), once, when the transport should close the
    /// connection (what was taken with `poll_transmit` is written first): the
    /// [`Session`](super::Session) form of
    /// [`should_close_transport`](Self::should_close_transport).
    pub fn poll_close(&mut self) -> Option<super::LinkId> {
        let due = !self.close_given && self.should_close_transport() && !self.assoc.wants_write();
        due.then(|| {
            self.close_given = true;
            super::LinkId::MAIN
        })
    }

    /// Whether the close was asked for with [`poll_close`](Self::poll_close).
    pub(crate) fn is_closing_done(&self) -> bool {
        self.close_given
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Ended {
            return None;
        }
        self.assoc.poll_timeout()
    }

    // ----------------------------------------------------------------------------------
    // Inside

    /// Serves the association's events and starts what is due, until nothing moves.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while self.phase != Phase::Ended && self.events.len() < MAX_UNTAKEN_EVENTS {
                let Some(event) = self.assoc.poll_event() else {
                    break;
                };
                moved = true;
                self.on_event(event, now);
            }
            moved |= self.advance(now);
            if !moved {
                return;
            }
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Established(negotiated) => {
                if negotiated.accepted().next().is_none() {
                    self.fail(ClientError::NoAcceptedContext(
                        negotiated.rejected_summary(),
                    ));
                    let _ = self.assoc.abort(now);
                    return;
                }
                tracing::info!(called = %negotiated.called_ae_title, accepted = negotiated.accepted().count(), "association established");
                self.phase = Phase::Ready;
                self.events.push_back(ClientEvent::Established(negotiated));
            }
            Event::Rejected(r) => self.fail(ClientError::Rejected(r)),
            Event::Aborted(Aborted::Timeout(Timer::Connect)) => {
                self.fail(ClientError::ConnectTimeout(
                    self.assoc.config().connect_timeout,
                ));
            }
            Event::Aborted(a) => self.fail(ClientError::Aborted(a)),
            Event::ReleaseRequested { .. } => {
                if !self.release_sent {
                    self.fail(ClientError::ReleasedByPeer);
                }
                // Answered as the state table says (AR-4, or AR-9 in a collision).
                if let Err(e) = self.assoc.release_response(now) {
                    tracing::debug!(error = %e, "release response refused");
                }
            }
            Event::Released => self.released = true,
            Event::Closed => self.end(),
            other => self.give_to_operation(other, now),
        }
    }

    /// Gives an event to the running operation.
    fn give_to_operation(&mut self, event: Event, now: Instant) {
        let Some((op, mut running)) = self.running.take() else {
            tracing::debug!(event = ?event, "event with no operation running; ignored");
            return;
        };
        let (event, finished) = match &mut running {
            Running::Echo(echo) => match echo.handle(event) {
                Ok(status) => (ClientEvent::Echo { op, status }, true),
                Err(other) => return self.ignored(op, running, &other),
            },
            Running::Store(store) => match store.handle(event) {
                Ok((status, detail)) => (ClientEvent::Store { op, status, detail }, true),
                Err(other) => return self.ignored(op, running, &other),
            },
            Running::Find(find) => match find.handle(event) {
                Ok(progress) => {
                    let finished = matches!(progress, FindProgress::Finished { .. });
                    (ClientEvent::Find { op, progress }, finished)
                }
                Err(other) => return self.ignored(op, running, &other),
            },
            Running::Retrieve(retrieve) => match retrieve.handle(&mut self.assoc, now, event) {
                Ok(progress) => {
                    let finished = matches!(progress, RetrieveProgress::Finished { .. });
                    (ClientEvent::Retrieve { op, progress }, finished)
                }
                Err(other) => return self.ignored(op, running, &other),
            },
        };
        self.events.push_back(event);
        if !finished {
            self.running = Some((op, running));
        }
    }

    fn ignored(&mut self, op: OpId, running: Running, event: &Event) {
        tracing::debug!(?event, %op, "event not for the running operation; ignored");
        self.running = Some((op, running));
    }

    /// Starts the next queued operation, or the release; returns whether anything moved.
    fn advance(&mut self, now: Instant) -> bool {
        if self.phase != Phase::Ready || self.running.is_some() || self.error.is_some() {
            return false;
        }
        if let Some((op, operation)) = self.queue.pop_front() {
            tracing::debug!(%op, operation = operation.name(), "starting");
            match self.start(now, operation) {
                Ok(running) => self.running = Some((op, running)),
                Err(e) => self.events.push_back(ClientEvent::OperationFailed {
                    op,
                    error: e.into(),
                }),
            }
            return true;
        }
        if self.release_asked && !self.release_sent {
            self.release_sent = true;
            if let Err(e) = self.assoc.release(now) {
                tracing::debug!(error = %e, "release refused");
            }
            return true;
        }
        false
    }

    fn start(&mut self, now: Instant, operation: Operation) -> Result<Running, ScuError> {
        let assoc = &mut self.assoc;
        Ok(match operation {
            Operation::Echo => Running::Echo(EchoScu::start(assoc, now)?),
            Operation::Store {
                sop_class,
                sop_instance_uid,
                transfer_syntax,
                data,
            } => Running::Store(StoreScu::start(
                assoc,
                now,
                &sop_class,
                &sop_instance_uid,
                &transfer_syntax,
                data,
            )?),
            Operation::Find {
                sop_class,
                identifier,
            } => Running::Find(FindScu::start(assoc, now, &sop_class, &identifier)?),
            Operation::Get {
                sop_class,
                identifier,
                store,
            } => Running::Retrieve(Box::new(RetrieveScu::get(
                assoc,
                now,
                &sop_class,
                &identifier,
                store,
            )?)),
            Operation::Move {
                sop_class,
                identifier,
                destination,
            } => Running::Retrieve(Box::new(RetrieveScu::move_to(
                assoc,
                now,
                &sop_class,
                &identifier,
                &destination,
            )?)),
        })
    }

    /// Records the first reason the association ends.
    fn fail(&mut self, error: ClientError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// The association is over: fail what is left and say how it ended.
    fn end(&mut self) {
        if self.phase == Phase::Ended {
            return;
        }
        let cut_short = self.running.take().map(|(op, _)| op).into_iter();
        let queued: Vec<OpId> = self.queue.drain(..).map(|(op, _)| op).collect();
        for op in cut_short.chain(queued) {
            self.events.push_back(ClientEvent::OperationFailed {
                op,
                error: ClientError::Ended,
            });
        }
        let outcome = match self.error.take() {
            Some(e) => Err(e),
            None if self.released => Ok(()),
            None => Err(ClientError::Closed),
        };
        match &outcome {
            Ok(()) => tracing::debug!("released"),
            Err(e) => tracing::info!(error = %e, "client association ended"),
        }
        self.phase = Phase::Ended;
        self.events.push_back(ClientEvent::Closed(outcome));
    }
}
