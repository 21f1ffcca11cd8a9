//! `dicomwire-tokio`: a transport for dicomwire on [Tokio](https://tokio.rs), the Rust
//! ecosystem's async runtime. It moves bytes and time between `tokio::net` sockets and
//! the core's sessions; every protocol decision is the session's.
//!
//! - [`Server`]: an SCP, one task per accepted connection. The task owns its
//!   [`ScpSession`](dicomwire::session::ScpSession) and its sockets (the C-MOVE
//!   sub-associations' too, connected without holding the rest up) and waits in one
//!   `tokio::select!` for its sockets, its connects, the session's next deadline and
//!   shutdown. Writes never block, so a peer that does not read holds neither the task
//!   nor the session's timers.
//! - [`Client`]: an SCU over a [`ScuSession`](dicomwire::session::ScuSession).
//!
//! **One clock.** Every `now` a session is given is `tokio::time::Instant::now()`, and
//! every wait sleeps on that clock: on a paused or auto-advanced clock (in tests) the
//! sessions' timers run in virtual time instead of spinning.
//!
//! **Slow handlers.** The [`Handlers`](dicomwire::service::Handlers) (and a C-GET's
//! store handler) stay synchronous. On a multi-thread runtime each session turn (taking
//! input, firing timers, making output: where the core calls them) runs inside
//! [`tokio::task::block_in_place`], so a handler that blocks holds its own thread while
//! the worker's other tasks move on, and handlers written for `dicomwire-std` work
//! unchanged. The price: every turn hands its worker off (microseconds), each blocked
//! handler holds a thread (up to the runtime's blocking-thread limit, 512 by default),
//! and a current-thread runtime cannot move anything off: there a slow handler stalls
//! every association.
//!
//! A C-ECHO on loopback:
//!
//! ```
//! use std::sync::Arc;
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{association_request, ScuService};
//! use dicomwire::service::{uids, Handlers};
//! use dicomwire::session::ScpConfig;
//! use dicomwire::ul::{AcceptorPolicy, AssociationConfig, SupportedSyntax};
//! use dicomwire_tokio::{Client, Server};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ts = uids::uncompressed_transfer_syntaxes();
//! let policy = AcceptorPolicy {
//!     abstract_syntaxes: vec![SupportedSyntax::new(uids::VERIFICATION, ts)],
//!     ..AcceptorPolicy::default()
//! };
//! let config = ScpConfig::new(Arc::new(policy), Arc::new(Handlers::default()));
//! let server = Server::bind("127.0.0.1:0", Arc::new(config))?;
//! let (addr, stop) = (server.local_addr(), server.shutdown_handle());
//! let serving = tokio::spawn(server.run());
//!
//! let (us, them) = (AeTitle::new("ECHOSCU")?, AeTitle::new("ANY-SCP")?);
//! let request = association_request(us, them, &[ScuService::Verification]);
//! let mut client = Client::connect(addr, request, AssociationConfig::default()).await?;
//! assert!(client.echo().await?.is_success());
//! client.release().await?;
//! stop.shutdown();
//! serving.await??;
//! # Ok(())
//! # }
//! ```

mod client;
mod conn;
mod server;
mod wire;

pub use client::Client;
pub use dicomwire::session::{ClientError, OperationResult};
pub use server::{Server, ShutdownHandle};
