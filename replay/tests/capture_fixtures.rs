//! The real captures of `tests/fixtures/captures/`: every JSON-lines file reads, and each
//! packet capture made beside a JSON-lines twin (tcpdump or dumpcap on loopback while the
//! recording proxy ran) gives the same two streams, which decode into whole PDUs.

use std::path::{Path, PathBuf};

use dicomwire::pdu::{self, DecodeLimits, Decoded};
use dicomwire_replay::capture::{
    Capture, CaptureFormat, CaptureLimits, Direction, Flow, RecordKind,
};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/captures")
}

fn files(extension: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .expect("the captures folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    out.sort();
    out
}

fn read(path: &Path) -> Capture {
    let bytes = std::fs::read(path).expect("readable");
    Capture::parse(&bytes, &CaptureLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The PDU types of a stream, which must split into whole PDUs.
fn pdu_types(stream: &[u8], at: &str) -> Vec<u8> {
    let limits = DecodeLimits::default();
    let mut rest = stream;
    let mut types = Vec::new();
    while !rest.is_empty() {
        match pdu::decode(rest, &limits) {
            Ok(Decoded::Complete { consumed, .. }) => {
                types.push(rest[0]);
                rest = &rest[consumed..];
            }
            other => panic!("{at}: {other:?} at offset {}", stream.len() - rest.len()),
        }
    }
    types
}

/// A flow that was captured whole: no notes, both directions closed.
fn assert_whole(flow: &Flow, at: &str) {
    assert!(flow.notes.is_empty(), "{at}: {:?}", flow.notes);
    for dir in [C2S, S2C] {
        assert!(
            flow.records
                .iter()
                .any(|r| r.dir == dir && r.kind == RecordKind::Eof),
            "{at}: no FIN {dir}"
        );
    }
    assert!(
        flow.records.windows(2).all(|w| w[0].t_us <= w[1].t_us),
        "{at}"
    );
}

#[test]
fn every_json_lines_capture_reads_as_one_connection() {
    let all = files("jsonl");
    assert!(all.len() >= 16, "{all:?}");
    for path in all {
        let at = path.display().to_string();
        let capture = read(&path);
        assert_eq!(capture.format, CaptureFormat::JsonLines);
        assert!(!capture.label.is_empty(), "{at}");
        assert_eq!(capture.flows.len(), 1, "{at}");
        let flow = &capture.flows[0];
        assert!(flow.client.is_some() && flow.server.is_some(), "{at}");
        // Each opens with an A-ASSOCIATE-RQ, answered by an AC or an RJ.
        assert_eq!(pdu_types(&flow.stream(C2S), &at)[0], 0x01, "{at}");
        assert!(
            matches!(pdu_types(&flow.stream(S2C), &at)[0], 0x02 | 0x03),
            "{at}"
        );
    }
}

#[test]
fn each_packet_capture_gives_the_streams_of_its_json_lines_twin() {
    let mut twins = 0;
    for extension in ["pcap", "pcapng"] {
        for path in files(extension) {
            let twin = path.with_extension("jsonl");
            if !twin.exists() {
                continue;
            }
            let at = path.display().to_string();
            let packets = read(&path);
            let proxied = read(&twin);
            let expected = &proxied.flows[0];
            // The packet capture saw the client's connection to the proxy: the same
            // client address, and the same bytes both ways.
            let flow = packets
                .flows
                .iter()
                .find(|f| f.client == expected.client)
                .unwrap_or_else(|| panic!("{at}: no flow from {:?}", expected.client));
            assert_whole(flow, &at);
            for dir in [C2S, S2C] {
                assert_eq!(flow.stream(dir), expected.stream(dir), "{at} {dir}");
            }
            twins += 1;
        }
    }
    // mwl_find_200_dcmtk.pcap, hp_get_3_pynetdicom.pcap, hp_move_3_pynetdicom.pcapng.
    assert_eq!(twins, 3);
}

#[test]
fn the_move_capture_holds_the_sub_association_as_a_second_flow() {
    let capture = read(&captures_dir().join("hp_move_3_pynetdicom.pcapng"));
    assert_eq!(capture.format, CaptureFormat::PcapNg);
    assert_eq!(capture.flows.len(), 2);
    let (main, sub) = (&capture.flows[0], &capture.flows[1]);
    assert_eq!(main.server.map(|a| a.port()), Some(11431));
    assert_eq!(sub.server.map(|a| a.port()), Some(11432));
    assert_whole(sub, "the sub-association");
    // The SCP associates with STORESCP, sends three C-STOREs, and releases.
    let requests = pdu_types(&sub.stream(C2S), "sub c2s");
    let answers = pdu_types(&sub.stream(S2C), "sub s2c");
    assert_eq!(requests.first(), Some(&0x01));
    assert_eq!(requests.last(), Some(&0x05));
    assert_eq!(answers, [0x02, 0x04, 0x04, 0x04, 0x06]);
    // It began while the main association was open, after the C-MOVE-RQ.
    assert!(sub.records[0].t_us < main.records.last().expect("records").t_us);
}

#[test]
fn the_ipv6_capture_is_read_from_linux_cooked_frames() {
    let path = captures_dir().join("echo_ipv6_pynetdicom.pcap");
    let bytes = std::fs::read(&path).expect("readable");
    // tcpdump -i any: link type 276, LINUX_SLL2.
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 276);
    let capture = read(&path);
    let flow = &capture.flows[0];
    assert_eq!(capture.flows.len(), 1);
    assert_whole(flow, "echo over ::1");
    let server = flow.server.expect("an address");
    assert!(server.is_ipv6() && server.ip().is_loopback());
    assert_eq!(server.port(), 11470);
    assert_eq!(pdu_types(&flow.stream(C2S), "c2s"), [0x01, 0x04, 0x05]);
    assert_eq!(pdu_types(&flow.stream(S2C), "s2c"), [0x02, 0x04, 0x06]);
}
