//! Encoding: every PDU appends to a caller-owned `Vec<u8>`. Every length is range-checked
//! (no `as u16` truncation); on error the output is left as it was.

use super::associate::{
    AssociateAc, AssociateRq, PresentationContextAc, PresentationContextRq, RawItem,
    UserIdentityRequest, UserInformation,
};
use super::control::{Abort, AssociateRj};
use super::error::EncodeError;
use super::pdata::{PDV_HEADER_LEN, PData, Pdv};
use super::text::Uid;
use super::{ItemType, PDU_HEADER_LEN, Pdu, PduType};

impl Pdu<'_> {
    /// Appends the PDU's bytes to `out` and returns how many were appended. On error
    /// nothing is appended.
    ///
    /// ```
    /// use dicomwire::pdu::Pdu;
    /// let mut out = Vec::new();
    /// assert_eq!(Pdu::ReleaseRq.encode(&mut out), Ok(10));
    /// assert_eq!(out, [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let start = out.len();
        let result = pdu(out, self.pdu_type(), |out| match self {
            Self::AssociateRq(rq) => associate_rq(out, rq),
            Self::AssociateAc(ac) => associate_ac(out, ac),
            Self::AssociateRj(rj) => {
                associate_rj(out, rj);
                Ok(())
            }
            Self::PData(p) => p_data(out, p),
            Self::ReleaseRq | Self::ReleaseRp => {
                out.extend_from_slice(&[0; 4]);
                Ok(())
            }
            Self::Abort(a) => {
                abort(out, a);
                Ok(())
            }
        });
        match result {
            Ok(()) => Ok(out.len() - start),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }
}

/// Appends the 6-byte header of a P-DATA-TF whose PDVs total `body_len` bytes.
///
/// For writers that lay out PDVs themselves (the DIMSE fragmenter), so that a fragment is
/// copied once, from the message into the output.
pub fn write_pdata_header(out: &mut Vec<u8>, body_len: usize) -> Result<(), EncodeError> {
    let len = u32::try_from(body_len).map_err(|_| EncodeError::PduTooLong { len: body_len })?;
    out.push(PduType::PData.code());
    out.push(0);
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Appends one PDV item (header and fragment).
pub fn write_pdv(out: &mut Vec<u8>, pdv: &Pdv<'_>) -> Result<(), EncodeError> {
    let item_len = pdv.data.len() + PDV_HEADER_LEN - 4;
    let len = u32::try_from(item_len).map_err(|_| EncodeError::PduTooLong { len: item_len })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.push(pdv.context_id.get());
    out.push(pdv.header.bits());
    out.extend_from_slice(pdv.data);
    Ok(())
}

fn pdu(
    out: &mut Vec<u8>,
    pdu_type: PduType,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    out.extend_from_slice(&[pdu_type.code(), 0, 0, 0, 0, 0]);
    let start = out.len();
    body(out)?;
    let len = out.len() - start;
    let len32 = u32::try_from(len).map_err(|_| EncodeError::PduTooLong {
        len: len + PDU_HEADER_LEN,
    })?;
    out[start - 4..start].copy_from_slice(&len32.to_be_bytes());
    Ok(())
}

/// Appends an item: type, `second_byte` (reserved, or the version of 0x57), 16-bit length
/// and the value `body` writes.
fn item(
    out: &mut Vec<u8>,
    what: &'static str,
    item_type: u8,
    second_byte: u8,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    out.extend_from_slice(&[item_type, second_byte, 0, 0]);
    let start = out.len();
    body(out)?;
    let len = out.len() - start;
    let len16 = u16::try_from(len).map_err(|_| EncodeError::ItemTooLong { what, len })?;
    out[start - 2..start].copy_from_slice(&len16.to_be_bytes());
    Ok(())
}

/// Appends a 16-bit length followed by `bytes`.
fn u16_prefixed(out: &mut Vec<u8>, what: &'static str, bytes: &[u8]) -> Result<(), EncodeError> {
    let len = u16::try_from(bytes.len()).map_err(|_| EncodeError::ItemTooLong {
        what,
        len: bytes.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn uid_item(
    out: &mut Vec<u8>,
    what: &'static str,
    kind: ItemType,
    uid: &Uid,
) -> Result<(), EncodeError> {
    item(out, what, kind.code(), 0, |out| {
        out.extend_from_slice(uid.as_str().as_bytes());
        Ok(())
    })
}

fn raw_items(out: &mut Vec<u8>, raw: &[RawItem]) -> Result<(), EncodeError> {
    for r in raw {
        if ItemType::from_code(r.item_type).is_some() {
            return Err(EncodeError::Invalid(
                "a raw item must have a type the decoder does not know",
            ));
        }
        item(out, "unknown item", r.item_type, 0, |out| {
            out.extend_from_slice(&r.value);
            Ok(())
        })?;
    }
    Ok(())
}

fn associate_fixed(out: &mut Vec<u8>, protocol_version: u16, called: [u8; 16], calling: [u8; 16]) {
    out.extend_from_slice(&protocol_version.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&called);
    out.extend_from_slice(&calling);
    out.extend_from_slice(&[0; 32]);
}

fn associate_rq(out: &mut Vec<u8>, rq: &AssociateRq) -> Result<(), EncodeError> {
    if rq.presentation_contexts.is_empty() {
        return Err(EncodeError::Invalid(
            "an A-ASSOCIATE-RQ needs at least one presentation context",
        ));
    }
    associate_fixed(
        out,
        rq.protocol_version,
        rq.called_ae_title.to_padded(),
        rq.calling_ae_title.to_padded(),
    );
    uid_item(
        out,
        "application context item",
        ItemType::ApplicationContext,
        &rq.application_context,
    )?;
    for pc in &rq.presentation_contexts {
        presentation_context_rq(out, pc)?;
    }
    user_info(out, &rq.user_information)?;
    raw_items(out, &rq.unknown_items)
}

fn associate_ac(out: &mut Vec<u8>, ac: &AssociateAc) -> Result<(), EncodeError> {
    if ac.presentation_contexts.is_empty() {
        return Err(EncodeError::Invalid(
            "an A-ASSOCIATE-AC needs at least one presentation context",
        ));
    }
    associate_fixed(
        out,
        ac.protocol_version,
        ac.called_ae_title_echo,
        ac.calling_ae_title_echo,
    );
    uid_item(
        out,
        "application context item",
        ItemType::ApplicationContext,
        &ac.application_context,
    )?;
    for pc in &ac.presentation_contexts {
        presentation_context_ac(out, pc)?;
    }
    user_info(out, &ac.user_information)?;
    raw_items(out, &ac.unknown_items)
}

fn presentation_context_rq(
    out: &mut Vec<u8>,
    pc: &PresentationContextRq,
) -> Result<(), EncodeError> {
    if pc.transfer_syntaxes.is_empty() {
        return Err(EncodeError::Invalid(
            "a proposed presentation context needs at least one transfer syntax",
        ));
    }
    item(
        out,
        "presentation context item (0x20)",
        ItemType::PresentationContextRq.code(),
        0,
        |out| {
            out.extend_from_slice(&[pc.id.get(), 0, 0, 0]);
            uid_item(
                out,
                "abstract syntax sub-item",
                ItemType::AbstractSyntax,
                &pc.abstract_syntax,
            )?;
            for ts in &pc.transfer_syntaxes {
                uid_item(
                    out,
                    "transfer syntax sub-item",
                    ItemType::TransferSyntax,
                    ts,
                )?;
            }
            raw_items(out, &pc.unknown_sub_items)
        },
    )
}

fn presentation_context_ac(
    out: &mut Vec<u8>,
    pc: &PresentationContextAc,
) -> Result<(), EncodeError> {
    use super::associate::PresentationContextResult::Acceptance;
    if pc.result == Acceptance && pc.transfer_syntax.is_none() {
        return Err(EncodeError::Invalid(
            "an accepted presentation context needs its transfer syntax",
        ));
    }
    item(
        out,
        "presentation context item (0x21)",
        ItemType::PresentationContextAc.code(),
        0,
        |out| {
            out.extend_from_slice(&[pc.id.get(), 0, pc.result.code(), 0]);
            item(
                out,
                "transfer syntax sub-item",
                ItemType::TransferSyntax.code(),
                0,
                |out| {
                    if let Some(ts) = &pc.transfer_syntax {
                        out.extend_from_slice(ts.as_str().as_bytes());
                    }
                    Ok(())
                },
            )?;
            raw_items(out, &pc.unknown_sub_items)
        },
    )
}

fn user_info(out: &mut Vec<u8>, ui: &UserInformation) -> Result<(), EncodeError> {
    const WHAT: &str = "user information item (0x50)";
    item(out, WHAT, ItemType::UserInformation.code(), 0, |out| {
        item(
            out,
            "maximum length sub-item",
            ItemType::MaximumLength.code(),
            0,
            |out| {
                out.extend_from_slice(&ui.max_length.to_be_bytes());
                Ok(())
            },
        )?;
        uid_item(
            out,
            "implementation class UID sub-item",
            ItemType::ImplementationClassUid,
            &ui.implementation_class_uid,
        )?;
        if let Some(w) = ui.async_operations_window {
            item(
                out,
                "asynchronous operations window sub-item",
                ItemType::AsyncOperationsWindow.code(),
                0,
                |out| {
                    out.extend_from_slice(&w.max_operations_invoked.to_be_bytes());
                    out.extend_from_slice(&w.max_operations_performed.to_be_bytes());
                    Ok(())
                },
            )?;
        }
        for r in &ui.role_selections {
            item(
                out,
                "SCP/SCU role selection sub-item",
                ItemType::RoleSelection.code(),
                0,
                |out| {
                    u16_prefixed(
                        out,
                        "role selection SOP class UID",
                        r.sop_class_uid.as_str().as_bytes(),
                    )?;
                    out.push(u8::from(r.scu_role));
                    out.push(u8::from(r.scp_role));
                    Ok(())
                },
            )?;
        }
        if let Some(name) = &ui.implementation_version_name {
            if name.is_empty()
                || name.len() > 16
                || !name.bytes().all(|b| (0x20..=0x7E).contains(&b))
            {
                return Err(EncodeError::Invalid(
                    "an implementation version name has 1 to 16 ISO 646 characters",
                ));
            }
            item(
                out,
                "implementation version name sub-item",
                ItemType::ImplementationVersionName.code(),
                0,
                |out| {
                    out.extend_from_slice(name.as_bytes());
                    Ok(())
                },
            )?;
        }
        for e in &ui.sop_class_extended {
            item(
                out,
                "SOP class extended negotiation sub-item",
                ItemType::SopClassExtendedNegotiation.code(),
                0,
                |out| {
                    u16_prefixed(
                        out,
                        "extended negotiation SOP class UID",
                        e.sop_class_uid.as_str().as_bytes(),
                    )?;
                    out.extend_from_slice(&e.application_information);
                    Ok(())
                },
            )?;
        }
        for c in &ui.sop_class_common_extended {
            item(
                out,
                "SOP class common extended negotiation sub-item",
                ItemType::SopClassCommonExtendedNegotiation.code(),
                c.version,
                |out| {
                    u16_prefixed(out, "SOP class UID", c.sop_class_uid.as_str().as_bytes())?;
                    u16_prefixed(
                        out,
                        "service class UID",
                        c.service_class_uid.as_str().as_bytes(),
                    )?;
                    let mut related = Vec::new();
                    for uid in &c.related_general_sop_classes {
                        u16_prefixed(
                            &mut related,
                            "related general SOP class UID",
                            uid.as_str().as_bytes(),
                        )?;
                    }
                    u16_prefixed(out, "related general SOP class identification", &related)?;
                    out.extend_from_slice(&c.reserved);
                    Ok(())
                },
            )?;
        }
        if let Some(id) = &ui.user_identity_request {
            user_identity_rq(out, id)?;
        }
        if let Some(rsp) = &ui.user_identity_response {
            item(
                out,
                "user identity sub-item (0x59)",
                ItemType::UserIdentityAc.code(),
                0,
                |out| u16_prefixed(out, "user identity server response", &rsp.server_response),
            )?;
        }
        raw_items(out, &ui.unknown)
    })
}

fn user_identity_rq(out: &mut Vec<u8>, id: &UserIdentityRequest) -> Result<(), EncodeError> {
    item(
        out,
        "user identity sub-item (0x58)",
        ItemType::UserIdentityRq.code(),
        0,
        |out| {
            out.push(id.identity.type_code());
            out.push(u8::from(id.positive_response_requested));
            u16_prefixed(
                out,
                "user identity primary field",
                id.identity.primary_field(),
            )?;
            u16_prefixed(
                out,
                "user identity secondary field",
                id.identity.secondary_field(),
            )
        },
    )
}

fn associate_rj(out: &mut Vec<u8>, rj: &AssociateRj) {
    let (source, reason) = rj.source.codes();
    out.extend_from_slice(&[0, rj.result.code(), source, reason]);
}

fn abort(out: &mut Vec<u8>, a: &Abort) {
    let (source, reason) = a.codes();
    out.extend_from_slice(&[0, 0, source, reason]);
}

fn p_data(out: &mut Vec<u8>, p: &PData<'_>) -> Result<(), EncodeError> {
    if p.pdvs.is_empty() {
        return Err(EncodeError::Invalid(
            "a P-DATA-TF needs at least one presentation data value",
        ));
    }
    for pdv in &p.pdvs {
        write_pdv(out, pdv)?;
    }
    Ok(())
}
