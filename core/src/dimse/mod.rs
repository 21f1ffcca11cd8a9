//! The DIMSE message exchange of PS3.7: command sets, typed messages and their statuses,
//! message IDs, fragmentation of outgoing messages and reassembly of incoming ones with
//! bounded memory.

mod status;

pub use status::{
    STATUS_TABLE, Service, Status, StatusCategory, StatusDescription, StatusRow, StatusScope,
};

mod assembly;
mod command;
mod exchange;
mod message;
mod operations;

pub use assembly::DataSetReader;
pub(crate) use assembly::{OutgoingMessage, Payload};
pub use command::{
    COMMAND_ELEMENTS, CommandElement, CommandError, CommandSet, DATA_SET_PRESENT, NO_DATA_SET,
    keyword,
};
pub(crate) use exchange::{Agreement, Delivery, Exchange};
pub use message::{
    CCancelRq, CEchoRq, CEchoRsp, CFindRq, CFindRsp, CGetRq, CMoveRq, CStoreRq, CStoreRsp,
    CommandField, Message, MessageError, MessageId, Priority, RetrieveRsp, StatusDetail,
    SubOperations,
};

use bytes::Bytes;
use thiserror::Error;

use crate::pdu::{PresentationContextId, Uid};

/// Limits and modes of the DIMSE layer of one association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimseConfig {
    /// The largest command set we reassemble (default 64 KiB).
    pub max_command_length: usize,
    /// The largest identifier (C-FIND/C-GET/C-MOVE request or response data set) we
    /// buffer (default 16 MiB).
    pub max_identifier_length: usize,
    /// The largest C-STORE data set we buffer when not streaming (default 256 MiB).
    pub max_store_length: usize,
    /// Deliver C-STORE data sets as fragments as they arrive (the association's
    /// [`Event::StoreFragment`](../ul/enum.Event.html#variant.StoreFragment)) instead of
    /// buffering them, so an image of any size never sits in memory whole.
    pub stream_store_data: bool,
    /// Deliver P-DATA-TF as raw PDVs (the association's
    /// [`Event::PData`](../ul/enum.Event.html#variant.PData)) and do no DIMSE processing:
    /// for tests and tools that speak the upper layer only.
    pub raw_pdata: bool,
}

impl Default for DimseConfig {
    fn default() -> Self {
        Self {
            max_command_length: 64 * 1024,
            max_identifier_length: 16 * 1024 * 1024,
            max_store_length: 256 * 1024 * 1024,
            stream_store_data: false,
            raw_pdata: false,
        }
    }
}

/// A data set or identifier as received: bytes in the context's transfer syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSet {
    /// The transfer syntax negotiated for the presentation context.
    pub transfer_syntax: Uid,
    /// The encoded data set.
    pub bytes: Bytes,
}

/// A DIMSE message received whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The presentation context it came on.
    pub context_id: PresentationContextId,
    /// The message.
    pub message: Message,
    /// Its data set, when the command said one follows (not in streaming mode).
    pub data: Option<DataSet>,
}

/// A peer broke the DIMSE rules of PS3.7 (we abort the association).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DimseViolation {
    /// A PDV on a presentation context that was not accepted.
    #[error("PDV on presentation context {0}, which was not accepted")]
    ContextNotAccepted(PresentationContextId),
    /// A data set fragment before any command.
    #[error("data set fragment on context {context_id} before its command")]
    DataBeforeCommand {
        /// The context.
        context_id: PresentationContextId,
    },
    /// A data fragment while a command set was being received.
    #[error("data fragment on context {context_id} inside a command set")]
    DataInsideCommand {
        /// The context.
        context_id: PresentationContextId,
    },
    /// A command fragment while a data set was being received.
    #[error("command fragment on context {context_id} before the data set ended")]
    CommandInsideData {
        /// The context.
        context_id: PresentationContextId,
    },
    /// Fragments of one message on two contexts.
    #[error("message started on context {expected} continued on context {found}")]
    ContextSwitch {
        /// The message's context.
        expected: PresentationContextId,
        /// The fragment's context.
        found: PresentationContextId,
    },
    /// A command set or data set over our limit.
    #[error("{what} longer than our limit of {limit} bytes")]
    TooLong {
        /// Command set or data set.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A command set that does not decode.
    #[error("invalid command set: {0}")]
    Command(#[from] CommandError),
    /// A command set that is not a message we can handle.
    #[error("invalid message: {0}")]
    Message(#[from] MessageError),
    /// More outstanding requests than the negotiated asynchronous operations window.
    #[error("peer has {outstanding} operations outstanding; the window allows {limit}")]
    WindowExceeded {
        /// Requests outstanding including the new one.
        outstanding: usize,
        /// The window.
        limit: u16,
    },
}

/// A DIMSE call that was a mistake: it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DimseMisuse {
    /// `send_request` with a response or C-CANCEL, or `send_response` with a request.
    #[error("{0} cannot be sent this way")]
    WrongKind(&'static str),
    /// The context was not accepted, or we lack the role the message needs on it.
    #[error("presentation context {context_id} does not allow us to send {message}")]
    ContextNotUsable {
        /// The context.
        context_id: PresentationContextId,
        /// The message.
        message: &'static str,
    },
    /// A data set where the message has none, or none where it needs one.
    #[error("{message} {}", if *.expected { "needs a data set" } else { "takes no data set" })]
    DataSet {
        /// The message.
        message: &'static str,
        /// Whether one is needed.
        expected: bool,
    },
    /// As many requests outstanding as the negotiated window allows.
    #[error("{0} operations outstanding: the negotiated window is full")]
    WindowFull(u16),
    /// A response or cancel for an operation that is not outstanding.
    #[error("no outstanding operation with message ID {0}")]
    UnknownOperation(MessageId),
    /// A request with a message ID that a request we invoked still has.
    #[error("message ID {0} is still in use by an outstanding request")]
    MessageIdInUse(MessageId),
    /// A response on another context than the request's.
    #[error("the request {message_id} came on context {expected}, not {found}")]
    WrongContext {
        /// The request.
        message_id: MessageId,
        /// Its context.
        expected: PresentationContextId,
        /// The context given.
        found: PresentationContextId,
    },
    /// The command set cannot be encoded.
    #[error("command set cannot be encoded: {0}")]
    Encode(#[from] CommandError),
}
