//! The SCU side of the services, IO-free: each operation is a small state object that
//! sends its request through an [`Association`] and then takes the association's events,
//! turning the ones that belong to it into progress (a match, a stored instance, the
//! final status) and giving every other event back.
//!
//! ```
//! use dicomwire::pdu::AeTitle;
//! use dicomwire::service::scu::{self, ScuService};
//! let request = scu::association_request(
//!     AeTitle::new("ME").unwrap(),
//!     AeTitle::new("PACS").unwrap(),
//!     &[ScuService::HangingProtocolGet],
//! );
//! // HP GET, plus HP Storage with the SCP role proposed for the C-STORE sub-operations.
//! assert_eq!(request.contexts.len(), 2);
//! assert!(request.role_selections[0].scp_role);
//! ```

use std::sync::Arc;
use std::time::Instant;

use dicom_core::Tag;
use dicom_object::InMemDicomObject;
use thiserror::Error;

use super::dataset::{self, DataSetError};
use super::provider::{StoreHandler, StoreRequest, StoreStart};
use super::scp::handler::call;
use super::scp::reply::{detail, with_detail};
use super::streamed::{StoreEnd, StreamedStore};
use super::uids;
use crate::dimse::{
    CEchoRq, CFindRq, CGetRq, CMoveRq, CStoreRq, DataSet, DataSetReader, IncomingMessage, Message,
    MessageId, Priority, Status, StatusDetail, SubOperations,
};
use crate::pdu::{AeTitle, AsyncOperationsWindow, PresentationContextId, Uid};
use crate::ul::{ApiMisuse, Association, AssociationRequest, Event, Negotiated, ProposedContext};

/// Why an SCU operation could not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScuError {
    /// No accepted presentation context for the SOP class where we are SCU.
    #[error("no accepted presentation context for {0}")]
    NoContext(String),
    /// The identifier cannot be encoded in the context's transfer syntax.
    #[error(transparent)]
    DataSet(#[from] DataSetError),
    /// The association refused the request.
    #[error(transparent)]
    Association(#[from] ApiMisuse),
}

/// The services an SCU can propose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScuService {
    /// Verification (C-ECHO).
    Verification,
    /// Modality Worklist FIND.
    WorklistFind,
    /// Hanging Protocol FIND.
    HangingProtocolFind,
    /// Hanging Protocol GET (with Hanging Protocol Storage in the SCP role).
    HangingProtocolGet,
    /// Hanging Protocol MOVE.
    HangingProtocolMove,
}

/// An A-ASSOCIATE request proposing `services`, each with the uncompressed transfer
/// syntaxes; for C-GET, Hanging Protocol Storage with a role selection proposing the SCP
/// role for us (PS3.4 C.4.3), and an asynchronous operations window letting the SCP
/// invoke up to [`SUB_OPERATIONS_WINDOW`](super::SUB_OPERATIONS_WINDOW) C-STOREs
/// before we answer them (PS3.7 D.3.3.3).
pub fn association_request(
    calling: AeTitle,
    called: AeTitle,
    services: &[ScuService],
) -> AssociationRequest {
    let mut request = AssociationRequest::new(calling, called);
    let ts = uids::uncompressed_transfer_syntaxes;
    for service in services {
        let uid = match service {
            ScuService::Verification => uids::VERIFICATION,
            ScuService::WorklistFind => uids::MODALITY_WORKLIST_FIND,
            ScuService::HangingProtocolFind => uids::HANGING_PROTOCOL_FIND,
            ScuService::HangingProtocolGet => uids::HANGING_PROTOCOL_GET,
            ScuService::HangingProtocolMove => uids::HANGING_PROTOCOL_MOVE,
        };
        request = request.with_context(ProposedContext::new(uid, ts()));
        if *service == ScuService::HangingProtocolGet {
            request = request
                .with_context(ProposedContext::new(uids::HANGING_PROTOCOL_STORAGE, ts()))
                .with_role(uids::HANGING_PROTOCOL_STORAGE, false, true);
            // The SCP may keep several C-STORE sub-operations under way: we perform them
            // one after the other as they arrive, and it need not wait for each answer.
            request.async_operations_window = Some(AsyncOperationsWindow {
                max_operations_invoked: 1,
                max_operations_performed: super::SUB_OPERATIONS_WINDOW,
            });
        }
    }
    request
}

/// An accepted context for `sop_class` on which we may act as SCU, and its transfer syntax.
pub fn scu_context(n: &Negotiated, sop_class: &Uid) -> Option<(PresentationContextId, Uid)> {
    n.accepted()
        .filter(|c| &c.abstract_syntax == sop_class && n.local_is_scu(c))
        .find_map(|c| c.transfer_syntax.clone().map(|ts| (c.id, ts)))
}

fn context(assoc: &Association, sop_class: &Uid) -> Result<(PresentationContextId, Uid), ScuError> {
    assoc
        .negotiated()
        .and_then(|n| scu_context(n, sop_class))
        .ok_or_else(|| ScuError::NoContext(sop_class.to_string()))
}

/// Sends a request that carries an identifier: on an accepted context for `sop_class`
/// where we are SCU, with the identifier encoded in that context's transfer syntax.
fn send_with_identifier(
    assoc: &mut Association,
    now: Instant,
    sop_class: &Uid,
    identifier: &InMemDicomObject,
    request: Message,
) -> Result<MessageId, ScuError> {
    let (ctx, ts) = context(assoc, sop_class)?;
    let data = dataset::encode(identifier, ts.as_str())?;
    Ok(assoc.send_request(now, ctx, request, Some(data))?)
}

/// Takes the message of `event` if it is a response to `message_id`.
fn response_to(event: Event, message_id: MessageId) -> Result<IncomingMessage, Event> {
    match event {
        Event::Message(m)
            if m.message.responded_to() == Some(message_id) && m.message.is_response() =>
        {
            Ok(*m)
        }
        other => Err(other),
    }
}

/// A C-ECHO in progress.
#[derive(Debug)]
pub struct EchoScu {
    message_id: MessageId,
}

impl EchoScu {
    /// Sends a C-ECHO-RQ.
    pub fn start(assoc: &mut Association, now: Instant) -> Result<Self, ScuError> {
        let (ctx, _) = context(assoc, &uids::VERIFICATION)?;
        let message_id = assoc.send_request(
            now,
            ctx,
            Message::CEchoRq(CEchoRq {
                message_id: 0,
                affected_sop_class_uid: uids::VERIFICATION.to_string(),
            }),
            None,
        )?;
        Ok(Self { message_id })
    }

    /// The C-ECHO-RSP status, if `event` is it; otherwise the event back.
    pub fn handle(&self, event: Event) -> Result<Status, Event> {
        let m = response_to(event, self.message_id)?;
        Ok(m.message.status().unwrap_or(Status::UNABLE_TO_PROCESS))
    }
}

/// A C-STORE in progress: one instance pushed to a Storage SCP.
#[derive(Debug)]
pub struct StoreScu {
    message_id: MessageId,
}

impl StoreScu {
    /// Sends a C-STORE-RQ for the instance `sop_instance_uid` of `sop_class`, its data
    /// set `data` encoded in `transfer_syntax`, on an accepted context for that SOP class
    /// and transfer syntax where we are SCU (nothing is transcoded).
    ///
    /// # Errors
    ///
    /// [`ScuError::NoContext`] when no such context was accepted.
    pub fn start(
        assoc: &mut Association,
        now: Instant,
        sop_class: &Uid,
        sop_instance_uid: &str,
        transfer_syntax: &Uid,
        data: DataSetReader,
    ) -> Result<Self, ScuError> {
        let ctx = assoc
            .negotiated()
            .and_then(|n| {
                n.accepted()
                    .filter(|c| &c.abstract_syntax == sop_class && n.local_is_scu(c))
                    .find(|c| c.transfer_syntax.as_ref() == Some(transfer_syntax))
                    .map(|c| c.id)
            })
            .ok_or_else(|| ScuError::NoContext(format!("{sop_class} in {transfer_syntax}")))?;
        let message_id = assoc.send_request_reading(
            now,
            ctx,
            Message::CStoreRq(CStoreRq {
                message_id: 0,
                affected_sop_class_uid: sop_class.to_string(),
                affected_sop_instance_uid: sop_instance_uid.to_owned(),
                priority: Priority::Medium,
                move_originator_ae_title: None,
                move_originator_message_id: None,
            }),
            data,
        )?;
        Ok(Self { message_id })
    }

    /// The C-STORE-RSP's status and detail, if `event` is it; otherwise the event back.
    pub fn handle(&self, event: Event) -> Result<(Status, StatusDetail), Event> {
        let m = response_to(event, self.message_id)?;
        let status = m.message.status().unwrap_or(Status::UNABLE_TO_PROCESS);
        let detail = match m.message {
            Message::CStoreRsp(rsp) => rsp.detail,
            _ => StatusDetail::default(),
        };
        Ok((status, detail))
    }
}

/// What a C-FIND gives back, one item at a time.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FindProgress {
    /// A pending response and its identifier.
    Match {
        /// 0xFF00, or 0xFF01 when the SCP did not support some optional keys.
        status: Status,
        /// The identifier.
        identifier: InMemDicomObject,
    },
    /// A pending response whose identifier does not decode.
    Undecodable(DataSetError),
    /// The final response.
    Finished {
        /// Its status (0x0000, 0xFE00 after a cancel, or a failure).
        status: Status,
        /// Error comment and friends.
        detail: StatusDetail,
    },
}

/// A C-FIND in progress (worklist or hanging protocol).
#[derive(Debug)]
pub struct FindScu {
    message_id: MessageId,
    finished: bool,
}

impl FindScu {
    /// Sends a C-FIND-RQ for `sop_class` (the information model) with `identifier`.
    pub fn start(
        assoc: &mut Association,
        now: Instant,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
    ) -> Result<Self, ScuError> {
        let message_id = send_with_identifier(
            assoc,
            now,
            sop_class,
            identifier,
            Message::CFindRq(CFindRq {
                message_id: 0,
                affected_sop_class_uid: sop_class.to_string(),
                priority: Priority::Medium,
            }),
        )?;
        Ok(Self {
            message_id,
            finished: false,
        })
    }

    /// The request's message ID.
    pub fn message_id(&self) -> MessageId {
        self.message_id
    }

    /// Whether the final response arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Asks the SCP to stop; the final response (normally 0xFE00) still follows.
    pub fn cancel(&self, assoc: &mut Association, now: Instant) -> Result<(), ApiMisuse> {
        assoc.send_cancel(now, self.message_id)
    }

    /// Progress, if `event` is a response to this C-FIND; otherwise the event back.
    pub fn handle(&mut self, event: Event) -> Result<FindProgress, Event> {
        let m = response_to(event, self.message_id)?;
        let Message::CFindRsp(rsp) = m.message else {
            return Ok(FindProgress::Finished {
                status: Status::UNABLE_TO_PROCESS,
                detail: StatusDetail::default(),
            });
        };
        if rsp.status.is_pending() {
            let Some(data) = m.data else {
                return Ok(FindProgress::Undecodable(DataSetError::Decode(
                    "pending response without an identifier".into(),
                )));
            };
            return Ok(match dataset::decode(&data) {
                Ok(identifier) => FindProgress::Match {
                    status: rsp.status,
                    identifier,
                },
                Err(e) => FindProgress::Undecodable(e),
            });
        }
        self.finished = true;
        Ok(FindProgress::Finished {
            status: rsp.status,
            detail: rsp.detail,
        })
    }
}

/// What a C-GET or C-MOVE gives back.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RetrieveProgress {
    /// C-GET: an instance arrived and was handed to the store handler (or refused).
    Stored {
        /// Its SOP Instance UID.
        sop_instance_uid: String,
        /// The status we answered with.
        status: Status,
    },
    /// A pending response with the counts so far.
    Pending(SubOperations),
    /// C-GET, streaming mode: part of an instance's data set arrived.
    Receiving {
        /// Bytes of the fragment.
        bytes: usize,
    },
    /// The final response.
    Finished {
        /// Its status: 0x0000, 0xB000 (some failed or warned), 0xA702 (all failed),
        /// 0xFE00 (cancelled) or another failure.
        status: Status,
        /// The counts.
        sub_operations: SubOperations,
        /// Failed SOP Instance UID List (0008,0058), when the SCP sent it.
        failed_sop_instance_uids: Vec<String>,
        /// Error comment and friends.
        detail: StatusDetail,
    },
}

/// A C-GET or C-MOVE in progress.
pub struct RetrieveScu {
    message_id: MessageId,
    store: Option<Arc<dyn StoreHandler>>,
    finished: bool,
    /// Streaming mode: the C-STORE sub-operation whose data set is arriving.
    incoming: Option<IncomingStore>,
}

/// A streamed C-STORE-RQ being received, and where its fragments go.
struct IncomingStore {
    context_id: PresentationContextId,
    message: Message,
    sink: StreamedStore,
}

impl std::fmt::Debug for RetrieveScu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrieveScu")
            .field("message_id", &self.message_id)
            .field("finished", &self.finished)
            .finish()
    }
}

impl RetrieveScu {
    /// Sends a C-GET-RQ; instances arriving as C-STORE sub-operations on this association
    /// go to `store`.
    pub fn get(
        assoc: &mut Association,
        now: Instant,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        store: Arc<dyn StoreHandler>,
    ) -> Result<Self, ScuError> {
        let message_id = send_with_identifier(
            assoc,
            now,
            sop_class,
            identifier,
            Message::CGetRq(CGetRq {
                message_id: 0,
                affected_sop_class_uid: sop_class.to_string(),
                priority: Priority::Medium,
            }),
        )?;
        Ok(Self {
            message_id,
            store: Some(store),
            finished: false,
            incoming: None,
        })
    }

    /// Sends a C-MOVE-RQ to store the instances at `destination`.
    pub fn move_to(
        assoc: &mut Association,
        now: Instant,
        sop_class: &Uid,
        identifier: &InMemDicomObject,
        destination: &AeTitle,
    ) -> Result<Self, ScuError> {
        let message_id = send_with_identifier(
            assoc,
            now,
            sop_class,
            identifier,
            Message::CMoveRq(CMoveRq {
                message_id: 0,
                affected_sop_class_uid: sop_class.to_string(),
                priority: Priority::Medium,
                move_destination: destination.as_str().to_owned(),
            }),
        )?;
        Ok(Self {
            message_id,
            store: None,
            finished: false,
            incoming: None,
        })
    }

    /// The request's message ID.
    pub fn message_id(&self) -> MessageId {
        self.message_id
    }

    /// Whether the final response arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Asks the SCP to stop; the final response (normally 0xFE00) still follows.
    pub fn cancel(&self, assoc: &mut Association, now: Instant) -> Result<(), ApiMisuse> {
        assoc.send_cancel(now, self.message_id)
    }

    /// Progress, if `event` belongs to this retrieve; otherwise the event back. For a
    /// C-GET, an incoming C-STORE-RQ is answered here: with the store handler's status on
    /// a context where we have the SCP role, and 0x0122 (SOP class not supported)
    /// elsewhere (PS3.4 C.4.3.1.2: the sub-operation fails).
    pub fn handle(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        event: Event,
    ) -> Result<RetrieveProgress, Event> {
        let event = match self.handle_streamed(assoc, now, event) {
            Ok(progress) => return Ok(progress),
            Err(event) => event,
        };
        if let (Event::Message(m), Some(store)) = (&event, &self.store) {
            if let Message::CStoreRq(rq) = &m.message {
                let may_store = assoc
                    .negotiated()
                    .and_then(|n| n.accepted_context(m.context_id).map(|c| n.local_is_scp(c)))
                    .unwrap_or(false);
                let status = match (&m.data, may_store) {
                    (Some(data), true) => store_one(store.as_ref(), assoc, rq, data),
                    (_, false) => {
                        tracing::warn!(sop_class = %rq.affected_sop_class_uid, "C-STORE on a context without our SCP role; refused");
                        Status::SOP_CLASS_NOT_SUPPORTED
                    }
                    (None, true) => Status::STORE_CANNOT_UNDERSTAND,
                };
                let sop_instance_uid = rq.affected_sop_instance_uid.clone();
                if let Some(rsp) = m.message.response_with(status) {
                    if let Err(e) = assoc.send_response(now, m.context_id, rsp, None) {
                        tracing::warn!(error = %e, "cannot answer C-STORE-RQ");
                    }
                }
                return Ok(RetrieveProgress::Stored {
                    sop_instance_uid,
                    status,
                });
            }
        }
        let m = response_to(event, self.message_id)?;
        let (Message::CGetRsp(rsp) | Message::CMoveRsp(rsp)) = m.message else {
            self.finished = true;
            return Ok(RetrieveProgress::Finished {
                status: Status::UNABLE_TO_PROCESS,
                sub_operations: SubOperations::default(),
                failed_sop_instance_uids: Vec::new(),
                detail: StatusDetail::default(),
            });
        };
        if rsp.status.is_pending() {
            return Ok(RetrieveProgress::Pending(rsp.sub_operations));
        }
        self.finished = true;
        Ok(RetrieveProgress::Finished {
            status: rsp.status,
            sub_operations: rsp.sub_operations,
            failed_sop_instance_uids: m.data.as_ref().map(failed_uids).unwrap_or_default(),
            detail: rsp.detail,
        })
    }
}

impl RetrieveScu {
    /// Streaming mode: a C-STORE-RQ starts (the store handler is asked for a sink) or a
    /// fragment of its data set arrives; after the last, the C-STORE-RSP is sent.
    fn handle_streamed(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        event: Event,
    ) -> Result<RetrieveProgress, Event> {
        let Some(store) = &self.store else {
            return Err(event);
        };
        match event {
            Event::StoreStarted(m) => {
                let Message::CStoreRq(rq) = &m.message else {
                    return Err(Event::StoreStarted(m));
                };
                let context = assoc
                    .negotiated()
                    .and_then(|n| n.accepted_context(m.context_id).map(|c| (n, c)));
                let sink = match context {
                    Some((n, c)) if n.local_is_scp(c) => {
                        let transfer_syntax = c.transfer_syntax.clone();
                        let limit = assoc.config().dimse.max_store_length;
                        begin_store(
                            store.as_ref(),
                            n.called_ae_title,
                            rq,
                            &c.abstract_syntax,
                            transfer_syntax,
                            limit,
                        )
                    }
                    _ => {
                        tracing::warn!(sop_class = %rq.affected_sop_class_uid, "C-STORE on a context without our SCP role; refused");
                        StreamedStore::Failed(
                            Status::SOP_CLASS_NOT_SUPPORTED,
                            detail(format!("no storage SCP for {}", rq.affected_sop_class_uid)),
                        )
                    }
                };
                self.incoming = Some(IncomingStore {
                    context_id: m.context_id,
                    message: m.message,
                    sink,
                });
                Ok(RetrieveProgress::Receiving { bytes: 0 })
            }
            Event::StoreFragment {
                message_id,
                data,
                last,
                ..
            } if self
                .incoming
                .as_ref()
                .is_some_and(|i| i.message.message_id() == Some(message_id)) =>
            {
                let Some(mut incoming) = self.incoming.take() else {
                    return Ok(RetrieveProgress::Receiving { bytes: 0 });
                };
                let received = data.len();
                incoming.sink = incoming.sink.take(data, last, Status::OUT_OF_RESOURCES);
                if !last {
                    self.incoming = Some(incoming);
                    return Ok(RetrieveProgress::Receiving { bytes: received });
                }
                Ok(self.finish_store(assoc, now, store.clone(), incoming))
            }
            other => Err(other),
        }
    }

    /// The last fragment arrived: the status, the C-STORE-RSP, the progress.
    fn finish_store(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        store: Arc<dyn StoreHandler>,
        incoming: IncomingStore,
    ) -> RetrieveProgress {
        let Message::CStoreRq(rq) = &incoming.message else {
            unreachable!("only C-STORE-RQs are streamed");
        };
        let (status, d) = match incoming.sink.end() {
            StoreEnd::Finished(Ok(code)) => (Status(code), StatusDetail::default()),
            StoreEnd::Finished(Err(failure)) => (Status::OUT_OF_RESOURCES, failure.detail()),
            StoreEnd::Gathered(data) => (
                store_one(store.as_ref(), assoc, rq, &data),
                StatusDetail::default(),
            ),
            StoreEnd::Failed(status, d) => (status, d),
        };
        let sop_instance_uid = rq.affected_sop_instance_uid.clone();
        if let Some(rsp) = with_detail(incoming.message.response_with(status), d) {
            if let Err(e) = assoc.send_response(now, incoming.context_id, rsp, None) {
                tracing::warn!(error = %e, "cannot answer C-STORE-RQ");
            }
        }
        RetrieveProgress::Stored {
            sop_instance_uid,
            status,
        }
    }
}

/// Asks the store handler where a streamed instance goes.
fn begin_store(
    store: &dyn StoreHandler,
    calling: AeTitle,
    rq: &crate::dimse::CStoreRq,
    abstract_syntax: &Uid,
    transfer_syntax: Option<Uid>,
    limit: usize,
) -> StreamedStore {
    let Some(transfer_syntax) = transfer_syntax else {
        return StreamedStore::Failed(
            Status::STORE_CANNOT_UNDERSTAND,
            detail("no transfer syntax"),
        );
    };
    let start = StoreStart {
        calling_ae_title: calling,
        sop_class_uid: &rq.affected_sop_class_uid,
        sop_instance_uid: &rq.affected_sop_instance_uid,
        transfer_syntax: &transfer_syntax,
        move_originator: rq.move_originator_ae_title.as_deref(),
    };
    StreamedStore::begin(
        store,
        &start,
        abstract_syntax,
        Status::OUT_OF_RESOURCES,
        limit,
    )
}

fn store_one(
    store: &dyn StoreHandler,
    assoc: &Association,
    rq: &crate::dimse::CStoreRq,
    data: &DataSet,
) -> Status {
    let calling = assoc
        .negotiated()
        .map(|n| n.called_ae_title)
        .or_else(|| AeTitle::new("UNKNOWN").ok());
    let Some(calling) = calling else {
        return Status::UNABLE_TO_PROCESS;
    };
    let request = StoreRequest {
        calling_ae_title: calling,
        sop_class_uid: &rq.affected_sop_class_uid,
        sop_instance_uid: &rq.affected_sop_instance_uid,
        transfer_syntax: &data.transfer_syntax,
        data: &data.bytes,
        move_originator: rq.move_originator_ae_title.as_deref(),
    };
    call("store handler", || store.store(&request)).map_or(Status::OUT_OF_RESOURCES, Status)
}

fn failed_uids(data: &DataSet) -> Vec<String> {
    dataset::decode(data)
        .ok()
        .and_then(|obj| {
            obj.get(Tag(0x0008, 0x0058))
                .and_then(|e| e.value().to_multi_str().ok())
                .map(|v| {
                    v.iter()
                        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
        })
        .unwrap_or_default()
}
