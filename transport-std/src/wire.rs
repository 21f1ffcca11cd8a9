//! One socket's bytes in flight, for either kind of session.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::ul::{ReadBuffers, SendQueue};

/// How many bytes of PDUs are gathered before one `write`.
pub(crate) const WRITE_BATCH: usize = 256 * 1024;
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
    /// Writes what is queued, blocking at most until `until` (or [`MAX_BLOCK`]): a peer
    /// that does not read holds the thread no longer than the session's next deadline.
    pub(crate) fn write(&mut self, stream: &TcpStream, until: Option<Instant>) -> io::Result<()> {
        while !self.out.is_empty() {
            let left = until.map_or(MAX_BLOCK, |d| d.saturating_duration_since(Instant::now()));
            stream.set_write_timeout(Some(left.clamp(Duration::from_millis(1), MAX_BLOCK)))?;
            let mut slices = [IoSlice::new(&[]); 64];
            let filled = self.out.io_slices(&mut slices);
            match (&mut &*stream).write_vectored(&slices[..filled]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Offers `input` (`None`: what was refused before) to `take`, which returns how
    /// much it took; keeps the rest, copied (a remainder must not pin a read buffer).
    /// Returns whether anything was taken.
    pub(crate) fn offer(
        &mut self,
        input: Option<Bytes>,
        take: impl FnOnce(&Bytes) -> usize,
    ) -> bool {
        let input = match input {
            None => std::mem::take(&mut self.pending),
            Some(b) if self.pending.is_empty() => b,
            Some(b) => Bytes::from([&self.pending[..], &b[..]].concat()),
        };
        if input.is_empty() {
            return false;
        }
        let taken = take(&input);
        self.pending = Bytes::copy_from_slice(input.get(taken..).unwrap_or_default());
        taken > 0
    }
}

/// Reads once into `buffers`: the bytes (lent when large), or `None` at the end of the
/// stream.
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

/// The first address of `addr` that answers before `until`, Nagle off.
pub(crate) fn connect(addr: impl ToSocketAddrs, until: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "no address");
    for a in addr.to_socket_addrs()? {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(s) => return s.set_nodelay(true).map(|()| s),
            Err(e) => last = e,
        }
    }
    Err(last)
}
