//! The two text types the upper layer carries: AE titles and UIDs.

use std::borrow::Cow;
use std::fmt;

use thiserror::Error;

/// Why a string is not a valid [`AeTitle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidAeTitle {
    /// Only spaces (or nothing at all): PS3.8 9.3.2 does not allow an empty AE title.
    #[error("AE title is empty or all spaces")]
    Empty,
    /// More than 16 significant characters.
    #[error("AE title has {0} characters, more than 16")]
    TooLong(usize),
    /// A control character, a backslash or a byte outside ISO 646 (ASCII 0x20..=0x7E).
    #[error("AE title contains byte 0x{0:02X}, outside the ISO 646 basic G0 set")]
    BadCharacter(u8),
}

/// An application entity title: 1 to 16 characters of the ISO 646 basic G0 set, without
/// backslash.
///
/// On the wire an AE title is 16 bytes, space padded; leading and trailing spaces are not
/// significant (PS3.8 9.3.2), so `AeTitle` stores the trimmed value and compares by it.
/// It is `Copy`: no allocation.
///
/// ```
/// use dicomwire::pdu::AeTitle;
/// let ae = AeTitle::new("  STORESCP ").unwrap();
/// assert_eq!(ae.as_str(), "STORESCP");
/// assert_eq!(&ae.to_padded(), b"STORESCP        ");
/// assert!(AeTitle::new("    ").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AeTitle {
    bytes: [u8; 16],
    len: u8,
}

impl AeTitle {
    /// Validates and trims `title`.
    pub fn new(title: &str) -> Result<Self, InvalidAeTitle> {
        Self::from_bytes(title.as_bytes())
    }

    /// Validates and trims raw bytes, as found in a PDU (space padded or not).
    pub fn from_bytes(raw: &[u8]) -> Result<Self, InvalidAeTitle> {
        let trimmed = trim_spaces(raw);
        if trimmed.is_empty() {
            return Err(InvalidAeTitle::Empty);
        }
        if let Some(&bad) = trimmed
            .iter()
            .find(|&&b| !(0x20..=0x7E).contains(&b) || b == b'\\')
        {
            return Err(InvalidAeTitle::BadCharacter(bad));
        }
        if trimmed.len() > 16 {
            return Err(InvalidAeTitle::TooLong(trimmed.len()));
        }
        let mut bytes = [b' '; 16];
        bytes[..trimmed.len()].copy_from_slice(trimmed);
        let len =
            u8::try_from(trimmed.len()).map_err(|_| InvalidAeTitle::TooLong(trimmed.len()))?;
        Ok(Self { bytes, len })
    }

    /// The significant characters, without padding.
    pub fn as_str(&self) -> &str {
        // Validated as ASCII on construction.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The 16-byte, space-padded wire form.
    pub fn to_padded(&self) -> [u8; 16] {
        self.bytes
    }
}

impl fmt::Debug for AeTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AeTitle({:?})", self.as_str())
    }
}

impl fmt::Display for AeTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AeTitle {
    type Err = InvalidAeTitle;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

fn trim_spaces(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|&b| b != b' ').unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    &raw[start..end]
}

/// Why a string is not a valid [`Uid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidUid {
    /// No characters.
    #[error("UID is empty")]
    Empty,
    /// More than 64 characters (PS3.5 9.1).
    #[error("UID has {0} characters, more than 64")]
    TooLong(usize),
    /// A character other than a digit or a period.
    #[error("UID contains byte 0x{0:02X}; only digits and '.' are allowed")]
    BadCharacter(u8),
    /// A component is empty: a leading, trailing or doubled period.
    #[error("UID has an empty component")]
    EmptyComponent,
}

/// A DICOM unique identifier: 1 to 64 characters, digits and periods, no empty component.
///
/// On decode a trailing NUL pad (PS3.5 9.1) is tolerated and dropped; it is never emitted.
///
/// ```
/// use dicomwire::pdu::Uid;
/// let ts = Uid::new("1.2.840.10008.1.2\0").unwrap();
/// assert_eq!(ts.as_str(), "1.2.840.10008.1.2");
/// assert!(Uid::new("1.2..3").is_err());
/// const VERIFICATION: Uid = Uid::from_static("1.2.840.10008.1.1");
/// assert_eq!(VERIFICATION.as_str(), "1.2.840.10008.1.1");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(Cow<'static, str>);

impl Uid {
    /// Validates `uid`, dropping trailing NUL bytes.
    pub fn new(uid: &str) -> Result<Self, InvalidUid> {
        Self::from_bytes(uid.as_bytes())
    }

    /// Validates raw bytes as found in a PDU, dropping trailing NUL bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, InvalidUid> {
        let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let raw = &raw[..end];
        validate_uid(raw)?;
        // Validated as ASCII digits and periods.
        let text = std::str::from_utf8(raw).map_err(|_| InvalidUid::BadCharacter(0x80))?;
        Ok(Self(Cow::Owned(text.to_owned())))
    }

    /// A UID known at compile time; an invalid one fails the build when used in a `const`.
    pub const fn from_static(uid: &'static str) -> Self {
        if validate_uid(uid.as_bytes()).is_err() {
            panic!("invalid UID literal");
        }
        Self(Cow::Borrowed(uid))
    }

    /// The UID text, without padding.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number of bytes of the UID on the wire (never padded by the upper layer).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a UID has at least one character. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const fn validate_uid(raw: &[u8]) -> Result<(), InvalidUid> {
    if raw.is_empty() {
        return Err(InvalidUid::Empty);
    }
    let mut i = 0;
    let mut component_len = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'.' {
            if component_len == 0 {
                return Err(InvalidUid::EmptyComponent);
            }
            component_len = 0;
        } else if b.is_ascii_digit() {
            component_len += 1;
        } else {
            return Err(InvalidUid::BadCharacter(b));
        }
        i += 1;
    }
    if component_len == 0 {
        return Err(InvalidUid::EmptyComponent);
    }
    if raw.len() > 64 {
        return Err(InvalidUid::TooLong(raw.len()));
    }
    Ok(())
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uid({})", self.as_str())
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Uid {
    type Err = InvalidUid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for Uid {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ae_title_trims_both_ends_and_keeps_inner_spaces() {
        let ae = AeTitle::from_bytes(b"  MY SCP        ").unwrap();
        assert_eq!(ae.as_str(), "MY SCP");
        assert_eq!(ae, AeTitle::new("MY SCP").unwrap());
    }

    #[test]
    fn ae_title_rejects_what_the_standard_forbids() {
        assert_eq!(AeTitle::new(""), Err(InvalidAeTitle::Empty));
        assert_eq!(AeTitle::from_bytes(&[b' '; 16]), Err(InvalidAeTitle::Empty));
        assert_eq!(
            AeTitle::new("ABCDEFGHIJKLMNOPQ"),
            Err(InvalidAeTitle::TooLong(17))
        );
        assert_eq!(
            AeTitle::new("A\\B"),
            Err(InvalidAeTitle::BadCharacter(b'\\'))
        );
        assert_eq!(
            AeTitle::new("A\tB"),
            Err(InvalidAeTitle::BadCharacter(b'\t'))
        );
        assert_eq!(
            AeTitle::from_bytes(b"A\x00"),
            Err(InvalidAeTitle::BadCharacter(0))
        );
        assert_eq!(AeTitle::new("é"), Err(InvalidAeTitle::BadCharacter(0xC3)));
    }

    #[test]
    fn uid_tolerates_trailing_nul_only() {
        assert_eq!(Uid::from_bytes(b"1.2.3\0").unwrap().as_str(), "1.2.3");
        assert_eq!(
            Uid::from_bytes(b"1.2.3 "),
            Err(InvalidUid::BadCharacter(b' '))
        );
        assert_eq!(Uid::from_bytes(b"\0"), Err(InvalidUid::Empty));
        assert_eq!(Uid::new(".1"), Err(InvalidUid::EmptyComponent));
        assert_eq!(Uid::new("1."), Err(InvalidUid::EmptyComponent));
        let long = "1.".repeat(32) + "1";
        assert_eq!(Uid::new(&long), Err(InvalidUid::TooLong(65)));
        assert!(Uid::new(&"1".repeat(64)).is_ok());
    }
}
