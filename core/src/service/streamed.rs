//! A streamed C-STORE's data set on its way to the store handler, for the SCP (C-STORE
//! SCP, C-MOVE destination) and the retrieve SCU (C-GET sub-operations) alike: the
//! handler is asked for a sink when the C-STORE-RQ starts, each fragment goes to it (or
//! is gathered for the handler's `store` when it gave none), and a handler that fails or
//! panics turns the rest into a failure status. Which status, and what a finished sink's
//! code means, is the caller's business.

use bytes::{Bytes, BytesMut};

use super::provider::{StoreHandler, StoreSink, StoreStart};
use super::scp::handler::{HandlerFailure, call};
use crate::dimse::{DataSet, Status};

/// Where a streamed C-STORE's data set goes while it arrives.
pub(super) enum StreamedStore {
    /// The store handler's sink.
    Sink(Box<dyn StoreSink>),
    /// Gathered for the store handler's `store` (it gave no sink), up to `limit` bytes.
    Gathered {
        transfer_syntax: crate::pdu::Uid,
        data_so_far: BytesMut,
        limit: usize,
    },
    /// Refused or failed: the rest is discarded, this status answered.
    Failed(Status),
}

/// What is left to do once the last fragment is in.
pub(super) enum StoreEnd {
    /// What the sink's `finish` gave.
    Finished(Result<u16, HandlerFailure>),
    /// The whole data set, for the handler's `store`.
    Gathered(DataSet),
    /// The status to answer.
    Failed(Status),
}

impl StreamedStore {
    /// Asks `handler` where the instance `start` describes goes; `failure` is the status
    /// if it refuses or panics. A data set gathered for the handler's `store` may be at
    /// most `limit` bytes ([`DimseConfig::max_store_length`](crate::dimse::DimseConfig));
    /// past it the rest is discarded and 0xA700 (out of resources) answered.
    pub(super) fn begin(
        handler: &dyn StoreHandler,
        start: &StoreStart<'_>,
        failure: Status,
        limit: usize,
    ) -> Self {
        match call("store handler", || handler.begin(start)) {
            Ok(Some(sink)) => Self::Sink(sink),
            Ok(None) => Self::Gathered {
                transfer_syntax: start.transfer_syntax.clone(),
                data_so_far: BytesMut::new(),
                limit,
            },
            Err(_) => Self::Failed(failure),
        }
    }

    /// Takes the next fragment; `failure` is the status if the sink fails or panics.
    pub(super) fn take(self, fragment: Bytes, failure: Status) -> Self {
        match self {
            Self::Sink(mut sink) => match call("store sink", || sink.write_bytes(fragment)) {
                Ok(()) => Self::Sink(sink),
                Err(_) => Self::Failed(failure),
            },
            Self::Gathered {
                transfer_syntax,
                mut data_so_far,
                limit,
            } => {
                if data_so_far.len().saturating_add(fragment.len()) > limit {
                    tracing::warn!(
                        limit,
                        "C-STORE data set longer than the store limit; discarding it"
                    );
                    return Self::Failed(Status::OUT_OF_RESOURCES);
                }
                data_so_far.extend_from_slice(&fragment);
                Self::Gathered {
                    transfer_syntax,
                    data_so_far,
                    limit,
                }
            }
            failed @ Self::Failed(_) => failed,
        }
    }

    /// The last fragment is in: the sink finished, or the data set gathered.
    pub(super) fn end(self) -> StoreEnd {
        match self {
            Self::Sink(sink) => StoreEnd::Finished(call("store sink", || sink.finish())),
            Self::Gathered {
                transfer_syntax,
                data_so_far,
                ..
            } => StoreEnd::Gathered(DataSet {
                transfer_syntax,
                bytes: data_so_far.freeze(),
            }),
            Self::Failed(status) => StoreEnd::Failed(status),
        }
    }
}
