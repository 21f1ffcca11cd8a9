//! Outgoing bytes gathered for a vectored write, data sets referenced rather than copied.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::pdu::PduOut;

/// Bytes an association gave to be sent ([`Association::poll_transmit_queue`]), in order,
/// as segments for one vectored write: PDU and PDV headers, commands and small data sets
/// are copied together into one buffer, while the fragments of a large data set are
/// slices of the data set the user handed over (a [`Bytes`]), so the kernel copies them
/// straight from there and the sender copies each byte once instead of twice.
///
/// The transport writes [`io_slices`](Self::io_slices) with `write_vectored` and calls
/// [`advance`](Self::advance) with what was written.
///
/// [`Association::poll_transmit_queue`]: super::Association::poll_transmit_queue
///
/// ```
/// use std::io::Write;
/// use std::time::Instant;
/// use dicomwire::pdu::{AeTitle, Uid};
/// use dicomwire::ul::{Association, AssociationConfig, AssociationRequest, ProposedContext, SendQueue};
///
/// let now = Instant::now();
/// let request = AssociationRequest::new(AeTitle::new("ECHOSCU")?, AeTitle::new("ANY-SCP")?)
///     .with_context(ProposedContext::new(
///         Uid::new("1.2.840.10008.1.1")?,
///         vec![Uid::new("1.2.840.10008.1.2")?],
///     ));
/// let mut scu = Association::requestor(now, AssociationConfig::default(), request)?;
/// scu.handle_transport_connected(now)?;
///
/// let mut queue = SendQueue::new();
/// while scu.poll_transmit_queue(now, &mut queue).is_some() {}
/// // A transport writes to its socket; here a Vec, a few bytes at a time.
/// let mut wire = Vec::new();
/// while !queue.is_empty() {
///     let mut slices = [std::io::IoSlice::new(&[]); 16];
///     let filled = queue.io_slices(&mut slices);
///     let n = wire.write_vectored(&slices[..filled])?.min(7);
///     queue.advance(n);
/// }
/// assert_eq!(wire[0], 0x01); // an A-ASSOCIATE-RQ
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct SendQueue {
    /// Segments in order, before `tail`.
    segments: VecDeque<Bytes>,
    /// Copied bytes after the last segment, not yet frozen into one.
    tail: BytesMut,
    len: usize,
}

impl SendQueue {
    /// A fragment shorter than this is copied along with its headers: a separate segment
    /// costs more than copying it.
    pub const SHARE_MIN: usize = 8 * 1024;

    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `out` with slices of the queued bytes, in order from the first unsent byte,
    /// as many as fit; returns how many it filled.
    pub fn io_slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let mut filled = 0;
        for (slot, segment) in out
            .iter_mut()
            .zip(self.segments.iter().map(|s| &s[..]).chain(tail))
        {
            *slot = IoSlice::new(segment);
            filled += 1;
        }
        filled
    }

    /// `n` bytes from the front were sent (at most [`len`](Self::len) are counted).
    pub fn advance(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.segments.front_mut() else {
                self.tail.advance(n);
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.segments.pop_front();
        }
    }

    /// Appends `bytes` by reference (no copy): for an adapter that produces bytes of its
    /// own, such as TLS ciphertext.
    pub fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if !self.tail.is_empty() {
            self.segments.push_back(self.tail.split().freeze());
        }
        self.len += bytes.len();
        self.segments.push_back(bytes);
    }

    /// Moves everything queued, in order, to the end of `out` (for a transport that
    /// writes from one buffer, or a test): the queue is then empty.
    pub fn drain_into(&mut self, out: &mut Vec<u8>) {
        out.reserve(self.len);
        for segment in &self.segments {
            out.extend_from_slice(segment);
        }
        out.extend_from_slice(&self.tail);
        self.clear();
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.segments.clear();
        self.tail.clear();
        self.len = 0;
    }
}

impl PduOut for SendQueue {
    fn put(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    fn put_shared(&mut self, data: &Bytes, range: std::ops::Range<usize>) {
        if range.len() < Self::SHARE_MIN {
            self.put(&data[range]);
            return;
        }
        if !self.tail.is_empty() {
            self.segments.push_back(self.tail.split().freeze());
        }
        self.len += range.len();
        self.segments.push_back(data.slice(range));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &mut SendQueue, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); 3];
            let filled = queue.io_slices(&mut slices);
            let mut n = 0;
            for s in &slices[..filled] {
                let take = (step - n).min(s.len());
                out.extend_from_slice(&s[..take]);
                n += take;
                if n == step {
                    break;
                }
            }
            queue.advance(n);
        }
        out
    }

    #[test]
    fn bytes_come_out_in_order_whatever_the_write_sizes() {
        let big = Bytes::from((0..40_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        for step in [1, 5, 4096, 9000, 100_000] {
            let mut queue = SendQueue::new();
            let mut expected = Vec::new();
            for round in 0..3 {
                queue.put(&[round; 6]);
                expected.extend_from_slice(&[round; 6]);
                queue.put_shared(&big, 100..30_000);
                expected.extend_from_slice(&big[100..30_000]);
                queue.put_shared(&big, 5..10);
                expected.extend_from_slice(&big[5..10]);
            }
            assert_eq!(queue.len(), expected.len());
            assert_eq!(drain(&mut queue, step), expected, "writes of {step}");
            assert!(queue.is_empty());
        }
    }

    #[test]
    fn large_ranges_are_referenced_small_ones_copied() {
        let big = Bytes::from(vec![7u8; 3 * SendQueue::SHARE_MIN]);
        let mut queue = SendQueue::new();
        queue.put(b"head");
        queue.put_shared(&big, 0..SendQueue::SHARE_MIN);
        queue.put_shared(&big, 0..SendQueue::SHARE_MIN - 1);
        let mut slices = [IoSlice::new(&[]); 16];
        assert_eq!(queue.io_slices(&mut slices), 3);
        assert_eq!(slices[1].as_ptr(), big.as_ptr(), "the data set itself");
        assert_eq!(slices[2].len(), SendQueue::SHARE_MIN - 1);
        queue.clear();
        assert!(queue.is_empty());
    }
}
