//! `dicomwire-mio`: a `mio` event-loop transport for dicomwire.
//!
//! One thread and one `mio::Poll` drive every association, in both roles:
//!
//! - [`EventLoop`] owns the `Poll`. It can [`listen`](EventLoop::listen) (one or more
//!   listeners, each serving DICOM associations with its own [`MioServerOptions`]) and
//!   [`connect`](EventLoop::connect) client associations, at the same time: a worklist
//!   broker can serve its modalities and query the RIS from the same loop.
//! - [`MioServer`] is an [`EventLoop`] with one listener, for a plain SCP.
//!
//! Like the blocking `dicomwire-std` transport it makes no protocol decision of its own:
//! it moves bytes and time between sockets and each connection's [`Association`]; a
//! served association's decisions are its [`Scp`]'s (accept; reject over the
//! association limit with local-limit-exceeded; answer release requests; open the
//! C-MOVE sub-associations it asks for), a client operation's are the core's SCU drivers'
//! ([`EchoScu`], [`FindScu`], [`RetrieveScu`]).
//!
//! # The client
//!
//! [`EventLoop::connect`] takes a socket address, an [`AssociationRequest`] (see
//! [`association_request`]) and [`ClientOptions`], and returns a [`ClientId`] at once:
//! the TCP connection opens without blocking, bounded by the connect timeout.
//! [`submit`](EventLoop::submit) queues [`Operation`]s (C-ECHO, worklist or hanging
//! protocol C-FIND, C-GET into a [`StoreHandler`], C-MOVE), which may be submitted before
//! the association is established; they run one after the other.
//! [`release`](EventLoop::release) releases once the queue is done,
//! [`abort`](EventLoop::abort) aborts now, and [`cancel`](EventLoop::cancel) sends a
//! C-CANCEL for a running C-FIND, C-GET or C-MOVE (or drops a queued operation).
//!
//! What happens comes back, in order, from [`EventLoop::poll_event`] as
//! [`ClientEvent`]s: `Established`; progress per operation (each C-FIND match as it
//! arrives, each C-GET instance stored, each pending retrieve response, and the final
//! status); `OperationFailed` for an operation that could not start or was cut short;
//! and, always last and exactly once, `Closed` with `Ok(())` after our release, or the
//! [`ClientError`] that ended it: connection refused or timed out, the peer's
//! A-ASSOCIATE-RJ (result, source, reason), an A-ABORT and its source and reason, no
//! accepted presentation context, a DIMSE timeout. Nothing blocks; a C-GET's store
//! handler runs on the loop thread, like the server's handlers (see below).
//!
//! A server and a client on one loop, on loopback (runnable):
//!
//! ```
//! use std::sync::Arc;
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{association_request, ScuService};
//! use dicomwire::service::{uids, Handlers};
//! use dicomwire::ul::{AcceptorPolicy, SupportedSyntax};
//! use dicomwire_mio::{
//!     ClientEventKind, ClientOptions, EventLoop, MioServerOptions, Operation,
//! };
//!
//! let mut event_loop = EventLoop::new()?;
//! let policy = AcceptorPolicy {
//!     abstract_syntaxes: vec![SupportedSyntax::new(
//!         uids::VERIFICATION,
//!         uids::uncompressed_transfer_syntaxes(),
//!     )],
//!     ..AcceptorPolicy::default()
//! };
//! let options = MioServerOptions::new(Arc::new(policy), Arc::new(Handlers::default()));
//! let addr = event_loop.listen("127.0.0.1:0", options)?;
//!
//! let request = association_request(
//!     AeTitle::new("ECHOSCU")?,
//!     AeTitle::new("ANY-SCP")?,
//!     &[ScuService::Verification],
//! );
//! let client = event_loop.connect(addr, request, ClientOptions::default())?;
//! event_loop.submit(client, Operation::Echo)?;
//! event_loop.release(client)?;
//!
//! let stop = event_loop.shutdown_handle();
//! let mut echoed = None;
//! // Runs until shutdown (the loop has a listener); the client's end asks for it.
//! event_loop.run(|_, event| match event.kind {
//!     ClientEventKind::Echo { status, .. } => echoed = Some(status),
//!     ClientEventKind::Closed(outcome) => {
//!         outcome.expect("released");
//!         stop.shutdown();
//!     }
//!     _ => {}
//! })?;
//! assert!(echoed.expect("a C-ECHO response").is_success());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The loop
//!
//! The same rules hold for every socket of the loop: accepted connections, C-MOVE
//! sub-associations and client associations.
//!
//! - **Interest follows the core.** A socket is registered READABLE while its
//!   association [`wants_read`](dicomwire::ul::Association::wants_read), no input it refused waits, and
//!   its outgoing queue is below a bound; WRITABLE while bytes it already produced wait
//!   to be sent (or while its non-blocking connect is in progress). With neither, the
//!   socket is deregistered.
//! - **Time.** The poll timeout is the earliest deadline of everything in the loop: the
//!   associations' timers ([`Association::poll_timeout`]: ARTIM, the A-ASSOCIATE and
//!   A-RELEASE response timers), connections being opened (connect timeout) and client
//!   operations waiting for their next message (DIMSE timeout). Deadlines sit in an
//!   ordered index, so neither the timeout nor the deadlines due cost a pass over all
//!   connections; on waking, the owners of the deadlines due are driven.
//! - **Partial writes** keep their unsent bytes and a write position; nothing more is
//!   taken from the association until they are gone.
//! - **Backpressure.** A read goes straight into the association; the bytes it does not
//!   take (its event queue is full) are kept and offered again before the socket is read
//!   again. Reading also stops while the association's outgoing queue holds
//!   [`MAX_QUEUED_OUTGOING`] PDUs or messages, so a peer that sends requests but never
//!   reads the answers cannot grow our memory. A client association also stops reading
//!   while 64 of its events wait in [`EventLoop::poll_event`] (its DIMSE timeout is
//!   suspended meanwhile): a user who does not take matches slows the peer down rather
//!   than growing a queue.
//! - **Memory per association** is bounded: one refused read chunk (64 KiB), one write
//!   batch (64 KiB plus one PDU), and what the core holds (one partial PDU and one
//!   message in assembly, within the configured PDU and message limits).
//! - **Fairness.** One connection gets a bounded number of read/process/write rounds per
//!   turn of the loop; if it still has work, it is served again on the next turn after
//!   every other ready connection.
//! - **Limits.** At most `max_associations` associations are served per listener; one more is
//!   accepted at the TCP level and answered A-ASSOCIATE-RJ (transient, local limit
//!   exceeded). Beyond twice the limit (plus 16), connections are closed at once without
//!   a word, so a flood cannot exhaust memory. Idle connections are closed by ARTIM.
//! - **C-MOVE sub-associations** get their own token and socket in the same `Poll`. They
//!   connect without blocking (registered WRITABLE; on readiness `take_error` and
//!   `peer_addr` tell success from failure), bounded by `connect_timeout`. The
//!   destination's host name is resolved on the loop thread: configure IP addresses.
//! - `TCP_NODELAY` is set on every socket.
//!
//! # Slow handlers: the contract
//!
//! The providers in [`Handlers`] are called **on the loop thread**. While one runs,
//! no other association moves. We chose this over a worker pool because the core calls
//! providers synchronously from [`Scp::handle_event`] and [`Scp::poll`] (a C-FIND
//! iterator is advanced one match per step, as the transport drains the responses), so
//! handing calls to a pool would mean splitting the core's operations into request and
//! completion halves; that is a core change, not a transport one. The contract is
//! therefore:
//!
//! - handlers must be **fast and non-blocking**: answer from memory, as the in-memory
//!   providers of `dicomwire::service` do (they match against a snapshot; each step is
//!   microseconds);
//! - a C-FIND result iterator must yield each match quickly; a slow iterator (a database
//!   cursor over the network, say) stalls every association on this server for as long
//!   as each step takes;
//! - a `StoreHandler` that writes to disk is acceptable for small instances on a local
//!   disk, but it blocks the loop for the duration of each write;
//! - providers that block (remote databases, slow storage) belong on the blocking
//!   `dicomwire-std` server, which runs one thread per association.
//!
//! ```no_run
//! use std::sync::Arc;
//! use dicomwire::service::Handlers;
//! use dicomwire::ul::AcceptorPolicy;
//! use dicomwire_mio::{MioServer, MioServerOptions};
//!
//! let options = MioServerOptions::new(
//!     Arc::new(AcceptorPolicy::default()),
//!     Arc::new(Handlers::default()),
//! );
//! let server = MioServer::bind("127.0.0.1:11112", options)?;
//! let stop = server.shutdown_handle();
//! let thread = std::thread::spawn(move || server.run());
//! // ... later:
//! stop.shutdown();
//! thread.join().expect("server thread")?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`Association`]: dicomwire::ul::Association
//! [`Association::poll_timeout`]: dicomwire::ul::Association::poll_timeout
//! [`Scp`]: dicomwire::service::Scp
//! [`Scp::handle_event`]: dicomwire::service::Scp::handle_event
//! [`Scp::poll`]: dicomwire::service::Scp::poll
//! [`Handlers`]: dicomwire::service::Handlers
//! [`StoreHandler`]: dicomwire::service::StoreHandler
//! [`EchoScu`]: dicomwire::service::scu::EchoScu
//! [`FindScu`]: dicomwire::service::scu::FindScu
//! [`RetrieveScu`]: dicomwire::service::scu::RetrieveScu
//! [`association_request`]: dicomwire::service::scu::association_request
//! [`AssociationRequest`]: dicomwire::ul::AssociationRequest

mod client;
mod conn;
mod connect;
mod event_loop;
mod pipe;
mod server;

pub use client::{
    ClientError, ClientEvent, ClientEventKind, ClientId, ClientOptions, OpId, Operation,
};
pub use event_loop::{EventLoop, ShutdownHandle};
pub use pipe::MAX_QUEUED_OUTGOING;
pub use server::{MioServer, MioServerOptions};
