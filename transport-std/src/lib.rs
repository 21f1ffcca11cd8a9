//! `dicomwire-std`: the blocking `std::net` transport for dicomwire. It moves bytes and
//! time between `TcpStream`s and the core's sessions and decides nothing: what to send,
//! when to abort, whom to admit and every timer are the session's.
//!
//! - [`Client`]: an SCU over an [`ScuSession`](dicomwire::session::ScuSession), one
//!   operation at a time, each call blocking until the operation's end.
//! - [`Server`]: an SCP, one thread per [`ScpSession`](dicomwire::session::ScpSession)
//!   (plus a reader thread per socket); handlers may block, holding only their own
//!   association.
//!
//! ```no_run
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{association_request, ScuService};
//! use dicomwire::ul::AssociationConfig;
//! use dicomwire_std::Client;
//!
//! let (me, them) = (AeTitle::new("ECHOSCU")?, AeTitle::new("ANY-SCP")?);
//! let request = association_request(me, them, &[ScuService::Verification]);
//! let mut client = Client::connect("127.0.0.1:11112", request, AssociationConfig::default())?;
//! assert!(client.echo()?.is_success());
//! client.release()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod driver;
mod server;
mod wire;

pub use client::Client;
pub use dicomwire::session::{ClientError, OperationResult};
pub use server::{Server, ShutdownHandle};
