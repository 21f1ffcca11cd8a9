//! Packet captures: libpcap's classic format and pcapng, as tcpdump, dumpcap and
//! Wireshark write them, read with `pcap-parser`; link, IP and TCP headers read with
//! `etherparse`; the TCP streams rebuilt by [`super::tcp`].
//!
//! Link types: Ethernet (with VLAN tags), Linux cooked capture v1 and v2 (`tcpdump -i
//! any`), BSD loopback (`NULL` and `LOOP`, a 4-byte address family before the IP header)
//! and raw IP (`RAW`, `IPV4`, `IPV6`). IPv4 and IPv6. Packets of any other link type, and
//! anything that is not TCP, are skipped.
//!
//! A file that ends in the middle of a record (a capture stopped abruptly) is read up to
//! there, with a note; a record that is malformed is an error. Things that concern the
//! whole file rather than one connection are added to the notes of every flow.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::pcapng::{Block, InterfaceDescriptionBlock, OptionCode};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{Linktype, PcapError};

use super::tcp::{Reassembler, Segment};
use super::{Capture, CaptureError, CaptureFormat, CaptureLimits};

type ParseError<'a> = pcap_parser::nom::Err<PcapError<&'a [u8]>>;

/// Reads a classic pcap file, either byte order, microsecond or nanosecond timestamps.
pub(crate) fn parse_pcap(bytes: &[u8], limits: &CaptureLimits) -> Result<Capture, CaptureError> {
    let (mut rest, header) = pcap_parser::parse_pcap_header(bytes).map_err(|e| CaptureError {
        at: "byte 0".into(),
        message: format!("not a pcap file header: {}", describe(&e)),
    })?;
    // The upper bits of the field may carry FCS information; the link type is below.
    let linktype = Linktype(header.network.0 & 0xffff);
    let frac_ns: i128 = if header.is_nanosecond_precision() {
        1
    } else {
        1000
    };
    let mut frames = Frames::new(limits);
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let parsed = if header.is_bigendian() {
            pcap_parser::parse_pcap_frame_be(rest)
        } else {
            pcap_parser::parse_pcap_frame(rest)
        };
        match parsed {
            Ok((after, frame)) => {
                rest = after;
                let time_ns =
                    i128::from(frame.ts_sec) * 1_000_000_000 + i128::from(frame.ts_usec) * frac_ns;
                frames.frame(time_ns, linktype, frame.data, frame.origlen)?;
            }
            Err(pcap_parser::nom::Err::Incomplete(_)) => {
                frames.file_ends_early(offset);
                break;
            }
            Err(e) => return Err(frames.malformed(offset, &e)),
        }
    }
    frames.finish(CaptureFormat::Pcap)
}

/// One interface of a pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: Linktype,
    /// Timestamp units per second, if `if_tsresol` gives a usable one.
    units_per_second: Option<u64>,
    /// Seconds to add to every timestamp (`if_tsoffset`).
    offset_s: i64,
    /// Most bytes captured of a packet; 0 for no limit.
    snaplen: u32,
    /// The raw `if_tsresol`, for the error about it.
    tsresol: u8,
}

impl Interface {
    fn new(idb: &InterfaceDescriptionBlock<'_>, big_endian: bool) -> Self {
        let offset_s = idb
            .options
            .iter()
            .find(|o| o.code == OptionCode::IfTsoffset)
            .and_then(|o| <[u8; 8]>::try_from(o.value.get(..8)?).ok())
            .map_or(0, |b| {
                if big_endian {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                }
            });
        Self {
            linktype: idb.linktype,
            units_per_second: units_per_second(idb.if_tsresol),
            offset_s,
            snaplen: idb.snaplen,
            tsresol: idb.if_tsresol,
        }
    }

    /// A timestamp in nanoseconds since the epoch (or the interface's origin).
    fn time_ns(&self, units: u64, packet: u64) -> Result<i128, CaptureError> {
        let per_second = self.units_per_second.ok_or_else(|| CaptureError {
            at: format!("packet {packet}"),
            message: format!(
                "its interface's if_tsresol 0x{:02x} is not a resolution a timestamp can have",
                self.tsresol
            ),
        })?;
        let units = i128::from(units);
        let per_second = i128::from(per_second);
        let ns =
            units / per_second * 1_000_000_000 + units % per_second * 1_000_000_000 / per_second;
        Ok(ns + i128::from(self.offset_s) * 1_000_000_000)
    }
}

/// pcapng's `if_tsresol`: a power of ten (high bit clear) or of two (high bit set).
fn units_per_second(tsresol: u8) -> Option<u64> {
    let exponent = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exponent)
    } else {
        2u64.checked_pow(exponent)
    }
}

/// Reads a pcapng file: any number of sections, either byte order, interfaces of
/// different link types and timestamp resolutions, Enhanced and Simple Packet Blocks.
pub(crate) fn parse_pcapng(bytes: &[u8], limits: &CaptureLimits) -> Result<Capture, CaptureError> {
    let mut frames = Frames::new(limits);
    let mut rest = bytes;
    let mut big_endian = false;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut last_time_ns = 0;
    let mut simple_packets = false;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let parsed = if big_endian {
            pcap_parser::pcapng::parse_block_be(rest)
        } else {
            pcap_parser::pcapng::parse_block_le(rest)
        };
        let block = match parsed {
            Ok((after, _)) if after.len() >= rest.len() => {
                return Err(CaptureError {
                    at: format!("byte {offset}"),
                    message: "a block of length 0".into(),
                });
            }
            Ok((after, block)) => {
                rest = after;
                block
            }
            Err(pcap_parser::nom::Err::Incomplete(_)) => {
                frames.file_ends_early(offset);
                break;
            }
            Err(e) => return Err(frames.malformed(offset, &e)),
        };
        if offset == 0 && !matches!(block, Block::SectionHeader(_)) {
            return Err(CaptureError {
                at: "byte 0".into(),
                message: "a pcapng file must begin with a section header block".into(),
            });
        }
        match block {
            Block::SectionHeader(shb) => {
                big_endian = shb.big_endian();
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => {
                interfaces.push(Interface::new(&idb, big_endian));
            }
            Block::EnhancedPacket(epb) => {
                let packet = frames.packets + 1;
                let interface = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|i| interfaces.get(i))
                    .ok_or_else(|| CaptureError {
                        at: format!("packet {packet} (byte {offset})"),
                        message: format!(
                            "interface {} was not described in its section",
                            epb.if_id
                        ),
                    })?;
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                last_time_ns = interface.time_ns(units, packet)?;
                frames.frame(
                    last_time_ns,
                    interface.linktype,
                    epb.packet_data(),
                    epb.orig_len(),
                )?;
            }
            Block::SimplePacket(spb) => {
                let packet = frames.packets + 1;
                let interface = interfaces.first().ok_or_else(|| CaptureError {
                    at: format!("packet {packet} (byte {offset})"),
                    message: "a simple packet block in a section without interfaces".into(),
                })?;
                // The block holds min(original length, snap length) bytes, then padding.
                let mut captured = spb.packet_data();
                if interface.snaplen > 0 {
                    let snaplen = usize::try_from(interface.snaplen).unwrap_or(usize::MAX);
                    captured = &captured[..captured.len().min(snaplen)];
                }
                simple_packets = true;
                frames.frame(last_time_ns, interface.linktype, captured, spb.orig_len())?;
            }
            _ => {}
        }
    }
    if simple_packets {
        frames.notes.push(
            "capture: simple packet blocks carry no timestamp; each takes the time of the \
             packet before it"
                .into(),
        );
    }
    frames.finish(CaptureFormat::PcapNg)
}

/// Frames of any link type, decoded down to TCP and fed to the reassembler.
#[derive(Debug)]
struct Frames {
    reassembler: Reassembler,
    /// Packets seen so far.
    packets: u64,
    /// Frames that could not be decoded as far as their TCP payload: how many, the
    /// first, and why it could not.
    undecodable: Option<(u64, u64, String)>,
    /// Packets skipped because of their link type, by link type.
    unsupported: BTreeMap<i32, u64>,
    /// Notes about the whole file.
    notes: Vec<String>,
}

impl Frames {
    fn new(limits: &CaptureLimits) -> Self {
        Self {
            reassembler: Reassembler::new(limits),
            packets: 0,
            undecodable: None,
            unsupported: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    fn frame(
        &mut self,
        time_ns: i128,
        linktype: Linktype,
        data: &[u8],
        orig_len: u32,
    ) -> Result<(), CaptureError> {
        self.packets += 1;
        let packet = self.packets;
        let truncated = usize::try_from(orig_len).is_ok_and(|len| len > data.len());
        let sliced = match slice(linktype, data) {
            None => {
                *self.unsupported.entry(linktype.0).or_default() += 1;
                return Ok(());
            }
            Some(Err(why)) => {
                self.undecodable(packet, why, truncated);
                return Ok(());
            }
            Some(Ok(sliced)) => sliced,
        };
        let (src, dst, ip_payload) = match &sliced.net {
            Some(LaxNetSlice::Ipv4(ip)) => (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
                ip.payload(),
            ),
            Some(LaxNetSlice::Ipv6(ip)) => (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
                ip.payload(),
            ),
            _ => {
                if let Some((error, _)) = &sliced.stop_err {
                    self.undecodable(packet, error.to_string(), truncated);
                }
                return Ok(());
            }
        };
        if ip_payload.ip_number != IpNumber::TCP {
            return Ok(());
        }
        let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
            let why = if ip_payload.fragmented {
                "a fragment of an IP packet (TCP in IP fragments is not reassembled)".into()
            } else if let Some((error, _)) = &sliced.stop_err {
                error.to_string()
            } else {
                "no TCP header".into()
            };
            self.undecodable(packet, why, truncated);
            return Ok(());
        };
        let segment = Segment {
            src: SocketAddr::new(src, tcp.source_port()),
            dst: SocketAddr::new(dst, tcp.destination_port()),
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
            truncated: truncated || ip_payload.incomplete,
        };
        self.reassembler.handle(packet, time_ns, &segment)
    }

    fn undecodable(&mut self, packet: u64, why: String, truncated: bool) {
        let why = if truncated {
            format!("cut short by the snap length ({why})")
        } else {
            why
        };
        match &mut self.undecodable {
            Some((n, _, _)) => *n += 1,
            None => self.undecodable = Some((1, packet, why)),
        }
    }

    fn file_ends_early(&mut self, offset: usize) {
        self.notes.push(format!(
            "capture: the file ends in the middle of a record at byte {offset}; it is read up to \
             there"
        ));
    }

    fn malformed(&self, offset: usize, error: &ParseError<'_>) -> CaptureError {
        CaptureError {
            at: format!("byte {offset} (after packet {})", self.packets),
            message: format!("a malformed record: {}", describe(error)),
        }
    }

    fn finish(mut self, format: CaptureFormat) -> Result<Capture, CaptureError> {
        if let Some((n, first, why)) = self.undecodable.take() {
            self.notes.insert(
                0,
                format!(
                    "capture: {n} packet(s) could not be decoded as far as TCP and were skipped \
                     (the first is packet {first}: {why})"
                ),
            );
        }
        for (linktype, n) in &self.unsupported {
            self.notes.push(format!(
                "capture: {n} packet(s) of link type {linktype}, which is not read, were skipped"
            ));
        }
        let flows = self.reassembler.finish(&self.notes);
        if flows.is_empty() {
            if let Some((&linktype, _)) = self.unsupported.iter().next() {
                return Err(CaptureError {
                    at: "byte 0".into(),
                    message: format!(
                        "link type {linktype} is not read (Ethernet, Linux cooked v1 and v2, \
                         BSD loopback and raw IP are)"
                    ),
                });
            }
        }
        Ok(Capture {
            format,
            label: String::new(),
            flows,
        })
    }
}

/// The headers of a frame, from its link layer down; `None` for a link type not read.
fn slice(linktype: Linktype, data: &[u8]) -> Option<Result<LaxSlicedPacket<'_>, String>> {
    let too_short = |what: &str| Err(format!("shorter than a {what} header"));
    Some(match linktype {
        Linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).map_err(|e| e.to_string()),
        // Linux cooked capture v1: 16 bytes, the protocol (an EtherType) last.
        Linktype::LINUX_SLL => match (data.get(14..16), data.get(16..)) {
            (Some(&[hi, lo]), Some(rest)) => Ok(LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([hi, lo])),
                rest,
            )),
            _ => too_short("Linux cooked"),
        },
        // Linux cooked capture v2: 20 bytes, the protocol (an EtherType) first.
        Linktype::LINUX_SLL2 => match (data.get(0..2), data.get(20..)) {
            (Some(&[hi, lo]), Some(rest)) => Ok(LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([hi, lo])),
                rest,
            )),
            _ => too_short("Linux cooked v2"),
        },
        // BSD loopback: a 4-byte address family, in the capturing host's byte order for
        // NULL and in network order for LOOP, whose values differ between systems; the IP
        // header's version field says the same, so that is what is read.
        Linktype::NULL | Linktype::LOOP => match data.get(4..) {
            Some(rest) => LaxSlicedPacket::from_ip(rest).map_err(|e| e.to_string()),
            None => too_short("loopback"),
        },
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => {
            LaxSlicedPacket::from_ip(data).map_err(|e| e.to_string())
        }
        _ => return None,
    })
}

/// Words for a pcap-parser error.
fn describe(error: &ParseError<'_>) -> String {
    match error {
        pcap_parser::nom::Err::Incomplete(_) => "the file ends too early".into(),
        pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e) => match e {
            PcapError::HeaderNotRecognized => "not recognised".into(),
            PcapError::NomError(_, kind) => format!("{kind:?}"),
            other => format!("{other:?}"),
        },
    }
}
