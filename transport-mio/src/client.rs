//! Outgoing (SCU) associations on the event loop: their public vocabulary and the
//! per-association driver.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dicom_object::InMemDicomObject;
use dicomwire::dimse::Status;
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::service::StoreHandler;
use dicomwire::service::scu::{
    EchoScu, FindProgress, FindScu, RetrieveProgress, RetrieveScu, ScuError,
};
use dicomwire::service::uids;
use dicomwire::ul::{
    Aborted, ApiMisuse, Association, AssociationConfig, AssociationRequest, ConfigError, Event,
    Negotiated, ReadBuffers, Rejected,
};
use mio::{Registry, Token};
use thiserror::Error;

use crate::conn::ROUNDS_PER_TURN;
use crate::connect::{Connected, Connecting};
use crate::pipe::Pipe;

/// While this many events of one client association wait in the loop's queue, the
/// association stops taking input.
pub(crate) const MAX_UNDELIVERED_EVENTS: usize = 64;

/// How a client association connects and waits.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The association settings (limits, timers, implementation identity).
    pub config: AssociationConfig,
    /// How long the TCP connection may take to open.
    pub connect_timeout: Duration,
    /// How long an operation may wait for its next message before the association is
    /// aborted.
    pub dimse_timeout: Duration,
}

impl Default for ClientOptions {
    /// The default association settings, 10 s to connect, 60 s per DIMSE message.
    fn default() -> Self {
        Self {
            config: AssociationConfig::default(),
            connect_timeout: Duration::from_secs(10),
            dimse_timeout: Duration::from_secs(60),
        }
    }
}

/// A client association of an [`EventLoop`](crate::EventLoop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub(crate) u64);

/// An operation submitted to a client association (unique within the association).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub(crate) u64);

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
    /// to `store`, on the loop thread.
    Get {
        /// Hanging Protocol GET.
        sop_class: Uid,
        /// What to retrieve.
        identifier: InMemDicomObject,
        /// Where the instances go.
        store: Arc<dyn StoreHandler>,
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

    fn name(&self) -> &'static str {
        match self {
            Self::Echo => "C-ECHO",
            Self::Find { .. } => "C-FIND",
            Self::Get { .. } => "C-GET",
            Self::Move { .. } => "C-MOVE",
        }
    }
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Echo => f.write_str("Echo"),
            Self::Find { sop_class, .. } => f
                .debug_struct("Find")
                .field("sop_class", sop_class)
                .finish(),
            Self::Get { sop_class, .. } => {
                f.debug_struct("Get").field("sop_class", sop_class).finish()
            }
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
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be opened (refused, unreachable, ...).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where to.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The TCP connection did not open within the connect timeout.
    #[error("cannot connect to {addr}: no answer within {after:?}")]
    ConnectTimeout {
        /// Where to.
        addr: SocketAddr,
        /// The connect timeout.
        after: Duration,
    },
    /// The peer rejected the association (result, source and reason in words).
    #[error("{0}")]
    Rejected(Rejected),
    /// The association was aborted: by the peer, for a protocol violation, a transport
    /// that closed, or a timer of the upper layer.
    #[error("{0}")]
    Aborted(Aborted),
    /// We aborted, because [`EventLoop::abort`](crate::EventLoop::abort) asked.
    #[error("aborted at our request")]
    LocalAbort,
    /// The association was established but the peer accepted no presentation context
    /// we can use; we aborted.
    #[error("the peer accepted no presentation context we can use: {0}")]
    NoAcceptedContext(String),
    /// The peer released the association (we did not ask).
    #[error("the peer released the association")]
    ReleasedByPeer,
    /// The association ended without a reason from the upper layer.
    #[error("the association closed")]
    Closed,
    /// An operation waited longer than the DIMSE timeout for its next message; we
    /// aborted.
    #[error("no response within {0:?}; association aborted")]
    Timeout(Duration),
    /// The association ended before the operation finished (its `Closed` event says
    /// why).
    #[error("the association ended before the operation finished")]
    Ended,
    /// The operation was cancelled before it started.
    #[error("cancelled before it started")]
    Cancelled,
    /// The loop is shutting down: queued operations are dropped, new ones refused.
    #[error("the event loop is shutting down")]
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
    /// Registering the socket with the loop failed.
    #[error("event loop error: {0}")]
    Io(io::Error),
    /// No such client association (it never existed, or its `Closed` event was given).
    #[error("no such client association")]
    UnknownClient,
    /// No such operation running or queued that could be cancelled.
    #[error("no such operation to cancel")]
    UnknownOperation,
    /// The association takes no more operations: it is being released or has ended.
    #[error("the association takes no more operations")]
    NotAccepting,
}

/// What happened to a client association of an [`EventLoop`](crate::EventLoop).
#[derive(Debug)]
pub struct ClientEvent {
    /// Which association.
    pub client: ClientId,
    /// What happened.
    pub kind: ClientEventKind,
}

/// What happened, in the order it happened: `Established` (unless the association never
/// was), progress of the operations in the order they were submitted, then `Closed`,
/// always, once.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEventKind {
    /// The association is established, with what was negotiated.
    Established(Box<Negotiated>),
    /// A C-ECHO finished with this status.
    Echo {
        /// The operation.
        op: OpId,
        /// The C-ECHO-RSP status.
        status: Status,
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
    /// The association is over: `Ok(())` after the release we asked for, otherwise why
    /// it ended. The last event of the association.
    Closed(Result<(), ClientError>),
}

/// An operation in progress.
enum Running {
    Echo(EchoScu),
    Find(FindScu),
    Retrieve(Box<RetrieveScu>),
}

/// Where a client association is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The TCP connection is being opened.
    Connecting,
    /// A-ASSOCIATE-RQ sent (or about to be); waiting for the answer.
    Associating,
    /// Established: operations run.
    Ready,
    /// The `Closed` event was produced.
    Ended,
}

/// What the loop gives a client association to be driven.
pub(crate) struct ClientCtx<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) buffers: &'a mut ReadBuffers,
    pub(crate) events: &'a mut VecDeque<ClientEvent>,
}

/// One outgoing association: its socket, its association, its operations.
pub(crate) struct ClientConn {
    id: ClientId,
    addr: SocketAddr,
    /// `None` when the connect failed at once.
    pipe: Option<Pipe>,
    connecting: Option<Connecting>,
    /// Why the connect failed at once, reported on the first drive.
    failed_at_once: Option<io::Error>,
    assoc: Association,
    options: ClientOptions,
    phase: Phase,
    queue: VecDeque<(OpId, Operation)>,
    running: Option<(OpId, Running)>,
    next_op: u64,
    /// When the running operation gives up waiting for its next message.
    op_deadline: Option<Instant>,
    release_asked: bool,
    release_sent: bool,
    /// The first reason the association is ending.
    error: Option<ClientError>,
    /// Events given to the loop's queue and not yet taken.
    undelivered: usize,
}

impl ClientConn {
    /// Creates the association and starts the TCP connect.
    pub(crate) fn start(
        id: ClientId,
        addr: SocketAddr,
        request: AssociationRequest,
        options: ClientOptions,
        registry: &Registry,
        token: Token,
    ) -> Result<Self, ClientError> {
        let now = Instant::now();
        let assoc = Association::requestor(now, options.config.clone(), request)?;
        let (pipe, connecting, failed_at_once) =
            match Connecting::start(addr, registry, token, now, options.connect_timeout) {
                Ok((pipe, connecting)) => (Some(pipe), Some(connecting), None),
                Err(e) => (None, None, Some(e)),
            };
        tracing::debug!(%addr, client = id.0, "connecting");
        Ok(Self {
            id,
            addr,
            pipe,
            connecting,
            failed_at_once,
            assoc,
            options,
            phase: Phase::Connecting,
            queue: VecDeque::new(),
            running: None,
            next_op: 1,
            op_deadline: None,
            release_asked: false,
            release_sent: false,
            error: None,
            undelivered: 0,
        })
    }

    pub(crate) fn id(&self) -> ClientId {
        self.id
    }

    /// A readiness event for the socket.
    pub(crate) fn ready(&mut self, readable: bool) {
        if let Some(pipe) = &mut self.pipe {
            pipe.readable |= readable;
        }
    }

    /// One of its events was taken from the loop's queue. Returns true when it had been
    /// holding input back and may read again.
    pub(crate) fn delivered(&mut self) -> bool {
        let was_held = self.held();
        self.undelivered = self.undelivered.saturating_sub(1);
        if was_held && !self.held() {
            // The DIMSE timeout was suspended while we held input back; it starts over.
            if self.op_deadline.is_some() {
                self.op_deadline = Some(Instant::now() + self.options.dimse_timeout);
            }
            return true;
        }
        false
    }

    fn held(&self) -> bool {
        self.undelivered >= MAX_UNDELIVERED_EVENTS
    }

    pub(crate) fn submit(&mut self, operation: Operation) -> Result<OpId, ClientError> {
        if self.phase == Phase::Ended || self.release_asked || self.error.is_some() {
            return Err(ClientError::NotAccepting);
        }
        let op = OpId(self.next_op);
        self.next_op += 1;
        tracing::debug!(
            client = self.id.0,
            op = op.0,
            operation = operation.name(),
            "queued"
        );
        self.queue.push_back((op, operation));
        Ok(op)
    }

    pub(crate) fn cancel(
        &mut self,
        op: OpId,
        events: &mut VecDeque<ClientEvent>,
    ) -> Result<(), ClientError> {
        if let Some(i) = self.queue.iter().position(|(o, _)| *o == op) {
            self.queue.remove(i);
            self.emit(
                events,
                ClientEventKind::OperationFailed {
                    op,
                    error: ClientError::Cancelled,
                },
            );
            return Ok(());
        }
        let now = Instant::now();
        match &self.running {
            Some((o, Running::Find(find))) if *o == op => Ok(find.cancel(&mut self.assoc, now)?),
            Some((o, Running::Retrieve(r))) if *o == op => Ok(r.cancel(&mut self.assoc, now)?),
            _ => Err(ClientError::UnknownOperation),
        }
    }

    /// Release once the queue is done.
    pub(crate) fn release(&mut self) {
        self.release_asked = true;
    }

    /// Abort now.
    pub(crate) fn abort(&mut self) {
        if self.phase == Phase::Ended {
            return;
        }
        self.fail(ClientError::LocalAbort);
        if self.phase == Phase::Connecting {
            // Nothing was said on the wire yet: closing the socket is the whole abort.
            self.connecting = None;
            if let Some(pipe) = &mut self.pipe {
                pipe.closed = true;
            }
            return;
        }
        if let Err(e) = self.assoc.abort(Instant::now()) {
            tracing::debug!(error = %e, "abort refused");
        }
    }

    /// The loop shuts down: drop what is queued, release after what runs.
    pub(crate) fn shutdown(&mut self, events: &mut VecDeque<ClientEvent>) {
        while let Some((op, _)) = self.queue.pop_front() {
            self.emit(
                events,
                ClientEventKind::OperationFailed {
                    op,
                    error: ClientError::ShuttingDown,
                },
            );
        }
        self.release_asked = true;
    }

    /// The earliest deadline: the connect timeout, the association's timers, the
    /// running operation's DIMSE timeout (suspended while input is held back).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.phase == Phase::Ended {
            return None;
        }
        if self.failed_at_once.is_some() {
            return Some(Instant::now());
        }
        let mut earliest = self.assoc.poll_timeout();
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                earliest = Some(earliest.map_or(d, |e| e.min(d)));
            }
        };
        consider(self.connecting.as_ref().map(Connecting::deadline));
        if !self.held() {
            consider(self.op_deadline);
        }
        earliest
    }

    /// Whether it is over and can be dropped.
    pub(crate) fn finished(&self) -> bool {
        self.phase == Phase::Ended && self.pipe.as_ref().is_none_or(Pipe::is_flushed)
    }

    /// Deregisters and closes the socket.
    pub(crate) fn close(mut self, registry: &Registry) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.set_interest(registry, None);
            let _ = pipe.stream.shutdown(std::net::Shutdown::Both);
        }
        tracing::debug!(addr = %self.addr, client = self.id.0, "client association dropped");
    }

    /// Moves bytes, events and time until nothing moves or the round budget is spent;
    /// then makes the registration follow the association. Returns true when work is
    /// left for another turn.
    pub(crate) fn drive(&mut self, ctx: &mut ClientCtx<'_>) -> bool {
        let now = Instant::now();
        if self.phase == Phase::Connecting && !self.finish_connect(now, ctx) {
            return false;
        }
        self.assoc.handle_timeout(now);
        if !self.held() && self.op_deadline.is_some_and(|d| now >= d) {
            tracing::warn!(client = self.id.0, timeout = ?self.options.dimse_timeout, "no response in time; aborting");
            self.op_deadline = None;
            self.fail(ClientError::Timeout(self.options.dimse_timeout));
            let _ = self.assoc.abort(now);
        }
        let mut more = true;
        for _ in 0..ROUNDS_PER_TURN {
            if !self.round(ctx) {
                more = false;
                break;
            }
        }
        let held = self.held();
        if let Some(pipe) = &mut self.pipe {
            pipe.held = held;
            if let Err(e) = pipe.update_interest(ctx.registry, &self.assoc) {
                tracing::warn!(error = %e, "registration failed; dropping the client association");
                self.fail(ClientError::Io(e));
                self.end(ctx.events);
                return false;
            }
        }
        more
    }

    /// Checks the TCP connect; returns whether the association may go on.
    fn finish_connect(&mut self, now: Instant, ctx: &mut ClientCtx<'_>) -> bool {
        if let Some(source) = self.failed_at_once.take() {
            self.fail(ClientError::Connect {
                addr: self.addr,
                source,
            });
            self.end(ctx.events);
            return false;
        }
        let (Some(connecting), Some(pipe)) = (&self.connecting, &mut self.pipe) else {
            // Aborted while connecting.
            self.end(ctx.events);
            return false;
        };
        match connecting.check(pipe, now) {
            None => false,
            Some(Connected::Open) => {
                self.connecting = None;
                self.phase = Phase::Associating;
                tracing::debug!(addr = %self.addr, client = self.id.0, "connected");
                if let Err(e) = self.assoc.handle_transport_connected(now) {
                    self.fail(e.into());
                    self.end(ctx.events);
                    return false;
                }
                true
            }
            Some(Connected::Failed(source)) => {
                self.fail(ClientError::Connect {
                    addr: self.addr,
                    source,
                });
                self.end(ctx.events);
                false
            }
            Some(Connected::TimedOut(after)) => {
                self.fail(ClientError::ConnectTimeout {
                    addr: self.addr,
                    after,
                });
                self.end(ctx.events);
                false
            }
        }
    }

    /// One round; returns whether anything moved.
    fn round(&mut self, ctx: &mut ClientCtx<'_>) -> bool {
        let held = self.held();
        let Some(pipe) = &mut self.pipe else {
            return false;
        };
        pipe.held = held;
        let mut moved = pipe.receive(&mut self.assoc, ctx.buffers);
        let now = Instant::now();
        while !self.held() && self.phase != Phase::Ended {
            let Some(event) = self.assoc.poll_event() else {
                break;
            };
            moved = true;
            self.on_event(event, now, ctx.events);
        }
        if self.phase != Phase::Ended {
            moved |= self.advance(now, ctx.events);
        }
        // Even once ended: what was taken from the association still goes out.
        if let Some(pipe) = &mut self.pipe {
            moved |= pipe.send(&mut self.assoc);
        }
        moved
    }

    fn on_event(&mut self, event: Event, now: Instant, events: &mut VecDeque<ClientEvent>) {
        match event {
            Event::Established(negotiated) => {
                if negotiated.accepted().next().is_none() {
                    self.fail(ClientError::NoAcceptedContext(
                        negotiated.rejected_summary(),
                    ));
                    let _ = self.assoc.abort(now);
                    return;
                }
                tracing::info!(addr = %self.addr, client = self.id.0, called = %negotiated.called_ae_title, accepted = negotiated.accepted().count(), "association established");
                self.phase = Phase::Ready;
                self.emit(events, ClientEventKind::Established(negotiated));
            }
            Event::Rejected(r) => self.fail(ClientError::Rejected(r)),
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
            Event::Released => {}
            Event::Closed => self.end(events),
            other => self.give_to_operation(other, now, events),
        }
    }

    /// Gives an event to the running operation.
    fn give_to_operation(
        &mut self,
        event: Event,
        now: Instant,
        events: &mut VecDeque<ClientEvent>,
    ) {
        let Some((op, mut running)) = self.running.take() else {
            tracing::debug!(event = ?event, "event with no operation running; ignored");
            return;
        };
        let (kind, finished) = match &mut running {
            Running::Echo(echo) => match echo.handle(event) {
                Ok(status) => (ClientEventKind::Echo { op, status }, true),
                Err(other) => {
                    tracing::debug!(event = ?other, "event ignored during C-ECHO");
                    self.running = Some((op, running));
                    return;
                }
            },
            Running::Find(find) => match find.handle(event) {
                Ok(progress) => {
                    let finished = matches!(progress, FindProgress::Finished { .. });
                    (ClientEventKind::Find { op, progress }, finished)
                }
                Err(other) => {
                    tracing::debug!(event = ?other, "event ignored during C-FIND");
                    self.running = Some((op, running));
                    return;
                }
            },
            Running::Retrieve(retrieve) => match retrieve.handle(&mut self.assoc, now, event) {
                Ok(progress) => {
                    let finished = matches!(progress, RetrieveProgress::Finished { .. });
                    (ClientEventKind::Retrieve { op, progress }, finished)
                }
                Err(other) => {
                    tracing::debug!(event = ?other, "event ignored during retrieve");
                    self.running = Some((op, running));
                    return;
                }
            },
        };
        self.emit(events, kind);
        if finished {
            self.op_deadline = None;
        } else {
            self.running = Some((op, running));
            self.op_deadline = Some(now + self.options.dimse_timeout);
        }
    }

    /// Starts the next queued operation, or the release; returns whether anything moved.
    fn advance(&mut self, now: Instant, events: &mut VecDeque<ClientEvent>) -> bool {
        if self.phase != Phase::Ready || self.running.is_some() || self.error.is_some() {
            return false;
        }
        if let Some((op, operation)) = self.queue.pop_front() {
            tracing::debug!(
                client = self.id.0,
                op = op.0,
                operation = operation.name(),
                "starting"
            );
            let started = match operation {
                Operation::Echo => EchoScu::start(&mut self.assoc, now).map(Running::Echo),
                Operation::Find {
                    sop_class,
                    identifier,
                } => {
                    FindScu::start(&mut self.assoc, now, &sop_class, &identifier).map(Running::Find)
                }
                Operation::Get {
                    sop_class,
                    identifier,
                    store,
                } => RetrieveScu::get(&mut self.assoc, now, &sop_class, &identifier, store)
                    .map(|r| Running::Retrieve(Box::new(r))),
                Operation::Move {
                    sop_class,
                    identifier,
                    destination,
                } => RetrieveScu::move_to(
                    &mut self.assoc,
                    now,
                    &sop_class,
                    &identifier,
                    &destination,
                )
                .map(|r| Running::Retrieve(Box::new(r))),
            };
            match started {
                Ok(running) => {
                    self.running = Some((op, running));
                    self.op_deadline = Some(now + self.options.dimse_timeout);
                }
                Err(e) => self.emit(
                    events,
                    ClientEventKind::OperationFailed {
                        op,
                        error: e.into(),
                    },
                ),
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

    /// Records the first reason the association ends.
    fn fail(&mut self, error: ClientError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// The association is over: fail what is left and say how it ended.
    fn end(&mut self, events: &mut VecDeque<ClientEvent>) {
        if self.phase == Phase::Ended {
            return;
        }
        let cut_short = self.running.take().map(|(op, _)| op).into_iter();
        let queued: Vec<OpId> = self.queue.drain(..).map(|(op, _)| op).collect();
        for op in cut_short.chain(queued) {
            self.emit(
                events,
                ClientEventKind::OperationFailed {
                    op,
                    error: ClientError::Ended,
                },
            );
        }
        let outcome = match self.error.take() {
            Some(e) => Err(e),
            None if self.release_sent => Ok(()),
            None => Err(ClientError::Closed),
        };
        match &outcome {
            Ok(()) => tracing::debug!(addr = %self.addr, client = self.id.0, "released"),
            Err(e) => {
                tracing::info!(addr = %self.addr, client = self.id.0, error = %e, "client association ended")
            }
        }
        self.phase = Phase::Ended;
        self.op_deadline = None;
        self.emit(events, ClientEventKind::Closed(outcome));
    }

    fn emit(&mut self, events: &mut VecDeque<ClientEvent>, kind: ClientEventKind) {
        self.undelivered += 1;
        events.push_back(ClientEvent {
            client: self.id,
            kind,
        });
    }
}
