//! `dicomwire-mio`: a `mio` event-loop transport for dicomwire.
//!
//! [`MioServer`] serves DICOM associations from one thread and one `mio::Poll`. Like the
//! blocking `dicomwire-std` server it makes no protocol decision of its own: it moves
//! bytes and time between sockets and each connection's [`Association`] and
//! [`Scp`], and takes the same decisions that server takes (accept; reject over the
//! association limit with local-limit-exceeded; answer release requests; give every
//! other event to the [`Scp`]; open the C-MOVE sub-associations it asks for).
//!
//! # The loop
//!
//! - **Interest follows the core.** A socket is registered READABLE while its
//!   association [`wants_read`](Association::wants_read), no input it refused waits, and
//!   its outgoing queue is below a bound; WRITABLE while bytes it already produced wait
//!   to be sent. With neither, the socket is deregistered.
//! - **Time.** The poll timeout is the earliest deadline of all associations
//!   ([`Association::poll_timeout`]) and of the C-MOVE connections being opened; on
//!   waking, the connections whose deadline passed get `handle_timeout` (ARTIM closes
//!   idle connections this way).
//! - **Partial writes** keep their unsent bytes and a write position; nothing more is
//!   taken from the association until they are gone.
//! - **Backpressure.** A read goes straight into the association; the bytes it does not
//!   take (its event queue is full) are kept and offered again before the socket is read
//!   again. Reading also stops while the association's outgoing queue holds
//!   [`MAX_QUEUED_OUTGOING`] PDUs or messages, so a peer that sends requests but never
//!   reads the answers cannot grow our memory.
//! - **Memory per association** is bounded: one refused read chunk (64 KiB), one write
//!   batch (64 KiB plus one PDU), and what the core holds (one partial PDU and one
//!   message in assembly, within the configured PDU and message limits).
//! - **Fairness.** One connection gets a bounded number of read/process/write rounds per
//!   turn of the loop; if it still has work, it is served again on the next turn after
//!   every other ready connection.
//! - **Limits.** At most `max_associations` associations are served; one more is
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
