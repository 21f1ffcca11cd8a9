//! The deterministic replay: one side of a recorded flow fed into our core, the other
//! side's decisions taken from the recording, what our core sends compared with what the
//! recorded side sent.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::dimse::Message;
use dicomwire::pdu::{
    AssociateAc, AssociateRj, AssociateRq, MIN_MAX_PDU_LENGTH, Pdu, PduType,
    PresentationContextResult,
};
use dicomwire::ul::{
    AcceptOptions, AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event,
    IncomingAssociation, ProposedContext, RejectReason, RolePolicy, SupportedSyntax,
};

use crate::capture::{Direction, Flow};
use crate::compare;
use crate::describe::{self, arrow, time};
use crate::wire::{self, Assembler, Item, ItemKind, Placed, Unit};

/// Which side of the recorded association our core plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplayRole {
    /// Our core is the acceptor: it is fed the recorded client's bytes, and what it sends
    /// is compared with the recorded server's PDUs.
    Scp,
    /// Our core is the requestor: it is fed the recorded server's bytes, and what it sends
    /// is compared with the recorded client's PDUs.
    Scu,
}

impl ReplayRole {
    /// The direction our core's output is compared with.
    fn ours(self) -> Direction {
        match self {
            Self::Scp => Direction::ServerToClient,
            Self::Scu => Direction::ClientToServer,
        }
    }

    fn recorded_side(self) -> &'static str {
        match self {
            Self::Scp => "server",
            Self::Scu => "client",
        }
    }
}

impl fmt::Display for ReplayRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Scp => "scp",
            Self::Scu => "scu",
        })
    }
}

/// Lines a person can read: what each side sent, the state machine's transitions, the
/// events our core reported, and how our output compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The lines, without line ends.
    pub lines: Vec<String>,
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Where our core first did something other than the recorded side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The direction of the recorded side our core plays.
    pub dir: Direction,
    /// The PDU of that direction (0-based) the divergence is about, when there is one.
    pub pdu_index: Option<usize>,
    /// When, in microseconds since the flow began.
    pub t_us: u64,
    /// What the recorded side sent there, in words (empty when it sent nothing).
    pub expected: String,
    /// What our core sent instead, in words (empty when it sent nothing).
    pub actual: String,
    /// What differed, in words.
    pub what: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pdu_index {
            Some(n) => write!(f, "at {} PDU #{n}", arrow(self.dir))?,
            None => write!(f, "at {}", arrow(self.dir))?,
        }
        write!(f, " ({}): {}", time(self.t_us), self.what)?;
        if !self.expected.is_empty() {
            write!(f, "\n  recorded: {}", self.expected)?;
        }
        if !self.actual.is_empty() {
            write!(f, "\n  ours:     {}", self.actual)?;
        }
        Ok(())
    }
}

/// How a replay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Our core sent what the recorded side sent, message for message.
    Matched,
    /// Our core did something else; the first difference.
    Diverged(Divergence),
    /// The flow is not a DICOM association (its client does not begin with an
    /// A-ASSOCIATE-RQ), so there is nothing to replay.
    NotAnAssociation(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Matched => f.write_str("matched"),
            Self::Diverged(d) => write!(f, "diverged {d}"),
            Self::NotAnAssociation(why) => write!(f, "not an association: {why}"),
        }
    }
}

/// What [`Replay::run`] gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// The transcript.
    pub transcript: Transcript,
    /// The verdict.
    pub outcome: Outcome,
}

/// Prints both sides of a flow, decoded: every PDU, and the DIMSE messages P-DATA-TF
/// carry once whole. No core is involved.
pub fn decode(flow: &Flow) -> Transcript {
    let items = wire::timeline(flow);
    let mut lines: Vec<String> = flow.notes.iter().map(|n| format!("note: {n}")).collect();
    let mut assemblers = [Assembler::default(), Assembler::default()];
    for item in &items {
        let asm = &mut assemblers[usize::from(item.dir == Direction::ServerToClient)];
        for line in item_lines(item, asm).0 {
            lines.push(format!("{} {} {line}", time(item.t_us), arrow(item.dir)));
        }
    }
    Transcript { lines }
}

/// The description lines of one timeline item: a PDU, or the DIMSE messages it completes;
/// and how many DIMSE messages it completed.
fn item_lines(item: &Item, asm: &mut Assembler) -> (Vec<String>, usize) {
    let lines = match &item.kind {
        ItemKind::Pdu(bytes) => {
            let units = asm.push_pdu(bytes);
            let whole = units
                .iter()
                .filter(|u| matches!(u, Unit::Message(_)))
                .count();
            let messages: Vec<String> = units
                .iter()
                .map(|u| match u {
                    Unit::Message(m) => format!("P-DATA {}", describe::message(m)),
                    other => describe::unit(other),
                })
                .collect();
            let lines = if messages.is_empty() {
                match wire::decode_pdu(bytes) {
                    Ok(pdu) => vec![describe::pdu(&pdu)],
                    Err(e) => vec![format!("<invalid PDU: {e}>")],
                }
            } else {
                messages
            };
            return (lines, whole);
        }
        ItemKind::Unframed { bytes, error } => {
            vec![format!("<not a PDU: {error}; {} bytes>", bytes.len())]
        }
        ItemKind::Truncated(bytes) => {
            vec![format!(
                "<the stream ends inside a PDU: {} bytes>",
                bytes.len()
            )]
        }
        ItemKind::Eof => vec!["<eof>".to_owned()],
        ItemKind::Reset => vec!["<reset>".to_owned()],
    };
    (lines, 0)
}

/// A replay of one flow in one role.
///
/// Our core is driven on a virtual clock, `origin` plus each record's timestamp; its
/// timers fire when their deadline falls before the next record. The recorded peer's
/// bytes are fed in PDU by PDU; each time the recording shows the side we play sending
/// something of its own accord (accepting or rejecting, a DIMSE request or response with
/// its data set, a C-CANCEL, a release or an abort), our core is asked to do the same, and
/// every PDU it sends is compared with the recorded one: see [`crate::compare`] for how,
/// and for what is masked.
///
/// ```
/// use std::time::Instant;
/// use dicomwire_replay::capture::{Capture, CaptureLimits};
/// use dicomwire_replay::{Outcome, Replay, ReplayRole};
///
/// // A C-ECHO between DCMTK's echoscu and storescp, as a recording proxy saw it.
/// let file = include_bytes!("../../tests/fixtures/captures/echo_dcmtk.jsonl");
/// let capture = Capture::parse(file, &CaptureLimits::default())?;
/// let report = Replay::new(&capture.flows[0], ReplayRole::Scp, Instant::now()).run();
/// // The recorded server accepted; so did our core, with the same answer.
/// println!("{}", report.transcript);
/// assert!(report.transcript.lines.iter().any(|l| l.contains("Sta2 --Evt6/AE-6--> Sta3")));
/// assert_eq!(report.outcome, Outcome::Matched);
/// # Ok::<(), dicomwire_replay::capture::CaptureError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Replay<'f> {
    flow: &'f Flow,
    role: ReplayRole,
    origin: Instant,
}

impl<'f> Replay<'f> {
    /// A replay of `flow` with our core in `role`; `origin` is the virtual time of the
    /// flow's first instant (any `Instant`: the replay never reads a clock).
    pub fn new(flow: &'f Flow, role: ReplayRole, origin: Instant) -> Self {
        Self { flow, role, origin }
    }

    /// Runs the replay to the end of the flow or the first divergence.
    pub fn run(self) -> ReplayReport {
        let items = wire::timeline(self.flow);
        let client = wire::units(&items, Direction::ClientToServer);
        let server = wire::units(&items, Direction::ServerToClient);
        let rq = match client.first().map(|p| &p.unit) {
            Some(Unit::Control(Pdu::AssociateRq(rq))) => (**rq).clone(),
            Some(other) => {
                return not_an_association(format!(
                    "the client's first PDU is not an A-ASSOCIATE-RQ but {}",
                    describe::unit(other)
                ));
            }
            None => {
                return not_an_association(
                    "the client sent no PDU (is this DICOM upper-layer traffic?)".to_owned(),
                );
            }
        };
        let ac = server.iter().find_map(|p| match &p.unit {
            Unit::Control(Pdu::AssociateAc(ac)) => Some((**ac).clone()),
            _ => None,
        });
        let recorded = match self.role {
            ReplayRole::Scp => server,
            ReplayRole::Scu => client,
        };
        let mut run = Run {
            role: self.role,
            origin: self.origin,
            recorded,
            next: 0,
            rq,
            ac,
            assoc: None,
            token: None,
            ours: Assembler::default(),
            our_pdus: 0,
            seen_transitions: 0,
            indications: 0,
            lines: Vec::new(),
            divergence: None,
        };
        run.lines.push(format!(
            "replay as {}: our core is the {}; the recorded {}'s PDUs are what it must send",
            self.role,
            match self.role {
                ReplayRole::Scp => "acceptor",
                ReplayRole::Scu => "requestor",
            },
            self.role.recorded_side()
        ));
        for note in &self.flow.notes {
            run.lines.push(format!("note: {note}"));
        }
        run.start();
        let mut peer = Assembler::default();
        for (n, item) in items.iter().enumerate() {
            if run.divergence.is_some() {
                break;
            }
            let now = self.origin + Duration::from_micros(item.t_us);
            run.fire_timers(now);
            if run.divergence.is_some() {
                break;
            }
            if item.dir == self.role.ours() {
                run.recorded_item(n, item, now);
            } else {
                run.peer_item(item, now, &mut peer);
            }
        }
        if run.divergence.is_none() {
            if let Some(left) = run.recorded.get(run.next).cloned() {
                run.diverge(
                    &left,
                    format!(
                        "the recorded {} sent this; our core never did",
                        self.role.recorded_side()
                    ),
                    String::new(),
                );
            }
        }
        let outcome = match run.divergence.take() {
            Some(d) => {
                run.lines.push(format!("DIVERGED {d}"));
                Outcome::Diverged(d)
            }
            None => {
                run.lines.push("outcome: matched".to_owned());
                Outcome::Matched
            }
        };
        ReplayReport {
            transcript: Transcript { lines: run.lines },
            outcome,
        }
    }
}

fn not_an_association(why: String) -> ReplayReport {
    ReplayReport {
        transcript: Transcript {
            lines: vec![format!("not an association: {why}")],
        },
        outcome: Outcome::NotAnAssociation(why),
    }
}

/// Indentation of the lines that follow a record.
const INDENT: &str = "          ";

struct Run {
    role: ReplayRole,
    origin: Instant,
    /// What the side we play sent, in order.
    recorded: Vec<Placed>,
    /// The first recorded unit our core has not sent yet.
    next: usize,
    rq: AssociateRq,
    ac: Option<AssociateAc>,
    assoc: Option<Association>,
    token: Option<IncomingAssociation>,
    /// Reassembles what our core sends.
    ours: Assembler,
    our_pdus: usize,
    seen_transitions: u64,
    /// DIMSE messages our core reported to its user.
    indications: usize,
    lines: Vec<String>,
    divergence: Option<Divergence>,
}

impl Run {
    fn line(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    fn t_us(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_micros()).unwrap_or(u64::MAX)
    }

    /// SCP: the acceptor exists from the transport connection on (Evt5).
    fn start(&mut self) {
        if self.role != ReplayRole::Scp {
            return;
        }
        let (config, policy) = acceptor_setup(&self.rq, self.ac.as_ref());
        self.assoc = Some(Association::acceptor(self.origin, config, policy.into()));
        self.line(format!("{} transport connection accepted", time(0)));
        self.after_call(self.origin);
    }

    fn fire_timers(&mut self, now: Instant) {
        // Each expiry disarms its timer; a bound guards against a core that re-arms.
        for _ in 0..8 {
            let Some(deadline) = self.assoc.as_ref().and_then(Association::poll_timeout) else {
                return;
            };
            if deadline > now {
                return;
            }
            let t = self.t_us(deadline);
            let timer = self
                .assoc
                .as_ref()
                .and_then(Association::next_timer)
                .map_or_else(String::new, |(_, timer)| format!(" {timer:?}"));
            self.line(format!("{} timer{timer} expired", time(t)));
            if let Some(assoc) = self.assoc.as_mut() {
                assoc.handle_timeout(deadline);
            }
            self.after_call(deadline);
            if self.divergence.is_some() {
                return;
            }
        }
    }

    /// The peer's bytes, fed into our core.
    fn peer_item(&mut self, item: &Item, now: Instant, asm: &mut Assembler) {
        let (lines, whole) = item_lines(item, asm);
        for line in lines {
            self.line(format!("{} {} {line}", time(item.t_us), arrow(item.dir)));
        }
        let before = self.indications;
        self.feed(item, now);
        let reported = self.indications - before;
        if whole > reported && self.divergence.is_none() {
            self.line(format!(
                "{INDENT}our core reported {reported} of the {whole} DIMSE messages to its user (the rest dropped)"
            ));
        }
    }

    fn feed(&mut self, item: &Item, now: Instant) {
        let Some(assoc) = self.assoc.as_mut() else {
            self.line(format!("{INDENT}(no association yet: not fed to our core)"));
            return;
        };
        match &item.kind {
            ItemKind::Pdu(bytes)
            | ItemKind::Unframed { bytes, .. }
            | ItemKind::Truncated(bytes) => {
                let mut fed = 0;
                // Partial consumption means events wait; draining them lets input go on.
                for _ in 0..=bytes.len() {
                    let Some(assoc) = self.assoc.as_mut() else {
                        return;
                    };
                    match assoc.handle_input(now, &bytes[fed..]) {
                        Ok(n) => fed += n,
                        Err(e) => {
                            self.line(format!("{INDENT}not fed to our core: {e}"));
                            return;
                        }
                    }
                    self.after_call(now);
                    if fed >= bytes.len() || self.divergence.is_some() {
                        return;
                    }
                }
            }
            ItemKind::Eof | ItemKind::Reset => {
                assoc.handle_transport_closed(now);
                self.after_call(now);
            }
        }
    }

    /// Something the side we play sent: if our core has not sent it already, ask it to.
    fn recorded_item(&mut self, n: usize, item: &Item, now: Instant) {
        // Units are in timeline order: those this item completed are one run.
        let from = self.recorded.partition_point(|p| p.item < n);
        let to = self.recorded.partition_point(|p| p.item <= n);
        if from == to {
            let mut scratch = Assembler::default();
            let text = match &item.kind {
                ItemKind::Pdu(bytes) => match wire::decode_pdu(bytes) {
                    Ok(pdu) => describe::pdu(&pdu),
                    Err(e) => format!("<invalid PDU: {e}>"),
                },
                _ => item_lines(item, &mut scratch).0.join("; "),
            };
            self.line(format!(
                "{} {} recorded {text}",
                time(item.t_us),
                arrow(item.dir)
            ));
            if matches!(item.kind, ItemKind::Eof | ItemKind::Reset) {
                if let Some(assoc) = &self.assoc {
                    let close = if assoc.should_close_transport() || assoc.is_closed() {
                        "ready to close too"
                    } else {
                        "not ready to close"
                    };
                    self.line(format!("{INDENT}our core: {}, {close}", assoc.state()));
                }
            }
            return;
        }
        for k in from..to {
            let placed = self.recorded[k].clone();
            self.line(format!(
                "{} {} recorded {}",
                time(placed.t_us),
                arrow(item.dir),
                describe::unit(&placed.unit)
            ));
            if k < self.next {
                self.line(format!("{INDENT}(our core sent it already)"));
                continue;
            }
            match self.perform(&placed.unit, now) {
                Ok(verb) => {
                    self.line(format!("{INDENT}our core is asked to: {verb}"));
                    self.after_call(now);
                }
                Err(why) => {
                    self.diverge(
                        &placed,
                        format!(
                            "the recorded {} sent this here, but our core cannot: {why}",
                            self.role.recorded_side()
                        ),
                        String::new(),
                    );
                    return;
                }
            }
            if self.divergence.is_some() {
                return;
            }
            if self.next <= k {
                self.diverge(
                    &placed,
                    "our core sent nothing when asked to send this".to_owned(),
                    String::new(),
                );
                return;
            }
        }
    }

    /// Asks our core to do what the recorded side did; says what in words.
    fn perform(&mut self, unit: &Unit, now: Instant) -> Result<String, String> {
        if let (ReplayRole::Scu, Unit::Control(Pdu::AssociateRq(rq))) = (self.role, unit) {
            let (config, request) = requestor_setup(rq);
            let mut assoc = Association::requestor(now, config, request)
                .map_err(|e| format!("the A-ASSOCIATE-RQ cannot be made: {e}"))?;
            self.seen_transitions = 0;
            if let Some(t) = assoc.last_transition() {
                self.line(format!("{INDENT}{t}"));
            }
            self.seen_transitions = assoc.transitions_applied();
            assoc
                .handle_transport_connected(now)
                .map_err(|e| e.to_string())?;
            self.assoc = Some(assoc);
            return Ok("A-ASSOCIATE request, transport connected".to_owned());
        }
        let role = self.role;
        let Some(assoc) = self.assoc.as_mut() else {
            return Err("there is no association yet".to_owned());
        };
        let misuse = |e: dicomwire::ul::ApiMisuse| e.to_string();
        match unit {
            Unit::Control(Pdu::AssociateAc(ac)) if role == ReplayRole::Scp => {
                let token = self
                    .token
                    .take()
                    .ok_or("no A-ASSOCIATE indication is waiting for an answer")?;
                let options = AcceptOptions {
                    user_identity_response: ac
                        .user_information
                        .user_identity_response
                        .as_ref()
                        .map(|r| r.server_response.clone()),
                    sop_class_extended: ac.user_information.sop_class_extended.clone(),
                };
                assoc.accept(now, token, options).map_err(misuse)?;
                Ok("accept".to_owned())
            }
            Unit::Control(Pdu::AssociateRj(rj)) if role == ReplayRole::Scp => {
                let token = self
                    .token
                    .take()
                    .ok_or("no A-ASSOCIATE indication is waiting for an answer")?;
                let reason = reject_reason(rj)
                    .ok_or_else(|| format!("our acceptor has no way to reject with \"{rj}\""))?;
                assoc.reject(now, token, reason).map_err(misuse)?;
                Ok(format!("reject ({reason})"))
            }
            Unit::Control(Pdu::ReleaseRq) => {
                assoc.release(now).map_err(misuse)?;
                Ok("release".to_owned())
            }
            Unit::Control(Pdu::ReleaseRp) => {
                assoc.release_response(now).map_err(misuse)?;
                Ok("release response".to_owned())
            }
            Unit::Control(Pdu::Abort(_)) => {
                assoc.abort(now).map_err(misuse)?;
                Ok("abort".to_owned())
            }
            Unit::Control(pdu) => Err(format!(
                "an association {} never sends {}",
                match role {
                    ReplayRole::Scp => "acceptor",
                    ReplayRole::Scu => "requestor",
                },
                pdu.pdu_type().name()
            )),
            Unit::Message(m) => {
                let message = m
                    .message
                    .as_ref()
                    .map_err(|e| format!("the command set is not a message we can send: {e}"))?;
                let data = m.data.clone().map(Bytes::from);
                match message {
                    Message::CCancelRq(c) => {
                        assoc
                            .send_cancel(now, c.message_id_being_responded_to)
                            .map_err(misuse)?;
                        Ok("send C-CANCEL-RQ".to_owned())
                    }
                    request if request.is_request() => {
                        assoc
                            .send_request_with_id(now, m.context_id, request.clone(), data)
                            .map_err(misuse)?;
                        Ok(format!("send {}", request.name()))
                    }
                    response => {
                        assoc
                            .send_response(now, m.context_id, response.clone(), data)
                            .map_err(misuse)?;
                        Ok(format!("send {}", response.name()))
                    }
                }
            }
            Unit::Broken(why) => Err(format!("the recorded bytes are not a valid unit: {why}")),
        }
    }

    /// After any call into our core: the transition it applied, what it sends (compared),
    /// what it reports.
    fn after_call(&mut self, now: Instant) {
        let Some(assoc) = self.assoc.as_mut() else {
            return;
        };
        if assoc.transitions_applied() != self.seen_transitions {
            self.seen_transitions = assoc.transitions_applied();
            if let Some(t) = assoc.last_transition() {
                self.lines.push(format!("{INDENT}{t}"));
            }
        }
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let Some(assoc) = self.assoc.as_mut() else {
                return;
            };
            if assoc.poll_transmit(now, &mut buf).is_none() {
                break;
            }
            self.our_pdu(&buf, now);
            if self.divergence.is_some() {
                return;
            }
        }
        while let Some(event) = self.assoc.as_mut().and_then(Association::poll_event) {
            let text = event_text(&event);
            self.lines.push(format!("{INDENT}event: {text}"));
            match event {
                Event::AssociationRequested(token) => self.token = Some(token),
                Event::Message(_) | Event::StoreStarted(_) => self.indications += 1,
                _ => {}
            }
        }
    }

    /// One PDU our core sent.
    fn our_pdu(&mut self, bytes: &[u8], now: Instant) {
        let dir = self.role.ours();
        let index = self.our_pdus;
        self.our_pdus += 1;
        let t_us = self.t_us(now);
        if bytes.first() == Some(&PduType::PData.code()) {
            let peer_max = self
                .assoc
                .as_ref()
                .and_then(|a| a.negotiated())
                .map_or(0, |n| n.peer_max_pdu_length);
            let len = wire::pdu_length(bytes);
            if peer_max != 0 && len > peer_max as usize {
                self.divergence = Some(Divergence {
                    dir,
                    pdu_index: Some(index),
                    t_us,
                    expected: format!("at most {peer_max} bytes"),
                    actual: format!("a P-DATA-TF of {len} bytes"),
                    what: "our core sent a P-DATA-TF longer than the peer's maximum PDU length"
                        .to_owned(),
                });
                return;
            }
        }
        let units = self.ours.push_pdu(bytes);
        if units.is_empty() {
            if let Ok(pdu) = wire::decode_pdu(bytes) {
                let text = describe::pdu(&pdu);
                self.lines
                    .push(format!("{INDENT}ours {} {text}", arrow(dir)));
            }
        }
        for unit in units {
            let text = describe::unit(&unit);
            let Some(expected) = self.recorded.get(self.next).cloned() else {
                self.lines
                    .push(format!("{INDENT}ours {} {text}", arrow(dir)));
                self.divergence = Some(Divergence {
                    dir,
                    pdu_index: None,
                    t_us,
                    expected: String::new(),
                    actual: text,
                    what: format!(
                        "our core sent this; the recorded {} sent nothing more",
                        self.role.recorded_side()
                    ),
                });
                return;
            };
            match compare::compare(&expected.unit, &unit) {
                Ok(()) => {
                    self.lines
                        .push(format!("{INDENT}ours {} {text}  [= recorded]", arrow(dir)));
                    self.next += 1;
                }
                Err(what) => {
                    self.lines
                        .push(format!("{INDENT}ours {} {text}", arrow(dir)));
                    self.diverge(&expected, what, text);
                    return;
                }
            }
        }
    }

    fn diverge(&mut self, recorded: &Placed, what: String, actual: String) {
        self.divergence = Some(Divergence {
            dir: self.role.ours(),
            pdu_index: Some(recorded.pdu_index),
            t_us: recorded.t_us,
            expected: describe::unit(&recorded.unit),
            actual,
            what,
        });
    }
}

fn event_text(event: &Event) -> String {
    match event {
        Event::AssociationRequested(incoming) => {
            let proposal = incoming.proposal();
            format!(
                "A-ASSOCIATE indication ({} of {} contexts acceptable)",
                proposal.accepted().count(),
                proposal.contexts.len()
            )
        }
        Event::Established(n) => format!(
            "established ({} of {} contexts accepted, our PDUs at most {} bytes)",
            n.accepted().count(),
            n.contexts.len(),
            n.send_max_pdu_length
        ),
        Event::Rejected(r) => r.to_string(),
        Event::ReleaseRequested { collision } => {
            if *collision {
                "A-RELEASE indication (release collision)".to_owned()
            } else {
                "A-RELEASE indication".to_owned()
            }
        }
        Event::Released => "A-RELEASE confirmation".to_owned(),
        Event::Aborted(a) => a.to_string(),
        Event::Message(m) => match &m.data {
            Some(d) => format!("{} ({} data bytes)", m.message, d.bytes.len()),
            None => m.message.to_string(),
        },
        Event::Closed => "closed".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The A-ASSOCIATE-RJ reasons our acceptor can send (PS3.8 Table 9-21 as
/// [`RejectReason`] maps them).
fn reject_reason(rj: &AssociateRj) -> Option<RejectReason> {
    [
        RejectReason::NoReasonGiven,
        RejectReason::ApplicationContextNameNotSupported,
        RejectReason::CallingAeTitleNotRecognized,
        RejectReason::CalledAeTitleNotRecognized,
        RejectReason::ProtocolVersionNotSupported,
        RejectReason::TemporaryCongestion,
        RejectReason::LocalLimitExceeded,
    ]
    .into_iter()
    .find(|r| {
        let pdu = r.to_pdu();
        pdu.result == rj.result && pdu.source.codes() == rj.source.codes()
    })
}

/// The maximum PDU length a recorded PDU announced, as our configuration can hold it.
fn max_pdu(announced: u32) -> Option<u32> {
    (announced >= MIN_MAX_PDU_LENGTH).then_some(announced)
}

/// Our acceptor, configured from the recorded answer: the same contexts accepted with
/// the same transfer syntaxes, the same roles, window and maximum PDU length, as far as
/// [`AcceptorPolicy`] can say them.
fn acceptor_setup(
    rq: &AssociateRq,
    ac: Option<&AssociateAc>,
) -> (AssociationConfig, AcceptorPolicy) {
    let mut config = AssociationConfig::default();
    // The recorded server's answer is replayed as it was, even an AC that accepted nothing.
    let mut policy = AcceptorPolicy {
        accept_with_no_context: true,
        ..AcceptorPolicy::default()
    };
    let Some(ac) = ac else {
        return (config, policy);
    };
    if let Some(max) = max_pdu(ac.user_information.max_length) {
        config.max_pdu_length = max;
    }
    policy.async_operations_window = ac.user_information.async_operations_window;
    for answer in &ac.presentation_contexts {
        let Some(proposed) = rq.presentation_contexts.iter().find(|p| p.id == answer.id) else {
            continue;
        };
        let abstract_syntax = &proposed.abstract_syntax;
        let roles = ac
            .user_information
            .role_selections
            .iter()
            .find(|r| &r.sop_class_uid == abstract_syntax)
            .map_or(RolePolicy::default(), |r| RolePolicy {
                requestor_may_be_scu: r.scu_role,
                requestor_may_be_scp: r.scp_role,
            });
        let index = match policy
            .abstract_syntaxes
            .iter()
            .position(|s| &s.abstract_syntax == abstract_syntax)
        {
            Some(i) => i,
            None => {
                policy.abstract_syntaxes.push(
                    SupportedSyntax::new(abstract_syntax.clone(), Vec::new()).with_roles(roles),
                );
                policy.abstract_syntaxes.len() - 1
            }
        };
        let supported = &mut policy.abstract_syntaxes[index];
        match answer.result {
            PresentationContextResult::Acceptance => {
                if let Some(ts) = &answer.transfer_syntax {
                    if !supported.transfer_syntaxes.contains(ts) {
                        supported.transfer_syntaxes.push(ts.clone());
                    }
                }
            }
            PresentationContextResult::UserRejection => {
                // A transfer syntax we support, but no role open to the requestor.
                if let Some(ts) = proposed.transfer_syntaxes.first() {
                    if !supported.transfer_syntaxes.contains(ts) {
                        supported.transfer_syntaxes.push(ts.clone());
                    }
                }
                supported.roles = RolePolicy {
                    requestor_may_be_scu: false,
                    requestor_may_be_scp: false,
                };
            }
            // Known, but in none of the proposed transfer syntaxes: the entry stays
            // without them. Abstract syntax not supported: no entry at all.
            PresentationContextResult::TransferSyntaxesNotSupported => {}
            _ => {
                if supported.transfer_syntaxes.is_empty() {
                    policy.abstract_syntaxes.remove(index);
                }
            }
        }
    }
    (config, policy)
}

/// Our requestor, configured to propose what the recorded A-ASSOCIATE-RQ proposed.
fn requestor_setup(rq: &AssociateRq) -> (AssociationConfig, AssociationRequest) {
    let mut config = AssociationConfig::default();
    let ui = &rq.user_information;
    if let Some(max) = max_pdu(ui.max_length) {
        config.max_pdu_length = max;
    }
    let mut request = AssociationRequest::new(rq.calling_ae_title, rq.called_ae_title);
    request.contexts = rq
        .presentation_contexts
        .iter()
        .map(|pc| ProposedContext::new(pc.abstract_syntax.clone(), pc.transfer_syntaxes.clone()))
        .collect();
    request.role_selections.clone_from(&ui.role_selections);
    request
        .sop_class_extended
        .clone_from(&ui.sop_class_extended);
    request
        .sop_class_common_extended
        .clone_from(&ui.sop_class_common_extended);
    request.user_identity.clone_from(&ui.user_identity_request);
    request.async_operations_window = ui.async_operations_window;
    (config, request)
}
