//! Decoding. `nom` parsers read the byte layouts of PS3.8 9.3 and PS3.7 D.3.3; plain
//! `Result` code applies the rules on top (which items are required, which may repeat).

use nom::Parser;
use nom::bytes::complete::take;
use nom::combinator::{all_consuming, rest};
use nom::multi::length_data;
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::associate::{
    AssociateAc, AssociateRq, AsyncOperationsWindow, PresentationContextAc, PresentationContextId,
    PresentationContextResult, PresentationContextRq, RawItem, RoleSelection,
    SopClassCommonExtendedNegotiation, SopClassExtendedNegotiation, UserIdentity,
    UserIdentityRequest, UserIdentityResponse, UserInformation,
};
use super::control::{Abort, AssociateRj, RejectResult, RejectSource};
use super::error::DecodeError;
use super::pdata::{MessageControlHeader, PData, Pdv};
use super::text::{AeTitle, Uid};
use super::{DecodeLimits, Decoded, ItemType, PDU_HEADER_LEN, Pdu, PduHeader, PduType};

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Decodes the PDU at the start of `input`.
///
/// - `Ok(Complete { pdu, consumed })`: a whole PDU; bytes after `consumed` are untouched.
/// - `Ok(Incomplete { needed })`: what is there is the valid start of a PDU within the
///   limits; at least `needed` more bytes are required. Nothing was allocated.
/// - `Err(e)`: not a valid PDU. `AbortReason::from(&e)` is the A-ABORT reason to send.
///
/// The header is checked against `limits` as soon as its 6 bytes are present, before the
/// body arrives.
pub fn decode<'a>(input: &'a [u8], limits: &DecodeLimits) -> Result<Decoded<'a>, DecodeError> {
    let Some(header) = PduHeader::check(input, limits)? else {
        return Ok(Decoded::Incomplete {
            needed: PDU_HEADER_LEN - input.len(),
        });
    };
    let total = header.total_len();
    if input.len() < total {
        return Ok(Decoded::Incomplete {
            needed: total - input.len(),
        });
    }
    let body = &input[PDU_HEADER_LEN..total];
    let pdu = match header.pdu_type {
        PduType::AssociateRq => Pdu::AssociateRq(Box::new(associate_rq(body)?)),
        PduType::AssociateAc => Pdu::AssociateAc(Box::new(associate_ac(body)?)),
        PduType::AssociateRj => Pdu::AssociateRj(associate_rj(body)?),
        PduType::PData => Pdu::PData(p_data(body)?),
        PduType::ReleaseRq => Pdu::ReleaseRq,
        PduType::ReleaseRp => Pdu::ReleaseRp,
        // Bytes 7 and 8 reserved, 9 source, 10 reason.
        PduType::Abort => Pdu::Abort(Abort::from_codes(body[2], body[3])),
    };
    Ok(Decoded::Complete {
        pdu,
        consumed: total,
    })
}

/// Runs a `nom` layout parser, naming what it reads when the bytes run out.
fn read<'a, O>(
    what: &'static str,
    input: &'a [u8],
    mut layout: impl Parser<&'a [u8], Output = O, Error = NomError<'a>>,
) -> Result<(&'a [u8], O), DecodeError> {
    layout.parse(input).map_err(|_| {
        DecodeError::bad_length(
            what,
            format!("{} bytes do not hold its layout", input.len()),
        )
    })
}

/// Like [`read`], but the layout must use every byte of `input`.
fn read_exact<'a, O>(
    what: &'static str,
    input: &'a [u8],
    layout: impl Parser<&'a [u8], Output = O, Error = NomError<'a>>,
) -> Result<O, DecodeError> {
    read(what, input, all_consuming(layout)).map(|(_, out)| out)
}

/// An item or sub-item header and its value: item-type, byte 2 (reserved, or the
/// version of item 0x57), 16-bit item-length, value.
struct ItemRef<'a> {
    item_type: u8,
    second_byte: u8,
    value: &'a [u8],
}

impl ItemRef<'_> {
    fn known(&self) -> Option<ItemType> {
        ItemType::from_code(self.item_type)
    }

    fn to_raw(&self) -> RawItem {
        RawItem {
            item_type: self.item_type,
            value: self.value.to_vec(),
        }
    }
}

/// Splits `input` into consecutive items.
fn items<'a>(
    container: &'static str,
    mut input: &'a [u8],
) -> impl Iterator<Item = Result<ItemRef<'a>, DecodeError>> {
    std::iter::from_fn(move || {
        if input.is_empty() {
            return None;
        }
        match read(container, input, (be_u8, be_u8, length_data(be_u16))) {
            Ok((remaining, (item_type, second_byte, value))) => {
                input = remaining;
                Some(Ok(ItemRef {
                    item_type,
                    second_byte,
                    value,
                }))
            }
            Err(e) => {
                input = &[];
                Some(Err(e))
            }
        }
    })
}

fn uid(what: &'static str, raw: &[u8]) -> Result<Uid, DecodeError> {
    Uid::from_bytes(raw).map_err(|e| DecodeError::invalid(what, e))
}

fn flag(what: &'static str, byte: u8) -> Result<bool, DecodeError> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(DecodeError::invalid(
            what,
            format!("{other} is neither 0 nor 1"),
        )),
    }
}

fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    container: &'static str,
    item: ItemType,
) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::UnexpectedItem { container, item });
    }
    *slot = Some(value);
    Ok(())
}

fn required<T>(slot: Option<T>, container: &'static str, item: ItemType) -> Result<T, DecodeError> {
    slot.ok_or(DecodeError::MissingItem { container, item })
}

/// The fixed part shared by A-ASSOCIATE-RQ and -AC: protocol version, reserved, two
/// 16-byte AE title fields, 32 reserved bytes; then the variable items.
struct AssociateFixed<'a> {
    protocol_version: u16,
    called: &'a [u8; 16],
    calling: &'a [u8; 16],
    items: &'a [u8],
}

fn associate_fixed<'a>(
    what: &'static str,
    body: &'a [u8],
) -> Result<AssociateFixed<'a>, DecodeError> {
    let (items, (protocol_version, _reserved, called, calling, _reserved2)) = read(
        what,
        body,
        (
            be_u16,
            take(2usize),
            take(16usize),
            take(16usize),
            take(32usize),
        ),
    )?;
    Ok(AssociateFixed {
        protocol_version,
        called: called.try_into().unwrap_or(&[0; 16]),
        calling: calling.try_into().unwrap_or(&[0; 16]),
        items,
    })
}

fn associate_rq(body: &[u8]) -> Result<AssociateRq, DecodeError> {
    const WHERE: &str = "A-ASSOCIATE-RQ";
    let fixed = associate_fixed(WHERE, body)?;
    let called_ae_title = AeTitle::from_bytes(fixed.called)
        .map_err(|e| DecodeError::invalid("called AE title", e))?;
    let calling_ae_title = AeTitle::from_bytes(fixed.calling)
        .map_err(|e| DecodeError::invalid("calling AE title", e))?;

    let mut application_context = None;
    let mut presentation_contexts = Vec::new();
    let mut user_information = None;
    let mut unknown_items = Vec::new();
    for item in items(WHERE, fixed.items) {
        let item = item?;
        match item.known() {
            Some(ItemType::ApplicationContext) => set_once(
                &mut application_context,
                uid("application context name", item.value)?,
                WHERE,
                ItemType::ApplicationContext,
            )?,
            Some(ItemType::PresentationContextRq) => {
                presentation_contexts.push(presentation_context_rq(item.value)?);
            }
            Some(ItemType::UserInformation) => set_once(
                &mut user_information,
                user_info(item.value, Side::Rq)?,
                WHERE,
                ItemType::UserInformation,
            )?,
            Some(other) => {
                return Err(DecodeError::UnexpectedItem {
                    container: WHERE,
                    item: other,
                });
            }
            None => unknown_items.push(item.to_raw()),
        }
    }
    if presentation_contexts.is_empty() {
        return Err(DecodeError::MissingItem {
            container: WHERE,
            item: ItemType::PresentationContextRq,
        });
    }
    Ok(AssociateRq {
        protocol_version: fixed.protocol_version,
        called_ae_title,
        calling_ae_title,
        application_context: required(application_context, WHERE, ItemType::ApplicationContext)?,
        presentation_contexts,
        user_information: required(user_information, WHERE, ItemType::UserInformation)?,
        unknown_items,
    })
}

fn associate_ac(body: &[u8]) -> Result<AssociateAc, DecodeError> {
    const WHERE: &str = "A-ASSOCIATE-AC";
    let fixed = associate_fixed(WHERE, body)?;

    let mut application_context = None;
    let mut presentation_contexts = Vec::new();
    let mut user_information = None;
    let mut unknown_items = Vec::new();
    for item in items(WHERE, fixed.items) {
        let item = item?;
        match item.known() {
            Some(ItemType::ApplicationContext) => set_once(
                &mut application_context,
                uid("application context name", item.value)?,
                WHERE,
                ItemType::ApplicationContext,
            )?,
            Some(ItemType::PresentationContextAc) => {
                presentation_contexts.push(presentation_context_ac(item.value)?);
            }
            Some(ItemType::UserInformation) => set_once(
                &mut user_information,
                user_info(item.value, Side::Ac)?,
                WHERE,
                ItemType::UserInformation,
            )?,
            Some(other) => {
                return Err(DecodeError::UnexpectedItem {
                    container: WHERE,
                    item: other,
                });
            }
            None => unknown_items.push(item.to_raw()),
        }
    }
    if presentation_contexts.is_empty() {
        return Err(DecodeError::MissingItem {
            container: WHERE,
            item: ItemType::PresentationContextAc,
        });
    }
    Ok(AssociateAc {
        protocol_version: fixed.protocol_version,
        called_ae_title_echo: *fixed.called,
        calling_ae_title_echo: *fixed.calling,
        application_context: required(application_context, WHERE, ItemType::ApplicationContext)?,
        presentation_contexts,
        user_information: required(user_information, WHERE, ItemType::UserInformation)?,
        unknown_items,
    })
}

fn context_id(raw: u8) -> Result<PresentationContextId, DecodeError> {
    PresentationContextId::new(raw).ok_or_else(|| {
        DecodeError::invalid(
            "presentation context id",
            format!("{raw} is not an odd number from 1 to 255"),
        )
    })
}

fn presentation_context_rq(value: &[u8]) -> Result<PresentationContextRq, DecodeError> {
    const WHERE: &str = "presentation context item (0x20)";
    let (sub_items, (id, _reserved)) = read(WHERE, value, (be_u8, take(3usize)))?;
    let id = context_id(id)?;
    let mut abstract_syntax = None;
    let mut transfer_syntaxes = Vec::new();
    let mut unknown_sub_items = Vec::new();
    for item in items(WHERE, sub_items) {
        let item = item?;
        match item.known() {
            Some(ItemType::AbstractSyntax) => set_once(
                &mut abstract_syntax,
                uid("abstract syntax name", item.value)?,
                WHERE,
                ItemType::AbstractSyntax,
            )?,
            Some(ItemType::TransferSyntax) => {
                transfer_syntaxes.push(uid("transfer syntax name", item.value)?);
            }
            Some(other) => {
                return Err(DecodeError::UnexpectedItem {
                    container: WHERE,
                    item: other,
                });
            }
            None => unknown_sub_items.push(item.to_raw()),
        }
    }
    if transfer_syntaxes.is_empty() {
        return Err(DecodeError::MissingItem {
            container: WHERE,
            item: ItemType::TransferSyntax,
        });
    }
    Ok(PresentationContextRq {
        id,
        abstract_syntax: required(abstract_syntax, WHERE, ItemType::AbstractSyntax)?,
        transfer_syntaxes,
        unknown_sub_items,
    })
}

fn presentation_context_ac(value: &[u8]) -> Result<PresentationContextAc, DecodeError> {
    const WHERE: &str = "presentation context item (0x21)";
    let (sub_items, (id, _reserved, result, _reserved2)) =
        read(WHERE, value, (be_u8, be_u8, be_u8, be_u8))?;
    let id = context_id(id)?;
    let result =
        PresentationContextResult::from_code(result).ok_or(DecodeError::UnrecognizedValue {
            what: "presentation context result/reason",
            value: result,
        })?;
    let accepted = result == PresentationContextResult::Acceptance;
    let mut transfer_syntax = None;
    let mut seen_transfer_syntax = false;
    let mut unknown_sub_items = Vec::new();
    for item in items(WHERE, sub_items) {
        let item = item?;
        match item.known() {
            Some(ItemType::TransferSyntax) if accepted => {
                set_once(
                    &mut transfer_syntax,
                    uid("transfer syntax name", item.value)?,
                    WHERE,
                    ItemType::TransferSyntax,
                )?;
            }
            // A rejected context's transfer syntax is not significant and not tested
            // (PS3.8 Table 9-18): keep the first if it reads as a UID.
            Some(ItemType::TransferSyntax) => {
                if !seen_transfer_syntax {
                    transfer_syntax = Uid::from_bytes(item.value).ok();
                }
                seen_transfer_syntax = true;
            }
            Some(other) => {
                return Err(DecodeError::UnexpectedItem {
                    container: WHERE,
                    item: other,
                });
            }
            None => unknown_sub_items.push(item.to_raw()),
        }
    }
    if accepted && transfer_syntax.is_none() {
        return Err(DecodeError::MissingItem {
            container: WHERE,
            item: ItemType::TransferSyntax,
        });
    }
    Ok(PresentationContextAc {
        id,
        result,
        transfer_syntax,
        unknown_sub_items,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Rq,
    Ac,
}

fn user_info(value: &[u8], side: Side) -> Result<UserInformation, DecodeError> {
    const WHERE: &str = "user information item (0x50)";
    let mut max_length = None;
    let mut implementation_class_uid = None;
    let mut async_operations_window = None;
    let mut implementation_version_name = None;
    let mut user_identity_request = None;
    let mut user_identity_response = None;
    let mut role_selections = Vec::new();
    let mut sop_class_extended = Vec::new();
    let mut sop_class_common_extended = Vec::new();
    let mut unknown = Vec::new();

    for item in items(WHERE, value) {
        let item = item?;
        let v = item.value;
        let Some(kind) = item.known() else {
            unknown.push(item.to_raw());
            continue;
        };
        match (kind, side) {
            (ItemType::MaximumLength, _) => set_once(
                &mut max_length,
                read_exact("maximum length sub-item (0x51)", v, be_u32)?,
                WHERE,
                kind,
            )?,
            (ItemType::ImplementationClassUid, _) => set_once(
                &mut implementation_class_uid,
                uid("implementation class UID", v)?,
                WHERE,
                kind,
            )?,
            (ItemType::AsyncOperationsWindow, _) => {
                let (invoked, performed) = read_exact(
                    "asynchronous operations window sub-item (0x53)",
                    v,
                    (be_u16, be_u16),
                )?;
                set_once(
                    &mut async_operations_window,
                    AsyncOperationsWindow {
                        max_operations_invoked: invoked,
                        max_operations_performed: performed,
                    },
                    WHERE,
                    kind,
                )?;
            }
            (ItemType::RoleSelection, _) => {
                let (sop, scu, scp) = read_exact(
                    "SCP/SCU role selection sub-item (0x54)",
                    v,
                    (length_data(be_u16), be_u8, be_u8),
                )?;
                role_selections.push(RoleSelection {
                    sop_class_uid: uid("role selection SOP class UID", sop)?,
                    scu_role: flag("SCU role", scu)?,
                    scp_role: flag("SCP role", scp)?,
                });
            }
            (ItemType::ImplementationVersionName, _) => set_once(
                &mut implementation_version_name,
                version_name(v)?,
                WHERE,
                kind,
            )?,
            (ItemType::SopClassExtendedNegotiation, _) => {
                let (sop, info) = read_exact(
                    "SOP class extended negotiation sub-item (0x56)",
                    v,
                    (length_data(be_u16), rest),
                )?;
                sop_class_extended.push(SopClassExtendedNegotiation {
                    sop_class_uid: uid("extended negotiation SOP class UID", sop)?,
                    application_information: info.to_vec(),
                });
            }
            (ItemType::SopClassCommonExtendedNegotiation, Side::Rq) => {
                sop_class_common_extended.push(common_extended(item.second_byte, v)?);
            }
            (ItemType::UserIdentityRq, Side::Rq) => {
                set_once(
                    &mut user_identity_request,
                    user_identity_rq(v)?,
                    WHERE,
                    kind,
                )?;
            }
            (ItemType::UserIdentityAc, Side::Ac) => {
                let response = read_exact("user identity sub-item (0x59)", v, length_data(be_u16))?;
                set_once(
                    &mut user_identity_response,
                    UserIdentityResponse {
                        server_response: response.to_vec(),
                    },
                    WHERE,
                    kind,
                )?;
            }
            _ => {
                return Err(DecodeError::UnexpectedItem {
                    container: WHERE,
                    item: kind,
                });
            }
        }
    }
    Ok(UserInformation {
        max_length: required(max_length, WHERE, ItemType::MaximumLength)?,
        implementation_class_uid: required(
            implementation_class_uid,
            WHERE,
            ItemType::ImplementationClassUid,
        )?,
        async_operations_window,
        role_selections,
        implementation_version_name,
        sop_class_extended,
        sop_class_common_extended,
        user_identity_request,
        user_identity_response,
        unknown,
    })
}

fn version_name(raw: &[u8]) -> Result<String, DecodeError> {
    const WHAT: &str = "implementation version name";
    if raw.is_empty() || raw.len() > 16 {
        return Err(DecodeError::invalid(
            WHAT,
            format!("{} characters, the standard allows 1 to 16", raw.len()),
        ));
    }
    if let Some(bad) = raw.iter().find(|b| !(0x20..=0x7E).contains(*b)) {
        return Err(DecodeError::invalid(
            WHAT,
            format!("byte 0x{bad:02X} is outside the ISO 646 basic G0 set"),
        ));
    }
    Ok(raw.iter().map(|&b| char::from(b)).collect())
}

fn common_extended(
    version: u8,
    v: &[u8],
) -> Result<SopClassCommonExtendedNegotiation, DecodeError> {
    const WHAT: &str = "SOP class common extended negotiation sub-item (0x57)";
    let (sop, service, related, reserved) = read_exact(
        WHAT,
        v,
        (
            length_data(be_u16),
            length_data(be_u16),
            length_data(be_u16),
            rest,
        ),
    )?;
    let mut related_general_sop_classes = Vec::new();
    let mut related = related;
    while !related.is_empty() {
        let (remaining, one) = read(
            "related general SOP class identification",
            related,
            length_data(be_u16),
        )?;
        related_general_sop_classes.push(uid("related general SOP class UID", one)?);
        related = remaining;
    }
    Ok(SopClassCommonExtendedNegotiation {
        version,
        sop_class_uid: uid("common extended negotiation SOP class UID", sop)?,
        service_class_uid: uid("service class UID", service)?,
        related_general_sop_classes,
        reserved: reserved.to_vec(),
    })
}

fn user_identity_rq(v: &[u8]) -> Result<UserIdentityRequest, DecodeError> {
    let (kind, positive, primary, secondary) = read_exact(
        "user identity sub-item (0x58)",
        v,
        (be_u8, be_u8, length_data(be_u16), length_data(be_u16)),
    )?;
    let no_secondary = |identity: UserIdentity| {
        if secondary.is_empty() {
            Ok(identity)
        } else {
            Err(DecodeError::invalid(
                "user identity secondary field",
                format!("{} bytes for a type without a passcode", secondary.len()),
            ))
        }
    };
    let identity = match kind {
        1 => no_secondary(UserIdentity::Username(primary.to_vec()))?,
        2 => UserIdentity::UsernamePasscode {
            username: primary.to_vec(),
            passcode: secondary.to_vec(),
        },
        3 => no_secondary(UserIdentity::KerberosServiceTicket(primary.to_vec()))?,
        4 => no_secondary(UserIdentity::SamlAssertion(primary.to_vec()))?,
        5 => no_secondary(UserIdentity::Jwt(primary.to_vec()))?,
        other => {
            return Err(DecodeError::UnrecognizedValue {
                what: "user identity type",
                value: other,
            });
        }
    };
    Ok(UserIdentityRequest {
        identity,
        positive_response_requested: flag("positive response requested", positive)?,
    })
}

fn associate_rj(body: &[u8]) -> Result<AssociateRj, DecodeError> {
    // Byte 7 reserved, 8 result, 9 source, 10 reason/diagnostic.
    let result = RejectResult::from_code(body[1]).ok_or(DecodeError::UnrecognizedValue {
        what: "A-ASSOCIATE-RJ result",
        value: body[1],
    })?;
    let source =
        RejectSource::from_codes(body[2], body[3]).ok_or(DecodeError::UnrecognizedValue {
            what: "A-ASSOCIATE-RJ source",
            value: body[2],
        })?;
    Ok(AssociateRj { result, source })
}

fn p_data(mut body: &[u8]) -> Result<PData<'_>, DecodeError> {
    const WHAT: &str = "presentation data value item";
    if body.is_empty() {
        return Err(DecodeError::bad_length(
            "P-DATA-TF",
            "no presentation data value item",
        ));
    }
    let mut pdvs = Vec::with_capacity(1);
    while !body.is_empty() {
        let (remaining, item) = read(WHAT, body, length_data(be_u32))?;
        let (data, (id, header)) = read(WHAT, item, (be_u8, be_u8))?;
        pdvs.push(Pdv {
            context_id: context_id(id)?,
            header: MessageControlHeader::from_bits_truncate(header),
            data,
        });
        body = remaining;
    }
    Ok(PData::new(pdvs))
}
