//! The SCU: one [`ScuSession`] over a `tokio::net::TcpStream`.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use dicom_object::InMemDicomObject;
use dicomwire::dimse::Status;
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::service::StoreHandler;
use dicomwire::service::scu::FindProgress;
use dicomwire::session::{ClientError, ClientEvent, Operation, RetrieveOutcome, ScuSession};
use dicomwire::ul::{AssociationConfig, AssociationRequest, ReadBuffers};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::wire::{READ_BUFFER, Wake, Wire, now, sleep, turn};

/// A client association over TCP: each call submits an [`Operation`] to the session and
/// drives it to its end.
#[derive(Debug)]
pub struct Client {
    session: ScuSession,
    /// `None` once closed, or never opened.
    wire: Option<Wire>,
    buffers: ReadBuffers,
    /// Its `Closed` event was given.
    ended: bool,
}

impl Client {
    /// Connects to `addr` within the association's connect timeout and negotiates
    /// `request`; returns once established, or the [`ClientError`] that ended it first.
    pub async fn connect(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        config: AssociationConfig,
    ) -> Result<Self, ClientError> {
        let mut session = ScuSession::new(now(), config, request)?;
        let until = session.poll_timeout().unwrap_or_else(now).into();
        let wire = match tokio::time::timeout_at(until, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                session.handle_transport_connected(now());
                Some(Wire::new(stream))
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
        let buffers = ReadBuffers::new(READ_BUFFER);
        let mut client = Self {
            session,
            wire,
            buffers,
            ended: false,
        };
        // `Established`, or `Closed` with why.
        client.next_event().await?;
        Ok(client)
    }

    /// The session, to read what was negotiated, or submit and cancel operations.
    pub fn session(&mut self) -> &mut ScuSession {
        &mut self.session
    }

    /// The next event, sending and reading as needed until the session's next deadline.
    /// With its `Closed` event: why the association ended ([`ClientError::Closed`] after
    /// a release), then [`ClientError::Closed`].
    pub async fn next_event(&mut self) -> Result<ClientEvent, ClientError> {
        let mut wake = None;
        while !self.ended {
            match turn(|| self.turn(wake.take())) {
                Some(ClientEvent::Closed(outcome)) => {
                    self.ended = true;
                    return Err(outcome.err().unwrap_or(ClientError::Closed));
                }
                Some(event) => return Ok(event),
                None => {}
            }
            if let Some(wire) = &mut self.wire {
                wire.wants_read = self.session.wants_read();
            }
            let wire = self.wire.as_ref();
            let ready = poll_fn(|cx| wire.map_or(Poll::Pending, |w| w.poll_ready(cx, 0)));
            wake = Some(tokio::select! {
                wake = ready => wake,
                () = sleep(self.session.poll_timeout()) => Wake::Timeout,
            });
        }
        Err(ClientError::Closed)
    }

    /// Gives the session what happened, then sends, closes and offers refused input as it
    /// asks, until it has an event or nothing moves.
    fn turn(&mut self, wake: Option<Wake>) -> Option<ClientEvent> {
        let now = now();
        let session = &mut self.session;
        match (wake, &mut self.wire) {
            (Some(Wake::Timeout), _) => session.handle_timeout(now),
            (Some(Wake::Read(_)), Some(wire)) => {
                let take = |b: &_| session.handle_input(now, b).unwrap_or(b.len());
                if wire.receive(Some(&mut self.buffers), take).is_err() {
                    self.wire = None;
                    session.handle_transport_closed(now);
                }
            }
            _ => {}
        }
        loop {
            let session = &mut self.session;
            if let Some(wire) = &mut self.wire {
                let failed = wire.send(|out| session.poll_transmit(now, out).is_some());
                if failed.is_err() || (session.should_close_transport() && wire.out.is_empty()) {
                    self.wire = None;
                    session.handle_transport_closed(now);
                }
            }
            if let Some(event) = session.poll_event() {
                return Some(event);
            }
            let wire = self.wire.as_mut().filter(|w| !w.pending.is_empty())?;
            if !session.wants_read() {
                return None;
            }
            let take = |b: &_| session.handle_input(now, b).unwrap_or(b.len());
            if !wire.receive(None, take).unwrap_or(false) {
                return None;
            }
        }
    }

    /// Takes events until the `Closed` one: why the association ended.
    async fn closed(&mut self) -> ClientError {
        loop {
            if let Err(e) = self.next_event().await {
                return e;
            }
        }
    }

    /// Runs `operation`, giving its events to `done` until that has the result.
    async fn run<T>(
        &mut self,
        operation: Operation,
        mut done: impl FnMut(ClientEvent) -> Option<T>,
    ) -> Result<T, ClientError> {
        let op = self.session.submit(operation)?;
        loop {
            match self.next_event().await? {
                // Cut short by the end of the association: why it ended.
                ClientEvent::OperationFailed { op: o, error } if o == op => {
                    return Err(match error {
                        ClientError::Ended => self.closed().await,
                        error => error,
                    });
                }
                event => {
                    if let Some(result) = done(event) {
                        return Ok(result);
                    }
                }
            }
        }
    }

    /// C-ECHO: the response status.
    pub async fn echo(&mut self) -> Result<Status, ClientError> {
        self.run(Operation::Echo, |event| match event {
            ClientEvent::Echo { status, .. } => Some(status),
            _ => None,
        })
        .await
    }

    /// C-FIND with `identifier` on `sop_class` (Modality Worklist or Hanging Protocol
    /// FIND): every step, in order, the last one [`FindProgress::Finished`].
    pub async fn find(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
    ) -> Result<Vec<FindProgress>, ClientError> {
        let (sop_class, identifier) = (sop_class.clone(), identifier.clone());
        let mut steps = Vec::new();
        self.run(
            Operation::Find {
                sop_class,
                identifier,
            },
            |event| match event {
                ClientEvent::Find { progress, .. } => {
                    let finished = matches!(progress, FindProgress::Finished { .. });
                    steps.push(progress);
                    finished.then_some(())
                }
                _ => None,
            },
        )
        .await?;
        Ok(steps)
    }

    /// C-GET: the instances arrive as C-STORE sub-operations on this association and go
    /// to `store` (called from this task, as a handler).
    pub async fn get(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        store: Arc<dyn StoreHandler>,
    ) -> Result<RetrieveOutcome, ClientError> {
        let (sop_class, identifier) = (sop_class.clone(), identifier.clone());
        self.retrieve(Operation::Get {
            sop_class,
            identifier,
            store,
        })
        .await
    }

    /// C-MOVE of the instances to the AE `destination`.
    pub async fn move_to(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        destination: &AeTitle,
    ) -> Result<RetrieveOutcome, ClientError> {
        let (sop_class, identifier, destination) =
            (sop_class.clone(), identifier.clone(), *destination);
        self.retrieve(Operation::Move {
            sop_class,
            identifier,
            destination,
        })
        .await
    }

    async fn retrieve(&mut self, operation: Operation) -> Result<RetrieveOutcome, ClientError> {
        let mut outcome = RetrieveOutcome::default();
        self.run(operation, |event| match event {
            ClientEvent::Retrieve { progress, .. } => {
                outcome.add(&progress).then(|| outcome.clone())
            }
            _ => None,
        })
        .await
    }

    /// Releases the association once what is queued is done, and waits for its end.
    pub async fn release(mut self) -> Result<(), ClientError> {
        self.session.release(now());
        match self.closed().await {
            ClientError::Closed => Ok(()),
            e => Err(e),
        }
    }

    /// Aborts the association (A-ABORT) and closes the connection.
    pub async fn abort(mut self) {
        self.session.abort(now());
        self.closed().await;
    }
}
