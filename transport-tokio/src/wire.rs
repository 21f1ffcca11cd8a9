//! What both roles share: the one clock, the session turns that may call a slow handler,
//! and a socket's bytes in flight.

use std::future::pending;
use std::io::{self, ErrorKind, IoSlice};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use dicomwire::session::LinkId;
use dicomwire::ul::{ReadBuffers, SendQueue};
use tokio::net::TcpStream;
use tokio::runtime::{Handle, RuntimeFlavor};

/// Bytes of PDUs taken from a session before a write (data set bytes are referenced).
const WRITE_BATCH: usize = 256 * 1024;
/// A task's read buffers: most PDUs arrive whole; reads of 256 KiB or more are lent.
pub(crate) const READ_BUFFER: usize = 1024 * 1024;

/// The one clock: tokio's (paused or auto-advanced in tests), as a session's `Instant`.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps on that clock until `deadline`; forever without one.
pub(crate) async fn sleep(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => pending().await,
    }
}

/// Runs a session turn, in which the core may call a handler, in `block_in_place` on a
/// multi-thread runtime: a slow handler holds its thread, the worker's tasks move on.
pub(crate) fn turn<R>(f: impl FnOnce() -> R) -> R {
    match Handle::current().runtime_flavor() {
        RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// What ended a task's wait.
pub(crate) enum Wake {
    Read(usize),
    Write,
    Timeout,
    Connected(LinkId, io::Result<TcpStream>),
    Shutdown,
}

/// A socket and the bytes in flight between it and its session.
#[derive(Debug)]
pub(crate) struct Wire {
    stream: TcpStream,
    /// Taken from the session, not written yet.
    pub(crate) out: SendQueue,
    /// Read and refused by the session: offered again before the socket is read again.
    pub(crate) pending: Bytes,
    /// Whether the session takes input (asked before each wait).
    pub(crate) wants_read: bool,
}

impl Wire {
    pub(crate) fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        let (out, pending) = (SendQueue::new(), Bytes::new());
        Self {
            stream,
            out,
            pending,
            wants_read: true,
        }
    }

    /// Takes PDUs with `transmit` (true while it gives one) while fewer than
    /// [`WRITE_BATCH`] bytes wait, and writes without blocking until none is left or the
    /// socket is full. `Err` when the connection failed.
    pub(crate) fn send(
        &mut self,
        mut transmit: impl FnMut(&mut SendQueue) -> bool,
    ) -> io::Result<()> {
        loop {
            while self.out.len() < WRITE_BATCH && transmit(&mut self.out) {}
            let mut slices = [IoSlice::new(&[]); 64];
            let filled = self.out.io_slices(&mut slices);
            if filled == 0 {
                return Ok(());
            }
            match self.stream.try_write_vectored(&slices[..filled]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.out.advance(n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Offers input to `take`, which says how much it took: a read into `buffers` if
    /// given, else what was refused before; keeps the rest. Whether anything was taken;
    /// `Err` at the end of the stream or when the connection failed.
    pub(crate) fn receive(
        &mut self,
        buffers: Option<&mut ReadBuffers>,
        take: impl FnOnce(&Bytes) -> usize,
    ) -> io::Result<bool> {
        let input = match buffers {
            None => std::mem::take(&mut self.pending),
            Some(buffers) => match self.stream.try_read(buffers.read_space()) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => buffers.take(n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    return Ok(false);
                }
                Err(e) => return Err(e),
            },
        };
        let taken = take(&input).min(input.len());
        // Copied: a remainder must not pin a whole read buffer.
        self.pending = Bytes::copy_from_slice(&input[taken..]);
        Ok(taken > 0)
    }

    /// Ready when readable while the session takes input and none waits refused, or
    /// writable while bytes wait.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, index: usize) -> Poll<Wake> {
        if self.wants_read && self.pending.is_empty() && self.stream.poll_read_ready(cx).is_ready()
        {
            return Poll::Ready(Wake::Read(index));
        }
        let writable = !self.out.is_empty() && self.stream.poll_write_ready(cx).is_ready();
        if writable {
            Poll::Ready(Wake::Write)
        } else {
            Poll::Pending
        }
    }
}
