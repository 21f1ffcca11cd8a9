//! `dicomwire-std`: the blocking `std::net` transport for dicomwire.
//!
//! It moves bytes and time between `TcpStream`s and the core's sessions, and nothing
//! else: every protocol decision (what to send, when to abort, which status to answer,
//! whom to admit, every timer) is the session's.
//!
//! - [`Client`]: an SCU over a [`ScuSession`](dicomwire::session::ScuSession). It
//!   connects within the association's connect timeout, turns Nagle off, waits for data
//!   until the session's next deadline, and offers echo, worklist and hanging-protocol
//!   find (an iterator of matches), get (instances to a store handler), move, cancel,
//!   release and abort, one operation at a time.
//! - [`Server`]: an SCP. It accepts connections and runs one thread per
//!   [`ScpSession`](dicomwire::session::ScpSession) (with a reader thread per socket),
//!   opens the C-MOVE sub-associations the session asks for from that thread, and on
//!   shutdown closes its listener at once and lets each session end itself.
//!
//! ```no_run
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{association_request, ScuService};
//! use dicomwire::ul::AssociationConfig;
//! use dicomwire_std::Client;
//!
//! let request = association_request(
//!     AeTitle::new("ECHOSCU")?,
//!     AeTitle::new("ANY-SCP")?,
//!     &[ScuService::Verification],
//! );
//! let mut client = Client::connect("127.0.0.1:11112", request, AssociationConfig::default())?;
//! let status = client.echo()?;
//! assert!(status.is_success());
//! client.release()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod server;
mod wire;

pub use client::{Client, FindMatches};
pub use dicomwire::session::RetrieveOutcome;
pub use dicomwire::session::ClientError;
pub use server::{Server, ShutdownHandle};
