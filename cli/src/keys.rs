//! Query keys from the command line (`-k`), as DCMTK's `findscu -k` takes them, and the
//! default return keys of `find worklist` and `find hanging-protocol`.
//!
//! A key is `PATH=VALUE`, or `PATH` alone (or `PATH=`) for a zero-length key, which asks
//! the SCP to return the attribute. `PATH` is one attribute, named by its keyword
//! (`PatientName`), by `(gggg,eeee)` or `gggg,eeee`, or a path through sequence items such
//! as `ScheduledProcedureStepSequence[0].Modality`; the sequence and the item are created
//! when missing (an index without brackets means item 0). The VR comes from the standard
//! dictionary (UN for a tag it does not know). A multi-valued VALUE separates its values
//! with a backslash: `SOPInstanceUID=1.2.3\1.2.4`.
//!
//! ```
//! use dicom_dictionary_std::tags;
//! use dicomwire_cli::keys::{apply_keys, default_worklist_query};
//!
//! let mut query = default_worklist_query();
//! apply_keys(
//!     &mut query,
//!     &["PatientName=S*".into(), "ScheduledProcedureStepSequence[0].Modality=CT".into()],
//! )?;
//! assert_eq!(query.element(tags::PATIENT_NAME)?.to_str()?, "S*");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

/// Applies each of `keys` to `base` in order: later keys replace earlier ones and the
/// defaults. `Err` names the key that could not be applied and why; `base` may then hold
/// the keys before it.
pub fn apply_keys(base: &mut InMemDicomObject, keys: &[String]) -> Result<(), String> {
    for key in keys {
        apply_key(base, key)?;
    }
    Ok(())
}

/// Applies one key (see the [module docs](self) for its syntax).
pub fn apply_key(base: &mut InMemDicomObject, key: &str) -> Result<(), String> {
    let (path_text, value) = match key.split_once('=') {
        Some((path, value)) => (path.trim(), value),
        None => (key.trim(), ""),
    };
    if path_text.is_empty() {
        return Err(format!("key {key:?}: no attribute before '='"));
    }
    let steps = parse_path(path_text).map_err(|why| format!("key {key:?}: {why}"))?;
    set_at(base, &steps, value).map_err(|why| format!("key {key:?}: {why}"))
}

/// One step of a key's path: an attribute, and for a sequence the item to go into.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    tag: Tag,
    name: String,
    item: Option<usize>,
}

fn parse_path(text: &str) -> Result<Vec<Step>, String> {
    text.split('.').map(parse_step).collect()
}

fn parse_step(text: &str) -> Result<Step, String> {
    let text = text.trim();
    let (name, item) = match text.strip_suffix(']') {
        Some(rest) => {
            let (name, index) = rest
                .split_once('[')
                .ok_or_else(|| format!("{text:?} has ']' without '['"))?;
            let index = index
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("{text:?}: item index {index:?} is not a number"))?;
            (name.trim(), Some(index))
        }
        None if text.contains('[') => return Err(format!("{text:?} has '[' without ']'")),
        None => (text, None),
    };
    if name.is_empty() {
        return Err("an empty attribute name in the path".into());
    }
    let tag = parse_tag(name)?;
    Ok(Step {
        tag,
        name: name.to_owned(),
        item,
    })
}

/// A keyword of the standard dictionary, `(gggg,eeee)`, `gggg,eeee` or `ggggeeee`.
pub fn parse_tag(name: &str) -> Result<Tag, String> {
    let hex = name
        .strip_prefix('(')
        .and_then(|n| n.strip_suffix(')'))
        .unwrap_or(name);
    let pair = match hex.split_once(',') {
        Some((group, element)) => Some((group.trim(), element.trim())),
        None if hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            Some((&hex[..4], &hex[4..]))
        }
        None => None,
    };
    if let Some((group, element)) = pair {
        let parse = |part: &str| {
            if part.len() == 4 {
                u16::from_str_radix(part, 16).ok()
            } else {
                None
            }
        };
        return match (parse(group), parse(element)) {
            (Some(group), Some(element)) => Ok(Tag(group, element)),
            _ => Err(format!("{name:?} is not a tag (gggg,eeee)")),
        };
    }
    StandardDataDictionary
        .by_name(name)
        .map(DataDictionaryEntry::tag)
        .ok_or_else(|| format!("unknown attribute keyword {name:?}"))
}

/// The VR the dictionary gives `tag`; UN when it does not know it.
fn dictionary_vr(tag: Tag) -> VR {
    StandardDataDictionary
        .by_tag(tag)
        .map_or(VR::UN, |entry| entry.vr().relaxed())
}

fn set_at(object: &mut InMemDicomObject, steps: &[Step], value: &str) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        return Ok(());
    };
    let existing = object.get(step.tag);
    let is_sequence = match existing.map(InMemElement::value) {
        Some(Value::Sequence(_)) => true,
        Some(Value::Primitive(PrimitiveValue::Empty)) | None => match dictionary_vr(step.tag) {
            VR::SQ => true,
            // A tag the dictionary does not know is whatever the path makes it.
            VR::UN => !rest.is_empty() || step.item.is_some(),
            _ => false,
        },
        Some(_) => false,
    };
    if rest.is_empty() && step.item.is_none() {
        let element = if is_sequence {
            if !value.is_empty() {
                return Err(format!(
                    "{} is a sequence: give a path into an item, like {}[0].Keyword=VALUE",
                    step.name, step.name
                ));
            }
            DataElement::new(step.tag, VR::SQ, DataSetSequence::from(Vec::new()))
        } else {
            let vr = existing.map_or_else(|| dictionary_vr(step.tag), InMemElement::vr);
            let vr = if vr == VR::SQ {
                dictionary_vr(step.tag)
            } else {
                vr
            };
            DataElement::new(step.tag, vr, primitive(vr, value, &step.name)?)
        };
        object.put(element);
        return Ok(());
    }
    if !is_sequence {
        return Err(format!(
            "{} is not a sequence, so it has no items",
            step.name
        ));
    }
    if rest.is_empty() && !value.is_empty() {
        return Err(format!(
            "{}[{}] is an item: give a keyword inside it, like {}[0].Keyword=VALUE",
            step.name,
            step.item.unwrap_or(0),
            step.name
        ));
    }
    let index = step.item.unwrap_or(0);
    let mut items: Vec<InMemDicomObject> = existing
        .and_then(|e| e.items())
        .map(<[InMemDicomObject]>::to_vec)
        .unwrap_or_default();
    while items.len() <= index {
        items.push(InMemDicomObject::new_empty());
    }
    set_at(&mut items[index], rest, value)?;
    object.put(DataElement::new(
        step.tag,
        VR::SQ,
        DataSetSequence::from(items),
    ));
    Ok(())
}

/// The value `text` as the VR `vr` wants it; an empty text is a zero-length value.
fn primitive(vr: VR, text: &str, name: &str) -> Result<PrimitiveValue, String> {
    if text.is_empty() {
        return Ok(PrimitiveValue::Empty);
    }
    let parts = || text.split('\\').map(str::trim);
    let bad = |what: &str| format!("{name} ({vr:?}) needs {what}, not {text:?}");
    let value = match vr {
        VR::US => PrimitiveValue::U16(
            parts()
                .map(|p| p.parse().map_err(|_| bad("unsigned 16-bit numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::SS => PrimitiveValue::I16(
            parts()
                .map(|p| p.parse().map_err(|_| bad("signed 16-bit numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::UL => PrimitiveValue::U32(
            parts()
                .map(|p| p.parse().map_err(|_| bad("unsigned 32-bit numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::SL => PrimitiveValue::I32(
            parts()
                .map(|p| p.parse().map_err(|_| bad("signed 32-bit numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::UV => PrimitiveValue::U64(
            parts()
                .map(|p| p.parse().map_err(|_| bad("unsigned 64-bit numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::SV => PrimitiveValue::I64(
            parts()
                .map(|p| p.parse().map_err(|_| bad("signed 64-bit numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::FL => PrimitiveValue::F32(
            parts()
                .map(|p| p.parse().map_err(|_| bad("numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::FD => PrimitiveValue::F64(
            parts()
                .map(|p| p.parse().map_err(|_| bad("numbers")))
                .collect::<Result<_, _>>()?,
        ),
        VR::AT => PrimitiveValue::Tags(
            parts()
                .map(|p| parse_tag(p).map_err(|_| bad("tags like (0008,0060)")))
                .collect::<Result<_, _>>()?,
        ),
        VR::OB | VR::OD | VR::OF | VR::OL | VR::OV | VR::OW => {
            return Err(format!(
                "{name} has the binary VR {vr:?}; only a zero-length key can be given"
            ));
        }
        VR::SQ => return Err(format!("{name} is a sequence")),
        VR::LT | VR::ST | VR::UT | VR::UR | VR::UN => PrimitiveValue::from(text),
        _ if text.contains('\\') => {
            PrimitiveValue::Strs(text.split('\\').map(str::to_owned).collect())
        }
        _ => PrimitiveValue::from(text),
    };
    Ok(value)
}

fn empty(tag: Tag, vr: VR) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::Empty)
}

fn sequence(tag: Tag, item: InMemDicomObject) -> InMemElement {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(vec![item]))
}

/// The identifier `find worklist` sends before the `-k` keys: the return keys a modality
/// usually asks for, all zero-length (universal matching).
pub fn default_worklist_query() -> InMemDicomObject {
    let step = InMemDicomObject::from_element_iter([
        empty(tags::MODALITY, VR::CS),
        empty(tags::SCHEDULED_STATION_AE_TITLE, VR::AE),
        empty(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA),
        empty(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM),
        empty(tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME, VR::PN),
        empty(tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION, VR::LO),
        empty(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH),
    ]);
    InMemDicomObject::from_element_iter([
        empty(tags::ACCESSION_NUMBER, VR::SH),
        empty(tags::PATIENT_NAME, VR::PN),
        empty(tags::PATIENT_ID, VR::LO),
        empty(tags::PATIENT_BIRTH_DATE, VR::DA),
        empty(tags::PATIENT_SEX, VR::CS),
        empty(tags::STUDY_INSTANCE_UID, VR::UI),
        empty(tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO),
        empty(tags::REQUESTED_PROCEDURE_ID, VR::SH),
        sequence(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, step),
    ])
}

/// The identifier `find hanging-protocol` sends before the `-k` keys: what identifies and
/// describes each protocol, all zero-length (universal matching).
pub fn default_hanging_protocol_query() -> InMemDicomObject {
    let definition = InMemDicomObject::from_element_iter([empty(tags::MODALITY, VR::CS)]);
    InMemDicomObject::from_element_iter([
        empty(tags::SOP_CLASS_UID, VR::UI),
        empty(tags::SOP_INSTANCE_UID, VR::UI),
        empty(tags::HANGING_PROTOCOL_NAME, VR::SH),
        empty(tags::HANGING_PROTOCOL_DESCRIPTION, VR::LO),
        empty(tags::HANGING_PROTOCOL_LEVEL, VR::CS),
        empty(tags::HANGING_PROTOCOL_CREATOR, VR::LO),
        empty(tags::HANGING_PROTOCOL_CREATION_DATE_TIME, VR::DT),
        sequence(tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, definition),
        empty(tags::NUMBER_OF_PRIORS_REFERENCED, VR::US),
        empty(tags::NUMBER_OF_SCREENS, VR::US),
    ])
}

/// Sets Specific Character Set (0008,0005) to ISO_IR 192 (UTF-8) when a text value of
/// `identifier` (in sequences too) is not ASCII and the user gave no character set: the
/// default repertoire is ASCII only, and an SCP reads bytes past it in the character set
/// the identifier names (PS3.5 6.1.2.5.2). With ISO_IR 192 any Unicode key can be sent.
/// Returns whether it was set.
pub fn set_character_set(identifier: &mut InMemDicomObject) -> bool {
    if identifier.get(tags::SPECIFIC_CHARACTER_SET).is_some() || !has_non_ascii_text(identifier) {
        return false;
    }
    identifier.put(DataElement::new(
        tags::SPECIFIC_CHARACTER_SET,
        VR::CS,
        PrimitiveValue::from("ISO_IR 192"),
    ));
    true
}

/// Whether a text value of `object`, or of an item of one of its sequences, has a
/// character outside ASCII.
fn has_non_ascii_text(object: &InMemDicomObject) -> bool {
    object.iter().any(|element| match element.value() {
        Value::Primitive(value) => {
            matches!(
                element.vr(),
                VR::PN | VR::LO | VR::SH | VR::LT | VR::ST | VR::UT | VR::UC
            ) && !value.to_str().is_ascii()
        }
        Value::Sequence(seq) => seq.items().iter().any(has_non_ascii_text),
        Value::PixelSequence(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn text(object: &InMemDicomObject, tag: Tag) -> String {
        object
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.into_owned())
            .unwrap_or_else(|| "<missing>".into())
    }

    #[test]
    fn tags_in_every_spelling() {
        for spelling in [
            "PatientID",
            "(0010,0020)",
            "0010,0020",
            "00100020",
            "(0010, 0020)",
        ] {
            assert_eq!(parse_tag(spelling), Ok(tags::PATIENT_ID), "{spelling}");
        }
        assert_eq!(parse_tag("(7fe0,0010)"), Ok(tags::PIXEL_DATA));
        assert!(parse_tag("(0010,002)").is_err());
        assert!(parse_tag("PatientNme").is_err());
    }

    #[test]
    fn values_take_the_dictionary_vr() {
        let mut q = InMemDicomObject::new_empty();
        apply_keys(
            &mut q,
            &keys(&[
                "PatientName=Doe^J*",
                "(0010,0020)=123",
                "NumberOfPriorsReferenced=1",
                "SOPInstanceUID=1.2.3\\1.2.4",
                "SelectorAttribute=(0008,0060)",
                "PatientBirthDate",
            ]),
        )
        .unwrap();
        let name = q.get(tags::PATIENT_NAME).unwrap();
        assert_eq!(name.vr(), VR::PN);
        assert_eq!(text(&q, tags::PATIENT_ID), "123");
        assert_eq!(q.get(tags::PATIENT_ID).unwrap().vr(), VR::LO);
        let priors = q.get(tags::NUMBER_OF_PRIORS_REFERENCED).unwrap();
        assert_eq!(
            (priors.vr(), priors.to_int::<u16>().ok()),
            (VR::US, Some(1))
        );
        let uids = q
            .get(tags::SOP_INSTANCE_UID)
            .unwrap()
            .to_multi_str()
            .unwrap();
        assert_eq!(uids.as_ref(), ["1.2.3", "1.2.4"]);
        assert_eq!(
            q.get(tags::SELECTOR_ATTRIBUTE).unwrap().value().primitive(),
            Some(&PrimitiveValue::from(Tag(0x0008, 0x0060)))
        );
        let birth = q.get(tags::PATIENT_BIRTH_DATE).unwrap();
        assert_eq!(
            (birth.vr(), birth.value().primitive()),
            (VR::DA, Some(&PrimitiveValue::Empty))
        );
    }

    #[test]
    fn nested_paths_create_sequences_and_items() {
        let mut q = InMemDicomObject::new_empty();
        apply_keys(
            &mut q,
            &keys(&[
                "ScheduledProcedureStepSequence[0].Modality=CT",
                "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
                "(0040,0100)[0].(0040,0002)=20240101-20240131",
            ]),
        )
        .unwrap();
        let items = q
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(text(&items[0], tags::MODALITY), "CT");
        assert_eq!(
            items[0].get(tags::SCHEDULED_STATION_AE_TITLE).unwrap().vr(),
            VR::AE
        );
        assert_eq!(
            text(&items[0], tags::SCHEDULED_PROCEDURE_STEP_START_DATE),
            "20240101-20240131"
        );
        // An index past the end creates the items before it.
        apply_key(
            &mut q,
            "ReferencedStudySequence[1].ReferencedSOPInstanceUID=1.2",
        )
        .unwrap();
        let items = q
            .get(tags::REFERENCED_STUDY_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(items.len(), 2);
        // A bare item path creates the item.
        apply_key(&mut q, "ReferencedPatientSequence[0]").unwrap();
        let items = q
            .get(tags::REFERENCED_PATIENT_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(items.len(), 1);
        // No index means item 0.
        apply_key(&mut q, "ScheduledProcedureStepSequence.Modality=MR").unwrap();
        let items = q
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(text(&items[0], tags::MODALITY), "MR");
    }

    #[test]
    fn keys_override_the_defaults() {
        let mut q = default_worklist_query();
        apply_keys(
            &mut q,
            &keys(&[
                "PatientName=S*",
                "ScheduledProcedureStepSequence[0].Modality=CT",
            ]),
        )
        .unwrap();
        assert_eq!(text(&q, tags::PATIENT_NAME), "S*");
        let items = q
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(text(&items[0], tags::MODALITY), "CT");
        // The other default return keys of the item stay.
        assert!(items[0].get(tags::SCHEDULED_STATION_AE_TITLE).is_some());
    }

    #[test]
    fn errors_name_the_key() {
        let mut q = InMemDicomObject::new_empty();
        for (key, needle) in [
            ("PatientNme=Doe", "PatientNme"),
            ("(0010,00x0)=1", "(0010,00x0)"),
            ("NumberOfScreens=two", "NumberOfScreens"),
            ("PatientID[0].Modality=CT", "PatientID"),
            (
                "ScheduledProcedureStepSequence=CT",
                "ScheduledProcedureStepSequence",
            ),
            ("ScheduledProcedureStepSequence[x].Modality=CT", "[x]"),
            ("=CT", "=CT"),
            ("ScheduledProcedureStepSequence[0]=CT", "is an item"),
        ] {
            let err = apply_keys(&mut q, &keys(&[key])).unwrap_err();
            assert!(err.contains(needle), "{key}: {err}");
        }
    }

    #[test]
    fn default_queries_are_zero_length() {
        fn all_empty(o: &InMemDicomObject) -> bool {
            o.iter().all(|e| match e.value() {
                Value::Primitive(p) => matches!(p, PrimitiveValue::Empty),
                Value::Sequence(s) => s.items().iter().all(all_empty),
                Value::PixelSequence(_) => false,
            })
        }
        let wl = default_worklist_query();
        let hp = default_hanging_protocol_query();
        assert!(all_empty(&wl) && all_empty(&hp));
        assert_eq!(wl.iter().count(), 9);
        assert!(hp.get(tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE).is_some());
    }
}
