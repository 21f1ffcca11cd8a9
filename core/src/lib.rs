//! dicomwire: a Sans-IO DICOM networking core.
//!
//! This crate implements the DICOM upper layer (PS3.8), the DIMSE message exchange
//! (PS3.7) and the service classes of PS3.4 that dicomwire serves, without doing any IO:
//! it consumes bytes and time and produces bytes, events and deadlines. It never opens a
//! socket, spawns a thread, reads a clock or touches a file; thin adapters
//! (`dicomwire-std`, `dicomwire-mio`) drive it over real sockets, and tests, fuzzers and
//! replays drive it from memory.
//!
//! The layers, each usable and tested on its own:
//!
//! - [`pdu`]: the seven PDU types of PS3.8 9.3 and every item and sub-item of PS3.8 and
//!   PS3.7 Annex D.3.3, decoded with `nom` over caller-owned bytes (P-DATA fragments borrow
//!   from the input) and encoded into a caller-owned `Vec<u8>`, with limits checked from
//!   the PDU header before anything is buffered.
//! - [`ul`]: [`ul::Association`], the PS3.8 state machine (Table 9-10 as data, one
//!   interpreter) with association negotiation, in either role. Start there: its
//!   documentation states the contract (inputs, verbs, outputs, the drain order) and shows
//!   the loop.
//! - [`dimse`]: command sets, typed DIMSE-C messages, statuses, fragmentation and
//!   reassembly with bounded memory; used through the association's `send_request`,
//!   `send_response` and `send_cancel` and its `Event::Message`.
//! - [`service`]: Verification, Modality Worklist FIND, Hanging Protocol FIND/GET/MOVE and
//!   Storage: the SCP over user handlers ([`service::Scp`]), SCU operations
//!   ([`service::scu`]), the PS3.4 C.2.2.2 matching engine and in-memory providers.
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

pub mod dimse;
pub mod pdu;
pub mod registry;
pub mod service;
pub mod session;
pub mod ul;
