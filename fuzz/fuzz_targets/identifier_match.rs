//! The C-FIND matcher on arbitrary identifiers, records and single values; the checks are
//! in `dicomwire_fuzz::identifier_match`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dicomwire_fuzz::identifier_match(data));
