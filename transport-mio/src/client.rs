//! One outgoing association of the loop: its [`ScuSession`] and its socket.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use dicomwire::session::{ClientEvent, ScuSession};
use dicomwire::ul::ReadBuffers;
use mio::Registry;

use crate::conn::ROUNDS_PER_TURN;
use crate::socket::{Received, Socket};

/// While this many events of one client association wait in the loop's queue, no more
/// are taken from its session (which then stops taking input: its peer sees TCP
/// backpressure).
pub(crate) const MAX_UNDELIVERED_EVENTS: usize = 64;

/// A client association of an [`EventLoop`](crate::EventLoop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub(crate) u64);

/// What the loop lends a client association while driving it.
pub(crate) struct ClientCtx<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) buffers: &'a mut ReadBuffers,
    pub(crate) events: &'a mut VecDeque<(ClientId, ClientEvent)>,
}

/// One outgoing association: its socket (none if the connect failed at once) and its
/// session.
pub(crate) struct ClientConn {
    pub(crate) id: ClientId,
    addr: SocketAddr,
    socket: Option<Socket>,
    pub(crate) session: ScuSession,
    /// Why the connect failed at once, reported on the first drive.
    failed_at_once: Option<io::Error>,
    /// Events given to the loop's queue and not yet taken.
    undelivered: usize,
}

impl ClientConn {
    pub(crate) fn new(
        id: ClientId,
        addr: SocketAddr,
        session: ScuSession,
        socket: io::Result<Socket>,
    ) -> Self {
        let (socket, failed_at_once) = match socket {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        tracing::debug!(%addr, client = id.0, "connecting");
        Self {
            id,
            addr,
            socket,
            session,
            failed_at_once,
            undelivered: 0,
        }
    }

    /// A readiness event for the socket.
    pub(crate) fn ready(&mut self, readable: bool) {
        if let Some(s) = &mut self.socket {
            s.ready(readable);
        }
    }

    /// One of its events was taken from the loop's queue. Returns true when the loop had
    /// stopped taking its session's events, which may now flow again.
    pub(crate) fn delivered(&mut self) -> bool {
        let was_full = self.undelivered >= MAX_UNDELIVERED_EVENTS;
        self.undelivered = self.undelivered.saturating_sub(1);
        was_full
    }

    /// Whether it is over and can be dropped.
    pub(crate) fn finished(&self) -> bool {
        self.session.is_finished() && self.socket.as_ref().is_none_or(Socket::is_flushed)
    }

    /// Closes the socket.
    pub(crate) fn close(mut self, registry: &Registry) {
        if let Some(mut s) = self.socket.take() {
            s.close(registry);
        }
        tracing::debug!(addr = %self.addr, client = self.id.0, "client association dropped");
    }

    /// Moves bytes, events and time until nothing moves or the round budget is spent.
    /// Returns true when work is left for another turn.
    pub(crate) fn drive(&mut self, ctx: &mut ClientCtx<'_>) -> bool {
        let now = Instant::now();
        if let Some(e) = self.failed_at_once.take() {
            self.session.handle_transport_connect_failed(now, e);
        }
        if self.session.poll_timeout().is_some_and(|d| d <= now) {
            self.session.handle_timeout(now);
        }
        let mut more = true;
        for _ in 0..ROUNDS_PER_TURN {
            if !self.round(ctx) {
                more = false;
                break;
            }
        }
        if let Some(s) = &mut self.socket {
            if let Err(e) = s.follow(ctx.registry, self.session.wants_read()) {
                tracing::warn!(error = %e, "registration failed; closing the client association");
                s.close(ctx.registry);
                self.session.handle_transport_closed(Instant::now());
                return true;
            }
        }
        more
    }

    /// One round; returns whether anything moved.
    fn round(&mut self, ctx: &mut ClientCtx<'_>) -> bool {
        let now = Instant::now();
        let mut moved = false;
        if let Some(socket) = &mut self.socket {
            if let Some(result) = socket.connect_result() {
                moved = true;
                match result {
                    Ok(()) => self.session.handle_transport_connected(now),
                    Err(e) => {
                        socket.close(ctx.registry);
                        self.session.handle_transport_connect_failed(now, e);
                    }
                }
            }
            if self.session.wants_read() {
                let session = &mut self.session;
                match socket.receive(ctx.buffers, |b| session.handle_input(now, b).unwrap_or(b.len())) {
                    Received::Nothing => {}
                    Received::Taken => moved = true,
                    Received::Closed => {
                        moved = true;
                        self.session.handle_transport_closed(now);
                    }
                }
            }
            while socket.has_room() && self.session.poll_transmit(now, &mut socket.unsent).is_some() {
                moved = true;
            }
            match socket.write() {
                Ok(wrote) => moved |= wrote,
                Err(()) => {
                    moved = true;
                    self.session.handle_transport_closed(now);
                }
            }
            if self.session.should_close_transport() && socket.is_flushed() {
                socket.close(ctx.registry);
            }
        }
        while self.undelivered < MAX_UNDELIVERED_EVENTS {
            let Some(event) = self.session.poll_event() else {
                break;
            };
            moved = true;
            self.undelivered += 1;
            ctx.events.push_back((self.id, event));
        }
        moved
    }
}
