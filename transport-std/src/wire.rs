//! Moving bytes between a blocking `TcpStream` and an association.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use dicomwire::ul::{Association, ReadBuffers, SendQueue};

/// How many bytes of PDUs are gathered before one `write`.
const WRITE_BATCH: usize = 256 * 1024;
/// The most slices one vectored write is given.
const MAX_WRITE_SLICES: usize = 64;

/// Size of a read buffer: above common max PDU lengths, so that most PDUs arrive whole
/// and decode in place; a PDU cut at the end of a read is copied into the association's
/// buffer (with 64 KiB, every byte of a 128 KiB PDU was). Reads of a quarter of it or
/// more are lent to the association ([`ReadBuffers`]): C-STORE fragments in them reach
/// the user without a copy.
const READ_BUFFER: usize = 1024 * 1024;

/// Sends everything the association has queued, gathering PDUs into few vectored writes
/// (large data sets are written from the user's memory, not copied first), and shuts the
/// socket down once the association asked to close it and nothing is left.
pub(crate) fn flush(
    stream: &TcpStream,
    assoc: &mut Association,
    out: &mut SendQueue,
) -> io::Result<()> {
    loop {
        let now = Instant::now();
        while out.len() < WRITE_BATCH && assoc.poll_transmit_queue(now, out).is_some() {}
        if out.is_empty() {
            break;
        }
        while !out.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
            let filled = out.io_slices(&mut slices);
            match (&mut &*stream).write_vectored(&slices[..filled]) {
                Ok(0) => {
                    out.clear();
                    return Err(ErrorKind::WriteZero.into());
                }
                Ok(n) => out.advance(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    out.clear();
                    return Err(e);
                }
            }
        }
    }
    if assoc.should_close_transport() {
        let _ = stream.shutdown(Shutdown::Both);
    }
    Ok(())
}

/// What one wait for input gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Bytes were offered to the association.
    Data,
    /// The deadline passed; timers were fired.
    Timeout,
    /// The peer closed the connection (or it failed).
    Closed,
}

/// The read buffers of one connection, with the bytes the association has not taken yet.
pub(crate) struct Reader {
    buffers: ReadBuffers,
    pending: Bytes,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Reader {
    pub(crate) fn new() -> Self {
        Self {
            buffers: ReadBuffers::new(READ_BUFFER),
            pending: Bytes::new(),
        }
    }

    /// Whether bytes wait that the association did not take (it wants its events drained).
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Offers pending bytes, or reads (waiting at most until the association's next
    /// deadline, or `cap`) and offers what arrives. Timers due are fired.
    pub(crate) fn receive(
        &mut self,
        stream: &mut TcpStream,
        assoc: &mut Association,
        cap: Option<Instant>,
    ) -> io::Result<Received> {
        if !self.has_pending() {
            let deadline = match (assoc.poll_timeout(), cap) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let now = Instant::now();
            if deadline.is_some_and(|d| d <= now) {
                assoc.handle_timeout(now);
                return Ok(Received::Timeout);
            }
            let timeout = deadline.map(|d| (d - now).max(Duration::from_millis(1)));
            stream.set_read_timeout(timeout)?;
            let n = match stream.read(self.buffers.read_space()) {
                Ok(0) => {
                    assoc.handle_transport_closed(Instant::now());
                    return Ok(Received::Closed);
                }
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    assoc.handle_timeout(Instant::now());
                    return Ok(Received::Timeout);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(Received::Timeout),
                Err(e) => {
                    tracing::debug!(error = %e, "read failed; treating as closed");
                    assoc.handle_transport_closed(Instant::now());
                    return Ok(Received::Closed);
                }
            };
            let (taken, refused) = self.buffers.offer(assoc, Instant::now(), n);
            self.pending = refused;
            taken.map_err(|e| io::Error::other(e.to_string()))?;
            return Ok(Received::Data);
        }
        // The refused bytes were copied out on their own: slicing fragments from them
        // pins no more memory than the fragments.
        let taken = assoc
            .handle_input_shared(Instant::now(), &self.pending)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.pending.advance(taken);
        Ok(Received::Data)
    }
}
