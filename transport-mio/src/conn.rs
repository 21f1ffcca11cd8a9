//! One accepted connection: its association, its SCP, and its C-MOVE sub-associations.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

use dicomwire::service::{Admission, ConnectRequest, Scp, ShutdownStep, SubAssociationId};
use dicomwire::ul::{Association, Event, ReadBuffers};
use mio::Registry;
use slab::Slab;

use crate::connect::{Connected, Connecting};
use crate::event_loop::Slot;
use crate::pipe::Pipe;
use crate::server::MioServerOptions;

/// How many read/process/write rounds one connection gets per turn of the loop.
pub(crate) const ROUNDS_PER_TURN: usize = 32;

/// A C-MOVE sub-association's socket.
struct SubSocket {
    pipe: Pipe,
    /// Its key in the loop's table of sub-association tokens.
    slot: usize,
    /// While the TCP connection is being opened.
    connecting: Option<Connecting>,
}

/// What the loop needs to drive a connection.
pub(crate) struct Ctx<'a> {
    pub(crate) registry: &'a Registry,
    /// Sub-association tokens: slot to (connection key, sub-association id).
    pub(crate) sub_slots: &'a mut Slab<(usize, SubAssociationId)>,
    pub(crate) buffers: &'a mut ReadBuffers,
    pub(crate) shutting_down: bool,
}

/// An accepted connection.
pub(crate) struct Conn {
    key: usize,
    /// The listener it came from.
    pub(crate) listener: usize,
    options: Arc<MioServerOptions>,
    peer: SocketAddr,
    pipe: Pipe,
    assoc: Association,
    scp: Scp,
    over_limit: bool,
    subs: HashMap<SubAssociationId, SubSocket>,
    /// Shutdown gave up on it: drop it now.
    killed: bool,
}

impl Conn {
    pub(crate) fn new(
        key: usize,
        listener: usize,
        peer: SocketAddr,
        pipe: Pipe,
        options: &Arc<MioServerOptions>,
        over_limit: bool,
    ) -> Self {
        let assoc = Scp::acceptor(
            Instant::now(),
            options.config.clone(),
            Arc::clone(&options.policy),
        );
        Self {
            key,
            listener,
            options: Arc::clone(options),
            peer,
            pipe,
            assoc,
            scp: Scp::new(Arc::clone(&options.handlers)),
            over_limit,
            subs: HashMap::new(),
            killed: false,
        }
    }

    /// A readiness event for the connection's own socket.
    pub(crate) fn ready(&mut self, readable: bool) {
        self.pipe.readable |= readable;
    }

    /// A readiness event for sub-association `id`'s socket.
    pub(crate) fn sub_ready(&mut self, id: SubAssociationId, readable: bool) {
        if let Some(s) = self.subs.get_mut(&id) {
            s.pipe.readable |= readable;
        }
    }

    /// The earliest deadline of the association, its sub-associations and their
    /// connection attempts.
    pub(crate) fn deadline(&mut self) -> Option<Instant> {
        let mut earliest = self.assoc.poll_timeout();
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                earliest = Some(earliest.map_or(d, |e| e.min(d)));
            }
        };
        for (id, s) in &self.subs {
            consider(s.connecting.as_ref().map(Connecting::deadline));
            consider(self.scp.sub_association(*id).and_then(|a| a.poll_timeout()));
        }
        earliest
    }

    /// Whether the connection is over and can be dropped.
    pub(crate) fn finished(&self) -> bool {
        self.killed || (self.assoc.is_closed() && self.subs.is_empty())
    }

    /// Deregisters every socket and frees the sub-association slots.
    pub(crate) fn close(
        mut self,
        registry: &Registry,
        sub_slots: &mut Slab<(usize, SubAssociationId)>,
    ) {
        let _ = self.pipe.set_interest(registry, None);
        for (_, mut s) in self.subs.drain() {
            let _ = s.pipe.set_interest(registry, None);
            sub_slots.try_remove(s.slot);
        }
        tracing::debug!(peer = %self.peer, "connection closed");
    }

    /// Shutdown, asked at `since`: release when idle; after the grace period, abort (or
    /// just close a connection that never asked to associate).
    pub(crate) fn shutdown_step(&mut self, since: Instant) {
        let now = Instant::now();
        let grace_over = now.duration_since(since) > self.options.shutdown_grace;
        if self.scp.shutdown_step(&mut self.assoc, now, grace_over) == ShutdownStep::CloseTransport
        {
            self.killed = true;
        }
    }

    /// Moves bytes, events and time until nothing moves or the round budget is spent;
    /// then makes the registrations follow the associations. Returns true when work is
    /// left for another turn.
    pub(crate) fn drive(&mut self, ctx: &mut Ctx<'_>) -> io::Result<bool> {
        let now = Instant::now();
        self.assoc.handle_timeout(now);
        for id in self.subs.keys() {
            if let Some(a) = self.scp.sub_association(*id) {
                a.handle_timeout(now);
            }
        }
        let mut more = true;
        for _ in 0..ROUNDS_PER_TURN {
            if !self.round(ctx)? {
                more = false;
                break;
            }
        }
        self.pipe.update_interest(ctx.registry, &self.assoc)?;
        for (id, s) in &mut self.subs {
            if s.connecting.is_none() {
                if let Some(a) = self.scp.sub_association(*id) {
                    s.pipe.update_interest(ctx.registry, a)?;
                }
            }
        }
        Ok(more)
    }

    /// One round; returns whether anything moved.
    fn round(&mut self, ctx: &mut Ctx<'_>) -> io::Result<bool> {
        let mut moved = self.pipe.receive(&mut self.assoc, ctx.buffers);
        let now = Instant::now();
        while let Some(event) = self.assoc.poll_event() {
            moved = true;
            self.on_event(event, now, ctx.shutting_down);
        }
        self.scp.poll(&mut self.assoc, now);
        while let Some(request) = self.scp.poll_connect() {
            moved = true;
            self.start_connect(request, ctx)?;
        }
        let ids: Vec<SubAssociationId> = self.subs.keys().copied().collect();
        for id in ids {
            moved |= self.drive_sub(id, ctx);
        }
        moved |= self.pipe.send(&mut self.assoc);
        Ok(moved)
    }

    fn on_event(&mut self, event: Event, now: Instant, shutting_down: bool) {
        let admission = if self.over_limit {
            Admission::OverLimit
        } else if shutting_down {
            Admission::ShuttingDown
        } else {
            Admission::Open
        };
        let _span = tracing::info_span!("assoc", peer = %self.peer).entered();
        self.scp.serve_event(&mut self.assoc, now, event, admission);
    }

    /// Starts a non-blocking connect for a sub-association, registered WRITABLE.
    fn start_connect(&mut self, request: ConnectRequest, ctx: &mut Ctx<'_>) -> io::Result<()> {
        let now = Instant::now();
        let addr = request
            .destination
            .to_string()
            .to_socket_addrs()
            .and_then(|mut addrs| {
                addrs
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
            });
        let entry = ctx.sub_slots.vacant_entry();
        let slot = entry.key();
        let started = addr.and_then(|addr| {
            Connecting::start(
                addr,
                ctx.registry,
                Slot::Sub(slot).token(),
                now,
                self.options.connect_timeout,
            )
        });
        let (pipe, connecting) = match started {
            Ok(started) => started,
            Err(e) => {
                self.scp.sub_connect_failed(request.id, now, &e.to_string());
                return Ok(());
            }
        };
        entry.insert((self.key, request.id));
        self.subs.insert(
            request.id,
            SubSocket {
                pipe,
                slot,
                connecting: Some(connecting),
            },
        );
        Ok(())
    }

    /// Moves one sub-association along; returns whether anything moved.
    fn drive_sub(&mut self, id: SubAssociationId, ctx: &mut Ctx<'_>) -> bool {
        let now = Instant::now();
        let Some(sock) = self.subs.get_mut(&id) else {
            return false;
        };
        let mut moved = false;
        if let Some(connecting) = &sock.connecting {
            match connecting.check(&mut sock.pipe, now) {
                Some(Connected::Open) => {
                    sock.connecting = None;
                    self.scp.sub_connected(id, now);
                    moved = true;
                }
                Some(Connected::Failed(e)) => {
                    self.scp.sub_connect_failed(id, now, &e.to_string());
                    self.remove_sub(id, ctx);
                    return true;
                }
                Some(Connected::TimedOut(_)) => {
                    self.scp.sub_connect_failed(id, now, "connection timed out");
                    self.remove_sub(id, ctx);
                    return true;
                }
                None => return false,
            }
        }
        let Some(sock) = self.subs.get_mut(&id) else {
            return moved;
        };
        if let Some(sub) = self.scp.sub_association(id) {
            moved |= sock.pipe.receive(sub, ctx.buffers);
        }
        let alive = self.scp.handle_sub_events(&mut self.assoc, id, now);
        let finished = match self.scp.sub_association(id) {
            Some(sub) => {
                moved |= sock.pipe.send(sub);
                sub.is_closed()
            }
            None => true,
        };
        if !alive || finished {
            self.remove_sub(id, ctx);
            moved = true;
        }
        moved
    }

    fn remove_sub(&mut self, id: SubAssociationId, ctx: &mut Ctx<'_>) {
        if let Some(mut s) = self.subs.remove(&id) {
            let _ = s.pipe.set_interest(ctx.registry, None);
            let _ = s.pipe.stream.shutdown(std::net::Shutdown::Both);
            ctx.sub_slots.try_remove(s.slot);
        }
    }
}
