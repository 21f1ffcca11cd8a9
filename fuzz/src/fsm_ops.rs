//! The `fsm_ops` target: a requestor and an acceptor joined by byte pipes, driven by
//! arbitrary operations and checked against PS3.8 Table 9-10.

use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::dimse::{
    CEchoRq, CEchoRsp, CFindRq, CFindRsp, Message, MessageId, Priority, Status, StatusDetail,
};
use dicomwire::pdu::{PduType as WirePduType, PresentationContextId};
use dicomwire::ul::{
    AcceptOptions, ApiMisuse, AppliedTransition, Association, Event, IncomingAssociation,
    RejectReason, fsm,
};

use crate::association_bytes::Watcher;
use crate::setup::{MWL_FIND, VERIFICATION, fuzz_config, fuzz_policy, fuzz_request};

/// One side of [`fsm_ops`]: its association and what has been seen of it.
struct Side {
    assoc: Association,
    watch: Watcher,
    /// Bytes it transmitted that the other side has not been given yet.
    outbox: Vec<u8>,
    /// An incoming-association token not answered yet.
    incoming: Option<IncomingAssociation>,
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
    result: &Result<T, ApiMisuse>,
) {
    let (state, transition) = before;
    match result {
        Err(ApiMisuse::NotAllowed {
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
