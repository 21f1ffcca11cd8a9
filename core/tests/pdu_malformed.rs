//! Malformed input for the PDU decoder, built byte by byte: every length field of every
//! PDU, item and sub-item too short, too long and truncated; unknown PDU types; missing,
//! repeated and misplaced items; values the standard does not allow. Each refusal is
//! checked for its `DecodeError` and for the A-ABORT reason it maps to. Then what the
//! decoder must tolerate (unknown items, reserved bytes, a NUL-padded UID, the AE title
//! echo of an accept), and a sweep of single-byte changes and truncations that must never
//! panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use dicomwire::pdu::{
    self, AbortReason, AbortSource, AssociateAc, AssociateRq, DecodeError, DecodeLimits, Decoded,
    ItemType, PData, Pdu, PduType, PresentationContextResult, RawItem, Uid, UserIdentity,
};

// ---------------------------------------------------------------------------------------
// Byte builders

const APP_CONTEXT: &[u8] = b"1.2.840.10008.3.1.1.1";
const VERIFICATION: &[u8] = b"1.2.840.10008.1.1";
const IMPLICIT_LE: &[u8] = b"1.2.840.10008.1.2";
const IMPL_UID: &[u8] = b"1.2.826.0.1.3680043.10.1";
const VERSION_NAME: &[u8] = b"DICOMWIRE_010";
const HP_STORAGE: &[u8] = b"1.2.840.10008.5.1.4.38.1";
const MWL_FIND: &[u8] = b"1.2.840.10008.5.1.4.31";
const CT_ENHANCED: &[u8] = b"1.2.840.10008.5.1.4.1.1.2.1";
const STORAGE_SERVICE: &[u8] = b"1.2.840.10008.4.2";
const CT_IMAGE: &[u8] = b"1.2.840.10008.5.1.4.1.1.2";

/// What the decoder names in its errors (`what` / `container`).
const RQ: &str = "A-ASSOCIATE-RQ";
const AC: &str = "A-ASSOCIATE-AC";
const PC_RQ: &str = "presentation context item (0x20)";
const PC_AC: &str = "presentation context item (0x21)";
const USER_INFO: &str = "user information item (0x50)";
const MAX_LENGTH: &str = "maximum length sub-item (0x51)";
const ASYNC_WINDOW: &str = "asynchronous operations window sub-item (0x53)";
const ROLE: &str = "SCP/SCU role selection sub-item (0x54)";
const EXTENDED: &str = "SOP class extended negotiation sub-item (0x56)";
const COMMON_EXTENDED: &str = "SOP class common extended negotiation sub-item (0x57)";
const RELATED: &str = "related general SOP class identification";
const IDENTITY_RQ: &str = "user identity sub-item (0x58)";
const IDENTITY_AC: &str = "user identity sub-item (0x59)";
const PDV: &str = "presentation data value item";

fn len16(bytes: &[u8]) -> u16 {
    u16::try_from(bytes.len()).expect("fits a 16-bit length")
}

fn len32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).expect("fits a 32-bit length")
}

/// An item or sub-item with every header field given: type, byte 2, 16-bit length.
fn raw_item(item_type: u8, second: u8, len: u16, value: &[u8]) -> Vec<u8> {
    let mut out = vec![item_type, second];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// An item whose length field says `len`, whatever `value` holds.
fn item_len(item_type: u8, len: u16, value: &[u8]) -> Vec<u8> {
    raw_item(item_type, 0, len, value)
}

/// A well-formed item.
fn item(item_type: u8, value: &[u8]) -> Vec<u8> {
    item_len(item_type, len16(value), value)
}

/// A PDU whose PDU-length field says `len`, whatever `body` holds.
fn pdu_len(pdu_type: u8, len: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![pdu_type, 0];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A well-formed PDU.
fn pdu(pdu_type: u8, body: &[u8]) -> Vec<u8> {
    pdu_len(pdu_type, len32(body), body)
}

/// A 16-bit length (any value) followed by `bytes`.
fn lp(len: u16, bytes: &[u8]) -> Vec<u8> {
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A correct 16-bit length followed by `bytes`.
fn u16p(bytes: &[u8]) -> Vec<u8> {
    lp(len16(bytes), bytes)
}

fn ae(title: &[u8]) -> [u8; 16] {
    let mut out = [b' '; 16];
    out[..title.len()].copy_from_slice(title);
    out
}

/// The 68 bytes of an A-ASSOCIATE-RQ/AC after the header: protocol version 1, two reserved
/// bytes, called and calling AE title, 32 reserved bytes.
fn fixed_part_with(called: [u8; 16], calling: [u8; 16]) -> Vec<u8> {
    let mut out = vec![0x00, 0x01, 0x00, 0x00];
    out.extend_from_slice(&called);
    out.extend_from_slice(&calling);
    out.extend_from_slice(&[0; 32]);
    assert_eq!(out.len(), 68);
    out
}

fn fixed_part() -> Vec<u8> {
    fixed_part_with(ae(b"ANY-SCP"), ae(b"ECHOSCU"))
}

fn rq(items: &[Vec<u8>]) -> Vec<u8> {
    pdu(0x01, &[fixed_part(), items.concat()].concat())
}

fn ac(items: &[Vec<u8>]) -> Vec<u8> {
    pdu(0x02, &[fixed_part(), items.concat()].concat())
}

fn app_context() -> Vec<u8> {
    item(0x10, APP_CONTEXT)
}

fn abstract_syntax() -> Vec<u8> {
    item(0x30, VERIFICATION)
}

fn transfer_syntax() -> Vec<u8> {
    item(0x40, IMPLICIT_LE)
}

/// A proposed presentation context (0x20) with the given sub-items.
fn pc_rq(id: u8, sub_items: &[Vec<u8>]) -> Vec<u8> {
    item(0x20, &[vec![id, 0, 0, 0], sub_items.concat()].concat())
}

/// Context 1: Verification, Implicit VR Little Endian.
fn verification_pc() -> Vec<u8> {
    pc_rq(1, &[abstract_syntax(), transfer_syntax()])
}

/// An answered presentation context (0x21) with the given sub-items.
fn pc_ac(id: u8, result: u8, sub_items: &[Vec<u8>]) -> Vec<u8> {
    item(0x21, &[vec![id, 0, result, 0], sub_items.concat()].concat())
}

fn accepted_pc() -> Vec<u8> {
    pc_ac(1, 0, &[transfer_syntax()])
}

fn max_length() -> Vec<u8> {
    item(0x51, &16384u32.to_be_bytes())
}

fn impl_uid() -> Vec<u8> {
    item(0x52, IMPL_UID)
}

fn version_name() -> Vec<u8> {
    item(0x55, VERSION_NAME)
}

fn user_info(sub_items: &[Vec<u8>]) -> Vec<u8> {
    item(0x50, &sub_items.concat())
}

/// User information with just the two mandatory sub-items.
fn basic_user_info() -> Vec<u8> {
    user_info(&[max_length(), impl_uid()])
}

fn role(uid: &[u8], scu: u8, scp: u8) -> Vec<u8> {
    item(0x54, &[u16p(uid), vec![scu, scp]].concat())
}

fn common_extended_value() -> Vec<u8> {
    [
        u16p(CT_ENHANCED),
        u16p(STORAGE_SERVICE),
        u16p(&u16p(CT_IMAGE)),
    ]
    .concat()
}

fn identity_rq(kind: u8, positive: u8, primary: &[u8], secondary: &[u8]) -> Vec<u8> {
    item(
        0x58,
        &[vec![kind, positive], u16p(primary), u16p(secondary)].concat(),
    )
}

/// An A-ASSOCIATE-RQ for Verification with these user information sub-items.
fn rq_with_user_info(sub_items: &[Vec<u8>]) -> Vec<u8> {
    rq(&[app_context(), verification_pc(), user_info(sub_items)])
}

/// An A-ASSOCIATE-AC accepting Verification with these user information sub-items.
fn ac_with_user_info(sub_items: &[Vec<u8>]) -> Vec<u8> {
    ac(&[app_context(), accepted_pc(), user_info(sub_items)])
}

fn rq_with_pc(pc: Vec<u8>) -> Vec<u8> {
    rq(&[app_context(), pc, basic_user_info()])
}

fn ac_with_pc(pc: Vec<u8>) -> Vec<u8> {
    ac(&[app_context(), pc, basic_user_info()])
}

fn valid_rq() -> Vec<u8> {
    rq(&[app_context(), verification_pc(), basic_user_info()])
}

fn valid_ac() -> Vec<u8> {
    ac(&[app_context(), accepted_pc(), basic_user_info()])
}

/// A PDV item whose length field says `len`, whatever follows.
fn pdv_len(len: u32, context_id: u8, control: u8, data: &[u8]) -> Vec<u8> {
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&[context_id, control]);
    out.extend_from_slice(data);
    out
}

fn pdv(context_id: u8, control: u8, data: &[u8]) -> Vec<u8> {
    pdv_len(len32(data) + 2, context_id, control, data)
}

fn p_data(pdvs: &[Vec<u8>]) -> Vec<u8> {
    pdu(0x04, &pdvs.concat())
}

/// Every item and sub-item a request can carry, plus unknown ones.
fn full_rq() -> Vec<u8> {
    rq(&[
        app_context(),
        verification_pc(),
        pc_rq(
            3,
            &[
                item(0x30, MWL_FIND),
                item(0x40, b"1.2.840.10008.1.2.1"),
                transfer_syntax(),
                item(0x31, b"?"),
            ],
        ),
        user_info(&[
            max_length(),
            impl_uid(),
            item(0x53, &[0, 5, 0, 1]),
            role(HP_STORAGE, 0, 1),
            version_name(),
            item(0x56, &[u16p(MWL_FIND), vec![1, 1, 0]].concat()),
            item(0x57, &common_extended_value()),
            identity_rq(2, 1, b"alice", b"s3cret"),
            item(0x5A, b"future"),
        ]),
        item(0x60, b"later"),
    ])
}

/// Every item and sub-item an accept can carry, plus unknown ones.
fn full_ac() -> Vec<u8> {
    ac(&[
        app_context(),
        accepted_pc(),
        pc_ac(3, 3, &[item(0x40, b"")]),
        pc_ac(5, 1, &[transfer_syntax(), item(0x41, b"")]),
        user_info(&[
            max_length(),
            impl_uid(),
            item(0x53, &[0, 1, 0, 1]),
            role(HP_STORAGE, 0, 1),
            version_name(),
            item(0x56, &[u16p(MWL_FIND), vec![1]].concat()),
            item(0x59, &u16p(b"ticket")),
            item(0x5A, b""),
        ]),
    ])
}

fn full_p_data() -> Vec<u8> {
    p_data(&[
        pdv(1, 0x03, &[0x08, 0x00, 0x00, 0x00]),
        pdv(3, 0x00, &[0xAA; 20]),
        pdv(3, 0x02, &[]),
    ])
}

// ---------------------------------------------------------------------------------------
// Assertions

fn decode(bytes: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    pdu::decode(bytes, &DecodeLimits::default())
}

#[track_caller]
fn refused(bytes: &[u8]) -> DecodeError {
    match decode(bytes) {
        Err(e) => e,
        Ok(d) => panic!("expected a refusal, got {d:?}\nfrom {bytes:02x?}"),
    }
}

/// `assert_refused!(bytes, AbortReasonVariant, DecodeError pattern)`: the bytes are refused
/// with an error matching the pattern, which maps to that A-ABORT reason.
macro_rules! assert_refused {
    ($bytes:expr, $reason:ident, $($pattern:tt)+) => {{
        let err = refused(&$bytes);
        assert!(
            matches!(err, $($pattern)+),
            "wanted {}\n   got {err:?}",
            stringify!($($pattern)+)
        );
        assert_eq!(AbortReason::from(&err), AbortReason::$reason, "for {err:?}");
    }};
}

#[track_caller]
fn assert_incomplete(bytes: &[u8], needed: usize) {
    match decode(bytes) {
        Ok(Decoded::Incomplete { needed: n }) => assert_eq!(n, needed, "needed"),
        other => panic!("expected Incomplete {{ needed: {needed} }}, got {other:?}"),
    }
}

/// The PDU, which must use all of `bytes`.
#[track_caller]
fn decoded(bytes: &[u8]) -> Pdu<'_> {
    match decode(bytes) {
        Ok(Decoded::Complete { pdu, consumed }) => {
            assert_eq!(consumed, bytes.len(), "consumed");
            pdu
        }
        other => panic!("expected a complete PDU, got {other:?}\nfrom {bytes:02x?}"),
    }
}

#[track_caller]
fn decoded_rq(bytes: &[u8]) -> AssociateRq {
    match decoded(bytes) {
        Pdu::AssociateRq(rq) => *rq,
        other => panic!("not an A-ASSOCIATE-RQ: {other:?}"),
    }
}

#[track_caller]
fn decoded_ac(bytes: &[u8]) -> AssociateAc {
    match decoded(bytes) {
        Pdu::AssociateAc(ac) => *ac,
        other => panic!("not an A-ASSOCIATE-AC: {other:?}"),
    }
}

#[track_caller]
fn decoded_p_data(bytes: &[u8]) -> PData<'_> {
    match decoded(bytes) {
        Pdu::PData(p) => p,
        other => panic!("not a P-DATA-TF: {other:?}"),
    }
}

fn uid(text: &str) -> Uid {
    Uid::new(text).expect("a valid UID literal")
}

#[test]
fn the_builders_make_valid_pdus() {
    for wire in [valid_rq(), full_rq()] {
        decoded_rq(&wire);
    }
    for wire in [valid_ac(), full_ac()] {
        decoded_ac(&wire);
    }
    assert_eq!(decoded_p_data(&full_p_data()).pdvs.len(), 3);
    assert_eq!(valid_rq()[6..74], fixed_part());
}

// ---------------------------------------------------------------------------------------
// PDU-length of each PDU type

#[test]
fn pdu_length_of_an_associate_rq() {
    let wire = valid_rq();
    let body = &wire[6..];
    let len = len32(body);

    // Too short: the body ends inside the user information item, the last one.
    assert_refused!(
        pdu_len(0x01, len - 1, body),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    // Too short for the fixed part, or nothing at all.
    for short in [0, 1, 67] {
        assert_refused!(
            pdu_len(0x01, short, body),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: RQ, .. }
        );
    }
    // Too long, and the bytes are there: two stray bytes are not an item header.
    assert_refused!(
        pdu_len(0x01, len + 2, &[body, &[0, 0]].concat()),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    // Too long by the A-RELEASE-RQ that follows: its 10 bytes read as two empty unknown
    // items (0x05 and 0x00) and 2 bytes that are no item.
    let release_rq = [0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00];
    assert_refused!(
        pdu_len(0x01, len + 10, &[body, &release_rq[..]].concat()),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    // Too long, and the bytes are not there yet: all the decoder can say is "more".
    assert_incomplete(&pdu_len(0x01, len + 2, body), 2);
    // Truncated input.
    assert_incomplete(&wire[..wire.len() - 1], 1);
    assert_incomplete(&wire[..74], wire.len() - 74);
    assert_incomplete(&wire[..3], 3);
}

#[test]
fn pdu_length_of_an_associate_ac() {
    let wire = valid_ac();
    let body = &wire[6..];
    let len = len32(body);
    assert_refused!(
        pdu_len(0x02, len - 1, body),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: AC, .. }
    );
    for short in [0, 1, 67] {
        assert_refused!(
            pdu_len(0x02, short, body),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: AC, .. }
        );
    }
    assert_refused!(
        pdu_len(0x02, len + 3, &[body, &[0x21, 0, 0]].concat()),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: AC, .. }
    );
    assert_incomplete(&pdu_len(0x02, len + 2, body), 2);
    assert_incomplete(&wire[..wire.len() - 1], 1);
    assert_incomplete(&wire[..6], wire.len() - 6);
    assert_incomplete(&[], 6);
}

#[test]
fn pdu_length_of_the_fixed_size_pdus_is_four() {
    for (pdu_type, body) in [
        (PduType::AssociateRj, [0x00, 0x01, 0x01, 0x01]),
        (PduType::ReleaseRq, [0x00; 4]),
        (PduType::ReleaseRp, [0x00; 4]),
        (PduType::Abort, [0x00, 0x00, 0x02, 0x00]),
    ] {
        let code = pdu_type.code();
        // 3 and 5 (with the bytes present), and lengths the header alone refuses.
        assert_refused!(
            pdu_len(code, 3, &body[..3]),
            InvalidPduParameterValue,
            DecodeError::BadFixedLength { pdu_type: t, length: 3 } if t == pdu_type
        );
        assert_refused!(
            pdu_len(code, 5, &[&body[..], &[0]].concat()),
            InvalidPduParameterValue,
            DecodeError::BadFixedLength { pdu_type: t, length: 5 } if t == pdu_type
        );
        for length in [0, 5, 0xFFFF_FFFF] {
            assert_refused!(
                pdu_len(code, length, &[]),
                InvalidPduParameterValue,
                DecodeError::BadFixedLength { pdu_type: t, length: l } if t == pdu_type && l == length
            );
        }
        // Truncated: a valid header waits for its 4 bytes.
        let whole = pdu(code, &body);
        assert_eq!(whole.len(), 10);
        for cut in 6..10 {
            assert_incomplete(&whole[..cut], 10 - cut);
        }
        assert_eq!(decoded(&whole).pdu_type(), pdu_type);
    }
}

#[test]
fn pdu_length_of_a_p_data() {
    let body = pdv(1, 0x03, &[1, 2, 3, 4]);
    assert_eq!(
        body,
        [0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x01, 0x02, 0x03, 0x04]
    );
    let len = len32(&body);

    // Too short: the PDV item runs past the end of the PDU.
    assert_refused!(
        pdu_len(0x04, len - 1, &body),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    // Too long, and the extra bytes are there: 2 bytes are no PDV length, 4 zero bytes a
    // PDV without its context id and control header.
    assert_refused!(
        pdu_len(0x04, len + 2, &[&body[..], &[0, 0]].concat()),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    assert_refused!(
        pdu_len(0x04, len + 4, &[&body[..], &[0, 0, 0, 0]].concat()),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    // Too long, not there yet; truncated.
    assert_incomplete(&pdu_len(0x04, len + 2, &body), 2);
    let whole = pdu(0x04, &body);
    assert_incomplete(&whole[..whole.len() - 1], 1);
    assert_incomplete(&whole[..7], whole.len() - 7);
}

#[test]
fn a_p_data_header_announcing_4_gib_is_refused_from_its_six_bytes() {
    assert_refused!(
        [0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xF0],
        InvalidPduParameterValue,
        DecodeError::PduTooLong {
            pdu_type: PduType::PData,
            length: 0xFFFF_FFF0,
            limit: 262_144,
        }
    );
    // One byte over the default 256 KiB is too long; exactly 256 KiB is waited for.
    assert_refused!(
        [0x04, 0x00, 0x00, 0x04, 0x00, 0x01],
        InvalidPduParameterValue,
        DecodeError::PduTooLong {
            pdu_type: PduType::PData,
            length: 262_145,
            ..
        }
    );
    assert_incomplete(&[0x04, 0x00, 0x00, 0x04, 0x00, 0x00], 262_144);
    // A smaller configured limit is the one applied.
    let limits = DecodeLimits {
        max_pdu_length: 16_384,
        ..DecodeLimits::default()
    };
    let err = pdu::decode(&[0x04, 0x00, 0x00, 0x00, 0x40, 0x01], &limits).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::PduTooLong {
                length: 16_385,
                limit: 16_384,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn associate_pdus_over_the_1_mib_default_bound_are_refused_from_the_header() {
    for (code, pdu_type) in [(0x01, PduType::AssociateRq), (0x02, PduType::AssociateAc)] {
        assert_refused!(
            [code, 0x00, 0x00, 0x10, 0x00, 0x01],
            InvalidPduParameterValue,
            DecodeError::PduTooLong { pdu_type: t, length: 1_048_577, limit: 1_048_576 } if t == pdu_type
        );
        assert_refused!(
            [code, 0x00, 0xFF, 0xFF, 0xFF, 0xFF],
            InvalidPduParameterValue,
            DecodeError::PduTooLong { pdu_type: t, length: 0xFFFF_FFFF, .. } if t == pdu_type
        );
        assert_incomplete(&[code, 0x00, 0x00, 0x10, 0x00, 0x00], 1_048_576);
    }
    // A whole, otherwise valid RQ one byte over the bound: the header decides. One byte
    // less (the last unknown item one byte shorter) is within it. Items hold at most
    // 65,535 bytes: the filler is 18 of them.
    let items = [app_context(), verification_pc(), basic_user_info()].concat();
    let filler = 1_048_577 - 68 - items.len() - 18 * 4;
    let body = |filler: usize| {
        let mut body = [fixed_part(), items.clone()].concat();
        for n in 0..18 {
            let len = if n < 17 {
                filler / 18
            } else {
                filler - 17 * (filler / 18)
            };
            body.extend_from_slice(&item(0x60, &vec![0; len]));
        }
        body
    };
    assert_eq!(body(filler).len(), 1_048_577);
    assert_refused!(
        pdu(0x01, &body(filler)),
        InvalidPduParameterValue,
        DecodeError::PduTooLong {
            pdu_type: PduType::AssociateRq,
            length: 1_048_577,
            ..
        }
    );
    let within = decoded_rq(&pdu(0x01, &body(filler - 1)));
    let kept: usize = within.unknown_items.iter().map(|i| i.value.len()).sum();
    assert_eq!(kept, filler - 1);
}

#[test]
fn unknown_pdu_types_are_unrecognized_pdus() {
    for code in [0x00, 0x08, 0xFF] {
        // From the header alone, whatever its length says.
        assert_refused!(
            [code, 0x00, 0x00, 0x00, 0x00, 0x04],
            UnrecognizedPdu,
            DecodeError::UnrecognizedPduType(c) if c == code
        );
        assert_refused!(
            pdu(code, &[0; 4]),
            UnrecognizedPdu,
            DecodeError::UnrecognizedPduType(c) if c == code
        );
        assert_refused!(
            pdu_len(code, 0xFFFF_FFFF, &[]),
            UnrecognizedPdu,
            DecodeError::UnrecognizedPduType(c) if c == code
        );
    }
}

// ---------------------------------------------------------------------------------------
// Lengths of the top-level items

#[test]
fn application_context_item_length() {
    let with = |ctx: Vec<u8>| rq(&[ctx, verification_pc(), basic_user_info()]);
    // One short: the UID loses its last digit and ends in a period.
    assert_refused!(
        with(item_len(0x10, 20, APP_CONTEXT)),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "application context name",
            ..
        }
    );
    // Two short: the UID still reads ("1.2.840.10008.3.1.1"), but the ".1" left over is
    // read as an item header (0x2E 0x31) whose length (0x2000) runs past the PDU.
    assert_refused!(
        with(item_len(0x10, 19, APP_CONTEXT)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    // One long: the UID takes in the type byte of the next item (0x20, a space).
    assert_refused!(
        with(item_len(0x10, 22, APP_CONTEXT)),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "application context name",
            ..
        }
    );
    // Past the end of the PDU.
    assert_refused!(
        with(item_len(0x10, 0x1000, APP_CONTEXT)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    // The PDU ends inside it, and inside its header.
    for cut in [12, 3] {
        assert_refused!(
            rq(&[app_context()[..cut].to_vec()]),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: RQ, .. }
        );
    }
}

#[test]
fn presentation_context_rq_item_length() {
    let value = [vec![1, 0, 0, 0], abstract_syntax(), transfer_syntax()].concat();
    let len = len16(&value);
    let with = |pc: Vec<u8>| rq(&[app_context(), pc, basic_user_info()]);
    // One short: its transfer syntax sub-item no longer fits.
    assert_refused!(
        with(item_len(0x20, len - 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_RQ, .. }
    );
    // Shorter than the id and its three reserved bytes.
    for short in [0, 3] {
        assert_refused!(
            with(item(0x20, &value[..short])),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: PC_RQ, .. }
        );
    }
    // One long: the type byte of the user information item is a stray byte inside it.
    assert_refused!(
        with(item_len(0x20, len + 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_RQ, .. }
    );
    // Long by exactly the next item: the user information item becomes a sub-item.
    assert_refused!(
        with(item_len(0x20, len + len16(&basic_user_info()), &value)),
        UnexpectedPduParameter,
        DecodeError::UnexpectedItem {
            container: PC_RQ,
            item: ItemType::UserInformation,
        }
    );
    // Past the end of the PDU; the PDU ends inside it.
    assert_refused!(
        with(item_len(0x20, 0xFFFF, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    assert_refused!(
        rq(&[app_context(), verification_pc()[..20].to_vec()]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
}

#[test]
fn user_information_item_length() {
    let value = [max_length(), impl_uid()].concat();
    let len = len16(&value);
    // One short: the implementation class UID sub-item no longer fits.
    assert_refused!(
        rq(&[
            app_context(),
            verification_pc(),
            item_len(0x50, len - 1, &value)
        ]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    // One long, over a stray byte that is in the PDU.
    assert_refused!(
        rq(&[
            app_context(),
            verification_pc(),
            item_len(0x50, len + 1, &value),
            vec![0x00],
        ]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    // One long as the last item: past the end of the PDU.
    assert_refused!(
        rq(&[
            app_context(),
            verification_pc(),
            item_len(0x50, len + 1, &value)
        ]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    // The PDU ends inside it.
    assert_refused!(
        rq(&[
            app_context(),
            verification_pc(),
            basic_user_info()[..10].to_vec()
        ]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RQ, .. }
    );
    // The same in an accept.
    assert_refused!(
        ac(&[
            app_context(),
            accepted_pc(),
            item_len(0x50, len - 1, &value)
        ]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    assert_refused!(
        ac(&[
            app_context(),
            accepted_pc(),
            item_len(0x50, len + 1, &value)
        ]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: AC, .. }
    );
}

#[test]
fn presentation_context_ac_item_length() {
    let value = [vec![1, 0, 0, 0], transfer_syntax()].concat();
    let len = len16(&value);
    let with = |pc: Vec<u8>| ac(&[app_context(), pc, basic_user_info()]);
    assert_refused!(
        with(item_len(0x21, len - 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_AC, .. }
    );
    for short in [0, 3] {
        assert_refused!(
            with(item(0x21, &value[..short])),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: PC_AC, .. }
        );
    }
    assert_refused!(
        with(item_len(0x21, len + 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_AC, .. }
    );
    assert_refused!(
        with(item_len(0x21, 0xFFFF, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: AC, .. }
    );
    assert_refused!(
        ac(&[app_context(), accepted_pc()[..10].to_vec()]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: AC, .. }
    );
    // The application context item of an accept, one short and past the end.
    assert_refused!(
        ac(&[
            item_len(0x10, 20, APP_CONTEXT),
            accepted_pc(),
            basic_user_info()
        ]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "application context name",
            ..
        }
    );
    assert_refused!(
        ac(&[
            item_len(0x10, 0x1000, APP_CONTEXT),
            accepted_pc(),
            basic_user_info()
        ]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: AC, .. }
    );
}

// ---------------------------------------------------------------------------------------
// Lengths of the sub-items of presentation contexts

#[test]
fn abstract_syntax_sub_item_length() {
    let with = |sub: Vec<u8>| rq_with_pc(pc_rq(1, &[sub, transfer_syntax()]));
    // One short: "1.2.840.10008.1." has an empty last component.
    assert_refused!(
        with(item_len(0x30, 16, VERIFICATION)),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "abstract syntax name",
            ..
        }
    );
    // Two short: the ".1" left over reads as a sub-item header whose length (0x4000, from
    // the next sub-item's type byte) runs past the context.
    assert_refused!(
        with(item_len(0x30, 15, VERIFICATION)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_RQ, .. }
    );
    // One long: the UID takes in the next sub-item's type byte, 0x40 ('@').
    assert_refused!(
        with(item_len(0x30, 18, VERIFICATION)),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "abstract syntax name",
            ..
        }
    );
    // Past the end of the context; the context ends inside it.
    assert_refused!(
        with(item_len(0x30, 0x100, VERIFICATION)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_RQ, .. }
    );
    assert_refused!(
        rq_with_pc(pc_rq(1, &[abstract_syntax()[..10].to_vec()])),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_RQ, .. }
    );
}

#[test]
fn transfer_syntax_sub_item_length_in_a_proposed_context() {
    let with = |subs: &[Vec<u8>]| rq_with_pc(pc_rq(1, &[&[abstract_syntax()], subs].concat()));
    assert_refused!(
        with(&[item_len(0x40, 16, IMPLICIT_LE)]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "transfer syntax name",
            ..
        }
    );
    // One long over a stray space inside the context.
    assert_refused!(
        with(&[item_len(0x40, 18, IMPLICIT_LE), vec![b' ']]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "transfer syntax name",
            ..
        }
    );
    // One long as the last sub-item: past the end of the context.
    assert_refused!(
        with(&[item_len(0x40, 18, IMPLICIT_LE)]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_RQ, .. }
    );
    assert_refused!(
        with(&[transfer_syntax()[..6].to_vec()]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_RQ, .. }
    );
}

#[test]
fn transfer_syntax_sub_item_length_in_an_accepted_context() {
    let with = |subs: &[Vec<u8>]| ac_with_pc(pc_ac(1, 0, subs));
    assert_refused!(
        with(&[item_len(0x40, 16, IMPLICIT_LE)]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "transfer syntax name",
            ..
        }
    );
    assert_refused!(
        with(&[item_len(0x40, 18, IMPLICIT_LE), vec![b' ']]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "transfer syntax name",
            ..
        }
    );
    assert_refused!(
        with(&[item_len(0x40, 18, IMPLICIT_LE)]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_AC, .. }
    );
    assert_refused!(
        with(&[transfer_syntax()[..3].to_vec()]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PC_AC, .. }
    );
}

// ---------------------------------------------------------------------------------------
// Lengths of the user information sub-items

#[test]
fn maximum_length_sub_item_length() {
    // The value is a u32: 3 and 5 bytes are refused whatever they hold.
    for value in [&[0x00, 0x00, 0x40][..], &[0x00, 0x00, 0x40, 0x00, 0x00]] {
        assert_refused!(
            rq_with_user_info(&[item(0x51, value), impl_uid()]),
            InvalidPduParameterValue,
            DecodeError::BadLength {
                what: MAX_LENGTH,
                ..
            }
        );
    }
    // A length of 3 over the 4 bytes of a valid value.
    assert_refused!(
        rq_with_user_info(&[item_len(0x51, 3, &16384u32.to_be_bytes()), impl_uid()]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: MAX_LENGTH,
            ..
        }
    );
    assert_refused!(
        rq_with_user_info(&[impl_uid(), item_len(0x51, 0x100, &16384u32.to_be_bytes())]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    assert_refused!(
        rq_with_user_info(&[impl_uid(), max_length()[..6].to_vec()]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
}

#[test]
fn implementation_class_uid_sub_item_length() {
    let with = |sub: Vec<u8>| rq_with_user_info(&[max_length(), sub, version_name()]);
    // One short: "…3680043.10." ends in a period.
    assert_refused!(
        with(item_len(0x52, len16(IMPL_UID) - 1, IMPL_UID)),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "implementation class UID",
            ..
        }
    );
    // One long: the UID takes in the version name's type byte, 0x55 ('U').
    assert_refused!(
        with(item_len(0x52, len16(IMPL_UID) + 1, IMPL_UID)),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "implementation class UID",
            ..
        }
    );
    assert_refused!(
        with(item_len(0x52, 0x400, IMPL_UID)),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    assert_refused!(
        rq_with_user_info(&[max_length(), impl_uid()[..9].to_vec()]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
}

#[test]
fn asynchronous_operations_window_sub_item_length() {
    for value in [&[0x00, 0x01, 0x00][..], &[0x00, 0x01, 0x00, 0x01, 0x00]] {
        assert_refused!(
            rq_with_user_info(&[max_length(), impl_uid(), item(0x53, value)]),
            InvalidPduParameterValue,
            DecodeError::BadLength {
                what: ASYNC_WINDOW,
                ..
            }
        );
    }
    assert_refused!(
        rq_with_user_info(&[max_length(), impl_uid(), item_len(0x53, 5, &[0, 1, 0, 1])]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
}

#[test]
fn role_selection_sub_item_lengths() {
    let with = |sub: Vec<u8>| rq_with_user_info(&[max_length(), impl_uid(), sub]);
    let value = [u16p(HP_STORAGE), vec![0, 1]].concat();
    let len = len16(&value);
    // The item's length: one short (no SCP byte), one long (a byte after it), past the end.
    assert_refused!(
        with(item_len(0x54, len - 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: ROLE, .. }
    );
    assert_refused!(
        with(item(0x54, &[&value[..], &[0]].concat())),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: ROLE, .. }
    );
    assert_refused!(
        with(item_len(0x54, len + 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    // The UID's own u16 length: one short leaves a byte over, one long leaves no SCP
    // byte, 0x100 runs past the item.
    for uid_len in [len16(HP_STORAGE) - 1, len16(HP_STORAGE) + 1, 0x100] {
        assert_refused!(
            with(item(0x54, &[lp(uid_len, HP_STORAGE), vec![0, 1]].concat())),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: ROLE, .. }
        );
    }
    // The item ends inside the UID.
    assert_refused!(
        with(item(0x54, &u16p(HP_STORAGE)[..10])),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: ROLE, .. }
    );
}

#[test]
fn implementation_version_name_sub_item_length() {
    let with = |subs: &[Vec<u8>]| rq_with_user_info(&[&[max_length(), impl_uid()], subs].concat());
    // One short: a shorter name is still a name, but the byte left over is no sub-item.
    assert_refused!(
        with(&[item_len(0x55, len16(VERSION_NAME) - 1, VERSION_NAME)]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    // One long over a NUL: not an ISO 646 character.
    assert_refused!(
        with(&[
            item_len(0x55, len16(VERSION_NAME) + 1, VERSION_NAME),
            vec![0]
        ]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "implementation version name",
            ..
        }
    );
    // Empty.
    assert_refused!(
        with(&[item(0x55, b"")]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "implementation version name",
            ..
        }
    );
    assert_refused!(
        with(&[item_len(0x55, len16(VERSION_NAME) + 1, VERSION_NAME)]),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
}

#[test]
fn sop_class_extended_negotiation_sub_item_lengths() {
    let with = |sub: Vec<u8>| rq_with_user_info(&[max_length(), impl_uid(), sub]);
    let value = [u16p(MWL_FIND), vec![1]].concat();
    // The item ends inside the UID, or before the UID's length.
    for cut in [value.len() - 2, 1] {
        assert_refused!(
            with(item(0x56, &value[..cut])),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: EXTENDED, .. }
        );
    }
    // Past the end of the user information item.
    assert_refused!(
        with(item_len(0x56, len16(&value) + 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    // The application information is "the rest of the item": an item one short or one
    // long only changes it, and that cannot be told from the bytes.
    let Pdu::AssociateRq(shorter) = decoded(&with(item(0x56, &value[..value.len() - 1]))) else {
        unreachable!()
    };
    assert!(
        shorter.user_information.sop_class_extended[0]
            .application_information
            .is_empty()
    );
    // The UID's u16 length: two short ends the UID on a period; one long takes in the
    // application information byte (0x01); 0x100 runs past the item.
    assert_refused!(
        with(item(
            0x56,
            &[lp(len16(MWL_FIND) - 2, MWL_FIND), vec![1]].concat()
        )),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "extended negotiation SOP class UID",
            ..
        }
    );
    assert_refused!(
        with(item(
            0x56,
            &[lp(len16(MWL_FIND) + 1, MWL_FIND), vec![1]].concat()
        )),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "extended negotiation SOP class UID",
            ..
        }
    );
    assert_refused!(
        with(item(0x56, &[lp(0x100, MWL_FIND), vec![1]].concat())),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: EXTENDED, .. }
    );
}

#[test]
fn sop_class_common_extended_negotiation_sub_item_lengths() {
    let with = |sub: Vec<u8>| rq_with_user_info(&[max_length(), impl_uid(), sub]);
    let value = common_extended_value();
    let len = len16(&value);
    let refused_as_common = |sub: Vec<u8>| {
        assert_refused!(
            with(sub),
            InvalidPduParameterValue,
            DecodeError::BadLength {
                what: COMMON_EXTENDED,
                ..
            }
        );
    };
    // The item one short: the related identification no longer fits.
    refused_as_common(item_len(0x57, len - 1, &value));
    refused_as_common(item(0x57, &value[..value.len() - 1]));
    // Past the end of the user information item.
    assert_refused!(
        with(item_len(0x57, len + 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    // The item one long: version 0 ends with reserved bytes, kept as received, so an
    // extra byte cannot be told from a reserved one.
    let Pdu::AssociateRq(longer) = decoded(&with(item(0x57, &[&value[..], &[0xEE]].concat())))
    else {
        unreachable!()
    };
    assert_eq!(
        longer.user_information.sop_class_common_extended[0].reserved,
        [0xEE]
    );

    // The SOP class UID's and the service class UID's u16 lengths, one short and one long:
    // every later length is read from the wrong bytes and runs past the item.
    let related = u16p(&u16p(CT_IMAGE));
    for sop_len in [len16(CT_ENHANCED) - 1, len16(CT_ENHANCED) + 1] {
        refused_as_common(item(
            0x57,
            &[
                lp(sop_len, CT_ENHANCED),
                u16p(STORAGE_SERVICE),
                related.clone(),
            ]
            .concat(),
        ));
    }
    for service_len in [len16(STORAGE_SERVICE) - 1, len16(STORAGE_SERVICE) + 1] {
        refused_as_common(item(
            0x57,
            &[
                u16p(CT_ENHANCED),
                lp(service_len, STORAGE_SERVICE),
                related.clone(),
            ]
            .concat(),
        ));
    }
    let head = [u16p(CT_ENHANCED), u16p(STORAGE_SERVICE)].concat();
    let pair = u16p(CT_IMAGE);
    let pair_len = len16(&pair);
    // The related identification's length: one long, with nothing after it.
    refused_as_common(item(
        0x57,
        &[head.clone(), lp(pair_len + 1, &pair)].concat(),
    ));
    // One short: its last byte falls into the reserved bytes, and the UID it holds no
    // longer fits; one long over a reserved byte: that byte is no UID length.
    for bad in [
        lp(pair_len - 1, &pair),
        [lp(pair_len + 1, &pair), vec![0]].concat(),
    ] {
        assert_refused!(
            with(item(0x57, &[head.clone(), bad].concat())),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: RELATED, .. }
        );
    }
    // The related UID's own length: one short ends it on a period, one long runs past.
    assert_refused!(
        with(item(
            0x57,
            &[head.clone(), u16p(&lp(len16(CT_IMAGE) - 1, CT_IMAGE))].concat()
        )),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "related general SOP class UID",
            ..
        }
    );
    assert_refused!(
        with(item(
            0x57,
            &[head, u16p(&lp(len16(CT_IMAGE) + 1, CT_IMAGE))].concat()
        )),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: RELATED, .. }
    );
}

#[test]
fn user_identity_request_sub_item_lengths() {
    let with = |sub: Vec<u8>| rq_with_user_info(&[max_length(), impl_uid(), sub]);
    let refused_as_identity = |sub: Vec<u8>| {
        assert_refused!(
            with(sub),
            InvalidPduParameterValue,
            DecodeError::BadLength {
                what: IDENTITY_RQ,
                ..
            }
        );
    };
    let value = [vec![2, 0], u16p(b"alice"), u16p(b"pw")].concat();
    let len = len16(&value);
    // The item: one short, one long (over a byte that is there), past the end.
    refused_as_identity(item(0x58, &value[..value.len() - 1]));
    refused_as_identity(item(0x58, &[&value[..], &[0]].concat()));
    assert_refused!(
        with(item_len(0x58, len + 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
    // The primary field's length: one short, one long, past the end; the secondary
    // field is then read from the wrong bytes.
    for primary_len in [4, 6, 0xFFFF] {
        refused_as_identity(item(
            0x58,
            &[vec![2, 0], lp(primary_len, b"alice"), u16p(b"pw")].concat(),
        ));
    }
    // The secondary field's length: one short leaves a byte over, one long runs past.
    for secondary_len in [1, 3] {
        refused_as_identity(item(
            0x58,
            &[vec![2, 0], u16p(b"alice"), lp(secondary_len, b"pw")].concat(),
        ));
    }
    // The item ends before the secondary field's length.
    refused_as_identity(item(0x58, &[vec![1, 0], u16p(b"alice")].concat()));
}

#[test]
fn user_identity_response_sub_item_lengths() {
    let with = |sub: Vec<u8>| ac_with_user_info(&[max_length(), impl_uid(), sub]);
    let refused_as_response = |sub: Vec<u8>| {
        assert_refused!(
            with(sub),
            InvalidPduParameterValue,
            DecodeError::BadLength {
                what: IDENTITY_AC,
                ..
            }
        );
    };
    let value = u16p(b"ticket");
    refused_as_response(item(0x59, &value[..value.len() - 1]));
    refused_as_response(item(0x59, &[&value[..], &[0]].concat()));
    refused_as_response(item(0x59, &[0x00]));
    for response_len in [5, 7, 0xFFFF] {
        refused_as_response(item(0x59, &lp(response_len, b"ticket")));
    }
    assert_refused!(
        with(item_len(0x59, len16(&value) + 1, &value)),
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: USER_INFO,
            ..
        }
    );
}

#[test]
fn pdv_item_length() {
    let data = [0x01, 0x02, 0x03, 0x04];
    // One short: with a PDV after it, the next "length" starts with the last data byte.
    assert_refused!(
        p_data(&[pdv_len(5, 1, 0x03, &data), pdv(1, 0x02, &data)]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    // One short alone: one byte over, no PDV.
    assert_refused!(
        p_data(&[pdv_len(5, 1, 0x03, &data)]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    // One long, and far too long: past the end of the PDU.
    for len in [7, 0xFFFF_FFFF] {
        assert_refused!(
            p_data(&[pdv_len(len, 1, 0x03, &data)]),
            InvalidPduParameterValue,
            DecodeError::BadLength { what: PDV, .. }
        );
    }
    // The PDU ends inside the PDV header.
    assert_refused!(
        pdu(0x04, &pdv(1, 0x03, &data)[..5]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
}

// ---------------------------------------------------------------------------------------
// Missing, repeated and misplaced items

#[test]
fn missing_mandatory_items() {
    let missing = |bytes: Vec<u8>, container: &'static str, item: ItemType| {
        let err = refused(&bytes);
        assert_eq!(err, DecodeError::MissingItem { container, item });
        assert_eq!(
            AbortReason::from(&err),
            AbortReason::InvalidPduParameterValue
        );
    };
    missing(
        rq(&[verification_pc(), basic_user_info()]),
        RQ,
        ItemType::ApplicationContext,
    );
    missing(
        rq(&[app_context(), basic_user_info()]),
        RQ,
        ItemType::PresentationContextRq,
    );
    missing(
        rq(&[app_context(), verification_pc()]),
        RQ,
        ItemType::UserInformation,
    );
    missing(rq(&[]), RQ, ItemType::PresentationContextRq);
    missing(
        rq_with_user_info(&[impl_uid()]),
        USER_INFO,
        ItemType::MaximumLength,
    );
    missing(
        rq_with_user_info(&[max_length()]),
        USER_INFO,
        ItemType::ImplementationClassUid,
    );
    missing(
        rq_with_pc(pc_rq(1, &[transfer_syntax()])),
        PC_RQ,
        ItemType::AbstractSyntax,
    );
    missing(
        rq_with_pc(pc_rq(1, &[abstract_syntax()])),
        PC_RQ,
        ItemType::TransferSyntax,
    );
    missing(
        ac_with_pc(pc_ac(1, 0, &[])),
        PC_AC,
        ItemType::TransferSyntax,
    );
    missing(
        ac(&[app_context(), basic_user_info()]),
        AC,
        ItemType::PresentationContextAc,
    );
    missing(
        ac(&[accepted_pc(), basic_user_info()]),
        AC,
        ItemType::ApplicationContext,
    );
    missing(
        ac(&[app_context(), accepted_pc()]),
        AC,
        ItemType::UserInformation,
    );
    missing(
        ac_with_user_info(&[impl_uid()]),
        USER_INFO,
        ItemType::MaximumLength,
    );
}

#[test]
fn duplicated_singletons() {
    let unexpected = |bytes: Vec<u8>, container: &'static str, item: ItemType| {
        let err = refused(&bytes);
        assert_eq!(err, DecodeError::UnexpectedItem { container, item });
        assert_eq!(AbortReason::from(&err), AbortReason::UnexpectedPduParameter);
    };
    unexpected(
        rq(&[
            app_context(),
            app_context(),
            verification_pc(),
            basic_user_info(),
        ]),
        RQ,
        ItemType::ApplicationContext,
    );
    unexpected(
        rq(&[
            app_context(),
            verification_pc(),
            basic_user_info(),
            basic_user_info(),
        ]),
        RQ,
        ItemType::UserInformation,
    );
    unexpected(
        rq_with_user_info(&[max_length(), impl_uid(), max_length()]),
        USER_INFO,
        ItemType::MaximumLength,
    );
    unexpected(
        ac(&[
            app_context(),
            accepted_pc(),
            basic_user_info(),
            basic_user_info(),
        ]),
        AC,
        ItemType::UserInformation,
    );
    unexpected(
        rq_with_user_info(&[max_length(), impl_uid(), impl_uid()]),
        USER_INFO,
        ItemType::ImplementationClassUid,
    );
    unexpected(
        rq_with_user_info(&[max_length(), impl_uid(), version_name(), version_name()]),
        USER_INFO,
        ItemType::ImplementationVersionName,
    );
    unexpected(
        rq_with_user_info(&[
            max_length(),
            impl_uid(),
            item(0x53, &[0, 1, 0, 1]),
            item(0x53, &[0, 1, 0, 1]),
        ]),
        USER_INFO,
        ItemType::AsyncOperationsWindow,
    );
    unexpected(
        rq_with_user_info(&[
            max_length(),
            impl_uid(),
            identity_rq(1, 0, b"alice", b""),
            identity_rq(1, 0, b"bob", b""),
        ]),
        USER_INFO,
        ItemType::UserIdentityRq,
    );
    unexpected(
        rq_with_pc(pc_rq(
            1,
            &[abstract_syntax(), abstract_syntax(), transfer_syntax()],
        )),
        PC_RQ,
        ItemType::AbstractSyntax,
    );
    unexpected(
        ac_with_pc(pc_ac(1, 0, &[transfer_syntax(), transfer_syntax()])),
        PC_AC,
        ItemType::TransferSyntax,
    );
}

#[test]
fn known_items_in_the_wrong_place() {
    let unexpected = |bytes: Vec<u8>, container: &'static str, item: ItemType| {
        let err = refused(&bytes);
        assert_eq!(err, DecodeError::UnexpectedItem { container, item });
        assert_eq!(AbortReason::from(&err), AbortReason::UnexpectedPduParameter);
    };
    // A context of the other PDU.
    unexpected(
        rq(&[app_context(), accepted_pc(), basic_user_info()]),
        RQ,
        ItemType::PresentationContextAc,
    );
    unexpected(
        ac(&[app_context(), verification_pc(), basic_user_info()]),
        AC,
        ItemType::PresentationContextRq,
    );
    // User identity and common extended negotiation on the wrong side.
    unexpected(
        ac_with_user_info(&[max_length(), impl_uid(), identity_rq(1, 0, b"alice", b"")]),
        USER_INFO,
        ItemType::UserIdentityRq,
    );
    unexpected(
        rq_with_user_info(&[max_length(), impl_uid(), item(0x59, &u16p(b""))]),
        USER_INFO,
        ItemType::UserIdentityAc,
    );
    unexpected(
        ac_with_user_info(&[
            max_length(),
            impl_uid(),
            item(0x57, &common_extended_value()),
        ]),
        USER_INFO,
        ItemType::SopClassCommonExtendedNegotiation,
    );
    // Sub-items at the top level, and items one level too deep.
    unexpected(
        rq(&[
            app_context(),
            verification_pc(),
            basic_user_info(),
            max_length(),
        ]),
        RQ,
        ItemType::MaximumLength,
    );
    unexpected(
        rq(&[
            app_context(),
            abstract_syntax(),
            verification_pc(),
            basic_user_info(),
        ]),
        RQ,
        ItemType::AbstractSyntax,
    );
    unexpected(
        rq_with_user_info(&[max_length(), impl_uid(), transfer_syntax()]),
        USER_INFO,
        ItemType::TransferSyntax,
    );
    unexpected(
        rq_with_pc(pc_rq(
            1,
            &[app_context(), abstract_syntax(), transfer_syntax()],
        )),
        PC_RQ,
        ItemType::ApplicationContext,
    );
    unexpected(
        ac_with_pc(pc_ac(1, 0, &[abstract_syntax(), transfer_syntax()])),
        PC_AC,
        ItemType::AbstractSyntax,
    );
}

// ---------------------------------------------------------------------------------------
// Values the standard does not allow

#[test]
fn even_or_zero_presentation_context_ids() {
    for id in [0, 2, 254] {
        assert_refused!(
            rq_with_pc(pc_rq(id, &[abstract_syntax(), transfer_syntax()])),
            InvalidPduParameterValue,
            DecodeError::InvalidValue {
                what: "presentation context id",
                ..
            }
        );
        assert_refused!(
            ac_with_pc(pc_ac(id, 0, &[transfer_syntax()])),
            InvalidPduParameterValue,
            DecodeError::InvalidValue {
                what: "presentation context id",
                ..
            }
        );
        assert_refused!(
            p_data(&[pdv(id, 0x03, &[0])]),
            InvalidPduParameterValue,
            DecodeError::InvalidValue {
                what: "presentation context id",
                ..
            }
        );
    }
    // The largest odd id is fine.
    decoded(&p_data(&[pdv(255, 0x03, &[0])]));
}

#[test]
fn invalid_ae_titles_in_a_request() {
    let with = |called: [u8; 16], calling: [u8; 16]| {
        pdu(
            0x01,
            &[
                fixed_part_with(called, calling),
                app_context(),
                verification_pc(),
                basic_user_info(),
            ]
            .concat(),
        )
    };
    // All spaces.
    assert_refused!(
        with([b' '; 16], ae(b"ECHOSCU")),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "called AE title",
            ..
        }
    );
    assert_refused!(
        with(ae(b"ANY-SCP"), [b' '; 16]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "calling AE title",
            ..
        }
    );
    // A control character, a NUL pad, a backslash, a byte outside ISO 646.
    for bad in [
        &b"ECHO\x07SCU"[..],
        b"ECHOSCU\0\0\0\0",
        b"ECHO\\SCU",
        b"\xC9CHOSCU",
    ] {
        assert_refused!(
            with(ae(b"ANY-SCP"), ae(bad)),
            InvalidPduParameterValue,
            DecodeError::InvalidValue {
                what: "calling AE title",
                ..
            }
        );
    }
    assert_refused!(
        with(ae(b"ANY\tSCP"), ae(b"ECHOSCU")),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "called AE title",
            ..
        }
    );
}

#[test]
fn invalid_uids() {
    let invalid = |bytes: Vec<u8>, field: &str| {
        let err = refused(&bytes);
        assert!(
            matches!(&err, DecodeError::InvalidValue { what, .. } if *what == field),
            "{field}: {err:?}"
        );
        assert_eq!(
            AbortReason::from(&err),
            AbortReason::InvalidPduParameterValue
        );
    };
    let long = [&b"1.2."[..], &[b'9'; 61]].concat();
    for bad in [
        &b"1.2.840.10008.1.a"[..],
        b"1.2..840",
        b".1.2",
        b"1.2.",
        b"",
        b"1.2 ",
        &long,
    ] {
        invalid(
            rq_with_pc(pc_rq(1, &[item(0x30, bad), transfer_syntax()])),
            "abstract syntax name",
        );
        invalid(
            rq_with_pc(pc_rq(1, &[abstract_syntax(), item(0x40, bad)])),
            "transfer syntax name",
        );
        invalid(
            ac_with_pc(pc_ac(1, 0, &[item(0x40, bad)])),
            "transfer syntax name",
        );
        invalid(
            rq(&[item(0x10, bad), verification_pc(), basic_user_info()]),
            "application context name",
        );
        invalid(
            rq_with_user_info(&[max_length(), item(0x52, bad)]),
            "implementation class UID",
        );
        invalid(
            rq_with_user_info(&[max_length(), impl_uid(), role(bad, 0, 1)]),
            "role selection SOP class UID",
        );
    }
}

#[test]
fn role_bytes_other_than_zero_or_one() {
    let with = |scu: u8, scp: u8| {
        rq_with_user_info(&[max_length(), impl_uid(), role(HP_STORAGE, scu, scp)])
    };
    assert_refused!(
        with(2, 1),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "SCU role",
            ..
        }
    );
    assert_refused!(
        with(0, 2),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "SCP role",
            ..
        }
    );
    assert_refused!(
        ac_with_user_info(&[max_length(), impl_uid(), role(HP_STORAGE, 0xFF, 0)]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "SCU role",
            ..
        }
    );
}

#[test]
fn user_identity_types_zero_and_six_are_unrecognized() {
    for kind in [0, 6, 0xFF] {
        assert_refused!(
            rq_with_user_info(&[max_length(), impl_uid(), identity_rq(kind, 0, b"alice", b"")]),
            UnrecognizedPduParameter,
            DecodeError::UnrecognizedValue {
                what: "user identity type",
                value,
            } if value == kind
        );
    }
}

#[test]
fn user_identity_positive_response_byte_two() {
    assert_refused!(
        rq_with_user_info(&[max_length(), impl_uid(), identity_rq(1, 2, b"alice", b"")]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "positive response requested",
            ..
        }
    );
}

#[test]
fn a_secondary_field_only_with_type_two() {
    for kind in [1, 3, 4, 5] {
        assert_refused!(
            rq_with_user_info(&[
                max_length(),
                impl_uid(),
                identity_rq(kind, 0, b"alice", b"pw")
            ]),
            InvalidPduParameterValue,
            DecodeError::InvalidValue {
                what: "user identity secondary field",
                ..
            }
        );
    }
    let rq = decoded_rq(&rq_with_user_info(&[
        max_length(),
        impl_uid(),
        identity_rq(2, 1, b"alice", b"pw"),
    ]));
    let identity = rq.user_information.user_identity_request.expect("0x58");
    assert_eq!(
        identity.identity,
        UserIdentity::UsernamePasscode {
            username: b"alice".to_vec(),
            passcode: b"pw".to_vec(),
        }
    );
    assert!(identity.positive_response_requested);
}

#[test]
fn presentation_context_result_five() {
    for result in [5, 0xFF] {
        assert_refused!(
            ac_with_pc(pc_ac(1, result, &[transfer_syntax()])),
            UnrecognizedPduParameter,
            DecodeError::UnrecognizedValue {
                what: "presentation context result/reason",
                value,
            } if value == result
        );
    }
}

#[test]
fn associate_rj_result_and_source_out_of_range() {
    for result in [0, 3] {
        assert_refused!(
            [0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, result, 0x01, 0x01],
            UnrecognizedPduParameter,
            DecodeError::UnrecognizedValue {
                what: "A-ASSOCIATE-RJ result",
                value,
            } if value == result
        );
    }
    for source in [0, 4] {
        assert_refused!(
            [0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, source, 0x01],
            UnrecognizedPduParameter,
            DecodeError::UnrecognizedValue {
                what: "A-ASSOCIATE-RJ source",
                value,
            } if value == source
        );
    }
}

#[test]
fn implementation_version_name_of_seventeen_characters() {
    assert_refused!(
        rq_with_user_info(&[max_length(), impl_uid(), item(0x55, b"DICOMWIRE_0.1.0.X")]),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "implementation version name",
            ..
        }
    );
    // Sixteen is the most.
    let rq = decoded_rq(&rq_with_user_info(&[
        max_length(),
        impl_uid(),
        item(0x55, b"DICOMWIRE_0.1.0X"),
    ]));
    assert_eq!(
        rq.user_information.implementation_version_name.as_deref(),
        Some("DICOMWIRE_0.1.0X")
    );
}

#[test]
fn p_data_with_no_or_broken_pdvs() {
    // No PDV at all.
    assert_refused!(
        [0x04, 0x00, 0x00, 0x00, 0x00, 0x00],
        InvalidPduParameterValue,
        DecodeError::BadLength {
            what: "P-DATA-TF",
            ..
        }
    );
    // A PDV of length 0 or 1: no room for the context id and the control header.
    assert_refused!(
        [0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00],
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    assert_refused!(
        [
            0x04, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x01
        ],
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    // A second PDV that overruns the PDU.
    assert_refused!(
        p_data(&[pdv(1, 0x03, &[1, 2]), pdv_len(100, 1, 0x02, &[3, 4])]),
        InvalidPduParameterValue,
        DecodeError::BadLength { what: PDV, .. }
    );
    // Length 2: an empty fragment is a PDV.
    let p = decoded_p_data(&[
        0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02,
    ]);
    assert!(p.pdvs[0].data.is_empty() && p.pdvs[0].header.is_last());
}

// ---------------------------------------------------------------------------------------
// What the decoder tolerates

#[test]
fn unknown_items_are_skipped_and_kept() {
    // At the top level of a request (also before the application context), inside a
    // proposed context and inside the user information.
    let rq = decoded_rq(&rq(&[
        item(0x0F, b""),
        app_context(),
        pc_rq(
            1,
            &[
                item(0x31, b"x"),
                abstract_syntax(),
                transfer_syntax(),
                item(0xFF, b""),
            ],
        ),
        user_info(&[
            item(0x5A, b"future"),
            max_length(),
            impl_uid(),
            item(0x00, b""),
        ]),
        item(0x60, b"later"),
    ]));
    let raw = |item_type: u8, value: &[u8]| RawItem {
        item_type,
        value: value.to_vec(),
    };
    assert_eq!(rq.unknown_items, [raw(0x0F, b""), raw(0x60, b"later")]);
    let pc = &rq.presentation_contexts[0];
    assert_eq!(pc.unknown_sub_items, [raw(0x31, b"x"), raw(0xFF, b"")]);
    assert_eq!(pc.abstract_syntax, uid("1.2.840.10008.1.1"));
    assert_eq!(
        rq.user_information.unknown,
        [raw(0x5A, b"future"), raw(0x00, b"")]
    );
    assert_eq!(rq.user_information.max_length, 16384);

    // And in an accept, inside an answered context.
    let ac = decoded_ac(&ac(&[
        app_context(),
        pc_ac(1, 0, &[item(0x41, b"?"), transfer_syntax()]),
        user_info(&[max_length(), impl_uid(), item(0x5F, &[1, 2])]),
        item(0x22, b""),
    ]));
    assert_eq!(ac.unknown_items, [raw(0x22, b"")]);
    assert_eq!(
        ac.presentation_contexts[0].unknown_sub_items,
        [raw(0x41, b"?")]
    );
    assert_eq!(ac.user_information.unknown, [raw(0x5F, &[1, 2])]);
}

#[test]
fn a_rejected_context_needs_no_usable_transfer_syntax() {
    let transfer_syntax_of = |sub_items: &[Vec<u8>], result: u8| {
        let ac = decoded_ac(&ac_with_pc(pc_ac(1, result, sub_items)));
        let pc = &ac.presentation_contexts[0];
        assert_eq!(pc.result.code(), result);
        pc.transfer_syntax.clone()
    };
    for result in 1..=4 {
        // None at all, an empty one, one that is no UID.
        assert_eq!(transfer_syntax_of(&[], result), None);
        assert_eq!(transfer_syntax_of(&[item(0x40, b"")], result), None);
        assert_eq!(transfer_syntax_of(&[item(0x40, b"n/a")], result), None);
        // A UID is kept; of two, the first.
        assert_eq!(
            transfer_syntax_of(&[transfer_syntax()], result),
            Some(uid("1.2.840.10008.1.2"))
        );
        assert_eq!(
            transfer_syntax_of(&[item(0x40, b"1.2.3"), transfer_syntax()], result),
            Some(uid("1.2.3"))
        );
    }
    // Accepted, the same empty sub-item is refused.
    assert_refused!(
        ac_with_pc(pc_ac(1, 0, &[item(0x40, b"")])),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "transfer syntax name",
            ..
        }
    );
    let ac = decoded_ac(&ac_with_pc(pc_ac(1, 3, &[])));
    assert_eq!(
        ac.presentation_contexts[0].result,
        PresentationContextResult::AbstractSyntaxNotSupported
    );
}

/// An A-ASSOCIATE-RQ with every reserved byte set to `fill`: header byte 2, fixed-part
/// bytes 9–10 and 43–74, byte 2 of every item but 0x57 (a version there), bytes 6–8 of
/// the presentation context item.
fn rq_with_reserved(fill: u8) -> Vec<u8> {
    let item = |t: u8, value: &[u8]| raw_item(t, fill, len16(value), value);
    let mut fixed = fixed_part();
    fixed[2..4].fill(fill);
    fixed[36..68].fill(fill);
    let items = [
        item(0x10, APP_CONTEXT),
        item(
            0x20,
            &[
                vec![1, fill, fill, fill],
                item(0x30, VERIFICATION),
                item(0x40, IMPLICIT_LE),
            ]
            .concat(),
        ),
        item(
            0x50,
            &[
                item(0x51, &16384u32.to_be_bytes()),
                item(0x52, IMPL_UID),
                item(0x53, &[0, 1, 0, 1]),
                item(0x54, &[u16p(HP_STORAGE), vec![0, 1]].concat()),
                item(0x55, VERSION_NAME),
                item(0x56, &[u16p(MWL_FIND), vec![1]].concat()),
                item(0x58, &[vec![1, 0], u16p(b"alice"), u16p(b"")].concat()),
            ]
            .concat(),
        ),
    ]
    .concat();
    let mut wire = pdu(0x01, &[fixed, items].concat());
    wire[1] = fill;
    wire
}

fn ac_with_reserved(fill: u8) -> Vec<u8> {
    let item = |t: u8, value: &[u8]| raw_item(t, fill, len16(value), value);
    let mut fixed = fixed_part();
    fixed[2..4].fill(fill);
    fixed[36..68].fill(fill);
    let items = [
        item(0x10, APP_CONTEXT),
        item(
            0x21,
            &[vec![1, fill, 0, fill], item(0x40, IMPLICIT_LE)].concat(),
        ),
        item(
            0x50,
            &[
                item(0x51, &16384u32.to_be_bytes()),
                item(0x52, IMPL_UID),
                item(0x59, &u16p(b"")),
            ]
            .concat(),
        ),
    ]
    .concat();
    let mut wire = pdu(0x02, &[fixed, items].concat());
    wire[1] = fill;
    wire
}

#[test]
fn reserved_bytes_are_not_tested() {
    for fill in [0x01, 0xFF] {
        assert_eq!(
            decoded(&rq_with_reserved(fill)),
            decoded(&rq_with_reserved(0))
        );
        assert_eq!(
            decoded(&ac_with_reserved(fill)),
            decoded(&ac_with_reserved(0))
        );
    }
    // A-ASSOCIATE-RJ byte 7, A-RELEASE-RQ/RP bytes 7–10, A-ABORT bytes 7–8, P-DATA-TF
    // byte 2 and bits 2–7 of the message control header.
    let pairs: [(&[u8], &[u8]); 6] = [
        (
            &[0x03, 0xFF, 0x00, 0x00, 0x00, 0x04, 0xFF, 0x01, 0x01, 0x07],
            &[0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x07],
        ),
        (
            &[0x05, 0xFF, 0x00, 0x00, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF],
            &[0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00],
        ),
        (
            &[0x06, 0x01, 0x00, 0x00, 0x00, 0x04, 0xFF, 0xFF, 0xFF, 0xFF],
            &[0x06, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00],
        ),
        (
            &[0x07, 0xFF, 0x00, 0x00, 0x00, 0x04, 0xFF, 0xFF, 0x02, 0x06],
            &[0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x06],
        ),
        (
            // The reason byte of a service-user abort is not significant either.
            &[0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06],
            &[0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00],
        ),
        (
            &[
                0x04, 0xFF, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0x01, 0xFF, 0xAA,
            ],
            &[
                0x04, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0x01, 0x03, 0xAA,
            ],
        ),
    ];
    for (noisy, clean) in pairs {
        assert_eq!(decoded(noisy), decoded(clean), "{noisy:02x?}");
    }
    let Pdu::Abort(abort) = decoded(pairs[4].0) else {
        unreachable!()
    };
    assert_eq!(abort.source, AbortSource::ServiceUser);
}

#[test]
fn a_trailing_nul_on_a_uid_is_dropped() {
    let padded = |uid: &[u8]| [uid, b"\0"].concat();
    let rq = decoded_rq(&rq(&[
        item(0x10, &padded(APP_CONTEXT)),
        pc_rq(
            1,
            &[
                item(0x30, &padded(VERIFICATION)),
                item(0x40, &padded(IMPLICIT_LE)),
            ],
        ),
        user_info(&[
            max_length(),
            item(0x52, &padded(IMPL_UID)),
            role(&padded(HP_STORAGE), 0, 1),
        ]),
    ]));
    assert_eq!(rq.application_context.as_str(), "1.2.840.10008.3.1.1.1");
    let pc = &rq.presentation_contexts[0];
    assert_eq!(pc.abstract_syntax.as_str(), "1.2.840.10008.1.1");
    assert_eq!(pc.transfer_syntaxes, [uid("1.2.840.10008.1.2")]);
    let ui = &rq.user_information;
    assert_eq!(
        ui.implementation_class_uid.as_str(),
        "1.2.826.0.1.3680043.10.1"
    );
    assert_eq!(
        ui.role_selections[0].sop_class_uid.as_str(),
        "1.2.840.10008.5.1.4.38.1"
    );
    // Exactly what the unpadded request decodes to.
    let plain = rq_with_user_info(&[max_length(), impl_uid(), role(HP_STORAGE, 0, 1)]);
    assert_eq!(rq, decoded_rq(&plain));

    let ac = decoded_ac(&ac_with_pc(pc_ac(
        1,
        0,
        &[item(0x40, &padded(IMPLICIT_LE))],
    )));
    assert_eq!(
        ac.presentation_contexts[0].transfer_syntax,
        Some(uid("1.2.840.10008.1.2"))
    );
    // Only a trailing NUL: a NUL inside, or a NUL alone, is not a UID.
    assert_refused!(
        rq_with_pc(pc_rq(1, &[item(0x30, b"1.2\x00.3"), transfer_syntax()])),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "abstract syntax name",
            ..
        }
    );
    assert_refused!(
        rq_with_pc(pc_rq(1, &[item(0x30, b"\0"), transfer_syntax()])),
        InvalidPduParameterValue,
        DecodeError::InvalidValue {
            what: "abstract syntax name",
            ..
        }
    );
}

#[test]
fn the_ae_title_echo_of_an_accept_is_not_validated() {
    for (called, calling) in [
        ([b' '; 16], [b' '; 16]),
        ([0x00; 16], [0xFF; 16]),
        (ae(b"A\\B\x07"), ae(b"\x1B[31m")),
    ] {
        let wire = pdu(
            0x02,
            &[
                fixed_part_with(called, calling),
                app_context(),
                accepted_pc(),
                basic_user_info(),
            ]
            .concat(),
        );
        let ac = decoded_ac(&wire);
        assert_eq!(ac.called_ae_title_echo, called);
        assert_eq!(ac.calling_ae_title_echo, calling);
    }
}

// ---------------------------------------------------------------------------------------
// Robustness sweeps

#[test]
fn every_truncation_of_a_valid_pdu_is_incomplete_with_the_exact_need() {
    for wire in [full_rq(), full_ac(), full_p_data()] {
        for cut in 0..wire.len() {
            let needed = if cut < 6 { 6 - cut } else { wire.len() - cut };
            assert_incomplete(&wire[..cut], needed);
        }
        decoded(&wire);
    }
}

/// Decodes without panicking, and never claims more bytes than it was given.
#[track_caller]
fn assert_survives(bytes: &[u8], case: &dyn Fn() -> String) {
    let outcome = catch_unwind(AssertUnwindSafe(|| match decode(bytes) {
        Ok(Decoded::Complete { consumed, .. }) => Ok(Some(consumed)),
        Ok(Decoded::Incomplete { needed }) => {
            assert!(needed > 0, "Incomplete with nothing needed");
            Ok(None)
        }
        Err(e) => Err(AbortReason::from(&e)),
    }));
    match outcome {
        Err(_) => panic!("decode panicked: {}", case()),
        Ok(Ok(Some(consumed))) => assert!(
            consumed <= bytes.len(),
            "{}: consumed {consumed} of {}",
            case(),
            bytes.len()
        ),
        Ok(_) => {}
    }
}

#[test]
fn no_single_byte_change_or_truncation_panics_or_overreads() {
    for (name, wire) in [
        ("A-ASSOCIATE-RQ", full_rq()),
        ("A-ASSOCIATE-AC", full_ac()),
        ("P-DATA-TF", full_p_data()),
    ] {
        // Every byte, so every byte of every length field (PDU-length, item and sub-item
        // lengths, the u16 lengths inside 0x54/0x56/0x57/0x58/0x59, PDV lengths), takes
        // every value.
        let mut mutated = wire.clone();
        for at in 0..wire.len() {
            for value in 0..=u8::MAX {
                mutated[at] = value;
                assert_survives(&mutated, &|| format!("{name} byte {at} = {value:#04x}"));
            }
            mutated[at] = wire[at];
        }
        // Every truncation of the input, and every truncation of the body under a
        // PDU-length that agrees with it, so the body parser meets every end.
        for cut in 0..wire.len() {
            assert_survives(&wire[..cut], &|| format!("{name} cut at {cut}"));
        }
        for cut in 0..wire.len() - 6 {
            let body = &wire[6..6 + cut];
            assert_survives(&pdu(wire[0], body), &|| format!("{name} body cut at {cut}"));
        }
    }
}
