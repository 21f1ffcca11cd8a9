//! The SCU: one [`ScuSession`] over a `tokio::net::TcpStream`.

use std::collections::VecDeque;

use dicomwire::dimse::Status;
use dicomwire::session::{ClientError, ClientEvent, Operation, OperationResult, ScuSession};
use dicomwire::ul::{AssociationConfig, AssociationRequest};
use dicomwire_tls::{Secured, TlsClientConfig};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::conn::Conn;
use crate::wire::now;

/// A client association over TCP: each call submits an [`Operation`] to the session and
/// drives it to its end.
pub struct Client {
    conn: Conn<Secured<ScuSession>>,
    /// Events the last turn gave and the caller has not taken.
    events: VecDeque<ClientEvent>,
    /// Its `Closed` event was given.
    ended: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.conn.session.fmt(f)
    }
}

impl Client {
    /// Connects to `addr` within the association's connect timeout and negotiates
    /// `request`; returns once established, or the [`ClientError`] that ended it first.
    pub async fn connect(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
    ) -> Result<Self, ClientError> {
        Self::open(addr, request, config, |s| Ok(Secured::plain(s))).await
    }

    /// [`connect`](Self::connect) over TLS: the server's certificate must name
    /// `server_name`; a TLS failure is logged and ends the association as its
    /// transport closing.
    pub async fn connect_tls(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
        tls: &TlsClientConfig,
        server_name: &str,
    ) -> Result<Self, ClientError> {
        let invalid = |e| ClientError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e));
        Self::open(addr, request, config, |s| {
            Secured::client(s, tls, server_name).map_err(invalid)
        })
        .await
    }

    async fn open(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
        secure: impl FnOnce(ScuSession) -> Result<Secured<ScuSession>, ClientError>,
    ) -> Result<Self, ClientError> {
        let mut session = ScuSession::new(now(), config, request)?;
        let until = session.poll_timeout().unwrap_or_else(now).into();
        let stream = match tokio::time::timeout_at(until, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                session.handle_transport_connected(now());
                Some(stream)
            }
            Ok(Err(e)) => {
                session.handle_transport_connect_failed(now(), e);
                None
            }
            // The connect timer fires: `ClientError::ConnectTimeout`.
            Err(_) => {
                session.handle_timeout(now());
                None
            }
        };
        let conn = Conn::new(secure(session)?, stream);
        let mut client = Self {
            conn,
            events: VecDeque::new(),
            ended: false,
        };
        // `Established`, or `Closed` with why.
        client.next_event().await?;
        Ok(client)
    }

    /// The session, to read what was negotiated, or submit and cancel operations.
    pub fn session(&mut self) -> &mut ScuSession {
        self.conn.session.inner_mut()
    }

    /// The next event, sending and reading as needed until the session's next deadline.
    /// With its `Closed` event: why the association ended ([`ClientError::Closed`] after
    /// a release), then [`ClientError::Closed`].
    pub async fn next_event(&mut self) -> Result<ClientEvent, ClientError> {
        let mut wake = None;
        while !self.ended {
            let events = &mut self.events;
            self.conn.turn(wake.take(), |event| events.push_back(event));
            match self.events.pop_front() {
                Some(ClientEvent::Closed(outcome)) => {
                    self.ended = true;
                    return Err(outcome.err().unwrap_or(ClientError::Closed));
                }
                Some(event) => return Ok(event),
                None => wake = Some(self.conn.wait(None).await),
            }
        }
        Err(ClientError::Closed)
    }

    /// Takes events until the `Closed` one: why the association ended.
    async fn closed(&mut self) -> ClientError {
        loop {
            if let Err(e) = self.next_event().await {
                return e;
            }
        }
    }

    /// Runs `operation` to its end, showing `on_event` each of its events as it comes
    /// (a C-FIND's matches, a C-GET's instances); returns what it ended with, or why it
    /// could not start or the association ended first.
    pub async fn run(
        &mut self,
        operation: Operation,
        mut on_event: impl FnMut(&ClientEvent),
    ) -> Result<OperationResult, ClientError> {
        let op = self.conn.session.inner_mut().submit(operation)?;
        let mut result = OperationResult::default();
        loop {
            let event = self.next_event().await?;
            if event.op() != Some(op) {
                continue;
            }
            if let ClientEvent::OperationFailed { error, .. } = event {
                return Err(match error {
                    ClientError::Ended => self.closed().await,
                    error => error,
                });
            }
            on_event(&event);
            if result.add(&event) {
                return Ok(result);
            }
        }
    }

    /// C-ECHO: the response status.
    pub async fn echo(&mut self) -> Result<Status, ClientError> {
        Ok(self.run(Operation::Echo, |_| {}).await?.status)
    }

    /// Releases the association once what is queued is done, and waits for its end.
    pub async fn release(mut self) -> Result<(), ClientError> {
        self.conn.session.inner_mut().release(now());
        match self.closed().await {
            ClientError::Closed => Ok(()),
            e => Err(e),
        }
    }

    /// Aborts the association (A-ABORT) and closes the connection.
    pub async fn abort(mut self) {
        self.conn.session.inner_mut().abort(now());
        self.closed().await;
    }
}
