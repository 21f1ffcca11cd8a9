//! What the standard's registries say, as `dicom-dictionary-std` and
//! `dicom-transfer-syntax-registry` hold them (no list of our own): which SOP classes are
//! storage SOP classes, which transfer syntaxes an instance can be stored in as received,
//! and what a valid UID is.

use dicom_core::dictionary::{UidDictionary, UidDictionaryEntry};
use dicom_dictionary_std::StandardSopClassDictionary;
use dicom_encoding::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// Whether the SOP class registry names `uid` a storage SOP class of the standard
/// (current or retired): a SOP class whose name says Storage, less Storage Commitment
/// and the Media Storage Directory (a DICOMDIR, which is not sent over the network).
///
/// ```
/// use dicomwire::registry::is_storage_sop_class;
/// assert!(is_storage_sop_class("1.2.840.10008.5.1.4.1.1.2")); // CT Image Storage
/// assert!(is_storage_sop_class("1.2.840.10008.5.1.4.38.1")); // Hanging Protocol Storage
/// assert!(!is_storage_sop_class("1.2.840.10008.1.20.1")); // Storage Commitment Push Model
/// assert!(!is_storage_sop_class("1.2.840.10008.5.1.4.31")); // Modality Worklist FIND
/// ```
pub fn is_storage_sop_class(uid: &str) -> bool {
    StandardSopClassDictionary.by_uid(uid).is_some_and(|entry| {
        let name = entry.name();
        name.contains("Storage")
            && !name.contains("Storage Commitment")
            && !name.starts_with("Media Storage Directory")
    })
}

/// Whether an instance in transfer syntax `uid` can be stored as received: the transfer
/// syntax registry knows it (compressed and encapsulated ones included, whether or not a
/// codec is built in: nothing is decoded).
pub fn is_storable_transfer_syntax(uid: &str) -> bool {
    TransferSyntaxRegistry
        .get(uid.trim_end_matches('\0'))
        .is_some()
}

/// Whether `uid` is a valid UID (PS3.5 9.1): 1 to 64 characters, components of digits
/// separated by single dots, no leading zero in a component of more than one digit.
pub fn is_valid_uid(uid: &str) -> bool {
    let uid = uid.trim_end_matches('\0');
    !uid.is_empty()
        && uid.len() <= 64
        && uid.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c.len() == 1 || !c.starts_with('0'))
        })
}
