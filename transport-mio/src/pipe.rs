//! One non-blocking socket and the bytes in flight between it and an association.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use bytes::{Buf, Bytes};
use dicomwire::ul::{Association, ReadBuffers, SendQueue};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// The most PDUs and DIMSE messages an association's outgoing queue may hold before its
/// socket stops being read (the bound on each association's outgoing queue).
pub const MAX_QUEUED_OUTGOING: usize = 16;

/// How many bytes of PDUs are gathered before one `write` (most of a large data set's
/// bytes are referenced, not copied, so a batch of several PDUs costs little).
const WRITE_BATCH: usize = 256 * 1024;
/// The most slices one vectored write is given.
const MAX_WRITE_SLICES: usize = 64;

/// A socket, its registration, the input its association refused and the output not yet
/// written.
pub(crate) struct Pipe {
    pub(crate) stream: TcpStream,
    token: Token,
    /// The interest registered, `None` when deregistered.
    interest: Option<Interest>,
    /// The socket reported readable and no read has returned `WouldBlock` since.
    pub(crate) readable: bool,
    /// Bytes read that the association did not take yet (copied out of the read buffer).
    pending: Bytes,
    /// Bytes taken from the association and not sent yet (data sets by reference).
    unsent: SendQueue,
    /// The socket is finished with (end of stream, an error, or we closed it).
    pub(crate) closed: bool,
    /// The association's user holds input back (its events wait to be taken).
    pub(crate) held: bool,
}

impl Pipe {
    /// A pipe for `stream`, already registered with `interest` under `token`.
    pub(crate) fn new(stream: TcpStream, token: Token, interest: Interest) -> Self {
        Self {
            stream,
            token,
            interest: Some(interest),
            readable: true,
            pending: Bytes::new(),
            unsent: SendQueue::new(),
            closed: false,
            held: false,
        }
    }

    /// Whether every byte taken from the association went out (or there is nowhere left
    /// to send it).
    pub(crate) fn is_flushed(&self) -> bool {
        self.closed || self.unsent.is_empty()
    }

    /// Whether the association may be given input: it wants it, its outgoing queue is
    /// below the bound (otherwise a peer that never reads could grow it forever), and its
    /// user is not holding input back.
    fn may_take_input(&self, assoc: &Association) -> bool {
        !self.closed
            && !self.held
            && assoc.wants_read()
            && assoc.queued_messages() < MAX_QUEUED_OUTGOING
    }

    /// Offers refused input again, or reads one chunk and offers it. Returns whether
    /// anything changed.
    pub(crate) fn receive(&mut self, assoc: &mut Association, buffers: &mut ReadBuffers) -> bool {
        if !self.may_take_input(assoc) {
            return false;
        }
        let now = Instant::now();
        if !self.pending.is_empty() {
            return match assoc.handle_input_shared(now, &self.pending) {
                Ok(taken) => {
                    self.pending.advance(taken);
                    taken > 0
                }
                Err(e) => {
                    tracing::debug!(error = %e, "input discarded");
                    self.pending.clear();
                    true
                }
            };
        }
        if !self.readable {
            return false;
        }
        match self.stream.read(buffers.read_space()) {
            Ok(0) => {
                tracing::debug!("peer closed the connection");
                self.lost(assoc, now);
                true
            }
            Ok(n) => {
                let (taken, refused) = buffers.offer(assoc, now, n);
                if let Err(e) = taken {
                    tracing::debug!(error = %e, "input discarded");
                }
                self.pending = refused;
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.readable = false;
                false
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(e) => {
                tracing::debug!(error = %e, "read failed; treating as closed");
                self.lost(assoc, now);
                true
            }
        }
    }

    /// Writes what is unsent, taking more from the association as the socket accepts
    /// it; closes the socket once the association asked for it and everything is sent.
    /// Returns whether anything changed.
    pub(crate) fn send(&mut self, assoc: &mut Association) -> bool {
        let mut moved = false;
        loop {
            let now = Instant::now();
            while self.unsent.len() < WRITE_BATCH
                && assoc.poll_transmit_queue(now, &mut self.unsent).is_some()
            {
                moved = true;
            }
            if self.unsent.is_empty() {
                break;
            }
            if self.closed {
                // Nowhere to send it: the association already heard the transport close.
                self.unsent.clear();
                continue;
            }
            let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
            let filled = self.unsent.io_slices(&mut slices);
            match self.stream.write_vectored(&slices[..filled]) {
                Ok(0) => {
                    self.lost(assoc, now);
                    moved = true;
                }
                Ok(n) => self.unsent.advance(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "write failed; treating as closed");
                    self.lost(assoc, now);
                    moved = true;
                }
            }
        }
        if assoc.should_close_transport() && !self.closed && self.unsent.is_empty() {
            let _ = self.stream.shutdown(Shutdown::Both);
            self.lost(assoc, Instant::now());
            moved = true;
        }
        moved
    }

    /// The transport is gone: tell the association, forget buffered bytes.
    fn lost(&mut self, assoc: &mut Association, now: Instant) {
        self.closed = true;
        self.readable = false;
        self.pending = Bytes::new();
        self.unsent.clear();
        assoc.handle_transport_closed(now);
    }

    /// Makes the registration follow what the association wants: READABLE while it
    /// may take input and nothing refused waits, WRITABLE while bytes are unsent.
    pub(crate) fn update_interest(
        &mut self,
        registry: &Registry,
        assoc: &Association,
    ) -> io::Result<()> {
        let read = self.may_take_input(assoc) && self.pending.is_empty();
        let write = !self.closed && !self.unsent.is_empty();
        let wanted = match (read, write) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        self.set_interest(registry, wanted)
    }

    /// Registers `wanted` (or deregisters), with a system call only on a change.
    pub(crate) fn set_interest(
        &mut self,
        registry: &Registry,
        wanted: Option<Interest>,
    ) -> io::Result<()> {
        if wanted == self.interest {
            return Ok(());
        }
        match (self.interest, wanted) {
            (None, Some(i)) => registry.register(&mut self.stream, self.token, i)?,
            (Some(_), Some(i)) => registry.reregister(&mut self.stream, self.token, i)?,
            (Some(_), None) => registry.deregister(&mut self.stream)?,
            (None, None) => {}
        }
        self.interest = wanted;
        Ok(())
    }
}
