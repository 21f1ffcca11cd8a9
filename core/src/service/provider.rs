//! The SCP's handlers: traits the user implements (or the in-memory providers of this
//! crate), and what they return.
//!
//! A handler is called from the association's driver, never concurrently for one
//! association. It may misbehave: return an error, panic, give a status that is not valid
//! for the service, a status data set without (0000,0900), an identifier that cannot be
//! encoded, or a wrong number of sub-operations. The SCP answers each with the failure
//! status of `DESIGN.md` (0xC001, 0xC002, 0xC3xx, 0xC4xx, 0xC5xx), logs why, and the
//! association stays usable.

use std::error::Error;
use std::fmt;

use bytes::Bytes;
use dicom_object::InMemDicomObject;

use crate::pdu::{AeTitle, Uid};

/// What a handler's failure is: any error.
pub type HandlerError = Box<dyn Error + Send + Sync>;

/// A status a handler gives explicitly.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A status code.
    Status(u16),
    /// A status data set: it must hold Status (0000,0900); Error Comment (0000,0902) and
    /// Offending Element (0000,0901) are copied into the response when present.
    DataSet(InMemDicomObject),
}

/// One result of a C-FIND handler.
#[derive(Debug, Clone, PartialEq)]
pub enum FindItem {
    /// A match: the response identifier (the SCP sends it with 0xFF00, or 0xFF01 when the
    /// request had optional keys we do not support).
    Match(InMemDicomObject),
    /// An explicit status. A pending status must come with its identifier through
    /// [`FindItem::PendingWith`]; anything else ends the operation.
    Reply(Reply),
    /// An explicit pending status with its identifier.
    PendingWith(u16, InMemDicomObject),
}

/// The request a C-FIND handler answers.
#[derive(Debug, Clone)]
pub struct FindRequest<'a> {
    /// Who asks.
    pub calling_ae_title: AeTitle,
    /// The information model (Affected SOP Class UID).
    pub sop_class_uid: &'a str,
    /// The decoded identifier.
    pub identifier: &'a InMemDicomObject,
}

/// An iterator of results, produced one at a time as the peer takes them: a 10 000-match
/// worklist never sits in memory as responses.
pub type FindResults = Box<dyn Iterator<Item = FindItem> + Send>;

/// A C-FIND SCP handler.
pub trait FindHandler: Send + Sync {
    /// Starts answering `request`.
    fn find(&self, request: &FindRequest<'_>) -> Result<FindResults, HandlerError>;
}

/// A composite instance to send as a C-STORE sub-operation.
#[derive(Clone, PartialEq)]
pub struct Instance {
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
    /// The transfer syntax `data` is encoded in.
    pub transfer_syntax: Uid,
    /// The data set (without a Part 10 header).
    pub data: Bytes,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("sop_class_uid", &self.sop_class_uid)
            .field("sop_instance_uid", &self.sop_instance_uid)
            .field("transfer_syntax", &self.transfer_syntax)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// One item of a retrieve (C-GET or C-MOVE).
#[derive(Debug, Clone, PartialEq)]
pub enum RetrieveItem {
    /// An instance to store.
    Instance(Instance),
    /// A sub-operation the handler could not prepare (counted as failed, with its SOP
    /// Instance UID in the Failed SOP Instance UID List when known).
    Failed(Option<String>),
    /// An explicit status that ends the operation.
    Reply(Reply),
}

/// What a retrieve handler returns: how many sub-operations, and the items.
pub struct RetrieveSet {
    /// The number of sub-operations; `None`, or more than 65535, is the handler's error
    /// (0xC413 for C-GET; 0xC514 or 0xC513 for C-MOVE).
    pub count: Option<usize>,
    /// The items, produced one at a time.
    pub items: Box<dyn Iterator<Item = RetrieveItem> + Send>,
}

impl fmt::Debug for RetrieveSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetrieveSet")
            .field("count", &self.count)
            .finish()
    }
}

/// The request a retrieve handler answers.
#[derive(Debug, Clone)]
pub struct RetrieveRequest<'a> {
    /// Who asks.
    pub calling_ae_title: AeTitle,
    /// The information model (Affected SOP Class UID).
    pub sop_class_uid: &'a str,
    /// The decoded identifier.
    pub identifier: &'a InMemDicomObject,
    /// The SOP Instance UIDs it names (Hanging Protocol retrieves are by instance).
    pub sop_instance_uids: &'a [String],
    /// For C-MOVE, the destination AE title.
    pub move_destination: Option<&'a str>,
}

/// A C-GET / C-MOVE SCP handler.
pub trait RetrieveHandler: Send + Sync {
    /// Starts a retrieve.
    fn retrieve(&self, request: &RetrieveRequest<'_>) -> Result<RetrieveSet, HandlerError>;
}

/// A C-MOVE destination: where to open the sub-association.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Over TLS (DICOM's secure transport, PS3.15 B.12): the transport's TLS layer
    /// verifies the destination's certificate against `host`.
    pub tls: bool,
}

impl Destination {
    /// A destination on `host`:`port`, without TLS.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            tls: false,
        }
    }

    /// A destination on `host`:`port` over TLS.
    pub fn tls(host: impl Into<String>, port: u16) -> Self {
        Self {
            tls: true,
            ..Self::new(host, port)
        }
    }

    /// `host:port` (an IPv6 address in brackets), without the scheme: what to connect to.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl Destination {
    /// Whether the address can be used: a host and a non-zero port.
    pub fn is_valid(&self) -> bool {
        !self.host.trim().is_empty() && self.port != 0 && !self.host.contains(char::is_whitespace)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "tls://" } else { "" };
        write!(f, "{scheme}{}", self.address())
    }
}

/// Resolves C-MOVE destination AE titles (the move destination table).
pub trait MoveDestinations: Send + Sync {
    /// The destination for `ae_title`, or `None` if unknown (0xA801).
    fn resolve(&self, ae_title: &str) -> Option<Destination>;
}

/// What a C-STORE handler is given.
#[derive(Debug, Clone)]
pub struct StoreRequest<'a> {
    /// Who sends.
    pub calling_ae_title: AeTitle,
    /// SOP Class UID.
    pub sop_class_uid: &'a str,
    /// SOP Instance UID.
    pub sop_instance_uid: &'a str,
    /// The transfer syntax of `data`.
    pub transfer_syntax: &'a Uid,
    /// The data set.
    pub data: &'a Bytes,
    /// The C-MOVE requestor's AE title, for a C-MOVE sub-operation.
    pub move_originator: Option<&'a str>,
}

/// An instance whose data set arrives in fragments (a streamed C-STORE, see
/// [`crate::dimse::DimseConfig::stream_store_data`]): a [`StoreRequest`] less the data.
#[derive(Debug)]
pub struct StoreStart<'a> {
    /// Who sends.
    pub calling_ae_title: AeTitle,
    /// SOP Class UID.
    pub sop_class_uid: &'a str,
    /// SOP Instance UID.
    pub sop_instance_uid: &'a str,
    /// The transfer syntax of the data set.
    pub transfer_syntax: &'a Uid,
    /// The C-MOVE requestor's AE title, for a C-MOVE sub-operation.
    pub move_originator: Option<&'a str>,
}

/// Where a streamed instance's data set goes, fragment by fragment, in order. Dropped
/// without [`finish`](Self::finish) when the association ends first: it must then
/// discard what it received.
pub trait StoreSink: Send {
    /// Takes the next fragment of the data set.
    fn write(&mut self, fragment: &[u8]) -> Result<(), HandlerError>;
    /// Takes the next fragment by value: what the core calls. The default hands it to
    /// [`write`](Self::write); a sink that keeps fragments (in memory, or queued for
    /// another thread) overrides it to do so without a copy. A fragment received through
    /// [`ReadBuffers`](crate::ul::ReadBuffers) is a slice of the transport's read buffer
    /// and keeps that buffer from being reused while it is held.
    fn write_bytes(&mut self, fragment: Bytes) -> Result<(), HandlerError> {
        self.write(&fragment)
    }
    /// The data set is complete; the returned status goes into the C-STORE-RSP.
    fn finish(self: Box<Self>) -> Result<u16, HandlerError>;
}

/// Receives instances (C-STORE SCP, for C-GET SCUs and C-MOVE destinations).
pub trait StoreHandler: Send + Sync {
    /// Stores an instance; the returned status goes into the C-STORE-RSP.
    fn store(&self, request: &StoreRequest<'_>) -> Result<u16, HandlerError>;

    /// Where the data set of a streamed C-STORE goes, so that a large instance need not
    /// be held in memory whole; `Ok(None)`, the default, has it gathered and given to
    /// [`store`](Self::store). An error fails the sub-operation.
    fn begin(&self, request: &StoreStart<'_>) -> Result<Option<Box<dyn StoreSink>>, HandlerError> {
        let _ = request;
        Ok(None)
    }
}
