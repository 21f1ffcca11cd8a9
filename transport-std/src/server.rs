//! The SCP server: an accept loop and one thread per association.
//!
//! Each association's thread owns its [`Association`] and [`Scp`]. One reader thread per
//! socket (the association's and, during a C-MOVE, the sub-association's) turns blocking
//! reads into messages on a bounded channel, so the association's thread waits on one
//! channel for input from either socket, for the next deadline, or for shutdown. The
//! bounded channel keeps TCP backpressure: a reader blocks when the thread is behind.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use dicomwire::service::{Admission, Handlers, Scp, ShutdownStep, SubAssociationId};
use dicomwire::ul::{AcceptorPolicy, Association, AssociationConfig, ReadBuffers, SendQueue};

use crate::wire::flush;

/// How a [`Server`] serves.
#[derive(Clone)]
pub struct ServerOptions {
    /// Association settings (limits, ARTIM, implementation identity).
    pub config: AssociationConfig,
    /// Who may associate, and what we accept.
    pub policy: Arc<AcceptorPolicy>,
    /// The services.
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

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("max_associations", &self.max_associations)
            .field("handlers", &self.handlers)
            .finish()
    }
}

impl ServerOptions {
    /// Options with `policy` and `handlers` and the defaults: 64 associations, 10 s
    /// connect timeout, 10 s shutdown grace.
    pub fn new(policy: Arc<AcceptorPolicy>, handlers: Arc<Handlers>) -> Self {
        Self {
            config: AssociationConfig::default(),
            policy,
            handlers,
            max_associations: 64,
            connect_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Asks a running [`Server`] to stop; cheap to clone and to pass to a signal watcher.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl ShutdownHandle {
    /// Stops accepting, lets operations in progress finish (within the grace period) and
    /// closes the associations.
    pub fn shutdown(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            // Wake the accept loop.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        }
    }

    /// Whether shutdown was asked.
    pub fn is_shutting_down(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// A bound SCP server; [`run`](Self::run) serves until shutdown.
pub struct Server {
    listener: TcpListener,
    options: ServerOptions,
    flag: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Binds `addr`.
    pub fn bind(addr: impl ToSocketAddrs, options: ServerOptions) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            options,
            flag: Arc::new(AtomicBool::new(false)),
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
            addr: self.addr,
        }
    }

    /// Accepts and serves until shutdown; returns once every association has ended.
    ///
    /// Connections beyond twice `max_associations` (plus 16) are closed at once without a
    /// word, so a flood costs neither threads nor descriptors; up to there, one over the
    /// limit is answered A-ASSOCIATE-RJ by the core. When `accept` fails (no descriptor
    /// left, say), the loop waits before trying again, 10 ms doubling up to 1 s, and logs
    /// once when it starts failing and once when it recovers.
    pub fn run(self) -> io::Result<()> {
        let active = Arc::new(AtomicUsize::new(0));
        let next_id = AtomicU64::new(1);
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let hard_limit = self
            .options
            .max_associations
            .saturating_mul(2)
            .saturating_add(16);
        let mut backoff = AcceptBackoff::default();
        // Connections closed at once in the current flood.
        let mut flood = 0u64;
        for conn in self.listener.incoming() {
            if self.flag.load(Ordering::SeqCst) {
                break;
            }
            let stream = match conn {
                Ok(s) => {
                    backoff.succeeded();
                    s
                }
                Err(e) => {
                    thread::sleep(backoff.failed(&e));
                    continue;
                }
            };
            let peer = stream.peer_addr().unwrap_or(self.addr);
            if active.load(Ordering::SeqCst) >= hard_limit {
                if flood == 0 {
                    tracing::warn!(%peer, "far over the association limit; closing new connections at once");
                }
                flood += 1;
                continue;
            }
            if flood > 0 {
                tracing::warn!(closed = flood, "no longer far over the association limit");
                flood = 0;
            }
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let over_limit = active.fetch_add(1, Ordering::SeqCst) >= self.options.max_associations;
            let options = self.options.clone();
            let flag = Arc::clone(&self.flag);
            let active_count = Arc::clone(&active);
            let spawned = thread::Builder::new()
                .name(format!("assoc-{id}"))
                .spawn(move || {
                    let span = tracing::info_span!("assoc", %peer, id);
                    let _entered = span.enter();
                    if let Err(e) = serve_association(stream, &options, &flag, over_limit) {
                        tracing::warn!(error = %e, "association ended with an error");
                    }
                    active_count.fetch_sub(1, Ordering::SeqCst);
                });
            match spawned {
                Ok(handle) => {
                    let mut list = threads
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    list.retain(|h| !h.is_finished());
                    list.push(handle);
                }
                Err(e) => {
                    active.fetch_sub(1, Ordering::SeqCst);
                    tracing::error!(error = %e, "cannot start an association thread");
                }
            }
        }
        let list = std::mem::take(
            &mut *threads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for handle in list {
            let _ = handle.join();
        }
        Ok(())
    }
}

/// How long to wait after a failed `accept` before the next: retrying at once when the
/// process has no descriptor left spins a core and floods the log.
#[derive(Debug, Default)]
struct AcceptBackoff {
    /// Failures in a row.
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// An accept failed with `error`: the wait before the next try. Logs the first
    /// failure of a run only.
    fn failed(&mut self, error: &io::Error) -> Duration {
        if self.failures == 0 {
            tracing::warn!(%error, "accept failed; retrying with backoff until it succeeds");
        }
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(7);
        (Self::FIRST * 2u32.pow(doublings)).min(Self::MAX)
    }

    /// An accept succeeded: a run of failures is over.
    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::warn!(failures = self.failures, "accepting again");
            self.failures = 0;
        }
    }
}

/// Input for an association's thread.
enum Input {
    Main(Chunk),
    Sub(SubAssociationId, Chunk),
}

enum Chunk {
    /// Bytes read: a slice of the reader's buffer when large (C-STORE fragments are
    /// sliced from it, not copied), a copy when small.
    Data(Bytes),
    Closed,
}

/// The largest read of a reader thread. Reads wait in a channel of [`READS_QUEUED`] while
/// the association's thread is busy (or blocked writing to a peer that does not read), so
/// an association holds at most about 16 x 256 KiB = 4 MiB of input it has not taken.
const READER_BUFFER: usize = 256 * 1024;
/// Reads a reader thread may queue before it stops reading.
const READS_QUEUED: usize = 16;

/// Starts a thread that reads `stream` into `tx` until it closes. The socket is shared
/// with the association's thread, which writes to it: one descriptor per connection.
fn spawn_reader(
    stream: Arc<TcpStream>,
    tx: SyncSender<Input>,
    wrap: impl Fn(Chunk) -> Input + Send + 'static,
) {
    let _ = thread::Builder::new().name("reader".into()).spawn(move || {
        let mut buffers = ReadBuffers::new(READER_BUFFER);
        loop {
            match (&mut &*stream).read(buffers.read_space()) {
                Ok(0) => {
                    let _ = tx.send(wrap(Chunk::Closed));
                    return;
                }
                Ok(n) => {
                    if tx.send(wrap(Chunk::Data(buffers.take(n)))).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    let _ = tx.send(wrap(Chunk::Closed));
                    return;
                }
            }
        }
    });
}

/// A C-MOVE sub-association's socket and the bytes its association did not take yet.
struct SubSocket {
    stream: Arc<TcpStream>,
    pending: Pending,
    out: SendQueue,
}

/// Chunks read and not yet taken by their association, in order.
type Pending = VecDeque<Bytes>;

/// Offers `pending` to `assoc`; keeps what it did not take (it wants events drained).
/// Returns whether it took anything: then events may wait to be served at once.
#[must_use]
fn offer(assoc: &mut Association, pending: &mut Pending) -> bool {
    let mut took = false;
    while let Some(front) = pending.front_mut() {
        match assoc.handle_input_shared(Instant::now(), front) {
            Ok(taken) => {
                took |= taken > 0;
                front.advance(taken);
                if !front.is_empty() {
                    break;
                }
                pending.pop_front();
            }
            Err(e) => {
                tracing::debug!(error = %e, "input discarded");
                pending.clear();
                return false;
            }
        }
    }
    took
}

fn serve_association(
    stream: TcpStream,
    options: &ServerOptions,
    shutdown: &AtomicBool,
    over_limit: bool,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let writer = Arc::new(stream);
    let (tx, rx): (SyncSender<Input>, Receiver<Input>) = sync_channel(READS_QUEUED);
    spawn_reader(Arc::clone(&writer), tx.clone(), Input::Main);

    let now = Instant::now();
    let mut assoc = Scp::acceptor(now, options.config.clone(), Arc::clone(&options.policy));
    let mut scp = Scp::new(Arc::clone(&options.handlers));
    let mut out = SendQueue::new();
    let mut pending = Pending::new();
    let mut subs: HashMap<SubAssociationId, SubSocket> = HashMap::new();
    let mut shutdown_since: Option<Instant> = None;

    loop {
        // Outputs, events and operations, until nothing moves.
        loop {
            let now = Instant::now();
            let mut moved = false;
            let admission = if over_limit {
                Admission::OverLimit
            } else if shutdown.load(Ordering::SeqCst) {
                Admission::ShuttingDown
            } else {
                Admission::Open
            };
            while let Some(event) = assoc.poll_event() {
                moved = true;
                scp.serve_event(&mut assoc, now, event, admission);
            }
            scp.poll(&mut assoc, now);
            while let Some(request) = scp.poll_connect() {
                moved = true;
                let connected = request
                    .destination
                    .to_string()
                    .to_socket_addrs()
                    .and_then(|mut addrs| {
                        addrs
                            .next()
                            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
                    })
                    .and_then(|addr| TcpStream::connect_timeout(&addr, options.connect_timeout));
                match connected.and_then(|s| s.set_nodelay(true).map(|()| s)) {
                    Ok(sub_stream) => {
                        let sub_stream = Arc::new(sub_stream);
                        let id = request.id;
                        spawn_reader(Arc::clone(&sub_stream), tx.clone(), move |c| {
                            Input::Sub(id, c)
                        });
                        subs.insert(
                            id,
                            SubSocket {
                                stream: sub_stream,
                                pending: Pending::new(),
                                out: SendQueue::new(),
                            },
                        );
                        scp.sub_connected(request.id, Instant::now());
                    }
                    Err(e) => {
                        scp.sub_connect_failed(request.id, Instant::now(), &e.to_string());
                    }
                }
            }
            let ids: Vec<SubAssociationId> = subs.keys().copied().collect();
            for id in ids {
                let Some(socket) = subs.get_mut(&id) else {
                    continue;
                };
                if let Some(sub_assoc) = scp.sub_association(id) {
                    moved |= offer(sub_assoc, &mut socket.pending);
                }
                let alive = scp.handle_sub_events(&mut assoc, id, Instant::now());
                let finished = match scp.sub_association(id) {
                    Some(sub_assoc) => {
                        if let Err(e) = flush(&socket.stream, sub_assoc, &mut socket.out) {
                            tracing::debug!(error = %e, "sub-association write failed");
                            sub_assoc.handle_transport_closed(Instant::now());
                            moved = true;
                        }
                        moved |= !socket.pending.is_empty() && sub_assoc.wants_read();
                        sub_assoc.is_closed()
                    }
                    None => true,
                };
                if !alive || finished {
                    if let Some(s) = subs.remove(&id) {
                        let _ = s.stream.shutdown(Shutdown::Both);
                    }
                    moved = true;
                }
            }
            // Input taken leaves events to serve: go round again rather than wait (a
            // missed round cost a whole 250 ms wait per PDU received).
            moved |= offer(&mut assoc, &mut pending);
            // Responses the operations produced: send them, then let them produce more.
            moved |= assoc.wants_write();
            if flush(&writer, &mut assoc, &mut out).is_err() {
                assoc.handle_transport_closed(Instant::now());
                moved = true;
            }
            moved |= !pending.is_empty() && assoc.wants_read();
            if !moved {
                break;
            }
        }
        if assoc.is_closed() && subs.is_empty() {
            break;
        }
        // Shutdown: release when idle; abort after the grace period (the core decides).
        if shutdown.load(Ordering::SeqCst) {
            let since = *shutdown_since.get_or_insert_with(Instant::now);
            let now = Instant::now();
            let grace_over = now.duration_since(since) > options.shutdown_grace;
            if scp.shutdown_step(&mut assoc, now, grace_over) == ShutdownStep::CloseTransport {
                let _ = writer.shutdown(Shutdown::Both);
                break;
            }
            let _ = flush(&writer, &mut assoc, &mut out);
        }
        // Wait for input, the next deadline, or a shutdown check.
        let now = Instant::now();
        let mut deadline = assoc.poll_timeout();
        for id in subs.keys() {
            if let Some(d) = scp.sub_association(*id).and_then(|a| a.poll_timeout()) {
                deadline = Some(deadline.map_or(d, |x| x.min(d)));
            }
        }
        let wait = deadline
            .map_or(Duration::from_millis(250), |d| {
                d.saturating_duration_since(now)
            })
            .min(Duration::from_millis(250));
        match rx.recv_timeout(wait) {
            Ok(Input::Main(Chunk::Data(bytes))) => pending.push_back(bytes),
            Ok(Input::Main(Chunk::Closed)) => assoc.handle_transport_closed(Instant::now()),
            Ok(Input::Sub(id, chunk)) => {
                if let (Some(socket), Some(sub_assoc)) =
                    (subs.get_mut(&id), scp.sub_association(id))
                {
                    match chunk {
                        Chunk::Data(bytes) => socket.pending.push_back(bytes),
                        Chunk::Closed => sub_assoc.handle_transport_closed(Instant::now()),
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => assoc.handle_transport_closed(Instant::now()),
        }
        let now = Instant::now();
        assoc.handle_timeout(now);
        for id in subs.keys() {
            if let Some(a) = scp.sub_association(*id) {
                a.handle_timeout(now);
            }
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
    Ok(())
}
