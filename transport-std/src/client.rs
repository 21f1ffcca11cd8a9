//! The SCU: one [`ScuSession`] over a blocking `TcpStream`.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dicom_object::InMemDicomObject;
use dicomwire::dimse::Status;
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::service::StoreHandler;
use dicomwire::service::scu::{FindProgress, RetrieveProgress};
use dicomwire::session::{ClientError, ClientEvent, OpId, Operation, RetrieveOutcome, ScuSession};
use dicomwire::ul::{AssociationConfig, AssociationRequest, Negotiated, ReadBuffers};

use crate::wire::{self, WRITE_BATCH, Wire};

/// Size of a read buffer: above common max PDU lengths, so that most PDUs arrive whole
/// and decode in place; reads of a quarter of it or more are lent to the session.
const READ_BUFFER: usize = 1024 * 1024;

/// A client association over TCP: each call submits an [`Operation`] to the session and
/// drives it, blocking, until the operation's end.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    session: ScuSession,
    wire: Wire,
    buffers: ReadBuffers,
    /// Why the session ended, once its `Closed` event came.
    ended: Option<ClientError>,
}

impl Client {
    /// Opens a TCP connection to `addr` (`host:port`, the first address that answers
    /// within the connect timeout) and negotiates `request`; returns once established.
    ///
    /// # Errors
    ///
    /// The [`ClientError`] that ended the association before it was established.
    pub fn connect(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
    ) -> Result<Self, ClientError> {
        let now = Instant::now();
        let mut session = ScuSession::new(now, config, request)?;
        let until = session.poll_timeout().unwrap_or(now);
        let stream = match wire::connect(addr, until) {
            Ok(stream) => Some(stream),
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                session.handle_timeout(until);
                None
            }
            Err(e) => {
                session.handle_transport_connect_failed(Instant::now(), e);
                None
            }
        };
        let Some(stream) = stream else {
            let ended = std::iter::from_fn(|| session.poll_event()).find_map(|e| match e {
                ClientEvent::Closed(Err(e)) => Some(e),
                _ => None,
            });
            return Err(ended.unwrap_or(ClientError::Closed));
        };
        session.handle_transport_connected(Instant::now());
        let mut client = Self {
            stream,
            session,
            wire: Wire::default(),
            buffers: ReadBuffers::new(READ_BUFFER),
            ended: None,
        };
        match client.next_event()? {
            ClientEvent::Established(_) => Ok(client),
            _ => Err(client.why_ended(ClientError::Ended)),
        }
    }

    /// What was negotiated.
    pub fn negotiated(&self) -> &Negotiated {
        self.session
            .negotiated()
            .unwrap_or_else(|| unreachable!("a Client exists only once established"))
    }

    /// The session, to submit operations of its own and read its state.
    pub fn session(&mut self) -> &mut ScuSession {
        &mut self.session
    }

    /// The next event of the session, sending what it has and reading until its next
    /// deadline as needed. After its `Closed` event: why it ended, as an error
    /// ([`ClientError::Closed`] after a release).
    ///
    /// # Errors
    ///
    /// Why the association ended.
    pub fn next_event(&mut self) -> Result<ClientEvent, ClientError> {
        loop {
            if let Some(e) = &self.ended {
                return Err(match e {
                    ClientError::Closed => ClientError::Closed,
                    _ => ClientError::Ended,
                });
            }
            let now = Instant::now();
            while self.wire.out.len() < WRITE_BATCH
                && self.session.poll_transmit(now, &mut self.wire.out).is_some()
            {}
            if self.wire.write(&self.stream, self.session.poll_timeout()).is_err() {
                self.wire.out.clear();
                self.session.handle_transport_closed(Instant::now());
            }
            match self.session.poll_event() {
                Some(ClientEvent::Closed(outcome)) => {
                    let _ = self.stream.shutdown(Shutdown::Both);
                    let e = outcome.err().unwrap_or(ClientError::Closed);
                    self.ended = Some(ClientError::Closed);
                    return Err(e);
                }
                Some(event) => return Ok(event),
                None => {}
            }
            if self.session.should_close_transport() && self.wire.out.is_empty() {
                let _ = self.stream.shutdown(Shutdown::Both);
            }
            if self.wire.out.is_empty() {
                self.read();
            }
            let now = Instant::now();
            if self.session.poll_timeout().is_some_and(|d| d <= now) {
                self.session.handle_timeout(now);
            }
        }
    }

    /// Offers what the session refused, or waits for input until its next deadline.
    fn read(&mut self) {
        let now = Instant::now();
        if !self.wire.pending.is_empty() {
            if self.session.wants_read() {
                let pending = std::mem::take(&mut self.wire.pending);
                let taken = self.session.handle_input(now, &pending).unwrap_or(pending.len());
                self.wire.keep(&pending, taken);
            }
            return;
        }
        let wait = self.session.poll_timeout().map(|d| d.saturating_duration_since(now));
        if wait.is_some_and(|w| w.is_zero()) {
            return;
        }
        let _ = self.stream.set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1))));
        match wire::read(&self.stream, &mut self.buffers) {
            Ok(Some(bytes)) => {
                let taken = self.session.handle_input(Instant::now(), &bytes).unwrap_or(bytes.len());
                self.wire.keep(&bytes, taken);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(None) | Err(_) => self.session.handle_transport_closed(Instant::now()),
        }
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

    /// Runs `operation`, giving its events to `on_event` until that says it is over.
    fn run<T>(
        &mut self,
        operation: Operation,
        mut on_event: impl FnMut(ClientEvent) -> Option<T>,
    ) -> Result<T, ClientError> {
        let op = self.session.submit(operation)?;
        loop {
            match self.next_event()? {
                ClientEvent::OperationFailed { op: o, error } if o == op => {
                    return Err(self.why_ended(error));
                }
                event => {
                    if let Some(done) = on_event(event) {
                        return Ok(done);
                    }
                }
            }
        }
    }

    /// C-ECHO: the response status.
    ///
    /// # Errors
    ///
    /// When the C-ECHO could not be sent or the association ended first.
    pub fn echo(&mut self) -> Result<Status, ClientError> {
        self.run(Operation::Echo, |event| match event {
            ClientEvent::Echo { status, .. } => Some(status),
            _ => None,
        })
    }

    /// C-FIND with `identifier` on `sop_class` (Modality Worklist or Hanging Protocol
    /// FIND): an iterator of progress, ending with [`FindProgress::Finished`].
    ///
    /// # Errors
    ///
    /// When the session takes no more operations.
    pub fn find(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
    ) -> Result<FindMatches<'_>, ClientError> {
        let op = self.session.submit(Operation::Find {
            sop_class: sop_class.clone(),
            identifier: identifier.clone(),
        })?;
        Ok(FindMatches { client: self, op, done: false })
    }

    /// C-GET: instances arrive as C-STORE sub-operations on this association and go to
    /// `store`; `progress` sees every step.
    ///
    /// # Errors
    ///
    /// When the C-GET could not be sent or the association ended first.
    pub fn get(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        store: Arc<dyn StoreHandler>,
        progress: impl FnMut(&RetrieveProgress),
    ) -> Result<RetrieveOutcome, ClientError> {
        let (sop_class, identifier) = (sop_class.clone(), identifier.clone());
        self.retrieve(Operation::Get { sop_class, identifier, store }, progress)
    }

    /// C-MOVE to `destination`; `progress` sees every pending response.
    ///
    /// # Errors
    ///
    /// When the C-MOVE could not be sent or the association ended first.
    pub fn move_to(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        destination: &AeTitle,
        progress: impl FnMut(&RetrieveProgress),
    ) -> Result<RetrieveOutcome, ClientError> {
        let (sop_class, identifier) = (sop_class.clone(), identifier.clone());
        let destination = *destination;
        self.retrieve(Operation::Move { sop_class, identifier, destination }, progress)
    }

    fn retrieve(
        &mut self,
        operation: Operation,
        mut progress: impl FnMut(&RetrieveProgress),
    ) -> Result<RetrieveOutcome, ClientError> {
        let mut outcome = RetrieveOutcome::default();
        self.run(operation, |event| match event {
            ClientEvent::Retrieve { progress: p, .. } => {
                progress(&p);
                outcome.add(&p).then(|| outcome.clone())
            }
            _ => None,
        })
    }

    /// Releases the association and waits for its end.
    ///
    /// # Errors
    ///
    /// The [`ClientError`] that ended it otherwise (an abort, say).
    pub fn release(mut self) -> Result<(), ClientError> {
        self.session.release(Instant::now());
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
        self.session.abort(Instant::now());
        while self.next_event().is_ok() {}
    }
}

/// The matches of a C-FIND, as they arrive.
#[derive(Debug)]
pub struct FindMatches<'a> {
    client: &'a mut Client,
    op: OpId,
    done: bool,
}

impl FindMatches<'_> {
    /// Asks the SCP to cancel; the iterator goes on until the final response (normally
    /// 0xFE00).
    ///
    /// # Errors
    ///
    /// When the C-FIND is no longer running.
    pub fn cancel(&mut self) -> Result<(), ClientError> {
        self.client.session.cancel(Instant::now(), self.op)
    }
}

impl Iterator for FindMatches<'_> {
    type Item = Result<FindProgress, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.client.next_event() {
                Ok(ClientEvent::Find { op, progress }) if op == self.op => {
                    self.done = matches!(progress, FindProgress::Finished { .. });
                    return Some(Ok(progress));
                }
                Ok(ClientEvent::OperationFailed { op, error }) if op == self.op => {
                    self.done = true;
                    return Some(Err(self.client.why_ended(error)));
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}
