//! Entry points for the cargo-fuzz targets in `fuzz/`, compiled only under `cfg(fuzzing)`.
//!
//! Each target in `fuzz/fuzz_targets/` is one line that calls a function here, so the
//! checks live next to the code they check and see its internals.

use crate::pdu::{
    self, Abort, AbortReason, DecodeLimits, Decoded, MIN_MAX_PDU_LENGTH, PDU_HEADER_LEN,
};

/// No limit beyond what a 32-bit PDU-length can say: for decoding our own re-encoding,
/// whose length may legitimately differ from the input's.
const UNLIMITED: DecodeLimits = DecodeLimits {
    max_pdu_length: u32::MAX,
    max_associate_length: u32::MAX,
};

/// The limits a fuzz input runs under, picked by its first byte, so that one corpus
/// exercises the defaults, a DCMTK-like peer, the smallest limits we allow and none.
fn limits_for(selector: u8) -> DecodeLimits {
    match selector % 4 {
        0 => DecodeLimits::default(),
        1 => DecodeLimits {
            max_pdu_length: 16_384,
            max_associate_length: 1024,
        },
        2 => DecodeLimits {
            max_pdu_length: MIN_MAX_PDU_LENGTH,
            max_associate_length: 68,
        },
        _ => UNLIMITED,
    }
}

/// The PDU decoder on arbitrary bytes: byte 0 picks the limits, the rest is the input.
///
/// Whatever decodes must re-encode, decode again to the same value, and re-encode to the
/// same bytes; it must have respected the limits and must decode the same from exactly its
/// own bytes, and be `Incomplete` one byte short of them. Whatever does not decode must map
/// to an A-ABORT reason the standard defines. None of it may panic.
pub fn pdu_decode(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limits = limits_for(selector);
    match pdu::decode(input, &limits) {
        Ok(Decoded::Complete { pdu, consumed }) => {
            assert!(
                consumed <= input.len(),
                "consumed {consumed} of {}",
                input.len()
            );
            let body = consumed - PDU_HEADER_LEN;
            let limit = limits.limit_for(pdu.pdu_type());
            assert!(
                u32::try_from(body).is_ok_and(|b| b <= limit),
                "{body} > {limit}"
            );

            let exact = pdu::decode(&input[..consumed], &limits);
            assert_eq!(
                exact,
                Ok(Decoded::Complete {
                    pdu: pdu.clone(),
                    consumed
                })
            );
            let short = pdu::decode(&input[..consumed - 1], &limits);
            assert_eq!(short, Ok(Decoded::Incomplete { needed: 1 }));

            let mut wire = Vec::new();
            let written = pdu
                .encode(&mut wire)
                .unwrap_or_else(|e| panic!("decoded {pdu:?} does not encode: {e}"));
            assert_eq!(written, wire.len());
            match pdu::decode(&wire, &UNLIMITED) {
                Ok(Decoded::Complete {
                    pdu: again,
                    consumed: again_consumed,
                }) => {
                    assert_eq!(again, pdu, "value changed through encode and decode");
                    assert_eq!(again_consumed, wire.len());
                    let mut rewire = Vec::new();
                    again
                        .encode(&mut rewire)
                        .unwrap_or_else(|e| panic!("re-decoded {again:?} does not encode: {e}"));
                    assert_eq!(rewire, wire, "encoding is not a fixed point");
                }
                other => panic!("our encoding of {pdu:?} decodes as {other:?}"),
            }
        }
        Ok(Decoded::Incomplete { needed }) => {
            assert!(needed > 0);
            if input.len() < PDU_HEADER_LEN {
                assert_eq!(needed, PDU_HEADER_LEN - input.len());
            } else {
                // The header passed the limits, so what we wait for is within them.
                let header = pdu::PduHeader::check(input, &limits)
                    .expect("a header that was accepted once")
                    .expect("six bytes are a header");
                assert_eq!(input.len() + needed, header.total_len());
                assert!(header.length <= limits.limit_for(header.pdu_type));
            }
        }
        Err(err) => {
            let reason = AbortReason::from(&err);
            assert!(
                !matches!(reason, AbortReason::Reserved(_)),
                "{err} maps to a reserved reason"
            );
            let abort = Abort::from(&err);
            assert_eq!(abort.codes(), (2, reason.code()));
            let _ = (err.to_string(), abort.to_string());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Associations fed arbitrary bytes

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dimse::CommandSet;
use crate::pdu::{AeTitle, PduType as WirePduType, Uid};
use crate::ul::{
    AcceptOptions, AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event,
    ProposedContext, Role, RolePolicy, SupportedSyntax,
};

const VERIFICATION: &str = "1.2.840.10008.1.1";
const MWL_FIND: &str = "1.2.840.10008.5.1.4.31";
const HP_STORAGE: &str = "1.2.840.10008.5.1.4.38.1";
const TRANSFER_SYNTAXES: [&str; 2] = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"];

fn uid(s: &str) -> Uid {
    Uid::new(s).unwrap_or(crate::pdu::DICOM_APPLICATION_CONTEXT)
}

/// Small limits, so that the fuzzer reaches them.
fn fuzz_config(selector: u8) -> AssociationConfig {
    let mut config = AssociationConfig {
        max_pdu_length: if selector & 1 == 0 { 16_384 } else { 64 },
        max_associate_length: 4096,
        ..AssociationConfig::default()
    };
    config.dimse.max_command_length = 512;
    config.dimse.max_identifier_length = 4096;
    config.dimse.max_store_length = 8192;
    config.dimse.stream_store_data = selector & 2 != 0;
    config.dimse.raw_pdata = selector & 4 != 0;
    config
}

fn fuzz_policy() -> Arc<AcceptorPolicy> {
    let ts: Vec<Uid> = TRANSFER_SYNTAXES.iter().map(|s| uid(s)).collect();
    Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uid(VERIFICATION), ts.clone()),
            SupportedSyntax::new(uid(MWL_FIND), ts.clone()),
            SupportedSyntax::new(uid(HP_STORAGE), ts).with_roles(RolePolicy {
                requestor_may_be_scu: true,
                requestor_may_be_scp: true,
            }),
        ],
        ..AcceptorPolicy::default()
    })
}

fn fuzz_request() -> AssociationRequest {
    let ts: Vec<Uid> = TRANSFER_SYNTAXES.iter().map(|s| uid(s)).collect();
    let ae = |s: &str| AeTitle::new(s).unwrap_or_else(|_| unreachable!("valid AE title"));
    AssociationRequest::new(ae("FUZZSCU"), ae("ANY-SCP"))
        .with_context(ProposedContext::new(uid(VERIFICATION), ts.clone()))
        .with_context(ProposedContext::new(uid(MWL_FIND), ts.clone()))
        .with_context(ProposedContext::new(uid(HP_STORAGE), ts))
        .with_role(uid(HP_STORAGE), false, true)
}

/// Checks every output of the association after one input.
struct Watcher {
    sent_abort: bool,
    limit: usize,
}

impl Watcher {
    fn drain(&mut self, assoc: &mut Association, now: Instant) {
        let mut out = Vec::new();
        while let Some(t) = assoc.poll_transmit(now, &mut out) {
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
/// The first byte chooses the configuration; then each step is a control byte (low bits:
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
    };
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

/// Arbitrary bytes as a command set: decoding never panics, and what decodes re-encodes
/// to a command set that decodes to the same value (and, as a message, the same message).
pub fn dimse_command(data: &[u8]) {
    let Ok(set) = CommandSet::decode(data) else {
        return;
    };
    let mut again = Vec::new();
    if set.encode(&mut again).is_err() {
        return;
    }
    let back = CommandSet::decode(&again).expect("our encoding decodes");
    assert_eq!(back, normalised(&set));
    if let Ok(message) = crate::dimse::Message::from_command(&set) {
        let mut encoded = Vec::new();
        message
            .to_command(set.has_data_set())
            .encode(&mut encoded)
            .expect("a message encodes");
        let decoded = CommandSet::decode(&encoded).expect("decodes");
        assert_eq!(
            crate::dimse::Message::from_command(&decoded).as_ref(),
            Ok(&message)
        );
    }
}

/// What a decoded command set becomes after one encode: text trimmed as decoding trims.
fn normalised(set: &CommandSet) -> CommandSet {
    let mut set = set.clone();
    set.other.sort_by_key(|(t, _)| *t);
    set
}
