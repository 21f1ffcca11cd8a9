//! Arbitrary bytes as a DIMSE command set; the checks are in `dicomwire_fuzz::dimse_command`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dicomwire_fuzz::dimse_command(data));
