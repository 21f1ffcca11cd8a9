//! The checks (oracles) of dicomwire's cargo-fuzz targets, one module per target.
//!
//! Each target in `fuzz_targets/` is one line that hands its input (and, where the core
//! needs a clock's origin, `Instant::now()`) to a function here. The checks go through
//! the public API of `dicomwire` and `dicomwire-replay` only, and assert invariants, not
//! just the absence of a panic: round trips and fixed points, limits held, errors mapped
//! to the codes the standard defines, every transition a cell of PS3.8 Table 9-10, only
//! A-ABORT after an A-ABORT, requests delivered in order, deterministic answers.
//!
//! | target | function |
//! |---|---|
//! | `pdu_decode` | [`pdu_decode`] |
//! | `acceptor_bytes`, `requestor_bytes` | [`association_bytes`] |
//! | `dimse_command` | [`dimse_command`] |
//! | `fsm_ops` | [`fsm_ops`] |
//! | `identifier_match` | [`identifier_match`] |
//! | `capture_replay` | [`capture_replay`] |

mod association_bytes;
mod capture_replay;
mod dimse_command;
mod fsm_ops;
mod identifier_match;
mod pdu_decode;
mod setup;

pub use association_bytes::association_bytes;
pub use capture_replay::capture_replay;
pub use dimse_command::dimse_command;
pub use fsm_ops::fsm_ops;
pub use identifier_match::identifier_match;
pub use pdu_decode::pdu_decode;
