//! The interpreter of PS3.8 Table 9-10 for [`Association`]: the table ([`fsm`]) says
//! which action and next state a state and an event lead to; this applies the action
//! (AE-1 … AA-8) and enters the state. It is the only code that changes the upper-layer
//! state, and the only place an event's input (a PDU, a user's answer, an abort cause)
//! turns into PDUs queued, timers armed and events reported.

use std::time::Instant;

use super::{Association, Input, LocalAbortCause, Outgoing};
use crate::pdu::{Abort, AbortReason, Pdu, PduType};
use crate::ul::event::{
    Aborted, ApiMisuse, AppliedTransition, Event, IncomingAssociation, Rejected, Violation,
};
use crate::ul::fsm::{self, Action, Next, State, Transition};
use crate::ul::negotiation::{
    AcceptOptions, RejectReason, Role, apply_accept_options, negotiate_as_acceptor,
    negotiate_as_requestor, provider_check,
};
use crate::ul::timer::Timer;

impl Association {
    pub(super) fn check_allowed(
        &self,
        event: fsm::Event,
        primitive: &'static str,
    ) -> Result<Transition, ApiMisuse> {
        fsm::transition(self.state, event).ok_or(ApiMisuse::NotAllowed {
            primitive,
            event,
            state: self.state,
        })
    }

    /// Applies the cell of Table 9-10 for `event` in the current state, or refuses
    /// (changing nothing) when the table defines none.
    pub(super) fn dispatch(
        &mut self,
        now: Instant,
        event: fsm::Event,
        input: Input<'_>,
    ) -> Result<(), ApiMisuse> {
        let transition = self.check_allowed(event, primitive_name(event))?;
        let from = self.state;
        let next = self.apply(now, transition, input);
        let applied = AppliedTransition {
            from,
            event,
            action: transition.action,
            to: next,
        };
        tracing::trace!(%applied, "transition");
        self.last_transition = Some(applied);
        self.transitions_applied += 1;
        self.enter(next);
        self.timers.sending(now, !self.outq.is_empty(), false);
        Ok(())
    }

    fn enter(&mut self, next: State) {
        let from = self.state;
        self.state = next;
        self.timers.entered(next);
        debug_assert!(
            !self.timers.is_armed(Timer::Artim) || Timer::Artim.armed_in(next),
            "ARTIM armed in {next}"
        );
        if next == State::Idle {
            self.outq.clear();
            self.inbuf = Vec::new();
            if from != State::Idle {
                self.events.push_back(Event::Closed);
            }
        }
    }

    pub(super) fn arm(&mut self, now: Instant, timer: Timer) {
        let after = match timer {
            Timer::Artim => self.config.artim_timeout,
            Timer::Connect => self.config.connect_timeout,
            Timer::AssociateResponse => self.config.associate_timeout,
            Timer::ReleaseResponse => self.config.release_timeout,
            // The others are derived from what the association does, not armed.
            _ => return,
        };
        self.timers.arm(timer, now, after);
    }

    fn queue(&mut self, pdu: &Pdu<'_>) {
        let mut bytes = Vec::new();
        match pdu.encode(&mut bytes) {
            Ok(_) => self.outq.push_back(Outgoing::Pdu(bytes)),
            // Every PDU we build was checked when its parts were accepted.
            Err(e) => tracing::error!(error = %e, pdu = pdu.pdu_type().name(), "cannot encode PDU"),
        }
    }

    /// An A-ABORT replaces whatever was waiting to be sent.
    fn queue_abort(&mut self, abort: Abort) {
        self.outq.clear();
        self.queue(&Pdu::Abort(abort));
    }

    fn violation(&self, input: Input<'_>) -> Violation {
        match input {
            Input::Invalid(e) => Violation::InvalidPdu(e),
            Input::Pdu(p) => Violation::UnexpectedPdu {
                pdu: p.pdu_type(),
                state: self.state,
            },
            _ => Violation::UnexpectedPdu {
                pdu: PduType::Abort,
                state: self.state,
            },
        }
    }

    /// Applies one action and returns the next state.
    fn apply(&mut self, now: Instant, t: Transition, input: Input<'_>) -> State {
        let fixed = match t.next {
            Next::To(s) => s,
            Next::Sta3OrSta13 | Next::Sta9OrSta10 => self.state,
        };
        match t.action {
            Action::AE1 => {}
            Action::AE2 => {
                if let Some(rq) = self.request.clone() {
                    self.queue(&Pdu::AssociateRq(rq));
                }
                self.arm(now, Timer::AssociateResponse);
            }
            Action::AE3 => {
                if let (Input::Pdu(Pdu::AssociateAc(ac)), Some(rq)) = (input, &self.request) {
                    let negotiated = negotiate_as_requestor(rq, &ac, &self.config);
                    if negotiated.accepted().next().is_none() {
                        tracing::warn!(
                            rejected = %negotiated.rejected_summary(),
                            "association established without any accepted presentation context"
                        );
                    }
                    self.negotiated = Some(Box::new(negotiated.clone()));
                    self.events
                        .push_back(Event::Established(Box::new(negotiated)));
                }
            }
            Action::AE4 => {
                if let Input::Pdu(Pdu::AssociateRj(rj)) = input {
                    self.events
                        .push_back(Event::Rejected(Rejected { rj, by_peer: true }));
                }
                self.close_transport = true;
            }
            Action::AE5 => self.arm(now, Timer::Artim),
            Action::AE6 => {
                self.timers.disarm(Timer::Artim);
                let Input::Pdu(Pdu::AssociateRq(rq)) = input else {
                    return State::AwaitingTransportClose;
                };
                let policy = self.policy.clone().unwrap_or_default();
                let negotiation = provider_check(&rq, &policy).and_then(|()| {
                    let (ac, negotiated) = negotiate_as_acceptor(&rq, &policy, &self.config);
                    if negotiated.accepted().next().is_none() && !policy.accept_with_no_context {
                        tracing::info!(rejected = %negotiated.rejected_summary(), "no proposed presentation context is acceptable");
                        return Err(RejectReason::NoReasonGiven);
                    }
                    Ok((ac, negotiated))
                });
                return match negotiation {
                    Err(reason) => {
                        tracing::info!(calling = %rq.calling_ae_title, called = %rq.called_ae_title, %reason, "association rejected");
                        self.queue(&Pdu::AssociateRj(reason.to_pdu()));
                        self.events.push_back(Event::Rejected(Rejected {
                            rj: reason.to_pdu(),
                            by_peer: false,
                        }));
                        self.arm(now, Timer::Artim);
                        State::AwaitingTransportClose
                    }
                    Ok((ac, negotiated)) => {
                        let proposal = Box::new(negotiated.clone());
                        self.pending_accept = Some((Box::new(ac), Box::new(negotiated)));
                        self.events
                            .push_back(Event::AssociationRequested(IncomingAssociation {
                                serial: self.serial,
                                request: rq.clone(),
                                proposal,
                                answered: false,
                            }));
                        self.request = Some(rq);
                        State::AwaitingLocalAssociateResponse
                    }
                };
            }
            Action::AE7 => {
                let options = match input {
                    Input::Accept(o) => o,
                    _ => AcceptOptions::default(),
                };
                if let (Some((mut ac, mut negotiated)), Some(rq)) =
                    (self.pending_accept.take(), self.request.as_deref())
                {
                    apply_accept_options(&mut ac, &mut negotiated, rq, options);
                    self.timers.activity(now);
                    self.queue(&Pdu::AssociateAc(ac));
                    self.negotiated = Some(negotiated.clone());
                    self.events.push_back(Event::Established(negotiated));
                }
            }
            Action::AE8 => {
                let reason = match input {
                    Input::Reject(r) => r,
                    _ => RejectReason::NoReasonGiven,
                };
                self.pending_accept = None;
                self.queue(&Pdu::AssociateRj(reason.to_pdu()));
                self.events.push_back(Event::Rejected(Rejected {
                    rj: reason.to_pdu(),
                    by_peer: false,
                }));
                self.arm(now, Timer::Artim);
            }
            Action::DT1 | Action::AR7 => {
                if let Input::Send(outgoing) = input {
                    self.outq.push_back(outgoing);
                }
            }
            Action::DT2 | Action::AR6 => {
                if let Input::Pdu(Pdu::PData(p)) = input {
                    self.on_pdata(&p);
                }
            }
            Action::AR1 => {
                self.queue(&Pdu::ReleaseRq);
                self.arm(now, Timer::ReleaseResponse);
            }
            Action::AR2 => self
                .events
                .push_back(Event::ReleaseRequested { collision: false }),
            Action::AR3 => {
                self.events.push_back(Event::Released);
                self.close_transport = true;
            }
            Action::AR4 => {
                self.queue(&Pdu::ReleaseRp);
                self.arm(now, Timer::Artim);
            }
            Action::AR5 => self.timers.disarm(Timer::Artim),
            Action::AR8 => {
                self.events
                    .push_back(Event::ReleaseRequested { collision: true });
                return match self.role {
                    Role::Requestor => State::CollisionRequestorAwaitingLocalResponse,
                    Role::Acceptor => State::CollisionAcceptorAwaitingReleaseRp,
                };
            }
            Action::AR9 => self.queue(&Pdu::ReleaseRp),
            Action::AR10 => self.events.push_back(Event::Released),
            Action::AA1 => {
                self.queue_abort(Abort::USER);
                self.arm(now, Timer::Artim);
                match input {
                    Input::Abort(LocalAbortCause::User) => {}
                    Input::Abort(LocalAbortCause::Timeout(timer)) => {
                        self.events
                            .push_back(Event::Aborted(Aborted::Timeout(timer)));
                    }
                    Input::Abort(LocalAbortCause::Unreadable(why)) => {
                        self.events
                            .push_back(Event::Aborted(Aborted::DataSetUnreadable(why)));
                    }
                    Input::Abort(LocalAbortCause::Dimse) => {
                        if let Some(v) = self.dimse_violation.take() {
                            tracing::warn!(violation = %v, "DIMSE violation; aborting");
                            self.events.push_back(Event::Aborted(Aborted::Dimse(v)));
                        }
                    }
                    other => {
                        let violation = self.violation(other);
                        tracing::warn!(%violation, "aborting");
                        self.events
                            .push_back(Event::Aborted(Aborted::ProtocolViolation {
                                sent: Abort::USER,
                                violation,
                            }));
                    }
                }
            }
            Action::AA2 => {
                self.timers.disarm(Timer::Artim);
                self.close_transport = true;
                if let Input::Abort(LocalAbortCause::Timeout(timer)) = input {
                    self.events
                        .push_back(Event::Aborted(Aborted::Timeout(timer)));
                } else if self.state == State::AwaitingAssociateRq {
                    match input {
                        Input::Pdu(Pdu::Abort(a)) => {
                            self.events.push_back(Event::Aborted(Aborted::ByPeer(a)))
                        }
                        Input::None => self
                            .events
                            .push_back(Event::Aborted(Aborted::Timeout(Timer::Artim))),
                        _ => {}
                    }
                }
            }
            Action::AA3 => {
                if let Input::Pdu(Pdu::Abort(a)) = input {
                    tracing::info!(abort = %a, "aborted by the peer");
                    self.events.push_back(Event::Aborted(Aborted::ByPeer(a)));
                }
                self.close_transport = true;
            }
            Action::AA4 => self
                .events
                .push_back(Event::Aborted(Aborted::TransportClosed)),
            Action::AA5 => self.timers.disarm(Timer::Artim),
            Action::AA6 => {}
            Action::AA7 => {
                let reason = match &input {
                    Input::Invalid(e) => AbortReason::from(e),
                    _ => AbortReason::UnexpectedPdu,
                };
                self.queue_abort(Abort::provider(reason));
            }
            Action::AA8 => {
                let reason = match &input {
                    Input::Invalid(e) => AbortReason::from(e),
                    _ => AbortReason::UnexpectedPdu,
                };
                let sent = Abort::provider(reason);
                let violation = self.violation(input);
                tracing::warn!(state = %self.state, %violation, "aborting");
                self.queue_abort(sent);
                self.events
                    .push_back(Event::Aborted(Aborted::ProtocolViolation {
                        sent,
                        violation,
                    }));
                self.arm(now, Timer::Artim);
            }
        }
        fixed
    }
}

fn primitive_name(event: fsm::Event) -> &'static str {
    use fsm::Event as E;
    match event {
        E::AssociateRequest => "A-ASSOCIATE request",
        E::TransportConnectConfirm => "transport connect confirmation",
        E::AssociateAcReceived => "A-ASSOCIATE-AC PDU",
        E::AssociateRjReceived => "A-ASSOCIATE-RJ PDU",
        E::TransportConnectIndication => "transport connect indication",
        E::AssociateRqReceived => "A-ASSOCIATE-RQ PDU",
        E::AssociateAccept => "A-ASSOCIATE response (accept)",
        E::AssociateReject => "A-ASSOCIATE response (reject)",
        E::PDataRequest => "P-DATA request",
        E::PDataReceived => "P-DATA-TF PDU",
        E::ReleaseRequest => "A-RELEASE request",
        E::ReleaseRqReceived => "A-RELEASE-RQ PDU",
        E::ReleaseRpReceived => "A-RELEASE-RP PDU",
        E::ReleaseResponse => "A-RELEASE response",
        E::AbortRequest => "A-ABORT request",
        E::AbortReceived => "A-ABORT PDU",
        E::TransportClosed => "transport closed",
        E::ArtimExpired => "ARTIM expired",
        E::InvalidPduReceived => "invalid PDU",
    }
}
