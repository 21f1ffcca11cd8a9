//! What an [`Association`] tells its user, and the types that travel with it: the
//! [`Event`]s and their payloads (the incoming-association token, rejects, aborts and
//! their reasons, raw P-DATA), the [`Transmit`] metadata of a PDU sent, the
//! [`AppliedTransition`] of Table 9-10, and [`ApiMisuse`], the error of a call that was a
//! mistake.

use std::fmt;

use bytes::Bytes;
use thiserror::Error;

#[cfg(doc)]
use super::Association;
use super::fsm::{self, Action, State};
use super::negotiation::Negotiated;
use super::timer::Timer;
#[cfg(doc)]
use crate::dimse::DimseConfig;
use crate::dimse::{DimseMisuse, DimseViolation, IncomingMessage, MessageId};
use crate::pdu::{
    self, Abort, AssociateRj, AssociateRq, DecodeError, MessageControlHeader, PData, PduType,
    PresentationContextId, UserIdentityRequest,
};

/// One applied cell of Table 9-10, for transcripts and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedTransition {
    /// The state before.
    pub from: State,
    /// The event.
    pub event: fsm::Event,
    /// The action taken.
    pub action: Action,
    /// The state after.
    pub to: State,
}

impl fmt::Display for AppliedTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} --{}/{}--> {}",
            self.from, self.event, self.action, self.to
        )
    }
}

/// A caller's mistake: the call changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// PS3.8 Table 9-10 defines nothing for this primitive in this state.
    #[error("{primitive} ({event}) is not allowed in {state}")]
    NotAllowed {
        /// The primitive, in words.
        primitive: &'static str,
        /// Its event id.
        event: fsm::Event,
        /// The state the association is in.
        state: State,
    },
    /// Input or a transport event before the transport connection exists.
    #[error("no transport connection in {0}")]
    NoTransport(State),
    /// The token belongs to another association.
    #[error("this incoming-association token belongs to another association")]
    ForeignToken,
    /// P-DATA on a presentation context that was not accepted.
    #[error("presentation context {0} was not accepted")]
    ContextNotAccepted(PresentationContextId),
    /// A P-DATA-TF larger than the peer accepts.
    #[error("P-DATA-TF of {len} bytes is over the peer's maximum of {max}")]
    PduTooLarge {
        /// Its PDU-length.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// A P-DATA-TF that cannot be encoded (no PDV, or over 4 GiB).
    #[error("P-DATA-TF cannot be encoded: {0}")]
    Encode(pdu::EncodeError),
    /// A DIMSE message that cannot be sent now.
    #[error(transparent)]
    Dimse(#[from] DimseMisuse),
}

/// A request waiting for the local user's answer (the A-ASSOCIATE indication, Sta3).
///
/// Consume it with [`Association::accept`] or [`Association::reject`]; until then the
/// association waits in Sta3.
#[must_use = "an incoming association waits in Sta3 until it is accepted or rejected"]
pub struct IncomingAssociation {
    /// The serial of the association it belongs to.
    pub(super) serial: u64,
    pub(super) request: Box<AssociateRq>,
    pub(super) proposal: Box<Negotiated>,
    /// Accepted or rejected: dropping it is then no mistake.
    pub(super) answered: bool,
}

impl IncomingAssociation {
    /// The A-ASSOCIATE-RQ as received.
    pub fn request(&self) -> &AssociateRq {
        &self.request
    }

    /// What accepting would agree on under the acceptor policy: context results,
    /// transfer syntaxes, roles, window.
    pub fn proposal(&self) -> &Negotiated {
        &self.proposal
    }

    /// The requestor's user identity, to check before accepting.
    pub fn user_identity(&self) -> Option<&UserIdentityRequest> {
        self.request.user_information.user_identity_request.as_ref()
    }
}

impl fmt::Debug for IncomingAssociation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingAssociation")
            .field("calling", &self.request.calling_ae_title)
            .field("called", &self.request.called_ae_title)
            .field("contexts", &self.request.presentation_contexts.len())
            .finish()
    }
}

impl Drop for IncomingAssociation {
    fn drop(&mut self) {
        if !self.answered {
            tracing::warn!(
                calling = %self.request.calling_ae_title,
                "incoming association dropped without accept or reject; it stays in Sta3"
            );
        }
    }
}

/// An A-ASSOCIATE-RJ, sent or received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The reject PDU's result, source and reason.
    pub rj: AssociateRj,
    /// True when the peer rejected us; false when we rejected the peer.
    pub by_peer: bool,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.by_peer { "peer" } else { "we" };
        write!(f, "association rejected ({who}): {}", self.rj)
    }
}

/// What the peer did wrong when we abort (AA-1 in Sta2, AA-7, AA-8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// Bytes that are not a valid PDU (Evt19).
    InvalidPdu(DecodeError),
    /// A valid PDU the state does not allow.
    UnexpectedPdu {
        /// The PDU type.
        pdu: PduType,
        /// Our state when it arrived.
        state: State,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPdu(e) => write!(f, "invalid PDU: {e}"),
            Self::UnexpectedPdu { pdu, state } => write!(f, "unexpected {} in {state}", pdu.name()),
        }
    }
}

/// How an association ended abnormally.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Aborted {
    /// The peer sent an A-ABORT (AA-3; AA-2 in Sta2). Its source tells a service-user
    /// abort (A-ABORT indication) from a service-provider one (A-P-ABORT).
    ByPeer(Abort),
    /// We sent an A-ABORT because the peer broke the protocol.
    ProtocolViolation {
        /// The A-ABORT we sent.
        sent: Abort,
        /// What the peer did.
        violation: Violation,
    },
    /// The transport closed while the association was open (AA-4, A-P-ABORT).
    TransportClosed,
    /// A deadline expired; we aborted (or, for ARTIM in Sta2, closed).
    Timeout(Timer),
    /// The peer broke the DIMSE rules (PS3.7); we sent an A-ABORT (AA-1, as the DIMSE
    /// layer is the upper layer's service-user).
    Dimse(DimseViolation),
    /// A data set we were sending ([`DataSetReader`](crate::dimse::DataSetReader))
    /// could not be read, or ended early; part of its message had gone, so we sent an
    /// A-ABORT (AA-1). Why, in words.
    DataSetUnreadable(String),
}

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ByPeer(a) => write!(f, "aborted by the peer: {a}"),
            Self::ProtocolViolation { sent, violation } => {
                write!(f, "aborted: {violation}; sent {sent}")
            }
            Self::TransportClosed => f.write_str("transport connection closed by the peer"),
            Self::Timeout(Timer::Artim) => f.write_str("ARTIM expired"),
            Self::Timeout(Timer::Connect) => {
                f.write_str("the transport connection did not open in time")
            }
            Self::Timeout(timer) => write!(f, "{}; aborted", timer.describe()),
            Self::Dimse(v) => write!(f, "aborted: {v}"),
            Self::DataSetUnreadable(why) => {
                write!(f, "aborted: cannot read the data set being sent: {why}")
            }
        }
    }
}

/// A P-DATA indication (DT-2, AR-6): the PDVs of one P-DATA-TF, copied out of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PDataIndication {
    /// The PDVs in order.
    pub pdvs: Vec<OwnedPdv>,
}

impl PDataIndication {
    /// The PDVs of `pdata`, copied.
    pub(super) fn copied(pdata: &PData<'_>) -> Self {
        Self {
            pdvs: pdata
                .pdvs
                .iter()
                .map(|pdv| OwnedPdv {
                    context_id: pdv.context_id,
                    header: pdv.header,
                    data: pdv.data.to_vec(),
                })
                .collect(),
        }
    }
}

/// A PDV that owns its fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPdv {
    /// The presentation context.
    pub context_id: PresentationContextId,
    /// Command or data, last or not.
    pub header: MessageControlHeader,
    /// The fragment.
    pub data: Vec<u8>,
}

/// What the association tells its user. Drain with [`Association::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Acceptor: an A-ASSOCIATE-RQ passed the provider checks (A-ASSOCIATE indication).
    /// Answer with [`Association::accept`] or [`Association::reject`].
    AssociationRequested(IncomingAssociation),
    /// The association is established (A-ASSOCIATE confirmation / AE-7), with what was
    /// negotiated. A requestor whose contexts were all rejected gets this too: check
    /// [`Negotiated::accepted`].
    Established(Box<Negotiated>),
    /// An A-ASSOCIATE-RJ was received (requestor) or sent (acceptor).
    Rejected(Rejected),
    /// The peer asked to release (A-RELEASE indication, AR-2; or AR-8 in a release
    /// collision). Answer with [`Association::release_response`].
    ReleaseRequested {
        /// Both sides asked at once (PS3.8 Sta9–Sta12).
        collision: bool,
    },
    /// Our release was confirmed (A-RELEASE confirmation, AR-3 or AR-10).
    Released,
    /// The association ended abnormally.
    Aborted(Aborted),
    /// A P-DATA indication, in raw mode ([`DimseConfig::raw_pdata`]).
    PData(PDataIndication),
    /// A DIMSE message: a request to perform, a response to one of ours, or a C-CANCEL
    /// of an operation we perform.
    Message(Box<IncomingMessage>),
    /// Streaming mode ([`DimseConfig::stream_store_data`]): a C-STORE-RQ whose data
    /// set follows as [`Event::StoreFragment`]s.
    StoreStarted(Box<IncomingMessage>),
    /// Streaming mode: one fragment of a C-STORE data set, in order.
    StoreFragment {
        /// The presentation context.
        context_id: PresentationContextId,
        /// The C-STORE-RQ's message ID.
        message_id: MessageId,
        /// The fragment.
        data: Bytes,
        /// Whether it is the last.
        last: bool,
    },
    /// The association is over and the transport is (or must be) closed: Sta1. The last
    /// event; after it the association can be dropped.
    Closed,
}

/// Metadata of one PDU appended by [`Association::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the bytes were appended to the buffer and must be sent"]
pub struct Transmit {
    /// The PDU's type.
    pub pdu_type: PduType,
    /// Bytes appended.
    pub len: usize,
}
