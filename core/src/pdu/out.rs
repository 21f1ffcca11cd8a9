//! [`PduOut`]: where encoded PDUs are written, so that the upper layer's queue and the
//! DIMSE fragmenter share one sink without depending on each other.

use bytes::Bytes;

/// Where an association's PDUs are written: plain bytes are copied, a data set's bytes
/// may be taken by reference.
pub(crate) trait PduOut {
    /// Appends `bytes`, copied.
    fn put(&mut self, bytes: &[u8]);
    /// Appends `range` of `data`.
    fn put_shared(&mut self, data: &Bytes, range: std::ops::Range<usize>);
}

impl PduOut for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn put_shared(&mut self, data: &Bytes, range: std::ops::Range<usize>) {
        self.extend_from_slice(&data[range]);
    }
}
