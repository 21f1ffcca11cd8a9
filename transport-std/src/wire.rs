//! Moving bytes between a blocking `TcpStream` and an association.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use dicomwire::ul::Association;

/// How many bytes of PDUs are gathered before one `write`.
const WRITE_BATCH: usize = 256 * 1024;

/// Size of the read buffer: above common max PDU lengths, so that most PDUs arrive whole
/// and decode in place; a PDU cut at the end of a read is copied into the association's
/// buffer (with 64 KiB, every byte of a 128 KiB PDU was).
const READ_BUFFER: usize = 256 * 1024;

/// Sends everything the association has queued, gathering PDUs into few writes, and
/// shuts the socket down once the association asked to close it and nothing is left.
pub(crate) fn flush(
    stream: &mut TcpStream,
    assoc: &mut Association,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    loop {
        out.clear();
        let now = Instant::now();
        while out.len() < WRITE_BATCH && assoc.poll_transmit(now, out).is_some() {}
        if out.is_empty() {
            break;
        }
        stream.write_all(out)?;
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

/// A read buffer for one connection, with the bytes the association has not taken yet.
pub(crate) struct Reader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("pending", &(self.end - self.start))
            .finish()
    }
}

impl Reader {
    pub(crate) fn new() -> Self {
        Self {
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Whether bytes wait that the association did not take (it wants its events drained).
    pub(crate) fn has_pending(&self) -> bool {
        self.start < self.end
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
            match stream.read(&mut self.buf) {
                Ok(0) => {
                    assoc.handle_transport_closed(Instant::now());
                    return Ok(Received::Closed);
                }
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                }
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
            }
        }
        let taken = assoc
            .handle_input(Instant::now(), &self.buf[self.start..self.end])
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.start += taken;
        Ok(Received::Data)
    }
}
