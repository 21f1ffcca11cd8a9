//! The Modality Worklist and Hanging Protocol information models of `dicomwire::service`
//! against the standard's tables (`fixtures/spec/mwl-keys.tsv`, `hp-keys.tsv`,
//! `coded-entry-macros.tsv`), row by row, and the identifier checks built on them.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use dicomwire::service::{
    BasicCodedEntryMacro, CODED_ENTRY_8_1A, CODED_ENTRY_8_2A, CODED_ENTRY_8_3A, CODED_ENTRY_8_4A,
    CodedEntryMacro, HANGING_PROTOCOL, InformationModel, KeyType, MODALITY_WORKLIST, MacroKey,
    check_identifier, check_retrieve_identifier,
};
use dicomwire_tests::spec::{Row, table};

fn tag_text(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag.group(), tag.element())
}

fn tag_of(keyword: &str) -> Tag {
    StandardDataDictionary
        .by_name(keyword)
        .unwrap_or_else(|| panic!("{keyword} is not in the dictionary"))
        .tag()
}

fn dictionary_vr(tag: Tag) -> Option<VR> {
    match StandardDataDictionary.by_tag(tag)?.vr() {
        VirtualVr::Exact(vr) => Some(vr),
        _ => None,
    }
}

/// The enclosing sequences of a TSV path (`A>B>leaf`), as tags.
fn prefix_tags(path: &str) -> Vec<Tag> {
    let parts: Vec<&str> = path.split('>').collect();
    parts[..parts.len() - 1].iter().map(|k| tag_of(k)).collect()
}

fn check_model(model: &InformationModel, file: &str) {
    let rows = table(file);
    let keyed: Vec<&Row> = rows.iter().filter(|r| !r["tag"].is_empty()).collect();
    assert_eq!(
        model.keys.len(),
        keyed.len(),
        "{file}: number of attribute rows"
    );
    for (key, row) in model.keys.iter().zip(&keyed) {
        let at = &row["path"];
        assert_eq!(tag_text(key.tag()), row["tag"], "{file} {at}: tag");
        assert_eq!(key.keyword, row["keyword"], "{file} {at}: keyword");
        assert_eq!(key.vr.to_string(), row["vr"], "{file} {at}: VR");
        assert_eq!(
            key.matching.code(),
            row["matching_key_type"],
            "{file} {at}: key type"
        );
        assert_eq!(
            key.return_type, row["return_key_type"],
            "{file} {at}: return type"
        );
        let types: Vec<&str> = key.matching_types.iter().map(|t| t.code()).collect();
        assert_eq!(
            types.join("|"),
            row["matching_types"],
            "{file} {at}: matching types"
        );
        assert_eq!(key.module, row["module"], "{file} {at}: module");
        let path: Vec<String> = key
            .path
            .iter()
            .map(|&t| {
                StandardDataDictionary
                    .by_tag(t)
                    .map_or("?", |e| e.alias())
                    .to_owned()
            })
            .collect();
        assert_eq!(&path.join(">"), at, "{file}: path");
        assert_eq!(
            key.path.len() - 1,
            row["depth"].parse::<usize>().unwrap(),
            "{file} {at}: depth"
        );
        assert_eq!(
            dictionary_vr(key.tag()),
            Some(key.vr),
            "{file} {at}: dictionary VR"
        );
        assert_eq!(
            model.key(key.path),
            Some(key),
            "{file} {at}: lookup by path"
        );
    }

    let includes: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r["tag"].is_empty()
                && r["path"]
                    .rsplit('>')
                    .next()
                    .unwrap()
                    .starts_with("Include ")
        })
        .collect();
    assert_eq!(
        model.includes.len(),
        includes.len(),
        "{file}: number of include rows"
    );
    for (include, row) in model.includes.iter().zip(&includes) {
        let at = &row["path"];
        assert_eq!(
            include.path,
            &prefix_tags(at)[..],
            "{file} {at}: include path"
        );
        let table_id = at
            .split("Table ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .unwrap();
        assert_eq!(include.table.table, table_id, "{file} {at}: included table");
    }

    let others: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r["tag"].is_empty() && r["path"].rsplit('>').next().unwrap().starts_with("All ")
        })
        .collect();
    assert_eq!(
        model.other_attributes.len(),
        others.len(),
        "{file}: number of 'All other' rows"
    );
    for (other, row) in model.other_attributes.iter().zip(&others) {
        let at = &row["path"];
        assert_eq!(other.path, &prefix_tags(at)[..], "{file} {at}: level");
        assert_eq!(
            other.description,
            at.rsplit('>').next().unwrap(),
            "{file}: description"
        );
        assert_eq!(
            other.matching.code(),
            row["matching_key_type"],
            "{file} {at}: key type"
        );
        assert_eq!(
            other.return_type, row["return_key_type"],
            "{file} {at}: return type"
        );
        assert_eq!(other.module, row["module"], "{file} {at}: module");
    }
    assert_eq!(
        model.keys.len() + model.includes.len() + model.other_attributes.len(),
        rows.len(),
        "{file}: every row is represented once"
    );
}

#[test]
fn modality_worklist_equals_table_k6_1() {
    check_model(&MODALITY_WORKLIST, "mwl-keys.tsv");
    assert_eq!(MODALITY_WORKLIST.sop_class_uid, "1.2.840.10008.5.1.4.31");
}

#[test]
fn hanging_protocol_equals_table_u6_1() {
    check_model(&HANGING_PROTOCOL, "hp-keys.tsv");
    assert_eq!(HANGING_PROTOCOL.sop_class_uid, "1.2.840.10008.5.1.4.38.2");
}

fn check_macro_key(key: &MacroKey, row: &Row, table_id: &str) {
    let at = format!("{table_id} {}", row["keyword"]);
    assert_eq!(tag_text(key.tag), row["tag"], "{at}: tag");
    assert_eq!(key.keyword, row["keyword"], "{at}: keyword");
    assert_eq!(
        key.requirement, row["requirement_scu_scp"],
        "{at}: requirement"
    );
    assert_eq!(
        key.matching.code(),
        row["matching_key_type"],
        "{at}: key type"
    );
    assert_eq!(key.return_type, row["return_key_type"], "{at}: return type");
    assert_eq!(dictionary_vr(key.tag), Some(key.vr), "{at}: VR");
    assert_eq!(
        StandardDataDictionary.by_tag(key.tag).map(|e| e.alias()),
        Some(key.keyword),
        "{at}: dictionary keyword"
    );
}

fn check_basic(basic: &BasicCodedEntryMacro, rows: &[Row]) {
    let mine: Vec<&Row> = rows
        .iter()
        .filter(|r| r["macro_table"] == basic.table)
        .collect();
    assert!(!mine.is_empty(), "{} is in the TSV", basic.table);
    assert_eq!(
        basic.keys.len(),
        mine.len(),
        "{}: number of rows",
        basic.table
    );
    for (key, row) in basic.keys.iter().zip(&mine) {
        assert_eq!(basic.title, row["macro_title"], "{}: title", basic.table);
        check_macro_key(key, row, basic.table);
    }
}

fn check_enhanced(enhanced: &CodedEntryMacro, rows: &[Row]) {
    let mine: Vec<&Row> = rows
        .iter()
        .filter(|r| r["macro_table"] == enhanced.table)
        .collect();
    // Table 8-xa: include 8-xb, Equivalent Code Sequence, and 8-xb again in its items.
    let shape: Vec<(String, String, String)> = mine
        .iter()
        .map(|r| (r["depth"].clone(), r["tag"].clone(), r["keyword"].clone()))
        .collect();
    let include = format!("include {}", enhanced.basic.table);
    assert_eq!(
        shape,
        vec![
            ("0".into(), String::new(), include.clone()),
            (
                "0".into(),
                "(0008,0121)".into(),
                "EquivalentCodeSequence".into()
            ),
            ("1".into(), String::new(), include),
        ],
        "{}: structure",
        enhanced.table
    );
    assert_eq!(
        enhanced.title, mine[0]["macro_title"],
        "{}: title",
        enhanced.table
    );
    check_macro_key(&enhanced.equivalent_code_sequence, mine[1], enhanced.table);
    check_basic(enhanced.basic, rows);
}

#[test]
fn coded_entry_macros_equal_tables_8_1a_to_8_4b() {
    let rows = table("coded-entry-macros.tsv");
    let all = [
        &CODED_ENTRY_8_1A,
        &CODED_ENTRY_8_2A,
        &CODED_ENTRY_8_3A,
        &CODED_ENTRY_8_4A,
    ];
    for enhanced in all {
        check_enhanced(enhanced, &rows);
    }
    let covered: usize = all.iter().map(|m| 3 + m.basic.keys.len()).sum();
    assert_eq!(covered, rows.len(), "every macro row is represented");
}

// ---------------------------------------------------------------------------------------
// Identifier checks

fn text(tag: Tag, vr: VR, value: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

fn set(elements: Vec<InMemElement>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elements)
}

fn sps(elements: Vec<InMemElement>) -> InMemElement {
    seq(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![set(elements)])
}

#[test]
fn a_typical_worklist_query_fits() {
    let query = set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::PATIENT_NAME, VR::PN, "Doe*"),
        text(tags::PATIENT_ID, VR::LO, ""),
        text(tags::ACCESSION_NUMBER, VR::SH, ""),
        sps(vec![
            text(tags::MODALITY, VR::CS, "CT"),
            text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, "CT1"),
            text(
                tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
                VR::DA,
                "20240101-20241231",
            ),
            text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, ""),
            seq(
                tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE,
                vec![set(vec![text(tags::CODE_VALUE, VR::SH, "X1")])],
            ),
        ]),
    ]);
    let check = check_identifier(&MODALITY_WORKLIST, &query);
    assert_eq!(check.invalid, None);
    assert!(check.unsupported.is_empty(), "{:?}", check.unsupported);
}

#[test]
fn two_sps_items_do_not_fit_the_worklist() {
    let query = set(vec![seq(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        vec![
            set(vec![text(tags::MODALITY, VR::CS, "CT")]),
            set(vec![text(tags::MODALITY, VR::CS, "MR")]),
        ],
    )]);
    let check = check_identifier(&MODALITY_WORKLIST, &query);
    let why = check.invalid.expect("C.2.2.2.6: a single item");
    assert!(
        why.contains("(0040,0100)") && why.contains("C.2.2.2.6"),
        "{why}"
    );
}

#[test]
fn odd_identifier_attributes_are_tolerated() {
    let query = set(vec![
        text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY"),
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, ""),
        text(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0100"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
    ]);
    for model in [&MODALITY_WORKLIST, &HANGING_PROTOCOL] {
        let check = check_identifier(model, &query);
        assert_eq!(check.invalid, None);
    }
    assert!(
        check_identifier(&MODALITY_WORKLIST, &query)
            .unsupported
            .is_empty()
    );
}

#[test]
fn worklist_keys_outside_the_table_are_optional_keys_of_other_attributes() {
    // "All other Attributes of the Patient Identification Module" (and others) are
    // optional matching keys, which we match.
    let query = set(vec![
        text(tags::SMOKING_STATUS, VR::CS, "NO"),
        sps(vec![
            text(tags::SCHEDULED_PROCEDURE_STEP_STATUS, VR::CS, "SCHEDULED"),
            text(tags::COMMENTS_ON_THE_SCHEDULED_PROCEDURE_STEP, VR::LT, "x"),
        ]),
        seq(
            tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE,
            vec![set(vec![text(
                tags::LOCAL_NAMESPACE_ENTITY_ID,
                VR::UT,
                "HOSP",
            )])],
        ),
    ]);
    let check = check_identifier(&MODALITY_WORKLIST, &query);
    assert_eq!(check, Default::default());
}

#[test]
fn never_matched_keys_with_values_are_unsupported() {
    let query = set(vec![
        text(tags::PATIENT_NAME, VR::PN, ""),
        seq(
            tags::PERTINENT_DOCUMENTS_SEQUENCE,
            vec![set(vec![
                text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, "1.2.3"),
                text(tags::DOCUMENT_TITLE, VR::ST, ""),
            ])],
        ),
        sps(vec![seq(
            tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE,
            vec![set(vec![
                text(tags::CODE_VALUE, VR::SH, "P1"),
                seq(
                    tags::PROTOCOL_CONTEXT_SEQUENCE,
                    vec![set(vec![
                        text(tags::VALUE_TYPE, VR::CS, "TEXT"),
                        text(tags::TEXT_VALUE, VR::UT, ""),
                    ])],
                ),
            ])],
        )]),
    ]);
    let check = check_identifier(&MODALITY_WORKLIST, &query);
    assert_eq!(check.invalid, None);
    assert_eq!(
        check.unsupported,
        vec![
            vec![
                tags::PERTINENT_DOCUMENTS_SEQUENCE,
                tags::REFERENCED_SOP_CLASS_UID
            ],
            vec![
                tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
                tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE,
                tags::PROTOCOL_CONTEXT_SEQUENCE,
                tags::VALUE_TYPE
            ],
        ]
    );
    // The matching query keeps the keys, zero-length, so they come back as return keys.
    let matching = check.matching_query(&query);
    let docs = matching
        .get(tags::PERTINENT_DOCUMENTS_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    let uid = docs[0].get(tags::REFERENCED_SOP_CLASS_UID).unwrap();
    assert_eq!(uid.to_str().unwrap(), "");
    assert_eq!(uid.vr(), VR::UI);
    let code = matching
        .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0]
        .get(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0]
        .get(tags::CODE_VALUE)
        .unwrap()
        .to_str()
        .unwrap()
        .into_owned();
    assert_eq!(code, "P1", "supported keys keep their values");
}

#[test]
fn hanging_protocol_keys_outside_the_table_are_unsupported() {
    let query = set(vec![
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, "Chest*"),
        text(tags::HANGING_PROTOCOL_DESCRIPTION, VR::LO, "two views"),
        text(tags::PATIENT_ID, VR::LO, "P1"),
        text(tags::STUDY_DESCRIPTION, VR::LO, ""),
        seq(
            tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE,
            vec![set(vec![
                text(tags::MODALITY, VR::CS, "CR"),
                seq(
                    tags::ANATOMIC_REGION_SEQUENCE,
                    vec![set(vec![
                        text(tags::CODE_VALUE, VR::SH, "T-D3000"),
                        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "SRT"),
                        text(tags::CODE_MEANING, VR::LO, "Chest"),
                        seq(
                            tags::EQUIVALENT_CODE_SEQUENCE,
                            vec![set(vec![text(tags::CODE_VALUE, VR::SH, "51185008")])],
                        ),
                    ])],
                ),
            ])],
        ),
    ]);
    let check = check_identifier(&HANGING_PROTOCOL, &query);
    assert_eq!(check.invalid, None);
    assert_eq!(
        check.unsupported,
        vec![
            vec![tags::PATIENT_ID],
            vec![tags::HANGING_PROTOCOL_DESCRIPTION],
            vec![
                tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE,
                tags::ANATOMIC_REGION_SEQUENCE,
                tags::CODE_MEANING
            ],
        ]
    );
}

#[test]
fn a_sequence_sent_as_text_is_unsupported_not_refused() {
    let query = set(vec![text(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        VR::LO,
        "CT",
    )]);
    let check = check_identifier(&MODALITY_WORKLIST, &query);
    assert_eq!(check.invalid, None);
    assert_eq!(
        check.unsupported,
        vec![vec![tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE]]
    );
    let matching = check.matching_query(&query);
    assert_eq!(
        matching
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .unwrap()
            .to_str()
            .unwrap(),
        ""
    );
}

#[test]
fn retrieve_identifiers() {
    let one = set(vec![text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3")]);
    assert_eq!(
        check_retrieve_identifier(&one),
        Ok(vec!["1.2.3".to_owned()])
    );

    let list = set(vec![
        text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3\\1.2.4\\1.2.3\\"),
        // U.4.2: "shall not be present", but nothing tells the SCP to refuse it.
        text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "IMAGE"),
        text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.38.1"),
    ]);
    assert_eq!(
        check_retrieve_identifier(&list),
        Ok(vec!["1.2.3".to_owned(), "1.2.4".to_owned()])
    );

    let strs = set(vec![DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::Strs(
            ["1.2.5\0".to_owned(), "1.2.6".to_owned()]
                .into_iter()
                .collect(),
        ),
    )]);
    assert_eq!(
        check_retrieve_identifier(&strs),
        Ok(vec!["1.2.5".to_owned(), "1.2.6".to_owned()])
    );

    for bad in [
        set(vec![]),
        set(vec![text(tags::SOP_INSTANCE_UID, VR::UI, "")]),
        set(vec![text(tags::SOP_INSTANCE_UID, VR::UI, "*")]),
        set(vec![text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.*")]),
        set(vec![seq(tags::SOP_INSTANCE_UID, vec![])]),
        set(vec![text(tags::QUERY_RETRIEVE_LEVEL, VR::CS, "IMAGE")]),
    ] {
        let why = check_retrieve_identifier(&bad).expect_err("refused");
        assert!(why.contains("(0008,0018)"), "{why}");
    }
}

#[test]
fn key_types_are_reported_by_code() {
    assert_eq!(KeyType::Required.code(), "R");
    assert!(!KeyType::NotMatched.is_matched());
    assert!(KeyType::OptionalConditional.is_matched());
}
