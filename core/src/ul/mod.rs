//! The upper-layer state machine of PS3.8 9.2 and association negotiation.
//!
//! [`Association`] drives one association in either role. Table 9-10 lives as data in
//! [`fsm`]; `Association` is its only interpreter. Negotiation (presentation contexts,
//! roles, extended negotiation, user identity, asynchronous operations window, maximum
//! PDU length) is in [`AssociationRequest`] for a requestor and [`AcceptorPolicy`] for an
//! acceptor, with the result in [`Negotiated`].

mod association;
mod event;
pub mod fsm;
pub use fsm::State;
mod negotiation;
mod read_buffers;
mod send_queue;
mod timer;
pub use read_buffers::ReadBuffers;
pub use send_queue::SendQueue;
pub use timer::Timer;

pub use association::{Association, MAX_PENDING_EVENTS};
pub use event::{
    Aborted, ApiMisuse, AppliedTransition, Event, IncomingAssociation, OwnedPdv, PDataIndication,
    Rejected, Transmit, Violation,
};
pub use negotiation::{
    AcceptOptions, AcceptorPolicy, AssociationConfig, AssociationRequest, ConfigError,
    IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, MAX_PRESENTATION_CONTEXTS, Negotiated,
    NegotiatedContext, ProposedContext, RejectReason, Role, RolePolicy, SupportedSyntax,
};
