//! The SCP server: an accept loop, and one thread per connection driving its
//! [`ScpSession`]. One reader thread per socket (the connection's and each C-MOVE
//! sub-association's) turns blocking reads into messages on a bounded channel, so the
//! session's thread waits on one channel for input from any socket or for the session's
//! next deadline; the bounded channel keeps TCP backpressure.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::session::{LinkId, ScpConfig, ScpServer, ScpSession};
use dicomwire::ul::ReadBuffers;

use crate::wire::{self, MAX_BLOCK, WRITE_BATCH, Wire};

/// The largest read of a reader thread. Reads wait in a channel of [`READS_QUEUED`] while
/// the session's thread is busy, so a connection holds at most about 16 x 256 KiB = 4 MiB
/// of input not yet taken.
const READER_BUFFER: usize = 256 * 1024;
/// Reads a reader thread may queue before it stops reading.
const READS_QUEUED: usize = 16;

/// Asks a running [`Server`] to stop; cheap to clone and to pass to a signal watcher.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl ShutdownHandle {
    /// Closes the listener (new clients are refused at once) and asks every session to
    /// shut down: operations in progress finish within the grace period.
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
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    server: ScpServer,
    flag: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Server {
    /// Binds `addr` to serve with `config`.
    ///
    /// # Errors
    ///
    /// When `config` is invalid ([`io::ErrorKind::InvalidInput`]) or `addr` cannot be
    /// bound.
    pub fn bind(addr: impl ToSocketAddrs, config: Arc<ScpConfig>) -> io::Result<Self> {
        let server =
            ScpServer::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let flag = Arc::new(AtomicBool::new(false));
        Ok(Self { listener, server, flag, addr })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { flag: Arc::clone(&self.flag), addr: self.addr }
    }

    /// Accepts and serves until shutdown; returns once every session has ended.
    ///
    /// # Errors
    ///
    /// Never so far; kept for the transports' common shape.
    pub fn run(mut self) -> io::Result<()> {
        let threads: Mutex<Vec<JoinHandle<()>>> = Mutex::default();
        for conn in self.listener.incoming() {
            if self.flag.load(Ordering::SeqCst) {
                break;
            }
            let now = Instant::now();
            let stream = match conn {
                Ok(s) => s,
                Err(e) => {
                    let retry = self.server.accept_failed(now, &e);
                    thread::sleep(retry.saturating_duration_since(now));
                    continue;
                }
            };
            let Some(session) = self.server.accept(now) else {
                continue;
            };
            let peer = stream.peer_addr().unwrap_or(self.addr);
            let flag = Arc::clone(&self.flag);
            let spawned = thread::Builder::new().name(format!("assoc {peer}")).spawn(move || {
                let _span = tracing::info_span!("assoc", %peer).entered();
                Connection::new(stream, session, flag).run();
            });
            let mut list = threads.lock().unwrap_or_else(PoisonError::into_inner);
            list.retain(|h| !h.is_finished());
            match spawned {
                Ok(handle) => list.push(handle),
                Err(e) => tracing::error!(error = %e, "cannot start a connection thread"),
            }
        }
        drop(self.listener);
        for handle in std::mem::take(&mut *threads.lock().unwrap_or_else(PoisonError::into_inner)) {
            let _ = handle.join();
        }
        Ok(())
    }
}

/// What a reader thread reports: bytes read on a link, or its end.
struct Input {
    link: LinkId,
    data: Option<Bytes>,
}

/// One socket of a connection's session.
struct Socket {
    stream: Arc<TcpStream>,
    wire: Wire,
}

/// A connection's thread: its session, its sockets, its readers' channel.
struct Connection {
    session: ScpSession,
    sockets: HashMap<LinkId, Socket>,
    tx: SyncSender<Input>,
    rx: Receiver<Input>,
    shutdown: Arc<AtomicBool>,
}

impl Connection {
    fn new(stream: TcpStream, session: ScpSession, shutdown: Arc<AtomicBool>) -> Self {
        let (tx, rx) = sync_channel(READS_QUEUED);
        let mut conn = Self { session, sockets: HashMap::new(), tx, rx, shutdown };
        let _ = stream.set_nodelay(true);
        conn.add_socket(LinkId::MAIN, stream);
        conn
    }

    fn add_socket(&mut self, link: LinkId, stream: TcpStream) {
        let stream = Arc::new(stream);
        let (reader, tx) = (Arc::clone(&stream), self.tx.clone());
        let _ = thread::Builder::new().name(format!("read {link}")).spawn(move || {
            let mut buffers = ReadBuffers::new(READER_BUFFER);
            loop {
                let data = wire::read(&reader, &mut buffers).ok().flatten();
                let end = data.is_none();
                if tx.send(Input { link, data }).is_err() || end {
                    return;
                }
            }
        });
        self.sockets.insert(link, Socket { stream, wire: Wire::default() });
    }

    fn run(&mut self) {
        let mut shutdown_asked = false;
        loop {
            self.drain();
            if self.session.is_finished() {
                return;
            }
            if !shutdown_asked && self.shutdown.load(Ordering::SeqCst) {
                shutdown_asked = true;
                self.session.shutdown(Instant::now());
                continue;
            }
            let wait = self.session.poll_timeout().map_or(MAX_BLOCK, |d| {
                d.saturating_duration_since(Instant::now()).min(MAX_BLOCK)
            });
            match self.rx.recv_timeout(wait) {
                Ok(input) => self.input(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.timers();
        }
    }

    fn timers(&mut self) {
        let now = Instant::now();
        if self.session.poll_timeout().is_some_and(|d| d <= now) {
            self.session.handle_timeout(now);
        }
    }

    fn input(&mut self, Input { link, data }: Input) {
        let now = Instant::now();
        let Some(socket) = self.sockets.get_mut(&link) else {
            return;
        };
        let Some(bytes) = data else {
            return self.session.handle_transport_closed(now, link);
        };
        // Refused input goes before what came after it.
        let bytes = if socket.wire.pending.is_empty() {
            bytes
        } else {
            Bytes::from([&socket.wire.pending[..], &bytes[..]].concat())
        };
        let taken = self.session.handle_input(now, link, &bytes).unwrap_or(bytes.len());
        socket.wire.keep(&bytes, taken);
    }

    /// Sends, connects, closes and re-offers what the session asks, until nothing moves.
    fn drain(&mut self) {
        loop {
            let now = Instant::now();
            let mut moved = false;
            let links: Vec<LinkId> = self.session.links().collect();
            for link in links {
                let Some(socket) = self.sockets.get_mut(&link) else { continue };
                while socket.wire.out.len() < WRITE_BATCH
                    && self.session.poll_transmit(now, link, &mut socket.wire.out).is_some()
                {}
                if socket.wire.write(&socket.stream, self.session.poll_timeout()).is_err() {
                    socket.wire.out.clear();
                    self.session.handle_transport_closed(now, link);
                }
            }
            while let Some(connect) = self.session.poll_connect() {
                moved = true;
                let until = self.session.poll_timeout().unwrap_or(now + MAX_BLOCK);
                match wire::connect(&connect.destination.to_string(), until) {
                    Ok(stream) => {
                        self.add_socket(connect.link, stream);
                        let _ = self.session.handle_transport_connected(Instant::now(), connect.link);
                    }
                    Err(e) => {
                        let why = e.to_string();
                        self.session.handle_transport_connect_failed(Instant::now(), connect.link, &why);
                    }
                }
            }
            while let Some(link) = self.session.poll_close() {
                moved = true;
                if let Some(mut socket) = self.sockets.remove(&link) {
                    // What the session gave before asking to close (an A-ABORT, say).
                    let _ = socket.wire.write(&socket.stream, Some(now + MAX_BLOCK));
                    let _ = socket.stream.shutdown(Shutdown::Both);
                }
            }
            while self.session.poll_event().is_some() {}
            for (link, socket) in &mut self.sockets {
                if !socket.wire.pending.is_empty() && self.session.wants_read(*link) {
                    let pending = std::mem::take(&mut socket.wire.pending);
                    let taken = self.session.handle_input(now, *link, &pending).unwrap_or(pending.len());
                    socket.wire.keep(&pending, taken);
                    moved |= taken > 0;
                }
            }
            let unsent = self.sockets.values().any(|s| !s.wire.out.is_empty());
            if unsent && !moved {
                // The peer does not read: time passes for the session's timers; a
                // shutdown is noticed by `run`.
                self.timers();
                if self.shutdown.load(Ordering::SeqCst) {
                    return;
                }
            } else if !moved {
                return;
            }
        }
    }
}
