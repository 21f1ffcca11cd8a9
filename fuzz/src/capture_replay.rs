//! The `capture_replay` target: arbitrary capture files (JSON lines, pcap, pcapng) read,
//! decoded and replayed in both roles.

use std::time::Instant;

use dicomwire_replay::capture::{Capture, CaptureLimits};
use dicomwire_replay::{Outcome, Replay, ReplayRole, decode};

/// Small enough that one input costs milliseconds, large enough for every fixture.
fn limits() -> CaptureLimits {
    CaptureLimits {
        max_flows: 8,
        max_stream_bytes: 256 * 1024,
        ..CaptureLimits::default()
    }
}

/// Reads `data` as a capture; decodes and replays every flow in both roles. Must never
/// panic or hang, whatever the bytes. The clock's origin comes from the target, so
/// nothing here reads a clock.
pub fn capture_replay(data: &[u8], origin: Instant) {
    let Ok(capture) = Capture::parse(data, &limits()) else {
        return;
    };
    for flow in &capture.flows {
        let _ = decode(flow);
        for role in [ReplayRole::Scp, ReplayRole::Scu] {
            let a = Replay::new(flow, role, origin).run();
            // The same flow replays the same way: nothing but the input decides.
            let b = Replay::new(flow, role, origin).run();
            assert_eq!(a, b, "a replay is deterministic");
            if let Outcome::Diverged(d) = &a.outcome {
                assert!(!d.what.is_empty(), "a divergence says what differed");
            }
        }
    }
}
