//! Identifiers and data sets between their wire form (bytes in a transfer syntax) and
//! dicom-object's `InMemDicomObject`.

use bytes::Bytes;
use dicom_encoding::TransferSyntaxIndex;
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
pub fn decode(data: &DataSet) -> Result<InMemDicomObject, DataSetError> {
    let ts = syntax(data.transfer_syntax.as_str())?;
    InMemDicomObject::read_dataset_with_ts(&data.bytes[..], ts)
        .map_err(|e| DataSetError::Decode(e.to_string()))
}

/// Encodes an object in the transfer syntax `uid`.
pub fn encode(object: &InMemDicomObject, uid: &str) -> Result<Bytes, DataSetError> {
    let ts = syntax(uid)?;
    let mut out = Vec::new();
    object
        .write_dataset_with_ts(&mut out, ts)
        .map_err(|e| DataSetError::Encode(e.to_string()))?;
    Ok(Bytes::from(out))
}
