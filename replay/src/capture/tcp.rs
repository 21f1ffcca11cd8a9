//! TCP reassembly: segments, as a packet capture saw them, turned into [`Flow`]s.
//!
//! One flow per connection, keyed by its two socket addresses. The client is the side that
//! sent the SYN (or, if only the SYN-ACK was captured, the side it went to; if neither,
//! the side seen first, which a note says). A SYN on the addresses of a closed connection,
//! or one with a new initial sequence number, starts a new flow.
//!
//! Per direction the reassembler tracks the next expected byte as a 64-bit stream offset
//! (sequence numbers are compared modulo 2^32, so a stream may wrap around), keeps the
//! first-seen copy of every byte (a retransmission or an overlapping segment adds nothing),
//! and buffers segments that arrive ahead of a hole, up to
//! [`CaptureLimits::max_reorder_bytes`]. Bytes become a [`RecordKind::Data`] record at
//! the time of the packet that made them contiguous, so records are in stream order and
//! contiguous, as [`Flow`] promises.
//!
//! A hole that is never filled (the buffer overflows, or the capture ends with bytes
//! still waiting) **cuts** that direction: its stream stops at the hole, later bytes are
//! dropped, and a note says where and how much. Bytes on both sides of a hole are not
//! one stream, and a DICOM reader could not find the next PDU boundary after one anyway.
//! A FIN becomes [`RecordKind::Eof`] once every byte before it was delivered (or, after a
//! cut, when the capture ends); an RST becomes [`RecordKind::Reset`] at once and closes
//! the connection.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::{CaptureError, CaptureLimits, Direction, Flow, Record, RecordKind};

/// Most segments held back per direction, whatever their size: a segment that overlaps
/// held-back ones is cut to the holes between them, a walk over those it overlaps, and
/// this bounds that walk (and the map's overhead) on a hostile file of tiny segments.
const MAX_PENDING_SEGMENTS: usize = 4096;

/// What the reassembler needs of one TCP segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    /// The sender.
    pub(crate) src: SocketAddr,
    /// The receiver.
    pub(crate) dst: SocketAddr,
    /// The sequence number of the segment (of its SYN, if it carries one).
    pub(crate) seq: u32,
    /// The SYN flag.
    pub(crate) syn: bool,
    /// The ACK flag.
    pub(crate) ack: bool,
    /// The FIN flag.
    pub(crate) fin: bool,
    /// The RST flag.
    pub(crate) rst: bool,
    /// The payload bytes that were captured.
    pub(crate) payload: &'a [u8],
    /// The packet was cut short by the capture's snap length: `payload` is only the
    /// beginning of what was sent.
    pub(crate) truncated: bool,
}

/// Rebuilds connections from segments fed in capture order.
#[derive(Debug)]
pub(crate) struct Reassembler {
    limits: CaptureLimits,
    conns: Vec<Conn>,
    /// The latest connection on each address pair (smaller address first).
    latest: HashMap<(SocketAddr, SocketAddr), usize>,
}

impl Reassembler {
    pub(crate) fn new(limits: &CaptureLimits) -> Self {
        Self {
            limits: *limits,
            conns: Vec::new(),
            latest: HashMap::new(),
        }
    }

    /// Takes one segment, captured at `time_ns` (nanoseconds on any fixed origin), from
    /// packet number `packet` (1-based, for notes and errors).
    pub(crate) fn handle(
        &mut self,
        packet: u64,
        time_ns: i128,
        segment: &Segment<'_>,
    ) -> Result<(), CaptureError> {
        let key = if segment.src <= segment.dst {
            (segment.src, segment.dst)
        } else {
            (segment.dst, segment.src)
        };
        let index = match self.latest.get(&key) {
            Some(&i) if !self.conns[i].starts_over(segment) => i,
            previous => {
                if let Some(&i) = previous {
                    let old = &mut self.conns[i];
                    if !old.closed {
                        old.closed = true;
                        old.notes.push(format!(
                            "packet {packet}: a new connection on the same addresses began \
                             before this one was closed"
                        ));
                    }
                }
                if self.conns.len() >= self.limits.max_flows {
                    return Err(CaptureError {
                        at: format!("packet {packet}"),
                        message: format!("more than {} TCP connections", self.limits.max_flows),
                    });
                }
                self.conns.push(Conn::new(packet, time_ns, segment));
                self.latest.insert(key, self.conns.len() - 1);
                self.conns.len() - 1
            }
        };
        self.conns[index].handle(packet, time_ns, segment, &self.limits)
    }

    /// Ends the capture: holes still open are cut, pending FINs recorded, and every
    /// connection that recorded anything becomes a flow, in the order they began, each
    /// with `capture_notes` (things about the whole file) after its own notes.
    pub(crate) fn finish(self, capture_notes: &[String]) -> Vec<Flow> {
        self.conns
            .into_iter()
            .filter_map(|conn| conn.finish(capture_notes))
            .collect()
    }
}

/// One connection being rebuilt.
#[derive(Debug)]
struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    /// The time of its first packet: `t_us` counts from here.
    origin_ns: i128,
    records: Vec<Record>,
    notes: Vec<String>,
    /// Client to server, then server to client.
    halves: [Half; 2],
    /// A reset was seen, or both FINs were delivered, or a new connection took over.
    closed: bool,
    /// A reset was seen.
    reset: bool,
    /// Packets that came after the connection closed, and the first of them.
    ignored_after_close: Option<(u64, u64)>,
    /// Packets cut short by the snap length, and the first of them.
    truncated: Option<(u64, u64)>,
}

impl Conn {
    fn new(packet: u64, time_ns: i128, segment: &Segment<'_>) -> Self {
        let (client, server, note) = match (segment.syn, segment.ack) {
            (true, false) => (segment.src, segment.dst, None),
            (true, true) => (
                segment.dst,
                segment.src,
                Some("the SYN was not captured: the client is the side the SYN-ACK went to"),
            ),
            (false, _) => (
                segment.src,
                segment.dst,
                Some(
                    "no SYN seen: the capture starts in the middle of the connection, and the \
                     client is taken to be the side that sent first",
                ),
            ),
        };
        let mut notes = Vec::new();
        if let Some(note) = note {
            notes.push(format!("packet {packet}: {note}"));
        }
        Self {
            client,
            server,
            origin_ns: time_ns,
            records: Vec::new(),
            notes,
            halves: [Half::default(), Half::default()],
            closed: false,
            reset: false,
            ignored_after_close: None,
            truncated: None,
        }
    }

    fn direction(&self, segment: &Segment<'_>) -> Direction {
        if segment.src == self.client && segment.dst == self.server {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }

    /// Whether `segment` opens a new connection on these addresses: a SYN after this one
    /// closed, or a SYN whose initial sequence number is not the one this connection
    /// began with (a retransmitted SYN or SYN-ACK is not new).
    fn starts_over(&self, segment: &Segment<'_>) -> bool {
        if !segment.syn || segment.rst {
            return false;
        }
        let half = &self.halves[self.direction(segment) as usize];
        match half.isn {
            Some(isn) => isn != segment.seq,
            // No SYN seen from that side yet: a connection that began mid-capture, or
            // that is being opened now. Only a closed one, or one where that side has
            // already sent data, is replaced.
            None => self.closed || half.base.is_some(),
        }
    }

    fn handle(
        &mut self,
        packet: u64,
        time_ns: i128,
        segment: &Segment<'_>,
        limits: &CaptureLimits,
    ) -> Result<(), CaptureError> {
        if self.closed {
            if self.carries_news(segment) {
                count(&mut self.ignored_after_close, packet);
            }
            return Ok(());
        }
        if segment.truncated {
            count(&mut self.truncated, packet);
        }
        let dir = self.direction(segment);
        let t_us = self.t_us(time_ns);
        let half = &mut self.halves[dir as usize];
        let data_seq = if segment.syn {
            half.isn.get_or_insert(segment.seq);
            half.base.get_or_insert(segment.seq.wrapping_add(1));
            segment.seq.wrapping_add(1)
        } else {
            half.base.get_or_insert(segment.seq);
            segment.seq
        };
        let start = half.offset_of(data_seq);
        let end = start + segment.payload.len() as i128;
        if !segment.payload.is_empty() {
            half.insert(start, segment.payload);
        }
        if segment.fin && half.fin_at.is_none() {
            half.fin_at = Some((end.max(half.delivered_i128()), t_us));
        }
        let delivered = half
            .deliver(limits.max_stream_bytes)
            .map_err(|()| CaptureError {
                at: format!("packet {packet}"),
                message: format!(
                    "more than {} bytes {dir} on the connection from {}",
                    limits.max_stream_bytes, self.client
                ),
            })?;
        if half.pending_bytes > limits.max_reorder_bytes
            || half.pending.len() > MAX_PENDING_SEGMENTS
        {
            half.cut(CutReason::Overflow(packet));
        }
        self.push_data(t_us, dir, delivered);
        self.push_eof_if_due(dir, t_us);
        if segment.rst {
            self.halves[dir as usize].cut(CutReason::Reset(packet));
            self.push(t_us, dir, RecordKind::Reset);
            self.closed = true;
            self.reset = true;
        }
        if self.halves.iter().all(|h| h.eof_recorded) {
            self.closed = true;
        }
        Ok(())
    }

    /// Whether a segment that came after the connection closed says anything the
    /// connection had not said (a retransmission of what was delivered does not).
    fn carries_news(&self, segment: &Segment<'_>) -> bool {
        let half = &self.halves[self.direction(segment) as usize];
        if segment.syn || half.base.is_none() {
            return !segment.payload.is_empty() || segment.fin;
        }
        let start = half.offset_of(segment.seq);
        let end = start + segment.payload.len() as i128;
        let new_bytes = !segment.payload.is_empty()
            && end > half.delivered_i128()
            && half.fin_at.is_none_or(|(fin, _)| start < fin);
        new_bytes || (segment.fin && half.fin_at.is_none())
    }

    /// Microseconds since the connection's first packet, never less than the last
    /// record's (packets from two interfaces can be a little out of time order).
    fn t_us(&self, time_ns: i128) -> u64 {
        let since = (time_ns - self.origin_ns).max(0) / 1000;
        let t = u64::try_from(since).unwrap_or(u64::MAX);
        t.max(self.records.last().map_or(0, |r| r.t_us))
    }

    fn push(&mut self, t_us: u64, dir: Direction, kind: RecordKind) {
        let t_us = t_us.max(self.records.last().map_or(0, |r| r.t_us));
        self.records.push(Record { t_us, dir, kind });
    }

    fn push_data(&mut self, t_us: u64, dir: Direction, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.push(t_us, dir, RecordKind::Data(bytes));
        }
    }

    fn push_eof_if_due(&mut self, dir: Direction, t_us: u64) {
        let half = &mut self.halves[dir as usize];
        if half.eof_recorded {
            return;
        }
        if let Some((at, fin_t_us)) = half.fin_at {
            if at == half.delivered_i128() {
                half.eof_recorded = true;
                self.push(t_us.max(fin_t_us), dir, RecordKind::Eof);
            }
        }
    }

    fn finish(mut self, capture_notes: &[String]) -> Option<Flow> {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let half = &mut self.halves[dir as usize];
            if half.pending_bytes > 0 || half.fin_beyond_hole() {
                half.cut(CutReason::End);
            }
            if let Some((_, fin_t_us)) = half.fin_at {
                if !half.eof_recorded && !self.reset {
                    half.eof_recorded = true;
                    self.push(fin_t_us, dir, RecordKind::Eof);
                }
            }
            let half = &self.halves[dir as usize];
            if let Some(cut) = &half.cut {
                let hole = match cut.next_offset {
                    Some(next) => format!("bytes {}..{}", cut.at, next),
                    None => format!("the bytes from {} on", cut.at),
                };
                let when = match cut.reason {
                    CutReason::End => "by the end of the capture".to_owned(),
                    CutReason::Overflow(p) => {
                        format!("before packet {p} overflowed the reorder buffer")
                    }
                    CutReason::Reset(p) => format!("before the reset in packet {p}"),
                };
                self.notes.push(format!(
                    "{dir}: {hole} of the stream never arrived {when}; the {dir} stream is cut \
                     at byte {} and {} later bytes are dropped",
                    cut.at, half.dropped
                ));
            }
        }
        if let Some((n, first)) = self.truncated {
            self.notes.push(format!(
                "{n} packet(s) cut short by the capture's snap length (the first is packet {first})"
            ));
        }
        if let Some((n, first)) = self.ignored_after_close {
            self.notes.push(format!(
                "{n} packet(s) with data or FIN after the connection closed were ignored (the \
                 first is packet {first})"
            ));
        }
        if self.records.is_empty() {
            return None;
        }
        self.notes.extend(capture_notes.iter().cloned());
        Some(Flow {
            client: Some(self.client),
            server: Some(self.server),
            records: self.records,
            notes: self.notes,
        })
    }
}

/// Counts one more packet, remembering the first.
fn count(counter: &mut Option<(u64, u64)>, packet: u64) {
    match counter {
        Some((n, _)) => *n += 1,
        None => *counter = Some((1, packet)),
    }
}

/// Where and why a direction's stream was cut.
#[derive(Debug)]
struct Cut {
    /// The stream offset of the first missing byte.
    at: u64,
    /// The offset of the first byte that had arrived after the hole, if any had.
    next_offset: Option<u64>,
    /// Why the hole was given up on.
    reason: CutReason,
}

/// Why a hole was given up on.
#[derive(Debug, Clone, Copy)]
enum CutReason {
    /// This packet's bytes overflowed the reorder buffer.
    Overflow(u64),
    /// The sender reset the connection in this packet.
    Reset(u64),
    /// The capture ended.
    End,
}

/// One direction of a connection.
#[derive(Debug, Default)]
struct Half {
    /// The initial sequence number, when this side's SYN was seen.
    isn: Option<u32>,
    /// The sequence number of stream offset 0.
    base: Option<u32>,
    /// Bytes delivered into records so far.
    delivered: u64,
    /// Segments ahead of a hole, by stream offset; they never overlap each other.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// The FIN's stream offset and time, once seen.
    fin_at: Option<(i128, u64)>,
    eof_recorded: bool,
    cut: Option<Cut>,
    /// Bytes dropped after the cut.
    dropped: u64,
}

impl Half {
    fn delivered_i128(&self) -> i128 {
        i128::from(self.delivered)
    }

    /// The stream offset of a sequence number: the nearest one, modulo 2^32, to the next
    /// expected byte (negative if it lies before the stream's first byte).
    fn offset_of(&self, seq: u32) -> i128 {
        let base = self.base.unwrap_or(seq);
        // Truncation intended: the next sequence number is the offset modulo 2^32.
        #[allow(clippy::cast_possible_truncation)]
        let next_seq = base.wrapping_add(self.delivered as u32);
        // Reinterpreting the difference as signed picks the nearer of the two ways round.
        #[allow(clippy::cast_possible_wrap)]
        let ahead = seq.wrapping_sub(next_seq) as i32;
        self.delivered_i128() + i128::from(ahead)
    }

    /// Keeps the bytes of `[start, start + len)` not already delivered, buffered or cut
    /// off, as pending segments.
    fn insert(&mut self, start: i128, payload: &[u8]) {
        let delivered = self.delivered_i128();
        let mut end = start + payload.len() as i128;
        if let Some((fin, _)) = self.fin_at {
            // Nothing follows a FIN.
            end = end.min(fin);
        }
        if let Some(cut) = &self.cut {
            let from = start.max(i128::from(cut.at));
            self.dropped += u64::try_from((end - from).max(0)).unwrap_or(0);
            end = end.min(i128::from(cut.at));
        }
        let mut from = start.max(delivered);
        if from >= end {
            return;
        }
        // Fill the holes between the pending segments that overlap [from, end).
        let overlapping: Vec<(u64, u64)> = self
            .pending
            .range(..u64::try_from(end).unwrap_or(u64::MAX))
            .rev()
            .map(|(&s, bytes)| (s, s + bytes.len() as u64))
            .take_while(|&(_, e)| i128::from(e) > from)
            .collect();
        let mut pieces = Vec::new();
        for (s, e) in overlapping.into_iter().rev() {
            let (s, e) = (i128::from(s), i128::from(e));
            if s > from {
                pieces.push((from, s));
            }
            from = from.max(e);
        }
        if from < end {
            pieces.push((from, end));
        }
        for (s, e) in pieces {
            let (Ok(slice_start), Ok(slice_end), Ok(offset)) = (
                usize::try_from(s - start),
                usize::try_from(e - start),
                u64::try_from(s),
            ) else {
                continue;
            };
            let bytes = payload[slice_start..slice_end].to_vec();
            self.pending_bytes += bytes.len();
            self.pending.insert(offset, bytes);
        }
    }

    /// Takes the pending bytes that are now contiguous with the delivered ones; `Err` if
    /// that would pass `max_stream_bytes`.
    fn deliver(&mut self, max_stream_bytes: usize) -> Result<Vec<u8>, ()> {
        let mut out = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.delivered {
                break;
            }
            let bytes = entry.remove();
            self.pending_bytes -= bytes.len();
            self.delivered += bytes.len() as u64;
            if self.delivered > max_stream_bytes as u64 {
                return Err(());
            }
            if out.is_empty() {
                out = bytes;
            } else {
                out.extend_from_slice(&bytes);
            }
        }
        Ok(out)
    }

    /// A FIN was seen beyond bytes that never came.
    fn fin_beyond_hole(&self) -> bool {
        !self.eof_recorded
            && self
                .fin_at
                .is_some_and(|(at, _)| at > self.delivered_i128())
    }

    /// Gives up on the hole at the delivered offset: the stream ends there.
    fn cut(&mut self, reason: CutReason) {
        if self.cut.is_some() {
            return;
        }
        let next_offset = self.pending.keys().next().copied();
        self.dropped += self.pending_bytes as u64;
        self.pending.clear();
        self.pending_bytes = 0;
        if next_offset.is_none() && !self.fin_beyond_hole() {
            // Nothing was missing (a reset with no hole): no cut to report.
            return;
        }
        let next_offset = next_offset.or_else(|| {
            self.fin_at
                .and_then(|(at, _)| u64::try_from(at).ok())
                .filter(|&at| at > self.delivered)
        });
        self.cut = Some(Cut {
            at: self.delivered,
            next_offset,
            reason,
        });
    }
}
