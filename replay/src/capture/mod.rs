//! Captures: what a recorded connection said, in which direction, and when.
//!
//! Every input format is turned into the same model: a [`Capture`] holds [`Flow`]s, one
//! per TCP connection (one association), and a flow is a time-ordered list of
//! [`Record`]s, each the bytes one side sent (or its FIN / reset) with the time it was
//! seen, in microseconds since the flow began.
//!
//! Formats: the `dicom-peers-capture/1` JSON lines of a recording proxy, and pcap or
//! pcapng files as tcpdump, dumpcap and Wireshark write them (Ethernet, Linux cooked v1
//! and v2, BSD loopback and raw IP link types; IPv4 and IPv6), whose TCP connections are
//! reassembled: one flow per connection, the SYN's sender as the client, a new SYN on
//! the addresses of a closed connection starting a new flow; the first-seen copy of
//! every byte kept (retransmissions and overlaps add nothing); segments that arrive
//! ahead of a hole held back, up to [`CaptureLimits::max_reorder_bytes`]; a hole never
//! filled cuts that direction's stream there, since bytes after it are not contiguous
//! with the ones before. FIN becomes [`RecordKind::Eof`], RST [`RecordKind::Reset`].
//! Anything unusual (no SYN seen, a hole, packets cut short by the snap length, a file
//! that ends mid-record) is said in [`Flow::notes`]. Whatever the format, reading is
//! bounded by [`CaptureLimits`], and an arbitrary file is an error or a capture, never
//! a panic.
//!
//! ```
//! use dicomwire_replay::capture::{Capture, CaptureFormat, CaptureLimits, Direction, RecordKind};
//!
//! let file = concat!(
//!     r#"{"meta": {"format": "dicom-peers-capture/1", "label": "an echo", "upstream": "127.0.0.1:104"}}"#, "\n",
//!     r#"{"conn": 0, "event": "open", "t_us": 0, "client": "127.0.0.1:50000"}"#, "\n",
//!     r#"{"conn": 0, "dir": "c2s", "t_us": 120, "len": 2, "hex": "0100"}"#, "\n",
//!     r#"{"conn": 0, "event": "eof", "dir": "c2s", "t_us": 300}"#, "\n",
//! );
//! let capture = Capture::parse(file.as_bytes(), &CaptureLimits::default())?;
//! assert_eq!(capture.format, CaptureFormat::JsonLines);
//! let flow = &capture.flows[0];
//! assert_eq!(flow.client, Some("127.0.0.1:50000".parse().unwrap()));
//! assert_eq!(flow.stream(Direction::ClientToServer), [0x01, 0x00]);
//! assert_eq!(flow.records[1].kind, RecordKind::Eof);
//! # Ok::<(), dicomwire_replay::capture::CaptureError>(())
//! ```

mod jsonl;
mod pcap;
mod tcp;

use std::fmt;
use std::net::SocketAddr;

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Connection initiator (association requestor) to acceptor.
    ClientToServer,
    /// Acceptor to initiator.
    ServerToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Self {
        match self {
            Self::ClientToServer => Self::ServerToClient,
            Self::ServerToClient => Self::ClientToServer,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientToServer => "c2s",
            Self::ServerToClient => "s2c",
        })
    }
}

/// What one record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    /// Bytes, contiguous with the previous data of the same direction.
    Data(Vec<u8>),
    /// The sender closed its half of the connection (FIN).
    Eof,
    /// The sender reset the connection (RST).
    Reset,
}

/// One observation on a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Microseconds since the flow began (its first record or connection open).
    pub t_us: u64,
    /// Who sent it.
    pub dir: Direction,
    /// What was seen.
    pub kind: RecordKind,
}

/// One TCP connection: one association (a C-MOVE sub-association is a flow of its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// The initiator's address, when the format records it.
    pub client: Option<SocketAddr>,
    /// The acceptor's address, when the format records it.
    pub server: Option<SocketAddr>,
    /// Time-ordered records; within a direction, data records are contiguous and in
    /// stream order.
    pub records: Vec<Record>,
    /// Things worth telling a reader about how the flow was rebuilt (a gap in the
    /// stream, a capture that starts mid-connection, ...), in words.
    pub notes: Vec<String>,
}

impl Flow {
    /// The concatenated bytes of one direction.
    pub fn stream(&self, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        for record in &self.records {
            if let (true, RecordKind::Data(bytes)) = (record.dir == dir, &record.kind) {
                out.extend_from_slice(bytes);
            }
        }
        out
    }
}

/// The file formats a capture can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// `dicom-peers-capture/1`: JSON lines written by a recording TCP proxy.
    JsonLines,
    /// libpcap's classic format.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// A whole capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// What kind of file it was.
    pub format: CaptureFormat,
    /// A label for people (the JSON-lines meta label; empty for packet captures).
    pub label: String,
    /// The connections, in the order they began.
    pub flows: Vec<Flow>,
}

/// Bounds on what reading a capture may allocate, so that an arbitrary file (a fuzzer's,
/// a corrupted one) cannot take all memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureLimits {
    /// Most flows kept; more is an error.
    pub max_flows: usize,
    /// Most stream bytes kept per direction of a flow; more is an error.
    pub max_stream_bytes: usize,
    /// Most bytes a packet capture's TCP reassembly holds per direction of a flow while
    /// they wait for a hole before them to be filled (segments out of order). When more
    /// wait (or more than 4096 segments), the hole is taken to be lost: the direction's
    /// stream is cut there, and a note says so.
    pub max_reorder_bytes: usize,
}

impl Default for CaptureLimits {
    fn default() -> Self {
        Self {
            max_flows: 4096,
            max_stream_bytes: 1 << 30,
            max_reorder_bytes: 16 << 20,
        }
    }
}

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// Where: a line number, a packet number or a byte offset, in words.
    pub at: String,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl std::error::Error for CaptureError {}

impl Capture {
    /// Reads a capture in any supported format, recognised by its first bytes.
    pub fn parse(bytes: &[u8], limits: &CaptureLimits) -> Result<Self, CaptureError> {
        match sniff(bytes) {
            Some(CaptureFormat::JsonLines) => jsonl::parse(bytes, limits),
            Some(CaptureFormat::Pcap) => pcap::parse_pcap(bytes, limits),
            Some(CaptureFormat::PcapNg) => pcap::parse_pcapng(bytes, limits),
            None => Err(CaptureError {
                at: "byte 0".into(),
                message: "not a capture: neither JSON lines, pcap nor pcapng".into(),
            }),
        }
    }
}

/// Recognises a capture's format from its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<CaptureFormat> {
    match bytes.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d] => Some(CaptureFormat::Pcap),
        [0x0a, 0x0d, 0x0d, 0x0a] => Some(CaptureFormat::PcapNg),
        _ if bytes.trim_ascii_start().first() == Some(&b'{') => Some(CaptureFormat::JsonLines),
        _ => None,
    }
}
