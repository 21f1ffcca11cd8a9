//! The Modality Worklist and Hanging Protocol information models as data, and the checks
//! of C-FIND and C-MOVE/C-GET identifiers against them.
//!
//! How the tables are represented is described on [`InformationModel`]; the rules of the
//! identifier checks (our conformance) on [`check_identifier`] and
//! [`check_retrieve_identifier`].

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags, uids};
use dicom_object::InMemDicomObject;

use super::matching::is_universal_key;

/// The matching key type of an attribute (PS3.4 K.2.2.1, C.2.2.1, Tables 8-xb).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `R` — required matching key: every SCP matches on it.
    Required,
    /// `O` — optional matching key: the SCP matches on it or treats it as a return key.
    Optional,
    /// `U` — unique key: one value identifies one entity.
    Unique,
    /// `-` — never used for matching; a return key only.
    NotMatched,
    /// `RC` — required matching key under the macro's condition (Tables 8-xb).
    RequiredConditional,
    /// `OC` — optional matching key under the macro's condition (Tables 8-xb).
    OptionalConditional,
}

impl KeyType {
    /// The code the standard's tables use: `R`, `O`, `U`, `-`, `RC` or `OC`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Required => "R",
            Self::Optional => "O",
            Self::Unique => "U",
            Self::NotMatched => "-",
            Self::RequiredConditional => "RC",
            Self::OptionalConditional => "OC",
        }
    }

    /// Whether the SCP matches on keys of this type.
    pub const fn is_matched(self) -> bool {
        !matches!(self, Self::NotMatched)
    }
}

/// A matching type of PS3.4 C.2.2.2, as the model tables name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatchingType {
    /// `SV` — single value matching (C.2.2.2.1).
    SingleValue,
    /// `WC` — wild card matching (C.2.2.2.4).
    Wildcard,
    /// `RANGE` — range matching (C.2.2.2.5).
    Range,
    /// `SEQ` — sequence matching (C.2.2.2.6).
    Sequence,
    /// `UNIV` — universal matching (C.2.2.2.3).
    Universal,
    /// `LUID` — list of UID matching (C.2.2.2.2).
    ListOfUid,
}

impl MatchingType {
    /// The code `spec/*.tsv` uses: `SV`, `WC`, `RANGE`, `SEQ`, `UNIV` or `LUID`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::SingleValue => "SV",
            Self::Wildcard => "WC",
            Self::Range => "RANGE",
            Self::Sequence => "SEQ",
            Self::Universal => "UNIV",
            Self::ListOfUid => "LUID",
        }
    }
}

/// One attribute row of an information model table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelKey {
    /// The nesting path: the enclosing sequences, then the attribute itself.
    pub path: &'static [Tag],
    /// The attribute's keyword (PS3.6).
    pub keyword: &'static str,
    /// The attribute's VR.
    pub vr: VR,
    /// Its matching key type.
    pub matching: KeyType,
    /// Its return key type: `1`, `1C`, `2`, `2C` or `3`.
    pub return_type: &'static str,
    /// The matching types the table allows; empty where the table leaves it to the SCP.
    pub matching_types: &'static [MatchingType],
    /// The module (or identifier part) the table lists it under.
    pub module: &'static str,
}

impl ModelKey {
    /// The attribute's tag (the last element of its path).
    pub fn tag(&self) -> Tag {
        self.path.last().copied().unwrap_or(Tag(0, 0))
    }
}

/// An "Include Table 8-xa" row: the items of the sequence at `path` hold the keys of a
/// coded-entry macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacroInclude {
    /// The sequence whose items include the macro.
    pub path: &'static [Tag],
    /// The macro.
    pub table: &'static CodedEntryMacro,
}

/// An "All other Attributes of …" row: at this nesting level, attributes the table does
/// not list are keys of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherAttributes {
    /// The enclosing sequences; empty at the top level.
    pub path: &'static [Tag],
    /// The row as the table words it.
    pub description: &'static str,
    /// Their matching key type.
    pub matching: KeyType,
    /// Their return key type.
    pub return_type: &'static str,
    /// The module the table lists the row under.
    pub module: &'static str,
}

/// One attribute of a coded-entry macro (PS3.4 Tables 8-1a … 8-4b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacroKey {
    /// The attribute's tag.
    pub tag: Tag,
    /// The attribute's keyword.
    pub keyword: &'static str,
    /// The attribute's VR (PS3.6).
    pub vr: VR,
    /// The SCU/SCP requirement column (`1C/1C`, `-/3`), empty where the table has none.
    pub requirement: &'static str,
    /// Its matching key type.
    pub matching: KeyType,
    /// Its return key type, empty where the table has none.
    pub return_type: &'static str,
}

/// A basic coded-entry macro (PS3.4 Tables 8-1b … 8-4b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicCodedEntryMacro {
    /// The table number, such as `8-1b`.
    pub table: &'static str,
    /// The table's title.
    pub title: &'static str,
    /// Its attributes.
    pub keys: &'static [MacroKey],
}

/// An enhanced coded-entry macro (PS3.4 Tables 8-1a … 8-4a): the basic macro's keys, and
/// Equivalent Code Sequence (0008,0121) whose items hold the basic macro's keys again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodedEntryMacro {
    /// The table number, such as `8-1a`.
    pub table: &'static str,
    /// The table's title.
    pub title: &'static str,
    /// The basic macro it includes, at its level and inside Equivalent Code Sequence.
    pub basic: &'static BasicCodedEntryMacro,
    /// Equivalent Code Sequence (0008,0121).
    pub equivalent_code_sequence: MacroKey,
}

/// A worklist-style information model: its keys, as PS3.4 tables them.
///
/// [`MODALITY_WORKLIST`] mirrors PS3.4 Table K.6-1 (with K.6-1a) and [`HANGING_PROTOCOL`]
/// Table U.6-1, one [`ModelKey`] per row that names an attribute, in the table's order.
/// The table rows that name no attribute are kept as rows too, not expanded:
///
/// - "Include Table 8-xa" rows are [`MacroInclude`]s pointing at the coded-entry macro
///   statics ([`CODED_ENTRY_8_1A`] … [`CODED_ENTRY_8_4A`], Tables 8-1a … 8-4b), which
///   [`check_identifier`] resolves when it meets a key inside such a sequence;
/// - "All other Attributes of …" rows are [`OtherAttributes`]: at that nesting level, an
///   attribute the table does not list is a key of that type (for the worklist: an
///   optional matching key, which our engine matches like any other).
///
/// The test `tests/tests/models.rs` compares every row with `fixtures/spec/*.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InformationModel {
    /// The model's name.
    pub name: &'static str,
    /// The SOP class of its C-FIND.
    pub sop_class_uid: &'static str,
    /// The attribute rows, in the table's order.
    pub keys: &'static [ModelKey],
    /// The "Include Table 8-xa" rows.
    pub includes: &'static [MacroInclude],
    /// The "All other Attributes of …" rows.
    pub other_attributes: &'static [OtherAttributes],
}

impl InformationModel {
    /// The row of the attribute at `path`, if the table lists it.
    pub fn key(&self, path: &[Tag]) -> Option<&'static ModelKey> {
        self.keys.iter().find(|k| k.path == path)
    }
}

/// What [`check_identifier`] found in a C-FIND identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentifierCheck {
    /// Keys (as nesting paths) the model does not support for matching but that carry a
    /// value to match: they are ignored for matching (see
    /// [`matching_query`](Self::matching_query)) and the pending responses carry 0xFF01.
    pub unsupported: Vec<Vec<Tag>>,
    /// Why the identifier does not fit the model (0xA900); `None` when it does.
    pub invalid: Option<String>,
}

impl IdentifierCheck {
    /// `query` with every unsupported key made zero-length (universal), so that it does
    /// not filter and comes back as a return key: with the record's value, zero-length
    /// where the record has none.
    pub fn matching_query(&self, query: &InMemDicomObject) -> InMemDicomObject {
        let mut query = query.clone();
        for path in &self.unsupported {
            blank(&mut query, path);
        }
        query
    }
}

/// Checks a C-FIND identifier against `model`: which keys are unsupported, and whether it
/// fits the model at all.
///
/// # Rules (our conformance)
///
/// It answers real SCUs rather than refusing them wherever PS3.4 allows:
///
/// - A key the model does not define as a matching key — outside the tables (and not
///   covered by an "All other Attributes" row), marked `-` (never matched), or inside a
///   sequence that is never matched — but that carries a value to match, is an
///   **unsupported optional key**: it is ignored for matching
///   ([`IdentifierCheck::matching_query`] makes it universal) and handled as a return key
///   (K.2.2.1.1.2), and the pending responses carry 0xFF01 (K.4.1.1.4). Universal keys
///   (zero length or `*`) are plain return keys and are never reported.
/// - A key whose VR in the identifier is not the model's (a sequence sent as text, text
///   sent as a sequence) is reported the same way, not refused.
/// - The required matching keys' allowed matching types (Table K.6-1 / U.6-1) are not
///   enforced: the engine supports every matching type on every key, so an SCU that
///   wild-cards Modality gets the answer it asked for.
/// - Query/Retrieve Level (0008,0052), Specific Character Set (0008,0005) (also when
///   zero-length, which C.2.2.2 forbids) and Timezone Offset From UTC (0008,0201) are
///   tolerated and never matched.
/// - The one refusal (0xA900, identifier does not match SOP class): a sequence key with
///   more than one item. C.2.2.2.6 requires a single item, Table K.6-1 repeats it for the
///   Scheduled Procedure Step Sequence, and no meaning is defined for several.
pub fn check_identifier(model: &InformationModel, query: &InMemDicomObject) -> IdentifierCheck {
    let mut check = IdentifierCheck::default();
    walk(
        model,
        &Level::Model(Vec::new()),
        query,
        &mut Vec::new(),
        false,
        &mut check,
    );
    check
}

/// Reads the SOP Instance UIDs of a Hanging Protocol C-MOVE or C-GET identifier (PS3.4
/// U.4.2, U.4.3): one UID or a backslash-separated list, duplicates dropped. `Err` says why
/// the identifier does not match the SOP class (0xA900).
///
/// SOP Instance UID (0008,0018) is the only key: it is required, one UID or a list. A
/// missing or zero-length one is refused, and so is one holding wild cards (a retrieve has
/// no universal or wild card matching, C.4.2.2.1). Query/Retrieve Level (0008,0052) "shall
/// not be present" (U.4.2), but PS3.4 gives the SCP no instruction to refuse it: it is
/// ignored, as are any other attributes.
pub fn check_retrieve_identifier(query: &InMemDicomObject) -> Result<Vec<String>, String> {
    let Some(element) = query.get(tags::SOP_INSTANCE_UID) else {
        return Err("no SOP Instance UID (0008,0018), the unique key of U.4.2/U.4.3".into());
    };
    let Value::Primitive(value) = element.value() else {
        return Err("SOP Instance UID (0008,0018) is a sequence".into());
    };
    let mut uids: Vec<String> = Vec::new();
    for uid in value.to_multi_str().iter().flat_map(|s| s.split('\\')) {
        let uid = uid.trim_matches([' ', '\0']);
        if uid.contains(['*', '?']) {
            return Err(format!(
                "SOP Instance UID (0008,0018) holds a wild card ({uid}); a retrieve takes UIDs only"
            ));
        }
        if !uid.is_empty() && !uids.iter().any(|u| u == uid) {
            uids.push(uid.to_owned());
        }
    }
    if uids.is_empty() {
        return Err(
            "SOP Instance UID (0008,0018) is empty; a retrieve takes one UID or a list".into(),
        );
    }
    Ok(uids)
}

/// Where in the model a data set of the identifier sits.
#[derive(Debug, Clone)]
enum Level {
    /// The top level (empty path) or the items of the model's sequence at this path.
    Model(Vec<Tag>),
    /// The items of a sequence including an enhanced coded-entry macro (with Equivalent
    /// Code Sequence) or, inside Equivalent Code Sequence, the basic macro.
    Macro(&'static BasicCodedEntryMacro, Option<&'static MacroKey>),
    /// Outside what the tables describe: every key here is of this type.
    Open(KeyType),
}

/// What the model says about one key.
struct Resolved {
    matching: KeyType,
    vr: Option<VR>,
    items: Level,
}

fn resolve(model: &InformationModel, level: &Level, tag: Tag) -> Option<Resolved> {
    match level {
        Level::Model(prefix) => {
            let mut path = prefix.clone();
            path.push(tag);
            if let Some(key) = model.key(&path) {
                let described = model
                    .keys
                    .iter()
                    .any(|k| k.path.len() > path.len() && k.path.starts_with(&path))
                    || model.includes.iter().any(|i| i.path == path)
                    || model.other_attributes.iter().any(|o| o.path == path);
                let items = if described {
                    Level::Model(path)
                } else {
                    // A sequence whose items the table does not describe: its item keys
                    // take the sequence's key type.
                    Level::Open(key.matching)
                };
                return Some(Resolved {
                    matching: key.matching,
                    vr: Some(key.vr),
                    items,
                });
            }
            if let Some(include) = model.includes.iter().find(|i| i.path == &prefix[..]) {
                let table = include.table;
                if let Some(found) =
                    resolve_macro(table.basic, Some(&table.equivalent_code_sequence), tag)
                {
                    return Some(found);
                }
            }
            let others: Vec<KeyType> = model
                .other_attributes
                .iter()
                .filter(|o| o.path == &prefix[..])
                .map(|o| o.matching)
                .collect();
            let matching = others
                .iter()
                .copied()
                .find(|m| m.is_matched())
                .or_else(|| others.first().copied())?;
            Some(Resolved {
                matching,
                vr: None,
                items: Level::Open(matching),
            })
        }
        Level::Macro(basic, equivalent) => resolve_macro(basic, *equivalent, tag),
        Level::Open(matching) => Some(Resolved {
            matching: *matching,
            vr: None,
            items: Level::Open(*matching),
        }),
    }
}

fn resolve_macro(
    basic: &'static BasicCodedEntryMacro,
    equivalent: Option<&'static MacroKey>,
    tag: Tag,
) -> Option<Resolved> {
    if let Some(key) = basic.keys.iter().find(|k| k.tag == tag) {
        return Some(Resolved {
            matching: key.matching,
            vr: Some(key.vr),
            items: Level::Open(key.matching),
        });
    }
    let key = equivalent.filter(|k| k.tag == tag)?;
    Some(Resolved {
        matching: key.matching,
        vr: Some(key.vr),
        items: Level::Macro(basic, None),
    })
}

fn is_identifier_attribute(tag: Tag) -> bool {
    tag.element() == 0x0000
        || tag.group() <= 0x0002
        || tag == tags::SPECIFIC_CHARACTER_SET
        || tag == tags::TIMEZONE_OFFSET_FROM_UTC
        || tag == tags::QUERY_RETRIEVE_LEVEL
}

fn walk(
    model: &InformationModel,
    level: &Level,
    set: &InMemDicomObject,
    path: &mut Vec<Tag>,
    inside_unmatched: bool,
    check: &mut IdentifierCheck,
) {
    for key in set.iter() {
        let tag = key.tag();
        if is_identifier_attribute(tag) {
            continue;
        }
        path.push(tag);
        let resolved = resolve(model, level, tag);
        let matched =
            !inside_unmatched && resolved.as_ref().is_some_and(|r| r.matching.is_matched());
        let model_vr = resolved.as_ref().and_then(|r| r.vr);
        match key.value() {
            Value::Sequence(seq) if model_vr.is_none_or(|vr| vr == VR::SQ) => {
                if seq.items().len() > 1 && check.invalid.is_none() {
                    check.invalid = Some(format!(
                        "{} holds {} items; a sequence key holds a single item (PS3.4 C.2.2.2.6)",
                        describe(path),
                        seq.items().len()
                    ));
                }
                let items = resolved.map_or(Level::Open(KeyType::NotMatched), |r| r.items);
                if let Some(item) = seq.items().first() {
                    walk(model, &items, item, path, !matched, check);
                }
            }
            _ => {
                let wrong_vr = match (key.value(), model_vr) {
                    (Value::Sequence(_), _) => true,
                    (_, Some(VR::SQ)) => key.vr() != VR::SQ && key.vr() != VR::UN,
                    _ => false,
                };
                if (!matched || wrong_vr) && !is_universal_key(key) {
                    check.unsupported.push(path.clone());
                }
            }
        }
        path.pop();
    }
}

/// `(0040,0100) ScheduledProcedureStepSequence > …` for messages.
fn describe(path: &[Tag]) -> String {
    path.iter()
        .map(|&tag| {
            let name = StandardDataDictionary.by_tag(tag).map_or("", |e| e.alias());
            format!("({:04X},{:04X}) {name}", tag.group(), tag.element())
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

/// Makes the key at `path` zero-length (the first item of each sequence on the way).
fn blank(set: &mut InMemDicomObject, path: &[Tag]) {
    let Some((&tag, rest)) = path.split_first() else {
        return;
    };
    let Some(element) = set.take(tag) else {
        return;
    };
    let vr = element.vr();
    if rest.is_empty() {
        let vr = if vr == VR::SQ {
            dictionary_vr(tag)
                .filter(|&v| v != VR::SQ)
                .unwrap_or(VR::UN)
        } else {
            vr
        };
        set.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
        return;
    }
    match element.into_value() {
        Value::Sequence(seq) => {
            let mut items = seq.into_items();
            if let Some(first) = items.first_mut() {
                blank(first, rest);
            }
            set.put(DataElement::new(
                tag,
                vr,
                DataSetSequence::new(items, Length::UNDEFINED),
            ));
        }
        other => {
            set.put(DataElement::new(tag, vr, other));
        }
    }
}

fn dictionary_vr(tag: Tag) -> Option<VR> {
    match StandardDataDictionary.by_tag(tag)?.vr() {
        VirtualVr::Exact(vr) => Some(vr),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// The tables. Rows in the standard's order; short names keep each row on one line, like
// the TSV files they are checked against.

use KeyType::{
    NotMatched as N, Optional as O, OptionalConditional as OC, Required as R,
    RequiredConditional as RC, Unique as U,
};
use MatchingType::{
    ListOfUid as LUID, Range as RANGE, Sequence as SEQ, SingleValue as SV, Universal as UNIV,
    Wildcard as WC,
};

const fn key(
    path: &'static [Tag],
    keyword: &'static str,
    vr: VR,
    matching: KeyType,
    return_type: &'static str,
    matching_types: &'static [MatchingType],
    module: &'static str,
) -> ModelKey {
    ModelKey {
        path,
        keyword,
        vr,
        matching,
        return_type,
        matching_types,
        module,
    }
}

const fn mkey(
    tag: Tag,
    keyword: &'static str,
    vr: VR,
    requirement: &'static str,
    matching: KeyType,
    return_type: &'static str,
) -> MacroKey {
    MacroKey {
        tag,
        keyword,
        vr,
        requirement,
        matching,
        return_type,
    }
}

/// The Modality Worklist information model (PS3.4 K.6.1, Tables K.6-1 and K.6-1a).
pub static MODALITY_WORKLIST: InformationModel = InformationModel {
    name: "Modality Worklist",
    sop_class_uid: uids::MODALITY_WORKLIST_INFORMATION_MODEL_FIND,
    keys: MWL_KEYS,
    includes: MWL_INCLUDES,
    other_attributes: MWL_OTHER,
};

/// The Hanging Protocol information model (PS3.4 U.6.1, Table U.6-1).
pub static HANGING_PROTOCOL: InformationModel = InformationModel {
    name: "Hanging Protocol",
    sop_class_uid: uids::HANGING_PROTOCOL_INFORMATION_MODEL_FIND,
    keys: HP_KEYS,
    includes: HP_INCLUDES,
    other_attributes: HP_OTHER,
};

#[rustfmt::skip]
const MWL_KEYS: &[ModelKey] = &[
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE], "ScheduledProcedureStepSequence", VR::SQ, R, "1", &[SEQ], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_STATION_AE_TITLE], "ScheduledStationAETitle", VR::AE, R, "1", &[SV], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROCEDURE_STEP_START_DATE], "ScheduledProcedureStepStartDate", VR::DA, R, "1", &[SV, RANGE], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROCEDURE_STEP_START_TIME], "ScheduledProcedureStepStartTime", VR::TM, R, "1", &[SV, RANGE], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::MODALITY], "Modality", VR::CS, R, "1", &[SV], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME], "ScheduledPerformingPhysicianName", VR::PN, R, "2", &[SV, WC], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION], "ScheduledProcedureStepDescription", VR::LO, O, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_STATION_NAME], "ScheduledStationName", VR::SH, O, "2", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROCEDURE_STEP_LOCATION], "ScheduledProcedureStepLocation", VR::SH, O, "2", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::REFERENCED_DEFINED_PROTOCOL_SEQUENCE], "ReferencedDefinedProtocolSequence", VR::SQ, O, "3", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::REFERENCED_DEFINED_PROTOCOL_SEQUENCE, tags::REFERENCED_SOP_CLASS_UID], "ReferencedSOPClassUID", VR::UI, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::REFERENCED_DEFINED_PROTOCOL_SEQUENCE, tags::REFERENCED_SOP_INSTANCE_UID], "ReferencedSOPInstanceUID", VR::UI, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::REFERENCED_PERFORMED_PROTOCOL_SEQUENCE], "ReferencedPerformedProtocolSequence", VR::SQ, O, "3", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::REFERENCED_PERFORMED_PROTOCOL_SEQUENCE, tags::REFERENCED_SOP_CLASS_UID], "ReferencedSOPClassUID", VR::UI, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::REFERENCED_PERFORMED_PROTOCOL_SEQUENCE, tags::REFERENCED_SOP_INSTANCE_UID], "ReferencedSOPInstanceUID", VR::UI, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE], "ScheduledProtocolCodeSequence", VR::SQ, O, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE], "ProtocolContextSequence", VR::SQ, N, "3", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::VALUE_TYPE], "ValueType", VR::CS, N, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::CONCEPT_NAME_CODE_SEQUENCE], "ConceptNameCodeSequence", VR::SQ, N, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::DATE_TIME], "DateTime", VR::DT, N, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::PERSON_NAME], "PersonName", VR::PN, N, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::TEXT_VALUE], "TextValue", VR::UT, N, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::CONCEPT_CODE_SEQUENCE], "ConceptCodeSequence", VR::SQ, N, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::NUMERIC_VALUE], "NumericValue", VR::DS, N, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::MEASUREMENT_UNITS_CODE_SEQUENCE], "MeasurementUnitsCodeSequence", VR::SQ, N, "1C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::PRE_MEDICATION], "PreMedication", VR::LO, O, "2C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROCEDURE_STEP_ID], "ScheduledProcedureStepID", VR::SH, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::REQUESTED_CONTRAST_AGENT], "RequestedContrastAgent", VR::LO, O, "2C", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROCEDURE_STEP_STATUS], "ScheduledProcedureStepStatus", VR::CS, O, "3", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_SPECIMEN_SEQUENCE], "ScheduledSpecimenSequence", VR::SQ, O, "3", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_SPECIMEN_SEQUENCE, tags::CONTAINER_IDENTIFIER], "ContainerIdentifier", VR::LO, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_SPECIMEN_SEQUENCE, tags::CONTAINER_TYPE_CODE_SEQUENCE], "ContainerTypeCodeSequence", VR::SQ, N, "2", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_SPECIMEN_SEQUENCE, tags::SPECIMEN_DESCRIPTION_SEQUENCE], "SpecimenDescriptionSequence", VR::SQ, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_SPECIMEN_SEQUENCE, tags::SPECIMEN_DESCRIPTION_SEQUENCE, tags::SPECIMEN_IDENTIFIER], "SpecimenIdentifier", VR::LO, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::SCHEDULED_SPECIMEN_SEQUENCE, tags::SPECIMEN_DESCRIPTION_SEQUENCE, tags::SPECIMEN_UID], "SpecimenUID", VR::UI, O, "1", &[], "Scheduled Procedure Step"),
    key(&[tags::BARCODE_VALUE], "BarcodeValue", VR::LT, O, "3", &[], "Scheduled Procedure Step"),
    key(&[tags::REQUESTED_PROCEDURE_ID], "RequestedProcedureID", VR::SH, O, "1", &[], "Requested Procedure"),
    key(&[tags::REQUESTED_PROCEDURE_DESCRIPTION], "RequestedProcedureDescription", VR::LO, O, "1C", &[], "Requested Procedure"),
    key(&[tags::REQUESTED_PROCEDURE_CODE_SEQUENCE], "RequestedProcedureCodeSequence", VR::SQ, O, "1C", &[], "Requested Procedure"),
    key(&[tags::STUDY_INSTANCE_UID], "StudyInstanceUID", VR::UI, O, "1", &[], "Requested Procedure"),
    key(&[tags::STUDY_DATE], "StudyDate", VR::DA, O, "3", &[], "Requested Procedure"),
    key(&[tags::STUDY_TIME], "StudyTime", VR::TM, O, "3", &[], "Requested Procedure"),
    key(&[tags::REFERENCED_STUDY_SEQUENCE], "ReferencedStudySequence", VR::SQ, O, "2", &[], "Requested Procedure"),
    key(&[tags::REFERENCED_STUDY_SEQUENCE, tags::REFERENCED_SOP_CLASS_UID], "ReferencedSOPClassUID", VR::UI, O, "1", &[], "Requested Procedure"),
    key(&[tags::REFERENCED_STUDY_SEQUENCE, tags::REFERENCED_SOP_INSTANCE_UID], "ReferencedSOPInstanceUID", VR::UI, O, "1", &[], "Requested Procedure"),
    key(&[tags::REQUESTED_PROCEDURE_PRIORITY], "RequestedProcedurePriority", VR::SH, O, "2", &[], "Requested Procedure"),
    key(&[tags::PATIENT_TRANSPORT_ARRANGEMENTS], "PatientTransportArrangements", VR::LO, O, "2", &[], "Requested Procedure"),
    key(&[tags::ACCESSION_NUMBER], "AccessionNumber", VR::SH, O, "2", &[], "Imaging Service Request"),
    key(&[tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE], "IssuerOfAccessionNumberSequence", VR::SQ, O, "3", &[], "Imaging Service Request"),
    key(&[tags::REQUESTING_PHYSICIAN], "RequestingPhysician", VR::PN, O, "2", &[], "Imaging Service Request"),
    key(&[tags::REFERRING_PHYSICIAN_NAME], "ReferringPhysicianName", VR::PN, O, "2", &[], "Imaging Service Request"),
    key(&[tags::ADMISSION_ID], "AdmissionID", VR::LO, O, "2", &[], "Visit Identification"),
    key(&[tags::ISSUER_OF_ADMISSION_ID_SEQUENCE], "IssuerOfAdmissionIDSequence", VR::SQ, O, "3", &[], "Visit Identification"),
    key(&[tags::CURRENT_PATIENT_LOCATION], "CurrentPatientLocation", VR::LO, O, "2", &[], "Visit Status"),
    key(&[tags::REFERENCED_PATIENT_SEQUENCE], "ReferencedPatientSequence", VR::SQ, O, "2", &[], "Visit Relationship"),
    key(&[tags::REFERENCED_PATIENT_SEQUENCE, tags::REFERENCED_SOP_CLASS_UID], "ReferencedSOPClassUID", VR::UI, O, "1", &[], "Visit Relationship"),
    key(&[tags::REFERENCED_PATIENT_SEQUENCE, tags::REFERENCED_SOP_INSTANCE_UID], "ReferencedSOPInstanceUID", VR::UI, O, "1", &[], "Visit Relationship"),
    key(&[tags::PATIENT_NAME], "PatientName", VR::PN, R, "1", &[SV, WC], "Patient Identification"),
    key(&[tags::PATIENT_ID], "PatientID", VR::LO, R, "1", &[SV], "Patient Identification"),
    key(&[tags::ISSUER_OF_PATIENT_ID], "IssuerOfPatientID", VR::LO, O, "3", &[], "Patient Identification"),
    key(&[tags::ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE], "IssuerOfPatientIDQualifiersSequence", VR::SQ, O, "3", &[], "Patient Identification"),
    key(&[tags::OTHER_PATIENT_I_DS_SEQUENCE], "OtherPatientIDsSequence", VR::SQ, O, "3", &[], "Patient Identification"),
    key(&[tags::PATIENT_BIRTH_DATE], "PatientBirthDate", VR::DA, O, "2", &[], "Patient Demographic"),
    key(&[tags::PATIENT_SEX], "PatientSex", VR::CS, O, "2", &[], "Patient Demographic"),
    key(&[tags::PATIENT_PRIMARY_LANGUAGE_CODE_SEQUENCE], "PatientPrimaryLanguageCodeSequence", VR::SQ, O, "3", &[], "Patient Demographic"),
    key(&[tags::PATIENT_PRIMARY_LANGUAGE_CODE_SEQUENCE, tags::PATIENT_PRIMARY_LANGUAGE_MODIFIER_CODE_SEQUENCE], "PatientPrimaryLanguageModifierCodeSequence", VR::SQ, O, "3", &[], "Patient Demographic"),
    key(&[tags::PATIENT_WEIGHT], "PatientWeight", VR::DS, O, "2", &[], "Patient Demographic"),
    key(&[tags::PATIENT_SIZE], "PatientSize", VR::DS, O, "3", &[], "Patient Demographic"),
    key(&[tags::CONFIDENTIALITY_CONSTRAINT_ON_PATIENT_DATA_DESCRIPTION], "ConfidentialityConstraintOnPatientDataDescription", VR::LO, O, "2", &[], "Patient Demographic"),
    key(&[tags::PATIENT_STATE], "PatientState", VR::LO, O, "2", &[], "Patient Medical"),
    key(&[tags::PREGNANCY_STATUS], "PregnancyStatus", VR::US, O, "2", &[], "Patient Medical"),
    key(&[tags::MEDICAL_ALERTS], "MedicalAlerts", VR::LO, O, "2", &[], "Patient Medical"),
    key(&[tags::ALLERGIES], "Allergies", VR::LO, O, "2", &[], "Patient Medical"),
    key(&[tags::SPECIAL_NEEDS], "SpecialNeeds", VR::LO, O, "2", &[], "Patient Medical"),
    key(&[tags::PERTINENT_DOCUMENTS_SEQUENCE], "PertinentDocumentsSequence", VR::SQ, O, "3", &[UNIV], "Patient Medical"),
    key(&[tags::PERTINENT_DOCUMENTS_SEQUENCE, tags::REFERENCED_SOP_CLASS_UID], "ReferencedSOPClassUID", VR::UI, N, "1", &[], "Patient Medical"),
    key(&[tags::PERTINENT_DOCUMENTS_SEQUENCE, tags::REFERENCED_SOP_INSTANCE_UID], "ReferencedSOPInstanceUID", VR::UI, N, "1", &[], "Patient Medical"),
    key(&[tags::PERTINENT_DOCUMENTS_SEQUENCE, tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE], "PurposeOfReferenceCodeSequence", VR::SQ, N, "2", &[], "Patient Medical"),
    key(&[tags::PERTINENT_DOCUMENTS_SEQUENCE, tags::DOCUMENT_TITLE], "DocumentTitle", VR::ST, N, "2", &[], "Patient Medical"),
    key(&[tags::SPECIFIC_CHARACTER_SET], "SpecificCharacterSet", VR::CS, N, "1C", &[], "C-FIND Identifier (not part of the information model)"),
    key(&[tags::TIMEZONE_OFFSET_FROM_UTC], "TimezoneOffsetFromUTC", VR::SH, N, "1C", &[], "C-FIND Identifier (not part of the information model)"),
    key(&[tags::HL7_STRUCTURED_DOCUMENT_REFERENCE_SEQUENCE], "HL7StructuredDocumentReferenceSequence", VR::SQ, N, "1C", &[], "C-FIND Identifier (not part of the information model)"),
    key(&[tags::HL7_STRUCTURED_DOCUMENT_REFERENCE_SEQUENCE, tags::REFERENCED_SOP_CLASS_UID], "ReferencedSOPClassUID", VR::UI, N, "1", &[], "C-FIND Identifier (not part of the information model)"),
    key(&[tags::HL7_STRUCTURED_DOCUMENT_REFERENCE_SEQUENCE, tags::REFERENCED_SOP_INSTANCE_UID], "ReferencedSOPInstanceUID", VR::UI, N, "1", &[], "C-FIND Identifier (not part of the information model)"),
    key(&[tags::HL7_STRUCTURED_DOCUMENT_REFERENCE_SEQUENCE, tags::HL7_INSTANCE_IDENTIFIER], "HL7InstanceIdentifier", VR::ST, N, "1", &[], "C-FIND Identifier (not part of the information model)"),
    key(&[tags::HL7_STRUCTURED_DOCUMENT_REFERENCE_SEQUENCE, tags::RETRIEVE_URI], "RetrieveURI", VR::UR, N, "3", &[], "C-FIND Identifier (not part of the information model)"),
];
#[rustfmt::skip]
const MWL_INCLUDES: &[MacroInclude] = &[
    MacroInclude { path: &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE], table: &CODED_ENTRY_8_2A },
    MacroInclude { path: &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::CONCEPT_NAME_CODE_SEQUENCE], table: &CODED_ENTRY_8_3A },
    MacroInclude { path: &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::CONCEPT_CODE_SEQUENCE], table: &CODED_ENTRY_8_3A },
    MacroInclude { path: &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE, tags::MEASUREMENT_UNITS_CODE_SEQUENCE], table: &CODED_ENTRY_8_3A },
    MacroInclude { path: &[tags::SCHEDULED_SPECIMEN_SEQUENCE, tags::CONTAINER_TYPE_CODE_SEQUENCE], table: &CODED_ENTRY_8_3A },
    MacroInclude { path: &[tags::REQUESTED_PROCEDURE_CODE_SEQUENCE], table: &CODED_ENTRY_8_2A },
    MacroInclude { path: &[tags::PATIENT_PRIMARY_LANGUAGE_CODE_SEQUENCE], table: &CODED_ENTRY_8_4A },
    MacroInclude { path: &[tags::PATIENT_PRIMARY_LANGUAGE_CODE_SEQUENCE, tags::PATIENT_PRIMARY_LANGUAGE_MODIFIER_CODE_SEQUENCE], table: &CODED_ENTRY_8_4A },
    MacroInclude { path: &[tags::PERTINENT_DOCUMENTS_SEQUENCE, tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE], table: &CODED_ENTRY_8_3A },
];
#[rustfmt::skip]
const MWL_OTHER: &[OtherAttributes] = &[
    OtherAttributes { path: &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, tags::PROTOCOL_CONTEXT_SEQUENCE], description: "All other Attributes of the Protocol Context Sequence", matching: N, return_type: "3", module: "Scheduled Procedure Step" },
    OtherAttributes { path: &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE], description: "All other Attributes of the Scheduled Procedure Step Sequence", matching: O, return_type: "3", module: "Scheduled Procedure Step" },
    OtherAttributes { path: &[tags::SCHEDULED_SPECIMEN_SEQUENCE, tags::SPECIMEN_DESCRIPTION_SEQUENCE], description: "All other Attributes of the Specimen Description Sequence", matching: O, return_type: "3", module: "Scheduled Procedure Step" },
    OtherAttributes { path: &[tags::SCHEDULED_SPECIMEN_SEQUENCE], description: "All other Attributes of the Scheduled Specimen Sequence", matching: O, return_type: "3", module: "Scheduled Procedure Step" },
    OtherAttributes { path: &[], description: "All other Attributes of the Requested Procedure Module", matching: O, return_type: "3", module: "Requested Procedure" },
    OtherAttributes { path: &[], description: "All other Attributes of the Imaging Service Request Module", matching: O, return_type: "3", module: "Imaging Service Request" },
    OtherAttributes { path: &[], description: "All other Attributes of the Visit Identification Module", matching: O, return_type: "3", module: "Visit Identification" },
    OtherAttributes { path: &[], description: "All other Attributes of the Visit Status Module", matching: O, return_type: "3", module: "Visit Status" },
    OtherAttributes { path: &[], description: "All other Attributes of the Visit Relationship Module except those explicitly included in this table", matching: O, return_type: "3", module: "Visit Relationship" },
    OtherAttributes { path: &[], description: "All Attributes from the Visit Admission Module", matching: O, return_type: "3", module: "Visit Admission" },
    OtherAttributes { path: &[], description: "All Attributes from the Patient Relationship Module except those explicitly included in this table (see Note 3)", matching: O, return_type: "3", module: "Patient Relationship" },
    OtherAttributes { path: &[], description: "All other Attributes of the Patient Identification Module", matching: O, return_type: "3", module: "Patient Identification" },
    OtherAttributes { path: &[], description: "All other Attributes of the Patient Demographic Module", matching: O, return_type: "3", module: "Patient Demographic" },
    OtherAttributes { path: &[], description: "All other Attributes of the Patient Medical Module", matching: O, return_type: "3", module: "Patient Medical" },
];
#[rustfmt::skip]
const HP_KEYS: &[ModelKey] = &[
    key(&[tags::SPECIFIC_CHARACTER_SET], "SpecificCharacterSet", VR::CS, N, "1C", &[], "SOP Common"),
    key(&[tags::SOP_CLASS_UID], "SOPClassUID", VR::UI, R, "1", &[], "SOP Common"),
    key(&[tags::SOP_INSTANCE_UID], "SOPInstanceUID", VR::UI, U, "1", &[SV, LUID], "SOP Common"),
    key(&[tags::HANGING_PROTOCOL_NAME], "HangingProtocolName", VR::SH, R, "1", &[SV, WC, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_DESCRIPTION], "HangingProtocolDescription", VR::LO, N, "1", &[], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_LEVEL], "HangingProtocolLevel", VR::CS, R, "1", &[SV, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_CREATOR], "HangingProtocolCreator", VR::LO, N, "1", &[], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_CREATION_DATE_TIME], "HangingProtocolCreationDateTime", VR::DT, N, "1", &[], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE], "HangingProtocolDefinitionSequence", VR::SQ, R, "1", &[SEQ, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::MODALITY], "Modality", VR::CS, R, "2", &[SV, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::ANATOMIC_REGION_SEQUENCE], "AnatomicRegionSequence", VR::SQ, R, "2", &[SEQ, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::LATERALITY], "Laterality", VR::CS, R, "2", &[SV, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::PROCEDURE_CODE_SEQUENCE], "ProcedureCodeSequence", VR::SQ, R, "2", &[SEQ, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::REASON_FOR_REQUESTED_PROCEDURE_CODE_SEQUENCE], "ReasonForRequestedProcedureCodeSequence", VR::SQ, R, "2", &[SEQ, UNIV], "Hanging Protocol Definition"),
    key(&[tags::NUMBER_OF_PRIORS_REFERENCED], "NumberOfPriorsReferenced", VR::US, R, "1", &[SV, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_USER_IDENTIFICATION_CODE_SEQUENCE], "HangingProtocolUserIdentificationCodeSequence", VR::SQ, R, "2", &[SEQ, UNIV], "Hanging Protocol Definition"),
    key(&[tags::HANGING_PROTOCOL_USER_GROUP_NAME], "HangingProtocolUserGroupName", VR::LO, R, "3", &[], "Hanging Protocol Definition"),
    key(&[tags::NUMBER_OF_SCREENS], "NumberOfScreens", VR::US, R, "2", &[], "Hanging Protocol Environment"),
    key(&[tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE], "NominalScreenDefinitionSequence", VR::SQ, N, "2", &[], "Hanging Protocol Environment"),
    key(&[tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE, tags::NUMBER_OF_VERTICAL_PIXELS], "NumberOfVerticalPixels", VR::US, N, "1", &[], "Hanging Protocol Environment"),
    key(&[tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE, tags::NUMBER_OF_HORIZONTAL_PIXELS], "NumberOfHorizontalPixels", VR::US, N, "1", &[], "Hanging Protocol Environment"),
    key(&[tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE, tags::DISPLAY_ENVIRONMENT_SPATIAL_POSITION], "DisplayEnvironmentSpatialPosition", VR::FD, N, "1", &[], "Hanging Protocol Environment"),
    key(&[tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE, tags::SCREEN_MINIMUM_GRAYSCALE_BIT_DEPTH], "ScreenMinimumGrayscaleBitDepth", VR::US, N, "1C", &[], "Hanging Protocol Environment"),
    key(&[tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE, tags::SCREEN_MINIMUM_COLOR_BIT_DEPTH], "ScreenMinimumColorBitDepth", VR::US, N, "1C", &[], "Hanging Protocol Environment"),
    key(&[tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE, tags::APPLICATION_MAXIMUM_REPAINT_TIME], "ApplicationMaximumRepaintTime", VR::US, N, "3", &[], "Hanging Protocol Environment"),
];
#[rustfmt::skip]
const HP_INCLUDES: &[MacroInclude] = &[
    MacroInclude { path: &[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::ANATOMIC_REGION_SEQUENCE], table: &CODED_ENTRY_8_1A },
    MacroInclude { path: &[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::PROCEDURE_CODE_SEQUENCE], table: &CODED_ENTRY_8_1A },
    MacroInclude { path: &[tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE, tags::REASON_FOR_REQUESTED_PROCEDURE_CODE_SEQUENCE], table: &CODED_ENTRY_8_1A },
    MacroInclude { path: &[tags::HANGING_PROTOCOL_USER_IDENTIFICATION_CODE_SEQUENCE], table: &CODED_ENTRY_8_1A },
];
#[rustfmt::skip]
const HP_OTHER: &[OtherAttributes] = &[

];
/// PS3.4 Table 8-1a: Enhanced SCU/SCP Coded Entry Macro with SCU Support, Matching Key Support and Mandatory Meaning.
#[rustfmt::skip]
pub static CODED_ENTRY_8_1A: CodedEntryMacro = CodedEntryMacro { table: "8-1a", title: "Enhanced SCU/SCP Coded Entry Macro with SCU Support, Matching Key Support and Mandatory Meaning", basic: &BASIC_CODED_ENTRY_8_1B, equivalent_code_sequence: mkey(tags::EQUIVALENT_CODE_SEQUENCE, "EquivalentCodeSequence", VR::SQ, "3/3", O, "3") };
/// PS3.4 Table 8-1b: Basic SCU/SCP Coded Entry Macro with SCU Support, Matching Key Support and Mandatory Meaning.
#[rustfmt::skip]
pub static BASIC_CODED_ENTRY_8_1B: BasicCodedEntryMacro = BasicCodedEntryMacro { table: "8-1b", title: "Basic SCU/SCP Coded Entry Macro with SCU Support, Matching Key Support and Mandatory Meaning", keys: &[
    mkey(tags::CODE_VALUE, "CodeValue", VR::SH, "1C/1C", RC, "1C"),
    mkey(tags::CODING_SCHEME_DESIGNATOR, "CodingSchemeDesignator", VR::SH, "1C/1C", RC, "1C"),
    mkey(tags::CODING_SCHEME_VERSION, "CodingSchemeVersion", VR::SH, "1C/1C", RC, "1C"),
    mkey(tags::CODE_MEANING, "CodeMeaning", VR::LO, "1/1", N, "1"),
    mkey(tags::LONG_CODE_VALUE, "LongCodeValue", VR::UC, "1C/1C", RC, "1C"),
    mkey(tags::URN_CODE_VALUE, "URNCodeValue", VR::UR, "1C/1C", RC, "1C"),
    mkey(tags::MAPPING_RESOURCE, "MappingResource", VR::CS, "3/3", N, "3"),
    mkey(tags::MAPPING_RESOURCE_UID, "MappingResourceUID", VR::UI, "3/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_VERSION, "ContextGroupVersion", VR::DT, "3/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_FLAG, "ContextGroupExtensionFlag", VR::CS, "3/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_LOCAL_VERSION, "ContextGroupLocalVersion", VR::DT, "3/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_CREATOR_UID, "ContextGroupExtensionCreatorUID", VR::UI, "3/3", N, "3"),
]};
/// PS3.4 Table 8-2a: Enhanced Coded Entry Macro with Optional Matching Key Support and Optional Meaning.
#[rustfmt::skip]
pub static CODED_ENTRY_8_2A: CodedEntryMacro = CodedEntryMacro { table: "8-2a", title: "Enhanced Coded Entry Macro with Optional Matching Key Support and Optional Meaning", basic: &BASIC_CODED_ENTRY_8_2B, equivalent_code_sequence: mkey(tags::EQUIVALENT_CODE_SEQUENCE, "EquivalentCodeSequence", VR::SQ, "", O, "3") };
/// PS3.4 Table 8-2b: Basic Coded Entry Macro with Optional Matching Key Support and Optional Meaning.
#[rustfmt::skip]
pub static BASIC_CODED_ENTRY_8_2B: BasicCodedEntryMacro = BasicCodedEntryMacro { table: "8-2b", title: "Basic Coded Entry Macro with Optional Matching Key Support and Optional Meaning", keys: &[
    mkey(tags::CODE_VALUE, "CodeValue", VR::SH, "", O, "1C"),
    mkey(tags::CODING_SCHEME_DESIGNATOR, "CodingSchemeDesignator", VR::SH, "", O, "1C"),
    mkey(tags::CODING_SCHEME_VERSION, "CodingSchemeVersion", VR::SH, "", OC, "3"),
    mkey(tags::CODE_MEANING, "CodeMeaning", VR::LO, "", O, "3"),
    mkey(tags::LONG_CODE_VALUE, "LongCodeValue", VR::UC, "", O, "1C"),
    mkey(tags::URN_CODE_VALUE, "URNCodeValue", VR::UR, "", O, "1C"),
    mkey(tags::MAPPING_RESOURCE, "MappingResource", VR::CS, "", O, "3"),
    mkey(tags::MAPPING_RESOURCE_UID, "MappingResourceUID", VR::UI, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_VERSION, "ContextGroupVersion", VR::DT, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_FLAG, "ContextGroupExtensionFlag", VR::CS, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_LOCAL_VERSION, "ContextGroupLocalVersion", VR::DT, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_CREATOR_UID, "ContextGroupExtensionCreatorUID", VR::UI, "", O, "3"),
]};
/// PS3.4 Table 8-3a: Enhanced SCU/SCP Coded Entry Macro with no SCU Support and no Matching Key Support.
#[rustfmt::skip]
pub static CODED_ENTRY_8_3A: CodedEntryMacro = CodedEntryMacro { table: "8-3a", title: "Enhanced SCU/SCP Coded Entry Macro with no SCU Support and no Matching Key Support", basic: &BASIC_CODED_ENTRY_8_3B, equivalent_code_sequence: mkey(tags::EQUIVALENT_CODE_SEQUENCE, "EquivalentCodeSequence", VR::SQ, "-/3", N, "") };
/// PS3.4 Table 8-3b: Basic SCU/SCP Coded Entry Macro with no SCU Support and no Matching Key Support.
#[rustfmt::skip]
pub static BASIC_CODED_ENTRY_8_3B: BasicCodedEntryMacro = BasicCodedEntryMacro { table: "8-3b", title: "Basic SCU/SCP Coded Entry Macro with no SCU Support and no Matching Key Support", keys: &[
    mkey(tags::CODE_VALUE, "CodeValue", VR::SH, "-/1C", N, "1C"),
    mkey(tags::CODING_SCHEME_DESIGNATOR, "CodingSchemeDesignator", VR::SH, "-/1C", N, "1C"),
    mkey(tags::CODING_SCHEME_VERSION, "CodingSchemeVersion", VR::SH, "-/1C", N, "1C"),
    mkey(tags::CODE_MEANING, "CodeMeaning", VR::LO, "-/1", N, "1"),
    mkey(tags::LONG_CODE_VALUE, "LongCodeValue", VR::UC, "-/1C", N, "1C"),
    mkey(tags::URN_CODE_VALUE, "URNCodeValue", VR::UR, "-/1C", N, "1C"),
    mkey(tags::MAPPING_RESOURCE, "MappingResource", VR::CS, "-/3", N, "3"),
    mkey(tags::MAPPING_RESOURCE_UID, "MappingResourceUID", VR::UI, "-/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_VERSION, "ContextGroupVersion", VR::DT, "-/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_FLAG, "ContextGroupExtensionFlag", VR::CS, "-/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_LOCAL_VERSION, "ContextGroupLocalVersion", VR::DT, "-/3", N, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_CREATOR_UID, "ContextGroupExtensionCreatorUID", VR::UI, "-/3", N, "3"),
]};
/// PS3.4 Table 8-4a: Enhanced Coded Entry Macro with Optional Matching Key Support and Mandatory Meaning.
#[rustfmt::skip]
pub static CODED_ENTRY_8_4A: CodedEntryMacro = CodedEntryMacro { table: "8-4a", title: "Enhanced Coded Entry Macro with Optional Matching Key Support and Mandatory Meaning", basic: &BASIC_CODED_ENTRY_8_4B, equivalent_code_sequence: mkey(tags::EQUIVALENT_CODE_SEQUENCE, "EquivalentCodeSequence", VR::SQ, "", O, "3") };
/// PS3.4 Table 8-4b: Basic Coded Entry Macro with Optional Matching Key Support and Mandatory Meaning.
#[rustfmt::skip]
pub static BASIC_CODED_ENTRY_8_4B: BasicCodedEntryMacro = BasicCodedEntryMacro { table: "8-4b", title: "Basic Coded Entry Macro with Optional Matching Key Support and Mandatory Meaning", keys: &[
    mkey(tags::CODE_VALUE, "CodeValue", VR::SH, "", O, "1C"),
    mkey(tags::CODING_SCHEME_DESIGNATOR, "CodingSchemeDesignator", VR::SH, "", O, "1C"),
    mkey(tags::CODING_SCHEME_VERSION, "CodingSchemeVersion", VR::SH, "", RC, "1C"),
    mkey(tags::CODE_MEANING, "CodeMeaning", VR::LO, "", O, "1"),
    mkey(tags::LONG_CODE_VALUE, "LongCodeValue", VR::UC, "", O, "1C"),
    mkey(tags::URN_CODE_VALUE, "URNCodeValue", VR::UR, "", O, "1C"),
    mkey(tags::MAPPING_RESOURCE, "MappingResource", VR::CS, "", O, "3"),
    mkey(tags::MAPPING_RESOURCE_UID, "MappingResourceUID", VR::UI, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_VERSION, "ContextGroupVersion", VR::DT, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_FLAG, "ContextGroupExtensionFlag", VR::CS, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_LOCAL_VERSION, "ContextGroupLocalVersion", VR::DT, "", O, "3"),
    mkey(tags::CONTEXT_GROUP_EXTENSION_CREATOR_UID, "ContextGroupExtensionCreatorUID", VR::UI, "", O, "3"),
]};
