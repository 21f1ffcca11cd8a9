//! C-STORE (instances pushed to us, and to a C-MOVE destination served by an `Scp`):
//! whole, when the data set came with the request, or streamed, when the association
//! gives it fragment by fragment ([`Scp::acceptor`] always streams) and it goes to the
//! store handler's sink or is gathered for its `store`. [`store_status`] turns what the
//! handler gave into the C-STORE-RSP status.

use std::time::Instant;

use bytes::Bytes;

use std::sync::Arc;

use super::handler::{HandlerFailure, call};
use super::reply::{detail, with_detail};
use super::{Scp, calling_ae};
use crate::dimse::{
    self, CStoreRq, IncomingMessage, Message, MessageId, Service, Status, StatusDetail,
};
use crate::pdu::PresentationContextId;
use crate::service::provider::{StoreHandler, StoreRequest, StoreStart};
use crate::service::streamed::{StoreEnd, StreamedStore, check_whole};
use crate::ul::Association;

/// A streamed C-STORE-RQ being received ([`crate::dimse::DimseConfig::stream_store_data`]).
pub(super) struct IncomingStore {
    context_id: PresentationContextId,
    pub(super) rq: CStoreRq,
    sink: StreamedStore,
}

impl Scp {
    /// A whole C-STORE (the data set came with the request, or was gathered and checked
    /// for a handler that gave no sink): the status and detail to answer.
    pub(super) fn store(
        &self,
        assoc: &Association,
        context_id: PresentationContextId,
        rq: &CStoreRq,
        data: Option<dimse::DataSet>,
    ) -> (Status, StatusDetail) {
        let Some(handler) = self.store_context(assoc, context_id) else {
            return refused_role(rq);
        };
        let Some(data) = data else {
            return (
                Status::STORE_CANNOT_UNDERSTAND,
                detail("C-STORE-RQ without a data set"),
            );
        };
        let request = StoreRequest {
            calling_ae_title: calling_ae(assoc),
            sop_class_uid: &rq.affected_sop_class_uid,
            sop_instance_uid: &rq.affected_sop_instance_uid,
            transfer_syntax: &data.transfer_syntax,
            data: &data.bytes,
            move_originator: rq.move_originator_ae_title.as_deref(),
        };
        store_status(call("C-STORE handler", || handler.store(&request)))
    }

    /// A C-STORE whose data set came with the request: checked like a streamed one
    /// (its request, its first bytes), then stored.
    pub(super) fn store_whole(
        &self,
        assoc: &Association,
        context_id: PresentationContextId,
        rq: &CStoreRq,
        data: Option<dimse::DataSet>,
    ) -> (Status, StatusDetail) {
        let context = assoc
            .negotiated()
            .and_then(|n| n.accepted_context(context_id));
        if let (Some(c), Some(data)) = (context, &data) {
            if let Some(refusal) = check_whole(rq, &c.abstract_syntax, data) {
                return refusal;
            }
        }
        self.store(assoc, context_id, rq, data)
    }

    /// The store handler, when the context of a C-STORE-RQ is accepted with us as SCP
    /// and there is one.
    fn store_context(
        &self,
        assoc: &Association,
        context_id: PresentationContextId,
    ) -> Option<&Arc<dyn StoreHandler>> {
        let may_store = assoc
            .negotiated()
            .and_then(|n| n.accepted_context(context_id).map(|c| (n, c)))
            .is_some_and(|(n, c)| n.local_is_scp(c));
        self.handlers.store.as_ref().filter(|_| may_store)
    }

    /// Streaming mode: a C-STORE-RQ starts; the store handler is asked for a sink.
    pub(super) fn start_streamed_store(&mut self, assoc: &Association, incoming: IncomingMessage) {
        let Message::CStoreRq(rq) = incoming.message else {
            tracing::warn!(message = %incoming.message, "streamed message is not a C-STORE-RQ; ignored");
            return;
        };
        let context = assoc
            .negotiated()
            .and_then(|n| n.accepted_context(incoming.context_id).map(|c| (n, c)))
            .filter(|(n, c)| n.local_is_scp(c));
        let sink = match (&self.handlers.store, context) {
            (Some(handler), Some((_, c))) => match c.transfer_syntax.clone() {
                Some(transfer_syntax) => {
                    let start = StoreStart {
                        calling_ae_title: calling_ae(assoc),
                        sop_class_uid: &rq.affected_sop_class_uid,
                        sop_instance_uid: &rq.affected_sop_instance_uid,
                        transfer_syntax: &transfer_syntax,
                        move_originator: rq.move_originator_ae_title.as_deref(),
                    };
                    StreamedStore::begin(
                        handler.as_ref(),
                        &start,
                        &c.abstract_syntax,
                        Status::STORE_HANDLER_FAILED,
                        assoc.config().dimse.max_store_length,
                    )
                }
                None => {
                    let (status, d) = (
                        Status::STORE_CANNOT_UNDERSTAND,
                        detail("no transfer syntax"),
                    );
                    StreamedStore::Failed(status, d)
                }
            },
            _ => {
                let (status, d) = refused_role(&rq);
                StreamedStore::Failed(status, d)
            }
        };
        self.incoming_store = Some(IncomingStore {
            context_id: incoming.context_id,
            rq,
            sink,
        });
    }

    /// Streaming mode: a fragment of the data set; after the last, the C-STORE-RSP.
    pub(super) fn streamed_fragment(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        message_id: MessageId,
        data: Bytes,
        last: bool,
    ) {
        let Some(mut incoming) = self
            .incoming_store
            .take()
            .filter(|i| i.rq.message_id == message_id)
        else {
            tracing::debug!(message_id, "fragment of no C-STORE in progress; ignored");
            return;
        };
        incoming.sink = incoming.sink.take(data, last, Status::STORE_HANDLER_FAILED);
        if !last {
            self.incoming_store = Some(incoming);
            return;
        }
        let IncomingStore {
            context_id,
            rq,
            sink,
        } = incoming;
        let (status, d) = match sink.end() {
            StoreEnd::Finished(result) => store_status(result),
            StoreEnd::Gathered(data) => self.store(assoc, context_id, &rq, Some(data)),
            StoreEnd::Failed(status, d) => (status, d),
        };
        let rsp = with_detail(Message::CStoreRq(rq).response_with(status), d);
        self.respond(assoc, now, context_id, rsp, None);
    }
}

/// 0x0122 for a C-STORE on a context we are not SCP on (or with no store handler).
fn refused_role(rq: &CStoreRq) -> (Status, StatusDetail) {
    tracing::info!(sop_class = %rq.affected_sop_class_uid, "C-STORE refused: no SCP role for it");
    (
        Status::SOP_CLASS_NOT_SUPPORTED,
        detail(format!("no storage SCP for {}", rq.affected_sop_class_uid)),
    )
}

/// The C-STORE-RSP status and detail for what a store handler (or its sink) gave: a
/// handler that ran out of disk space is 0xA700 (out of resources, PS3.4 B.2.3), any
/// other failure 0xC211, each with an Error Comment saying why.
fn store_status(result: Result<u16, HandlerFailure>) -> (Status, StatusDetail) {
    match result {
        Ok(code) if Status(code).is_valid_for(Service::Store) => {
            (Status(code), StatusDetail::default())
        }
        Ok(code) => {
            tracing::warn!(
                code = format_args!("0x{code:04X}"),
                "C-STORE handler gave a status not valid for C-STORE"
            );
            (
                Status::HANDLER_INVALID_STATUS,
                detail(format!("handler status 0x{code:04X} is not valid")),
            )
        }
        Err(failure) if failure.is_out_of_space() => (Status::OUT_OF_RESOURCES, failure.detail()),
        Err(failure) => (Status::STORE_HANDLER_FAILED, failure.detail()),
    }
}
