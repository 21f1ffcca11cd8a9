//! Integration tests for dicomwire, and the helpers they share.
//!
//! The tests live in `tests/tests/`: golden decoding of real captures, checks of our
//! constants against the standard's tables in `../shared/spec/`, and (as the layers land)
//! the pair harness, replay and interop suites. This library holds the fixtures loaders.

pub mod capture;
pub mod pair;
pub mod services;
pub mod spec;
