//! One `Poll` for everything: listeners, the sessions they accept (with their C-MOVE
//! sub-associations), and outgoing client sessions.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dicomwire::session::{
    ClientError, ClientEvent, LinkId, OpId, Operation, ScpConfig, ScpServer, ScpSession,
    ScuSession, Session,
};
use dicomwire::ul::{AssociationConfig, AssociationRequest, ReadBuffers};
use dicomwire_tls::{Secured, ServerTls, TlsClientConfig};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Waker};
use slab::Slab;

use crate::client::{Client, ClientId};
use crate::conn::{Conn, Ctx};
use crate::socket::Socket;
use crate::tokens::{Slot, WAKER};

/// Size of the loop's read buffers (shared by every connection): large, so that big
/// P-DATA-TF PDUs mostly arrive whole and decode in place. Reads of a quarter of it or
/// more are lent to the session, so C-STORE fragments reach the user uncopied.
const READ_CHUNK: usize = 1024 * 1024;

/// Asks a running [`EventLoop`] (or [`MioServer`](crate::MioServer)) to stop; cheap to
/// clone and to pass to another thread or a signal watcher.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Closes the listeners and asks every session to shut down: served associations
    /// finish what runs (within their grace period) and end, client associations finish
    /// the operation they run, fail the ones queued, and release.
    pub fn shutdown(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                tracing::warn!(error = %e, "cannot wake the event loop");
            }
        }
    }
}

/// A listening socket and the core's side of it.
struct Listener {
    /// `None` once shutdown closed it.
    socket: Option<TcpListener>,
    server: ScpServer,
    tls: ServerTls,
    /// After a failed `accept`, when to try again: readiness is edge-triggered, so
    /// connections already queued would otherwise wait for the next new one.
    retry_accept_at: Option<Instant>,
}

/// A session of the loop (a served one is boxed: an `ScpSession` is much larger).
enum Entry {
    /// Accepted by a listener.
    Served(Box<Conn<Secured<ScpSession>>>),
    /// Started with [`EventLoop::connect`].
    Client(Box<Client>),
}

/// One thread, one `mio::Poll`: listeners serving DICOM associations (as
/// [`MioServer`](crate::MioServer) does) and outgoing client associations, together.
/// Every protocol decision is a session's ([`ScpSession`], [`ScuSession`]); the loop
/// moves bytes, readiness and time.
///
/// [`turn`](Self::turn) waits for readiness or the earliest deadline of every session
/// (bounded by `max_wait`), then moves bytes, events and time. After each turn, take
/// [`poll_event`](Self::poll_event): what happened to client associations, in order.
/// [`run`](Self::run) does both until there is nothing left to do.
///
/// Client associations start with [`connect`](Self::connect); operations are queued
/// with [`submit`](Self::submit) (even before the association is established) and run
/// one after the other; [`release`](Self::release) releases once the queue is done,
/// [`abort`](Self::abort) aborts at once, [`cancel`](Self::cancel) cancels a C-FIND,
/// C-GET or C-MOVE in progress (or drops one still queued). Every client association
/// ends with exactly one [`ClientEvent::Closed`] saying how. While 64 events of one
/// client wait to be taken, its session stops reading (its peer sees TCP backpressure).
pub struct EventLoop {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    flag: Arc<AtomicBool>,
    shutting_down: bool,
    listeners: Slab<Listener>,
    sessions: Slab<Entry>,
    /// Sub-association tokens: slot to (session key, link).
    sub_slots: Slab<(usize, LinkId)>,
    client_keys: HashMap<ClientId, usize>,
    next_client: u64,
    client_events: VecDeque<(ClientId, ClientEvent)>,
    buffers: ReadBuffers,
    /// Every session's next deadline, ordered, so that neither the poll timeout nor the
    /// deadlines due cost a pass over all of them.
    timers: Timers,
    /// Work left over from the last turn (round budget spent, or a user call).
    again: Vec<usize>,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("listeners", &self.listeners.len())
            .field("sessions", &self.sessions.len())
            .field("undelivered_events", &self.client_events.len())
            .finish()
    }
}

impl EventLoop {
    /// An empty loop with its own `Poll`.
    ///
    /// Errors: when the `Poll` or its waker cannot be created.
    pub fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Self {
            poll,
            events: Events::with_capacity(1024),
            waker,
            flag: Arc::default(),
            shutting_down: false,
            listeners: Slab::new(),
            sessions: Slab::new(),
            sub_slots: Slab::new(),
            client_keys: HashMap::new(),
            next_client: 1,
            client_events: VecDeque::new(),
            buffers: ReadBuffers::new(READ_CHUNK),
            timers: Timers::default(),
            again: Vec::new(),
        })
    }

    /// Binds `addr` (the first address that binds) and serves DICOM associations there
    /// with `config`. Returns the address bound (useful with port 0). A loop may have
    /// several listeners.
    ///
    /// Errors: when `config` is invalid ([`ErrorKind::InvalidInput`]), `addr` cannot be
    /// bound, or the loop is shutting down.
    pub fn listen(
        &mut self,
        addr: impl ToSocketAddrs,
        config: Arc<ScpConfig>,
    ) -> io::Result<SocketAddr> {
        self.listen_tls(addr, config, ServerTls::default())
    }

    /// [`listen`](Self::listen), the connections and their C-MOVE sub-associations over
    /// TLS as `tls` says.
    ///
    /// Errors: as `listen`.
    pub fn listen_tls(
        &mut self,
        addr: impl ToSocketAddrs,
        config: Arc<ScpConfig>,
        tls: ServerTls,
    ) -> io::Result<SocketAddr> {
        if self.flag.load(Ordering::SeqCst) {
            return Err(io::Error::other("the event loop is shutting down"));
        }
        let server =
            ScpServer::new(config).map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let mut socket = TcpListener::from_std(std_listener);
        let addr = socket.local_addr()?;
        let entry = self.listeners.vacant_entry();
        let token = Slot::Listener(entry.key()).token();
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)?;
        entry.insert(Listener {
            socket: Some(socket),
            server,
            tls,
            retry_accept_at: None,
        });
        tracing::info!(%addr, "listening");
        Ok(addr)
    }

    /// Starts a client association to `addr`: a non-blocking TCP connect (bounded by
    /// `config.connect_timeout`), then the A-ASSOCIATE-RQ for `request`. Operations can
    /// be [`submit`](Self::submit)ted at once. A connection that fails, even at once, is
    /// reported as [`ClientEvent::Closed`] with [`ClientError::Connect`] or
    /// [`ClientError::ConnectTimeout`]. `addr` is an address, not a name: resolving
    /// names blocks, so it is the caller's job.
    ///
    /// Errors: [`ClientError::Config`] when `request` or `config` is invalid, and
    /// [`ClientError::NotAccepting`] while the loop shuts down.
    pub fn connect(
        &mut self,
        addr: SocketAddr,
        request: AssociationRequest,
        config: AssociationConfig,
    ) -> Result<ClientId, ClientError> {
        self.open(addr, request, config, |s| Ok(Secured::plain(s)))
    }

    /// [`connect`](Self::connect) over TLS: the server's certificate must name
    /// `server_name`. A TLS failure is logged (one line naming it) and ends the
    /// association as its transport closing.
    ///
    /// Errors: as `connect`, and [`ClientError::Io`] for an invalid `server_name`.
    pub fn connect_tls(
        &mut self,
        addr: SocketAddr,
        request: AssociationRequest,
        config: AssociationConfig,
        tls: &TlsClientConfig,
        server_name: &str,
    ) -> Result<ClientId, ClientError> {
        self.open(addr, request, config, |s| {
            Secured::client(s, tls, server_name)
                .map_err(|e| ClientError::Io(io::Error::new(ErrorKind::InvalidInput, e)))
        })
    }

    fn open(
        &mut self,
        addr: SocketAddr,
        request: AssociationRequest,
        config: AssociationConfig,
        secure: impl FnOnce(ScuSession) -> Result<Secured<ScuSession>, ClientError>,
    ) -> Result<ClientId, ClientError> {
        if self.flag.load(Ordering::SeqCst) {
            return Err(ClientError::NotAccepting);
        }
        let mut session = secure(ScuSession::new(Instant::now(), config, request)?)?;
        let id = ClientId(self.next_client);
        self.next_client += 1;
        let entry = self.sessions.vacant_entry();
        let key = entry.key();
        let socket = Socket::connect(addr, self.poll.registry(), Slot::Session(key).token())
            .map_err(|e| {
                Session::handle_transport_connect_failed(
                    &mut session,
                    Instant::now(),
                    LinkId::MAIN,
                    e,
                );
            })
            .ok();
        let client = Client::new(id, Conn::new(key, addr, socket, session));
        entry.insert(Entry::Client(Box::new(client)));
        self.client_keys.insert(id, key);
        self.again.push(key);
        Ok(id)
    }

    /// The session of `client`, to submit, cancel, release or abort; it is driven on
    /// the next turn.
    fn client(&mut self, client: ClientId) -> Result<&mut ScuSession, ClientError> {
        let key = *self
            .client_keys
            .get(&client)
            .ok_or(ClientError::UnknownClient)?;
        self.again.push(key);
        match &mut self.sessions[key] {
            Entry::Client(c) => Ok(c.conn.session.inner_mut()),
            Entry::Served(_) => Err(ClientError::UnknownClient),
        }
    }

    /// Queues `operation` on `client` ([`ScuSession::submit`]).
    ///
    /// Errors: [`ClientError::UnknownClient`], or [`ClientError::NotAccepting`] once the
    /// association is being released or has ended.
    pub fn submit(&mut self, client: ClientId, operation: Operation) -> Result<OpId, ClientError> {
        self.client(client)?.submit(operation)
    }

    /// Cancels operation `op` of `client` ([`ScuSession::cancel`]).
    ///
    /// Errors: [`ClientError::UnknownClient`] or [`ClientError::UnknownOperation`].
    pub fn cancel(&mut self, client: ClientId, op: OpId) -> Result<(), ClientError> {
        self.client(client)?.cancel(Instant::now(), op)
    }

    /// Releases `client` once its queue is done; its `Closed` event then carries
    /// `Ok(())`.
    ///
    /// Errors: [`ClientError::UnknownClient`].
    pub fn release(&mut self, client: ClientId) -> Result<(), ClientError> {
        self.client(client)?.release(Instant::now());
        Ok(())
    }

    /// Aborts `client` now; its `Closed` event carries [`ClientError::LocalAbort`].
    ///
    /// Errors: [`ClientError::UnknownClient`].
    pub fn abort(&mut self, client: ClientId) -> Result<(), ClientError> {
        self.client(client)?.abort(Instant::now());
        Ok(())
    }

    /// The next event of a client association, in order. Take them after every
    /// [`turn`](Self::turn).
    pub fn poll_event(&mut self) -> Option<(ClientId, ClientEvent)> {
        let (client, event) = self.client_events.pop_front()?;
        if let Some(&key) = self.client_keys.get(&client) {
            if let Entry::Client(c) = &mut self.sessions[key] {
                if c.delivered() {
                    self.again.push(key);
                }
            }
        }
        Some((client, event))
    }

    /// A handle to stop the loop from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: Arc::clone(&self.flag),
            waker: Arc::clone(&self.waker),
        }
    }

    /// How many accepted connections (server side) are open.
    pub fn association_count(&self) -> usize {
        self.sessions.len() - self.client_keys.len()
    }

    /// How many client associations are open (their `Closed` event not taken yet).
    pub fn client_count(&self) -> usize {
        self.client_keys.len()
    }

    /// Whether nothing is left to do: no listener, no session, no event to take. A loop
    /// with a listener has work until it is shut down.
    pub fn is_finished(&self) -> bool {
        self.sessions.is_empty()
            && self.client_events.is_empty()
            && self.listeners.iter().all(|(_, l)| l.socket.is_none())
    }

    /// Turns the loop, handing each client event to `on_event` (which may start new
    /// associations and operations), until [`is_finished`](Self::is_finished): for a loop
    /// with listeners, until shutdown; for a loop of clients only, until every client
    /// association has closed.
    ///
    /// Errors: when the `Poll` fails.
    pub fn run(
        &mut self,
        mut on_event: impl FnMut(&mut Self, ClientId, ClientEvent),
    ) -> io::Result<()> {
        loop {
            while let Some((client, event)) = self.poll_event() {
                on_event(self, client, event);
            }
            if self.is_finished() {
                return Ok(());
            }
            self.turn(None)?;
        }
    }

    /// One turn: waits for readiness, the earliest deadline in the loop, or `max_wait`
    /// (whichever comes first; not at all when work is left over), then accepts, reads,
    /// processes, writes and fires the deadlines due. Client events are then ready in
    /// [`poll_event`](Self::poll_event).
    ///
    /// Errors: when the `Poll` fails.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<()> {
        let now = Instant::now();
        let retry_accept = self.listeners.iter().filter_map(|(_, l)| l.retry_accept_at);
        let earliest = self.timers.earliest().into_iter().chain(retry_accept).min();
        let mut timeout = earliest.map(|d| d.saturating_duration_since(now));
        if !self.again.is_empty() {
            timeout = Some(Duration::ZERO);
        }
        if let Some(max) = max_wait {
            timeout = Some(timeout.map_or(max, |t| t.min(max)));
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut touched = std::mem::take(&mut self.again);
        let mut accept_from = Vec::new();
        for event in &self.events {
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let (key, link) = match Slot::of(event.token()) {
                None => continue,
                Some(Slot::Listener(k)) => {
                    accept_from.push(k);
                    continue;
                }
                Some(Slot::Session(k)) => (k, LinkId::MAIN),
                Some(Slot::Sub(slot)) => match self.sub_slots.get(slot) {
                    Some(&(k, link)) => (k, link),
                    None => continue,
                },
            };
            match self.sessions.get_mut(key) {
                Some(Entry::Served(c)) => c.ready(link, readable),
                Some(Entry::Client(c)) => c.conn.ready(link, readable),
                None => continue,
            }
            touched.push(key);
        }
        let now = Instant::now();
        let retry = self
            .listeners
            .iter()
            .filter(|(_, l)| l.retry_accept_at.is_some_and(|at| at <= now));
        accept_from.extend(retry.map(|(k, _)| k));
        accept_from.sort_unstable();
        accept_from.dedup();
        for k in accept_from {
            self.accept_all(k, &mut touched);
        }
        self.timers.due(now, &mut touched);
        if !self.shutting_down && self.flag.load(Ordering::SeqCst) {
            self.start_shutdown(now, &mut touched);
        }
        self.drive(touched);
        Ok(())
    }

    /// Shutdown: close the listeners (new clients are refused at once) and ask every
    /// session to shut down.
    fn start_shutdown(&mut self, now: Instant, touched: &mut Vec<usize>) {
        tracing::info!("shutting down: no longer accepting");
        self.shutting_down = true;
        for (_, l) in self.listeners.iter_mut() {
            if let Some(mut socket) = l.socket.take() {
                let _ = self.poll.registry().deregister(&mut socket);
            }
            l.retry_accept_at = None;
        }
        for (key, entry) in self.sessions.iter_mut() {
            match entry {
                Entry::Served(c) => c.session.shutdown(now),
                Entry::Client(c) => c.conn.session.shutdown(now),
            }
            touched.push(key);
        }
    }

    /// Drives the sessions `touched`, drops those that are over, reschedules the rest.
    fn drive(&mut self, mut touched: Vec<usize>) {
        touched.sort_unstable();
        touched.dedup();
        let mut ctx = Ctx {
            registry: self.poll.registry(),
            sub_slots: &mut self.sub_slots,
            buffers: &mut self.buffers,
        };
        for key in touched {
            let events = &mut self.client_events;
            let (driven, finished, deadline) = match self.sessions.get_mut(key) {
                Some(Entry::Served(c)) => {
                    let take = |s: &mut Secured<ScpSession>| {
                        std::iter::from_fn(|| s.poll_event()).count() > 0
                    };
                    (
                        c.drive(&mut ctx, take),
                        c.finished(),
                        c.session.poll_timeout(),
                    )
                }
                Some(Entry::Client(c)) => {
                    let (id, undelivered) = (c.id, &mut c.undelivered);
                    let take = |s: &mut Secured<ScuSession>| {
                        Client::take_events(id, undelivered, s, events)
                    };
                    (
                        c.conn.drive(&mut ctx, take),
                        c.conn.finished(),
                        Session::poll_timeout(&c.conn.session),
                    )
                }
                None => continue,
            };
            let failed = match driven {
                Ok(more) => {
                    if more {
                        self.again.push(key);
                    }
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "registration failed; dropping the connection");
                    true
                }
            };
            if finished || failed {
                match self.sessions.remove(key) {
                    Entry::Served(c) => c.close(&mut ctx),
                    Entry::Client(c) => {
                        self.client_keys.remove(&c.id);
                        c.conn.close(&mut ctx);
                    }
                }
                self.timers.set(key, None);
            } else {
                self.timers.set(key, deadline);
            }
        }
        let sessions = &self.sessions;
        self.again.retain(|k| sessions.contains(*k));
    }

    /// Accepts until listener `k` has nothing more; the core says whether to serve each
    /// connection and, when `accept` fails, when to try again.
    fn accept_all(&mut self, k: usize, touched: &mut Vec<usize>) {
        let Some(listener) = self.listeners.get_mut(k) else {
            return;
        };
        listener.retry_accept_at = None;
        let Some(socket) = &listener.socket else {
            return;
        };
        loop {
            let now = Instant::now();
            let (stream, peer) = match socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    listener.retry_accept_at = Some(listener.server.accept_failed(now, &e));
                    return;
                }
            };
            let Some(session) = listener.server.accept(now) else {
                continue;
            };
            let session = match listener.tls.secure(session) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot secure the connection");
                    continue;
                }
            };
            let entry = self.sessions.vacant_entry();
            let key = entry.key();
            match Socket::accepted(stream, self.poll.registry(), Slot::Session(key).token()) {
                Ok(socket) => {
                    tracing::debug!(%peer, key, "connection accepted");
                    entry.insert(Entry::Served(Box::new(Conn::new(
                        key,
                        peer,
                        Some(socket),
                        session,
                    ))));
                    touched.push(key);
                }
                Err(e) => tracing::warn!(error = %e, "cannot register a connection"),
            }
        }
    }
}

/// Deadlines by key, and ordered by time.
#[derive(Default)]
struct Timers {
    by_key: Vec<Option<Instant>>,
    ordered: BTreeSet<(Instant, usize)>,
}

impl Timers {
    /// Sets (or clears) `key`'s deadline.
    fn set(&mut self, key: usize, deadline: Option<Instant>) {
        if self.by_key.len() <= key {
            self.by_key.resize(key + 1, None);
        }
        let old = std::mem::replace(&mut self.by_key[key], deadline);
        if old != deadline {
            old.map(|d| self.ordered.remove(&(d, key)));
            deadline.map(|d| self.ordered.insert((d, key)));
        }
    }

    fn earliest(&self) -> Option<Instant> {
        self.ordered.first().map(|&(d, _)| d)
    }

    /// Adds the keys whose deadline is not after `now` to `touched`.
    fn due(&self, now: Instant, touched: &mut Vec<usize>) {
        touched.extend(
            self.ordered
                .range(..=(now, usize::MAX))
                .map(|&(_, key)| key),
        );
    }
}
