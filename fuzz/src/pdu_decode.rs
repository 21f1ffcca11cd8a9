//! The `pdu_decode` target: the PDU decoder on arbitrary bytes.

use dicomwire::pdu::{
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
