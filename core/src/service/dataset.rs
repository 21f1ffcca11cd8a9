//! Identifiers and data sets between their wire form (bytes in a transfer syntax) and
//! dicom-object's `InMemDicomObject`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_encoding::TransferSyntaxIndex;
use dicom_encoding::transfer_syntax::{Codec, Endianness};
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use thiserror::Error;

use crate::dimse::DataSet;

/// Why a data set could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DataSetError {
    /// A transfer syntax we do not know or cannot encode without a codec.
    #[error("unsupported transfer syntax {0}")]
    UnsupportedTransferSyntax(String),
    /// The bytes are not a data set in that transfer syntax.
    #[error("cannot decode the data set: {0}")]
    Decode(String),
    /// The object cannot be written in that transfer syntax.
    #[error("cannot encode the data set: {0}")]
    Encode(String),
}

fn syntax(uid: &str) -> Result<&'static dicom_encoding::TransferSyntax, DataSetError> {
    TransferSyntaxRegistry
        .get(uid)
        .filter(|ts| !ts.is_unsupported())
        .ok_or_else(|| DataSetError::UnsupportedTransferSyntax(uid.to_owned()))
}

/// Decodes an identifier or data set received on a presentation context.
///
/// The bytes come from the peer: element lengths are checked against the bytes present
/// and sequence nesting is bounded before the decoder sees them (the decoder allocates
/// what a length announces, so ten bytes could ask for 4 GiB), and a decoder panic is a
/// decode error.
pub fn decode(data: &DataSet) -> Result<InMemDicomObject, DataSetError> {
    let ts = syntax(data.transfer_syntax.as_str())?;
    if !matches!(ts.codec(), Codec::Dataset(_)) {
        let mut scan = Scan {
            bytes: &data.bytes,
            pos: 0,
            explicit: !IMPLICIT_VR_SYNTAXES.contains(&ts.uid()),
            big_endian: ts.endianness() == Endianness::Big,
        };
        scan.data_set(None, 0).map_err(DataSetError::Decode)?;
    }
    catch_unwind(AssertUnwindSafe(|| {
        InMemDicomObject::read_dataset_with_ts(&data.bytes[..], ts)
            .map_err(|e| DataSetError::Decode(e.to_string()))
    }))
    .map_err(|_| DataSetError::Decode("the decoder panicked".into()))?
}

/// Encodes an object in the transfer syntax `uid`. An object the encoder cannot write
/// (a value too long for its length field, text its character set cannot hold, a
/// sequence under a non-SQ VR, on which the encoder panics) is an error.
pub fn encode(object: &InMemDicomObject, uid: &str) -> Result<Bytes, DataSetError> {
    let ts = syntax(uid)?;
    let mut out = Vec::new();
    catch_unwind(AssertUnwindSafe(|| {
        object
            .write_dataset_with_ts(&mut out, ts)
            .map_err(|e| DataSetError::Encode(e.to_string()))
    }))
    .map_err(|_| DataSetError::Encode("the encoder panicked".into()))??;
    Ok(Bytes::from(out))
}

/// The transfer syntaxes whose data sets have no VR fields.
const IMPLICIT_VR_SYNTAXES: [&str; 2] = ["1.2.840.10008.1.2", "1.2.840.10008.1.20"];

/// How deeply sequences may nest in a data set we decode.
const MAX_NESTING: usize = 64;

const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_DELIMITATION: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_DELIMITATION: Tag = Tag(0xFFFE, 0xE0DD);
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
const UNDEFINED: u32 = u32::MAX;

/// A walk over element headers that refuses what the decoder could misread into a huge
/// allocation: a length beyond the bytes present, deep nesting, a VR it does not know,
/// a header cut short, and an undefined length where none is allowed. The decoder then
/// reads only what this walk understood.
struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
    explicit: bool,
    big_endian: bool,
}

type Walk = Result<(), String>;

impl Scan<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self
            .bytes
            .get(self.pos..self.pos + N)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| {
                format!(
                    "the data set ends inside an element header at byte {}",
                    self.pos
                )
            })?;
        self.pos += N;
        Ok(bytes)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take::<2>()?;
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn tag(&mut self) -> Result<Tag, String> {
        Ok(Tag(self.u16()?, self.u16()?))
    }

    /// Checks that `len` bytes follow.
    fn fits(&self, tag: Tag, len: u32) -> Result<usize, String> {
        let remaining = self.bytes.len() - self.pos;
        match usize::try_from(len) {
            Ok(len) if len <= remaining => Ok(len),
            _ => Err(format!(
                "element ({:04X},{:04X}) announces {len} bytes; {remaining} remain",
                tag.group(),
                tag.element()
            )),
        }
    }

    /// The elements of a data set, up to `end` (an item of defined length), an item
    /// delimitation (an item of undefined length) or the end of the bytes.
    fn data_set(&mut self, end: Option<usize>, depth: usize) -> Walk {
        loop {
            if end.is_some_and(|end| self.pos >= end) || self.pos == self.bytes.len() {
                return Ok(());
            }
            let at = self.pos;
            let tag = self.tag()?;
            let (vr, len) = if tag.group() == 0xFFFE {
                (None, self.u32()?)
            } else if self.explicit {
                let code = self.take::<2>()?;
                let vr = VR::from_binary(code).ok_or_else(|| {
                    format!(
                        "element ({:04X},{:04X}) at byte {at} has an unknown VR {:02X}{:02X}",
                        tag.group(),
                        tag.element(),
                        code[0],
                        code[1]
                    )
                })?;
                let len = if short_length(vr) {
                    u32::from(self.u16()?)
                } else {
                    self.take::<2>()?;
                    self.u32()?
                };
                (Some(vr), len)
            } else {
                // The VR the decoder will give it: the dictionary's (relaxed), OW for
                // pixel and overlay data, UN when unknown.
                let vr =
                    if tag == PIXEL_DATA || (tag.group() >> 8 == 0x60 && tag.element() == 0x3000) {
                        Some(VR::OW)
                    } else {
                        StandardDataDictionary.by_tag(tag).map(|e| e.vr().relaxed())
                    };
                (vr, self.u32()?)
            };
            // Binary values are read a whole number at a time: a length that is no
            // multiple of the size would leave bytes the decoder skips, and it would read
            // the next header out of step with this walk.
            if let Some(size) = vr.and_then(binary_size) {
                if len != UNDEFINED && len % size != 0 {
                    return Err(format!(
                        "element ({:04X},{:04X}) at byte {at} is {vr:?} of {len} bytes, not a multiple of {size}",
                        tag.group(),
                        tag.element(),
                        vr = vr.unwrap_or(VR::UN),
                    ));
                }
            }
            // The decoder reads what any length announces, even a delimiter's.
            let defined = if len == UNDEFINED {
                None
            } else {
                Some(self.fits(tag, len)?)
            };
            if tag == ITEM_DELIMITATION {
                return Ok(());
            }
            let undefined = || {
                format!(
                    "element ({:04X},{:04X}) at byte {at} has an undefined length",
                    tag.group(),
                    tag.element()
                )
            };
            if tag.group() == 0xFFFE {
                self.pos += defined.ok_or_else(undefined)?;
                continue;
            }
            let fragments = matches!(vr, Some(VR::OB | VR::OW)) || tag == PIXEL_DATA;
            if len == UNDEFINED && vr == Some(VR::UN) && self.explicit {
                // An undefined-length UN is a sequence in Implicit VR Little Endian
                // (PS3.5 6.2.2).
                let big_endian = std::mem::replace(&mut self.big_endian, false);
                self.explicit = false;
                let walked = self.items(None, false, tag, depth);
                (self.explicit, self.big_endian) = (true, big_endian);
                walked?;
            } else if let Some(len) = defined {
                if vr == Some(VR::SQ) {
                    self.items(Some(self.pos + len), false, tag, depth)?;
                } else {
                    self.pos += len;
                }
            } else if fragments || vr.is_none_or(|vr| vr == VR::SQ) {
                // Encapsulated pixel data, or a sequence (an implicit VR element the
                // dictionary does not know is read as one).
                self.items(None, fragments, tag, depth)?;
            } else {
                return Err(undefined());
            }
        }
    }

    /// The items of a sequence (or the fragments of encapsulated pixel data), up to `end`
    /// or a sequence delimitation.
    fn items(&mut self, end: Option<usize>, fragments: bool, sequence: Tag, depth: usize) -> Walk {
        if depth >= MAX_NESTING {
            return Err(format!(
                "sequences nested deeper than {MAX_NESTING} levels at ({:04X},{:04X})",
                sequence.group(),
                sequence.element()
            ));
        }
        loop {
            if end.is_some_and(|end| self.pos >= end) || self.pos == self.bytes.len() {
                return Ok(());
            }
            let at = self.pos;
            let (tag, len) = (self.tag()?, self.u32()?);
            let defined = if len == UNDEFINED {
                None
            } else {
                Some(self.fits(tag, len)?)
            };
            if tag == SEQUENCE_DELIMITATION {
                return Ok(());
            }
            match (tag == ITEM, defined) {
                (true, Some(len)) if fragments => self.pos += len,
                (true, Some(len)) => self.data_set(Some(self.pos + len), depth + 1)?,
                (true, None) if !fragments => self.data_set(None, depth + 1)?,
                (false, Some(_)) if tag.group() != 0xFFFE => {
                    return Err(format!(
                        "({:04X},{:04X}) at byte {at} inside sequence ({:04X},{:04X}) is no item",
                        tag.group(),
                        tag.element(),
                        sequence.group(),
                        sequence.element()
                    ));
                }
                (_, Some(len)) => self.pos += len,
                (_, None) => {
                    return Err(format!(
                        "({:04X},{:04X}) at byte {at} inside ({:04X},{:04X}) has an undefined length",
                        tag.group(),
                        tag.element(),
                        sequence.group(),
                        sequence.element()
                    ));
                }
            }
        }
    }
}

/// The size of one value of a binary VR.
fn binary_size(vr: VR) -> Option<u32> {
    match vr {
        VR::US | VR::SS | VR::OW => Some(2),
        VR::UL | VR::SL | VR::FL | VR::AT | VR::OL | VR::OF => Some(4),
        VR::FD | VR::SV | VR::UV | VR::OD | VR::OV => Some(8),
        _ => None,
    }
}

/// Whether an explicit VR has a 16-bit length field (PS3.5 Table 7.1-2).
fn short_length(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::AS
            | VR::AT
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::FL
            | VR::FD
            | VR::IS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::SL
            | VR::SS
            | VR::ST
            | VR::TM
            | VR::UI
            | VR::UL
            | VR::US
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::Uid;

    fn decode_in(syntax: &str, bytes: &[u8]) -> Result<InMemDicomObject, DataSetError> {
        decode(&DataSet {
            transfer_syntax: Uid::new(syntax).expect("a valid UID"),
            bytes: Bytes::copy_from_slice(bytes),
        })
    }

    /// Found by the `identifier_match` fuzz target: a group length (UL) of 1 byte in
    /// Implicit VR, then a header cut short. The walk used to skip the byte and stop
    /// quietly at the cut; the decoder read no value, so it read the next headers one byte
    /// out of step and asked for 2.5 GB.
    #[test]
    fn fuzz_inputs_misread_by_the_decoder_are_refused_first() {
        let bytes: [u8; 56] = [
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xCE, 0x00, 0x00, 0x9A,
        ];
        let error = decode_in("1.2.840.10008.1.2", &bytes).unwrap_err();
        assert!(
            error.to_string().contains("(0000,0000) at byte 24"),
            "{error}"
        );
    }

    #[test]
    fn a_header_cut_short_is_refused() {
        // (0008,0050) SH "A1", then half a tag.
        let bytes = [
            0x08, 0x00, 0x50, 0x00, b'S', b'H', 2, 0, b'A', b'1', 0x10, 0x00, 0x10,
        ];
        let error = decode_in("1.2.840.10008.1.2.1", &bytes).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("ends inside an element header at byte 12"),
            "{error}"
        );
    }

    /// Found by the `identifier_match` fuzz target: a group length (UL) of 51 bytes in
    /// Implicit VR. The decoder reads 12 values, skips 3 bytes, then reads the next header
    /// out of step with the walk and asked for 4 GiB.
    #[test]
    fn a_binary_value_of_a_partial_length_is_refused() {
        let bytes: [u8; 107] = [
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0xE4, 0x00, 0x00, 0x00, 0x8A, 0xFF, 0xFF, 0xFF, 0x2D, 0xFF, 0xFF, 0x6E,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        let error = decode_in("1.2.840.10008.1.2", &bytes).unwrap_err();
        assert!(error.to_string().contains("not a multiple of 4"), "{error}");
        // The same in Explicit VR: (0028,0010) US of 3 bytes.
        let bytes = [0x28, 0x00, 0x10, 0x00, b'U', b'S', 3, 0, 1, 2, 3];
        let error = decode_in("1.2.840.10008.1.2.1", &bytes).unwrap_err();
        assert!(error.to_string().contains("not a multiple of 2"), "{error}");
    }

    #[test]
    fn an_unknown_explicit_vr_is_refused() {
        let bytes = [
            0x10, 0x00, 0x10, 0x00, b'0', b':', 0, 0, 2, 0, 0, 0, b'A', b'B',
        ];
        let error = decode_in("1.2.840.10008.1.2.1", &bytes).unwrap_err();
        assert!(error.to_string().contains("unknown VR 303A"), "{error}");
    }

    #[test]
    fn an_undefined_length_outside_sequences_and_pixel_data_is_refused() {
        // (0010,0010) as UT (long length form) with 0xFFFFFFFF.
        let bytes = [
            0x10, 0x00, 0x10, 0x00, b'U', b'T', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        let error = decode_in("1.2.840.10008.1.2.1", &bytes).unwrap_err();
        assert!(error.to_string().contains("undefined length"), "{error}");
    }

    #[test]
    fn a_non_item_inside_a_sequence_is_refused() {
        // (0040,0100) SQ of defined length 8 holding (0010,0010) instead of an item.
        let bytes = [
            0x40, 0x00, 0x00, 0x01, b'S', b'Q', 0, 0, 8, 0, 0, 0, 0x10, 0x00, 0x10, 0x00, 0, 0, 0,
            0,
        ];
        let error = decode_in("1.2.840.10008.1.2.1", &bytes).unwrap_err();
        assert!(error.to_string().contains("is no item"), "{error}");
    }

    #[test]
    fn well_formed_data_sets_still_decode() {
        // (0008,0050) SH "A1", then (0040,0100) SQ undefined length with one undefined
        // length item holding (0008,0060) CS "CT", item and sequence delimitations.
        let bytes = [
            0x08, 0x00, 0x50, 0x00, b'S', b'H', 2, 0, b'A', b'1', 0x40, 0x00, 0x00, 0x01, b'S',
            b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF,
            0x08, 0x00, 0x60, 0x00, b'C', b'S', 2, 0, b'C', b'T', 0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0,
            0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0,
        ];
        let object = decode_in("1.2.840.10008.1.2.1", &bytes).expect("decodes");
        assert_eq!(object.iter().count(), 2);
    }
}
