//! Identifiers and data sets between their wire form (bytes in a transfer syntax) and
//! dicom-object's `InMemDicomObject`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
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

/// A walk over element headers that refuses a length beyond the bytes present and deep
/// nesting. Anything else it does not understand ends the walk quietly: the decoder
/// judges it.
struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
    explicit: bool,
    big_endian: bool,
}

/// `Ok(true)`: go on; `Ok(false)`: stop the walk, the rest is the decoder's to judge.
type Walk = Result<bool, String>;

impl Scan<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let bytes = self.bytes.get(self.pos..self.pos + N)?.try_into().ok()?;
        self.pos += N;
        Some(bytes)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take::<2>()?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take::<4>()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn tag(&mut self) -> Option<Tag> {
        Some(Tag(self.u16()?, self.u16()?))
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
                return Ok(true);
            }
            let Some(tag) = self.tag() else {
                return Ok(false);
            };
            let (vr, len) = if tag.group() == 0xFFFE {
                (None, self.u32())
            } else if self.explicit {
                let Some(code) = self.take::<2>() else {
                    return Ok(false);
                };
                let vr = VR::from_binary(code).unwrap_or(VR::UN);
                let len = if short_length(vr) {
                    self.u16().map(u32::from)
                } else {
                    self.take::<2>().and_then(|_| self.u32())
                };
                (Some(vr), len)
            } else {
                let vr = match StandardDataDictionary.by_tag(tag).map(|e| e.vr()) {
                    Some(VirtualVr::Exact(vr)) => Some(vr),
                    _ => None,
                };
                (vr, self.u32())
            };
            let Some(len) = len else {
                return Ok(false);
            };
            // The decoder reads what any length announces, even a delimiter's.
            let defined = if len == UNDEFINED {
                None
            } else {
                Some(self.fits(tag, len)?)
            };
            if tag == ITEM_DELIMITATION {
                return Ok(true);
            }
            if tag.group() == 0xFFFE {
                let Some(len) = defined else {
                    return Ok(false);
                };
                self.pos += len;
                continue;
            }
            let fragments = matches!(vr, Some(VR::OB | VR::OW)) || tag == PIXEL_DATA;
            let go_on = if len == UNDEFINED && vr == Some(VR::UN) && self.explicit {
                // An undefined-length UN is a sequence in Implicit VR Little Endian
                // (PS3.5 6.2.2).
                let big_endian = std::mem::replace(&mut self.big_endian, false);
                self.explicit = false;
                let go_on = self.items(None, false, tag, depth);
                (self.explicit, self.big_endian) = (true, big_endian);
                go_on?
            } else if let Some(len) = defined {
                if vr == Some(VR::SQ) {
                    self.items(Some(self.pos + len), false, tag, depth)?
                } else {
                    self.pos += len;
                    true
                }
            } else {
                self.items(None, fragments, tag, depth)?
            };
            if !go_on {
                return Ok(false);
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
                return Ok(true);
            }
            let (Some(tag), Some(len)) = (self.tag(), self.u32()) else {
                return Ok(false);
            };
            let defined = if len == UNDEFINED {
                None
            } else {
                Some(self.fits(tag, len)?)
            };
            if tag == SEQUENCE_DELIMITATION {
                return Ok(true);
            }
            if tag != ITEM {
                let Some(len) = defined else {
                    return Ok(false);
                };
                self.pos += len;
                continue;
            }
            let go_on = if let Some(len) = defined {
                if fragments {
                    self.pos += len;
                    true
                } else {
                    self.data_set(Some(self.pos + len), depth + 1)?
                }
            } else {
                !fragments && self.data_set(None, depth + 1)?
            };
            if !go_on {
                return Ok(false);
            }
        }
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
