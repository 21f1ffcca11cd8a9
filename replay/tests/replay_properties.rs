//! Properties of the replay: the same input gives the same transcript (nothing but the
//! input decides: no clock, no randomness, no global state in the output), and no
//! mutation of a capture, of its file bytes or of the bytes its flows carry, makes
//! decoding or replaying panic.

use std::time::{Duration, Instant};

use dicomwire_replay::capture::{Capture, CaptureLimits, Flow, RecordKind};
use dicomwire_replay::{Replay, ReplayRole, decode};
use proptest::prelude::*;

const FIXTURES: [&str; 6] = [
    "echo_dcmtk.jsonl",
    "mwl_find_3_dcmtk.jsonl",
    "mwl_find_cancel_pynetdicom.jsonl",
    "hp_get_2_pynetdicom.jsonl",
    "assoc_reject_called_ae_dcmtk.jsonl",
    "echo_ipv6_pynetdicom.pcap",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn flow(name: &str) -> Flow {
    Capture::parse(&fixture(name), &CaptureLimits::default())
        .expect("a capture")
        .flows
        .remove(0)
}

/// Decodes and replays every flow in both roles, twice, from two origins: the transcripts
/// and outcomes must be equal.
fn replay_all(flows: &[Flow]) {
    let origin = Instant::now();
    for flow in flows {
        assert_eq!(decode(flow), decode(flow));
        for role in [ReplayRole::Scp, ReplayRole::Scu] {
            let a = Replay::new(flow, role, origin).run();
            let b = Replay::new(flow, role, origin + Duration::from_secs(86_400)).run();
            assert_eq!(a, b, "replay as {role} is not deterministic");
            assert!(!a.transcript.lines.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_fixture_replays_the_same_way_every_time(which in 0..FIXTURES.len()) {
        replay_all(&[flow(FIXTURES[which])]);
    }

    /// Bytes flipped anywhere in the bytes a flow carries: the core and the comparison
    /// see broken PDUs, wrong lengths, bad command sets, and must not panic.
    #[test]
    fn mutated_flow_bytes_never_panic(
        which in 0..FIXTURES.len(),
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut flow = flow(FIXTURES[which]);
        let data: Vec<usize> = (0..flow.records.len())
            .filter(|&i| matches!(&flow.records[i].kind, RecordKind::Data(b) if !b.is_empty()))
            .collect();
        for (record, at, byte) in mutations {
            let r = data[record.index(data.len())];
            if let RecordKind::Data(bytes) = &mut flow.records[r].kind {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
        }
        replay_all(&[flow]);
    }

    /// Records dropped or cut short: streams that end early or skip PDUs.
    #[test]
    fn dropped_and_truncated_records_never_panic(
        which in 0..FIXTURES.len(),
        drop in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        keep in 0usize..64,
    ) {
        let mut flow = flow(FIXTURES[which]);
        let n = flow.records.len();
        flow.records.remove(drop.index(n));
        let r = cut.index(flow.records.len());
        if let RecordKind::Data(bytes) = &mut flow.records[r].kind {
            bytes.truncate(keep);
        }
        replay_all(&[flow]);
    }

    /// Bytes of the capture file itself mutated: the reader refuses most, and whatever it
    /// accepts is replayed.
    #[test]
    fn mutated_capture_files_never_panic(
        which in 0..FIXTURES.len(),
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = fixture(FIXTURES[which]);
        for (at, byte) in mutations {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(capture) = Capture::parse(&bytes, &CaptureLimits::default()) {
            replay_all(&capture.flows);
        }
    }
}
