//! One socket's bytes in flight, for either kind of session.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::ul::{ReadBuffers, SendQueue};

/// How many bytes of PDUs are gathered before one `write`.
pub(crate) const WRITE_BATCH: usize = 256 * 1024;
/// The most slices one vectored write is given.
const MAX_WRITE_SLICES: usize = 64;
/// The longest a write or a wait blocks before the session's clock is looked at again
/// (shutdown is noticed within this).
pub(crate) const MAX_BLOCK: Duration = Duration::from_millis(250);

/// What a socket still has to send, and the input its session has not taken.
#[derive(Debug, Default)]
pub(crate) struct Wire {
    pub(crate) out: SendQueue,
    /// Read and refused (the session held input back); offered again before reading.
    pub(crate) pending: Bytes,
}

impl Wire {
    /// Writes what is queued, blocking at most until `until` (or [`MAX_BLOCK`]). Returns
    /// whether everything went; `Err` when the connection failed.
    pub(crate) fn write(&mut self, stream: &TcpStream, until: Option<Instant>) -> io::Result<bool> {
        while !self.out.is_empty() {
            let wait = until.map_or(MAX_BLOCK, |d| {
                d.saturating_duration_since(Instant::now()).min(MAX_BLOCK)
            });
            stream.set_write_timeout(Some(wait.max(Duration::from_millis(1))))?;
            let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
            let filled = self.out.io_slices(&mut slices);
            match (&mut &*stream).write_vectored(&slices[..filled]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Keeps what a session did not take of `input` (copied: a remainder must not pin a
    /// whole read buffer).
    pub(crate) fn keep(&mut self, input: &Bytes, taken: usize) {
        self.pending = if taken >= input.len() {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(&input[taken..])
        };
    }
}

/// Reads once into `buffers`: the bytes (lent when large), or `None` at the end of the
/// stream or on an error.
pub(crate) fn read(stream: &TcpStream, buffers: &mut ReadBuffers) -> io::Result<Option<Bytes>> {
    loop {
        match (&mut &*stream).read(buffers.read_space()) {
            Ok(0) => return Ok(None),
            Ok(n) => return Ok(Some(buffers.take(n))),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The first address of `addr` that `connect` reaches before `until`.
pub(crate) fn connect(addr: impl std::net::ToSocketAddrs, until: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "no address");
    for a in addr.to_socket_addrs()? {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
