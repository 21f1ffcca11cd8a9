//! Sessions: the whole of a connection, in the core. A transport drives sessions and
//! nothing else.
//!
//! - [`ScpSession`]: one accepted connection with everything it leads to (its
//!   association, the SCP serving it, the C-MOVE sub-associations it opens, each on a
//!   [`LinkId`] of its own), admission, graceful shutdown, every timer; what an operator
//!   wants to see comes out as [`ScpEvent`]s. [`ScpServer`] makes one per accepted
//!   connection and keeps the admission count.
//! - [`ScuSession`]: one client association with a queue of [`Operation`]s (C-ECHO,
//!   worklist and hanging-protocol C-FIND, C-GET into a store handler, C-MOVE), cancel,
//!   release after the queue, abort; what happens comes out as [`ClientEvent`]s, and
//!   every failure is a [`ClientError`].
//!
//! # Writing a transport
//!
//! A transport owns sockets, a clock and a way to wait; the sessions own every decision.
//! Its loop, for each session:
//!
//! 1. **Wait** for input on any of the session's sockets, for a socket with room to
//!    write while bytes wait, or until [`ScpSession::poll_timeout`] (the session's one
//!    deadline: every timer in the table on [`Timer`](crate::ul::Timer), and the shutdown
//!    grace period).
//! 2. **Take one `now`** from the clock for the whole turn, and give the session what
//!    happened: `handle_input(now, link, &bytes)` for bytes read (keep what it did not
//!    take, and offer it again once `wants_read`), `handle_transport_closed`,
//!    `handle_transport_connected` / `handle_transport_connect_failed` for a
//!    sub-association it asked for, `handle_timeout(now)` once the deadline passed.
//! 3. **Drain**, in this order: `poll_transmit` for each link until `None` (the main link
//!    first) and write what it gave, as far as the socket takes it; `poll_connect` (open
//!    a connection, without blocking the other sessions if you can); `poll_close` (close
//!    the link once its bytes are written); `poll_event` (log it).
//! 4. Drop the session once `is_finished`.
//!
//! Two rules matter more than they look:
//!
//! - **One clock.** The `now` given to a session must come from the clock the transport
//!   sleeps on. Sleeping on tokio's clock (paused in tests, or auto-advanced) while
//!   passing `std::time::Instant::now()`, or the reverse, makes a deadline that has
//!   passed for one clock still in the future for the other: the loop wakes at once,
//!   hands in a `now` before the deadline, and spins a core at 100%.
//! - **When the core asks to close, close.** `poll_close` (or
//!   [`ScuSession::should_close_transport`]) means the association is over on the wire:
//!   write what was already taken as far as the socket takes it now, then close; do not
//!   wait for a peer that does not read (the session's send timer has already waited).
//! - **Connects are bounded by the session.** A [`Connect`] carries no deadline: the
//!   sub-association's connect timer is one of the session's (see
//!   [`Timer::Connect`](crate::ul::Timer)); when it fires the session asks to close the
//!   link, and a connection that opens later is dropped. A transport that blocks on
//!   connect may use [`ScpSession::poll_timeout`] as its bound.
//! - **Sessions are `Send`, not `Sync`** (the handlers' iterators and sinks are not): an
//!   async transport copies what it needs out of a session (its deadline, which links
//!   want input) before awaiting, so that its task stays `Send`.
//!
//! Reading into [`ReadBuffers`](crate::ul::ReadBuffers) and writing from a
//! [`SendQueue`] keeps C-STORE data sets out of user-space copies:
//! large reads are lent to the session, data set fragments are written from the user's
//! memory.
//!
//! # A session pair in memory
//!
//! A C-ECHO and a worklist C-FIND between an [`ScuSession`] and an [`ScpSession`], bytes
//! moved by hand:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use bytes::Bytes;
//! use dicom_object::InMemDicomObject;
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{association_request, FindProgress, ScuService};
//! use dicomwire::service::{uids, Handlers, InMemoryWorklist};
//! use dicomwire::session::{ClientEvent, LinkId, Operation, ScpConfig, ScpSession, ScuSession};
//! use dicomwire::ul::{AcceptorPolicy, AssociationConfig, SendQueue, SupportedSyntax};
//!
//! let now = Instant::now();
//! // The SCP: Verification and an empty worklist.
//! let ts = uids::uncompressed_transfer_syntaxes();
//! let policy = AcceptorPolicy {
//!     abstract_syntaxes: vec![
//!         SupportedSyntax::new(uids::VERIFICATION, ts.clone()),
//!         SupportedSyntax::new(uids::MODALITY_WORKLIST_FIND, ts),
//!     ],
//!     ..AcceptorPolicy::default()
//! };
//! let handlers = Handlers {
//!     worklist: Some(Arc::new(InMemoryWorklist::new(Vec::new()))),
//!     ..Handlers::default()
//! };
//! let config = Arc::new(ScpConfig::new(Arc::new(policy), Arc::new(handlers)));
//! let mut scp = ScpSession::new(now, config, 0)?;
//!
//! // The SCU: a C-ECHO, a C-FIND, then release.
//! let request = association_request(
//!     AeTitle::new("MODALITY")?,
//!     AeTitle::new("RIS")?,
//!     &[ScuService::Verification, ScuService::WorklistFind],
//! );
//! let mut scu = ScuSession::new(now, AssociationConfig::default(), request)?;
//! scu.handle_transport_connected(now);
//! scu.submit(Operation::Echo)?;
//! scu.submit(Operation::worklist_find(InMemDicomObject::new_empty()))?;
//! scu.release(now);
//!
//! let mut events = Vec::new();
//! while !scu.is_finished() {
//!     let (mut queue, mut wire) = (SendQueue::new(), Vec::new());
//!     while scu.poll_transmit(now, &mut queue).is_some() {}
//!     queue.drain_into(&mut wire);
//!     let bytes = Bytes::from(wire);
//!     assert_eq!(scp.handle_input(now, LinkId::MAIN, &bytes)?, bytes.len());
//!     let mut back = Vec::new();
//!     while scp.poll_transmit(now, LinkId::MAIN, &mut queue).is_some() {}
//!     queue.drain_into(&mut back);
//!     while scp.poll_event().is_some() {}
//!     let bytes = Bytes::from(back);
//!     assert_eq!(scu.handle_input(now, &bytes)?, bytes.len());
//!     if scp.poll_close() == Some(LinkId::MAIN) {
//!         scu.handle_transport_closed(now);
//!     }
//!     events.extend(std::iter::from_fn(|| scu.poll_event()));
//! }
//! assert!(matches!(events[0], ClientEvent::Established(_)));
//! assert!(matches!(&events[1], ClientEvent::Echo { status, .. } if status.is_success()));
//! assert!(matches!(
//!     &events[2],
//!     ClientEvent::Find { progress: FindProgress::Finished { status, .. }, .. } if status.is_success()
//! ));
//! assert!(matches!(events.last(), Some(ClientEvent::Closed(Ok(())))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod server;

use std::time::Instant;

use bytes::Bytes;

use crate::ul::SendQueue;

/// What a transport drives: [`ScpSession`] and [`ScuSession`] alike, so that one driver
/// serves both roles. The methods are the sessions' own (see their documentation for the
/// drain order and the backpressure); an [`ScuSession`] has one link,
/// [`LinkId::MAIN`], which the transport connects before it makes the session, and asks
/// for no other.
pub trait Session {
    /// What the session tells its user.
    type Event;

    /// Bytes read on `link`; how many were taken.
    ///
    /// # Errors
    ///
    /// [`SessionMisuse`] for a link that is not open.
    fn handle_input(
        &mut self,
        now: Instant,
        link: LinkId,
        input: &Bytes,
    ) -> Result<usize, SessionMisuse>;
    /// The connection of `link` opened.
    ///
    /// # Errors
    ///
    /// [`SessionMisuse`] for a link not being connected.
    fn handle_transport_connected(
        &mut self,
        now: Instant,
        link: LinkId,
    ) -> Result<(), SessionMisuse>;
    /// The connection of `link` could not be opened.
    fn handle_transport_connect_failed(
        &mut self,
        now: Instant,
        link: LinkId,
        error: std::io::Error,
    );
    /// The connection of `link` closed.
    fn handle_transport_closed(&mut self, now: Instant, link: LinkId);
    /// Fires the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// Starts a graceful shutdown.
    fn shutdown(&mut self, now: Instant);
    /// Appends the next bytes of `link` to `out` (a PDU, for the core's sessions;
    /// ciphertext, for a TLS adapter): how many, `None` when nothing is to be sent.
    fn poll_transmit(&mut self, now: Instant, link: LinkId, out: &mut SendQueue) -> Option<usize>;
    /// The next connection to open.
    fn poll_connect(&mut self) -> Option<Connect>;
    /// The next link to close once what was taken for it has been written.
    fn poll_close(&mut self) -> Option<LinkId>;
    /// The next event for the user.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Whether `link` takes input now.
    fn wants_read(&self, link: LinkId) -> bool;
    /// The links open or being opened, the main link first.
    fn links(&self) -> Vec<LinkId>;
    /// Whether the session is over: drop it.
    fn is_finished(&self) -> bool;
}

impl<S: Session + ?Sized> Session for Box<S> {
    type Event = S::Event;

    fn handle_input(
        &mut self,
        now: Instant,
        link: LinkId,
        input: &Bytes,
    ) -> Result<usize, SessionMisuse> {
        (**self).handle_input(now, link, input)
    }
    fn handle_transport_connected(
        &mut self,
        now: Instant,
        link: LinkId,
    ) -> Result<(), SessionMisuse> {
        (**self).handle_transport_connected(now, link)
    }
    fn handle_transport_connect_failed(
        &mut self,
        now: Instant,
        link: LinkId,
        error: std::io::Error,
    ) {
        (**self).handle_transport_connect_failed(now, link, error);
    }
    fn handle_transport_closed(&mut self, now: Instant, link: LinkId) {
        (**self).handle_transport_closed(now, link);
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
    fn shutdown(&mut self, now: Instant) {
        (**self).shutdown(now);
    }
    fn poll_transmit(&mut self, now: Instant, link: LinkId, out: &mut SendQueue) -> Option<usize> {
        (**self).poll_transmit(now, link, out)
    }
    fn poll_connect(&mut self) -> Option<Connect> {
        (**self).poll_connect()
    }
    fn poll_close(&mut self) -> Option<LinkId> {
        (**self).poll_close()
    }
    fn poll_event(&mut self) -> Option<S::Event> {
        (**self).poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn wants_read(&self, link: LinkId) -> bool {
        (**self).wants_read(link)
    }
    fn links(&self) -> Vec<LinkId> {
        (**self).links()
    }
    fn is_finished(&self) -> bool {
        (**self).is_finished()
    }
}

impl Session for ScpSession {
    type Event = ScpEvent;

    fn handle_input(
        &mut self,
        now: Instant,
        link: LinkId,
        input: &Bytes,
    ) -> Result<usize, SessionMisuse> {
        self.handle_input(now, link, input)
    }
    fn handle_transport_connected(
        &mut self,
        now: Instant,
        link: LinkId,
    ) -> Result<(), SessionMisuse> {
        self.handle_transport_connected(now, link)
    }
    fn handle_transport_connect_failed(
        &mut self,
        now: Instant,
        link: LinkId,
        error: std::io::Error,
    ) {
        self.handle_transport_connect_failed(now, link, error);
    }
    fn handle_transport_closed(&mut self, now: Instant, link: LinkId) {
        self.handle_transport_closed(now, link);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.handle_timeout(now);
    }
    fn shutdown(&mut self, now: Instant) {
        self.shutdown(now);
    }
    fn poll_transmit(&mut self, now: Instant, link: LinkId, out: &mut SendQueue) -> Option<usize> {
        self.poll_transmit(now, link, out).map(|t| t.len)
    }
    fn poll_connect(&mut self) -> Option<Connect> {
        self.poll_connect()
    }
    fn poll_close(&mut self) -> Option<LinkId> {
        self.poll_close()
    }
    fn poll_event(&mut self) -> Option<ScpEvent> {
        self.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn wants_read(&self, link: LinkId) -> bool {
        self.wants_read(link)
    }
    fn links(&self) -> Vec<LinkId> {
        self.links().collect()
    }
    fn is_finished(&self) -> bool {
        self.is_finished()
    }
}

impl Session for ScuSession {
    type Event = ClientEvent;

    fn handle_input(
        &mut self,
        now: Instant,
        link: LinkId,
        input: &Bytes,
    ) -> Result<usize, SessionMisuse> {
        if link != LinkId::MAIN {
            return Err(SessionMisuse::UnknownLink(link));
        }
        Ok(self.handle_input(now, input)?)
    }
    fn handle_transport_connected(
        &mut self,
        now: Instant,
        link: LinkId,
    ) -> Result<(), SessionMisuse> {
        if link != LinkId::MAIN {
            return Err(SessionMisuse::UnknownLink(link));
        }
        self.handle_transport_connected(now);
        Ok(())
    }
    fn handle_transport_connect_failed(
        &mut self,
        now: Instant,
        link: LinkId,
        error: std::io::Error,
    ) {
        if link == LinkId::MAIN {
            self.handle_transport_connect_failed(now, error);
        }
    }
    fn handle_transport_closed(&mut self, now: Instant, link: LinkId) {
        if link == LinkId::MAIN {
            self.handle_transport_closed(now);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.handle_timeout(now);
    }
    fn shutdown(&mut self, now: Instant) {
        self.shutdown(now);
    }
    fn poll_transmit(&mut self, now: Instant, link: LinkId, out: &mut SendQueue) -> Option<usize> {
        (link == LinkId::MAIN)
            .then(|| self.poll_transmit(now, out).map(|t| t.len))
            .flatten()
    }
    fn poll_connect(&mut self) -> Option<Connect> {
        None
    }
    fn poll_close(&mut self) -> Option<LinkId> {
        self.poll_close()
    }
    fn poll_event(&mut self) -> Option<ClientEvent> {
        self.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn wants_read(&self, link: LinkId) -> bool {
        link == LinkId::MAIN && self.wants_read()
    }
    fn links(&self) -> Vec<LinkId> {
        if self.is_closing_done() {
            Vec::new()
        } else {
            vec![LinkId::MAIN]
        }
    }
    fn is_finished(&self) -> bool {
        self.is_finished()
    }
}

pub use client::{
    ClientError, ClientEvent, MAX_UNTAKEN_EVENTS, OpId, Operation, OperationResult, ScuSession,
};
pub use server::{
    Connect, LinkId, MAX_QUEUED_OUTGOING, MAX_UNTAKEN_SCP_EVENTS, ScpConfig, ScpEvent, ScpServer,
    ScpSession, SessionMisuse,
};
