//! A requestor and an acceptor joined by byte pipes, driven by arbitrary operations; the
//! checks are in `dicomwire_fuzz::fsm_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dicomwire_fuzz::fsm_ops(data, std::time::Instant::now())
});
