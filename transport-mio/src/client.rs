//! The loop's client associations: a [`Conn`] of an [`ScuSession`], and the events it
//! gave that the user has not taken yet.

use std::collections::VecDeque;

use dicomwire::session::{ClientEvent, ScuSession, Session};
use dicomwire_tls::Secured;

use crate::conn::Conn;

/// While this many events of one client association wait in the loop's queue, no more
/// are taken from its session (which then stops reading: its peer sees TCP
/// backpressure).
const MAX_UNDELIVERED_EVENTS: usize = 64;

/// A client association of an [`EventLoop`](crate::EventLoop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub(crate) u64);

/// One client association of the loop.
pub(crate) struct Client {
    pub(crate) id: ClientId,
    pub(crate) conn: Conn<Secured<ScuSession>>,
    /// Events given to the loop's queue and not yet taken.
    pub(crate) undelivered: usize,
}

impl Client {
    pub(crate) fn new(id: ClientId, conn: Conn<Secured<ScuSession>>) -> Self {
        Self {
            id,
            conn,
            undelivered: 0,
        }
    }

    /// Moves the session's events to `queue` while fewer than the bound wait there;
    /// returns whether it moved any.
    pub(crate) fn take_events(
        id: ClientId,
        undelivered: &mut usize,
        session: &mut Secured<ScuSession>,
        queue: &mut VecDeque<(ClientId, ClientEvent)>,
    ) -> bool {
        let mut moved = false;
        while *undelivered < MAX_UNDELIVERED_EVENTS {
            let Some(event) = session.poll_event() else {
                break;
            };
            moved = true;
            *undelivered += 1;
            queue.push_back((id, event));
        }
        moved
    }

    /// One of its events was taken from the loop's queue. Returns true when the loop had
    /// stopped taking its session's events, which may now flow again.
    pub(crate) fn delivered(&mut self) -> bool {
        let was_full = self.undelivered >= MAX_UNDELIVERED_EVENTS;
        self.undelivered = self.undelivered.saturating_sub(1);
        was_full
    }
}
