//! DIMSE status codes: the status classes of PS3.7 Annex C and the meaning of each code
//! for each service (PS3.7 9.1.x, PS3.4 B.2.3, K.4.1.1.4, C.4.2.1.5, C.4.3.1.4), plus the
//! implementation-specific codes an SCP sends when its handler misbehaves.
//!
//! Everything here reads one table, [`STATUS_TABLE`], which mirrors
//! `tests/fixtures/spec/statuses.tsv` row for row (the `status_table` test holds them
//! equal).

use std::fmt;

/// A DIMSE status code: the value of Status (0000,0900) in a response.
///
/// `Debug` prints `Status(0xFF00)` and `Display` prints `0xFF00`; use
/// [`describe`](Self::describe) for a log line with the code's meaning for a service.
///
/// ```
/// use dicomwire::dimse::{Service, Status, StatusCategory};
///
/// let status = Status(0xA801);
/// assert_eq!(status, Status::MOVE_DESTINATION_UNKNOWN);
/// assert_eq!(status.category(), StatusCategory::Failure);
/// assert!(status.is_valid_for(Service::MoveHangingProtocol));
/// assert!(!status.is_valid_for(Service::GetHangingProtocol));
/// assert_eq!(
///     status.describe(Service::MoveHangingProtocol).to_string(),
///     "0xA801 (Failure) Refused: move destination unknown",
/// );
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status(pub u16);

/// The status class of PS3.7 Annex C a code belongs to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCategory {
    /// 0000: the operation completed.
    Success,
    /// FF00 or FF01: more responses follow.
    Pending,
    /// FE00: the operation was cancelled at the requestor's request.
    Cancel,
    /// 0001, Bxxx, 0107 or 0116: the operation completed, but something was wrong.
    Warning,
    /// 01xx (but 0107 and 0116), 02xx, Axxx, Cxxx, and every code outside the classes.
    Failure,
}

/// A DIMSE service as the status tables of PS3.4 and PS3.7 scope it: the same code can
/// mean different things, or nothing, for different services.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// C-ECHO, Verification (PS3.7 9.1.5).
    Echo,
    /// C-STORE, Storage (PS3.4 B.2.3, PS3.7 9.1.1).
    Store,
    /// C-FIND on the Modality Worklist information model (PS3.4 K.4.1.1.4).
    FindWorklist,
    /// C-FIND on the Hanging Protocol information model (PS3.4 U.4.1).
    FindHangingProtocol,
    /// C-MOVE of Hanging Protocol instances (PS3.4 U.4.2, C.4.2.1.5).
    MoveHangingProtocol,
    /// C-GET of Hanging Protocol instances (PS3.4 U.4.3, C.4.3.1.4).
    GetHangingProtocol,
}

/// Which codes a row of [`STATUS_TABLE`] speaks about. The labels are the `scope` column
/// of `statuses.tsv`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusScope {
    /// `*`: a status class rule of PS3.7 Annex C; the rules overlap, the narrowest wins.
    ClassRule,
    /// `general`: a status type of PS3.7 Annex C, named whatever the service.
    General,
    /// `C-ECHO`, `C-STORE`, `C-FIND:MWL`, …: a code PS3.4 or PS3.7 9.1.x names for a service.
    Service(Service),
    /// `pynetdicom:any`: an implementation-specific code an SCP of any service may send.
    ImplementationAny,
    /// `pynetdicom:C-STORE`: an implementation-specific code of a C-STORE SCP.
    ImplementationStore,
    /// `pynetdicom:C-FIND`: an implementation-specific code of a C-FIND SCP.
    ImplementationFind,
    /// `pynetdicom:C-GET`: an implementation-specific code of a C-GET SCP.
    ImplementationGet,
    /// `pynetdicom:C-MOVE`: an implementation-specific code of a C-MOVE SCP.
    ImplementationMove,
}

/// One row of [`STATUS_TABLE`]: a code or range of codes, its class and its meaning
/// within a scope.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusRow {
    /// Which service (or rule set) the row belongs to.
    pub scope: StatusScope,
    /// The first code of the range (the only one for a single code).
    pub code_min: u16,
    /// The last code of the range, inclusive.
    pub code_max: u16,
    /// The status class of every code in the range.
    pub category: StatusCategory,
    /// A short meaning of the code in this scope.
    pub meaning: &'static str,
}

impl Status {
    /// 0x0000 — Success; for C-FIND "matching complete", for C-MOVE/C-GET
    /// "sub-operations complete" without failures.
    pub const SUCCESS: Self = Self(0x0000);
    /// 0xFF00 — Pending: a C-FIND match follows (optional keys supported like required
    /// keys), or C-MOVE/C-GET sub-operations are continuing.
    pub const PENDING: Self = Self(0xFF00);
    /// 0xFF01 — Pending, C-FIND only: a match follows, with a warning that one or more
    /// optional keys were not supported for existence.
    pub const PENDING_WARNING: Self = Self(0xFF01);
    /// 0xFE00 — Cancel: matching or sub-operations ended because of a C-CANCEL.
    pub const CANCEL: Self = Self(0xFE00);
    /// 0x0117 — Invalid SOP Instance (PS3.7 C.5.12); a C-STORE failure.
    pub const INVALID_SOP_INSTANCE: Self = Self(0x0117);
    /// 0x0122 — Refused: SOP Class not supported (PS3.7 C.5.6).
    pub const SOP_CLASS_NOT_SUPPORTED: Self = Self(0x0122);
    /// 0x0124 — Refused: not authorized (PS3.7 C.5.25).
    pub const NOT_AUTHORIZED: Self = Self(0x0124);
    /// 0x0210 — Duplicate invocation: the Message ID is already in use (PS3.7 C.5.9).
    pub const DUPLICATE_INVOCATION: Self = Self(0x0210);
    /// 0x0211 — Unrecognized operation (PS3.7 C.5.23).
    pub const UNRECOGNIZED_OPERATION: Self = Self(0x0211);
    /// 0x0212 — Mistyped argument: a parameter not agreed for this association
    /// (PS3.7 C.5.15).
    pub const MISTYPED_ARGUMENT: Self = Self(0x0212);
    /// 0xA700 — Refused: out of resources. The C-FIND code (K.4.1.1.4), and the first code
    /// of C-STORE's A7xx range with the same meaning (B.2.3).
    pub const OUT_OF_RESOURCES: Self = Self(0xA700);
    /// 0xA701 — C-MOVE/C-GET refused: out of resources, unable to calculate the number of
    /// matches.
    pub const OUT_OF_RESOURCES_MATCHES: Self = Self(0xA701);
    /// 0xA702 — C-MOVE/C-GET refused: out of resources, unable to perform sub-operations.
    pub const OUT_OF_RESOURCES_SUB_OPERATIONS: Self = Self(0xA702);
    /// 0xA801 — C-MOVE refused: move destination unknown.
    pub const MOVE_DESTINATION_UNKNOWN: Self = Self(0xA801);
    /// 0xA900 — C-FIND/C-MOVE/C-GET error: the identifier does not match the SOP Class.
    /// The same code is [`STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS`](Self::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS)
    /// for C-STORE.
    pub const IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS: Self = Self(0xA900);
    /// 0xC000 — C-FIND/C-MOVE/C-GET failed: unable to process (first code of the Cxxx
    /// range). The same code is [`STORE_CANNOT_UNDERSTAND`](Self::STORE_CANNOT_UNDERSTAND)
    /// for C-STORE.
    pub const UNABLE_TO_PROCESS: Self = Self(0xC000);
    /// 0xB000 — C-MOVE/C-GET warning: sub-operations complete, one or more failed (or, for
    /// C-GET, had warnings). The same code is
    /// [`STORE_COERCION_OF_DATA_ELEMENTS`](Self::STORE_COERCION_OF_DATA_ELEMENTS) for
    /// C-STORE.
    pub const SUB_OPERATIONS_COMPLETE_WITH_FAILURES: Self = Self(0xB000);
    /// 0xB000 — C-STORE warning: coercion of data elements. The same code is
    /// [`SUB_OPERATIONS_COMPLETE_WITH_FAILURES`](Self::SUB_OPERATIONS_COMPLETE_WITH_FAILURES)
    /// for C-MOVE/C-GET.
    pub const STORE_COERCION_OF_DATA_ELEMENTS: Self = Self(0xB000);
    /// 0xB006 — C-STORE warning: elements discarded.
    pub const STORE_ELEMENTS_DISCARDED: Self = Self(0xB006);
    /// 0xB007 — C-STORE warning: the data set does not match the SOP Class (stored anyway).
    pub const STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING: Self = Self(0xB007);
    /// 0xA900 — C-STORE error: the data set does not match the SOP Class (first code of
    /// the A9xx range). The same code is
    /// [`IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS`](Self::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS)
    /// for C-FIND/C-MOVE/C-GET.
    pub const STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS: Self = Self(0xA900);
    /// 0xC000 — C-STORE error: cannot understand (first code of the Cxxx range). The same
    /// code is [`UNABLE_TO_PROCESS`](Self::UNABLE_TO_PROCESS) for C-FIND/C-MOVE/C-GET.
    pub const STORE_CANNOT_UNDERSTAND: Self = Self(0xC000);

    /// 0xC001 — implementation-specific, any service: the handler gave a status data set
    /// without Status (0000,0900).
    pub const HANDLER_STATUS_WITHOUT_STATUS_ELEMENT: Self = Self(0xC001);
    /// 0xC002 — implementation-specific, any service: the handler gave a status that is not
    /// valid for the service (see [`is_valid_for`](Self::is_valid_for)).
    pub const HANDLER_INVALID_STATUS: Self = Self(0xC002);
    /// 0xC210 — implementation-specific, C-STORE: the received data set could not be decoded.
    pub const STORE_DATA_SET_DECODE_FAILED: Self = Self(0xC210);
    /// 0xC211 — implementation-specific, C-STORE: the handler failed (error or panic).
    pub const STORE_HANDLER_FAILED: Self = Self(0xC211);
    /// 0xC310 — implementation-specific, C-FIND: the received identifier could not be
    /// decoded.
    pub const FIND_IDENTIFIER_DECODE_FAILED: Self = Self(0xC310);
    /// 0xC311 — implementation-specific, C-FIND: the handler failed (error or panic).
    pub const FIND_HANDLER_FAILED: Self = Self(0xC311);
    /// 0xC312 — implementation-specific, C-FIND: the handler's identifier could not be
    /// encoded.
    pub const FIND_IDENTIFIER_ENCODE_FAILED: Self = Self(0xC312);
    /// 0xC410 — implementation-specific, C-GET: the received identifier could not be
    /// decoded.
    pub const GET_IDENTIFIER_DECODE_FAILED: Self = Self(0xC410);
    /// 0xC411 — implementation-specific, C-GET: the handler failed (error or panic).
    pub const GET_HANDLER_FAILED: Self = Self(0xC411);
    /// 0xC413 — implementation-specific, C-GET: the handler gave an invalid number of
    /// sub-operations.
    pub const GET_INVALID_SUB_OPERATION_COUNT: Self = Self(0xC413);
    /// 0xC416 — implementation-specific, C-GET: the handler gave more than 65535 matches.
    pub const GET_TOO_MANY_MATCHES: Self = Self(0xC416);
    /// 0xC510 — implementation-specific, C-MOVE: the received identifier could not be
    /// decoded.
    pub const MOVE_IDENTIFIER_DECODE_FAILED: Self = Self(0xC510);
    /// 0xC511 — implementation-specific, C-MOVE: the handler failed (error or panic).
    pub const MOVE_HANDLER_FAILED: Self = Self(0xC511);
    /// 0xC513 — implementation-specific, C-MOVE: the handler gave an invalid number of
    /// sub-operations.
    pub const MOVE_INVALID_SUB_OPERATION_COUNT: Self = Self(0xC513);
    /// 0xC514 — implementation-specific, C-MOVE: the handler gave no destination address
    /// and/or no sub-operation count.
    pub const MOVE_NO_DESTINATION_OR_COUNT: Self = Self(0xC514);
    /// 0xC515 — implementation-specific, C-MOVE: the handler gave an invalid destination
    /// address or port.
    pub const MOVE_INVALID_DESTINATION_ADDRESS: Self = Self(0xC515);
    /// 0xC516 — implementation-specific, C-MOVE: the handler gave more than 65535 matches.
    pub const MOVE_TOO_MANY_MATCHES: Self = Self(0xC516);

    /// The code.
    pub const fn code(self) -> u16 {
        self.0
    }

    /// The status class of the code, from the class rules of PS3.7 Annex C (the
    /// [`StatusScope::ClassRule`] rows; where they overlap the narrowest wins, so 0x0107
    /// and 0x0116 are Warning although they lie in 01xx).
    ///
    /// The class does not depend on the service. A code outside every class (0x0002 to
    /// 0x00FF, 0x0300 to 0x9FFF, 0xD000 to 0xFDFF, 0xFE01 to 0xFEFF, 0xFF02 to 0xFFFF) is
    /// [`Failure`](StatusCategory::Failure). PS3.7 Annex C only forbids implementations to
    /// use such codes; it does not say how a receiver classifies one. Failure is the one
    /// class that ends the operation without claiming it worked: Pending would leave an
    /// SCU waiting for responses that may never come, and Success, Warning or Cancel would
    /// report an outcome the peer never stated. (pynetdicom calls these codes "Unknown";
    /// DCMTK treats every FFxx as Pending.)
    pub const fn category(self) -> StatusCategory {
        let mut best: Option<&StatusRow> = None;
        let mut i = 0;
        while i < STATUS_TABLE.len() {
            let row = &STATUS_TABLE[i];
            if matches!(row.scope, StatusScope::ClassRule) && row.contains(self) {
                best = match best {
                    Some(narrower) if narrower.width() <= row.width() => Some(narrower),
                    _ => Some(row),
                };
            }
            i += 1;
        }
        match best {
            Some(row) => row.category,
            None => StatusCategory::Failure,
        }
    }

    /// Whether this is the last response to the request: every class but Pending.
    pub const fn is_final(self) -> bool {
        !self.is_pending()
    }

    /// Whether the class is [`Success`](StatusCategory::Success) (only 0x0000).
    pub const fn is_success(self) -> bool {
        matches!(self.category(), StatusCategory::Success)
    }

    /// Whether the class is [`Pending`](StatusCategory::Pending) (0xFF00, 0xFF01).
    pub const fn is_pending(self) -> bool {
        matches!(self.category(), StatusCategory::Pending)
    }

    /// Whether the class is [`Cancel`](StatusCategory::Cancel) (only 0xFE00).
    pub const fn is_cancel(self) -> bool {
        matches!(self.category(), StatusCategory::Cancel)
    }

    /// Whether the class is [`Warning`](StatusCategory::Warning).
    pub const fn is_warning(self) -> bool {
        matches!(self.category(), StatusCategory::Warning)
    }

    /// Whether the class is [`Failure`](StatusCategory::Failure), which includes codes
    /// outside every class (see [`category`](Self::category)).
    pub const fn is_failure(self) -> bool {
        matches!(self.category(), StatusCategory::Failure)
    }

    /// The meaning of the code for `service`, or `None` when the service does not name it.
    ///
    /// The rows looked at are the service's own (which include the general 01xx/02xx codes
    /// PS3.7 9.1.x lists for it, with their Annex C meaning) and the implementation-specific
    /// rows for it. The narrowest row containing the code wins, so 0xC311 is "unhandled
    /// exception raised by the C-FIND handler" for a C-FIND, not the 0xCxxx "unable to
    /// process" range. A general code the service does not list (0x0119 for C-ECHO) has no
    /// name for it; [`general_name`](Self::general_name) gives the Annex C meaning.
    pub fn name(self, service: Service) -> Option<&'static str> {
        self.row_for(service).map(|row| row.meaning)
    }

    /// Whether `service` names this code: its own rows or the implementation-specific rows
    /// for it. An SCP answers 0xC002 ([`HANDLER_INVALID_STATUS`](Self::HANDLER_INVALID_STATUS))
    /// instead of a handler's status that is not valid for the service.
    pub fn is_valid_for(self, service: Service) -> bool {
        self.row_for(service).is_some()
    }

    /// The meaning PS3.7 Annex C gives the code whatever the service (0x0000, 0xFE00 and the
    /// general 01xx/02xx codes), or `None`.
    pub fn general_name(self) -> Option<&'static str> {
        STATUS_TABLE
            .iter()
            .find(|row| row.scope == StatusScope::General && row.contains(self))
            .map(|row| row.meaning)
    }

    /// A `Display` of the code with its class and its meaning for `service`, for logs:
    /// `0xA801 (Failure) Refused: move destination unknown`, or
    /// `0xD000 (Failure, not a C-MOVE:HP status)`.
    pub const fn describe(self, service: Service) -> StatusDescription {
        StatusDescription {
            status: self,
            service,
        }
    }

    fn row_for(self, service: Service) -> Option<&'static StatusRow> {
        STATUS_TABLE
            .iter()
            .filter(|row| row.scope.applies_to(service) && row.contains(self))
            .min_by_key(|row| row.width())
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status(0x{:04X})", self.0)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04X}", self.0)
    }
}

impl From<u16> for Status {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<Status> for u16 {
    fn from(status: Status) -> Self {
        status.0
    }
}

/// A status with its meaning for a service, for display; made by [`Status::describe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusDescription {
    status: Status,
    service: Service,
}

impl fmt::Display for StatusDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let category = self.status.category();
        match self.status.name(self.service) {
            Some(meaning) => write!(f, "{} ({category}) {meaning}", self.status),
            None => write!(
                f,
                "{} ({category}, not a {} status)",
                self.status, self.service
            ),
        }
    }
}

impl fmt::Display for StatusCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Success => "Success",
            Self::Pending => "Pending",
            Self::Cancel => "Cancel",
            Self::Warning => "Warning",
            Self::Failure => "Failure",
        })
    }
}

impl Service {
    /// Every service, in the order of `statuses.tsv`.
    pub const ALL: [Self; 6] = [
        Self::Echo,
        Self::Store,
        Self::FindWorklist,
        Self::FindHangingProtocol,
        Self::MoveHangingProtocol,
        Self::GetHangingProtocol,
    ];

    /// The service's scope label in `statuses.tsv`: `C-ECHO`, `C-STORE`, `C-FIND:MWL`,
    /// `C-FIND:HP`, `C-MOVE:HP` or `C-GET:HP`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Echo => "C-ECHO",
            Self::Store => "C-STORE",
            Self::FindWorklist => "C-FIND:MWL",
            Self::FindHangingProtocol => "C-FIND:HP",
            Self::MoveHangingProtocol => "C-MOVE:HP",
            Self::GetHangingProtocol => "C-GET:HP",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl StatusScope {
    /// The scope's label in `statuses.tsv`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::ClassRule => "*",
            Self::General => "general",
            Self::Service(service) => service.label(),
            Self::ImplementationAny => "pynetdicom:any",
            Self::ImplementationStore => "pynetdicom:C-STORE",
            Self::ImplementationFind => "pynetdicom:C-FIND",
            Self::ImplementationGet => "pynetdicom:C-GET",
            Self::ImplementationMove => "pynetdicom:C-MOVE",
        }
    }

    /// Whether the rows of this scope name codes for `service`. Class rules and general
    /// rows apply to no service in particular: each service's own rows list the general
    /// codes it uses.
    pub fn applies_to(self, service: Service) -> bool {
        match self {
            Self::ClassRule | Self::General => false,
            Self::Service(own) => own == service,
            Self::ImplementationAny => true,
            Self::ImplementationStore => matches!(service, Service::Store),
            Self::ImplementationFind => matches!(
                service,
                Service::FindWorklist | Service::FindHangingProtocol
            ),
            Self::ImplementationGet => matches!(service, Service::GetHangingProtocol),
            Self::ImplementationMove => matches!(service, Service::MoveHangingProtocol),
        }
    }
}

impl StatusRow {
    /// Whether `status` lies in the row's range.
    pub const fn contains(&self, status: Status) -> bool {
        self.code_min <= status.0 && status.0 <= self.code_max
    }

    const fn width(&self) -> u16 {
        self.code_max - self.code_min
    }
}

const fn row(
    scope: StatusScope,
    code_min: u16,
    code_max: u16,
    category: StatusCategory,
    meaning: &'static str,
) -> StatusRow {
    StatusRow {
        scope,
        code_min,
        code_max,
        category,
        meaning,
    }
}

/// Every status row of `statuses.tsv`, in its order: the class rules (`*`), the general
/// codes of PS3.7 Annex C, the codes of each service, then the implementation-specific
/// codes (pynetdicom's, which our SCP sends for the same situations).
///
/// Ranges written `xx` in the standard (C-STORE's A7xx, every Cxxx) are one row each:
/// an SCP may send any code in the range, and it means the same throughout.
#[rustfmt::skip]
pub const STATUS_TABLE: &[StatusRow] = &[
    // *
    row(StatusScope::ClassRule, 0x0000, 0x0000, StatusCategory::Success, "Success class (only 0000)"),
    row(StatusScope::ClassRule, 0x0001, 0x0001, StatusCategory::Warning, "Warning class (single code 0001)"),
    row(StatusScope::ClassRule, 0x0107, 0x0107, StatusCategory::Warning, "Warning class (0107 is a warning although in 01xx)"),
    row(StatusScope::ClassRule, 0x0116, 0x0116, StatusCategory::Warning, "Warning class (0116 is a warning although in 01xx)"),
    row(StatusScope::ClassRule, 0xB000, 0xBFFF, StatusCategory::Warning, "Warning class"),
    row(StatusScope::ClassRule, 0x0100, 0x01FF, StatusCategory::Failure, "Failure class: 01xx except 0107 and 0116 (codes reserved to the Standard)"),
    row(StatusScope::ClassRule, 0x0200, 0x02FF, StatusCategory::Failure, "Failure class (codes reserved to the Standard)"),
    row(StatusScope::ClassRule, 0xA000, 0xAFFF, StatusCategory::Failure, "Failure class (assignable by service class / implementation)"),
    row(StatusScope::ClassRule, 0xC000, 0xCFFF, StatusCategory::Failure, "Failure class (assignable by service class / implementation)"),
    row(StatusScope::ClassRule, 0xFE00, 0xFE00, StatusCategory::Cancel, "Cancel class"),
    row(StatusScope::ClassRule, 0xFF00, 0xFF01, StatusCategory::Pending, "Pending class"),
    // general
    row(StatusScope::General, 0x0000, 0x0000, StatusCategory::Success, "Success"),
    row(StatusScope::General, 0xFE00, 0xFE00, StatusCategory::Cancel, "Cancel"),
    row(StatusScope::General, 0x0107, 0x0107, StatusCategory::Warning, "Attribute list error"),
    row(StatusScope::General, 0x0116, 0x0116, StatusCategory::Warning, "Attribute value out of range"),
    row(StatusScope::General, 0x0122, 0x0122, StatusCategory::Failure, "Refused: SOP Class not supported"),
    row(StatusScope::General, 0x0119, 0x0119, StatusCategory::Failure, "Class-instance conflict"),
    row(StatusScope::General, 0x0111, 0x0111, StatusCategory::Failure, "Duplicate SOP Instance"),
    row(StatusScope::General, 0x0210, 0x0210, StatusCategory::Failure, "Duplicate invocation (Message ID already in use)"),
    row(StatusScope::General, 0x0115, 0x0115, StatusCategory::Failure, "Invalid argument value"),
    row(StatusScope::General, 0x0106, 0x0106, StatusCategory::Failure, "Invalid attribute value"),
    row(StatusScope::General, 0x0117, 0x0117, StatusCategory::Failure, "Invalid SOP Instance"),
    row(StatusScope::General, 0x0120, 0x0120, StatusCategory::Failure, "Missing attribute"),
    row(StatusScope::General, 0x0121, 0x0121, StatusCategory::Failure, "Missing attribute value"),
    row(StatusScope::General, 0x0212, 0x0212, StatusCategory::Failure, "Mistyped argument (parameter not agreed for use on this association)"),
    row(StatusScope::General, 0x0114, 0x0114, StatusCategory::Failure, "No such argument"),
    row(StatusScope::General, 0x0105, 0x0105, StatusCategory::Failure, "No such attribute"),
    row(StatusScope::General, 0x0113, 0x0113, StatusCategory::Failure, "No such event type"),
    row(StatusScope::General, 0x0112, 0x0112, StatusCategory::Failure, "No such SOP Instance"),
    row(StatusScope::General, 0x0118, 0x0118, StatusCategory::Failure, "No such SOP Class"),
    row(StatusScope::General, 0x0110, 0x0110, StatusCategory::Failure, "Processing failure"),
    row(StatusScope::General, 0x0213, 0x0213, StatusCategory::Failure, "Resource limitation"),
    row(StatusScope::General, 0x0211, 0x0211, StatusCategory::Failure, "Unrecognized operation"),
    row(StatusScope::General, 0x0123, 0x0123, StatusCategory::Failure, "No such action type"),
    row(StatusScope::General, 0x0124, 0x0124, StatusCategory::Failure, "Refused: not authorized"),
    // C-ECHO
    row(StatusScope::Service(Service::Echo), 0x0000, 0x0000, StatusCategory::Success, "Success"),
    row(StatusScope::Service(Service::Echo), 0x0122, 0x0122, StatusCategory::Failure, "Refused: SOP Class not supported"),
    row(StatusScope::Service(Service::Echo), 0x0210, 0x0210, StatusCategory::Failure, "Duplicate invocation"),
    row(StatusScope::Service(Service::Echo), 0x0212, 0x0212, StatusCategory::Failure, "Mistyped argument"),
    row(StatusScope::Service(Service::Echo), 0x0211, 0x0211, StatusCategory::Failure, "Unrecognized operation"),
    // C-STORE
    row(StatusScope::Service(Service::Store), 0xA700, 0xA7FF, StatusCategory::Failure, "Refused: out of resources"),
    row(StatusScope::Service(Service::Store), 0xA900, 0xA9FF, StatusCategory::Failure, "Error: data set does not match SOP Class"),
    row(StatusScope::Service(Service::Store), 0xC000, 0xCFFF, StatusCategory::Failure, "Error: cannot understand"),
    row(StatusScope::Service(Service::Store), 0xB000, 0xB000, StatusCategory::Warning, "Coercion of data elements"),
    row(StatusScope::Service(Service::Store), 0xB007, 0xB007, StatusCategory::Warning, "Data set does not match SOP Class"),
    row(StatusScope::Service(Service::Store), 0xB006, 0xB006, StatusCategory::Warning, "Elements discarded"),
    row(StatusScope::Service(Service::Store), 0x0000, 0x0000, StatusCategory::Success, "Success"),
    row(StatusScope::Service(Service::Store), 0x0122, 0x0122, StatusCategory::Failure, "Refused: SOP Class not supported"),
    row(StatusScope::Service(Service::Store), 0x0210, 0x0210, StatusCategory::Failure, "Duplicate invocation"),
    row(StatusScope::Service(Service::Store), 0x0117, 0x0117, StatusCategory::Failure, "Invalid SOP Instance"),
    row(StatusScope::Service(Service::Store), 0x0212, 0x0212, StatusCategory::Failure, "Mistyped argument"),
    row(StatusScope::Service(Service::Store), 0x0211, 0x0211, StatusCategory::Failure, "Unrecognized operation"),
    row(StatusScope::Service(Service::Store), 0x0124, 0x0124, StatusCategory::Failure, "Refused: not authorized"),
    // C-FIND:MWL
    row(StatusScope::Service(Service::FindWorklist), 0xA700, 0xA700, StatusCategory::Failure, "Refused: out of resources"),
    row(StatusScope::Service(Service::FindWorklist), 0xA900, 0xA900, StatusCategory::Failure, "Error: identifier does not match SOP Class"),
    row(StatusScope::Service(Service::FindWorklist), 0xC000, 0xCFFF, StatusCategory::Failure, "Failed: unable to process"),
    row(StatusScope::Service(Service::FindWorklist), 0xFE00, 0xFE00, StatusCategory::Cancel, "Matching terminated due to cancel request"),
    row(StatusScope::Service(Service::FindWorklist), 0x0000, 0x0000, StatusCategory::Success, "Matching complete; no final identifier supplied"),
    row(StatusScope::Service(Service::FindWorklist), 0xFF00, 0xFF00, StatusCategory::Pending, "Matches continuing; current match supplied; optional keys supported like required keys"),
    row(StatusScope::Service(Service::FindWorklist), 0xFF01, 0xFF01, StatusCategory::Pending, "Matches continuing; warning: one or more optional keys not supported for existence for this identifier"),
    row(StatusScope::Service(Service::FindWorklist), 0x0122, 0x0122, StatusCategory::Failure, "Refused: SOP Class not supported"),
    // C-FIND:HP
    row(StatusScope::Service(Service::FindHangingProtocol), 0xA700, 0xA700, StatusCategory::Failure, "Refused: out of resources"),
    row(StatusScope::Service(Service::FindHangingProtocol), 0xA900, 0xA900, StatusCategory::Failure, "Error: identifier does not match SOP Class"),
    row(StatusScope::Service(Service::FindHangingProtocol), 0xC000, 0xCFFF, StatusCategory::Failure, "Failed: unable to process"),
    row(StatusScope::Service(Service::FindHangingProtocol), 0xFE00, 0xFE00, StatusCategory::Cancel, "Matching terminated due to cancel request"),
    row(StatusScope::Service(Service::FindHangingProtocol), 0x0000, 0x0000, StatusCategory::Success, "Matching complete; no final identifier supplied"),
    row(StatusScope::Service(Service::FindHangingProtocol), 0xFF00, 0xFF00, StatusCategory::Pending, "Matches continuing; current match supplied; optional keys supported like required keys"),
    row(StatusScope::Service(Service::FindHangingProtocol), 0xFF01, 0xFF01, StatusCategory::Pending, "Matches continuing; warning: one or more optional keys not supported for existence for this identifier"),
    row(StatusScope::Service(Service::FindHangingProtocol), 0x0122, 0x0122, StatusCategory::Failure, "Refused: SOP Class not supported"),
    // C-MOVE:HP
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xA701, 0xA701, StatusCategory::Failure, "Refused: out of resources - unable to calculate number of matches"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xA702, 0xA702, StatusCategory::Failure, "Refused: out of resources - unable to perform sub-operations"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xA801, 0xA801, StatusCategory::Failure, "Refused: move destination unknown"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xA900, 0xA900, StatusCategory::Failure, "Error: identifier does not match SOP Class"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xC000, 0xCFFF, StatusCategory::Failure, "Failed: unable to process"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xFE00, 0xFE00, StatusCategory::Cancel, "Sub-operations terminated due to cancel indication"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xB000, 0xB000, StatusCategory::Warning, "Sub-operations complete - one or more failures"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0x0000, 0x0000, StatusCategory::Success, "Sub-operations complete - no failures"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0xFF00, 0xFF00, StatusCategory::Pending, "Sub-operations are continuing"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0x0122, 0x0122, StatusCategory::Failure, "Refused: SOP Class not supported"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0x0210, 0x0210, StatusCategory::Failure, "Duplicate invocation"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0x0212, 0x0212, StatusCategory::Failure, "Mistyped argument"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0x0211, 0x0211, StatusCategory::Failure, "Unrecognized operation"),
    row(StatusScope::Service(Service::MoveHangingProtocol), 0x0124, 0x0124, StatusCategory::Failure, "Refused: not authorized"),
    // C-GET:HP
    row(StatusScope::Service(Service::GetHangingProtocol), 0xA701, 0xA701, StatusCategory::Failure, "Refused: out of resources - unable to calculate number of matches"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0xA702, 0xA702, StatusCategory::Failure, "Refused: out of resources - unable to perform sub-operations"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0xA900, 0xA900, StatusCategory::Failure, "Error: identifier does not match SOP Class"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0xC000, 0xCFFF, StatusCategory::Failure, "Failed: unable to process"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0xFE00, 0xFE00, StatusCategory::Cancel, "Sub-operations terminated due to cancel indication"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0xB000, 0xB000, StatusCategory::Warning, "Sub-operations complete - one or more failures or warnings"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0x0000, 0x0000, StatusCategory::Success, "Sub-operations complete - no failures or warnings"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0xFF00, 0xFF00, StatusCategory::Pending, "Sub-operations are continuing"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0x0122, 0x0122, StatusCategory::Failure, "Refused: SOP Class not supported"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0x0210, 0x0210, StatusCategory::Failure, "Duplicate invocation"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0x0212, 0x0212, StatusCategory::Failure, "Mistyped argument"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0x0211, 0x0211, StatusCategory::Failure, "Unrecognized operation"),
    row(StatusScope::Service(Service::GetHangingProtocol), 0x0124, 0x0124, StatusCategory::Failure, "Refused: not authorized"),
    // pynetdicom:any
    row(StatusScope::ImplementationAny, 0xC001, 0xC001, StatusCategory::Failure, "Handler returned/yielded a status Dataset without a Status (0000,0900) element"),
    row(StatusScope::ImplementationAny, 0xC002, 0xC002, StatusCategory::Failure, "Handler returned/yielded an invalid status object (neither Dataset nor int)"),
    // pynetdicom:C-STORE
    row(StatusScope::ImplementationStore, 0xC210, 0xC210, StatusCategory::Failure, "Failed to decode the data set received from the peer"),
    row(StatusScope::ImplementationStore, 0xC211, 0xC211, StatusCategory::Failure, "Unhandled exception raised by the C-STORE handler"),
    // pynetdicom:C-FIND
    row(StatusScope::ImplementationFind, 0xC310, 0xC310, StatusCategory::Failure, "Failed to decode the identifier received from the peer"),
    row(StatusScope::ImplementationFind, 0xC311, 0xC311, StatusCategory::Failure, "Unhandled exception raised by the C-FIND handler"),
    row(StatusScope::ImplementationFind, 0xC312, 0xC312, StatusCategory::Failure, "Failed to encode the identifier yielded by the C-FIND handler"),
    // pynetdicom:C-GET
    row(StatusScope::ImplementationGet, 0xC410, 0xC410, StatusCategory::Failure, "Failed to decode the identifier received from the peer"),
    row(StatusScope::ImplementationGet, 0xC411, 0xC411, StatusCategory::Failure, "Unhandled exception raised by the C-GET handler"),
    row(StatusScope::ImplementationGet, 0xC413, 0xC413, StatusCategory::Failure, "C-GET handler yielded an invalid number of sub-operations"),
    row(StatusScope::ImplementationGet, 0xC416, 0xC416, StatusCategory::Failure, "C-GET handler yielded more than 65535 matches (undocumented in status.rst; found in service_class.py)"),
    // pynetdicom:C-MOVE
    row(StatusScope::ImplementationMove, 0xC510, 0xC510, StatusCategory::Failure, "Failed to decode the identifier received from the peer"),
    row(StatusScope::ImplementationMove, 0xC511, 0xC511, StatusCategory::Failure, "Unhandled exception raised by the C-MOVE handler"),
    row(StatusScope::ImplementationMove, 0xC513, 0xC513, StatusCategory::Failure, "C-MOVE handler yielded an invalid number of sub-operations"),
    row(StatusScope::ImplementationMove, 0xC514, 0xC514, StatusCategory::Failure, "C-MOVE handler failed to yield the (address, port) destination and/or the number of sub-operations"),
    row(StatusScope::ImplementationMove, 0xC515, 0xC515, StatusCategory::Failure, "C-MOVE handler yielded an invalid (address, port) destination"),
    row(StatusScope::ImplementationMove, 0xC516, 0xC516, StatusCategory::Failure, "C-MOVE handler yielded more than 65535 matches (undocumented in status.rst; found in service_class.py)"),
];
