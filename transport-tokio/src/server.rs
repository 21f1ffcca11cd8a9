//! The SCP: an accept loop, and one task per connection driving its [`ScpSession`].

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use dicomwire::session::{ScpConfig, ScpServer, ScpSession, Session};
use dicomwire_tls::{Secured, ServerTls};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::conn::Conn;
use crate::wire::{Wake, now, sleep};

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
    tls: ServerTls,
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
            tls: ServerTls::default(),
            stop,
            addr,
        })
    }

    /// Serves over TLS as `tls` says (accepted connections, C-MOVE sub-associations).
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = tls;
        self
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
                    let session = self.server.accept(now()).map(|s| self.tls.secure(s));
                    if let Some(session) = session {
                        let Ok(session) = session.inspect_err(
                            |e| tracing::error!(error = %e, "cannot secure the connection"),
                        ) else {
                            continue;
                        };
                        let conn = Conn::new(session, Some(stream));
                        let span = tracing::info_span!("assoc", %peer);
                        tasks.spawn(serve(conn, self.stop.subscribe()).instrument(span));
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

/// A connection's task: until its session is finished, waits and runs a turn.
async fn serve(mut conn: Conn<Secured<ScpSession>>, mut stop: watch::Receiver<bool>) {
    let (mut wake, mut stopping) = (None, false);
    loop {
        conn.turn(wake.take(), |event| {
            tracing::debug!(?event, "session event")
        });
        if conn.session.is_finished() {
            return;
        }
        let next = conn.wait((!stopping).then_some(&mut stop)).await;
        stopping |= matches!(next, Wake::Shutdown);
        wake = Some(next);
    }
}
