//! dicomwire: a Sans-IO DICOM networking core.
//!
//! This crate implements the DICOM upper layer (PS3.8) and, in later layers, the DIMSE
//! message exchange (PS3.7) and the service classes of PS3.4, without doing any IO: it
//! consumes bytes and time and produces bytes, events and deadlines. It never opens a
//! socket, spawns a thread, reads a clock or touches a file; thin adapters
//! (`dicomwire-std`, `dicomwire-mio`) drive it over real sockets, and tests, fuzzers and
//! replays drive it from memory.
//!
//! What is here today:
//!
//! - [`pdu`]: the seven PDU types of PS3.8 9.3 and every item and sub-item of PS3.8 and
//!   PS3.7 Annex D.3.3, decoded with `nom` over caller-owned bytes (P-DATA fragments borrow
//!   from the input) and encoded into a caller-owned `Vec<u8>`, with limits checked from
//!   the PDU header before anything is buffered.
//!
//! ```
//! use dicomwire::pdu::{self, Abort, AbortReason, DecodeLimits, Decoded, Pdu};
//!
//! // Encode an A-ABORT, then decode it again.
//! let mut wire = Vec::new();
//! Pdu::Abort(Abort::provider(AbortReason::UnexpectedPdu)).encode(&mut wire)?;
//! match pdu::decode(&wire, &DecodeLimits::default())? {
//!     Decoded::Complete { pdu: Pdu::Abort(a), consumed } => {
//!         assert_eq!(consumed, 10);
//!         assert_eq!(a.codes(), (2, 2));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(fuzzing, allow(missing_docs))]

pub mod dimse;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod pdu;
pub mod service;
pub mod ul;
