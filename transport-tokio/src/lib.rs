//! `dicomwire-tokio`: a transport for dicomwire on [Tokio](https://tokio.rs), the Rust
//! ecosystem's async runtime.
//!
//! It moves bytes and time between `tokio::net` sockets and the core's sessions, and
//! nothing else: every protocol decision (what to send, when to abort, whom to admit,
//! every timer) is the session's.
//!
//! - [`Server`]: an SCP. One task per accepted connection owns its
//!   [`ScpSession`](dicomwire::session::ScpSession) and its sockets (the connection and
//!   the C-MOVE sub-associations the session opens, connected without holding up the
//!   rest), and waits in one `tokio::select!` for any socket it reads, any socket with
//!   bytes waiting to have room, a connect, the session's next deadline, or shutdown.
//!   Writes never block: a peer that does not read holds neither the task nor the
//!   session's timers. Shutdown closes the listener at once and waits for every task.
//! - [`Client`]: an SCU over a [`ScuSession`](dicomwire::session::ScuSession): `async`
//!   echo, find, get, move, release and abort, one operation at a time.
//!
//! **One clock.** Every `now` a session is given is `tokio::time::Instant::now()`, and
//! every wait sleeps on that clock, so a paused or auto-advanced clock (in tests) runs the
//! sessions' timers in virtual time instead of spinning.
//!
//! # Slow handlers
//!
//! The [`Handlers`](dicomwire::service::Handlers) (and a C-GET's store handler) stay
//! synchronous: the core calls them while it takes input, fires timers and makes output.
//! On a multi-thread runtime every such session turn runs inside
//! [`tokio::task::block_in_place`]: a handler that blocks (a database, slow storage)
//! holds its own thread while the worker's other tasks move to another one, so handlers
//! written for `dicomwire-std` work unchanged. The price: each turn hands the worker off
//! (microseconds, not free for small PDUs), every blocked handler holds a thread (up to
//! the runtime's blocking-thread limit, 512 by default), and on a current-thread runtime
//! nothing can be moved off: there a slow handler stalls every association, so use fast
//! handlers (the in-memory providers) or a multi-thread runtime.
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
mod server;
mod wire;

pub use client::Client;
pub use dicomwire::session::{ClientError, RetrieveOutcome};
pub use server::{Server, ShutdownHandle};
