//! The SCP: an accept loop, and one task per connection driving its [`ScpSession`].

use std::future::{pending, poll_fn};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::task::Poll;

use dicomwire::session::{LinkId, ScpConfig, ScpServer, ScpSession};
use dicomwire::ul::ReadBuffers;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::wire::{READ_BUFFER, Wake, Wire, now, sleep, turn};

/// Asks a running [`Server`] to stop, from any thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Closes the listener at once and asks every session to shut down: idle associations
    /// are released, operations in progress finish within the grace period.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// A bound SCP server; [`run`](Self::run) serves until shutdown, a task per connection.
#[derive(Debug)]
pub struct Server {
    listener: std::net::TcpListener,
    server: ScpServer,
    stop: Arc<watch::Sender<bool>>,
    addr: SocketAddr,
}

impl Server {
    /// Binds `addr` to serve with `config` (no runtime needed yet). Fails when `config`
    /// is invalid ([`io::ErrorKind::InvalidInput`]) or `addr` cannot be bound.
    pub fn bind(addr: impl ToSocketAddrs, config: Arc<ScpConfig>) -> io::Result<Self> {
        let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
        let server = ScpServer::new(config).map_err(invalid)?;
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let (addr, stop) = (listener.local_addr()?, Arc::new(watch::Sender::new(false)));
        Ok(Self {
            listener,
            server,
            stop,
            addr,
        })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.stop))
    }

    /// Accepts and serves until shutdown; returns once every session has ended. Fails
    /// only when the listener cannot join the runtime.
    pub async fn run(mut self) -> io::Result<()> {
        let listener = TcpListener::from_std(self.listener)?;
        let (mut stop, mut tasks) = (self.stop.subscribe(), JoinSet::new());
        loop {
            let accepted = tokio::select! {
                () = asked(&mut stop) => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                // `None`: far over the limit, closed at once.
                Ok((stream, peer)) => {
                    if let Some(session) = self.server.accept(now()) {
                        let links = vec![(LinkId::MAIN, Wire::new(stream))];
                        let buffers = ReadBuffers::new(READ_BUFFER);
                        let conn = Conn {
                            session,
                            links,
                            buffers,
                            connects: JoinSet::new(),
                        };
                        let span = tracing::info_span!("assoc", %peer);
                        tasks.spawn(conn.run(self.stop.subscribe()).instrument(span));
                    }
                }
                Err(e) => {
                    let retry = self.server.accept_failed(now(), &e);
                    tokio::select! {
                        () = sleep(Some(retry)) => {}
                        () = asked(&mut stop) => break,
                    }
                }
            }
        }
        drop(listener);
        tracing::info!("shutting down: no longer accepting");
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// Resolves once shutdown is asked (never when no handle is left to ask).
async fn asked(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|asked| *asked).await.is_err() {
        pending::<()>().await;
    }
}

/// A connection's task: its session, a socket per open link (the main link first), and
/// the connects in progress.
struct Conn {
    session: ScpSession,
    links: Vec<(LinkId, Wire)>,
    buffers: ReadBuffers,
    connects: JoinSet<(LinkId, io::Result<TcpStream>)>,
}

impl Conn {
    /// Until the session is finished: waits for a socket, a connect, the session's
    /// deadline or shutdown, and runs a turn.
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut stopping = false;
        while !self.session.is_finished() {
            for (link, wire) in &mut self.links {
                wire.wants_read = self.session.wants_read(*link);
            }
            let (links, connects) = (&self.links, &mut self.connects);
            let ready = poll_fn(|cx| {
                let mut ready = links
                    .iter()
                    .enumerate()
                    .map(|(i, (_, w))| w.poll_ready(cx, i));
                ready.find(Poll::is_ready).unwrap_or(Poll::Pending)
            });
            let wake = tokio::select! {
                wake = ready => wake,
                Some(Ok((link, connected))) = connects.join_next(), if !connects.is_empty() => {
                    Wake::Connected(link, connected)
                }
                () = sleep(self.session.poll_timeout()) => Wake::Timeout,
                () = asked(&mut stop), if !stopping => Wake::Shutdown,
            };
            stopping |= matches!(wake, Wake::Shutdown);
            turn(|| self.turn(wake));
        }
    }

    /// Gives the session what happened, then drains it in the contract's order (transmit
    /// per link, the main link first; connect; close; events) and offers refused input
    /// again, until nothing moves.
    fn turn(&mut self, wake: Wake) {
        let now = now();
        let session = &mut self.session;
        match wake {
            Wake::Read(i) => {
                let (link, wire) = &mut self.links[i];
                let take = |b: &_| session.handle_input(now, *link, b).unwrap_or(b.len());
                if wire.receive(Some(&mut self.buffers), take).is_err() {
                    session.handle_transport_closed(now, self.links.remove(i).0);
                }
            }
            Wake::Connected(link, Ok(stream)) => {
                if session.handle_transport_connected(now, link).is_ok() {
                    self.links.push((link, Wire::new(stream)));
                }
            }
            Wake::Connected(link, Err(e)) => {
                session.handle_transport_connect_failed(now, link, &e.to_string())
            }
            Wake::Timeout => session.handle_timeout(now),
            Wake::Shutdown => session.shutdown(now),
            Wake::Write => {}
        }
        loop {
            let (mut moved, mut i) = (false, 0);
            while let Some((link, wire)) = self.links.get_mut(i) {
                let session = &mut self.session;
                if wire
                    .send(|out| session.poll_transmit(now, *link, out).is_some())
                    .is_ok()
                {
                    i += 1;
                } else {
                    moved = true;
                    self.session
                        .handle_transport_closed(now, self.links.remove(i).0);
                }
            }
            while let Some(connect) = self.session.poll_connect() {
                moved = true;
                // Bounded by the session's connect timer: on expiry it closes the link,
                // and a connection that opens later is refused and dropped.
                let (link, addr) = (connect.link, connect.destination.to_string());
                self.connects
                    .spawn(async move { (link, TcpStream::connect(addr).await) });
            }
            while let Some(link) = self.session.poll_close() {
                moved = true;
                // What was taken for it went out in `send`, as far as the socket took it.
                self.links.retain(|(l, _)| *l != link);
            }
            while let Some(event) = self.session.poll_event() {
                tracing::debug!(?event, "session event");
            }
            let session = &mut self.session;
            for (link, wire) in &mut self.links {
                if !wire.pending.is_empty() && session.wants_read(*link) {
                    let take = |b: &_| session.handle_input(now, *link, b).unwrap_or(b.len());
                    moved |= wire.receive(None, take).unwrap_or(false);
                }
            }
            if !moved {
                return;
            }
        }
    }
}
