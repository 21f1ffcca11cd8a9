//! A streamed C-STORE's data set on its way to the store handler, for the SCP (C-STORE
//! SCP, C-MOVE destination) and the retrieve SCU (C-GET sub-operations) alike: the
//! request is checked (its SOP class is its context's, its SOP Instance UID a UID), the
//! handler is asked for a sink when the C-STORE-RQ starts, the data set's first bytes are
//! checked against the request (see [`check_prefix`]) before any of it reaches the
//! handler, each fragment goes to the sink (or is gathered for the handler's `store`
//! when it gave none), and a handler that fails or panics turns the rest into a failure
//! status. Which status, and what a finished sink's code means, is the caller's business.

use bytes::{Bytes, BytesMut};

use super::provider::{StoreHandler, StoreSink, StoreStart};
use super::scp::handler::{HandlerFailure, call};
use super::scp::reply::detail;
use super::storage::{PREFIX_LIMIT, Prefix, check_prefix, is_valid_uid};
use crate::dimse::{DataSet, Status, StatusDetail};
use crate::pdu::Uid;

/// Where a streamed C-STORE's data set goes while it arrives.
pub(super) enum StreamedStore {
    /// The store handler's sink, and the check of the data set's first bytes while it
    /// has not said yes.
    Sink {
        sink: Box<dyn StoreSink>,
        check: Option<PrefixCheck>,
    },
    /// Gathered for the store handler's `store` (it gave no sink), up to `limit` bytes,
    /// and checked like a sink's.
    Gathered {
        transfer_syntax: Uid,
        check: Option<PrefixCheck>,
        data_so_far: BytesMut,
        limit: usize,
    },
    /// Refused or failed: the rest is discarded, this status and detail answered.
    Failed(Status, StatusDetail),
}

/// What is left to do once the last fragment is in.
pub(super) enum StoreEnd {
    /// What the sink's `finish` gave.
    Finished(Result<u16, HandlerFailure>),
    /// The whole data set, checked, for the handler's `store`.
    Gathered(DataSet),
    /// The status and detail to answer.
    Failed(Status, StatusDetail),
}

/// The request's UIDs and the data set's first bytes while they do not yet say whether
/// they match.
pub(super) struct PrefixCheck {
    transfer_syntax: Uid,
    sop_class_uid: String,
    sop_instance_uid: String,
    /// The bytes so far, when the first fragments were too short to tell.
    seen: BytesMut,
}

impl PrefixCheck {
    fn new(transfer_syntax: &Uid, sop_class_uid: &str, sop_instance_uid: &str) -> Self {
        Self {
            transfer_syntax: transfer_syntax.clone(),
            sop_class_uid: sop_class_uid.trim_end_matches('\0').to_owned(),
            sop_instance_uid: sop_instance_uid.trim_end_matches('\0').to_owned(),
            seen: BytesMut::new(),
        }
    }

    fn of(start: &StoreStart<'_>) -> Self {
        Self::new(
            start.transfer_syntax,
            start.sop_class_uid,
            start.sop_instance_uid,
        )
    }

    /// Looks at the next fragment: `None` while undecided; a fragment that decides it
    /// alone is looked at in place, not copied.
    fn feed(&mut self, fragment: &[u8], last: bool) -> Option<Prefix> {
        let verdict = if self.seen.is_empty() {
            self.verdict(fragment, last)
        } else {
            let room = PREFIX_LIMIT.saturating_sub(self.seen.len());
            let taken = fragment.len().min(room);
            self.seen.extend_from_slice(&fragment[..taken]);
            let seen = std::mem::take(&mut self.seen);
            let verdict = self.verdict(&seen, last && taken == fragment.len());
            self.seen = seen;
            verdict
        };
        match verdict {
            Prefix::NeedMore if self.seen.is_empty() => {
                self.seen
                    .extend_from_slice(&fragment[..fragment.len().min(PREFIX_LIMIT)]);
                None
            }
            Prefix::NeedMore => None,
            decided => Some(decided),
        }
    }

    fn verdict(&self, data: &[u8], last: bool) -> Prefix {
        check_prefix(
            self.transfer_syntax.as_str(),
            &self.sop_class_uid,
            &self.sop_instance_uid,
            data,
            last,
        )
    }
}

/// The refusal for a data set whose first bytes say `prefix`, logged.
fn refused(prefix: Prefix) -> Option<StreamedStore> {
    match prefix {
        Prefix::Refused(status, why) => {
            tracing::info!(
                status = format_args!("0x{:04X}", status.0),
                %why,
                "C-STORE data set refused"
            );
            Some(StreamedStore::Failed(status, detail(why)))
        }
        Prefix::Matches | Prefix::NeedMore => None,
    }
}

impl StreamedStore {
    /// Checks the request `start` on a context for `abstract_syntax`, then asks `handler`
    /// where the instance goes; `failure` is the status if it refuses or panics. A data
    /// set gathered for the handler's `store` may be at most `limit` bytes
    /// ([`DimseConfig::max_store_length`](crate::dimse::DimseConfig)); past it the rest
    /// is discarded and 0xA700 (out of resources) answered.
    pub(super) fn begin(
        handler: &dyn StoreHandler,
        start: &StoreStart<'_>,
        abstract_syntax: &Uid,
        failure: Status,
        limit: usize,
    ) -> Self {
        if let Some((status, d)) =
            check_request(start.sop_class_uid, start.sop_instance_uid, abstract_syntax)
        {
            return Self::Failed(status, d);
        }
        match call("store handler", || handler.begin(start)) {
            Ok(Some(sink)) => Self::Sink {
                sink,
                check: Some(PrefixCheck::of(start)),
            },
            Ok(None) => Self::Gathered {
                transfer_syntax: start.transfer_syntax.clone(),
                check: Some(PrefixCheck::of(start)),
                data_so_far: BytesMut::new(),
                limit,
            },
            Err(f) => Self::failed(failure, &f),
        }
    }

    /// Takes the next fragment (`last` when it ends the data set); `failure` is the
    /// status if the sink fails or panics.
    pub(super) fn take(self, fragment: Bytes, last: bool, failure: Status) -> Self {
        match self {
            Self::Sink {
                mut sink,
                mut check,
            } => {
                if let Some(c) = check.as_mut() {
                    if let Some(verdict) = c.feed(&fragment, last) {
                        // Dropping the sink unfinished abandons what it wrote.
                        if let Some(refusal) = refused(verdict) {
                            return refusal;
                        }
                        check = None;
                    }
                }
                match call("store sink", || sink.write_bytes(fragment)) {
                    Ok(()) => Self::Sink { sink, check },
                    Err(f) => Self::failed(failure, &f),
                }
            }
            Self::Gathered {
                transfer_syntax,
                mut check,
                mut data_so_far,
                limit,
            } => {
                if let Some(c) = check.as_mut() {
                    if let Some(verdict) = c.feed(&fragment, last) {
                        if let Some(refusal) = refused(verdict) {
                            return refusal;
                        }
                        check = None;
                    }
                }
                if data_so_far.len().saturating_add(fragment.len()) > limit {
                    tracing::warn!(
                        limit,
                        "C-STORE data set longer than the store limit; discarding it"
                    );
                    return Self::Failed(
                        Status::OUT_OF_RESOURCES,
                        detail(format!("data set over the {limit}-byte store limit")),
                    );
                }
                data_so_far.extend_from_slice(&fragment);
                Self::Gathered {
                    transfer_syntax,
                    check,
                    data_so_far,
                    limit,
                }
            }
            failed @ Self::Failed(..) => failed,
        }
    }

    /// A handler's failure: 0xA700 (out of resources) when the disk or a quota is full,
    /// `failure` otherwise.
    fn failed(failure: Status, f: &HandlerFailure) -> Self {
        let status = if f.is_out_of_space() {
            Status::OUT_OF_RESOURCES
        } else {
            failure
        };
        Self::Failed(status, f.detail())
    }

    /// The last fragment is in: the sink finished, or the data set gathered and checked.
    pub(super) fn end(self) -> StoreEnd {
        match self {
            // The check never decided: no fragment said it was the last.
            Self::Sink { check: Some(_), .. } | Self::Gathered { check: Some(_), .. } => {
                StoreEnd::Failed(
                    Status::STORE_CANNOT_UNDERSTAND,
                    detail("data set ends too early"),
                )
            }
            Self::Sink { sink, check: None } => {
                StoreEnd::Finished(call("store sink", || sink.finish()))
            }
            Self::Gathered {
                transfer_syntax,
                data_so_far,
                ..
            } => StoreEnd::Gathered(DataSet {
                transfer_syntax,
                bytes: data_so_far.freeze(),
            }),
            Self::Failed(status, d) => StoreEnd::Failed(status, d),
        }
    }
}

/// What the command alone refuses: a SOP class that is not its context's (0x0122), a
/// SOP Instance UID that is no UID (0x0117, so that it never names a file).
fn check_request(
    sop_class_uid: &str,
    sop_instance_uid: &str,
    abstract_syntax: &Uid,
) -> Option<(Status, StatusDetail)> {
    let class = sop_class_uid.trim_end_matches('\0');
    let instance = sop_instance_uid.trim_end_matches('\0');
    let (status, why) = if class != abstract_syntax.as_str() {
        (
            Status::SOP_CLASS_NOT_SUPPORTED,
            format!("SOP class {class} is not its context's {abstract_syntax}"),
        )
    } else if !is_valid_uid(instance) {
        (
            Status::INVALID_SOP_INSTANCE,
            format!("SOP Instance UID {instance:?} is not a valid UID"),
        )
    } else {
        return None;
    };
    tracing::info!(status = format_args!("0x{:04X}", status.0), %why, "C-STORE-RQ refused");
    Some((status, detail(why)))
}

/// The checks of a streamed C-STORE for one whose data set came whole with its request
/// `rq` on a context for `abstract_syntax`: the refusal, if any.
pub(super) fn check_whole(
    rq: &crate::dimse::CStoreRq,
    abstract_syntax: &Uid,
    data: &DataSet,
) -> Option<(Status, StatusDetail)> {
    let (class, instance) = (&rq.affected_sop_class_uid, &rq.affected_sop_instance_uid);
    check_request(class, instance, abstract_syntax).or_else(|| {
        let check = PrefixCheck::new(&data.transfer_syntax, class, instance);
        match refused(check.verdict(&data.bytes, true)) {
            Some(StreamedStore::Failed(status, d)) => Some((status, d)),
            _ => None,
        }
    })
}
