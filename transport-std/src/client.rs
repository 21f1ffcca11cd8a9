//! The SCU: one [`ScuSession`] over a blocking `TcpStream`.

use std::io::ErrorKind;
use std::net::ToSocketAddrs;
use std::time::Instant;

use dicomwire::dimse::Status;
use dicomwire::session::{
    ClientError, ClientEvent, Operation, OperationResult, ScuSession, Session,
};
use dicomwire::ul::{AssociationConfig, AssociationRequest, Negotiated};
use dicomwire_tls::{Secured, TlsClientConfig};

use crate::driver::Driver;
use crate::wire;

/// A client association over TCP: each call submits an [`Operation`] to the session and
/// drives it, blocking, until the operation's end.
pub struct Client {
    driver: Driver<Secured<ScuSession>>,
    /// The session's `Closed` event came.
    ended: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.driver.session.fmt(f)
    }
}

impl Client {
    /// Opens a TCP connection to `addr` (the first address that answers within the
    /// connect timeout) and negotiates `request`; returns once established.
    ///
    /// Errors: The [`ClientError`] that ended the association before it was established.
    pub fn connect(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
    ) -> Result<Self, ClientError> {
        Self::open(addr, request, config, |s| Ok(Secured::plain(s)))
    }

    /// [`connect`](Self::connect) over TLS: the server's certificate must name
    /// `server_name` (its host name, or the name to expect when dialling an address).
    ///
    /// Errors: as `connect`; a TLS failure is logged (one line naming it) and ends the
    /// association as its transport closing.
    pub fn connect_tls(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
        tls: &TlsClientConfig,
        server_name: &str,
    ) -> Result<Self, ClientError> {
        Self::open(addr, request, config, |s| {
            Secured::client(s, tls, server_name)
                .map_err(|e| ClientError::Io(std::io::Error::new(ErrorKind::InvalidInput, e)))
        })
    }

    fn open(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
        secure: impl FnOnce(ScuSession) -> Result<Secured<ScuSession>, ClientError>,
    ) -> Result<Self, ClientError> {
        let now = Instant::now();
        let mut session = ScuSession::new(now, config, request)?;
        let until = session.poll_timeout().unwrap_or(now);
        match wire::connect(addr, until) {
            Ok(stream) => {
                session.handle_transport_connected(Instant::now());
                let driver = Driver::new(secure(session)?, stream);
                let mut client = Self {
                    driver,
                    ended: false,
                };
                match client.next_event()? {
                    ClientEvent::Established(_) => Ok(client),
                    _ => Err(client.why_ended(ClientError::Ended)),
                }
            }
            Err(e) => {
                if e.kind() == ErrorKind::TimedOut {
                    session.handle_timeout(until);
                } else {
                    session.handle_transport_connect_failed(Instant::now(), e);
                }
                let closed = std::iter::from_fn(|| session.poll_event()).last();
                Err(match closed {
                    Some(ClientEvent::Closed(Err(e))) => e,
                    _ => ClientError::Closed,
                })
            }
        }
    }

    /// What was negotiated.
    pub fn negotiated(&self) -> &Negotiated {
        self.driver
            .session
            .inner()
            .negotiated()
            .unwrap_or_else(|| unreachable!("established"))
    }

    /// The session, to submit operations of its own and read its state.
    pub fn session(&mut self) -> &mut ScuSession {
        self.driver.session.inner_mut()
    }

    /// The next event of the session, sending what it has and reading until its next
    /// deadline as needed.
    ///
    /// Errors: Once the session closed: why ([`ClientError::Closed`] after a release).
    pub fn next_event(&mut self) -> Result<ClientEvent, ClientError> {
        while !self.ended {
            self.driver.drain();
            match Session::poll_event(&mut self.driver.session) {
                Some(ClientEvent::Closed(outcome)) => {
                    self.ended = true;
                    self.driver.drain();
                    return Err(outcome.err().unwrap_or(ClientError::Closed));
                }
                Some(event) => return Ok(event),
                None => self.driver.wait(),
            }
        }
        Err(ClientError::Ended)
    }

    /// When an operation failed because the association ended: why it ended.
    fn why_ended(&mut self, error: ClientError) -> ClientError {
        if !matches!(error, ClientError::Ended) {
            return error;
        }
        loop {
            if let Err(e) = self.next_event() {
                return e;
            }
        }
    }

    /// Runs `operation` to its end, showing `on_event` each of its events as it comes
    /// (a C-FIND's matches, a C-GET's instances); returns what it ended with.
    ///
    /// Errors: When it could not start or the association ended first.
    pub fn run(
        &mut self,
        operation: Operation,
        mut on_event: impl FnMut(&ClientEvent),
    ) -> Result<OperationResult, ClientError> {
        let op = self.driver.session.inner_mut().submit(operation)?;
        let mut result = OperationResult::default();
        loop {
            let event = self.next_event()?;
            if event.op() != Some(op) {
                continue;
            }
            if let ClientEvent::OperationFailed { error, .. } = event {
                return Err(self.why_ended(error));
            }
            on_event(&event);
            if result.add(&event) {
                return Ok(result);
            }
        }
    }

    /// C-ECHO: the response status.
    ///
    /// Errors: As [`run`](Self::run).
    pub fn echo(&mut self) -> Result<Status, ClientError> {
        Ok(self.run(Operation::Echo, |_| {})?.status)
    }

    /// Releases the association and waits for its end.
    ///
    /// Errors: The [`ClientError`] that ended it otherwise (an abort, say).
    pub fn release(mut self) -> Result<(), ClientError> {
        self.driver.session.inner_mut().release(Instant::now());
        loop {
            match self.next_event() {
                Ok(_) => {}
                Err(ClientError::Closed) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Aborts the association (A-ABORT) and closes the connection.
    pub fn abort(mut self) {
        self.driver.session.inner_mut().abort(Instant::now());
        while self.next_event().is_ok() {}
    }
}
