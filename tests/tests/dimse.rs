//! DIMSE command sets and messages (PS3.7 9.3, Annex E), checked against the standard's
//! table (`fixtures/spec/dimse-commands.tsv`) and real traffic (`fixtures/captures/`).
//!
//! - our command element table and command fields equal the spec file's;
//! - every required element, when absent, is named in `MessageError::Missing`;
//! - CommandGroupLength is computed on encode, never copied; CommandDataSetType 0x0101
//!   alone means "no data set";
//! - decoding keeps the first of a duplicated element and unknown elements;
//! - every message type round-trips through its command set with arbitrary field values,
//!   and decoding arbitrary or damaged bytes never panics;
//! - every command set of every capture decodes into what the capture's timeline says and
//!   re-encodes byte for byte;
//! - each capture is replayed against an `Association` with DIMSE on, in either role: it
//!   reports the peer's messages as the timeline lists them, and sends the PDVs the real
//!   peer sent.

use std::collections::BTreeMap;
use std::time::Instant;

use dicom_core::dictionary::DataDictionary;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicomwire::dimse::{
    CCancelRq, CEchoRq, CEchoRsp, CFindRq, CFindRsp, CGetRq, CMoveRq, COMMAND_ELEMENTS, CStoreRq,
    CStoreRsp, CommandField, CommandSet, Message, MessageError, MessageId, NO_DATA_SET, Priority,
    RetrieveRsp, Status, StatusDetail, SubOperations,
};
use dicomwire::pdu::{
    self, AssociateAc, AssociateRq, DecodeLimits, Decoded, MessageControlHeader, PData, Pdu,
    PresentationContextId,
};
use dicomwire::ul::{
    AcceptOptions, AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event,
    IncomingAssociation, ProposedContext, RolePolicy, SupportedSyntax,
};
use dicomwire_tests::capture::{Capture, Direction, all_captures, fixtures_dir};
use dicomwire_tests::spec;
use proptest::prelude::*;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

const VERIFICATION: &str = "1.2.840.10008.1.1";
const CT_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const MWL_FIND: &str = "1.2.840.10008.5.1.4.31";
const HP_GET: &str = "1.2.840.10008.5.1.4.38.4";
const HP_MOVE: &str = "1.2.840.10008.5.1.4.38.3";

// ---------------------------------------------------------------------------------------
// The spec table

/// `(0000,0100)` as a tag.
fn parse_tag(text: &str) -> Tag {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("tag {text:?}"));
    let (group, element) = inner.split_once(',').expect("group,element");
    let hex = |h: &str| u16::from_str_radix(h, 16).unwrap_or_else(|e| panic!("{text}: {e}"));
    Tag(hex(group), hex(element))
}

/// The `element` rows that name an element (not the data set rows).
fn element_rows() -> Vec<spec::Row> {
    spec::table("dimse-commands.tsv")
        .into_iter()
        .filter(|r| r["row_type"] == "element" && !r["tag"].is_empty())
        .collect()
}

/// Elements our table has that the spec file leaves out, and why they belong: the spec
/// file lists the DIMSE-C messages' elements, our table every group 0000 element a peer
/// may send us.
const ELEMENTS_BEYOND_THE_SPEC_FILE: [(u16, &str); 3] = [
    // DIMSE-N (PS3.7 10.3): N-GET/N-SET/N-ACTION/N-DELETE requests carry it.
    (0x0003, "RequestedSOPClassUID"),
    // PS3.7 Annex C: a status-related field beside OffendingElement and ErrorComment.
    (0x0903, "ErrorID"),
    // DIMSE-N (PS3.7 10.3).
    (0x1001, "RequestedSOPInstanceUID"),
];

#[test]
fn command_elements_equal_the_spec_file() {
    let mut from_spec: BTreeMap<Tag, (String, VR)> = BTreeMap::new();
    for row in element_rows() {
        let tag = parse_tag(&row["tag"]);
        let vr: VR = row["vr"]
            .parse()
            .unwrap_or_else(|_| panic!("VR {}", row["vr"]));
        let entry = (row["keyword"].clone(), vr);
        // The file repeats an element per message: every repetition must agree.
        let first = from_spec.entry(tag).or_insert_with(|| entry.clone());
        assert_eq!(*first, entry, "{tag} differs between rows of the spec file");
    }
    let ours: BTreeMap<Tag, (String, VR)> = COMMAND_ELEMENTS
        .iter()
        .map(|e| (e.tag, (e.keyword.to_owned(), e.vr)))
        .collect();
    assert_eq!(
        ours.len(),
        COMMAND_ELEMENTS.len(),
        "a tag twice in COMMAND_ELEMENTS"
    );
    let tags: Vec<Tag> = COMMAND_ELEMENTS.iter().map(|e| e.tag).collect();
    assert!(tags.is_sorted(), "COMMAND_ELEMENTS is in tag order");
    for (tag, expected) in &from_spec {
        assert_eq!(ours.get(tag), Some(expected), "{tag} in COMMAND_ELEMENTS");
    }
    let extra: Vec<(u16, &str)> = ours
        .iter()
        .filter(|(tag, _)| !from_spec.contains_key(tag))
        .map(|(tag, (keyword, _))| (tag.1, keyword.as_str()))
        .collect();
    assert_eq!(extra, ELEMENTS_BEYOND_THE_SPEC_FILE);
    // Those three, like the rest, agree with the standard's data dictionary.
    for e in COMMAND_ELEMENTS {
        assert_eq!(e.tag.0, 0x0000, "{} is in group 0000", e.keyword);
        let known = StandardDataDictionary
            .by_tag(e.tag)
            .unwrap_or_else(|| panic!("{} is in the data dictionary", e.keyword));
        assert_eq!(known.alias, e.keyword, "{}", e.tag);
        assert_eq!(known.vr.relaxed(), e.vr, "{}", e.keyword);
    }
}

#[test]
fn command_fields_equal_the_spec_file() {
    let rows: Vec<(u16, String)> = spec::table("dimse-commands.tsv")
        .into_iter()
        .filter(|r| r["row_type"] == "command")
        .map(|r| {
            let code = spec::parse_code(&r["command_field"]).expect("a code");
            (u16::try_from(code).expect("16 bits"), r["message"].clone())
        })
        .collect();
    let ours: Vec<(u16, String)> = CommandField::ALL
        .iter()
        .map(|f| (f.code(), f.name().to_owned()))
        .collect();
    assert_eq!(ours, rows);
    for (code, _) in &rows {
        assert_eq!(
            CommandField::from_code(*code).map(CommandField::code),
            Some(*code)
        );
    }
    assert_eq!(CommandField::from_code(0x1234), None);
}

#[test]
fn priority_codes_equal_the_spec_file() {
    let values: Vec<String> = spec::table("dimse-commands.tsv")
        .into_iter()
        .filter(|r| r["row_type"] == "value" && r["keyword"] == "Priority")
        .map(|r| r["condition"].clone())
        .collect();
    let ours: Vec<String> = [Priority::Low, Priority::Medium, Priority::High]
        .into_iter()
        .map(|p| format!("{} = 0x{:04X}", format!("{p:?}").to_uppercase(), p.code()))
        .collect();
    assert_eq!(ours, values);
    for p in [Priority::Low, Priority::Medium, Priority::High] {
        assert_eq!(Priority::from_code(p.code()), Some(p));
    }
    assert_eq!(Priority::from_code(3), None);
}

// ---------------------------------------------------------------------------------------
// One message of each type

fn detail() -> StatusDetail {
    StatusDetail {
        offending_element: Some(vec![Tag(0x0010, 0x0010), Tag(0x0008, 0x0050)]),
        error_comment: Some("odd".to_owned()),
        error_id: Some(7),
    }
}

/// One message of every DIMSE-C type with every field it can carry, and whether a data
/// set follows it.
fn samples() -> Vec<(Message, bool)> {
    let instance = "1.2.3.4.5.6.7".to_owned();
    vec![
        (
            Message::CEchoRq(CEchoRq {
                message_id: 1,
                affected_sop_class_uid: VERIFICATION.to_owned(),
            }),
            false,
        ),
        (
            Message::CEchoRsp(CEchoRsp {
                message_id_being_responded_to: 1,
                affected_sop_class_uid: Some(VERIFICATION.to_owned()),
                status: Status::SUCCESS,
                detail: detail(),
            }),
            false,
        ),
        (
            Message::CStoreRq(CStoreRq {
                message_id: 2,
                affected_sop_class_uid: CT_IMAGE.to_owned(),
                affected_sop_instance_uid: instance.clone(),
                priority: Priority::High,
                move_originator_ae_title: Some("MOVESCU".to_owned()),
                move_originator_message_id: Some(9),
            }),
            true,
        ),
        (
            Message::CStoreRsp(CStoreRsp {
                message_id_being_responded_to: 2,
                affected_sop_class_uid: Some(CT_IMAGE.to_owned()),
                affected_sop_instance_uid: Some(instance),
                status: Status(0xB000),
                detail: detail(),
            }),
            false,
        ),
        (
            Message::CFindRq(CFindRq {
                message_id: 3,
                affected_sop_class_uid: MWL_FIND.to_owned(),
                priority: Priority::Low,
            }),
            true,
        ),
        (
            Message::CFindRsp(CFindRsp {
                message_id_being_responded_to: 3,
                affected_sop_class_uid: Some(MWL_FIND.to_owned()),
                status: Status::PENDING,
                detail: StatusDetail::default(),
            }),
            true,
        ),
        (
            Message::CGetRq(CGetRq {
                message_id: 4,
                affected_sop_class_uid: HP_GET.to_owned(),
                priority: Priority::Medium,
            }),
            true,
        ),
        (
            Message::CGetRsp(RetrieveRsp {
                message_id_being_responded_to: 4,
                affected_sop_class_uid: Some(HP_GET.to_owned()),
                status: Status::PENDING,
                sub_operations: SubOperations {
                    remaining: Some(3),
                    completed: Some(2),
                    failed: Some(1),
                    warning: Some(0),
                },
                detail: detail(),
            }),
            false,
        ),
        (
            Message::CMoveRq(CMoveRq {
                message_id: 5,
                affected_sop_class_uid: HP_MOVE.to_owned(),
                priority: Priority::Medium,
                move_destination: "STORESCP".to_owned(),
            }),
            true,
        ),
        (
            Message::CMoveRsp(RetrieveRsp {
                message_id_being_responded_to: 5,
                affected_sop_class_uid: Some(HP_MOVE.to_owned()),
                status: Status(0xA801),
                sub_operations: SubOperations::default(),
                detail: StatusDetail::default(),
            }),
            true,
        ),
        (
            Message::CCancelRq(CCancelRq {
                message_id_being_responded_to: 3,
            }),
            false,
        ),
    ]
}

/// `set` with the element `tag` removed.
fn without(set: &CommandSet, tag: Tag) -> CommandSet {
    let mut s = set.clone();
    match tag.1 {
        0x0002 => s.affected_sop_class_uid = None,
        0x0003 => s.requested_sop_class_uid = None,
        0x0100 => s.command_field = None,
        0x0110 => s.message_id = None,
        0x0120 => s.message_id_being_responded_to = None,
        0x0600 => s.move_destination = None,
        0x0700 => s.priority = None,
        0x0800 => s.command_data_set_type = None,
        0x0900 => s.status = None,
        0x0901 => s.offending_element = None,
        0x0902 => s.error_comment = None,
        0x0903 => s.error_id = None,
        0x1000 => s.affected_sop_instance_uid = None,
        0x1001 => s.requested_sop_instance_uid = None,
        0x1020 => s.remaining = None,
        0x1021 => s.completed = None,
        0x1022 => s.failed = None,
        0x1023 => s.warning = None,
        0x1030 => s.move_originator_ae_title = None,
        0x1031 => s.move_originator_message_id = None,
        _ => panic!("no field for {tag}"),
    }
    s
}

fn encode(set: &CommandSet) -> Vec<u8> {
    let mut out = Vec::new();
    let n = set.encode(&mut out).expect("encodes");
    assert_eq!(n, out.len());
    out
}

#[test]
fn the_samples_cover_every_dimse_c_message() {
    let names: Vec<&str> = samples().iter().map(|(m, _)| m.name()).collect();
    let mut from_spec: Vec<String> = spec::table("dimse-commands.tsv")
        .into_iter()
        .filter(|r| r["row_type"] == "element")
        .map(|r| r["message"].clone())
        .collect();
    from_spec.dedup();
    let mut sorted_names = names.clone();
    sorted_names.sort_unstable();
    from_spec.sort();
    assert_eq!(sorted_names, from_spec);
}

#[test]
fn a_missing_required_element_is_named() {
    let samples = samples();
    let rows = element_rows();
    let mut checked = 0;
    for (message, has_data) in &samples {
        let full = message.to_command(*has_data);
        assert_eq!(Message::from_command(&full).as_ref(), Ok(message));
        let required: Vec<(Tag, String)> = rows
            .iter()
            .filter(|r| r["message"] == message.name() && r["usage"] == "M")
            .filter(|r| r["keyword"] != "CommandGroupLength")
            .map(|r| (parse_tag(&r["tag"]), r["keyword"].clone()))
            .collect();
        assert!(!required.is_empty(), "{}", message.name());
        for (tag, keyword) in required {
            let err = Message::from_command(&without(&full, tag))
                .expect_err(&format!("{} without {keyword}", message.name()));
            let expected_message = if keyword == "CommandField" {
                "command set" // without it the message type is unknown
            } else {
                message.name()
            };
            assert_eq!(
                err,
                MessageError::Missing {
                    message: expected_message,
                    element: COMMAND_ELEMENTS
                        .iter()
                        .find(|e| e.keyword == keyword)
                        .expect("a known keyword")
                        .keyword,
                },
                "{} without {keyword}",
                message.name()
            );
            assert!(err.to_string().contains(&keyword), "{err}");
            checked += 1;
        }
        // Optional and conditional elements may all be absent.
        let optional: Vec<Tag> = rows
            .iter()
            .filter(|r| r["message"] == message.name() && r["usage"] != "M")
            .map(|r| parse_tag(&r["tag"]))
            .collect();
        let mut bare = full.clone();
        for tag in optional {
            bare = without(&bare, tag);
        }
        assert!(Message::from_command(&bare).is_ok(), "{}", message.name());
    }
    // Every M row with a tag, minus the group lengths, was tried.
    let expected = rows
        .iter()
        .filter(|r| r["usage"] == "M" && r["keyword"] != "CommandGroupLength")
        .count();
    assert_eq!(checked, expected);
}

#[test]
fn invalid_priorities_unknown_fields_and_dimse_n_are_errors() {
    let (store, _) = samples().swap_remove(2);
    let mut set = store.to_command(true);
    set.priority = Some(3);
    assert_eq!(
        Message::from_command(&set),
        Err(MessageError::Invalid {
            message: "C-STORE-RQ",
            element: "Priority"
        })
    );
    set.command_field = Some(0x1234);
    assert_eq!(
        Message::from_command(&set),
        Err(MessageError::UnknownCommand(0x1234))
    );
    for field in CommandField::ALL {
        if !field.name().starts_with("N-") {
            continue;
        }
        set.command_field = Some(field.code());
        assert_eq!(
            Message::from_command(&set),
            Err(MessageError::Unsupported(field.name()))
        );
    }
}

// ---------------------------------------------------------------------------------------
// CommandGroupLength and CommandDataSetType

fn group_length(bytes: &[u8]) -> u32 {
    assert_eq!(
        &bytes[..8],
        &[0, 0, 0, 0, 4, 0, 0, 0],
        "(0000,0000) UL first"
    );
    u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"))
}

#[test]
fn command_group_length_counts_the_bytes_after_it() {
    for (message, has_data) in samples() {
        for with_data in [has_data, !has_data] {
            let mut set = message.to_command(with_data);
            let bytes = encode(&set);
            assert_eq!(group_length(&bytes) as usize, bytes.len() - 12, "{message}");
            // An unknown element adds to it.
            set.other.push((Tag(0x0000, 0x0115), vec![1, 2, 3, 4]));
            let longer = encode(&set);
            assert_eq!(longer.len(), bytes.len() + 12);
            assert_eq!(
                group_length(&longer) as usize,
                longer.len() - 12,
                "{message}"
            );
        }
    }
}

#[test]
fn a_stale_command_group_length_is_never_kept() {
    let (echo, _) = samples().swap_remove(0);
    let mut bytes = encode(&echo.to_command(false));
    let right = group_length(&bytes);
    // A peer's wrong group length is not trusted on decode, and not copied on encode.
    bytes[8..12].copy_from_slice(&999u32.to_le_bytes());
    let decoded = CommandSet::decode(&bytes).expect("decodes");
    assert_eq!(Message::from_command(&decoded).as_ref(), Ok(&echo));
    let again = encode(&decoded);
    assert_eq!(group_length(&again), right);
    // Changing a field after decoding changes the length written.
    let mut changed = decoded;
    changed.affected_sop_class_uid = Some(CT_IMAGE.to_owned());
    let longer = encode(&changed);
    assert_eq!(group_length(&longer) as usize, longer.len() - 12);
    assert_ne!(group_length(&longer), right);
}

#[test]
fn only_0101_means_no_data_set() {
    let (echo, _) = samples().swap_remove(0);
    assert_eq!(NO_DATA_SET, 0x0101);
    for (value, follows) in [
        (0x0101, false),
        (0x0000, true),
        (0x0001, true),
        (0x0102, true),
        (0xFEFE, true),
        (0xFFFF, true),
    ] {
        let mut set = echo.to_command(false);
        set.command_data_set_type = Some(value);
        let decoded = CommandSet::decode(&encode(&set)).expect("decodes");
        assert_eq!(decoded.command_data_set_type, Some(value));
        assert_eq!(decoded.has_data_set(), follows, "0x{value:04X}");
    }
    assert_eq!(echo.to_command(false).command_data_set_type, Some(0x0101));
    assert!(echo.to_command(true).has_data_set());
}

// ---------------------------------------------------------------------------------------
// What real peers send

/// One implicit-VR element: tag, 32-bit length, value.
fn element(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&tag.0.to_le_bytes());
    out.extend_from_slice(&tag.1.to_le_bytes());
    out.extend_from_slice(&u32::try_from(value.len()).expect("short").to_le_bytes());
    out.extend_from_slice(value);
    out
}

#[test]
fn a_duplicated_element_keeps_its_first_value() {
    let (rsp, _) = samples().swap_remove(1);
    let mut bytes = encode(&rsp.to_command(false));
    bytes.extend(element(Tag(0, 0x0900), &0xC000u16.to_le_bytes()));
    bytes.extend(element(Tag(0, 0x0120), &77u16.to_le_bytes()));
    bytes.extend(element(Tag(0, 0x0002), b"1.2.3\0"));
    bytes.extend(element(Tag(0, 0x0902), b"second"));
    let decoded = CommandSet::decode(&bytes).expect("decodes");
    assert_eq!(Message::from_command(&decoded).as_ref(), Ok(&rsp));
    assert!(decoded.other.is_empty(), "known duplicates are dropped");
}

#[test]
fn unknown_elements_are_kept_and_written_back_in_tag_order() {
    let (echo, _) = samples().swap_remove(0);
    let mut bytes = encode(&echo.to_command(false));
    let late = (Tag(0x0000, 0x4000), b"ABCD".to_vec());
    let early = (Tag(0x0000, 0x0115), vec![1, 0]);
    let outside = (Tag(0x0008, 0x0016), b"1.2\0".to_vec());
    for (tag, value) in [&late, &outside, &early] {
        bytes.extend(element(*tag, value));
    }
    let decoded = CommandSet::decode(&bytes).expect("decodes");
    assert_eq!(
        decoded.other,
        vec![late.clone(), outside.clone(), early.clone()]
    );
    assert_eq!(Message::from_command(&decoded).as_ref(), Ok(&echo));
    let again = encode(&decoded);
    let back = CommandSet::decode(&again).expect("decodes");
    assert_eq!(back.other, vec![early.clone(), late, outside]);
    // (0000,0115) sits between MessageID (0000,0110) and MessageIDBeingRespondedTo.
    let tags: Vec<(u16, u16)> = element_tags(&again);
    assert!(tags.is_sorted(), "{tags:04X?}");
}

/// The tags of an encoded command set, in order.
fn element_tags(mut bytes: &[u8]) -> Vec<(u16, u16)> {
    let mut tags = Vec::new();
    while bytes.len() >= 8 {
        let group = u16::from_le_bytes([bytes[0], bytes[1]]);
        let elem = u16::from_le_bytes([bytes[2], bytes[3]]);
        let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        tags.push((group, elem));
        bytes = &bytes[8 + len..];
    }
    tags
}

#[test]
fn lax_padding_and_extra_values_are_tolerated() {
    let mut bytes = Vec::new();
    bytes.extend(element(Tag(0, 0x0002), b"1.2.840.10008.1.1 ")); // space-padded UI
    bytes.extend(element(Tag(0, 0x0100), &[0x30, 0x00]));
    bytes.extend(element(Tag(0, 0x0110), &[5, 0, 6, 0])); // US with two values
    bytes.extend(element(Tag(0, 0x0800), &[0x01, 0x01]));
    let decoded = CommandSet::decode(&bytes).expect("decodes");
    assert_eq!(
        Message::from_command(&decoded),
        Ok(Message::CEchoRq(CEchoRq {
            message_id: 5,
            affected_sop_class_uid: VERIFICATION.to_owned(),
        }))
    );
}

#[test]
fn a_command_with_the_data_set_type_missing_is_refused() {
    // Without CommandDataSetType no one can tell whether a data set follows: PS3.7 makes
    // it mandatory in every DIMSE-C command (Tables 9.3-1 to 9.3-13).
    let (find, _) = samples().swap_remove(4);
    let set = without(&find.to_command(true), Tag(0, 0x0800));
    assert_eq!(
        Message::from_command(&set),
        Err(MessageError::Missing {
            message: "C-FIND-RQ",
            element: "CommandDataSetType"
        })
    );
}

// ---------------------------------------------------------------------------------------
// Round trips

fn uid() -> impl Strategy<Value = String> {
    "[1-9][0-9]{0,2}(\\.(0|[1-9][0-9]{0,5})){1,9}"
}

/// AE titles: 1 to 16 characters, no leading or trailing space, no backslash.
fn ae_title() -> impl Strategy<Value = String> {
    "[A-Z0-9_!-\\[\\]-~]([ A-Za-z0-9_-]{0,14}[A-Z0-9_])?"
}

/// LO values: up to 64 characters, no leading or trailing space, no backslash.
fn long_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[!-\\[\\]-~]([ -\\[\\]-~]{0,62}[!-\\[\\]-~])?",
    ]
}

fn tag() -> impl Strategy<Value = Tag> {
    (any::<u16>(), any::<u16>()).prop_map(|(g, e)| Tag(g, e))
}

fn priority() -> impl Strategy<Value = Priority> {
    prop_oneof![
        Just(Priority::Low),
        Just(Priority::Medium),
        Just(Priority::High)
    ]
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::SUCCESS),
        Just(Status::PENDING),
        Just(Status::CANCEL),
        any::<u16>().prop_map(Status),
    ]
}

fn status_detail() -> impl Strategy<Value = StatusDetail> {
    (
        proptest::option::of(proptest::collection::vec(tag(), 0..5)),
        proptest::option::of(long_string()),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(
            |(offending_element, error_comment, error_id)| StatusDetail {
                offending_element,
                error_comment,
                error_id,
            },
        )
}

fn sub_operations() -> impl Strategy<Value = SubOperations> {
    proptest::array::uniform4(proptest::option::of(any::<u16>())).prop_map(
        |[remaining, completed, failed, warning]| SubOperations {
            remaining,
            completed,
            failed,
            warning,
        },
    )
}

fn retrieve_rsp() -> impl Strategy<Value = RetrieveRsp> {
    (
        any::<MessageId>(),
        proptest::option::of(uid()),
        status(),
        sub_operations(),
        status_detail(),
    )
        .prop_map(
            |(id, affected_sop_class_uid, status, sub_operations, detail)| RetrieveRsp {
                message_id_being_responded_to: id,
                affected_sop_class_uid,
                status,
                sub_operations,
                detail,
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<MessageId>(), uid()).prop_map(|(message_id, affected_sop_class_uid)| {
            Message::CEchoRq(CEchoRq {
                message_id,
                affected_sop_class_uid,
            })
        }),
        (
            any::<MessageId>(),
            proptest::option::of(uid()),
            status(),
            status_detail()
        )
            .prop_map(|(id, affected_sop_class_uid, status, detail)| {
                Message::CEchoRsp(CEchoRsp {
                    message_id_being_responded_to: id,
                    affected_sop_class_uid,
                    status,
                    detail,
                })
            }),
        (
            any::<MessageId>(),
            uid(),
            uid(),
            priority(),
            proptest::option::of(ae_title()),
            proptest::option::of(any::<MessageId>()),
        )
            .prop_map(|(message_id, class, instance, priority, ae, id)| {
                Message::CStoreRq(CStoreRq {
                    message_id,
                    affected_sop_class_uid: class,
                    affected_sop_instance_uid: instance,
                    priority,
                    move_originator_ae_title: ae,
                    move_originator_message_id: id,
                })
            }),
        (
            any::<MessageId>(),
            proptest::option::of(uid()),
            proptest::option::of(uid()),
            status(),
            status_detail(),
        )
            .prop_map(|(id, class, instance, status, detail)| {
                Message::CStoreRsp(CStoreRsp {
                    message_id_being_responded_to: id,
                    affected_sop_class_uid: class,
                    affected_sop_instance_uid: instance,
                    status,
                    detail,
                })
            }),
        (any::<MessageId>(), uid(), priority()).prop_map(|(message_id, class, priority)| {
            Message::CFindRq(CFindRq {
                message_id,
                affected_sop_class_uid: class,
                priority,
            })
        }),
        (
            any::<MessageId>(),
            proptest::option::of(uid()),
            status(),
            status_detail()
        )
            .prop_map(|(id, class, status, detail)| {
                Message::CFindRsp(CFindRsp {
                    message_id_being_responded_to: id,
                    affected_sop_class_uid: class,
                    status,
                    detail,
                })
            }),
        (any::<MessageId>(), uid(), priority()).prop_map(|(message_id, class, priority)| {
            Message::CGetRq(CGetRq {
                message_id,
                affected_sop_class_uid: class,
                priority,
            })
        }),
        retrieve_rsp().prop_map(Message::CGetRsp),
        (any::<MessageId>(), uid(), priority(), ae_title()).prop_map(
            |(message_id, class, priority, destination)| {
                Message::CMoveRq(CMoveRq {
                    message_id,
                    affected_sop_class_uid: class,
                    priority,
                    move_destination: destination,
                })
            }
        ),
        retrieve_rsp().prop_map(Message::CMoveRsp),
        any::<MessageId>().prop_map(|id| Message::CCancelRq(CCancelRq {
            message_id_being_responded_to: id
        })),
    ]
}

/// `decode(encode(set))`, which must be `set` with its unknown elements in tag order.
fn assert_stable(set: &CommandSet) -> Result<(), TestCaseError> {
    let mut bytes = Vec::new();
    set.encode(&mut bytes)
        .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    let back = CommandSet::decode(&bytes)
        .map_err(|e| TestCaseError::fail(format!("decode of our encoding: {e}")))?;
    let mut expected = set.clone();
    expected.other.sort_by_key(|(t, _)| *t);
    prop_assert_eq!(back, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_message_round_trips(message in message(), has_data in any::<bool>()) {
        let set = message.to_command(has_data);
        prop_assert_eq!(set.has_data_set(), has_data);
        let bytes = encode(&set);
        prop_assert_eq!(group_length(&bytes) as usize, bytes.len() - 12);
        let decoded = CommandSet::decode(&bytes).expect("our encoding decodes");
        prop_assert_eq!(&decoded, &set);
        prop_assert_eq!(decoded.has_data_set(), has_data);
        prop_assert_eq!(Message::from_command(&decoded), Ok(message));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(set) = CommandSet::decode(&bytes) {
            let _ = Message::from_command(&set);
            assert_stable(&set)?;
        }
    }

    #[test]
    fn decoding_damaged_commands_never_panics(
        message in message(),
        has_data in any::<bool>(),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = encode(&message.to_command(has_data));
        for (at, byte) in damage {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(set) = CommandSet::decode(&bytes) {
            let _ = Message::from_command(&set);
            assert_stable(&set)?;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Golden: the captures

/// A DIMSE message as it went over the wire in a capture.
#[derive(Debug, Clone)]
struct WireMessage {
    context_id: u8,
    command: Vec<u8>,
    data: Option<Vec<u8>>,
    /// Its PDVs: context, message control header, fragment.
    pdvs: Vec<(u8, u8, Vec<u8>)>,
}

/// Cuts a byte stream into whole PDUs.
fn split_pdus(mut stream: &[u8]) -> Vec<&[u8]> {
    let mut pdus = Vec::new();
    while !stream.is_empty() {
        assert!(stream.len() >= 6, "a PDU header");
        let len = u32::from_be_bytes(stream[2..6].try_into().expect("4 bytes")) as usize;
        let (pdu, rest) = stream.split_at(6 + len);
        pdus.push(pdu);
        stream = rest;
    }
    pdus
}

fn limits() -> DecodeLimits {
    DecodeLimits {
        max_pdu_length: u32::MAX,
        max_associate_length: u32::MAX,
    }
}

fn decode_pdu(bytes: &[u8]) -> Pdu<'_> {
    match pdu::decode(bytes, &limits()) {
        Ok(Decoded::Complete { pdu, consumed }) if consumed == bytes.len() => pdu,
        other => panic!("not one whole PDU: {other:?}"),
    }
}

/// Our own reassembly of one direction's PDVs (command PDVs until the last flag, then
/// data PDVs until the last flag when the command says a data set follows).
#[derive(Debug, Default)]
struct Reassembly {
    current: Option<WireMessage>,
    command_done: bool,
    done: Vec<WireMessage>,
}

impl Reassembly {
    fn push_pdu(&mut self, pdu_bytes: &[u8]) {
        let Pdu::PData(p) = decode_pdu(pdu_bytes) else {
            return;
        };
        for pdv in &p.pdvs {
            let pc = pdv.context_id.get();
            let m = self.current.get_or_insert_with(|| WireMessage {
                context_id: pc,
                command: Vec::new(),
                data: None,
                pdvs: Vec::new(),
            });
            assert_eq!(m.context_id, pc, "one message, one context");
            m.pdvs.push((pc, pdv.header.bits(), pdv.data.to_vec()));
            if pdv.header.is_command() {
                assert!(!self.command_done, "a command PDV inside a data set");
                m.command.extend_from_slice(pdv.data);
                if pdv.header.is_last() {
                    let set = CommandSet::decode(&m.command).expect("a capture's command decodes");
                    if set.has_data_set() {
                        self.command_done = true;
                    } else {
                        self.finish();
                    }
                }
            } else {
                assert!(self.command_done, "data before its command");
                m.data
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(pdv.data);
                if pdv.header.is_last() {
                    self.finish();
                }
            }
        }
    }

    fn finish(&mut self) {
        let mut m = self.current.take().expect("a message");
        if self.command_done && m.data.is_none() {
            m.data = Some(Vec::new());
        }
        self.command_done = false;
        self.done.push(m);
    }
}

/// Every DIMSE message of one direction of a capture.
fn wire_messages(capture: &Capture, dir: Direction) -> Vec<WireMessage> {
    let stream = capture.stream(0, dir);
    let mut r = Reassembly::default();
    for pdu in split_pdus(&stream) {
        r.push_pdu(pdu);
    }
    assert!(r.current.is_none(), "a message left incomplete");
    r.done
}

/// What a `.txt` timeline says about one DIMSE message.
#[derive(Debug, Clone, Default)]
struct TimelineMessage {
    dir: Option<Direction>,
    context_id: u8,
    name: String,
    fields: BTreeMap<String, String>,
    data_len: Option<usize>,
}

/// The capture names of the captures' sessions with DIMSE traffic, and the rest.
fn captures() -> Vec<(String, Capture)> {
    all_captures()
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a name")
                .to_owned();
            (name, Capture::load(&path))
        })
        .collect()
}

/// `name → UID` for every `UID (Name)` a timeline mentions, and its DIMSE messages.
fn timeline(name: &str) -> (BTreeMap<String, String>, Vec<TimelineMessage>) {
    let path = fixtures_dir().join("captures").join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path).expect("a timeline");
    let mut uids = BTreeMap::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    let clean = |w: &str| {
        w.trim_matches(|c| matches!(c, '[' | ']' | '\'' | '(' | ')' | ',' | ';'))
            .to_owned()
    };
    for pair in words.windows(2) {
        let uid = clean(pair[0]);
        if !uid.is_empty()
            && uid.contains('.')
            && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && pair[1].starts_with('(')
        {
            uids.insert(clean(pair[1]), uid);
        }
    }
    let mut messages: Vec<TimelineMessage> = Vec::new();
    for line in text.lines() {
        let Some((head, pdvs)) = line.split_once(" | ") else {
            continue;
        };
        let dir = if head.contains(" c2s ") { C2S } else { S2C };
        assert!(head.contains("P-DATA-TF"), "{line}");
        for pdv in pdvs.split(" | ") {
            let mut words = pdv.split_whitespace();
            let context_id: u8 = words
                .next()
                .and_then(|w| w.strip_prefix("pc"))
                .and_then(|n| n.parse().ok())
                .expect("pcN");
            let kind = words.next().expect("CMD or DATA");
            let len: usize = words
                .next()
                .and_then(|w| w.strip_suffix('B'))
                .and_then(|n| n.parse().ok())
                .expect("a length");
            if kind.starts_with("CMD") {
                assert_eq!(kind, "CMD(last)", "the captures' commands are one PDV each");
                let mut m = TimelineMessage {
                    dir: Some(dir),
                    context_id,
                    ..TimelineMessage::default()
                };
                let mut last_key = String::new();
                for word in words {
                    if let Some((key, value)) = word.split_once('=') {
                        last_key = key.to_owned();
                        m.fields.insert(key.to_owned(), value.to_owned());
                    } else if last_key == "CommandField" {
                        // `C-FIND-RQ (0x0020)`
                        m.name = m.fields["CommandField"].clone();
                        let code = word.trim_matches(|c| c == '(' || c == ')');
                        m.fields.insert("CommandField".to_owned(), code.to_owned());
                    } else {
                        panic!("{line}: {word}");
                    }
                }
                messages.push(m);
            } else {
                let m = messages
                    .iter_mut()
                    .rev()
                    .find(|m| m.dir == Some(dir))
                    .expect("data after a command");
                *m.data_len.get_or_insert(0) += len;
            }
        }
    }
    (uids, messages)
}

fn number(text: &str) -> u16 {
    match text.strip_prefix("0x") {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The decoded set's fields the timeline prints, as the timeline would print them.
fn printed_fields(set: &CommandSet, uids: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            out.insert(key.to_owned(), v);
        }
    };
    let sop_class_name = set.affected_sop_class_uid.as_ref().map(|uid| {
        uids.iter()
            .find(|(_, u)| *u == uid)
            .map_or_else(|| uid.clone(), |(name, _)| name.clone())
    });
    put(
        "CommandField",
        set.command_field.map(|c| format!("0x{c:04x}")),
    );
    put("MessageID", set.message_id.map(|v| v.to_string()));
    put(
        "MessageIDBeingRespondedTo",
        set.message_id_being_responded_to.map(|v| v.to_string()),
    );
    put("MoveDestination", set.move_destination.clone());
    put("Priority", set.priority.map(|v| v.to_string()));
    put(
        "CommandDataSetType",
        set.command_data_set_type.map(|v| v.to_string()),
    );
    put("Status", set.status.map(|v| format!("0x{v:04x}")));
    put(
        "AffectedSOPInstanceUID",
        set.affected_sop_instance_uid.clone(),
    );
    put(
        "NumberOfRemainingSuboperations",
        set.remaining.map(|v| v.to_string()),
    );
    put(
        "NumberOfCompletedSuboperations",
        set.completed.map(|v| v.to_string()),
    );
    put(
        "NumberOfFailedSuboperations",
        set.failed.map(|v| v.to_string()),
    );
    put(
        "NumberOfWarningSuboperations",
        set.warning.map(|v| v.to_string()),
    );
    put("SOPClass", sop_class_name);
    for (key, value) in [
        (
            "RequestedSOPClassUID",
            set.requested_sop_class_uid.is_some(),
        ),
        ("OffendingElement", set.offending_element.is_some()),
        ("ErrorComment", set.error_comment.is_some()),
        ("ErrorID", set.error_id.is_some()),
        (
            "RequestedSOPInstanceUID",
            set.requested_sop_instance_uid.is_some(),
        ),
        ("MoveOriginator", set.move_originator_ae_title.is_some()),
        ("MoveOriginatorID", set.move_originator_message_id.is_some()),
    ] {
        // None of the captures carries these; the timeline format does not print them.
        assert!(!value, "{key} in a capture");
    }
    out
}

#[test]
fn every_command_set_of_every_capture_is_what_its_timeline_says() {
    let mut total = 0;
    for (name, capture) in captures() {
        let (uids, expected) = timeline(&name);
        for dir in [C2S, S2C] {
            let ours = wire_messages(&capture, dir);
            let theirs: Vec<&TimelineMessage> =
                expected.iter().filter(|m| m.dir == Some(dir)).collect();
            assert_eq!(ours.len(), theirs.len(), "{name} {dir:?}");
            for (wire, line) in ours.iter().zip(theirs) {
                let at = format!("{name} {dir:?} {}", line.name);
                let set = CommandSet::decode(&wire.command).expect("decodes");
                assert!(
                    set.other.is_empty(),
                    "{at}: unknown elements {:?}",
                    set.other
                );
                assert_eq!(wire.context_id, line.context_id, "{at}");
                // Normalize the timeline's hex to lower case, as printed_fields does.
                let mut their_fields = line.fields.clone();
                for key in ["CommandField", "Status"] {
                    if let Some(v) = their_fields.get_mut(key) {
                        *v = format!("0x{:04x}", number(v));
                    }
                }
                assert_eq!(printed_fields(&set, &uids), their_fields, "{at}");
                let message = Message::from_command(&set).expect("a message we handle");
                assert_eq!(message.name(), line.name, "{at}");
                assert_eq!(set.has_data_set(), wire.data.is_some(), "{at}");
                assert_eq!(wire.data.as_ref().map(Vec::len), line.data_len, "{at}");
                // Both peers write elements in tag order with UIDs padded by NUL and AE
                // titles by spaces, as we do: the bytes come back exactly.
                assert_eq!(encode(&set), wire.command, "{at}: re-encoded");
                // And from the typed message, which drops nothing these carry.
                assert_eq!(
                    encode(&message.to_command(set.has_data_set())),
                    if set.command_data_set_type == Some(NO_DATA_SET)
                        || set.command_data_set_type == Some(0x0001)
                    {
                        wire.command.clone()
                    } else {
                        panic!("{at}: CommandDataSetType {:?}", set.command_data_set_type)
                    },
                    "{at}: from the message"
                );
                total += 1;
            }
        }
    }
    // Three C-ECHO exchanges, hp_get, hp_move, two MWL finds and the cancelled one;
    // then the captures made with fixtures/captures/tools: the pynetdicom echo before its
    // abort, hp_get_3 (GET, 3 C-STORE-RQ and RSP, 3 pending, final), hp_move_3 (MOVE,
    // 3 pending, final), the 200-match find (request, 200 pending, final), the
    // pynetdicom cancel (request, cancel, 2 pending, cancel status) and the 128 KiB PDU
    // find (request, 2 pending, final).
    assert_eq!(
        total,
        3 * 2 + 8 + 4 + 2 * 5 + 5 + 2 + (1 + 3 + 3 + 3 + 1) + 5 + 202 + 5 + 4
    );
}

// ---------------------------------------------------------------------------------------
// Replays: one side of each capture played by an Association with DIMSE on

/// A one-line summary of a DIMSE message: `pc3 C-GET-RQ id=2 data=122B`.
fn summary(
    context_id: u8,
    name: &str,
    id: Option<MessageId>,
    responded_to: Option<MessageId>,
    status: Option<u16>,
    data_len: Option<usize>,
) -> String {
    let mut s = format!("pc{context_id} {name}");
    if let Some(id) = id {
        s += &format!(" id={id}");
    }
    if let Some(id) = responded_to {
        s += &format!(" rsp-to={id}");
    }
    if let Some(status) = status {
        s += &format!(" status=0x{status:04X}");
    }
    if let Some(len) = data_len {
        s += &format!(" data={len}B");
    }
    s
}

fn timeline_summary(m: &TimelineMessage) -> String {
    let field = |key: &str| m.fields.get(key).map(|v| number(v));
    summary(
        m.context_id,
        &m.name,
        field("MessageID"),
        field("MessageIDBeingRespondedTo"),
        field("Status"),
        m.data_len,
    )
}

/// Which side of the capture our association plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// We are the acceptor: the capture's c2s bytes are fed to us; we send what the
    /// capture's server sent.
    Acceptor,
    /// We are the requestor: the s2c bytes are fed to us; we send what the client sent.
    Requestor,
}

impl Role {
    fn fed(self) -> Direction {
        match self {
            Self::Acceptor => C2S,
            Self::Requestor => S2C,
        }
    }
}

struct Replay {
    name: String,
    role: Role,
    assoc: Association,
    now: Instant,
    pending: Option<IncomingAssociation>,
    /// Summaries of the `Event::Message`s we reported.
    messages: Vec<String>,
    /// Every other event, described.
    other_events: Vec<String>,
    /// What we transmitted, burned requests left out.
    sent: Vec<u8>,
    /// The message ID our next request gets (they are allocated 1, 2, 3 …).
    next_id: MessageId,
    /// Our requests whose only purpose was to move the message ID on.
    burned: Vec<MessageId>,
    played: Reassembly,
}

impl Replay {
    fn drain(&mut self, keep_sent: bool) {
        let mut out = Vec::new();
        while let Some(_t) = self.assoc.poll_transmit(self.now, &mut out) {}
        if keep_sent {
            self.sent.extend(out);
        }
        while let Some(event) = self.assoc.poll_event() {
            match event {
                Event::AssociationRequested(incoming) => self.pending = Some(incoming),
                Event::Message(m) => {
                    let responded_to = m.message.responded_to();
                    if m.message.is_response()
                        && responded_to.is_some_and(|id| self.burned.contains(&id))
                    {
                        continue;
                    }
                    self.messages.push(summary(
                        m.context_id.get(),
                        m.message.name(),
                        m.message.message_id(),
                        responded_to,
                        m.message.status().map(|s| s.0),
                        m.data.as_ref().map(|d| d.bytes.len()),
                    ));
                }
                Event::Aborted(a) => self.other_events.push(format!("Aborted({a:?})")),
                Event::Established(n) => self
                    .other_events
                    .push(format!("Established({} accepted)", n.accepted().count())),
                Event::ReleaseRequested { .. } => {
                    self.other_events.push("ReleaseRequested".to_owned());
                }
                other => self.other_events.push(format!("{other:?}")),
            }
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = self
                .assoc
                .handle_input(self.now, bytes)
                .expect("input taken");
            bytes = &bytes[n..];
            self.drain(true);
        }
    }

    /// Does what the played side did with one of its PDUs.
    fn play(&mut self, pdu_bytes: &[u8]) {
        let now = self.now;
        match pdu_bytes[0] {
            0x01 => {} // our requestor sent its own A-ASSOCIATE-RQ when connected
            0x02 => {
                let incoming = self.pending.take().expect("an A-ASSOCIATE indication");
                self.assoc
                    .accept(now, incoming, AcceptOptions::default())
                    .expect("accept");
            }
            0x04 => {
                self.played.push_pdu(pdu_bytes);
                for m in std::mem::take(&mut self.played.done) {
                    self.send(m);
                }
            }
            0x05 => self.assoc.release(now).expect("release"),
            0x06 => self.assoc.release_response(now).expect("release response"),
            0x07 => self.assoc.abort(now).expect("abort"),
            other => panic!("{}: PDU type {other}", self.name),
        }
        self.drain(true);
    }

    /// Sends one message the played side sent, through the DIMSE API.
    fn send(&mut self, wire: WireMessage) {
        let now = self.now;
        let set = CommandSet::decode(&wire.command).expect("decodes");
        let message = Message::from_command(&set).expect("a message");
        let pc = PresentationContextId::new(wire.context_id).expect("odd");
        let at = format!("{} {:?}: {message}", self.name, self.role);
        if let Some(id) = message.message_id() {
            assert!(self.next_id <= id, "{at}: our IDs are already past it");
            while self.next_id < id {
                self.burn(pc, &message, wire.data.clone());
            }
            let got = self
                .assoc
                .send_request(now, pc, message, wire.data.map(Into::into))
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(got, id, "{at}");
            self.next_id += 1;
        } else if let Message::CCancelRq(c) = message {
            self.assoc
                .send_cancel(now, c.message_id_being_responded_to)
                .unwrap_or_else(|e| panic!("{at}: {e}"));
        } else {
            self.assoc
                .send_response(now, pc, message, wire.data.map(Into::into))
                .unwrap_or_else(|e| panic!("{at}: {e}"));
        }
    }

    /// Sends `request` with the next message ID, and completes it with a response fed as
    /// if the peer had sent it: our message IDs start at 1, the capture's peer may have
    /// started elsewhere.
    fn burn(&mut self, pc: PresentationContextId, request: &Message, data: Option<Vec<u8>>) {
        let now = self.now;
        let id = self
            .assoc
            .send_request(now, pc, request.clone(), data.map(Into::into))
            .expect("a request to burn an ID");
        assert_eq!(id, self.next_id);
        self.burned.push(id);
        self.drain(false);
        let response = match request.clone() {
            Message::CEchoRq(mut m) => {
                m.message_id = id;
                Message::CEchoRq(m)
            }
            Message::CStoreRq(mut m) => {
                m.message_id = id;
                Message::CStoreRq(m)
            }
            Message::CFindRq(mut m) => {
                m.message_id = id;
                Message::CFindRq(m)
            }
            Message::CGetRq(mut m) => {
                m.message_id = id;
                Message::CGetRq(m)
            }
            Message::CMoveRq(mut m) => {
                m.message_id = id;
                Message::CMoveRq(m)
            }
            other => panic!("not a request: {other}"),
        }
        .response_with(Status::SUCCESS)
        .expect("a response");
        let bytes = pdata(pc, &encode(&response.to_command(false)), true);
        let taken = self.assoc.handle_input(now, &bytes).expect("input");
        assert_eq!(taken, bytes.len());
        self.drain(false);
        assert_eq!(
            self.assoc.outstanding_requests(),
            0,
            "the burned ID completed"
        );
        self.next_id += 1;
    }
}

/// A P-DATA-TF with one PDV.
fn pdata(pc: PresentationContextId, fragment: &[u8], command_last: bool) -> Vec<u8> {
    let header = if command_last {
        MessageControlHeader::COMMAND | MessageControlHeader::LAST
    } else {
        MessageControlHeader::COMMAND
    };
    let mut out = Vec::new();
    Pdu::PData(PData::new(vec![pdu::Pdv {
        context_id: pc,
        header,
        data: fragment,
    }]))
    .encode(&mut out)
    .expect("encodes");
    out
}

/// The capture's A-ASSOCIATE-RQ and -AC.
fn handshake(capture: &Capture) -> Option<(AssociateRq, AssociateAc)> {
    let c2s = capture.stream(0, C2S);
    let s2c = capture.stream(0, S2C);
    let rq = match decode_pdu(split_pdus(&c2s)[0]) {
        Pdu::AssociateRq(rq) => *rq,
        other => panic!("{other:?}"),
    };
    match decode_pdu(split_pdus(&s2c)[0]) {
        Pdu::AssociateAc(ac) => Some((rq, *ac)),
        _ => None,
    }
}

/// The policy that makes our acceptor answer as the capture's did: each accepted
/// context's abstract syntax with the transfer syntax the capture's acceptor chose, and
/// the roles the requestor proposed.
fn policy_like(rq: &AssociateRq, ac: &AssociateAc) -> AcceptorPolicy {
    let abstract_syntaxes = ac
        .presentation_contexts
        .iter()
        .filter_map(|answer| {
            let proposed = rq
                .presentation_contexts
                .iter()
                .find(|p| p.id == answer.id)?;
            let ts = answer.transfer_syntax.clone()?;
            let roles = rq
                .user_information
                .role_selections
                .iter()
                .find(|r| r.sop_class_uid == proposed.abstract_syntax)
                .map_or_else(RolePolicy::default, |r| RolePolicy {
                    requestor_may_be_scu: r.scu_role,
                    requestor_may_be_scp: r.scp_role,
                });
            Some(SupportedSyntax::new(proposed.abstract_syntax.clone(), vec![ts]).with_roles(roles))
        })
        .collect();
    AcceptorPolicy {
        abstract_syntaxes,
        ..AcceptorPolicy::default()
    }
}

/// The request that makes our requestor propose what the capture's did.
fn request_like(rq: &AssociateRq) -> AssociationRequest {
    let mut request = AssociationRequest::new(rq.calling_ae_title, rq.called_ae_title);
    for (i, pc) in rq.presentation_contexts.iter().enumerate() {
        assert_eq!(usize::from(pc.id.get()), 2 * i + 1, "ids 1, 3, 5 … as ours");
        request = request.with_context(ProposedContext::new(
            pc.abstract_syntax.clone(),
            pc.transfer_syntaxes.clone(),
        ));
    }
    for r in &rq.user_information.role_selections {
        request = request.with_role(r.sop_class_uid.clone(), r.scu_role, r.scp_role);
    }
    request.async_operations_window = rq.user_information.async_operations_window;
    request
}

/// Every PDV in a stream of PDUs: context, header, fragment.
fn pdvs_of(stream: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
    split_pdus(stream)
        .into_iter()
        .filter_map(|pdu| match decode_pdu(pdu) {
            Pdu::PData(p) => Some(
                p.pdvs
                    .iter()
                    .map(|v| (v.context_id.get(), v.header.bits(), v.data.to_vec()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

fn replay(name: &str, capture: &Capture, rq: &AssociateRq, ac: &AssociateAc, role: Role) -> Replay {
    let now = Instant::now();
    let assoc = match role {
        Role::Acceptor => Association::acceptor(
            now,
            AssociationConfig::default(),
            policy_like(rq, ac).into(),
        ),
        Role::Requestor => {
            let mut a = Association::requestor(now, AssociationConfig::default(), request_like(rq))
                .expect("our request");
            a.handle_transport_connected(now).expect("connected");
            a
        }
    };
    let mut r = Replay {
        name: name.to_owned(),
        role,
        assoc,
        now,
        pending: None,
        messages: Vec::new(),
        other_events: Vec::new(),
        sent: Vec::new(),
        next_id: 1,
        burned: Vec::new(),
        played: Reassembly::default(),
    };
    r.drain(false); // our own A-ASSOCIATE-RQ is not compared
    let mut played_bytes = Vec::new();
    for chunk in capture.chunks.iter().filter(|c| c.conn == 0) {
        if chunk.dir == role.fed() {
            // Fed in the pieces the real peer's recv() returned.
            r.feed(&chunk.bytes);
        } else {
            played_bytes.extend_from_slice(&chunk.bytes);
            loop {
                if played_bytes.len() < 6 {
                    break;
                }
                let len = u32::from_be_bytes(played_bytes[2..6].try_into().expect("4")) as usize;
                if played_bytes.len() < 6 + len {
                    break;
                }
                let pdu: Vec<u8> = played_bytes.drain(..6 + len).collect();
                if pdu[0] == 0x01 {
                    continue;
                }
                r.play(&pdu);
            }
        }
    }
    r
}

#[test]
fn each_capture_replays_against_an_association_in_either_role() {
    let mut replayed = 0;
    for (name, capture) in captures() {
        let Some((rq, ac)) = handshake(&capture) else {
            // assoc_reject: no DIMSE traffic to replay.
            continue;
        };
        let (_, timeline) = timeline(&name);
        for role in [Role::Acceptor, Role::Requestor] {
            let r = replay(&name, &capture, &rq, &ac, role);
            let at = format!("{name} as {role:?}");
            // The peer's messages, as the timeline lists them, none dropped or unmatched.
            let expected: Vec<String> = timeline
                .iter()
                .filter(|m| m.dir == Some(role.fed()))
                .map(timeline_summary)
                .collect();
            assert_eq!(r.messages, expected, "{at}");
            // No abort but the one the abort capture's requestor sent.
            let aborts: Vec<&String> = r
                .other_events
                .iter()
                .filter(|e| e.starts_with("Aborted"))
                .collect();
            if name.starts_with("abort") && role == Role::Acceptor {
                assert_eq!(aborts.len(), 1, "{at}: {aborts:?}");
                assert!(aborts[0].contains("ByPeer"), "{at}: {aborts:?}");
            } else {
                assert!(aborts.is_empty(), "{at}: {aborts:?}");
            }
            assert!(
                r.other_events.iter().any(|e| e.starts_with("Established")),
                "{at}: {:?}",
                r.other_events
            );
            assert!(
                !r.other_events
                    .iter()
                    .any(|e| e.contains("Dimse") || e.contains("ProtocolViolation")),
                "{at}: {:?}",
                r.other_events
            );
            // Every operation was closed by its final response.
            assert_eq!(r.assoc.outstanding_requests(), 0, "{at}");
            // What we sent is, PDV for PDV, what the real peer sent: the same command
            // bytes and the same data fragments (the PDUs may be framed differently: we
            // put the first data PDV in the command's P-DATA-TF).
            let played = match role {
                Role::Acceptor => S2C,
                Role::Requestor => C2S,
            };
            let theirs = pdvs_of(&capture.stream(0, played));
            let ours = pdvs_of(&r.sent);
            assert_eq!(ours.len(), theirs.len(), "{at}");
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert_eq!(o, t, "{at}: PDV {i}");
            }
            replayed += 1;
        }
    }
    // Both roles of the 16 captures but the two rejections.
    assert_eq!(replayed, 2 * 14);
}

#[test]
fn a_replayed_acceptor_matches_responses_to_its_own_sub_operations() {
    // hp_get: the C-GET SCP sends C-STORE-RQs with IDs 3 and 4 on context 5, and the
    // requestor answers them. Our acceptor, having sent them (after IDs 1 and 2 were
    // used up), reports the C-STORE-RSPs matched to them.
    let (name, capture) = captures()
        .into_iter()
        .find(|(n, _)| n == "hp_get_2_pynetdicom")
        .expect("the capture");
    let (rq, ac) = handshake(&capture).expect("accepted");
    let r = replay(&name, &capture, &rq, &ac, Role::Acceptor);
    assert_eq!(r.burned, [1, 2]);
    assert_eq!(
        r.messages,
        [
            "pc3 C-GET-RQ id=2 data=122B",
            "pc5 C-STORE-RSP rsp-to=3 status=0x0000",
            "pc5 C-STORE-RSP rsp-to=4 status=0x0000",
        ]
    );
    let r = replay(&name, &capture, &rq, &ac, Role::Requestor);
    assert_eq!(r.burned, [1]);
    assert_eq!(
        r.messages,
        [
            "pc5 C-STORE-RQ id=3 data=2192B",
            "pc3 C-GET-RSP rsp-to=2 status=0xFF00",
            "pc5 C-STORE-RQ id=4 data=2000B",
            "pc3 C-GET-RSP rsp-to=2 status=0xFF00",
            "pc3 C-GET-RSP rsp-to=2 status=0x0000",
        ]
    );
}

#[test]
fn a_cancelled_find_replays_with_the_cancel_reported() {
    let (name, capture) = captures()
        .into_iter()
        .find(|(n, _)| n == "mwl_find_cancel_dcmtk")
        .expect("the capture");
    let (rq, ac) = handshake(&capture).expect("accepted");
    let r = replay(&name, &capture, &rq, &ac, Role::Acceptor);
    assert_eq!(
        r.messages,
        ["pc1 C-FIND-RQ id=1 data=134B", "pc1 C-CANCEL-RQ rsp-to=1"]
    );
    assert_eq!(r.assoc.operations_in_progress(), 0);
}
