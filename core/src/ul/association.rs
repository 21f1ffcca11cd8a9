//! [`Association`]: one transport connection, one PS3.8 state machine, no IO.
//!
//! Here: the association's inputs, verbs, outputs and getters, the framing of the byte
//! stream into PDUs (at most one partial PDU buffered) and the outgoing queue. The
//! interpreter of Table 9-10 is in [`interpreter`]; the DIMSE exchange (reassembly,
//! message IDs, the window) is the association's [`Exchange`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::SendQueue;
use super::event::{
    ApiMisuse, AppliedTransition, Event, IncomingAssociation, PDataIndication, Transmit,
};
use super::fsm::{self, State};
use super::negotiation::{
    AcceptOptions, AcceptorPolicy, AssociationConfig, AssociationRequest, ConfigError, Negotiated,
    RejectReason, Role,
};
use super::timer::{Activity, Timer, Timers};
#[cfg(doc)]
use crate::dimse::DimseMisuse;
use crate::dimse::{
    DataSetReader, Delivery, DimseViolation, Exchange, Message, MessageId, OutgoingMessage, Payload,
};
use crate::pdu::{
    self, AssociateAc, AssociateRq, DecodeError, DecodeLimits, Decoded, PDU_HEADER_LEN, PData, Pdu,
    PduHeader, PduOut, PduType, PresentationContextId,
};

mod interpreter;

/// How many events may wait in the queue before [`Association::handle_input`] stops
/// consuming input (typed backpressure: it returns how much it took).
pub const MAX_PENDING_EVENTS: usize = 32;

/// A partial-PDU buffer up to this capacity is kept for reuse; a larger one is freed, so
/// an idle association holds no more than this.
const KEPT_INPUT_BUFFER: usize = 64 * 1024;

/// What caused a local abort.
#[derive(Debug, Clone)]
enum LocalAbortCause {
    User,
    Timeout(Timer),
    Dimse,
    /// The data set being sent could not be read: why.
    Unreadable(String),
}

/// What waits in the outgoing queue.
#[derive(Debug)]
enum Outgoing {
    /// A whole encoded PDU.
    Pdu(Vec<u8>),
    /// A DIMSE message, fragmented as it is transmitted.
    Message(OutgoingMessage),
}

/// The data that comes with a state-machine event.
enum Input<'a> {
    None,
    Pdu(Pdu<'a>),
    Invalid(DecodeError),
    Accept(AcceptOptions),
    Reject(RejectReason),
    Send(Outgoing),
    Abort(LocalAbortCause),
}

/// One DICOM association, in either role, as a Sans-IO state machine (PS3.8 9.2).
///
/// # Driving it
///
/// Methods come in four groups:
/// - **inputs** `handle_*`: bytes from the transport ([`handle_input`](Self::handle_input)),
///   the transport opening or closing, and time ([`handle_timeout`](Self::handle_timeout));
/// - **verbs**, the user's primitives: [`accept`](Self::accept), [`reject`](Self::reject),
///   [`send_pdata`](Self::send_pdata), [`release`](Self::release),
///   [`release_response`](Self::release_response), [`abort`](Self::abort);
/// - **outputs** `poll_*`: bytes to send, events, the next deadline;
/// - **getters** (`&self`).
///
/// After every input or verb, drain the outputs in this order: `poll_transmit` until
/// `None` (send the bytes), then `poll_event` until `None`, then `poll_timeout` for when
/// to call `handle_timeout`. If `should_close_transport` is true once transmits are
/// drained, close the connection. A peer that misbehaves produces an A-ABORT on the wire
/// and an [`Event::Aborted`], never an `Err`; `Err` means the call was a mistake and
/// changed nothing.
///
/// ```
/// use std::time::{Duration, Instant};
/// use dicomwire::pdu::{AeTitle, Uid};
/// use dicomwire::ul::{
///     AcceptOptions, AcceptorPolicy, ApiMisuse, Association, AssociationConfig, AssociationRequest,
///     Event, ProposedContext, SupportedSyntax,
/// };
///
/// let verification = Uid::new("1.2.840.10008.1.1")?;
/// let implicit_le = Uid::new("1.2.840.10008.1.2")?;
/// let config = AssociationConfig::default();
/// let mut now = Instant::now();
///
/// // The requestor: propose Verification, then connect (the transport's job).
/// let request = AssociationRequest::new(AeTitle::new("ECHOSCU")?, AeTitle::new("ANY-SCP")?)
///     .with_context(ProposedContext::new(verification.clone(), vec![implicit_le.clone()]));
/// let mut scu = Association::requestor(now, config.clone(), request)?;
/// scu.handle_transport_connected(now)?;
///
/// // The acceptor: support Verification in Implicit VR Little Endian.
/// let policy = AcceptorPolicy {
///     abstract_syntaxes: vec![SupportedSyntax::new(verification, vec![implicit_le])],
///     ..AcceptorPolicy::default()
/// };
/// let mut scp = Association::acceptor(now, config, policy.into());
///
/// // A transport in miniature: move what one side sends to the other.
/// fn pump(from: &mut Association, to: &mut Association, now: Instant) -> Result<(), ApiMisuse> {
///     let mut wire = Vec::new();
///     while let Some(_sent) = from.poll_transmit(now, &mut wire) {}
///     let taken = to.handle_input(now, &wire)?;
///     assert_eq!(taken, wire.len());
///     Ok(())
/// }
///
/// let mut established = 0;
/// for _ in 0..4 {
///     pump(&mut scu, &mut scp, now)?;
///     pump(&mut scp, &mut scu, now)?;
///     for side in [&mut scu, &mut scp] {
///         while let Some(event) = side.poll_event() {
///             match event {
///                 Event::AssociationRequested(incoming) => {
///                     side.accept(now, incoming, AcceptOptions::default())?
///                 }
///                 Event::Established(negotiated) => {
///                     assert_eq!(negotiated.accepted().count(), 1);
///                     established += 1;
///                 }
///                 other => panic!("{other:?}"),
///             }
///         }
///     }
///     if let Some(deadline) = scu.poll_timeout() {
///         assert!(deadline > now); // nothing is due yet
///     }
///     now += Duration::from_millis(1);
/// }
/// assert_eq!(established, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Association {
    role: Role,
    state: State,
    config: AssociationConfig,
    limits: DecodeLimits,
    policy: Option<Arc<AcceptorPolicy>>,
    /// Requestor: what we proposed. Acceptor: what we received.
    request: Option<Box<AssociateRq>>,
    /// Acceptor in Sta3: the A-ASSOCIATE-AC we would send, and what it agrees on.
    pending_accept: Option<(Box<AssociateAc>, Box<Negotiated>)>,
    negotiated: Option<Box<Negotiated>>,
    serial: u64,
    /// At most one incomplete PDU, bounded by the decode limits.
    inbuf: Vec<u8>,
    /// After an invalid PDU the byte stream has no framing left: input is discarded.
    input_dead: bool,
    /// While [`Association::handle_input_shared`] runs: the memory its input lies in,
    /// which streamed fragments are sliced from instead of copied.
    input_source: Option<Bytes>,
    outq: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    /// The DIMSE side: reassembly, outstanding message IDs, the window.
    exchange: Exchange,
    /// Set while processing a P-DATA-TF that broke the DIMSE rules; acted on after it.
    dimse_violation: Option<DimseViolation>,
    timers: Timers,
    close_transport: bool,
    connected: bool,
    last_transition: Option<AppliedTransition>,
    transitions_applied: u64,
}

impl fmt::Debug for Association {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Association")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("queued_pdus", &self.outq.len())
            .field("queued_events", &self.events.len())
            .finish()
    }
}

fn next_serial() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

impl Association {
    /// A requestor for `request` (Evt1, AE-1): it waits in Sta4 for the transport to
    /// connect, then sends the A-ASSOCIATE-RQ.
    pub fn requestor(
        now: Instant,
        config: AssociationConfig,
        request: AssociationRequest,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let rq = request.to_pdu(&config)?;
        let mut assoc = Self::new(now, Role::Requestor, config, None);
        assoc.request = Some(Box::new(rq));
        assoc
            .dispatch(now, fsm::Event::AssociateRequest, Input::None)
            .map_err(|_| ConfigError::NoPresentationContext)?;
        assoc.arm(now, Timer::Connect);
        Ok(assoc)
    }

    /// An acceptor for a transport connection that just arrived (Evt5, AE-5): it waits in
    /// Sta2 for an A-ASSOCIATE-RQ, with ARTIM running.
    ///
    /// An invalid configuration (a maximum PDU length below 7) is replaced by the default.
    pub fn acceptor(now: Instant, config: AssociationConfig, policy: Arc<AcceptorPolicy>) -> Self {
        let config = if config.validate().is_ok() {
            config
        } else {
            tracing::warn!("invalid association configuration; using the defaults");
            AssociationConfig::default()
        };
        let mut assoc = Self::new(now, Role::Acceptor, config, Some(policy));
        assoc.connected = true;
        // Sta1 + Evt5 is always defined.
        let _ = assoc.dispatch(now, fsm::Event::TransportConnectIndication, Input::None);
        assoc
    }

    fn new(
        now: Instant,
        role: Role,
        config: AssociationConfig,
        policy: Option<Arc<AcceptorPolicy>>,
    ) -> Self {
        Self {
            role,
            state: State::Idle,
            limits: config.decode_limits(),
            config,
            policy,
            request: None,
            pending_accept: None,
            negotiated: None,
            serial: next_serial(),
            inbuf: Vec::new(),
            input_dead: false,
            input_source: None,
            outq: VecDeque::new(),
            events: VecDeque::new(),
            exchange: Exchange::new(),
            dimse_violation: None,
            timers: Timers::new(now),
            close_transport: false,
            connected: false,
            last_transition: None,
            transitions_applied: 0,
        }
    }

    // ----------------------------------------------------------------------------------
    // Getters

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Requestor or acceptor.
    pub fn role(&self) -> Role {
        self.role
    }

    /// What was negotiated, once established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_deref()
    }

    /// The configuration.
    pub fn config(&self) -> &AssociationConfig {
        &self.config
    }

    /// True once the association decided to close the transport (AE-4, AR-3, AA-2, AA-3):
    /// send what `poll_transmit` still gives, then close.
    pub fn should_close_transport(&self) -> bool {
        self.close_transport
    }

    /// True when the association is over (Sta1) and nothing is left to send.
    pub fn is_closed(&self) -> bool {
        self.state == State::Idle && self.outq.is_empty()
    }

    /// Bytes of a partial incoming PDU held in the input buffer (at most one PDU, bounded
    /// by the decode limits).
    pub fn buffered_input(&self) -> usize {
        self.inbuf.len()
    }

    /// How many PDUs and DIMSE messages wait to be sent.
    pub fn queued_messages(&self) -> usize {
        self.outq.len()
    }

    /// Whether there are bytes to send.
    pub fn wants_write(&self) -> bool {
        !self.outq.is_empty()
    }

    /// Whether the association would take input now: connected, not over, and not
    /// holding back because events wait to be drained.
    pub fn wants_read(&self) -> bool {
        self.connected
            && !matches!(self.state, State::Idle | State::AwaitingTransportConnect)
            && self.events.len() < MAX_PENDING_EVENTS
    }

    /// The last cell of Table 9-10 applied: state, event, action, next state.
    pub fn last_transition(&self) -> Option<AppliedTransition> {
        self.last_transition
    }

    /// How many cells of Table 9-10 have been applied so far: a transcript tells from it
    /// whether a call applied one (two equal cells in a row look the same otherwise).
    pub fn transitions_applied(&self) -> u64 {
        self.transitions_applied
    }

    /// The next deadline and which timer it is (the table on [`Timer`] says what each
    /// ends, and how).
    pub fn next_timer(&self) -> Option<(Instant, Timer)> {
        self.timers.next(self.activity(), &self.config)
    }

    fn activity(&self) -> Activity {
        Activity {
            state: self.state,
            invoked: self.exchange.invoked_count(),
            performing: self.exchange.performing_count(),
        }
    }

    // ----------------------------------------------------------------------------------
    // Outputs

    /// Appends the next PDU to send to `out`, one PDU per call.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Transmit> {
        self.transmit_into(now, out)
    }

    /// [`poll_transmit`](Self::poll_transmit) into a [`SendQueue`]: the next PDU is
    /// appended to `queue`, the fragments of large data sets by reference (no copy), for
    /// the transport to send with one vectored write.
    pub fn poll_transmit_queue(&mut self, now: Instant, queue: &mut SendQueue) -> Option<Transmit> {
        self.transmit_into(now, queue)
    }

    fn transmit_into<O: PduOut>(&mut self, now: Instant, out: &mut O) -> Option<Transmit> {
        let sent = match self.next_pdu(out) {
            Ok(sent) => sent,
            Err(e) => {
                // Part of the message may have gone: only an A-ABORT can end it.
                tracing::warn!(error = %e, "cannot read the data set being sent; aborting");
                let _ = self.dispatch(
                    now,
                    fsm::Event::AbortRequest,
                    Input::Abort(LocalAbortCause::Unreadable(e.to_string())),
                );
                self.next_pdu(out).unwrap_or(None)
            }
        };
        self.timers
            .sending(now, !self.outq.is_empty(), sent.is_some());
        sent
    }

    /// The next PDU of the queue into `out`; an error when the data set being sent
    /// cannot be read (`out` is then as it was).
    fn next_pdu<O: PduOut>(&mut self, out: &mut O) -> std::io::Result<Option<Transmit>> {
        let Some(next) = self.outq.front_mut() else {
            return Ok(None);
        };
        Ok(match next {
            Outgoing::Pdu(_) => {
                let Some(Outgoing::Pdu(pdu)) = self.outq.pop_front() else {
                    return Ok(None);
                };
                let pdu_type = PduType::from_code(pdu[0]).unwrap_or(PduType::Abort);
                out.put(&pdu);
                tracing::debug!(state = %self.state, pdu = pdu_type.name(), len = pdu.len(), "PDU sent");
                Some(Transmit {
                    pdu_type,
                    len: pdu.len(),
                })
            }
            Outgoing::Message(message) => {
                let max = self
                    .negotiated
                    .as_deref()
                    .map_or(self.config.max_send_pdu_length, |n| n.send_max_pdu_length);
                let len = message.write_pdu(out, max)?;
                tracing::trace!(pdu = "P-DATA-TF", len, "PDU sent");
                if message.is_done() {
                    self.outq.pop_front();
                }
                Some(Transmit {
                    pdu_type: PduType::PData,
                    len,
                })
            }
        })
    }

    /// Whether events wait to be taken with [`poll_event`](Self::poll_event).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called; `None` when no
    /// timer is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer().map(|(d, _)| d)
    }

    // ----------------------------------------------------------------------------------
    // Inputs

    /// The outgoing transport connection opened (Evt2): the A-ASSOCIATE-RQ is queued.
    pub fn handle_transport_connected(&mut self, now: Instant) -> Result<(), ApiMisuse> {
        if self.state != State::AwaitingTransportConnect {
            return Err(ApiMisuse::NotAllowed {
                primitive: "transport connect confirmation",
                event: fsm::Event::TransportConnectConfirm,
                state: self.state,
            });
        }
        self.connected = true;
        self.dispatch(now, fsm::Event::TransportConnectConfirm, Input::None)
    }

    /// The transport connection closed (Evt17).
    pub fn handle_transport_closed(&mut self, now: Instant) {
        self.inbuf.clear();
        if fsm::transition(self.state, fsm::Event::TransportClosed).is_some() {
            let _ = self.dispatch(now, fsm::Event::TransportClosed, Input::None);
        }
    }

    /// Fires every timer due at `now`. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::ALL {
            let due = self
                .timers
                .deadline(timer, self.activity(), &self.config)
                .is_some_and(|deadline| deadline <= now);
            if !due {
                continue;
            }
            self.timers.disarm(timer);
            match timer {
                Timer::Artim => {
                    if fsm::transition(self.state, fsm::Event::ArtimExpired).is_some() {
                        let _ = self.dispatch(now, fsm::Event::ArtimExpired, Input::None);
                    }
                }
                Timer::Idle if self.role == Role::Requestor => {
                    tracing::info!(state = %self.state, "idle for too long; releasing");
                    let _ = self.dispatch(now, fsm::Event::ReleaseRequest, Input::None);
                }
                _ => {
                    tracing::warn!(state = %self.state, ?timer, "{}; aborting", timer.describe());
                    let _ = self.dispatch(
                        now,
                        fsm::Event::AbortRequest,
                        Input::Abort(LocalAbortCause::Timeout(timer)),
                    );
                }
            }
        }
    }

    /// Bytes from the transport. Returns how many were consumed: fewer than given when
    /// [`MAX_PENDING_EVENTS`] events wait to be drained (offer the rest again after
    /// draining). Complete PDUs are processed; a partial one is buffered, within the
    /// decode limits checked from its header.
    pub fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, ApiMisuse> {
        if !self.connected {
            return Err(ApiMisuse::NoTransport(self.state));
        }
        if !input.is_empty() {
            self.timers.activity(now);
        }
        let taken = self.take_input(now, input);
        self.timers.partial_pdu(now, !self.inbuf.is_empty());
        self.timers.sending(now, !self.outq.is_empty(), false);
        Ok(taken)
    }

    fn take_input(&mut self, now: Instant, input: &[u8]) -> usize {
        let mut rest = input;
        while !rest.is_empty() {
            if self.state == State::Idle || self.input_dead {
                // The association is over or the stream lost its framing: discard.
                return input.len();
            }
            if self.events.len() >= MAX_PENDING_EVENTS {
                break;
            }
            if self.inbuf.is_empty() {
                match pdu::decode(rest, &self.limits) {
                    Ok(Decoded::Complete { pdu, consumed }) => {
                        rest = &rest[consumed..];
                        self.on_pdu(now, pdu);
                    }
                    Ok(Decoded::Incomplete { .. }) => {
                        self.inbuf.extend_from_slice(rest);
                        rest = &[];
                    }
                    Err(e) => {
                        rest = &[];
                        self.on_invalid(now, e);
                    }
                }
            } else {
                rest = self.continue_buffered(now, rest);
            }
        }
        input.len() - rest.len()
    }

    /// The peer did something, though no byte was taken (a session holding its input
    /// back while its user catches up): the idle and DIMSE timers count from `now`.
    pub(crate) fn note_activity(&mut self, now: Instant) {
        self.timers.activity(now);
    }

    /// [`handle_input`](Self::handle_input) for input the caller holds as [`Bytes`]: the
    /// data of streamed C-STORE fragments ([`Event::StoreFragment`]) that lie whole in
    /// `input` are handed out as slices of it, without a copy. The rest behaves exactly as
    /// `handle_input`. A fragment keeps the memory behind `input` alive while it is held,
    /// so lend large reads this way ([`ReadBuffers`](super::ReadBuffers) does) and offer
    /// small ones through `handle_input`.
    pub fn handle_input_shared(&mut self, now: Instant, input: &Bytes) -> Result<usize, ApiMisuse> {
        self.input_source = Some(input.clone());
        let taken = self.handle_input(now, input);
        self.input_source = None;
        taken
    }

    /// Adds bytes to the buffered partial PDU; decodes it once whole.
    fn continue_buffered<'a>(&mut self, now: Instant, rest: &'a [u8]) -> &'a [u8] {
        let target = match PduHeader::check(&self.inbuf, &self.limits) {
            Ok(Some(header)) => header.total_len(),
            Ok(None) => PDU_HEADER_LEN,
            Err(e) => {
                self.inbuf.clear();
                self.on_invalid(now, e);
                return &[];
            }
        };
        let take = (target - self.inbuf.len()).min(rest.len());
        self.inbuf.extend_from_slice(&rest[..take]);
        let rest = &rest[take..];
        if self.inbuf.len() < target {
            return rest;
        }
        if self.inbuf.capacity() > KEPT_INPUT_BUFFER && self.inbuf.len() > PDU_HEADER_LEN {
            // A large PDU, whole: its buffer is given away after it anyway, so streamed
            // fragments may keep slices of it rather than be copied once more.
            let whole = Bytes::from(std::mem::take(&mut self.inbuf));
            let outer = self.input_source.replace(whole.clone());
            match pdu::decode(&whole, &self.limits) {
                Ok(Decoded::Complete { pdu, .. }) => self.on_pdu(now, pdu),
                Ok(Decoded::Incomplete { .. }) => {
                    // Cannot happen with the length from a whole header; keep filling.
                    self.input_source = outer;
                    self.inbuf = whole.to_vec();
                    return rest;
                }
                Err(e) => self.on_invalid(now, e),
            }
            self.input_source = outer;
            return rest;
        }
        let buffered = std::mem::take(&mut self.inbuf);
        match pdu::decode(&buffered, &self.limits) {
            Ok(Decoded::Complete { pdu, .. }) => self.on_pdu(now, pdu),
            // The header is now whole: keep filling to its length.
            Ok(Decoded::Incomplete { .. }) => {
                self.inbuf = buffered;
                return rest;
            }
            Err(e) => self.on_invalid(now, e),
        }
        // Keep a small buffer for the next partial PDU; give a large one back.
        if buffered.capacity() <= KEPT_INPUT_BUFFER {
            self.inbuf = buffered;
            self.inbuf.clear();
        }
        rest
    }

    fn on_pdu(&mut self, now: Instant, pdu: Pdu<'_>) {
        let event = match &pdu {
            Pdu::AssociateRq(_) => fsm::Event::AssociateRqReceived,
            Pdu::AssociateAc(_) => fsm::Event::AssociateAcReceived,
            Pdu::AssociateRj(_) => fsm::Event::AssociateRjReceived,
            Pdu::PData(_) => fsm::Event::PDataReceived,
            Pdu::ReleaseRq => fsm::Event::ReleaseRqReceived,
            Pdu::ReleaseRp => fsm::Event::ReleaseRpReceived,
            Pdu::Abort(_) => fsm::Event::AbortReceived,
        };
        tracing::debug!(state = %self.state, %event, pdu = pdu.pdu_type().name(), "PDU received");
        let _ = self.dispatch(now, event, Input::Pdu(pdu));
        if self.dimse_violation.is_some() {
            let _ = self.dispatch(
                now,
                fsm::Event::AbortRequest,
                Input::Abort(LocalAbortCause::Dimse),
            );
        }
    }

    fn on_invalid(&mut self, now: Instant, err: DecodeError) {
        tracing::warn!(state = %self.state, error = %err, "invalid PDU received");
        self.input_dead = true;
        let _ = self.dispatch(now, fsm::Event::InvalidPduReceived, Input::Invalid(err));
    }

    // ----------------------------------------------------------------------------------
    // Verbs (the local user's primitives)

    /// Accepts an incoming association (Evt7, AE-7): sends the A-ASSOCIATE-AC.
    pub fn accept(
        &mut self,
        now: Instant,
        mut incoming: IncomingAssociation,
        options: AcceptOptions,
    ) -> Result<(), ApiMisuse> {
        self.check_allowed(fsm::Event::AssociateAccept, "A-ASSOCIATE response (accept)")?;
        if incoming.serial != self.serial {
            return Err(ApiMisuse::ForeignToken);
        }
        incoming.answered = true;
        self.dispatch(now, fsm::Event::AssociateAccept, Input::Accept(options))
    }

    /// Rejects an incoming association (Evt8, AE-8): sends the A-ASSOCIATE-RJ.
    pub fn reject(
        &mut self,
        now: Instant,
        mut incoming: IncomingAssociation,
        reason: RejectReason,
    ) -> Result<(), ApiMisuse> {
        self.check_allowed(fsm::Event::AssociateReject, "A-ASSOCIATE response (reject)")?;
        if incoming.serial != self.serial {
            return Err(ApiMisuse::ForeignToken);
        }
        incoming.answered = true;
        self.dispatch(now, fsm::Event::AssociateReject, Input::Reject(reason))
    }

    /// Sends a P-DATA-TF (Evt9: DT-1 in Sta6, AR-7 in Sta8). Every PDV must be on an
    /// accepted presentation context and the PDU within the peer's maximum length.
    pub fn send_pdata(&mut self, now: Instant, pdata: &PData<'_>) -> Result<(), ApiMisuse> {
        self.check_allowed(fsm::Event::PDataRequest, "P-DATA request")?;
        let negotiated = self.negotiated.as_deref();
        for pdv in &pdata.pdvs {
            if negotiated
                .and_then(|n| n.accepted_context(pdv.context_id))
                .is_none()
            {
                return Err(ApiMisuse::ContextNotAccepted(pdv.context_id));
            }
        }
        let mut encoded = Vec::new();
        Pdu::PData(pdata.clone())
            .encode(&mut encoded)
            .map_err(ApiMisuse::Encode)?;
        let max = negotiated.map_or(self.config.max_send_pdu_length, |n| n.send_max_pdu_length);
        let len = encoded.len() - PDU_HEADER_LEN;
        if len > max as usize {
            return Err(ApiMisuse::PduTooLarge { len, max });
        }
        self.dispatch(
            now,
            fsm::Event::PDataRequest,
            Input::Send(Outgoing::Pdu(encoded)),
        )
    }

    /// Asks to release (Evt11, AR-1): sends an A-RELEASE-RQ.
    pub fn release(&mut self, now: Instant) -> Result<(), ApiMisuse> {
        self.dispatch(now, fsm::Event::ReleaseRequest, Input::None)
    }

    /// Answers the peer's release request (Evt14: AR-4, or AR-9 in a collision): sends
    /// the A-RELEASE-RP.
    pub fn release_response(&mut self, now: Instant) -> Result<(), ApiMisuse> {
        self.dispatch(now, fsm::Event::ReleaseResponse, Input::None)
    }

    /// Aborts (Evt15: AA-1, or AA-2 before the transport is connected).
    pub fn abort(&mut self, now: Instant) -> Result<(), ApiMisuse> {
        self.dispatch(
            now,
            fsm::Event::AbortRequest,
            Input::Abort(LocalAbortCause::User),
        )
    }

    /// Sends a DIMSE request (C-ECHO, C-STORE, C-FIND, C-GET or C-MOVE) on an accepted
    /// context where we may act as SCU, with its data set if the message has one. The
    /// message ID is allocated here (whatever the message held) and returned.
    ///
    /// The message is fragmented lazily, one P-DATA-TF per `poll_transmit`, each no larger
    /// than the peer accepts; `data` is shared, not copied, until it is written out (and
    /// not then either through [`poll_transmit_queue`](Self::poll_transmit_queue)).
    pub fn send_request(
        &mut self,
        now: Instant,
        context_id: PresentationContextId,
        message: Message,
        data: Option<Bytes>,
    ) -> Result<MessageId, ApiMisuse> {
        self.queue_request(now, context_id, message, data.map(Payload::Whole), None)
    }

    /// Like [`send_request`](Self::send_request) for a request whose data set is read as
    /// it is sent ([`DataSetReader`]): a C-STORE of a file, never held whole in memory.
    /// A source that fails or ends early aborts the association
    /// ([`Aborted::DataSetUnreadable`]).
    pub fn send_request_reading(
        &mut self,
        now: Instant,
        context_id: PresentationContextId,
        message: Message,
        data: DataSetReader,
    ) -> Result<MessageId, ApiMisuse> {
        self.queue_request(now, context_id, message, Some(data.into_payload()), None)
    }

    /// Like [`send_request`](Self::send_request), but keeps the message ID the message
    /// holds instead of allocating one: for a caller with its own numbering, such as a
    /// replay that must send what a recorded peer sent. An ID that a request we invoked
    /// still holds is [`DimseMisuse::MessageIdInUse`].
    pub fn send_request_with_id(
        &mut self,
        now: Instant,
        context_id: PresentationContextId,
        message: Message,
        data: Option<Bytes>,
    ) -> Result<MessageId, ApiMisuse> {
        let id = self.exchange.kept_id(&message)?;
        self.queue_request(now, context_id, message, data.map(Payload::Whole), Some(id))
    }

    fn queue_request(
        &mut self,
        now: Instant,
        context_id: PresentationContextId,
        message: Message,
        data: Option<Payload>,
        keep_id: Option<MessageId>,
    ) -> Result<MessageId, ApiMisuse> {
        self.check_allowed(fsm::Event::PDataRequest, "P-DATA request")?;
        // Sta6 and Sta8, where P-DATA is allowed, are entered with the negotiation done.
        let negotiated = self
            .negotiated
            .as_deref()
            .ok_or(ApiMisuse::ContextNotAccepted(context_id))?;
        let (id, outgoing) = self
            .exchange
            .request(negotiated, context_id, message, data, keep_id)?;
        self.timers.activity(now);
        self.dispatch(
            now,
            fsm::Event::PDataRequest,
            Input::Send(Outgoing::Message(outgoing)),
        )?;
        Ok(id)
    }

    /// Sends a DIMSE response to a request we are performing, on the request's context.
    /// A final (non-pending) status ends the operation.
    pub fn send_response(
        &mut self,
        now: Instant,
        context_id: PresentationContextId,
        message: Message,
        data: Option<Bytes>,
    ) -> Result<(), ApiMisuse> {
        self.check_allowed(fsm::Event::PDataRequest, "P-DATA request")?;
        let (outgoing, last) = self.exchange.respond(context_id, message, data)?;
        self.dispatch(
            now,
            fsm::Event::PDataRequest,
            Input::Send(Outgoing::Message(outgoing)),
        )?;
        if last {
            self.timers.activity(now);
        }
        Ok(())
    }

    /// Asks the peer to cancel a C-FIND, C-GET or C-MOVE we invoked (C-CANCEL-RQ). The
    /// operation stays outstanding until its final response (normally 0xFE00) arrives.
    pub fn send_cancel(&mut self, now: Instant, message_id: MessageId) -> Result<(), ApiMisuse> {
        self.check_allowed(fsm::Event::PDataRequest, "P-DATA request")?;
        let outgoing = self.exchange.cancel(message_id)?;
        self.dispatch(
            now,
            fsm::Event::PDataRequest,
            Input::Send(Outgoing::Message(outgoing)),
        )
    }

    /// How many requests we invoked are waiting for their final response.
    pub fn outstanding_requests(&self) -> usize {
        self.exchange.invoked_count()
    }

    /// How many peer requests we perform and have not answered finally.
    pub fn operations_in_progress(&self) -> usize {
        self.exchange.performing_count()
    }

    /// A P-DATA-TF in Sta6 or Sta7, through the DIMSE exchange: what it gives is
    /// reported or queued in order; a violation is acted on after the PDU.
    fn on_pdata(&mut self, p: &PData<'_>) {
        let result = self.exchange.handle_pdata(
            p,
            self.negotiated.as_deref(),
            self.input_source.as_ref(),
            &self.config.dimse,
        );
        while let Some(delivery) = self.exchange.poll_delivery() {
            let event = match delivery {
                Delivery::Raw => Event::PData(PDataIndication::copied(p)),
                Delivery::Message(m) => Event::Message(m),
                Delivery::StoreStarted(m) => Event::StoreStarted(m),
                Delivery::StoreFragment {
                    context_id,
                    message_id,
                    data,
                    last,
                } => Event::StoreFragment {
                    context_id,
                    message_id,
                    data,
                    last,
                },
                Delivery::Reply(m) => {
                    self.outq.push_back(Outgoing::Message(m));
                    continue;
                }
            };
            self.events.push_back(event);
        }
        if let Err(v) = result {
            self.dimse_violation = Some(v);
        }
    }
}
