//! P-DATA-TF (PS3.8 9.3.5) and its presentation data value items.

use bitflags::bitflags;

use super::associate::PresentationContextId;

bitflags! {
    /// The message control header of a PDV (PS3.8 Annex E.2).
    ///
    /// Bits 2–7 are sent as 0 and not checked on receipt, so they are dropped on decode.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct MessageControlHeader: u8 {
        /// Bit 0: the fragment is part of a command set (else of a data set).
        const COMMAND = 0b01;
        /// Bit 1: the last fragment of the command set or data set.
        const LAST = 0b10;
    }
}

impl MessageControlHeader {
    /// Whether the fragment belongs to a command set.
    pub const fn is_command(self) -> bool {
        self.contains(Self::COMMAND)
    }

    /// Whether the fragment is the last of its command set or data set.
    pub const fn is_last(self) -> bool {
        self.contains(Self::LAST)
    }
}

/// One presentation data value: a fragment of a command set or a data set. The payload
/// borrows from the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pdv<'a> {
    /// The presentation context the fragment belongs to.
    pub context_id: PresentationContextId,
    /// Command or data, last or not.
    pub header: MessageControlHeader,
    /// The fragment.
    pub data: &'a [u8],
}

/// The bytes of a PDV item before its fragment: 4-byte length, context id, control header.
pub const PDV_HEADER_LEN: usize = 6;

/// P-DATA-TF PDU (type 0x04): one or more PDVs.
///
/// ```
/// use dicomwire::pdu::{self, DecodeLimits, Decoded, MessageControlHeader, PData, Pdu, Pdv,
///     PresentationContextId};
/// let pc = PresentationContextId::new(1).unwrap();
/// let pdv = Pdv { context_id: pc, header: MessageControlHeader::COMMAND | MessageControlHeader::LAST, data: b"\x01\x02" };
/// let mut wire = Vec::new();
/// Pdu::PData(PData::new(vec![pdv])).encode(&mut wire).unwrap();
/// let Decoded::Complete { pdu: Pdu::PData(p), consumed } = pdu::decode(&wire, &DecodeLimits::default()).unwrap()
///     else { panic!() };
/// assert_eq!(consumed, wire.len());
/// assert_eq!(p.pdvs[0].data, b"\x01\x02");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PData<'a> {
    /// The PDVs in order; at least one.
    pub pdvs: Vec<Pdv<'a>>,
}

impl<'a> PData<'a> {
    /// A P-DATA-TF carrying `pdvs`.
    pub fn new(pdvs: Vec<Pdv<'a>>) -> Self {
        Self { pdvs }
    }
}
