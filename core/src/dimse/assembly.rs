//! Incoming: PDV fragments reassembled into DIMSE messages, with bounded memory.
//! Outgoing: messages fragmented into P-DATA-TF PDUs no larger than the peer accepts.

use bytes::{Bytes, BytesMut};

use super::command::CommandSet;
use super::message::{Message, MessageId};
use super::{DataSet, DimseConfig, DimseViolation, IncomingMessage};
use crate::pdu::{
    self, MessageControlHeader, PDV_HEADER_LEN, PduOut, Pdv, PresentationContextId, Uid,
};

/// What reassembly produced from one PDV.
#[derive(Debug)]
pub(crate) enum Assembled {
    /// Nothing complete yet.
    Nothing,
    /// A whole message (and its data set, if it has one).
    Message(IncomingMessage),
    /// Streaming mode: a C-STORE-RQ command; its data set follows as fragments.
    StoreStarted(IncomingMessage),
    /// Streaming mode: a fragment of the data set of the C-STORE-RQ `message_id`.
    StoreFragment {
        /// The context.
        context_id: PresentationContextId,
        /// The C-STORE-RQ's message ID.
        message_id: MessageId,
        /// The fragment.
        data: Bytes,
        /// The last fragment.
        last: bool,
    },
}

#[derive(Debug)]
enum Rx {
    Idle,
    Command {
        context_id: PresentationContextId,
        buf: Vec<u8>,
    },
    Data {
        context_id: PresentationContextId,
        message: Box<Message>,
        transfer_syntax: Uid,
        sink: DataSink,
    },
}

#[derive(Debug)]
enum DataSink {
    Buffered {
        buf: BytesMut,
        limit: usize,
    },
    Streamed {
        message_id: MessageId,
    },
    /// The data set of a message that was not reported: read and dropped.
    Discarded,
}

/// The incoming half: one message at a time, as PS3.7 9.3.1 requires (a command set then
/// its data set, all on one presentation context).
#[derive(Debug)]
pub(crate) struct Reassembler {
    rx: Rx,
    /// Where streamed fragments are copied; see [`streamed_fragment`].
    fragments: BytesMut,
}

/// Fragments of a streamed data set that one allocation of [`Reassembler::fragments`]
/// holds.
const FRAGMENTS_PER_BUFFER: usize = 4;

/// A streamed fragment's bytes, copied into `buffer`, which the reassembler keeps: once
/// the fragments handed out before are dropped, the same memory takes the next ones, so
/// a long C-STORE neither allocates nor faults in fresh pages for every PDV (a fresh
/// allocation per PDV, which the allocator trims back on free, cost a fifth of a C-GET
/// receiver's CPU in page faults). While earlier fragments are still held, a new buffer
/// is allocated and the old one freed with its last fragment, so memory stays bounded by
/// what the user holds plus one buffer of a few PDVs.
fn streamed_fragment(buffer: &mut BytesMut, data: &[u8]) -> Bytes {
    if buffer.capacity() < data.len() {
        buffer.reserve(data.len().saturating_mul(FRAGMENTS_PER_BUFFER));
    }
    buffer.extend_from_slice(data);
    buffer.split().freeze()
}

/// `part` as a slice of `source`, without a copy, when it lies within `source`'s memory.
fn slice_within(source: &Bytes, part: &[u8]) -> Option<Bytes> {
    let outer = source.as_ptr_range();
    let inner = part.as_ptr_range();
    (!part.is_empty() && outer.start <= inner.start && inner.end <= outer.end)
        .then(|| source.slice_ref(part))
}

impl Reassembler {
    pub(crate) fn new() -> Self {
        Self {
            rx: Rx::Idle,
            fragments: BytesMut::new(),
        }
    }

    /// Takes one PDV whose context was accepted with `transfer_syntax`. `source`, when
    /// given, is memory the PDV may lie in: a streamed fragment found whole in it is
    /// handed out as a slice of it rather than copied.
    pub(crate) fn receive(
        &mut self,
        pdv: &Pdv<'_>,
        source: Option<&Bytes>,
        transfer_syntax: &Uid,
        config: &DimseConfig,
    ) -> Result<Assembled, DimseViolation> {
        let ctx = pdv.context_id;
        let is_command = pdv.header.contains(MessageControlHeader::COMMAND);
        let last = pdv.header.contains(MessageControlHeader::LAST);
        match &mut self.rx {
            Rx::Idle if !is_command => Err(DimseViolation::DataBeforeCommand { context_id: ctx }),
            Rx::Idle => {
                self.rx = Rx::Command {
                    context_id: ctx,
                    buf: Vec::new(),
                };
                self.receive(pdv, source, transfer_syntax, config)
            }
            Rx::Command { context_id, buf } => {
                if *context_id != ctx {
                    return Err(DimseViolation::ContextSwitch {
                        expected: *context_id,
                        found: ctx,
                    });
                }
                if !is_command {
                    return Err(DimseViolation::DataInsideCommand { context_id: ctx });
                }
                if buf.len() + pdv.data.len() > config.max_command_length {
                    return Err(DimseViolation::TooLong {
                        what: "command set",
                        limit: config.max_command_length,
                    });
                }
                buf.extend_from_slice(pdv.data);
                if !last {
                    return Ok(Assembled::Nothing);
                }
                let command = CommandSet::decode(buf)?;
                let message = Message::from_command(&command)?;
                if !command.has_data_set() {
                    self.rx = Rx::Idle;
                    return Ok(Assembled::Message(IncomingMessage {
                        context_id: ctx,
                        message,
                        data: None,
                    }));
                }
                let streamed = config.stream_store_data && matches!(message, Message::CStoreRq(_));
                let started = if streamed {
                    let message_id = message.message_id().unwrap_or(0);
                    self.rx = Rx::Data {
                        context_id: ctx,
                        message: Box::new(message.clone()),
                        transfer_syntax: transfer_syntax.clone(),
                        sink: DataSink::Streamed { message_id },
                    };
                    Assembled::StoreStarted(IncomingMessage {
                        context_id: ctx,
                        message,
                        data: None,
                    })
                } else {
                    let limit = if matches!(message, Message::CStoreRq(_)) {
                        config.max_store_length
                    } else {
                        config.max_identifier_length
                    };
                    self.rx = Rx::Data {
                        context_id: ctx,
                        message: Box::new(message),
                        transfer_syntax: transfer_syntax.clone(),
                        sink: DataSink::Buffered {
                            buf: BytesMut::new(),
                            limit,
                        },
                    };
                    Assembled::Nothing
                };
                Ok(started)
            }
            Rx::Data {
                context_id, sink, ..
            } => {
                if *context_id != ctx {
                    return Err(DimseViolation::ContextSwitch {
                        expected: *context_id,
                        found: ctx,
                    });
                }
                if is_command {
                    return Err(DimseViolation::CommandInsideData { context_id: ctx });
                }
                match sink {
                    DataSink::Discarded => {
                        if last {
                            self.rx = Rx::Idle;
                        }
                        Ok(Assembled::Nothing)
                    }
                    DataSink::Streamed { message_id } => {
                        let out = Assembled::StoreFragment {
                            context_id: ctx,
                            message_id: *message_id,
                            data: match source.and_then(|s| slice_within(s, pdv.data)) {
                                Some(shared) => shared,
                                None => streamed_fragment(&mut self.fragments, pdv.data),
                            },
                            last,
                        };
                        if last {
                            self.rx = Rx::Idle;
                        }
                        Ok(out)
                    }
                    DataSink::Buffered { buf, limit } => {
                        if buf.len() + pdv.data.len() > *limit {
                            return Err(DimseViolation::TooLong {
                                what: "data set",
                                limit: *limit,
                            });
                        }
                        buf.extend_from_slice(pdv.data);
                        if !last {
                            return Ok(Assembled::Nothing);
                        }
                        let Rx::Data {
                            message,
                            transfer_syntax,
                            sink: DataSink::Buffered { buf, .. },
                            ..
                        } = std::mem::replace(&mut self.rx, Rx::Idle)
                        else {
                            unreachable!("matched above")
                        };
                        Ok(Assembled::Message(IncomingMessage {
                            context_id: ctx,
                            message: *message,
                            data: Some(DataSet {
                                transfer_syntax,
                                bytes: buf.freeze(),
                            }),
                        }))
                    }
                }
            }
        }
    }

    /// Drops the rest of the data set being received (of a message that was not
    /// reported), still checking its fragments' flags and context.
    pub(crate) fn discard_data(&mut self) {
        if let Rx::Data { sink, .. } = &mut self.rx {
            *sink = DataSink::Discarded;
        }
    }
}

/// A message waiting to be sent, fragmented lazily into the caller's buffer.
#[derive(Debug)]
pub(crate) struct OutgoingMessage {
    context_id: PresentationContextId,
    command: Vec<u8>,
    command_sent: usize,
    data: Option<Payload>,
    data_sent: u64,
    /// An empty data set still needs its one (empty, last) PDV.
    data_pdv_sent: bool,
}

/// The data set of a message we send.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Whole, in memory: written out by reference.
    Whole(Bytes),
    /// Read as it is sent, one P-DATA-TF's worth at a time, into `buffer`.
    Reading {
        source: DataSetReader,
        buffer: Vec<u8>,
    },
}

impl Payload {
    fn len(&self) -> u64 {
        match self {
            Self::Whole(b) => b.len() as u64,
            Self::Reading { source, .. } => source.len,
        }
    }
}

/// A data set sent as it is read (a C-STORE of a file, say), so that it is never held
/// whole in memory: its length, known before the first byte goes, and where its bytes
/// come from. The association reads exactly `len` bytes, one P-DATA-TF's worth each
/// time it transmits; a source that fails or ends early aborts the association (part of
/// the message has gone: nothing else can end it, PS3.8 9.3.5), with
/// [`Aborted::DataSetUnreadable`](crate::ul::Aborted::DataSetUnreadable).
///
/// ```
/// use dicomwire::dimse::DataSetReader;
/// let bytes = vec![0_u8; 1000];
/// let source = DataSetReader::new(std::io::Cursor::new(bytes), 1000);
/// assert_eq!(source.len(), 1000);
/// ```
pub struct DataSetReader {
    reader: Box<dyn std::io::Read + Send>,
    len: u64,
    /// A data set already in memory: sent by reference, not read.
    whole: Option<Bytes>,
}

impl DataSetReader {
    /// `len` bytes from `reader` (a file positioned at the data set, say).
    pub fn new(reader: impl std::io::Read + Send + 'static, len: u64) -> Self {
        Self {
            reader: Box::new(reader),
            len,
            whole: None,
        }
    }

    /// A data set already in memory: sent by reference, as
    /// [`Association::send_request`](crate::ul::Association::send_request) sends it.
    pub fn from_bytes(data: Bytes) -> Self {
        Self {
            reader: Box::new(std::io::empty()),
            len: data.len() as u64,
            whole: Some(data),
        }
    }

    /// What to queue: the bytes when it holds them, the reader otherwise.
    pub(crate) fn into_payload(mut self) -> Payload {
        match self.whole.take() {
            Some(bytes) => Payload::Whole(bytes),
            None => Payload::Reading {
                source: self,
                buffer: Vec::new(),
            },
        }
    }

    /// The data set's length.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Fills `buf` whole from the reader.
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let mut at = 0;
        while at < buf.len() {
            match self.reader.read(&mut buf[at..]) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the data set ended before its length",
                    ));
                }
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for DataSetReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataSetReader")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl OutgoingMessage {
    pub(crate) fn new(
        context_id: PresentationContextId,
        command: Vec<u8>,
        data: Option<Bytes>,
    ) -> Self {
        Self::with_payload(context_id, command, data.map(Payload::Whole))
    }

    pub(crate) fn with_payload(
        context_id: PresentationContextId,
        command: Vec<u8>,
        data: Option<Payload>,
    ) -> Self {
        Self {
            context_id,
            command,
            command_sent: 0,
            data,
            data_sent: 0,
            data_pdv_sent: false,
        }
    }

    /// Bytes still to go, fragment payloads only.
    pub(crate) fn remaining(&self) -> usize {
        let data = self.data.as_ref().map_or(0, |d| d.len() - self.data_sent);
        (self.command.len() - self.command_sent)
            .saturating_add(usize::try_from(data).unwrap_or(usize::MAX))
    }

    fn command_done(&self) -> bool {
        self.command_sent == self.command.len()
    }

    /// Whether every fragment was written.
    pub(crate) fn is_done(&self) -> bool {
        self.command_done()
            && self
                .data
                .as_ref()
                .is_none_or(|_| self.data_pdv_sent && self.remaining() == 0)
    }

    /// Appends one P-DATA-TF of at most `max_pdu_length` (its PDU-length field) to `out`;
    /// returns its length, header included.
    ///
    /// The command and the data set never share a PDV; the last command PDV and the first
    /// data PDV may share the PDU, so a small message is one write. Data set bytes go to
    /// `out` by reference where it takes them so ([`PduOut::put_shared`]); a data set
    /// being read is read first, so that a source that fails leaves `out` as it was.
    pub(crate) fn write_pdu<O: PduOut>(
        &mut self,
        out: &mut O,
        max_pdu_length: u32,
    ) -> std::io::Result<usize> {
        let max_body = max_pdu_length as usize;
        // What goes in this PDU: a piece of the command, then a piece of the data set.
        let mut body = 0;
        let command = (!self.command_done()).then(|| {
            let room = max_body - PDV_HEADER_LEN;
            let take = room.min(self.command.len() - self.command_sent);
            body += PDV_HEADER_LEN + take;
            self.command_sent..self.command_sent + take
        });
        let command_done = command.as_ref().is_none_or(|c| c.end == self.command.len());
        let data_sent = self.data_sent;
        let data = match &self.data {
            Some(data) if command_done => {
                let room = max_body.saturating_sub(body);
                let left = usize::try_from(data.len() - data_sent).unwrap_or(usize::MAX);
                // A data PDV needs its header and at least one byte, or be the empty last one.
                (room > PDV_HEADER_LEN || (room == PDV_HEADER_LEN && left == 0)).then(|| {
                    let take = (room - PDV_HEADER_LEN).min(left);
                    body += PDV_HEADER_LEN + take;
                    take
                })
            }
            _ => None,
        };
        if let (Some(take), Some(Payload::Reading { source, buffer })) = (data, &mut self.data) {
            buffer.resize(take, 0);
            source.fill(buffer)?;
        }
        let len = u32::try_from(body).unwrap_or(u32::MAX);
        let mut header = [0; pdu::PDU_HEADER_LEN];
        header[0] = pdu::PduType::PData.code();
        header[2..].copy_from_slice(&len.to_be_bytes());
        out.put(&header);
        if let Some(range) = command {
            let last = range.end == self.command.len();
            let flags = if last {
                MessageControlHeader::COMMAND | MessageControlHeader::LAST
            } else {
                MessageControlHeader::COMMAND
            };
            out.put(&pdv_header(self.context_id, flags, range.len()));
            out.put(&self.command[range.clone()]);
            self.command_sent = range.end;
        }
        if let (Some(take), Some(payload)) = (data, &self.data) {
            let end = data_sent + take as u64;
            let flags = if end == payload.len() {
                MessageControlHeader::LAST
            } else {
                MessageControlHeader::empty()
            };
            out.put(&pdv_header(self.context_id, flags, take));
            match payload {
                Payload::Whole(bytes) => {
                    let start = usize::try_from(data_sent).unwrap_or(usize::MAX);
                    out.put_shared(bytes, start..start + take);
                }
                Payload::Reading { buffer, .. } => out.put(buffer),
            }
            self.data_sent = end;
            self.data_pdv_sent = true;
        }
        Ok(pdu::PDU_HEADER_LEN + body)
    }
}

/// A PDV item's header: item length (the data and the control header's 2 bytes), context
/// ID, message control header.
fn pdv_header(
    ctx: PresentationContextId,
    header: MessageControlHeader,
    data_len: usize,
) -> [u8; PDV_HEADER_LEN] {
    let item_len = u32::try_from(data_len + 2).unwrap_or(u32::MAX);
    let mut out = [0; PDV_HEADER_LEN];
    out[..4].copy_from_slice(&item_len.to_be_bytes());
    out[4] = ctx.get();
    out[5] = header.bits();
    out
}
