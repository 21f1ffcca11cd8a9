//! PS3.8 Table 9-10 as data: the states, events and actions of the upper-layer state
//! machine, and the one table that says which action each (state, event) pair takes.
//!
//! Nothing here changes state; [`super::Association`] is the one interpreter that applies
//! the actions.

use std::fmt;

/// The 13 states of the upper-layer state machine (PS3.8 Tables 9-1 … 9-5).
///
/// `Debug` and `Display` print the standard's id (`Sta6`) so logs can be checked against
/// the standard.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// Sta1 — idle: no association, no transport connection.
    Idle,
    /// Sta2 — transport connection open (acceptor), waiting for an A-ASSOCIATE-RQ; ARTIM running.
    AwaitingAssociateRq,
    /// Sta3 — waiting for the local user's A-ASSOCIATE response (accept or reject).
    AwaitingLocalAssociateResponse,
    /// Sta4 — waiting for the transport connection to open (requestor).
    AwaitingTransportConnect,
    /// Sta5 — waiting for an A-ASSOCIATE-AC or -RJ.
    AwaitingAssociateResponse,
    /// Sta6 — association established, ready for data transfer.
    Established,
    /// Sta7 — waiting for an A-RELEASE-RP (we asked to release).
    AwaitingReleaseRp,
    /// Sta8 — waiting for the local user's A-RELEASE response (the peer asked to release).
    AwaitingLocalReleaseResponse,
    /// Sta9 — release collision, requestor side: waiting for the local A-RELEASE response.
    CollisionRequestorAwaitingLocalResponse,
    /// Sta10 — release collision, acceptor side: waiting for an A-RELEASE-RP.
    CollisionAcceptorAwaitingReleaseRp,
    /// Sta11 — release collision, requestor side: waiting for an A-RELEASE-RP.
    CollisionRequestorAwaitingReleaseRp,
    /// Sta12 — release collision, acceptor side: waiting for the local A-RELEASE response.
    CollisionAcceptorAwaitingLocalResponse,
    /// Sta13 — waiting for the transport connection to close; the association is gone.
    AwaitingTransportClose,
}

impl State {
    /// All states, Sta1 to Sta13.
    pub const ALL: [Self; 13] = [
        Self::Idle,
        Self::AwaitingAssociateRq,
        Self::AwaitingLocalAssociateResponse,
        Self::AwaitingTransportConnect,
        Self::AwaitingAssociateResponse,
        Self::Established,
        Self::AwaitingReleaseRp,
        Self::AwaitingLocalReleaseResponse,
        Self::CollisionRequestorAwaitingLocalResponse,
        Self::CollisionAcceptorAwaitingReleaseRp,
        Self::CollisionRequestorAwaitingReleaseRp,
        Self::CollisionAcceptorAwaitingLocalResponse,
        Self::AwaitingTransportClose,
    ];

    /// The standard's number: 1 for Sta1 … 13 for Sta13.
    pub const fn number(self) -> usize {
        match self {
            Self::Idle => 1,
            Self::AwaitingAssociateRq => 2,
            Self::AwaitingLocalAssociateResponse => 3,
            Self::AwaitingTransportConnect => 4,
            Self::AwaitingAssociateResponse => 5,
            Self::Established => 6,
            Self::AwaitingReleaseRp => 7,
            Self::AwaitingLocalReleaseResponse => 8,
            Self::CollisionRequestorAwaitingLocalResponse => 9,
            Self::CollisionAcceptorAwaitingReleaseRp => 10,
            Self::CollisionRequestorAwaitingReleaseRp => 11,
            Self::CollisionAcceptorAwaitingLocalResponse => 12,
            Self::AwaitingTransportClose => 13,
        }
    }

    /// The standard's id: `"Sta6"`.
    pub const fn id(self) -> &'static str {
        [
            "Sta1", "Sta2", "Sta3", "Sta4", "Sta5", "Sta6", "Sta7", "Sta8", "Sta9", "Sta10",
            "Sta11", "Sta12", "Sta13",
        ][self.number() - 1]
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The 19 events of the upper-layer state machine (PS3.8 Table 9-10 rows).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Event {
    /// Evt1 — A-ASSOCIATE request primitive from the local user.
    AssociateRequest,
    /// Evt2 — transport connect confirmation (our outgoing connection opened).
    TransportConnectConfirm,
    /// Evt3 — A-ASSOCIATE-AC PDU received.
    AssociateAcReceived,
    /// Evt4 — A-ASSOCIATE-RJ PDU received.
    AssociateRjReceived,
    /// Evt5 — transport connection indication (an incoming connection).
    TransportConnectIndication,
    /// Evt6 — A-ASSOCIATE-RQ PDU received.
    AssociateRqReceived,
    /// Evt7 — A-ASSOCIATE response primitive (accept) from the local user.
    AssociateAccept,
    /// Evt8 — A-ASSOCIATE response primitive (reject) from the local user.
    AssociateReject,
    /// Evt9 — P-DATA request primitive from the local user.
    PDataRequest,
    /// Evt10 — P-DATA-TF PDU received.
    PDataReceived,
    /// Evt11 — A-RELEASE request primitive from the local user.
    ReleaseRequest,
    /// Evt12 — A-RELEASE-RQ PDU received.
    ReleaseRqReceived,
    /// Evt13 — A-RELEASE-RP PDU received.
    ReleaseRpReceived,
    /// Evt14 — A-RELEASE response primitive from the local user.
    ReleaseResponse,
    /// Evt15 — A-ABORT request primitive from the local user.
    AbortRequest,
    /// Evt16 — A-ABORT PDU received.
    AbortReceived,
    /// Evt17 — transport connection closed indication.
    TransportClosed,
    /// Evt18 — ARTIM timer expired.
    ArtimExpired,
    /// Evt19 — unrecognized or invalid PDU received.
    InvalidPduReceived,
}

impl Event {
    /// All events, Evt1 to Evt19.
    pub const ALL: [Self; 19] = [
        Self::AssociateRequest,
        Self::TransportConnectConfirm,
        Self::AssociateAcReceived,
        Self::AssociateRjReceived,
        Self::TransportConnectIndication,
        Self::AssociateRqReceived,
        Self::AssociateAccept,
        Self::AssociateReject,
        Self::PDataRequest,
        Self::PDataReceived,
        Self::ReleaseRequest,
        Self::ReleaseRqReceived,
        Self::ReleaseRpReceived,
        Self::ReleaseResponse,
        Self::AbortRequest,
        Self::AbortReceived,
        Self::TransportClosed,
        Self::ArtimExpired,
        Self::InvalidPduReceived,
    ];

    /// The standard's number: 1 for Evt1 … 19 for Evt19.
    pub const fn number(self) -> usize {
        self as usize + 1
    }

    /// The standard's id: `"Evt10"`.
    pub const fn id(self) -> &'static str {
        [
            "Evt1", "Evt2", "Evt3", "Evt4", "Evt5", "Evt6", "Evt7", "Evt8", "Evt9", "Evt10",
            "Evt11", "Evt12", "Evt13", "Evt14", "Evt15", "Evt16", "Evt17", "Evt18", "Evt19",
        ][self as usize]
    }

    /// Where the event comes from.
    pub const fn source(self) -> EventSource {
        match self {
            Self::AssociateRequest
            | Self::AssociateAccept
            | Self::AssociateReject
            | Self::PDataRequest
            | Self::ReleaseRequest
            | Self::ReleaseResponse
            | Self::AbortRequest => EventSource::LocalUser,
            Self::TransportConnectConfirm
            | Self::TransportConnectIndication
            | Self::TransportClosed => EventSource::Transport,
            Self::AssociateAcReceived
            | Self::AssociateRjReceived
            | Self::AssociateRqReceived
            | Self::PDataReceived
            | Self::ReleaseRqReceived
            | Self::ReleaseRpReceived
            | Self::AbortReceived
            | Self::InvalidPduReceived => EventSource::PeerPdu,
            Self::ArtimExpired => EventSource::Timer,
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Where an [`Event`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    /// A primitive of the local user (a method call).
    LocalUser,
    /// A PDU from the peer.
    PeerPdu,
    /// The transport.
    Transport,
    /// A timer.
    Timer,
}

/// The 28 actions of PS3.8 Tables 9-6 … 9-9.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// AE-1 — issue a transport connect request.
    AE1,
    /// AE-2 — send the A-ASSOCIATE-RQ PDU.
    AE2,
    /// AE-3 — issue the A-ASSOCIATE confirmation (accept).
    AE3,
    /// AE-4 — issue the A-ASSOCIATE confirmation (reject) and close the transport.
    AE4,
    /// AE-5 — issue the transport connection response; start ARTIM.
    AE5,
    /// AE-6 — stop ARTIM; if the request is acceptable issue the A-ASSOCIATE indication
    /// (Sta3), otherwise send A-ASSOCIATE-RJ and start ARTIM (Sta13).
    AE6,
    /// AE-7 — send the A-ASSOCIATE-AC PDU.
    AE7,
    /// AE-8 — send the A-ASSOCIATE-RJ PDU and start ARTIM.
    AE8,
    /// DT-1 — send a P-DATA-TF PDU.
    DT1,
    /// DT-2 — issue a P-DATA indication.
    DT2,
    /// AR-1 — send the A-RELEASE-RQ PDU.
    AR1,
    /// AR-2 — issue the A-RELEASE indication.
    AR2,
    /// AR-3 — issue the A-RELEASE confirmation and close the transport.
    AR3,
    /// AR-4 — send the A-RELEASE-RP PDU and start ARTIM.
    AR4,
    /// AR-5 — stop ARTIM.
    AR5,
    /// AR-6 — issue a P-DATA indication (data while waiting for the A-RELEASE-RP).
    AR6,
    /// AR-7 — send a P-DATA-TF PDU (the local user still sends after the peer asked to release).
    AR7,
    /// AR-8 — issue the A-RELEASE indication (release collision): Sta9 for the
    /// requestor, Sta10 for the acceptor.
    AR8,
    /// AR-9 — send the A-RELEASE-RP PDU.
    AR9,
    /// AR-10 — issue the A-RELEASE confirmation.
    AR10,
    /// AA-1 — send an A-ABORT PDU (service-user source); start or restart ARTIM.
    AA1,
    /// AA-2 — stop ARTIM if running; close the transport.
    AA2,
    /// AA-3 — issue the A-ABORT (or A-P-ABORT) indication and close the transport.
    AA3,
    /// AA-4 — issue an A-P-ABORT indication.
    AA4,
    /// AA-5 — stop ARTIM.
    AA5,
    /// AA-6 — ignore the PDU.
    AA6,
    /// AA-7 — send an A-ABORT PDU.
    AA7,
    /// AA-8 — send an A-ABORT PDU (service-provider source), issue an A-P-ABORT
    /// indication, start ARTIM.
    AA8,
}

impl Action {
    /// The standard's id: `"AE-1"`, `"DT-2"`, `"AA-8"` …
    pub const fn id(self) -> &'static str {
        match self {
            Self::AE1 => "AE-1",
            Self::AE2 => "AE-2",
            Self::AE3 => "AE-3",
            Self::AE4 => "AE-4",
            Self::AE5 => "AE-5",
            Self::AE6 => "AE-6",
            Self::AE7 => "AE-7",
            Self::AE8 => "AE-8",
            Self::DT1 => "DT-1",
            Self::DT2 => "DT-2",
            Self::AR1 => "AR-1",
            Self::AR2 => "AR-2",
            Self::AR3 => "AR-3",
            Self::AR4 => "AR-4",
            Self::AR5 => "AR-5",
            Self::AR6 => "AR-6",
            Self::AR7 => "AR-7",
            Self::AR8 => "AR-8",
            Self::AR9 => "AR-9",
            Self::AR10 => "AR-10",
            Self::AA1 => "AA-1",
            Self::AA2 => "AA-2",
            Self::AA3 => "AA-3",
            Self::AA4 => "AA-4",
            Self::AA5 => "AA-5",
            Self::AA6 => "AA-6",
            Self::AA7 => "AA-7",
            Self::AA8 => "AA-8",
        }
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The state a cell leads to. Two cells of Table 9-10 branch on a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Always this state.
    To(State),
    /// AE-6: Sta3 if the request is acceptable to the service provider, else Sta13.
    Sta3OrSta13,
    /// AR-8: Sta9 for the association requestor, Sta10 for the acceptor.
    Sta9OrSta10,
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::To(s) => write!(f, "{s}"),
            Self::Sta3OrSta13 => f.write_str("Sta3|Sta13"),
            Self::Sta9OrSta10 => f.write_str("Sta9|Sta10"),
        }
    }
}

/// One defined cell of Table 9-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The action to take.
    pub action: Action,
    /// The state to go to.
    pub next: Next,
}

use Action::*;
use Event as E;
use State as S;

const fn to(action: Action, state: State) -> Transition {
    Transition {
        action,
        next: Next::To(state),
    }
}

/// The defined cells of PS3.8 Table 9-10, row by row (event), column by column (state).
const CELLS: [(E, S, Transition); 123] = [
    (
        E::AssociateRequest,
        S::Idle,
        to(AE1, S::AwaitingTransportConnect),
    ),
    (
        E::TransportConnectConfirm,
        S::AwaitingTransportConnect,
        to(AE2, S::AwaitingAssociateResponse),
    ),
    (
        E::AssociateAcReceived,
        S::AwaitingAssociateRq,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::AwaitingAssociateResponse,
        to(AE3, S::Established),
    ),
    (
        E::AssociateAcReceived,
        S::Established,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::AwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAcReceived,
        S::AwaitingTransportClose,
        to(AA6, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::AwaitingAssociateRq,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::AwaitingAssociateResponse,
        to(AE4, S::Idle),
    ),
    (
        E::AssociateRjReceived,
        S::Established,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::AwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRjReceived,
        S::AwaitingTransportClose,
        to(AA6, S::AwaitingTransportClose),
    ),
    (
        E::TransportConnectIndication,
        S::Idle,
        to(AE5, S::AwaitingAssociateRq),
    ),
    (
        E::AssociateRqReceived,
        S::AwaitingAssociateRq,
        Transition {
            action: AE6,
            next: Next::Sta3OrSta13,
        },
    ),
    (
        E::AssociateRqReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::AwaitingAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::Established,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::AwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::AssociateRqReceived,
        S::AwaitingTransportClose,
        to(AA7, S::AwaitingTransportClose),
    ),
    (
        E::AssociateAccept,
        S::AwaitingLocalAssociateResponse,
        to(AE7, S::Established),
    ),
    (
        E::AssociateReject,
        S::AwaitingLocalAssociateResponse,
        to(AE8, S::AwaitingTransportClose),
    ),
    (E::PDataRequest, S::Established, to(DT1, S::Established)),
    (
        E::PDataRequest,
        S::AwaitingLocalReleaseResponse,
        to(AR7, S::AwaitingLocalReleaseResponse),
    ),
    (
        E::PDataReceived,
        S::AwaitingAssociateRq,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::PDataReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::PDataReceived,
        S::AwaitingAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (E::PDataReceived, S::Established, to(DT2, S::Established)),
    (
        E::PDataReceived,
        S::AwaitingReleaseRp,
        to(AR6, S::AwaitingReleaseRp),
    ),
    (
        E::PDataReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::PDataReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::PDataReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::PDataReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::PDataReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::PDataReceived,
        S::AwaitingTransportClose,
        to(AA6, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRequest,
        S::Established,
        to(AR1, S::AwaitingReleaseRp),
    ),
    (
        E::ReleaseRqReceived,
        S::AwaitingAssociateRq,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::AwaitingAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::Established,
        to(AR2, S::AwaitingLocalReleaseResponse),
    ),
    (
        E::ReleaseRqReceived,
        S::AwaitingReleaseRp,
        Transition {
            action: AR8,
            next: Next::Sta9OrSta10,
        },
    ),
    (
        E::ReleaseRqReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRqReceived,
        S::AwaitingTransportClose,
        to(AA6, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRpReceived,
        S::AwaitingAssociateRq,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRpReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRpReceived,
        S::AwaitingAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRpReceived,
        S::Established,
        to(AA8, S::AwaitingTransportClose),
    ),
    (E::ReleaseRpReceived, S::AwaitingReleaseRp, to(AR3, S::Idle)),
    (
        E::ReleaseRpReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRpReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRpReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AR10, S::CollisionAcceptorAwaitingLocalResponse),
    ),
    (
        E::ReleaseRpReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AR3, S::Idle),
    ),
    (
        E::ReleaseRpReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseRpReceived,
        S::AwaitingTransportClose,
        to(AA6, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseResponse,
        S::AwaitingLocalReleaseResponse,
        to(AR4, S::AwaitingTransportClose),
    ),
    (
        E::ReleaseResponse,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AR9, S::CollisionRequestorAwaitingReleaseRp),
    ),
    (
        E::ReleaseResponse,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AR4, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::AwaitingLocalAssociateResponse,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::AwaitingTransportConnect,
        to(AA2, S::Idle),
    ),
    (
        E::AbortRequest,
        S::AwaitingAssociateResponse,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::Established,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::AwaitingReleaseRp,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::AwaitingLocalReleaseResponse,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::AbortRequest,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA1, S::AwaitingTransportClose),
    ),
    (E::AbortReceived, S::AwaitingAssociateRq, to(AA2, S::Idle)),
    (
        E::AbortReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA3, S::Idle),
    ),
    (
        E::AbortReceived,
        S::AwaitingAssociateResponse,
        to(AA3, S::Idle),
    ),
    (E::AbortReceived, S::Established, to(AA3, S::Idle)),
    (E::AbortReceived, S::AwaitingReleaseRp, to(AA3, S::Idle)),
    (
        E::AbortReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA3, S::Idle),
    ),
    (
        E::AbortReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA3, S::Idle),
    ),
    (
        E::AbortReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA3, S::Idle),
    ),
    (
        E::AbortReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA3, S::Idle),
    ),
    (
        E::AbortReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA3, S::Idle),
    ),
    (
        E::AbortReceived,
        S::AwaitingTransportClose,
        to(AA2, S::Idle),
    ),
    (E::TransportClosed, S::AwaitingAssociateRq, to(AA5, S::Idle)),
    (
        E::TransportClosed,
        S::AwaitingLocalAssociateResponse,
        to(AA4, S::Idle),
    ),
    (
        E::TransportClosed,
        S::AwaitingTransportConnect,
        to(AA4, S::Idle),
    ),
    (
        E::TransportClosed,
        S::AwaitingAssociateResponse,
        to(AA4, S::Idle),
    ),
    (E::TransportClosed, S::Established, to(AA4, S::Idle)),
    (E::TransportClosed, S::AwaitingReleaseRp, to(AA4, S::Idle)),
    (
        E::TransportClosed,
        S::AwaitingLocalReleaseResponse,
        to(AA4, S::Idle),
    ),
    (
        E::TransportClosed,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA4, S::Idle),
    ),
    (
        E::TransportClosed,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA4, S::Idle),
    ),
    (
        E::TransportClosed,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA4, S::Idle),
    ),
    (
        E::TransportClosed,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA4, S::Idle),
    ),
    (
        E::TransportClosed,
        S::AwaitingTransportClose,
        to(AR5, S::Idle),
    ),
    (E::ArtimExpired, S::AwaitingAssociateRq, to(AA2, S::Idle)),
    (E::ArtimExpired, S::AwaitingTransportClose, to(AA2, S::Idle)),
    (
        E::InvalidPduReceived,
        S::AwaitingAssociateRq,
        to(AA1, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::AwaitingLocalAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::AwaitingAssociateResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::Established,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::AwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::AwaitingLocalReleaseResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::CollisionRequestorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::CollisionAcceptorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::CollisionRequestorAwaitingReleaseRp,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::CollisionAcceptorAwaitingLocalResponse,
        to(AA8, S::AwaitingTransportClose),
    ),
    (
        E::InvalidPduReceived,
        S::AwaitingTransportClose,
        to(AA7, S::AwaitingTransportClose),
    ),
];

const fn build_table() -> [[Option<Transition>; 19]; 13] {
    let mut table = [[None; 19]; 13];
    let mut i = 0;
    while i < CELLS.len() {
        let (event, state, transition) = CELLS[i];
        table[state.number() - 1][event.number() - 1] = Some(transition);
        i += 1;
    }
    table
}

static TABLE: [[Option<Transition>; 19]; 13] = build_table();

/// The cell of Table 9-10 for `event` in `state`: `None` where the table defines nothing.
pub const fn transition(state: State, event: Event) -> Option<Transition> {
    TABLE[state.number() - 1][event.number() - 1]
}

/// The number of defined cells (123).
pub const DEFINED_CELLS: usize = CELLS.len();
