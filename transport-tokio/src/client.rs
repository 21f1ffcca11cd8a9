//! The SCU: one [`ScuSession`] over a `tokio::net::TcpStream`.

use std::sync::Arc;

use dicom_object::InMemDicomObject;
use dicomwire::dimse::Status;
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::service::StoreHandler;
use dicomwire::service::scu::FindProgress;
use dicomwire::session::{
    ClientError, ClientEvent, LinkId, Operation, RetrieveOutcome, ScuSession,
};
use dicomwire::ul::{AssociationConfig, AssociationRequest};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::wire::{Links, Wake, now, sleep, turn};

/// A client association over TCP: each call submits an [`Operation`] to the session and
/// drives it to its end.
#[derive(Debug)]
pub struct Client {
    session: ScuSession,
    /// Its socket, none once closed (or never opened).
    links: Links,
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
        let mut links = Links::new();
        match tokio::time::timeout_at(until, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                links.add(LinkId::MAIN, stream);
                session.handle_transport_connected(now());
            }
            Ok(Err(e)) => session.handle_transport_connect_failed(now(), e),
            // The connect timer fires: `ClientError::ConnectTimeout`.
            Err(_) => session.handle_timeout(now()),
        }
        let mut client = Self {
            session,
            links,
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
            let session = &self.session;
            wake = Some(tokio::select! {
                wake = self.links.ready(|_| session.wants_read()) => wake,
                () = sleep(session.poll_timeout()) => Wake::Timeout,
            });
        }
        Err(ClientError::Closed)
    }

    /// Gives the session what happened, then sends, closes and offers refused input as it
    /// asks, until it has an event or nothing moves.
    fn turn(&mut self, wake: Option<Wake>) -> Option<ClientEvent> {
        let now = now();
        let session = &mut self.session;
        match wake {
            Some(Wake::Timeout) => session.handle_timeout(now),
            Some(Wake::Read(i)) => {
                let take = |_, b: &_| session.handle_input(now, b).unwrap_or(b.len());
                if self.links.read(i, take).is_some() {
                    session.handle_transport_closed(now);
                }
            }
            _ => {}
        }
        loop {
            let session = &mut self.session;
            let failed = !self
                .links
                .send(|_, out| session.poll_transmit(now, out).is_some())
                .is_empty();
            if failed || (session.should_close_transport() && self.links.is_flushed()) {
                self.links.close(LinkId::MAIN);
                session.handle_transport_closed(now);
            }
            if let Some(event) = session.poll_event() {
                return Some(event);
            }
            let take = |_, b: &_| {
                session
                    .wants_read()
                    .then(|| session.handle_input(now, b).unwrap_or(b.len()))
            };
            if !self.links.reoffer(take) {
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
