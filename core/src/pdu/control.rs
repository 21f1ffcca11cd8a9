//! The fixed-size PDUs that end an association attempt or an association:
//! A-ASSOCIATE-RJ (PS3.8 9.3.4) and A-ABORT (PS3.8 9.3.8), with their code tables.

use std::fmt;

/// A-ASSOCIATE-RJ result (PS3.8 Table 9-21, byte 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectResult {
    /// 1 — rejected-permanent: do not retry with the same parameters.
    Permanent,
    /// 2 — rejected-transient: retrying later may succeed.
    Transient,
}

impl RejectResult {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Permanent => 1,
            Self::Transient => 2,
        }
    }

    /// The code's meaning, in the standard's words.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Permanent => "rejected-permanent",
            Self::Transient => "rejected-transient",
        }
    }

    /// The value for a result byte, if the standard defines it.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Permanent),
            2 => Some(Self::Transient),
            _ => None,
        }
    }
}

/// Reason given by the DICOM UL service-user (source 1) in an A-ASSOCIATE-RJ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceUserReason {
    /// 1 — no-reason-given.
    NoReasonGiven,
    /// 2 — application-context-name-not-supported.
    ApplicationContextNameNotSupported,
    /// 3 — calling-AE-title-not-recognized.
    CallingAeTitleNotRecognized,
    /// 7 — called-AE-title-not-recognized.
    CalledAeTitleNotRecognized,
    /// 4–6, 8–10 and anything else: reserved values, kept as received.
    Reserved(u8),
}

/// Reason given by the DICOM UL service-provider, ACSE related function (source 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcseReason {
    /// 1 — no-reason-given.
    NoReasonGiven,
    /// 2 — protocol-version-not-supported.
    ProtocolVersionNotSupported,
    /// Anything else: reserved, kept as received.
    Reserved(u8),
}

/// Reason given by the DICOM UL service-provider, presentation related function (source 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresentationReason {
    /// 1 — temporary-congestion.
    TemporaryCongestion,
    /// 2 — local-limit-exceeded.
    LocalLimitExceeded,
    /// 0, 3–7 and anything else: reserved, kept as received.
    Reserved(u8),
}

/// A-ASSOCIATE-RJ source together with its reason (PS3.8 Table 9-21, bytes 9 and 10):
/// the meaning of the reason byte depends on the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectSource {
    /// 1 — DICOM UL service-user.
    ServiceUser(ServiceUserReason),
    /// 2 — DICOM UL service-provider (ACSE related function).
    ServiceProviderAcse(AcseReason),
    /// 3 — DICOM UL service-provider (presentation related function).
    ServiceProviderPresentation(PresentationReason),
}

impl RejectSource {
    /// The source byte and the reason byte.
    pub const fn codes(self) -> (u8, u8) {
        match self {
            Self::ServiceUser(r) => (
                1,
                match r {
                    ServiceUserReason::NoReasonGiven => 1,
                    ServiceUserReason::ApplicationContextNameNotSupported => 2,
                    ServiceUserReason::CallingAeTitleNotRecognized => 3,
                    ServiceUserReason::CalledAeTitleNotRecognized => 7,
                    ServiceUserReason::Reserved(c) => c,
                },
            ),
            Self::ServiceProviderAcse(r) => (
                2,
                match r {
                    AcseReason::NoReasonGiven => 1,
                    AcseReason::ProtocolVersionNotSupported => 2,
                    AcseReason::Reserved(c) => c,
                },
            ),
            Self::ServiceProviderPresentation(r) => (
                3,
                match r {
                    PresentationReason::TemporaryCongestion => 1,
                    PresentationReason::LocalLimitExceeded => 2,
                    PresentationReason::Reserved(c) => c,
                },
            ),
        }
    }

    /// The value for a source byte and reason byte; `None` for a source other than 1–3.
    /// Reason values the standard reserves become `Reserved`.
    pub const fn from_codes(source: u8, reason: u8) -> Option<Self> {
        Some(match source {
            1 => Self::ServiceUser(match reason {
                1 => ServiceUserReason::NoReasonGiven,
                2 => ServiceUserReason::ApplicationContextNameNotSupported,
                3 => ServiceUserReason::CallingAeTitleNotRecognized,
                7 => ServiceUserReason::CalledAeTitleNotRecognized,
                c => ServiceUserReason::Reserved(c),
            }),
            2 => Self::ServiceProviderAcse(match reason {
                1 => AcseReason::NoReasonGiven,
                2 => AcseReason::ProtocolVersionNotSupported,
                c => AcseReason::Reserved(c),
            }),
            3 => Self::ServiceProviderPresentation(match reason {
                1 => PresentationReason::TemporaryCongestion,
                2 => PresentationReason::LocalLimitExceeded,
                c => PresentationReason::Reserved(c),
            }),
            _ => return None,
        })
    }

    /// The source's name, in the standard's words.
    pub const fn source_name(self) -> &'static str {
        match self {
            Self::ServiceUser(_) => "DICOM UL service-user",
            Self::ServiceProviderAcse(_) => "DICOM UL service-provider (ACSE related function)",
            Self::ServiceProviderPresentation(_) => {
                "DICOM UL service-provider (presentation related function)"
            }
        }
    }

    /// The reason's name, in the standard's words.
    pub const fn reason_name(self) -> &'static str {
        match self {
            Self::ServiceUser(ServiceUserReason::NoReasonGiven)
            | Self::ServiceProviderAcse(AcseReason::NoReasonGiven) => "no-reason-given",
            Self::ServiceUser(ServiceUserReason::ApplicationContextNameNotSupported) => {
                "application-context-name-not-supported"
            }
            Self::ServiceUser(ServiceUserReason::CallingAeTitleNotRecognized) => {
                "calling-AE-title-not-recognized"
            }
            Self::ServiceUser(ServiceUserReason::CalledAeTitleNotRecognized) => {
                "called-AE-title-not-recognized"
            }
            Self::ServiceProviderAcse(AcseReason::ProtocolVersionNotSupported) => {
                "protocol-version-not-supported"
            }
            Self::ServiceProviderPresentation(PresentationReason::TemporaryCongestion) => {
                "temporary-congestion"
            }
            Self::ServiceProviderPresentation(PresentationReason::LocalLimitExceeded) => {
                "local-limit-exceeded"
            }
            Self::ServiceUser(ServiceUserReason::Reserved(_))
            | Self::ServiceProviderAcse(AcseReason::Reserved(_))
            | Self::ServiceProviderPresentation(PresentationReason::Reserved(_)) => "reserved",
        }
    }
}

/// A-ASSOCIATE-RJ PDU (type 0x03, PS3.8 9.3.4): 10 bytes on the wire.
///
/// ```
/// use dicomwire::pdu::{AssociateRj, RejectResult, RejectSource, ServiceUserReason};
/// let rj = AssociateRj {
///     result: RejectResult::Permanent,
///     source: RejectSource::ServiceUser(ServiceUserReason::CalledAeTitleNotRecognized),
/// };
/// assert_eq!(
///     rj.to_string(),
///     "rejected-permanent by DICOM UL service-user: called-AE-title-not-recognized"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssociateRj {
    /// Permanent or transient.
    pub result: RejectResult,
    /// Who rejected, and why.
    pub source: RejectSource,
}

impl fmt::Display for AssociateRj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} by {}: {}",
            self.result.name(),
            self.source.source_name(),
            self.source.reason_name()
        )?;
        if self.source.reason_name() == "reserved" {
            write!(f, " ({})", self.source.codes().1)?;
        }
        Ok(())
    }
}

/// A-ABORT reason when the service-provider aborted (PS3.8 Table 9-26, byte 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AbortReason {
    /// 0 — reason-not-specified.
    NotSpecified,
    /// 1 — unrecognized-PDU.
    UnrecognizedPdu,
    /// 2 — unexpected-PDU.
    UnexpectedPdu,
    /// 4 — unrecognized-PDU-parameter.
    UnrecognizedPduParameter,
    /// 5 — unexpected-PDU-parameter.
    UnexpectedPduParameter,
    /// 6 — invalid-PDU-parameter-value.
    InvalidPduParameterValue,
    /// 3 and anything above 6: reserved, kept as received.
    Reserved(u8),
}

impl AbortReason {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::NotSpecified => 0,
            Self::UnrecognizedPdu => 1,
            Self::UnexpectedPdu => 2,
            Self::UnrecognizedPduParameter => 4,
            Self::UnexpectedPduParameter => 5,
            Self::InvalidPduParameterValue => 6,
            Self::Reserved(c) => c,
        }
    }

    /// The value for a reason byte; undefined values become `Reserved`.
    pub const fn from_code(code: u8) -> Self {
        match code {
            0 => Self::NotSpecified,
            1 => Self::UnrecognizedPdu,
            2 => Self::UnexpectedPdu,
            4 => Self::UnrecognizedPduParameter,
            5 => Self::UnexpectedPduParameter,
            6 => Self::InvalidPduParameterValue,
            c => Self::Reserved(c),
        }
    }

    /// The reason's name, in the standard's words.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NotSpecified => "reason-not-specified",
            Self::UnrecognizedPdu => "unrecognized-PDU",
            Self::UnexpectedPdu => "unexpected-PDU",
            Self::UnrecognizedPduParameter => "unrecognized-PDU-parameter",
            Self::UnexpectedPduParameter => "unexpected-PDU-parameter",
            Self::InvalidPduParameterValue => "invalid-PDU-parameter-value",
            Self::Reserved(_) => "reserved",
        }
    }
}

/// A-ABORT source (PS3.8 Table 9-26, byte 9), with the reason where it is significant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AbortSource {
    /// 0 — DICOM UL service-user initiated abort. The reason byte is not significant.
    ServiceUser,
    /// 2 — DICOM UL service-provider initiated abort, with its reason.
    ServiceProvider(AbortReason),
    /// 1 (reserved) or a value the standard does not define, kept as received.
    Reserved(u8),
}

/// A-ABORT PDU (type 0x07, PS3.8 9.3.8): 10 bytes on the wire.
///
/// ```
/// use dicomwire::pdu::{Abort, AbortReason, AbortSource};
/// let abort = Abort { source: AbortSource::ServiceProvider(AbortReason::UnexpectedPdu) };
/// assert_eq!(abort.to_string(), "A-ABORT by DICOM UL service-provider: unexpected-PDU");
/// assert_eq!(abort.codes(), (2, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Abort {
    /// Who aborted, and (for the provider) why.
    pub source: AbortSource,
}

impl Abort {
    /// A service-user initiated abort (source 0).
    pub const USER: Self = Self {
        source: AbortSource::ServiceUser,
    };

    /// A service-provider abort with `reason` (source 2).
    pub const fn provider(reason: AbortReason) -> Self {
        Self {
            source: AbortSource::ServiceProvider(reason),
        }
    }

    /// The source byte and reason byte as sent. A service-user abort sends reason 0.
    pub const fn codes(self) -> (u8, u8) {
        match self.source {
            AbortSource::ServiceUser => (0, 0),
            AbortSource::ServiceProvider(r) => (2, r.code()),
            AbortSource::Reserved(s) => (s, 0),
        }
    }

    /// The A-ABORT for a source byte and reason byte (the reason counts only for source 2).
    pub const fn from_codes(source: u8, reason: u8) -> Self {
        Self {
            source: match source {
                0 => AbortSource::ServiceUser,
                2 => AbortSource::ServiceProvider(AbortReason::from_code(reason)),
                s => AbortSource::Reserved(s),
            },
        }
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            AbortSource::ServiceUser => f.write_str("A-ABORT by DICOM UL service-user"),
            AbortSource::ServiceProvider(r) => {
                write!(f, "A-ABORT by DICOM UL service-provider: {}", r.name())?;
                if let AbortReason::Reserved(c) = r {
                    write!(f, " ({c})")?;
                }
                Ok(())
            }
            AbortSource::Reserved(s) => write!(f, "A-ABORT with reserved source {s}"),
        }
    }
}
