//! One-line descriptions of PDUs and DIMSE messages for transcripts.

use std::fmt::Write as _;

use dicomwire::dimse::{CommandField, Message, Service};
use dicomwire::pdu::{
    AssociateAc, AssociateRq, PData, Pdu, PresentationContextResult, Uid, UserInformation,
};
use dicomwire::service::uids;

use crate::capture::Direction;
use crate::wire::{DimseMessage, Unit};

/// `C→S` or `S→C`.
pub(crate) fn arrow(dir: Direction) -> &'static str {
    match dir {
        Direction::ClientToServer => "C→S",
        Direction::ServerToClient => "S→C",
    }
}

/// `+1.234567`: seconds since the flow began.
pub(crate) fn time(t_us: u64) -> String {
    format!("+{}.{:06}", t_us / 1_000_000, t_us % 1_000_000)
}

/// The short name of the UIDs the captures use, for people.
fn uid_name(uid: &str) -> Option<&'static str> {
    [
        (uids::VERIFICATION, "Verification"),
        (uids::MODALITY_WORKLIST_FIND, "MWL-FIND"),
        (uids::HANGING_PROTOCOL_STORAGE, "HP-Storage"),
        (uids::HANGING_PROTOCOL_FIND, "HP-FIND"),
        (uids::HANGING_PROTOCOL_MOVE, "HP-MOVE"),
        (uids::HANGING_PROTOCOL_GET, "HP-GET"),
        (uids::IMPLICIT_VR_LITTLE_ENDIAN, "ImplicitLE"),
        (uids::EXPLICIT_VR_LITTLE_ENDIAN, "ExplicitLE"),
        (uids::EXPLICIT_VR_BIG_ENDIAN, "ExplicitBE"),
    ]
    .into_iter()
    .find(|(u, _)| u.as_str() == uid)
    .map(|(_, name)| name)
}

fn uid(uid: &Uid) -> String {
    named(uid.as_str())
}

fn named(uid: &str) -> String {
    uid_name(uid).map_or_else(|| uid.to_owned(), str::to_owned)
}

/// One line for a PDU.
pub(crate) fn pdu(pdu: &Pdu<'_>) -> String {
    match pdu {
        Pdu::AssociateRq(rq) => associate_rq(rq),
        Pdu::AssociateAc(ac) => associate_ac(ac),
        Pdu::AssociateRj(rj) => format!("A-ASSOCIATE-RJ {rj}"),
        Pdu::PData(p) => pdata(p),
        Pdu::ReleaseRq => "A-RELEASE-RQ".to_owned(),
        Pdu::ReleaseRp => "A-RELEASE-RP".to_owned(),
        Pdu::Abort(a) => a.to_string(),
        other => format!("{other:?}"),
    }
}

fn associate_rq(rq: &AssociateRq) -> String {
    let contexts: Vec<String> = rq
        .presentation_contexts
        .iter()
        .map(|pc| {
            let ts: Vec<String> = pc.transfer_syntaxes.iter().map(uid).collect();
            format!("{} {} ({})", pc.id, uid(&pc.abstract_syntax), ts.join(" "))
        })
        .collect();
    let mut line = format!(
        "A-ASSOCIATE-RQ calling={} called={} contexts=[{}]",
        rq.calling_ae_title,
        rq.called_ae_title,
        contexts.join(", ")
    );
    user_information(&mut line, &rq.user_information);
    line
}

fn associate_ac(ac: &AssociateAc) -> String {
    let contexts: Vec<String> = ac
        .presentation_contexts
        .iter()
        .map(|pc| match (pc.result, &pc.transfer_syntax) {
            (PresentationContextResult::Acceptance, Some(ts)) => format!("{} {}", pc.id, uid(ts)),
            (result, _) => format!("{} {}", pc.id, result.name()),
        })
        .collect();
    let mut line = format!(
        "A-ASSOCIATE-AC calling={} called={} contexts=[{}]",
        String::from_utf8_lossy(&ac.calling_ae_title_echo).trim(),
        String::from_utf8_lossy(&ac.called_ae_title_echo).trim(),
        contexts.join(", ")
    );
    user_information(&mut line, &ac.user_information);
    line
}

fn user_information(line: &mut String, ui: &UserInformation) {
    let _ = write!(
        line,
        " max-pdu={} impl={}",
        ui.max_length, ui.implementation_class_uid
    );
    if let Some(name) = &ui.implementation_version_name {
        let _ = write!(line, "/{name}");
    }
    for role in &ui.role_selections {
        let _ = write!(
            line,
            " role={}:scu={},scp={}",
            uid(&role.sop_class_uid),
            u8::from(role.scu_role),
            u8::from(role.scp_role)
        );
    }
    if let Some(w) = ui.async_operations_window {
        let _ = write!(
            line,
            " window={}/{}",
            w.max_operations_invoked, w.max_operations_performed
        );
    }
    for e in &ui.sop_class_extended {
        let _ = write!(
            line,
            " ext={}:{}B",
            uid(&e.sop_class_uid),
            e.application_information.len()
        );
    }
    for e in &ui.sop_class_common_extended {
        let _ = write!(line, " common-ext={}", uid(&e.sop_class_uid));
    }
    if let Some(id) = &ui.user_identity_request {
        let _ = write!(
            line,
            " identity=type{}{}",
            id.identity.type_code(),
            if id.positive_response_requested {
                "+response"
            } else {
                ""
            }
        );
    }
    if let Some(r) = &ui.user_identity_response {
        let _ = write!(line, " identity-response={}B", r.server_response.len());
    }
    for item in &ui.unknown {
        let _ = write!(line, " item-0x{:02X}:{}B", item.item_type, item.value.len());
    }
}

fn pdata(p: &PData<'_>) -> String {
    let pdvs: Vec<String> = p
        .pdvs
        .iter()
        .map(|pdv| {
            format!(
                "pc{} {}{} {}B",
                pdv.context_id,
                if pdv.header.is_command() {
                    "cmd"
                } else {
                    "data"
                },
                if pdv.header.is_last() { "(last)" } else { "" },
                pdv.data.len()
            )
        })
        .collect();
    format!("P-DATA-TF [{}]", pdvs.join(", "))
}

/// The service a message's statuses are read against.
fn service(m: &Message) -> Option<Service> {
    let field = m.command_field();
    let class = m.affected_sop_class_uid();
    let is = |u: &Uid| class == Some(u.as_str());
    Some(match field {
        CommandField::CEchoRq | CommandField::CEchoRsp => Service::Echo,
        CommandField::CStoreRq | CommandField::CStoreRsp => Service::Store,
        CommandField::CFindRq | CommandField::CFindRsp if is(&uids::HANGING_PROTOCOL_FIND) => {
            Service::FindHangingProtocol
        }
        CommandField::CFindRq | CommandField::CFindRsp => Service::FindWorklist,
        CommandField::CGetRq | CommandField::CGetRsp => Service::GetHangingProtocol,
        CommandField::CMoveRq | CommandField::CMoveRsp => Service::MoveHangingProtocol,
        _ => return None,
    })
}

/// One line for a DIMSE message.
pub(crate) fn message(m: &DimseMessage) -> String {
    let mut line = match &m.message {
        Ok(message) => {
            let mut line = message.name().to_owned();
            if let Some(id) = message.message_id() {
                let _ = write!(line, " msg-id={id}");
            }
            if let Some(id) = message.responded_to() {
                let _ = write!(line, " msg-id-responded={id}");
            }
            if let Some(class) = message.affected_sop_class_uid() {
                let _ = write!(line, " class={}", named(class));
            }
            if let Some(status) = message.status() {
                let category = status.category().to_string();
                let _ = write!(line, " status={status} {category}");
                match service(message).map(|s| status.name(s)) {
                    Some(Some(meaning)) if meaning != category => {
                        let _ = write!(line, " ({meaning})");
                    }
                    Some(None) => line.push_str(" (not defined for this service)"),
                    _ => {}
                }
            }
            match message {
                Message::CMoveRq(r) => {
                    let _ = write!(line, " destination={}", r.move_destination);
                }
                Message::CStoreRq(r) => {
                    let _ = write!(line, " instance={}", r.affected_sop_instance_uid);
                }
                Message::CGetRsp(r) | Message::CMoveRsp(r) => {
                    let s = r.sub_operations;
                    let n = |v: Option<u16>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
                    let _ = write!(
                        line,
                        " remaining={} completed={} failed={} warning={}",
                        n(s.remaining),
                        n(s.completed),
                        n(s.failed),
                        n(s.warning)
                    );
                }
                _ => {}
            }
            line
        }
        Err(e) => format!("DIMSE {} (not a message: {e})", m.command),
    };
    let _ = write!(line, " pc={}", m.context_id);
    if let Some(data) = &m.data {
        let kind = match &m.message {
            Ok(Message::CStoreRq(_)) => "data set",
            _ => "identifier",
        };
        let _ = write!(line, " ({kind} {} bytes)", data.len());
    }
    line
}

/// One line for a unit.
pub(crate) fn unit(u: &Unit) -> String {
    match u {
        Unit::Control(p) => pdu(p),
        Unit::Message(m) => message(m),
        Unit::Broken(why) => format!("<{why}>"),
    }
}
