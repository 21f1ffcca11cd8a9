//! The SCP server: a listener on its own [`EventLoop`].

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use dicomwire::service::Handlers;
use dicomwire::ul::{AcceptorPolicy, AssociationConfig};

use crate::event_loop::{EventLoop, ShutdownHandle};

/// How a [`MioServer`] serves.
#[derive(Clone)]
pub struct MioServerOptions {
    /// Association settings (PDU and message limits, ARTIM, implementation identity).
    pub config: AssociationConfig,
    /// Who may associate, and what we accept.
    pub policy: Arc<AcceptorPolicy>,
    /// The services. They run on the loop thread: see the crate documentation.
    pub handlers: Arc<Handlers>,
    /// The most associations served at once; one more is rejected (transient,
    /// local-limit-exceeded).
    pub max_associations: usize,
    /// How long a C-MOVE sub-association's TCP connection may take.
    pub connect_timeout: Duration,
    /// After shutdown is asked, how long operations in progress may run before the
    /// associations still open are aborted.
    pub shutdown_grace: Duration,
}

impl std::fmt::Debug for MioServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MioServerOptions")
            .field("max_associations", &self.max_associations)
            .field("connect_timeout", &self.connect_timeout)
            .field("handlers", &self.handlers)
            .finish()
    }
}

impl MioServerOptions {
    /// Options with `policy` and `handlers` and the defaults: 1024 associations, 10 s
    /// connect timeout, 10 s shutdown grace.
    pub fn new(policy: Arc<AcceptorPolicy>, handlers: Arc<Handlers>) -> Self {
        Self {
            config: AssociationConfig::default(),
            policy,
            handlers,
            max_associations: 1024,
            connect_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

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
    /// Binds `addr` (the first address that binds).
    pub fn bind(addr: impl ToSocketAddrs, options: MioServerOptions) -> io::Result<Self> {
        let mut event_loop = EventLoop::new()?;
        let addr = event_loop.listen(addr, options)?;
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

    /// Serves on the calling thread until shutdown; returns once every association has
    /// ended.
    pub fn run(mut self) -> io::Result<()> {
        self.event_loop.run(|_, _| {})
    }

    /// The loop underneath, to add client associations or more listeners before
    /// [`run`](EventLoop::run)ning it yourself.
    pub fn into_event_loop(self) -> EventLoop {
        self.event_loop
    }
}
