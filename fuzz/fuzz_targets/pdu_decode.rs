//! The PDU decoder on arbitrary bytes; the checks are in `dicomwire_fuzz::pdu_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dicomwire_fuzz::pdu_decode(data));
