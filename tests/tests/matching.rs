//! C-FIND key matching (PS3.4 C.2.2.2) of `dicomwire::service::match_identifier`: every
//! matching type with records that match and records that do not, the response
//! identifier it builds, odd identifiers, and property tests.

use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use dicomwire::service::{MatchOptions, match_identifier, matches_value};
use proptest::prelude::*;

fn text(tag: Tag, vr: VR, value: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

fn texts(tag: Tag, vr: VR, values: &[&str]) -> InMemElement {
    DataElement::new(
        tag,
        vr,
        PrimitiveValue::Strs(values.iter().map(|v| (*v).to_owned()).collect()),
    )
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

fn set(elements: Vec<InMemElement>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elements)
}

fn worklist(query: &InMemDicomObject, record: &InMemDicomObject) -> Option<InMemDicomObject> {
    match_identifier(query, record, &MatchOptions::worklist())
}

/// Whether a one-key query `key` matches a one-attribute record `value` (same tag).
fn one(tag: Tag, vr: VR, key: &str, value: &str) -> bool {
    worklist(
        &set(vec![text(tag, vr, key)]),
        &set(vec![text(tag, vr, value)]),
    )
    .is_some()
}

fn value_of(set: &InMemDicomObject, tag: Tag) -> String {
    set.get(tag)
        .unwrap_or_else(|| panic!("{tag} is in the response"))
        .to_str()
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

fn items(set: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    set.get(tag)
        .and_then(|e| e.items())
        .unwrap_or_else(|| panic!("{tag} is a sequence in the response"))
}

fn tags_of(set: &InMemDicomObject) -> Vec<Tag> {
    set.tags().collect()
}

// ---------------------------------------------------------------------------------------
// Single value matching (C.2.2.2.1)

#[test]
fn single_value_is_exact_and_case_sensitive() {
    assert!(one(tags::MODALITY, VR::CS, "CT", "CT"));
    assert!(!one(tags::MODALITY, VR::CS, "ct", "CT"));
    assert!(!one(tags::MODALITY, VR::CS, "MR", "CT"));
    assert!(!one(tags::MODALITY, VR::CS, "C", "CT"));
    assert!(!one(tags::PATIENT_ID, VR::LO, "p1", "P1"));
    // Padding is not part of the value.
    assert!(one(tags::MODALITY, VR::CS, "CT ", "CT"));
    assert!(one(tags::PATIENT_ID, VR::LO, " P1", "P1"));
}

#[test]
fn person_names_ignore_case_by_our_conformance() {
    assert!(one(tags::PATIENT_NAME, VR::PN, "doe^john", "Doe^John"));
    assert!(one(tags::PATIENT_NAME, VR::PN, "DOE^JOHN", "Doe^John^^^"));
    assert!(one(tags::PATIENT_NAME, VR::PN, "Doe^John^^^", "Doe^John"));
    assert!(!one(tags::PATIENT_NAME, VR::PN, "Doe^Jane", "Doe^John"));
    assert!(
        !one(tags::PATIENT_NAME, VR::PN, "Doe", "Doe^John"),
        "single value: the whole name"
    );
    assert!(!one(tags::PATIENT_NAME, VR::PN, "John^Doe", "Doe^John"));
    // A key without '=' may match any one component group.
    assert!(one(
        tags::PATIENT_NAME,
        VR::PN,
        "山田^太郎",
        "Yamada^Tarou=山田^太郎=やまだ^たろう"
    ));
    assert!(one(
        tags::PATIENT_NAME,
        VR::PN,
        "yamada^tarou",
        "Yamada^Tarou=山田^太郎"
    ));

    let literal = MatchOptions {
        person_name_case_insensitive: false,
        ..MatchOptions::worklist()
    };
    let query = set(vec![text(tags::PATIENT_NAME, VR::PN, "doe^john")]);
    let record = set(vec![text(tags::PATIENT_NAME, VR::PN, "Doe^John")]);
    assert!(match_identifier(&query, &record, &literal).is_none());
    assert!(match_identifier(&query, &record, &MatchOptions::default()).is_some());
}

#[test]
fn numbers_match_by_value() {
    assert!(one(tags::PATIENT_WEIGHT, VR::DS, "72.50", "72.5"));
    assert!(!one(tags::PATIENT_WEIGHT, VR::DS, "72.6", "72.5"));
    assert!(one(tags::STAGE_NUMBER, VR::IS, "+7", "007"));
    let query = set(vec![DataElement::new(
        tags::NUMBER_OF_PRIORS_REFERENCED,
        VR::US,
        PrimitiveValue::from(2_u16),
    )]);
    let two = set(vec![DataElement::new(
        tags::NUMBER_OF_PRIORS_REFERENCED,
        VR::US,
        PrimitiveValue::from(2_u16),
    )]);
    let three = set(vec![DataElement::new(
        tags::NUMBER_OF_PRIORS_REFERENCED,
        VR::US,
        PrimitiveValue::from(3_u16),
    )]);
    let options = MatchOptions::hanging_protocol();
    assert!(match_identifier(&query, &two, &options).is_some());
    assert!(match_identifier(&query, &three, &options).is_none());
}

// ---------------------------------------------------------------------------------------
// Wild card matching (C.2.2.2.4)

#[test]
fn wildcards() {
    assert!(one(tags::PATIENT_NAME, VR::PN, "S*", "Smith^Anna"));
    assert!(
        one(tags::PATIENT_NAME, VR::PN, "s*", "Smith^Anna"),
        "PN ignores case"
    );
    assert!(!one(tags::PATIENT_NAME, VR::PN, "S*", "Doe^John"));
    assert!(one(tags::PATIENT_NAME, VR::PN, "*son", "Jackson"));
    assert!(!one(tags::PATIENT_NAME, VR::PN, "*son", "Jacksonville"));
    assert!(one(tags::PATIENT_NAME, VR::PN, "J?hn", "John"));
    assert!(one(tags::PATIENT_NAME, VR::PN, "J?hn", "Jahn"));
    assert!(!one(tags::PATIENT_NAME, VR::PN, "J?hn", "Jhn"));
    assert!(!one(tags::PATIENT_NAME, VR::PN, "J?hn", "Joohn"));
    assert!(one(tags::PATIENT_NAME, VR::PN, "Doe^J*", "Doe^John^^^"));
    assert!(one(tags::PATIENT_NAME, VR::PN, "*", "Anyone"));
    // Case-sensitive outside PN.
    assert!(one(
        tags::REQUESTED_PROCEDURE_DESCRIPTION,
        VR::LO,
        "CT *",
        "CT chest"
    ));
    assert!(!one(
        tags::REQUESTED_PROCEDURE_DESCRIPTION,
        VR::LO,
        "ct *",
        "CT chest"
    ));
    assert!(one(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, "CT?", "CT1"));
    // Not a wild card VR: literal.
    assert!(!one(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.?", "1.2.3"));
}

#[test]
fn public_helper_matches_single_values() {
    let options = MatchOptions::default();
    assert!(matches_value(VR::PN, "S*", "Smith", &options));
    assert!(matches_value(VR::TM, "2230", "223000", &options));
    assert!(matches_value(
        VR::DA,
        "20060705-20060707",
        "20060706",
        &options
    ));
    assert!(!matches_value(
        VR::DA,
        "20060705-20060707",
        "20060708",
        &options
    ));
    assert!(
        matches_value(VR::CS, "*", "", &options),
        "a lone * is universal"
    );
    assert!(!matches_value(VR::CS, "CT", "", &options));
}

// ---------------------------------------------------------------------------------------
// Universal matching (C.2.2.2.3) and the response identifier

#[test]
fn universal_keys_return_the_record_value_or_zero_length() {
    let record = set(vec![
        text(tags::PATIENT_NAME, VR::PN, "Doe^John"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
        text(tags::PATIENT_SEX, VR::CS, "M"),
        text(tags::ACCESSION_NUMBER, VR::SH, "A1"),
    ]);
    let query = set(vec![
        text(tags::PATIENT_NAME, VR::PN, ""),
        text(tags::PATIENT_ID, VR::LO, "*"),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, ""),
        text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "*"),
        seq(tags::REFERENCED_STUDY_SEQUENCE, vec![]),
    ]);
    let response = worklist(&query, &record).expect("universal keys match everything");
    assert_eq!(
        tags_of(&response),
        tags_of(&query),
        "every key, nothing else"
    );
    assert_eq!(value_of(&response, tags::PATIENT_NAME), "Doe^John");
    assert_eq!(value_of(&response, tags::PATIENT_ID), "P1");
    assert_eq!(value_of(&response, tags::PATIENT_BIRTH_DATE), "");
    assert_eq!(response.get(tags::PATIENT_BIRTH_DATE).unwrap().vr(), VR::DA);
    assert_eq!(value_of(&response, tags::REFERRING_PHYSICIAN_NAME), "");
    assert_eq!(items(&response, tags::REFERENCED_STUDY_SEQUENCE).len(), 0);
}

#[test]
fn zero_length_record_values_fail_every_non_universal_key() {
    let record = set(vec![
        text(tags::PATIENT_ID, VR::LO, ""),
        text(tags::PATIENT_NAME, VR::PN, "Doe^John"),
    ]);
    for key in ["P1", "P*", "?"] {
        let query = set(vec![text(tags::PATIENT_ID, VR::LO, key)]);
        assert!(worklist(&query, &record).is_none(), "{key}");
    }
    for key in ["", "*"] {
        let query = set(vec![text(tags::PATIENT_ID, VR::LO, key)]);
        let response = worklist(&query, &record).expect("universal");
        assert_eq!(value_of(&response, tags::PATIENT_ID), "");
    }
    // An absent attribute fails the same way.
    let query = set(vec![text(tags::PATIENT_BIRTH_DATE, VR::DA, "20000101")]);
    assert!(worklist(&query, &record).is_none());
}

#[test]
fn multi_valued_record_attributes_match_any_value_and_return_all() {
    let record = set(vec![texts(
        tags::MODALITIES_IN_STUDY,
        VR::CS,
        &["CT", "PT", "SR"],
    )]);
    let query = set(vec![text(tags::MODALITIES_IN_STUDY, VR::CS, "PT")]);
    let response = worklist(&query, &record).expect("one value matches");
    let returned = response
        .get(tags::MODALITIES_IN_STUDY)
        .unwrap()
        .to_multi_str()
        .unwrap()
        .into_owned();
    assert_eq!(returned, ["CT", "PT", "SR"]);
    let query = set(vec![text(tags::MODALITIES_IN_STUDY, VR::CS, "MR")]);
    assert!(worklist(&query, &record).is_none());
    let query = set(vec![text(tags::MODALITIES_IN_STUDY, VR::CS, "S?")]);
    assert!(worklist(&query, &record).is_some());
}

#[test]
fn list_of_uid_matches_any_uid() {
    let record = set(vec![text(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.840.4")]);
    for query in [
        set(vec![text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            "1.2.840.3\\1.2.840.4",
        )]),
        set(vec![texts(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &["1.2.840.4", "1.2.840.5"],
        )]),
        set(vec![text(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.840.4\0")]),
    ] {
        let response = worklist(&query, &record).expect("in the list");
        assert_eq!(value_of(&response, tags::STUDY_INSTANCE_UID), "1.2.840.4");
    }
    let query = set(vec![text(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        "1.2.840.3\\1.2.840.5",
    )]);
    assert!(worklist(&query, &record).is_none());
    let query = set(vec![text(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.840")]);
    assert!(worklist(&query, &record).is_none(), "no prefix matching");
}

// ---------------------------------------------------------------------------------------
// Range matching (C.2.2.2.5)

#[test]
fn date_ranges_in_all_three_forms() {
    let da = |key: &str, value: &str| one(tags::STUDY_DATE, VR::DA, key, value);
    for inside in ["20060705", "20060706", "20060707"] {
        assert!(da("20060705-20060707", inside), "{inside}");
    }
    assert!(!da("20060705-20060707", "20060704"));
    assert!(!da("20060705-20060707", "20060708"));
    assert!(da("-20060706", "19991231"));
    assert!(da("-20060706", "20060706"));
    assert!(!da("-20060706", "20060707"));
    assert!(da("20060706-", "20060706"));
    assert!(da("20060706-", "20991231"));
    assert!(!da("20060706-", "20060705"));
    assert!(da("20060706", "20060706"));
    assert!(!da("20060706", "20060707"));
    assert!(
        !da("20060707-20060705", "20060706"),
        "reversed range: empty"
    );
    // ACR-NEMA dates are read too.
    assert!(da("2006.07.05-2006.07.07", "20060706"));
    assert!(da("20060705-20060707", "2006.07.06"));
}

#[test]
fn time_ranges_and_times_by_meaning() {
    let tm = |key: &str, value: &str| one(tags::STUDY_TIME, VR::TM, key, value);
    assert!(tm("2230", "223000"));
    assert!(tm("223000", "2230"));
    assert!(tm("223000", "223000.000"));
    assert!(tm("2230", "22:30:00"));
    assert!(!tm("2230", "223001"));
    assert!(tm("1000-1800", "1000"));
    assert!(tm("1000-1800", "143000.5"));
    assert!(
        tm("1000-1800", "180059.999"),
        "an upper end stands for its whole minute"
    );
    assert!(!tm("1000-1800", "180100"));
    assert!(!tm("1000-1800", "095959"));
    assert!(tm("-1000", "000000"), "before: from midnight");
    assert!(!tm("-1000", "100100"));
    assert!(tm("2200-", "235959.999999"), "after: up to midnight");
    assert!(!tm("2200-", "215959"));
    assert!(
        !tm("2200-0200", "2300"),
        "a TM range never crosses midnight"
    );
}

#[test]
fn datetime_ranges_with_offsets() {
    let dt = |key: &str, value: &str| one(tags::ACQUISITION_DATE_TIME, VR::DT, key, value);
    // 08:00 at +0100 is 07:00 UTC.
    assert!(dt(
        "20060706063000+0000-20060706073000+0000",
        "20060706080000+0100"
    ));
    assert!(!dt(
        "20060706073000+0000-20060706090000+0000",
        "20060706080000+0100"
    ));
    assert!(dt(
        "20060706080000+0100-20060706080000+0100",
        "20060706070000+0000"
    ));
    // A negative offset in a range.
    assert!(dt(
        "20060706020000-0500-20060706030000-0500",
        "20060706073000+0000"
    ));
    assert!(dt("20060706020000-0500-", "20060707"));
    assert!(!dt("-20060706020000-0500", "20060706073000+0000"));
    // Precision: an upper end stands for its whole period.
    assert!(dt("2006-2006", "20061231235959"));
    assert!(dt("200607-200607", "20060731"));
    assert!(!dt("200607-200607", "20060801"));
    // Single values by meaning.
    assert!(dt("20060706", "20060706000000"));
    assert!(dt("20060706080000.5", "20060706080000.500000"));
    assert!(!dt("20060706080000.5", "20060706080000.4"));
    assert!(dt("20060706090000+0100", "20060706080000+0000"));
}

#[test]
fn naive_datetimes_are_read_in_their_data_set_timezone() {
    let query = set(vec![
        text(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0200"),
        text(
            tags::ACQUISITION_DATE_TIME,
            VR::DT,
            "20060706090000-20060706093000",
        ),
    ]);
    // 07:00 UTC is 09:00 at +0200.
    let utc = set(vec![text(
        tags::ACQUISITION_DATE_TIME,
        VR::DT,
        "20060706070000+0000",
    )]);
    assert!(worklist(&query, &utc).is_some());
    let local = set(vec![
        text(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0200"),
        text(tags::ACQUISITION_DATE_TIME, VR::DT, "20060706091500"),
    ]);
    let response = worklist(&query, &local).expect("same zone");
    assert_eq!(value_of(&response, tags::TIMEZONE_OFFSET_FROM_UTC), "+0200");
}

fn step(modality: &str, ae: &str, date: &str, time: &str, id: &str) -> InMemDicomObject {
    set(vec![
        text(tags::MODALITY, VR::CS, modality),
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, ae),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, date),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, time),
        text(
            tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME,
            VR::PN,
            "Smith^Anna",
        ),
        text(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, id),
        text(tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION, VR::LO, "Chest"),
    ])
}

fn worklist_item(steps: Vec<InMemDicomObject>) -> InMemDicomObject {
    set(vec![
        text(tags::ACCESSION_NUMBER, VR::SH, "A1"),
        text(tags::PATIENT_NAME, VR::PN, "Doe^John"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101"),
        text(tags::REQUESTED_PROCEDURE_ID, VR::SH, "R1"),
        seq(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, steps),
    ])
}

fn sps_query(elements: Vec<InMemElement>) -> InMemDicomObject {
    set(vec![seq(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        vec![set(elements)],
    )])
}

#[test]
fn start_date_and_time_ranges_form_one_period_in_the_worklist() {
    // Table K.6-1: 20060705-20060707 with 1000-1800 runs from 5 July 10:00 to 7 July 18:00.
    let query = sps_query(vec![
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            "20060705-20060707",
        ),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_TIME,
            VR::TM,
            "1000-1800",
        ),
    ]);
    let at = |date: &str, time: &str| worklist_item(vec![step("CT", "CT1", date, time, "S1")]);
    let early_on_the_6th = at("20060706", "0800");
    let response = worklist(&query, &early_on_the_6th).expect("inside the period");
    let sps = items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
    assert_eq!(
        value_of(&sps[0], tags::SCHEDULED_PROCEDURE_STEP_START_TIME),
        "0800"
    );
    // Separate windows per day (no combination) would not match it.
    let separate = match_identifier(&query, &early_on_the_6th, &MatchOptions::hanging_protocol());
    assert!(separate.is_none());

    assert!(
        worklist(&query, &at("20060705", "0900")).is_none(),
        "before 5 July 10:00"
    );
    assert!(worklist(&query, &at("20060705", "1000")).is_some());
    assert!(worklist(&query, &at("20060707", "1800")).is_some());
    assert!(
        worklist(&query, &at("20060707", "1900")).is_none(),
        "after 7 July 18:00"
    );
    assert!(worklist(&query, &at("20060708", "0000")).is_none());
    assert!(
        worklist(&query, &at("20060706", "")).is_none(),
        "unknown time"
    );

    // Open ends.
    let open = sps_query(vec![
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            "20060706-",
        ),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, "1200-"),
    ]);
    assert!(worklist(&open, &at("20060706", "1100")).is_none());
    assert!(worklist(&open, &at("20060801", "0100")).is_some());

    // A single date with a time range: each matched on its own.
    let single = sps_query(vec![
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            "20060706",
        ),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_TIME,
            VR::TM,
            "1000-1800",
        ),
    ]);
    assert!(worklist(&single, &at("20060706", "1200")).is_some());
    assert!(worklist(&single, &at("20060706", "0800")).is_none());
}

// ---------------------------------------------------------------------------------------
// Sequence matching (C.2.2.2.6)

#[test]
fn only_matching_items_come_back_with_only_the_requested_keys() {
    let record = worklist_item(vec![
        step("MR", "MR1", "20060706", "0800", "S1"),
        step("CT", "CT1", "20060706", "0900", "S2"),
    ]);
    let query = sps_query(vec![
        text(tags::MODALITY, VR::CS, "CT"),
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, ""),
        text(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, ""),
        text(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, VR::SQ, ""),
    ]);
    let response = worklist(&query, &record).expect("the second step matches");
    assert_eq!(
        tags_of(&response),
        [tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE]
    );
    let sps = items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
    assert_eq!(sps.len(), 1);
    assert_eq!(
        tags_of(&sps[0]),
        [
            tags::MODALITY,
            tags::SCHEDULED_STATION_AE_TITLE,
            tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE,
            tags::SCHEDULED_PROCEDURE_STEP_ID,
        ]
    );
    assert_eq!(value_of(&sps[0], tags::MODALITY), "CT");
    assert_eq!(value_of(&sps[0], tags::SCHEDULED_STATION_AE_TITLE), "CT1");
    assert_eq!(value_of(&sps[0], tags::SCHEDULED_PROCEDURE_STEP_ID), "S2");
    assert_eq!(
        sps[0]
            .get(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE)
            .unwrap()
            .vr(),
        VR::SQ
    );

    let none = sps_query(vec![text(tags::MODALITY, VR::CS, "US")]);
    assert!(worklist(&none, &record).is_none());
    // All item keys must match within one item: MR with CT1 is in no item.
    let crossed = sps_query(vec![
        text(tags::MODALITY, VR::CS, "MR"),
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, "CT1"),
    ]);
    assert!(worklist(&crossed, &record).is_none());
}

#[test]
fn an_empty_item_or_zero_length_sequence_returns_the_whole_sequence() {
    let record = worklist_item(vec![
        step("MR", "MR1", "20060706", "0800", "S1"),
        step("CT", "CT1", "20060706", "0900", "S2"),
    ]);
    for query in [
        set(vec![seq(
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            vec![InMemDicomObject::new_empty()],
        )]),
        set(vec![seq(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![])]),
        set(vec![text(
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            VR::SQ,
            "",
        )]),
    ] {
        let response = worklist(&query, &record).expect("universal");
        let sps = items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
        assert_eq!(
            sps,
            items(&record, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE),
            "whole items"
        );
    }
    // A record without the sequence still matches and gets a zero-length one.
    let bare = set(vec![text(tags::PATIENT_ID, VR::LO, "P2")]);
    let query = set(vec![seq(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        vec![InMemDicomObject::new_empty()],
    )]);
    let response = worklist(&query, &bare).expect("universal");
    assert!(items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE).is_empty());
}

#[test]
fn an_item_of_universal_keys_selects_nothing_and_reduces_every_item() {
    let record = worklist_item(vec![
        step("MR", "MR1", "20060706", "0800", "S1"),
        step("CT", "CT1", "20060706", "0900", "S2"),
    ]);
    let query = sps_query(vec![
        text(tags::MODALITY, VR::CS, ""),
        text(tags::SCHEDULED_PROCEDURE_STEP_LOCATION, VR::SH, "*"),
    ]);
    let response = worklist(&query, &record).expect("universal item keys");
    let sps = items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
    assert_eq!(sps.len(), 2);
    for item in sps {
        assert_eq!(
            tags_of(item),
            [tags::MODALITY, tags::SCHEDULED_PROCEDURE_STEP_LOCATION]
        );
        assert_eq!(value_of(item, tags::SCHEDULED_PROCEDURE_STEP_LOCATION), "");
    }
    let bare = set(vec![text(tags::PATIENT_ID, VR::LO, "P2")]);
    let response = worklist(&query, &bare).expect("nothing to select on");
    assert!(items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE).is_empty());
}

#[test]
fn nested_sequences_match_recursively() {
    let code = |value: &str, scheme: &str, meaning: &str| {
        set(vec![
            text(tags::CODE_VALUE, VR::SH, value),
            text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
            text(tags::CODE_MEANING, VR::LO, meaning),
        ])
    };
    let definition = |region: InMemDicomObject| {
        set(vec![
            text(tags::MODALITY, VR::CS, "CR"),
            seq(tags::ANATOMIC_REGION_SEQUENCE, vec![region]),
        ])
    };
    let record = set(vec![
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, "Chest two views"),
        seq(
            tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE,
            vec![
                definition(code("T-D4000", "SRT", "Abdomen")),
                definition(code("T-D3000", "SRT", "Chest")),
            ],
        ),
    ]);
    let query = set(vec![
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, "Chest*"),
        seq(
            tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE,
            vec![set(vec![seq(
                tags::ANATOMIC_REGION_SEQUENCE,
                vec![set(vec![
                    text(tags::CODE_VALUE, VR::SH, "T-D3000"),
                    text(tags::CODE_MEANING, VR::LO, ""),
                ])],
            )])],
        ),
    ]);
    let response =
        match_identifier(&query, &record, &MatchOptions::hanging_protocol()).expect("matches");
    let definitions = items(&response, tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE);
    assert_eq!(definitions.len(), 1);
    assert_eq!(tags_of(&definitions[0]), [tags::ANATOMIC_REGION_SEQUENCE]);
    let region = items(&definitions[0], tags::ANATOMIC_REGION_SEQUENCE);
    assert_eq!(tags_of(&region[0]), [tags::CODE_VALUE, tags::CODE_MEANING]);
    assert_eq!(value_of(&region[0], tags::CODE_MEANING), "Chest");
}

// ---------------------------------------------------------------------------------------
// Character sets and identifier attributes

#[test]
fn utf8_names_match_and_come_back_with_their_character_set() {
    let record = set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        text(tags::PATIENT_NAME, VR::PN, "Müller^Jürgen"),
        text(tags::PATIENT_ID, VR::LO, "P7"),
    ]);
    for key in ["Mü*", "*jürgen", "MÜLLER^JÜRGEN", "M?ller^J?rgen"] {
        let query = set(vec![
            text(tags::PATIENT_NAME, VR::PN, key),
            text(tags::PATIENT_ID, VR::LO, ""),
        ]);
        let response = worklist(&query, &record).unwrap_or_else(|| panic!("{key} matches"));
        assert_eq!(value_of(&response, tags::PATIENT_NAME), "Müller^Jürgen");
        assert_eq!(
            value_of(&response, tags::SPECIFIC_CHARACTER_SET),
            "ISO_IR 192",
            "{key}"
        );
    }
    let query = set(vec![text(tags::PATIENT_NAME, VR::PN, "Mu*")]);
    assert!(
        worklist(&query, &record).is_none(),
        "accents are not folded"
    );
}

#[test]
fn specific_character_set_is_never_matched_and_returned_when_needed() {
    let latin = set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
    ]);
    let ascii = set(vec![text(tags::PATIENT_ID, VR::LO, "P1")]);
    let asking = set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
    ]);
    let silent = set(vec![text(tags::PATIENT_ID, VR::LO, "P1")]);

    let response = worklist(&asking, &latin).expect("never matched");
    assert_eq!(
        value_of(&response, tags::SPECIFIC_CHARACTER_SET),
        "ISO_IR 100"
    );
    let response = worklist(&silent, &latin).expect("matches");
    assert_eq!(
        value_of(&response, tags::SPECIFIC_CHARACTER_SET),
        "ISO_IR 100",
        "not the default"
    );
    let response = worklist(&asking, &ascii).expect("matches");
    assert!(
        response.get(tags::SPECIFIC_CHARACTER_SET).is_none(),
        "default repertoire: absent"
    );

    let default_named = set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 6"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
    ]);
    assert!(
        worklist(&silent, &default_named)
            .unwrap()
            .get(tags::SPECIFIC_CHARACTER_SET)
            .is_none()
    );
    assert_eq!(
        value_of(
            &worklist(&asking, &default_named).unwrap(),
            tags::SPECIFIC_CHARACTER_SET
        ),
        "ISO_IR 6"
    );

    // Text the record's (missing) character set cannot carry gets UTF-8.
    let unlabelled = set(vec![text(tags::PATIENT_NAME, VR::PN, "Åström^Eva")]);
    let query = set(vec![text(tags::PATIENT_NAME, VR::PN, "")]);
    let response = worklist(&query, &unlabelled).expect("universal");
    assert_eq!(
        value_of(&response, tags::SPECIFIC_CHARACTER_SET),
        "ISO_IR 192"
    );
}

#[test]
fn query_retrieve_level_is_echoed_and_never_matched() {
    let record = set(vec![text(tags::PATIENT_ID, VR::LO, "P1")]);
    let query = set(vec![
        text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
    ]);
    let response = worklist(&query, &record).expect("matches");
    assert_eq!(value_of(&response, tags::QUERY_RETRIEVE_LEVEL), "STUDY");
}

#[test]
fn every_requested_key_comes_back_and_nothing_else() {
    let record = worklist_item(vec![step("CT", "CT1", "20060706", "0900", "S2")]);
    let query = set(vec![
        text(tags::PATIENT_NAME, VR::PN, "Doe*"),
        text(tags::PATIENT_SEX, VR::CS, ""),
        text(tags::ADMISSION_ID, VR::LO, ""),
        text(tags::STUDY_INSTANCE_UID, VR::UI, ""),
        seq(tags::REFERENCED_PATIENT_SEQUENCE, vec![]),
    ]);
    let response = worklist(&query, &record).expect("matches");
    assert_eq!(tags_of(&response), tags_of(&query));
    for tag in [
        tags::PATIENT_SEX,
        tags::ADMISSION_ID,
        tags::STUDY_INSTANCE_UID,
    ] {
        assert_eq!(value_of(&response, tag), "", "{tag}");
    }
    assert!(response.get(tags::PATIENT_ID).is_none());
    assert!(
        response.get(tags::SPECIFIC_CHARACTER_SET).is_none(),
        "default repertoire text"
    );
}

// ---------------------------------------------------------------------------------------
// Odd identifiers never panic

#[test]
fn malformed_dates_and_times_match_nothing() {
    let record = worklist_item(vec![step("CT", "CT1", "20240101", "0900", "S2")]);
    for (tag, vr, key) in [
        (tags::PATIENT_BIRTH_DATE, VR::DA, "2024"),
        (tags::PATIENT_BIRTH_DATE, VR::DA, "garbage"),
        (tags::PATIENT_BIRTH_DATE, VR::DA, "19700132"),
        (tags::PATIENT_BIRTH_DATE, VR::DA, "1970-01-01"),
        (tags::PATIENT_BIRTH_DATE, VR::DA, "19700101-x"),
        (tags::PATIENT_BIRTH_DATE, VR::DA, "--"),
        (tags::STUDY_TIME, VR::TM, "25"),
        (tags::ACQUISITION_DATE_TIME, VR::DT, "2006-07-06"),
        (tags::ACQUISITION_DATE_TIME, VR::DT, "20060706+99"),
    ] {
        let query = set(vec![text(tag, vr, key)]);
        assert!(worklist(&query, &record).is_none(), "{key}");
    }
    // A malformed record value matches no range, only its identical text.
    let odd = set(vec![text(tags::PATIENT_BIRTH_DATE, VR::DA, "1970")]);
    assert!(
        worklist(
            &set(vec![text(tags::PATIENT_BIRTH_DATE, VR::DA, "1960-1980")]),
            &odd
        )
        .is_none()
    );
    assert!(
        worklist(
            &set(vec![text(tags::PATIENT_BIRTH_DATE, VR::DA, "1970")]),
            &odd
        )
        .is_some()
    );
}

#[test]
fn a_lone_dash_is_a_range_open_at_both_ends() {
    assert!(one(tags::STUDY_TIME, VR::TM, "-", "120000"));
    assert!(one(tags::STUDY_DATE, VR::DA, "-", "20000101"));
    assert!(!one(tags::STUDY_TIME, VR::TM, "-", "garbage"));
    assert!(!one(tags::STUDY_TIME, VR::TM, "-", ""));
    let query = sps_query(vec![
        text(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, "-"),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, "-"),
    ]);
    let record = worklist_item(vec![step("CT", "CT1", "20240101", "0900", "S2")]);
    assert!(worklist(&query, &record).is_some());
}

#[test]
fn a_sequence_key_with_two_items_does_not_panic() {
    let record = worklist_item(vec![
        step("MR", "MR1", "20060706", "0800", "S1"),
        step("CT", "CT1", "20060706", "0900", "S2"),
    ]);
    let query = set(vec![seq(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        vec![
            set(vec![text(tags::MODALITY, VR::CS, "CT")]),
            set(vec![
                text(tags::MODALITY, VR::CS, "US"),
                text(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, ""),
            ]),
        ],
    )]);
    // check_identifier refuses it (C.2.2.2.6); the engine reads the items as alternatives.
    let response = worklist(&query, &record).expect("the first item matches S2");
    assert_eq!(
        items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE).len(),
        1
    );
}

#[test]
fn mismatched_structures_do_not_panic() {
    let record = worklist_item(vec![step("CT", "CT1", "20060706", "0900", "S2")]);
    // Text where the record has a sequence, a sequence where it has text.
    let query = set(vec![text(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        VR::LO,
        "CT",
    )]);
    assert!(worklist(&query, &record).is_none());
    let query = set(vec![seq(
        tags::PATIENT_NAME,
        vec![set(vec![text(tags::MODALITY, VR::CS, "CT")])],
    )]);
    assert!(worklist(&query, &record).is_none());
    // Binary and unknown VRs, private tags, group lengths.
    let query = set(vec![
        DataElement::new(
            Tag(0x0009, 0x1001),
            VR::UN,
            PrimitiveValue::from(vec![1_u8, 2]),
        ),
        DataElement::new(Tag(0x0010, 0x0000), VR::UL, PrimitiveValue::from(4_u32)),
        text(tags::PATIENT_ID, VR::UN, ""),
    ]);
    let response = worklist(&query, &record);
    assert!(response.is_none(), "the record has no (0009,1001)");
    let query = set(vec![
        text(tags::PATIENT_ID, VR::UN, ""),
        text(Tag(0x0010, 0x0000), VR::UL, ""),
    ]);
    let response = worklist(&query, &record).expect("universal");
    assert_eq!(tags_of(&response), [tags::PATIENT_ID]);
    assert_eq!(
        response.get(tags::PATIENT_ID).unwrap().vr(),
        VR::LO,
        "the record's VR"
    );
}

// ---------------------------------------------------------------------------------------
// Property tests

/// One attribute a generated record may have.
#[derive(Debug, Clone)]
struct Attribute {
    tag: Tag,
    vr: VR,
    value: String,
}

fn attribute(
    tag: Tag,
    vr: VR,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = Attribute> {
    value.prop_map(move |value| Attribute { tag, vr, value })
}

fn date() -> impl Strategy<Value = String> {
    (1900_u32..2100, 1_u32..=12, 1_u32..=28).prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}"))
}

fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        (0_u32..24, 0_u32..60).prop_map(|(h, m)| format!("{h:02}{m:02}")),
        (0_u32..24, 0_u32..60, 0_u32..60).prop_map(|(h, m, s)| format!("{h:02}{m:02}{s:02}")),
        (0_u32..24, 0_u32..60, 0_u32..60, 0_u32..1000)
            .prop_map(|(h, m, s, f)| format!("{h:02}{m:02}{s:02}.{f:03}")),
    ]
}

fn top_level() -> impl Strategy<Value = Vec<Attribute>> {
    (
        attribute(
            tags::PATIENT_NAME,
            VR::PN,
            "[A-Za-z]{1,8}\\^[A-Za-zäöü]{1,8}",
        ),
        attribute(tags::PATIENT_ID, VR::LO, "[A-Z0-9]{1,10}"),
        attribute(tags::PATIENT_SEX, VR::CS, "[MFO]"),
        attribute(tags::PATIENT_BIRTH_DATE, VR::DA, date()),
        attribute(tags::STUDY_TIME, VR::TM, time()),
        attribute(tags::STUDY_INSTANCE_UID, VR::UI, "1\\.2\\.[0-9]{1,6}"),
        attribute(tags::ACCESSION_NUMBER, VR::SH, "[A-Z0-9 ]{0,8}"),
        attribute(tags::PATIENT_WEIGHT, VR::DS, "[1-9][0-9]{0,2}(\\.[0-9])?"),
        attribute(
            tags::REQUESTED_PROCEDURE_DESCRIPTION,
            VR::LO,
            "[a-zA-Z ]{0,12}",
        ),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i)| vec![a, b, c, d, e, f, g, h, i])
}

fn step_attributes() -> impl Strategy<Value = Vec<Attribute>> {
    (
        attribute(tags::MODALITY, VR::CS, "(CT|MR|US|CR)"),
        attribute(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, "[A-Z0-9]{1,8}"),
        attribute(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, date()),
        attribute(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, time()),
        attribute(
            tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME,
            VR::PN,
            "[A-Z][a-z]{0,6}(\\^[A-Z][a-z]{0,6})?",
        ),
    )
        .prop_map(|(a, b, c, d, e)| vec![a, b, c, d, e])
}

fn to_set(attributes: &[Attribute]) -> InMemDicomObject {
    set(attributes
        .iter()
        .map(|a| text(a.tag, a.vr, &a.value))
        .collect())
}

/// A generated record (top-level attributes and scheduled steps), and which of its
/// attributes, and of which step, a query picks.
#[derive(Debug, Clone)]
struct Case {
    top: Vec<Attribute>,
    steps: Vec<Vec<Attribute>>,
    pick_top: Vec<bool>,
    step: usize,
    pick_step: Vec<bool>,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        top_level(),
        prop::collection::vec(step_attributes(), 1..4),
        prop::collection::vec(any::<bool>(), 9),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<bool>(), 5),
    )
        .prop_map(|(top, steps, pick_top, which, pick_step)| Case {
            step: which.index(steps.len()),
            top,
            steps,
            pick_top,
            pick_step,
        })
}

fn build_record(top: &[Attribute], steps: &[Vec<Attribute>]) -> InMemDicomObject {
    let mut record = to_set(top);
    record.put(seq(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        steps.iter().map(|s| to_set(s)).collect(),
    ));
    record
}

fn pick(attributes: &[Attribute], picks: &[bool]) -> Vec<Attribute> {
    attributes
        .iter()
        .zip(picks)
        .filter(|(_, p)| **p)
        .map(|(a, _)| a.clone())
        .collect()
}

proptest! {
    #[test]
    fn a_record_matches_its_own_values(
        case in cases()
    ) {
        let Case { top, steps, pick_top, step: index, pick_step } = case;
        let record = build_record(&top, &steps);
        let wanted_top = pick(&top, &pick_top);
        let wanted_step = pick(&steps[index], &pick_step);
        let mut query = to_set(&wanted_top);
        if !wanted_step.is_empty() {
            query.put(seq(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![to_set(&wanted_step)]));
        }
        let response = worklist(&query, &record);
        prop_assert!(response.is_some(), "query {:?}", query);
        let response = response.unwrap();
        prop_assert_eq!(tags_of(&response).len() - usize::from(response.get(tags::SPECIFIC_CHARACTER_SET).is_some()), tags_of(&query).len());
        for a in &wanted_top {
            prop_assert_eq!(value_of(&response, a.tag), a.value.trim_end());
        }
        if !wanted_step.is_empty() {
            let sps = items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
            prop_assert!(!sps.is_empty());
            prop_assert!(sps.len() <= steps.len());
            for item in sps {
                prop_assert_eq!(tags_of(item).len(), wanted_step.len());
            }
        }
    }

    #[test]
    fn universal_queries_match_everything(
        case in cases(),
        stars in any::<bool>(),
    ) {
        let Case { top, steps, pick_top, pick_step, .. } = case;
        let record = build_record(&top, &steps);
        let blank = |attributes: Vec<Attribute>| -> Vec<Attribute> {
            attributes
                .into_iter()
                .map(|a| {
                    let value = if stars && a.vr != VR::UI { "*".to_owned() } else { String::new() };
                    Attribute { value, ..a }
                })
                .collect()
        };
        // Some keys the record has, and some it lacks (the other record's picks).
        let mut query = to_set(&blank(pick(&top, &pick_top)));
        query.put(text(tags::ADMISSION_ID, VR::LO, ""));
        query.put(seq(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![to_set(&blank(pick(&steps[0], &pick_step)))]));
        let response = worklist(&query, &record);
        prop_assert!(response.is_some());
        let response = response.unwrap();
        prop_assert_eq!(value_of(&response, tags::ADMISSION_ID), "");
        prop_assert_eq!(items(&response, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE).len(), steps.len());
    }

    #[test]
    fn arbitrary_keys_and_values_never_panic(
        vr in prop::sample::select(vec![VR::DA, VR::TM, VR::DT, VR::PN, VR::CS, VR::UI, VR::DS, VR::IS, VR::LO]),
        key in "[-0-9*?.+\\\\^=: a-zA-Zü]{0,24}",
        value in "[-0-9*?.+\\\\^=: a-zA-Zü]{0,24}",
    ) {
        let tag = Tag(0x0011, 0x0010);
        let query = set(vec![text(tag, vr, &key)]);
        let record = set(vec![text(tag, vr, &value)]);
        let _ = worklist(&query, &record);
        let _ = matches_value(vr, &key, &value, &MatchOptions::worklist());
        let sps_query = sps_query(vec![
            text(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, &key),
            text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, &value),
        ]);
        let record = worklist_item(vec![step("CT", "CT1", &value, &key, "S1")]);
        let _ = worklist(&sps_query, &record);
    }
}

#[test]
fn values_come_back_as_the_record_holds_them() {
    // The response is the record's element, not a re-encoding of the key.
    let record = set(vec![DataElement::new(
        tags::STUDY_DATE,
        VR::DA,
        PrimitiveValue::Strs(["20060706 ".to_owned()].into_iter().collect()),
    )]);
    let query = set(vec![text(tags::STUDY_DATE, VR::DA, "20060701-20060731")]);
    let response = worklist(&query, &record).expect("in July");
    assert_eq!(response.get(tags::STUDY_DATE), record.get(tags::STUDY_DATE));
    assert!(matches!(
        response.get(tags::STUDY_DATE).unwrap().value(),
        Value::Primitive(_)
    ));
}
