//! The `acceptor_bytes` and `requestor_bytes` targets: arbitrary bytes, time jumps and
//! primitives into one association.

use std::time::{Duration, Instant};

use dicomwire::pdu::PduType as WirePduType;
use dicomwire::ul::{AcceptOptions, Association, Event, ReadBuffers, Role, SendQueue};

use crate::setup::{fuzz_config, fuzz_policy, fuzz_request};

/// Checks every output of the association after one input.
pub(crate) struct Watcher {
    /// An A-ABORT was transmitted: nothing else may follow it.
    pub(crate) sent_abort: bool,
    /// The most input the association may buffer.
    pub(crate) limit: usize,
    /// Output through a [`SendQueue`] rather than a `Vec`.
    pub(crate) queued_output: bool,
}

impl Watcher {
    fn drain(&mut self, assoc: &mut Association, now: Instant) {
        let mut out = Vec::new();
        let mut queue = SendQueue::new();
        loop {
            // Every PDU's bytes, through poll_transmit or poll_transmit_queue.
            let sent = if self.queued_output {
                let before = queue.len();
                let sent = assoc.poll_transmit_queue(now, &mut queue);
                if let Some(t) = &sent {
                    assert_eq!(
                        t.len,
                        queue.len() - before,
                        "Transmit::len is what was queued"
                    );
                }
                let mut slices = [std::io::IoSlice::new(&[]); 64];
                let filled = queue.io_slices(&mut slices);
                for slice in &slices[..filled] {
                    out.extend_from_slice(slice);
                }
                queue.advance(out.len());
                assert!(queue.is_empty() || filled == 64);
                sent
            } else {
                assoc.poll_transmit(now, &mut out)
            };
            let Some(t) = sent else {
                break;
            };
            assert_eq!(t.len, out.len(), "Transmit::len is what was appended");
            let pdu_type = WirePduType::from_code(out[0]).expect("we send valid PDU types");
            if self.sent_abort {
                assert_eq!(
                    pdu_type,
                    WirePduType::Abort,
                    "only A-ABORT after an A-ABORT"
                );
            }
            if pdu_type == WirePduType::Abort {
                self.sent_abort = true;
            }
            out.clear();
        }
        while let Some(event) = assoc.poll_event() {
            if let Event::AssociationRequested(incoming) = event {
                // Accept everything: the fuzzer then reaches data transfer.
                let _ = assoc.accept(now, incoming, AcceptOptions::default());
            }
        }
        assert!(
            assoc.buffered_input() <= self.limit,
            "input buffer {} over the limit {}",
            assoc.buffered_input(),
            self.limit
        );
        if let Some(deadline) = assoc.poll_timeout() {
            assert!(deadline >= now || assoc.next_timer().is_some());
        }
    }
}

/// Arbitrary bytes into an association in `role`, in chunks, with time jumps: no panic,
/// the input buffer never grows past the configured limits, and after an A-ABORT nothing
/// but A-ABORT is transmitted.
///
/// The first byte chooses the configuration (and whether bytes go in through
/// [`ReadBuffers`] and out through a [`SendQueue`]); then each step is a control byte (low bits:
/// what to do; high bits: how much) followed by the chunk it uses.
///
/// `start` is the virtual clock's origin, given by the caller: the core reads no clock.
pub fn association_bytes(role: Role, data: &[u8], start: Instant) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let config = fuzz_config(selector);
    let limit = config.max_pdu_length.max(config.max_associate_length) as usize + 6;
    let mut now = start;
    let mut assoc = match role {
        Role::Requestor => {
            let Ok(mut a) = Association::requestor(now, config, fuzz_request()) else {
                return;
            };
            let _ = a.handle_transport_connected(now);
            a
        }
        Role::Acceptor => Association::acceptor(now, config, fuzz_policy()),
    };
    let mut watch = Watcher {
        sent_abort: false,
        limit,
        queued_output: selector & 16 != 0,
    };
    // Input through ReadBuffers (lent when a chunk is a quarter of a buffer or more, the
    // refused rest offered as shared bytes), or plain slices.
    let mut buffers = (selector & 8 != 0).then(|| ReadBuffers::new(256));
    watch.drain(&mut assoc, now);
    while let Some((&control, tail)) = rest.split_first() {
        let amount = usize::from(control >> 3);
        match control & 7 {
            // Time passes: up to ~31 s per step, so ARTIM and the deadlines fire.
            0 => now += Duration::from_millis((amount as u64 + 1) * 1000),
            1 => assoc.handle_timeout(now + Duration::from_secs(amount as u64 * 4)),
            2 => {
                let _ = assoc.release(now);
            }
            3 => {
                let _ = assoc.release_response(now);
            }
            4 if amount == 31 => {
                let _ = assoc.abort(now);
            }
            4 => assoc.handle_transport_closed(now),
            _ => {
                // Bytes: a chunk of up to 8 × amount + 1 bytes.
                let n = (amount * 8 + 1).min(tail.len());
                let (chunk, after) = tail.split_at(n);
                let mut offered = chunk;
                let mut guard = 0;
                if let Some(buffers) = buffers.as_mut() {
                    let space = buffers.read_space();
                    let n = chunk.len().min(space.len());
                    space[..n].copy_from_slice(&chunk[..n]);
                    offered = &chunk[n..];
                    let (taken, mut refused) = buffers.offer(&mut assoc, now, n);
                    watch.drain(&mut assoc, now);
                    if taken.is_ok() {
                        while !refused.is_empty() {
                            match assoc.handle_input_shared(now, &refused) {
                                Ok(taken) => {
                                    refused = refused.slice(taken..);
                                }
                                Err(_) => break,
                            }
                            watch.drain(&mut assoc, now);
                            guard += 1;
                            assert!(guard < 10_000, "handle_input makes no progress");
                        }
                    }
                }
                while !offered.is_empty() {
                    match assoc.handle_input(now, offered) {
                        Ok(taken) => offered = &offered[taken..],
                        Err(_) => break,
                    }
                    watch.drain(&mut assoc, now);
                    guard += 1;
                    assert!(guard < 10_000, "handle_input makes no progress");
                }
                rest = after;
                watch.drain(&mut assoc, now);
                continue;
            }
        }
        rest = tail;
        watch.drain(&mut assoc, now);
    }
}
