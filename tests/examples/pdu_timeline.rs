//! Prints a capture's PDUs, decoded with dicomwire, one line each, per direction.
//!
//! ```text
//! cargo run -p dicomwire-tests --example pdu_timeline -- tests/fixtures/captures/mwl_find_3_dcmtk.jsonl
//! ```
//!
//! Each line gives the time the PDU's last byte arrived (from the capture), its offset in
//! the direction's stream, and what it says. Exits 1, with the decode error and the
//! A-ABORT reason dicomwire would send, if a stream does not decode to whole PDUs.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use dicomwire::pdu::{
    self, AbortReason, AeTitle, AssociateAc, AssociateRq, DecodeLimits, Decoded, PData, Pdu,
    UserInformation,
};
use dicomwire_tests::capture::{Capture, Chunk, Direction};

/// A capture is shown, not defended against: no limit but the 32-bit PDU-length.
const SHOW_ALL: DecodeLimits = DecodeLimits {
    max_pdu_length: u32::MAX,
    max_associate_length: u32::MAX,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: pdu_timeline FILE.jsonl");
        return ExitCode::from(2);
    };
    let path = Path::new(path);
    if !path.is_file() {
        eprintln!("pdu_timeline: {} is not a file", path.display());
        return ExitCode::from(2);
    }
    let capture = Capture::load(path);
    println!("{} — {}", path.display(), capture.label);

    let mut conns: Vec<u32> = capture.chunks.iter().map(|c| c.conn).collect();
    conns.sort_unstable();
    conns.dedup();
    let mut failed = false;
    for conn in conns {
        for (dir, name) in [
            (Direction::ClientToServer, "c2s, requestor → acceptor"),
            (Direction::ServerToClient, "s2c, acceptor → requestor"),
        ] {
            let chunks: Vec<&Chunk> = capture
                .chunks
                .iter()
                .filter(|c| c.conn == conn && c.dir == dir)
                .collect();
            if chunks.is_empty() {
                continue;
            }
            println!("\nconn {conn} {name}:");
            if let Err(message) = print_stream(&chunks) {
                eprintln!("pdu_timeline: conn {conn} {name}: {message}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Decodes one direction's stream PDU by PDU; the error says where and why it stopped.
fn print_stream(chunks: &[&Chunk]) -> Result<(), String> {
    let stream: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.bytes.iter().copied())
        .collect();
    // (end offset in the stream, time) of each recv(), to date each PDU.
    let mut arrivals = Vec::with_capacity(chunks.len());
    let mut end = 0;
    for chunk in chunks {
        end += chunk.bytes.len();
        arrivals.push((end, chunk.t_us));
    }
    let arrived_by = |pdu_end: usize| {
        arrivals
            .iter()
            .find(|(end, _)| *end >= pdu_end)
            .map_or(0, |(_, t)| *t)
    };

    let mut offset = 0;
    while offset < stream.len() {
        match pdu::decode(&stream[offset..], &SHOW_ALL) {
            Ok(Decoded::Complete { pdu, consumed }) => {
                let t_us = arrived_by(offset + consumed);
                println!(
                    "  {:>4}.{:03} ms  @{offset:<6} {}",
                    t_us / 1000,
                    t_us % 1000,
                    describe(&pdu)
                );
                offset += consumed;
            }
            Ok(Decoded::Incomplete { needed }) => {
                return Err(format!(
                    "the stream ends inside a PDU at offset {offset}: {} bytes there, at least \
                     {needed} more needed",
                    stream.len() - offset
                ));
            }
            Err(err) => {
                return Err(format!(
                    "no PDU at offset {offset}: {err} (dicomwire would send A-ABORT reason {})",
                    AbortReason::from(&err).name()
                ));
            }
        }
    }
    Ok(())
}

fn describe(pdu: &Pdu<'_>) -> String {
    match pdu {
        Pdu::AssociateRq(rq) => associate_rq(rq),
        Pdu::AssociateAc(ac) => associate_ac(ac),
        Pdu::AssociateRj(rj) => format!("A-ASSOCIATE-RJ {rj}"),
        Pdu::PData(p) => p_data(p),
        Pdu::Abort(abort) => abort.to_string(),
        other => other.pdu_type().name().to_owned(),
    }
}

fn associate_rq(rq: &AssociateRq) -> String {
    let mut line = format!(
        "A-ASSOCIATE-RQ called={} calling={}{}",
        rq.called_ae_title,
        rq.calling_ae_title,
        user_information(&rq.user_information)
    );
    for pc in &rq.presentation_contexts {
        let syntaxes: Vec<&str> = pc.transfer_syntaxes.iter().map(|ts| ts.as_str()).collect();
        let _ = write!(
            line,
            " | pc{} {} [{}]",
            pc.id,
            pc.abstract_syntax,
            syntaxes.join(", ")
        );
    }
    line
}

fn associate_ac(ac: &AssociateAc) -> String {
    let mut line = format!(
        "A-ASSOCIATE-AC called={} calling={}{}",
        echoed_title(&ac.called_ae_title_echo),
        echoed_title(&ac.calling_ae_title_echo),
        user_information(&ac.user_information)
    );
    for pc in &ac.presentation_contexts {
        let _ = write!(line, " | pc{} {}", pc.id, pc.result.name());
        if let Some(ts) = &pc.transfer_syntax {
            let _ = write!(line, " [{ts}]");
        }
    }
    line
}

/// The AC echoes the request's titles and nobody tests them, so show whatever is there.
fn echoed_title(raw: &[u8; 16]) -> String {
    AeTitle::from_bytes(raw).map_or_else(
        |_| format!("{:?}", String::from_utf8_lossy(raw)),
        |title| title.to_string(),
    )
}

fn user_information(ui: &UserInformation) -> String {
    let mut text = format!(
        " max-length={} impl={}",
        ui.max_length, ui.implementation_class_uid
    );
    if let Some(version) = &ui.implementation_version_name {
        let _ = write!(text, " version={version}");
    }
    if let Some(window) = ui.async_operations_window {
        let _ = write!(
            text,
            " async={}/{}",
            window.max_operations_invoked, window.max_operations_performed
        );
    }
    for role in &ui.role_selections {
        let _ = write!(
            text,
            " role({} scu={} scp={})",
            role.sop_class_uid,
            u8::from(role.scu_role),
            u8::from(role.scp_role)
        );
    }
    for ext in &ui.sop_class_extended {
        let _ = write!(
            text,
            " ext-neg({} {} bytes)",
            ext.sop_class_uid,
            ext.application_information.len()
        );
    }
    for common in &ui.sop_class_common_extended {
        let _ = write!(
            text,
            " common-ext-neg({} in {})",
            common.sop_class_uid, common.service_class_uid
        );
    }
    if let Some(request) = &ui.user_identity_request {
        let _ = write!(
            text,
            " user-identity(type {}{})",
            request.identity.type_code(),
            if request.positive_response_requested {
                ", response requested"
            } else {
                ""
            }
        );
    }
    if let Some(response) = &ui.user_identity_response {
        let _ = write!(
            text,
            " user-identity-response({} bytes)",
            response.server_response.len()
        );
    }
    text
}

fn p_data(p: &PData<'_>) -> String {
    let mut line = format!(
        "P-DATA-TF {} PDV{}:",
        p.pdvs.len(),
        if p.pdvs.len() == 1 { "" } else { "s" }
    );
    for (i, pdv) in p.pdvs.iter().enumerate() {
        let _ = write!(
            line,
            "{} pc{} {}{} {} B",
            if i == 0 { "" } else { ";" },
            pdv.context_id,
            if pdv.header.is_command() {
                "command"
            } else {
                "data"
            },
            if pdv.header.is_last() { " last" } else { "" },
            pdv.data.len()
        );
    }
    line
}
