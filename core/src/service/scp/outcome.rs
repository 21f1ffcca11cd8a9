//! What the operator hears of each operation the SCP performed: an [`OperationOutcome`]
//! per request it answered finally, kept for [`Scp::poll_outcome`](super::Scp::poll_outcome).
//! Every final response the SCP sends leaves through [`send_final`], which reads the
//! outcome off the response itself, so no service can answer without one and an outcome
//! never says other than what the peer was told. Pending responses leave through
//! [`send_pending`] and give none.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::dimse::{CommandField, Message, MessageId, Status, StatusDetail, SubOperations};
use crate::pdu::PresentationContextId;
use crate::ul::Association;

/// How many outcomes wait for [`Scp::poll_outcome`](super::Scp::poll_outcome) at most (its
/// documentation states the number).
const MAX_OUTCOMES: usize = 64;

/// What an operation the SCP performed ended with: one per request, when its final
/// response is queued.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OperationOutcome {
    /// The request's presentation context.
    pub context_id: PresentationContextId,
    /// The request's message ID.
    pub message_id: MessageId,
    /// The request's command (C-ECHO-RQ, C-FIND-RQ, C-GET-RQ, C-MOVE-RQ, C-STORE-RQ).
    pub command: CommandField,
    /// The Affected SOP Class UID of the request.
    pub sop_class_uid: String,
    /// The final status sent.
    pub status: Status,
    /// C-GET / C-MOVE: the counts the final response carried (each `None` when it carried
    /// none, as for a request refused before its sub-operations were counted). `None` for
    /// the other commands.
    pub sub_operations: Option<SubOperations>,
    /// The Error Comment sent, if any.
    pub error_comment: Option<String>,
}

impl OperationOutcome {
    /// The outcome `response` tells of, if it is a final response.
    fn of(context_id: PresentationContextId, response: &Message) -> Option<Self> {
        let (command, sub_operations, detail): (_, _, &StatusDetail) = match response {
            Message::CEchoRsp(r) => (CommandField::CEchoRq, None, &r.detail),
            Message::CFindRsp(r) => (CommandField::CFindRq, None, &r.detail),
            Message::CGetRsp(r) => (CommandField::CGetRq, Some(r.sub_operations), &r.detail),
            Message::CMoveRsp(r) => (CommandField::CMoveRq, Some(r.sub_operations), &r.detail),
            Message::CStoreRsp(r) => (CommandField::CStoreRq, None, &r.detail),
            _ => return None,
        };
        let status = response.status()?;
        if status.is_pending() {
            return None;
        }
        Some(Self {
            context_id,
            message_id: response.responded_to()?,
            command,
            sop_class_uid: response
                .affected_sop_class_uid()
                .unwrap_or_default()
                .to_owned(),
            status,
            sub_operations,
            error_comment: detail.error_comment.clone(),
        })
    }
}

/// The outcomes not taken yet, oldest first, at most [`MAX_OUTCOMES`].
#[derive(Debug, Default)]
pub(super) struct Outcomes(VecDeque<OperationOutcome>);

impl Outcomes {
    fn push(&mut self, outcome: OperationOutcome) {
        if self.0.len() >= MAX_OUTCOMES {
            if let Some(dropped) = self.0.pop_front() {
                tracing::debug!(
                    message_id = dropped.message_id,
                    status = %format_args!("0x{:04X}", dropped.status.0),
                    "operation outcome not taken; dropped"
                );
            }
        }
        self.0.push_back(outcome);
    }

    /// The oldest outcome not taken yet.
    pub(super) fn pop(&mut self) -> Option<OperationOutcome> {
        self.0.pop_front()
    }
}

/// Queues the final response to a request and records its outcome. The only way a final
/// response leaves the SCP.
pub(super) fn send_final(
    outcomes: &mut Outcomes,
    assoc: &mut Association,
    now: Instant,
    context_id: PresentationContextId,
    response: Message,
    data: Option<Bytes>,
) {
    let outcome = OperationOutcome::of(context_id, &response);
    debug_assert!(outcome.is_some(), "not a final response: {response}");
    match assoc.send_response(now, context_id, response, data) {
        Ok(()) => {
            if let Some(outcome) = outcome {
                outcomes.push(outcome);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot send final response"),
    }
}

/// Queues a pending response (C-FIND with its identifier, C-GET or C-MOVE with its counts).
pub(super) fn send_pending(
    assoc: &mut Association,
    now: Instant,
    context_id: PresentationContextId,
    response: Message,
    data: Option<Bytes>,
) {
    debug_assert!(
        response.status().is_some_and(Status::is_pending),
        "not a pending response: {response}"
    );
    if let Err(e) = assoc.send_response(now, context_id, response, data) {
        tracing::warn!(error = %e, "cannot send pending response");
    }
}
