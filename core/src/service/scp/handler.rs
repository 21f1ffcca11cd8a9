//! Calling the user's handlers. A handler may return an error or panic; either way the
//! operation it serves answers a failure status and the association stays usable. Every
//! handler the core calls goes through [`call`] or [`call_plain`], here for the SCP and
//! also for the streamed store and the retrieve SCU's store handler, so each failure is
//! logged once, saying which handler and why. Which status it becomes is the caller's:
//! that differs by service and by side.

use std::any::Any;
use std::error::Error;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::reply::detail;
use crate::dimse::StatusDetail;
use crate::service::provider::HandlerError;

/// Why a handler gave no result: its error, or its panic. Already logged.
#[derive(Debug)]
pub(crate) struct HandlerFailure {
    /// The error's text, or the panic's message.
    text: String,
    panicked: bool,
    /// The error, or one of its sources, is an I/O error saying the disk or a quota is
    /// full.
    out_of_space: bool,
}

impl HandlerFailure {
    /// The detail to answer with: the error's text or `handler panicked: …` as the Error
    /// Comment, cut to fit an LO.
    pub(crate) fn detail(&self) -> StatusDetail {
        if self.out_of_space {
            return detail(format!("out of disk space: {}", self.text));
        }
        if self.panicked {
            detail(format!("handler panicked: {}", self.text))
        } else {
            detail(self.text.clone())
        }
    }

    /// Whether the handler ran out of disk space (or quota): an out-of-resources failure
    /// rather than the handler's.
    pub(crate) fn is_out_of_space(&self) -> bool {
        self.out_of_space
    }
}

/// Whether `e`, or an error it was caused by, is an I/O error for a full disk or quota.
fn out_of_space(e: &(dyn Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if matches!(
                io.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// Calls a user handler; an error or a panic becomes a [`HandlerFailure`], logged here.
/// `what` names the handler in the log line ("C-FIND handler", "store sink").
pub(crate) fn call<T>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, HandlerError>,
) -> Result<T, HandlerFailure> {
    call_plain(what, f)?.map_err(|e| {
        let text = e.to_string();
        tracing::warn!(error = %text, "{what} failed");
        HandlerFailure {
            text,
            panicked: false,
            out_of_space: out_of_space(e.as_ref()),
        }
    })
}

/// [`call`] for a handler that has no error to return, only a panic: the `next` of the
/// iterators a C-FIND or retrieve handler gives.
pub(crate) fn call_plain<T>(
    what: &'static str,
    f: impl FnOnce() -> T,
) -> Result<T, HandlerFailure> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let text = panic_text(payload.as_ref());
        tracing::error!(panic = %text, "{what} panicked");
        HandlerFailure {
            text,
            panicked: true,
            out_of_space: false,
        }
    })
}

/// The message a panic was started with, as far as it is text.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}
