//! The seven PDUs of the DICOM upper layer (PS3.8 9.3) and all their items, decoded with
//! `nom` over caller-owned bytes and encoded by appending to a caller-owned `Vec<u8>`.
//!
//! Decoding is httparse-style: [`decode`] returns [`Decoded::Complete`] with the PDU and
//! the bytes it used, or [`Decoded::Incomplete`] with how many more bytes are needed.
//! Limits are checked from the 6-byte header before anything else, so a peer that
//! announces a 4 GiB PDU is refused at once, having cost nothing:
//!
//! ```
//! use dicomwire::pdu::{self, AbortReason, DecodeError, DecodeLimits};
//! let header = [0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xF0];
//! let err = pdu::decode(&header, &DecodeLimits::default()).unwrap_err();
//! assert!(matches!(err, DecodeError::PduTooLong { length: 0xFFFF_FFF0, .. }));
//! assert_eq!(AbortReason::from(&err), AbortReason::InvalidPduParameterValue);
//! ```
//!
//! P-DATA-TF payloads borrow from the input; association PDUs are owned (they are small,
//! and negotiation keeps them).

mod associate;
mod control;
mod decode;
mod encode;
mod error;
mod out;
mod pdata;
mod text;

pub use associate::{
    AssociateAc, AssociateRq, AsyncOperationsWindow, DICOM_APPLICATION_CONTEXT, PROTOCOL_VERSION,
    PresentationContextAc, PresentationContextId, PresentationContextResult, PresentationContextRq,
    RawItem, RoleSelection, SopClassCommonExtendedNegotiation, SopClassExtendedNegotiation,
    UserIdentity, UserIdentityRequest, UserIdentityResponse, UserInformation,
};
pub use control::{
    Abort, AbortReason, AbortSource, AcseReason, AssociateRj, PresentationReason, RejectResult,
    RejectSource, ServiceUserReason,
};
pub use decode::decode;
pub use encode::{write_pdata_header, write_pdv};
pub use error::{DecodeError, EncodeError};
pub(crate) use out::PduOut;
pub use pdata::{MessageControlHeader, PDV_HEADER_LEN, PData, Pdv};
pub use text::{AeTitle, InvalidAeTitle, InvalidUid, Uid};

/// Bytes of the PDU header: type, reserved, 32-bit length.
pub const PDU_HEADER_LEN: usize = 6;

/// Default bound on an A-ASSOCIATE-RQ or -AC PDU length: 1 MiB. Storage modalities
/// propose 128 contexts of dozens of transfer syntaxes (over 128 KiB); the length is
/// checked from the PDU header before anything is buffered, and the buffer grows only
/// with the bytes that actually arrive.
pub const DEFAULT_MAX_ASSOCIATE_LENGTH: u32 = 1024 * 1024;

/// Default maximum P-DATA-TF length we accept (and announce in item 0x51): 256 KiB.
pub const DEFAULT_MAX_PDU_LENGTH: u32 = 256 * 1024;

/// The smallest maximum PDU length we let a user configure: a P-DATA-TF must hold a PDV
/// header and at least one byte of fragment.
pub const MIN_MAX_PDU_LENGTH: u32 = 7;

/// The seven PDU types (PS3.8 9.3, byte 1 of every PDU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PduType {
    /// 0x01 A-ASSOCIATE-RQ.
    AssociateRq,
    /// 0x02 A-ASSOCIATE-AC.
    AssociateAc,
    /// 0x03 A-ASSOCIATE-RJ.
    AssociateRj,
    /// 0x04 P-DATA-TF.
    PData,
    /// 0x05 A-RELEASE-RQ.
    ReleaseRq,
    /// 0x06 A-RELEASE-RP.
    ReleaseRp,
    /// 0x07 A-ABORT.
    Abort,
}

impl PduType {
    /// Every PDU type, in code order.
    pub const ALL: [Self; 7] = [
        Self::AssociateRq,
        Self::AssociateAc,
        Self::AssociateRj,
        Self::PData,
        Self::ReleaseRq,
        Self::ReleaseRp,
        Self::Abort,
    ];

    /// The PDU-type byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::AssociateRq => 0x01,
            Self::AssociateAc => 0x02,
            Self::AssociateRj => 0x03,
            Self::PData => 0x04,
            Self::ReleaseRq => 0x05,
            Self::ReleaseRp => 0x06,
            Self::Abort => 0x07,
        }
    }

    /// The type for a PDU-type byte.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => Self::AssociateRq,
            0x02 => Self::AssociateAc,
            0x03 => Self::AssociateRj,
            0x04 => Self::PData,
            0x05 => Self::ReleaseRq,
            0x06 => Self::ReleaseRp,
            0x07 => Self::Abort,
            _ => return None,
        })
    }

    /// The standard's name: `A-ASSOCIATE-RQ`, `P-DATA-TF` …
    pub const fn name(self) -> &'static str {
        match self {
            Self::AssociateRq => "A-ASSOCIATE-RQ",
            Self::AssociateAc => "A-ASSOCIATE-AC",
            Self::AssociateRj => "A-ASSOCIATE-RJ",
            Self::PData => "P-DATA-TF",
            Self::ReleaseRq => "A-RELEASE-RQ",
            Self::ReleaseRp => "A-RELEASE-RP",
            Self::Abort => "A-ABORT",
        }
    }

    /// The PDU-length these types always have (4), or `None` where it varies.
    pub const fn fixed_length(self) -> Option<u32> {
        match self {
            Self::AssociateRj | Self::ReleaseRq | Self::ReleaseRp | Self::Abort => Some(4),
            Self::AssociateRq | Self::AssociateAc | Self::PData => None,
        }
    }
}

/// The item and sub-item types of A-ASSOCIATE-RQ/AC (PS3.8 9.3.2, 9.3.3, Annex D; PS3.7
/// Annex D.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ItemType {
    /// 0x10 Application Context.
    ApplicationContext,
    /// 0x20 Presentation Context (request).
    PresentationContextRq,
    /// 0x21 Presentation Context (accept).
    PresentationContextAc,
    /// 0x30 Abstract Syntax sub-item.
    AbstractSyntax,
    /// 0x40 Transfer Syntax sub-item.
    TransferSyntax,
    /// 0x50 User Information.
    UserInformation,
    /// 0x51 Maximum Length.
    MaximumLength,
    /// 0x52 Implementation Class UID.
    ImplementationClassUid,
    /// 0x53 Asynchronous Operations Window.
    AsyncOperationsWindow,
    /// 0x54 SCP/SCU Role Selection.
    RoleSelection,
    /// 0x55 Implementation Version Name.
    ImplementationVersionName,
    /// 0x56 SOP Class Extended Negotiation.
    SopClassExtendedNegotiation,
    /// 0x57 SOP Class Common Extended Negotiation.
    SopClassCommonExtendedNegotiation,
    /// 0x58 User Identity Negotiation (request).
    UserIdentityRq,
    /// 0x59 User Identity Negotiation (accept).
    UserIdentityAc,
}

impl ItemType {
    /// Every item type, in code order.
    pub const ALL: [Self; 15] = [
        Self::ApplicationContext,
        Self::PresentationContextRq,
        Self::PresentationContextAc,
        Self::AbstractSyntax,
        Self::TransferSyntax,
        Self::UserInformation,
        Self::MaximumLength,
        Self::ImplementationClassUid,
        Self::AsyncOperationsWindow,
        Self::RoleSelection,
        Self::ImplementationVersionName,
        Self::SopClassExtendedNegotiation,
        Self::SopClassCommonExtendedNegotiation,
        Self::UserIdentityRq,
        Self::UserIdentityAc,
    ];

    /// The item-type byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::ApplicationContext => 0x10,
            Self::PresentationContextRq => 0x20,
            Self::PresentationContextAc => 0x21,
            Self::AbstractSyntax => 0x30,
            Self::TransferSyntax => 0x40,
            Self::UserInformation => 0x50,
            Self::MaximumLength => 0x51,
            Self::ImplementationClassUid => 0x52,
            Self::AsyncOperationsWindow => 0x53,
            Self::RoleSelection => 0x54,
            Self::ImplementationVersionName => 0x55,
            Self::SopClassExtendedNegotiation => 0x56,
            Self::SopClassCommonExtendedNegotiation => 0x57,
            Self::UserIdentityRq => 0x58,
            Self::UserIdentityAc => 0x59,
        }
    }

    /// The type for an item-type byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// A decoded PDU. P-DATA-TF borrows its fragments from the decoded bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pdu<'a> {
    /// A-ASSOCIATE-RQ (boxed: it is large and rare, P-DATA-TF is small and frequent).
    AssociateRq(Box<AssociateRq>),
    /// A-ASSOCIATE-AC (boxed, like the request).
    AssociateAc(Box<AssociateAc>),
    /// A-ASSOCIATE-RJ.
    AssociateRj(AssociateRj),
    /// P-DATA-TF.
    PData(PData<'a>),
    /// A-RELEASE-RQ.
    ReleaseRq,
    /// A-RELEASE-RP.
    ReleaseRp,
    /// A-ABORT.
    Abort(Abort),
}

impl Pdu<'_> {
    /// The PDU's type.
    pub fn pdu_type(&self) -> PduType {
        match self {
            Self::AssociateRq(_) => PduType::AssociateRq,
            Self::AssociateAc(_) => PduType::AssociateAc,
            Self::AssociateRj(_) => PduType::AssociateRj,
            Self::PData(_) => PduType::PData,
            Self::ReleaseRq => PduType::ReleaseRq,
            Self::ReleaseRp => PduType::ReleaseRp,
            Self::Abort(_) => PduType::Abort,
        }
    }
}

/// The limits a decoder enforces from the PDU header, before buffering anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The largest P-DATA-TF PDU-length we accept: the maximum length we announce in
    /// item 0x51. Never 0 here: "no limit" on the wire still has a cap in memory.
    pub max_pdu_length: u32,
    /// The largest A-ASSOCIATE-RQ or -AC PDU-length we accept.
    pub max_associate_length: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pdu_length: DEFAULT_MAX_PDU_LENGTH,
            max_associate_length: DEFAULT_MAX_ASSOCIATE_LENGTH,
        }
    }
}

impl DecodeLimits {
    /// The largest PDU-length accepted for `pdu_type`.
    pub const fn limit_for(&self, pdu_type: PduType) -> u32 {
        match pdu_type {
            PduType::PData => self.max_pdu_length,
            PduType::AssociateRq | PduType::AssociateAc => self.max_associate_length,
            PduType::AssociateRj | PduType::ReleaseRq | PduType::ReleaseRp | PduType::Abort => 4,
        }
    }
}

/// A PDU header that passed the limits: type and PDU-length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    /// The PDU type.
    pub pdu_type: PduType,
    /// The PDU-length field: the bytes after the header.
    pub length: u32,
}

impl PduHeader {
    /// Reads and checks the header at the start of `input`: an error as soon as the type
    /// byte is unknown or the length breaks a limit; `Ok(None)` while fewer than 6 bytes
    /// are there otherwise.
    pub fn check(input: &[u8], limits: &DecodeLimits) -> Result<Option<Self>, DecodeError> {
        // The type byte is judged as soon as it arrives.
        if let Some(&code) = input.first() {
            PduType::from_code(code).ok_or(DecodeError::UnrecognizedPduType(code))?;
        }
        let Some(header) = input.first_chunk::<PDU_HEADER_LEN>() else {
            return Ok(None);
        };
        let pdu_type =
            PduType::from_code(header[0]).ok_or(DecodeError::UnrecognizedPduType(header[0]))?;
        let length = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        if let Some(fixed) = pdu_type.fixed_length() {
            if length != fixed {
                return Err(DecodeError::BadFixedLength { pdu_type, length });
            }
        } else {
            let limit = limits.limit_for(pdu_type);
            if length > limit {
                return Err(DecodeError::PduTooLong {
                    pdu_type,
                    length,
                    limit,
                });
            }
        }
        Ok(Some(Self { pdu_type, length }))
    }

    /// Header plus body: the bytes the whole PDU occupies.
    pub fn total_len(&self) -> usize {
        PDU_HEADER_LEN + self.length as usize
    }
}

/// The result of [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Decoded<'a> {
    /// A whole PDU was decoded from the first `consumed` bytes.
    Complete {
        /// The PDU.
        pdu: Pdu<'a>,
        /// Bytes it occupied.
        consumed: usize,
    },
    /// The input holds the start of a valid PDU; at least `needed` more bytes are needed.
    Incomplete {
        /// How many more bytes, at least.
        needed: usize,
    },
}
