//! One `Poll` for everything: listeners, the associations they accept (with their C-MOVE
//! sub-associations), and outgoing client associations.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dicomwire::service::SubAssociationId;
use dicomwire::ul::{AssociationRequest, ReadBuffers};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::client::{
    ClientConn, ClientCtx, ClientError, ClientEvent, ClientId, ClientOptions, OpId, Operation,
};
use crate::conn::{Conn, Ctx};
use crate::pipe::Pipe;
use crate::server::MioServerOptions;

/// Size of the loop's read buffers (shared by every connection): large, so that big
/// P-DATA-TF PDUs mostly arrive whole and decode in place rather than being copied into
/// the association's buffer of a partial PDU. Reads of a quarter of it or more are lent
/// to the association ([`ReadBuffers`]), so C-STORE fragments reach the user uncopied.
const READ_CHUNK: usize = 1024 * 1024;

/// While shutting down, the loop wakes at least this often to step the associations.
const SHUTDOWN_TICK: Duration = Duration::from_millis(100);

const WAKER: Token = Token(usize::MAX);

/// What a token stands for: the kind of socket and its key in that kind's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A listening socket.
    Listener(usize),
    /// An accepted connection.
    Conn(usize),
    /// A C-MOVE sub-association's socket (key in the sub-association slot table).
    Sub(usize),
    /// An outgoing client association.
    Client(usize),
}

impl Slot {
    /// The token this slot's socket is registered under.
    pub(crate) fn token(self) -> Token {
        match self {
            Self::Listener(k) => Token(4 * k),
            Self::Conn(k) => Token(4 * k + 1),
            Self::Sub(k) => Token(4 * k + 2),
            Self::Client(k) => Token(4 * k + 3),
        }
    }

    fn of(token: Token) -> Option<Self> {
        if token == WAKER {
            return None;
        }
        let key = token.0 / 4;
        Some(match token.0 % 4 {
            0 => Self::Listener(key),
            1 => Self::Conn(key),
            2 => Self::Sub(key),
            _ => Self::Client(key),
        })
    }
}

/// Asks a running [`EventLoop`] (or [`MioServer`](crate::MioServer)) to stop; cheap to
/// clone and to pass to another thread or a signal watcher.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Stops accepting, lets operations in progress finish (within each listener's grace
    /// period), releases idle associations and aborts what is left. Client associations
    /// finish the operation they are running, fail the ones still queued, and release.
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

/// A listening socket and the connections it has open.
struct Listener {
    /// `None` once shutdown closed it.
    socket: Option<TcpListener>,
    options: Arc<MioServerOptions>,
    /// Connections accepted and not yet dropped.
    active: usize,
    /// `accept` failed (no descriptor left, say): failures in a row, and when to try
    /// again. Readiness is edge-triggered, so connections already queued would wait for
    /// the next new one without this.
    accept_failures: u32,
    retry_accept_at: Option<Instant>,
    /// Connections closed at once in the current flood (far over the limit).
    flood: u64,
}

/// The wait after the first failed `accept`, doubling up to [`ACCEPT_RETRY_MAX`].
const ACCEPT_RETRY_FIRST: Duration = Duration::from_millis(10);
const ACCEPT_RETRY_MAX: Duration = Duration::from_secs(1);

/// One thread, one `mio::Poll`: listeners serving DICOM associations (as
/// [`MioServer`](crate::MioServer) does) and outgoing client associations, together.
///
/// # Driving it
///
/// [`turn`](Self::turn) waits for readiness or the earliest deadline of everything in
/// the loop (bounded by `max_wait`), then moves bytes, events and time. After each turn,
/// drain [`poll_event`](Self::poll_event): it gives what happened to client associations.
/// [`run`](Self::run) does both until there is nothing left to do.
///
/// Client associations are started with [`connect`](Self::connect); operations are
/// queued with [`submit`](Self::submit) (even before the association is established) and
/// run one after the other; [`release`](Self::release) releases once the queue is done,
/// [`abort`](Self::abort) aborts at once, [`cancel`](Self::cancel) cancels a C-FIND,
/// C-GET or C-MOVE in progress (or drops one still queued). Every client association
/// ends with exactly one [`ClientEventKind::Closed`](crate::ClientEventKind::Closed)
/// saying how.
///
/// Client events are delivered in order. While 64 events of one client association wait
/// to be taken, that association stops reading its socket (its peer sees TCP
/// backpressure) and its DIMSE timeout is suspended.
///
/// ```no_run
/// use dicomwire::pdu::AeTitle;
/// use dicomwire::service::scu::{association_request, FindProgress, ScuService};
/// use dicomwire::service::uids;
/// use dicom_object::InMemDicomObject;
/// use dicomwire_mio::{ClientEventKind, ClientOptions, EventLoop, Operation};
///
/// let mut event_loop = EventLoop::new()?;
/// let request = association_request(
///     AeTitle::new("BROKER")?,
///     AeTitle::new("RIS")?,
///     &[ScuService::Verification, ScuService::WorklistFind],
/// );
/// let ris = event_loop.connect("127.0.0.1:11112".parse()?, request, ClientOptions::default())?;
/// event_loop.submit(ris, Operation::Echo)?;
/// event_loop.submit(ris, Operation::worklist_find(InMemDicomObject::new_empty()))?;
/// event_loop.release(ris)?;
/// event_loop.run(|_, event| match event.kind {
///     ClientEventKind::Find { progress: FindProgress::Match { identifier, .. }, .. } => {
///         println!("{identifier:?}");
///     }
///     ClientEventKind::Closed(Err(e)) => eprintln!("{e}"),
///     _ => {}
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventLoop {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    flag: Arc<AtomicBool>,
    listeners: Slab<Listener>,
    conns: Slab<Conn>,
    /// Sub-association tokens: slot to (connection key, sub-association id).
    sub_slots: Slab<(usize, SubAssociationId)>,
    clients: Slab<ClientConn>,
    client_keys: HashMap<ClientId, usize>,
    next_client: u64,
    client_events: VecDeque<ClientEvent>,
    buffers: ReadBuffers,
    /// Every connection's and client's earliest deadline, ordered, so that neither the
    /// poll timeout nor the deadlines due cost a pass over everything. A deadline only
    /// changes when its owner is driven, and each driven owner is rescheduled.
    conn_timers: Timers,
    client_timers: Timers,
    /// Work left over from the last turn (round budget spent, or a user call).
    conn_again: Vec<usize>,
    client_again: Vec<usize>,
    shutdown_since: Option<Instant>,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("listeners", &self.listeners.len())
            .field("associations", &self.conns.len())
            .field("clients", &self.clients.len())
            .field("undelivered_events", &self.client_events.len())
            .finish()
    }
}

impl EventLoop {
    /// An empty loop with its own `Poll`.
    pub fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Self {
            poll,
            events: Events::with_capacity(1024),
            waker,
            flag: Arc::new(AtomicBool::new(false)),
            listeners: Slab::new(),
            conns: Slab::new(),
            sub_slots: Slab::new(),
            clients: Slab::new(),
            client_keys: HashMap::new(),
            next_client: 1,
            client_events: VecDeque::new(),
            buffers: ReadBuffers::new(READ_CHUNK),
            conn_timers: Timers::default(),
            client_timers: Timers::default(),
            conn_again: Vec::new(),
            client_again: Vec::new(),
            shutdown_since: None,
        })
    }

    /// Binds `addr` (the first address that binds) and serves DICOM associations there
    /// with `options`, as [`MioServer`](crate::MioServer) does. Returns the address
    /// bound (useful with port 0). A loop may have several listeners.
    pub fn listen(
        &mut self,
        addr: impl ToSocketAddrs,
        options: MioServerOptions,
    ) -> io::Result<SocketAddr> {
        if self.is_shutting_down() {
            return Err(io::Error::other("the event loop is shutting down"));
        }
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let mut socket = TcpListener::from_std(std_listener);
        let addr = socket.local_addr()?;
        let entry = self.listeners.vacant_entry();
        self.poll.registry().register(
            &mut socket,
            Slot::Listener(entry.key()).token(),
            Interest::READABLE,
        )?;
        entry.insert(Listener {
            socket: Some(socket),
            options: Arc::new(options),
            active: 0,
            accept_failures: 0,
            retry_accept_at: None,
            flood: 0,
        });
        tracing::info!(%addr, "listening");
        Ok(addr)
    }

    /// Starts a client association to `addr`: a non-blocking TCP connect (bounded by
    /// `options.connect_timeout`), then the A-ASSOCIATE-RQ for `request`. Operations can
    /// be [`submit`](Self::submit)ted at once; they start when the association is
    /// established. A connection that fails, even at once, is reported as
    /// [`ClientEventKind::Closed`](crate::ClientEventKind::Closed) with
    /// [`ClientError::Connect`] or [`ClientError::ConnectTimeout`].
    ///
    /// `addr` is an address, not a name: resolving names blocks, so it is the caller's
    /// job, off the loop thread or before it.
    ///
    /// # Errors
    ///
    /// [`ClientError::Config`] when `request` or `options.config` is invalid, and
    /// [`ClientError::NotAccepting`] while the loop shuts down.
    pub fn connect(
        &mut self,
        addr: SocketAddr,
        request: AssociationRequest,
        options: ClientOptions,
    ) -> Result<ClientId, ClientError> {
        if self.is_shutting_down() {
            return Err(ClientError::NotAccepting);
        }
        let id = ClientId(self.next_client);
        let entry = self.clients.vacant_entry();
        let key = entry.key();
        let client = ClientConn::start(
            id,
            addr,
            request,
            options,
            self.poll.registry(),
            Slot::Client(key).token(),
        )?;
        self.next_client += 1;
        entry.insert(client);
        self.client_keys.insert(id, key);
        self.client_again.push(key);
        Ok(id)
    }

    /// Queues `operation` on client association `client`; it runs after the operations
    /// queued before it, once the association is established.
    ///
    /// # Errors
    ///
    /// [`ClientError::UnknownClient`] when the association is gone (its `Closed` event
    /// was produced), [`ClientError::NotAccepting`] once it is being released or ended.
    pub fn submit(&mut self, client: ClientId, operation: Operation) -> Result<OpId, ClientError> {
        let key = self.client_key(client)?;
        let op = self.clients[key].submit(operation)?;
        self.client_again.push(key);
        Ok(op)
    }

    /// Cancels operation `op` of `client`: a C-FIND, C-GET or C-MOVE in progress gets a
    /// C-CANCEL-RQ (its final response, normally 0xFE00, still follows as progress); an
    /// operation still queued is dropped and reported failed with
    /// [`ClientError::Cancelled`].
    ///
    /// # Errors
    ///
    /// [`ClientError::UnknownClient`], or [`ClientError::UnknownOperation`] when `op` is
    /// neither running nor queued (or is a C-ECHO, which cannot be cancelled).
    pub fn cancel(&mut self, client: ClientId, op: OpId) -> Result<(), ClientError> {
        let key = self.client_key(client)?;
        let c = &mut self.clients[key];
        c.cancel(op, &mut self.client_events)?;
        self.client_again.push(key);
        Ok(())
    }

    /// Releases `client` once its queued operations are done (A-RELEASE-RQ); its
    /// `Closed` event then carries `Ok(())`.
    ///
    /// # Errors
    ///
    /// [`ClientError::UnknownClient`].
    pub fn release(&mut self, client: ClientId) -> Result<(), ClientError> {
        let key = self.client_key(client)?;
        self.clients[key].release();
        self.client_again.push(key);
        Ok(())
    }

    /// Aborts `client` now (A-ABORT, or just closing a connection still being opened);
    /// operations running or queued fail, and its `Closed` event carries
    /// [`ClientError::LocalAbort`].
    ///
    /// # Errors
    ///
    /// [`ClientError::UnknownClient`].
    pub fn abort(&mut self, client: ClientId) -> Result<(), ClientError> {
        let key = self.client_key(client)?;
        self.clients[key].abort();
        self.client_again.push(key);
        Ok(())
    }

    /// The next event of a client association, in order. Take them after every
    /// [`turn`](Self::turn).
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        let event = self.client_events.pop_front()?;
        if let Some(&key) = self.client_keys.get(&event.client) {
            if self.clients[key].delivered() {
                // It was holding input back for this; it may read again.
                self.client_again.push(key);
            }
        }
        Some(event)
    }

    /// A handle to stop the loop from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: Arc::clone(&self.flag),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Whether shutdown was asked.
    pub fn is_shutting_down(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// How many accepted associations (server side) are open.
    pub fn association_count(&self) -> usize {
        self.conns.len()
    }

    /// How many client associations are open (their `Closed` event not produced yet).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Whether nothing is left to do: no listener, no association, no client, no event
    /// to take. A loop with a listener has work until it is shut down.
    pub fn is_finished(&self) -> bool {
        self.conns.is_empty()
            && self.clients.is_empty()
            && self.client_events.is_empty()
            && self.listeners.iter().all(|(_, l)| l.socket.is_none())
    }

    /// Turns the loop, handing each client event to `on_event` (which may start new
    /// associations and operations), until [`is_finished`](Self::is_finished): for a loop
    /// with listeners, until shutdown; for a loop of clients only, until every client
    /// association has closed.
    pub fn run(&mut self, mut on_event: impl FnMut(&mut Self, ClientEvent)) -> io::Result<()> {
        loop {
            while let Some(event) = self.poll_event() {
                on_event(self, event);
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
    /// With nothing in the loop to wake it and no `max_wait`, it waits until
    /// [`ShutdownHandle::shutdown`] is called.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<()> {
        let now = Instant::now();
        let retry_accept = self
            .listeners
            .iter()
            .filter_map(|(_, l)| l.retry_accept_at)
            .min();
        let earliest = [
            self.conn_timers.earliest(),
            self.client_timers.earliest(),
            retry_accept,
        ]
        .into_iter()
        .flatten()
        .min();
        let mut timeout = earliest.map(|d| d.saturating_duration_since(now));
        if !self.conn_again.is_empty() || !self.client_again.is_empty() {
            timeout = Some(Duration::ZERO);
        }
        if self.shutdown_since.is_some() {
            timeout = Some(timeout.map_or(SHUTDOWN_TICK, |t| t.min(SHUTDOWN_TICK)));
        }
        if let Some(max) = max_wait {
            timeout = Some(timeout.map_or(max, |t| t.min(max)));
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }

        let mut touched = std::mem::take(&mut self.conn_again);
        let mut touched_clients = std::mem::take(&mut self.client_again);
        let mut accept_from = Vec::new();
        for event in &self.events {
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            match Slot::of(event.token()) {
                None => {}
                Some(Slot::Listener(k)) => accept_from.push(k),
                Some(Slot::Conn(k)) => {
                    if let Some(c) = self.conns.get_mut(k) {
                        c.ready(readable);
                        touched.push(k);
                    }
                }
                Some(Slot::Sub(slot)) => {
                    if let Some(&(k, id)) = self.sub_slots.get(slot) {
                        if let Some(c) = self.conns.get_mut(k) {
                            c.sub_ready(id, readable);
                            touched.push(k);
                        }
                    }
                }
                Some(Slot::Client(k)) => {
                    if let Some(c) = self.clients.get_mut(k) {
                        c.ready(readable);
                        touched_clients.push(k);
                    }
                }
            }
        }
        let now = Instant::now();
        accept_from.extend(
            self.listeners
                .iter()
                .filter(|(_, l)| l.retry_accept_at.is_some_and(|at| at <= now))
                .map(|(k, _)| k),
        );
        accept_from.sort_unstable();
        accept_from.dedup();
        for k in accept_from {
            self.accept_all(k, &mut touched);
        }

        let now = Instant::now();
        self.conn_timers.due(now, &mut touched);
        self.client_timers.due(now, &mut touched_clients);

        if self.flag.load(Ordering::SeqCst) {
            self.shutdown_step(now, &mut touched, &mut touched_clients);
        }

        self.drive_conns(touched);
        self.drive_clients(touched_clients);
        Ok(())
    }

    fn client_key(&self, client: ClientId) -> Result<usize, ClientError> {
        self.client_keys
            .get(&client)
            .copied()
            .ok_or(ClientError::UnknownClient)
    }

    /// Shutdown: stop accepting; step the server connections (release the idle, abort
    /// the rest after grace); let clients finish what runs and release.
    fn shutdown_step(
        &mut self,
        now: Instant,
        touched: &mut Vec<usize>,
        touched_clients: &mut Vec<usize>,
    ) {
        let since = *self.shutdown_since.get_or_insert_with(|| {
            tracing::info!("shutting down: no longer accepting");
            now
        });
        for (_, l) in self.listeners.iter_mut() {
            if let Some(mut socket) = l.socket.take() {
                let _ = self.poll.registry().deregister(&mut socket);
            }
        }
        for (key, c) in self.conns.iter_mut() {
            c.shutdown_step(since);
            touched.push(key);
        }
        for (key, c) in self.clients.iter_mut() {
            c.shutdown(&mut self.client_events);
            touched_clients.push(key);
        }
    }

    fn drive_conns(&mut self, mut touched: Vec<usize>) {
        touched.sort_unstable();
        touched.dedup();
        let mut ctx = Ctx {
            registry: self.poll.registry(),
            sub_slots: &mut self.sub_slots,
            buffers: &mut self.buffers,
            shutting_down: self.shutdown_since.is_some(),
        };
        for key in touched {
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            let drop_it = match c.drive(&mut ctx) {
                Ok(more) => {
                    if more {
                        self.conn_again.push(key);
                    }
                    c.finished()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "registration failed; dropping the connection");
                    true
                }
            };
            if drop_it {
                let c = self.conns.remove(key);
                if let Some(l) = self.listeners.get_mut(c.listener) {
                    l.active = l.active.saturating_sub(1);
                }
                c.close(ctx.registry, ctx.sub_slots);
                self.conn_timers.set(key, None);
            } else {
                self.conn_timers.set(key, c.deadline());
            }
        }
        let conns = &self.conns;
        self.conn_again.retain(|k| conns.contains(*k));
    }

    fn drive_clients(&mut self, mut touched: Vec<usize>) {
        touched.sort_unstable();
        touched.dedup();
        let mut ctx = ClientCtx {
            registry: self.poll.registry(),
            buffers: &mut self.buffers,
            events: &mut self.client_events,
        };
        for key in touched {
            let Some(c) = self.clients.get_mut(key) else {
                continue;
            };
            let more = c.drive(&mut ctx);
            if more {
                self.client_again.push(key);
            }
            if c.finished() {
                let c = self.clients.remove(key);
                self.client_keys.remove(&c.id());
                c.close(ctx.registry);
                self.client_timers.set(key, None);
            } else {
                self.client_timers.set(key, c.deadline());
            }
        }
        let clients = &self.clients;
        self.client_again.retain(|k| clients.contains(*k));
    }

    /// Accepts until listener `k` has nothing more. When `accept` fails for another
    /// reason than an empty queue, it is tried again after a wait (10 ms doubling up to
    /// 1 s), logged once when the failures start and once when they end.
    fn accept_all(&mut self, k: usize, touched: &mut Vec<usize>) {
        let Some(listener) = self.listeners.get_mut(k) else {
            return;
        };
        listener.retry_accept_at = None;
        let Some(socket) = &listener.socket else {
            return;
        };
        let options = &listener.options;
        // Beyond this many connections, new ones are closed without a word.
        let hard_limit = options
            .max_associations
            .saturating_mul(2)
            .saturating_add(16);
        loop {
            let (mut stream, peer) = match socket.accept() {
                Ok(accepted) => {
                    if listener.accept_failures > 0 {
                        tracing::warn!(failures = listener.accept_failures, "accepting again");
                        listener.accept_failures = 0;
                    }
                    accepted
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    if listener.accept_failures == 0 {
                        tracing::warn!(error = %e, "accept failed; retrying with backoff until it succeeds");
                    }
                    let doublings = listener.accept_failures.min(7);
                    listener.accept_failures = listener.accept_failures.saturating_add(1);
                    let wait = (ACCEPT_RETRY_FIRST * 2u32.pow(doublings)).min(ACCEPT_RETRY_MAX);
                    listener.retry_accept_at = Some(Instant::now() + wait);
                    return;
                }
            };
            if listener.active >= hard_limit {
                if listener.flood == 0 {
                    tracing::warn!(%peer, "far over the association limit; closing new connections at once");
                }
                listener.flood += 1;
                tracing::debug!(%peer, "far over the association limit; closed at once");
                continue;
            }
            if listener.flood > 0 {
                tracing::warn!(
                    closed = listener.flood,
                    "no longer far over the association limit"
                );
                listener.flood = 0;
            }
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
            let over_limit = listener.active >= options.max_associations;
            let entry = self.conns.vacant_entry();
            let key = entry.key();
            let token = Slot::Conn(key).token();
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
            {
                tracing::warn!(error = %e, "cannot register a connection");
                continue;
            }
            tracing::debug!(%peer, key, over_limit, "connection accepted");
            let pipe = Pipe::new(stream, token, Interest::READABLE);
            entry.insert(Conn::new(key, k, peer, pipe, options, over_limit));
            listener.active += 1;
            touched.push(key);
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

    /// Adds the keys whose deadline is not after `now` to `touched`.
    fn due(&self, now: Instant, touched: &mut Vec<usize>) {
        touched.extend(
            self.ordered
                .range(..=(now, usize::MAX))
                .map(|&(_, key)| key),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_never_meet_the_waker() {
        for key in [0, 1, 2, 1000, usize::MAX / 4 - 1] {
            for slot in [
                Slot::Listener(key),
                Slot::Conn(key),
                Slot::Sub(key),
                Slot::Client(key),
            ] {
                assert_ne!(slot.token(), WAKER);
                assert_eq!(Slot::of(slot.token()), Some(slot));
            }
        }
        assert_eq!(Slot::of(WAKER), None);
    }
}
