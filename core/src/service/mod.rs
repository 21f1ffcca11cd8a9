//! The service classes of PS3.4 on top of DIMSE, IO-free: Verification, Basic Worklist
//! Management (Modality Worklist FIND), Hanging Protocol Q/R (FIND, MOVE, GET) and Storage
//! as far as the retrieves need it.
//!
//! - [`Scp`] serves an association with the user's [`Handlers`] (provider traits), the
//!   in-memory providers of this module, or both;
//! - [`scu`] has the SCU side: one small state object per operation;
//! - the C-FIND matching engine (PS3.4 C.2.2.2) and the Modality Worklist (Annex K) and
//!   Hanging Protocol (Annex U) information models.

pub mod dataset;
mod matching;
mod memory;
mod model;
mod provider;
mod scp;
pub mod scu;
pub mod storage;
mod streamed;
pub mod uids;

pub use memory::{
    InMemoryHangingProtocols, InMemoryWorklist, StaticDestinations, StoredInstance,
    sop_instance_uid,
};
pub use provider::{
    Destination, FindHandler, FindItem, FindRequest, FindResults, HandlerError, Instance,
    MoveDestinations, Reply, RetrieveHandler, RetrieveItem, RetrieveRequest, RetrieveSet,
    StoreHandler, StoreRequest, StoreSink, StoreStart,
};
pub use scp::{
    Admission, ConnectRequest, Handlers, OperationOutcome, SUB_OPERATIONS_IN_FLIGHT,
    SUB_OPERATIONS_WINDOW, Scp, ShutdownStep, SubAssociationId,
};

pub use matching::{MatchOptions, match_identifier, matches_value};
pub use model::{
    BASIC_CODED_ENTRY_8_1B, BASIC_CODED_ENTRY_8_2B, BASIC_CODED_ENTRY_8_3B, BASIC_CODED_ENTRY_8_4B,
    BasicCodedEntryMacro, CODED_ENTRY_8_1A, CODED_ENTRY_8_2A, CODED_ENTRY_8_3A, CODED_ENTRY_8_4A,
    CodedEntryMacro, HANGING_PROTOCOL, IdentifierCheck, InformationModel, KeyType,
    MODALITY_WORKLIST, MacroInclude, MacroKey, MatchingType, ModelKey, OtherAttributes,
    check_identifier, check_retrieve_identifier,
};
