//! pcap and pcapng input: synthesised captures of every link type, both pcap byte orders
//! and timestamp precisions, pcapng sections with several interfaces, and TCP reassembly
//! through reordering, retransmission, overlap, sequence wraparound, FIN, RST, reopened
//! connections, missing SYNs, holes and truncated packets.

mod capture_support;

use capture_support::*;
use dicomwire_replay::capture::{
    Capture, CaptureFormat, CaptureLimits, Direction, Flow, RecordKind, sniff,
};
use proptest::prelude::*;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn parse(bytes: &[u8]) -> Capture {
    Capture::parse(bytes, &CaptureLimits::default()).expect("the capture reads")
}

fn only_flow(capture: &Capture) -> &Flow {
    assert_eq!(capture.flows.len(), 1, "{:#?}", capture.flows);
    &capture.flows[0]
}

/// The kinds of a flow's records, data as its length: `["c2s 700", "s2c eof"]`.
fn shape(flow: &Flow) -> Vec<String> {
    flow.records
        .iter()
        .map(|r| match &r.kind {
            RecordKind::Data(bytes) => format!("{} {}", r.dir, bytes.len()),
            RecordKind::Eof => format!("{} eof", r.dir),
            RecordKind::Reset => format!("{} rst", r.dir),
        })
        .collect()
}

fn assert_exchange(flow: &Flow, exchange: &Exchange) {
    assert_eq!(flow.client, Some(exchange.client));
    assert_eq!(flow.server, Some(exchange.server));
    assert_eq!(flow.stream(C2S), exchange.c2s);
    assert_eq!(flow.stream(S2C), exchange.s2c);
    let eofs: Vec<Direction> = flow
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Eof)
        .map(|r| r.dir)
        .collect();
    assert_eq!(eofs, [C2S, S2C]);
    assert!(flow.notes.is_empty(), "{:?}", flow.notes);
    assert!(flow.records.windows(2).all(|w| w[0].t_us <= w[1].t_us));
}

#[test]
fn every_link_type_gives_the_same_streams() {
    for (client, server) in [
        ("127.0.0.1:50000", "127.0.0.1:104"),
        ("[::1]:50000", "[::1]:104"),
    ] {
        let exchange = Exchange::new(client, server);
        let packets = exchange.packets(0, 300);
        for linktype in [ETHERNET, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW] {
            let capture = parse(&pcap(linktype, false, false, &packets));
            assert_eq!(capture.format, CaptureFormat::Pcap);
            assert_eq!(capture.label, "");
            assert_exchange(only_flow(&capture), &exchange);
        }
        let linktype = if exchange.client.is_ipv4() {
            IPV4
        } else {
            IPV6
        };
        assert_exchange(
            only_flow(&parse(&pcap(linktype, false, false, &packets))),
            &exchange,
        );
        let tagged: Vec<Packet> = packets
            .iter()
            .cloned()
            .map(|mut p| {
                p.vlan = true;
                p
            })
            .collect();
        assert_exchange(
            only_flow(&parse(&pcap(ETHERNET, false, false, &tagged))),
            &exchange,
        );
    }
}

#[test]
fn both_byte_orders_and_both_timestamp_precisions() {
    let exchange = Exchange::new("10.0.0.1:40000", "10.0.0.2:11112");
    // Starts at an odd time so that the nanoseconds matter: 1.000000789 s.
    let packets = exchange.packets(1_000_000_789, 300);
    for big_endian in [false, true] {
        for nanoseconds in [false, true] {
            let bytes = pcap(ETHERNET, big_endian, nanoseconds, &packets);
            assert_eq!(sniff(&bytes), Some(CaptureFormat::Pcap));
            let capture = parse(&bytes);
            let flow = only_flow(&capture);
            assert_exchange(flow, &exchange);
            // Packets are 1 ms apart: the first data comes 3 ms after the SYN.
            assert_eq!(flow.records[0].t_us, 3000, "{big_endian} {nanoseconds}");
        }
    }
}

#[test]
fn pcapng_with_two_interfaces_resolutions_and_simple_packets() {
    // The same connection seen on two interfaces would be two copies: here one
    // connection is on an Ethernet interface with nanosecond timestamps, another on a
    // cooked one with 2^-20 s units, and a third on interface 0 in simple packet blocks.
    let first = Exchange::new("127.0.0.1:1111", "127.0.0.1:104");
    let second = Exchange::new("[::1]:2222", "[::1]:104");
    let mut third = Exchange::new("127.0.0.1:3333", "127.0.0.1:104");
    third.s2c = b"third".to_vec();
    let mut packets: Vec<(usize, PacketBlock, Packet)> = Vec::new();
    for (a, b) in first
        .packets(5_000_000_000, 200)
        .into_iter()
        .zip(second.packets(5_000_000_000, 500))
    {
        packets.push((0, PacketBlock::Enhanced, a));
        packets.push((1, PacketBlock::Enhanced, b));
    }
    for p in third.packets(9_000_000_000, 100) {
        packets.push((0, PacketBlock::Simple, p));
    }
    let interfaces = [
        Interface::new(ETHERNET, Some(9)),
        Interface::new(LINUX_SLL2, Some(0x80 | 20)),
    ];
    for big_endian in [false, true] {
        let bytes = pcapng_section(big_endian, &interfaces, &packets);
        assert_eq!(sniff(&bytes), Some(CaptureFormat::PcapNg));
        let capture = parse(&bytes);
        assert_eq!(capture.format, CaptureFormat::PcapNg);
        assert_eq!(capture.flows.len(), 3);
        assert_exchange_but_notes(&capture.flows[1], &second);
        let flow = &capture.flows[0];
        assert_eq!(flow.stream(C2S), first.c2s);
        assert_eq!(flow.records[0].t_us, 3000);
        // 2^-20 s units: each time is written rounded down to a unit and read back
        // rounded down to a nanosecond.
        let binary = |t_ns: u128| ((t_ns << 20) / 1_000_000_000 * 1_000_000_000) >> 20;
        let expected = (binary(5_004_000_000) - binary(5_001_000_000)) / 1000;
        assert_eq!(u128::from(capture.flows[1].records[0].t_us), expected);
        let simple = &capture.flows[2];
        assert_eq!(simple.stream(C2S), third.c2s);
        assert_eq!(simple.stream(S2C), b"third");
        assert!(
            simple
                .notes
                .iter()
                .any(|n| n.contains("simple packet blocks")),
            "{:?}",
            simple.notes
        );
    }
    // Two sections in one file, the second big endian: interfaces are per section.
    let mut bytes = pcapng_section(false, &interfaces[..1], &packets[..0]);
    bytes.extend(pcapng_section(
        true,
        &interfaces[1..],
        &first
            .packets(0, 100)
            .into_iter()
            .map(|p| (0, PacketBlock::Enhanced, p))
            .collect::<Vec<_>>(),
    ));
    assert_exchange(only_flow(&parse(&bytes)), &first);
}

#[test]
fn segments_out_of_order_duplicated_and_overlapping() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let packets = exchange.packets(0, 100);
    // Handshake, then the seven c2s data segments in the order 3 1 2 1 5 4 6 7 6.
    let (handshake, rest) = packets.split_at(3);
    let data = &rest[..7];
    let mut shuffled = handshake.to_vec();
    for i in [2, 0, 1, 0, 4, 3, 5, 6, 5] {
        shuffled.push(data[i].clone());
    }
    shuffled.extend_from_slice(&rest[7..]);
    let flow = parse(&pcap(RAW, false, false, &shuffled)).flows.remove(0);
    assert_exchange(&flow, &exchange);
    // Segment 3 waits until 1 and 2 arrive, then all three come out at once; 5 waits
    // for 4.
    assert_eq!(
        shape(&flow)[..4],
        ["c2s 100", "c2s 200", "c2s 200", "c2s 100"]
    );

    // An overlapping retransmission with other bytes: the first-seen ones are kept.
    let mut overlap = packets.clone();
    let mut liar = data[1].clone();
    liar.seq -= 50;
    liar.payload = vec![0xee; 150];
    overlap.insert(5, liar); // after segment 1, before segment 2
    let flow = parse(&pcap(RAW, false, false, &overlap)).flows.remove(0);
    assert_exchange(&flow, &exchange);
}

#[test]
fn a_pending_segment_that_straddles_others_is_cut_to_the_holes() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let packets = exchange.packets(0, 100);
    let (handshake, rest) = packets.split_at(3);
    let data = &rest[..7];
    let mut order = handshake.to_vec();
    // Segments 2 and 4 first, then one covering 2..=5 with wrong bytes, then 1, 3, 5.
    order.push(data[1].clone());
    order.push(data[3].clone());
    let mut wide = data[1].clone();
    wide.payload = vec![0xee; 400];
    order.push(wide);
    order.push(data[0].clone());
    order.push(data[2].clone());
    order.push(data[4].clone());
    order.extend_from_slice(&rest[5..]);
    let flow = parse(&pcap(RAW, false, false, &order)).flows.remove(0);
    // Segment 3 and 5's places were filled by the wide one, first seen there.
    let mut expected = exchange.c2s.clone();
    expected[200..300].fill(0xee);
    expected[400..500].fill(0xee);
    assert_eq!(flow.stream(C2S), expected);
    assert_eq!(flow.stream(S2C), exchange.s2c);
}

#[test]
fn sequence_numbers_wrap_around() {
    let mut exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    exchange.client_isn = u32::MAX - 250;
    exchange.server_isn = u32::MAX;
    let packets = exchange.packets(0, 100);
    assert_exchange(
        only_flow(&parse(&pcap(ETHERNET, false, false, &packets))),
        &exchange,
    );
    // Reordered across the wrap too.
    let mut reordered = packets.clone();
    reordered.swap(5, 6);
    assert_exchange(
        only_flow(&parse(&pcap(ETHERNET, false, false, &reordered))),
        &exchange,
    );
}

#[test]
fn fin_and_reset_become_records_at_their_place() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let packets = exchange.packets(0, 700);
    let flow = parse(&pcap(RAW, false, false, &packets)).flows.remove(0);
    assert_eq!(shape(&flow), ["c2s 700", "s2c 58", "c2s eof", "s2c eof"]);

    // A FIN that overtakes the last data segment waits for it.
    let mut early_fin = packets.clone();
    let fin = early_fin.remove(5);
    early_fin.insert(3, fin);
    let flow = parse(&pcap(RAW, false, false, &early_fin)).flows.remove(0);
    assert_eq!(shape(&flow), ["c2s 700", "c2s eof", "s2c 58", "s2c eof"]);

    // The server resets after its answer; nothing after the reset counts.
    let (c, s) = (exchange.client, exchange.server);
    let mut reset = packets[..5].to_vec();
    reset.push(Packet::new(9_000_000, s, c, exchange.server_isn + 59, &[]).rst());
    reset.push(Packet::new(10_000_000, c, s, 1701, b"late"));
    let flow = parse(&pcap(RAW, false, false, &reset)).flows.remove(0);
    assert_eq!(shape(&flow), ["c2s 700", "s2c 58", "s2c rst"]);
    assert_eq!(flow.records[2].t_us, 8000);
    assert!(
        flow.notes
            .iter()
            .any(|n| n.contains("1 packet(s) with data or FIN after the connection closed")),
        "{:?}",
        flow.notes
    );
    // A refused connection: SYN, then RST from the server.
    let refused = [
        Packet::new(0, c, s, 7, &[]).syn().no_ack(),
        Packet::new(1000, s, c, 0, &[]).rst(),
    ];
    let flow = parse(&pcap(RAW, false, false, &refused)).flows.remove(0);
    assert_eq!(shape(&flow), ["s2c rst"]);
    assert_eq!(flow.client, Some(c));
}

#[test]
fn a_connection_reopened_on_the_same_ports_is_a_new_flow() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let mut again = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    again.client_isn = 777_777;
    again.c2s = b"second".to_vec();
    let mut packets = exchange.packets(0, 300);
    // A retransmitted SYN and a trailing ACK on the closed connection change nothing.
    packets.insert(1, packets[0].clone());
    packets.extend(again.packets(100_000_000, 300));
    let capture = parse(&pcap(ETHERNET, false, false, &packets));
    assert_eq!(capture.flows.len(), 2);
    assert_exchange(&capture.flows[0], &exchange);
    assert_exchange(&capture.flows[1], &again);
    // Times are relative to each flow's own first packet.
    assert_eq!(capture.flows[1].records[0].t_us, 3000);

    // A new SYN while the first is still open (its FINs never captured) ends it.
    let mut unfinished = exchange.packets(0, 300);
    unfinished.truncate(unfinished.len() - 3);
    unfinished.extend(again.packets(100_000_000, 300));
    let capture = parse(&pcap(ETHERNET, false, false, &unfinished));
    assert_eq!(capture.flows.len(), 2);
    assert_eq!(capture.flows[0].stream(C2S), exchange.c2s);
    assert!(
        capture.flows[0]
            .notes
            .iter()
            .any(|n| n.contains("a new connection on the same addresses")),
        "{:?}",
        capture.flows[0].notes
    );
    assert_exchange(&capture.flows[1], &again);
}

#[test]
fn without_a_syn_the_first_sender_is_the_client() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let packets = exchange.packets(0, 100);
    // Missing the SYN only: the SYN-ACK says who the client is.
    let flow = parse(&pcap(RAW, false, false, &packets[1..]))
        .flows
        .remove(0);
    assert_eq!(flow.client, Some(exchange.client));
    assert_eq!(flow.stream(C2S), exchange.c2s);
    assert!(
        flow.notes[0].contains("the SYN was not captured"),
        "{:?}",
        flow.notes
    );
    // Missing the handshake: the capture starts with the client's data.
    let flow = parse(&pcap(RAW, false, false, &packets[3..]))
        .flows
        .remove(0);
    assert_eq!(flow.client, Some(exchange.client));
    assert_eq!(flow.stream(C2S), exchange.c2s);
    assert_eq!(flow.stream(S2C), exchange.s2c);
    assert!(flow.notes[0].contains("no SYN seen"), "{:?}", flow.notes);
    // Starting with the server's answer: the server is taken for the client, as said.
    let server_first: Vec<Packet> = packets[10..].to_vec();
    let flow = parse(&pcap(RAW, false, false, &server_first))
        .flows
        .remove(0);
    assert_eq!(flow.client, Some(exchange.server));
    assert_eq!(flow.stream(C2S), exchange.s2c);
    assert!(flow.notes[0].contains("no SYN seen"), "{:?}", flow.notes);
    // A flow with nothing but ACKs records nothing and is left out.
    let acks = [Packet::new(0, exchange.client, exchange.server, 1, &[])];
    assert!(parse(&pcap(RAW, false, false, &acks)).flows.is_empty());
}

#[test]
fn a_hole_never_filled_cuts_the_stream_with_a_note() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let mut packets = exchange.packets(0, 100);
    packets.remove(5); // c2s bytes 200..300
    let flow = parse(&pcap(RAW, false, false, &packets)).flows.remove(0);
    assert_eq!(flow.stream(C2S), exchange.c2s[..200]);
    assert_eq!(flow.stream(S2C), exchange.s2c);
    let note = flow
        .notes
        .iter()
        .find(|n| n.starts_with("c2s:"))
        .expect("a note on the hole");
    assert!(note.contains("bytes 200..300"), "{note}");
    assert!(note.contains("by the end of the capture"), "{note}");
    assert!(note.contains("400 later bytes are dropped"), "{note}");
    // The FIN is still recorded, after the data.
    assert_eq!(
        shape(&flow),
        ["c2s 100", "c2s 100", "s2c 58", "s2c eof", "c2s eof"]
    );

    // With a reorder bound of 150 bytes, the hole is given up on when the third
    // segment after it arrives; what comes later is dropped too.
    let limits = CaptureLimits {
        max_reorder_bytes: 150,
        ..CaptureLimits::default()
    };
    let flow = Capture::parse(&pcap(RAW, false, false, &packets), &limits)
        .expect("reads")
        .flows
        .remove(0);
    assert_eq!(flow.stream(C2S), exchange.c2s[..200]);
    let note = flow
        .notes
        .iter()
        .find(|n| n.starts_with("c2s:"))
        .expect("a note");
    assert!(note.contains("before packet 7 overflowed"), "{note}");

    // A FIN after a hole with no data after it.
    let mut packets = exchange.packets(0, 100);
    packets.remove(9); // the last c2s segment, bytes 600..700
    let flow = parse(&pcap(RAW, false, false, &packets)).flows.remove(0);
    assert_eq!(flow.stream(C2S), exchange.c2s[..600]);
    assert!(
        flow.notes.iter().any(|n| n.contains("bytes 600..700")),
        "{:?}",
        flow.notes
    );
}

#[test]
fn truncated_packets_are_noted() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let mut packets = exchange.packets(0, 100);
    // Keep 60 bytes of the frame: 20 of IP, 20 of TCP, 20 of payload.
    packets[4] = packets[4].clone().snap(60);
    // And one cut inside its TCP header.
    packets[6] = packets[6].clone().snap(30);
    let flow = parse(&pcap(RAW, false, false, &packets)).flows.remove(0);
    assert_eq!(flow.stream(C2S), exchange.c2s[..120]);
    let notes = flow.notes.join("\n");
    assert!(
        notes
            .contains("1 packet(s) cut short by the capture's snap length (the first is packet 5)"),
        "{notes}"
    );
    assert!(
        notes.contains("capture: 1 packet(s) could not be decoded as far as TCP"),
        "{notes}"
    );
    assert!(notes.contains("packet 7: cut short"), "{notes}");
}

#[test]
fn other_protocols_and_link_types_are_skipped() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let mut bytes = pcap(RAW, false, false, &exchange.packets(0, 300));
    // A UDP datagram as one more record.
    let mut udp = Vec::new();
    etherparse::PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
        .udp(53, 53)
        .write(&mut udp, b"dns")
        .expect("builds");
    for field in [
        0u32,
        0,
        u32::try_from(udp.len()).unwrap(),
        u32::try_from(udp.len()).unwrap(),
    ] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(&udp);
    assert_exchange(only_flow(&parse(&bytes)), &exchange);

    // A link type that is not read at all is an error, naming it.
    let wifi = pcap(WIFI, false, false, &exchange.packets(0, 300));
    let error = Capture::parse(&wifi, &CaptureLimits::default()).unwrap_err();
    assert!(error.message.contains("link type 105"), "{error}");
    // In a pcapng file beside a known one, its packets are skipped with a note.
    let packets: Vec<(usize, PacketBlock, Packet)> = exchange
        .packets(0, 300)
        .into_iter()
        .flat_map(|p| {
            [
                (0, PacketBlock::Enhanced, p.clone()),
                (1, PacketBlock::Enhanced, p),
            ]
        })
        .collect();
    let bytes = pcapng_section(
        false,
        &[Interface::new(RAW, None), Interface::new(WIFI, None)],
        &packets,
    );
    let capture = parse(&bytes);
    assert_exchange_but_notes(only_flow(&capture), &exchange);
    assert!(
        capture.flows[0]
            .notes
            .iter()
            .any(|n| n.contains("link type 105")),
        "{:?}",
        capture.flows[0].notes
    );
}

fn assert_exchange_but_notes(flow: &Flow, exchange: &Exchange) {
    let mut quiet = flow.clone();
    quiet.notes.clear();
    assert_exchange(&quiet, exchange);
}

#[test]
fn a_file_cut_short_is_read_up_to_the_cut() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let whole = pcap(RAW, false, false, &exchange.packets(0, 700));
    // Into the last record (the final ACK: 16 + 40 bytes).
    let cut = &whole[..whole.len() - 10];
    let capture = parse(cut);
    let flow = only_flow(&capture);
    assert_exchange_but_notes(flow, &exchange);
    assert!(
        flow.notes[0].contains("the file ends in the middle of a record"),
        "{:?}",
        flow.notes
    );
    let whole = pcapng(RAW, &exchange.packets(0, 700));
    let capture = parse(&whole[..whole.len() - 10]);
    assert!(capture.flows[0].notes[0].contains("ends in the middle"));
}

#[test]
fn malformed_files_are_errors() {
    let limits = CaptureLimits::default();
    // A pcap header cut short.
    let error = Capture::parse(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0], &limits).unwrap_err();
    assert_eq!(error.at, "byte 0");
    // pcapng: a packet on an interface that was never described.
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let packets: Vec<(usize, PacketBlock, Packet)> = exchange
        .packets(0, 700)
        .into_iter()
        .map(|p| (0, PacketBlock::Enhanced, p))
        .collect();
    let mut bytes = pcapng_section(false, &[Interface::new(RAW, None)], &packets);
    // Rewrite the first EPB's interface id (right after the SHB of 28 bytes and the IDB
    // of 20) to 3.
    bytes[48 + 8] = 3;
    let error = Capture::parse(&bytes, &limits).unwrap_err();
    assert!(error.message.contains("interface 3"), "{error}");
    assert_eq!(error.at, "packet 1 (byte 48)");
    // A block whose two lengths disagree.
    let mut bytes = pcapng_section(false, &[Interface::new(RAW, None)], &packets);
    bytes[48 + 4] += 4;
    assert!(Capture::parse(&bytes, &limits).is_err());
    // A timestamp resolution no clock has.
    let bytes = pcapng_section(false, &[Interface::new(RAW, Some(20))], &packets);
    let error = Capture::parse(&bytes, &limits).unwrap_err();
    assert!(error.message.contains("if_tsresol 0x14"), "{error}");
}

#[test]
fn limits_hold() {
    let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    let mut other = Exchange::new("127.0.0.1:50001", "127.0.0.1:104");
    other.client_isn = 9;
    let mut packets = exchange.packets(0, 300);
    packets.extend(other.packets(0, 300));
    let bytes = pcap(RAW, false, false, &packets);
    let error = Capture::parse(
        &bytes,
        &CaptureLimits {
            max_flows: 1,
            ..CaptureLimits::default()
        },
    )
    .unwrap_err();
    assert!(
        error.message.contains("more than 1 TCP connections"),
        "{error}"
    );
    let error = Capture::parse(
        &bytes,
        &CaptureLimits {
            max_stream_bytes: 500,
            ..CaptureLimits::default()
        },
    )
    .unwrap_err();
    assert!(error.message.contains("more than 500 bytes c2s"), "{error}");
    assert_eq!(error.at, "packet 5");
}

/// The handshake, then every data segment of a flow, then both FINs.
fn flow_segments(exchange: &Exchange, mss: usize) -> (Vec<Packet>, Vec<Packet>, Vec<Packet>) {
    let packets = exchange.packets(0, mss);
    let (handshake, rest) = packets.split_at(3);
    let (data, tail) = rest.split_at(rest.len() - 3);
    (handshake.to_vec(), data.to_vec(), tail.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any order of a flow's data segments, with any of them repeated, reassembles to
    /// the same two streams while the reorder buffer can hold them all.
    #[test]
    fn any_permutation_with_duplicates_reassembles_the_same(
        isn in any::<u32>(),
        mss in 1usize..120,
        order in proptest::collection::vec(any::<proptest::sample::Index>(), 0..40),
        seed in any::<u64>(),
    ) {
        let mut exchange = Exchange::new("[::1]:50000", "[::1]:104");
        exchange.client_isn = isn;
        exchange.server_isn = isn.wrapping_mul(7);
        let (handshake, data, tail) = flow_segments(&exchange, mss);
        // Every segment once, in a shuffled order, plus the duplicates `order` picks.
        let mut shuffled = data.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
        }
        for index in &order {
            let at = index.index(shuffled.len() + 1);
            let copy = data[index.index(data.len())].clone();
            shuffled.insert(at, copy);
        }
        let mut packets = handshake;
        packets.extend(shuffled);
        packets.extend(tail);
        let capture = parse(&pcap(LINUX_SLL2, false, true, &packets));
        prop_assert_eq!(capture.flows.len(), 1);
        let flow = &capture.flows[0];
        prop_assert_eq!(flow.stream(C2S), exchange.c2s.clone());
        prop_assert_eq!(flow.stream(S2C), exchange.s2c.clone());
        prop_assert!(flow.notes.is_empty(), "{:?}", flow.notes);
        prop_assert!(flow.records.windows(2).all(|w| w[0].t_us <= w[1].t_us));
    }

    /// Arbitrary bytes after a capture's magic never panic, and never yield more than
    /// the limits allow.
    #[test]
    fn arbitrary_bytes_never_panic(
        magic in prop::sample::select(vec![
            vec![0xd4u8, 0xc3, 0xb2, 0xa1],
            vec![0xa1, 0xb2, 0xc3, 0xd4],
            vec![0x4d, 0x3c, 0xb2, 0xa1],
            vec![0x0a, 0x0d, 0x0d, 0x0a],
            vec![],
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut bytes = magic;
        bytes.extend(body);
        let limits = CaptureLimits { max_flows: 3, max_stream_bytes: 1000, max_reorder_bytes: 100 };
        if let Ok(capture) = Capture::parse(&bytes, &limits) {
            prop_assert!(capture.flows.len() <= 3);
        }
    }

    /// Damaging a real-looking capture anywhere never panics.
    #[test]
    fn damaged_captures_never_panic(
        damage in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<proptest::sample::Index>(),
        ng in any::<bool>(),
    ) {
        let exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
        let packets = exchange.packets(0, 97);
        let mut bytes = if ng { pcapng(LINUX_SLL, &packets) } else { pcap(ETHERNET, true, false, &packets) };
        for (at, value) in damage {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = Capture::parse(&bytes, &CaptureLimits::default());
    }
}

#[test]
fn too_many_held_back_segments_also_cut_the_stream() {
    // 5000 one-byte segments after a hole: the 4097th held back gives the hole up, well
    // before the byte bound.
    let mut exchange = Exchange::new("127.0.0.1:50000", "127.0.0.1:104");
    exchange.c2s = vec![7; 5001];
    let mut packets = exchange.packets(0, 1);
    packets.remove(3); // the first data byte
    let flow = parse(&pcap(RAW, false, false, &packets)).flows.remove(0);
    assert!(flow.stream(C2S).is_empty());
    let note = flow
        .notes
        .iter()
        .find(|n| n.starts_with("c2s:"))
        .expect("a note");
    // Packets 1-3 are the handshake: the 4097th byte after the hole is packet 4100.
    assert!(note.contains("bytes 0..1 "), "{note}");
    assert!(note.contains("before packet 4100 overflowed"), "{note}");
    assert!(note.contains("5000 later bytes are dropped"), "{note}");
}
