//! The pair harness: a requestor and an acceptor [`Association`] on a virtual clock, joined
//! by two byte pipes.
//!
//! A [`Pair`] moves what each side transmits into a pipe and feeds the pipe to the other
//! side in chunks chosen by a [`Chunking`]: each PDU whole, byte by byte, or in sizes drawn
//! from a seeded generator. Every cell of PS3.8 Table 9-10 the sides apply, every PDU they
//! send and every event they report goes into a per-side log of [`Entry`] values, so a
//! scenario can assert sequences, and [`for_all_chunkings`] can check that a scenario
//! gives the same logs however the bytes were cut.
//! DIMSE messages a side receives (with DIMSE on) are kept whole as well, as
//! [`DimseEvent`]s ([`Pair::dimse`], [`Pair::messages`]); the log describes them in one
//! line without their data sets ([`describe_message`]).
//!
//! The harness plays both users: it answers an A-ASSOCIATE indication as told by an
//! [`AssociateAnswer`] and an A-RELEASE indication as told by a [`ReleaseAnswer`], or
//! holds them for the scenario to answer. It also plays the transport: a side that decides
//! to close ([`Association::should_close_transport`]) closes its end once its bytes are
//! out, and the other side sees the close after it has read everything before it.
//!
//! ```
//! use dicomwire::pdu::{AeTitle, Uid};
//! use dicomwire::ul::{AcceptorPolicy, AssociationRequest, ProposedContext, SupportedSyntax};
//! use dicomwire_tests::pair::{Chunking, Pair, Side, ul_config};
//!
//! let echo = Uid::new("1.2.840.10008.1.1").unwrap();
//! let implicit = Uid::new("1.2.840.10008.1.2").unwrap();
//! let request = AssociationRequest::new(AeTitle::new("SCU").unwrap(), AeTitle::new("SCP").unwrap())
//!     .with_context(ProposedContext::new(echo.clone(), vec![implicit.clone()]));
//! let policy = AcceptorPolicy {
//!     abstract_syntaxes: vec![SupportedSyntax::new(echo, vec![implicit])],
//!     ..AcceptorPolicy::default()
//! };
//! let mut pair = Pair::new(Chunking::Bytewise, ul_config(), request, policy);
//! pair.drive();
//! assert_eq!(pair.events(Side::Requestor), ["Established(1 accepted)"]);
//! pair.release(Side::Requestor).unwrap();
//! pair.drive();
//! assert_eq!(pair.events(Side::Requestor), ["Established(1 accepted)", "Released", "Closed"]);
//! assert_eq!(pair.events(Side::Acceptor).last().map(String::as_str), Some("Closed"));
//! ```

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dicomwire::dimse::{IncomingMessage, MessageId};
use dicomwire::pdu::{
    self, AeTitle, DecodeLimits, Decoded, MessageControlHeader, PData, Pdu, PduType, Pdv,
    PresentationContextId, Uid,
};
use dicomwire::ul::fsm::{self, State};
use dicomwire::ul::{
    Aborted, AcceptOptions, AcceptorPolicy, ApiMisuse, AppliedTransition, Association,
    AssociationConfig, AssociationRequest, Event, IncomingAssociation, Negotiated, OwnedPdv,
    ProposedContext, RejectReason, Rejected, SupportedSyntax,
};

/// The Verification SOP class (PS3.4 A.4).
pub const VERIFICATION: Uid = Uid::from_static("1.2.840.10008.1.1");

/// Implicit VR Little Endian, the default transfer syntax.
pub const IMPLICIT_VR_LE: Uid = Uid::from_static("1.2.840.10008.1.2");

/// Explicit VR Little Endian.
pub const EXPLICIT_VR_LE: Uid = Uid::from_static("1.2.840.10008.1.2.1");

/// An AE title from a literal.
///
/// # Panics
///
/// When `title` is not a valid AE title.
pub fn ae(title: &str) -> AeTitle {
    AeTitle::new(title).unwrap_or_else(|e| panic!("AE title {title:?}: {e}"))
}

/// `SCU` asks `SCP` for Verification in Implicit VR Little Endian.
pub fn echo_request() -> AssociationRequest {
    AssociationRequest::new(ae("SCU"), ae("SCP"))
        .with_context(ProposedContext::new(VERIFICATION, vec![IMPLICIT_VR_LE]))
}

/// An acceptor that supports Verification in Implicit VR Little Endian, for anyone.
pub fn echo_policy() -> AcceptorPolicy {
    AcceptorPolicy {
        abstract_syntaxes: vec![SupportedSyntax::new(VERIFICATION, vec![IMPLICIT_VR_LE])],
        ..AcceptorPolicy::default()
    }
}

/// The default configuration with P-DATA delivered raw ([`Event::PData`]) instead of
/// reassembled into DIMSE messages: the upper layer alone, as these tests look at it.
pub fn ul_config() -> AssociationConfig {
    let mut config = AssociationConfig::default();
    config.dimse.raw_pdata = true;
    config
}

/// A connected Verification pair with [`ul_config`] on both sides.
pub fn echo_pair(chunking: Chunking) -> Pair {
    Pair::new(chunking, ul_config(), echo_request(), echo_policy())
}

/// How many rounds [`Pair::drive`] runs before it decides the sides loop forever.
pub const MAX_DRIVE_STEPS: usize = 10_000;

/// How the bytes in a pipe are cut into [`Association::handle_input`] calls.
///
/// Whatever the chunking, one call never completes more than one PDU, so that
/// [`Association::last_transition`] after each call sees every transition: the logs of
/// a scenario can then be compared across chunkings. A [`Chunking::Seeded`] chunk may
/// still end inside a PDU and carry the start of the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunking {
    /// Each PDU in one call, as a reader that frames PDUs would deliver it.
    Whole,
    /// One byte per call.
    Bytewise,
    /// Sizes drawn from a splitmix64 generator seeded with the value: often a few bytes,
    /// often the rest of one PDU and the head of the next.
    Seeded(u64),
}

impl Chunking {
    /// The chunkings every scenario runs under: whole, byte by byte, and five seeds.
    pub const ALL: [Self; 7] = [
        Self::Whole,
        Self::Bytewise,
        Self::Seeded(1),
        Self::Seeded(2),
        Self::Seeded(3),
        Self::Seeded(0x5EED_0000_0000_0042),
        Self::Seeded(0xDEAD_BEEF),
    ];
}

/// One of the two ends of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The side that sent the A-ASSOCIATE-RQ.
    Requestor,
    /// The side that received it.
    Acceptor,
}

impl Side {
    /// Both sides, requestor first.
    pub const BOTH: [Self; 2] = [Self::Requestor, Self::Acceptor];

    /// The other side.
    pub const fn peer(self) -> Self {
        match self {
            Self::Requestor => Self::Acceptor,
            Self::Acceptor => Self::Requestor,
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Requestor => 0,
            Self::Acceptor => 1,
        }
    }
}

/// One line of a side's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A cell of Table 9-10 the side applied (`Sta6 --Evt10/DT-2--> Sta6`).
    Transition(AppliedTransition),
    /// A PDU the side handed to the transport, described by [`describe_pdu`].
    Sent(String),
    /// An event the side reported, described by [`describe_event`].
    Event(String),
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transition(t) => write!(f, "  {t}"),
            Self::Sent(s) => write!(f, "> {s}"),
            Self::Event(e) => write!(f, "! {e}"),
        }
    }
}

/// A DIMSE event a side reported, kept whole for scenarios that check messages (the log
/// keeps only a one-line description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimseEvent {
    /// [`Event::Message`]: a whole message, with its data set when buffered.
    Message(IncomingMessage),
    /// [`Event::StoreStarted`]: a C-STORE-RQ whose data set follows as fragments.
    StoreStarted(IncomingMessage),
    /// [`Event::StoreFragment`]: one fragment of a streamed C-STORE data set.
    StoreFragment {
        /// The presentation context.
        context_id: PresentationContextId,
        /// The C-STORE-RQ's message ID.
        message_id: MessageId,
        /// The fragment's bytes.
        data: Vec<u8>,
        /// Whether it is the last.
        last: bool,
    },
}

/// How the harness answers an A-ASSOCIATE indication (the acceptor's user).
#[derive(Debug, Clone)]
pub enum AssociateAnswer {
    /// Accept at once with these options (AE-7).
    Accept(AcceptOptions),
    /// Reject at once for this reason (AE-8).
    Reject(RejectReason),
    /// Keep the indication (Sta3) until the scenario calls [`Pair::accept`] or
    /// [`Pair::reject`].
    Hold,
}

/// How the harness answers an A-RELEASE indication (either side's user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseAnswer {
    /// Answer as soon as the state allows (Sta8, Sta9, Sta12: AR-4 or AR-9).
    Respond,
    /// Wait for the scenario to call [`Pair::release_response`].
    Hold,
}

/// A splitmix64 generator: tiny, deterministic, good enough to cut byte streams.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `1..=max` (`max` at least 1).
    pub fn one_to(&mut self, max: usize) -> usize {
        let max = max.max(1) as u64;
        usize::try_from(self.next_u64() % max).unwrap_or(0) + 1
    }
}

/// A stretch of pipe bytes that arrived in one piece: one PDU as transmitted, or one
/// injected byte string.
#[derive(Debug, Clone, Copy)]
struct Unit {
    /// Bytes of it still in the pipe.
    left: usize,
    /// A whole valid PDU (its transition happens when its last byte is read). Other
    /// injected bytes may end the stream's framing anywhere inside them.
    valid: bool,
}

/// Bytes on their way to one side.
#[derive(Debug, Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    units: VecDeque<Unit>,
    /// The sender closed its end: once the bytes are read, the receiver sees the close.
    fin: bool,
    /// The receiver does not read (a stalled reader).
    stalled: bool,
}

impl Pipe {
    fn push(&mut self, bytes: &[u8], valid: bool) {
        if bytes.is_empty() {
            return;
        }
        self.bytes.extend(bytes);
        self.units.push_back(Unit {
            left: bytes.len(),
            valid,
        });
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.units.clear();
    }

    /// The most bytes one call may take so that it completes at most one unit, and never
    /// mixes injected bytes with others.
    fn max_chunk(&self) -> usize {
        let Some(first) = self.units.front() else {
            return 0;
        };
        match self.units.get(1) {
            Some(second) if first.valid && second.valid => first.left + second.left - 1,
            _ => first.left,
        }
    }

    /// Removes `n` bytes from the front; returns whether a valid unit was completed, and
    /// whether the bytes spanned two units.
    fn consume(&mut self, mut n: usize) -> (bool, bool) {
        self.bytes.drain(..n);
        let mut completed_valid = false;
        let mut touched = 0;
        while n > 0 {
            touched += 1;
            let Some(unit) = self.units.front_mut() else {
                break;
            };
            let take = unit.left.min(n);
            unit.left -= take;
            n -= take;
            if unit.left == 0 {
                completed_valid |= unit.valid;
                self.units.pop_front();
            }
        }
        (completed_valid, touched > 1)
    }
}

/// Everything the harness keeps about one side besides its [`Association`].
#[derive(Debug)]
struct End {
    log: Vec<Entry>,
    /// The side's transport is usable: it reads and writes.
    open: bool,
    /// The requestor's transport connection has been confirmed (always true for the
    /// acceptor). Until then nothing is delivered to it.
    connected: bool,
    /// The side never closes its end itself (a peer that ignores AE-4/AR-3/AA-2/AA-3).
    keep_open: bool,
    /// The side took an invalid PDU (Evt19); the core discards its input from then on.
    input_dead: bool,
    release_answer: ReleaseAnswer,
    /// The side sent an A-ABORT or reported an abort: only A-ABORTs may follow.
    aborted: bool,
    /// The side reported `Closed`: nothing may follow.
    closed_event: bool,
    sent: Vec<Vec<u8>>,
    aborts: Vec<Aborted>,
    rejections: Vec<Rejected>,
    established: Vec<Negotiated>,
    pdata: Vec<OwnedPdv>,
    dimse: Vec<DimseEvent>,
    reads: usize,
    straddling_reads: usize,
    partial_reads: usize,
}

impl End {
    fn new(connected: bool) -> Self {
        Self {
            log: Vec::new(),
            open: true,
            connected,
            keep_open: false,
            input_dead: false,
            release_answer: ReleaseAnswer::Respond,
            aborted: false,
            closed_event: false,
            sent: Vec::new(),
            aborts: Vec::new(),
            rejections: Vec::new(),
            established: Vec::new(),
            pdata: Vec::new(),
            dimse: Vec::new(),
            reads: 0,
            straddling_reads: 0,
            partial_reads: 0,
        }
    }
}

/// A requestor and an acceptor joined by byte pipes, on a virtual clock.
///
/// Call the user primitives through the pair ([`send_pdata`](Self::send_pdata),
/// [`release`](Self::release), [`abort`](Self::abort) …) so the logs see them; the raw
/// associations are public for getters and for calls the harness has no method for
/// (use [`call`](Self::call) to have those logged too).
pub struct Pair {
    /// The requestor.
    pub requestor: Association,
    /// The acceptor.
    pub acceptor: Association,
    /// The virtual clock: moved only by [`advance_to_next_timeout`](Self::advance_to_next_timeout)
    /// and [`advance`](Self::advance).
    pub now: Instant,
    /// When the pair was made.
    pub start: Instant,
    /// How pipe bytes are cut.
    pub chunking: Chunking,
    /// How the acceptor's user answers the A-ASSOCIATE indication.
    pub associate_answer: AssociateAnswer,
    rng: SplitMix64,
    /// `pipes[side]` carries bytes to `side`.
    pipes: [Pipe; 2],
    ends: [End; 2],
    pending: Option<IncomingAssociation>,
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dump())
    }
}

impl Pair {
    /// A connected pair with the same configuration on both sides: the requestor has
    /// queued its A-ASSOCIATE-RQ (Evt1, Evt2); nothing has moved yet.
    ///
    /// # Panics
    ///
    /// When the request or configuration is refused (test those with
    /// [`Association::requestor`] directly).
    pub fn new(
        chunking: Chunking,
        config: AssociationConfig,
        request: AssociationRequest,
        policy: impl Into<Arc<AcceptorPolicy>>,
    ) -> Self {
        Self::with_configs(chunking, config.clone(), config, request, policy)
    }

    /// A connected pair with a configuration per side.
    ///
    /// # Panics
    ///
    /// As [`new`](Self::new).
    pub fn with_configs(
        chunking: Chunking,
        requestor_config: AssociationConfig,
        acceptor_config: AssociationConfig,
        request: AssociationRequest,
        policy: impl Into<Arc<AcceptorPolicy>>,
    ) -> Self {
        let mut pair =
            Self::unconnected(chunking, requestor_config, acceptor_config, request, policy);
        pair.connect();
        pair
    }

    /// A pair whose requestor is still in Sta4: the acceptor saw the transport connection
    /// (Sta2, ARTIM running) but the requestor has not been told it is connected, so it
    /// sends nothing until [`connect`](Self::connect).
    ///
    /// # Panics
    ///
    /// As [`new`](Self::new).
    pub fn unconnected(
        chunking: Chunking,
        requestor_config: AssociationConfig,
        acceptor_config: AssociationConfig,
        request: AssociationRequest,
        policy: impl Into<Arc<AcceptorPolicy>>,
    ) -> Self {
        let start = Instant::now();
        let requestor = Association::requestor(start, requestor_config, request)
            .unwrap_or_else(|e| panic!("the pair's request is refused: {e}"));
        let acceptor = Association::acceptor(start, acceptor_config, policy.into());
        let seed = match chunking {
            Chunking::Seeded(seed) => seed,
            Chunking::Whole | Chunking::Bytewise => 0,
        };
        let mut pair = Self {
            requestor,
            acceptor,
            now: start,
            start,
            chunking,
            associate_answer: AssociateAnswer::Accept(AcceptOptions::default()),
            rng: SplitMix64::new(seed),
            pipes: [Pipe::default(), Pipe::default()],
            ends: [End::new(false), End::new(true)],
            pending: None,
        };
        for side in Side::BOTH {
            pair.record_transition(side);
        }
        pair
    }

    /// Confirms the requestor's transport connection (Evt2, AE-2: the A-ASSOCIATE-RQ is
    /// queued).
    ///
    /// # Panics
    ///
    /// When the requestor is not in Sta4.
    pub fn connect(&mut self) {
        let now = self.now;
        self.requestor
            .handle_transport_connected(now)
            .unwrap_or_else(|e| panic!("connect: {e}"));
        self.ends[Side::Requestor.index()].connected = true;
        self.after_call(Side::Requestor, true);
    }

    // ----------------------------------------------------------------------------------
    // Settings

    /// How `side`'s user answers an A-RELEASE indication.
    pub fn set_release_answer(&mut self, side: Side, answer: ReleaseAnswer) {
        self.ends[side.index()].release_answer = answer;
    }

    /// `side` never closes its end of the transport, even when its association says so:
    /// its peer then waits in Sta13 until ARTIM expires.
    pub fn keep_open(&mut self, side: Side) {
        self.ends[side.index()].keep_open = true;
    }

    /// `side` stops reading: bytes for it wait in its pipe.
    pub fn stall(&mut self, side: Side) {
        self.pipes[side.index()].stalled = true;
    }

    /// `side` reads again.
    pub fn unstall(&mut self, side: Side) {
        self.pipes[side.index()].stalled = false;
    }

    // ----------------------------------------------------------------------------------
    // Getters

    /// The association of `side`.
    pub fn side(&self, side: Side) -> &Association {
        match side {
            Side::Requestor => &self.requestor,
            Side::Acceptor => &self.acceptor,
        }
    }

    /// The association of `side`, mutably.
    pub fn side_mut(&mut self, side: Side) -> &mut Association {
        match side {
            Side::Requestor => &mut self.requestor,
            Side::Acceptor => &mut self.acceptor,
        }
    }

    /// The state of `side`.
    pub fn state(&self, side: Side) -> State {
        self.side(side).state()
    }

    /// Everything `side` did, in order.
    pub fn log(&self, side: Side) -> &[Entry] {
        &self.ends[side.index()].log
    }

    /// The events `side` reported, as [`describe_event`] strings.
    pub fn events(&self, side: Side) -> Vec<String> {
        self.log(side)
            .iter()
            .filter_map(|e| match e {
                Entry::Event(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// The transitions `side` applied.
    pub fn transitions(&self, side: Side) -> Vec<AppliedTransition> {
        self.log(side)
            .iter()
            .filter_map(|e| match e {
                Entry::Transition(t) => Some(*t),
                _ => None,
            })
            .collect()
    }

    /// The transitions `side` applied, as `Sta6 --Evt10/DT-2--> Sta6` strings.
    pub fn transition_strings(&self, side: Side) -> Vec<String> {
        self.transitions(side)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The PDUs `side` sent, as [`describe_pdu`] strings.
    pub fn sent(&self, side: Side) -> Vec<String> {
        self.log(side)
            .iter()
            .filter_map(|e| match e {
                Entry::Sent(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// The bytes of every PDU `side` sent.
    pub fn sent_bytes(&self, side: Side) -> &[Vec<u8>] {
        &self.ends[side.index()].sent
    }

    /// The bytes of the last PDU of `pdu_type` that `side` sent.
    pub fn last_sent(&self, side: Side, pdu_type: PduType) -> Option<&[u8]> {
        self.sent_bytes(side)
            .iter()
            .rev()
            .find(|b| b.first() == Some(&pdu_type.code()))
            .map(Vec::as_slice)
    }

    /// The aborts `side` reported, in order.
    pub fn aborts(&self, side: Side) -> &[Aborted] {
        &self.ends[side.index()].aborts
    }

    /// The rejections `side` reported.
    pub fn rejections(&self, side: Side) -> &[Rejected] {
        &self.ends[side.index()].rejections
    }

    /// What `side` reported in its `Established` events.
    pub fn established(&self, side: Side) -> &[Negotiated] {
        &self.ends[side.index()].established
    }

    /// Every PDV `side` received, in order.
    pub fn received_pdvs(&self, side: Side) -> &[OwnedPdv] {
        &self.ends[side.index()].pdata
    }

    /// Every DIMSE event `side` reported, in order.
    pub fn dimse(&self, side: Side) -> &[DimseEvent] {
        &self.ends[side.index()].dimse
    }

    /// The whole DIMSE messages `side` received ([`Event::Message`]), in order.
    pub fn messages(&self, side: Side) -> Vec<&IncomingMessage> {
        self.dimse(side)
            .iter()
            .filter_map(|e| match e {
                DimseEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// How many `handle_input` calls the harness made on `side`.
    pub fn reads(&self, side: Side) -> usize {
        self.ends[side.index()].reads
    }

    /// How many of them carried the end of one PDU and the start of the next.
    pub fn straddling_reads(&self, side: Side) -> usize {
        self.ends[side.index()].straddling_reads
    }

    /// How many `handle_input` calls on `side` took fewer bytes than offered.
    pub fn partial_reads(&self, side: Side) -> usize {
        self.ends[side.index()].partial_reads
    }

    /// Whether `side`'s transport is still open.
    pub fn is_open(&self, side: Side) -> bool {
        self.ends[side.index()].open
    }

    /// The A-ASSOCIATE indication the acceptor holds (with [`AssociateAnswer::Hold`]).
    pub fn pending_incoming(&self) -> Option<&IncomingAssociation> {
        self.pending.as_ref()
    }

    /// Both logs, for comparing runs.
    pub fn transcript(&self) -> [&[Entry]; 2] {
        [self.log(Side::Requestor), self.log(Side::Acceptor)]
    }

    /// Both logs and the pipes, printable.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "pair under {:?}", self.chunking);
        for side in Side::BOTH {
            let _ = writeln!(
                out,
                "{side:?} ({}, transport {}):",
                self.state(side),
                if self.is_open(side) { "open" } else { "closed" }
            );
            for entry in self.log(side) {
                let _ = writeln!(out, "  {entry}");
            }
            let _ = writeln!(
                out,
                "  pipe to it: {} bytes{}",
                self.pipes[side.index()].bytes.len(),
                if self.pipes[side.index()].fin {
                    ", then closed"
                } else {
                    ""
                }
            );
        }
        out
    }

    // ----------------------------------------------------------------------------------
    // The local users' primitives, logged

    /// Sends one P-DATA-TF with one PDV on context `pc`.
    pub fn send_message(
        &mut self,
        side: Side,
        pc: u8,
        header: MessageControlHeader,
        data: &[u8],
    ) -> Result<(), ApiMisuse> {
        let context_id =
            PresentationContextId::new(pc).unwrap_or_else(|| panic!("context id {pc} is even"));
        self.send_pdata(
            side,
            &PData::new(vec![Pdv {
                context_id,
                header,
                data,
            }]),
        )
    }

    /// Sends a P-DATA-TF (Evt9).
    pub fn send_pdata(&mut self, side: Side, pdata: &PData<'_>) -> Result<(), ApiMisuse> {
        let now = self.now;
        self.side_mut(side).send_pdata(now, pdata)?;
        self.after_call(side, true);
        Ok(())
    }

    /// Asks to release (Evt11).
    pub fn release(&mut self, side: Side) -> Result<(), ApiMisuse> {
        let now = self.now;
        self.side_mut(side).release(now)?;
        self.after_call(side, true);
        Ok(())
    }

    /// Answers the peer's release request (Evt14).
    pub fn release_response(&mut self, side: Side) -> Result<(), ApiMisuse> {
        let now = self.now;
        self.side_mut(side).release_response(now)?;
        self.after_call(side, true);
        Ok(())
    }

    /// Aborts (Evt15).
    pub fn abort(&mut self, side: Side) -> Result<(), ApiMisuse> {
        let now = self.now;
        self.side_mut(side).abort(now)?;
        self.after_call(side, true);
        Ok(())
    }

    /// Accepts the held A-ASSOCIATE indication (Evt7).
    ///
    /// # Panics
    ///
    /// When no indication is held.
    pub fn accept(&mut self, options: AcceptOptions) -> Result<(), ApiMisuse> {
        let incoming = self.pending.take().expect("no A-ASSOCIATE indication held");
        let now = self.now;
        self.acceptor.accept(now, incoming, options)?;
        self.after_call(Side::Acceptor, true);
        Ok(())
    }

    /// Rejects the held A-ASSOCIATE indication (Evt8).
    ///
    /// # Panics
    ///
    /// When no indication is held.
    pub fn reject(&mut self, reason: RejectReason) -> Result<(), ApiMisuse> {
        let incoming = self.pending.take().expect("no A-ASSOCIATE indication held");
        let now = self.now;
        self.acceptor.reject(now, incoming, reason)?;
        self.after_call(Side::Acceptor, true);
        Ok(())
    }

    /// Runs `f` on `side`'s association, then logs its transition (if the last one
    /// changed), sends and events as for any other call.
    pub fn call<R>(&mut self, side: Side, f: impl FnOnce(&mut Association, Instant) -> R) -> R {
        let now = self.now;
        let before = self.side(side).last_transition();
        let result = f(self.side_mut(side), now);
        let changed = self.side(side).last_transition() != before;
        self.after_call(side, changed);
        result
    }

    // ----------------------------------------------------------------------------------
    // The network and the clock

    /// Queues `bytes` for `side` as if its peer had sent them, after whatever is already on
    /// the way. They are delivered, cut by the chunking, by the next [`step`](Self::step).
    /// Give whole PDUs (valid or not): an injection is never mixed with other bytes in a
    /// call.
    pub fn inject(&mut self, side: Side, bytes: &[u8]) {
        let config = self.side(side).config();
        let limits = DecodeLimits {
            max_pdu_length: config.max_pdu_length,
            max_associate_length: config.max_associate_length,
        };
        let valid = matches!(
            pdu::decode(bytes, &limits),
            Ok(Decoded::Complete { consumed, .. }) if consumed == bytes.len()
        );
        self.pipes[side.index()].push(bytes, valid);
    }

    /// The transport connection of `side` closes under it (Evt17 on that side). Nothing is
    /// delivered to or from it any more; its peer is not told.
    pub fn close_transport(&mut self, side: Side) {
        self.pipes[side.peer().index()].clear();
        self.transport_closed(side);
    }

    /// One round: each side's transmits go into its pipe, then each pipe is delivered to
    /// its reader, chunk by chunk, with events drained and answered after every call.
    /// Returns whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        for side in Side::BOTH {
            moved |= self.flush(side);
        }
        for side in Side::BOTH {
            moved |= self.deliver(side);
        }
        moved
    }

    /// Steps until nothing moves.
    ///
    /// # Panics
    ///
    /// After [`MAX_DRIVE_STEPS`] rounds that all moved something: a hot loop.
    pub fn drive(&mut self) {
        for _ in 0..MAX_DRIVE_STEPS {
            if !self.step() {
                return;
            }
        }
        panic!(
            "the pair still moves after {MAX_DRIVE_STEPS} steps\n{}",
            self.dump()
        );
    }

    /// Moves the clock by `by` and fires whatever timers are due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.fire_due_timers();
    }

    /// Moves the clock to the earliest deadline of either side and fires it. Returns the
    /// new time, or `None` when no timer is armed.
    pub fn advance_to_next_timeout(&mut self) -> Option<Instant> {
        let next = Side::BOTH
            .into_iter()
            .filter_map(|s| self.side(s).poll_timeout())
            .min()?;
        assert!(next >= self.now, "a deadline in the past: {next:?}");
        self.now = next;
        self.fire_due_timers();
        Some(next)
    }

    /// Drives, then lets timers expire and drives again, until no timer is left.
    ///
    /// # Panics
    ///
    /// When timers keep being armed (more than 100 expiries).
    pub fn run_to_completion(&mut self) {
        self.drive();
        for _ in 0..100 {
            if self.advance_to_next_timeout().is_none() {
                return;
            }
            self.drive();
        }
        panic!("timers keep firing\n{}", self.dump());
    }

    // ----------------------------------------------------------------------------------
    // Internals

    fn fire_due_timers(&mut self) {
        let now = self.now;
        for side in Side::BOTH {
            if self.side(side).poll_timeout().is_none_or(|d| d > now) {
                continue;
            }
            self.side_mut(side).handle_timeout(now);
            self.after_call(side, true);
            if let Some(deadline) = self.side(side).poll_timeout() {
                assert!(
                    deadline > now,
                    "{side:?}: poll_timeout is {deadline:?}, not after now ({now:?}), after handle_timeout\n{}",
                    self.dump()
                );
            }
        }
    }

    fn record_transition(&mut self, side: Side) {
        let Some(t) = self.side(side).last_transition() else {
            return;
        };
        let end = &mut self.ends[side.index()];
        if t.event == fsm::Event::InvalidPduReceived {
            end.input_dead = true;
        }
        end.log.push(Entry::Transition(t));
    }

    /// After any call on `side`: log its transition, send its PDUs, drain and answer its
    /// events. Returns whether an event or a PDU came out.
    fn after_call(&mut self, side: Side, transitioned: bool) -> bool {
        if transitioned {
            self.record_transition(side);
        }
        let mut moved = self.flush(side);
        let mut events = Vec::new();
        while let Some(event) = self.side_mut(side).poll_event() {
            events.push(event);
        }
        moved |= !events.is_empty();
        for event in events {
            self.on_event(side, event);
        }
        if self.ends[side.index()].release_answer == ReleaseAnswer::Respond
            && matches!(
                self.state(side),
                State::AwaitingLocalReleaseResponse
                    | State::CollisionRequestorAwaitingLocalResponse
                    | State::CollisionAcceptorAwaitingLocalResponse
            )
        {
            let now = self.now;
            self.side_mut(side)
                .release_response(now)
                .unwrap_or_else(|e| panic!("{side:?}: release response refused: {e}"));
            self.after_call(side, true);
        }
        moved
    }

    fn on_event(&mut self, side: Side, event: Event) {
        let text = describe_event(&event);
        assert!(
            !self.ends[side.index()].closed_event,
            "{side:?} reported {text} after Closed\n{}",
            self.dump()
        );
        let end = &mut self.ends[side.index()];
        end.log.push(Entry::Event(text));
        match event {
            Event::AssociationRequested(incoming) => {
                assert_eq!(
                    side,
                    Side::Acceptor,
                    "an A-ASSOCIATE indication at the requestor"
                );
                let now = self.now;
                match self.associate_answer.clone() {
                    AssociateAnswer::Accept(options) => {
                        self.acceptor
                            .accept(now, incoming, options)
                            .unwrap_or_else(|e| panic!("accept refused: {e}"));
                        self.after_call(side, true);
                    }
                    AssociateAnswer::Reject(reason) => {
                        self.acceptor
                            .reject(now, incoming, reason)
                            .unwrap_or_else(|e| panic!("reject refused: {e}"));
                        self.after_call(side, true);
                    }
                    AssociateAnswer::Hold => self.pending = Some(incoming),
                }
            }
            Event::Established(negotiated) => end.established.push(*negotiated),
            Event::Rejected(rejected) => end.rejections.push(rejected),
            Event::Aborted(aborted) => {
                end.aborted = true;
                end.aborts.push(aborted);
            }
            Event::PData(indication) => end.pdata.extend(indication.pdvs),
            Event::Message(m) => end.dimse.push(DimseEvent::Message(*m)),
            Event::StoreStarted(m) => end.dimse.push(DimseEvent::StoreStarted(*m)),
            Event::StoreFragment {
                context_id,
                message_id,
                data,
                last,
            } => end.dimse.push(DimseEvent::StoreFragment {
                context_id,
                message_id,
                data: data.to_vec(),
                last,
            }),
            Event::Closed => {
                end.closed_event = true;
                assert_eq!(
                    self.side(side).state(),
                    State::Idle,
                    "{side:?} reported Closed outside Sta1"
                );
            }
            _ => {}
        }
    }

    /// Moves `side`'s transmits into the pipe to its peer, and closes its end when its
    /// association asks for it. Returns whether anything moved.
    fn flush(&mut self, side: Side) -> bool {
        let mut moved = false;
        loop {
            let now = self.now;
            let mut bytes = Vec::new();
            let Some(transmit) = self.side_mut(side).poll_transmit(now, &mut bytes) else {
                break;
            };
            moved = true;
            assert_eq!(transmit.len, bytes.len(), "Transmit::len");
            assert_eq!(
                Some(&transmit.pdu_type.code()),
                bytes.first(),
                "Transmit::pdu_type"
            );
            let text = describe_pdu(&bytes);
            let end = &mut self.ends[side.index()];
            assert!(
                !end.aborted || transmit.pdu_type == PduType::Abort,
                "{side:?} sent {text} after aborting\n{}",
                self.dump()
            );
            let end = &mut self.ends[side.index()];
            if transmit.pdu_type == PduType::Abort {
                end.aborted = true;
            }
            end.log.push(Entry::Sent(text));
            let open = end.open;
            end.sent.push(bytes.clone());
            if open && self.ends[side.peer().index()].open {
                self.pipes[side.peer().index()].push(&bytes, true);
            }
        }
        let end = &self.ends[side.index()];
        if end.open && !end.keep_open && self.side(side).should_close_transport() {
            self.ends[side.index()].open = false;
            self.pipes[side.index()].clear();
            self.pipes[side.peer().index()].fin = true;
            moved = true;
        }
        moved
    }

    fn chunk_len(&mut self, to: Side) -> usize {
        let pipe = &self.pipes[to.index()];
        let max = pipe.max_chunk();
        match self.chunking {
            Chunking::Whole => pipe.units.front().map_or(0, |u| u.left),
            Chunking::Bytewise => 1,
            Chunking::Seeded(_) => {
                if self.rng.next_u64() % 2 == 0 {
                    self.rng.one_to(max.min(16))
                } else {
                    self.rng.one_to(max)
                }
            }
        }
    }

    /// Feeds the pipe to `to` until it is empty, stalled or the reader is gone; then, if
    /// the writer closed, tells the reader. Returns whether anything moved.
    fn deliver(&mut self, to: Side) -> bool {
        let mut moved = false;
        loop {
            let i = to.index();
            if !self.ends[i].open {
                self.pipes[i].clear();
                self.pipes[i].fin = false;
                return moved;
            }
            if self.pipes[i].stalled || !self.ends[i].connected {
                return moved;
            }
            if self.pipes[i].bytes.is_empty() {
                if self.pipes[i].fin {
                    self.pipes[i].fin = false;
                    self.transport_closed(to);
                    moved = true;
                }
                return moved;
            }
            let n = self.chunk_len(to);
            let chunk: Vec<u8> = self.pipes[i].bytes.iter().take(n).copied().collect();
            let now = self.now;
            let state_before = self.state(to);
            let last_before = self.side(to).last_transition();
            let consumed = self
                .side_mut(to)
                .handle_input(now, &chunk)
                .unwrap_or_else(|e| panic!("{to:?}: handle_input refused: {e}"));
            assert!(consumed <= chunk.len(), "consumed more than offered");
            if consumed < chunk.len() {
                self.ends[i].partial_reads += 1;
            }
            let (completed_valid, straddled) = self.pipes[i].consume(consumed);
            self.ends[i].reads += 1;
            self.ends[i].straddling_reads += usize::from(straddled);
            // A transition happened when the last one changed, or when a whole valid PDU
            // was read by a live reader (the same cell can apply twice in a row: DT-2).
            let transitioned = self.side(to).last_transition() != last_before
                || (completed_valid && state_before != State::Idle && !self.ends[i].input_dead);
            let drained = self.after_call(to, transitioned);
            assert!(
                consumed > 0 || drained,
                "{to:?} took none of {} bytes and had nothing to drain\n{}",
                chunk.len(),
                self.dump()
            );
            moved = true;
        }
    }

    /// `side` sees its transport close (Evt17) and stops reading and writing.
    fn transport_closed(&mut self, side: Side) {
        let i = side.index();
        self.ends[i].open = false;
        self.pipes[i].clear();
        self.pipes[i].fin = false;
        let defined = fsm::transition(self.state(side), fsm::Event::TransportClosed).is_some();
        let now = self.now;
        self.side_mut(side).handle_transport_closed(now);
        self.after_call(side, defined);
    }
}

/// Runs `scenario` under every chunking of [`Chunking::ALL`] and checks that each run
/// leaves the same logs on both sides as the first (whole PDUs). Returns the first run's
/// pair for further assertions.
///
/// # Panics
///
/// When two runs differ, showing both logs.
pub fn for_all_chunkings(mut scenario: impl FnMut(Chunking) -> Pair) -> Pair {
    let mut reference: Option<Pair> = None;
    for chunking in Chunking::ALL {
        eprintln!("--- scenario under {chunking:?}");
        let pair = scenario(chunking);
        match &reference {
            None => reference = Some(pair),
            Some(first) => assert_same_logs(first, &pair),
        }
    }
    reference.unwrap_or_else(|| unreachable!())
}

/// Checks that two runs of a scenario left the same logs on both sides.
///
/// # Panics
///
/// When they differ, naming the first difference and showing both runs.
pub fn assert_same_logs(a: &Pair, b: &Pair) {
    for side in Side::BOTH {
        let (la, lb) = (a.log(side), b.log(side));
        if la != lb {
            let at = la
                .iter()
                .zip(lb)
                .position(|(x, y)| x != y)
                .unwrap_or(la.len().min(lb.len()));
            panic!(
                "{side:?} logs differ at entry {at} between {:?} and {:?}\n{}\n{}",
                a.chunking,
                b.chunking,
                a.dump(),
                b.dump()
            );
        }
    }
}

/// A short, stable fingerprint of some bytes (FNV-1a, 32 bits).
pub fn fingerprint(data: &[u8]) -> u32 {
    data.iter().fold(0x811C_9DC5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `pc1 cmd last 10B #1a2b3c4d`: one PDV, printable.
pub fn describe_pdv(
    context_id: PresentationContextId,
    header: MessageControlHeader,
    data: &[u8],
) -> String {
    format!(
        "pc{} {} {} {}B #{:08x}",
        context_id.get(),
        if header.is_command() { "cmd" } else { "data" },
        if header.is_last() { "last" } else { "more" },
        data.len(),
        fingerprint(data)
    )
}

/// An event, printable and comparable: `Established(1 accepted)`,
/// `Rejected(peer: rejected-permanent by …)`, `PData(pc1 cmd last 10B #…)`,
/// `Aborted(Timeout(Artim))`, `Closed` …
pub fn describe_event(event: &Event) -> String {
    match event {
        Event::AssociationRequested(incoming) => {
            let rq = incoming.request();
            format!(
                "AssociationRequested({} -> {}, {} contexts)",
                rq.calling_ae_title,
                rq.called_ae_title,
                rq.presentation_contexts.len()
            )
        }
        Event::Established(negotiated) => {
            format!("Established({} accepted)", negotiated.accepted().count())
        }
        Event::Rejected(r) => format!(
            "Rejected({}: {})",
            if r.by_peer { "peer" } else { "we" },
            r.rj
        ),
        Event::ReleaseRequested { collision: false } => "ReleaseRequested".to_owned(),
        Event::ReleaseRequested { collision: true } => "ReleaseRequested(collision)".to_owned(),
        Event::Released => "Released".to_owned(),
        Event::Aborted(aborted) => format!("Aborted({})", describe_aborted(aborted)),
        Event::PData(p) => format!(
            "PData({})",
            p.pdvs
                .iter()
                .map(|pdv| describe_pdv(pdv.context_id, pdv.header, &pdv.data))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::Message(m) => format!("Message({})", describe_message(m)),
        Event::StoreStarted(m) => format!("StoreStarted({})", describe_message(m)),
        Event::StoreFragment {
            context_id,
            message_id,
            data,
            last,
        } => format!(
            "StoreFragment(id={message_id} {})",
            describe_pdv(
                *context_id,
                if *last {
                    MessageControlHeader::LAST
                } else {
                    MessageControlHeader::empty()
                },
                data
            )
        ),
        Event::Closed => "Closed".to_owned(),
        other => format!("{other:?}"),
    }
}

/// `pc1 C-ECHO-RSP responding-to=1 status=0x0000`, with `, data 12B #…` when a data set
/// came with it: a DIMSE message, printable without its (possibly large) data set.
pub fn describe_message(m: &IncomingMessage) -> String {
    let mut text = format!("pc{} {}", m.context_id.get(), m.message);
    if let Some(data) = &m.data {
        let _ = write!(
            text,
            ", data {}B #{:08x}",
            data.bytes.len(),
            fingerprint(&data.bytes)
        );
    }
    text
}

/// `ByPeer: A-ABORT by …`, `ProtocolViolation: sent (2,1); invalid PDU: …`,
/// `TransportClosed`, `Timeout(Artim)`.
pub fn describe_aborted(aborted: &Aborted) -> String {
    match aborted {
        Aborted::ByPeer(abort) => format!("ByPeer: {abort}"),
        Aborted::ProtocolViolation { sent, violation } => {
            let (source, reason) = sent.codes();
            format!("ProtocolViolation: sent ({source},{reason}); {violation}")
        }
        Aborted::TransportClosed => "TransportClosed".to_owned(),
        Aborted::Timeout(timer) => format!("Timeout({timer:?})"),
        other => format!("{other:?}"),
    }
}

/// A PDU as sent, printable: `A-ASSOCIATE-RQ`, `A-ASSOCIATE-RJ(1,1,7)`,
/// `P-DATA-TF(pc1 cmd last 10B #…)`, `A-ABORT(2,6)` (source, reason) …
pub fn describe_pdu(bytes: &[u8]) -> String {
    let limits = DecodeLimits {
        max_pdu_length: u32::MAX,
        max_associate_length: u32::MAX,
    };
    match pdu::decode(bytes, &limits) {
        Ok(Decoded::Complete { pdu, consumed }) if consumed == bytes.len() => match pdu {
            // The fixed-size PDUs print their code bytes as they are on the wire.
            Pdu::AssociateRj(_) => {
                format!("A-ASSOCIATE-RJ({},{},{})", bytes[7], bytes[8], bytes[9])
            }
            Pdu::PData(p) => format!(
                "P-DATA-TF({})",
                p.pdvs
                    .iter()
                    .map(|pdv| describe_pdv(pdv.context_id, pdv.header, pdv.data))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Pdu::Abort(_) => format!("A-ABORT({},{})", bytes[8], bytes[9]),
            other => other.pdu_type().name().to_owned(),
        },
        Ok(_) => format!("incomplete PDU of {} bytes", bytes.len()),
        Err(e) => format!("invalid PDU ({e})"),
    }
}
