//! The `identifier_match` target: the C-FIND matcher on arbitrary identifiers, records
//! and single values.

use bytes::Bytes;
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::dimse::DataSet;
use dicomwire::service::{MatchOptions, dataset, match_identifier, matches_value};

use crate::setup::{TRANSFER_SYNTAXES, uid};

/// Splits `data` in two at a point its first two bytes give.
fn split_two(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (head, rest) = data.split_at_checked(2)?;
    let at = usize::from(u16::from_le_bytes([head[0], head[1]])).min(rest.len());
    Some(rest.split_at(at))
}

/// A query that asks for every top-level attribute of `record` with universal matching
/// (zero-length values, empty sequences), plus the record's Timezone Offset From UTC
/// (never matched), skipping what is never a key (group lengths, command and file meta
/// groups), or with the record's own text values where they are single values
/// without wild cards, ranges or backslashes (single value matching of a value against
/// itself).
fn query_from(record: &InMemDicomObject, own_values: bool) -> InMemDicomObject {
    let mut query = InMemDicomObject::new_empty();
    for element in record.iter() {
        let tag = element.header().tag;
        if tag.element() == 0 || tag.group() <= 2 {
            continue; // group lengths, command and file meta: never keys
        }
        let vr = element.header().vr;
        let text = element.value().to_str().ok();
        let literal = text.as_deref().is_some_and(|t| {
            let t = t.trim_matches(|c| c == ' ' || c == '\0');
            !t.is_empty() && !t.contains(['*', '?', '\\', '-'])
        });
        let value = match element.value() {
            Value::Sequence(_) => {
                Value::Sequence(DataSetSequence::new(Vec::new(), Length::UNDEFINED))
            }
            Value::Primitive(p) if own_values && literal && is_text(vr) => {
                Value::Primitive(p.clone())
            }
            _ => Value::Primitive(PrimitiveValue::Empty),
        };
        let vr = if matches!(value, Value::Sequence(_)) {
            VR::SQ
        } else {
            vr
        };
        query.put(DataElement::new(tag, vr, value));
    }
    if let Some(offset) = record.get(tags::TIMEZONE_OFFSET_FROM_UTC) {
        query.put(offset.clone());
    }
    query
}

fn is_text(vr: VR) -> bool {
    use VR::*;
    matches!(
        vr,
        AE | AS | CS | DA | DS | DT | IS | LO | LT | PN | SH | ST | TM | UC | UI | UR | UT
    )
}

/// The C-FIND matcher on an arbitrary identifier and record, each decoded from the
/// input as a data set (byte 0 picks the options and the transfer syntax; two bytes
/// say where the identifier ends and the record begins), and on arbitrary single values.
///
/// Checked: no panic; the same answer twice; a response holds only the query's keys and
/// the identifier attributes (Specific Character Set, Timezone Offset From UTC); a query
/// with every attribute of the record as a universal key matches it and returns every
/// key; single-valued text keys equal to the record's own values match it; and a single
/// value without wild cards or range matches itself under [`matches_value`].
pub fn identifier_match(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let options = if selector & 1 == 0 {
        MatchOptions::worklist()
    } else {
        MatchOptions::hanging_protocol()
    };
    let syntax = if selector & 2 == 0 {
        TRANSFER_SYNTAXES[0]
    } else {
        TRANSFER_SYNTAXES[1]
    };
    let Some((query_bytes, record_bytes)) = split_two(rest) else {
        return;
    };

    // Single values: the first half as a key, the second as a value, under each VR.
    let key = String::from_utf8_lossy(query_bytes);
    let value = String::from_utf8_lossy(record_bytes);
    let vr = [
        VR::PN,
        VR::DA,
        VR::TM,
        VR::DT,
        VR::CS,
        VR::LO,
        VR::DS,
        VR::IS,
        VR::UI,
        VR::AE,
    ][usize::from(selector >> 4) % 10];
    let once = matches_value(vr, &key, &value, &options);
    assert_eq!(
        once,
        matches_value(vr, &key, &value, &options),
        "not deterministic"
    );
    let literal = key.trim_matches(|c| c == ' ' || c == '\0');
    if !literal.is_empty() && !literal.contains(['*', '?', '\\', '-']) {
        assert!(
            matches_value(vr, &key, &key, &options),
            "{vr:?} {key:?} does not match itself"
        );
    }

    let decode = |bytes: &[u8]| {
        dataset::decode(&DataSet {
            transfer_syntax: uid(syntax),
            bytes: Bytes::copy_from_slice(bytes),
        })
        .ok()
    };
    let (Some(query), Some(record)) = (decode(query_bytes), decode(record_bytes)) else {
        return;
    };
    let answer = match_identifier(&query, &record, &options);
    // Compared through Debug: dicom-core's `Length` equality is false for two undefined
    // lengths (like NaN), so `==` fails on any equal objects holding a sequence.
    assert_eq!(
        format!("{answer:?}"),
        format!("{:?}", match_identifier(&query, &record, &options)),
        "not deterministic"
    );
    if let Some(response) = &answer {
        for element in response.iter() {
            let tag = element.header().tag;
            assert!(
                query.get(tag).is_some()
                    || tag == tags::SPECIFIC_CHARACTER_SET
                    || tag == tags::TIMEZONE_OFFSET_FROM_UTC,
                "{tag} in the response was not asked for"
            );
        }
        let _ = dataset::encode(response, syntax);
    }

    let universal = query_from(&record, false);
    let response = match_identifier(&universal, &record, &options)
        .unwrap_or_else(|| panic!("universal keys do not match the record: {universal:?}"));
    for element in universal.iter() {
        let tag = element.header().tag;
        if tag == tags::SPECIFIC_CHARACTER_SET || tag == tags::TIMEZONE_OFFSET_FROM_UTC {
            continue; // identifier attributes, returned by their own rules
        }
        assert!(
            response.get(tag).is_some(),
            "{tag} asked for but not returned"
        );
    }
    let own = query_from(&record, true);
    assert!(
        match_identifier(&own, &record, &options).is_some(),
        "the record's own values do not match it: {own:?}"
    );
}
