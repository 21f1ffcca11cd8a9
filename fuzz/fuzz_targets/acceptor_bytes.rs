//! Arbitrary bytes, time jumps and primitives into an acceptor; the checks are in
//! `dicomwire_fuzz::association_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dicomwire_fuzz::association_bytes(
        dicomwire::ul::Role::Acceptor,
        data,
        std::time::Instant::now(),
    )
});
