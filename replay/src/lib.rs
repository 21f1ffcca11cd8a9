//! `dicomwire-replay`: captured DICOM traffic, read and replayed through the dicomwire core.
//!
//! - [`capture`] reads captures (the `dicom-peers-capture/1` JSON-lines format, and pcap /
//!   pcapng files with TCP reassembly) into [`Flow`](capture::Flow)s: one TCP connection,
//!   one association, as the two ordered byte streams with their timestamps.
//! - [`decode`] prints both sides of a flow, PDU by PDU and DIMSE message by message.
//! - [`Replay`] feeds one side of a flow into our core, on a virtual clock that follows
//!   the capture's timestamps, takes the other side's application decisions from the
//!   recording, and compares what our core sends with what the recorded side sent
//!   ([`compare`] says how, and what it masks and why).
//!
//! Roles: a flow's TCP client is the association requestor (for a C-MOVE, the
//! sub-association is a flow of its own whose client is the move SCP, now a storage SCU).
//! [`ReplayRole::Scp`] makes our core the acceptor, [`ReplayRole::Scu`] the requestor.
//!
//! Like the core, this crate does no IO: it takes the bytes of a capture file and an
//! origin `Instant`, and gives back values; reading the file is the caller's business.

pub mod capture;
pub mod compare;
mod describe;
mod replay;
mod wire;

pub use replay::{Divergence, Outcome, Replay, ReplayReport, ReplayRole, Transcript, decode};
