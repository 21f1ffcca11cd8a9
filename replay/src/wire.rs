//! A flow's byte streams cut into what the replay works with: whole PDUs on a timeline,
//! and per direction the units compared, a PDU other than P-DATA-TF or a whole DIMSE
//! message reassembled from P-DATA-TF fragments.

use dicomwire::dimse::{CommandSet, Message};
use dicomwire::pdu::{
    self, DecodeLimits, Decoded, PDU_HEADER_LEN, Pdu, PduHeader, PresentationContextId,
};

use crate::capture::{Direction, Flow, RecordKind};

/// Framing a recorded stream needs no limit of its own: the capture reader already bounded
/// how many bytes a direction holds.
const FRAMING_LIMITS: DecodeLimits = DecodeLimits {
    max_pdu_length: u32::MAX,
    max_associate_length: u32::MAX,
};

/// One thing on the timeline of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// When its last byte was seen, in microseconds since the flow began.
    pub(crate) t_us: u64,
    /// Who sent it.
    pub(crate) dir: Direction,
    /// Which PDU of its direction it is (0-based), for PDUs and broken bytes.
    pub(crate) pdu_index: usize,
    /// What it is.
    pub(crate) kind: ItemKind,
}

/// What an [`Item`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// One whole PDU, header included.
    Pdu(Vec<u8>),
    /// Bytes from which no PDU can be framed (an unknown type, a bad fixed length), as far
    /// as they had arrived; what follows in that direction is dropped.
    Unframed { bytes: Vec<u8>, error: String },
    /// The stream ended inside a PDU.
    Truncated(Vec<u8>),
    /// FIN.
    Eof,
    /// RST.
    Reset,
}

/// Cuts every direction of `flow` into PDUs, each placed at the time of the record that
/// completed it.
pub(crate) fn timeline(flow: &Flow) -> Vec<Item> {
    let mut items = Vec::new();
    let mut streams = [Splitter::default(), Splitter::default()];
    for record in &flow.records {
        let splitter = &mut streams[dir_index(record.dir)];
        match &record.kind {
            RecordKind::Data(bytes) => splitter.push(bytes, record.t_us, record.dir, &mut items),
            RecordKind::Eof | RecordKind::Reset => {
                splitter.finish(record.t_us, record.dir, &mut items);
                let kind = if record.kind == RecordKind::Eof {
                    ItemKind::Eof
                } else {
                    ItemKind::Reset
                };
                items.push(Item {
                    t_us: record.t_us,
                    dir: record.dir,
                    pdu_index: splitter.next_index,
                    kind,
                });
            }
        }
    }
    let end = flow.records.last().map_or(0, |r| r.t_us);
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        streams[dir_index(dir)].finish(end, dir, &mut items);
    }
    items
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

#[derive(Default)]
struct Splitter {
    buf: Vec<u8>,
    /// After bytes that frame no PDU, nothing more can be framed.
    dead: bool,
    next_index: usize,
}

impl Splitter {
    fn push(&mut self, bytes: &[u8], t_us: u64, dir: Direction, items: &mut Vec<Item>) {
        if self.dead {
            // Once framing is lost the rest means nothing to either side: a receiver
            // discards input after an invalid PDU.
            return;
        }
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            match PduHeader::check(&self.buf[start..], &FRAMING_LIMITS) {
                Ok(Some(header)) if self.buf.len() - start >= header.total_len() => {
                    let end = start + header.total_len();
                    items.push(Item {
                        t_us,
                        dir,
                        pdu_index: self.next_index,
                        kind: ItemKind::Pdu(self.buf[start..end].to_vec()),
                    });
                    self.next_index += 1;
                    start = end;
                }
                Ok(_) => break,
                Err(e) => {
                    items.push(Item {
                        t_us,
                        dir,
                        pdu_index: self.next_index,
                        kind: ItemKind::Unframed {
                            bytes: self.buf[start..].to_vec(),
                            error: e.to_string(),
                        },
                    });
                    self.next_index += 1;
                    self.dead = true;
                    self.buf.clear();
                    return;
                }
            }
        }
        self.buf.drain(..start);
    }

    fn finish(&mut self, t_us: u64, dir: Direction, items: &mut Vec<Item>) {
        if !self.buf.is_empty() {
            items.push(Item {
                t_us,
                dir,
                pdu_index: self.next_index,
                kind: ItemKind::Truncated(std::mem::take(&mut self.buf)),
            });
            self.next_index += 1;
        }
    }
}

/// A PDU decoded with its P-DATA-TF fragments copied out (the timeline owns the bytes).
pub(crate) fn decode_pdu(bytes: &[u8]) -> Result<Pdu<'_>, String> {
    match pdu::decode(bytes, &FRAMING_LIMITS) {
        Ok(Decoded::Complete { pdu, .. }) => Ok(pdu),
        Ok(Decoded::Incomplete { needed }) => Err(format!("incomplete PDU, {needed} bytes short")),
        Err(e) => Err(e.to_string()),
    }
}

/// The PDU-length field of a PDU's header.
pub(crate) fn pdu_length(bytes: &[u8]) -> usize {
    bytes.len().saturating_sub(PDU_HEADER_LEN)
}

/// What is compared: a PDU other than P-DATA-TF, or a whole DIMSE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A-ASSOCIATE-RQ/AC/RJ, A-RELEASE-RQ/RP or A-ABORT, owned.
    Control(Pdu<'static>),
    /// A DIMSE message: command set and, when it has one, its data set.
    Message(Box<DimseMessage>),
    /// Something that is neither: bytes that are no PDU, a command set that does not
    /// decode, fragments out of order. In words.
    Broken(String),
}

/// A DIMSE message as it went over the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DimseMessage {
    /// The presentation context of its fragments.
    pub(crate) context_id: PresentationContextId,
    /// The command set as decoded.
    pub(crate) command: CommandSet,
    /// The typed message, or why the command set is not one.
    pub(crate) message: Result<Message, String>,
    /// The data set bytes, when one followed.
    pub(crate) data: Option<Vec<u8>>,
}

/// A non-P-DATA PDU with its lifetime cut loose (those variants own everything).
pub(crate) fn owned_control(pdu: Pdu<'_>) -> Option<Pdu<'static>> {
    Some(match pdu {
        Pdu::AssociateRq(rq) => Pdu::AssociateRq(rq),
        Pdu::AssociateAc(ac) => Pdu::AssociateAc(ac),
        Pdu::AssociateRj(rj) => Pdu::AssociateRj(rj),
        Pdu::ReleaseRq => Pdu::ReleaseRq,
        Pdu::ReleaseRp => Pdu::ReleaseRp,
        Pdu::Abort(a) => Pdu::Abort(a),
        _ => return None,
    })
}

/// Reassembles one direction's P-DATA-TF fragments into DIMSE messages (PS3.7 9.3.1:
/// a command set, then its data set, one message at a time on one context).
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    rx: Rx,
}

#[derive(Debug, Default)]
enum Rx {
    #[default]
    Idle,
    Command {
        context_id: PresentationContextId,
        buf: Vec<u8>,
    },
    Data {
        context_id: PresentationContextId,
        command: Box<CommandSet>,
        buf: Vec<u8>,
    },
}

impl Assembler {
    /// The units one PDU completes.
    pub(crate) fn push_pdu(&mut self, bytes: &[u8]) -> Vec<Unit> {
        let pdu = match decode_pdu(bytes) {
            Ok(pdu) => pdu,
            Err(e) => return vec![Unit::Broken(format!("invalid PDU: {e}"))],
        };
        let Pdu::PData(pdata) = pdu else {
            return owned_control(pdu).map(Unit::Control).into_iter().collect();
        };
        let mut units = Vec::new();
        for pdv in &pdata.pdvs {
            let ctx = pdv.context_id;
            let rx = std::mem::take(&mut self.rx);
            self.rx = match (rx, pdv.header.is_command()) {
                (Rx::Idle, true) => Rx::Command {
                    context_id: ctx,
                    buf: pdv.data.to_vec(),
                },
                (
                    Rx::Command {
                        context_id,
                        mut buf,
                    },
                    true,
                ) if context_id == ctx => {
                    buf.extend_from_slice(pdv.data);
                    Rx::Command { context_id, buf }
                }
                (
                    Rx::Data {
                        context_id,
                        command,
                        mut buf,
                    },
                    false,
                ) if context_id == ctx => {
                    buf.extend_from_slice(pdv.data);
                    Rx::Data {
                        context_id,
                        command,
                        buf,
                    }
                }
                (Rx::Idle, false) => {
                    units.push(Unit::Broken(format!(
                        "data fragment on context {ctx} before any command"
                    )));
                    continue;
                }
                (_, _) => {
                    units.push(Unit::Broken(format!(
                        "{} fragment on context {ctx} out of order",
                        if pdv.header.is_command() {
                            "command"
                        } else {
                            "data"
                        }
                    )));
                    continue;
                }
            };
            if !pdv.header.is_last() {
                continue;
            }
            match std::mem::take(&mut self.rx) {
                Rx::Command { context_id, buf } => match CommandSet::decode(&buf) {
                    Ok(command) if command.has_data_set() => {
                        self.rx = Rx::Data {
                            context_id,
                            command: Box::new(command),
                            buf: Vec::new(),
                        };
                    }
                    Ok(command) => units.push(Unit::Message(message(context_id, command, None))),
                    Err(e) => units.push(Unit::Broken(format!("invalid command set: {e}"))),
                },
                Rx::Data {
                    context_id,
                    command,
                    buf,
                } => units.push(Unit::Message(message(context_id, *command, Some(buf)))),
                Rx::Idle => {}
            }
        }
        units
    }
}

fn message(
    context_id: PresentationContextId,
    command: CommandSet,
    data: Option<Vec<u8>>,
) -> Box<DimseMessage> {
    Box::new(DimseMessage {
        context_id,
        message: Message::from_command(&command).map_err(|e| e.to_string()),
        command,
        data,
    })
}

/// A unit of one direction with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    /// The timeline item that completed it.
    pub(crate) item: usize,
    /// The PDU of its direction that completed it (0-based).
    pub(crate) pdu_index: usize,
    /// When.
    pub(crate) t_us: u64,
    /// The unit.
    pub(crate) unit: Unit,
}

/// Every unit one direction sent, in order.
pub(crate) fn units(items: &[Item], dir: Direction) -> Vec<Placed> {
    let mut assembler = Assembler::default();
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate().filter(|(_, i)| i.dir == dir) {
        let found = match &item.kind {
            ItemKind::Pdu(bytes) => assembler.push_pdu(bytes),
            ItemKind::Unframed { error, .. } => vec![Unit::Broken(format!("not a PDU: {error}"))],
            ItemKind::Truncated(bytes) => vec![Unit::Broken(format!(
                "the stream ends inside a PDU ({} bytes)",
                bytes.len()
            ))],
            ItemKind::Eof | ItemKind::Reset => Vec::new(),
        };
        out.extend(found.into_iter().map(|unit| Placed {
            item: n,
            pdu_index: item.pdu_index,
            t_us: item.t_us,
            unit,
        }));
    }
    out
}
