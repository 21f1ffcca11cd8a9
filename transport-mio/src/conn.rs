//! One accepted connection: its [`ScpSession`] and a socket per link.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Instant;

use dicomwire::session::{Connect, LinkId, ScpSession};
use dicomwire::ul::ReadBuffers;
use mio::Registry;
use slab::Slab;

use crate::socket::{Received, Socket};
use crate::tokens::Slot;

/// How many read/process/write rounds one connection gets per turn of the loop.
pub(crate) const ROUNDS_PER_TURN: usize = 32;

/// What the loop lends a connection while driving it.
pub(crate) struct Ctx<'a> {
    pub(crate) registry: &'a Registry,
    /// Sub-association tokens: slot to (connection key, link).
    pub(crate) sub_slots: &'a mut Slab<(usize, LinkId)>,
    pub(crate) buffers: &'a mut ReadBuffers,
}

/// An accepted connection: its session and a socket per open link.
pub(crate) struct Conn {
    key: usize,
    peer: SocketAddr,
    pub(crate) session: ScpSession,
    sockets: HashMap<LinkId, Socket>,
    /// Sub-association links: their key in the loop's table of sub slots.
    sub_slots: HashMap<LinkId, usize>,
}

impl Conn {
    pub(crate) fn new(key: usize, peer: SocketAddr, socket: Socket, session: ScpSession) -> Self {
        Self {
            key,
            peer,
            session,
            sockets: HashMap::from([(LinkId::MAIN, socket)]),
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
    /// spent, then makes the registrations follow the session. Returns true when work is
    /// left for another turn.
    pub(crate) fn drive(&mut self, ctx: &mut Ctx<'_>) -> io::Result<bool> {
        let _span = tracing::info_span!("assoc", peer = %self.peer).entered();
        let now = Instant::now();
        if self.session.poll_timeout().is_some_and(|d| d <= now) {
            self.session.handle_timeout(now);
        }
        let mut more = true;
        for _ in 0..ROUNDS_PER_TURN {
            if !self.round(ctx)? {
                more = false;
                break;
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
        let links: Vec<LinkId> = self.sockets.keys().copied().collect();
        for link in links {
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
                        self.session.handle_transport_connect_failed(now, link, &e.to_string());
                    }
                }
                continue;
            }
            if !self.session.wants_read(link) {
                continue;
            }
            let session = &mut self.session;
            match socket.receive(ctx.buffers, |b| {
                session.handle_input(now, link, b).unwrap_or(b.len())
            }) {
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
            self.start_connect(connect, ctx)?;
        }
        while let Some(link) = self.session.poll_close() {
            moved = true;
            if link == LinkId::MAIN {
                // Once what the session gave is written (an A-ABORT, an A-RELEASE-RP).
                if let Some(s) = self.sockets.get_mut(&link) {
                    let _ = s.write();
                    s.close(ctx.registry);
                }
            } else {
                self.remove(link, ctx);
            }
        }
        while self.session.poll_event().is_some() {}
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
            while socket.has_room() {
                if self.session.poll_transmit(now, link, &mut socket.unsent).is_none() {
                    break;
                }
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
    fn start_connect(&mut self, connect: Connect, ctx: &mut Ctx<'_>) -> io::Result<()> {
        let now = Instant::now();
        let entry = ctx.sub_slots.vacant_entry();
        let slot = entry.key();
        let started = connect
            .destination
            .to_string()
            .to_socket_addrs()
            .and_then(|mut addrs| {
                addrs
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
            })
            .and_then(|addr| Socket::connect(addr, ctx.registry, Slot::Sub(slot).token()));
        match started {
            Ok(socket) => {
                entry.insert((self.key, connect.link));
                self.sub_slots.insert(connect.link, slot);
                self.sockets.insert(connect.link, socket);
            }
            Err(e) => {
                self.session
                    .handle_transport_connect_failed(now, connect.link, &e.to_string());
            }
        }
        Ok(())
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
