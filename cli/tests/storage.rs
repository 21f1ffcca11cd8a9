//! Storage end to end, on 127.0.0.1: `dicomwire store` to `dicomwire serve --store`
//! (every file's data set arrives bit for bit; failures are reported per file and in the
//! exit status; a hostile SOP Instance UID names no file), and, with
//! `DICOMWIRE_INTEROP=1`, against the real peers: DCMTK's and pynetdicom's `storescu`
//! sending CT and MR instances (generated here) to `serve --store`, `dicomwire store` to
//! DCMTK's and pynetdicom's `storescp`, and `echoscu` proposing 128 contexts of 38
//! transfer syntaxes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::dimse::DataSet;
use dicomwire::pdu::Uid;
use dicomwire::service::dataset;
use dicomwire_cli::{files, json, store};

mod support;
use support::*;

const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const MR: &str = "1.2.840.10008.5.1.4.1.1.4";

/// One generated instance: its file and what its data set is.
struct Made {
    path: PathBuf,
    sop_instance_uid: String,
    transfer_syntax: &'static str,
    data: Vec<u8>,
}

/// A CT or MR image data set of about `pixels` bytes of pixel data, a pattern that
/// differs by instance and by offset.
fn image(sop_class: &str, sop_instance_uid: &str, n: usize, pixels: usize) -> InMemDicomObject {
    let side = (1..=u16::MAX)
        .take_while(|s| usize::from(*s) * usize::from(*s) * 2 <= pixels.max(2))
        .last()
        .unwrap_or(1);
    let data: Vec<u8> = (0..usize::from(side) * usize::from(side) * 2)
        .map(|i| u8::try_from((i * 31 + n * 7) % 251).unwrap_or(0))
        .collect();
    let text = |tag, vr, value: &str| DataElement::new(tag, vr, PrimitiveValue::from(value));
    let short = |tag, value: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(value));
    InMemDicomObject::from_element_iter([
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::SOP_CLASS_UID, VR::UI, sop_class),
        text(tags::SOP_INSTANCE_UID, VR::UI, sop_instance_uid),
        text(tags::STUDY_DATE, VR::DA, "20261207"),
        text(
            tags::MODALITY,
            VR::CS,
            if sop_class == CT { "CT" } else { "MR" },
        ),
        text(tags::PATIENT_NAME, VR::PN, &format!("DOE^JANE^{n}")),
        text(tags::PATIENT_ID, VR::LO, "P1"),
        text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.9.7777.1",
        ),
        text(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.9.7777.1.1",
        ),
        text(tags::INSTANCE_NUMBER, VR::IS, &n.to_string()),
        short(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        short(tags::ROWS, side),
        short(tags::COLUMNS, side),
        short(tags::BITS_ALLOCATED, 16),
        short(tags::BITS_STORED, 16),
        short(tags::HIGH_BIT, 15),
        short(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U8(data.into())),
    ])
}

/// `cts` CT images in Explicit VR Little Endian and `mrs` MR images in Implicit VR Little
/// Endian under `dir` (the MRs in a subfolder), as Part 10 files.
fn make_images(dir: &Path, cts: usize, mrs: usize, pixels: usize) -> Vec<Made> {
    let sub = dir.join("mr");
    std::fs::create_dir_all(&sub).expect("create the folder");
    let mut made = Vec::new();
    for n in 0..cts + mrs {
        let (class, ts, folder) = if n < cts {
            (CT, "1.2.840.10008.1.2.1", dir)
        } else {
            (MR, "1.2.840.10008.1.2", sub.as_path())
        };
        let uid = format!("1.2.826.0.1.3680043.9.7777.2.{n}");
        let data = dataset::encode(&image(class, &uid, n, pixels), ts)
            .expect("the image encodes")
            .to_vec();
        let path = folder.join(format!("image{n}.dcm"));
        std::fs::write(&path, files::part10(class, &uid, ts, &data)).expect("write the file");
        made.push(Made {
            path,
            sop_instance_uid: uid,
            transfer_syntax: ts,
            data,
        });
    }
    made
}

/// The Part 10 files under `dir`, by SOP Instance UID: transfer syntax and data set.
fn stored(dir: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read the store folder") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        assert!(!name.starts_with('.'), "a temporary file was left: {name}");
        let file = store::read_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bytes = std::fs::read(&path).expect("read a stored file");
        let data = bytes[usize::try_from(file.offset).expect("offset")..].to_vec();
        found.insert(
            file.sop_instance_uid.clone(),
            (file.transfer_syntax.to_string(), data),
        );
    }
    found
}

/// Asserts that `dir` holds exactly `made`: bit for bit, or (`decoded`) element for
/// element, for peers that write the data set anew.
fn assert_stored(dir: &Path, made: &[Made], decoded: bool) {
    let found = stored(dir);
    assert_eq!(
        found.keys().cloned().collect::<Vec<_>>(),
        made.iter()
            .map(|m| m.sop_instance_uid.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
        "the instances stored"
    );
    for m in made {
        let (ts, data) = &found[&m.sop_instance_uid];
        let as_json = |ts: &str, bytes: &[u8]| {
            let object = dataset::decode(&DataSet {
                transfer_syntax: Uid::new(ts).expect("a UID"),
                bytes: bytes.to_vec().into(),
            })
            .expect("the stored data set decodes");
            json::to_json(&object).to_string()
        };
        if decoded {
            assert_eq!(
                as_json(ts, data),
                as_json(m.transfer_syntax, &m.data),
                "{}",
                m.sop_instance_uid
            );
        } else {
            assert_eq!(ts, m.transfer_syntax, "{}", m.sop_instance_uid);
            assert!(
                data == &m.data,
                "{}: the data set differs",
                m.sop_instance_uid
            );
        }
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

// ---------------------------------------------------------------------------------------
// dicomwire to dicomwire

#[test]
fn store_to_serve_stores_every_file_bit_for_bit() {
    start_budget(TEST_BUDGET);
    let (input, out) = (temp_dir(), temp_dir());
    let made = make_images(input.path(), 4, 3, 300_000);
    std::fs::write(input.path().join("notes.txt"), "not DICOM").expect("write");
    let (server, port) = serve(&["--store", arg(out.path())]);
    let peer = format!("127.0.0.1:{port}");
    let outcome = run(
        "dicomwire store",
        &mut dicomwire(&["store", &peer, "-j", "3", arg(input.path())]),
    );
    outcome.assert_success("dicomwire store");
    assert_eq!(
        outcome
            .stdout
            .lines()
            .filter(|l| l.starts_with("stored "))
            .count(),
        7,
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("7 stored, 0 with warnings, 0 failed, 1 skipped"),
        "{}",
        outcome.stdout
    );
    assert_stored(out.path(), &made, false);
    drop(server);
}

#[test]
fn store_reports_each_failure_and_exits_non_zero() {
    start_budget(TEST_BUDGET);
    let (input, out) = (temp_dir(), temp_dir());
    let good = make_images(input.path(), 1, 0, 1000);
    // The meta information says CT, the data set MR: 0xA900 from the SCP.
    let uid = "1.2.826.0.1.3680043.9.7777.3.1";
    let data = dataset::encode(&image(MR, uid, 1, 1000), "1.2.840.10008.1.2.1").expect("encodes");
    let mismatched = input.path().join("mismatched.dcm");
    std::fs::write(
        &mismatched,
        files::part10(CT, uid, "1.2.840.10008.1.2.1", &data),
    )
    .expect("write");
    // A transfer syntax nobody knows: the SCP accepts no context for it.
    let unknown = input.path().join("unknown-ts.dcm");
    std::fs::write(
        &unknown,
        files::part10(CT, "1.2.826.0.1.3680043.9.7777.3.2", "1.2.3.4.5.6", &data),
    )
    .expect("write");
    // Not DICOM, named on the command line.
    let text = input.path().join("notes.txt");
    std::fs::write(&text, "not DICOM").expect("write");
    let (_server, port) = serve(&["--store", arg(out.path())]);
    let peer = format!("127.0.0.1:{port}");
    let outcome = run(
        "dicomwire store",
        &mut dicomwire(&[
            "store",
            &peer,
            arg(&good[0].path),
            arg(&mismatched),
            arg(&unknown),
            arg(&text),
        ]),
    );
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.stdout);
    let line = |path: &Path| {
        outcome
            .stdout
            .lines()
            .find(|l| l.contains(arg(path)))
            .unwrap_or_else(|| panic!("no line for {}: {}", path.display(), outcome.stdout))
            .to_owned()
    };
    assert!(line(&good[0].path).starts_with("stored "));
    let mismatch = line(&mismatched);
    assert!(
        mismatch.starts_with("FAILED ") && mismatch.contains("0xA900"),
        "{mismatch}"
    );
    assert!(mismatch.contains("data set SOP Class UID"), "{mismatch}");
    let unknown_line = line(&unknown);
    assert!(
        unknown_line.starts_with("FAILED ") && unknown_line.contains("1.2.3.4.5.6"),
        "{unknown_line}"
    );
    assert!(line(&text).starts_with("FAILED "), "{}", line(&text));
    assert!(
        outcome
            .stdout
            .contains("1 stored, 0 with warnings, 3 failed"),
        "{}",
        outcome.stdout
    );
    assert_stored(out.path(), &good, false);
}

#[test]
fn a_sop_instance_uid_that_names_a_path_is_refused_and_writes_nothing() {
    start_budget(TEST_BUDGET);
    let root = temp_dir();
    let (input, out) = (root.path().join("in"), root.path().join("out"));
    std::fs::create_dir_all(&input).expect("mkdir");
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut made = Vec::new();
    for (n, uid) in ["../escaped", "/tmp/absolute", "1.2/../../x"]
        .iter()
        .enumerate()
    {
        let data =
            dataset::encode(&image(CT, uid, n, 100), "1.2.840.10008.1.2.1").expect("encodes");
        let path = input.join(format!("hostile{n}.dcm"));
        std::fs::write(&path, files::part10(CT, uid, "1.2.840.10008.1.2.1", &data)).expect("write");
        made.push(path);
    }
    let (_server, port) = serve(&["--store", arg(&out)]);
    let peer = format!("127.0.0.1:{port}");
    let outcome = run(
        "dicomwire store",
        &mut dicomwire(&["store", &peer, arg(&input)]),
    );
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.stdout);
    for path in &made {
        let line = outcome
            .stdout
            .lines()
            .find(|l| l.contains(arg(path)))
            .unwrap_or_else(|| panic!("{}", outcome.stdout));
        assert!(line.contains("0x0117"), "{line}");
    }
    let left: Vec<_> = std::fs::read_dir(root.path())
        .expect("read")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left.len(), 2, "only in/ and out/: {left:?}");
    assert_eq!(std::fs::read_dir(&out).expect("read").count(), 0);
}

// ---------------------------------------------------------------------------------------
// Real peers

#[test]
fn dcmtk_storescu_to_serve_store() {
    if !enabled("dcmtk_storescu_to_serve_store") {
        return;
    }
    let (input, out) = (temp_dir(), temp_dir());
    let made = make_images(input.path(), 3, 2, 100_000);
    let (_server, port) = serve(&["--store", arg(out.path())]);
    let outcome = run(
        "storescu",
        dcmtk_command("storescu")
            .args([
                "-aec",
                "DICOMWIRE",
                "+sd",
                "+r",
                "127.0.0.1",
                &port.to_string(),
            ])
            .arg(input.path()),
    );
    outcome.assert_success("storescu");
    assert_stored(out.path(), &made, true);
}

#[test]
fn pynetdicom_storescu_to_serve_store() {
    if !enabled("pynetdicom_storescu_to_serve_store") {
        return;
    }
    let (input, out) = (temp_dir(), temp_dir());
    let made = make_images(input.path(), 3, 2, 100_000);
    let (_server, port) = serve(&["--store", arg(out.path())]);
    let outcome = run(
        "python -m pynetdicom storescu",
        python_module("storescu")
            .args([
                "-aec",
                "DICOMWIRE",
                "-r",
                "-v",
                "127.0.0.1",
                &port.to_string(),
            ])
            .arg(input.path()),
    );
    outcome.assert_success("pynetdicom storescu");
    println!("{}\n{}", outcome.stdout, outcome.stderr);
    assert_stored(out.path(), &made, true);
}

#[test]
fn dicomwire_store_to_dcmtk_storescp() {
    if !enabled("dicomwire_store_to_dcmtk_storescp") {
        return;
    }
    let (input, out) = (temp_dir(), temp_dir());
    let made = make_images(input.path(), 3, 2, 100_000);
    let port = free_port();
    let mut storescp = Peer::spawn(
        "storescp",
        dcmtk_command("storescp")
            .args(["+B", "-od"])
            .arg(out.path())
            .arg(port.to_string()),
    );
    storescp.wait_for_port(port);
    let peer = format!("127.0.0.1:{port}");
    let outcome = run(
        "dicomwire store",
        &mut dicomwire(&["store", &peer, "-j", "2", arg(input.path())]),
    );
    outcome.assert_success("dicomwire store to storescp");
    assert_stored(out.path(), &made, true);
    storescp.assert_running();
}

#[test]
fn dicomwire_store_to_pynetdicom_storescp() {
    if !enabled("dicomwire_store_to_pynetdicom_storescp") {
        return;
    }
    let (input, out) = (temp_dir(), temp_dir());
    let made = make_images(input.path(), 3, 2, 100_000);
    let port = free_port();
    let mut storescp = Peer::spawn(
        "pynetdicom storescp",
        python_module("storescp")
            .args(["-od"])
            .arg(out.path())
            .arg(port.to_string()),
    );
    storescp.wait_for_port(port);
    let peer = format!("127.0.0.1:{port}");
    let outcome = run(
        "dicomwire store",
        &mut dicomwire(&["store", &peer, arg(input.path())]),
    );
    outcome.assert_success("dicomwire store to pynetdicom storescp");
    assert_stored(out.path(), &made, true);
    storescp.assert_running();
}

/// What storage modalities propose: `echoscu -pts 38 -ppc 128` (an A-ASSOCIATE-RQ of
/// 129,691 bytes) is accepted and verified.
#[test]
fn echoscu_proposing_128_contexts_of_38_syntaxes_is_accepted() {
    if !enabled("echoscu_proposing_128_contexts_of_38_syntaxes_is_accepted") {
        return;
    }
    let (_server, port) = serve(&[]);
    let outcome = run(
        "echoscu -pts 38 -ppc 128",
        dcmtk_command("echoscu").args([
            "-aec",
            "DICOMWIRE",
            "-pts",
            "38",
            "-ppc",
            "128",
            "127.0.0.1",
            &port.to_string(),
        ]),
    );
    outcome.assert_success("echoscu -pts 38 -ppc 128");
}
