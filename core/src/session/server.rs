//! [`ScpSession`]: one accepted connection and everything it leads to, no IO.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use thiserror::Error;

use crate::service::{
    Destination, Handlers, OperationOutcome, Scp, ShutdownStep, SubAssociationId,
};
use crate::ul::{
    Aborted, AcceptOptions, AcceptorPolicy, ApiMisuse, Association, AssociationConfig, ConfigError,
    Event, Negotiated, RejectReason, Rejected, SendQueue, State, Transmit,
};

/// The most PDUs and DIMSE messages one link's association may hold to be sent before
/// the session stops taking that link's input: a peer that sends requests but never
/// reads the answers cannot grow our memory.
pub const MAX_QUEUED_OUTGOING: usize = 16;

/// While this many events wait in [`ScpSession::poll_event`], the session takes no input.
pub const MAX_UNTAKEN_SCP_EVENTS: usize = 64;

/// One transport connection of a session: [`LinkId::MAIN`] is the accepted connection,
/// the others are C-MOVE sub-associations the session asked for with
/// [`ScpSession::poll_connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(u32);

impl LinkId {
    /// The accepted connection the session was created for.
    pub const MAIN: Self = Self(0);

    /// Its number: 0 for the main link, then counting up.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::MAIN {
            f.write_str("main")
        } else {
            write!(f, "sub{}", self.0)
        }
    }
}

/// How every session of a server serves: shared by all of them (wrap it in an [`Arc`]).
#[derive(Clone)]
pub struct ScpConfig {
    /// The accepted associations' settings: limits and timers (see
    /// [`Timer`](crate::ul::Timer)). C-STOREs are always streamed, whatever
    /// `association.dimse.stream_store_data` says: a data set the SCP refuses is
    /// discarded as it arrives.
    pub association: AssociationConfig,
    /// Who may associate, and what we accept.
    pub policy: Arc<AcceptorPolicy>,
    /// The services (and the C-MOVE sub-associations' settings).
    pub handlers: Arc<Handlers>,
    /// The most associations served at once: one more is answered A-ASSOCIATE-RJ
    /// (transient, service-provider presentation, local-limit-exceeded).
    pub max_associations: usize,
    /// After [`ScpSession::shutdown`], how long operations in progress may run before
    /// the association is aborted.
    pub shutdown_grace: Duration,
}

impl fmt::Debug for ScpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScpConfig")
            .field("max_associations", &self.max_associations)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("handlers", &self.handlers)
            .finish()
    }
}

impl ScpConfig {
    /// A configuration with `policy` and `handlers` and the defaults: the default
    /// association settings, 64 associations, 10 s of shutdown grace.
    pub fn new(policy: Arc<AcceptorPolicy>, handlers: Arc<Handlers>) -> Self {
        Self {
            association: AssociationConfig::default(),
            policy,
            handlers,
            max_associations: 64,
            shutdown_grace: Duration::from_secs(10),
        }
    }

    /// Checks the association settings (the transports do at bind time, so that no
    /// session fails later).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid association or sub-association configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.association.validate()?;
        self.handlers.sub_association_config.validate()
    }
}

/// A request to the transport: open a TCP connection for a C-MOVE sub-association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The link it will be.
    pub link: LinkId,
    /// Where to (a host name or address, and a port).
    pub destination: Destination,
}

/// What an operator wants to see of a session.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScpEvent {
    /// The association is established, with what was negotiated.
    Established(Box<Negotiated>),
    /// The association request was rejected (by the policy, over the association limit,
    /// or while shutting down).
    Rejected(Rejected),
    /// An operation the SCP performed ended: its final status.
    Operation(OperationOutcome),
    /// The association was released.
    Released,
    /// The association was aborted.
    Aborted(Aborted),
    /// A C-MOVE sub-association could not be opened or ended abnormally (the C-MOVE's
    /// final status tells the requestor).
    SubAssociationFailed {
        /// Its link.
        link: LinkId,
        /// Why, in words.
        reason: String,
    },
}

/// A call on a session that was a mistake; it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SessionMisuse {
    /// The link does not exist (it was never asked for, or it was closed).
    #[error("no link {0} in this session")]
    UnknownLink(LinkId),
    /// The association of the link refused the call.
    #[error(transparent)]
    Association(#[from] ApiMisuse),
}

/// Where a sub-association's link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    /// Asked for with `poll_connect`; not connected yet.
    Connecting,
    /// Connected.
    Open,
    /// Closed (by the transport, or a close asked for and given).
    Closed,
}

#[derive(Debug)]
struct SubLink {
    link: LinkId,
    id: SubAssociationId,
    state: LinkState,
}

/// What the admission decision was made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Open,
    OverLimit,
}

/// One accepted connection with everything it leads to, as a Sans-IO session: its
/// [`Association`], the [`Scp`] serving it with the configured [`Handlers`], and the
/// C-MOVE sub-associations it opens, each on a link of its own ([`LinkId`]). Every
/// decision of a server is here — admission, the answer to each request, release,
/// shutdown, every timer; a transport moves bytes, connections and time for it.
///
/// # Driving it
///
/// - **inputs**: [`handle_input`](Self::handle_input) (bytes read on a link),
///   [`handle_transport_connected`](Self::handle_transport_connected) /
///   [`handle_transport_connect_failed`](Self::handle_transport_connect_failed) (a
///   sub-association's connection), [`handle_transport_closed`](Self::handle_transport_closed),
///   [`handle_timeout`](Self::handle_timeout);
/// - **verbs**: [`shutdown`](Self::shutdown);
/// - **outputs**: [`poll_transmit`](Self::poll_transmit) (the next PDU of a link),
///   [`poll_connect`](Self::poll_connect) (a connection to open),
///   [`poll_close`](Self::poll_close) (a link to close), [`poll_event`](Self::poll_event)
///   (what an operator wants to see), [`poll_timeout`](Self::poll_timeout).
///
/// After every input or verb, drain in this order: `poll_transmit` for
/// [`LinkId::MAIN`] until `None`, then for every other open link until `None` (write what
/// it gave); `poll_connect` until `None` (start each connection); `poll_close` until
/// `None` (close each link once what was written for it has gone); `poll_event` until
/// `None`; then wait for input or `poll_timeout`. After that nothing changes until the
/// next input, timeout or verb: no work waits behind a limit of its own. Drop the session
/// once [`is_finished`](Self::is_finished).
///
/// # Backpressure
///
/// Output is produced as `poll_transmit` is called: the responses of a long C-FIND, the
/// C-STOREs of a C-GET, are made a few at a time as the transport takes them, so a
/// transport whose socket is full simply stops calling it for that link, and memory
/// stays bounded. [`handle_input`](Self::handle_input) takes less than it is given while
/// the link's association holds [`MAX_QUEUED_OUTGOING`] messages to be sent (a peer
/// sending requests without reading the answers) or [`MAX_UNTAKEN_SCP_EVENTS`] events
/// wait: keep the rest and offer it again once [`wants_read`](Self::wants_read) says so,
/// after draining.
///
/// # Admission and shutdown
///
/// The transport says how many associations the server holds when the connection
/// arrives (those whose [`holds_slot`](Self::holds_slot) is true); at
/// [`ScpConfig::max_associations`] or more, the A-ASSOCIATE-RQ is rejected (transient,
/// local-limit-exceeded). [`shutdown`](Self::shutdown) rejects a request still to come
/// (transient, temporary-congestion), releases an idle association, lets one with
/// operations in progress finish them for [`ScpConfig::shutdown_grace`], then aborts.
pub struct ScpSession {
    config: Arc<ScpConfig>,
    main: Association,
    scp: Scp,
    admission: Admission,
    subs: Vec<SubLink>,
    next_link: u32,
    /// Main link: a close was asked for (and so given once).
    main_closed: bool,
    /// Shutdown gave up on the main association: close its link once what it has is sent.
    close_main: bool,
    connects: VecDeque<Connect>,
    events: VecDeque<ScpEvent>,
    /// When shutdown was asked.
    shutdown_since: Option<Instant>,
    /// The server's counts, when an [`ScpServer`] made the session: this session's
    /// share of the slots while it holds one, of the connections until it is dropped.
    counts: Option<Counts>,
}

/// A session's shares of its server's counts.
#[derive(Debug)]
struct Counts {
    slots: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    holds_slot: bool,
}

impl Drop for ScpSession {
    fn drop(&mut self) {
        if let Some(counts) = self.counts.take() {
            if counts.holds_slot {
                counts.slots.fetch_sub(1, Ordering::SeqCst);
            }
            counts.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl fmt::Debug for ScpSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScpSession")
            .field("state", &self.main.state())
            .field("subs", &self.subs)
            .field("events", &self.events.len())
            .field("shutting_down", &self.shutdown_since.is_some())
            .finish()
    }
}

impl ScpSession {
    /// A session for a transport connection that just arrived, while the server holds
    /// `associations` others (see [`holds_slot`](Self::holds_slot)): it waits for the
    /// A-ASSOCIATE-RQ with ARTIM running.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the configuration is invalid ([`ScpConfig::validate`]).
    pub fn new(
        now: Instant,
        config: Arc<ScpConfig>,
        associations: usize,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let main = Scp::acceptor(now, config.association.clone(), Arc::clone(&config.policy));
        let admission = if associations >= config.max_associations {
            Admission::OverLimit
        } else {
            Admission::Open
        };
        Ok(Self {
            scp: Scp::new(Arc::clone(&config.handlers)),
            config,
            main,
            admission,
            subs: Vec::new(),
            next_link: 1,
            main_closed: false,
            close_main: false,
            connects: VecDeque::new(),
            events: VecDeque::new(),
            shutdown_since: None,
            counts: None,
        })
    }

    // ----------------------------------------------------------------------------------
    // Getters

    /// The accepted association.
    pub fn association(&self) -> &Association {
        &self.main
    }

    /// Whether the session counts against [`ScpConfig::max_associations`]: from the
    /// connection until its association is over (rejected, released, aborted), and not
    /// when it was over the limit itself.
    pub fn holds_slot(&self) -> bool {
        self.admission == Admission::Open
            && !self.main_closed
            && !matches!(
                self.main.state(),
                State::Idle | State::AwaitingTransportClose
            )
            && !self.main.should_close_transport()
    }

    /// The links open or being opened (the main link first).
    pub fn links(&self) -> impl Iterator<Item = LinkId> + '_ {
        let main = (!self.main_closed).then_some(LinkId::MAIN);
        main.into_iter().chain(
            self.subs
                .iter()
                .filter(|s| s.state != LinkState::Closed)
                .map(|s| s.link),
        )
    }

    /// Whether `link` takes input now (see Backpressure).
    pub fn wants_read(&self, link: LinkId) -> bool {
        self.events.len() < MAX_UNTAKEN_SCP_EVENTS
            && self
                .link_association(link)
                .is_some_and(|a| a.wants_read() && a.queued_messages() < MAX_QUEUED_OUTGOING)
    }

    /// Whether `link` has bytes to be taken with [`poll_transmit`](Self::poll_transmit).
    pub fn wants_write(&self, link: LinkId) -> bool {
        self.link_association(link)
            .is_some_and(Association::wants_write)
    }

    /// Whether the session is over: every link closed, nothing left to send or to say.
    pub fn is_finished(&self) -> bool {
        self.main_closed
            && self.subs.iter().all(|s| s.state == LinkState::Closed)
            && self.events.is_empty()
    }

    fn sub(&self, link: LinkId) -> Option<&SubLink> {
        self.subs
            .iter()
            .find(|s| s.link == link && s.state != LinkState::Closed)
    }

    fn link_association(&self, link: LinkId) -> Option<&Association> {
        if link == LinkId::MAIN {
            return (!self.main_closed).then_some(&self.main);
        }
        let id = self.sub(link)?.id;
        self.scp.sub_association_ref(id)
    }

    // ----------------------------------------------------------------------------------
    // Inputs

    /// Bytes read on `link`; returns how many were taken (see Backpressure: offer the
    /// rest again when [`wants_read`](Self::wants_read)). Data set fragments of C-STOREs
    /// that lie whole in `input` reach the store handler as slices of it, without a
    /// copy: lend large reads ([`ReadBuffers`](crate::ul::ReadBuffers) does).
    ///
    /// # Errors
    ///
    /// [`SessionMisuse::UnknownLink`] for a link that is not open.
    pub fn handle_input(
        &mut self,
        now: Instant,
        link: LinkId,
        input: &Bytes,
    ) -> Result<usize, SessionMisuse> {
        self.link_association(link)
            .ok_or(SessionMisuse::UnknownLink(link))?;
        let mut taken = 0;
        while taken < input.len() && self.wants_read(link) {
            let rest = input.slice(taken..);
            let n = self.with_link(link, |a| a.handle_input_shared(now, &rest))??;
            taken += n;
            self.drive(now);
            if n == 0 {
                break;
            }
        }
        Ok(taken)
    }

    /// The connection of sub-association `link` opened: its A-ASSOCIATE-RQ is queued.
    ///
    /// # Errors
    ///
    /// [`SessionMisuse::UnknownLink`] for a link not being connected.
    pub fn handle_transport_connected(
        &mut self,
        now: Instant,
        link: LinkId,
    ) -> Result<(), SessionMisuse> {
        let sub = self
            .subs
            .iter_mut()
            .find(|s| s.link == link && s.state == LinkState::Connecting)
            .ok_or(SessionMisuse::UnknownLink(link))?;
        sub.state = LinkState::Open;
        let id = sub.id;
        self.scp.sub_connected(id, now);
        self.drive(now);
        Ok(())
    }

    /// The connection of sub-association `link` could not be opened: the C-MOVE's
    /// remaining sub-operations fail.
    pub fn handle_transport_connect_failed(
        &mut self,
        now: Instant,
        link: LinkId,
        error: std::io::Error,
    ) {
        let why = error.to_string();
        let why = why.as_str();
        if let Some(sub) = self
            .subs
            .iter_mut()
            .find(|s| s.link == link && s.state == LinkState::Connecting)
        {
            sub.state = LinkState::Closed;
            let id = sub.id;
            self.scp.sub_connect_failed(id, now, why);
            self.events.push_back(ScpEvent::SubAssociationFailed {
                link,
                reason: format!("destination unreachable: {why}"),
            });
        }
        self.drive(now);
    }

    /// The transport connection of `link` closed (the peer closed it, or it failed).
    pub fn handle_transport_closed(&mut self, now: Instant, link: LinkId) {
        if link == LinkId::MAIN {
            self.main.handle_transport_closed(now);
            self.main_closed = true;
        } else if let Some(i) = self.subs.iter().position(|s| s.link == link) {
            let id = self.subs[i].id;
            if let Some(a) = self.scp.sub_association(id) {
                a.handle_transport_closed(now);
            }
            self.subs[i].state = LinkState::Closed;
        }
        self.drive(now);
    }

    /// Fires the timers due at `now`: the associations' (see
    /// [`Timer`](crate::ul::Timer)) and the end of the shutdown grace period.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.main.handle_timeout(now);
        for id in self.sub_ids() {
            if let Some(a) = self.scp.sub_association(id) {
                a.handle_timeout(now);
            }
        }
        self.drive(now);
    }

    // ----------------------------------------------------------------------------------
    // Verbs

    /// Starts a graceful shutdown: a request still to come is rejected, an idle
    /// association released, one with operations in progress released when they end or
    /// aborted after [`ScpConfig::shutdown_grace`].
    pub fn shutdown(&mut self, now: Instant) {
        if self.shutdown_since.is_none() {
            self.shutdown_since = Some(now);
        }
        self.drive(now);
    }

    // ----------------------------------------------------------------------------------
    // Outputs

    /// Appends the next PDU of `link` to `out` (data set fragments by reference). The
    /// SCP makes the next responses as the main link's are taken.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        link: LinkId,
        out: &mut SendQueue,
    ) -> Option<Transmit> {
        if link == LinkId::MAIN {
            if self.main_closed {
                return None;
            }
            if let Some(sent) = self.main.poll_transmit_queue(now, out) {
                return Some(sent);
            }
            // The queue is empty: let the operations in progress make more.
            self.drive(now);
            return self.main.poll_transmit_queue(now, out);
        }
        let id = self.sub(link)?.id;
        self.scp
            .sub_association(id)
            .and_then(|a| a.poll_transmit_queue(now, out))
    }

    /// The next connection to open, for a C-MOVE sub-association: connect, then say how
    /// it went with [`handle_transport_connected`](Self::handle_transport_connected) or
    /// [`handle_transport_connect_failed`](Self::handle_transport_connect_failed). The
    /// association's connect timer bounds it; on expiry the session asks to close the
    /// link ([`poll_close`](Self::poll_close)).
    pub fn poll_connect(&mut self) -> Option<Connect> {
        self.connects.pop_front()
    }

    /// The next link to close once what was taken for it has been written; its
    /// association is over. The main link comes last.
    pub fn poll_close(&mut self) -> Option<LinkId> {
        for i in 0..self.subs.len() {
            if self.subs[i].state == LinkState::Closed {
                continue;
            }
            let over = self
                .scp
                .sub_association_ref(self.subs[i].id)
                .is_none_or(|a| {
                    !a.wants_write() && (a.should_close_transport() || a.state() == State::Idle)
                });
            if over {
                self.subs[i].state = LinkState::Closed;
                return Some(self.subs[i].link);
            }
        }
        let main_over = !self.main_closed
            && !self.main.wants_write()
            && (self.close_main
                || self.main.should_close_transport()
                || self.main.state() == State::Idle);
        if main_over && self.subs.iter().all(|s| s.state == LinkState::Closed) {
            self.main_closed = true;
            return Some(LinkId::MAIN);
        }
        None
    }

    /// The next event for the operator (log it; nothing needs answering).
    pub fn poll_event(&mut self) -> Option<ScpEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due; `None` when nothing is
    /// armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let subs = self
            .subs
            .iter()
            .filter(|s| s.state != LinkState::Closed)
            .filter_map(|s| self.scp.sub_association_ref(s.id)?.poll_timeout());
        let grace = self
            .shutdown_since
            .filter(|_| !self.main_closed)
            .map(|since| since + self.config.shutdown_grace)
            .filter(|_| self.main.state() != State::AwaitingTransportClose);
        self.main
            .poll_timeout()
            .into_iter()
            .chain(subs)
            .chain(grace)
            .min()
    }

    // ----------------------------------------------------------------------------------
    // Inside

    fn with_link<R>(
        &mut self,
        link: LinkId,
        f: impl FnOnce(&mut Association) -> R,
    ) -> Result<R, SessionMisuse> {
        if link == LinkId::MAIN {
            return Ok(f(&mut self.main));
        }
        let id = self.sub(link).ok_or(SessionMisuse::UnknownLink(link))?.id;
        self.scp
            .sub_association(id)
            .map(f)
            .ok_or(SessionMisuse::UnknownLink(link))
    }

    fn sub_ids(&self) -> Vec<SubAssociationId> {
        self.subs
            .iter()
            .filter(|s| s.state != LinkState::Closed)
            .map(|s| s.id)
            .collect()
    }

    /// Serves every event and lets the operations make what they can, until nothing
    /// moves.
    fn drive(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(event) = self.main.poll_event() {
                moved = true;
                self.on_main_event(now, event);
            }
            for id in self.sub_ids() {
                moved |= self
                    .scp
                    .sub_association_ref(id)
                    .is_some_and(|a| a.has_events());
                self.scp.handle_sub_events(&mut self.main, id, now);
            }
            self.scp.poll(&mut self.main, now);
            while let Some(request) = self.scp.poll_connect() {
                moved = true;
                let link = LinkId(self.next_link);
                self.next_link += 1;
                self.subs.push(SubLink {
                    link,
                    id: request.id,
                    state: LinkState::Connecting,
                });
                self.connects.push_back(Connect {
                    link,
                    destination: request.destination,
                });
            }
            while let Some(outcome) = self.scp.poll_outcome() {
                self.events.push_back(ScpEvent::Operation(outcome));
            }
            moved |= self.answer_release(now);
            moved |= self.shutdown_step(now);
            if !moved {
                break;
            }
        }
        if self.counts.as_ref().is_some_and(|c| c.holds_slot) && !self.holds_slot() {
            if let Some(counts) = &mut self.counts {
                counts.holds_slot = false;
                counts.slots.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Answers a release request as soon as the state allows (Sta8, and Sta9 or Sta12 in
    /// a release collision, PS3.8 9.2.2): an SCP has nothing to keep an association for.
    fn answer_release(&mut self, now: Instant) -> bool {
        let due = matches!(
            self.main.state(),
            State::AwaitingLocalReleaseResponse
                | State::CollisionRequestorAwaitingLocalResponse
                | State::CollisionAcceptorAwaitingLocalResponse
        );
        if !due {
            return false;
        }
        if let Err(e) = self.main.release_response(now) {
            tracing::warn!(error = %e, "cannot answer the release request");
            return false;
        }
        true
    }

    fn on_main_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::AssociationRequested(incoming) => {
                let request = incoming.request();
                let (calling, called) = (request.calling_ae_title, request.called_ae_title);
                let result = if self.admission == Admission::OverLimit {
                    tracing::warn!(%calling, "too many associations; rejecting (local-limit-exceeded)");
                    self.main
                        .reject(now, incoming, RejectReason::LocalLimitExceeded)
                } else if self.shutdown_since.is_some() {
                    tracing::info!(%calling, "shutting down; rejecting (temporary-congestion)");
                    self.main
                        .reject(now, incoming, RejectReason::TemporaryCongestion)
                } else {
                    tracing::info!(%calling, %called, "association requested");
                    self.main.accept(now, incoming, AcceptOptions::default())
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "cannot answer the association request");
                }
            }
            Event::Established(n) => {
                tracing::info!(calling = %n.calling_ae_title, accepted = n.accepted().count(), "association established");
                self.events.push_back(ScpEvent::Established(n));
            }
            Event::Rejected(r) => {
                tracing::info!(%r, "association rejected");
                self.events.push_back(ScpEvent::Rejected(r));
            }
            Event::ReleaseRequested { .. } => {}
            Event::Released => {
                tracing::info!("association released");
                self.events.push_back(ScpEvent::Released);
            }
            Event::Aborted(a) => {
                tracing::info!(%a, "association aborted");
                self.scp
                    .handle_event(&mut self.main, now, Event::Aborted(a.clone()));
                self.events.push_back(ScpEvent::Aborted(a));
            }
            other => {
                if let Some(rest) = self.scp.handle_event(&mut self.main, now, other) {
                    tracing::debug!(event = ?rest, "event not handled");
                }
            }
        }
    }

    /// One step of the shutdown, when asked: returns whether it changed anything.
    fn shutdown_step(&mut self, now: Instant) -> bool {
        let Some(since) = self.shutdown_since else {
            return false;
        };
        if self.main_closed || self.close_main {
            return false;
        }
        let grace_over = now.saturating_duration_since(since) >= self.config.shutdown_grace;
        let state = self.main.state();
        match state {
            State::Idle => false,
            // A request still to come is rejected when it arrives (in Sta2 ARTIM bounds
            // the wait), and an association already ending goes on ending.
            State::AwaitingAssociateRq
            | State::AwaitingLocalAssociateResponse
            | State::AwaitingTransportClose
            | State::AwaitingReleaseRp
                if !grace_over =>
            {
                false
            }
            _ => match self.scp.shutdown_step(&mut self.main, now, grace_over) {
                ShutdownStep::Waiting => false,
                ShutdownStep::Closing => self.main.state() != state,
                ShutdownStep::CloseTransport => {
                    // Nothing was said, or nothing is left to say: close once sent.
                    self.close_main = true;
                    true
                }
            },
        }
    }
}

/// A listener's side of the core: it makes the [`ScpSession`] of each connection a
/// transport accepts, with the admission count kept here (the sessions holding a slot,
/// across threads if the transport runs sessions on several), closes connections at once
/// when far over the limit, and says how long to wait after a failed `accept`.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Instant;
/// use dicomwire::service::Handlers;
/// use dicomwire::session::{ScpConfig, ScpServer};
/// use dicomwire::ul::AcceptorPolicy;
///
/// let mut config = ScpConfig::new(Arc::new(AcceptorPolicy::default()), Arc::new(Handlers::default()));
/// config.max_associations = 1;
/// let mut server = ScpServer::new(Arc::new(config))?;
/// let now = Instant::now();
/// let first = server.accept(now).expect("served");
/// assert_eq!(server.slots(), 1);
/// let second = server.accept(now).expect("served, and rejected when it asks");
/// assert_eq!(server.slots(), 1);
/// drop(first);
/// assert_eq!(server.slots(), 0);
/// # drop(second);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ScpServer {
    config: Arc<ScpConfig>,
    slots: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    /// Connections closed at once in the current flood.
    flood: u64,
    /// `accept` failures in a row.
    failures: u32,
}

impl ScpServer {
    /// The first wait after a failed `accept`; it doubles with each failure in a row.
    pub const ACCEPT_RETRY_FIRST: Duration = Duration::from_millis(10);
    /// The longest wait after a failed `accept`.
    pub const ACCEPT_RETRY_MAX: Duration = Duration::from_secs(1);

    /// A server's core for `config`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the configuration is invalid.
    pub fn new(config: Arc<ScpConfig>) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            slots: Arc::default(),
            open: Arc::default(),
            flood: 0,
            failures: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ScpConfig> {
        &self.config
    }

    /// How many sessions hold an association slot now.
    pub fn slots(&self) -> usize {
        self.slots.load(Ordering::SeqCst)
    }

    /// How many sessions exist now (made and not dropped).
    pub fn connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// A transport accepted a connection: its session, or `None` to close it at once
    /// without a word, when the server holds twice `max_associations` connections (plus
    /// 16) already, so a flood costs nothing (one log line per flood).
    pub fn accept(&mut self, now: Instant) -> Option<ScpSession> {
        if self.failures > 0 {
            tracing::warn!(failures = self.failures, "accepting again");
            self.failures = 0;
        }
        let hard_limit = self.config.max_associations.saturating_mul(2) + 16;
        if self.connections() >= hard_limit {
            if self.flood == 0 {
                tracing::warn!("far over the association limit; closing new connections at once");
            }
            self.flood += 1;
            return None;
        }
        if self.flood > 0 {
            tracing::warn!(
                closed = self.flood,
                "no longer far over the association limit"
            );
            self.flood = 0;
        }
        // The configuration was checked in `new`.
        let mut session = ScpSession::new(now, Arc::clone(&self.config), self.slots()).ok()?;
        let holds_slot = session.holds_slot();
        if holds_slot {
            self.slots.fetch_add(1, Ordering::SeqCst);
        }
        self.open.fetch_add(1, Ordering::SeqCst);
        session.counts = Some(Counts {
            slots: Arc::clone(&self.slots),
            open: Arc::clone(&self.open),
            holds_slot,
        });
        Some(session)
    }

    /// `accept` failed with `error` (no descriptor left, say): when to try again, 10 ms
    /// after the first failure doubling up to 1 s. Retrying at once spins a core and
    /// floods the log; one line says the failures started, one that they ended.
    pub fn accept_failed(&mut self, now: Instant, error: &std::io::Error) -> Instant {
        if self.failures == 0 {
            tracing::warn!(%error, "accept failed; retrying with backoff until it succeeds");
        }
        let doublings = self.failures.min(7);
        self.failures = self.failures.saturating_add(1);
        now + (Self::ACCEPT_RETRY_FIRST * 2u32.pow(doublings)).min(Self::ACCEPT_RETRY_MAX)
    }
}
