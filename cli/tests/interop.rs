//! Interoperability with real peers, on 127.0.0.1: DCMTK (`echoscu`, `findscu`,
//! `storescu`, `storescp`, `wlmscpfs`) and pynetdicom (the scripts in `tests/interop/`)
//! against `dicomwire serve`, and the `dicomwire` SCU commands against them; in plain,
//! and over TLS (DCMTK's `+tls`, pynetdicom with an `ssl.SSLContext`; the certificates
//! made at test time, their RSA keys by `openssl`, see `support/pki.rs`).
//!
//! The tests run when `DICOMWIRE_INTEROP=1`; otherwise each returns at once after saying
//! so, and plain `cargo test` needs no peers. When they run, a missing peer is a failure.
//!
//! Every process is a child of the test, killed when its guard drops (also on panic);
//! servers are waited for by polling (10 s at most), clients run under a deadline (60 s),
//! and no wait outlasts the test's budget of 60 s, so each test ends by itself within about
//! a minute; a passing run of them all takes some 10 s. DCMTK is called by its full path, `/usr/bin/...`, because
//! pynetdicom installs Python programs of the same names that come first on some `PATH`s,
//! and with `TCP_NODELAY=1`, without which Debian's DCMTK leaves Nagle's algorithm on.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::service::{dataset, uids};
use dicomwire_cli::{files, json, sample};
use serde_json::Value;

mod support;
use support::pki::{LOOPBACK, Leaf, Pki};
use support::*;

// ---------------------------------------------------------------------------------------
// Running peers

/// `pyscp.py` on a free port, serving `worklist` and `hanging` (directories), with
/// `extra` arguments; returns the guard and the port.
fn pyscp(worklist: &Path, hanging: &Path, extra: &[String]) -> (Peer, u16) {
    let port = free_port();
    let mut peer = Peer::spawn(
        "pyscp.py",
        python("pyscp.py")
            .arg(port.to_string())
            .args(["--ae-title", "PYSCP", "--worklist"])
            .arg(worklist)
            .arg("--hanging-protocols")
            .arg(hanging)
            .args(extra),
    );
    peer.wait_for_line("pyscp listening on");
    peer.wait_for_port(port);
    (peer, port)
}

// ---------------------------------------------------------------------------------------
// Data: what was asked, what came back, what our sample data says

/// Today (UTC), as `dicomwire serve` computes it for its sample worklist.
fn today() -> (i32, u32, u32) {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        i32::try_from(year).unwrap(),
        u32::try_from(month).unwrap(),
        u32::try_from(day).unwrap(),
    )
}

/// A field compared across peers: a name and the path of tags to it (through the first
/// item of each sequence).
type Field = (&'static str, &'static [Tag]);

const WORKLIST_FIELDS: &[Field] = &[
    ("PatientName", &[tags::PATIENT_NAME]),
    ("PatientID", &[tags::PATIENT_ID]),
    ("AccessionNumber", &[tags::ACCESSION_NUMBER]),
    (
        "Modality",
        &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::MODALITY],
    ),
    (
        "ScheduledProcedureStepStartDate",
        &[
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
        ],
    ),
    (
        "ScheduledStationAETitle",
        &[
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            tags::SCHEDULED_STATION_AE_TITLE,
        ],
    ),
];

const HANGING_PROTOCOL_FIELDS: &[Field] = &[
    ("SOPInstanceUID", &[tags::SOP_INSTANCE_UID]),
    ("HangingProtocolName", &[tags::HANGING_PROTOCOL_NAME]),
    ("HangingProtocolLevel", &[tags::HANGING_PROTOCOL_LEVEL]),
    ("NumberOfScreens", &[tags::NUMBER_OF_SCREENS]),
];

/// One match, field name to value ("" when absent or empty).
type Record = BTreeMap<&'static str, String>;

fn clean(text: &str) -> String {
    text.trim_matches(|c: char| c == ' ' || c == '\0')
        .to_owned()
}

/// A field's value in a data set, as text.
fn object_value(object: &InMemDicomObject, path: &[Tag]) -> String {
    let Some((last, parents)) = path.split_last() else {
        return String::new();
    };
    let mut current = object;
    for tag in parents {
        match current.get(*tag).and_then(|e| e.items()) {
            Some([first, ..]) => current = first,
            _ => return String::new(),
        }
    }
    current
        .get(*last)
        .and_then(|e| e.to_str().ok())
        .map(|s| clean(&s))
        .unwrap_or_default()
}

/// A field's value in a DICOM JSON object, as text (person names joined with `=` as in
/// the data set).
fn json_value(object: &Value, path: &[Tag]) -> String {
    let Some((last, parents)) = path.split_last() else {
        return String::new();
    };
    let mut current = object;
    for tag in parents {
        match current[json::tag_key(*tag)]["Value"].get(0) {
            Some(item) => current = item,
            None => return String::new(),
        }
    }
    let attribute = &current[json::tag_key(*last)];
    let Some(values) = attribute["Value"].as_array() else {
        return String::new();
    };
    let one = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(pn) => {
            let groups: Vec<&str> = ["Alphabetic", "Ideographic", "Phonetic"]
                .iter()
                .map(|g| pn.get(*g).and_then(Value::as_str).unwrap_or(""))
                .collect();
            groups.join("=").trim_end_matches('=').to_owned()
        }
        _ => String::new(),
    };
    clean(&values.iter().map(one).collect::<Vec<_>>().join("\\"))
}

fn object_record(object: &InMemDicomObject, fields: &[Field]) -> Record {
    fields
        .iter()
        .map(|(name, path)| (*name, object_value(object, path)))
        .collect()
}

fn json_record(object: &Value, fields: &[Field]) -> Record {
    fields
        .iter()
        .map(|(name, path)| (*name, json_value(object, path)))
        .collect()
}

/// Records in a stable order, for comparing sets of matches.
fn sorted(mut records: Vec<Record>) -> Vec<Record> {
    records.sort();
    records
}

/// The matches `dicomwire find --json` printed.
fn json_records(stdout: &str, fields: &[Field]) -> Vec<Record> {
    sorted(
        stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let value: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}"));
                json_record(&value, fields)
            })
            .collect(),
    )
}

/// The responses `findscu -X` wrote to `dir` (rsp0001.dcm, ...).
fn extracted_records(dir: &Path, fields: &[Field]) -> Vec<Record> {
    let report = files::load_dir(dir);
    assert!(
        report.skipped.is_empty(),
        "findscu wrote files we cannot read: {:?}",
        report.skipped
    );
    sorted(
        report
            .objects
            .iter()
            .map(|(_, loaded)| object_record(&loaded.object, fields))
            .collect(),
    )
}

/// The JSON lines a pynetdicom script printed, the last one with `"done": true`.
fn script_lines(outcome: &Outcome) -> (Vec<Value>, Value) {
    let mut lines: Vec<Value> = outcome
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect();
    let last = lines.pop().unwrap_or(Value::Null);
    assert_eq!(
        last["done"],
        Value::Bool(true),
        "the script did not finish\n--- stdout:\n{}\n--- stderr:\n{}",
        outcome.stdout,
        outcome.stderr
    );
    (lines, last)
}

/// A script's `"match"` or `"received"` objects as records of `fields` (the scripts name
/// their fields by keyword).
fn script_records(lines: &[Value], key: &str, fields: &[Field]) -> Vec<Record> {
    sorted(
        lines
            .iter()
            .filter_map(|l| l.get(key))
            .map(|m| {
                fields
                    .iter()
                    .map(|(name, _)| {
                        let value = match &m[*name] {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            _ => String::new(),
                        };
                        (*name, value)
                    })
                    .collect()
            })
            .collect(),
    )
}

/// The sample worklist items (for `today`) whose scheduled modality is `modality`.
fn sample_worklist(today: (i32, u32, u32), modality: &str, fields: &[Field]) -> Vec<Record> {
    sorted(
        sample::worklist(today)
            .iter()
            .filter(|item| {
                object_value(
                    item,
                    &[tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, tags::MODALITY],
                ) == modality
            })
            .map(|item| object_record(item, fields))
            .collect(),
    )
}

/// The sample worklist for the day the test started or, should it have crossed midnight
/// (UTC), the day it ended: the one `result` equals, else the first for the message.
fn expected_worklist(
    days: [(i32, u32, u32); 2],
    modality: &str,
    fields: &[Field],
    result: &[Record],
) -> Vec<Record> {
    let first = sample_worklist(days[0], modality, fields);
    if first.as_slice() != result && days[1] != days[0] {
        let second = sample_worklist(days[1], modality, fields);
        if second.as_slice() == result {
            return second;
        }
    }
    first
}

/// The sample hanging protocol named `name`.
fn sample_protocol(name: &str) -> dicomwire::service::StoredInstance {
    sample::hanging_protocols()
        .into_iter()
        .find(|p| object_value(&p.object, &[tags::HANGING_PROTOCOL_NAME]) == name)
        .unwrap_or_else(|| panic!("no sample hanging protocol {name:?}"))
}

/// Writes worklist items as Part 10 files `DIR/NNN.wl`.
fn write_worklist(dir: &Path, items: &[InMemDicomObject]) {
    for (n, item) in items.iter().enumerate() {
        let data = dataset::encode(item, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str())
            .expect("encode a worklist item");
        let file = files::part10(
            uids::MODALITY_WORKLIST_FIND.as_str(),
            &sample::uid_for(&format!("interop/worklist/{n}")),
            uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str(),
            &data,
        );
        std::fs::write(dir.join(format!("item{n:03}.wl")), file).expect("write a .wl file");
    }
}

/// Writes hanging protocols as Part 10 files `DIR/<uid>.dcm`.
fn write_hanging_protocols(dir: &Path, protocols: &[dicomwire::service::StoredInstance]) {
    for p in protocols {
        let i = &p.instance;
        let file = files::part10(
            &i.sop_class_uid,
            &i.sop_instance_uid,
            i.transfer_syntax.as_str(),
            &i.data,
        );
        std::fs::write(
            dir.join(files::instance_file_name(&i.sop_instance_uid)),
            file,
        )
        .expect("write a hanging protocol");
    }
}

/// The DICOM files in `dir`, checked to be readable.
fn received_objects(dir: &Path) -> Vec<InMemDicomObject> {
    let report = files::load_dir(dir);
    assert!(
        report.skipped.is_empty(),
        "unreadable files in {}: {:?}",
        dir.display(),
        report.skipped
    );
    report.objects.into_iter().map(|(_, l)| l.object).collect()
}

/// Asserts that `received` holds exactly `expected` (compared as DICOM JSON, so element
/// for element and value for value).
fn assert_same_instances(
    received: &[InMemDicomObject],
    expected: &[dicomwire::service::StoredInstance],
) {
    let canonical = |o: &InMemDicomObject| json::to_json(o).to_string();
    let mut got: Vec<String> = received.iter().map(canonical).collect();
    let mut want: Vec<String> = expected.iter().map(|p| canonical(&p.object)).collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len(), "number of instances received");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "a received instance differs from the one sent");
    }
}

// ---------------------------------------------------------------------------------------
// DCMTK against us

/// `echoscu` (DCMTK) verifies `dicomwire serve`; with `--require-called-ae`, an
/// association calling another AE title is rejected (Called AE Title Not Recognized)
/// and `echoscu` fails.
#[test]
fn dcmtk_echoscu_to_serve() {
    if !enabled("dcmtk_echoscu_to_serve") {
        return;
    }
    let (_serve, port) = serve(&["--require-called-ae"]);
    let echoscu = |called: &str| {
        run(
            "echoscu",
            dcmtk_command("echoscu")
                .args(["-v", "-aec", called, "127.0.0.1"])
                .arg(port.to_string()),
        )
    };
    let outcome = echoscu("DICOMWIRE");
    outcome.assert_success("echoscu");
    assert!(
        outcome.stderr.contains("Received Echo Response (Success)"),
        "echoscu did not report success:\n{}",
        outcome.stderr
    );
    let outcome = echoscu("SOMEONE-ELSE");
    assert!(
        !outcome.status.success(),
        "echoscu calling another AE title succeeded:\n{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("Called AE Title Not Recognized"),
        "echoscu did not report the rejection:\n{}",
        outcome.stderr
    );
}

/// `findscu -W` (DCMTK) queries the sample worklist of `dicomwire serve` for MR steps,
/// and gets exactly the sample's MR items, with their names, IDs, accession numbers,
/// dates and station AE titles: proposing Explicit VR Little Endian first, Implicit VR
/// Little Endian only, and Explicit VR Big Endian first with a 4096-byte maximum PDU.
#[test]
fn dcmtk_findscu_worklist_to_serve() {
    if !enabled("dcmtk_findscu_worklist_to_serve") {
        return;
    }
    let start = today();
    let (_serve, port) = serve(&[]);
    for options in [&["-xe"][..], &["-xi"], &["-xb", "-pdu", "4096"]] {
        let rsp = temp_dir();
        let outcome = run(
            "findscu -W",
            dcmtk_command("findscu")
                .args(["-W", "-X", "-od"])
                .arg(rsp.path())
                .args(options)
                .args([
                    "-aec",
                    "DICOMWIRE",
                    "-k",
                    "ScheduledProcedureStepSequence[0].Modality=MR",
                    "-k",
                    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
                    "-k",
                    "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
                    "-k",
                    "PatientName",
                    "-k",
                    "PatientID",
                    "-k",
                    "AccessionNumber",
                    "127.0.0.1",
                ])
                .arg(port.to_string()),
        );
        outcome.assert_success("findscu -W");
        let got = extracted_records(rsp.path(), WORKLIST_FIELDS);
        let want = expected_worklist([start, today()], "MR", WORKLIST_FIELDS, &got);
        assert!(!want.is_empty(), "the sample worklist has MR items");
        assert_eq!(
            got, want,
            "findscu -W {options:?}: the matches differ from the sample's MR items"
        );
    }
}

/// A `storescp` configuration accepting Verification and Hanging Protocol Storage: with
/// every uncompressed transfer syntax (profile `Uncompressed`) or with Implicit VR Little
/// Endian only (profile `ImplicitOnly`). DCMTK's default profile lacks Hanging Protocol
/// Storage.
const STORESCP_CONFIG: &str = "\
[[TransferSyntaxes]]
[Uncompressed]
TransferSyntax1 = LocalEndianExplicit
TransferSyntax2 = OppositeEndianExplicit
TransferSyntax3 = LittleEndianImplicit
[Implicit]
TransferSyntax1 = LittleEndianImplicit
[[PresentationContexts]]
[HangingProtocolsUncompressed]
PresentationContext1 = VerificationSOPClass\\Uncompressed
PresentationContext2 = HangingProtocolStorage\\Uncompressed
[HangingProtocolsImplicit]
PresentationContext1 = VerificationSOPClass\\Implicit
PresentationContext2 = HangingProtocolStorage\\Implicit
[[Profiles]]
[Uncompressed]
PresentationContexts = HangingProtocolsUncompressed
[ImplicitOnly]
PresentationContexts = HangingProtocolsImplicit
";

/// `dicomwire serve` moves hanging protocols to DCMTK's `storescp` at `dicomwire move`'s
/// request: the instances arrive whole and the move reports 2 completed, to a `storescp`
/// accepting every uncompressed transfer syntax and to one accepting only Implicit VR
/// Little Endian with a 4096-byte maximum PDU (so we convert and fragment).
#[test]
fn dcmtk_storescp_as_move_destination() {
    if !enabled("dcmtk_storescp_as_move_destination") {
        return;
    }
    let work = temp_dir();
    let config = work.path().join("storescp.cfg");
    std::fs::write(&config, STORESCP_CONFIG).expect("write the storescp configuration");
    let mut destinations = Vec::new();
    for (title, profile, extra, transfer_syntax) in [
        ("STORESCP", "Uncompressed", &[][..], None),
        (
            "STOREIMPL",
            "ImplicitOnly",
            &["-pdu", "4096"],
            Some(uids::IMPLICIT_VR_LITTLE_ENDIAN),
        ),
    ] {
        let received = work.path().join(title);
        std::fs::create_dir(&received).expect("create the output directory");
        let port = free_port();
        let mut storescp = Peer::spawn(
            &format!("storescp {title}"),
            dcmtk_command("storescp")
                .args(["-aet", title, "-xf"])
                .arg(&config)
                .arg(profile)
                .args(extra)
                .arg("-od")
                .arg(&received)
                .arg(port.to_string()),
        );
        storescp.wait_for_port(port);
        destinations.push((title, port, received, storescp, transfer_syntax));
    }
    let move_destinations: Vec<String> = destinations
        .iter()
        .flat_map(|(title, port, ..)| {
            [
                "--move-destination".into(),
                format!("{title}=127.0.0.1:{port}"),
            ]
        })
        .collect();
    let args: Vec<&str> = move_destinations.iter().map(String::as_str).collect();
    let (_serve, port) = serve(&args);

    let protocols = [
        sample_protocol("Brain MR 4-up"),
        sample_protocol("PET-CT fusion"),
    ];
    let uid_list = format!(
        "SOPInstanceUID={}\\{}",
        protocols[0].instance.sop_instance_uid, protocols[1].instance.sop_instance_uid
    );
    let peer = format!("127.0.0.1:{port}");
    for (title, _, received, storescp, transfer_syntax) in &mut destinations {
        let outcome = run(
            "dicomwire move",
            &mut dicomwire(&[
                "move",
                "hanging-protocol",
                &peer,
                "--aec",
                "DICOMWIRE",
                "--dest",
                title,
                "-k",
                &uid_list,
            ]),
        );
        outcome.assert_success(&format!("dicomwire move --dest {title}"));
        assert!(
            outcome.stdout.contains("completed 2, failed 0, warning 0"),
            "unexpected move report:\n{}",
            outcome.stdout
        );
        assert_same_instances(&received_objects(received), &protocols);
        if let Some(ts) = transfer_syntax {
            for (path, loaded) in files::load_dir(received).objects {
                assert_eq!(
                    loaded.transfer_syntax,
                    ts.as_str(),
                    "{} was not sent in the only transfer syntax accepted",
                    path.display()
                );
            }
        }
        storescp.assert_running();
    }
}

// ---------------------------------------------------------------------------------------
// Us against DCMTK

/// `dicomwire find worklist` against DCMTK's `wlmscpfs` serving the sample worklist as
/// `.wl` files gets the same matches, value for value, as `findscu -W`, and both get
/// what the files hold: for a query on the modality and one on a patient name pattern.
#[test]
fn dicomwire_find_worklist_to_wlmscpfs() {
    if !enabled("dicomwire_find_worklist_to_wlmscpfs") {
        return;
    }
    let data = temp_dir();
    let ae_dir = data.path().join("WLMSCP");
    std::fs::create_dir(&ae_dir).expect("create the AE directory");
    std::fs::write(ae_dir.join("lockfile"), b"").expect("write the lockfile");
    let items = sample::worklist(today());
    write_worklist(&ae_dir, &items);

    let port = free_port();
    let mut wlmscpfs = Peer::spawn(
        "wlmscpfs",
        dcmtk_command("wlmscpfs")
            .args(["-dfp"])
            .arg(data.path())
            .args(["-csk", "-dhl"])
            .arg(port.to_string()),
    );
    wlmscpfs.wait_for_port(port);
    let peer = format!("127.0.0.1:{port}");

    let return_keys = [
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
    ];
    type Selects = fn(&Record) -> bool;
    let queries: [(&str, &str, Selects); 2] = [
        ("ScheduledProcedureStepSequence[0].Modality", "MR", |r| {
            r["Modality"] == "MR"
        }),
        ("PatientName", "S*", |r| r["PatientName"].starts_with('S')),
    ];
    for (key, value, selects) in queries {
        let matching = format!("{key}={value}");
        let mut keys: Vec<String> = return_keys.iter().map(|k| (*k).to_owned()).collect();
        if key == "PatientName" {
            keys.retain(|k| k != "PatientName");
            keys.push("ScheduledProcedureStepSequence[0].Modality".into());
        }
        keys.push(matching.clone());

        let rsp = temp_dir();
        let mut findscu = dcmtk_command("findscu");
        findscu
            .args(["-W", "-X", "-od"])
            .arg(rsp.path())
            .args(["-aec", "WLMSCP"]);
        for k in &keys {
            findscu.args(["-k", k]);
        }
        let outcome = run("findscu -W", findscu.args(["127.0.0.1", &port.to_string()]));
        outcome.assert_success("findscu -W");
        let dcmtk = extracted_records(rsp.path(), WORKLIST_FIELDS);

        let mut ours = dicomwire(&["find", "worklist", &peer, "--aec", "WLMSCP", "--json"]);
        for k in &keys {
            ours.args(["-k", k]);
        }
        let outcome = run("dicomwire find worklist", &mut ours);
        outcome.assert_success("dicomwire find worklist");
        let dicomwire = json_records(&outcome.stdout, WORKLIST_FIELDS);

        let want: Vec<Record> = sorted(
            items
                .iter()
                .map(|item| object_record(item, WORKLIST_FIELDS))
                .filter(selects)
                .collect(),
        );
        assert!(!want.is_empty(), "{matching}: the sample has matches");
        assert_eq!(dcmtk, want, "{matching}: findscu -W against wlmscpfs");
        assert_eq!(
            dicomwire, dcmtk,
            "{matching}: dicomwire find differs from findscu -W"
        );
    }
    wlmscpfs.assert_running();
}

/// `dicomwire echo` verifies DCMTK's `storescp`.
#[test]
fn dicomwire_echo_to_storescp() {
    if !enabled("dicomwire_echo_to_storescp") {
        return;
    }
    let out = temp_dir();
    let port = free_port();
    let mut storescp = Peer::spawn(
        "storescp",
        dcmtk_command("storescp")
            .args(["-aet", "STORESCP", "-od"])
            .arg(out.path())
            .arg(port.to_string()),
    );
    storescp.wait_for_port(port);
    let peer = format!("127.0.0.1:{port}");
    let outcome = run(
        "dicomwire echo",
        &mut dicomwire(&["echo", &peer, "--aec", "STORESCP"]),
    );
    outcome.assert_success("dicomwire echo");
    assert!(
        outcome.stdout.contains("Success"),
        "unexpected echo report:\n{}",
        outcome.stdout
    );
    storescp.assert_running();
}

// ---------------------------------------------------------------------------------------
// pynetdicom against us

/// pynetdicom's C-FIND on the worklist of `dicomwire serve` gets exactly the sample's MR
/// items, value for value, and a final Success.
#[test]
fn pynetdicom_find_worklist_to_serve() {
    if !enabled("pynetdicom_find_worklist_to_serve") {
        return;
    }
    let start = today();
    let (_serve, port) = serve(&[]);
    let outcome = run(
        "pyscu.py find-worklist",
        python("pyscu.py").args([
            "find-worklist",
            "127.0.0.1",
            &port.to_string(),
            "--aec",
            "DICOMWIRE",
            "--modality",
            "MR",
        ]),
    );
    outcome.assert_success("pyscu.py find-worklist");
    let (lines, last) = script_lines(&outcome);
    assert_eq!(last["status"], 0, "final status");
    let fields = &WORKLIST_FIELDS[..5];
    let got = script_records(&lines, "match", fields);
    let want = expected_worklist([start, today()], "MR", fields, &got);
    assert!(!want.is_empty(), "the sample worklist has MR items");
    assert_eq!(got, want);
}

/// pynetdicom's C-FIND on the hanging protocols of `dicomwire serve` gets the five
/// sample protocols with their UIDs, names, levels and screen counts; with a Modality key
/// in the Hanging Protocol Definition Sequence (sequence matching), those defined for it.
#[test]
fn pynetdicom_find_hanging_protocols_to_serve() {
    if !enabled("pynetdicom_find_hanging_protocols_to_serve") {
        return;
    }
    let (_serve, port) = serve(&[]);
    for modality in [None, Some("CT")] {
        let mut command = python("pyscu.py");
        command.args(["find-hp", "127.0.0.1", &port.to_string()]);
        if let Some(m) = modality {
            command.args(["--modality", m]);
        }
        let outcome = run("pyscu.py find-hp", &mut command);
        outcome.assert_success("pyscu.py find-hp");
        let (lines, last) = script_lines(&outcome);
        assert_eq!(last["status"], 0, "final status");
        let got = script_records(&lines, "match", HANGING_PROTOCOL_FIELDS);
        let want = sorted(
            sample::hanging_protocols()
                .iter()
                .filter(|p| modality.is_none_or(|m| defined_for(&p.object, m)))
                .map(|p| object_record(&p.object, HANGING_PROTOCOL_FIELDS))
                .collect(),
        );
        assert!(!want.is_empty());
        assert_eq!(got, want, "modality {modality:?}");
    }
}

/// Whether an item of a hanging protocol's Definition Sequence names `modality`.
fn defined_for(protocol: &InMemDicomObject, modality: &str) -> bool {
    protocol
        .get(tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE)
        .and_then(|e| e.items())
        .is_some_and(|items| {
            items.iter().any(|item| {
                object_value(item, &[tags::MODALITY])
                    .split('\\')
                    .any(|m| m == modality)
            })
        })
}

/// pynetdicom's C-GET of two hanging protocols from `dicomwire serve`, proposing the SCP
/// role for Hanging Protocol Storage in an SCP/SCU Role Selection item: we accept the
/// role, send both instances on the association, and end with Success, 2 completed.
#[test]
fn pynetdicom_get_with_role_selection_to_serve() {
    if !enabled("pynetdicom_get_with_role_selection_to_serve") {
        return;
    }
    let (_serve, port) = serve(&[]);
    let protocols = [
        sample_protocol("Chest CT prior"),
        sample_protocol("CR chest PA/LAT"),
    ];
    let outcome = run(
        "pyscu.py get",
        python("pyscu.py").args([
            "get",
            "127.0.0.1",
            &port.to_string(),
            "--uid",
            &protocols[0].instance.sop_instance_uid,
            "--uid",
            &protocols[1].instance.sop_instance_uid,
        ]),
    );
    outcome.assert_success("pyscu.py get");
    let (lines, last) = script_lines(&outcome);
    assert_eq!(
        last["as_scp"], true,
        "the SCP role was not accepted: {last}"
    );
    assert_eq!(last["status"], 0, "final status: {last}");
    assert_eq!(last["completed"], 2, "{last}");
    assert_eq!(last["failed"], 0, "{last}");
    let fields: &[Field] = &[
        ("SOPInstanceUID", &[tags::SOP_INSTANCE_UID]),
        ("SOPClassUID", &[tags::SOP_CLASS_UID]),
        ("HangingProtocolName", &[tags::HANGING_PROTOCOL_NAME]),
    ];
    let got = script_records(&lines, "received", fields);
    let want = sorted(
        protocols
            .iter()
            .map(|p| object_record(&p.object, fields))
            .collect(),
    );
    assert_eq!(got, want);
}

/// pynetdicom's C-MOVE of a hanging protocol from `dicomwire serve` to pynetdicom's own
/// Storage SCP: the instance arrives there and the move ends with Success, 1 completed.
#[test]
fn pynetdicom_move_to_serve() {
    if !enabled("pynetdicom_move_to_serve") {
        return;
    }
    let store_port = free_port();
    let destination = format!("PYSTORE=127.0.0.1:{store_port}");
    let (_serve, port) = serve(&["--move-destination", &destination]);
    let protocol = sample_protocol("Mammo screen 4up");
    let outcome = run(
        "pyscu.py move",
        python("pyscu.py").args([
            "move",
            "127.0.0.1",
            &port.to_string(),
            "--uid",
            &protocol.instance.sop_instance_uid,
            "--dest",
            "PYSTORE",
            "--store-port",
            &store_port.to_string(),
        ]),
    );
    outcome.assert_success("pyscu.py move");
    let (lines, last) = script_lines(&outcome);
    assert_eq!(last["status"], 0, "final status: {last}");
    assert_eq!(last["completed"], 1, "{last}");
    assert_eq!(last["failed"], 0, "{last}");
    assert_eq!(last["received"], 1, "{last}");
    let fields: &[Field] = &[
        ("SOPInstanceUID", &[tags::SOP_INSTANCE_UID]),
        ("HangingProtocolName", &[tags::HANGING_PROTOCOL_NAME]),
    ];
    assert_eq!(
        script_records(&lines, "received", fields),
        vec![object_record(&protocol.object, fields)]
    );
}

// ---------------------------------------------------------------------------------------
// Us against pynetdicom

/// A running `pyscp.py` and what it serves.
struct PyScp {
    /// The process; killed on drop.
    _peer: Peer,
    /// Its port on 127.0.0.1.
    port: u16,
    /// The worklist items it serves.
    items: Vec<InMemDicomObject>,
    /// The hanging protocols it serves.
    protocols: Vec<dicomwire::service::StoredInstance>,
    /// The directory holding their files.
    _data: tempfile::TempDir,
}

/// A pynetdicom SCP serving a part of the sample worklist and two hanging protocols from
/// files; `extra` goes to pyscp.py.
fn pynetdicom_scp(extra: &[String]) -> PyScp {
    let data = temp_dir();
    let worklist_dir = data.path().join("worklist");
    let hanging_dir = data.path().join("hanging");
    std::fs::create_dir(&worklist_dir).expect("create the worklist directory");
    std::fs::create_dir(&hanging_dir).expect("create the hanging protocol directory");
    // Every third item: a dozen, over several modalities, with non-ASCII names.
    let items: Vec<InMemDicomObject> = sample::worklist(today()).into_iter().step_by(3).collect();
    write_worklist(&worklist_dir, &items);
    let protocols = vec![
        sample_protocol("Brain MR 4-up"),
        sample_protocol("CR chest PA/LAT"),
    ];
    write_hanging_protocols(&hanging_dir, &protocols);
    let (peer, port) = pyscp(&worklist_dir, &hanging_dir, extra);
    PyScp {
        _peer: peer,
        port,
        items,
        protocols,
        _data: data,
    }
}

/// `dicomwire find worklist` against the pynetdicom SCP: the matches are the items it
/// serves with the queried modality, value for value (UTF-8 names included).
#[test]
fn dicomwire_find_worklist_to_pynetdicom() {
    if !enabled("dicomwire_find_worklist_to_pynetdicom") {
        return;
    }
    let scp = pynetdicom_scp(&[]);
    let (peer, items) = (format!("127.0.0.1:{}", scp.port), &scp.items);
    let modalities: Vec<String> = items
        .iter()
        .map(|i| object_value(i, WORKLIST_FIELDS[3].1))
        .collect();
    for modality in ["MR", "CT"] {
        let want: Vec<Record> = sorted(
            items
                .iter()
                .zip(&modalities)
                .filter(|(_, m)| *m == modality)
                .map(|(item, _)| object_record(item, WORKLIST_FIELDS))
                .collect(),
        );
        assert!(!want.is_empty(), "the items served include {modality}");
        let key = format!("ScheduledProcedureStepSequence[0].Modality={modality}");
        let outcome = run(
            "dicomwire find worklist",
            &mut dicomwire(&[
                "find", "worklist", &peer, "--aec", "PYSCP", "--json", "-k", &key,
            ]),
        );
        outcome.assert_success("dicomwire find worklist");
        assert!(
            outcome.stderr.contains(&format!("{} matches", want.len())),
            "{}",
            outcome.stderr
        );
        assert_eq!(json_records(&outcome.stdout, WORKLIST_FIELDS), want);
    }
}

/// `dicomwire find hanging-protocol` against the pynetdicom SCP: both protocols, by UID
/// and name, and one when matching on its name.
#[test]
fn dicomwire_find_hanging_protocols_to_pynetdicom() {
    if !enabled("dicomwire_find_hanging_protocols_to_pynetdicom") {
        return;
    }
    let scp = pynetdicom_scp(&[]);
    let (peer, protocols) = (format!("127.0.0.1:{}", scp.port), &scp.protocols);
    let records: Vec<Record> = protocols
        .iter()
        .map(|p| object_record(&p.object, HANGING_PROTOCOL_FIELDS))
        .collect();

    let outcome = run(
        "dicomwire find hanging-protocol",
        &mut dicomwire(&["find", "hanging-protocol", &peer, "--json"]),
    );
    outcome.assert_success("dicomwire find hanging-protocol");
    assert_eq!(
        json_records(&outcome.stdout, HANGING_PROTOCOL_FIELDS),
        sorted(records.clone())
    );

    let outcome = run(
        "dicomwire find hanging-protocol",
        &mut dicomwire(&[
            "find",
            "hanging-protocol",
            &peer,
            "--json",
            "-k",
            "HangingProtocolName=Brain*",
        ]),
    );
    outcome.assert_success("dicomwire find hanging-protocol -k HangingProtocolName=Brain*");
    assert_eq!(
        json_records(&outcome.stdout, HANGING_PROTOCOL_FIELDS),
        vec![records[0].clone()]
    );
}

/// `dicomwire get hanging-protocol` from the pynetdicom SCP (which accepts our SCP role
/// for Hanging Protocol Storage) writes both protocols, element for element as served.
#[test]
fn dicomwire_get_to_pynetdicom() {
    if !enabled("dicomwire_get_to_pynetdicom") {
        return;
    }
    let scp = pynetdicom_scp(&[]);
    let (peer, protocols) = (format!("127.0.0.1:{}", scp.port), &scp.protocols);
    let out = temp_dir();
    let uid_list = format!(
        "SOPInstanceUID={}\\{}",
        protocols[0].instance.sop_instance_uid, protocols[1].instance.sop_instance_uid
    );
    let outcome = run(
        "dicomwire get",
        dicomwire(&["get", "hanging-protocol", &peer, "-k", &uid_list, "--out"]).arg(out.path()),
    );
    outcome.assert_success("dicomwire get");
    assert!(
        outcome.stdout.contains("completed 2, failed 0, warning 0"),
        "unexpected get report:\n{}",
        outcome.stdout
    );
    assert_same_instances(&received_objects(out.path()), protocols);
}

/// `dicomwire move hanging-protocol` asks the pynetdicom SCP to send a protocol to a
/// `dicomwire serve --store` instance: it arrives there whole and the move succeeds; a
/// move to a destination the SCP does not know ends with 0xA801 and a failed exit.
#[test]
fn dicomwire_move_to_pynetdicom() {
    if !enabled("dicomwire_move_to_pynetdicom") {
        return;
    }
    let store = temp_dir();
    let store_dir = store.path().to_str().expect("a UTF-8 path").to_owned();
    let (_store, store_port) = serve(&["--ae-title", "DWSTORE", "--store", &store_dir]);
    let scp = pynetdicom_scp(&[format!("--move-dest=DWSTORE=127.0.0.1:{store_port}")]);
    let (peer, protocols) = (format!("127.0.0.1:{}", scp.port), &scp.protocols);
    let key = format!("SOPInstanceUID={}", protocols[1].instance.sop_instance_uid);
    let outcome = run(
        "dicomwire move",
        &mut dicomwire(&[
            "move",
            "hanging-protocol",
            &peer,
            "--aec",
            "PYSCP",
            "--dest",
            "DWSTORE",
            "-k",
            &key,
        ]),
    );
    outcome.assert_success("dicomwire move");
    assert!(
        outcome.stdout.contains("completed 1, failed 0, warning 0"),
        "unexpected move report:\n{}",
        outcome.stdout
    );
    assert_same_instances(&received_objects(store.path()), &protocols[1..]);

    // A destination the SCP does not know: a failure status, and a failed exit.
    let outcome = run(
        "dicomwire move",
        &mut dicomwire(&[
            "move",
            "hanging-protocol",
            &peer,
            "--aec",
            "PYSCP",
            "--dest",
            "NOWHERE",
            "-k",
            &key,
        ]),
    );
    assert!(
        !outcome.status.success(),
        "a move to an unknown destination exited with success:\n{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("0xA801"),
        "unexpected move report:\n{}",
        outcome.stdout
    );
}

// ---------------------------------------------------------------------------------------
// dicomwire against dicomwire: large instances through the files of both ends

/// The files `dir` holds, by name; fails on a leftover temporary file.
fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read the output directory")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with('.'), "a temporary file was left: {name}");
            (
                name,
                std::fs::read(entry.path()).expect("read a received file"),
            )
        })
        .collect()
}

/// `dicomwire get --out` from `dicomwire serve`, and a `dicomwire move` from it to a
/// second `dicomwire serve --store`, of instances small and large (many PDUs, most of
/// their fragments lent from the transports' read buffers rather than copied): every file
/// arrives byte for byte as it was served, and no temporary file is left. Runs without
/// peers: both ends are ours.
#[test]
fn large_instances_arrive_byte_for_byte_through_get_and_move() {
    let sources = padded_protocols(&[5 << 20, (2 << 20) + 1, 100 << 10]);
    let served = temp_dir();
    for (uid, file) in &sources {
        std::fs::write(served.path().join(files::instance_file_name(uid)), file)
            .expect("write a protocol");
    }
    let expected: BTreeMap<String, Vec<u8>> = sources
        .iter()
        .map(|(uid, file)| (files::instance_file_name(uid), file.clone()))
        .collect();
    let uid_list = sources
        .iter()
        .map(|(uid, _)| uid.as_str())
        .collect::<Vec<_>>()
        .join("\\");
    let key = format!("SOPInstanceUID={uid_list}");

    let store = temp_dir();
    let store_dir = store.path().to_str().expect("a UTF-8 path").to_owned();
    let (_store, store_port) = serve(&["--ae-title", "DWSTORE", "--store", &store_dir]);
    let served_dir = served.path().to_str().expect("a UTF-8 path").to_owned();
    let destination = format!("DWSTORE=127.0.0.1:{store_port}");
    let (_scp, port) = serve(&[
        "--hanging-protocols",
        &served_dir,
        "--move-destination",
        &destination,
    ]);
    let peer = format!("127.0.0.1:{port}");

    let out = temp_dir();
    let got = run(
        "dicomwire get",
        dicomwire(&["get", "hanging-protocol", &peer, "-k", &key, "--out"]).arg(out.path()),
    );
    got.assert_success("dicomwire get");
    assert!(
        files_in(out.path()) == expected,
        "the files of get --out differ from the served ones"
    );

    let moved = run(
        "dicomwire move",
        &mut dicomwire(&[
            "move",
            "hanging-protocol",
            &peer,
            "--dest",
            "DWSTORE",
            "-k",
            &key,
        ]),
    );
    moved.assert_success("dicomwire move");
    assert!(
        moved.stdout.contains("completed 3, failed 0, warning 0"),
        "unexpected move report:\n{}",
        moved.stdout
    );
    assert!(
        files_in(store.path()) == expected,
        "the files of serve --store differ from the served ones"
    );
}

/// The same as [`large_instances_arrive_byte_for_byte_through_get_and_move`] over TLS: a
/// `get --tls` from `serve`'s TLS listener, and a `move --tls` that `serve` carries out
/// to a `tls://` destination (a second `serve --store`, TLS only, requiring our
/// certificate): records split across PDUs and PDUs across records, every byte arrives.
/// Runs without peers.
#[test]
fn large_instances_arrive_byte_for_byte_over_tls() {
    let sources = padded_protocols(&[5 << 20, (2 << 20) + 1, 100 << 10]);
    let served = temp_dir();
    for (uid, file) in &sources {
        std::fs::write(served.path().join(files::instance_file_name(uid)), file)
            .expect("write a protocol");
    }
    let expected: BTreeMap<String, Vec<u8>> = sources
        .iter()
        .map(|(uid, file)| (files::instance_file_name(uid), file.clone()))
        .collect();
    let uid_list = sources
        .iter()
        .map(|(uid, _)| uid.as_str())
        .collect::<Vec<_>>()
        .join("\\");
    let key = format!("SOPInstanceUID={uid_list}");
    let tls = TlsPeers::new(Pki::new("Test CA"));

    let store = temp_dir();
    let store_dir = store.path().to_str().expect("a UTF-8 path").to_owned();
    let (_store, _, store_port) = serve_tls(
        &[
            &["--ae-title", "DWSTORE", "--store", &store_dir][..],
            &strs(&tls.serve),
        ]
        .concat(),
    );
    let served_dir = served.path().to_str().expect("a UTF-8 path").to_owned();
    let destination = format!("DWSTORE=tls://127.0.0.1:{store_port}");
    let (_scp, _, port) = serve_tls(
        &[
            &[
                "--hanging-protocols",
                &served_dir,
                "--move-destination",
                &destination,
            ][..],
            &strs(&tls.serve),
        ]
        .concat(),
    );
    let peer = format!("127.0.0.1:{port}");

    let out = temp_dir();
    let got = run(
        "dicomwire get --tls",
        dicomwire(&["get", "hanging-protocol", &peer, "-k", &key, "--out"])
            .arg(out.path())
            .args(&tls.scu),
    );
    got.assert_success("dicomwire get --tls");
    assert!(
        files_in(out.path()) == expected,
        "the files of get --tls --out differ from the served ones"
    );

    let moved = run(
        "dicomwire move --tls",
        dicomwire(&[
            "move",
            "hanging-protocol",
            &peer,
            "--dest",
            "DWSTORE",
            "-k",
            &key,
        ])
        .args(&tls.scu),
    );
    moved.assert_success("dicomwire move --tls");
    assert!(
        moved.stdout.contains("completed 3, failed 0, warning 0"),
        "unexpected move report:\n{}",
        moved.stdout
    );
    assert!(
        files_in(store.path()) == expected,
        "the files of serve --store (over TLS) differ from the served ones"
    );
}

// ---------------------------------------------------------------------------------------
// Over TLS (PS3.15 B.12), against DCMTK and pynetdicom
//
// DCMTK 3.6.7's default profile (Non-downgrading BCP 195) negotiates TLS 1.2 with
// ECDHE-RSA suites only, so these certificates are RSA: their keys made by `openssl
// genpkey`, the certificates by rcgen, at test time (support/pki.rs); none is committed.

/// A CA and, as files, a certificate for the loopback server (`localhost`, 127.0.0.1)
/// and one for a client, with the flags that use them.
struct TlsPeers {
    pki: Pki,
    server: Leaf,
    client: Leaf,
    /// `serve`'s `--tls-cert --tls-key --tls-ca` (the server certificate).
    serve: Vec<String>,
    /// A client command's `--tls --tls-ca --tls-cert --tls-key` (the client certificate).
    scu: Vec<String>,
}

impl TlsPeers {
    fn new(pki: Pki) -> Self {
        let server = pki.leaf("server", LOOPBACK);
        let client = pki.leaf("client", &["modality.example"]);
        let serve = [server.flags(), vec!["--tls-ca".into(), pki.ca_arg()]].concat();
        let scu = [
            vec!["--tls".into(), "--tls-ca".into(), pki.ca_arg()],
            client.flags(),
        ]
        .concat();
        Self {
            pki,
            server,
            client,
            serve,
            scu,
        }
    }

    /// DCMTK's `+tls KEY CERT +cf CA` for `leaf`.
    fn dcmtk(&self, leaf: &Leaf) -> Vec<String> {
        vec![
            "+tls".into(),
            leaf.key.display().to_string(),
            leaf.cert.display().to_string(),
            "+cf".into(),
            self.pki.ca_arg(),
        ]
    }

    /// pynetdicom's `--tls-ca --tls-cert --tls-key` (the scripts' flags) for `leaf`.
    fn python(&self, leaf: &Leaf) -> Vec<String> {
        [vec!["--tls-ca".into(), self.pki.ca_arg()], leaf.flags()].concat()
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `echoscu +tls` (DCMTK) verifies `dicomwire serve` on its TLS listener with mutual
/// authentication; `echoscu +tla` (TLS, no certificate of its own) is refused, and
/// `serve` logs why in one line.
#[test]
fn dcmtk_echoscu_over_tls_to_serve() {
    if !enabled("dcmtk_echoscu_over_tls_to_serve") {
        return;
    }
    let tls = TlsPeers::new(Pki::rsa("Test CA"));
    let (mut serve, _, port) = serve_tls(&strs(&tls.serve));
    let outcome = run(
        "echoscu +tls",
        dcmtk_command("echoscu")
            .arg("-v")
            .args(tls.dcmtk(&tls.client))
            .args(["-aec", "DICOMWIRE", "127.0.0.1", &port.to_string()]),
    );
    outcome.assert_success("echoscu +tls");
    assert!(
        outcome.stderr.contains("Received Echo Response (Success)"),
        "echoscu did not report success:\n{}",
        outcome.stderr
    );
    let outcome = run(
        "echoscu +tla",
        dcmtk_command("echoscu").args([
            "+tla",
            "+cf",
            &tls.pki.ca_arg(),
            "127.0.0.1",
            &port.to_string(),
        ]),
    );
    assert!(
        !outcome.status.success(),
        "echoscu without a certificate was served:\n{}",
        outcome.stderr
    );
    serve.wait_for_log("no client certificate was presented, but the server requires one");
}

/// `findscu -W +tls` (DCMTK) queries the sample worklist of `dicomwire serve` over TLS
/// and gets exactly the sample's MR items, as it does in plain (`dcmtk_findscu_worklist_to_serve`).
#[test]
fn dcmtk_findscu_worklist_over_tls_to_serve() {
    if !enabled("dcmtk_findscu_worklist_over_tls_to_serve") {
        return;
    }
    let start = today();
    let tls = TlsPeers::new(Pki::rsa("Test CA"));
    let (_serve, _, port) = serve_tls(&strs(&tls.serve));
    let rsp = temp_dir();
    let outcome = run(
        "findscu -W +tls",
        dcmtk_command("findscu")
            .args(["-W", "-X", "-od"])
            .arg(rsp.path())
            .args(tls.dcmtk(&tls.client))
            .args([
                "-aec",
                "DICOMWIRE",
                "-k",
                "ScheduledProcedureStepSequence[0].Modality=MR",
                "-k",
                "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
                "-k",
                "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
                "-k",
                "PatientName",
                "-k",
                "PatientID",
                "-k",
                "AccessionNumber",
                "127.0.0.1",
            ])
            .arg(port.to_string()),
    );
    outcome.assert_success("findscu -W +tls");
    let got = extracted_records(rsp.path(), WORKLIST_FIELDS);
    let want = expected_worklist([start, today()], "MR", WORKLIST_FIELDS, &got);
    assert!(!want.is_empty(), "the sample worklist has MR items");
    assert_eq!(
        got, want,
        "findscu -W +tls: the matches differ from the sample's MR items"
    );
}

/// `storescu +tls` (DCMTK) stores two hanging protocols to `dicomwire serve --store` over
/// TLS: both arrive whole.
#[test]
fn dcmtk_storescu_over_tls_to_serve_store() {
    if !enabled("dcmtk_storescu_over_tls_to_serve_store") {
        return;
    }
    let tls = TlsPeers::new(Pki::rsa("Test CA"));
    let work = temp_dir();
    let config = work.path().join("storescu.cfg");
    std::fs::write(&config, STORESCP_CONFIG).expect("write the storescu configuration");
    let (sent, stored) = (work.path().join("sent"), work.path().join("stored"));
    std::fs::create_dir(&sent).expect("create the input directory");
    let protocols = [
        sample_protocol("Brain MR 4-up"),
        sample_protocol("PET-CT fusion"),
    ];
    write_hanging_protocols(&sent, &protocols);
    let store_dir = stored.to_str().expect("a UTF-8 path");
    let (_serve, _, port) = serve_tls(&[&["--store", store_dir][..], &strs(&tls.serve)].concat());
    let mut storescu = dcmtk_command("storescu");
    storescu
        .arg("-xf")
        .arg(&config)
        .arg("Uncompressed")
        .args(tls.dcmtk(&tls.client))
        .args(["-aec", "DICOMWIRE", "127.0.0.1", &port.to_string()]);
    for entry in std::fs::read_dir(&sent).expect("the input directory") {
        storescu.arg(entry.expect("a file").path());
    }
    run("storescu +tls", &mut storescu).assert_success("storescu +tls");
    assert_same_instances(&received_objects(&stored), &protocols);
}

/// `storescp +tls` (DCMTK), requiring a client certificate: `dicomwire echo --tls`
/// verifies it; without a certificate, its error is one line naming the refusal.
#[test]
fn dicomwire_echo_over_tls_to_storescp() {
    if !enabled("dicomwire_echo_over_tls_to_storescp") {
        return;
    }
    let tls = TlsPeers::new(Pki::rsa("Test CA"));
    let out = temp_dir();
    let port = free_port();
    let mut storescp = Peer::spawn(
        "storescp +tls",
        dcmtk_command("storescp")
            .args(tls.dcmtk(&tls.server))
            .args(["-aet", "STORESCP", "-od"])
            .arg(out.path())
            .arg(port.to_string()),
    );
    storescp.wait_for_port(port);
    let peer = format!("127.0.0.1:{port}");
    let outcome = run(
        "dicomwire echo --tls",
        dicomwire(&["echo", &peer, "--aec", "STORESCP"]).args(&tls.scu),
    );
    outcome.assert_success("dicomwire echo --tls");
    assert!(
        outcome.stdout.contains("Success"),
        "unexpected echo report:\n{}",
        outcome.stdout
    );
    let outcome = run(
        "dicomwire echo --tls without a certificate",
        &mut dicomwire(&[
            "echo",
            &peer,
            "--aec",
            "STORESCP",
            "--tls",
            "--tls-ca",
            &tls.pki.ca_arg(),
        ]),
    );
    assert!(!outcome.status.success(), "{}", outcome.stdout);
    assert!(
        outcome.stderr.trim().lines().count() == 1
            && outcome
                .stderr
                .starts_with(&format!("dicomwire: {peer}: TLS: "))
            && outcome
                .stderr
                .contains("no client certificate was presented"),
        "{}",
        outcome.stderr
    );
    storescp.assert_running();
}

/// A C-MOVE that `dicomwire move --tls` asks of `dicomwire serve` (on its TLS listener)
/// goes to DCMTK's `storescp +tls`, a `tls://` destination requiring our certificate:
/// the instances arrive whole and the move reports 2 completed.
#[test]
fn dcmtk_storescp_over_tls_as_move_destination() {
    if !enabled("dcmtk_storescp_over_tls_as_move_destination") {
        return;
    }
    let tls = TlsPeers::new(Pki::rsa("Test CA"));
    let work = temp_dir();
    let config = work.path().join("storescp.cfg");
    std::fs::write(&config, STORESCP_CONFIG).expect("write the storescp configuration");
    let received = work.path().join("received");
    std::fs::create_dir(&received).expect("create the output directory");
    let store_port = free_port();
    let mut storescp = Peer::spawn(
        "storescp +tls",
        dcmtk_command("storescp")
            .args(tls.dcmtk(&tls.server))
            .args(["-aet", "STORESCP", "-xf"])
            .arg(&config)
            .arg("Uncompressed")
            .arg("-od")
            .arg(&received)
            .arg(store_port.to_string()),
    );
    storescp.wait_for_port(store_port);
    let destination = format!("STORESCP=tls://127.0.0.1:{store_port}");
    let (serve, _, port) =
        serve_tls(&[&["--move-destination", &destination][..], &strs(&tls.serve)].concat());
    let protocols = [
        sample_protocol("Brain MR 4-up"),
        sample_protocol("PET-CT fusion"),
    ];
    let uid_list = format!(
        "SOPInstanceUID={}\\{}",
        protocols[0].instance.sop_instance_uid, protocols[1].instance.sop_instance_uid
    );
    let outcome = run(
        "dicomwire move --tls",
        dicomwire(&[
            "move",
            "hanging-protocol",
            &format!("127.0.0.1:{port}"),
            "--aec",
            "DICOMWIRE",
            "--dest",
            "STORESCP",
            "-k",
            &uid_list,
        ])
        .args(&tls.scu),
    );
    outcome.assert_success("dicomwire move --tls --dest STORESCP");
    assert!(
        outcome.stdout.contains("completed 2, failed 0, warning 0"),
        "unexpected move report:\n{}\n{}\n{}",
        outcome.stdout,
        serve.logs(),
        storescp.logs()
    );
    assert_same_instances(&received_objects(&received), &protocols);
    storescp.assert_running();
}

/// pynetdicom's C-FIND over TLS (`AE.associate(..., tls_args=(ssl.SSLContext, name))`,
/// with a client certificate) on the worklist of `dicomwire serve`'s TLS listener gets
/// exactly the sample's MR items: with TLS 1.3 (what both ends prefer) and with TLS 1.2
/// only (ECDHE-RSA with AES-GCM, what B.11 peers speak).
#[test]
fn pynetdicom_find_worklist_over_tls_to_serve() {
    if !enabled("pynetdicom_find_worklist_over_tls_to_serve") {
        return;
    }
    let start = today();
    let tls = TlsPeers::new(Pki::rsa("Test CA"));
    let (_serve, _, port) = serve_tls(&strs(&tls.serve));
    for versions in [&[][..], &["--tls12"]] {
        let outcome = run(
            "pyscu.py find-worklist (TLS)",
            python("pyscu.py")
                .args([
                    "find-worklist",
                    "127.0.0.1",
                    &port.to_string(),
                    "--aec",
                    "DICOMWIRE",
                    "--modality",
                    "MR",
                ])
                .args(tls.python(&tls.client))
                .args(versions),
        );
        outcome.assert_success(&format!("pyscu.py find-worklist over TLS {versions:?}"));
        let (lines, last) = script_lines(&outcome);
        assert_eq!(last["status"], 0, "final status");
        let fields = &WORKLIST_FIELDS[..5];
        let got = script_records(&lines, "match", fields);
        let want = expected_worklist([start, today()], "MR", fields, &got);
        assert!(!want.is_empty(), "the sample worklist has MR items");
        assert_eq!(got, want, "{versions:?}");
    }
}

/// `dicomwire find worklist --tls` against pynetdicom serving over TLS
/// (`AE.start_server(..., ssl_context=ssl.SSLContext)`, client certificates required):
/// the matches are the items it serves with the queried modality, value for value.
#[test]
fn dicomwire_find_worklist_over_tls_to_pynetdicom() {
    if !enabled("dicomwire_find_worklist_over_tls_to_pynetdicom") {
        return;
    }
    let tls = TlsPeers::new(Pki::rsa("Test CA"));
    let scp = pynetdicom_scp(&tls.python(&tls.server));
    let (peer, items) = (format!("127.0.0.1:{}", scp.port), &scp.items);
    let want: Vec<Record> = sorted(
        items
            .iter()
            .filter(|item| object_value(item, WORKLIST_FIELDS[3].1) == "MR")
            .map(|item| object_record(item, WORKLIST_FIELDS))
            .collect(),
    );
    assert!(!want.is_empty(), "the items served include MR");
    let outcome = run(
        "dicomwire find worklist --tls",
        dicomwire(&[
            "find",
            "worklist",
            &peer,
            "--aec",
            "PYSCP",
            "--json",
            "-k",
            "ScheduledProcedureStepSequence[0].Modality=MR",
        ])
        .args(&tls.scu),
    );
    outcome.assert_success("dicomwire find worklist --tls");
    assert_eq!(json_records(&outcome.stdout, WORKLIST_FIELDS), want);
}
