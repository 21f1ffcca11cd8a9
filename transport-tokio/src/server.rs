//! The SCP: an accept loop, and one task per connection driving its [`ScpSession`].

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use dicomwire::session::{LinkId, ScpConfig, ScpServer, ScpSession};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::wire::{Links, Wake, now, sleep, turn};

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
                Ok(_) = stop.wait_for(|asked| *asked) => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                // `None`: far over the limit, closed at once.
                Ok((stream, peer)) => {
                    if let Some(session) = self.server.accept(now()) {
                        let mut links = Links::new();
                        links.add(LinkId::MAIN, stream);
                        let conn = Conn {
                            session,
                            links,
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
                        Ok(_) = stop.wait_for(|asked| *asked) => break,
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

/// A connection's task: its session, its sockets, and the connects in progress.
struct Conn {
    session: ScpSession,
    links: Links,
    connects: JoinSet<(LinkId, io::Result<TcpStream>)>,
}

impl Conn {
    /// Until the session is finished: waits for a socket, a connect, the session's
    /// deadline or shutdown, and runs a turn.
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut stopping = false;
        while !self.session.is_finished() {
            let (session, connects) = (&self.session, &mut self.connects);
            let wake = tokio::select! {
                wake = self.links.ready(|link| session.wants_read(link)) => wake,
                Some(Ok((link, connected))) = connects.join_next(), if !connects.is_empty() => {
                    Wake::Connected(link, connected)
                }
                () = sleep(session.poll_timeout()) => Wake::Timeout,
                Ok(_) = stop.wait_for(|asked| *asked), if !stopping => Wake::Shutdown,
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
                let take = |link, b: &_| session.handle_input(now, link, b).unwrap_or(b.len());
                if let Some(closed) = self.links.read(i, take) {
                    session.handle_transport_closed(now, closed);
                }
            }
            Wake::Connected(link, Ok(stream)) => {
                if session.handle_transport_connected(now, link).is_ok() {
                    self.links.add(link, stream);
                }
            }
            Wake::Connected(link, Err(e)) => {
                session.handle_transport_connect_failed(now, link, &e.to_string());
            }
            Wake::Timeout => session.handle_timeout(now),
            Wake::Shutdown => session.shutdown(now),
            Wake::Write => {}
        }
        loop {
            let session = &mut self.session;
            let failed = self
                .links
                .send(|link, out| session.poll_transmit(now, link, out).is_some());
            let mut moved = !failed.is_empty();
            for link in failed {
                session.handle_transport_closed(now, link);
            }
            while let Some(connect) = session.poll_connect() {
                moved = true;
                // Bounded by the session's connect timer: on expiry it closes the link,
                // and a connection that opens later is refused and dropped.
                let (link, addr) = (connect.link, connect.destination.to_string());
                self.connects
                    .spawn(async move { (link, TcpStream::connect(addr).await) });
            }
            while let Some(link) = session.poll_close() {
                moved = true;
                // What was taken for it went out in `send`, as far as the socket took it.
                self.links.close(link);
            }
            while let Some(event) = session.poll_event() {
                tracing::debug!(?event, "session event");
            }
            moved |= self.links.reoffer(|link, b| {
                let wanted = session.wants_read(link);
                wanted.then(|| session.handle_input(now, link, b).unwrap_or(b.len()))
            });
            if !moved {
                return;
            }
        }
    }
}
