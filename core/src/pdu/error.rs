//! Decode and encode errors, and the one place where a decode error becomes the A-ABORT
//! reason of PS3.8 Table 9-26.

use thiserror::Error;

use super::control::{Abort, AbortReason};
use super::{ItemType, PduType};

/// Why bytes from a peer are not a valid PDU. Every variant maps to an A-ABORT reason
/// (`AbortReason::from(&err)`); the state machine never picks one by hand.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The PDU-type byte is none of the seven PDU types. Abort reason: unrecognized-PDU.
    #[error("unrecognized PDU type 0x{0:02X}")]
    UnrecognizedPduType(u8),
    /// The header announces more bytes than our limit for that PDU type; refused before
    /// anything is buffered. Abort reason: invalid-PDU-parameter-value.
    #[error("{pdu_type:?} announces {length} bytes, over our limit of {limit}")]
    PduTooLong {
        /// The PDU type.
        pdu_type: PduType,
        /// The PDU-length field.
        length: u32,
        /// Our limit for that type.
        limit: u32,
    },
    /// A PDU whose length is fixed (A-ASSOCIATE-RJ, A-RELEASE-RQ/RP, A-ABORT: 4) has
    /// another length. Abort reason: invalid-PDU-parameter-value.
    #[error("{pdu_type:?} has length {length}, the standard fixes it at 4")]
    BadFixedLength {
        /// The PDU type.
        pdu_type: PduType,
        /// The PDU-length field.
        length: u32,
    },
    /// A field, item or sub-item extends past the end of what contains it, or a fixed-size
    /// item has the wrong length. Abort reason: invalid-PDU-parameter-value.
    #[error("{what}: length does not fit ({detail})")]
    BadLength {
        /// The field or item.
        what: &'static str,
        /// What was expected and found.
        detail: String,
    },
    /// A mandatory item is absent. Abort reason: invalid-PDU-parameter-value.
    #[error("{container} has no {item:?} item")]
    MissingItem {
        /// Where it was expected.
        container: &'static str,
        /// The item type.
        item: ItemType,
    },
    /// A known item where it is not allowed (wrong PDU, or a second copy of a single
    /// item). Abort reason: unexpected-PDU-parameter.
    #[error("unexpected {item:?} item in {container}")]
    UnexpectedItem {
        /// Where it was found.
        container: &'static str,
        /// The item type.
        item: ItemType,
    },
    /// A coded field holds a value the standard does not define. Abort reason:
    /// unrecognized-PDU-parameter.
    #[error("{what} has undefined value {value}")]
    UnrecognizedValue {
        /// The field.
        what: &'static str,
        /// The value received.
        value: u8,
    },
    /// A field's content is invalid (an AE title, a UID, an even presentation context id,
    /// a role byte other than 0 or 1 …). Abort reason: invalid-PDU-parameter-value.
    #[error("invalid {what}: {detail}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

impl DecodeError {
    pub(crate) fn bad_length(what: &'static str, detail: impl Into<String>) -> Self {
        Self::BadLength {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(what: &'static str, detail: impl ToString) -> Self {
        Self::InvalidValue {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<&DecodeError> for AbortReason {
    fn from(err: &DecodeError) -> Self {
        match err {
            DecodeError::UnrecognizedPduType(_) => Self::UnrecognizedPdu,
            DecodeError::UnrecognizedValue { .. } => Self::UnrecognizedPduParameter,
            DecodeError::UnexpectedItem { .. } => Self::UnexpectedPduParameter,
            DecodeError::PduTooLong { .. }
            | DecodeError::BadFixedLength { .. }
            | DecodeError::BadLength { .. }
            | DecodeError::MissingItem { .. }
            | DecodeError::InvalidValue { .. } => Self::InvalidPduParameterValue,
        }
    }
}

impl From<&DecodeError> for Abort {
    /// The A-ABORT a service-provider sends for this error: source 2 with the reason.
    fn from(err: &DecodeError) -> Self {
        Self::provider(AbortReason::from(err))
    }
}

/// Why a PDU cannot be encoded. Nothing is appended to the output when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// An item's content is longer than its 16-bit length field can say.
    #[error("{what} would be {len} bytes, over the 65535 an item length can hold")]
    ItemTooLong {
        /// The item.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The PDU is longer than its 32-bit length field can say.
    #[error("PDU would be {len} bytes, over the 32-bit PDU length")]
    PduTooLong {
        /// Its length.
        len: usize,
    },
    /// The PDU would break a structural rule of the standard.
    #[error("{0}")]
    Invalid(&'static str),
}
