//! `dicomwire replay CAPTURE [--as scp|scu] [--flow N]`: a capture decoded, or replayed
//! through our core in one role, with a transcript and a verdict.
//!
//! Reading the file is this module's job; decoding and replaying are
//! `dicomwire-replay`'s, which does no IO. Exit codes: 0 when every replayed association
//! matched (or when only decoding), 1 when one diverged (the first divergence of each
//! flow is printed and explained), 2 when the input is unusable: the file cannot be
//! read, is not a capture, the flow asked for does not exist or is not an association.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use dicomwire_replay::capture::{Capture, CaptureLimits, Flow};
use dicomwire_replay::{Outcome, Replay, ReplayRole, decode};

/// The exit code when our core behaved as the recording.
pub const MATCHED: u8 = 0;
/// The exit code when it did not.
pub const DIVERGED: u8 = 1;
/// The exit code for input that cannot be replayed.
pub const UNUSABLE: u8 = 2;

/// Decodes (`role` `None`) or replays the capture at `path`, all its flows or flow
/// `flow` (0-based), writing transcripts to `out` and the verdict to `err`. Returns the
/// exit code.
pub fn run(
    path: &Path,
    role: Option<ReplayRole>,
    flow: Option<usize>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    match replay(path, role, flow, out, err) {
        Ok(code) => code,
        Err(Stop::Unusable(message)) => {
            let _ = writeln!(err, "dicomwire replay: {message}");
            UNUSABLE
        }
        // A closed stdout (`| head`) ends the program quietly, as for the other commands.
        Err(Stop::OutputClosed) => MATCHED,
    }
}

enum Stop {
    Unusable(String),
    OutputClosed,
}

fn replay(
    path: &Path,
    role: Option<ReplayRole>,
    only: Option<usize>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Stop> {
    let bytes = std::fs::read(path)
        .map_err(|e| Stop::Unusable(format!("cannot read {}: {e}", path.display())))?;
    let capture = Capture::parse(&bytes, &CaptureLimits::default())
        .map_err(|e| Stop::Unusable(format!("{}: {e}", path.display())))?;
    let flows: Vec<(usize, &Flow)> = match only {
        Some(n) => match capture.flows.get(n) {
            Some(flow) => vec![(n, flow)],
            None => {
                return Err(Stop::Unusable(format!(
                    "{}: no flow {n}; the capture has {} (numbered from 0)",
                    path.display(),
                    capture.flows.len()
                )));
            }
        },
        None => capture.flows.iter().enumerate().collect(),
    };
    if flows.is_empty() {
        return Err(Stop::Unusable(format!(
            "{}: the capture holds no flow",
            path.display()
        )));
    }
    let write = |out: &mut dyn Write, text: &str| {
        out.write_all(text.as_bytes()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Stop::OutputClosed
            } else {
                Stop::Unusable(format!("cannot write the transcript: {e}"))
            }
        })
    };
    let Some(role) = role else {
        for (n, flow) in flows {
            write(out, &format!("=== flow {n}{}\n", endpoints(flow)))?;
            write(out, &decode(flow).to_string())?;
        }
        return Ok(MATCHED);
    };
    // One origin for the whole run: the replay never reads a clock, this is only where
    // its virtual time starts.
    let origin = Instant::now();
    let mut replayed = 0;
    let mut code = MATCHED;
    for (n, flow) in flows {
        let report = Replay::new(flow, role, origin).run();
        write(out, &format!("=== flow {n}{}\n", endpoints(flow)))?;
        write(out, &report.transcript.to_string())?;
        match &report.outcome {
            Outcome::Matched => {
                replayed += 1;
                let _ = writeln!(err, "flow {n} as {role}: matched");
            }
            Outcome::Diverged(d) => {
                replayed += 1;
                code = DIVERGED;
                let _ = writeln!(err, "flow {n} as {role}: DIVERGED {d}");
            }
            Outcome::NotAnAssociation(why) if only.is_some() => {
                return Err(Stop::Unusable(format!(
                    "flow {n} is not an association: {why}"
                )));
            }
            other => {
                let _ = writeln!(err, "flow {n}: skipped, {other}");
            }
        }
    }
    if replayed == 0 {
        return Err(Stop::Unusable(format!(
            "{}: no flow is a DICOM association",
            path.display()
        )));
    }
    Ok(code)
}

fn endpoints(flow: &Flow) -> String {
    match (flow.client, flow.server) {
        (Some(c), Some(s)) => format!(" ({c} → {s})"),
        (Some(c), None) => format!(" (client {c})"),
        (None, Some(s)) => format!(" (server {s})"),
        (None, None) => String::new(),
    }
}
