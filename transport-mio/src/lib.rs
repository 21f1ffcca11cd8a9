//! `dicomwire-mio`: a `mio` event-loop transport for dicomwire.
//!
//! One thread and one `mio::Poll` drive every session, in both roles:
//!
//! - [`EventLoop`] owns the `Poll`. It can [`listen`](EventLoop::listen) (one or more
//!   listeners, each serving DICOM associations with its own
//!   [`ScpConfig`](dicomwire::session::ScpConfig)) and [`connect`](EventLoop::connect)
//!   client associations, at the same time: a worklist broker can serve its modalities
//!   and query the RIS from the same loop.
//! - [`MioServer`] is an [`EventLoop`] with one listener, for a plain SCP.
//!
//! It makes no protocol decision of its own: an accepted connection is an
//! [`ScpSession`](dicomwire::session::ScpSession) (admission, every answer, release,
//! shutdown, the C-MOVE sub-associations it asks the loop to open, every timer), a
//! client association an [`ScuSession`](dicomwire::session::ScuSession) (the queue of
//! operations, cancel, release, abort, its timers). The loop moves bytes, readiness and
//! time, and hands client events to the user as `(ClientId, ClientEvent)`.
//!
//! A server and a client on one loop, on loopback (runnable):
//!
//! ```
//! use std::sync::Arc;
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{association_request, ScuService};
//! use dicomwire::service::{uids, Handlers};
//! use dicomwire::session::{ClientEvent, Operation, ScpConfig};
//! use dicomwire::ul::{AcceptorPolicy, AssociationConfig, SupportedSyntax};
//! use dicomwire_mio::EventLoop;
//!
//! let mut event_loop = EventLoop::new()?;
//! let policy = AcceptorPolicy {
//!     abstract_syntaxes: vec![SupportedSyntax::new(
//!         uids::VERIFICATION,
//!         uids::uncompressed_transfer_syntaxes(),
//!     )],
//!     ..AcceptorPolicy::default()
//! };
//! let config = ScpConfig::new(Arc::new(policy), Arc::new(Handlers::default()));
//! let addr = event_loop.listen("127.0.0.1:0", Arc::new(config))?;
//!
//! let request = association_request(
//!     AeTitle::new("ECHOSCU")?,
//!     AeTitle::new("ANY-SCP")?,
//!     &[ScuService::Verification],
//! );
//! let client = event_loop.connect(addr, request, AssociationConfig::default())?;
//! event_loop.submit(client, Operation::Echo)?;
//! event_loop.release(client)?;
//!
//! let stop = event_loop.shutdown_handle();
//! let mut echoed = None;
//! // Runs until shutdown (the loop has a listener); the client's end asks for it.
//! event_loop.run(|_, _, event| match event {
//!     ClientEvent::Echo { status, .. } => echoed = Some(status),
//!     ClientEvent::Closed(outcome) => {
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
//! Interest follows the sessions: a socket is READABLE while its session takes input
//! on it and no input it refused waits, WRITABLE while bytes it produced wait or a
//! connect is in progress. The poll timeout is the earliest deadline of every session
//! (an ordered index, so neither it nor the deadlines due cost a pass over all of
//! them). A session is asked for output only while its socket's queue is below 256 KiB,
//! and gets a bounded number of rounds per turn. The core's [`ScpServer`] decides what
//! to accept (far over the limit a connection is closed at once) and how long to wait
//! after a failed `accept`. C-MOVE sub-associations connect without blocking; the
//! destination's host name is resolved on the loop thread, so configure IP addresses.
//!
//! # Slow handlers
//!
//! The handlers of [`Handlers`](dicomwire::service::Handlers) are called **on the loop
//! thread**, one step at a time (a C-FIND iterator yields one match per step): while one
//! runs no other association moves, so they must be fast and non-blocking, as the
//! in-memory providers are. Providers that block belong on `dicomwire-std` (a thread per
//! association) or on `dicomwire-tokio`.
//!
//! [`ScpServer`]: dicomwire::session::ScpServer

mod client;
mod conn;
mod event_loop;
mod server;
mod socket;
mod tokens;

pub use client::ClientId;
pub use event_loop::{EventLoop, ShutdownHandle};
pub use server::MioServer;
