//! One session of the loop, a server's or a client's, and a socket per link.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Instant;

use dicomwire::session::{Connect, LinkId, Session};
use dicomwire::ul::ReadBuffers;
use mio::Registry;
use slab::Slab;

use crate::socket::{Received, Socket};
use crate::tokens::Slot;

/// How many read/process/write rounds one session gets per turn of the loop.
const ROUNDS_PER_TURN: usize = 32;

/// What the loop lends a session while driving it.
pub(crate) struct Ctx<'a> {
    pub(crate) registry: &'a Registry,
    /// Sub-association tokens: slot to (connection key, link).
    pub(crate) sub_slots: &'a mut Slab<(usize, LinkId)>,
    pub(crate) buffers: &'a mut ReadBuffers,
}

/// A session and a socket per open link.
pub(crate) struct Conn<S> {
    key: usize,
    peer: SocketAddr,
    pub(crate) session: S,
    sockets: HashMap<LinkId, Socket>,
    /// Sub-association links: their key in the loop's table of sub slots.
    sub_slots: HashMap<LinkId, usize>,
}

impl<S: Session> Conn<S> {
    /// `session`, whose main link is `socket` (none: a connect that failed at once).
    pub(crate) fn new(key: usize, peer: SocketAddr, socket: Option<Socket>, session: S) -> Self {
        let sockets = socket.map(|s| (LinkId::MAIN, s)).into_iter().collect();
        Self {
            key,
            peer,
            session,
            sockets,
            sub_slots: HashMap::new(),
        }
    }

    /// A readiness event for one of its sockets.
    pub(crate) fn ready(&mut self, link: LinkId, readable: bool) {
        if let Some(s) = self.sockets.get_mut(&link) {
            s.ready(readable);
        }
    }

    /// Whether it is over and can be dropped.
    pub(crate) fn finished(&self) -> bool {
        self.session.is_finished() && self.sockets.values().all(Socket::is_flushed)
    }

    /// Closes every socket and frees the sub-association slots.
    pub(crate) fn close(mut self, ctx: &mut Ctx<'_>) {
        for (_, mut s) in self.sockets.drain() {
            s.close(ctx.registry);
        }
        for (_, slot) in self.sub_slots.drain() {
            ctx.sub_slots.try_remove(slot);
        }
        tracing::debug!(peer = %self.peer, "connection closed");
    }

    /// Moves bytes, connections and time until nothing moves or the round budget is
    /// spent, giving the session to `take_events` after each round; then makes the
    /// registrations follow the session. Returns true when work is left for another turn.
    pub(crate) fn drive(
        &mut self,
        ctx: &mut Ctx<'_>,
        mut take_events: impl FnMut(&mut S) -> bool,
    ) -> io::Result<bool> {
        let _span = tracing::info_span!("assoc", peer = %self.peer).entered();
        // Input that waited while the loop was busy comes before a deadline that passed
        // meanwhile: it may be the answer the timer is waiting for.
        let mut more = true;
        for pass in 0..2 {
            if pass == 1 {
                let now = Instant::now();
                if self.session.poll_timeout().is_none_or(|d| d > now) {
                    break;
                }
                self.session.handle_timeout(now);
            }
            more = true;
            for _ in 0..ROUNDS_PER_TURN {
                let moved = self.round(ctx)?;
                if !(take_events(&mut self.session) | moved) {
                    more = false;
                    break;
                }
            }
        }
        for (link, socket) in &mut self.sockets {
            socket.follow(ctx.registry, self.session.wants_read(*link))?;
        }
        Ok(more)
    }

    /// One round; returns whether anything moved.
    fn round(&mut self, ctx: &mut Ctx<'_>) -> io::Result<bool> {
        let mut moved = false;
        let now = Instant::now();
        for link in self.sockets.keys().copied().collect::<Vec<_>>() {
            let Some(socket) = self.sockets.get_mut(&link) else {
                continue;
            };
            if let Some(result) = socket.connect_result() {
                moved = true;
                match result {
                    Ok(()) => {
                        let _ = self.session.handle_transport_connected(now, link);
                    }
                    Err(e) => {
                        self.remove(link, ctx);
                        self.session.handle_transport_connect_failed(now, link, e);
                    }
                }
                continue;
            }
            if !self.session.wants_read(link) {
                continue;
            }
            let session = &mut self.session;
            let take = |b: &_| session.handle_input(now, link, b).unwrap_or(b.len());
            match socket.receive(ctx.buffers, take) {
                Received::Nothing => {}
                Received::Taken => moved = true,
                Received::Closed => {
                    moved = true;
                    self.session.handle_transport_closed(now, link);
                }
            }
        }
        moved |= self.send();
        while let Some(connect) = self.session.poll_connect() {
            moved = true;
            self.start_connect(connect, ctx);
        }
        while let Some(link) = self.session.poll_close() {
            moved = true;
            if let Some(s) = self.sockets.get_mut(&link) {
                // Once what the session gave is written (an A-ABORT, an A-RELEASE-RP).
                let _ = s.write();
                s.close(ctx.registry);
            }
            if link != LinkId::MAIN {
                self.remove(link, ctx);
            }
        }
        Ok(moved)
    }

    /// Takes what each link has to send while its socket has room, the main link first,
    /// and writes it. Returns whether anything moved.
    fn send(&mut self) -> bool {
        let mut moved = false;
        let now = Instant::now();
        let mut links: Vec<LinkId> = self.sockets.keys().copied().collect();
        links.sort_unstable();
        for link in links {
            let Some(socket) = self.sockets.get_mut(&link) else {
                continue;
            };
            while socket.has_room()
                && self
                    .session
                    .poll_transmit(now, link, &mut socket.unsent)
                    .is_some()
            {
                moved = true;
            }
            match socket.write() {
                Ok(wrote) => moved |= wrote,
                Err(()) => {
                    moved = true;
                    self.session.handle_transport_closed(now, link);
                }
            }
        }
        moved
    }

    /// Starts a non-blocking connect for a sub-association. The destination's host name
    /// is resolved on the loop thread: configure IP addresses.
    fn start_connect(&mut self, connect: Connect, ctx: &mut Ctx<'_>) {
        let entry = ctx.sub_slots.vacant_entry();
        let slot = entry.key();
        let no_address = || io::Error::new(io::ErrorKind::NotFound, "no address");
        let started = connect
            .destination
            .address()
            .to_socket_addrs()
            .and_then(|mut addrs| addrs.next().ok_or_else(no_address))
            .and_then(|addr| Socket::connect(addr, ctx.registry, Slot::Sub(slot).token()));
        match started {
            Ok(socket) => {
                entry.insert((self.key, connect.link));
                self.sub_slots.insert(connect.link, slot);
                self.sockets.insert(connect.link, socket);
            }
            Err(e) => self
                .session
                .handle_transport_connect_failed(Instant::now(), connect.link, e),
        }
    }

    fn remove(&mut self, link: LinkId, ctx: &mut Ctx<'_>) {
        if let Some(mut s) = self.sockets.remove(&link) {
            s.close(ctx.registry);
        }
        if let Some(slot) = self.sub_slots.remove(&link) {
            ctx.sub_slots.try_remove(slot);
        }
    }
}
