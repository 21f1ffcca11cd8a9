//! `dicomwire-std`: the blocking `std::net` transport for dicomwire.
//!
//! It moves bytes and time between a `TcpStream` and a [`dicomwire::ul::Association`], and
//! nothing else: every protocol decision (what to send, when to abort, which status to
//! answer) is the core's.
//!
//! - [`Client`]: an SCU. It connects with a timeout, turns Nagle off, waits for data with
//!   a read deadline taken from the core's `poll_timeout`, and offers echo, worklist and
//!   hanging-protocol find (an iterator of matches), get (instances to a store handler),
//!   move, cancel, release and abort.
//! - [`Server`]: an SCP. It accepts connections and runs one thread per association,
//!   with a limit on concurrent associations (over it the core answers A-ASSOCIATE-RJ
//!   transient, presentation-related, local-limit-exceeded), C-MOVE sub-associations
//!   opened from the association's own thread, and a graceful shutdown that lets
//!   operations in progress finish, releases idle associations and aborts what is left
//!   after a grace period.
//!
//! ```no_run
//! use std::time::Duration;
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{association_request, ScuService};
//! use dicomwire_std::{Client, ClientOptions};
//!
//! let request = association_request(
//!     AeTitle::new("ECHOSCU")?,
//!     AeTitle::new("ANY-SCP")?,
//!     &[ScuService::Verification],
//! );
//! let mut client = Client::connect("127.0.0.1:11112", request, ClientOptions::default())?;
//! let status = client.echo()?;
//! assert!(status.is_success());
//! client.release()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod server;
mod wire;

pub use client::{Client, ClientError, ClientOptions, FindMatches, RetrieveOutcome};
pub use server::{Server, ServerOptions, ShutdownHandle};
