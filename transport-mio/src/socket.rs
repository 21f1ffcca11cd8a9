//! One non-blocking socket: its registration, the input its session refused and the
//! output not yet written. It knows nothing of sessions: the caller hands bytes over.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};

use bytes::{Buf, Bytes};
use dicomwire::ul::{ReadBuffers, SendQueue};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// How many bytes of PDUs are gathered before one `write` (most of a large data set's
/// bytes are referenced, not copied, so a batch of several PDUs costs little).
pub(crate) const WRITE_BATCH: usize = 256 * 1024;
/// The most slices one vectored write is given.
const MAX_WRITE_SLICES: usize = 64;

/// What one receive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Nothing (not readable, or nothing taken).
    Nothing,
    /// Bytes were taken.
    Taken,
    /// The peer closed the connection, or it failed.
    Closed,
}

/// A socket and the bytes in flight between it and a session.
pub(crate) struct Socket {
    stream: TcpStream,
    token: Token,
    /// The interest registered, `None` when deregistered.
    interest: Option<Interest>,
    /// Readable since the last `WouldBlock`.
    readable: bool,
    /// Read and refused by the session: offered again before reading.
    pending: Bytes,
    /// Taken from the session, not written yet.
    pub(crate) unsent: SendQueue,
    /// Closed, by us or the peer: nothing more is read or written.
    closed: bool,
    /// A non-blocking connect in progress.
    connecting: bool,
}

impl Socket {
    /// An accepted connection, registered READABLE under `token`.
    pub(crate) fn accepted(
        mut stream: TcpStream,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Self> {
        let _ = stream.set_nodelay(true);
        registry.register(&mut stream, token, Interest::READABLE)?;
        Ok(Self::new(stream, token, Interest::READABLE, false))
    }

    /// Starts a non-blocking connect to `addr`, registered WRITABLE under `token`
    /// (writability is how the connect reports that it finished).
    pub(crate) fn connect(addr: SocketAddr, registry: &Registry, token: Token) -> io::Result<Self> {
        let mut stream = TcpStream::connect(addr)?;
        registry.register(&mut stream, token, Interest::WRITABLE)?;
        Ok(Self::new(stream, token, Interest::WRITABLE, true))
    }

    fn new(stream: TcpStream, token: Token, interest: Interest, connecting: bool) -> Self {
        Self {
            stream,
            token,
            interest: Some(interest),
            readable: !connecting,
            pending: Bytes::new(),
            unsent: SendQueue::new(),
            closed: false,
            connecting,
        }
    }

    /// A readiness event.
    pub(crate) fn ready(&mut self, readable: bool) {
        self.readable |= readable;
    }

    /// Whether the connect finished, and how; `None` while it is still in progress.
    pub(crate) fn connect_result(&mut self) -> Option<io::Result<()>> {
        if !self.connecting {
            return None;
        }
        let result = match self.stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match self.stream.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == ErrorKind::NotConnected => return None,
                Err(e) => Err(e),
            },
        };
        self.connecting = false;
        if result.is_ok() {
            self.readable = true;
            let _ = self.stream.set_nodelay(true);
        }
        Some(result)
    }

    /// Offers refused input again, or reads one chunk and offers it to `take` (which
    /// returns how much it took).
    pub(crate) fn receive(
        &mut self,
        buffers: &mut ReadBuffers,
        mut take: impl FnMut(&Bytes) -> usize,
    ) -> Received {
        if self.closed || self.connecting {
            return Received::Nothing;
        }
        if !self.pending.is_empty() {
            let taken = take(&self.pending);
            self.pending.advance(taken);
            return if taken > 0 {
                Received::Taken
            } else {
                Received::Nothing
            };
        }
        if !self.readable {
            return Received::Nothing;
        }
        match self.stream.read(buffers.read_space()) {
            Ok(0) => {
                tracing::debug!("peer closed the connection");
                self.lost();
                Received::Closed
            }
            Ok(n) => {
                let input = buffers.take(n);
                let taken = take(&input);
                if taken < input.len() {
                    // Copied: a remainder must not pin a whole read buffer.
                    self.pending = Bytes::copy_from_slice(&input[taken..]);
                }
                Received::Taken
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.readable = false;
                Received::Nothing
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Received::Nothing,
            Err(e) => {
                tracing::debug!(error = %e, "read failed; treating as closed");
                self.lost();
                Received::Closed
            }
        }
    }

    /// Whether more may be taken from the session to send.
    pub(crate) fn has_room(&self) -> bool {
        !self.closed && !self.connecting && self.unsent.len() < WRITE_BATCH
    }

    /// Writes what is unsent until the socket would block. Returns whether anything was
    /// written; `Err` when the connection failed (it is then closed).
    pub(crate) fn write(&mut self) -> Result<bool, ()> {
        let before = self.unsent.len();
        while !self.unsent.is_empty() && !self.closed {
            let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
            let filled = self.unsent.io_slices(&mut slices);
            match self.stream.write_vectored(&slices[..filled]) {
                Ok(0) => {
                    self.lost();
                    return Err(());
                }
                Ok(n) => self.unsent.advance(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "write failed; treating as closed");
                    self.lost();
                    return Err(());
                }
            }
        }
        Ok(self.unsent.len() < before)
    }

    /// Whether every byte taken went out (or there is nowhere left to send it).
    pub(crate) fn is_flushed(&self) -> bool {
        self.closed || self.unsent.is_empty()
    }

    /// Closes the connection now: what is unsent is dropped.
    pub(crate) fn close(&mut self, registry: &Registry) {
        let _ = self.set_interest(registry, None);
        let _ = self.stream.shutdown(Shutdown::Both);
        self.lost();
    }

    fn lost(&mut self) {
        self.closed = true;
        self.readable = false;
        self.connecting = false;
        self.pending = Bytes::new();
        self.unsent.clear();
    }

    /// Registers READABLE when `read` and no refused input waits, WRITABLE while bytes
    /// are unsent or a connect is in progress.
    pub(crate) fn follow(&mut self, registry: &Registry, read: bool) -> io::Result<()> {
        let read = read && !self.closed && self.pending.is_empty() && !self.connecting;
        let write = !self.closed && (!self.unsent.is_empty() || self.connecting);
        let wanted = match (read, write) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        self.set_interest(registry, wanted)
    }

    fn set_interest(&mut self, registry: &Registry, wanted: Option<Interest>) -> io::Result<()> {
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
