//! Every capture in `tests/fixtures/captures/` decoded and replayed in both roles, each
//! transcript compared with its golden file in `tests/fixtures/replay/`
//! (`<capture-file-name>.<decode|scp|scu>.txt`). Every association must replay as
//! `Matched`. `DICOMWIRE_BLESS=1` rewrites the golden files (it never blesses a
//! divergence: the test fails first).

use std::path::{Path, PathBuf};
use std::time::Instant;

use dicomwire_replay::capture::{Capture, CaptureLimits};
use dicomwire_replay::{Outcome, Replay, ReplayRole, decode};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Every capture file: JSON lines, pcap and pcapng.
fn captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("captures"))
        .expect("captures directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("jsonl" | "pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    files
}

/// The transcript of every flow of a capture, one after the other, and whether each
/// association matched.
fn transcript(capture: &Capture, mode: Option<ReplayRole>) -> (String, Vec<String>) {
    let origin = Instant::now();
    let mut text = String::new();
    let mut failures = Vec::new();
    for (n, flow) in capture.flows.iter().enumerate() {
        text.push_str(&format!("=== flow {n}\n"));
        match mode {
            None => text.push_str(&decode(flow).to_string()),
            Some(role) => {
                let report = Replay::new(flow, role, origin).run();
                text.push_str(&report.transcript.to_string());
                match report.outcome {
                    Outcome::Matched => {}
                    other => failures.push(format!("flow {n} as {role}: {other}")),
                }
            }
        }
    }
    (text, failures)
}

#[test]
fn every_capture_replays_and_matches_its_golden_transcripts() {
    let bless = std::env::var_os("DICOMWIRE_BLESS").is_some();
    let files = captures();
    assert!(files.len() >= 20, "only {} captures found", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(file).unwrap();
        let capture = Capture::parse(&bytes, &CaptureLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (mode, suffix) in [
            (None, "decode"),
            (Some(ReplayRole::Scp), "scp"),
            (Some(ReplayRole::Scu), "scu"),
        ] {
            let (text, failures) = transcript(&capture, mode);
            if !failures.is_empty() {
                problems.push(format!("{name}: {}", failures.join("; ")));
                continue;
            }
            let golden = fixtures()
                .join("replay")
                .join(format!("{name}.{suffix}.txt"));
            if bless {
                std::fs::write(&golden, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&golden) {
                Ok(expected) if expected == text => {}
                Ok(_) => problems.push(format!(
                    "{}: transcript differs (DICOMWIRE_BLESS=1 rewrites it after review)",
                    golden.display()
                )),
                Err(e) => problems.push(format!("{}: {e}", golden.display())),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_golden_transcript_belongs_to_a_capture() {
    let expected: Vec<String> = captures()
        .iter()
        .flat_map(|c| {
            let name = c.file_name().unwrap().to_string_lossy().into_owned();
            ["decode", "scp", "scu"].map(|mode| format!("{name}.{mode}.txt"))
        })
        .collect();
    let mut found: Vec<String> = std::fs::read_dir(fixtures().join("replay"))
        .expect("golden directory")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut wanted = expected;
    wanted.sort();
    assert_eq!(
        found, wanted,
        "a golden file without its capture, or one missing"
    );
}

#[test]
fn the_same_flow_gives_the_same_transcript_whatever_the_origin() {
    let bytes = std::fs::read(fixtures().join("captures/mwl_find_cancel_dcmtk.jsonl")).unwrap();
    let capture = Capture::parse(&bytes, &CaptureLimits::default()).unwrap();
    let flow = &capture.flows[0];
    let a = Replay::new(flow, ReplayRole::Scp, Instant::now()).run();
    let later = Instant::now() + std::time::Duration::from_secs(3600);
    let b = Replay::new(flow, ReplayRole::Scp, later).run();
    assert_eq!(a, b);
}
