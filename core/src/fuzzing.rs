//! Entry points for the cargo-fuzz targets in `fuzz/`, compiled only under `cfg(fuzzing)`.
//!
//! Each target in `fuzz/fuzz_targets/` is one line that calls a function here, so the
//! checks live next to the code they check and see its internals.

use crate::pdu::{
    self, Abort, AbortReason, DecodeLimits, Decoded, MIN_MAX_PDU_LENGTH, PDU_HEADER_LEN,
};

/// No limit beyond what a 32-bit PDU-length can say: for decoding our own re-encoding,
/// whose length may legitimately differ from the input's.
const UNLIMITED: DecodeLimits = DecodeLimits {
    max_pdu_length: u32::MAX,
    max_associate_length: u32::MAX,
};

/// The limits a fuzz input runs under, picked by its first byte, so that one corpus
/// exercises the defaults, a DCMTK-like peer, the smallest limits we allow and none.
fn limits_for(selector: u8) -> DecodeLimits {
    match selector % 4 {
        0 => DecodeLimits::default(),
        1 => DecodeLimits {
            max_pdu_length: 16_384,
            max_associate_length: 1024,
        },
        2 => DecodeLimits {
            max_pdu_length: MIN_MAX_PDU_LENGTH,
            max_associate_length: 68,
        },
        _ => UNLIMITED,
    }
}

/// The PDU decoder on arbitrary bytes: byte 0 picks the limits, the rest is the input.
///
/// Whatever decodes must re-encode, decode again to the same value, and re-encode to the
/// same bytes; it must have respected the limits and must decode the same from exactly its
/// own bytes, and be `Incomplete` one byte short of them. Whatever does not decode must map
/// to an A-ABORT reason the standard defines. None of it may panic.
pub fn pdu_decode(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limits = limits_for(selector);
    match pdu::decode(input, &limits) {
        Ok(Decoded::Complete { pdu, consumed }) => {
            assert!(
                consumed <= input.len(),
                "consumed {consumed} of {}",
                input.len()
            );
            let body = consumed - PDU_HEADER_LEN;
            let limit = limits.limit_for(pdu.pdu_type());
            assert!(
                u32::try_from(body).is_ok_and(|b| b <= limit),
                "{body} > {limit}"
            );

            let exact = pdu::decode(&input[..consumed], &limits);
            assert_eq!(
                exact,
                Ok(Decoded::Complete {
                    pdu: pdu.clone(),
                    consumed
                })
            );
            let short = pdu::decode(&input[..consumed - 1], &limits);
            assert_eq!(short, Ok(Decoded::Incomplete { needed: 1 }));

            let mut wire = Vec::new();
            let written = pdu
                .encode(&mut wire)
                .unwrap_or_else(|e| panic!("decoded {pdu:?} does not encode: {e}"));
            assert_eq!(written, wire.len());
            match pdu::decode(&wire, &UNLIMITED) {
                Ok(Decoded::Complete {
                    pdu: again,
                    consumed: again_consumed,
                }) => {
                    assert_eq!(again, pdu, "value changed through encode and decode");
                    assert_eq!(again_consumed, wire.len());
                    let mut rewire = Vec::new();
                    again
                        .encode(&mut rewire)
                        .unwrap_or_else(|e| panic!("re-decoded {again:?} does not encode: {e}"));
                    assert_eq!(rewire, wire, "encoding is not a fixed point");
                }
                other => panic!("our encoding of {pdu:?} decodes as {other:?}"),
            }
        }
        Ok(Decoded::Incomplete { needed }) => {
            assert!(needed > 0);
            if input.len() < PDU_HEADER_LEN {
                assert_eq!(needed, PDU_HEADER_LEN - input.len());
            } else {
                // The header passed the limits, so what we wait for is within them.
                let header = pdu::PduHeader::check(input, &limits)
                    .expect("a header that was accepted once")
                    .expect("six bytes are a header");
                assert_eq!(input.len() + needed, header.total_len());
                assert!(header.length <= limits.limit_for(header.pdu_type));
            }
        }
        Err(err) => {
            let reason = AbortReason::from(&err);
            assert!(
                !matches!(reason, AbortReason::Reserved(_)),
                "{err} maps to a reserved reason"
            );
            let abort = Abort::from(&err);
            assert_eq!(abort.codes(), (2, reason.code()));
            let _ = (err.to_string(), abort.to_string());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Associations fed arbitrary bytes

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dimse::CommandSet;
use crate::pdu::{AeTitle, PduType as WirePduType, Uid};
use crate::ul::{
    AcceptOptions, AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event,
    ProposedContext, ReadBuffers, Role, RolePolicy, SendQueue, SupportedSyntax,
};

const VERIFICATION: &str = "1.2.840.10008.1.1";
const MWL_FIND: &str = "1.2.840.10008.5.1.4.31";
const HP_STORAGE: &str = "1.2.840.10008.5.1.4.38.1";
const TRANSFER_SYNTAXES: [&str; 2] = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"];

fn uid(s: &str) -> Uid {
    Uid::new(s).unwrap_or(crate::pdu::DICOM_APPLICATION_CONTEXT)
}

/// Small limits, so that the fuzzer reaches them.
fn fuzz_config(selector: u8) -> AssociationConfig {
    let mut config = AssociationConfig {
        max_pdu_length: if selector & 1 == 0 { 16_384 } else { 64 },
        max_associate_length: 4096,
        ..AssociationConfig::default()
    };
    config.dimse.max_command_length = 512;
    config.dimse.max_identifier_length = 4096;
    config.dimse.max_store_length = 8192;
    config.dimse.stream_store_data = selector & 2 != 0;
    config.dimse.raw_pdata = selector & 4 != 0;
    config
}

fn fuzz_policy() -> Arc<AcceptorPolicy> {
    let ts: Vec<Uid> = TRANSFER_SYNTAXES.iter().map(|s| uid(s)).collect();
    Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uid(VERIFICATION), ts.clone()),
            SupportedSyntax::new(uid(MWL_FIND), ts.clone()),
            SupportedSyntax::new(uid(HP_STORAGE), ts).with_roles(RolePolicy {
                requestor_may_be_scu: true,
                requestor_may_be_scp: true,
            }),
        ],
        ..AcceptorPolicy::default()
    })
}

fn fuzz_request() -> AssociationRequest {
    let ts: Vec<Uid> = TRANSFER_SYNTAXES.iter().map(|s| uid(s)).collect();
    let ae = |s: &str| AeTitle::new(s).unwrap_or_else(|_| unreachable!("valid AE title"));
    AssociationRequest::new(ae("FUZZSCU"), ae("ANY-SCP"))
        .with_context(ProposedContext::new(uid(VERIFICATION), ts.clone()))
        .with_context(ProposedContext::new(uid(MWL_FIND), ts.clone()))
        .with_context(ProposedContext::new(uid(HP_STORAGE), ts))
        .with_role(uid(HP_STORAGE), false, true)
}

/// Checks every output of the association after one input.
struct Watcher {
    sent_abort: bool,
    limit: usize,
    /// Output through a [`SendQueue`] rather than a `Vec`.
    queued_output: bool,
}

impl Watcher {
    fn drain(&mut self, assoc: &mut Association, now: Instant) {
        let mut out = Vec::new();
        let mut queue = SendQueue::new();
        loop {
            // Every PDU's bytes, through poll_transmit or poll_transmit_queue.
            let sent = if self.queued_output {
                let before = queue.len();
                let sent = assoc.poll_transmit_queue(now, &mut queue);
                if let Some(t) = &sent {
                    assert_eq!(
                        t.len,
                        queue.len() - before,
                        "Transmit::len is what was queued"
                    );
                }
                let mut slices = [std::io::IoSlice::new(&[]); 64];
                let filled = queue.io_slices(&mut slices);
                for slice in &slices[..filled] {
                    out.extend_from_slice(slice);
                }
                queue.advance(out.len());
                assert!(queue.is_empty() || filled == 64);
                sent
            } else {
                assoc.poll_transmit(now, &mut out)
            };
            let Some(t) = sent else {
                break;
            };
            assert_eq!(t.len, out.len(), "Transmit::len is what was appended");
            let pdu_type = WirePduType::from_code(out[0]).expect("we send valid PDU types");
            if self.sent_abort {
                assert_eq!(
                    pdu_type,
                    WirePduType::Abort,
                    "only A-ABORT after an A-ABORT"
                );
            }
            if pdu_type == WirePduType::Abort {
                self.sent_abort = true;
            }
            out.clear();
        }
        while let Some(event) = assoc.poll_event() {
            if let Event::AssociationRequested(incoming) = event {
                // Accept everything: the fuzzer then reaches data transfer.
                let _ = assoc.accept(now, incoming, AcceptOptions::default());
            }
        }
        assert!(
            assoc.buffered_input() <= self.limit,
            "input buffer {} over the limit {}",
            assoc.buffered_input(),
            self.limit
        );
        if let Some(deadline) = assoc.poll_timeout() {
            assert!(deadline >= now || assoc.next_timer().is_some());
        }
    }
}

/// Arbitrary bytes into an association in `role`, in chunks, with time jumps: no panic,
/// the input buffer never grows past the configured limits, and after an A-ABORT nothing
/// but A-ABORT is transmitted.
///
/// The first byte chooses the configuration (and whether bytes go in through
/// [`ReadBuffers`] and out through a [`SendQueue`]); then each step is a control byte (low bits:
/// what to do; high bits: how much) followed by the chunk it uses.
///
/// `start` is the virtual clock's origin, given by the caller: the core reads no clock.
pub fn association_bytes(role: Role, data: &[u8], start: Instant) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let config = fuzz_config(selector);
    let limit = config.max_pdu_length.max(config.max_associate_length) as usize + 6;
    let mut now = start;
    let mut assoc = match role {
        Role::Requestor => {
            let Ok(mut a) = Association::requestor(now, config, fuzz_request()) else {
                return;
            };
            let _ = a.handle_transport_connected(now);
            a
        }
        Role::Acceptor => Association::acceptor(now, config, fuzz_policy()),
    };
    let mut watch = Watcher {
        sent_abort: false,
        limit,
        queued_output: selector & 16 != 0,
    };
    // Input through ReadBuffers (lent when a chunk is a quarter of a buffer or more, the
    // refused rest offered as shared bytes), or plain slices.
    let mut buffers = (selector & 8 != 0).then(|| ReadBuffers::new(256));
    watch.drain(&mut assoc, now);
    while let Some((&control, tail)) = rest.split_first() {
        let amount = usize::from(control >> 3);
        match control & 7 {
            // Time passes: up to ~31 s per step, so ARTIM and the deadlines fire.
            0 => now += Duration::from_millis((amount as u64 + 1) * 1000),
            1 => assoc.handle_timeout(now + Duration::from_secs(amount as u64 * 4)),
            2 => {
                let _ = assoc.release(now);
            }
            3 => {
                let _ = assoc.release_response(now);
            }
            4 if amount == 31 => {
                let _ = assoc.abort(now);
            }
            4 => assoc.handle_transport_closed(now),
            _ => {
                // Bytes: a chunk of up to 8 × amount + 1 bytes.
                let n = (amount * 8 + 1).min(tail.len());
                let (chunk, after) = tail.split_at(n);
                let mut offered = chunk;
                let mut guard = 0;
                if let Some(buffers) = buffers.as_mut() {
                    let space = buffers.read_space();
                    let n = chunk.len().min(space.len());
                    space[..n].copy_from_slice(&chunk[..n]);
                    offered = &chunk[n..];
                    let (taken, mut refused) = buffers.offer(&mut assoc, now, n);
                    watch.drain(&mut assoc, now);
                    if taken.is_ok() {
                        while !refused.is_empty() {
                            match assoc.handle_input_shared(now, &refused) {
                                Ok(taken) => {
                                    refused = refused.slice(taken..);
                                }
                                Err(_) => break,
                            }
                            watch.drain(&mut assoc, now);
                            guard += 1;
                            assert!(guard < 10_000, "handle_input makes no progress");
                        }
                    }
                }
                while !offered.is_empty() {
                    match assoc.handle_input(now, offered) {
                        Ok(taken) => offered = &offered[taken..],
                        Err(_) => break,
                    }
                    watch.drain(&mut assoc, now);
                    guard += 1;
                    assert!(guard < 10_000, "handle_input makes no progress");
                }
                rest = after;
                watch.drain(&mut assoc, now);
                continue;
            }
        }
        rest = tail;
        watch.drain(&mut assoc, now);
    }
}

/// Arbitrary bytes as a command set: decoding never panics, and what decodes re-encodes
/// to a command set that decodes to the same value (and, as a message, the same message).
pub fn dimse_command(data: &[u8]) {
    let Ok(set) = CommandSet::decode(data) else {
        return;
    };
    let mut again = Vec::new();
    if set.encode(&mut again).is_err() {
        return;
    }
    let back = CommandSet::decode(&again).expect("our encoding decodes");
    assert_eq!(back, normalised(&set));
    if let Ok(message) = crate::dimse::Message::from_command(&set) {
        let mut encoded = Vec::new();
        message
            .to_command(set.has_data_set())
            .encode(&mut encoded)
            .expect("a message encodes");
        let decoded = CommandSet::decode(&encoded).expect("decodes");
        assert_eq!(
            crate::dimse::Message::from_command(&decoded).as_ref(),
            Ok(&message)
        );
    }
}

/// What a decoded command set becomes after one encode: text trimmed as decoding trims.
fn normalised(set: &CommandSet) -> CommandSet {
    let mut set = set.clone();
    set.other.sort_by_key(|(t, _)| *t);
    set
}

// ---------------------------------------------------------------------------------------
// A requestor and an acceptor driven by arbitrary operations

use bytes::Bytes;

use crate::dimse::{
    CEchoRq, CEchoRsp, CFindRq, CFindRsp, Message, MessageId, Priority, Status, StatusDetail,
};
use crate::pdu::PresentationContextId;
use crate::ul::{AppliedTransition, RejectReason, fsm};

/// One side of [`fsm_ops`]: its association and what has been seen of it.
struct Side {
    assoc: Association,
    watch: Watcher,
    /// Bytes it transmitted that the other side has not been given yet.
    outbox: Vec<u8>,
    /// An incoming-association token not answered yet.
    incoming: Option<crate::ul::IncomingAssociation>,
    /// `Event::Closed` was seen: nothing may follow it.
    closed: bool,
    /// Requests received (message id, context), in order, not answered finally yet.
    performing: Vec<(MessageId, PresentationContextId)>,
    /// Message ids of requests this side sent, in order.
    sent_requests: Vec<MessageId>,
    /// Message ids of requests this side received, in order.
    received_requests: Vec<MessageId>,
    /// The last request this side invoked, to cancel.
    last_invoked: Option<MessageId>,
}

impl Side {
    fn new(assoc: Association, limit: usize) -> Self {
        Self {
            assoc,
            watch: Watcher {
                sent_abort: false,
                limit,
                queued_output: false,
            },
            outbox: Vec::new(),
            incoming: None,
            closed: false,
            performing: Vec::new(),
            sent_requests: Vec::new(),
            received_requests: Vec::new(),
            last_invoked: None,
        }
    }

    /// Moves what the association transmits into the outbox and handles its events; the
    /// checks of [`Watcher`] plus: nothing after `Closed`, and nothing sent once closed.
    fn pump(&mut self, now: Instant) {
        let mut out = Vec::new();
        while let Some(t) = self.assoc.poll_transmit(now, &mut out) {
            assert!(
                !self.closed,
                "{:?} transmitted after Event::Closed",
                t.pdu_type
            );
            let pdu_type = WirePduType::from_code(out[0]).expect("we send valid PDU types");
            if self.watch.sent_abort {
                assert_eq!(
                    pdu_type,
                    WirePduType::Abort,
                    "only A-ABORT after an A-ABORT"
                );
            }
            self.watch.sent_abort |= pdu_type == WirePduType::Abort;
            self.outbox.append(&mut out);
        }
        while let Some(event) = self.assoc.poll_event() {
            assert!(!self.closed, "{event:?} after Event::Closed");
            match event {
                Event::AssociationRequested(incoming) => self.incoming = Some(incoming),
                Event::Message(incoming) => {
                    let id = incoming.message.message_id();
                    if let (true, Some(id)) = (incoming.message.is_request(), id) {
                        self.received_requests.push(id);
                        self.performing.push((id, incoming.context_id));
                    }
                }
                Event::Closed => self.closed = true,
                _ => {}
            }
        }
        assert!(
            self.assoc.buffered_input() <= self.watch.limit,
            "input buffer {} over the limit {}",
            self.assoc.buffered_input(),
            self.watch.limit
        );
        if self.closed {
            assert!(self.assoc.is_closed(), "Closed reported but not in Sta1");
        }
    }
}

/// Checks one call of a user primitive against Table 9-10: a refusal changes nothing and
/// names a cell the table leaves undefined; an accepted call's last transition is a
/// defined cell with its action, ending in the state the association is now in.
fn check_primitive<T>(
    side: &Side,
    before: (fsm::State, Option<AppliedTransition>),
    result: &Result<T, crate::ul::ApiMisuse>,
) {
    let (state, transition) = before;
    match result {
        Err(crate::ul::ApiMisuse::NotAllowed {
            event,
            state: named,
            ..
        }) => {
            assert_eq!(*named, state);
            assert!(
                fsm::transition(state, *event).is_none(),
                "{event} is defined in {state}"
            );
            assert_eq!(
                side.assoc.state(),
                state,
                "a refused primitive changed the state"
            );
            assert_eq!(side.assoc.last_transition(), transition);
        }
        Err(_) => assert_eq!(
            side.assoc.state(),
            state,
            "a refused primitive changed the state"
        ),
        Ok(_) => check_last_transition(side),
    }
}

fn check_last_transition(side: &Side) {
    let Some(applied) = side.assoc.last_transition() else {
        return;
    };
    let cell = fsm::transition(applied.from, applied.event)
        .unwrap_or_else(|| panic!("{applied} is not a cell of Table 9-10"));
    assert_eq!(cell.action, applied.action, "{applied}");
    let allowed = match cell.next {
        fsm::Next::To(s) => applied.to == s,
        fsm::Next::Sta3OrSta13 => matches!(
            applied.to,
            fsm::State::AwaitingLocalAssociateResponse | fsm::State::AwaitingTransportClose
        ),
        fsm::Next::Sta9OrSta10 => matches!(
            applied.to,
            fsm::State::CollisionRequestorAwaitingLocalResponse
                | fsm::State::CollisionAcceptorAwaitingReleaseRp
        ),
    };
    assert!(
        allowed,
        "{applied} does not end where the table says ({})",
        cell.next
    );
}

/// Arbitrary operations on a requestor and an acceptor joined by two byte pipes, on a
/// virtual clock: bytes delivered in arbitrary amounts (and now and then corrupted),
/// time jumps and timeouts, every user primitive (accept, reject, release, release
/// response, abort, DIMSE requests, responses and cancels), transport loss.
///
/// Checked: no panic; a primitive the table does not define in the current state is
/// refused and changes nothing; every applied transition is a defined cell; only A-ABORT
/// after an A-ABORT; nothing after `Event::Closed`; input buffers within the limits; and,
/// while no byte was corrupted, the acceptor receives exactly the requests the requestor
/// sent, in order.
pub fn fsm_ops(data: &[u8], start: Instant) {
    let Some((&selector, ops)) = data.split_first() else {
        return;
    };
    let config = fuzz_config(selector & !4); // DIMSE mode: requests and responses.
    let limit = config.max_pdu_length.max(config.max_associate_length) as usize + 6;
    let mut now = start;
    let Ok(requestor) = Association::requestor(now, config.clone(), fuzz_request()) else {
        return;
    };
    let mut sides = [
        Side::new(requestor, limit),
        Side::new(Association::acceptor(now, config, fuzz_policy()), limit),
    ];
    let mut corrupted = false;
    for pair in ops.chunks(2) {
        let (op, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        let who = usize::from(op >> 7);
        match op & 0x0f {
            // Deliver up to 8 × arg + 1 bytes from `who` to the other side.
            0..=2 => {
                let n = (usize::from(arg) * 8 + 1).min(sides[who].outbox.len());
                let chunk: Vec<u8> = sides[who].outbox.drain(..n).collect();
                let other = &mut sides[1 - who];
                let mut offered = &chunk[..];
                let mut guard = 0;
                while !offered.is_empty() {
                    match other.assoc.handle_input(now, offered) {
                        Ok(taken) => offered = &offered[taken..],
                        Err(_) => break,
                    }
                    check_last_transition(other);
                    other.pump(now);
                    guard += 1;
                    assert!(guard < 100_000, "handle_input makes no progress");
                }
            }
            3 => {
                if let Some(byte) = sides[who].outbox.get_mut(usize::from(arg)) {
                    *byte ^= arg | 1;
                    corrupted = true;
                }
            }
            4 => now += Duration::from_millis(u64::from(arg) * 250),
            5 => {
                sides[who].assoc.handle_timeout(now);
                check_last_transition(&sides[who]);
            }
            6 => {
                let side = &mut sides[who];
                let before = (side.assoc.state(), side.assoc.last_transition());
                let result = match arg % 4 {
                    0 => side.assoc.release(now),
                    1 => side.assoc.release_response(now),
                    2 => side.assoc.abort(now),
                    _ => side.assoc.handle_transport_connected(now),
                };
                check_primitive(side, before, &result);
            }
            7 => {
                // Transport loss seen by `who` (the other side learns from the bytes).
                sides[who].assoc.handle_transport_closed(now);
                check_last_transition(&sides[who]);
            }
            8 => {
                let side = &mut sides[who];
                if let Some(incoming) = side.incoming.take() {
                    let before = (side.assoc.state(), side.assoc.last_transition());
                    let result = if arg % 3 == 0 {
                        let reasons = [
                            RejectReason::NoReasonGiven,
                            RejectReason::CalledAeTitleNotRecognized,
                            RejectReason::LocalLimitExceeded,
                        ];
                        side.assoc
                            .reject(now, incoming, reasons[usize::from(arg / 3) % 3])
                    } else {
                        side.assoc.accept(now, incoming, AcceptOptions::default())
                    };
                    check_primitive(side, before, &result);
                }
            }
            9 => {
                // A request: C-ECHO on context 1 or C-FIND on context 3.
                let side = &mut sides[who];
                let before = (side.assoc.state(), side.assoc.last_transition());
                let (context, message, data) = if arg & 1 == 0 {
                    let echo = Message::CEchoRq(CEchoRq {
                        message_id: 0,
                        affected_sop_class_uid: VERIFICATION.into(),
                    });
                    (1, echo, None)
                } else {
                    let find = Message::CFindRq(CFindRq {
                        message_id: 0,
                        affected_sop_class_uid: MWL_FIND.into(),
                        priority: Priority::Medium,
                    });
                    (3, find, Some(Bytes::from(vec![0u8; usize::from(arg) * 4])))
                };
                let context = PresentationContextId::new(context).expect("odd id");
                let result = side.assoc.send_request(now, context, message, data);
                check_primitive(side, before, &result);
                if let Ok(id) = result {
                    side.sent_requests.push(id);
                    side.last_invoked = Some(id);
                }
            }
            10 => {
                let side = &mut sides[who];
                if let Some(id) = side.last_invoked {
                    let before = (side.assoc.state(), side.assoc.last_transition());
                    let result = side.assoc.send_cancel(now, id);
                    check_primitive(side, before, &result);
                }
            }
            11 => {
                // A response to the oldest request performed: to a C-ECHO on context 1 its
                // C-ECHO-RSP; otherwise a C-FIND-RSP, pending, success, cancel or failure
                // (the wrong type for a request that was no C-FIND: refused, not a panic).
                let side = &mut sides[who];
                if let Some(&(id, context)) = side.performing.first() {
                    let status = [
                        Status::PENDING,
                        Status::SUCCESS,
                        Status::CANCEL,
                        Status(0xC311),
                    ][usize::from(arg) % 4];
                    let (message, data) = if context.get() == 1 {
                        let echo = Message::CEchoRsp(CEchoRsp {
                            message_id_being_responded_to: id,
                            affected_sop_class_uid: None,
                            status: Status::SUCCESS,
                            detail: StatusDetail::default(),
                        });
                        (echo, None)
                    } else {
                        let find = Message::CFindRsp(CFindRsp {
                            message_id_being_responded_to: id,
                            affected_sop_class_uid: None,
                            status,
                            detail: StatusDetail::default(),
                        });
                        (find, status.is_pending().then(|| Bytes::from_static(&[])))
                    };
                    let last = message.status().is_some_and(|s| !s.is_pending());
                    let before = (side.assoc.state(), side.assoc.last_transition());
                    let result = side.assoc.send_response(now, context, message, data);
                    check_primitive(side, before, &result);
                    if result.is_ok() && last {
                        side.performing.remove(0);
                    }
                }
            }
            _ => {}
        }
        for side in &mut sides {
            side.pump(now);
        }
        if !corrupted {
            let [requestor, acceptor] = &sides;
            assert!(
                requestor
                    .sent_requests
                    .starts_with(&acceptor.received_requests),
                "the acceptor received {:?}, the requestor sent {:?}",
                acceptor.received_requests,
                requestor.sent_requests
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// C-FIND matching on arbitrary identifiers and records

use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::service::{MatchOptions, dataset, match_identifier, matches_value};

/// Splits `data` in two at a point its first two bytes give.
fn split_two(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (head, rest) = data.split_at_checked(2)?;
    let at = usize::from(u16::from_le_bytes([head[0], head[1]])).min(rest.len());
    Some(rest.split_at(at))
}

/// A query that asks for every top-level attribute of `record` with universal matching
/// (zero-length values, empty sequences), plus the record's Timezone Offset From UTC
/// (never matched), skipping what is never a key (group lengths, command and file meta
/// groups), or with the record's own text values where they are single values
/// without wild cards, ranges or backslashes (single value matching of a value against
/// itself).
fn query_from(record: &InMemDicomObject, own_values: bool) -> InMemDicomObject {
    let mut query = InMemDicomObject::new_empty();
    for element in record.iter() {
        let tag = element.header().tag;
        if tag.element() == 0 || tag.group() <= 2 {
            continue; // group lengths, command and file meta: never keys
        }
        let vr = element.header().vr;
        let text = element.value().to_str().ok();
        let literal = text.as_deref().is_some_and(|t| {
            let t = t.trim_matches(|c| c == ' ' || c == '\0');
            !t.is_empty() && !t.contains(['*', '?', '\\', '-'])
        });
        let value = match element.value() {
            Value::Sequence(_) => {
                Value::Sequence(DataSetSequence::new(Vec::new(), Length::UNDEFINED))
            }
            Value::Primitive(p) if own_values && literal && is_text(vr) => {
                Value::Primitive(p.clone())
            }
            _ => Value::Primitive(PrimitiveValue::Empty),
        };
        let vr = if matches!(value, Value::Sequence(_)) {
            VR::SQ
        } else {
            vr
        };
        query.put(DataElement::new(tag, vr, value));
    }
    if let Some(offset) = record.get(tags::TIMEZONE_OFFSET_FROM_UTC) {
        query.put(offset.clone());
    }
    query
}

fn is_text(vr: VR) -> bool {
    use VR::*;
    matches!(
        vr,
        AE | AS | CS | DA | DS | DT | IS | LO | LT | PN | SH | ST | TM | UC | UI | UR | UT
    )
}

/// The C-FIND matcher on an arbitrary identifier and record, each decoded from the
/// input as a data set (byte 0 picks the options and the transfer syntax; two bytes
/// say where the identifier ends and the record begins), and on arbitrary single values.
///
/// Checked: no panic; the same answer twice; a response holds only the query's keys and
/// the identifier attributes (Specific Character Set, Timezone Offset From UTC); a query
/// with every attribute of the record as a universal key matches it and returns every
/// key; single-valued text keys equal to the record's own values match it; and a single
/// value without wild cards or range matches itself under [`matches_value`].
pub fn identifier_match(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let options = if selector & 1 == 0 {
        MatchOptions::worklist()
    } else {
        MatchOptions::hanging_protocol()
    };
    let syntax = if selector & 2 == 0 {
        TRANSFER_SYNTAXES[0]
    } else {
        TRANSFER_SYNTAXES[1]
    };
    let Some((query_bytes, record_bytes)) = split_two(rest) else {
        return;
    };

    // Single values: the first half as a key, the second as a value, under each VR.
    let key = String::from_utf8_lossy(query_bytes);
    let value = String::from_utf8_lossy(record_bytes);
    let vr = [
        VR::PN,
        VR::DA,
        VR::TM,
        VR::DT,
        VR::CS,
        VR::LO,
        VR::DS,
        VR::IS,
        VR::UI,
        VR::AE,
    ][usize::from(selector >> 4) % 10];
    let once = matches_value(vr, &key, &value, &options);
    assert_eq!(
        once,
        matches_value(vr, &key, &value, &options),
        "not deterministic"
    );
    let literal = key.trim_matches(|c| c == ' ' || c == '\0');
    if !literal.is_empty() && !literal.contains(['*', '?', '\\', '-']) {
        assert!(
            matches_value(vr, &key, &key, &options),
            "{vr:?} {key:?} does not match itself"
        );
    }

    let decode = |bytes: &[u8]| {
        dataset::decode(&crate::dimse::DataSet {
            transfer_syntax: uid(syntax),
            bytes: Bytes::copy_from_slice(bytes),
        })
        .ok()
    };
    let (Some(query), Some(record)) = (decode(query_bytes), decode(record_bytes)) else {
        return;
    };
    let answer = match_identifier(&query, &record, &options);
    // Compared through Debug: dicom-core's `Length` equality is false for two undefined
    // lengths (like NaN), so `==` fails on any equal objects holding a sequence.
    assert_eq!(
        format!("{answer:?}"),
        format!("{:?}", match_identifier(&query, &record, &options)),
        "not deterministic"
    );
    if let Some(response) = &answer {
        for element in response.iter() {
            let tag = element.header().tag;
            assert!(
                query.get(tag).is_some()
                    || tag == tags::SPECIFIC_CHARACTER_SET
                    || tag == tags::TIMEZONE_OFFSET_FROM_UTC,
                "{tag} in the response was not asked for"
            );
        }
        let _ = dataset::encode(response, syntax);
    }

    let universal = query_from(&record, false);
    let response = match_identifier(&universal, &record, &options)
        .unwrap_or_else(|| panic!("universal keys do not match the record: {universal:?}"));
    for element in universal.iter() {
        let tag = element.header().tag;
        if tag == tags::SPECIFIC_CHARACTER_SET || tag == tags::TIMEZONE_OFFSET_FROM_UTC {
            continue; // identifier attributes, returned by their own rules
        }
        assert!(
            response.get(tag).is_some(),
            "{tag} asked for but not returned"
        );
    }
    let own = query_from(&record, true);
    assert!(
        match_identifier(&own, &record, &options).is_some(),
        "the record's own values do not match it: {own:?}"
    );
}
