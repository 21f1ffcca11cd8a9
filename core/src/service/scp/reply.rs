//! What goes into a response besides its status: a handler's explicit [`Reply`], checked
//! ([`resolve_reply`]); an Error Comment, cut to fit an LO (64 characters, [`detail`]);
//! and a detail or sub-operation counts put into a response built with
//! [`Message::response_with`].

use dicom_core::{PrimitiveValue, Tag};

use crate::dimse::{Message, Service, Status, StatusDetail, SubOperations};
use crate::service::provider::Reply;

/// An Error Comment, cut to at most 64 bytes on a character boundary.
pub(crate) fn detail(comment: impl Into<String>) -> StatusDetail {
    let mut text: String = comment.into();
    // Error Comment is LO: at most 64 characters.
    if text.len() > 64 {
        let mut end = 64;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    StatusDetail {
        error_comment: Some(text),
        ..StatusDetail::default()
    }
}

/// A handler's explicit reply, checked: the status and detail to send, or the
/// implementation-specific failure for a malformed reply.
pub(super) fn resolve_reply(reply: Reply, service: Service) -> (Status, StatusDetail) {
    let (code, mut d) = match reply {
        Reply::Status(code) => (code, StatusDetail::default()),
        Reply::DataSet(ds) => {
            let Some(code) = ds
                .get(Tag(0x0000, 0x0900))
                .and_then(|e| e.value().to_int::<u16>().ok())
            else {
                tracing::warn!("handler gave a status data set without (0000,0900)");
                return (
                    Status::HANDLER_STATUS_WITHOUT_STATUS_ELEMENT,
                    detail("status data set without Status (0000,0900)"),
                );
            };
            let comment = ds
                .get(Tag(0x0000, 0x0902))
                .and_then(|e| e.value().to_str().ok())
                .map(|s| s.trim().to_owned());
            let offending = ds
                .get(Tag(0x0000, 0x0901))
                .and_then(|e| match e.value().primitive() {
                    Some(PrimitiveValue::Tags(tags)) => Some(tags.to_vec()),
                    _ => None,
                });
            (
                code,
                StatusDetail {
                    offending_element: offending,
                    error_comment: comment,
                    error_id: None,
                },
            )
        }
    };
    let status = Status(code);
    if !status.is_valid_for(service) {
        tracing::warn!(
            code = format_args!("0x{code:04X}"),
            ?service,
            "handler gave a status not valid for the service"
        );
        d = detail(format!("handler status 0x{code:04X} is not valid"));
        return (Status::HANDLER_INVALID_STATUS, d);
    }
    (status, d)
}

/// `message` (a response) with `d` as its detail.
pub(crate) fn with_detail(message: Option<Message>, d: StatusDetail) -> Option<Message> {
    message.map(|m| match m {
        Message::CFindRsp(mut r) => {
            r.detail = d;
            Message::CFindRsp(r)
        }
        Message::CGetRsp(mut r) => {
            r.detail = d;
            Message::CGetRsp(r)
        }
        Message::CMoveRsp(mut r) => {
            r.detail = d;
            Message::CMoveRsp(r)
        }
        Message::CStoreRsp(mut r) => {
            r.detail = d;
            Message::CStoreRsp(r)
        }
        Message::CEchoRsp(mut r) => {
            r.detail = d;
            Message::CEchoRsp(r)
        }
        other => other,
    })
}

/// `message` (a C-GET or C-MOVE response) with `counts`.
pub(super) fn with_counts(message: Message, counts: SubOperations) -> Message {
    match message {
        Message::CGetRsp(mut r) => {
            r.sub_operations = counts;
            Message::CGetRsp(r)
        }
        Message::CMoveRsp(mut r) => {
            r.sub_operations = counts;
            Message::CMoveRsp(r)
        }
        other => other,
    }
}
