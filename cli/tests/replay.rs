//! `dicomwire replay`: exit codes 0 (matched or decoded), 1 (diverged, the divergence
//! explained) and 2 (unusable input), on real fixture captures and altered copies.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/captures")
}

fn dicomwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dicomwire"))
        .args(args)
        .output()
        .expect("the dicomwire binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of a fixture with the first occurrence of a hex substring replaced, in a
/// temporary directory.
fn altered(name: &str, from: &str, to: &str) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(captures().join(name)).unwrap();
    assert!(text.contains(from), "{from} is not in {name}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    (dir, path)
}

#[test]
fn a_real_capture_replays_matched_in_both_roles_and_exits_0() {
    let capture = captures().join("mwl_find_3_dcmtk.jsonl");
    for role in ["scp", "scu"] {
        let out = dicomwire(&["replay", capture.to_str().unwrap(), "--as", role]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        let text = stdout(&out);
        assert!(text.contains("Sta1 --Evt"), "{text}");
        assert!(text.contains("C-FIND-RSP msg-id-responded=1"), "{text}");
        assert!(
            text.contains("status=0xFF00 Pending (Matches continuing"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("outcome: matched"), "{text}");
        assert!(stderr(&out).contains(&format!("flow 0 as {role}: matched")));
    }
}

#[test]
fn without_as_both_sides_are_decoded_and_it_exits_0() {
    let capture = captures().join("hp_move_3_pynetdicom.pcapng");
    let out = dicomwire(&["replay", capture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // The C-MOVE association and its sub-association, each with both directions.
    assert!(
        text.contains("=== flow 0") && text.contains("=== flow 1"),
        "{text}"
    );
    assert!(text.contains("C→S P-DATA C-MOVE-RQ"), "{text}");
    assert!(text.contains("S→C P-DATA C-MOVE-RSP"), "{text}");
    assert!(text.contains("C→S P-DATA C-STORE-RQ"), "{text}");
    assert!(!text.contains("Sta1"), "decoding involves no state machine");
}

#[test]
fn an_altered_capture_exits_1_naming_the_divergence() {
    // The A-ASSOCIATE-AC's presentation context 1: result 0 (acceptance) becomes 3.
    let (_dir, path) = altered("echo_dcmtk.jsonl", "2100001901000000", "2100001901000300");
    let out = dicomwire(&["replay", path.to_str().unwrap(), "--as", "scu"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("DIVERGED at C→S PDU #1"), "{text}");
    assert!(text.contains("recorded: C-ECHO-RQ"), "{text}");
    assert!(
        stderr(&out).contains("flow 0 as scu: DIVERGED"),
        "{}",
        stderr(&out)
    );
    // As SCP our acceptor, configured from the altered answer, rejects the context too
    // and then aborts when the echo arrives on it.
    let out = dicomwire(&["replay", path.to_str().unwrap(), "--as", "scp"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("ours:     A-ABORT"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_changed_status_exits_1_as_scp() {
    // The first C-FIND-RSP's status 0xFF00 (pending) becomes 0x0000 (success) with its
    // identifier still attached: our core refuses a final C-FIND-RSP with an identifier.
    let (_dir, path) = altered(
        "mwl_find_3_dcmtk.jsonl",
        "0000090200000000ff",
        "000009020000000000",
    );
    let out = dicomwire(&["replay", path.to_str().unwrap(), "--as", "scp"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("DIVERGED at S→C PDU #"), "{text}");
    assert!(text.contains("C-FIND-RSP takes no data set"), "{text}");
}

#[test]
fn unusable_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x00\x01 not a capture").unwrap();
    let missing = dir.path().join("missing.jsonl");
    let capture = captures().join("echo_dcmtk.jsonl");
    for args in [
        vec!["replay", junk.to_str().unwrap(), "--as", "scp"],
        vec!["replay", missing.to_str().unwrap()],
        vec![
            "replay",
            capture.to_str().unwrap(),
            "--as",
            "scu",
            "--flow",
            "1",
        ],
    ] {
        let out = dicomwire(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("dicomwire replay: "),
            "{}",
            stderr(&out)
        );
    }
    let out = dicomwire(&["replay", capture.to_str().unwrap(), "--flow", "1"]);
    assert!(
        stderr(&out).contains("no flow 1; the capture has 1"),
        "{}",
        stderr(&out)
    );
}
