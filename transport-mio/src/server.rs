//! The event loop: a listener, a waker, and a slab of connections on one `Poll`.

use std::collections::BTreeSet;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dicomwire::service::{Handlers, SubAssociationId};
use dicomwire::ul::{AcceptorPolicy, AssociationConfig};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::conn::{Conn, Ctx};
use crate::pipe::Pipe;

/// The most PDUs and DIMSE messages an association's outgoing queue may hold before its
/// socket stops being read (the bound on each association's outgoing queue).
pub const MAX_QUEUED_OUTGOING: usize = 16;

/// Size of the loop's one read buffer.
const READ_CHUNK: usize = 64 * 1024;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// The token of connection `key`'s own socket.
fn conn_token(key: usize) -> Token {
    Token(2 + 2 * key)
}

/// The token of sub-association socket slot `slot`.
pub(crate) fn sub_token(slot: usize) -> Token {
    Token(3 + 2 * slot)
}

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

/// Asks a running [`MioServer`] to stop; cheap to clone and to pass to a signal watcher.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Stops accepting, lets operations in progress finish (within the grace period),
    /// releases idle associations and aborts what is left.
    pub fn shutdown(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                tracing::warn!(error = %e, "cannot wake the event loop");
            }
        }
    }

    /// Whether shutdown was asked.
    pub fn is_shutting_down(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// A bound SCP server on one `mio::Poll`; [`run`](Self::run) serves until shutdown.
pub struct MioServer {
    poll: Poll,
    listener: TcpListener,
    options: MioServerOptions,
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
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
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(std_listener);
        let addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Self {
            poll,
            listener,
            options,
            flag: Arc::new(AtomicBool::new(false)),
            waker,
            addr,
        })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: Arc::clone(&self.flag),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Serves on the calling thread until shutdown; returns once every association has
    /// ended.
    pub fn run(self) -> io::Result<()> {
        let Self {
            mut poll,
            mut listener,
            options,
            flag,
            waker: _waker,
            addr: _,
        } = self;
        let mut events = Events::with_capacity(1024);
        let mut conns: Slab<Conn> = Slab::new();
        let mut sub_slots: Slab<(usize, SubAssociationId)> = Slab::new();
        let mut scratch = vec![0u8; READ_CHUNK];
        let mut listening = true;
        let mut shutdown_since: Option<Instant> = None;
        let mut again: Vec<usize> = Vec::new();
        // Every connection's earliest deadline, ordered, so that neither the poll timeout
        // nor the deadlines due cost a pass over all connections. A deadline only changes
        // when its connection is driven, and each driven connection is rescheduled.
        let mut timers = Timers::default();
        // Beyond this many connections, new ones are closed without a word.
        let hard_limit = options
            .max_associations
            .saturating_mul(2)
            .saturating_add(16);

        loop {
            // Sleep until the earliest deadline (or at once if work is left over).
            let now = Instant::now();
            let mut timeout = timers.earliest().map(|d| d.saturating_duration_since(now));
            if !again.is_empty() {
                timeout = Some(Duration::ZERO);
            }
            if shutdown_since.is_some() {
                let tick = Duration::from_millis(100);
                timeout = Some(timeout.map_or(tick, |t| t.min(tick)));
            }
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }

            let mut touched = std::mem::take(&mut again);
            for event in &events {
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                match event.token() {
                    LISTENER => {
                        if listening {
                            accept_all(
                                &listener,
                                &poll,
                                &options,
                                &mut conns,
                                &mut touched,
                                hard_limit,
                            );
                        }
                    }
                    WAKER => {}
                    Token(t) if t % 2 == 0 => {
                        let key = (t - 2) / 2;
                        if let Some(c) = conns.get_mut(key) {
                            c.ready(readable);
                            touched.push(key);
                        }
                    }
                    Token(t) => {
                        let slot = (t - 3) / 2;
                        if let Some(&(key, id)) = sub_slots.get(slot) {
                            if let Some(c) = conns.get_mut(key) {
                                c.sub_ready(id, readable);
                                touched.push(key);
                            }
                        }
                    }
                }
            }

            // Deadlines due.
            let now = Instant::now();
            timers.due(now, &mut touched);

            // Shutdown: stop accepting; release the idle, abort the rest after grace.
            if flag.load(Ordering::SeqCst) {
                if listening {
                    tracing::info!("shutting down: no longer accepting");
                    let _ = poll.registry().deregister(&mut listener);
                    listening = false;
                }
                let since = *shutdown_since.get_or_insert(now);
                let grace_over = now.duration_since(since) > options.shutdown_grace;
                for (key, c) in conns.iter_mut() {
                    c.shutdown_step(grace_over);
                    touched.push(key);
                }
            }

            touched.sort_unstable();
            touched.dedup();
            let mut ctx = Ctx {
                registry: poll.registry(),
                options: &options,
                sub_slots: &mut sub_slots,
                scratch: &mut scratch,
                shutting_down: !listening,
            };
            for key in touched {
                let Some(c) = conns.get_mut(key) else {
                    continue;
                };
                match c.drive(&mut ctx) {
                    Ok(true) => again.push(key),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "registration failed; dropping the connection");
                        let c = conns.remove(key);
                        c.close(ctx.registry, ctx.sub_slots);
                        timers.set(key, None);
                        continue;
                    }
                }
                if c.finished() {
                    let c = conns.remove(key);
                    c.close(ctx.registry, ctx.sub_slots);
                    timers.set(key, None);
                } else {
                    timers.set(key, c.deadline());
                }
            }
            again.retain(|k| conns.contains(*k));

            if !listening && conns.is_empty() {
                return Ok(());
            }
        }
    }
}

/// The connections' deadlines: by connection key, and ordered by time.
#[derive(Default)]
struct Timers {
    by_key: Vec<Option<Instant>>,
    ordered: BTreeSet<(Instant, usize)>,
}

impl Timers {
    /// Sets (or clears) connection `key`'s deadline.
    fn set(&mut self, key: usize, deadline: Option<Instant>) {
        if self.by_key.len() <= key {
            self.by_key.resize(key + 1, None);
        }
        let old = std::mem::replace(&mut self.by_key[key], deadline);
        if old == deadline {
            return;
        }
        if let Some(d) = old {
            self.ordered.remove(&(d, key));
        }
        if let Some(d) = deadline {
            self.ordered.insert((d, key));
        }
    }

    fn earliest(&self) -> Option<Instant> {
        self.ordered.first().map(|&(d, _)| d)
    }

    /// Adds the connections whose deadline is not after `now` to `touched`.
    fn due(&self, now: Instant, touched: &mut Vec<usize>) {
        touched.extend(
            self.ordered
                .range(..=(now, usize::MAX))
                .map(|&(_, key)| key),
        );
    }
}

/// Accepts until the listener has nothing more.
fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    options: &MioServerOptions,
    conns: &mut Slab<Conn>,
    touched: &mut Vec<usize>,
    hard_limit: usize,
) {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                return;
            }
        };
        if conns.len() >= hard_limit {
            tracing::warn!(%peer, "far over the association limit; closing at once");
            continue;
        }
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let over_limit = conns.len() >= options.max_associations;
        let entry = conns.vacant_entry();
        let key = entry.key();
        let token = conn_token(key);
        if let Err(e) = poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
        {
            tracing::warn!(error = %e, "cannot register a connection");
            continue;
        }
        tracing::debug!(%peer, key, over_limit, "connection accepted");
        let pipe = Pipe::new(stream, token, Interest::READABLE);
        entry.insert(Conn::new(key, peer, pipe, options, over_limit));
        touched.push(key);
    }
}
