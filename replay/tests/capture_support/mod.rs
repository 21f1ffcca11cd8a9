//! A small pcap and pcapng writer for synthesising captures in tests: TCP segments over
//! IPv4 or IPv6 (headers built by etherparse), wrapped in the link header of each link
//! type by hand, so that the reader's own link decoding is what is tested.

#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, SocketAddr};

use etherparse::{PacketBuilder, TcpHeader};

pub const ETHERNET: u16 = 1;
pub const NULL: u16 = 0;
pub const RAW: u16 = 101;
pub const LOOP: u16 = 108;
pub const LINUX_SLL: u16 = 113;
pub const IPV4: u16 = 228;
pub const IPV6: u16 = 229;
pub const LINUX_SLL2: u16 = 276;
/// Not a link type the reader knows: IEEE 802.11.
pub const WIFI: u16 = 105;

/// One TCP segment on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Capture time in nanoseconds.
    pub t_ns: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: Vec<u8>,
    /// Bytes of the frame to keep (`None`: all); `orig_len` stays the full length.
    pub snap: Option<usize>,
    /// Put an 802.1Q VLAN tag in an Ethernet frame.
    pub vlan: bool,
}

impl Packet {
    pub fn new(t_ns: u64, src: SocketAddr, dst: SocketAddr, seq: u32, payload: &[u8]) -> Self {
        Self {
            t_ns,
            src,
            dst,
            seq,
            syn: false,
            ack: true,
            fin: false,
            rst: false,
            payload: payload.to_vec(),
            snap: None,
            vlan: false,
        }
    }

    pub fn syn(mut self) -> Self {
        self.syn = true;
        self
    }

    pub fn no_ack(mut self) -> Self {
        self.ack = false;
        self
    }

    pub fn fin(mut self) -> Self {
        self.fin = true;
        self
    }

    pub fn rst(mut self) -> Self {
        self.rst = true;
        self
    }

    pub fn snap(mut self, len: usize) -> Self {
        self.snap = Some(len);
        self
    }

    /// The IP packet: IPv4 or IPv6 header, TCP header, payload.
    pub fn ip(&self) -> Vec<u8> {
        let mut tcp = TcpHeader::new(self.src.port(), self.dst.port(), self.seq, 65535);
        tcp.syn = self.syn;
        tcp.ack = self.ack;
        tcp.fin = self.fin;
        tcp.rst = self.rst;
        tcp.acknowledgment_number = if self.ack { 1 } else { 0 };
        let builder = match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
            _ => panic!("mixed address families"),
        };
        let mut out = Vec::new();
        builder
            .tcp_header(tcp)
            .write(&mut out, &self.payload)
            .expect("a TCP packet builds");
        out
    }

    /// The whole frame for a link type, before snapping.
    pub fn frame(&self, linktype: u16) -> Vec<u8> {
        let ip = self.ip();
        let v6 = self.src.is_ipv6();
        let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
        let mut out = Vec::new();
        match linktype {
            ETHERNET => {
                out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                if self.vlan {
                    out.extend_from_slice(&[0x81, 0x00, 0x00, 0x2a]);
                }
                out.extend_from_slice(&ethertype);
            }
            LINUX_SLL => {
                // Packet type (host), ARPHRD_LOOPBACK, address length 6, address, protocol.
                out.extend_from_slice(&[0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
                out.extend_from_slice(&ethertype);
            }
            LINUX_SLL2 => {
                // Protocol, reserved, interface index 1, ARPHRD_LOOPBACK, host, 6, address.
                out.extend_from_slice(&ethertype);
                out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6]);
                out.extend_from_slice(&[0; 8]);
            }
            // AF_INET 2 / AF_INET6 10 as Linux has them; host order (little endian) for
            // NULL, network order for LOOP.
            NULL => out.extend_from_slice(&if v6 { 10u32 } else { 2 }.to_le_bytes()),
            LOOP => out.extend_from_slice(&if v6 { 24u32 } else { 2 }.to_be_bytes()),
            RAW | IPV4 | IPV6 => {}
            // Any bytes: the reader must skip them.
            _ => out.extend_from_slice(&[0x08, 0x02, 0, 0]),
        }
        out.extend_from_slice(&ip);
        out
    }

    /// The captured bytes and the original length.
    pub fn captured(&self, linktype: u16) -> (Vec<u8>, u32) {
        let mut frame = self.frame(linktype);
        let len = u32::try_from(frame.len()).expect("small frames");
        if let Some(snap) = self.snap {
            frame.truncate(snap);
        }
        (frame, len)
    }
}

fn u16s(v: u16, big: bool) -> [u8; 2] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u32s(v: u32, big: bool) -> [u8; 4] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// A classic pcap file.
pub fn pcap(linktype: u16, big_endian: bool, nanoseconds: bool, packets: &[Packet]) -> Vec<u8> {
    let magic: u32 = if nanoseconds {
        0xa1b2_3c4d
    } else {
        0xa1b2_c3d4
    };
    let mut out = Vec::new();
    out.extend_from_slice(&u32s(magic, big_endian));
    out.extend_from_slice(&u16s(2, big_endian));
    out.extend_from_slice(&u16s(4, big_endian));
    out.extend_from_slice(&u32s(0, big_endian)); // thiszone
    out.extend_from_slice(&u32s(0, big_endian)); // sigfigs
    out.extend_from_slice(&u32s(262_144, big_endian));
    out.extend_from_slice(&u32s(u32::from(linktype), big_endian));
    for p in packets {
        let (data, len) = p.captured(linktype);
        let seconds = u32::try_from(p.t_ns / 1_000_000_000).expect("before 2106");
        let fraction = p.t_ns % 1_000_000_000;
        let fraction = if nanoseconds {
            fraction
        } else {
            fraction / 1000
        };
        out.extend_from_slice(&u32s(seconds, big_endian));
        out.extend_from_slice(&u32s(u32::try_from(fraction).expect("< 1e9"), big_endian));
        out.extend_from_slice(&u32s(u32::try_from(data.len()).expect("small"), big_endian));
        out.extend_from_slice(&u32s(len, big_endian));
        out.extend_from_slice(&data);
    }
    out
}

/// One pcapng interface: its link type and `if_tsresol` (`None`: the default, µs).
#[derive(Debug, Clone, Copy)]
pub struct Interface {
    pub linktype: u16,
    pub tsresol: Option<u8>,
    pub snaplen: u32,
}

impl Interface {
    pub fn new(linktype: u16, tsresol: Option<u8>) -> Self {
        Self {
            linktype,
            tsresol,
            snaplen: 0,
        }
    }

    fn units(&self, t_ns: u64) -> u64 {
        match self.tsresol {
            None => t_ns / 1000,
            Some(r) if r & 0x80 == 0 => {
                let per_second = 10u128.pow(u32::from(r));
                u64::try_from(u128::from(t_ns) * per_second / 1_000_000_000).expect("fits")
            }
            Some(r) => {
                let per_second = 1u128 << (r & 0x7f);
                u64::try_from(u128::from(t_ns) * per_second / 1_000_000_000).expect("fits")
            }
        }
    }
}

/// What a pcapng packet is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketBlock {
    Enhanced,
    Simple,
}

fn block(out: &mut Vec<u8>, kind: u32, body: &[u8], big: bool) {
    let padded = body.len().div_ceil(4) * 4;
    let total = u32::try_from(12 + padded).expect("small blocks");
    out.extend_from_slice(&u32s(kind, big));
    out.extend_from_slice(&u32s(total, big));
    out.extend_from_slice(body);
    out.resize(out.len() + padded - body.len(), 0);
    out.extend_from_slice(&u32s(total, big));
}

/// A pcapng section: a section header, the interfaces, then each packet on its
/// interface as an Enhanced or a Simple Packet Block (the latter on interface 0 only).
pub fn pcapng_section(
    big_endian: bool,
    interfaces: &[Interface],
    packets: &[(usize, PacketBlock, Packet)],
) -> Vec<u8> {
    let big = big_endian;
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&u32s(0x1a2b_3c4d, big));
    shb.extend_from_slice(&u16s(1, big));
    shb.extend_from_slice(&u16s(0, big));
    shb.extend_from_slice(&u32s(u32::MAX, big)); // section length unknown
    shb.extend_from_slice(&u32s(u32::MAX, big));
    block(&mut out, 0x0a0d_0d0a, &shb, big);
    for interface in interfaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&u16s(interface.linktype, big));
        idb.extend_from_slice(&u16s(0, big));
        idb.extend_from_slice(&u32s(interface.snaplen, big));
        if let Some(r) = interface.tsresol {
            idb.extend_from_slice(&u16s(9, big));
            idb.extend_from_slice(&u16s(1, big));
            idb.extend_from_slice(&[r, 0, 0, 0]);
            idb.extend_from_slice(&u16s(0, big)); // opt_endofopt
            idb.extend_from_slice(&u16s(0, big));
        }
        block(&mut out, 1, &idb, big);
    }
    for (i, kind, p) in packets {
        let interface = interfaces[*i];
        let (data, len) = p.captured(interface.linktype);
        let mut body = Vec::new();
        match kind {
            PacketBlock::Enhanced => {
                let units = interface.units(p.t_ns);
                body.extend_from_slice(&u32s(u32::try_from(*i).expect("few"), big));
                body.extend_from_slice(&u32s(u32::try_from(units >> 32).expect("high"), big));
                body.extend_from_slice(&u32s(
                    u32::try_from(units & 0xffff_ffff).expect("low"),
                    big,
                ));
                body.extend_from_slice(&u32s(u32::try_from(data.len()).expect("small"), big));
                body.extend_from_slice(&u32s(len, big));
                body.extend_from_slice(&data);
                block(&mut out, 6, &body, big);
            }
            PacketBlock::Simple => {
                assert_eq!(*i, 0, "simple packet blocks are on interface 0");
                body.extend_from_slice(&u32s(len, big));
                body.extend_from_slice(&data);
                block(&mut out, 3, &body, big);
            }
        }
    }
    out
}

/// A pcapng file of one little-endian section with every packet as an Enhanced Packet
/// Block on interface 0 of the given link type.
pub fn pcapng(linktype: u16, packets: &[Packet]) -> Vec<u8> {
    let packets: Vec<(usize, PacketBlock, Packet)> = packets
        .iter()
        .map(|p| (0, PacketBlock::Enhanced, p.clone()))
        .collect();
    pcapng_section(false, &[Interface::new(linktype, None)], &packets)
}

pub fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

/// A small, complete exchange: handshake, a request in two segments, a response, and
/// both FINs. `c2s` is split in two at `split`.
pub struct Exchange {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub client_isn: u32,
    pub server_isn: u32,
    pub c2s: Vec<u8>,
    pub s2c: Vec<u8>,
}

impl Exchange {
    pub fn new(client: &str, server: &str) -> Self {
        Self {
            client: addr(client),
            server: addr(server),
            client_isn: 1000,
            server_isn: 5_000_000,
            c2s: (0..=255u8).cycle().take(700).collect(),
            s2c: b"the server's answer, somewhat longer than one line of text".to_vec(),
        }
    }

    /// Packets in wire order, one millisecond apart, starting at `t0_ns`; data segments
    /// of at most `mss` bytes.
    pub fn packets(&self, t0_ns: u64, mss: usize) -> Vec<Packet> {
        let (c, s) = (self.client, self.server);
        let mut t = t0_ns;
        let mut tick = || {
            t += 1_000_000;
            t
        };
        let mut out = vec![
            Packet::new(tick(), c, s, self.client_isn, &[])
                .syn()
                .no_ack(),
            Packet::new(tick(), s, c, self.server_isn, &[]).syn(),
            Packet::new(tick(), c, s, self.client_isn.wrapping_add(1), &[]),
        ];
        let mut seq = self.client_isn.wrapping_add(1);
        for chunk in self.c2s.chunks(mss) {
            out.push(Packet::new(tick(), c, s, seq, chunk));
            seq = seq.wrapping_add(u32::try_from(chunk.len()).expect("small"));
        }
        let client_fin = seq;
        let mut seq = self.server_isn.wrapping_add(1);
        for chunk in self.s2c.chunks(mss) {
            out.push(Packet::new(tick(), s, c, seq, chunk));
            seq = seq.wrapping_add(u32::try_from(chunk.len()).expect("small"));
        }
        out.push(Packet::new(tick(), c, s, client_fin, &[]).fin());
        out.push(Packet::new(tick(), s, c, seq, &[]).fin());
        out.push(Packet::new(tick(), c, s, client_fin.wrapping_add(1), &[]));
        out
    }
}
