//! `dicomwire-replay`: captured DICOM traffic, read and replayed through the dicomwire core.
//!
//! - [`capture`] reads captures (the `dicom-peers-capture/1` JSON-lines format, and pcap /
//!   pcapng files with TCP reassembly) into [`Flow`](capture::Flow)s: one TCP connection,
//!   one association, as the two ordered byte streams with their timestamps.
//!
//! Like the core, this crate does no IO: it takes the bytes of a capture file and gives
//! back values; reading the file is the caller's business.

pub mod capture;
