//! The CLI's data: the embedded samples against the information models, files on disk,
//! DICOM JSON shapes and `-k` keys.

use std::fs;
use std::time::Duration;

use bytes::Bytes;
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::dimse::DataSet;
use dicomwire::service::{
    HANGING_PROTOCOL, InformationModel, KeyType, MODALITY_WORKLIST, check_identifier, dataset, uids,
};
use dicomwire_cli::{files, json, keys, sample};
use serde_json::json;

const TODAY: (i32, u32, u32) = (2025, 6, 15);

/// The element at `path` (a tag per nesting level, through the first item of each
/// sequence), or why it is not there. `Ok(None)` when an enclosing sequence is absent or
/// has no items (the key's requirement then does not apply).
fn at_path<'a>(
    object: &'a InMemDicomObject,
    path: &[Tag],
) -> Result<Option<&'a dicom_object::mem::InMemElement>, String> {
    let (last, parents) = path.split_last().ok_or("empty path")?;
    let mut current = object;
    for tag in parents {
        match current.get(*tag).and_then(|e| e.items()) {
            Some([first, ..]) => current = first,
            _ => return Ok(None),
        }
    }
    current
        .get(*last)
        .map(Some)
        .ok_or_else(|| format!("{last} missing"))
}

fn is_empty(element: &dicom_object::mem::InMemElement) -> bool {
    match element.value() {
        Value::Primitive(p) => p.to_str().trim().is_empty(),
        Value::Sequence(s) => s.items().is_empty(),
        Value::PixelSequence(_) => false,
    }
}

/// Every required matching key is present, every return key of type 1 is present with a
/// value, and every return key of type 2 is present (inside sequences that are present).
fn check_against_model(model: &InformationModel, object: &InMemDicomObject, what: &str) {
    for key in model.keys {
        // A required matching key with return key type 3 (HangingProtocolUserGroupName)
        // is matched when present but need not be.
        let required = key.matching == KeyType::Required && key.return_type != "3";
        let type1 = key.return_type == "1";
        let type2 = key.return_type == "2";
        if !(required || type1 || type2) {
            continue;
        }
        // Macro-level rows under optional sequences are checked only when present.
        match at_path(object, key.path) {
            Ok(Some(element)) => {
                if type1 {
                    assert!(
                        !is_empty(element),
                        "{what}: {} (type 1) is empty",
                        key.keyword
                    );
                }
            }
            Ok(None) => assert!(
                !required
                    || key.path.len() > 1
                        && model
                            .keys
                            .iter()
                            .any(|k| k.path == &key.path[..1] && k.matching != KeyType::Required),
                "{what}: the sequence enclosing required key {} is missing",
                key.keyword
            ),
            Err(why) => panic!("{what}: {} ({}): {why}", key.keyword, key.return_type),
        }
    }
}

#[test]
fn every_sample_worklist_item_has_the_models_keys() {
    let items = sample::worklist(TODAY);
    assert!(items.len() >= 30, "{} items", items.len());
    for item in &items {
        let what = item
            .get(tags::ACCESSION_NUMBER)
            .unwrap()
            .to_str()
            .unwrap()
            .into_owned();
        check_against_model(&MODALITY_WORKLIST, item, &what);
        let steps = item
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .and_then(|e| e.items())
            .unwrap();
        assert_eq!(steps.len(), 1, "{what}");
        // The item, used as a C-FIND identifier, fits the model (no 0xA900).
        assert_eq!(
            check_identifier(&MODALITY_WORKLIST, item).invalid,
            None,
            "{what}"
        );
    }
}

#[test]
fn every_sample_hanging_protocol_has_the_models_keys() {
    let protocols = sample::hanging_protocols();
    assert!(protocols.len() >= 5);
    for p in &protocols {
        check_against_model(&HANGING_PROTOCOL, &p.object, &p.instance.sop_instance_uid);
        for tag in [
            tags::IMAGE_SETS_SEQUENCE,
            tags::DISPLAY_SETS_SEQUENCE,
            tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE,
            tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE,
        ] {
            let items = p.object.get(tag).and_then(|e| e.items()).unwrap_or(&[]);
            assert!(
                !items.is_empty(),
                "{tag} in {}",
                p.instance.sop_instance_uid
            );
        }
    }
}

/// A canonical form to compare objects across an encode/decode: text trimmed of padding,
/// numbers as text, sequences item by item.
fn canonical(object: &InMemDicomObject) -> Vec<(Tag, String)> {
    let mut out = Vec::new();
    for element in object.iter() {
        match element.value() {
            Value::Sequence(s) => {
                out.push((element.tag(), format!("SQ[{}]", s.items().len())));
                for (i, item) in s.items().iter().enumerate() {
                    for (tag, value) in canonical(item) {
                        out.push((element.tag(), format!("[{i}]{tag}={value}")));
                    }
                }
            }
            Value::Primitive(p) => out.push((element.tag(), p.to_multi_str().join("\\"))),
            Value::PixelSequence(_) => out.push((element.tag(), "pixels".into())),
        }
    }
    out
}

#[test]
fn sample_data_round_trips_through_the_codec() {
    for ts in [
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
        uids::IMPLICIT_VR_LITTLE_ENDIAN,
    ] {
        for item in sample::worklist(TODAY) {
            let bytes = dataset::encode(&item, ts.as_str()).unwrap();
            let back = dataset::decode(&DataSet {
                transfer_syntax: ts.clone(),
                bytes,
            })
            .unwrap();
            assert_eq!(canonical(&back), canonical(&item));
        }
    }
    for p in sample::hanging_protocols() {
        assert_eq!(p.instance.transfer_syntax, uids::EXPLICIT_VR_LITTLE_ENDIAN);
        let back = dataset::decode(&DataSet {
            transfer_syntax: p.instance.transfer_syntax.clone(),
            bytes: p.instance.data.clone(),
        })
        .unwrap();
        assert_eq!(canonical(&back), canonical(&p.object));
    }
}

#[test]
fn sample_data_is_deterministic() {
    let a: Vec<_> = sample::worklist(TODAY).iter().map(canonical).collect();
    let b: Vec<_> = sample::worklist(TODAY).iter().map(canonical).collect();
    assert_eq!(a, b);
    let a: Vec<Bytes> = sample::hanging_protocols()
        .into_iter()
        .map(|p| p.instance.data)
        .collect();
    let b: Vec<Bytes> = sample::hanging_protocols()
        .into_iter()
        .map(|p| p.instance.data)
        .collect();
    assert_eq!(a, b);
}

fn worklist_item(name: &str) -> InMemDicomObject {
    let step = InMemDicomObject::from_element_iter([DataElement::new(
        tags::MODALITY,
        VR::CS,
        PrimitiveValue::from("CT"),
    )]);
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::PATIENT_NAME, VR::PN, PrimitiveValue::from(name)),
        DataElement::new(
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![step]),
        ),
    ])
}

#[test]
fn a_directory_loads_dicom_files_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let hp = &sample::hanging_protocols()[0];
    let part10 = files::part10(
        &hp.instance.sop_class_uid,
        &hp.instance.sop_instance_uid,
        hp.instance.transfer_syntax.as_str(),
        &hp.instance.data,
    );
    fs::write(dir.path().join("protocol.dcm"), &part10).unwrap();
    let bare = dataset::encode(
        &worklist_item("Bare^Data"),
        uids::IMPLICIT_VR_LITTLE_ENDIAN.as_str(),
    )
    .unwrap();
    fs::write(dir.path().join("item.bin"), &bare).unwrap();
    // A DCMTK worklist file is a Part 10 file without SOP class, in a per-AE directory.
    let wl = dataset::encode(
        &worklist_item("Wl^File"),
        uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str(),
    )
    .unwrap();
    fs::create_dir(dir.path().join("WLMSCP")).unwrap();
    fs::write(
        dir.path().join("WLMSCP").join("wklist1.wl"),
        files::part10(
            "1.2.276.0.7230010.3.1.0.1",
            "1.2.3.4",
            uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str(),
            &wl,
        ),
    )
    .unwrap();
    fs::write(dir.path().join("WLMSCP").join("lockfile"), "").unwrap();
    fs::write(
        dir.path().join("notes.txt"),
        "remember to add the MR items\n",
    )
    .unwrap();
    fs::write(dir.path().join("empty.dcm"), "").unwrap();

    let report = files::load_dir(dir.path());
    let loaded: Vec<String> = report
        .objects
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(loaded, ["wklist1.wl", "item.bin", "protocol.dcm"]);
    let mut skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|(p, why)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                why.clone(),
            )
        })
        .collect();
    skipped.sort();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(skipped[0].0, "empty.dcm");
    assert_eq!(skipped[1].0, "lockfile");
    assert_eq!(skipped[2].0, "notes.txt");
    assert!(skipped.iter().all(|(_, why)| !why.is_empty()));
    assert!(skipped[0].1.contains("empty"));
    assert!(skipped[2].1.contains("not DICOM"), "{}", skipped[2].1);

    let (_, item) = &report.objects[1];
    assert_eq!(item.format, files::FileFormat::BareDataSet);
    assert_eq!(
        item.transfer_syntax,
        uids::IMPLICIT_VR_LITTLE_ENDIAN.as_str()
    );
    let (_, protocol) = &report.objects[2];
    assert_eq!(protocol.format, files::FileFormat::Part10);
    assert_eq!(protocol.raw.as_ref(), Some(&hp.instance.data));

    let worklist = files::worklist_records(files::load_dir(dir.path()));
    assert_eq!(worklist.len(), 2);
    let instances = files::hanging_protocol_instances(report);
    assert_eq!(instances.len(), 1);
    assert_eq!(
        instances[0].instance.sop_instance_uid,
        hp.instance.sop_instance_uid
    );
    assert_eq!(instances[0].instance.data, hp.instance.data);
}

#[test]
fn a_missing_directory_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let report = files::load_dir(&dir.path().join("nope"));
    assert!(report.objects.is_empty());
    assert_eq!(report.skipped.len(), 1);
}

/// Waits long enough for a coarse file system clock to tick.
fn tick() {
    std::thread::sleep(Duration::from_millis(20));
}

#[test]
fn dir_watch_sees_added_modified_and_removed_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.dcm"), b"one").unwrap();
    let mut watch = files::DirWatch::new(dir.path());
    assert!(!watch.changed());
    tick();
    fs::write(dir.path().join("b.dcm"), b"two").unwrap();
    assert!(watch.changed());
    assert!(!watch.changed());
    tick();
    fs::write(dir.path().join("a.dcm"), b"one, longer").unwrap();
    assert!(watch.changed());
    assert!(!watch.changed());
    fs::remove_file(dir.path().join("b.dcm")).unwrap();
    assert!(watch.changed());
    assert!(!watch.changed());
}

#[test]
fn write_atomically_leaves_only_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = files::write_atomically(dir.path(), "x.dcm", b"first").unwrap();
    assert_eq!(path, dir.path().join("x.dcm"));
    let path = files::write_atomically(dir.path(), "x.dcm", b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["x.dcm"]);
    assert!(files::write_atomically(dir.path(), "../escape.dcm", b"no").is_err());
}

#[test]
fn part10_files_open_with_dicom_object() {
    let dir = tempfile::tempdir().unwrap();
    let hp = &sample::hanging_protocols()[1];
    let bytes = files::part10(
        &hp.instance.sop_class_uid,
        &hp.instance.sop_instance_uid,
        hp.instance.transfer_syntax.as_str(),
        &hp.instance.data,
    );
    let path = files::write_atomically(
        dir.path(),
        &files::instance_file_name(&hp.instance.sop_instance_uid),
        &bytes,
    )
    .unwrap();
    let file = dicom_object::open_file(&path).unwrap();
    assert_eq!(
        file.meta().media_storage_sop_class_uid(),
        uids::HANGING_PROTOCOL_STORAGE.as_str()
    );
    assert_eq!(
        file.meta().media_storage_sop_instance_uid(),
        hp.instance.sop_instance_uid
    );
    assert_eq!(
        file.element(tags::HANGING_PROTOCOL_NAME)
            .unwrap()
            .to_str()
            .unwrap(),
        "Brain MR 4-up"
    );
}

#[test]
fn json_shapes_follow_ps3_18_f2() {
    let step = InMemDicomObject::from_element_iter([DataElement::new(
        tags::MODALITY,
        VR::CS,
        PrimitiveValue::from("MR"),
    )]);
    let object = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::from("Müller^Jürgen"),
        ),
        DataElement::new(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            PrimitiveValue::from("19580412"),
        ),
        DataElement::new(tags::SERIES_NUMBER, VR::IS, PrimitiveValue::from("4 ")),
        DataElement::new(tags::NUMBER_OF_SCREENS, VR::US, PrimitiveValue::from(2_u16)),
        DataElement::new(
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![step]),
        ),
        DataElement::new(tags::ACCESSION_NUMBER, VR::SH, PrimitiveValue::Empty),
    ]);
    assert_eq!(
        json::to_json(&object),
        json!({
            "00080050": {"vr": "SH"},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Müller^Jürgen"}]},
            "00100030": {"vr": "DA", "Value": ["19580412"]},
            "00200011": {"vr": "IS", "Value": [4]},
            "00400100": {"vr": "SQ", "Value": [{"00080060": {"vr": "CS", "Value": ["MR"]}}]},
            "00720100": {"vr": "US", "Value": [2]}
        })
    );
    // A decoded sample item serialises, keys in tag order.
    let item = &sample::worklist(TODAY)[2];
    let value = json::to_json(item);
    let text = serde_json::to_string(&value).unwrap();
    assert!(text.contains("\"Ideographic\":\"中村^春樹\""), "{text}");
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn k_arguments_build_identifiers() {
    let mut query = InMemDicomObject::new_empty();
    keys::apply_keys(
        &mut query,
        &[
            "PatientName=S*".to_owned(),
            "(0010,0020)=123".to_owned(),
            "ScheduledProcedureStepSequence[0].Modality=CT".to_owned(),
            "ScheduledProcedureStepSequence[0].ScheduledStationAETitle".to_owned(),
        ],
    )
    .unwrap();
    assert_eq!(
        query.element(tags::PATIENT_NAME).unwrap().to_str().unwrap(),
        "S*"
    );
    assert_eq!(query.element(tags::PATIENT_NAME).unwrap().vr(), VR::PN);
    assert_eq!(
        query.element(tags::PATIENT_ID).unwrap().to_str().unwrap(),
        "123"
    );
    let steps = query
        .element(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        steps[0].element(tags::MODALITY).unwrap().to_str().unwrap(),
        "CT"
    );
    let station = steps[0].element(tags::SCHEDULED_STATION_AE_TITLE).unwrap();
    assert_eq!(
        (station.vr(), station.value().primitive()),
        (VR::AE, Some(&PrimitiveValue::Empty))
    );

    let err = keys::apply_keys(&mut query, &["PatientNmae=Doe".to_owned()]).unwrap_err();
    assert!(err.contains("PatientNmae"), "{err}");

    // The default queries fit their models.
    let mut wl = keys::default_worklist_query();
    keys::apply_keys(
        &mut wl,
        &["ScheduledProcedureStepSequence[0].Modality=CT".to_owned()],
    )
    .unwrap();
    let check = check_identifier(&MODALITY_WORKLIST, &wl);
    assert_eq!((check.invalid, check.unsupported.len()), (None, 0));
    let check = check_identifier(&HANGING_PROTOCOL, &keys::default_hanging_protocol_query());
    assert_eq!((check.invalid, check.unsupported.len()), (None, 0));
}

/// Every short text of the sample data fits its VR's maximum length (SH 16, LO 64, CS 16,
/// AE 16), so strict peers (pydicom warns) take it as it is.
#[test]
fn sample_text_fits_its_value_representation() {
    use dicom_core::VR;
    fn check(object: &dicom_object::InMemDicomObject, path: &str) {
        for element in object.iter() {
            let vr = element.vr();
            if let Some(items) = element.items() {
                for item in items {
                    check(item, path);
                }
                continue;
            }
            let max = match vr {
                VR::SH | VR::CS | VR::AE => 16,
                VR::LO => 64,
                _ => continue,
            };
            if let Ok(values) = element.value().to_multi_str() {
                for v in values.iter() {
                    assert!(
                        v.trim().chars().count() <= max,
                        "{path}: {:?} {vr:?} value {v:?} is longer than {max}",
                        element.header().tag
                    );
                }
            }
        }
    }
    for p in dicomwire_cli::sample::hanging_protocols() {
        check(&p.object, "hanging protocol");
    }
    for item in dicomwire_cli::sample::worklist((2026, 11, 22)) {
        check(&item, "worklist item");
    }
}

/// A key outside ASCII goes out in UTF-8 with Specific Character Set ISO_IR 192 (any
/// Unicode key encodes); a character set the user gave is kept, and an ASCII query gets
/// none.
#[test]
fn a_non_ascii_key_sets_the_character_set_to_utf8_unless_one_was_given() {
    for (name, utf8) in [("MÜLLER*", "MÜLLER*"), ("山田*", "山田*")] {
        let mut query = keys::default_worklist_query();
        keys::apply_keys(&mut query, &[format!("PatientName={name}")]).expect("keys");
        assert!(keys::set_character_set(&mut query), "{name}");
        let charset = query
            .get(tags::SPECIFIC_CHARACTER_SET)
            .and_then(|e| e.to_str().ok());
        assert_eq!(charset.as_deref(), Some("ISO_IR 192"));
        let bytes = dataset::encode(&query, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            bytes.windows(utf8.len()).any(|w| w == utf8.as_bytes()),
            "{name} is in the data set in UTF-8"
        );
    }
    // Latin-1, as the user asked: MÜLLER with Ü as 0xDC.
    let mut query = keys::default_worklist_query();
    keys::apply_keys(
        &mut query,
        &[
            "SpecificCharacterSet=ISO_IR 100".into(),
            "PatientName=MÜLLER*".into(),
        ],
    )
    .expect("keys");
    assert!(!keys::set_character_set(&mut query));
    let bytes = dataset::encode(&query, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str()).expect("Latin-1");
    assert!(bytes.windows(7).any(|w| w == b"M\xDCLLER*"));
    // ASCII: no character set.
    let mut query = keys::default_worklist_query();
    keys::apply_keys(&mut query, &["PatientName=DOE*".into()]).expect("keys");
    assert!(!keys::set_character_set(&mut query));
    assert!(query.get(tags::SPECIFIC_CHARACTER_SET).is_none());
}
