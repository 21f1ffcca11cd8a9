//! Every deadline of an association, in one table.

use std::time::{Duration, Instant};

use super::fsm::State;
use super::negotiation::AssociationConfig;

/// The deadlines an association can have armed; [`Association::next_timer`] says which
/// comes first, [`Association::handle_timeout`] fires it.
///
/// | timer | armed while | counted from | on expiry |
/// |---|---|---|---|
/// | `Artim` | Sta2 (an acceptor waiting for the A-ASSOCIATE-RQ), Sta13 (waiting for the transport to close) | entering the state | the transport is closed (PS3.8 9.1.5) |
/// | `Connect` | Sta4 (a requestor's transport connection being opened) | creation | the attempt is given up (AA-2) |
/// | `AssociateResponse` | Sta5 (a requestor waiting for the A-ASSOCIATE-AC or -RJ) | the A-ASSOCIATE-RQ | A-ABORT |
/// | `ReleaseResponse` | Sta7, Sta9–Sta12 (waiting for the peer's A-RELEASE-RP) | our A-RELEASE-RQ | A-ABORT |
/// | `DimseResponse` | Sta6, Sta8 with a request we invoked not finally answered | the request, or the last byte received since | A-ABORT |
/// | `Idle` | Sta6 with nothing outstanding either way and nothing waiting to be sent | the last byte received or sent, or the last operation's end | acceptor: A-ABORT; requestor: A-RELEASE-RQ |
/// | `PduProgress` | Sta6–Sta12 while a PDU is partly received | the PDU's first byte | A-ABORT |
/// | `SendProgress` | Sta3–Sta12 while bytes wait to be sent | the last PDU the transport took | A-ABORT |
///
/// The durations are [`AssociationConfig`]'s: `artim_timeout`, `connect_timeout`,
/// `associate_timeout`, `release_timeout`, `dimse_timeout`, and `idle_timeout` for the
/// last three (a peer that trickles a PDU byte by byte, or stops reading what we send,
/// holds the association no longer than one that says nothing). `None` turns the
/// optional ones off. An expired timer that aborts reports
/// [`Aborted::Timeout`](super::Aborted::Timeout) with its name.
///
/// [`Association::next_timer`]: super::Association::next_timer
/// [`Association::handle_timeout`]: super::Association::handle_timeout
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timer {
    /// ARTIM (PS3.8 9.1.5).
    Artim,
    /// The transport connection of a requestor did not open in time.
    Connect,
    /// No A-ASSOCIATE-AC or -RJ in time.
    AssociateResponse,
    /// No A-RELEASE-RP in time.
    ReleaseResponse,
    /// No response to a request we invoked in time.
    DimseResponse,
    /// An established association with nothing to do for too long.
    Idle,
    /// A PDU that started arriving did not complete in time.
    PduProgress,
    /// The peer took none of what we send for too long.
    SendProgress,
}

impl Timer {
    /// Every timer, in the order they fire when due at once.
    pub(super) const ALL: [Self; 8] = [
        Self::Artim,
        Self::Connect,
        Self::AssociateResponse,
        Self::ReleaseResponse,
        Self::DimseResponse,
        Self::Idle,
        Self::PduProgress,
        Self::SendProgress,
    ];

    /// Timers whose deadline is set when they are armed, by index; the others are
    /// derived from what the association is doing.
    const FIXED: usize = 4;

    const fn fixed_index(self) -> Option<usize> {
        match self {
            Self::Artim => Some(0),
            Self::Connect => Some(1),
            Self::AssociateResponse => Some(2),
            Self::ReleaseResponse => Some(3),
            _ => None,
        }
    }

    /// The states in which a fixed timer stays armed; leaving them disarms it.
    pub(super) fn armed_in(self, state: State) -> bool {
        use State::*;
        match self {
            Self::Artim => matches!(state, AwaitingAssociateRq | AwaitingTransportClose),
            Self::Connect => state == AwaitingTransportConnect,
            Self::AssociateResponse => state == AwaitingAssociateResponse,
            Self::ReleaseResponse => matches!(
                state,
                AwaitingReleaseRp
                    | CollisionRequestorAwaitingLocalResponse
                    | CollisionAcceptorAwaitingReleaseRp
                    | CollisionRequestorAwaitingReleaseRp
                    | CollisionAcceptorAwaitingLocalResponse
            ),
            Self::DimseResponse | Self::Idle | Self::PduProgress | Self::SendProgress => false,
        }
    }

    /// Its name in words, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Artim => "ARTIM expired",
            Self::Connect => "the transport connection did not open in time",
            Self::AssociateResponse => "no A-ASSOCIATE-AC or -RJ in time",
            Self::ReleaseResponse => "no A-RELEASE-RP in time",
            Self::DimseResponse => "no DIMSE response in time",
            Self::Idle => "idle for too long",
            Self::PduProgress => "a PDU did not complete in time",
            Self::SendProgress => "the peer stopped reading what we send",
        }
    }
}

/// What the derived timers are counted from, and the fixed deadlines.
#[derive(Debug, Clone)]
pub(super) struct Timers {
    fixed: [Option<Instant>; Timer::FIXED],
    /// The last byte received, request sent, or operation ended.
    last_activity: Instant,
    /// When the partial PDU being received started, if one is.
    pdu_started: Option<Instant>,
    /// When the transport last took a PDU, while bytes wait to be sent.
    send_waiting_since: Option<Instant>,
}

/// What the association is doing, as far as the derived timers care.
#[derive(Debug, Clone, Copy)]
pub(super) struct Activity {
    pub(super) state: State,
    /// Requests we invoked, not finally answered.
    pub(super) invoked: usize,
    /// Requests we perform, not finally answered.
    pub(super) performing: usize,
}

impl Timers {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            fixed: [None; Timer::FIXED],
            last_activity: now,
            pdu_started: None,
            send_waiting_since: None,
        }
    }

    /// Arms a fixed timer to expire `after` from `now`.
    pub(super) fn arm(&mut self, timer: Timer, now: Instant, after: Duration) {
        if let Some(i) = timer.fixed_index() {
            self.fixed[i] = Some(now + after);
        }
    }

    /// Disarms a fixed timer.
    pub(super) fn disarm(&mut self, timer: Timer) {
        if let Some(i) = timer.fixed_index() {
            self.fixed[i] = None;
        }
    }

    /// Whether a fixed timer is armed.
    pub(super) fn is_armed(&self, timer: Timer) -> bool {
        timer.fixed_index().is_some_and(|i| self.fixed[i].is_some())
    }

    /// The association entered `state`: fixed timers not armed there are disarmed; in
    /// Sta1 every timer is.
    pub(super) fn entered(&mut self, state: State) {
        for timer in Timer::ALL {
            if let Some(i) = timer.fixed_index() {
                if !timer.armed_in(state) && timer != Timer::Artim {
                    self.fixed[i] = None;
                }
            }
        }
        if state == State::Idle {
            self.fixed = [None; Timer::FIXED];
            self.pdu_started = None;
            self.send_waiting_since = None;
        }
    }

    /// Something happened that counts as progress: bytes received, a request sent, an
    /// operation ended, the association established.
    pub(super) fn activity(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// Whether a partial PDU is buffered now (and since when, if it just started).
    pub(super) fn partial_pdu(&mut self, now: Instant, partial: bool) {
        match (partial, self.pdu_started) {
            (true, None) => self.pdu_started = Some(now),
            (false, Some(_)) => self.pdu_started = None,
            _ => {}
        }
    }

    /// Bytes wait to be sent (`waiting`), and the transport just took some (`took`).
    /// Sending the last of them counts as activity: the idle timer, off while output
    /// waits, starts from there.
    pub(super) fn sending(&mut self, now: Instant, waiting: bool, took: bool) {
        if took && !waiting {
            self.activity(now);
        }
        self.send_waiting_since = match (waiting, self.send_waiting_since) {
            (false, _) => None,
            (true, None) => Some(now),
            (true, Some(_)) if took => Some(now),
            (true, since) => since,
        };
    }

    /// When `timer` expires, if it is armed.
    pub(super) fn deadline(
        &self,
        timer: Timer,
        activity: Activity,
        config: &AssociationConfig,
    ) -> Option<Instant> {
        use State::*;
        if let Some(i) = timer.fixed_index() {
            return self.fixed[i];
        }
        let state = activity.state;
        match timer {
            Timer::DimseResponse => {
                let waits = activity.invoked > 0
                    && matches!(state, Established | AwaitingLocalReleaseResponse);
                waits.then_some(())?;
                Some(self.last_activity + config.dimse_timeout?)
            }
            Timer::Idle => {
                let idle = state == Established
                    && activity.invoked == 0
                    && activity.performing == 0
                    && self.send_waiting_since.is_none();
                idle.then_some(())?;
                Some(self.last_activity + config.idle_timeout?)
            }
            Timer::PduProgress => {
                let receiving = !matches!(
                    state,
                    Idle | AwaitingTransportConnect
                        | AwaitingAssociateRq
                        | AwaitingAssociateResponse
                        | AwaitingLocalAssociateResponse
                        | AwaitingTransportClose
                );
                receiving.then_some(())?;
                Some(self.pdu_started? + config.idle_timeout?)
            }
            Timer::SendProgress => {
                let sending = !matches!(
                    state,
                    Idle | AwaitingTransportConnect | AwaitingAssociateRq | AwaitingTransportClose
                );
                sending.then_some(())?;
                Some(self.send_waiting_since? + config.idle_timeout?)
            }
            Timer::Artim | Timer::Connect | Timer::AssociateResponse | Timer::ReleaseResponse => {
                None
            }
        }
    }

    /// The earliest armed timer.
    pub(super) fn next(
        &self,
        activity: Activity,
        config: &AssociationConfig,
    ) -> Option<(Instant, Timer)> {
        Timer::ALL
            .into_iter()
            .filter_map(|t| self.deadline(t, activity, config).map(|d| (d, t)))
            .min_by_key(|(d, _)| *d)
    }
}
