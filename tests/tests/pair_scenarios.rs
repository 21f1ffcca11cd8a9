//! Scenarios of the upper-layer state machine (PS3.8 9.2), each played by a requestor and
//! an acceptor joined by the pair harness, and each run under every chunking of the byte
//! streams (whole PDUs, byte by byte, seeded random cuts) with the same logs required.
//!
//! Covered: the full lifecycle in both roles, every rejection, an association without an
//! accepted context, release collisions, P-DATA while waiting for the A-RELEASE-RP, ARTIM
//! in Sta2 and Sta13, a silent peer, the release timeout, aborts from either side, and an
//! unknown PDU type, a malformed PDU and transport loss in every state where they can
//! happen, checked against `fixtures/spec/part8-state-table.tsv`.

use std::time::Duration;

use dicomwire::pdu::{self, AbortReason, DecodeLimits, MessageControlHeader, PduType};
use dicomwire::ul::fsm::{Event as Evt, State};
use dicomwire::ul::{
    Aborted, ApiMisuse, AssociationConfig, MAX_PENDING_EVENTS, RejectReason, Timer,
};
use dicomwire_tests::pair::{
    AssociateAnswer, Chunking, Entry, Pair, ReleaseAnswer, Side, VERIFICATION, describe_pdv,
    echo_pair, echo_policy, echo_request, for_all_chunkings, ul_config,
};
use dicomwire_tests::spec;

const CMD_LAST: MessageControlHeader =
    MessageControlHeader::COMMAND.union(MessageControlHeader::LAST);
const DATA_LAST: MessageControlHeader = MessageControlHeader::LAST;
const DATA_MORE: MessageControlHeader = MessageControlHeader::empty();

/// An A-ABORT PDU on the wire: type 7, length 4, two reserved bytes, source, reason.
fn abort_bytes(source: u8, reason: u8) -> [u8; 10] {
    [
        0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, source, reason,
    ]
}

/// A PDU of type 0x08, which PS3.8 does not define.
const UNKNOWN_PDU: [u8; 10] = [0x08, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00];

/// A P-DATA-TF of 10 bytes whose only PDV item claims 255 bytes.
const MALFORMED_PDATA: [u8; 16] = [
    0x04, 0x00, 0x00, 0x00, 0x00, 0x0A, // P-DATA-TF, length 10
    0x00, 0x00, 0x00, 0xFF, // PDV item length 255: runs past the PDU
    0x01, 0x03, // context 1, command + last
    0xAA, 0xBB, 0xCC, 0xDD,
];

/// The (action, next state) of Table 9-10 for `state` and `event`, from the spec TSV.
fn spec_cell(state: State, event: Evt) -> (String, String) {
    let rows = spec::table("part8-state-table.tsv");
    let row = rows
        .iter()
        .find(|r| r["state"] == state.id() && r["event"] == event.id())
        .unwrap_or_else(|| panic!("no row for {state} {event}"));
    (row["action"].clone(), row["next_state"].clone())
}

fn config_with(f: impl FnOnce(&mut AssociationConfig)) -> AssociationConfig {
    let mut config = ul_config();
    f(&mut config);
    config
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The log lines of `side` from index `from` on, printed.
fn log_from(pair: &Pair, side: Side, from: usize) -> Vec<String> {
    pair.log(side)[from..]
        .iter()
        .map(ToString::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Lifecycle

#[test]
fn full_lifecycle_requestor_releases() {
    let command = [0x11; 10];
    let data = [0x22; 300];
    let reply = [0x33; 20];
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        assert_eq!(pair.state(Side::Requestor), State::Established);
        assert_eq!(pair.state(Side::Acceptor), State::Established);
        pair.send_message(Side::Requestor, 1, CMD_LAST, &command)
            .unwrap();
        pair.send_message(Side::Requestor, 1, DATA_LAST, &data)
            .unwrap();
        pair.drive();
        pair.send_message(Side::Acceptor, 1, CMD_LAST, &reply)
            .unwrap();
        pair.drive();
        pair.release(Side::Requestor).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Requestor),
        [
            "Sta1 --Evt1/AE-1--> Sta4",
            "Sta4 --Evt2/AE-2--> Sta5",
            "Sta5 --Evt3/AE-3--> Sta6",
            "Sta6 --Evt9/DT-1--> Sta6",
            "Sta6 --Evt9/DT-1--> Sta6",
            "Sta6 --Evt10/DT-2--> Sta6",
            "Sta6 --Evt11/AR-1--> Sta7",
            "Sta7 --Evt13/AR-3--> Sta1",
        ]
    );
    assert_eq!(
        pair.transition_strings(Side::Acceptor),
        [
            "Sta1 --Evt5/AE-5--> Sta2",
            "Sta2 --Evt6/AE-6--> Sta3",
            "Sta3 --Evt7/AE-7--> Sta6",
            "Sta6 --Evt10/DT-2--> Sta6",
            "Sta6 --Evt10/DT-2--> Sta6",
            "Sta6 --Evt9/DT-1--> Sta6",
            "Sta6 --Evt12/AR-2--> Sta8",
            "Sta8 --Evt14/AR-4--> Sta13",
            "Sta13 --Evt17/AR-5--> Sta1",
        ]
    );
    let pdv =
        |h, d: &[u8]| describe_pdv(dicomwire::pdu::PresentationContextId::new(1).unwrap(), h, d);
    assert_eq!(
        pair.events(Side::Requestor),
        [
            "Established(1 accepted)".to_owned(),
            format!("PData({})", pdv(CMD_LAST, &reply)),
            "Released".to_owned(),
            "Closed".to_owned(),
        ]
    );
    assert_eq!(
        pair.events(Side::Acceptor),
        [
            "AssociationRequested(SCU -> SCP, 1 contexts)".to_owned(),
            "Established(1 accepted)".to_owned(),
            format!("PData({})", pdv(CMD_LAST, &command)),
            format!("PData({})", pdv(DATA_LAST, &data)),
            "ReleaseRequested".to_owned(),
            "Closed".to_owned(),
        ]
    );
    assert_eq!(
        pair.sent(Side::Requestor),
        [
            "A-ASSOCIATE-RQ".to_owned(),
            format!("P-DATA-TF({})", pdv(CMD_LAST, &command)),
            format!("P-DATA-TF({})", pdv(DATA_LAST, &data)),
            "A-RELEASE-RQ".to_owned(),
        ]
    );
    assert_eq!(
        pair.sent(Side::Acceptor),
        [
            "A-ASSOCIATE-AC".to_owned(),
            format!("P-DATA-TF({})", pdv(CMD_LAST, &reply)),
            "A-RELEASE-RP".to_owned(),
        ]
    );
    let received: Vec<&[u8]> = pair
        .received_pdvs(Side::Acceptor)
        .iter()
        .map(|p| p.data.as_slice())
        .collect();
    assert_eq!(received, [&command[..], &data[..]]);
    assert_eq!(pair.received_pdvs(Side::Requestor)[0].data, reply);
    for side in Side::BOTH {
        assert_eq!(pair.state(side), State::Idle);
        assert_eq!(
            pair.side(side).poll_timeout(),
            None,
            "{side:?} keeps a timer"
        );
        assert!(!pair.is_open(side));
        assert!(pair.side(side).is_closed());
    }
}

#[test]
fn full_lifecycle_acceptor_releases() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        pair.send_message(Side::Requestor, 1, CMD_LAST, b"request")
            .unwrap();
        pair.drive();
        pair.send_message(Side::Acceptor, 1, CMD_LAST, b"response")
            .unwrap();
        pair.release(Side::Acceptor).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[3..],
        [
            "Sta6 --Evt10/DT-2--> Sta6",
            "Sta6 --Evt9/DT-1--> Sta6",
            "Sta6 --Evt11/AR-1--> Sta7",
            "Sta7 --Evt13/AR-3--> Sta1",
        ]
    );
    assert_eq!(
        pair.transition_strings(Side::Requestor)[3..],
        [
            "Sta6 --Evt9/DT-1--> Sta6",
            "Sta6 --Evt10/DT-2--> Sta6",
            "Sta6 --Evt12/AR-2--> Sta8",
            "Sta8 --Evt14/AR-4--> Sta13",
            "Sta13 --Evt17/AR-5--> Sta1",
        ]
    );
    assert_eq!(
        pair.events(Side::Acceptor)[2..],
        strings(&[
            &format!(
                "PData({})",
                describe_pdv(
                    dicomwire::pdu::PresentationContextId::new(1).unwrap(),
                    CMD_LAST,
                    b"request"
                )
            ),
            "Released",
            "Closed"
        ])
    );
    assert_eq!(
        pair.events(Side::Requestor)[2..],
        strings(&["ReleaseRequested", "Closed"])
    );
    assert_eq!(pair.sent(Side::Requestor).last().unwrap(), "A-RELEASE-RP");
}

#[test]
fn multi_pdv_pdata_arrives_as_one_indication() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        let pc = dicomwire::pdu::PresentationContextId::new(1).unwrap();
        let pdata = dicomwire::pdu::PData::new(vec![
            dicomwire::pdu::Pdv {
                context_id: pc,
                header: CMD_LAST,
                data: b"cmd",
            },
            dicomwire::pdu::Pdv {
                context_id: pc,
                header: DATA_MORE,
                data: b"first",
            },
            dicomwire::pdu::Pdv {
                context_id: pc,
                header: DATA_LAST,
                data: b"second",
            },
        ]);
        pair.send_pdata(Side::Requestor, &pdata).unwrap();
        pair.drive();
        pair
    });
    let events = pair.events(Side::Acceptor);
    assert!(events[2].starts_with("PData(pc1 cmd last 3B"), "{events:?}");
    assert!(events[2].contains(", pc1 data more 5B"), "{events:?}");
    assert!(events[2].contains(", pc1 data last 6B"), "{events:?}");
    assert_eq!(pair.received_pdvs(Side::Acceptor).len(), 3);
}

#[test]
fn each_user_rejection_reaches_the_requestor() {
    let reasons = [
        (RejectReason::NoReasonGiven, "1,1,1"),
        (RejectReason::ApplicationContextNameNotSupported, "1,1,2"),
        (RejectReason::CallingAeTitleNotRecognized, "1,1,3"),
        (RejectReason::CalledAeTitleNotRecognized, "1,1,7"),
        (RejectReason::ProtocolVersionNotSupported, "1,2,2"),
        (RejectReason::TemporaryCongestion, "2,3,1"),
        (RejectReason::LocalLimitExceeded, "2,3,2"),
    ];
    for (reason, codes) in reasons {
        let pair = for_all_chunkings(|chunking| {
            let mut pair = echo_pair(chunking);
            pair.associate_answer = AssociateAnswer::Reject(reason);
            pair.drive();
            pair
        });
        let text = reason.to_pdu().to_string();
        assert_eq!(
            pair.transition_strings(Side::Requestor)[2..],
            ["Sta5 --Evt4/AE-4--> Sta1"]
        );
        assert_eq!(
            pair.events(Side::Requestor),
            [format!("Rejected(peer: {text})"), "Closed".to_owned()]
        );
        assert_eq!(pair.rejections(Side::Requestor)[0].rj, reason.to_pdu());
        assert!(pair.rejections(Side::Requestor)[0].by_peer);
        assert_eq!(
            pair.transition_strings(Side::Acceptor)[2..],
            ["Sta3 --Evt8/AE-8--> Sta13", "Sta13 --Evt17/AR-5--> Sta1"]
        );
        assert_eq!(
            pair.events(Side::Acceptor)[1..],
            [format!("Rejected(we: {text})"), "Closed".to_owned()]
        );
        assert_eq!(
            pair.sent(Side::Acceptor),
            [format!("A-ASSOCIATE-RJ({codes})")]
        );
        assert!(pair.side(Side::Requestor).should_close_transport());
        assert_eq!(pair.side(Side::Acceptor).poll_timeout(), None);
    }
}

#[test]
fn no_accepted_context_still_establishes() {
    let pair = for_all_chunkings(|chunking| {
        let mut policy = echo_policy();
        policy.abstract_syntaxes.clear();
        policy.accept_with_no_context = true;
        let mut pair = Pair::new(chunking, ul_config(), echo_request(), policy);
        pair.drive();
        pair.release(Side::Requestor).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.events(Side::Requestor),
        ["Established(0 accepted)", "Released", "Closed"]
    );
    let negotiated = &pair.established(Side::Requestor)[0];
    assert_eq!(negotiated.accepted().count(), 0);
    assert_eq!(
        negotiated.rejected_summary(),
        format!("pc1 {VERIFICATION}: abstract-syntax-not-supported (provider rejection)")
    );
    assert_eq!(pair.events(Side::Acceptor)[1], "Established(0 accepted)");
}

#[test]
fn pdata_on_a_rejected_context_is_api_misuse() {
    let mut policy = echo_policy();
    policy.abstract_syntaxes.clear();
    policy.accept_with_no_context = true;
    let mut pair = Pair::new(Chunking::Whole, ul_config(), echo_request(), policy);
    pair.drive();
    let before = pair.log(Side::Requestor).len();
    let err = pair
        .send_message(Side::Requestor, 1, CMD_LAST, b"x")
        .unwrap_err();
    assert!(
        matches!(err, ApiMisuse::ContextNotAccepted(pc) if pc.get() == 1),
        "{err}"
    );
    assert_eq!(pair.log(Side::Requestor).len(), before);
    assert!(!pair.side(Side::Requestor).wants_write());
}

// ---------------------------------------------------------------------------------------
// Release

#[test]
fn release_collision_as_requestor() {
    let pair = release_collision();
    assert_eq!(
        pair.transition_strings(Side::Requestor)[3..],
        [
            "Sta6 --Evt11/AR-1--> Sta7",
            "Sta7 --Evt12/AR-8--> Sta9",
            "Sta9 --Evt14/AR-9--> Sta11",
            "Sta11 --Evt13/AR-3--> Sta1",
        ]
    );
    assert_eq!(
        pair.events(Side::Requestor)[1..],
        strings(&["ReleaseRequested(collision)", "Released", "Closed"])
    );
    assert_eq!(
        pair.sent(Side::Requestor)[1..],
        strings(&["A-RELEASE-RQ", "A-RELEASE-RP"])
    );
    assert!(pair.side(Side::Requestor).should_close_transport());
}

#[test]
fn release_collision_as_acceptor() {
    let pair = release_collision();
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[3..],
        [
            "Sta6 --Evt11/AR-1--> Sta7",
            "Sta7 --Evt12/AR-8--> Sta10",
            "Sta10 --Evt13/AR-10--> Sta12",
            "Sta12 --Evt14/AR-4--> Sta13",
            "Sta13 --Evt17/AR-5--> Sta1",
        ]
    );
    assert_eq!(
        pair.events(Side::Acceptor)[2..],
        strings(&["ReleaseRequested(collision)", "Released", "Closed"])
    );
    assert_eq!(
        pair.sent(Side::Acceptor)[1..],
        strings(&["A-RELEASE-RQ", "A-RELEASE-RP"])
    );
}

fn release_collision() -> Pair {
    for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        pair.release(Side::Requestor).unwrap();
        pair.release(Side::Acceptor).unwrap();
        pair.drive();
        pair
    })
}

#[test]
fn release_response_is_refused_in_sta10() {
    let mut pair = echo_pair(Chunking::Whole);
    pair.set_release_answer(Side::Requestor, ReleaseAnswer::Hold);
    pair.drive();
    pair.release(Side::Requestor).unwrap();
    pair.release(Side::Acceptor).unwrap();
    pair.drive();
    assert_eq!(
        pair.state(Side::Acceptor),
        State::CollisionAcceptorAwaitingReleaseRp
    );
    let before = pair.log(Side::Acceptor).len();
    let err = pair.release_response(Side::Acceptor).unwrap_err();
    assert!(
        matches!(
            err,
            ApiMisuse::NotAllowed {
                state: State::CollisionAcceptorAwaitingReleaseRp,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(pair.log(Side::Acceptor).len(), before);
    // The requestor answers; the collision then completes on both sides.
    pair.release_response(Side::Requestor).unwrap();
    pair.drive();
    assert_eq!(pair.events(Side::Requestor).last().unwrap(), "Closed");
    assert_eq!(pair.events(Side::Acceptor).last().unwrap(), "Closed");
}

#[test]
fn pdata_while_awaiting_release_rp_is_delivered() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.set_release_answer(Side::Acceptor, ReleaseAnswer::Hold);
        pair.drive();
        pair.release(Side::Requestor).unwrap();
        pair.drive();
        assert_eq!(
            pair.state(Side::Acceptor),
            State::AwaitingLocalReleaseResponse
        );
        pair.send_message(Side::Acceptor, 1, CMD_LAST, b"late response")
            .unwrap();
        pair.send_message(Side::Acceptor, 1, DATA_LAST, b"late data")
            .unwrap();
        pair.drive();
        assert_eq!(pair.state(Side::Requestor), State::AwaitingReleaseRp);
        pair.release_response(Side::Acceptor).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Requestor)[3..],
        [
            "Sta6 --Evt11/AR-1--> Sta7",
            "Sta7 --Evt10/AR-6--> Sta7",
            "Sta7 --Evt10/AR-6--> Sta7",
            "Sta7 --Evt13/AR-3--> Sta1",
        ]
    );
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[3..],
        [
            "Sta6 --Evt12/AR-2--> Sta8",
            "Sta8 --Evt9/AR-7--> Sta8",
            "Sta8 --Evt9/AR-7--> Sta8",
            "Sta8 --Evt14/AR-4--> Sta13",
            "Sta13 --Evt17/AR-5--> Sta1",
        ]
    );
    let events = pair.events(Side::Requestor);
    assert!(
        events[1].starts_with("PData(pc1 cmd last 13B"),
        "{events:?}"
    );
    assert!(
        events[2].starts_with("PData(pc1 data last 9B"),
        "{events:?}"
    );
    assert_eq!(events[3..], strings(&["Released", "Closed"]));
    assert_eq!(
        pair.received_pdvs(Side::Requestor)[0].data,
        b"late response"
    );
}

#[test]
fn pdata_in_flight_when_release_is_requested() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        // Both are written before either side reads: the P-DATA-TF crosses the
        // A-RELEASE-RQ on the wire and reaches the requestor in Sta7 (AR-6).
        pair.send_message(Side::Acceptor, 1, CMD_LAST, b"crossing")
            .unwrap();
        pair.release(Side::Requestor).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Requestor)[3..],
        [
            "Sta6 --Evt11/AR-1--> Sta7",
            "Sta7 --Evt10/AR-6--> Sta7",
            "Sta7 --Evt13/AR-3--> Sta1",
        ]
    );
    assert_eq!(pair.received_pdvs(Side::Requestor)[0].data, b"crossing");
}

#[test]
fn release_rp_never_comes_release_timeout_aborts() {
    let release_timeout = Duration::from_secs(7);
    let pair = for_all_chunkings(|chunking| {
        let config = config_with(|c| c.release_timeout = release_timeout);
        let mut pair = Pair::new(chunking, config, echo_request(), echo_policy());
        pair.set_release_answer(Side::Acceptor, ReleaseAnswer::Hold);
        pair.drive();
        pair.release(Side::Requestor).unwrap();
        pair.drive();
        let released_at = pair.now;
        assert_eq!(
            pair.side(Side::Requestor).next_timer(),
            Some((released_at + release_timeout, Timer::ReleaseResponse))
        );
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some(released_at + release_timeout)
        );
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Requestor)[3..],
        [
            "Sta6 --Evt11/AR-1--> Sta7",
            "Sta7 --Evt15/AA-1--> Sta13",
            "Sta13 --Evt17/AR-5--> Sta1",
        ]
    );
    assert_eq!(
        pair.events(Side::Requestor)[1..],
        strings(&["Aborted(Timeout(ReleaseResponse))", "Closed"])
    );
    assert_eq!(
        pair.aborts(Side::Requestor),
        [Aborted::Timeout(Timer::ReleaseResponse)]
    );
    assert_eq!(
        pair.last_sent(Side::Requestor, PduType::Abort),
        Some(&abort_bytes(0, 0)[..])
    );
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[3..],
        ["Sta6 --Evt12/AR-2--> Sta8", "Sta8 --Evt16/AA-3--> Sta1"]
    );
    assert_eq!(
        pair.events(Side::Acceptor)[2..],
        strings(&[
            "ReleaseRequested",
            "Aborted(ByPeer: A-ABORT by DICOM UL service-user)",
            "Closed"
        ])
    );
}

// ---------------------------------------------------------------------------------------
// Timers

#[test]
fn artim_expires_in_sta2() {
    let artim = Duration::from_secs(10);
    let pair = for_all_chunkings(|chunking| {
        let config = config_with(|c| c.artim_timeout = artim);
        let mut pair = Pair::unconnected(
            chunking,
            config.clone(),
            config,
            echo_request(),
            echo_policy(),
        );
        pair.drive();
        assert_eq!(pair.state(Side::Acceptor), State::AwaitingAssociateRq);
        assert_eq!(
            pair.side(Side::Acceptor).next_timer(),
            Some((pair.start + artim, Timer::Artim))
        );
        assert_eq!(pair.advance_to_next_timeout(), Some(pair.start + artim));
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Acceptor),
        ["Sta1 --Evt5/AE-5--> Sta2", "Sta2 --Evt18/AA-2--> Sta1"]
    );
    assert_eq!(
        pair.events(Side::Acceptor),
        ["Aborted(Timeout(Artim))", "Closed"]
    );
    assert!(pair.sent(Side::Acceptor).is_empty());
    assert!(pair.side(Side::Acceptor).should_close_transport());
    assert!(!pair.is_open(Side::Acceptor));
    assert_eq!(pair.side(Side::Acceptor).poll_timeout(), None);
}

#[test]
fn artim_expires_in_sta13() {
    let artim = Duration::from_secs(12);
    let pair = for_all_chunkings(|chunking| {
        let config = config_with(|c| c.artim_timeout = artim);
        let mut pair = Pair::new(chunking, config, echo_request(), echo_policy());
        // The requestor gets its A-RELEASE-RP but never closes the connection.
        pair.keep_open(Side::Requestor);
        pair.drive();
        pair.release(Side::Requestor).unwrap();
        pair.drive();
        assert_eq!(pair.state(Side::Acceptor), State::AwaitingTransportClose);
        let responded_at = pair.now;
        assert_eq!(
            pair.side(Side::Acceptor).next_timer(),
            Some((responded_at + artim, Timer::Artim))
        );
        assert_eq!(pair.advance_to_next_timeout(), Some(responded_at + artim));
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[3..],
        [
            "Sta6 --Evt12/AR-2--> Sta8",
            "Sta8 --Evt14/AR-4--> Sta13",
            "Sta13 --Evt18/AA-2--> Sta1",
        ]
    );
    assert_eq!(
        pair.events(Side::Acceptor)[2..],
        strings(&["ReleaseRequested", "Closed"])
    );
    assert!(pair.side(Side::Acceptor).should_close_transport());
    assert!(!pair.is_open(Side::Acceptor));
    // The requestor was released before; the acceptor's close changes nothing for it.
    assert_eq!(
        pair.events(Side::Requestor)[1..],
        strings(&["Released", "Closed"])
    );
}

#[test]
fn artim_expires_in_sta13_after_reject() {
    let artim = Duration::from_secs(3);
    let pair = for_all_chunkings(|chunking| {
        let config = config_with(|c| c.artim_timeout = artim);
        let mut pair = Pair::new(chunking, config, echo_request(), echo_policy());
        pair.keep_open(Side::Requestor);
        pair.associate_answer = AssociateAnswer::Reject(RejectReason::TemporaryCongestion);
        pair.drive();
        assert_eq!(pair.advance_to_next_timeout(), Some(pair.start + artim));
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[2..],
        ["Sta3 --Evt8/AE-8--> Sta13", "Sta13 --Evt18/AA-2--> Sta1"]
    );
    assert_eq!(pair.events(Side::Acceptor).last().unwrap(), "Closed");
}

#[test]
fn silent_peer_after_associate_rq() {
    let associate_timeout = Duration::from_secs(5);
    let pair = for_all_chunkings(|chunking| {
        let config = config_with(|c| c.associate_timeout = associate_timeout);
        let mut pair = Pair::new(chunking, config, echo_request(), echo_policy());
        pair.associate_answer = AssociateAnswer::Hold;
        pair.drive();
        assert_eq!(
            pair.state(Side::Requestor),
            State::AwaitingAssociateResponse
        );
        assert_eq!(
            pair.state(Side::Acceptor),
            State::AwaitingLocalAssociateResponse
        );
        assert_eq!(
            pair.side(Side::Acceptor).poll_timeout(),
            None,
            "ARTIM is stopped in Sta3"
        );
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some(pair.start + associate_timeout)
        );
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Requestor),
        [
            "Sta1 --Evt1/AE-1--> Sta4",
            "Sta4 --Evt2/AE-2--> Sta5",
            "Sta5 --Evt15/AA-1--> Sta13",
            "Sta13 --Evt17/AR-5--> Sta1",
        ]
    );
    assert_eq!(
        pair.events(Side::Requestor),
        ["Aborted(Timeout(AssociateResponse))", "Closed"]
    );
    assert_eq!(
        pair.sent(Side::Requestor),
        ["A-ASSOCIATE-RQ", "A-ABORT(0,0)"]
    );
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[2..],
        ["Sta3 --Evt16/AA-3--> Sta1"]
    );
    assert_eq!(
        pair.events(Side::Acceptor)[1..],
        strings(&[
            "Aborted(ByPeer: A-ABORT by DICOM UL service-user)",
            "Closed"
        ])
    );
}

#[test]
fn timers_are_disarmed_once_established() {
    // Without an idle timeout (the idle timer's own tests are in timers.rs).
    let mut config = ul_config();
    config.idle_timeout = None;
    let mut pair = Pair::new(Chunking::Whole, config, echo_request(), echo_policy());
    assert!(pair.side(Side::Requestor).poll_timeout().is_some());
    assert!(pair.side(Side::Acceptor).poll_timeout().is_some());
    pair.drive();
    for side in Side::BOTH {
        assert_eq!(pair.side(side).poll_timeout(), None, "{side:?}");
    }
    assert_eq!(pair.advance_to_next_timeout(), None);
}

// ---------------------------------------------------------------------------------------
// Aborts

#[test]
fn abort_by_requestor() {
    abort_in_sta6(Side::Requestor);
}

#[test]
fn abort_by_acceptor() {
    abort_in_sta6(Side::Acceptor);
}

fn abort_in_sta6(aborter: Side) {
    let peer = aborter.peer();
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        pair.abort(aborter).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(aborter)[3..],
        ["Sta6 --Evt15/AA-1--> Sta13", "Sta13 --Evt17/AR-5--> Sta1"]
    );
    // A user abort is not reported back to the user who asked for it.
    assert_eq!(pair.events(aborter).last().unwrap(), "Closed");
    assert!(pair.aborts(aborter).is_empty());
    assert_eq!(
        pair.last_sent(aborter, PduType::Abort),
        Some(&abort_bytes(0, 0)[..])
    );
    assert_eq!(
        pair.transition_strings(peer)[3..],
        ["Sta6 --Evt16/AA-3--> Sta1"]
    );
    let n = pair.events(peer).len();
    assert_eq!(
        pair.events(peer)[n - 2..],
        strings(&[
            "Aborted(ByPeer: A-ABORT by DICOM UL service-user)",
            "Closed"
        ])
    );
    assert!(pair.side(peer).should_close_transport());
}

#[test]
fn abort_while_awaiting_associate_response() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.associate_answer = AssociateAnswer::Hold;
        pair.drive();
        pair.abort(Side::Requestor).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Requestor)[2..],
        ["Sta5 --Evt15/AA-1--> Sta13", "Sta13 --Evt17/AR-5--> Sta1"]
    );
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[2..],
        ["Sta3 --Evt16/AA-3--> Sta1"]
    );
}

#[test]
fn abort_instead_of_answering_the_associate_rq() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.associate_answer = AssociateAnswer::Hold;
        pair.drive();
        pair.abort(Side::Acceptor).unwrap();
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[2..],
        ["Sta3 --Evt15/AA-1--> Sta13", "Sta13 --Evt17/AR-5--> Sta1"]
    );
    assert_eq!(
        pair.transition_strings(Side::Requestor)[2..],
        ["Sta5 --Evt16/AA-3--> Sta1"]
    );
    assert_eq!(
        pair.events(Side::Requestor),
        [
            "Aborted(ByPeer: A-ABORT by DICOM UL service-user)",
            "Closed"
        ]
    );
}

#[test]
fn abort_with_pdata_in_flight_ignores_the_late_pdata() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        // The acceptor's P-DATA-TFs are on the wire when the requestor aborts, and the
        // acceptor keeps its end open for a while: the requestor ignores them in Sta13.
        pair.keep_open(Side::Acceptor);
        pair.send_message(Side::Acceptor, 1, DATA_MORE, b"one")
            .unwrap();
        pair.send_message(Side::Acceptor, 1, DATA_LAST, b"two")
            .unwrap();
        pair.abort(Side::Requestor).unwrap();
        pair.run_to_completion();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Requestor)[3..],
        [
            "Sta6 --Evt15/AA-1--> Sta13",
            "Sta13 --Evt10/AA-6--> Sta13",
            "Sta13 --Evt10/AA-6--> Sta13",
            "Sta13 --Evt18/AA-2--> Sta1",
        ]
    );
    assert!(pair.received_pdvs(Side::Requestor).is_empty());
    assert_eq!(pair.events(Side::Requestor)[1..], strings(&["Closed"]));
}

#[test]
fn an_abort_replaces_pdata_not_yet_transmitted() {
    // (user abort: AA-1 sends source 0; invalid PDU: AA-8 sends source 2, reason 1)
    for (invalid, abort) in [(false, abort_bytes(0, 0)), (true, abort_bytes(2, 1))] {
        let mut pair = echo_pair(Chunking::Whole);
        pair.drive();
        let now = pair.now;
        let scu = &mut pair.requestor;
        let pc1 = dicomwire::pdu::PresentationContextId::new(1).unwrap();
        let pdata = dicomwire::pdu::PData::new(vec![dicomwire::pdu::Pdv {
            context_id: pc1,
            header: CMD_LAST,
            data: b"queued, never sent",
        }]);
        scu.send_pdata(now, &pdata).unwrap();
        assert!(scu.wants_write());
        if invalid {
            assert_eq!(
                scu.handle_input(now, &UNKNOWN_PDU).unwrap(),
                UNKNOWN_PDU.len()
            );
        } else {
            scu.abort(now).unwrap();
        }
        let mut out = Vec::new();
        let sent = scu.poll_transmit(now, &mut out).unwrap();
        assert_eq!(sent.pdu_type, PduType::Abort);
        assert_eq!(out, abort);
        assert!(scu.poll_transmit(now, &mut out).is_none());
    }
}

#[test]
fn simultaneous_aborts() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        pair.abort(Side::Requestor).unwrap();
        pair.abort(Side::Acceptor).unwrap();
        pair.drive();
        pair
    });
    for side in Side::BOTH {
        // Each receives the other's A-ABORT in Sta13 (AA-2): no indication, just the end.
        assert_eq!(
            pair.transition_strings(side)[3..],
            ["Sta6 --Evt15/AA-1--> Sta13", "Sta13 --Evt16/AA-2--> Sta1"],
            "{side:?}"
        );
        assert_eq!(pair.events(side).last().unwrap(), "Closed");
        assert!(pair.aborts(side).is_empty());
        assert_eq!(pair.side(side).poll_timeout(), None);
    }
}

#[test]
fn abort_received_in_sta2() {
    let pair = for_all_chunkings(|chunking| {
        let config = ul_config();
        let mut pair = Pair::unconnected(
            chunking,
            config.clone(),
            config,
            echo_request(),
            echo_policy(),
        );
        pair.inject(Side::Acceptor, &abort_bytes(2, 0));
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Acceptor),
        ["Sta1 --Evt5/AE-5--> Sta2", "Sta2 --Evt16/AA-2--> Sta1"]
    );
    assert_eq!(
        pair.events(Side::Acceptor),
        [
            "Aborted(ByPeer: A-ABORT by DICOM UL service-provider: reason-not-specified)",
            "Closed"
        ]
    );
    assert!(pair.sent(Side::Acceptor).is_empty());
    assert!(pair.side(Side::Acceptor).should_close_transport());
    assert_eq!(pair.side(Side::Acceptor).poll_timeout(), None);
}

#[test]
fn pdata_over_our_maximum_is_refused_from_its_header() {
    // Only the 6-byte header arrives: it announces more than the acceptor's maximum, and
    // the acceptor aborts without waiting for (or buffering) the body.
    let header = [0x04, 0x00, 0x00, 0x00, 0x04, 0x01]; // P-DATA-TF of 1025 bytes
    let pair = for_all_chunkings(|chunking| {
        let mut acceptor_config = ul_config();
        acceptor_config.max_pdu_length = 1024;
        let mut pair = Pair::with_configs(
            chunking,
            ul_config(),
            acceptor_config,
            echo_request(),
            echo_policy(),
        );
        pair.drive();
        pair.inject(Side::Acceptor, &header);
        pair.drive();
        pair
    });
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[3..],
        ["Sta6 --Evt19/AA-8--> Sta13", "Sta13 --Evt17/AR-5--> Sta1"]
    );
    assert_eq!(
        pair.last_sent(Side::Acceptor, PduType::Abort),
        Some(&abort_bytes(2, 6)[..])
    );
    assert!(
        pair.events(Side::Acceptor)[2]
            .starts_with("Aborted(ProtocolViolation: sent (2,6); invalid PDU: "),
        "{:?}",
        pair.events(Side::Acceptor)
    );
    assert_eq!(
        pair.events(Side::Requestor)[1..],
        strings(&[
            "Aborted(ByPeer: A-ABORT by DICOM UL service-provider: invalid-PDU-parameter-value)",
            "Closed"
        ])
    );
}

#[test]
fn after_an_abort_only_abort_is_transmitted() {
    let pair = for_all_chunkings(|chunking| {
        let mut pair = echo_pair(chunking);
        pair.drive();
        pair.stall(Side::Acceptor);
        pair.abort(Side::Requestor).unwrap();
        pair.drive();
        for refused in [
            pair.send_message(Side::Requestor, 1, CMD_LAST, b"x"),
            pair.release(Side::Requestor),
            pair.abort(Side::Requestor),
        ] {
            assert!(
                matches!(
                    refused,
                    Err(ApiMisuse::NotAllowed {
                        state: State::AwaitingTransportClose,
                        ..
                    })
                ),
                "{refused:?}"
            );
        }
        // A-ASSOCIATE-RQ in Sta13 is answered with an A-ABORT (AA-7); a P-DATA-TF is
        // ignored (AA-6).
        let rq = pair.sent_bytes(Side::Requestor)[0].clone();
        pair.inject(Side::Requestor, &rq);
        let ac = pair.sent_bytes(Side::Acceptor)[0].clone();
        pair.inject(Side::Requestor, &ac);
        pair.drive();
        pair
    });
    let sent = pair.sent(Side::Requestor);
    let first_abort = sent.iter().position(|s| s.starts_with("A-ABORT")).unwrap();
    assert!(
        sent[first_abort..].iter().all(|s| s.starts_with("A-ABORT")),
        "{sent:?}"
    );
    assert_eq!(
        sent[first_abort..],
        strings(&["A-ABORT(0,0)", "A-ABORT(2,2)"])
    );
    assert_eq!(
        pair.transition_strings(Side::Requestor)[3..],
        [
            "Sta6 --Evt15/AA-1--> Sta13",
            "Sta13 --Evt6/AA-7--> Sta13",
            "Sta13 --Evt3/AA-6--> Sta13",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Backpressure and misuse

#[test]
fn backpressure_holds_input_until_events_are_drained() {
    let mut pair = echo_pair(Chunking::Whole);
    pair.drive();
    pair.stall(Side::Requestor);
    let total = MAX_PENDING_EVENTS + 8;
    for i in 0..total {
        let byte = u8::try_from(i).unwrap();
        pair.send_message(Side::Acceptor, 1, DATA_MORE, &[byte; 5])
            .unwrap();
    }
    // All P-DATA-TFs in one read, without draining in between.
    let wire: Vec<u8> = pair.sent_bytes(Side::Acceptor)[1..].concat();
    let now = pair.now;
    let scu = &mut pair.requestor;
    let taken = scu.handle_input(now, &wire).unwrap();
    assert!(
        taken < wire.len(),
        "took all {} bytes with events pending",
        wire.len()
    );
    assert_eq!(taken, MAX_PENDING_EVENTS * 17, "stops after whole PDUs");
    assert!(!scu.wants_read());
    assert_eq!(scu.handle_input(now, &wire[taken..]).unwrap(), 0);
    let mut seen = Vec::new();
    while let Some(event) = scu.poll_event() {
        seen.push(event);
    }
    assert_eq!(seen.len(), MAX_PENDING_EVENTS);
    assert!(scu.wants_read());
    assert_eq!(
        scu.handle_input(now, &wire[taken..]).unwrap(),
        wire.len() - taken
    );
    while let Some(event) = scu.poll_event() {
        seen.push(event);
    }
    let firsts: Vec<u8> = seen
        .iter()
        .map(|e| match e {
            dicomwire::ul::Event::PData(p) => p.pdvs[0].data[0],
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<u8> = (0..total).map(|i| u8::try_from(i).unwrap()).collect();
    assert_eq!(firsts, expected);
}

#[test]
fn input_before_transport_connect_is_api_misuse() {
    let config = ul_config();
    let mut pair = Pair::unconnected(
        Chunking::Whole,
        config.clone(),
        config,
        echo_request(),
        echo_policy(),
    );
    let now = pair.now;
    let err = pair.requestor.handle_input(now, &UNKNOWN_PDU).unwrap_err();
    assert_eq!(err, ApiMisuse::NoTransport(State::AwaitingTransportConnect));
    assert_eq!(pair.state(Side::Requestor), State::AwaitingTransportConnect);
    assert!(!pair.requestor.wants_write());
}

#[test]
fn transport_loss_in_sta4() {
    let config = ul_config();
    let mut pair = Pair::unconnected(
        Chunking::Whole,
        config.clone(),
        config,
        echo_request(),
        echo_policy(),
    );
    pair.close_transport(Side::Requestor);
    let (action, next) = spec_cell(State::AwaitingTransportConnect, Evt::TransportClosed);
    assert_eq!((action.as_str(), next.as_str()), ("AA-4", "Sta1"));
    assert_eq!(
        pair.transition_strings(Side::Requestor),
        ["Sta1 --Evt1/AE-1--> Sta4", "Sta4 --Evt17/AA-4--> Sta1"]
    );
    // `Closed` is always the last event, even when the transport never opened.
    assert_eq!(
        pair.events(Side::Requestor),
        ["Aborted(TransportClosed)", "Closed"]
    );
    assert!(pair.sent(Side::Requestor).is_empty());
}

// ---------------------------------------------------------------------------------------
// An unknown PDU type, a malformed PDU and transport loss in every state they can reach

/// A pair with `side` in `state`, reached by normal operation; the other side is wherever
/// that left it (stalled where it would otherwise move on).
fn reach(chunking: Chunking, side: Side, state: State) -> Pair {
    use State::*;
    let config = ul_config();
    let mut pair = if state == AwaitingAssociateRq {
        Pair::unconnected(
            chunking,
            config.clone(),
            config,
            echo_request(),
            echo_policy(),
        )
    } else {
        echo_pair(chunking)
    };
    match (side, state) {
        (Side::Acceptor, AwaitingAssociateRq) | (_, Established) => {}
        (Side::Acceptor, AwaitingLocalAssociateResponse)
        | (Side::Requestor, AwaitingAssociateResponse) => {
            pair.associate_answer = AssociateAnswer::Hold;
        }
        (_, AwaitingReleaseRp | AwaitingLocalReleaseResponse) => {
            let releaser = if state == AwaitingReleaseRp {
                side
            } else {
                side.peer()
            };
            pair.set_release_answer(releaser.peer(), ReleaseAnswer::Hold);
            pair.drive();
            pair.release(releaser).unwrap();
        }
        (Side::Requestor, CollisionRequestorAwaitingLocalResponse)
        | (Side::Acceptor, CollisionAcceptorAwaitingReleaseRp) => {
            pair.set_release_answer(Side::Requestor, ReleaseAnswer::Hold);
            pair.set_release_answer(Side::Acceptor, ReleaseAnswer::Hold);
            pair.drive();
            pair.release(Side::Requestor).unwrap();
            pair.release(Side::Acceptor).unwrap();
        }
        (Side::Requestor, CollisionRequestorAwaitingReleaseRp)
        | (Side::Acceptor, CollisionAcceptorAwaitingLocalResponse) => {
            pair.set_release_answer(Side::Acceptor, ReleaseAnswer::Hold);
            pair.drive();
            pair.release(Side::Requestor).unwrap();
            pair.release(Side::Acceptor).unwrap();
        }
        (Side::Acceptor, AwaitingTransportClose) => {
            // The acceptor answers the release; the requestor never reads the A-RELEASE-RP.
            pair.drive();
            pair.stall(Side::Requestor);
            pair.release(Side::Requestor).unwrap();
        }
        (Side::Requestor, AwaitingTransportClose) => {
            // The requestor aborts; the acceptor never reads the A-ABORT.
            pair.drive();
            pair.stall(Side::Acceptor);
            pair.abort(Side::Requestor).unwrap();
        }
        other => panic!("{other:?} is not reachable here"),
    }
    pair.drive();
    assert_eq!(
        pair.state(side),
        state,
        "{side:?} did not reach {state}\n{}",
        pair.dump()
    );
    pair
}

/// Invalid bytes arrive at `side` in `state`: Table 9-10 Evt19.
fn invalid_pdu(side: Side, state: State, bytes: &[u8]) {
    let error = match pdu::decode(bytes, &DecodeLimits::default()) {
        Err(e) => e,
        Ok(d) => panic!("the test bytes decode: {d:?}"),
    };
    let (action, next) = spec_cell(state, Evt::InvalidPduReceived);
    let pair = for_all_chunkings(|chunking| {
        let mut pair = reach(chunking, side, state);
        // A second later, so that a restarted ARTIM shows; the peer does not read yet.
        pair.advance(Duration::from_secs(1));
        pair.stall(side.peer());
        let artim_before = pair.side(side).next_timer();
        let from = pair.log(side).len();
        pair.inject(side, bytes);
        pair.drive();
        let log = log_from(&pair, side, from);
        let artim = ul_config().artim_timeout;
        let expected_timer = match action.as_str() {
            // AA-1 starts (in Sta2: restarts) ARTIM, AA-8 starts it.
            "AA-1" | "AA-8" => Some((pair.now + artim, Timer::Artim)),
            // AA-7 leaves the running ARTIM alone.
            _ => artim_before,
        };
        assert_eq!(
            pair.side(side).next_timer(),
            expected_timer,
            "{}",
            pair.dump()
        );
        assert!(
            matches!(expected_timer, Some((_, Timer::Artim))),
            "{state}: ARTIM must run after Evt19"
        );
        let t = pair.log(side)[from..]
            .iter()
            .find_map(|e| match e {
                Entry::Transition(t) => Some(*t),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no transition\n{}", pair.dump()));
        assert_eq!(
            (t.from, t.event, t.action.id(), t.to.id()),
            (
                state,
                Evt::InvalidPduReceived,
                action.as_str(),
                next.as_str()
            ),
            "{}",
            pair.dump()
        );
        let (source, reason) = match action.as_str() {
            // AA-1: an A-ABORT with source 0 (service-user).
            "AA-1" => (0, 0),
            // AA-7, AA-8: an A-ABORT with source 2 and the reason the error maps to.
            "AA-7" | "AA-8" => (2, AbortReason::from(&error).code()),
            other => panic!("unexpected action {other} for Evt19 in {state}"),
        };
        let mut expected = vec![
            format!("  {state} --Evt19/{action}--> {next}"),
            format!("> A-ABORT({source},{reason})"),
        ];
        if action != "AA-7" {
            expected.push(format!(
                "! Aborted(ProtocolViolation: sent ({source},{reason}); invalid PDU: {error})"
            ));
        }
        assert_eq!(log[..expected.len()], expected, "{}", pair.dump());
        assert_eq!(
            pair.last_sent(side, PduType::Abort),
            Some(&abort_bytes(source, reason)[..])
        );
        if action != "AA-7" {
            let aborted = pair.aborts(side).last().unwrap();
            assert!(
                matches!(aborted, Aborted::ProtocolViolation { sent, .. } if sent.codes() == (source, reason)),
                "{aborted:?}"
            );
        }
        // Whatever else arrives is discarded: the stream lost its framing.
        let transitions = pair.transitions(side).len();
        pair.inject(side, &abort_bytes(0, 0));
        pair.drive();
        assert_eq!(pair.transitions(side).len(), transitions, "{}", pair.dump());
        // Then everything winds down: ARTIM or the peer closes.
        pair.unstall(Side::Requestor);
        pair.unstall(Side::Acceptor);
        pair.run_to_completion();
        assert_eq!(pair.state(side), State::Idle, "{}", pair.dump());
        assert_eq!(pair.events(side).last().unwrap(), "Closed");
        pair
    });
    assert!(pair.sent(side).iter().any(|s| s.starts_with("A-ABORT")));
}

/// The transport closes under `side` in `state`: Table 9-10 Evt17.
fn transport_loss(side: Side, state: State) {
    let (action, next) = spec_cell(state, Evt::TransportClosed);
    for_all_chunkings(|chunking| {
        let mut pair = reach(chunking, side, state);
        let from = pair.log(side).len();
        pair.close_transport(side);
        pair.drive();
        let mut expected = vec![format!("  {state} --Evt17/{action}--> {next}")];
        match action.as_str() {
            // AA-4: an A-P-ABORT indication.
            "AA-4" => expected.push("! Aborted(TransportClosed)".to_owned()),
            // AA-5 stops ARTIM, AR-5 stops ARTIM: the association was not (or no longer) up.
            "AA-5" | "AR-5" => {}
            other => panic!("unexpected action {other} for Evt17 in {state}"),
        }
        expected.push("! Closed".to_owned());
        assert_eq!(log_from(&pair, side, from), expected, "{}", pair.dump());
        assert_eq!(pair.side(side).poll_timeout(), None);
        assert!(!pair.side(side).wants_write());
        pair
    });
}

macro_rules! in_state {
    ($($name:ident: $side:ident in $state:ident;)*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn unknown_pdu_type_aborts() {
                invalid_pdu(Side::$side, State::$state, &UNKNOWN_PDU);
            }

            #[test]
            fn malformed_pdu_aborts() {
                invalid_pdu(Side::$side, State::$state, &MALFORMED_PDATA);
            }

            #[test]
            fn transport_loss_ends_the_association() {
                transport_loss(Side::$side, State::$state);
            }
        }
    )*};
}

in_state! {
    sta2_acceptor: Acceptor in AwaitingAssociateRq;
    sta3_acceptor: Acceptor in AwaitingLocalAssociateResponse;
    sta5_requestor: Requestor in AwaitingAssociateResponse;
    sta6_requestor: Requestor in Established;
    sta6_acceptor: Acceptor in Established;
    sta7_requestor: Requestor in AwaitingReleaseRp;
    sta7_acceptor: Acceptor in AwaitingReleaseRp;
    sta8_requestor: Requestor in AwaitingLocalReleaseResponse;
    sta8_acceptor: Acceptor in AwaitingLocalReleaseResponse;
    sta9_requestor: Requestor in CollisionRequestorAwaitingLocalResponse;
    sta10_acceptor: Acceptor in CollisionAcceptorAwaitingReleaseRp;
    sta11_requestor: Requestor in CollisionRequestorAwaitingReleaseRp;
    sta12_acceptor: Acceptor in CollisionAcceptorAwaitingLocalResponse;
    sta13_requestor: Requestor in AwaitingTransportClose;
    sta13_acceptor: Acceptor in AwaitingTransportClose;
}

#[test]
fn the_test_pdus_map_to_the_expected_abort_reasons() {
    let unknown = pdu::decode(&UNKNOWN_PDU, &DecodeLimits::default()).unwrap_err();
    assert_eq!(AbortReason::from(&unknown), AbortReason::UnrecognizedPdu);
    let malformed = pdu::decode(&MALFORMED_PDATA, &DecodeLimits::default()).unwrap_err();
    assert_eq!(
        AbortReason::from(&malformed),
        AbortReason::InvalidPduParameterValue
    );
}
