//! The Storage service (PS3.4 Annex B): which SOP classes are storage SOP classes and
//! which transfer syntaxes an instance can be stored in as received (both from the
//! standard's registries, see [`crate::registry`]), and the check of a C-STORE data
//! set's first bytes against its request.

use crate::dimse::Status;

pub use crate::registry::{is_storable_transfer_syntax, is_storage_sop_class, is_valid_uid};

/// What the first bytes of a C-STORE data set say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Prefix {
    /// Not enough bytes yet to say.
    NeedMore,
    /// The data set names the SOP class and instance of its request (or cannot be looked
    /// into without decoding it: a deflated transfer syntax).
    Matches,
    /// It does not: the status to answer and why, in words.
    Refused(Status, String),
}

/// The most of a data set's first bytes looked at: the SOP Common elements come early.
pub(crate) const PREFIX_LIMIT: usize = 64 * 1024;

/// Checks the first bytes `data` of a C-STORE data set in `transfer_syntax` against the
/// request's Affected SOP Class and Instance UIDs: SOP Class UID (0008,0016) and SOP
/// Instance UID (0008,0018) must be there and equal them (0xA900 otherwise, PS3.4
/// B.2.3); bytes that are no data set are 0xC000.
pub(crate) fn check_prefix(
    transfer_syntax: &str,
    sop_class_uid: &str,
    sop_instance_uid: &str,
    data: &[u8],
    last: bool,
) -> Prefix {
    let ts = transfer_syntax.trim_end_matches('\0');
    let (explicit, big_endian) = match ts {
        "1.2.840.10008.1.2" => (false, false),
        "1.2.840.10008.1.2.2" => (true, true),
        // Deflated: the data set cannot be looked into without inflating it.
        "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" | "1.2.840.10008.1.2.4.205" => {
            return Prefix::Matches;
        }
        _ => (true, false),
    };
    let (mut class, mut instance) = (None, None);
    let mut at = 0;
    loop {
        match element(data, at, explicit, big_endian) {
            Element::Incomplete if last => {
                return Prefix::Refused(
                    Status::STORE_CANNOT_UNDERSTAND,
                    "data set ends inside an element".into(),
                );
            }
            // Elements before the SOP Common ones this long: nothing to refuse it for.
            Element::Incomplete if data.len() >= PREFIX_LIMIT => return Prefix::Matches,
            Element::Incomplete => return Prefix::NeedMore,
            Element::Invalid(why) => return Prefix::Refused(Status::STORE_CANNOT_UNDERSTAND, why),
            // A sequence of undefined length before the SOP Common elements: looking
            // further would mean parsing it; the request's UIDs are taken as they are.
            Element::Undefined => return Prefix::Matches,
            Element::Whole { tag, value, next } => {
                if tag > (0x0008, 0x0018) {
                    break;
                }
                let text = || {
                    String::from_utf8_lossy(value)
                        .trim_end_matches(['\0', ' '])
                        .to_owned()
                };
                match tag {
                    (0x0008, 0x0016) => class = Some(text()),
                    (0x0008, 0x0018) => instance = Some(text()),
                    _ => {}
                }
                at = next;
                if at == data.len() && last {
                    break;
                }
            }
        }
    }
    let mismatch = |what: &str, found: Option<String>, wanted: &str| match found {
        None => Some(format!("data set has no {what}")),
        Some(found) if found != wanted => Some(format!("data set {what} {found} is not {wanted}")),
        Some(_) => None,
    };
    match mismatch("SOP Class UID", class, sop_class_uid)
        .or_else(|| mismatch("SOP Instance UID", instance, sop_instance_uid))
    {
        Some(why) => Prefix::Refused(Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS, why),
        None => Prefix::Matches,
    }
}

enum Element<'a> {
    Incomplete,
    Invalid(String),
    Undefined,
    Whole {
        tag: (u16, u16),
        value: &'a [u8],
        next: usize,
    },
}

/// The element at `at` of `data`.
fn element(data: &[u8], at: usize, explicit: bool, big_endian: bool) -> Element<'_> {
    let u16_at = |i: usize| -> Option<u16> {
        let b: [u8; 2] = data.get(i..i + 2)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(i..i + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let (Some(group), Some(elem)) = (u16_at(at), u16_at(at + 2)) else {
        return Element::Incomplete;
    };
    let (length, header) = if explicit {
        let Some(vr) = data.get(at + 4..at + 6) else {
            return Element::Incomplete;
        };
        if !vr.iter().all(u8::is_ascii_uppercase) {
            return Element::Invalid(format!(
                "element ({group:04X},{elem:04X}) has no value representation"
            ));
        }
        let long = matches!(
            vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        if long {
            let Some(l) = u32_at(at + 8) else {
                return Element::Incomplete;
            };
            (l, 12)
        } else {
            let Some(l) = u16_at(at + 6) else {
                return Element::Incomplete;
            };
            (u32::from(l), 8)
        }
    } else {
        let Some(l) = u32_at(at + 4) else {
            return Element::Incomplete;
        };
        (l, 8)
    };
    if length == u32::MAX {
        return Element::Undefined;
    }
    let start = at + header;
    let Some(end) = usize::try_from(length)
        .ok()
        .and_then(|l| start.checked_add(l))
    else {
        return Element::Invalid("element length out of range".into());
    };
    match data.get(start..end) {
        Some(value) => Element::Whole {
            tag: (group, elem),
            value,
            next: end,
        },
        None => Element::Incomplete,
    }
}
