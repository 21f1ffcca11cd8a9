//! The SCU: one association over a blocking `TcpStream`.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dicom_object::InMemDicomObject;
use thiserror::Error;

use crate::wire::{Reader, flush};
use dicomwire::dimse::{Status, StatusDetail, SubOperations};
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::service::StoreHandler;
use dicomwire::service::scu::{
    EchoScu, FindProgress, FindScu, RetrieveProgress, RetrieveScu, ScuError,
};
use dicomwire::ul::{
    Aborted, ApiMisuse, Association, AssociationConfig, AssociationRequest, ConfigError, Event,
    Negotiated, Rejected, SendQueue, State,
};

/// How a [`Client`] connects and waits.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The association settings (limits, timers, implementation identity).
    pub config: AssociationConfig,
    /// How long the TCP connection may take to open.
    pub connect_timeout: Duration,
    /// How long to wait for the next message of an operation before aborting.
    pub dimse_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            config: AssociationConfig::default(),
            connect_timeout: Duration::from_secs(10),
            dimse_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a client operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where to.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("network error: {0}")]
    Io(#[from] io::Error),
    /// The peer rejected the association.
    #[error("{0}")]
    Rejected(Rejected),
    /// The association was aborted.
    #[error("{0}")]
    Aborted(Aborted),
    /// The association was established but the peer accepted none of what we need.
    #[error("the peer accepted no presentation context we can use: {0}")]
    NoAcceptedContext(String),
    /// The association ended while an operation waited.
    #[error("the association closed")]
    Closed,
    /// Nothing arrived for the DIMSE timeout; we aborted.
    #[error("no response within {0:?}; association aborted")]
    Timeout(Duration),
    /// The operation could not start.
    #[error(transparent)]
    Scu(#[from] ScuError),
    /// A call the association refused.
    #[error(transparent)]
    Misuse(#[from] ApiMisuse),
    /// The association request is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The result of a C-GET or C-MOVE.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrieveOutcome {
    /// The final status.
    pub status: Status,
    /// The final counts.
    pub sub_operations: SubOperations,
    /// The Failed SOP Instance UID List of the final response.
    pub failed_sop_instance_uids: Vec<String>,
    /// Error comment and friends.
    pub detail: StatusDetail,
    /// C-GET: instances received.
    pub received: usize,
}

/// An SCU association over TCP.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    assoc: Association,
    reader: Reader,
    out: SendQueue,
    options: ClientOptions,
    peer: SocketAddr,
}

impl Client {
    /// Opens a TCP connection to `addr` (the first address that answers) and negotiates
    /// `request`. Returns once the association is established.
    pub fn connect(
        addr: impl ToSocketAddrs,
        request: AssociationRequest,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| ClientError::Connect {
                addr: "(unresolved)".into(),
                source,
            })?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        let mut connected = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, options.connect_timeout) {
                Ok(s) => {
                    connected = Some((s, *a));
                    break;
                }
                Err(e) => last = e,
            }
        }
        let Some((stream, peer)) = connected else {
            let addr = addrs
                .first()
                .map_or_else(|| "(none)".to_owned(), ToString::to_string);
            return Err(ClientError::Connect { addr, source: last });
        };
        stream.set_nodelay(true)?;
        let now = Instant::now();
        let mut assoc = Association::requestor(now, options.config.clone(), request)?;
        assoc.handle_transport_connected(now)?;
        let mut client = Self {
            stream,
            assoc,
            reader: Reader::new(),
            out: SendQueue::new(),
            options,
            peer,
        };
        loop {
            match client.next_event(None)? {
                Event::Established(n) => {
                    if n.accepted().next().is_none() {
                        let summary = n.rejected_summary();
                        client.abort();
                        return Err(ClientError::NoAcceptedContext(summary));
                    }
                    tracing::info!(peer = %client.peer, called = %n.called_ae_title, accepted = n.accepted().count(), "association established");
                    return Ok(client);
                }
                Event::Rejected(r) => return Err(ClientError::Rejected(r)),
                Event::Aborted(a) => return Err(ClientError::Aborted(a)),
                Event::Closed => return Err(ClientError::Closed),
                _ => {}
            }
        }
    }

    /// What was negotiated.
    pub fn negotiated(&self) -> &Negotiated {
        self.assoc
            .negotiated()
            .unwrap_or_else(|| unreachable!("a Client exists only once established"))
    }

    /// The association (for getters).
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The next event, sending what is queued and reading as needed. With `deadline`,
    /// gives up at that instant with [`ClientError::Timeout`] (after aborting).
    fn next_event(&mut self, deadline: Option<Instant>) -> Result<Event, ClientError> {
        loop {
            flush(&self.stream, &mut self.assoc, &mut self.out)?;
            if let Some(event) = self.assoc.poll_event() {
                return Ok(event);
            }
            if self.assoc.state() == State::Idle {
                return Err(ClientError::Closed);
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    let _ = self.assoc.abort(Instant::now());
                    let _ = flush(&self.stream, &mut self.assoc, &mut self.out);
                    return Err(ClientError::Timeout(self.options.dimse_timeout));
                }
            }
            self.reader
                .receive(&mut self.stream, &mut self.assoc, deadline)?;
        }
    }

    /// The next event of an operation: association-level events end it with an error; a
    /// peer's release request is answered.
    fn operation_event(&mut self) -> Result<Event, ClientError> {
        let deadline = Instant::now() + self.options.dimse_timeout;
        loop {
            match self.next_event(Some(deadline))? {
                Event::Aborted(a) => return Err(ClientError::Aborted(a)),
                Event::Closed => return Err(ClientError::Closed),
                Event::ReleaseRequested { .. } => {
                    self.assoc.release_response(Instant::now())?;
                }
                other => return Ok(other),
            }
        }
    }

    /// C-ECHO: the response status.
    pub fn echo(&mut self) -> Result<Status, ClientError> {
        let op = EchoScu::start(&mut self.assoc, Instant::now())?;
        loop {
            match op.handle(self.operation_event()?) {
                Ok(status) => return Ok(status),
                Err(other) => tracing::debug!(event = ?other, "event ignored during C-ECHO"),
            }
        }
    }

    /// C-FIND with `identifier` on `sop_class` (Modality Worklist or Hanging Protocol
    /// FIND): an iterator of progress, ending with [`FindProgress::Finished`].
    pub fn find(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
    ) -> Result<FindMatches<'_>, ClientError> {
        let op = FindScu::start(&mut self.assoc, Instant::now(), sop_class, identifier)?;
        Ok(FindMatches {
            client: self,
            op,
            done: false,
        })
    }

    /// C-GET: instances arrive as C-STORE sub-operations on this association and go to
    /// `store`; `progress` sees every step.
    pub fn get(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        store: Arc<dyn StoreHandler>,
        progress: impl FnMut(&RetrieveProgress),
    ) -> Result<RetrieveOutcome, ClientError> {
        let op = RetrieveScu::get(
            &mut self.assoc,
            Instant::now(),
            sop_class,
            identifier,
            store,
        )?;
        self.run_retrieve(op, progress)
    }

    /// C-MOVE to `destination`; `progress` sees every pending response.
    pub fn move_to(
        &mut self,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        destination: &AeTitle,
        progress: impl FnMut(&RetrieveProgress),
    ) -> Result<RetrieveOutcome, ClientError> {
        let op = RetrieveScu::move_to(
            &mut self.assoc,
            Instant::now(),
            sop_class,
            identifier,
            destination,
        )?;
        self.run_retrieve(op, progress)
    }

    fn run_retrieve(
        &mut self,
        mut op: RetrieveScu,
        mut progress: impl FnMut(&RetrieveProgress),
    ) -> Result<RetrieveOutcome, ClientError> {
        let mut received = 0;
        loop {
            let event = self.operation_event()?;
            let now = Instant::now();
            match op.handle(&mut self.assoc, now, event) {
                Ok(p) => {
                    progress(&p);
                    match p {
                        RetrieveProgress::Stored { status, .. } if !status.is_failure() => {
                            received += 1
                        }
                        RetrieveProgress::Finished {
                            status,
                            sub_operations,
                            failed_sop_instance_uids,
                            detail,
                        } => {
                            flush(&self.stream, &mut self.assoc, &mut self.out)?;
                            return Ok(RetrieveOutcome {
                                status,
                                sub_operations,
                                failed_sop_instance_uids,
                                detail,
                                received,
                            });
                        }
                        _ => {}
                    }
                }
                Err(other) => tracing::debug!(event = ?other, "event ignored during retrieve"),
            }
        }
    }

    /// Releases the association and waits for the peer's answer.
    pub fn release(mut self) -> Result<(), ClientError> {
        self.assoc.release(Instant::now())?;
        let deadline =
            Instant::now() + self.options.config.release_timeout + Duration::from_secs(1);
        loop {
            match self.next_event(Some(deadline)) {
                Ok(Event::Released) | Err(ClientError::Closed) => return Ok(()),
                Ok(Event::Closed) => return Ok(()),
                Ok(Event::Aborted(a)) => return Err(ClientError::Aborted(a)),
                Ok(Event::ReleaseRequested { .. }) => {
                    // A release collision: answer as the table says (AR-9 for us).
                    self.assoc.release_response(Instant::now())?;
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Aborts the association (A-ABORT) and closes the connection.
    pub fn abort(mut self) {
        let _ = self.assoc.abort(Instant::now());
        let _ = flush(&self.stream, &mut self.assoc, &mut self.out);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The matches of a C-FIND, as they arrive.
#[derive(Debug)]
pub struct FindMatches<'a> {
    client: &'a mut Client,
    op: FindScu,
    done: bool,
}

impl FindMatches<'_> {
    /// Asks the SCP to cancel; the iterator goes on until the final response (normally
    /// 0xFE00).
    pub fn cancel(&mut self) -> Result<(), ClientError> {
        self.op.cancel(&mut self.client.assoc, Instant::now())?;
        flush(
            &self.client.stream,
            &mut self.client.assoc,
            &mut self.client.out,
        )?;
        Ok(())
    }
}

impl Iterator for FindMatches<'_> {
    type Item = Result<FindProgress, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let event = match self.client.operation_event() {
                Ok(e) => e,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match self.op.handle(event) {
                Ok(p) => {
                    if matches!(p, FindProgress::Finished { .. }) {
                        self.done = true;
                    }
                    return Some(Ok(p));
                }
                Err(other) => tracing::debug!(event = ?other, "event ignored during C-FIND"),
            }
        }
    }
}
