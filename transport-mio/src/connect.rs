//! Opening a TCP connection without blocking: for client associations and for C-MOVE
//! sub-associations alike.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::pipe::Pipe;

/// A TCP connection being opened: a socket registered WRITABLE, and when to give up.
pub(crate) struct Connecting {
    deadline: Instant,
    timeout: Duration,
}

/// How a connection attempt ended.
pub(crate) enum Connected {
    /// The connection is open; `TCP_NODELAY` is set and the pipe may be read.
    Open,
    /// It failed (refused, unreachable, ...).
    Failed(io::Error),
    /// Nothing came back before the deadline.
    TimedOut(Duration),
}

impl Connecting {
    /// Starts connecting to `addr`; the socket is registered WRITABLE under `token`
    /// (writability is how a non-blocking connect reports that it finished).
    pub(crate) fn start(
        addr: SocketAddr,
        registry: &Registry,
        token: Token,
        now: Instant,
        timeout: Duration,
    ) -> io::Result<(Pipe, Self)> {
        let mut stream = TcpStream::connect(addr)?;
        registry.register(&mut stream, token, Interest::WRITABLE)?;
        let mut pipe = Pipe::new(stream, token, Interest::WRITABLE);
        pipe.readable = false;
        Ok((
            pipe,
            Self {
                deadline: now + timeout,
                timeout,
            },
        ))
    }

    /// When to give up.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the attempt ended, and how; `None` while it is still in progress.
    pub(crate) fn check(&self, pipe: &mut Pipe, now: Instant) -> Option<Connected> {
        match connect_result(&pipe.stream) {
            Some(Ok(())) => {
                if let Err(e) = pipe.stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                pipe.readable = true;
                Some(Connected::Open)
            }
            Some(Err(e)) => Some(Connected::Failed(e)),
            None if now >= self.deadline => Some(Connected::TimedOut(self.timeout)),
            None => None,
        }
    }
}

/// Whether a non-blocking connect finished: `None` while it is still in progress.
fn connect_result(stream: &TcpStream) -> Option<io::Result<()>> {
    match stream.take_error() {
        Ok(Some(e)) | Err(e) => return Some(Err(e)),
        Ok(None) => {}
    }
    match stream.peer_addr() {
        Ok(_) => Some(Ok(())),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
        Err(e) => Some(Err(e)),
    }
}
