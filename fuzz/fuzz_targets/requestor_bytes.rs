//! Arbitrary bytes, time jumps and primitives into a requestor; the checks are in
//! `dicomwire_fuzz::association_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dicomwire_fuzz::association_bytes(
        dicomwire::ul::Role::Requestor,
        data,
        std::time::Instant::now(),
    )
});
