//! The PDU decoder on arbitrary bytes; the checks are in `dicomwire::fuzzing::pdu_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dicomwire::fuzzing::pdu_decode(data));
