//! C-FIND key matching (PS3.4 C.2.2.2) of one identifier against one record, and the
//! response identifier it produces.
//!
//! [`match_identifier`] takes the request identifier of a C-FIND, a record of the
//! provider's information model (a data set) and [`MatchOptions`]; it answers `None` when
//! the record does not match, and otherwise the response identifier: every key of the
//! request with the record's value (zero length where the record has none), and nothing
//! else. It does no IO and never panics, whatever the identifier holds.
//!
//! The conformance choices (what an SCP built on it states in its conformance statement)
//! are listed on [`match_identifier`].

use std::borrow::Cow;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

/// How [`match_identifier`] reads keys where PS3.4 leaves the choice to the SCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchOptions {
    /// Match person names (PN) ignoring case (C.2.2.2.1.1). Our conformance: `true`.
    pub person_name_case_insensitive: bool,
    /// A DA key and a TM key, siblings in one data set or item, that are joined into one
    /// DT range when both hold a range (the worklist's Scheduled Procedure Step Start Date
    /// (0040,0002) and Start Time (0040,0003), Table K.6-1).
    pub combined_datetime: Option<(Tag, Tag)>,
}

impl Default for MatchOptions {
    fn default() -> Self {
        Self {
            person_name_case_insensitive: true,
            combined_datetime: None,
        }
    }
}

impl MatchOptions {
    /// Modality Worklist (PS3.4 K.6): case-insensitive person names, and the Scheduled
    /// Procedure Step Start Date and Time joined when both hold ranges.
    pub fn worklist() -> Self {
        Self {
            combined_datetime: Some((
                tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
                tags::SCHEDULED_PROCEDURE_STEP_START_TIME,
            )),
            ..Self::default()
        }
    }

    /// Hanging Protocol (PS3.4 U.6): case-insensitive person names, no combined date-time
    /// pair.
    pub fn hanging_protocol() -> Self {
        Self::default()
    }
}

/// Matches the C-FIND request identifier `query` against `record`.
///
/// Returns `None` when the record does not match, and otherwise the response identifier:
/// each key of `query` with the record's value (zero length where the record has none),
/// sequences reduced to the matching items and the requested item keys, plus the
/// identifier attributes described below. It does no IO and never panics.
///
/// # Conformance
///
/// What follows is what an SCP built on this engine states in its conformance statement
/// for Modality Worklist (PS3.4 K) and Hanging Protocol (PS3.4 U) C-FIND.
///
/// - **Matching types.** Single value, list of UID, universal, wild card, range and
///   sequence matching (C.2.2.2.1 – C.2.2.2.6) are supported on every key, required or
///   optional, whatever its VR allows. Empty value matching and multiple value matching
///   (C.2.2.2.7, C.2.2.2.8, later editions) are not: `""` is matched as a literal.
/// - **Never matched.** Specific Character Set (0008,0005) and Timezone Offset From UTC
///   (0008,0201) (C.2.2.2), Query/Retrieve Level (0008,0052) (not part of either model;
///   some SCUs send it anyway: it is echoed back unchanged), group lengths and command
///   or file meta elements.
/// - **Text.** Values are compared as decoded Unicode text, so the request and the record
///   may use different character sets. Trailing spaces (and NULs) are never significant;
///   leading spaces are not significant except in LT, ST, UC, UR and UT.
/// - **Case.** Single value and wild card matching are case-sensitive (exact text), except
///   on PN: with [`MatchOptions::person_name_case_insensitive`] (our default) person
///   names ignore case (Unicode lower-casing) (C.2.2.2.1.1). Accents and encoding variants
///   are never folded.
/// - **Person names.** Trailing empty components and component groups are not
///   significant (`Doe^John^^^` equals `Doe^John`). A key without `=` also matches when it
///   matches any one component group of the record, so `山田^太郎` finds
///   `Yamada^Tarou=山田^太郎`. No phonetic or other fuzzy matching.
/// - **Wild cards.** `*` (any run, also empty) and `?` (exactly one character) on AE, CS,
///   LO, LT, PN, SH, ST, UC, UR and UT; there is no escape (C.2.2.2.4). On other VRs the
///   characters are literal, except that a key made of `*` only is universal on every VR.
/// - **Universal.** A zero-length key, or a key of `*` only, matches every record, also
///   one that has no value for it (K.2.2.1.1.1 note 1). Any other key fails on a record
///   whose value is zero-length or absent (K.2.2.1.1.1).
/// - **Several key values.** A key with more values than its VM (backslash-separated)
///   matches when any of its values matches: list of UID matching (C.2.2.2.2) on UI, the
///   same "any of" rule on other VRs. A multi-valued record attribute matches when any of
///   its values matches, and all its values are returned (K.2.2.3).
/// - **Dates and times** are compared by meaning (C.2.2.2.1.3): `2230` equals `223000`,
///   `223000.000` equals `223000`, `20060706` (DT) equals `20060706000000`. The old
///   ACR-NEMA forms `YYYY.MM.DD` and `HH:MM:SS` are read too. A value with reduced
///   precision stands for its first instant, except as the upper end of a range, where
///   it stands for its last: `-1800` includes 18:00:59.999999. Ranges include both ends
///   (C.2.2.2.5); a TM range never crosses midnight, and a range whose start is after its
///   end matches nothing. A lone `-` is a range open at both ends: it matches any valid
///   value. A malformed key or record value matches nothing (a malformed single value
///   still matches the identical text).
/// - **DT offsets.** A DT with a UTC offset is compared as an instant. A DT without one is
///   read in the Timezone Offset From UTC (0008,0201) of its own data set (the request
///   identifier for keys, the record for values) and as UTC when that is absent, so two
///   values without offsets compare as written.
/// - **Combined date and time.** With [`MatchOptions::combined_datetime`] set to a DA and a
///   TM key (the worklist's Scheduled Procedure Step Start Date and Time, Table K.6-1),
///   when both keys hold a range they are read together as one DT range from (start date,
///   start time) to (end date, end time). When only one holds a range, each is matched on
///   its own.
/// - **Numbers.** IS and DS keys, and the binary numeric VRs, match by numeric value:
///   `+7` and `007` match `7` (CP-2305 leaves this to the SCP). Text that is not a number
///   matches only the identical text.
/// - **Sequences** (C.2.2.2.6). A record matches when at least one of its items matches
///   all the item keys; the response holds the matching items only, each reduced to the
///   requested item keys (recursively). A zero-length sequence key, or one whose item is
///   empty, returns the record's whole sequence (every item, every attribute). An item
///   whose keys are all universal selects nothing: it never excludes a record (one
///   without the sequence gets a zero-length sequence back) and returns every item
///   reduced to the requested keys. A key with several items (not allowed by C.2.2.2.6,
///   see [`check_identifier`](super::check_identifier)) matches a record item when any
///   of its items matches it.
/// - **Specific Character Set.** The response carries the record's Specific Character
///   Set when the request asked for (0008,0005) or the record's is not the default
///   repertoire. When the response holds text outside ASCII and would otherwise have no
///   character set that can encode it, it gets `ISO_IR 192` (UTF-8).
/// - **Timezone Offset From UTC.** The record's value is returned when the request asked
///   for it or the response holds a date or time (Table K.6-1a, type 1C).
pub fn match_identifier(
    query: &InMemDicomObject,
    record: &InMemDicomObject,
    options: &MatchOptions,
) -> Option<InMemDicomObject> {
    let ctx = Ctx {
        options,
        query_offset: timezone_offset(query),
        record_offset: timezone_offset(record),
    };
    let mut response = match_item(query, record, &ctx)?;
    add_identifier_attributes(query, record, &mut response);
    Some(response)
}

/// Whether the single key value `key` matches the single record value `value` of VR `vr`,
/// by the rules of [`match_identifier`] (DT values without an offset read as UTC).
///
/// `key` is one value: a range, a wild card pattern or a single value, not a
/// backslash-separated list.
pub fn matches_value(vr: VR, key: &str, value: &str, options: &MatchOptions) -> bool {
    let key = trim(vr, key);
    let value = trim(vr, value);
    if is_all_stars(key) {
        return true;
    }
    let ctx = Ctx {
        options,
        query_offset: None,
        record_offset: None,
    };
    !key.is_empty() && !value.is_empty() && value_matches(vr, key, value, &ctx)
}

/// Whether a key element asks for universal matching: zero length, `*` only, or a
/// sequence that is zero-length or whose items hold universal keys only.
pub(crate) fn is_universal_key(key: &InMemElement) -> bool {
    match key.value() {
        Value::Sequence(seq) => seq.items().iter().all(item_is_universal),
        Value::PixelSequence(_) => true,
        Value::Primitive(value) => {
            let vr = match key.vr() {
                VR::UN => dictionary_vr(key.tag()).unwrap_or(VR::UN),
                vr => vr,
            };
            is_universal_value(value, vr)
        }
    }
}

/// What stays the same while matching one identifier against one record.
struct Ctx<'o> {
    options: &'o MatchOptions,
    /// (0008,0201) of the request identifier, in minutes east of UTC.
    query_offset: Option<i64>,
    /// (0008,0201) of the record, in minutes east of UTC.
    record_offset: Option<i64>,
}

/// Tags that are never keys: group lengths, command and file meta groups, and the two
/// identifier attributes of C.2.2.2 that are never matched.
fn never_matched(tag: Tag) -> bool {
    tag.element() == 0x0000
        || tag.group() <= 0x0002
        || tag == tags::SPECIFIC_CHARACTER_SET
        || tag == tags::TIMEZONE_OFFSET_FROM_UTC
}

/// Matches one data set (the identifier or one item of a sequence key) against one
/// record data set, giving the reduced response data set.
fn match_item(
    query: &InMemDicomObject,
    record: &InMemDicomObject,
    ctx: &Ctx<'_>,
) -> Option<InMemDicomObject> {
    let combined = ctx.options.combined_datetime.filter(|&(date, time)| {
        is_range_key(query.get(date), VR::DA) && is_range_key(query.get(time), VR::TM)
    });
    if let Some((date, time)) = combined {
        if !combined_matches(query, record, date, time, ctx) {
            return None;
        }
    }
    let mut response = InMemDicomObject::new_empty();
    for key in query.iter() {
        let tag = key.tag();
        if never_matched(tag) {
            continue;
        }
        if tag == tags::QUERY_RETRIEVE_LEVEL {
            response.put(key.clone());
            continue;
        }
        let found = record.get(tag);
        let returned = if combined.is_some_and(|(d, t)| tag == d || tag == t) {
            return_value(key, found)
        } else {
            match_key(key, found, ctx)?
        };
        response.put(returned);
    }
    Some(response)
}

/// Matches one key against the record's element for that tag, giving the element to
/// return, or `None` when the record fails.
fn match_key(
    key: &InMemElement,
    found: Option<&InMemElement>,
    ctx: &Ctx<'_>,
) -> Option<InMemElement> {
    match key.value() {
        Value::Sequence(seq) => match_sequence(key, seq.items(), found, ctx),
        Value::PixelSequence(_) => Some(return_value(key, found)),
        Value::Primitive(wanted) => {
            let vr = matching_vr(key, found);
            if key.vr() == VR::SQ || is_universal_value(wanted, vr) {
                return Some(return_value(key, found));
            }
            let found = found?;
            let Value::Primitive(held) = found.value() else {
                return None;
            };
            primitive_matches(vr, wanted, held, ctx).then(|| found.clone())
        }
    }
}

/// Sequence matching (C.2.2.2.6).
fn match_sequence(
    key: &InMemElement,
    wanted: &[InMemDicomObject],
    found: Option<&InMemElement>,
    ctx: &Ctx<'_>,
) -> Option<InMemElement> {
    if wanted
        .iter()
        .all(|item| item.iter().all(|k| never_matched(k.tag())))
    {
        // Zero-length key or an empty item: the whole sequence is asked for.
        return Some(return_value(key, found));
    }
    let held = found.and_then(|f| f.items());
    let reduce = |item: &InMemDicomObject| wanted.iter().find_map(|w| match_item(w, item, ctx));
    let matched: Vec<InMemDicomObject> = held.unwrap_or(&[]).iter().filter_map(reduce).collect();
    if matched.is_empty() && !wanted.iter().all(item_is_universal) {
        return None;
    }
    Some(DataElement::new(
        key.tag(),
        VR::SQ,
        DataSetSequence::new(matched, Length::UNDEFINED),
    ))
}

fn item_is_universal(item: &InMemDicomObject) -> bool {
    item.iter().all(|key| {
        never_matched(key.tag()) || key.tag() == tags::QUERY_RETRIEVE_LEVEL || is_universal_key(key)
    })
}

/// The record's element for `key`, or a zero-length one when the record has none.
fn return_value(key: &InMemElement, found: Option<&InMemElement>) -> InMemElement {
    match found {
        Some(found) => found.clone(),
        None => {
            let vr = match key.value() {
                Value::Sequence(_) => VR::SQ,
                _ if key.vr() == VR::UN => dictionary_vr(key.tag()).unwrap_or(VR::UN),
                _ => key.vr(),
            };
            DataElement::empty(key.tag(), vr)
        }
    }
}

/// The VR that decides how a key is matched: the record's, else the key's, else the
/// dictionary's (a key read in implicit VR without a dictionary entry is UN).
fn matching_vr(key: &InMemElement, found: Option<&InMemElement>) -> VR {
    let known = |vr: VR| (vr != VR::UN).then_some(vr);
    found
        .and_then(|f| known(f.vr()))
        .or_else(|| known(key.vr()))
        .or_else(|| dictionary_vr(key.tag()))
        .unwrap_or(VR::UN)
}

fn dictionary_vr(tag: Tag) -> Option<VR> {
    match StandardDataDictionary.by_tag(tag)?.vr() {
        VirtualVr::Exact(vr) => Some(vr),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Values as text

/// VRs whose value is one text that may contain backslashes.
fn is_single_text(vr: VR) -> bool {
    matches!(vr, VR::LT | VR::ST | VR::UT | VR::UR)
}

/// VRs whose leading spaces are significant (PS3.5 6.2).
fn keeps_leading_spaces(vr: VR) -> bool {
    matches!(vr, VR::LT | VR::ST | VR::UT | VR::UR | VR::UC)
}

fn is_binary(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB | VR::OD | VR::OF | VR::OL | VR::OV | VR::OW | VR::UN
    )
}

fn is_wildcard_vr(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE | VR::CS | VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UR | VR::UT
    )
}

fn trim(vr: VR, text: &str) -> &str {
    let text = text.trim_end_matches([' ', '\0']);
    if keeps_leading_spaces(vr) {
        text
    } else {
        text.trim_start_matches(' ')
    }
}

/// The values of a primitive value as trimmed text, one per value.
fn texts(value: &PrimitiveValue, vr: VR) -> Vec<String> {
    let raw: Vec<Cow<'_, str>> = match value {
        PrimitiveValue::Empty => Vec::new(),
        PrimitiveValue::Str(s) if is_single_text(vr) => vec![Cow::Borrowed(s.as_str())],
        PrimitiveValue::Str(s) => s.split('\\').map(Cow::Borrowed).collect(),
        PrimitiveValue::Strs(all) if is_single_text(vr) => vec![Cow::Owned(all.join("\\"))],
        PrimitiveValue::Strs(all) => all
            .iter()
            .flat_map(|s| s.split('\\'))
            .map(Cow::Borrowed)
            .collect(),
        other => other
            .to_multi_str()
            .iter()
            .map(|s| Cow::Owned(s.clone()))
            .collect(),
    };
    raw.iter().map(|s| trim(vr, s).to_owned()).collect()
}

/// The values of an element as trimmed text; none for a sequence.
fn element_texts(element: &InMemElement, vr: VR) -> Vec<String> {
    element
        .value()
        .primitive()
        .map(|value| texts(value, vr))
        .unwrap_or_default()
}

fn is_all_stars(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c == '*')
}

fn is_universal_value(value: &PrimitiveValue, vr: VR) -> bool {
    if is_binary(vr) && !matches!(value, PrimitiveValue::Str(_) | PrimitiveValue::Strs(_)) {
        return value.to_bytes().is_empty();
    }
    let values = texts(value, vr);
    values.iter().all(|v| v.is_empty()) || values.iter().any(|v| is_all_stars(v))
}

/// Whether `key` is one range value of a DA or TM key.
fn is_range_key(key: Option<&InMemElement>, vr: VR) -> bool {
    let values = key.map(|k| element_texts(k, vr)).unwrap_or_default();
    values.len() == 1 && values[0].contains('-')
}

fn primitive_matches(
    vr: VR,
    wanted: &PrimitiveValue,
    held: &PrimitiveValue,
    ctx: &Ctx<'_>,
) -> bool {
    if is_binary(vr) {
        let held = held.to_bytes();
        return !held.is_empty() && wanted.to_bytes() == held;
    }
    let keys = texts(wanted, vr);
    let values = texts(held, vr);
    keys.iter().filter(|k| !k.is_empty()).any(|k| {
        values
            .iter()
            .filter(|v| !v.is_empty())
            .any(|v| value_matches(vr, k, v, ctx))
    })
}

/// One non-empty key value against one non-empty record value.
fn value_matches(vr: VR, key: &str, value: &str, ctx: &Ctx<'_>) -> bool {
    match vr {
        VR::PN => person_name_matches(key, value, ctx.options.person_name_case_insensitive),
        vr if is_wildcard_vr(vr) && has_wildcard(key) => wildcard_matches(key, value),
        VR::DA => date_matches(key, value),
        VR::TM => time_matches(key, value),
        VR::DT => datetime_matches(key, value, ctx),
        VR::IS | VR::DS | VR::US | VR::UL | VR::UV | VR::SS | VR::SL | VR::SV | VR::FL | VR::FD => {
            number_matches(key, value)
        }
        _ => key == value,
    }
}

fn has_wildcard(key: &str) -> bool {
    key.contains(['*', '?'])
}

/// `*` matches any run of characters, `?` exactly one; no escape (C.2.2.2.4).
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and the text position it currently stands up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

fn person_name_matches(key: &str, value: &str, case_insensitive: bool) -> bool {
    let fold = |s: String| {
        if case_insensitive {
            s.to_lowercase()
        } else {
            s
        }
    };
    let key = fold(normalize_person_name(key));
    let value = fold(normalize_person_name(value));
    let matches = |candidate: &str| {
        if has_wildcard(&key) {
            wildcard_matches(&key, candidate)
        } else {
            key == candidate
        }
    };
    matches(&value)
        || (!key.contains('=')
            && value.contains('=')
            && value.split('=').any(|g| !g.is_empty() && matches(g)))
}

/// Drops trailing spaces of components, trailing empty components and trailing empty
/// component groups (PS3.5 6.2.1: they carry no meaning).
fn normalize_person_name(name: &str) -> String {
    let groups: Vec<String> = name
        .split('=')
        .map(|group| {
            let components: Vec<&str> = group.split('^').map(|c| c.trim_end_matches(' ')).collect();
            let used = components
                .iter()
                .rposition(|c| !c.is_empty())
                .map_or(0, |i| i + 1);
            components[..used].join("^")
        })
        .collect();
    let used = groups
        .iter()
        .rposition(|g| !g.is_empty())
        .map_or(0, |i| i + 1);
    groups[..used].join("=")
}

fn number_matches(key: &str, value: &str) -> bool {
    match (key.trim().parse::<f64>(), value.trim().parse::<f64>()) {
        (Ok(k), Ok(v)) => k == v,
        _ => key == value,
    }
}

// ---------------------------------------------------------------------------------------
// Dates and times

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// An instant with the precision it was written with: its first and last microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    first: i64,
    last: i64,
}

/// The inclusive bounds of a range key; `None` is an open end.
type Bounds = (Option<i64>, Option<i64>);

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A DA value (`YYYYMMDD`, or the ACR-NEMA `YYYY.MM.DD`) as days since 1970-01-01.
fn parse_date(text: &str) -> Option<i64> {
    let compact: Cow<'_, str> = if text.len() == 10 && text.as_bytes().get(4) == Some(&b'.') {
        Cow::Owned(text.replace('.', ""))
    } else {
        Cow::Borrowed(text)
    };
    if compact.len() != 8 {
        return None;
    }
    let year = digits(compact.get(0..4)?)?;
    let month = digits(compact.get(4..6)?)?;
    let day = digits(compact.get(6..8)?)?;
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// A TM value (`HH`, `HHMM`, `HHMMSS`, `HHMMSS.F…`, or the ACR-NEMA `HH:MM:SS.F…`) as
/// microseconds since midnight.
fn parse_time(text: &str) -> Option<Span> {
    let compact: Cow<'_, str> = if text.contains(':') {
        Cow::Owned(text.replace(':', ""))
    } else {
        Cow::Borrowed(text)
    };
    let (main, fraction) = match compact.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (&*compact, None),
    };
    let field = |range: std::ops::Range<usize>| main.get(range).and_then(digits);
    let (hour, minute, second, unit) = match (main.len(), fraction) {
        (2, None) => (field(0..2)?, 0, 0, 3_600 * MICROS_PER_SECOND),
        (4, None) => (field(0..2)?, field(2..4)?, 0, 60 * MICROS_PER_SECOND),
        (6, _) => (field(0..2)?, field(2..4)?, field(4..6)?, MICROS_PER_SECOND),
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let (micros, unit) = match fraction {
        None => (0, unit),
        Some(f) if (1..=6).contains(&f.len()) => {
            let scale = 10_i64.pow(6 - u32::try_from(f.len()).ok()?);
            (digits(f)? * scale, scale)
        }
        Some(_) => return None,
    };
    let first = ((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + micros;
    Some(Span {
        first,
        last: first + unit - 1,
    })
}

/// A DT value (`YYYY[MM[DD[HH[MM[SS[.F…]]]]]][&ZZXX]`) as microseconds since the Unix
/// epoch in UTC, reading a value without an offset at `default_offset` minutes.
fn parse_datetime(text: &str, default_offset: Option<i64>) -> Option<Span> {
    let (main, offset) = match text.find(['+', '-']) {
        Some(at) => (&text[..at], Some(parse_offset(&text[at..])?)),
        None => (text, None),
    };
    let (digits_part, fraction) = match main.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (main, None),
    };
    let field = |range: std::ops::Range<usize>| digits_part.get(range).and_then(digits);
    let len = digits_part.len();
    if !matches!(len, 4 | 6 | 8 | 10 | 12 | 14) || (fraction.is_some() && len != 14) {
        return None;
    }
    let year = field(0..4)?;
    let month = if len >= 6 { field(4..6)? } else { 1 };
    let day = if len >= 8 { field(6..8)? } else { 1 };
    let hour = if len >= 10 { field(8..10)? } else { 0 };
    let minute = if len >= 12 { field(10..12)? } else { 0 };
    let second = if len >= 14 { field(12..14)? } else { 0 };
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let micros = match fraction {
        None => 0,
        Some(f) if (1..=6).contains(&f.len()) => {
            digits(f)? * 10_i64.pow(6 - u32::try_from(f.len()).ok()?)
        }
        Some(_) => return None,
    };
    let day_start = days_from_civil(year, month, day) * MICROS_PER_DAY;
    let first = day_start + ((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + micros;
    // The first instant after the written precision.
    let next = match (len, fraction) {
        (4, _) => days_from_civil(year + 1, 1, 1) * MICROS_PER_DAY,
        (6, _) if month == 12 => days_from_civil(year + 1, 1, 1) * MICROS_PER_DAY,
        (6, _) => days_from_civil(year, month + 1, 1) * MICROS_PER_DAY,
        (8, _) => day_start + MICROS_PER_DAY,
        (10, _) => first + 3_600 * MICROS_PER_SECOND,
        (12, _) => first + 60 * MICROS_PER_SECOND,
        (_, None) => first + MICROS_PER_SECOND,
        (_, Some(f)) => first + 10_i64.pow(6 - u32::try_from(f.len()).ok()?),
    };
    let shift = offset.or(default_offset).unwrap_or(0) * 60 * MICROS_PER_SECOND;
    Some(Span {
        first: first - shift,
        last: next - 1 - shift,
    })
}

/// `+HHMM` or `-HHMM` as minutes east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if rest.len() != 4 {
        return None;
    }
    let hours = digits(rest.get(0..2)?)?;
    let minutes = digits(rest.get(2..4)?)?;
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
}

/// (0008,0201) of a data set, in minutes east of UTC.
fn timezone_offset(set: &InMemDicomObject) -> Option<i64> {
    let element = set.get(tags::TIMEZONE_OFFSET_FROM_UTC)?;
    parse_offset(element_texts(element, VR::SH).first()?)
}

/// Splits a range key at its one `-` and parses both ends with `parse`; `None` when
/// malformed. An empty end is open.
fn split_range(key: &str, parse: impl Fn(&str) -> Option<i64>) -> Option<Bounds> {
    let (low, high) = key.split_once('-')?;
    if high.contains('-') {
        return None;
    }
    let end = |text: &str| -> Option<Option<i64>> {
        let text = text.trim();
        if text.is_empty() {
            Some(None)
        } else {
            parse(text).map(Some)
        }
    };
    Some((end(low)?, end(high)?))
}

fn within((low, high): Bounds, point: i64) -> bool {
    low.is_none_or(|low| low <= point) && high.is_none_or(|high| point <= high)
}

fn date_matches(key: &str, value: &str) -> bool {
    if key.contains('-') {
        let Some(bounds) = split_range(key, parse_date) else {
            return false;
        };
        return parse_date(value).is_some_and(|day| within(bounds, day));
    }
    match (parse_date(key), parse_date(value)) {
        (Some(k), Some(v)) => k == v,
        _ => key == value,
    }
}

fn time_range(key: &str) -> Option<Bounds> {
    let (low, high) = split_range(key, |t| parse_time(t).map(|s| s.first))?;
    // The upper end stands for the last instant of its precision.
    let high = match key.split_once('-').map(|(_, h)| h.trim()) {
        Some(h) if !h.is_empty() => Some(parse_time(h)?.last),
        _ => high,
    };
    Some((low, high))
}

fn time_matches(key: &str, value: &str) -> bool {
    if key.contains('-') {
        let Some(bounds) = time_range(key) else {
            return false;
        };
        return parse_time(value).is_some_and(|t| within(bounds, t.first));
    }
    match (parse_time(key), parse_time(value)) {
        (Some(k), Some(v)) => k.first == v.first,
        _ => key == value,
    }
}

/// The bounds of a DT range key. A `-` may also be the sign of a UTC offset, so every
/// `-` is tried as the separator and the first split whose both ends parse wins.
fn datetime_range(key: &str, offset: Option<i64>) -> Option<Bounds> {
    key.match_indices('-').find_map(|(at, _)| {
        let (low, high) = (key[..at].trim(), key[at + 1..].trim());
        let low = if low.is_empty() {
            None
        } else {
            Some(parse_datetime(low, offset)?.first)
        };
        let high = if high.is_empty() {
            None
        } else {
            Some(parse_datetime(high, offset)?.last)
        };
        Some((low, high))
    })
}

fn datetime_matches(key: &str, value: &str, ctx: &Ctx<'_>) -> bool {
    let Some(held) = parse_datetime(value, ctx.record_offset) else {
        return !key.contains('-') && key == value;
    };
    if key.contains('-') {
        return datetime_range(key, ctx.query_offset).is_some_and(|b| within(b, held.first));
    }
    match parse_datetime(key, ctx.query_offset) {
        Some(k) => k.first == held.first,
        None => key == value,
    }
}

/// The worklist rule of Table K.6-1: a DA range and a TM range form one DT range, from
/// (start date, start time) to (end date, end time).
fn combined_matches(
    query: &InMemDicomObject,
    record: &InMemDicomObject,
    date: Tag,
    time: Tag,
    ctx: &Ctx<'_>,
) -> bool {
    let values = |set: &InMemDicomObject, tag: Tag, vr: VR| -> Vec<String> {
        set.get(tag)
            .map(|e| element_texts(e, vr))
            .unwrap_or_default()
    };
    let (Some(date_key), Some(time_key)) = (
        values(query, date, VR::DA).into_iter().next(),
        values(query, time, VR::TM).into_iter().next(),
    ) else {
        return false;
    };
    let (Some((low_day, high_day)), Some((low_time, high_time))) =
        (split_range(&date_key, parse_date), time_range(&time_key))
    else {
        return false;
    };
    let query_shift = ctx.query_offset.unwrap_or(0) * 60 * MICROS_PER_SECOND;
    let low = low_day.map(|d| d * MICROS_PER_DAY + low_time.unwrap_or(0) - query_shift);
    let high = high_day
        .map(|d| d * MICROS_PER_DAY + high_time.unwrap_or(MICROS_PER_DAY - 1) - query_shift);
    let record_shift = ctx.record_offset.unwrap_or(0) * 60 * MICROS_PER_SECOND;
    let days = values(record, date, VR::DA);
    let times = values(record, time, VR::TM);
    days.iter().filter_map(|d| parse_date(d)).any(|day| {
        times
            .iter()
            .filter_map(|t| parse_time(t))
            .any(|t| within((low, high), day * MICROS_PER_DAY + t.first - record_shift))
    })
}

// ---------------------------------------------------------------------------------------
// Identifier attributes of the response

fn is_default_repertoire(term: &str) -> bool {
    term.is_empty() || term == "ISO_IR 6" || term == "ISO 2022 IR 6"
}

fn add_identifier_attributes(
    query: &InMemDicomObject,
    record: &InMemDicomObject,
    response: &mut InMemDicomObject,
) {
    let charset = record.get(tags::SPECIFIC_CHARACTER_SET);
    let terms = charset
        .map(|e| element_texts(e, VR::CS))
        .unwrap_or_default();
    let charset = charset.filter(|_| terms.iter().any(|t| !t.is_empty()));
    let extended = terms.iter().any(|t| !is_default_repertoire(t));
    if let Some(charset) = charset {
        if extended || query.get(tags::SPECIFIC_CHARACTER_SET).is_some() {
            response.put(charset.clone());
        }
    }
    if !extended && !is_ascii(response) {
        response.put(DataElement::new(
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            PrimitiveValue::from("ISO_IR 192"),
        ));
    }
    if let Some(offset) = record.get(tags::TIMEZONE_OFFSET_FROM_UTC) {
        if query.get(tags::TIMEZONE_OFFSET_FROM_UTC).is_some() || has_date_or_time(response) {
            response.put(offset.clone());
        }
    }
}

fn is_ascii(set: &InMemDicomObject) -> bool {
    set.iter().all(|element| match element.value() {
        Value::Primitive(PrimitiveValue::Str(s)) => s.is_ascii(),
        Value::Primitive(PrimitiveValue::Strs(all)) => all.iter().all(|s| s.is_ascii()),
        Value::Sequence(seq) => seq.items().iter().all(is_ascii),
        _ => true,
    })
}

fn has_date_or_time(set: &InMemDicomObject) -> bool {
    set.iter().any(|element| match element.value() {
        Value::Sequence(seq) => seq.items().iter().any(has_date_or_time),
        Value::Primitive(value) => {
            matches!(element.vr(), VR::DA | VR::TM | VR::DT) && !value.to_str().trim().is_empty()
        }
        Value::PixelSequence(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_matches("S*", "Smith"));
        assert!(wildcard_matches("*son", "Jackson"));
        assert!(wildcard_matches("J?hn", "John"));
        assert!(wildcard_matches("*", ""));
        assert!(wildcard_matches("a*b*c", "axxbyyc"));
        assert!(!wildcard_matches("a*b*c", "axxbyy"));
        assert!(!wildcard_matches("J?hn", "Jhn"));
        assert!(wildcard_matches("Mü*", "Müller"));
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("19700101"), Some(0));
        assert_eq!(parse_date("2024.02.29"), parse_date("20240229"));
        assert_eq!(parse_date("20230229"), None);
        assert_eq!(parse_date("2024"), None);
        assert_eq!(
            parse_time("2230").map(|s| s.first),
            parse_time("223000").map(|s| s.first)
        );
        assert_eq!(
            parse_time("1800").map(|s| s.last),
            Some(18 * 3_600_000_000 + 59_999_999)
        );
        assert_eq!(
            parse_time("10:15:00").map(|s| s.first),
            parse_time("101500").map(|s| s.first)
        );
        assert!(parse_time("2460").is_none());
        let plain = parse_datetime("20060706080000", None).map(|s| s.first);
        let east = parse_datetime("20060706090000+0100", None).map(|s| s.first);
        assert_eq!(plain, east);
        assert_eq!(
            parse_datetime("2006", None).map(|s| s.last),
            parse_datetime("20061231235959.999999", None).map(|s| s.first)
        );
        assert_eq!(
            datetime_range("20060705-0500-", None).map(|b| b.0),
            Some(parse_datetime("20060705", Some(-300)).map(|s| s.first))
        );
    }

    #[test]
    fn person_names() {
        assert_eq!(normalize_person_name("Doe^John^^^"), "Doe^John");
        assert_eq!(normalize_person_name("Doe^John^^^=="), "Doe^John");
        assert!(person_name_matches("DOE^JOHN", "Doe^John", true));
        assert!(!person_name_matches("DOE^JOHN", "Doe^John", false));
        assert!(person_name_matches(
            "山田^太郎",
            "Yamada^Tarou=山田^太郎",
            true
        ));
    }
}
