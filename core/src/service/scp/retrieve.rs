//! C-GET and C-MOVE (Hanging Protocol): [`Scp::start_retrieve`] checks the request,
//! resolves a C-MOVE destination and calls the handler, giving a [`RetrieveJob`] that
//! [`Scp::poll`] steps. Each instance becomes a C-STORE sub-operation, on the main
//! association for a C-GET and on the sub-association for a C-MOVE, transcoded when the
//! peer accepted another transfer syntax; the job counts their outcomes, sends a pending
//! response after each, and ends with the final response and its Failed SOP Instance UID
//! List.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;

use super::handler::{call, call_plain};
use super::outcome::{self, Outcomes, send_final};
use super::reply::{detail, resolve_reply, with_counts, with_detail};
use super::sub::{Sub, SubState};
use super::{Job, SUB_OPERATIONS_IN_FLIGHT, Scp, calling_ae};
use crate::dimse::{
    self, CStoreRq, Message, MessageId, Priority, RetrieveRsp, Service, Status, StatusDetail,
    SubOperations,
};
use crate::pdu::{PresentationContextId, Uid};
use crate::service::dataset::{self, DataSetError};
use crate::service::model;
use crate::service::provider::{Instance, RetrieveItem, RetrieveRequest};
use crate::service::uids;
use crate::ul::{Association, Negotiated};

/// Which of the two retrieves a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RetrieveKind {
    /// C-GET: the sub-operations go back on the main association.
    Get,
    /// C-MOVE: they go to the move destination on a sub-association.
    Move,
}

/// A C-GET or C-MOVE whose handler announced its sub-operations.
pub(super) struct RetrieveJob {
    pub(super) kind: RetrieveKind,
    context_id: PresentationContextId,
    pub(super) message_id: MessageId,
    sop_class_uid: String,
    priority: Priority,
    items: Box<dyn Iterator<Item = RetrieveItem> + Send>,
    total: u16,
    completed: u16,
    failed: u16,
    warning: u16,
    failed_uids: Vec<String>,
    /// The C-STORE sub-operations sent and not answered yet, in order: each request's
    /// message ID and its instance UID. As many as the asynchronous operations window
    /// of the association they go on lets us invoke, up to [`SUB_OPERATIONS_IN_FLIGHT`].
    pub(super) awaiting: VecDeque<(MessageId, String)>,
    /// C-MOVE only.
    pub(super) sub: Option<Sub>,
    originator: Option<(String, MessageId)>,
}

impl RetrieveJob {
    fn service(&self) -> Service {
        match self.kind {
            RetrieveKind::Get => Service::GetHangingProtocol,
            RetrieveKind::Move => Service::MoveHangingProtocol,
        }
    }

    fn done(&self) -> u16 {
        self.completed + self.failed + self.warning
    }

    fn remaining(&self) -> u16 {
        self.total.saturating_sub(self.done())
    }

    fn counts(&self, with_remaining: bool) -> SubOperations {
        SubOperations {
            remaining: with_remaining.then(|| self.remaining()),
            completed: Some(self.completed),
            failed: Some(self.failed),
            warning: Some(self.warning),
        }
    }

    pub(super) fn fail_one(&mut self, uid: Option<String>) {
        self.failed += 1;
        if let Some(uid) = uid {
            self.failed_uids.push(uid);
        }
    }
}

impl Scp {
    /// Starts a C-GET or C-MOVE: the job is queued, or the request answered at once (a
    /// failure, or nothing to retrieve).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_retrieve(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        kind: RetrieveKind,
        context_id: PresentationContextId,
        request_message: &Message,
        message_id: MessageId,
        sop_class_uid: String,
        priority: Priority,
        move_destination: Option<String>,
        data: Option<dimse::DataSet>,
    ) {
        let (decode_failed, handler_failed, count_missing, count_invalid, expected_sop) = match kind
        {
            RetrieveKind::Get => (
                Status::GET_IDENTIFIER_DECODE_FAILED,
                Status::GET_HANDLER_FAILED,
                Status::GET_INVALID_SUB_OPERATION_COUNT,
                Status::GET_INVALID_SUB_OPERATION_COUNT,
                uids::HANGING_PROTOCOL_GET,
            ),
            RetrieveKind::Move => (
                Status::MOVE_IDENTIFIER_DECODE_FAILED,
                Status::MOVE_HANDLER_FAILED,
                Status::MOVE_NO_DESTINATION_OR_COUNT,
                Status::MOVE_INVALID_SUB_OPERATION_COUNT,
                uids::HANGING_PROTOCOL_MOVE,
            ),
        };
        let fail = |scp: &mut Self, assoc: &mut Association, status: Status, d: StatusDetail| {
            let rsp = with_detail(request_message.response_with(status), d);
            scp.respond(assoc, now, context_id, rsp, None);
        };
        let handler = match &self.handlers.hanging_protocol_retrieve {
            Some(h) if sop_class_uid == expected_sop.as_str() => Arc::clone(h),
            _ => {
                return fail(
                    self,
                    assoc,
                    Status::SOP_CLASS_NOT_SUPPORTED,
                    StatusDetail::default(),
                );
            }
        };
        let Some(data) = data else {
            return fail(self, assoc, decode_failed, detail("no identifier"));
        };
        let identifier = match dataset::decode(&data) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "retrieve identifier does not decode");
                return fail(self, assoc, decode_failed, detail(e.to_string()));
            }
        };
        let uids_requested = match model::check_retrieve_identifier(&identifier) {
            Ok(u) => u,
            Err(why) => {
                tracing::info!(%why, "retrieve identifier does not fit the model");
                return fail(
                    self,
                    assoc,
                    Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
                    detail(why),
                );
            }
        };
        let destination = if kind == RetrieveKind::Move {
            let ae = move_destination.clone().unwrap_or_default();
            let resolved = self
                .handlers
                .move_destinations
                .as_ref()
                .and_then(|d| d.resolve(&ae));
            let Some(dest) = resolved else {
                tracing::info!(destination = %ae, "C-MOVE destination unknown");
                return fail(
                    self,
                    assoc,
                    Status::MOVE_DESTINATION_UNKNOWN,
                    detail(format!("unknown destination {ae}")),
                );
            };
            if !dest.is_valid() {
                tracing::warn!(destination = %ae, address = %dest, "C-MOVE destination address invalid");
                return fail(
                    self,
                    assoc,
                    Status::MOVE_INVALID_DESTINATION_ADDRESS,
                    detail(format!("invalid address {dest}")),
                );
            }
            Some((ae, dest))
        } else {
            None
        };
        let calling = calling_ae(assoc);
        let request = RetrieveRequest {
            calling_ae_title: calling,
            sop_class_uid: &sop_class_uid,
            identifier: &identifier,
            sop_instance_uids: &uids_requested,
            move_destination: move_destination.as_deref(),
        };
        let set = match call("retrieve handler", || handler.retrieve(&request)) {
            Ok(set) => set,
            Err(failure) => return fail(self, assoc, handler_failed, failure.detail()),
        };
        let total = match set.count {
            None => {
                tracing::warn!("retrieve handler gave no number of sub-operations");
                return fail(
                    self,
                    assoc,
                    count_missing,
                    detail("no number of sub-operations"),
                );
            }
            Some(n) => match u16::try_from(n) {
                Ok(n) => n,
                Err(_) => {
                    tracing::warn!(n, "retrieve handler gave more than 65535 sub-operations");
                    return fail(
                        self,
                        assoc,
                        count_invalid,
                        detail(format!("{n} sub-operations")),
                    );
                }
            },
        };
        if total == 0 {
            let rsp = request_message.response_with(Status::SUCCESS).map(|m| {
                with_counts(
                    m,
                    SubOperations {
                        remaining: None,
                        completed: Some(0),
                        failed: Some(0),
                        warning: Some(0),
                    },
                )
            });
            return self.respond(assoc, now, context_id, rsp, None);
        }
        let mut job = RetrieveJob {
            kind,
            context_id,
            message_id,
            sop_class_uid,
            priority,
            items: set.items,
            total,
            completed: 0,
            failed: 0,
            warning: 0,
            failed_uids: Vec::new(),
            awaiting: VecDeque::new(),
            sub: None,
            originator: None,
        };
        if let Some((ae, dest)) = destination {
            job.originator = Some((calling.as_str().to_owned(), message_id));
            match self.open_sub_association(assoc, now, calling, &ae, dest) {
                Ok(sub) => job.sub = Some(sub),
                Err(e) => {
                    return fail(
                        self,
                        assoc,
                        Status::MOVE_INVALID_DESTINATION_ADDRESS,
                        detail(e.to_string()),
                    );
                }
            }
        }
        self.jobs.push_back(Job::Retrieve(Box::new(job)));
    }
}

impl RetrieveJob {
    /// Advances the retrieve by one item, or says why it must wait.
    pub(super) fn step(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        cancelled: bool,
        outcomes: &mut Outcomes,
    ) -> Step {
        if self.awaiting.len() >= self.sub_operations_window(assoc) {
            return Step::Wait;
        }
        if let Some(sub) = &self.sub {
            match &sub.state {
                SubState::Connecting | SubState::Associating => return Step::Wait,
                SubState::Ready => {}
                SubState::Failed(why) => {
                    tracing::warn!(%why, "C-MOVE sub-association failed; remaining sub-operations fail");
                    let why = why.clone();
                    for (_, uid) in std::mem::take(&mut self.awaiting) {
                        self.fail_one(Some(uid));
                    }
                    // Every sub-operation not done fails (PS3.4 C.4.2.3.1: A702 if all did).
                    while self.remaining() > 0 {
                        self.failed += 1;
                    }
                    for item in self.items.by_ref().take(usize::from(self.total)) {
                        if let RetrieveItem::Instance(i) = item {
                            self.failed_uids.push(i.sop_instance_uid);
                        }
                    }
                    self.finish(assoc, now, outcomes, None, detail(why));
                    return Step::Finished;
                }
            }
        }
        if cancelled && !self.awaiting.is_empty() {
            // The sub-operations under way finish first; none is started.
            return Step::Wait;
        }
        if cancelled {
            tracing::info!(id = self.message_id, "retrieve cancelled");
            self.finish(
                assoc,
                now,
                outcomes,
                Some(Status::CANCEL),
                StatusDetail::default(),
            );
            return Step::Finished;
        }
        if self.remaining() == 0 {
            self.finish(assoc, now, outcomes, None, StatusDetail::default());
            return Step::Finished;
        }
        if usize::from(self.remaining()) <= self.awaiting.len() {
            // Every sub-operation is under way.
            return Step::Wait;
        }
        let item = match call_plain("retrieve handler's items", || self.items.next()) {
            Ok(item) => item,
            Err(failure) => {
                let status = match self.kind {
                    RetrieveKind::Get => Status::GET_HANDLER_FAILED,
                    RetrieveKind::Move => Status::MOVE_HANDLER_FAILED,
                };
                self.failed += self.remaining();
                self.finish(assoc, now, outcomes, Some(status), failure.detail());
                return Step::Finished;
            }
        };
        match item {
            None => {
                // Fewer items than announced: the rest failed.
                tracing::warn!(missing = self.remaining(), "retrieve handler ended early");
                self.failed += self.remaining();
                self.finish(assoc, now, outcomes, None, StatusDetail::default());
                Step::Finished
            }
            Some(RetrieveItem::Failed(uid)) => {
                self.fail_one(uid);
                self.send_pending(assoc, now);
                Step::Continue
            }
            Some(RetrieveItem::Reply(reply)) => {
                let (status, d) = resolve_reply(reply, self.service());
                if status.is_pending() {
                    // A pending result without a data set is a failed sub-operation.
                    tracing::warn!("retrieve handler gave a pending status without an instance");
                    self.fail_one(None);
                    self.send_pending(assoc, now);
                    return Step::Continue;
                }
                if status.is_failure() {
                    self.failed += self.remaining();
                }
                self.finish(assoc, now, outcomes, Some(status), d);
                Step::Finished
            }
            Some(RetrieveItem::Instance(instance)) => {
                self.start_store(assoc, now, instance);
                Step::Continue
            }
        }
    }

    /// Sends one C-STORE sub-operation, on the main association (C-GET) or the
    /// sub-association (C-MOVE).
    fn start_store(&mut self, assoc: &mut Association, now: Instant, instance: Instance) {
        let target: &mut Association = match &mut self.sub {
            Some(sub) => &mut sub.association,
            None => assoc,
        };
        let Some((ctx, ts)) = target
            .negotiated()
            .and_then(|n| storage_context(n, &instance.sop_class_uid))
        else {
            tracing::warn!(sop_class = %instance.sop_class_uid, uid = %instance.sop_instance_uid, "no storage context we may use as SCU; sub-operation failed");
            self.fail_one(Some(instance.sop_instance_uid));
            self.send_pending(assoc, now);
            return;
        };
        let data = if ts == instance.transfer_syntax {
            Ok(instance.data.clone())
        } else {
            transcode(&instance, &ts)
        };
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, uid = %instance.sop_instance_uid, "cannot transcode; sub-operation failed");
                self.fail_one(Some(instance.sop_instance_uid));
                self.send_pending(assoc, now);
                return;
            }
        };
        let (originator_ae, originator_id) = match &self.originator {
            Some((ae, id)) => (Some(ae.clone()), Some(*id)),
            None => (None, None),
        };
        let rq = Message::CStoreRq(CStoreRq {
            message_id: 0,
            affected_sop_class_uid: instance.sop_class_uid.clone(),
            affected_sop_instance_uid: instance.sop_instance_uid.clone(),
            priority: self.priority,
            move_originator_ae_title: originator_ae,
            move_originator_message_id: originator_id,
        });
        match target.send_request(now, ctx, rq, Some(data)) {
            Ok(id) => self.awaiting.push_back((id, instance.sop_instance_uid)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot send C-STORE sub-operation");
                self.fail_one(Some(instance.sop_instance_uid));
                self.send_pending(assoc, now);
            }
        }
    }

    /// How many C-STORE sub-operations of `job` may be under way at once: what the
    /// asynchronous operations window of the association they go on lets us invoke (0
    /// there is unlimited), at most [`SUB_OPERATIONS_IN_FLIGHT`]. Without a window
    /// negotiated, one.
    fn sub_operations_window(&self, assoc: &Association) -> usize {
        let target = self.sub.as_ref().map_or(assoc, |s| &s.association);
        match target.negotiated().map(|n| n.max_invoked_by_us()) {
            Some(0) => SUB_OPERATIONS_IN_FLIGHT,
            Some(n) => usize::from(n).min(SUB_OPERATIONS_IN_FLIGHT),
            None => 1,
        }
    }

    /// The C-STORE-RSP to sub-operation `id` arrived (one not under way is ignored).
    pub(super) fn store_finished(
        &mut self,
        assoc: &mut Association,
        now: Instant,
        id: MessageId,
        status: Status,
    ) {
        let Some(at) = self.awaiting.iter().position(|(a, _)| *a == id) else {
            return;
        };
        let Some((_, uid)) = self.awaiting.remove(at) else {
            return;
        };
        if status.is_success() {
            self.completed += 1;
        } else if status.is_warning() {
            self.warning += 1;
        } else {
            tracing::info!(status = %format_args!("0x{:04X}", status.0), %uid, "C-STORE sub-operation failed");
            self.fail_one(Some(uid));
        }
        self.send_pending(assoc, now);
    }

    fn send_pending(&self, assoc: &mut Association, now: Instant) {
        if self.remaining() == 0 {
            // The final response follows at once; PS3.4 asks pendings only while work remains.
            return;
        }
        let rsp = retrieve_rsp(
            self,
            Status::PENDING,
            self.counts(true),
            StatusDetail::default(),
        );
        outcome::send_pending(assoc, now, self.context_id, rsp, None);
    }

    /// Sends the final response: `status`, or the one the counts call for.
    fn finish(
        &self,
        assoc: &mut Association,
        now: Instant,
        outcomes: &mut Outcomes,
        status: Option<Status>,
        d: StatusDetail,
    ) {
        let status = status.unwrap_or(if self.failed == 0 && self.warning == 0 {
            Status::SUCCESS
        } else if self.failed > 0 && self.failed == self.total {
            Status::OUT_OF_RESOURCES_SUB_OPERATIONS
        } else {
            Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES
        });
        // Remaining only in a cancel's final response (PS3.4 C.4.2.3.1).
        let counts = self.counts(status.is_cancel());
        let identifier = if self.failed_uids.is_empty() {
            None
        } else {
            let mut obj = InMemDicomObject::new_empty();
            obj.put(DataElement::new(
                Tag(0x0008, 0x0058),
                VR::UI,
                PrimitiveValue::Strs(self.failed_uids.iter().cloned().collect()),
            ));
            let ts = assoc
                .negotiated()
                .and_then(|n| n.accepted_context(self.context_id))
                .and_then(|c| c.transfer_syntax.clone())
                .unwrap_or(uids::IMPLICIT_VR_LITTLE_ENDIAN);
            dataset::encode(&obj, ts.as_str()).ok()
        };
        tracing::info!(
            status = %format_args!("0x{:04X}", status.0),
            completed = self.completed,
            failed = self.failed,
            warning = self.warning,
            "retrieve finished"
        );
        let rsp = retrieve_rsp(self, status, counts, d);
        send_final(outcomes, assoc, now, self.context_id, rsp, identifier);
    }
}

/// What one step of a retrieve came to.
pub(super) enum Step {
    /// Nothing to do until a C-STORE-RSP or the sub-association moves.
    Wait,
    /// A sub-operation was started or counted; step again.
    Continue,
    /// The final response was sent.
    Finished,
}

fn retrieve_rsp(
    job: &RetrieveJob,
    status: Status,
    counts: SubOperations,
    d: StatusDetail,
) -> Message {
    let rsp = RetrieveRsp {
        message_id_being_responded_to: job.message_id,
        affected_sop_class_uid: Some(job.sop_class_uid.clone()),
        status,
        sub_operations: counts,
        detail: d,
    };
    match job.kind {
        RetrieveKind::Get => Message::CGetRsp(rsp),
        RetrieveKind::Move => Message::CMoveRsp(rsp),
    }
}

/// An accepted context for `sop_class` on which we may act as SCU, and its transfer syntax.
fn storage_context(n: &Negotiated, sop_class: &str) -> Option<(PresentationContextId, Uid)> {
    n.accepted()
        .filter(|c| c.abstract_syntax.as_str() == sop_class && n.local_is_scu(c))
        .find_map(|c| c.transfer_syntax.clone().map(|ts| (c.id, ts)))
}

fn transcode(instance: &Instance, to: &Uid) -> Result<Bytes, DataSetError> {
    let object = dataset::decode(&dimse::DataSet {
        transfer_syntax: instance.transfer_syntax.clone(),
        bytes: instance.data.clone(),
    })?;
    dataset::encode(&object, to.as_str())
}
