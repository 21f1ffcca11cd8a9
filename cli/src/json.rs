//! DICOM JSON (PS3.18 F.2) for `--json`: one object per data set.
//!
//! The shape, per attribute: the tag as eight uppercase hex digits maps to an object with
//! `"vr"` and, unless the value is empty, `"Value"` (an array) or `"InlineBinary"` (base64
//! of the little-endian bytes, for OB, OD, OF, OL, OV, OW and UN). Person names are
//! objects with `"Alphabetic"`, `"Ideographic"` and `"Phonetic"` from the `=`-separated
//! component groups; IS, DS and the binary numbers are JSON numbers; AT values are tags as
//! eight hex digits; sequence items are nested objects. An empty value inside a
//! multi-valued attribute is `null`. Group lengths (gggg,0000) are left out (F.2.1.1).
//!
//! ```
//! use dicom_core::{DataElement, PrimitiveValue, VR};
//! use dicom_dictionary_std::tags;
//! use dicom_object::InMemDicomObject;
//!
//! let object = InMemDicomObject::from_element_iter([DataElement::new(
//!     tags::PATIENT_NAME,
//!     VR::PN,
//!     PrimitiveValue::from("Wang^XiaoDong=王^小東"),
//! )]);
//! let json = dicomwire_cli::json::to_json(&object);
//! assert_eq!(json["00100010"]["Value"][0]["Ideographic"], "王^小東");
//! ```

use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value as DicomValue};
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use serde_json::{Map, Number, Value};

/// The DICOM JSON model of `object`: keys sorted by tag.
pub fn to_json(object: &InMemDicomObject) -> Value {
    let mut map = Map::new();
    for element in object.iter() {
        let tag = element.tag();
        if tag.element() == 0x0000 {
            continue;
        }
        map.insert(tag_key(tag), element_json(element));
    }
    Value::Object(map)
}

/// A tag as the eight uppercase hex digits DICOM JSON uses.
pub fn tag_key(tag: Tag) -> String {
    format!("{:04X}{:04X}", tag.group(), tag.element())
}

fn element_json(element: &InMemElement) -> Value {
    let vr = element.vr();
    let mut attribute = Map::new();
    attribute.insert("vr".into(), Value::String(vr.to_string().to_owned()));
    match element.value() {
        DicomValue::Sequence(sequence) => {
            let items = sequence.items();
            if !items.is_empty() {
                attribute.insert(
                    "Value".into(),
                    Value::Array(items.iter().map(to_json).collect()),
                );
            }
        }
        DicomValue::PixelSequence(pixels) => {
            let mut stream = Vec::new();
            let table: Vec<u8> = pixels
                .offset_table()
                .iter()
                .flat_map(|o| o.to_le_bytes())
                .collect();
            push_item(&mut stream, &table);
            for fragment in pixels.fragments() {
                push_item(&mut stream, fragment);
            }
            stream.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
            attribute.insert("InlineBinary".into(), Value::String(base64(&stream)));
        }
        DicomValue::Primitive(value) => {
            if is_binary(vr) {
                let bytes = little_endian_bytes(value);
                if !bytes.is_empty() {
                    attribute.insert("InlineBinary".into(), Value::String(base64(&bytes)));
                }
            } else if vr != VR::SQ {
                let values = primitive_values(vr, value);
                if !values.is_empty() {
                    attribute.insert("Value".into(), Value::Array(values));
                }
            }
        }
    }
    Value::Object(attribute)
}

/// An encapsulated item (FFFE,E000) holding `data`, as in the encapsulated format.
fn push_item(stream: &mut Vec<u8>, data: &[u8]) {
    stream.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    stream.extend_from_slice(&len.to_le_bytes());
    stream.extend_from_slice(data);
}

fn is_binary(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB | VR::OD | VR::OF | VR::OL | VR::OV | VR::OW | VR::UN
    )
}

/// VRs whose value is one text that may hold backslashes.
fn is_single_text(vr: VR) -> bool {
    matches!(vr, VR::LT | VR::ST | VR::UT | VR::UR)
}

/// The values of a primitive, as DICOM JSON array members; empty when the value is empty.
fn primitive_values(vr: VR, value: &PrimitiveValue) -> Vec<Value> {
    if matches!(value, PrimitiveValue::Empty) {
        return Vec::new();
    }
    if vr == VR::AT {
        if let PrimitiveValue::Tags(tags) = value {
            return tags.iter().map(|t| Value::String(tag_key(*t))).collect();
        }
    }
    let texts = texts(vr, value);
    if texts.iter().all(String::is_empty) && texts.len() <= 1 {
        return Vec::new();
    }
    texts
        .iter()
        .map(|text| {
            if text.is_empty() {
                return Value::Null;
            }
            match vr {
                VR::PN => person_name(text),
                VR::IS | VR::DS | VR::US | VR::UL | VR::SS | VR::SL | VR::SV | VR::UV => {
                    number(text)
                }
                VR::FL | VR::FD => number(text),
                VR::AT => Value::String(normalise_tag_text(text)),
                _ => Value::String(text.clone()),
            }
        })
        .collect()
}

/// The value's components as text, split at backslashes where the VR is multi-valued,
/// without padding.
fn texts(vr: VR, value: &PrimitiveValue) -> Vec<String> {
    if is_single_text(vr) {
        return vec![value.to_str().trim_end_matches([' ', '\0']).to_owned()];
    }
    let trim_start = !matches!(vr, VR::PN | VR::LO | VR::SH | VR::UC);
    value
        .to_multi_str()
        .iter()
        .flat_map(|s| s.split('\\').map(str::to_owned).collect::<Vec<_>>())
        .map(|s| {
            let s = s.trim_end_matches([' ', '\0']);
            if trim_start {
                s.trim_start_matches(' ').to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect()
}

fn person_name(text: &str) -> Value {
    let mut name = Map::new();
    for (group, key) in text
        .split('=')
        .zip(["Alphabetic", "Ideographic", "Phonetic"])
    {
        if !group.is_empty() {
            name.insert(key.into(), Value::String(group.to_owned()));
        }
    }
    if name.is_empty() {
        Value::Null
    } else {
        Value::Object(name)
    }
}

/// A number as JSON: an integer when it is one, else a float; text that is not a number
/// stays text (a malformed IS or DS is shown, not dropped), and NaN or infinity is null.
fn number(text: &str) -> Value {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    match text.parse::<f64>() {
        Ok(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Err(_) => Value::String(text.to_owned()),
    }
}

/// `(0010,0020)`, `0010,0020` or `00100020` as `00100020`.
fn normalise_tag_text(text: &str) -> String {
    let hex: String = text
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if hex.len() == 8 { hex } else { text.to_owned() }
}

/// A binary value's bytes in little-endian order, whatever type dicom-object holds it as.
fn little_endian_bytes(value: &PrimitiveValue) -> Vec<u8> {
    match value {
        PrimitiveValue::Empty => Vec::new(),
        PrimitiveValue::U8(v) => v.to_vec(),
        PrimitiveValue::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::Tags(v) => v
            .iter()
            .flat_map(|t| {
                let [a, b] = t.group().to_le_bytes();
                let [c, d] = t.element().to_le_bytes();
                [a, b, c, d]
            })
            .collect(),
        other => other.to_bytes().into_owned(),
    }
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 section 4) with padding, as InlineBinary requires.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(BASE64_ALPHABET[((n >> shift) & 0x3F) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::DataElement;
    use dicom_core::value::DataSetSequence;
    use dicom_dictionary_std::tags;
    use serde_json::json;

    fn one(element: InMemElement) -> Value {
        let object = InMemDicomObject::from_element_iter([element]);
        let key = tag_key(object.iter().next().map(Header::tag).unwrap_or(Tag(0, 0)));
        to_json(&object)[key.as_str()].clone()
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64(&[0xFB, 0xFF, 0xBF]), "+/+/");
    }

    #[test]
    fn person_name_groups() {
        let v = one(DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::from("Yamada^Tarou=山田^太郎=やまだ^たろう"),
        ));
        assert_eq!(
            v,
            json!({"vr": "PN", "Value": [{
                "Alphabetic": "Yamada^Tarou",
                "Ideographic": "山田^太郎",
                "Phonetic": "やまだ^たろう"
            }]})
        );
        let v = one(DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::from("=王^伟"),
        ));
        assert_eq!(v["Value"][0], json!({"Ideographic": "王^伟"}));
    }

    #[test]
    fn numbers_and_strings() {
        let v = one(DataElement::new(
            tags::PIXEL_SPACING,
            VR::DS,
            PrimitiveValue::from("0.5\\12 "),
        ));
        assert_eq!(v, json!({"vr": "DS", "Value": [0.5, 12]}));
        let v = one(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(512_u16),
        ));
        assert_eq!(v, json!({"vr": "US", "Value": [512]}));
        let v = one(DataElement::new(
            tags::SERIES_NUMBER,
            VR::IS,
            PrimitiveValue::from("-3"),
        ));
        assert_eq!(v, json!({"vr": "IS", "Value": [-3]}));
        let v = one(DataElement::new(
            tags::IMAGE_TYPE,
            VR::CS,
            PrimitiveValue::from("ORIGINAL\\\\AXIAL"),
        ));
        assert_eq!(v, json!({"vr": "CS", "Value": ["ORIGINAL", null, "AXIAL"]}));
        let v = one(DataElement::new(
            tags::DISPLAY_ENVIRONMENT_SPATIAL_POSITION,
            VR::FD,
            PrimitiveValue::F64([0.0, 1.0, 0.5, 0.0].into_iter().collect()),
        ));
        assert_eq!(v, json!({"vr": "FD", "Value": [0, 1, 0.5, 0]}));
    }

    #[test]
    fn text_keeps_backslashes() {
        let v = one(DataElement::new(
            tags::ADDITIONAL_PATIENT_HISTORY,
            VR::LT,
            PrimitiveValue::from("a\\b  "),
        ));
        assert_eq!(v, json!({"vr": "LT", "Value": ["a\\b"]}));
    }

    #[test]
    fn attribute_tags() {
        let v = one(DataElement::new(
            tags::SELECTOR_ATTRIBUTE,
            VR::AT,
            PrimitiveValue::from(Tag(0x0008, 0x0060)),
        ));
        assert_eq!(v, json!({"vr": "AT", "Value": ["00080060"]}));
    }

    #[test]
    fn binary_is_inline_base64() {
        let v = one(DataElement::new(
            tags::FILE_META_INFORMATION_VERSION,
            VR::OB,
            PrimitiveValue::U8([0x00, 0x01].into_iter().collect()),
        ));
        assert_eq!(v, json!({"vr": "OB", "InlineBinary": "AAE="}));
        let v = one(DataElement::new(
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            VR::OW,
            PrimitiveValue::U16([0x0102].into_iter().collect()),
        ));
        assert_eq!(v["InlineBinary"], "AgE=");
    }

    #[test]
    fn empty_values_have_no_value_key() {
        for (tag, vr) in [
            (tags::PATIENT_NAME, VR::PN),
            (tags::PATIENT_ID, VR::LO),
            (tags::ROWS, VR::US),
            (tags::FILE_META_INFORMATION_VERSION, VR::OB),
        ] {
            let v = one(DataElement::new(tag, vr, PrimitiveValue::Empty));
            assert_eq!(v, json!({"vr": vr.to_string()}), "{vr:?}");
        }
        let v = one(DataElement::new(
            tags::REFERENCED_STUDY_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(Vec::<InMemDicomObject>::new()),
        ));
        assert_eq!(v, json!({"vr": "SQ"}));
    }

    #[test]
    fn sequences_nest_and_keys_sort() {
        let item = InMemDicomObject::from_element_iter([
            DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from("CT")),
            DataElement::new(
                tags::SCHEDULED_STATION_AE_TITLE,
                VR::AE,
                PrimitiveValue::from("CT01"),
            ),
        ]);
        let object = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(vec![item]),
            ),
            DataElement::new(tags::PATIENT_ID, VR::LO, PrimitiveValue::from("P1")),
        ]);
        let v = to_json(&object);
        let keys: Vec<&String> = v
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["00100020", "00400100"]);
        assert_eq!(
            v["00400100"],
            json!({"vr": "SQ", "Value": [{
                "00080060": {"vr": "CS", "Value": ["CT"]},
                "00400001": {"vr": "AE", "Value": ["CT01"]}
            }]})
        );
    }

    #[test]
    fn group_lengths_are_left_out() {
        let object = InMemDicomObject::from_element_iter([
            DataElement::new(Tag(0x0010, 0x0000), VR::UL, PrimitiveValue::from(8_u32)),
            DataElement::new(tags::PATIENT_ID, VR::LO, PrimitiveValue::from("P1")),
        ]);
        let v = to_json(&object);
        assert!(v.get("00100000").is_none());
        assert!(v.get("00100020").is_some());
    }
}
