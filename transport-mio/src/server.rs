//! [`MioServer`]: a loop with one listener.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use dicomwire::session::ScpConfig;

use crate::event_loop::{EventLoop, ShutdownHandle};

/// A bound SCP server on one `mio::Poll`; [`run`](Self::run) serves until shutdown.
///
/// It is an [`EventLoop`] with one listener: to serve and act as a client from the same
/// loop, use an [`EventLoop`] directly ([`EventLoop::listen`], [`EventLoop::connect`]).
pub struct MioServer {
    event_loop: EventLoop,
    addr: SocketAddr,
}

impl std::fmt::Debug for MioServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MioServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MioServer {
    /// Binds `addr` (the first address that binds) to serve with `config`.
    ///
    /// Errors: When `config` is invalid ([`io::ErrorKind::InvalidInput`]) or `addr` cannot be
    /// bound.
    pub fn bind(addr: impl ToSocketAddrs, config: Arc<ScpConfig>) -> io::Result<Self> {
        let mut event_loop = EventLoop::new()?;
        let addr = event_loop.listen(addr, config)?;
        Ok(Self { event_loop, addr })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.event_loop.shutdown_handle()
    }

    /// Serves on the calling thread until shutdown; returns once every session has
    /// ended.
    ///
    /// Errors: When the `Poll` fails.
    pub fn run(mut self) -> io::Result<()> {
        self.event_loop.run(|_, _, _| {})
    }

    /// The loop underneath, to add client associations or more listeners before
    /// [`run`](EventLoop::run)ning it yourself.
    pub fn into_event_loop(self) -> EventLoop {
        self.event_loop
    }
}
