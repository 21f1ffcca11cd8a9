//! What both roles share: the one clock, the session turns that may call a slow handler,
//! and a socket's bytes in flight.

use std::future::{Future, pending, poll_fn};
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

/// A session's sockets, one per open link (the main link first), and the buffers they
/// read into.
#[derive(Debug)]
pub(crate) struct Links {
    wires: Vec<(LinkId, Wire)>,
    buffers: ReadBuffers,
}

/// A socket and the bytes in flight between it and its session.
#[derive(Debug)]
struct Wire {
    stream: TcpStream,
    /// Taken from the session, not written yet.
    out: SendQueue,
    /// Read and refused by the session: offered again before the socket is read again.
    pending: Bytes,
    /// Whether the session takes input on it (asked before each wait).
    wants_read: bool,
}

impl Links {
    pub(crate) fn new() -> Self {
        Self {
            wires: Vec::new(),
            buffers: ReadBuffers::new(READ_BUFFER),
        }
    }

    pub(crate) fn add(&mut self, link: LinkId, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (out, pending) = (SendQueue::new(), Bytes::new());
        let wire = Wire {
            stream,
            out,
            pending,
            wants_read: true,
        };
        self.wires.push((link, wire));
    }

    /// Closes `link`'s socket; bytes not written yet are dropped.
    pub(crate) fn close(&mut self, link: LinkId) {
        self.wires.retain(|(l, _)| *l != link);
    }

    /// Waits until a socket is readable while `wants_read` says the session takes input
    /// on its link and no refused input waits, or writable while bytes wait.
    pub(crate) fn ready(
        &mut self,
        wants_read: impl Fn(LinkId) -> bool,
    ) -> impl Future<Output = Wake> {
        for (link, wire) in &mut self.wires {
            wire.wants_read = wants_read(*link) && wire.pending.is_empty();
        }
        let wires = &self.wires;
        poll_fn(move |cx| {
            let mut ready = wires
                .iter()
                .enumerate()
                .map(|(i, (_, w))| w.poll_ready(cx, i));
            ready.find(Poll::is_ready).unwrap_or(Poll::Pending)
        })
    }

    /// Reads socket `i` and offers the bytes to `take`, which says how much it took. At
    /// the end of the stream or on a failure, closes it and returns its link.
    pub(crate) fn read(
        &mut self,
        i: usize,
        take: impl FnOnce(LinkId, &Bytes) -> usize,
    ) -> Option<LinkId> {
        let (link, wire) = &mut self.wires[i];
        match wire.stream.try_read(self.buffers.read_space()) {
            Ok(0) => {}
            Ok(n) => {
                let input = self.buffers.take(n);
                wire.keep(&input, take(*link, &input));
                return None;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return None;
            }
            Err(e) => tracing::debug!(error = %e, %link, "read failed"),
        }
        Some(self.wires.remove(i).0)
    }

    /// Writes the PDUs `transmit` gives for each link (true while it gives one) as far as
    /// its socket takes them without blocking; closes and returns the links that failed.
    pub(crate) fn send(
        &mut self,
        mut transmit: impl FnMut(LinkId, &mut SendQueue) -> bool,
    ) -> Vec<LinkId> {
        let mut failed = Vec::new();
        self.wires
            .retain_mut(|(link, wire)| match wire.send(|out| transmit(*link, out)) {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(error = %e, %link, "write failed");
                    failed.push(*link);
                    false
                }
            });
        failed
    }

    /// Offers the input refused before to `take`, which says how much it took (`None`:
    /// not now). Whether any was taken.
    pub(crate) fn reoffer(
        &mut self,
        mut take: impl FnMut(LinkId, &Bytes) -> Option<usize>,
    ) -> bool {
        let mut moved = false;
        for (link, wire) in self.wires.iter_mut().filter(|(_, w)| !w.pending.is_empty()) {
            let input = std::mem::take(&mut wire.pending);
            let taken = take(*link, &input).unwrap_or(0);
            wire.keep(&input, taken);
            moved |= taken > 0;
        }
        moved
    }
}

impl Wire {
    /// Takes PDUs with `transmit` while fewer than [`WRITE_BATCH`] bytes wait, and writes
    /// until none is left or the socket is full.
    fn send(&mut self, mut transmit: impl FnMut(&mut SendQueue) -> bool) -> io::Result<()> {
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

    /// Keeps what the session did not take of `input`, copied: a remainder must not pin
    /// a whole read buffer.
    fn keep(&mut self, input: &Bytes, taken: usize) {
        self.pending = Bytes::copy_from_slice(&input[taken.min(input.len())..]);
    }

    fn poll_ready(&self, cx: &mut Context<'_>, index: usize) -> Poll<Wake> {
        if self.wants_read && self.stream.poll_read_ready(cx).is_ready() {
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
