//! The SCP server: an accept loop, and one thread per connection driving its
//! [`ScpSession`] (see [`Driver`]).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use dicomwire::session::{ScpConfig, ScpServer, ScpSession, Session};
use dicomwire_tls::{Secured, ServerTls};

use crate::driver::Driver;

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
}

/// A bound SCP server; [`run`](Self::run) serves until shutdown.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    server: ScpServer,
    flag: Arc<AtomicBool>,
    tls: ServerTls,
}

impl Server {
    /// Binds `addr` to serve with `config`.
    ///
    /// Errors: When `config` is invalid ([`io::ErrorKind::InvalidInput`]) or `addr` cannot be
    /// bound.
    pub fn bind(addr: impl ToSocketAddrs, config: Arc<ScpConfig>) -> io::Result<Self> {
        let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
        let server = ScpServer::new(config).map_err(invalid)?;
        let listener = TcpListener::bind(addr)?;
        Ok(Self {
            listener,
            server,
            flag: Arc::default(),
            tls: ServerTls::default(),
        })
    }

    /// Serves over TLS as `tls` says (accepted connections, C-MOVE sub-associations).
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = tls;
        self
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into())
    }

    /// A handle to stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: Arc::clone(&self.flag),
            addr: self.local_addr(),
        }
    }

    /// Accepts and serves until shutdown; returns once every session has ended.
    ///
    /// Errors: None so far: accept failures are retried after the core's backoff.
    pub fn run(mut self) -> io::Result<()> {
        for conn in self.listener.incoming() {
            if self.flag.load(Ordering::SeqCst) {
                break;
            }
            let now = Instant::now();
            let stream = match conn {
                Ok(s) => s,
                Err(e) => {
                    thread::sleep(self.server.accept_failed(now, &e) - now);
                    continue;
                }
            };
            let Some(session) = self.server.accept(now) else {
                continue;
            };
            let session = match self.tls.secure(session) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot secure the connection");
                    continue;
                }
            };
            let peer = stream
                .peer_addr()
                .map_or_else(|_| "?".to_owned(), |p| p.to_string());
            let flag = Arc::clone(&self.flag);
            let spawned = thread::Builder::new()
                .name(format!("assoc {peer}"))
                .spawn(move || {
                    let _span = tracing::info_span!("assoc", %peer).entered();
                    serve(stream, session, &flag);
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a connection thread");
            }
        }
        drop(self.listener);
        // Each session leaves the count when its thread drops it.
        while self.server.connections() > 0 {
            thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// A connection's thread: drives its session until it is over.
fn serve(stream: TcpStream, session: Secured<ScpSession>, shutdown: &AtomicBool) {
    let mut driver = Driver::new(session, stream);
    let mut shutdown_asked = false;
    while !driver.session.is_finished() {
        driver.drain();
        while driver.session.poll_event().is_some() {}
        if !shutdown_asked && shutdown.load(Ordering::SeqCst) {
            shutdown_asked = true;
            driver.session.shutdown(Instant::now());
            continue;
        }
        driver.wait();
    }
}
