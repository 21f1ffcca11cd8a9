//! The timers of an established association (the table on `dicomwire::ul::Timer`): idle,
//! DIMSE response, a PDU that does not complete, a peer that stops reading, and the
//! requestor's transport connection. Each scenario runs on the pair harness's virtual
//! clock, so the deadlines are exact.

use std::time::{Duration, Instant};

use dicomwire::dimse::{CEchoRq, Message};
use dicomwire::pdu::{MessageControlHeader, PData, Pdv, PresentationContextId};
use dicomwire::ul::{Aborted, AcceptOptions, Association, AssociationConfig, Event, State, Timer};
use dicomwire_tests::pair::{
    Chunking, Pair, Side, echo_pair, echo_policy, echo_request, ul_config,
};

const IDLE: Duration = Duration::from_secs(60);

/// A pair whose acceptor has the idle timeout and whose requestor has none (or the
/// other way round), so that one side's timer is seen alone.
fn pair_idle_on(side: Side) -> Pair {
    let with = ul_config();
    let mut without = ul_config();
    without.idle_timeout = None;
    let (requestor, acceptor) = match side {
        Side::Requestor => (with, without),
        Side::Acceptor => (without, with),
    };
    let mut pair = Pair::with_configs(
        Chunking::Whole,
        requestor,
        acceptor,
        echo_request(),
        echo_policy(),
    );
    pair.drive();
    pair
}

#[test]
fn once_established_only_the_idle_timer_is_armed() {
    let mut pair = echo_pair(Chunking::Whole);
    pair.drive();
    let established = pair.now;
    for side in Side::BOTH {
        assert_eq!(
            pair.side(side).next_timer(),
            Some((established + IDLE, Timer::Idle)),
            "{side:?}"
        );
    }
    // Without an idle timeout nothing is armed at all.
    let mut config = ul_config();
    config.idle_timeout = None;
    let mut pair = Pair::new(Chunking::Whole, config, echo_request(), echo_policy());
    pair.drive();
    for side in Side::BOTH {
        assert_eq!(pair.side(side).poll_timeout(), None, "{side:?}");
    }
}

#[test]
fn an_idle_acceptor_aborts() {
    let mut pair = pair_idle_on(Side::Acceptor);
    pair.advance(IDLE - Duration::from_millis(1));
    pair.drive();
    assert_eq!(pair.state(Side::Acceptor), State::Established);
    pair.advance(Duration::from_millis(1));
    pair.drive();
    assert_eq!(pair.aborts(Side::Acceptor), [Aborted::Timeout(Timer::Idle)]);
    assert!(
        matches!(pair.aborts(Side::Requestor), [Aborted::ByPeer(_)]),
        "{}",
        pair.dump()
    );
}

#[test]
fn an_idle_requestor_releases() {
    let mut pair = pair_idle_on(Side::Requestor);
    pair.advance(IDLE);
    pair.drive();
    assert!(pair.aborts(Side::Requestor).is_empty(), "{}", pair.dump());
    assert!(
        pair.events(Side::Requestor).iter().any(|e| e == "Released"),
        "{}",
        pair.dump()
    );
    assert_eq!(pair.state(Side::Requestor), State::Idle);
}

#[test]
fn anything_received_restarts_the_idle_timer() {
    let mut pair = pair_idle_on(Side::Acceptor);
    pair.advance(Duration::from_secs(30));
    pair.send_message(
        Side::Requestor,
        1,
        MessageControlHeader::COMMAND | MessageControlHeader::LAST,
        &[0; 4],
    )
    .expect("P-DATA");
    pair.drive();
    let received = pair.now;
    assert_eq!(
        pair.side(Side::Acceptor).next_timer(),
        Some((received + IDLE, Timer::Idle))
    );
    pair.advance(IDLE - Duration::from_secs(1));
    pair.drive();
    assert_eq!(pair.state(Side::Acceptor), State::Established);
}

#[test]
fn a_trickled_pdu_is_aborted_though_bytes_keep_coming() {
    let mut pair = pair_idle_on(Side::Acceptor);
    // A P-DATA-TF announcing 2,000 bytes, then one byte every 2 s.
    let mut pdu = vec![0x04, 0x00];
    pdu.extend_from_slice(&2000u32.to_be_bytes());
    pdu.extend(std::iter::repeat_n(0u8, 2000));
    let started = pair.now;
    let mut sent = 0;
    while pair.state(Side::Acceptor) == State::Established && sent < pdu.len() {
        pair.call(Side::Acceptor, |a, now| {
            a.handle_input(now, &pdu[sent..=sent]).expect("input")
        });
        sent += 1;
        pair.advance(Duration::from_secs(2));
        pair.drive();
    }
    assert_eq!(
        pair.aborts(Side::Acceptor),
        [Aborted::Timeout(Timer::PduProgress)],
        "{}",
        pair.dump()
    );
    // Aborted at the first deadline past started + IDLE (the clock moves 2 s a step).
    assert!(pair.now >= started + IDLE && pair.now <= started + IDLE + Duration::from_secs(2));
    assert!(sent <= 31, "{sent} bytes taken before the abort");
}

/// An established DIMSE pair (no raw P-DATA), with `config` on both sides.
fn dimse_pair(config: AssociationConfig) -> Pair {
    let mut pair = Pair::new(Chunking::Whole, config, echo_request(), echo_policy());
    pair.drive();
    pair
}

fn echo_rq() -> Message {
    Message::CEchoRq(CEchoRq {
        message_id: 0,
        affected_sop_class_uid: "1.2.840.10008.1.1".into(),
    })
}

#[test]
fn an_unanswered_request_is_aborted_after_the_dimse_timeout() {
    let mut config = AssociationConfig {
        dimse_timeout: Some(Duration::from_secs(20)),
        ..AssociationConfig::default()
    };
    config.idle_timeout = None;
    let mut pair = dimse_pair(config);
    let pc = PresentationContextId::new(1).expect("pc");
    let sent = pair.now;
    pair.call(Side::Requestor, |a, now| {
        a.send_request(now, pc, echo_rq(), None).expect("C-ECHO-RQ")
    });
    pair.drive();
    // The acceptor's user never answers.
    assert_eq!(
        pair.side(Side::Requestor).next_timer(),
        Some((sent + Duration::from_secs(20), Timer::DimseResponse))
    );
    assert_eq!(pair.side(Side::Acceptor).poll_timeout(), None);
    pair.advance(Duration::from_secs(20));
    pair.drive();
    assert_eq!(
        pair.aborts(Side::Requestor),
        [Aborted::Timeout(Timer::DimseResponse)]
    );
}

#[test]
fn a_request_being_performed_keeps_the_acceptor_from_idling() {
    let mut pair = dimse_pair(AssociationConfig::default());
    let pc = PresentationContextId::new(1).expect("pc");
    pair.call(Side::Requestor, |a, now| {
        a.send_request(now, pc, echo_rq(), None).expect("C-ECHO-RQ")
    });
    pair.drive();
    // Performing one: no idle timer on the acceptor; the requestor waits for its answer.
    assert_eq!(pair.side(Side::Acceptor).poll_timeout(), None);
    assert!(matches!(
        pair.side(Side::Requestor).next_timer(),
        Some((_, Timer::DimseResponse))
    ));
    // Answered: both idle, counted from the answer.
    pair.advance(Duration::from_secs(45));
    let answered = pair.now;
    let rq = pair.messages(Side::Acceptor)[0].message.clone();
    let rsp = rq
        .response_with(dicomwire::dimse::Status::SUCCESS)
        .expect("a response");
    pair.call(Side::Acceptor, |a, now| {
        a.send_response(now, pc, rsp, None).expect("C-ECHO-RSP")
    });
    pair.drive();
    for side in Side::BOTH {
        assert_eq!(
            pair.side(side).next_timer(),
            Some((answered + IDLE, Timer::Idle)),
            "{side:?}"
        );
    }
}

/// A requestor and an acceptor joined by hand, so that bytes can be left unsent.
fn manual_pair(now: Instant) -> (Association, Association) {
    let mut config = AssociationConfig::default();
    config.dimse.raw_pdata = true;
    let mut scu = Association::requestor(now, config.clone(), echo_request()).expect("requestor");
    scu.handle_transport_connected(now).expect("connect");
    let mut scp = Association::acceptor(now, config, echo_policy().into());
    for _ in 0..3 {
        let mut wire = Vec::new();
        while scu.poll_transmit(now, &mut wire).is_some() {}
        scp.handle_input(now, &wire).expect("input");
        while let Some(event) = scp.poll_event() {
            if let Event::AssociationRequested(incoming) = event {
                scp.accept(now, incoming, AcceptOptions::default())
                    .expect("accept");
            }
        }
        let mut back = Vec::new();
        while scp.poll_transmit(now, &mut back).is_some() {}
        scu.handle_input(now, &back).expect("input");
        while scu.poll_event().is_some() {}
    }
    assert_eq!(scu.state(), State::Established);
    (scu, scp)
}

#[test]
fn a_peer_that_stops_reading_is_aborted() {
    let start = Instant::now();
    let (_scu, mut scp) = manual_pair(start);
    let pc = PresentationContextId::new(1).expect("pc");
    // The acceptor sends, the transport takes the first PDU, then no more (the peer's
    // window is full).
    let queued = start + Duration::from_secs(10);
    for _ in 0..2 {
        let pdata = PData::new(vec![Pdv {
            context_id: pc,
            header: MessageControlHeader::COMMAND | MessageControlHeader::LAST,
            data: &[0; 8],
        }]);
        scp.send_pdata(queued, &pdata).expect("P-DATA");
    }
    let taken = start + Duration::from_secs(20);
    assert!(scp.poll_transmit(taken, &mut Vec::new()).is_some());
    assert_eq!(scp.next_timer(), Some((taken + IDLE, Timer::SendProgress)));
    scp.handle_timeout(taken + IDLE);
    let events: Vec<Event> = std::iter::from_fn(|| scp.poll_event()).collect();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Aborted(Aborted::Timeout(Timer::SendProgress))]
        ),
        "{events:?}"
    );
    assert_eq!(scp.state(), State::AwaitingTransportClose);
}

#[test]
fn a_transport_connection_that_does_not_open_is_given_up() {
    let mut pair = Pair::unconnected(
        Chunking::Whole,
        ul_config(),
        ul_config(),
        echo_request(),
        echo_policy(),
    );
    let connect = ul_config().connect_timeout;
    assert_eq!(
        pair.side(Side::Requestor).next_timer(),
        Some((pair.now + connect, Timer::Connect))
    );
    pair.advance(connect);
    pair.drive();
    assert_eq!(
        pair.aborts(Side::Requestor),
        [Aborted::Timeout(Timer::Connect)]
    );
    assert_eq!(pair.state(Side::Requestor), State::Idle);
}
