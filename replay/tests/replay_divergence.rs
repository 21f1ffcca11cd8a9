//! Deliberately altered captures: each replays as `Diverged`, and the divergence names
//! what differed. The alterations are made on real fixture captures, PDU by PDU.

use std::time::Instant;

use dicomwire_replay::capture::{Capture, CaptureLimits, Direction, Flow, Record, RecordKind};
use dicomwire_replay::{Divergence, Outcome, Replay, ReplayRole};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// A fixture's single flow, re-cut so that every data record holds exactly one PDU (at
/// the time of the record that completed it), which makes PDUs easy to alter.
fn flow(name: &str) -> Flow {
    let path = format!(
        "{}/../tests/fixtures/captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let capture = Capture::parse(&bytes, &CaptureLimits::default()).expect("a capture");
    let original = &capture.flows[0];
    let mut records = Vec::new();
    let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for record in &original.records {
        let buf = &mut pending[usize::from(record.dir == S2C)];
        match &record.kind {
            RecordKind::Data(data) => {
                buf.extend_from_slice(data);
                while buf.len() >= 6 {
                    let len = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize + 6;
                    if buf.len() < len {
                        break;
                    }
                    let pdu: Vec<u8> = buf.drain(..len).collect();
                    records.push(Record {
                        t_us: record.t_us,
                        dir: record.dir,
                        kind: RecordKind::Data(pdu),
                    });
                }
            }
            _ => records.push(record.clone()),
        }
    }
    Flow {
        records,
        ..original.clone()
    }
}

/// The positions of the data records (PDUs) of one direction.
fn pdus(flow: &Flow, dir: Direction) -> Vec<usize> {
    (0..flow.records.len())
        .filter(|&i| {
            flow.records[i].dir == dir && matches!(flow.records[i].kind, RecordKind::Data(_))
        })
        .collect()
}

fn bytes_mut(flow: &mut Flow, at: usize) -> &mut Vec<u8> {
    match &mut flow.records[at].kind {
        RecordKind::Data(b) => b,
        other => panic!("record {at} is {other:?}"),
    }
}

fn data(flow: &Flow, at: usize) -> &[u8] {
    match &flow.records[at].kind {
        RecordKind::Data(b) => b,
        other => panic!("record {at} is {other:?}"),
    }
}

/// The offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// (0000,0900) Status, US, 2 bytes, in Implicit VR Little Endian: tag, length.
const STATUS_ELEMENT: [u8; 8] = [0x00, 0x00, 0x00, 0x09, 0x02, 0x00, 0x00, 0x00];

/// Records of `dir` whose PDU carries a command with status `status`.
fn with_status(flow: &Flow, dir: Direction, status: u16) -> Vec<usize> {
    let mut element = STATUS_ELEMENT.to_vec();
    element.extend_from_slice(&status.to_le_bytes());
    pdus(flow, dir)
        .into_iter()
        .filter(|&i| find(data(flow, i), &element).is_some())
        .collect()
}

fn diverged(flow: &Flow, role: ReplayRole) -> Divergence {
    let report = Replay::new(flow, role, Instant::now()).run();
    match report.outcome {
        Outcome::Diverged(d) => {
            assert!(
                report
                    .transcript
                    .lines
                    .last()
                    .unwrap()
                    .starts_with("DIVERGED"),
                "{}",
                report.transcript
            );
            d
        }
        other => panic!("expected a divergence, got {other}\n{}", report.transcript),
    }
}

/// Our core ignores a DIMSE response to no outstanding request (it logs it; PS3.7 asks
/// nothing more), so as requestor the wire matches; the transcript says what was dropped.
fn matches_but_drops(flow: &Flow, role: ReplayRole) {
    let report = Replay::new(flow, role, Instant::now()).run();
    assert_eq!(report.outcome, Outcome::Matched, "{}", report.transcript);
    assert!(
        report
            .transcript
            .lines
            .iter()
            .any(|l| l.contains("DIMSE messages to its user (the rest dropped)")),
        "{}",
        report.transcript
    );
}

fn says(d: &Divergence, words: &[&str]) {
    let text = d.to_string();
    for w in words {
        assert!(text.contains(w), "{w:?} not in:\n{text}");
    }
}

#[test]
fn the_unaltered_flows_match_so_the_alterations_are_what_diverges() {
    for name in [
        "echo_dcmtk.jsonl",
        "mwl_find_3_dcmtk.jsonl",
        "hp_get_2_pynetdicom.jsonl",
    ] {
        let flow = flow(name);
        for role in [ReplayRole::Scp, ReplayRole::Scu] {
            let report = Replay::new(&flow, role, Instant::now()).run();
            assert_eq!(report.outcome, Outcome::Matched, "{name} as {role}");
        }
    }
}

#[test]
fn a_c_find_rsp_whose_pending_status_became_success_diverges_as_scp() {
    let mut flow = flow("mwl_find_3_dcmtk.jsonl");
    let first_pending = with_status(&flow, S2C, 0xFF00)[0];
    let bytes = bytes_mut(&mut flow, first_pending);
    let at = find(bytes, &STATUS_ELEMENT).unwrap() + STATUS_ELEMENT.len();
    bytes[at..at + 2].copy_from_slice(&[0x00, 0x00]);
    // As SCP our core is asked to send a final response with the identifier the pending
    // one had: PS3.7 allows an identifier with a pending status only.
    let d = diverged(&flow, ReplayRole::Scp);
    assert_eq!(d.dir, S2C);
    says(&d, &["C-FIND-RSP", "takes no data set"]);
    // As SCU our core takes the success as final; the pending responses after it answer
    // no outstanding request and are dropped.
    matches_but_drops(&flow, ReplayRole::Scu);
}

#[test]
fn a_dropped_c_echo_rq_diverges_as_scp() {
    let mut flow = flow("echo_dcmtk.jsonl");
    let echo_rq = pdus(&flow, C2S)[1];
    flow.records.remove(echo_rq);
    let d = diverged(&flow, ReplayRole::Scp);
    says(&d, &["C-ECHO-RSP", "cannot", "no outstanding operation"]);
    matches_but_drops(&flow, ReplayRole::Scu);
}

#[test]
fn a_dropped_a_associate_ac_makes_our_acceptor_abort() {
    let mut flow = flow("echo_dcmtk.jsonl");
    let ac = pdus(&flow, S2C)[0];
    flow.records.remove(ac);
    // The client's C-ECHO-RQ reaches our acceptor in Sta3: unexpected, so it aborts
    // (AA-8) where the recorded server answered the echo.
    let d = diverged(&flow, ReplayRole::Scp);
    assert_eq!(d.pdu_index, Some(0));
    says(&d, &["recorded C-ECHO-RSP", "ours A-ABORT"]);
}

#[test]
fn a_changed_presentation_context_result_diverges_in_both_roles() {
    let mut flow = flow("echo_dcmtk.jsonl");
    let ac = pdus(&flow, S2C)[0];
    let bytes = bytes_mut(&mut flow, ac);
    // Presentation context item 0x21 for pc1: type, reserved, length, id, reserved, result.
    let item = find(bytes, &[0x21, 0x00, 0x00, 0x19, 0x01, 0x00]).unwrap();
    bytes[item + 6] = 3; // abstract-syntax-not-supported
    // As SCP our acceptor is configured from the recorded answer and rejects the context
    // too; the client then sends its C-ECHO-RQ on it, which our core refuses.
    let d = diverged(&flow, ReplayRole::Scp);
    says(&d, &["C-ECHO-RSP", "A-ABORT"]);
    // As SCU our core cannot send the recorded C-ECHO-RQ on a rejected context.
    let d = diverged(&flow, ReplayRole::Scu);
    says(&d, &["C-ECHO-RQ", "cannot", "presentation context 1"]);
}

#[test]
fn a_final_response_moved_before_the_last_pending_one_diverges() {
    let mut flow = flow("mwl_find_3_dcmtk.jsonl");
    let final_rsp = with_status(&flow, S2C, 0x0000)[0];
    let last_pending = *with_status(&flow, S2C, 0xFF00).last().unwrap();
    // The pending response is its command PDU and its identifier PDU after it; the final
    // response (no data set) comes right after them. Rotate the bytes, keep the times.
    assert_eq!(
        pdus(&flow, S2C)
            .iter()
            .filter(|&&i| i > last_pending && i < final_rsp)
            .count(),
        1
    );
    let moved: Vec<Vec<u8>> = [final_rsp, last_pending, last_pending + 1]
        .iter()
        .map(|&i| data(&flow, i).to_vec())
        .collect();
    *bytes_mut(&mut flow, last_pending) = moved[0].clone();
    *bytes_mut(&mut flow, last_pending + 1) = moved[1].clone();
    *bytes_mut(&mut flow, final_rsp) = moved[2].clone();
    let d = diverged(&flow, ReplayRole::Scp);
    says(&d, &["C-FIND-RSP", "cannot"]);
    matches_but_drops(&flow, ReplayRole::Scu);
}

#[test]
fn a_server_stream_cut_inside_a_pdu_diverges_as_scp() {
    let mut flow = flow("mwl_find_3_dcmtk.jsonl");
    let second_pending = with_status(&flow, S2C, 0xFF00)[1];
    bytes_mut(&mut flow, second_pending).truncate(40);
    // Nothing the server sent after the cut survives.
    let later: Vec<usize> = pdus(&flow, S2C)
        .into_iter()
        .filter(|&i| i > second_pending)
        .collect();
    for i in later.into_iter().rev() {
        flow.records.remove(i);
    }
    let d = diverged(&flow, ReplayRole::Scp);
    says(&d, &["stream ends inside a PDU"]);
}

#[test]
fn an_a_associate_rq_with_another_protocol_version_diverges_in_both_roles() {
    let mut flow = flow("echo_dcmtk.jsonl");
    let rq = pdus(&flow, C2S)[0];
    // Protocol-version bit 0 cleared: version 2 only.
    bytes_mut(&mut flow, rq)[6..8].copy_from_slice(&[0x00, 0x02]);
    // Our acceptor rejects it itself (AE-6 provider check) where the recorded one accepted.
    let d = diverged(&flow, ReplayRole::Scp);
    says(
        &d,
        &[
            "recorded A-ASSOCIATE-AC",
            "ours A-ASSOCIATE-RJ",
            "protocol-version",
        ],
    );
    // Our requestor speaks version 1 only.
    let d = diverged(&flow, ReplayRole::Scu);
    says(&d, &["protocol version: recorded 2, ours 1"]);
}

#[test]
fn a_changed_implementation_class_uid_is_masked_but_a_changed_max_pdu_is_not() {
    // The implementation class UID is masked: our own goes out instead, and it matches.
    let mut flow = flow("echo_dcmtk.jsonl");
    let ac = pdus(&flow, S2C)[0];
    let bytes = bytes_mut(&mut flow, ac);
    let uid = find(bytes, b"1.2.276.0.7230010.3.0.3.6.7").unwrap();
    bytes[uid + 2] = b'9';
    let report = Replay::new(&flow, ReplayRole::Scp, Instant::now()).run();
    assert_eq!(report.outcome, Outcome::Matched, "{}", report.transcript);
    // A maximum length of 0 ("no limit") is something our configuration cannot say.
    let mut flow = self::flow("echo_dcmtk.jsonl");
    let ac = pdus(&flow, S2C)[0];
    let bytes = bytes_mut(&mut flow, ac);
    let item = find(bytes, &[0x51, 0x00, 0x00, 0x04]).unwrap();
    bytes[item + 4..item + 8].copy_from_slice(&[0, 0, 0, 0]);
    let d = diverged(&flow, ReplayRole::Scp);
    says(&d, &["maximum length (item 0x51): recorded 0"]);
}

#[test]
fn a_flow_that_is_not_dicom_is_not_an_association() {
    let mut flow = flow("echo_dcmtk.jsonl");
    flow.records.retain(|r| r.dir == S2C);
    let report = Replay::new(&flow, ReplayRole::Scp, Instant::now()).run();
    assert!(matches!(report.outcome, Outcome::NotAnAssociation(_)));
    let http = Flow {
        records: vec![Record {
            t_us: 0,
            dir: C2S,
            kind: RecordKind::Data(b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        }],
        ..Flow::default()
    };
    let report = Replay::new(&http, ReplayRole::Scu, Instant::now()).run();
    match report.outcome {
        Outcome::NotAnAssociation(why) => assert!(why.contains("not a PDU"), "{why}"),
        other => panic!("{other}"),
    }
}

/// Every record from `from` on happens `by_us` later.
fn delay(flow: &mut Flow, from: usize, by_us: u64) {
    for record in &mut flow.records[from..] {
        record.t_us += by_us;
    }
}

#[test]
fn a_server_that_answers_after_our_associate_timeout_diverges_as_scu() {
    let mut flow = flow("echo_dcmtk.jsonl");
    let ac = pdus(&flow, S2C)[0];
    delay(&mut flow, ac, 31_000_000);
    // On the virtual clock our requestor's 30 s wait for the A-ASSOCIATE-AC ends first:
    // it aborts where the recorded echoscu waited and then sent its C-ECHO-RQ.
    let report = Replay::new(&flow, ReplayRole::Scu, Instant::now()).run();
    let text = report.transcript.to_string();
    assert!(text.contains("timer AssociateResponse expired"), "{text}");
    assert!(text.contains("Sta5 --Evt15/AA-1--> Sta13"), "{text}");
    let Outcome::Diverged(d) = report.outcome else {
        panic!("{text}")
    };
    says(
        &d,
        &[
            "recorded: C-ECHO-RQ",
            "ours:     A-ABORT by DICOM UL service-user",
        ],
    );
}

#[test]
fn a_client_that_sends_its_request_after_artim_diverges_as_scp() {
    let mut flow = flow("echo_dcmtk.jsonl");
    let rq = pdus(&flow, C2S)[0];
    delay(&mut flow, rq, 31_000_000);
    // ARTIM (30 s) expires in Sta2: our acceptor closes the connection without a word,
    // so there is no A-ASSOCIATE indication to answer when the recorded server accepted.
    let report = Replay::new(&flow, ReplayRole::Scp, Instant::now()).run();
    let text = report.transcript.to_string();
    assert!(text.contains("timer Artim expired"), "{text}");
    assert!(text.contains("Sta2 --Evt18/AA-2--> Sta1"), "{text}");
    let Outcome::Diverged(d) = report.outcome else {
        panic!("{text}")
    };
    says(
        &d,
        &["A-ASSOCIATE-AC", "cannot", "no A-ASSOCIATE indication"],
    );
}

#[test]
fn a_smaller_max_pdu_makes_our_core_fragment_more_and_still_match() {
    let mut flow = flow("mwl_find_3_dcmtk.jsonl");
    let rq = pdus(&flow, C2S)[0];
    let bytes = bytes_mut(&mut flow, rq);
    let item = find(bytes, &[0x51, 0x00, 0x00, 0x04]).unwrap();
    bytes[item + 4..item + 8].copy_from_slice(&100u32.to_be_bytes());
    // The recorded wlmscpfs sent 300-byte identifiers whole; our core cuts them to the
    // 100 bytes the client now announces. P-DATA boundaries are masked: it matches.
    let report = Replay::new(&flow, ReplayRole::Scp, Instant::now()).run();
    let text = report.transcript.to_string();
    assert_eq!(report.outcome, Outcome::Matched, "{text}");
    assert!(text.contains("our PDUs at most 100 bytes"), "{text}");
    assert!(text.contains("ours S→C P-DATA-TF [pc1 data 94B]"), "{text}");
}
