//! Typed DIMSE-C messages (PS3.7 9.3) and their conversion to and from command sets.

use std::fmt;

use dicom_core::Tag;
use thiserror::Error;

use super::command::{CommandSet, DATA_SET_PRESENT, NO_DATA_SET};
use super::status::Status;

/// A message ID (PS3.7 9.1.1.1.1): 16 bits, unique among a side's outstanding requests.
pub type MessageId = u16;

/// The Command Field values of PS3.7 Annex E.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandField {
    /// 0x0001 C-STORE-RQ.
    CStoreRq,
    /// 0x8001 C-STORE-RSP.
    CStoreRsp,
    /// 0x0010 C-GET-RQ.
    CGetRq,
    /// 0x8010 C-GET-RSP.
    CGetRsp,
    /// 0x0020 C-FIND-RQ.
    CFindRq,
    /// 0x8020 C-FIND-RSP.
    CFindRsp,
    /// 0x0021 C-MOVE-RQ.
    CMoveRq,
    /// 0x8021 C-MOVE-RSP.
    CMoveRsp,
    /// 0x0030 C-ECHO-RQ.
    CEchoRq,
    /// 0x8030 C-ECHO-RSP.
    CEchoRsp,
    /// 0x0FFF C-CANCEL-RQ.
    CCancelRq,
    /// 0x0100 N-EVENT-REPORT-RQ (recognized, not supported).
    NEventReportRq,
    /// 0x8100 N-EVENT-REPORT-RSP (recognized, not supported).
    NEventReportRsp,
    /// 0x0110 N-GET-RQ (recognized, not supported).
    NGetRq,
    /// 0x8110 N-GET-RSP (recognized, not supported).
    NGetRsp,
    /// 0x0120 N-SET-RQ (recognized, not supported).
    NSetRq,
    /// 0x8120 N-SET-RSP (recognized, not supported).
    NSetRsp,
    /// 0x0130 N-ACTION-RQ (recognized, not supported).
    NActionRq,
    /// 0x8130 N-ACTION-RSP (recognized, not supported).
    NActionRsp,
    /// 0x0140 N-CREATE-RQ (recognized, not supported).
    NCreateRq,
    /// 0x8140 N-CREATE-RSP (recognized, not supported).
    NCreateRsp,
    /// 0x0150 N-DELETE-RQ (recognized, not supported).
    NDeleteRq,
    /// 0x8150 N-DELETE-RSP (recognized, not supported).
    NDeleteRsp,
}

impl CommandField {
    /// Every command field, in the order of PS3.7 Table E.1-1.
    pub const ALL: [Self; 23] = [
        Self::CStoreRq,
        Self::CStoreRsp,
        Self::CGetRq,
        Self::CGetRsp,
        Self::CFindRq,
        Self::CFindRsp,
        Self::CMoveRq,
        Self::CMoveRsp,
        Self::CEchoRq,
        Self::CEchoRsp,
        Self::NEventReportRq,
        Self::NEventReportRsp,
        Self::NGetRq,
        Self::NGetRsp,
        Self::NSetRq,
        Self::NSetRsp,
        Self::NActionRq,
        Self::NActionRsp,
        Self::NCreateRq,
        Self::NCreateRsp,
        Self::NDeleteRq,
        Self::NDeleteRsp,
        Self::CCancelRq,
    ];

    /// The code.
    pub const fn code(self) -> u16 {
        match self {
            Self::CStoreRq => 0x0001,
            Self::CStoreRsp => 0x8001,
            Self::CGetRq => 0x0010,
            Self::CGetRsp => 0x8010,
            Self::CFindRq => 0x0020,
            Self::CFindRsp => 0x8020,
            Self::CMoveRq => 0x0021,
            Self::CMoveRsp => 0x8021,
            Self::CEchoRq => 0x0030,
            Self::CEchoRsp => 0x8030,
            Self::CCancelRq => 0x0FFF,
            Self::NEventReportRq => 0x0100,
            Self::NEventReportRsp => 0x8100,
            Self::NGetRq => 0x0110,
            Self::NGetRsp => 0x8110,
            Self::NSetRq => 0x0120,
            Self::NSetRsp => 0x8120,
            Self::NActionRq => 0x0130,
            Self::NActionRsp => 0x8130,
            Self::NCreateRq => 0x0140,
            Self::NCreateRsp => 0x8140,
            Self::NDeleteRq => 0x0150,
            Self::NDeleteRsp => 0x8150,
        }
    }

    /// The field for a code.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The standard's name: `C-FIND-RQ` …
    pub const fn name(self) -> &'static str {
        match self {
            Self::CStoreRq => "C-STORE-RQ",
            Self::CStoreRsp => "C-STORE-RSP",
            Self::CGetRq => "C-GET-RQ",
            Self::CGetRsp => "C-GET-RSP",
            Self::CFindRq => "C-FIND-RQ",
            Self::CFindRsp => "C-FIND-RSP",
            Self::CMoveRq => "C-MOVE-RQ",
            Self::CMoveRsp => "C-MOVE-RSP",
            Self::CEchoRq => "C-ECHO-RQ",
            Self::CEchoRsp => "C-ECHO-RSP",
            Self::CCancelRq => "C-CANCEL-RQ",
            Self::NEventReportRq => "N-EVENT-REPORT-RQ",
            Self::NEventReportRsp => "N-EVENT-REPORT-RSP",
            Self::NGetRq => "N-GET-RQ",
            Self::NGetRsp => "N-GET-RSP",
            Self::NSetRq => "N-SET-RQ",
            Self::NSetRsp => "N-SET-RSP",
            Self::NActionRq => "N-ACTION-RQ",
            Self::NActionRsp => "N-ACTION-RSP",
            Self::NCreateRq => "N-CREATE-RQ",
            Self::NCreateRsp => "N-CREATE-RSP",
            Self::NDeleteRq => "N-DELETE-RQ",
            Self::NDeleteRsp => "N-DELETE-RSP",
        }
    }
}

/// Priority of a C-STORE, C-FIND, C-GET or C-MOVE request (PS3.7 9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Priority {
    /// 0x0002.
    Low,
    /// 0x0000.
    #[default]
    Medium,
    /// 0x0001.
    High,
}

impl Priority {
    /// The code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Low => 0x0002,
            Self::Medium => 0x0000,
            Self::High => 0x0001,
        }
    }

    /// The priority for a code, if defined.
    pub const fn from_code(code: u16) -> Option<Self> {
        match code {
            0x0002 => Some(Self::Low),
            0x0000 => Some(Self::Medium),
            0x0001 => Some(Self::High),
            _ => None,
        }
    }
}

/// Sub-operation counts of a C-GET or C-MOVE response (0000,1020)–(0000,1023).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubOperations {
    /// Remaining.
    pub remaining: Option<u16>,
    /// Completed.
    pub completed: Option<u16>,
    /// Failed.
    pub failed: Option<u16>,
    /// Completed with a warning.
    pub warning: Option<u16>,
}

/// The Annex C fields a response may carry with a warning or failure status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct StatusDetail {
    /// (0000,0901) Offending Element.
    pub offending_element: Option<Vec<Tag>>,
    /// (0000,0902) Error Comment.
    pub error_comment: Option<String>,
    /// (0000,0903) Error ID.
    pub error_id: Option<u16>,
}

/// C-ECHO-RQ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CEchoRq {
    /// Message ID.
    pub message_id: MessageId,
    /// Affected SOP Class UID (Verification).
    pub affected_sop_class_uid: String,
}

/// C-ECHO-RSP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CEchoRsp {
    /// Message ID Being Responded To.
    pub message_id_being_responded_to: MessageId,
    /// Affected SOP Class UID, equal to the request's if present.
    pub affected_sop_class_uid: Option<String>,
    /// Status.
    pub status: Status,
    /// Error comment and friends.
    pub detail: StatusDetail,
}

/// C-STORE-RQ (a data set always follows).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CStoreRq {
    /// Message ID.
    pub message_id: MessageId,
    /// Affected SOP Class UID.
    pub affected_sop_class_uid: String,
    /// Affected SOP Instance UID.
    pub affected_sop_instance_uid: String,
    /// Priority.
    pub priority: Priority,
    /// Move Originator AE Title, when a C-MOVE sub-operation.
    pub move_originator_ae_title: Option<String>,
    /// Move Originator Message ID, when a C-MOVE sub-operation.
    pub move_originator_message_id: Option<MessageId>,
}

/// C-STORE-RSP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CStoreRsp {
    /// Message ID Being Responded To.
    pub message_id_being_responded_to: MessageId,
    /// Affected SOP Class UID.
    pub affected_sop_class_uid: Option<String>,
    /// Affected SOP Instance UID.
    pub affected_sop_instance_uid: Option<String>,
    /// Status.
    pub status: Status,
    /// Offending element, error comment, error ID.
    pub detail: StatusDetail,
}

/// C-FIND-RQ (an identifier always follows).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CFindRq {
    /// Message ID.
    pub message_id: MessageId,
    /// Affected SOP Class UID (the information model).
    pub affected_sop_class_uid: String,
    /// Priority.
    pub priority: Priority,
}

/// C-FIND-RSP (an identifier follows with pending statuses only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CFindRsp {
    /// Message ID Being Responded To.
    pub message_id_being_responded_to: MessageId,
    /// Affected SOP Class UID.
    pub affected_sop_class_uid: Option<String>,
    /// Status.
    pub status: Status,
    /// Offending element, error comment, error ID.
    pub detail: StatusDetail,
}

/// C-GET-RQ (an identifier always follows).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CGetRq {
    /// Message ID.
    pub message_id: MessageId,
    /// Affected SOP Class UID (the information model).
    pub affected_sop_class_uid: String,
    /// Priority, also used for the C-STORE sub-operations.
    pub priority: Priority,
}

/// C-GET-RSP or C-MOVE-RSP content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RetrieveRsp {
    /// Message ID Being Responded To.
    pub message_id_being_responded_to: MessageId,
    /// Affected SOP Class UID.
    pub affected_sop_class_uid: Option<String>,
    /// Status.
    pub status: Status,
    /// Sub-operation counts.
    pub sub_operations: SubOperations,
    /// Offending element, error comment, error ID.
    pub detail: StatusDetail,
}

/// C-MOVE-RQ (an identifier always follows).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CMoveRq {
    /// Message ID.
    pub message_id: MessageId,
    /// Affected SOP Class UID (the information model).
    pub affected_sop_class_uid: String,
    /// Priority, also used for the C-STORE sub-operations.
    pub priority: Priority,
    /// Move Destination: the AE title to store to.
    pub move_destination: String,
}

/// C-CANCEL-RQ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CCancelRq {
    /// The Message ID of the operation to cancel.
    pub message_id_being_responded_to: MessageId,
}

/// A DIMSE-C message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Message {
    /// C-ECHO-RQ.
    CEchoRq(CEchoRq),
    /// C-ECHO-RSP.
    CEchoRsp(CEchoRsp),
    /// C-STORE-RQ.
    CStoreRq(CStoreRq),
    /// C-STORE-RSP.
    CStoreRsp(CStoreRsp),
    /// C-FIND-RQ.
    CFindRq(CFindRq),
    /// C-FIND-RSP.
    CFindRsp(CFindRsp),
    /// C-GET-RQ.
    CGetRq(CGetRq),
    /// C-GET-RSP.
    CGetRsp(RetrieveRsp),
    /// C-MOVE-RQ.
    CMoveRq(CMoveRq),
    /// C-MOVE-RSP.
    CMoveRsp(RetrieveRsp),
    /// C-CANCEL-RQ.
    CCancelRq(CCancelRq),
}

/// Why a command set is not a message we can use.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MessageError {
    /// A required element is absent.
    #[error("{message} without the required {element}")]
    Missing {
        /// The message type.
        message: &'static str,
        /// The missing element's keyword.
        element: &'static str,
    },
    /// The command field is absent or unknown.
    #[error("unknown command field 0x{0:04X}")]
    UnknownCommand(u16),
    /// A DIMSE-N message: recognized, not supported here.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// An invalid value.
    #[error("{message}: invalid {element}")]
    Invalid {
        /// The message type.
        message: &'static str,
        /// The element's keyword.
        element: &'static str,
    },
}

impl Message {
    /// The command field.
    pub fn command_field(&self) -> CommandField {
        match self {
            Self::CEchoRq(_) => CommandField::CEchoRq,
            Self::CEchoRsp(_) => CommandField::CEchoRsp,
            Self::CStoreRq(_) => CommandField::CStoreRq,
            Self::CStoreRsp(_) => CommandField::CStoreRsp,
            Self::CFindRq(_) => CommandField::CFindRq,
            Self::CFindRsp(_) => CommandField::CFindRsp,
            Self::CGetRq(_) => CommandField::CGetRq,
            Self::CGetRsp(_) => CommandField::CGetRsp,
            Self::CMoveRq(_) => CommandField::CMoveRq,
            Self::CMoveRsp(_) => CommandField::CMoveRsp,
            Self::CCancelRq(_) => CommandField::CCancelRq,
        }
    }

    /// The standard name of the message.
    pub fn name(&self) -> &'static str {
        self.command_field().name()
    }

    /// For a request (not C-CANCEL), its message ID.
    pub fn message_id(&self) -> Option<MessageId> {
        match self {
            Self::CEchoRq(m) => Some(m.message_id),
            Self::CStoreRq(m) => Some(m.message_id),
            Self::CFindRq(m) => Some(m.message_id),
            Self::CGetRq(m) => Some(m.message_id),
            Self::CMoveRq(m) => Some(m.message_id),
            _ => None,
        }
    }

    /// For a response or a C-CANCEL, the message ID it refers to.
    pub fn responded_to(&self) -> Option<MessageId> {
        match self {
            Self::CEchoRsp(m) => Some(m.message_id_being_responded_to),
            Self::CStoreRsp(m) => Some(m.message_id_being_responded_to),
            Self::CFindRsp(m) => Some(m.message_id_being_responded_to),
            Self::CGetRsp(m) | Self::CMoveRsp(m) => Some(m.message_id_being_responded_to),
            Self::CCancelRq(m) => Some(m.message_id_being_responded_to),
            _ => None,
        }
    }

    /// For a response, its status.
    pub fn status(&self) -> Option<Status> {
        match self {
            Self::CEchoRsp(m) => Some(m.status),
            Self::CStoreRsp(m) => Some(m.status),
            Self::CFindRsp(m) => Some(m.status),
            Self::CGetRsp(m) | Self::CMoveRsp(m) => Some(m.status),
            _ => None,
        }
    }

    /// Whether it is a request that opens an operation (C-CANCEL does not).
    pub fn is_request(&self) -> bool {
        self.message_id().is_some()
    }

    /// Whether it is a response.
    pub fn is_response(&self) -> bool {
        self.status().is_some()
    }

    /// Sets the message ID of a request.
    pub(crate) fn set_message_id(&mut self, id: MessageId) {
        match self {
            Self::CEchoRq(m) => m.message_id = id,
            Self::CStoreRq(m) => m.message_id = id,
            Self::CFindRq(m) => m.message_id = id,
            Self::CGetRq(m) => m.message_id = id,
            Self::CMoveRq(m) => m.message_id = id,
            _ => {}
        }
    }

    /// The affected SOP class UID, where the message has one.
    pub fn affected_sop_class_uid(&self) -> Option<&str> {
        match self {
            Self::CEchoRq(m) => Some(&m.affected_sop_class_uid),
            Self::CStoreRq(m) => Some(&m.affected_sop_class_uid),
            Self::CFindRq(m) => Some(&m.affected_sop_class_uid),
            Self::CGetRq(m) => Some(&m.affected_sop_class_uid),
            Self::CMoveRq(m) => Some(&m.affected_sop_class_uid),
            Self::CEchoRsp(m) => m.affected_sop_class_uid.as_deref(),
            Self::CStoreRsp(m) => m.affected_sop_class_uid.as_deref(),
            Self::CFindRsp(m) => m.affected_sop_class_uid.as_deref(),
            Self::CGetRsp(m) | Self::CMoveRsp(m) => m.affected_sop_class_uid.as_deref(),
            Self::CCancelRq(_) => None,
        }
    }

    /// The response to this request with `status` and nothing else: the affected SOP class
    /// (and instance, for C-STORE) copied, no counts, no detail. `None` for a response or a
    /// C-CANCEL.
    pub fn response_with(&self, status: Status) -> Option<Self> {
        let detail = StatusDetail::default();
        Some(match self {
            Self::CEchoRq(m) => Self::CEchoRsp(CEchoRsp {
                message_id_being_responded_to: m.message_id,
                affected_sop_class_uid: Some(m.affected_sop_class_uid.clone()),
                status,
                detail,
            }),
            Self::CStoreRq(m) => Self::CStoreRsp(CStoreRsp {
                message_id_being_responded_to: m.message_id,
                affected_sop_class_uid: Some(m.affected_sop_class_uid.clone()),
                affected_sop_instance_uid: Some(m.affected_sop_instance_uid.clone()),
                status,
                detail,
            }),
            Self::CFindRq(m) => Self::CFindRsp(CFindRsp {
                message_id_being_responded_to: m.message_id,
                affected_sop_class_uid: Some(m.affected_sop_class_uid.clone()),
                status,
                detail,
            }),
            Self::CGetRq(m) => Self::CGetRsp(RetrieveRsp {
                message_id_being_responded_to: m.message_id,
                affected_sop_class_uid: Some(m.affected_sop_class_uid.clone()),
                status,
                sub_operations: SubOperations::default(),
                detail,
            }),
            Self::CMoveRq(m) => Self::CMoveRsp(RetrieveRsp {
                message_id_being_responded_to: m.message_id,
                affected_sop_class_uid: Some(m.affected_sop_class_uid.clone()),
                status,
                sub_operations: SubOperations::default(),
                detail,
            }),
            _ => return None,
        })
    }

    /// The command set, with CommandDataSetType saying whether a data set follows.
    pub fn to_command(&self, has_data_set: bool) -> CommandSet {
        let mut c = CommandSet {
            command_field: Some(self.command_field().code()),
            command_data_set_type: Some(if has_data_set {
                DATA_SET_PRESENT
            } else {
                NO_DATA_SET
            }),
            ..CommandSet::default()
        };
        let detail = |c: &mut CommandSet, d: &StatusDetail| {
            c.offending_element.clone_from(&d.offending_element);
            c.error_comment.clone_from(&d.error_comment);
            c.error_id = d.error_id;
        };
        match self {
            Self::CEchoRq(m) => {
                c.message_id = Some(m.message_id);
                c.affected_sop_class_uid = Some(m.affected_sop_class_uid.clone());
            }
            Self::CEchoRsp(m) => {
                c.message_id_being_responded_to = Some(m.message_id_being_responded_to);
                c.affected_sop_class_uid
                    .clone_from(&m.affected_sop_class_uid);
                c.status = Some(m.status.0);
                detail(&mut c, &m.detail);
            }
            Self::CStoreRq(m) => {
                c.message_id = Some(m.message_id);
                c.affected_sop_class_uid = Some(m.affected_sop_class_uid.clone());
                c.affected_sop_instance_uid = Some(m.affected_sop_instance_uid.clone());
                c.priority = Some(m.priority.code());
                c.move_originator_ae_title
                    .clone_from(&m.move_originator_ae_title);
                c.move_originator_message_id = m.move_originator_message_id;
            }
            Self::CStoreRsp(m) => {
                c.message_id_being_responded_to = Some(m.message_id_being_responded_to);
                c.affected_sop_class_uid
                    .clone_from(&m.affected_sop_class_uid);
                c.affected_sop_instance_uid
                    .clone_from(&m.affected_sop_instance_uid);
                c.status = Some(m.status.0);
                detail(&mut c, &m.detail);
            }
            Self::CFindRq(m) => {
                c.message_id = Some(m.message_id);
                c.affected_sop_class_uid = Some(m.affected_sop_class_uid.clone());
                c.priority = Some(m.priority.code());
            }
            Self::CFindRsp(m) => {
                c.message_id_being_responded_to = Some(m.message_id_being_responded_to);
                c.affected_sop_class_uid
                    .clone_from(&m.affected_sop_class_uid);
                c.status = Some(m.status.0);
                detail(&mut c, &m.detail);
            }
            Self::CGetRq(m) => {
                c.message_id = Some(m.message_id);
                c.affected_sop_class_uid = Some(m.affected_sop_class_uid.clone());
                c.priority = Some(m.priority.code());
            }
            Self::CMoveRq(m) => {
                c.message_id = Some(m.message_id);
                c.affected_sop_class_uid = Some(m.affected_sop_class_uid.clone());
                c.priority = Some(m.priority.code());
                c.move_destination = Some(m.move_destination.clone());
            }
            Self::CGetRsp(m) | Self::CMoveRsp(m) => {
                c.message_id_being_responded_to = Some(m.message_id_being_responded_to);
                c.affected_sop_class_uid
                    .clone_from(&m.affected_sop_class_uid);
                c.status = Some(m.status.0);
                c.remaining = m.sub_operations.remaining;
                c.completed = m.sub_operations.completed;
                c.failed = m.sub_operations.failed;
                c.warning = m.sub_operations.warning;
                detail(&mut c, &m.detail);
            }
            Self::CCancelRq(m) => {
                c.message_id_being_responded_to = Some(m.message_id_being_responded_to);
            }
        }
        c
    }

    /// The message a command set carries, or which required element it lacks.
    pub fn from_command(c: &CommandSet) -> Result<Self, MessageError> {
        let code = c.command_field.ok_or(MessageError::Missing {
            message: "command set",
            element: "CommandField",
        })?;
        let field = CommandField::from_code(code).ok_or(MessageError::UnknownCommand(code))?;
        let name = field.name();
        let req = |v: Option<u16>, element: &'static str| {
            v.ok_or(MessageError::Missing {
                message: name,
                element,
            })
        };
        let req_s = |v: &Option<String>, element: &'static str| {
            v.clone().ok_or(MessageError::Missing {
                message: name,
                element,
            })
        };
        let priority = || -> Result<Priority, MessageError> {
            let code = req(c.priority, "Priority")?;
            Priority::from_code(code).ok_or(MessageError::Invalid {
                message: name,
                element: "Priority",
            })
        };
        let status = || req(c.status, "Status").map(Status);
        let detail = || StatusDetail {
            offending_element: c.offending_element.clone(),
            error_comment: c.error_comment.clone(),
            error_id: c.error_id,
        };
        let message = match field {
            CommandField::CEchoRq => Self::CEchoRq(CEchoRq {
                message_id: req(c.message_id, "MessageID")?,
                affected_sop_class_uid: req_s(&c.affected_sop_class_uid, "AffectedSOPClassUID")?,
            }),
            CommandField::CEchoRsp => Self::CEchoRsp(CEchoRsp {
                message_id_being_responded_to: req(
                    c.message_id_being_responded_to,
                    "MessageIDBeingRespondedTo",
                )?,
                affected_sop_class_uid: c.affected_sop_class_uid.clone(),
                status: status()?,
                detail: detail(),
            }),
            CommandField::CStoreRq => Self::CStoreRq(CStoreRq {
                message_id: req(c.message_id, "MessageID")?,
                affected_sop_class_uid: req_s(&c.affected_sop_class_uid, "AffectedSOPClassUID")?,
                affected_sop_instance_uid: req_s(
                    &c.affected_sop_instance_uid,
                    "AffectedSOPInstanceUID",
                )?,
                priority: priority()?,
                move_originator_ae_title: c.move_originator_ae_title.clone(),
                move_originator_message_id: c.move_originator_message_id,
            }),
            CommandField::CStoreRsp => Self::CStoreRsp(CStoreRsp {
                message_id_being_responded_to: req(
                    c.message_id_being_responded_to,
                    "MessageIDBeingRespondedTo",
                )?,
                affected_sop_class_uid: c.affected_sop_class_uid.clone(),
                affected_sop_instance_uid: c.affected_sop_instance_uid.clone(),
                status: status()?,
                detail: detail(),
            }),
            CommandField::CFindRq => Self::CFindRq(CFindRq {
                message_id: req(c.message_id, "MessageID")?,
                affected_sop_class_uid: req_s(&c.affected_sop_class_uid, "AffectedSOPClassUID")?,
                priority: priority()?,
            }),
            CommandField::CFindRsp => Self::CFindRsp(CFindRsp {
                message_id_being_responded_to: req(
                    c.message_id_being_responded_to,
                    "MessageIDBeingRespondedTo",
                )?,
                affected_sop_class_uid: c.affected_sop_class_uid.clone(),
                status: status()?,
                detail: detail(),
            }),
            CommandField::CGetRq => Self::CGetRq(CGetRq {
                message_id: req(c.message_id, "MessageID")?,
                affected_sop_class_uid: req_s(&c.affected_sop_class_uid, "AffectedSOPClassUID")?,
                priority: priority()?,
            }),
            CommandField::CMoveRq => Self::CMoveRq(CMoveRq {
                message_id: req(c.message_id, "MessageID")?,
                affected_sop_class_uid: req_s(&c.affected_sop_class_uid, "AffectedSOPClassUID")?,
                priority: priority()?,
                move_destination: req_s(&c.move_destination, "MoveDestination")?,
            }),
            CommandField::CGetRsp | CommandField::CMoveRsp => {
                let rsp = RetrieveRsp {
                    message_id_being_responded_to: req(
                        c.message_id_being_responded_to,
                        "MessageIDBeingRespondedTo",
                    )?,
                    affected_sop_class_uid: c.affected_sop_class_uid.clone(),
                    status: status()?,
                    sub_operations: SubOperations {
                        remaining: c.remaining,
                        completed: c.completed,
                        failed: c.failed,
                        warning: c.warning,
                    },
                    detail: detail(),
                };
                if field == CommandField::CGetRsp {
                    Self::CGetRsp(rsp)
                } else {
                    Self::CMoveRsp(rsp)
                }
            }
            CommandField::CCancelRq => Self::CCancelRq(CCancelRq {
                message_id_being_responded_to: req(
                    c.message_id_being_responded_to,
                    "MessageIDBeingRespondedTo",
                )?,
            }),
            other => return Err(MessageError::Unsupported(other.name())),
        };
        // Mandatory in every DIMSE-C command (PS3.7 9.3): without it no one can tell
        // whether a data set follows.
        req(c.command_data_set_type, "CommandDataSetType")?;
        Ok(message)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        if let Some(id) = self.message_id() {
            write!(f, " id={id}")?;
        }
        if let Some(id) = self.responded_to() {
            write!(f, " responding-to={id}")?;
        }
        if let Some(s) = self.status() {
            write!(f, " status=0x{:04X}", s.0)?;
        }
        match self {
            Self::CMoveRq(m) => write!(f, " dest={}", m.move_destination)?,
            Self::CStoreRq(m) => write!(f, " instance={}", m.affected_sop_instance_uid)?,
            Self::CGetRsp(m) | Self::CMoveRsp(m) => {
                let s = m.sub_operations;
                let n = |v: Option<u16>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
                write!(
                    f,
                    " remaining={} completed={} failed={} warning={}",
                    n(s.remaining),
                    n(s.completed),
                    n(s.failed),
                    n(s.warning)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
