//! `dicomwire-cli`: the library half of the `dicomwire` command-line tool.
//!
//! The tool (binary `dicomwire`) is a DICOM network node built on the Sans-IO `dicomwire`
//! core and its blocking transport:
//!
//! - `serve`: a Modality Worklist and Hanging Protocol Q/R (FIND, GET, MOVE) SCP, with
//!   Verification and, with `--store`, Storage. With no data flags it serves the embedded
//!   sample data of [`sample`]; `--worklist DIR` and `--hanging-protocols DIR` serve files
//!   instead ([`files`]) and pick up changes without a restart.
//! - `echo`: a C-ECHO.
//! - `find worklist|hanging-protocol`: a C-FIND with keys given as `-k` ([`keys`]),
//!   printing matches, or DICOM JSON with `--json` ([`json`]).
//! - `get hanging-protocol`: a C-GET, writing the instances as Part 10 files.
//! - `move hanging-protocol`: a C-MOVE to another AE.
//! - `store`: Part 10 files and folders sent with C-STORE, streamed from disk, over
//!   several associations in parallel ([`store`]).
//! - `replay`: decodes a capture, or replays it through the core as SCP or SCU and
//!   compares what the core sends with what the recorded peer sent ([`replay`]).
//!
//! The modules here are what the binary needs besides the network: the sample data, file
//! loading and writing, DICOM JSON, and `-k` parsing.

pub mod files;
pub mod json;
pub mod keys;
pub mod progress;
pub mod replay;
pub mod sample;
pub mod store;
