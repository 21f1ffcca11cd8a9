//! Comparing what our core sent with what the recorded side sent, structurally, and the
//! table of what the comparison masks and why.
//!
//! Both sides are decoded with `dicomwire::pdu` and compared field by field: A-ASSOCIATE
//! PDUs item by item, A-ASSOCIATE-RJ and A-ABORT by their codes, and P-DATA-TF not PDU by
//! PDU but as the DIMSE messages they carry (command set element by element, then the
//! data set byte for byte). Everything not in [`MASKS`] must be equal.

use std::fmt::Debug;

use dicomwire::dimse::CommandSet;
use dicomwire::pdu::{
    AbortSource, AssociateAc, AssociateRq, Pdu, PresentationContextResult, UserInformation,
};

use crate::describe;
use crate::wire::{DimseMessage, Unit};

/// One field the comparison does not hold against our core, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask {
    /// The field, as the standard names it.
    pub field: &'static str,
    /// Why a difference there is legitimate.
    pub reason: &'static str,
}

/// Every masked field. Anything else that differs is a divergence.
pub const MASKS: &[Mask] = &[
    Mask {
        field: "Implementation Class UID (item 0x52)",
        reason: "identifies the implementation that sent the PDU: ours is dicomwire's by definition (PS3.7 D.3.3.2)",
    },
    Mask {
        field: "Implementation Version Name (item 0x55)",
        reason: "names the implementation's version, like the class UID (PS3.7 D.3.3.2)",
    },
    Mask {
        field: "reserved fields and bytes of every PDU and item",
        reason: "PS3.8 9.3: reserved fields are sent as 0 but shall not be tested on receipt; peers differ (DCMTK writes 0xFF in a reserved byte of item 0x20). The decoder does not keep them, so the comparison never sees them",
    },
    Mask {
        field: "P-DATA-TF boundaries and PDV fragmentation",
        reason: "how a message is cut into PDVs and PDUs depends on the maximum PDU length and is the sender's choice (PS3.8 9.3.5, PS3.7 Annex F); messages are compared reassembled, and every P-DATA-TF we send is checked against the peer's maximum PDU length instead",
    },
    Mask {
        field: "Transfer Syntax sub-item of a rejected presentation context (A-ASSOCIATE-AC)",
        reason: "PS3.8 9.3.3.2: when the result is not acceptance the sub-item is not significant and shall not be tested",
    },
    Mask {
        field: "A-ABORT reason when the source is the service-user (0)",
        reason: "PS3.8 9.3.8: the reason field is not significant when the source is 0",
    },
    Mask {
        field: "Command Data Set Type (0000,0800) value other than 0x0101",
        reason: "PS3.7 E.1: any value other than 0x0101 means a data set follows; peers write 0x0001, 0x0102 or 0xFEFE. Whether a data set follows is compared",
    },
    Mask {
        field: "Command Group Length (0000,0000)",
        reason: "derived from the elements that follow, which are compared; the decoder recomputes it",
    },
];

/// Compares our unit with the recorded one; `Err` says the first difference in words.
pub(crate) fn compare(recorded: &Unit, ours: &Unit) -> Result<(), String> {
    match (recorded, ours) {
        (Unit::Control(r), Unit::Control(o)) => control(r, o),
        (Unit::Message(r), Unit::Message(o)) => message(r, o),
        _ => Err(format!(
            "recorded {}, ours {}",
            describe::unit(recorded),
            describe::unit(ours)
        )),
    }
}

/// Collects field comparisons and stops at the first difference.
struct Diff(Result<(), String>);

impl Diff {
    fn new() -> Self {
        Self(Ok(()))
    }

    fn field<T: PartialEq + Debug + ?Sized>(mut self, name: &str, recorded: &T, ours: &T) -> Self {
        if self.0.is_ok() && recorded != ours {
            self.0 = Err(format!("{name}: recorded {recorded:?}, ours {ours:?}"));
        }
        self
    }

    fn then(mut self, check: impl FnOnce() -> Result<(), String>) -> Self {
        if self.0.is_ok() {
            self.0 = check();
        }
        self
    }
}

fn control(recorded: &Pdu<'_>, ours: &Pdu<'_>) -> Result<(), String> {
    match (recorded, ours) {
        (Pdu::AssociateRq(r), Pdu::AssociateRq(o)) => associate_rq(r, o),
        (Pdu::AssociateAc(r), Pdu::AssociateAc(o)) => associate_ac(r, o),
        (Pdu::AssociateRj(r), Pdu::AssociateRj(o)) => {
            Diff::new()
                .field("A-ASSOCIATE-RJ result", &r.result.code(), &o.result.code())
                .field(
                    "A-ASSOCIATE-RJ source and reason",
                    &r.source.codes(),
                    &o.source.codes(),
                )
                .0
        }
        (Pdu::Abort(r), Pdu::Abort(o)) => {
            let (rs, rr) = r.codes();
            let (os, or) = o.codes();
            let diff = Diff::new().field("A-ABORT source", &rs, &os);
            if r.source == AbortSource::ServiceUser {
                diff.0
            } else {
                diff.field("A-ABORT reason", &rr, &or).0
            }
        }
        (Pdu::ReleaseRq, Pdu::ReleaseRq) | (Pdu::ReleaseRp, Pdu::ReleaseRp) => Ok(()),
        _ => Err(format!(
            "recorded {}, ours {}",
            describe::pdu(recorded),
            describe::pdu(ours)
        )),
    }
}

fn associate_rq(r: &AssociateRq, o: &AssociateRq) -> Result<(), String> {
    Diff::new()
        .field("protocol version", &r.protocol_version, &o.protocol_version)
        .field("called AE title", &r.called_ae_title, &o.called_ae_title)
        .field("calling AE title", &r.calling_ae_title, &o.calling_ae_title)
        .field(
            "application context name",
            &r.application_context,
            &o.application_context,
        )
        .field(
            "number of presentation contexts",
            &r.presentation_contexts.len(),
            &o.presentation_contexts.len(),
        )
        .then(|| {
            for (rpc, opc) in r.presentation_contexts.iter().zip(&o.presentation_contexts) {
                let name = format!("presentation context {}", rpc.id);
                Diff::new()
                    .field(&format!("{name} id"), &rpc.id, &opc.id)
                    .field(
                        &format!("{name} abstract syntax"),
                        &rpc.abstract_syntax,
                        &opc.abstract_syntax,
                    )
                    .field(
                        &format!("{name} transfer syntaxes"),
                        &rpc.transfer_syntaxes,
                        &opc.transfer_syntaxes,
                    )
                    .field(
                        &format!("{name} unknown sub-items"),
                        &rpc.unknown_sub_items,
                        &opc.unknown_sub_items,
                    )
                    .0?;
            }
            Ok(())
        })
        .then(|| user_information(&r.user_information, &o.user_information))
        .field("unknown items", &r.unknown_items, &o.unknown_items)
        .0
}

fn associate_ac(r: &AssociateAc, o: &AssociateAc) -> Result<(), String> {
    Diff::new()
        .field("protocol version", &r.protocol_version, &o.protocol_version)
        .field(
            "called AE title (echoed)",
            &String::from_utf8_lossy(&r.called_ae_title_echo),
            &String::from_utf8_lossy(&o.called_ae_title_echo),
        )
        .field(
            "calling AE title (echoed)",
            &String::from_utf8_lossy(&r.calling_ae_title_echo),
            &String::from_utf8_lossy(&o.calling_ae_title_echo),
        )
        .field(
            "application context name",
            &r.application_context,
            &o.application_context,
        )
        .field(
            "number of presentation contexts",
            &r.presentation_contexts.len(),
            &o.presentation_contexts.len(),
        )
        .then(|| {
            for (rpc, opc) in r.presentation_contexts.iter().zip(&o.presentation_contexts) {
                let name = format!("presentation context {}", rpc.id);
                let mut diff = Diff::new()
                    .field(&format!("{name} id"), &rpc.id, &opc.id)
                    .field(
                        &format!("{name} result"),
                        &rpc.result.name(),
                        &opc.result.name(),
                    );
                if rpc.result == PresentationContextResult::Acceptance {
                    diff = diff.field(
                        &format!("{name} transfer syntax"),
                        &rpc.transfer_syntax,
                        &opc.transfer_syntax,
                    );
                }
                diff.field(
                    &format!("{name} unknown sub-items"),
                    &rpc.unknown_sub_items,
                    &opc.unknown_sub_items,
                )
                .0?;
            }
            Ok(())
        })
        .then(|| user_information(&r.user_information, &o.user_information))
        .field("unknown items", &r.unknown_items, &o.unknown_items)
        .0
}

fn user_information(r: &UserInformation, o: &UserInformation) -> Result<(), String> {
    Diff::new()
        .field("maximum length (item 0x51)", &r.max_length, &o.max_length)
        .field(
            "asynchronous operations window (item 0x53)",
            &r.async_operations_window,
            &o.async_operations_window,
        )
        .field(
            "SCP/SCU role selection (items 0x54)",
            &r.role_selections,
            &o.role_selections,
        )
        .field(
            "SOP class extended negotiation (items 0x56)",
            &r.sop_class_extended,
            &o.sop_class_extended,
        )
        .field(
            "SOP class common extended negotiation (items 0x57)",
            &r.sop_class_common_extended,
            &o.sop_class_common_extended,
        )
        .field(
            "user identity (item 0x58)",
            &r.user_identity_request,
            &o.user_identity_request,
        )
        .field(
            "user identity response (item 0x59)",
            &r.user_identity_response,
            &o.user_identity_response,
        )
        .field("unknown user information sub-items", &r.unknown, &o.unknown)
        .0
}

fn message(r: &DimseMessage, o: &DimseMessage) -> Result<(), String> {
    let what = match &r.message {
        Ok(m) => m.name().to_owned(),
        Err(_) => "DIMSE message".to_owned(),
    };
    Diff::new()
        .field(
            &format!("{what} presentation context"),
            &r.context_id,
            &o.context_id,
        )
        .then(|| command(&what, &r.command, &o.command))
        .then(|| match (&r.data, &o.data) {
            (Some(rd), Some(od)) if rd != od => {
                let at = rd.iter().zip(od).position(|(a, b)| a != b);
                Err(match at {
                    Some(at) => format!(
                        "{what} data set differs at byte {at} (recorded {} bytes, ours {})",
                        rd.len(),
                        od.len()
                    ),
                    None => format!(
                        "{what} data set length: recorded {} bytes, ours {}",
                        rd.len(),
                        od.len()
                    ),
                })
            }
            _ => Ok(()),
        })
        .0
}

fn command(what: &str, r: &CommandSet, o: &CommandSet) -> Result<(), String> {
    let f = |keyword: &str| format!("{what} {keyword}");
    Diff::new()
        .field(
            &f("CommandField (0000,0100)"),
            &r.command_field,
            &o.command_field,
        )
        .field(
            &f("AffectedSOPClassUID (0000,0002)"),
            &r.affected_sop_class_uid,
            &o.affected_sop_class_uid,
        )
        .field(
            &f("RequestedSOPClassUID (0000,0003)"),
            &r.requested_sop_class_uid,
            &o.requested_sop_class_uid,
        )
        .field(&f("MessageID (0000,0110)"), &r.message_id, &o.message_id)
        .field(
            &f("MessageIDBeingRespondedTo (0000,0120)"),
            &r.message_id_being_responded_to,
            &o.message_id_being_responded_to,
        )
        .field(
            &f("MoveDestination (0000,0600)"),
            &r.move_destination,
            &o.move_destination,
        )
        .field(&f("Priority (0000,0700)"), &r.priority, &o.priority)
        .field(
            &f("data set present (CommandDataSetType (0000,0800))"),
            &r.has_data_set(),
            &o.has_data_set(),
        )
        .then(|| {
            if r.status == o.status {
                return Ok(());
            }
            let show =
                |s: Option<u16>| s.map_or_else(|| "none".to_owned(), |s| format!("0x{s:04X}"));
            Err(format!(
                "{}: recorded {}, ours {}",
                f("Status (0000,0900)"),
                show(r.status),
                show(o.status)
            ))
        })
        .field(
            &f("OffendingElement (0000,0901)"),
            &r.offending_element,
            &o.offending_element,
        )
        .field(
            &f("ErrorComment (0000,0902)"),
            &r.error_comment,
            &o.error_comment,
        )
        .field(&f("ErrorID (0000,0903)"), &r.error_id, &o.error_id)
        .field(
            &f("AffectedSOPInstanceUID (0000,1000)"),
            &r.affected_sop_instance_uid,
            &o.affected_sop_instance_uid,
        )
        .field(
            &f("RequestedSOPInstanceUID (0000,1001)"),
            &r.requested_sop_instance_uid,
            &o.requested_sop_instance_uid,
        )
        .field(
            &f("NumberOfRemainingSuboperations (0000,1020)"),
            &r.remaining,
            &o.remaining,
        )
        .field(
            &f("NumberOfCompletedSuboperations (0000,1021)"),
            &r.completed,
            &o.completed,
        )
        .field(
            &f("NumberOfFailedSuboperations (0000,1022)"),
            &r.failed,
            &o.failed,
        )
        .field(
            &f("NumberOfWarningSuboperations (0000,1023)"),
            &r.warning,
            &o.warning,
        )
        .field(
            &f("MoveOriginatorApplicationEntityTitle (0000,1030)"),
            &r.move_originator_ae_title,
            &o.move_originator_ae_title,
        )
        .field(
            &f("MoveOriginatorMessageID (0000,1031)"),
            &r.move_originator_message_id,
            &o.move_originator_message_id,
        )
        .field(&f("other elements"), &r.other, &o.other)
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mask_has_a_reason() {
        for mask in MASKS {
            assert!(!mask.field.is_empty());
            assert!(mask.reason.len() > 20, "{}", mask.field);
        }
    }

    #[test]
    fn a_changed_status_is_named() {
        let cmd = |status| CommandSet {
            command_field: Some(0x8030),
            message_id_being_responded_to: Some(1),
            command_data_set_type: Some(0x0101),
            status: Some(status),
            ..CommandSet::default()
        };
        let err = command("C-ECHO-RSP", &cmd(0), &cmd(0x0110)).unwrap_err();
        assert_eq!(
            err,
            "C-ECHO-RSP Status (0000,0900): recorded 0x0000, ours 0x0110"
        );
        assert!(command("C-ECHO-RSP", &cmd(0), &cmd(0)).is_ok());
    }
}
