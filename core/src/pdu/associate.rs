//! A-ASSOCIATE-RQ and A-ASSOCIATE-AC (PS3.8 9.3.2, 9.3.3) with their items and the
//! user-information sub-items of PS3.7 Annex D.3.3 and PS3.8 Annex D.1.

use std::fmt;

use super::text::{AeTitle, Uid};

/// The DICOM UL protocol version we send (PS3.8 Table 9-11): bit 0 set.
pub const PROTOCOL_VERSION: u16 = 0x0001;

/// The DICOM application context name (PS3.7 Annex A.2.1).
pub const DICOM_APPLICATION_CONTEXT: Uid = Uid::from_static("1.2.840.10008.3.1.1.1");

/// A presentation context id: an odd number from 1 to 255 (PS3.8 9.3.2.2).
///
/// ```
/// use dicomwire::pdu::PresentationContextId;
/// assert!(PresentationContextId::new(1).is_some());
/// assert!(PresentationContextId::new(2).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PresentationContextId(u8);

impl PresentationContextId {
    /// `Some` for an odd `id`, `None` otherwise.
    pub const fn new(id: u8) -> Option<Self> {
        if id % 2 == 1 { Some(Self(id)) } else { None }
    }

    /// The id's value.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Debug for PresentationContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pc{}", self.0)
    }
}

impl fmt::Display for PresentationContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An item or sub-item of a type this decoder does not know, kept as received.
///
/// PS3.8 9.3.1: items of unrecognized types are ignored and skipped. We keep their bytes
/// so that logs and replays can show them; they have no effect on negotiation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawItem {
    /// The item-type byte.
    pub item_type: u8,
    /// The bytes after the 4-byte item header.
    pub value: Vec<u8>,
}

/// Presentation context item of an A-ASSOCIATE-RQ (type 0x20, PS3.8 9.3.2.2): one
/// abstract syntax (0x30) and the proposed transfer syntaxes (0x40) in order of preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PresentationContextRq {
    /// The context id.
    pub id: PresentationContextId,
    /// The SOP class (or meta SOP class) proposed.
    pub abstract_syntax: Uid,
    /// At least one transfer syntax, preferred first.
    pub transfer_syntaxes: Vec<Uid>,
    /// Sub-items of unknown types, skipped.
    pub unknown_sub_items: Vec<RawItem>,
}

/// Result of a presentation context negotiation (PS3.8 Table 9-18, byte 7 of item 0x21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresentationContextResult {
    /// 0 — acceptance.
    Acceptance,
    /// 1 — user-rejection.
    UserRejection,
    /// 2 — no-reason (provider rejection).
    NoReason,
    /// 3 — abstract-syntax-not-supported (provider rejection).
    AbstractSyntaxNotSupported,
    /// 4 — transfer-syntaxes-not-supported (provider rejection).
    TransferSyntaxesNotSupported,
}

impl PresentationContextResult {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Acceptance => 0,
            Self::UserRejection => 1,
            Self::NoReason => 2,
            Self::AbstractSyntaxNotSupported => 3,
            Self::TransferSyntaxesNotSupported => 4,
        }
    }

    /// The value for a wire code, if the standard defines it.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Acceptance,
            1 => Self::UserRejection,
            2 => Self::NoReason,
            3 => Self::AbstractSyntaxNotSupported,
            4 => Self::TransferSyntaxesNotSupported,
            _ => return None,
        })
    }

    /// The result's name, in the standard's words.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Acceptance => "acceptance",
            Self::UserRejection => "user-rejection",
            Self::NoReason => "no-reason (provider rejection)",
            Self::AbstractSyntaxNotSupported => {
                "abstract-syntax-not-supported (provider rejection)"
            }
            Self::TransferSyntaxesNotSupported => {
                "transfer-syntaxes-not-supported (provider rejection)"
            }
        }
    }
}

/// Presentation context item of an A-ASSOCIATE-AC (type 0x21, PS3.8 9.3.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PresentationContextAc {
    /// The id of the proposed context this answers.
    pub id: PresentationContextId,
    /// Accepted, or why not.
    pub result: PresentationContextResult,
    /// The accepted transfer syntax. Always `Some` when the result is acceptance. When the
    /// context was rejected the field is not significant (PS3.8 Table 9-18): it is kept if
    /// it parses as a UID and is `None` otherwise; an empty sub-item is sent for `None`.
    pub transfer_syntax: Option<Uid>,
    /// Sub-items of unknown types, skipped.
    pub unknown_sub_items: Vec<RawItem>,
}

/// SCP/SCU role selection sub-item (0x54, PS3.7 D.3.3.4).
///
/// In a request, `true` means the requestor proposes to play that role; in an accept it
/// means the acceptor accepts the proposed role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleSelection {
    /// The SOP class the roles are for.
    pub sop_class_uid: Uid,
    /// SCU role.
    pub scu_role: bool,
    /// SCP role.
    pub scp_role: bool,
}

/// SOP class extended negotiation sub-item (0x56, PS3.7 D.3.3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SopClassExtendedNegotiation {
    /// The SOP class.
    pub sop_class_uid: Uid,
    /// Service-class application information, defined by each service class.
    pub application_information: Vec<u8>,
}

/// SOP class common extended negotiation sub-item (0x57, PS3.7 D.3.3.6; request only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SopClassCommonExtendedNegotiation {
    /// The sub-item version (byte 2 of the item); 0 in the current standard.
    pub version: u8,
    /// The SOP class.
    pub sop_class_uid: Uid,
    /// The service class it belongs to.
    pub service_class_uid: Uid,
    /// Related general SOP classes, in order.
    pub related_general_sop_classes: Vec<Uid>,
    /// Bytes after the related general SOP class identification: reserved (empty in
    /// version 0), kept as received.
    pub reserved: Vec<u8>,
}

/// User identity type of a user identity negotiation request (PS3.7 Table D.3-14), with
/// its fields.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserIdentity {
    /// 1 — username (UTF-8).
    Username(Vec<u8>),
    /// 2 — username and passcode (both UTF-8).
    UsernamePasscode {
        /// The username.
        username: Vec<u8>,
        /// The passcode.
        passcode: Vec<u8>,
    },
    /// 3 — Kerberos service ticket.
    KerberosServiceTicket(Vec<u8>),
    /// 4 — SAML assertion.
    SamlAssertion(Vec<u8>),
    /// 5 — JSON Web Token.
    Jwt(Vec<u8>),
}

impl UserIdentity {
    /// The user-identity-type byte.
    pub const fn type_code(&self) -> u8 {
        match self {
            Self::Username(_) => 1,
            Self::UsernamePasscode { .. } => 2,
            Self::KerberosServiceTicket(_) => 3,
            Self::SamlAssertion(_) => 4,
            Self::Jwt(_) => 5,
        }
    }

    /// The primary field.
    pub fn primary_field(&self) -> &[u8] {
        match self {
            Self::Username(v)
            | Self::KerberosServiceTicket(v)
            | Self::SamlAssertion(v)
            | Self::Jwt(v) => v,
            Self::UsernamePasscode { username, .. } => username,
        }
    }

    /// The secondary field: the passcode for type 2, empty otherwise.
    pub fn secondary_field(&self) -> &[u8] {
        match self {
            Self::UsernamePasscode { passcode, .. } => passcode,
            _ => &[],
        }
    }
}

impl fmt::Debug for UserIdentity {
    // Never print credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Username(u) => write!(f, "Username({:?})", String::from_utf8_lossy(u)),
            Self::UsernamePasscode { username, .. } => write!(
                f,
                "UsernamePasscode({:?}, passcode: <redacted>)",
                String::from_utf8_lossy(username)
            ),
            Self::KerberosServiceTicket(t) => write!(f, "KerberosServiceTicket({} bytes)", t.len()),
            Self::SamlAssertion(a) => write!(f, "SamlAssertion({} bytes)", a.len()),
            Self::Jwt(t) => write!(f, "Jwt({} bytes)", t.len()),
        }
    }
}

/// User identity negotiation sub-item of a request (0x58, PS3.7 D.3.3.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserIdentityRequest {
    /// The identity and its fields.
    pub identity: UserIdentity,
    /// Whether the requestor asks for a user identity response (0x59).
    pub positive_response_requested: bool,
}

/// User identity negotiation sub-item of an accept (0x59, PS3.7 D.3.3.7.2).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserIdentityResponse {
    /// Kerberos server ticket, SAML response or JWT; empty for types 1 and 2.
    pub server_response: Vec<u8>,
}

impl fmt::Debug for UserIdentityResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UserIdentityResponse({} bytes)",
            self.server_response.len()
        )
    }
}

/// Asynchronous operations window sub-item (0x53, PS3.7 D.3.3.3). 0 means unlimited;
/// an absent item means 1 and 1 (no asynchronous operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AsyncOperationsWindow {
    /// Maximum number of operations invoked.
    pub max_operations_invoked: u16,
    /// Maximum number of operations performed.
    pub max_operations_performed: u16,
}

/// The user information item (0x50) with its sub-items, decoded.
///
/// Sub-items may come in any order on the wire (PS3.8 9.3.2.3); we send them in
/// ascending item type, as some older peers expect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserInformation {
    /// 0x51: the largest P-DATA-TF variable field the sender can receive; 0 = no limit.
    pub max_length: u32,
    /// 0x52: implementation class UID.
    pub implementation_class_uid: Uid,
    /// 0x53: asynchronous operations window.
    pub async_operations_window: Option<AsyncOperationsWindow>,
    /// 0x54: SCP/SCU role selections, one per SOP class.
    pub role_selections: Vec<RoleSelection>,
    /// 0x55: implementation version name (1 to 16 characters).
    pub implementation_version_name: Option<String>,
    /// 0x56: SOP class extended negotiation, one per SOP class.
    pub sop_class_extended: Vec<SopClassExtendedNegotiation>,
    /// 0x57: SOP class common extended negotiation (request only).
    pub sop_class_common_extended: Vec<SopClassCommonExtendedNegotiation>,
    /// 0x58: user identity request (request only).
    pub user_identity_request: Option<UserIdentityRequest>,
    /// 0x59: user identity response (accept only).
    pub user_identity_response: Option<UserIdentityResponse>,
    /// Sub-items of unknown types, skipped.
    pub unknown: Vec<RawItem>,
}

impl UserInformation {
    /// User information with just the two required sub-items.
    pub fn new(max_length: u32, implementation_class_uid: Uid) -> Self {
        Self {
            max_length,
            implementation_class_uid,
            async_operations_window: None,
            role_selections: Vec::new(),
            implementation_version_name: None,
            sop_class_extended: Vec::new(),
            sop_class_common_extended: Vec::new(),
            user_identity_request: None,
            user_identity_response: None,
            unknown: Vec::new(),
        }
    }
}

/// A-ASSOCIATE-RQ PDU (type 0x01, PS3.8 9.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssociateRq {
    /// Protocol version; a version-1 receiver tests only bit 0.
    pub protocol_version: u16,
    /// The AE title of the acceptor being called.
    pub called_ae_title: AeTitle,
    /// The AE title of the requestor.
    pub calling_ae_title: AeTitle,
    /// Application context name (0x10).
    pub application_context: Uid,
    /// Presentation contexts proposed (0x20), at least one.
    pub presentation_contexts: Vec<PresentationContextRq>,
    /// User information (0x50).
    pub user_information: UserInformation,
    /// Items of unknown types, skipped.
    pub unknown_items: Vec<RawItem>,
}

/// A-ASSOCIATE-AC PDU (type 0x02, PS3.8 9.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssociateAc {
    /// Protocol version; a version-1 receiver tests only bit 0.
    pub protocol_version: u16,
    /// Bytes 11–26: the called AE title of the request, echoed, never tested on receipt.
    pub called_ae_title_echo: [u8; 16],
    /// Bytes 27–42: the calling AE title of the request, echoed, never tested on receipt.
    pub calling_ae_title_echo: [u8; 16],
    /// Application context name (0x10).
    pub application_context: Uid,
    /// One result per proposed context (0x21).
    pub presentation_contexts: Vec<PresentationContextAc>,
    /// User information (0x50).
    pub user_information: UserInformation,
    /// Items of unknown types, skipped.
    pub unknown_items: Vec<RawItem>,
}
