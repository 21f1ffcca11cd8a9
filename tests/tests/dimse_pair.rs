//! The DIMSE layer of two associations talking to each other (PS3.7 9.3, PS3.8 9.3.5),
//! with DIMSE on (`AssociationConfig::default()`).
//!
//! - C-ECHO end to end under every chunking of the byte streams;
//! - fragmentation of a C-STORE at maximum PDU lengths 0 (no limit: our cap), 7 (the
//!   least that carries a byte), 16 KiB and 1 MiB, with data sets of 0 bytes, 1 byte,
//!   exactly one PDU, one byte more and 1 MiB, received buffered and streamed;
//! - the limits on what we buffer, and every DIMSE violation a peer can commit, each an
//!   A-ABORT (AA-1, source 0) and `Aborted::Dimse`;
//! - message IDs, matching of responses, pending responses, C-CANCEL, duplicate IDs and
//!   the asynchronous operations window on both sides, and API misuse that changes
//!   nothing.

use std::time::Instant;

use bytes::Bytes;
use dicom_core::Tag;
use dicomwire::dimse::{
    CCancelRq, CEchoRq, CEchoRsp, CFindRq, CFindRsp, CStoreRq, CommandError, CommandField,
    CommandSet, DimseConfig, DimseMisuse, DimseViolation, IncomingMessage, Message, MessageError,
    MessageId, Priority, Status, StatusDetail,
};
use dicomwire::pdu::{
    self, AsyncOperationsWindow, DecodeLimits, Decoded, MessageControlHeader, PData, Pdu, PduType,
    Pdv, PresentationContextId, Uid,
};
use dicomwire::ul::{
    Aborted, AcceptOptions, AcceptorPolicy, ApiMisuse, Association, AssociationConfig,
    AssociationRequest, Event, ProposedContext, ReadBuffers, SendQueue, SupportedSyntax,
};
use dicomwire_tests::pair::{
    Chunking, DimseEvent, IMPLICIT_VR_LE, Pair, Side, VERIFICATION, ae, for_all_chunkings,
};

const MWL_FIND: Uid = Uid::from_static("1.2.840.10008.5.1.4.31");
const CT_IMAGE: Uid = Uid::from_static("1.2.840.10008.5.1.4.1.1.2");
/// An abstract syntax our acceptor does not support: its context is rejected.
const UNSUPPORTED: Uid = Uid::from_static("1.2.3.4.5");

const CMD: MessageControlHeader = MessageControlHeader::COMMAND;
const CMD_LAST: MessageControlHeader =
    MessageControlHeader::COMMAND.union(MessageControlHeader::LAST);
const DATA: MessageControlHeader = MessageControlHeader::empty();
const DATA_LAST: MessageControlHeader = MessageControlHeader::LAST;

/// The A-ABORT of AA-1: source 0 (service user), reason 0.
const USER_ABORT: [u8; 10] = [0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00];

/// The C-ECHO-RQ DCMTK's echoscu sends (captures/echo_dcmtk), message ID 1.
const DCMTK_ECHO_RQ: &str = "0000000004000000380000000000020012000000312e322e3834302e31303030382e\
    312e3100000000010200000030000000100102000000010000000008020000000101";

fn pc(id: u8) -> PresentationContextId {
    PresentationContextId::new(id).expect("an odd id")
}

/// pc1 Verification, pc3 MWL FIND, pc5 CT Image Storage, pc7 an unsupported SOP class
/// (rejected).
fn request(window: Option<u16>) -> AssociationRequest {
    let mut request = AssociationRequest::new(ae("SCU"), ae("SCP"));
    for uid in [VERIFICATION, MWL_FIND, CT_IMAGE, UNSUPPORTED] {
        request = request.with_context(ProposedContext::new(uid, vec![IMPLICIT_VR_LE]));
    }
    request.async_operations_window = window.map(|n| AsyncOperationsWindow {
        max_operations_invoked: n,
        max_operations_performed: n,
    });
    request
}

fn policy(window: Option<u16>) -> AcceptorPolicy {
    AcceptorPolicy {
        abstract_syntaxes: [VERIFICATION, MWL_FIND, CT_IMAGE]
            .into_iter()
            .map(|uid| SupportedSyntax::new(uid, vec![IMPLICIT_VR_LE]))
            .collect(),
        async_operations_window: window.map(|n| AsyncOperationsWindow {
            max_operations_invoked: n,
            max_operations_performed: n,
        }),
        ..AcceptorPolicy::default()
    }
}

/// An established pair with DIMSE on and the acceptor configured by `acceptor`.
fn pair_with(
    chunking: Chunking,
    window: Option<u16>,
    acceptor: impl FnOnce(&mut DimseConfig),
) -> Pair {
    let mut acceptor_config = AssociationConfig::default();
    acceptor(&mut acceptor_config.dimse);
    let mut pair = Pair::with_configs(
        chunking,
        AssociationConfig::default(),
        acceptor_config,
        request(window),
        policy(window),
    );
    pair.drive();
    assert_eq!(
        pair.events(Side::Requestor),
        ["Established(3 accepted)"],
        "{pair:?}"
    );
    pair
}

fn pair() -> Pair {
    pair_with(Chunking::Whole, None, |_| {})
}

fn echo() -> Message {
    Message::CEchoRq(CEchoRq {
        message_id: 0, // allocated by send_request
        affected_sop_class_uid: VERIFICATION.to_string(),
    })
}

fn find() -> Message {
    Message::CFindRq(CFindRq {
        message_id: 0,
        affected_sop_class_uid: MWL_FIND.to_string(),
        priority: Priority::Medium,
    })
}

fn store() -> Message {
    Message::CStoreRq(CStoreRq {
        message_id: 0,
        affected_sop_class_uid: CT_IMAGE.to_string(),
        affected_sop_instance_uid: "1.2.3.4.5.6.7.8.9".to_owned(),
        priority: Priority::Medium,
        move_originator_ae_title: None,
        move_originator_message_id: None,
    })
}

/// `message` as it goes on the wire, with `id` where a request's message ID goes.
fn with_id(message: &Message, id: MessageId) -> Message {
    match message.clone() {
        Message::CEchoRq(m) => Message::CEchoRq(CEchoRq {
            message_id: id,
            ..m
        }),
        Message::CFindRq(m) => Message::CFindRq(CFindRq {
            message_id: id,
            ..m
        }),
        Message::CStoreRq(m) => Message::CStoreRq(CStoreRq {
            message_id: id,
            ..m
        }),
        other => other,
    }
}

fn command(message: &Message, has_data: bool) -> Vec<u8> {
    let mut out = Vec::new();
    message
        .to_command(has_data)
        .encode(&mut out)
        .expect("encodes");
    out
}

/// A P-DATA-TF with these PDVs.
fn pdata(pdvs: &[(u8, MessageControlHeader, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    Pdu::PData(PData::new(
        pdvs.iter()
            .map(|(id, header, data)| Pdv {
                context_id: pc(*id),
                header: *header,
                data,
            })
            .collect(),
    ))
    .encode(&mut out)
    .expect("encodes");
    out
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The messages `side` received, as `(context, message, data length)`.
fn received(pair: &Pair, side: Side) -> Vec<(u8, Message, Option<usize>)> {
    pair.messages(side)
        .into_iter()
        .map(|m| {
            (
                m.context_id.get(),
                m.message.clone(),
                m.data.as_ref().map(|d| d.bytes.len()),
            )
        })
        .collect()
}

fn send_request(
    pair: &mut Pair,
    side: Side,
    id: u8,
    message: Message,
    data: Option<Vec<u8>>,
) -> Result<MessageId, ApiMisuse> {
    pair.call(side, |a, now| {
        a.send_request(now, pc(id), message, data.map(Into::into))
    })
}

fn send_response(
    pair: &mut Pair,
    side: Side,
    id: u8,
    message: Message,
    data: Option<Vec<u8>>,
) -> Result<(), ApiMisuse> {
    pair.call(side, |a, now| {
        a.send_response(now, pc(id), message, data.map(Into::into))
    })
}

fn echo_rsp(id: MessageId, status: Status) -> Message {
    Message::CEchoRsp(CEchoRsp {
        message_id_being_responded_to: id,
        affected_sop_class_uid: Some(VERIFICATION.to_string()),
        status,
        detail: StatusDetail::default(),
    })
}

fn find_rsp(id: MessageId, status: Status) -> Message {
    Message::CFindRsp(CFindRsp {
        message_id_being_responded_to: id,
        affected_sop_class_uid: Some(MWL_FIND.to_string()),
        status,
        detail: StatusDetail::default(),
    })
}

// ---------------------------------------------------------------------------------------
// C-ECHO end to end

#[test]
fn c_echo_end_to_end_under_every_chunking() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = pair_with(chunking, None, |_| {});
        let id = send_request(&mut pair, Side::Requestor, 1, echo(), None).expect("sent");
        assert_eq!(id, 1);
        assert_eq!(pair.requestor.outstanding_requests(), 1);
        pair.drive();
        assert_eq!(
            received(&pair, Side::Acceptor),
            [(1, with_id(&echo(), 1), None)]
        );
        assert_eq!(pair.acceptor.operations_in_progress(), 1);
        let rq = pair.messages(Side::Acceptor)[0].message.clone();
        let rsp = rq.response_with(Status::SUCCESS).expect("a request");
        send_response(&mut pair, Side::Acceptor, 1, rsp, None).expect("sent");
        assert_eq!(pair.acceptor.operations_in_progress(), 0);
        pair.drive();
        assert_eq!(
            received(&pair, Side::Requestor),
            [(1, echo_rsp(1, Status::SUCCESS), None)]
        );
        assert_eq!(pair.requestor.outstanding_requests(), 0);
        pair.release(Side::Requestor).expect("release");
        pair.drive();
        assert_eq!(
            pair.events(Side::Requestor).last().map(String::as_str),
            Some("Closed")
        );
        pair
    });
    // Our C-ECHO-RQ is byte for byte DCMTK's, in one P-DATA-TF of one PDV.
    let sent = pair.sent_bytes(Side::Requestor);
    let echo_pdu = sent
        .iter()
        .find(|b| b[0] == PduType::PData.code())
        .expect("a P-DATA-TF");
    assert_eq!(echo_pdu[..6], [0x04, 0x00, 0x00, 0x00, 0x00, 0x4A]);
    assert_eq!(echo_pdu[10..12], [0x01, 0x03]); // pc1, command + last
    assert_eq!(echo_pdu[12..], hex(DCMTK_ECHO_RQ));
    assert!(
        pair.events(Side::Acceptor)
            .contains(&"Message(pc1 C-ECHO-RQ id=1)".to_owned()),
        "{pair:?}"
    );
    assert!(
        pair.events(Side::Requestor)
            .contains(&"Message(pc1 C-ECHO-RSP responding-to=1 status=0x0000)".to_owned()),
        "{pair:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Fragmentation

/// Two associations joined directly, without the pair harness: the fragmentation matrix
/// moves up to a million PDUs, which the harness would log one by one.
struct Link {
    rq: Association,
    ac: Association,
    now: Instant,
}

/// Our requestor's cap when the peer announces no limit, chosen unlike any other limit.
const OUR_CAP: u32 = 40_000;

impl Link {
    /// Established, with the acceptor announcing `max_pdu` (0: the A-ASSOCIATE-AC is
    /// rewritten on the way to say 0, "no limit", which our acceptor never says).
    fn new(max_pdu: u32, streaming: bool) -> Self {
        let now = Instant::now();
        let mut rq_config = AssociationConfig::default();
        let mut ac_config = AssociationConfig::default();
        if max_pdu == 0 {
            rq_config.max_send_pdu_length = OUR_CAP;
        } else {
            ac_config.max_pdu_length = max_pdu;
        }
        ac_config.dimse.stream_store_data = streaming;
        let mut rq = Association::requestor(now, rq_config, request(None)).expect("request");
        rq.handle_transport_connected(now).expect("connected");
        let mut ac = Association::acceptor(now, ac_config, policy(None).into());
        let mut wire = Vec::new();
        while rq.poll_transmit(now, &mut wire).is_some() {}
        assert_eq!(ac.handle_input(now, &wire), Ok(wire.len()));
        let Some(Event::AssociationRequested(incoming)) = ac.poll_event() else {
            panic!("no A-ASSOCIATE indication");
        };
        ac.accept(now, incoming, AcceptOptions::default())
            .expect("accept");
        assert!(matches!(ac.poll_event(), Some(Event::Established(_))));
        wire.clear();
        while ac.poll_transmit(now, &mut wire).is_some() {}
        if max_pdu == 0 {
            wire = announce_no_limit(&wire);
        }
        assert_eq!(rq.handle_input(now, &wire), Ok(wire.len()));
        let Some(Event::Established(negotiated)) = rq.poll_event() else {
            panic!("not established");
        };
        assert_eq!(negotiated.peer_max_pdu_length, max_pdu);
        Self { rq, ac, now }
    }
}

/// The A-ASSOCIATE-AC with its maximum length item saying 0.
fn announce_no_limit(ac_bytes: &[u8]) -> Vec<u8> {
    let limits = DecodeLimits::default();
    let Ok(Decoded::Complete {
        pdu: Pdu::AssociateAc(mut ac),
        ..
    }) = pdu::decode(ac_bytes, &limits)
    else {
        panic!("an A-ASSOCIATE-AC");
    };
    ac.user_information.max_length = 0;
    let mut out = Vec::new();
    Pdu::AssociateAc(ac).encode(&mut out).expect("encodes");
    out
}

/// A recognizable data set: no two neighbouring bytes alike, no period a PDU divides.
fn data_set(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).expect("< 251"))
        .collect()
}

/// What the acceptor got for one C-STORE.
#[derive(Debug, Default)]
struct Arrived {
    message: Option<IncomingMessage>,
    started: Option<IncomingMessage>,
    fragments: Vec<(Vec<u8>, bool)>,
}

/// Sends a C-STORE-RQ of `data` from the requestor and checks every P-DATA-TF it sends:
/// at most `limit` long, command PDVs before data PDVs, each carrying only its own bytes,
/// the first PDU with the whole command and the first data PDV when they fit.
fn send_store(link: &mut Link, limit: u32, data: &[u8]) -> Arrived {
    let now = link.now;
    let limit = limit as usize;
    let id = link
        .rq
        .send_request(now, pc(5), store(), Some(data.to_vec().into()))
        .expect("sent");
    let command = command(&with_id(&store(), id), true);
    let mut arrived = Arrived::default();
    let (mut command_seen, mut data_seen) = (Vec::new(), Vec::new());
    let (mut command_last, mut data_last) = (false, false);
    let mut out = Vec::new();
    let mut pdus = 0;
    while let Some(t) = link.rq.poll_transmit(now, &mut out) {
        assert_eq!(t.pdu_type, PduType::PData);
        let length = u32::from_be_bytes(out[2..6].try_into().expect("4 bytes")) as usize;
        assert_eq!(out.len(), 6 + length);
        assert!(
            length <= limit,
            "a P-DATA-TF of {length} over the limit {limit}"
        );
        let limits = DecodeLimits {
            max_pdu_length: u32::MAX,
            max_associate_length: u32::MAX,
        };
        let Ok(Decoded::Complete {
            pdu: Pdu::PData(p), ..
        }) = pdu::decode(&out, &limits)
        else {
            panic!("a P-DATA-TF");
        };
        for (i, pdv) in p.pdvs.iter().enumerate() {
            assert_eq!(pdv.context_id, pc(5));
            if pdv.header.is_command() {
                assert!(!command_last, "a command PDV after the last");
                command_seen.extend_from_slice(pdv.data);
                command_last = pdv.header.is_last();
            } else {
                assert!(command_last, "data before the command ended");
                assert!(!data_last, "a data PDV after the last");
                assert!(
                    !pdv.data.is_empty() || data.is_empty(),
                    "an empty data PDV for a data set that is not"
                );
                data_seen.extend_from_slice(pdv.data);
                data_last = pdv.header.is_last();
            }
            if pdus == 0 && i == 0 {
                let fits = command.len() + 12 + usize::from(!data.is_empty()) <= limit;
                let want = if fits { 2 } else { 1 };
                assert_eq!(p.pdvs.len(), want, "the first PDU's PDVs");
            }
        }
        pdus += 1;
        // Delivered as it goes; the acceptor's events drained after each PDU.
        assert_eq!(link.ac.handle_input(now, &out), Ok(out.len()));
        out.clear();
        while let Some(event) = link.ac.poll_event() {
            match event {
                Event::Message(m) => arrived.message = Some(*m),
                Event::StoreStarted(m) => arrived.started = Some(*m),
                Event::StoreFragment {
                    message_id,
                    data,
                    last,
                    ..
                } => {
                    assert_eq!(message_id, id);
                    arrived.fragments.push((data.to_vec(), last));
                }
                other => panic!("acceptor: {other:?}"),
            }
        }
    }
    assert!(command_last && data_last, "both parts ended");
    assert_eq!(command_seen, command, "the command set, whole and alone");
    assert_eq!(data_seen, data, "the data set, whole and alone");
    // Nothing wasted: every PDU but the last is full, except the one ending the command
    // when not even a data PDV header and one byte fit after it.
    let expected_pdus = {
        let cmd_room = limit - 6;
        let cmd_pdus = command.len().div_ceil(cmd_room);
        let tail = command.len() - (cmd_pdus - 1) * cmd_room;
        let room_after = limit - 6 - tail;
        let first = if room_after > 6 || (room_after == 6 && data.is_empty()) {
            (room_after - 6).min(data.len())
        } else {
            0
        };
        let shared = usize::from(room_after > 6 || (room_after == 6 && data.is_empty()));
        let left = data.len() - first;
        let data_pdus = if shared == 1 && left == 0 {
            0
        } else {
            left.div_ceil(limit - 6).max(1)
        };
        cmd_pdus + data_pdus
    };
    assert_eq!(
        pdus,
        expected_pdus,
        "PDUs for {} bytes at {limit}",
        data.len()
    );
    arrived
}

#[test]
fn c_store_fragments_within_every_max_pdu_length() {
    // (what the acceptor announces, the limit that applies)
    for (announced, limit) in [
        (0, OUR_CAP),
        (7, 7),
        (16 * 1024, 16 * 1024),
        (1024 * 1024, 1024 * 1024),
    ] {
        let one_pdu = limit as usize - 6;
        for len in [0, 1, one_pdu, one_pdu + 1, 1024 * 1024] {
            if limit == 7 && len == 1024 * 1024 {
                continue; // a million PDUs per mode: a test of its own, below
            }
            let data = data_set(len);
            for streaming in [false, true] {
                let at = format!("{len} bytes at {announced} (streaming: {streaming})");
                let mut link = Link::new(announced, streaming);
                let arrived = send_store(&mut link, limit, &data);
                check_arrival(&arrived, &data, streaming, &at);
                answer_store(&mut link);
            }
        }
    }
}

/// The least maximum length (a PDV header and one byte) and 1 MiB: a million
/// P-DATA-TFs, each checked, delivered and drained.
fn store_1_mib_one_byte_per_pdu(streaming: bool) {
    let data = data_set(1024 * 1024);
    let mut link = Link::new(7, streaming);
    let arrived = send_store(&mut link, 7, &data);
    check_arrival(&arrived, &data, streaming, "1 MiB at 7");
    answer_store(&mut link);
}

#[test]
fn c_store_of_1_mib_one_byte_per_pdu_buffered() {
    store_1_mib_one_byte_per_pdu(false);
}

#[test]
fn c_store_of_1_mib_one_byte_per_pdu_streamed() {
    // A million fragments, each an event.
    store_1_mib_one_byte_per_pdu(true);
}

fn check_arrival(arrived: &Arrived, data: &[u8], streaming: bool, at: &str) {
    if streaming {
        assert!(arrived.message.is_none(), "{at}");
        let started = arrived.started.as_ref().expect("StoreStarted");
        assert!(started.data.is_none(), "{at}");
        assert_eq!(started.message.command_field(), CommandField::CStoreRq);
        let whole: Vec<u8> = arrived
            .fragments
            .iter()
            .flat_map(|(d, _)| d.clone())
            .collect();
        assert_eq!(whole, data, "{at}: the fragments in order");
        let lasts: Vec<bool> = arrived.fragments.iter().map(|(_, l)| *l).collect();
        assert_eq!(lasts.iter().filter(|l| **l).count(), 1, "{at}");
        assert_eq!(lasts.last(), Some(&true), "{at}");
        assert!(
            arrived.fragments.iter().all(|(d, _)| !d.is_empty()) || data.is_empty(),
            "{at}: empty fragments"
        );
    } else {
        assert!(
            arrived.started.is_none() && arrived.fragments.is_empty(),
            "{at}"
        );
        let m = arrived.message.as_ref().expect("the message");
        let set = m.data.as_ref().expect("its data set");
        assert_eq!(&set.bytes[..], data, "{at}");
        assert_eq!(set.transfer_syntax, IMPLICIT_VR_LE, "{at}");
    }
}

/// The acceptor answers the C-STORE; the requestor gets the response matched.
fn answer_store(link: &mut Link) {
    let now = link.now;
    let rsp = with_id(&store(), 1)
        .response_with(Status::SUCCESS)
        .expect("a request");
    link.ac
        .send_response(now, pc(5), rsp.clone(), None)
        .expect("response");
    let mut wire = Vec::new();
    while link.ac.poll_transmit(now, &mut wire).is_some() {}
    assert_eq!(link.rq.handle_input(now, &wire), Ok(wire.len()));
    let Some(Event::Message(m)) = link.rq.poll_event() else {
        panic!("no response");
    };
    assert_eq!(m.message, rsp);
    assert_eq!(link.rq.outstanding_requests(), 0);
}

/// Streamed fragments are the user's to keep: the reassembler copies them into a buffer
/// it reuses, and those the user holds stay intact while later ones arrive (and reuse
/// the memory of those dropped at once).
#[test]
fn streamed_fragments_held_stay_intact_while_the_buffer_is_reused() {
    const HELD: usize = 20;
    let data = data_set(60 * 16 * 1024);
    let mut link = Link::new(16 * 1024, true);
    let now = link.now;
    let id = link
        .rq
        .send_request(now, pc(5), store(), Some(data.clone().into()))
        .expect("sent");
    let mut held = Vec::new();
    let mut received = Vec::new();
    let mut out = Vec::new();
    while link.rq.poll_transmit(now, &mut out).is_some() {
        assert_eq!(link.ac.handle_input(now, &out), Ok(out.len()));
        out.clear();
        while let Some(event) = link.ac.poll_event() {
            if let Event::StoreFragment {
                message_id,
                data: fragment,
                ..
            } = event
            {
                assert_eq!(message_id, id);
                if held.len() < HELD {
                    held.push(fragment);
                } else {
                    received.extend_from_slice(&fragment);
                }
            }
        }
    }
    let kept: Vec<u8> = held.iter().flat_map(|f| f.iter().copied()).collect();
    assert_eq!(kept, data[..kept.len()], "held fragments changed");
    assert_eq!(received, data[kept.len()..], "the fragments after them");
    answer_store(&mut link);
}

/// `ReadBuffers` start small; reads that fill a buffer double the next one, up to the
/// maximum; small reads never grow it.
#[test]
fn read_buffers_start_small_and_double_as_reads_fill_them() {
    let now = Instant::now();
    let mut assoc = Association::acceptor(now, AssociationConfig::default(), policy(None).into());
    let mut buffers = ReadBuffers::new(100_000);
    assert_eq!(buffers.read_space().len(), ReadBuffers::INITIAL_LEN);
    for _ in 0..5 {
        let space = buffers.read_space();
        space[..6].copy_from_slice(&[0x05, 0, 0, 0, 0, 4]); // the start of an A-RELEASE-RQ
        let _ = buffers.offer(&mut assoc, now, 0);
        assert_eq!(buffers.read_space().len(), ReadBuffers::INITIAL_LEN);
    }
    // Full reads double it, up to the maximum; `take` counts as a read too.
    let mut sizes = Vec::new();
    for _ in 0..6 {
        let n = buffers.read_space().len();
        sizes.push(n);
        assert_eq!(buffers.take(n).len(), n);
    }
    assert_eq!(sizes, [16_384, 32_768, 65_536, 100_000, 100_000, 100_000]);
    // A read past the buffer is capped at it.
    let n = buffers.read_space().len();
    assert_eq!(buffers.take(n + 10).len(), n);
}

/// Reads offered through `ReadBuffers`: the fragments of a large read are slices of the
/// buffer it was read into (no copy), those of a small read are copies; a buffer is not
/// read into again while a fragment of it is held, and is reused once they are dropped;
/// whatever the mix, the data set arrives byte for byte.
#[test]
fn fragments_of_lent_reads_are_slices_of_the_read_buffer_until_dropped() {
    // Mixed read sizes into 64 KiB buffers; and reads that always fill the buffer (a fast
    // peer), into buffers growing from 16 KiB to 1 MiB, most of them below the threshold.
    fragments_through_read_buffers(64 * 1024, &[0, 1, 2, 3, 4, 5]);
    fragments_through_read_buffers(1024 * 1024, &[6]);
    fragments_through_read_buffers(1024 * 1024, &[6, 3, 6, 4, 5]);
}

/// Read sizes by index: 0 the whole buffer, 1 the threshold, 2 one less, 3 100 bytes,
/// 4 the buffer less 3, 5 5,000 bytes, 6 as much as fits.
fn fragments_through_read_buffers(buffer_len: usize, pattern: &[usize]) {
    #[allow(non_snake_case)]
    let BUFFER = buffer_len;
    let data = data_set(40 * 16 * 1024 + 7);
    let mut link = Link::new(16 * 1024, true);
    let now = link.now;
    link.rq
        .send_request(now, pc(5), store(), Some(data.clone().into()))
        .expect("sent");
    let mut wire = Vec::new();
    while link.rq.poll_transmit(now, &mut wire).is_some() {}

    let mut buffers = ReadBuffers::new(BUFFER);
    let threshold = buffers.lend_threshold();
    let sizes: Vec<usize> = pattern
        .iter()
        .map(|&i| {
            [
                BUFFER,
                threshold,
                threshold - 1,
                100,
                BUFFER - 3,
                5000,
                usize::MAX,
            ][i]
        })
        .collect();
    let (mut sliced, mut copied) = (0, 0);
    let mut held: Vec<Bytes> = Vec::new();
    let mut received = Vec::new();
    let mut seen_buffers: Vec<*const u8> = Vec::new();
    let mut pending = Bytes::new();
    let mut at = 0;
    let mut round = 0;
    while at < wire.len() || !pending.is_empty() {
        if !pending.is_empty() {
            let taken = link.ac.handle_input(now, &pending).expect("input");
            pending = pending.slice(taken..);
        } else {
            let space = buffers.read_space();
            let range = space.as_ptr_range();
            assert!(
                held.iter().all(|f| !range.contains(&f.as_ptr())),
                "read into a buffer a held fragment lies in"
            );
            // Buffers start small and double as reads fill them, up to BUFFER.
            if space.len() == BUFFER && !seen_buffers.contains(&range.start) {
                seen_buffers.push(range.start);
            }
            let n = sizes[round % sizes.len()]
                .min(space.len())
                .min(wire.len() - at);
            space[..n].copy_from_slice(&wire[at..at + n]);
            at += n;
            round += 1;
            let (taken, refused) = buffers.offer(&mut link.ac, now, n);
            assert_eq!(taken.expect("input") + refused.len(), n);
            pending = refused;
            let mut from_this_read = Vec::new();
            while let Some(event) = link.ac.poll_event() {
                if let Event::StoreFragment { data: fragment, .. } = event {
                    if range.contains(&fragment.as_ptr()) {
                        assert!(n >= threshold, "a small read was lent");
                        sliced += 1;
                    } else {
                        copied += 1;
                    }
                    from_this_read.push(fragment);
                }
            }
            for fragment in from_this_read {
                received.extend_from_slice(&fragment);
                // Hold every third fragment for three reads, drop the rest at once.
                if round % 3 == 0 {
                    held.push(fragment);
                }
            }
            if round % 3 == 2 {
                held.clear();
            }
        }
        while let Some(event) = link.ac.poll_event() {
            if let Event::StoreFragment { data: fragment, .. } = event {
                copied += 1;
                received.extend_from_slice(&fragment);
            }
        }
    }
    assert_eq!(received, data, "the data set, byte for byte");
    assert!(
        sliced > 10 && copied > 5,
        "sliced {sliced}, copied {copied}"
    );
    assert!(
        seen_buffers.len() <= 3,
        "full-size buffers are reused once free: {} used",
        seen_buffers.len()
    );
    answer_store(&mut link);
}

/// `poll_transmit_queue` puts on the wire exactly what `poll_transmit` does, at every max
/// PDU length and whatever the write sizes, while the fragments of a large data set are
/// referenced from the caller's `Bytes` rather than copied.
#[test]
fn the_send_queue_sends_the_same_bytes_and_references_large_data() {
    for (max_pdu, size) in [
        (16 * 1024, 100_000),
        (128 * 1024, 1 << 20),
        (4096, 5000),
        (16 * 1024, 0),
    ] {
        let data = Bytes::from(data_set(size));
        let mut plain = Link::new(max_pdu, true);
        let mut queued = Link::new(max_pdu, true);
        let now = plain.now;
        for link in [&mut plain, &mut queued] {
            link.rq
                .send_request(now, pc(5), store(), Some(data.clone()))
                .expect("sent");
        }
        let mut expected = Vec::new();
        while plain.rq.poll_transmit(now, &mut expected).is_some() {}

        let mut queue = SendQueue::new();
        let mut wire = Vec::new();
        let mut referenced = 0;
        let mut step = 1;
        loop {
            while queue.len() < 300_000 && queued.rq.poll_transmit_queue(now, &mut queue).is_some()
            {
            }
            if queue.is_empty() {
                break;
            }
            let mut slices = [std::io::IoSlice::new(&[]); 8];
            let filled = queue.io_slices(&mut slices);
            let data_range = data.as_ptr_range();
            referenced += slices[..filled]
                .iter()
                .filter(|s| data_range.contains(&s.as_ptr()))
                .count();
            // Write sizes 1, 8, 64, ... wrapping: partial writes anywhere in a slice.
            let mut n = 0;
            for slice in &slices[..filled] {
                let take = (step - n).min(slice.len());
                wire.extend_from_slice(&slice[..take]);
                n += take;
                if n == step {
                    break;
                }
            }
            queue.advance(n);
            step = if step > 200_000 { 1 } else { step * 8 + 3 };
        }
        assert_eq!(wire, expected, "max PDU {max_pdu}, {size} bytes");
        if size >= 100_000 {
            assert!(referenced > 0, "max PDU {max_pdu}: the data set was copied");
        }
        assert_eq!(queued.ac.handle_input(now, &wire), Ok(wire.len()));
        let mut received = Vec::new();
        while let Some(event) = queued.ac.poll_event() {
            if let Event::StoreFragment { data: fragment, .. } = event {
                received.extend_from_slice(&fragment);
            }
        }
        assert_eq!(received, data, "max PDU {max_pdu}");
    }
}

#[test]
fn fragmentation_is_the_same_through_the_pair_harness_under_every_chunking() {
    // A 16 KiB acceptor and a data set of three PDUs and a bit, streamed and buffered.
    for streaming in [false, true] {
        let data = data_set(3 * 16 * 1024 + 5);
        let pair = for_all_chunkings(|chunking| {
            let requestor = AssociationConfig {
                max_pdu_length: 16 * 1024,
                ..AssociationConfig::default()
            };
            let mut acceptor = requestor.clone();
            acceptor.dimse.stream_store_data = streaming;
            let mut pair =
                Pair::with_configs(chunking, requestor, acceptor, request(None), policy(None));
            pair.drive();
            send_request(&mut pair, Side::Requestor, 5, store(), Some(data.clone())).expect("sent");
            pair.drive();
            pair
        });
        let sent = pair.sent(Side::Requestor);
        assert_eq!(sent.len(), 1 + 4, "{sent:?}"); // A-ASSOCIATE-RQ and four P-DATA-TFs
        // 16384 = 6 + 112 (the command) + 6 + 16260 (the first data fragment).
        assert!(
            sent[1].starts_with("P-DATA-TF(pc5 cmd last 112B"),
            "{}",
            sent[1]
        );
        assert!(sent[1].contains(", pc5 data more 16260B"), "{}", sent[1]);
        for pdu in pair.sent_bytes(Side::Requestor).iter().skip(1) {
            assert!(pdu.len() <= 6 + 16 * 1024);
        }
        if streaming {
            let fragments: Vec<u8> = pair
                .dimse(Side::Acceptor)
                .iter()
                .flat_map(|e| match e {
                    DimseEvent::StoreFragment { data, .. } => data.clone(),
                    _ => Vec::new(),
                })
                .collect();
            assert_eq!(fragments, data);
            assert!(matches!(
                pair.dimse(Side::Acceptor)[0],
                DimseEvent::StoreStarted(_)
            ));
        } else {
            let m = &pair.messages(Side::Acceptor)[0];
            assert_eq!(m.data.as_ref().map(|d| &d.bytes[..]), Some(&data[..]));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Limits and violations

/// Injects `pdus` into the acceptor of a fresh pair and checks that it aborted with
/// `violation`: an A-ABORT (AA-1, source 0) on the wire and `Aborted::Dimse`.
fn assert_violation(pair: &mut Pair, pdus: &[Vec<u8>], violation: &DimseViolation) -> Vec<String> {
    for pdu in pdus {
        pair.inject(Side::Acceptor, pdu);
    }
    pair.drive();
    assert_eq!(
        pair.aborts(Side::Acceptor),
        [Aborted::Dimse(violation.clone())],
        "{pair:?}"
    );
    assert_eq!(
        pair.last_sent(Side::Acceptor, PduType::Abort),
        Some(&USER_ABORT[..])
    );
    assert_eq!(
        pair.events(Side::Requestor).last().map(String::as_str),
        Some("Closed")
    );
    pair.events(Side::Acceptor)
}

/// Runs a violation under every chunking (small injections only).
fn violation_everywhere(pdus: &[Vec<u8>], violation: &DimseViolation) {
    for_all_chunkings(|chunking| {
        let mut pair = pair_with(chunking, None, |_| {});
        assert_violation(&mut pair, pdus, violation);
        pair
    });
}

#[test]
fn the_default_limits() {
    assert_eq!(
        DimseConfig::default(),
        DimseConfig {
            max_command_length: 64 * 1024,
            max_identifier_length: 16 * 1024 * 1024,
            max_store_length: 256 * 1024 * 1024,
            stream_store_data: false,
            raw_pdata: false,
        }
    );
}

#[test]
fn a_command_set_over_the_limit_aborts() {
    // 64 KiB in two PDVs is still within the limit: nothing happens yet.
    let mut pair = pair();
    let half = vec![0u8; 32 * 1024];
    pair.inject(Side::Acceptor, &pdata(&[(1, CMD, &half), (1, CMD, &half)]));
    pair.drive();
    assert!(pair.aborts(Side::Acceptor).is_empty(), "{pair:?}");
    // One byte more is over it.
    assert_violation(
        &mut pair,
        &[pdata(&[(1, CMD_LAST, &[0])])],
        &DimseViolation::TooLong {
            what: "command set",
            limit: 64 * 1024,
        },
    );
}

/// A C-FIND-RQ on pc3 and `len` bytes of identifier in two PDVs.
fn find_with_identifier(len: usize) -> Vec<Vec<u8>> {
    let identifier = data_set(len);
    let (a, b) = identifier.split_at(len / 2);
    vec![
        pdata(&[(3, CMD_LAST, &command(&with_id(&find(), 1), true))]),
        pdata(&[(3, DATA, a), (3, DATA_LAST, b)]),
    ]
}

#[test]
fn an_identifier_over_the_limit_aborts() {
    let limit = 1000;
    let mut pair = pair_with(Chunking::Whole, None, |c| c.max_identifier_length = limit);
    for pdu in find_with_identifier(limit) {
        pair.inject(Side::Acceptor, &pdu);
    }
    pair.drive();
    assert_eq!(
        received(&pair, Side::Acceptor),
        [(3, with_id(&find(), 1), Some(limit))]
    );
    let mut pair = pair_with(Chunking::Whole, None, |c| c.max_identifier_length = limit);
    assert_violation(
        &mut pair,
        &find_with_identifier(limit + 1),
        &DimseViolation::TooLong {
            what: "data set",
            limit,
        },
    );
    assert!(pair.messages(Side::Acceptor).is_empty());
}

/// A C-STORE-RQ on pc5 with `len` bytes of data set.
fn store_with(len: usize) -> Vec<Vec<u8>> {
    vec![pdata(&[
        (5, CMD_LAST, &command(&with_id(&store(), 1), true)),
        (5, DATA_LAST, &data_set(len)),
    ])]
}

#[test]
fn a_buffered_c_store_over_the_limit_aborts_and_a_streamed_one_does_not() {
    let limit = 1000;
    // The store limit, not the identifier limit, applies to C-STORE.
    let mut pair = pair_with(Chunking::Whole, None, |c| {
        c.max_store_length = limit;
        c.max_identifier_length = 10;
    });
    for pdu in store_with(limit) {
        pair.inject(Side::Acceptor, &pdu);
    }
    pair.drive();
    assert_eq!(
        received(&pair, Side::Acceptor),
        [(5, with_id(&store(), 1), Some(limit))]
    );
    let mut pair = pair_with(Chunking::Whole, None, |c| c.max_store_length = limit);
    assert_violation(
        &mut pair,
        &store_with(limit + 1),
        &DimseViolation::TooLong {
            what: "data set",
            limit,
        },
    );
    // Streamed, nothing is buffered, so nothing is limited.
    let mut pair = pair_with(Chunking::Whole, None, |c| {
        c.max_store_length = 10;
        c.stream_store_data = true;
    });
    for pdu in store_with(limit) {
        pair.inject(Side::Acceptor, &pdu);
    }
    pair.drive();
    assert!(pair.aborts(Side::Acceptor).is_empty(), "{pair:?}");
    assert_eq!(
        pair.events(Side::Acceptor)[2..],
        [
            "StoreStarted(pc5 C-STORE-RQ id=1 instance=1.2.3.4.5.6.7.8.9)".to_owned(),
            format!(
                "StoreFragment(id=1 pc5 data last 1000B #{:08x})",
                dicomwire_tests::pair::fingerprint(&data_set(limit))
            ),
        ]
    );
}

#[test]
fn a_pdv_on_a_context_not_accepted_aborts() {
    let echo_rq = command(&with_id(&echo(), 1), false);
    // pc7 was proposed and rejected; pc9 never proposed.
    for id in [7, 9] {
        violation_everywhere(
            &[pdata(&[(id, CMD_LAST, &echo_rq)])],
            &DimseViolation::ContextNotAccepted(pc(id)),
        );
    }
}

#[test]
fn data_before_its_command_aborts() {
    violation_everywhere(
        &[pdata(&[(1, DATA_LAST, b"data")])],
        &DimseViolation::DataBeforeCommand { context_id: pc(1) },
    );
}

#[test]
fn a_command_inside_a_data_set_aborts() {
    let find_rq = command(&with_id(&find(), 1), true);
    violation_everywhere(
        &[pdata(&[
            (3, CMD_LAST, &find_rq),
            (3, DATA, b"half an identifier"),
            (3, CMD_LAST, &find_rq),
        ])],
        &DimseViolation::CommandInsideData { context_id: pc(3) },
    );
}

#[test]
fn data_inside_a_command_set_aborts() {
    let find_rq = command(&with_id(&find(), 1), true);
    let (a, _) = find_rq.split_at(20);
    violation_everywhere(
        &[pdata(&[(3, CMD, a), (3, DATA_LAST, b"identifier")])],
        &DimseViolation::DataInsideCommand { context_id: pc(3) },
    );
}

#[test]
fn a_context_switch_inside_one_message_aborts() {
    let find_rq = command(&with_id(&find(), 1), true);
    let (a, b) = find_rq.split_at(20);
    // Inside the command set, in two P-DATA-TFs.
    violation_everywhere(
        &[pdata(&[(3, CMD, a)]), pdata(&[(1, CMD_LAST, b)])],
        &DimseViolation::ContextSwitch {
            expected: pc(3),
            found: pc(1),
        },
    );
    // Between the command and its data set.
    violation_everywhere(
        &[pdata(&[
            (3, CMD_LAST, &find_rq),
            (5, DATA_LAST, b"identifier"),
        ])],
        &DimseViolation::ContextSwitch {
            expected: pc(3),
            found: pc(5),
        },
    );
}

#[test]
fn an_undecodable_command_set_aborts() {
    // CommandField's header claims 2 bytes; one follows.
    let truncated = [0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x30];
    violation_everywhere(
        &[pdata(&[(1, CMD_LAST, &truncated)])],
        &DimseViolation::Command(CommandError::Truncated {
            tag: Tag(0x0000, 0x0100),
        }),
    );
}

#[test]
fn an_unknown_or_incomplete_command_aborts() {
    let mut set = with_id(&echo(), 1).to_command(false);
    set.command_field = Some(0x1234);
    violation_everywhere(
        &[pdata(&[(1, CMD_LAST, &encoded(&set))])],
        &DimseViolation::Message(MessageError::UnknownCommand(0x1234)),
    );
    set.command_field = Some(CommandField::CEchoRq.code());
    set.message_id = None;
    violation_everywhere(
        &[pdata(&[(1, CMD_LAST, &encoded(&set))])],
        &DimseViolation::Message(MessageError::Missing {
            message: "C-ECHO-RQ",
            element: "MessageID",
        }),
    );
}

#[test]
fn a_dimse_n_message_aborts_as_unsupported() {
    let set = CommandSet {
        command_field: Some(CommandField::NGetRq.code()),
        message_id: Some(1),
        requested_sop_class_uid: Some(VERIFICATION.to_string()),
        requested_sop_instance_uid: Some("1.2.3".to_owned()),
        command_data_set_type: Some(0x0101),
        ..CommandSet::default()
    };
    violation_everywhere(
        &[pdata(&[(1, CMD_LAST, &encoded(&set))])],
        &DimseViolation::Message(MessageError::Unsupported("N-GET-RQ")),
    );
}

fn encoded(set: &CommandSet) -> Vec<u8> {
    let mut out = Vec::new();
    set.encode(&mut out).expect("encodes");
    out
}

// ---------------------------------------------------------------------------------------
// Message IDs, matching, the window

/// The requestor sends a C-ECHO; the acceptor answers `status`; both drained.
fn echo_round_trip(pair: &mut Pair) -> MessageId {
    let id = send_request(pair, Side::Requestor, 1, echo(), None).expect("sent");
    pair.drive();
    send_response(pair, Side::Acceptor, 1, echo_rsp(id, Status::SUCCESS), None).expect("sent");
    pair.drive();
    id
}

#[test]
fn message_ids_are_allocated_1_2_3_per_association() {
    for _ in 0..2 {
        let mut pair = pair();
        let ids: Vec<MessageId> = (0..3).map(|_| echo_round_trip(&mut pair)).collect();
        assert_eq!(ids, [1, 2, 3]);
        let on_the_wire: Vec<Option<MessageId>> = pair
            .messages(Side::Acceptor)
            .iter()
            .map(|m| m.message.message_id())
            .collect();
        assert_eq!(on_the_wire, [Some(1), Some(2), Some(3)]);
        let answered: Vec<Option<MessageId>> = pair
            .messages(Side::Requestor)
            .iter()
            .map(|m| m.message.responded_to())
            .collect();
        assert_eq!(answered, [Some(1), Some(2), Some(3)]);
    }
}

/// A C-ECHO-RSP as the peer would send it, a whole P-DATA-TF.
fn echo_rsp_pdu(id: MessageId, status: Status) -> Vec<u8> {
    pdata(&[(1, CMD_LAST, &command(&echo_rsp(id, status), false))])
}

#[test]
fn message_ids_wrap_from_65535_to_1_skipping_ids_in_use() {
    let mut pair = pair_with(Chunking::Whole, Some(2), |_| {});
    // ID 1 stays outstanding throughout.
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 1, echo(), None),
        Ok(1)
    );
    pair.drive();
    // The rest directly on the requestor, each completed by a response fed as if from
    // the acceptor: 65534 round trips through the harness would be slow.
    let rq = &mut pair.requestor;
    let now = pair.now;
    let mut wire = Vec::new();
    for expected in 2..=u16::MAX {
        let id = rq.send_request(now, pc(1), echo(), None).expect("sent");
        assert_eq!(id, expected);
        wire.clear();
        while rq.poll_transmit(now, &mut wire).is_some() {}
        let rsp = echo_rsp_pdu(id, Status::SUCCESS);
        assert_eq!(rq.handle_input(now, &rsp), Ok(rsp.len()));
        let Some(Event::Message(m)) = rq.poll_event() else {
            panic!("no response for {id}");
        };
        assert_eq!(m.message.responded_to(), Some(id));
        assert_eq!(rq.outstanding_requests(), 1);
    }
    // After 65535 comes 1, which is in use: 2.
    assert_eq!(rq.send_request(now, pc(1), echo(), None), Ok(2));
    wire.clear();
    while rq.poll_transmit(now, &mut wire).is_some() {}
    for id in [1, 2] {
        let rsp = echo_rsp_pdu(id, Status::SUCCESS);
        assert_eq!(rq.handle_input(now, &rsp), Ok(rsp.len()));
        assert!(matches!(rq.poll_event(), Some(Event::Message(_))));
    }
    assert_eq!(rq.outstanding_requests(), 0);
    assert_eq!(rq.send_request(now, pc(1), echo(), None), Ok(3));
}

#[test]
fn a_response_to_no_outstanding_request_is_ignored() {
    let mut pair = pair();
    let id = send_request(&mut pair, Side::Requestor, 1, echo(), None).expect("sent");
    pair.drive();
    let before = pair.events(Side::Requestor);
    pair.inject(Side::Requestor, &echo_rsp_pdu(id + 8, Status::SUCCESS));
    pair.drive();
    assert_eq!(pair.events(Side::Requestor), before, "no event");
    assert!(pair.aborts(Side::Requestor).is_empty());
    assert_eq!(pair.requestor.outstanding_requests(), 1);
    // The real one is matched.
    send_response(
        &mut pair,
        Side::Acceptor,
        1,
        echo_rsp(id, Status::SUCCESS),
        None,
    )
    .expect("sent");
    pair.drive();
    assert_eq!(
        received(&pair, Side::Requestor),
        [(1, echo_rsp(id, Status::SUCCESS), None)]
    );
    assert_eq!(pair.requestor.outstanding_requests(), 0);
    // And a second response to it, now completed, is ignored too.
    pair.inject(Side::Requestor, &echo_rsp_pdu(id, Status::SUCCESS));
    pair.drive();
    assert_eq!(pair.messages(Side::Requestor).len(), 1);
}

#[test]
fn pending_responses_keep_a_c_find_open_until_the_final_one() {
    let mut pair = pair();
    let identifier = b"\x10\x00\x10\x00\x02\x00\x00\x00S*".to_vec();
    let id = send_request(
        &mut pair,
        Side::Requestor,
        3,
        find(),
        Some(identifier.clone()),
    )
    .expect("sent");
    pair.drive();
    assert_eq!(
        received(&pair, Side::Acceptor),
        [(3, with_id(&find(), id), Some(identifier.len()))]
    );
    for n in 0..3 {
        let matched = vec![b'A' + n; 20];
        send_response(
            &mut pair,
            Side::Acceptor,
            3,
            find_rsp(id, Status::PENDING),
            Some(matched),
        )
        .expect("pending");
        assert_eq!(pair.acceptor.operations_in_progress(), 1);
        pair.drive();
        assert_eq!(pair.requestor.outstanding_requests(), 1);
    }
    send_response(
        &mut pair,
        Side::Acceptor,
        3,
        find_rsp(id, Status::SUCCESS),
        None,
    )
    .expect("final");
    assert_eq!(pair.acceptor.operations_in_progress(), 0);
    pair.drive();
    assert_eq!(pair.requestor.outstanding_requests(), 0);
    let statuses: Vec<(Option<Status>, Option<usize>)> = pair
        .messages(Side::Requestor)
        .iter()
        .map(|m| (m.message.status(), m.data.as_ref().map(|d| d.bytes.len())))
        .collect();
    assert_eq!(
        statuses,
        [
            (Some(Status::PENDING), Some(20)),
            (Some(Status::PENDING), Some(20)),
            (Some(Status::PENDING), Some(20)),
            (Some(Status::SUCCESS), None),
        ]
    );
    // Once final, the operation is gone on both sides.
    assert_eq!(
        send_response(
            &mut pair,
            Side::Acceptor,
            3,
            find_rsp(id, Status::PENDING),
            None
        ),
        Err(ApiMisuse::Dimse(DimseMisuse::UnknownOperation(id)))
    );
}

#[test]
fn misused_send_response_changes_nothing() {
    let mut pair = pair();
    let id = send_request(&mut pair, Side::Requestor, 1, echo(), None).expect("sent");
    pair.drive();
    let sent = pair.sent_bytes(Side::Acceptor).len();
    let cases = [
        (
            1,
            echo_rsp(id + 1, Status::SUCCESS),
            None,
            DimseMisuse::UnknownOperation(id + 1),
        ),
        (
            3,
            echo_rsp(id, Status::SUCCESS),
            None,
            DimseMisuse::WrongContext {
                message_id: id,
                expected: pc(1),
                found: pc(3),
            },
        ),
        (
            1,
            echo_rsp(id, Status::SUCCESS),
            Some(b"data".to_vec()),
            DimseMisuse::DataSet {
                message: "C-ECHO-RSP",
                expected: false,
            },
        ),
        (
            1,
            find_rsp(id, Status::SUCCESS),
            None,
            DimseMisuse::WrongKind("C-FIND-RSP"),
        ),
        (
            1,
            with_id(&echo(), id),
            None,
            DimseMisuse::WrongKind("C-ECHO-RQ"),
        ),
    ];
    for (context, message, data, misuse) in cases {
        assert_eq!(
            send_response(&mut pair, Side::Acceptor, context, message, data),
            Err(ApiMisuse::Dimse(misuse))
        );
        assert_eq!(pair.sent_bytes(Side::Acceptor).len(), sent, "nothing sent");
        assert_eq!(pair.acceptor.operations_in_progress(), 1);
    }
    // Requests the wrong way, too.
    assert_eq!(
        send_request(
            &mut pair,
            Side::Requestor,
            1,
            echo_rsp(1, Status::SUCCESS),
            None
        ),
        Err(ApiMisuse::Dimse(DimseMisuse::WrongKind("C-ECHO-RSP")))
    );
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 1, echo(), Some(vec![1])),
        Err(ApiMisuse::Dimse(DimseMisuse::DataSet {
            message: "C-ECHO-RQ",
            expected: false
        }))
    );
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 7, echo(), None),
        Err(ApiMisuse::Dimse(DimseMisuse::ContextNotUsable {
            context_id: pc(7),
            message: "C-ECHO-RQ"
        }))
    );
    assert_eq!(
        pair.call(Side::Requestor, |a, now| a.send_cancel(now, 42)),
        Err(ApiMisuse::Dimse(DimseMisuse::UnknownOperation(42)))
    );
    // The right response still goes.
    send_response(
        &mut pair,
        Side::Acceptor,
        1,
        echo_rsp(id, Status::SUCCESS),
        None,
    )
    .expect("sent");
    pair.drive();
    assert_eq!(pair.messages(Side::Requestor).len(), 1);
}

#[test]
fn a_full_window_refuses_a_request_until_the_response() {
    let mut pair = pair();
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 1, echo(), None),
        Ok(1)
    );
    let sent = pair.sent_bytes(Side::Requestor).len();
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 1, echo(), None),
        Err(ApiMisuse::Dimse(DimseMisuse::WindowFull(1)))
    );
    assert_eq!(pair.sent_bytes(Side::Requestor).len(), sent, "nothing sent");
    assert_eq!(pair.requestor.outstanding_requests(), 1);
    pair.drive();
    send_response(
        &mut pair,
        Side::Acceptor,
        1,
        echo_rsp(1, Status::SUCCESS),
        None,
    )
    .expect("sent");
    pair.drive();
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 1, echo(), None),
        Ok(2)
    );
    pair.drive();
    assert_eq!(
        pair.messages(Side::Acceptor).len(),
        2,
        "the refused one never went"
    );
}

#[test]
fn a_negotiated_window_of_three_allows_three() {
    let mut pair = pair_with(Chunking::Whole, Some(3), |_| {});
    let window = pair.established(Side::Requestor)[0].async_operations_window;
    assert_eq!(
        (
            window.max_operations_invoked,
            window.max_operations_performed
        ),
        (3, 3)
    );
    for id in 1..=3 {
        assert_eq!(
            send_request(&mut pair, Side::Requestor, 1, echo(), None),
            Ok(id)
        );
    }
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 3, find(), Some(vec![])),
        Err(ApiMisuse::Dimse(DimseMisuse::WindowFull(3)))
    );
    pair.drive();
    assert_eq!(pair.acceptor.operations_in_progress(), 3);
    assert!(pair.aborts(Side::Acceptor).is_empty());
    // Answered out of order, matched by MessageIDBeingRespondedTo.
    for id in [2, 3, 1] {
        send_response(
            &mut pair,
            Side::Acceptor,
            1,
            echo_rsp(id, Status::SUCCESS),
            None,
        )
        .expect("sent");
    }
    pair.drive();
    let answered: Vec<Option<MessageId>> = pair
        .messages(Side::Requestor)
        .iter()
        .map(|m| m.message.responded_to())
        .collect();
    assert_eq!(answered, [Some(2), Some(3), Some(1)]);
    assert_eq!(pair.requestor.outstanding_requests(), 0);
}

/// A C-ECHO-RQ with `id` as the peer would send it.
fn echo_rq_pdu(id: MessageId) -> Vec<u8> {
    pdata(&[(1, CMD_LAST, &command(&with_id(&echo(), id), false))])
}

#[test]
fn a_peer_over_our_window_is_aborted() {
    let mut pair = pair();
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 1, echo(), None),
        Ok(1)
    );
    pair.drive();
    assert_violation(
        &mut pair,
        &[echo_rq_pdu(2)],
        &DimseViolation::WindowExceeded {
            outstanding: 2,
            limit: 1,
        },
    );
    assert_eq!(pair.messages(Side::Acceptor).len(), 1);
    // With a window of 2, two are fine and a third is over it.
    let mut pair = pair_with(Chunking::Whole, Some(2), |_| {});
    for id in [10, 11] {
        pair.inject(Side::Acceptor, &echo_rq_pdu(id));
    }
    pair.drive();
    assert_eq!(pair.acceptor.operations_in_progress(), 2);
    assert_violation(
        &mut pair,
        &[echo_rq_pdu(12)],
        &DimseViolation::WindowExceeded {
            outstanding: 3,
            limit: 2,
        },
    );
}

#[test]
fn a_duplicate_message_id_is_answered_0210() {
    let mut pair = pair_with(Chunking::Whole, Some(2), |_| {});
    pair.inject(Side::Acceptor, &echo_rq_pdu(5));
    pair.inject(Side::Acceptor, &echo_rq_pdu(5));
    pair.drive();
    assert!(pair.aborts(Side::Acceptor).is_empty(), "{pair:?}");
    assert_eq!(
        received(&pair, Side::Acceptor),
        [(1, with_id(&echo(), 5), None)],
        "the duplicate is not reported"
    );
    assert_eq!(pair.acceptor.operations_in_progress(), 1);
    // The answer went out on its own: C-ECHO-RSP, responding to 5, status 0x0210.
    let answer = pair
        .last_sent(Side::Acceptor, PduType::PData)
        .expect("a P-DATA-TF");
    assert_eq!(answer[10..12], [1, 0x03]);
    let set = CommandSet::decode(&answer[12..]).expect("decodes");
    assert_eq!(
        Message::from_command(&set),
        Ok(echo_rsp(5, Status::DUPLICATE_INVOCATION))
    );
    assert_eq!(Status::DUPLICATE_INVOCATION, Status(0x0210));
    // The original is still ours to answer.
    send_response(
        &mut pair,
        Side::Acceptor,
        1,
        echo_rsp(5, Status::SUCCESS),
        None,
    )
    .expect("sent");
    assert_eq!(pair.acceptor.operations_in_progress(), 0);
}

#[test]
fn c_cancel_reaches_the_performer_and_an_unknown_one_is_ignored() {
    let mut pair = pair();
    let id = send_request(
        &mut pair,
        Side::Requestor,
        3,
        find(),
        Some(b"keys".to_vec()),
    )
    .expect("sent");
    pair.drive();
    pair.call(Side::Requestor, |a, now| a.send_cancel(now, id))
        .expect("cancel");
    assert_eq!(
        pair.requestor.outstanding_requests(),
        1,
        "open until the final response"
    );
    pair.drive();
    assert_eq!(
        received(&pair, Side::Acceptor)[1],
        (
            3,
            Message::CCancelRq(CCancelRq {
                message_id_being_responded_to: id
            }),
            None
        )
    );
    // A cancel for an operation the acceptor does not perform: nothing.
    let before = pair.events(Side::Acceptor);
    let cancel = Message::CCancelRq(CCancelRq {
        message_id_being_responded_to: 99,
    });
    pair.inject(
        Side::Acceptor,
        &pdata(&[(3, CMD_LAST, &command(&cancel, false))]),
    );
    pair.drive();
    assert_eq!(pair.events(Side::Acceptor), before);
    assert!(pair.aborts(Side::Acceptor).is_empty());
    // The operation ends with 0xFE00.
    send_response(
        &mut pair,
        Side::Acceptor,
        3,
        find_rsp(id, Status::CANCEL),
        None,
    )
    .expect("sent");
    pair.drive();
    assert_eq!(pair.requestor.outstanding_requests(), 0);
    assert_eq!(
        pair.messages(Side::Requestor)[0].message.status(),
        Some(Status::CANCEL)
    );
    // After it, a cancel from the requestor is a mistake.
    assert_eq!(
        pair.call(Side::Requestor, |a, now| a.send_cancel(now, id)),
        Err(ApiMisuse::Dimse(DimseMisuse::UnknownOperation(id)))
    );
}

#[test]
fn a_duplicate_streamed_c_store_delivers_no_fragments() {
    // Streaming: the duplicate's data set must not reach the user as fragments of the
    // original operation.
    let mut pair = pair_with(Chunking::Whole, Some(2), |c| c.stream_store_data = true);
    let rq = command(&with_id(&store(), 5), true);
    pair.inject(
        Side::Acceptor,
        &pdata(&[(5, CMD_LAST, &rq), (5, DATA_LAST, b"original")]),
    );
    pair.inject(
        Side::Acceptor,
        &pdata(&[(5, CMD_LAST, &rq), (5, DATA_LAST, b"duplicate")]),
    );
    pair.drive();
    assert!(pair.aborts(Side::Acceptor).is_empty(), "{pair:?}");
    let fragments: Vec<Vec<u8>> = pair
        .dimse(Side::Acceptor)
        .iter()
        .filter_map(|e| match e {
            DimseEvent::StoreFragment { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(fragments, [b"original".to_vec()], "{pair:?}");
    let answer = pair
        .last_sent(Side::Acceptor, PduType::PData)
        .expect("the 0x0210 answer");
    let set = CommandSet::decode(&answer[12..]).expect("decodes");
    assert_eq!(set.status, Some(0x0210));
}

#[test]
fn nothing_after_a_violation_in_the_same_p_data_tf_is_reported() {
    // One P-DATA-TF: a request, one over the window, then a C-CANCEL of the first. The
    // association aborts at the second; the cancel behind it is never reported.
    let mut pair = pair();
    let cancel = Message::CCancelRq(CCancelRq {
        message_id_being_responded_to: 1,
    });
    let events = assert_violation(
        &mut pair,
        &[pdata(&[
            (1, CMD_LAST, &command(&with_id(&echo(), 1), false)),
            (1, CMD_LAST, &command(&with_id(&echo(), 2), false)),
            (1, CMD_LAST, &command(&cancel, false)),
        ])],
        &DimseViolation::WindowExceeded {
            outstanding: 2,
            limit: 1,
        },
    );
    assert_eq!(
        received(&pair, Side::Acceptor),
        [(1, with_id(&echo(), 1), None)],
        "{events:?}"
    );
}

#[test]
fn queued_messages_are_sent_one_after_the_other_never_interleaved() {
    // A C-STORE of many PDUs, then a C-ECHO: the echo's command waits for the last data
    // fragment, so the peer never sees two messages interleaved.
    let mut pair = pair_with(Chunking::Whole, Some(2), |_| {});
    let data = data_set(200 * 1024);
    let before = pair.sent_bytes(Side::Requestor).len();
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 5, store(), Some(data.clone())),
        Ok(1)
    );
    assert_eq!(
        send_request(&mut pair, Side::Requestor, 1, echo(), None),
        Ok(2)
    );
    let contexts: Vec<u8> = pair.sent_bytes(Side::Requestor)[before..]
        .iter()
        .flat_map(|pdu| {
            let Ok(Decoded::Complete {
                pdu: Pdu::PData(p), ..
            }) = pdu::decode(pdu, &DecodeLimits::default())
            else {
                panic!("a P-DATA-TF");
            };
            p.pdvs
                .iter()
                .map(|v| v.context_id.get())
                .collect::<Vec<_>>()
        })
        .collect();
    let first_echo = contexts.iter().position(|&c| c == 1).expect("the echo");
    assert!(contexts[..first_echo].iter().all(|&c| c == 5));
    assert_eq!(contexts[first_echo..], [1]);
    pair.drive();
    assert_eq!(
        received(&pair, Side::Acceptor),
        [
            (5, with_id(&store(), 1), Some(data.len())),
            (1, with_id(&echo(), 2), None)
        ]
    );
}

// ---------------------------------------------------------------------------------------
// A caller's own message IDs (send_request_with_id), as a replay of a recorded peer needs

#[test]
fn send_request_with_id_keeps_the_callers_id_and_refuses_one_in_use() {
    let mut pair = pair();
    let with = |id: MessageId| with_id(&echo(), id);
    let sent = pair.call(Side::Requestor, |a, now| {
        a.send_request_with_id(now, pc(1), with(7), None)
    });
    assert_eq!(sent, Ok(7));
    let again = pair.call(Side::Requestor, |a, now| {
        a.send_request_with_id(now, pc(1), with(7), None)
    });
    assert_eq!(
        again,
        Err(ApiMisuse::Dimse(DimseMisuse::MessageIdInUse(7))),
        "an ID still outstanding is refused, and nothing is queued"
    );
    assert_eq!(pair.requestor.outstanding_requests(), 1);
    let response = pair.call(Side::Requestor, |a, now| {
        a.send_request_with_id(now, pc(1), echo_rsp(1, Status::SUCCESS), None)
    });
    assert_eq!(
        response,
        Err(ApiMisuse::Dimse(DimseMisuse::WrongKind("C-ECHO-RSP")))
    );
    pair.drive();
    assert_eq!(received(&pair, Side::Acceptor), [(1, with(7), None)]);
    send_response(
        &mut pair,
        Side::Acceptor,
        1,
        echo_rsp(7, Status::SUCCESS),
        None,
    )
    .expect("the acceptor answers 7");
    pair.drive();
    assert_eq!(pair.requestor.outstanding_requests(), 0);
    // Allocation goes on from where it was: our own numbering is not disturbed.
    let next = send_request(&mut pair, Side::Requestor, 1, echo(), None).expect("sent");
    assert_eq!(next, 1);
}

#[test]
fn a_final_c_find_rsp_with_an_identifier_is_refused() {
    let mut pair = pair();
    let id = send_request(&mut pair, Side::Requestor, 3, find(), Some(vec![0; 8])).expect("sent");
    pair.drive();
    let with_data = send_response(
        &mut pair,
        Side::Acceptor,
        3,
        find_rsp(id, Status::SUCCESS),
        Some(vec![0; 8]),
    );
    assert_eq!(
        with_data,
        Err(ApiMisuse::Dimse(DimseMisuse::DataSet {
            message: "C-FIND-RSP",
            expected: false
        }))
    );
    assert_eq!(pair.acceptor.operations_in_progress(), 1, "nothing changed");
    send_response(
        &mut pair,
        Side::Acceptor,
        3,
        find_rsp(id, Status::PENDING),
        Some(vec![0; 8]),
    )
    .expect("a pending response carries its identifier");
    send_response(
        &mut pair,
        Side::Acceptor,
        3,
        find_rsp(id, Status::SUCCESS),
        None,
    )
    .expect("the final one carries none");
    assert_eq!(pair.acceptor.operations_in_progress(), 0);
}
