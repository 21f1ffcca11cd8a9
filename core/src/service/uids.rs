//! The SOP class and transfer syntax UIDs the services use (PS3.6 Annex A).

use crate::pdu::Uid;

/// Verification SOP Class.
pub const VERIFICATION: Uid = Uid::from_static("1.2.840.10008.1.1");
/// Modality Worklist Information Model – FIND.
pub const MODALITY_WORKLIST_FIND: Uid = Uid::from_static("1.2.840.10008.5.1.4.31");
/// Hanging Protocol Storage.
pub const HANGING_PROTOCOL_STORAGE: Uid = Uid::from_static("1.2.840.10008.5.1.4.38.1");
/// Hanging Protocol Information Model – FIND.
pub const HANGING_PROTOCOL_FIND: Uid = Uid::from_static("1.2.840.10008.5.1.4.38.2");
/// Hanging Protocol Information Model – MOVE.
pub const HANGING_PROTOCOL_MOVE: Uid = Uid::from_static("1.2.840.10008.5.1.4.38.3");
/// Hanging Protocol Information Model – GET.
pub const HANGING_PROTOCOL_GET: Uid = Uid::from_static("1.2.840.10008.5.1.4.38.4");

/// Implicit VR Little Endian: the default transfer syntax every peer supports.
pub const IMPLICIT_VR_LITTLE_ENDIAN: Uid = Uid::from_static("1.2.840.10008.1.2");
/// Explicit VR Little Endian.
pub const EXPLICIT_VR_LITTLE_ENDIAN: Uid = Uid::from_static("1.2.840.10008.1.2.1");
/// Explicit VR Big Endian (retired, still proposed by DCMTK's findscu).
pub const EXPLICIT_VR_BIG_ENDIAN: Uid = Uid::from_static("1.2.840.10008.1.2.2");

/// The transfer syntaxes we accept and propose for identifiers and data sets, in our order
/// of preference.
pub fn uncompressed_transfer_syntaxes() -> Vec<Uid> {
    vec![
        EXPLICIT_VR_LITTLE_ENDIAN,
        IMPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_BIG_ENDIAN,
    ]
}
