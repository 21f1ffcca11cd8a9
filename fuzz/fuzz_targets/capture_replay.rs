//! Arbitrary capture files (JSON lines, pcap, pcapng) read, decoded and replayed in both
//! roles; the checks are in `dicomwire_fuzz::capture_replay`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dicomwire_fuzz::capture_replay(data, std::time::Instant::now())
});
