//! Command sets (PS3.7 6.3, 9.3): group 0000 elements, always Implicit VR Little Endian.
//!
//! Element headers are written with dicom-encoding's Implicit VR Little Endian encoder
//! and read with its basic little-endian decoder; values are the handful of VRs a command
//! set uses (UL, US, UI, AE, LO, AT), parsed here.

use std::fmt;

use dicom_core::header::{DataElementHeader, Length};
use dicom_core::{Tag, VR};
use dicom_encoding::decode::BasicDecode;
use dicom_encoding::decode::basic::LittleEndianBasicDecoder;
use dicom_encoding::encode::Encode;
use dicom_encoding::encode::implicit_le::ImplicitVRLittleEndianEncoder;
use thiserror::Error;

/// CommandDataSetType value meaning "no data set follows" (PS3.7 E.1).
pub const NO_DATA_SET: u16 = 0x0101;

/// The value we send when a data set follows (any value other than 0x0101 means that).
pub const DATA_SET_PRESENT: u16 = 0x0001;

/// A command element we know: tag, keyword and VR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandElement {
    /// The tag, always in group 0000.
    pub tag: Tag,
    /// The standard keyword.
    pub keyword: &'static str,
    /// The value representation.
    pub vr: VR,
}

const fn el(element: u16, keyword: &'static str, vr: VR) -> CommandElement {
    CommandElement {
        tag: Tag(0x0000, element),
        keyword,
        vr,
    }
}

/// Every command element of the DIMSE-C messages, in tag order (PS3.7 Annex E).
pub const COMMAND_ELEMENTS: [CommandElement; 21] = [
    el(0x0000, "CommandGroupLength", VR::UL),
    el(0x0002, "AffectedSOPClassUID", VR::UI),
    el(0x0003, "RequestedSOPClassUID", VR::UI),
    el(0x0100, "CommandField", VR::US),
    el(0x0110, "MessageID", VR::US),
    el(0x0120, "MessageIDBeingRespondedTo", VR::US),
    el(0x0600, "MoveDestination", VR::AE),
    el(0x0700, "Priority", VR::US),
    el(0x0800, "CommandDataSetType", VR::US),
    el(0x0900, "Status", VR::US),
    el(0x0901, "OffendingElement", VR::AT),
    el(0x0902, "ErrorComment", VR::LO),
    el(0x0903, "ErrorID", VR::US),
    el(0x1000, "AffectedSOPInstanceUID", VR::UI),
    el(0x1001, "RequestedSOPInstanceUID", VR::UI),
    el(0x1020, "NumberOfRemainingSuboperations", VR::US),
    el(0x1021, "NumberOfCompletedSuboperations", VR::US),
    el(0x1022, "NumberOfFailedSuboperations", VR::US),
    el(0x1023, "NumberOfWarningSuboperations", VR::US),
    el(0x1030, "MoveOriginatorApplicationEntityTitle", VR::AE),
    el(0x1031, "MoveOriginatorMessageID", VR::US),
];

/// The keyword of a command element tag, for messages.
pub fn keyword(tag: Tag) -> &'static str {
    COMMAND_ELEMENTS
        .iter()
        .find(|e| e.tag == tag)
        .map_or("unknown element", |e| e.keyword)
}

/// A decoded command set: every known element as a typed field, the rest kept as raw
/// values. Absent elements are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSet {
    /// (0000,0002) Affected SOP Class UID.
    pub affected_sop_class_uid: Option<String>,
    /// (0000,0003) Requested SOP Class UID.
    pub requested_sop_class_uid: Option<String>,
    /// (0000,0100) Command Field.
    pub command_field: Option<u16>,
    /// (0000,0110) Message ID.
    pub message_id: Option<u16>,
    /// (0000,0120) Message ID Being Responded To.
    pub message_id_being_responded_to: Option<u16>,
    /// (0000,0600) Move Destination.
    pub move_destination: Option<String>,
    /// (0000,0700) Priority.
    pub priority: Option<u16>,
    /// (0000,0800) Command Data Set Type.
    pub command_data_set_type: Option<u16>,
    /// (0000,0900) Status.
    pub status: Option<u16>,
    /// (0000,0901) Offending Element.
    pub offending_element: Option<Vec<Tag>>,
    /// (0000,0902) Error Comment.
    pub error_comment: Option<String>,
    /// (0000,0903) Error ID.
    pub error_id: Option<u16>,
    /// (0000,1000) Affected SOP Instance UID.
    pub affected_sop_instance_uid: Option<String>,
    /// (0000,1001) Requested SOP Instance UID.
    pub requested_sop_instance_uid: Option<String>,
    /// (0000,1020) Number of Remaining Sub-operations.
    pub remaining: Option<u16>,
    /// (0000,1021) Number of Completed Sub-operations.
    pub completed: Option<u16>,
    /// (0000,1022) Number of Failed Sub-operations.
    pub failed: Option<u16>,
    /// (0000,1023) Number of Warning Sub-operations.
    pub warning: Option<u16>,
    /// (0000,1030) Move Originator Application Entity Title.
    pub move_originator_ae_title: Option<String>,
    /// (0000,1031) Move Originator Message ID.
    pub move_originator_message_id: Option<u16>,
    /// Elements we do not know, in order, with their raw values.
    pub other: Vec<(Tag, Vec<u8>)>,
}

/// Why bytes are not a command set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The bytes end inside an element.
    #[error("command set truncated in element {tag} ({})", keyword(*tag))]
    Truncated {
        /// The element being read.
        tag: Tag,
    },
    /// An element with undefined length: command sets have none.
    #[error("element {tag} of the command set has undefined length")]
    UndefinedLength {
        /// The element.
        tag: Tag,
    },
    /// A value that does not fit its VR.
    #[error("element {tag} ({}) has an invalid value: {detail}", keyword(*tag))]
    BadValue {
        /// The element.
        tag: Tag,
        /// Why.
        detail: &'static str,
    },
    /// A value too long for the 32-bit length of an element.
    #[error("element {tag} is too long to encode")]
    TooLong {
        /// The element.
        tag: Tag,
    },
}

impl CommandSet {
    /// Whether CommandDataSetType says a data set follows: any value other than 0x0101.
    /// An absent element reads as "no data set".
    pub fn has_data_set(&self) -> bool {
        self.command_data_set_type.is_some_and(|t| t != NO_DATA_SET)
    }

    /// Decodes a command set. Tolerant of what real peers send: a duplicated element
    /// keeps its first value; unknown elements are kept in `other`; a US element with
    /// more than one value keeps the first.
    pub fn decode(mut bytes: &[u8]) -> Result<Self, CommandError> {
        let le = LittleEndianBasicDecoder;
        let mut set = Self::default();
        let mut seen: u32 = 0; // bit per COMMAND_ELEMENTS index
        while !bytes.is_empty() {
            let tag = le
                .decode_tag(&mut bytes)
                .map_err(|_| CommandError::Truncated { tag: Tag(0, 0) })?;
            let len = le
                .decode_ul(&mut bytes)
                .map_err(|_| CommandError::Truncated { tag })?;
            if len == u32::MAX {
                return Err(CommandError::UndefinedLength { tag });
            }
            let len = usize::try_from(len).map_err(|_| CommandError::Truncated { tag })?;
            let Some((value, rest)) = bytes.split_at_checked(len) else {
                return Err(CommandError::Truncated { tag });
            };
            bytes = rest;
            let Some(index) = COMMAND_ELEMENTS.iter().position(|e| e.tag == tag) else {
                set.other.push((tag, value.to_vec()));
                continue;
            };
            if seen & (1 << index) != 0 {
                continue; // the first occurrence wins
            }
            seen |= 1 << index;
            set.assign(tag, value)?;
        }
        Ok(set)
    }

    fn assign(&mut self, tag: Tag, value: &[u8]) -> Result<(), CommandError> {
        let us = || -> Result<u16, CommandError> {
            match value {
                [a, b, ..] => Ok(u16::from_le_bytes([*a, *b])),
                _ => Err(CommandError::BadValue {
                    tag,
                    detail: "a US value needs 2 bytes",
                }),
            }
        };
        match tag.1 {
            0x0000 => {} // CommandGroupLength: recomputed on encode, not trusted on decode
            0x0002 => self.affected_sop_class_uid = Some(uid_text(value)),
            0x0003 => self.requested_sop_class_uid = Some(uid_text(value)),
            0x0100 => self.command_field = Some(us()?),
            0x0110 => self.message_id = Some(us()?),
            0x0120 => self.message_id_being_responded_to = Some(us()?),
            0x0600 => self.move_destination = Some(text(value)),
            0x0700 => self.priority = Some(us()?),
            0x0800 => self.command_data_set_type = Some(us()?),
            0x0900 => self.status = Some(us()?),
            0x0901 => {
                if value.len() % 4 != 0 {
                    return Err(CommandError::BadValue {
                        tag,
                        detail: "an AT value is a multiple of 4 bytes",
                    });
                }
                self.offending_element = Some(
                    value
                        .chunks_exact(4)
                        .map(|c| {
                            Tag(
                                u16::from_le_bytes([c[0], c[1]]),
                                u16::from_le_bytes([c[2], c[3]]),
                            )
                        })
                        .collect(),
                );
            }
            0x0902 => self.error_comment = Some(text(value)),
            0x0903 => self.error_id = Some(us()?),
            0x1000 => self.affected_sop_instance_uid = Some(uid_text(value)),
            0x1001 => self.requested_sop_instance_uid = Some(uid_text(value)),
            0x1020 => self.remaining = Some(us()?),
            0x1021 => self.completed = Some(us()?),
            0x1022 => self.failed = Some(us()?),
            0x1023 => self.warning = Some(us()?),
            0x1030 => self.move_originator_ae_title = Some(text(value)),
            0x1031 => self.move_originator_message_id = Some(us()?),
            _ => self.other.push((tag, value.to_vec())),
        }
        Ok(())
    }

    /// Appends the encoded command set to `out`, with a CommandGroupLength computed from
    /// what follows it. Elements are written in ascending tag order. On error nothing is
    /// appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<usize, CommandError> {
        let start = out.len();
        // Placeholder for (0000,0000) UL: 8-byte header + 4-byte value.
        write_header(out, Tag(0, 0), VR::UL, 4)?;
        out.extend_from_slice(&0u32.to_le_bytes());
        let body_start = out.len();
        let result = self.encode_body(out);
        if let Err(e) = result {
            out.truncate(start);
            return Err(e);
        }
        let Ok(group_length) = u32::try_from(out.len() - body_start) else {
            out.truncate(start);
            return Err(CommandError::TooLong { tag: Tag(0, 0) });
        };
        out[body_start - 4..body_start].copy_from_slice(&group_length.to_le_bytes());
        Ok(out.len() - start)
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), CommandError> {
        // Unknown elements of group 0000 are merged in tag order; others go last.
        let mut others: Vec<&(Tag, Vec<u8>)> = self.other.iter().collect();
        others.sort_by_key(|(t, _)| *t);
        let mut pending = others.into_iter().peekable();
        let mut flush_before = |out: &mut Vec<u8>, tag: Tag| -> Result<(), CommandError> {
            while let Some((t, v)) = pending.next_if(|(t, _)| *t < tag) {
                write_raw(out, *t, VR::UN, v)?;
            }
            Ok(())
        };
        let u = |v: Option<u16>| v.map(|x| x.to_le_bytes().to_vec());
        let fields: [(u16, VR, Option<Vec<u8>>); 20] = [
            (
                0x0002,
                VR::UI,
                self.affected_sop_class_uid.as_deref().map(|s| padded(s, 0)),
            ),
            (
                0x0003,
                VR::UI,
                self.requested_sop_class_uid
                    .as_deref()
                    .map(|s| padded(s, 0)),
            ),
            (0x0100, VR::US, u(self.command_field)),
            (0x0110, VR::US, u(self.message_id)),
            (0x0120, VR::US, u(self.message_id_being_responded_to)),
            (
                0x0600,
                VR::AE,
                self.move_destination.as_deref().map(|s| padded(s, b' ')),
            ),
            (0x0700, VR::US, u(self.priority)),
            (0x0800, VR::US, u(self.command_data_set_type)),
            (0x0900, VR::US, u(self.status)),
            (
                0x0901,
                VR::AT,
                self.offending_element.as_ref().map(|tags| {
                    tags.iter()
                        .flat_map(|t| {
                            let [g0, g1] = t.0.to_le_bytes();
                            let [e0, e1] = t.1.to_le_bytes();
                            [g0, g1, e0, e1]
                        })
                        .collect()
                }),
            ),
            (
                0x0902,
                VR::LO,
                self.error_comment.as_deref().map(|s| padded(s, b' ')),
            ),
            (0x0903, VR::US, u(self.error_id)),
            (
                0x1000,
                VR::UI,
                self.affected_sop_instance_uid
                    .as_deref()
                    .map(|s| padded(s, 0)),
            ),
            (
                0x1001,
                VR::UI,
                self.requested_sop_instance_uid
                    .as_deref()
                    .map(|s| padded(s, 0)),
            ),
            (0x1020, VR::US, u(self.remaining)),
            (0x1021, VR::US, u(self.completed)),
            (0x1022, VR::US, u(self.failed)),
            (0x1023, VR::US, u(self.warning)),
            (
                0x1030,
                VR::AE,
                self.move_originator_ae_title
                    .as_deref()
                    .map(|s| padded(s, b' ')),
            ),
            (0x1031, VR::US, u(self.move_originator_message_id)),
        ];
        for (element, vr, value) in fields {
            let tag = Tag(0, element);
            flush_before(out, tag)?;
            if let Some(value) = value {
                write_raw(out, tag, vr, &value)?;
            }
        }
        for (t, v) in pending {
            write_raw(out, *t, VR::UN, v)?;
        }
        Ok(())
    }
}

fn write_header(out: &mut Vec<u8>, tag: Tag, vr: VR, len: usize) -> Result<(), CommandError> {
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l != u32::MAX)
        .ok_or(CommandError::TooLong { tag })?;
    ImplicitVRLittleEndianEncoder::default()
        .encode_element_header(&mut *out, DataElementHeader::new(tag, vr, Length(len)))
        .map_err(|_| CommandError::TooLong { tag })?;
    Ok(())
}

fn write_raw(out: &mut Vec<u8>, tag: Tag, vr: VR, value: &[u8]) -> Result<(), CommandError> {
    write_header(out, tag, vr, value.len())?;
    out.extend_from_slice(value);
    Ok(())
}

/// Text padded to an even length with `pad` (NUL for UI, space for AE and LO).
fn padded(text: &str, pad: u8) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(pad);
    }
    v
}

/// A UI value without its NUL (or, from lax peers, space) padding.
fn uid_text(value: &[u8]) -> String {
    let end = value
        .iter()
        .rposition(|&b| b != 0 && b != b' ')
        .map_or(0, |i| i + 1);
    String::from_utf8_lossy(&value[..end]).into_owned()
}

/// An AE or LO value without leading and trailing spaces (and NUL padding from lax peers).
fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .trim_matches(|c| c == ' ' || c == '\0')
        .to_owned()
}

impl fmt::Display for CommandSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandField=0x{:04X}", self.command_field.unwrap_or(0))?;
        if let Some(id) = self.message_id {
            write!(f, " MessageID={id}")?;
        }
        if let Some(id) = self.message_id_being_responded_to {
            write!(f, " MessageIDBeingRespondedTo={id}")?;
        }
        if let Some(s) = self.status {
            write!(f, " Status=0x{s:04X}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C-ECHO-RQ that DCMTK's echoscu sent in the echo_dcmtk capture.
    const ECHO_RQ: &str = "0000000004000000380000000000020012000000312e322e3834302e31303030382e\
        312e3100000000010200000030000000100102000000010000000008020000000101";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn decodes_and_reencodes_a_real_c_echo_rq() {
        let bytes = hex(ECHO_RQ);
        let set = CommandSet::decode(&bytes).unwrap();
        assert_eq!(set.command_field, Some(0x0030));
        assert_eq!(set.message_id, Some(1));
        assert_eq!(set.command_data_set_type, Some(NO_DATA_SET));
        assert_eq!(
            set.affected_sop_class_uid.as_deref(),
            Some("1.2.840.10008.1.1")
        );
        assert!(!set.has_data_set());
        let mut out = Vec::new();
        set.encode(&mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn first_duplicate_wins_and_unknown_elements_are_kept() {
        let mut set = CommandSet {
            command_field: Some(0x0030),
            message_id: Some(7),
            ..CommandSet::default()
        };
        set.other.push((Tag(0x0000, 0x0115), vec![1, 2]));
        let mut bytes = Vec::new();
        set.encode(&mut bytes).unwrap();
        // Append a second MessageID: the first one must win.
        bytes.extend_from_slice(&[0x00, 0x00, 0x10, 0x01, 2, 0, 0, 0, 9, 0]);
        let back = CommandSet::decode(&bytes).unwrap();
        assert_eq!(back.message_id, Some(7));
        assert_eq!(back.other, vec![(Tag(0x0000, 0x0115), vec![1, 2])]);
    }

    #[test]
    fn truncated_and_undefined_lengths_are_errors() {
        let bytes = hex(ECHO_RQ);
        // Element boundaries: a cut there leaves a shorter, valid command set.
        let boundaries = [12, 38, 48, 58, 68];
        for cut in 1..bytes.len() {
            let result = CommandSet::decode(&bytes[..cut]);
            assert_eq!(result.is_ok(), boundaries.contains(&cut), "cut at {cut}");
        }
        let undefined = [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(
            CommandSet::decode(&undefined),
            Err(CommandError::UndefinedLength {
                tag: Tag(0, 0x0100)
            })
        );
    }
}
