//! C-FIND (Modality Worklist and Hanging Protocol): [`Scp::start_find`] checks the
//! request and calls the handler, giving a [`FindJob`] that [`Scp::poll`] steps, one
//! response per step, until its final response. A failure before the handler gives its
//! results is answered at once by the caller.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::handler::{call, call_plain};
use super::outcome::{Outcomes, send_final, send_pending};
use super::reply::{detail, resolve_reply};
use super::{Job, Scp, calling_ae};
use crate::dimse::{self, CFindRsp, Message, MessageId, Service, Status, StatusDetail};
use crate::pdu::{PresentationContextId, Uid};
use crate::service::dataset;
use crate::service::model::{self, InformationModel};
use crate::service::provider::{FindHandler, FindItem, FindRequest, FindResults, Reply};
use crate::service::uids;
use crate::ul::Association;

/// A C-FIND whose handler gave its results: they become responses one at a time.
pub(super) struct FindJob {
    context_id: PresentationContextId,
    pub(super) message_id: MessageId,
    sop_class_uid: String,
    service: Service,
    transfer_syntax: Uid,
    results: FindResults,
    pending: Status,
}

impl Scp {
    /// Starts a C-FIND: the job is queued, or the failure status to answer returned.
    pub(super) fn start_find(
        &mut self,
        assoc: &Association,
        context_id: PresentationContextId,
        rq: &dimse::CFindRq,
        data: Option<dimse::DataSet>,
    ) -> Result<(), (Status, StatusDetail)> {
        let (service, handler, model): (Service, Option<&Arc<dyn FindHandler>>, &InformationModel) =
            match rq.affected_sop_class_uid.as_str() {
                s if s == uids::MODALITY_WORKLIST_FIND.as_str() => (
                    Service::FindWorklist,
                    self.handlers.worklist.as_ref(),
                    &model::MODALITY_WORKLIST,
                ),
                s if s == uids::HANGING_PROTOCOL_FIND.as_str() => (
                    Service::FindHangingProtocol,
                    self.handlers.hanging_protocol_find.as_ref(),
                    &model::HANGING_PROTOCOL,
                ),
                _ => (Service::FindWorklist, None, &model::MODALITY_WORKLIST),
            };
        let Some(handler) = handler.cloned() else {
            return Err((Status::SOP_CLASS_NOT_SUPPORTED, StatusDetail::default()));
        };
        let Some(data) = data else {
            tracing::warn!("C-FIND-RQ without an identifier");
            return Err((
                Status::FIND_IDENTIFIER_DECODE_FAILED,
                detail("no identifier"),
            ));
        };
        let identifier = dataset::decode(&data).map_err(|e| {
            tracing::warn!(error = %e, "C-FIND identifier does not decode");
            (Status::FIND_IDENTIFIER_DECODE_FAILED, detail(e.to_string()))
        })?;
        let check = model::check_identifier(model, &identifier);
        if let Some(why) = check.invalid {
            tracing::info!(%why, "C-FIND identifier does not fit the model");
            return Err((Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, detail(why)));
        }
        // Keys we do not support for matching are return keys only (0xFF01 pendings).
        let identifier = if check.unsupported.is_empty() {
            identifier
        } else {
            check.matching_query(&identifier)
        };
        let calling = calling_ae(assoc);
        let request = FindRequest {
            calling_ae_title: calling,
            sop_class_uid: &rq.affected_sop_class_uid,
            identifier: &identifier,
        };
        let results = call("C-FIND handler", || handler.find(&request))
            .map_err(|failure| (Status::FIND_HANDLER_FAILED, failure.detail()))?;
        let pending = if check.unsupported.is_empty() {
            Status::PENDING
        } else {
            tracing::debug!(keys = ?check.unsupported, "optional keys not supported: 0xFF01");
            Status::PENDING_WARNING
        };
        self.jobs.push_back(Job::Find(FindJob {
            context_id,
            message_id: rq.message_id,
            sop_class_uid: rq.affected_sop_class_uid.clone(),
            service,
            transfer_syntax: data.transfer_syntax,
            results,
            pending,
        }));
        Ok(())
    }
}

impl FindJob {
    /// Sends the next response; true when it was the final one.
    pub(super) fn step(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        cancelled: bool,
        outcomes: &mut Outcomes,
    ) -> bool {
        let next = if cancelled {
            tracing::info!(id = self.message_id, "C-FIND cancelled");
            Next::Final(Status::CANCEL, StatusDetail::default())
        } else {
            self.next_response()
        };
        match next {
            Next::Pending(status, identifier) => {
                let rsp = self.response(status, StatusDetail::default());
                send_pending(assoc, now, self.context_id, rsp, Some(identifier));
                false
            }
            Next::Final(status, d) => {
                let rsp = self.response(status, d);
                send_final(outcomes, assoc, now, self.context_id, rsp, None);
                true
            }
        }
    }

    /// The handler's next result, as a response.
    fn next_response(&mut self) -> Next {
        let item = match call_plain("C-FIND handler's results", || self.results.next()) {
            Ok(item) => item,
            Err(failure) => return Next::Final(Status::FIND_HANDLER_FAILED, failure.detail()),
        };
        let (status, identifier) = match item {
            None => return Next::Final(Status::SUCCESS, StatusDetail::default()),
            Some(FindItem::Match(obj)) => (self.pending, obj),
            Some(FindItem::PendingWith(code, obj)) if Status(code).is_pending() => {
                if !Status(code).is_valid_for(self.service) {
                    return Next::Final(
                        Status::HANDLER_INVALID_STATUS,
                        detail("invalid pending status"),
                    );
                }
                (Status(code), obj)
            }
            Some(FindItem::PendingWith(code, _)) => {
                let (status, d) = resolve_reply(Reply::Status(code), self.service);
                return Next::Final(status, d);
            }
            Some(FindItem::Reply(reply)) => {
                let (status, d) = resolve_reply(reply, self.service);
                if status.is_pending() {
                    // A pending response must carry its identifier.
                    tracing::warn!("C-FIND handler gave a pending status without an identifier");
                    return Next::Final(
                        Status::FIND_IDENTIFIER_ENCODE_FAILED,
                        detail("pending status without identifier"),
                    );
                }
                return Next::Final(status, d);
            }
        };
        match dataset::encode(&identifier, self.transfer_syntax.as_str()) {
            Ok(bytes) => Next::Pending(status, bytes),
            Err(e) => {
                tracing::warn!(error = %e, "C-FIND handler's identifier does not encode");
                Next::Final(Status::FIND_IDENTIFIER_ENCODE_FAILED, detail(e.to_string()))
            }
        }
    }

    fn response(&self, status: Status, detail: StatusDetail) -> Message {
        Message::CFindRsp(CFindRsp {
            message_id_being_responded_to: self.message_id,
            affected_sop_class_uid: Some(self.sop_class_uid.clone()),
            status,
            detail,
        })
    }
}

/// The next response of a C-FIND.
enum Next {
    /// A match: its status and encoded identifier.
    Pending(Status, Bytes),
    /// The end: success, cancel, or why it failed.
    Final(Status, StatusDetail),
}
