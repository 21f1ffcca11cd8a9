//! Memory for a transport to read into, lent to associations without a copy.

use bytes::{Bytes, BytesMut};

use super::{ApiMisuse, Association};
use std::time::Instant;

/// Buffers a transport reads socket bytes into, so that the data of a C-STORE arriving
/// in large reads reaches the user ([`Event::StoreFragment`](super::Event::StoreFragment))
/// as slices of the very memory the kernel copied it into, with no second copy.
///
/// A read of at least [`lend_threshold`](Self::lend_threshold) bytes is lent: offered
/// with [`Association::handle_input_shared`], its buffer is kept alive by every fragment
/// sliced from it, and the next read goes into another buffer. Once the fragments are
/// dropped the buffer is free again and reused as it is (no allocation, no page faults,
/// no zeroing). A smaller read is offered with [`Association::handle_input`] and its
/// fragments are copied as usual, so a held fragment never keeps a buffer alive for much
/// less data than the buffer holds: memory held through fragments is at most
/// `buffer_len / lend_threshold` times the bytes held.
///
/// At most [`MAX_POOLED`](Self::MAX_POOLED) buffers are kept for reuse; when all are
/// still held by fragments, a new one is allocated and the oldest is left to be freed by
/// its last fragment.
///
/// One `ReadBuffers` may serve many associations in turn (an event loop keeps one), since
/// it lends nothing between [`read_space`](Self::read_space) and [`offer`](Self::offer)
/// but the fragments the association produced.
///
/// ```
/// use std::time::Instant;
/// use dicomwire::pdu::{AeTitle, Uid};
/// use dicomwire::ul::{
///     AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event,
///     ProposedContext, ReadBuffers, SupportedSyntax,
/// };
///
/// let now = Instant::now();
/// let request = AssociationRequest::new(AeTitle::new("ECHOSCU")?, AeTitle::new("ANY-SCP")?)
///     .with_context(ProposedContext::new(
///         Uid::new("1.2.840.10008.1.1")?,
///         vec![Uid::new("1.2.840.10008.1.2")?],
///     ));
/// let mut scu = Association::requestor(now, AssociationConfig::default(), request)?;
/// scu.handle_transport_connected(now)?;
/// let mut wire = Vec::new();
/// while scu.poll_transmit(now, &mut wire).is_some() {}
///
/// let policy = AcceptorPolicy {
///     abstract_syntaxes: vec![SupportedSyntax::new(
///         Uid::new("1.2.840.10008.1.1")?,
///         vec![Uid::new("1.2.840.10008.1.2")?],
///     )],
///     ..AcceptorPolicy::default()
/// };
/// let mut scp = Association::acceptor(now, AssociationConfig::default(), policy.into());
/// let mut buffers = ReadBuffers::new(64 * 1024);
/// // A transport reads from its socket into `read_space()`; here the requestor's bytes.
/// let space = buffers.read_space();
/// assert_eq!(space.len(), ReadBuffers::INITIAL_LEN); // small until reads fill it
/// space[..wire.len()].copy_from_slice(&wire);
/// let (taken, refused) = buffers.offer(&mut scp, now, wire.len());
/// assert_eq!(taken?, wire.len());
/// assert!(refused.is_empty());
/// assert!(matches!(scp.poll_event(), Some(Event::AssociationRequested(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReadBuffers {
    /// The size buffers grow to.
    len: usize,
    /// The size of new buffers now: small at first, doubled each time a read fills one.
    size: usize,
    lend_threshold: usize,
    /// The buffer `read_space` handed out: whole and unshared.
    current: Option<BytesMut>,
    /// Buffers lent before, each whole; reusable once nothing else refers to it.
    pool: Vec<Bytes>,
}

impl std::fmt::Debug for ReadBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBuffers")
            .field("len", &self.len)
            .field("size", &self.size)
            .field("lend_threshold", &self.lend_threshold)
            .field("pooled", &self.pool.len())
            .finish()
    }
}

impl ReadBuffers {
    /// How many buffers are kept for reuse.
    pub const MAX_POOLED: usize = 8;
    /// The size of the first buffer (or `len`, if smaller).
    pub const INITIAL_LEN: usize = 16 * 1024;

    /// Buffers of up to `len` bytes (at least 1); reads of a quarter of that or more are
    /// lent. The first buffer is small ([`INITIAL_LEN`](Self::INITIAL_LEN)); each read that
    /// fills a buffer doubles the next one, up to `len`: an association that exchanges
    /// small PDUs never pays for zeroing a large buffer, one receiving bulk data reaches
    /// full size within a few reads.
    pub fn new(len: usize) -> Self {
        let len = len.max(1);
        Self {
            len,
            size: Self::INITIAL_LEN.min(len),
            lend_threshold: (len / 4).max(1),
            current: None,
            pool: Vec::new(),
        }
    }

    /// The smallest read that is lent rather than copied.
    pub fn lend_threshold(&self) -> usize {
        self.lend_threshold
    }

    /// Where to read next: a whole buffer nobody else refers to.
    pub fn read_space(&mut self) -> &mut [u8] {
        let len = self.size;
        if self.current.as_ref().is_some_and(|c| c.len() < len) {
            // Outgrown: the next read goes into a larger buffer.
            self.current = None;
        }
        let pool = &mut self.pool;
        self.current.get_or_insert_with(|| {
            let reusable = pool.iter().position(Bytes::is_unique);
            match reusable.map(|i| pool.swap_remove(i).try_into_mut()) {
                Some(Ok(buffer)) => buffer,
                // `is_unique` said it was; allocate rather than fail if not.
                Some(Err(_)) | None => BytesMut::zeroed(len),
            }
        })
    }

    /// The first `n` bytes of [`read_space`](Self::read_space) (just read into it) as
    /// [`Bytes`] to be offered later with [`Association::handle_input_shared`], perhaps on
    /// another thread: the buffer itself when `n` reaches the threshold, a copy otherwise.
    pub fn take(&mut self, n: usize) -> Bytes {
        let n = self.filled(n);
        if n < self.lend_threshold {
            return Bytes::copy_from_slice(self.current_bytes(n));
        }
        let whole = self.lend();
        whole.slice(..n)
    }

    /// `n` bytes were read into the current buffer: capped at its length; a full buffer
    /// makes the next ones larger (the buffers held, smaller, are let go).
    fn filled(&mut self, n: usize) -> usize {
        let have = self.current.as_ref().map_or(0, BytesMut::len);
        let n = n.min(have);
        if n == have && have > 0 && self.size < self.len {
            self.size = self.size.saturating_mul(2).min(self.len);
            self.pool.clear();
        }
        n
    }

    /// The first `n` bytes of the buffer just read into (not a new one, even when the
    /// next reads are to go into larger buffers).
    fn current_bytes(&self, n: usize) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| &c[..n])
    }

    /// The current buffer, frozen; remembered for reuse if it has the size now used.
    fn lend(&mut self) -> Bytes {
        let whole = match self.current.take() {
            Some(buffer) => buffer.freeze(),
            None => BytesMut::zeroed(self.size).freeze(),
        };
        if whole.len() != self.size {
            return whole;
        }
        if self.pool.len() >= Self::MAX_POOLED {
            self.pool.remove(0);
        }
        self.pool.push(whole.clone());
        whole
    }

    /// Offers the first `n` bytes of [`read_space`](Self::read_space) (just read into it)
    /// to `assoc`, lending the buffer when `n` reaches the threshold. Returns how many
    /// bytes the association took (as [`Association::handle_input`] does) and the bytes
    /// it refused, which the caller offers again later.
    pub fn offer(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        n: usize,
    ) -> (Result<usize, ApiMisuse>, Bytes) {
        let n = self.filled(n);
        if n < self.lend_threshold {
            let input = self.current_bytes(n);
            let taken = assoc.handle_input(now, input);
            let rest = refused(input, &taken);
            return (taken, rest);
        }
        let input = self.lend().slice(..n);
        let taken = assoc.handle_input_shared(now, &input);
        let rest = refused(&input, &taken);
        (taken, rest)
    }
}

/// What the association did not take of `input`, copied out: a remainder kept for later
/// must not pin a whole read buffer. Nothing after an error (the input was discarded).
fn refused(input: &[u8], taken: &Result<usize, ApiMisuse>) -> Bytes {
    match taken {
        Ok(t) => Bytes::copy_from_slice(&input[*t..]),
        Err(_) => Bytes::new(),
    }
}
