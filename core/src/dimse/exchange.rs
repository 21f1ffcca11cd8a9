//! [`Exchange`]: the DIMSE side of one association (PS3.7 9.3, 10.1).
//!
//! It holds the reassembler of incoming PDVs, the message IDs outstanding in both
//! directions within the negotiated asynchronous operations window, and the raw and
//! streaming modes of [`DimseConfig`]. It knows no PDU framing and no upper-layer state:
//! the association hands it each P-DATA-TF it receives and each message its user sends,
//! and acts on what it gives back: [`Delivery`]s to report or send, a [`DimseViolation`]
//! to abort for, an [`OutgoingMessage`] to queue, or a [`DimseMisuse`] to refuse the call
//! with.

use std::collections::VecDeque;

use bytes::Bytes;

use super::assembly::{Assembled, OutgoingMessage, Payload, Reassembler};
use super::message::{CCancelRq, CommandField, Message, MessageId};
use super::operations::{Operations, Outstanding, fits};
use super::{DimseConfig, DimseMisuse, DimseViolation, IncomingMessage, Status};
use crate::pdu::{PData, PresentationContextId, Uid};

/// What the exchange needs to know of the association's negotiation (the upper layer's
/// `Negotiated` is one).
pub(crate) trait Agreement {
    /// The transfer syntax of `context_id`, if that context was accepted.
    fn transfer_syntax(&self, context_id: PresentationContextId) -> Option<&Uid>;
    /// Whether we may send requests on `context_id`: accepted, with us as its SCU.
    fn may_invoke(&self, context_id: PresentationContextId) -> bool;
    /// How many requests we may have outstanding at once (0: no limit).
    fn invoked_window(&self) -> u16;
    /// How many requests the peer may have outstanding at once (0: no limit).
    fn performed_window(&self) -> u16;
}

/// What a received P-DATA-TF gave, in order, for the association to act on.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// Raw mode ([`DimseConfig::raw_pdata`]): the P-DATA-TF goes to the user as it came.
    Raw,
    /// A whole message for the user: a request to perform, a response to one of ours, or
    /// a C-CANCEL of an operation we perform.
    Message(Box<IncomingMessage>),
    /// Streaming mode: a C-STORE-RQ whose data set follows as [`Delivery::StoreFragment`]s.
    StoreStarted(Box<IncomingMessage>),
    /// Streaming mode: one fragment of a C-STORE data set, in order.
    StoreFragment {
        /// The presentation context.
        context_id: PresentationContextId,
        /// The C-STORE-RQ's message ID.
        message_id: MessageId,
        /// The fragment.
        data: Bytes,
        /// Whether it is the last.
        last: bool,
    },
    /// A message to send without the user: the 0x0210 answer to a duplicate invocation.
    Reply(OutgoingMessage),
}

/// The DIMSE message exchange of one association: what came in, what is outstanding.
#[derive(Debug)]
pub(crate) struct Exchange {
    reassembler: Reassembler,
    ops: Operations,
    deliveries: VecDeque<Delivery>,
}

impl Exchange {
    pub(crate) fn new() -> Self {
        Self {
            reassembler: Reassembler::new(),
            ops: Operations::default(),
            deliveries: VecDeque::new(),
        }
    }

    /// How many requests we invoked wait for their final response.
    pub(crate) fn invoked_count(&self) -> usize {
        self.ops.invoked_count()
    }

    /// How many peer requests we perform and have not answered finally.
    pub(crate) fn performing_count(&self) -> usize {
        self.ops.performing_count()
    }

    // ----------------------------------------------------------------------------------
    // Incoming

    /// Takes one P-DATA-TF received in data transfer: raw PDVs for the user, or DIMSE
    /// reassembly and tracking. What it gives is taken with
    /// [`poll_delivery`](Self::poll_delivery). An `Err` means the peer broke the DIMSE
    /// rules and the association must abort; the deliveries before the violation stand,
    /// nothing behind it is looked at.
    ///
    /// `source`, when given, is memory the PDVs may lie in: streamed fragments found whole
    /// in it are slices of it rather than copies.
    pub(crate) fn handle_pdata<A: Agreement>(
        &mut self,
        pdata: &PData<'_>,
        agreed: Option<&A>,
        source: Option<&Bytes>,
        config: &DimseConfig,
    ) -> Result<(), DimseViolation> {
        if config.raw_pdata {
            self.deliveries.push_back(Delivery::Raw);
            return Ok(());
        }
        for pdv in &pdata.pdvs {
            let transfer_syntax = agreed
                .and_then(|a| a.transfer_syntax(pdv.context_id))
                .ok_or(DimseViolation::ContextNotAccepted(pdv.context_id))?;
            match self
                .reassembler
                .receive(pdv, source, transfer_syntax, config)?
            {
                Assembled::Nothing => {}
                Assembled::Message(m) => {
                    if let Some(m) = self.track(m, agreed)? {
                        self.deliveries.push_back(Delivery::Message(m));
                    }
                }
                Assembled::StoreStarted(m) => match self.track(m, agreed)? {
                    Some(m) => self.deliveries.push_back(Delivery::StoreStarted(m)),
                    // A dropped C-STORE-RQ (a duplicate ID) must not stream its data set
                    // to the user as if it belonged to the original.
                    None => self.reassembler.discard_data(),
                },
                Assembled::StoreFragment {
                    context_id,
                    message_id,
                    data,
                    last,
                } => self.deliveries.push_back(Delivery::StoreFragment {
                    context_id,
                    message_id,
                    data,
                    last,
                }),
            }
        }
        Ok(())
    }

    /// The next thing a P-DATA-TF gave.
    pub(crate) fn poll_delivery(&mut self) -> Option<Delivery> {
        self.deliveries.pop_front()
    }

    /// Tracks a whole incoming message against the outstanding operations: the message to
    /// report, or `None` when it is dropped or answered here.
    fn track<A: Agreement>(
        &mut self,
        m: IncomingMessage,
        agreed: Option<&A>,
    ) -> Result<Option<Box<IncomingMessage>>, DimseViolation> {
        tracing::debug!(message = %m.message, pc = m.context_id.get(), "DIMSE message received");
        if let Some(id) = m.message.message_id() {
            let limit = agreed.map_or(1, |a| a.performed_window());
            if !fits(self.ops.performing_count(), limit) {
                return Err(DimseViolation::WindowExceeded {
                    outstanding: self.ops.performing_count() + 1,
                    limit,
                });
            }
            let op = Outstanding {
                context_id: m.context_id,
                command: m.message.command_field(),
            };
            if !self.ops.perform(id, op) {
                // PS3.7 C.5.9: a request reusing an outstanding message ID.
                tracing::warn!(id, "duplicate invocation; answering 0x0210");
                if let Some(rsp) = m.message.response_with(Status::DUPLICATE_INVOCATION) {
                    if let Ok(command) = encode_command(&rsp, false) {
                        self.deliveries
                            .push_back(Delivery::Reply(OutgoingMessage::new(
                                m.context_id,
                                command,
                                None,
                            )));
                    }
                }
                return Ok(None);
            }
        } else if let Message::CCancelRq(c) = &m.message {
            if self
                .ops
                .performing(c.message_id_being_responded_to)
                .is_none()
            {
                tracing::debug!(
                    id = c.message_id_being_responded_to,
                    "C-CANCEL-RQ for an operation we do not perform; ignored"
                );
                return Ok(None);
            }
        } else if let (Some(id), Some(status)) = (m.message.responded_to(), m.message.status()) {
            if self.ops.invoked(id).is_none() {
                tracing::warn!(id, message = %m.message, "response to no outstanding request; ignored");
                return Ok(None);
            }
            if !status.is_pending() {
                self.ops.complete_invoked(id);
            }
        }
        Ok(Some(Box::new(m)))
    }

    // ----------------------------------------------------------------------------------
    // Outgoing: each call either refuses and changes nothing, or records the message and
    // returns it for the association to queue (which it then must).

    /// The message ID a request keeps rather than being given one: refused when the
    /// message has none or a request we invoked still holds it.
    pub(crate) fn kept_id(&self, message: &Message) -> Result<MessageId, DimseMisuse> {
        let id = message
            .message_id()
            .ok_or(DimseMisuse::WrongKind(message.name()))?;
        if self.ops.is_invoked(id) {
            return Err(DimseMisuse::MessageIdInUse(id));
        }
        Ok(id)
    }

    /// A request on a context where we may act as SCU, with its data set if the message
    /// has one, within the window: given the next free message ID (or `keep_id`) and
    /// recorded as invoked.
    pub(crate) fn request<A: Agreement>(
        &mut self,
        agreed: &A,
        context_id: PresentationContextId,
        mut message: Message,
        data: Option<Payload>,
        keep_id: Option<MessageId>,
    ) -> Result<(MessageId, OutgoingMessage), DimseMisuse> {
        if !message.is_request() {
            return Err(DimseMisuse::WrongKind(message.name()));
        }
        if !agreed.may_invoke(context_id) {
            return Err(DimseMisuse::ContextNotUsable {
                context_id,
                message: message.name(),
            });
        }
        let needs_data = !matches!(message, Message::CEchoRq(_));
        if needs_data != data.is_some() {
            return Err(DimseMisuse::DataSet {
                message: message.name(),
                expected: needs_data,
            });
        }
        let window = agreed.invoked_window();
        if !fits(self.ops.invoked_count(), window) {
            return Err(DimseMisuse::WindowFull(window));
        }
        let id = match keep_id {
            Some(id) => id,
            None => self.ops.next_id(),
        };
        message.set_message_id(id);
        let command = encode_command(&message, data.is_some())?;
        self.ops.invoke(
            id,
            Outstanding {
                context_id,
                command: message.command_field(),
            },
        );
        tracing::debug!(%message, pc = context_id.get(), "DIMSE message queued");
        Ok((id, OutgoingMessage::with_payload(context_id, command, data)))
    }

    /// A response to a request we perform, on the request's context, of the request's
    /// type. A final (non-pending) status ends the operation: the `bool` says so.
    pub(crate) fn respond(
        &mut self,
        context_id: PresentationContextId,
        message: Message,
        data: Option<Bytes>,
    ) -> Result<(OutgoingMessage, bool), DimseMisuse> {
        let (Some(id), Some(status)) = (message.responded_to(), message.status()) else {
            return Err(DimseMisuse::WrongKind(message.name()));
        };
        let op = self
            .ops
            .performing(id)
            .ok_or(DimseMisuse::UnknownOperation(id))?;
        if op.context_id != context_id {
            return Err(DimseMisuse::WrongContext {
                message_id: id,
                expected: op.context_id,
                found: context_id,
            });
        }
        if response_for(op.command) != Some(message.command_field()) {
            return Err(DimseMisuse::WrongKind(message.name()));
        }
        // PS3.7 9.1.2.1: a C-FIND-RSP carries an identifier with a pending status only.
        let takes_no_data = matches!(message, Message::CEchoRsp(_) | Message::CStoreRsp(_))
            || (matches!(message, Message::CFindRsp(_)) && !status.is_pending());
        if data.is_some() && takes_no_data {
            return Err(DimseMisuse::DataSet {
                message: message.name(),
                expected: false,
            });
        }
        let command = encode_command(&message, data.is_some())?;
        tracing::debug!(%message, pc = context_id.get(), "DIMSE message queued");
        let last = !status.is_pending();
        if last {
            self.ops.complete_performing(id);
        }
        Ok((OutgoingMessage::new(context_id, command, data), last))
    }

    /// A C-CANCEL-RQ for a C-FIND, C-GET or C-MOVE we invoked, on the request's context.
    /// The operation stays outstanding until its final response arrives.
    pub(crate) fn cancel(&mut self, message_id: MessageId) -> Result<OutgoingMessage, DimseMisuse> {
        let op = self
            .ops
            .invoked(message_id)
            .ok_or(DimseMisuse::UnknownOperation(message_id))?;
        let message = Message::CCancelRq(CCancelRq {
            message_id_being_responded_to: message_id,
        });
        let command = encode_command(&message, false)?;
        tracing::debug!(%message, pc = op.context_id.get(), "DIMSE message queued");
        Ok(OutgoingMessage::new(op.context_id, command, None))
    }
}

fn encode_command(message: &Message, has_data_set: bool) -> Result<Vec<u8>, DimseMisuse> {
    let mut command = Vec::new();
    message.to_command(has_data_set).encode(&mut command)?;
    Ok(command)
}

/// The response command field that answers a request's.
fn response_for(request: CommandField) -> Option<CommandField> {
    use CommandField as F;
    Some(match request {
        F::CEchoRq => F::CEchoRsp,
        F::CStoreRq => F::CStoreRsp,
        F::CFindRq => F::CFindRsp,
        F::CGetRq => F::CGetRsp,
        F::CMoveRq => F::CMoveRsp,
        _ => return None,
    })
}
