//! PS3.8 Table 9-10 cell by cell: every one of the 247 (state, event) pairs is driven on a
//! real `Association` and checked against `fixtures/spec/part8-state-table.tsv`.
//!
//! A defined cell must apply exactly its action and reach its next state. An undefined
//! cell must be refused without any change when it is a local primitive, and cannot occur
//! for peer PDUs and the transport (Sta1 and Sta4 have no connection to read from; ARTIM
//! is armed only in Sta2 and Sta13).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use dicomwire::pdu::{
    Abort, AeTitle, AssociateAc, AssociateRj, DICOM_APPLICATION_CONTEXT, MessageControlHeader,
    PData, Pdu, Pdv, PresentationContextAc, PresentationContextId, PresentationContextResult,
    RejectResult, RejectSource, ServiceUserReason, Uid, UserInformation,
};
use dicomwire::ul::fsm::{self, State};
use dicomwire::ul::{
    AcceptOptions, AcceptorPolicy, ApiMisuse, AppliedTransition, Association, AssociationConfig,
    AssociationRequest, Event, IncomingAssociation, ProposedContext, RejectReason, Role,
    SupportedSyntax, Timer,
};
use dicomwire_tests::spec::table;

const VERIFICATION: &str = "1.2.840.10008.1.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";

fn uid(s: &str) -> Uid {
    Uid::new(s).unwrap()
}

fn pc1() -> PresentationContextId {
    PresentationContextId::new(1).unwrap()
}

fn request() -> AssociationRequest {
    AssociationRequest::new(AeTitle::new("SCU").unwrap(), AeTitle::new("SCP").unwrap())
        .with_context(ProposedContext::new(
            uid(VERIFICATION),
            vec![uid(IMPLICIT_LE)],
        ))
}

fn policy() -> Arc<AcceptorPolicy> {
    Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![SupportedSyntax::new(
            uid(VERIFICATION),
            vec![uid(IMPLICIT_LE)],
        )],
        ..AcceptorPolicy::default()
    })
}

fn encode(pdu: Pdu<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    pdu.encode(&mut out).unwrap();
    out
}

/// The PDU bytes a peer can send.
struct PeerPdus {
    rq: Vec<u8>,
    ac: Vec<u8>,
    rj: Vec<u8>,
    pdata: Vec<u8>,
    release_rq: Vec<u8>,
    release_rp: Vec<u8>,
    abort: Vec<u8>,
    invalid: Vec<u8>,
}

fn peer_pdus(config: &AssociationConfig) -> PeerPdus {
    // Take the request bytes from a real requestor.
    let t0 = Instant::now();
    let mut requestor = Association::requestor(t0, config.clone(), request()).unwrap();
    requestor.handle_transport_connected(t0).unwrap();
    let mut rq = Vec::new();
    let _ = requestor.poll_transmit(t0, &mut rq).unwrap();
    let ac = AssociateAc {
        protocol_version: 1,
        called_ae_title_echo: *b"SCP             ",
        calling_ae_title_echo: *b"SCU             ",
        application_context: DICOM_APPLICATION_CONTEXT,
        presentation_contexts: vec![PresentationContextAc {
            id: pc1(),
            result: PresentationContextResult::Acceptance,
            transfer_syntax: Some(uid(IMPLICIT_LE)),
            unknown_sub_items: vec![],
        }],
        user_information: UserInformation::new(16384, uid("1.2.3.4")),
        unknown_items: vec![],
    };
    PeerPdus {
        rq,
        ac: encode(Pdu::AssociateAc(Box::new(ac))),
        rj: encode(Pdu::AssociateRj(AssociateRj {
            result: RejectResult::Permanent,
            source: RejectSource::ServiceUser(ServiceUserReason::NoReasonGiven),
        })),
        pdata: encode(Pdu::PData(PData::new(vec![Pdv {
            context_id: pc1(),
            header: MessageControlHeader::COMMAND | MessageControlHeader::LAST,
            data: &[1, 2, 3, 4],
        }]))),
        release_rq: encode(Pdu::ReleaseRq),
        release_rp: encode(Pdu::ReleaseRp),
        abort: encode(Pdu::Abort(Abort::USER)),
        invalid: vec![0x08, 0x00, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0],
    }
}

/// An association brought into a state, with what it takes to fire events at it.
struct Fixture {
    assoc: Association,
    now: Instant,
    token: Option<IncomingAssociation>,
    pdus: PeerPdus,
}

fn drain(assoc: &mut Association, now: Instant) -> Option<IncomingAssociation> {
    let mut out = Vec::new();
    while assoc.poll_transmit(now, &mut out).is_some() {}
    let mut token = None;
    while let Some(e) = assoc.poll_event() {
        if let Event::AssociationRequested(t) = e {
            token = Some(t);
        }
    }
    token
}

fn feed(f: &mut Fixture, bytes: &[u8]) {
    let n = f.assoc.handle_input(f.now, bytes).unwrap();
    assert_eq!(n, bytes.len());
    if let Some(t) = drain(&mut f.assoc, f.now) {
        f.token = Some(t);
    }
}

/// Brings a fresh association into `state`, playing `role` where it matters.
/// Upper-layer only: P-DATA-TF is delivered raw, not as DIMSE.
fn ul_config() -> AssociationConfig {
    let mut config = AssociationConfig::default();
    config.dimse.raw_pdata = true;
    config
}

fn fixture(state: State, role: Role) -> Fixture {
    let config = ul_config();
    let pdus = peer_pdus(&config);
    let now = Instant::now();
    let assoc = match role {
        Role::Requestor => Association::requestor(now, config, request()).unwrap(),
        Role::Acceptor => Association::acceptor(now, config, policy()),
    };
    let mut f = Fixture {
        assoc,
        now,
        token: None,
        pdus,
    };
    let connect = |f: &mut Fixture| match role {
        Role::Requestor => {
            f.assoc.handle_transport_connected(f.now).unwrap();
            drain(&mut f.assoc, f.now);
        }
        Role::Acceptor => {}
    };
    let establish = |f: &mut Fixture| match role {
        Role::Requestor => {
            connect(f);
            let ac = f.pdus.ac.clone();
            feed(f, &ac);
        }
        Role::Acceptor => {
            let rq = f.pdus.rq.clone();
            feed(f, &rq);
            let token = f.token.take().expect("an incoming association");
            f.assoc
                .accept(f.now, token, AcceptOptions::default())
                .unwrap();
            drain(&mut f.assoc, f.now);
        }
    };
    match state {
        State::Idle => {
            // An association that ended: connected, then closed by the peer.
            match role {
                Role::Requestor => connect(&mut f),
                Role::Acceptor => {}
            }
            f.assoc.handle_transport_closed(f.now);
            drain(&mut f.assoc, f.now);
        }
        State::AwaitingAssociateRq => assert_eq!(role, Role::Acceptor),
        State::AwaitingLocalAssociateResponse => {
            assert_eq!(role, Role::Acceptor);
            let rq = f.pdus.rq.clone();
            feed(&mut f, &rq);
        }
        State::AwaitingTransportConnect => assert_eq!(role, Role::Requestor),
        State::AwaitingAssociateResponse => connect(&mut f),
        State::Established => establish(&mut f),
        State::AwaitingReleaseRp => {
            establish(&mut f);
            f.assoc.release(f.now).unwrap();
            drain(&mut f.assoc, f.now);
        }
        State::AwaitingLocalReleaseResponse => {
            establish(&mut f);
            let rq = f.pdus.release_rq.clone();
            feed(&mut f, &rq);
        }
        State::CollisionRequestorAwaitingLocalResponse
        | State::CollisionAcceptorAwaitingReleaseRp => {
            establish(&mut f);
            f.assoc.release(f.now).unwrap();
            drain(&mut f.assoc, f.now);
            let rq = f.pdus.release_rq.clone();
            feed(&mut f, &rq);
        }
        State::CollisionRequestorAwaitingReleaseRp => {
            let mut g = fixture(State::CollisionRequestorAwaitingLocalResponse, role);
            g.assoc.release_response(g.now).unwrap();
            drain(&mut g.assoc, g.now);
            return checked(g, state);
        }
        State::CollisionAcceptorAwaitingLocalResponse => {
            let mut g = fixture(State::CollisionAcceptorAwaitingReleaseRp, role);
            let rp = g.pdus.release_rp.clone();
            feed(&mut g, &rp);
            return checked(g, state);
        }
        State::AwaitingTransportClose => {
            establish(&mut f);
            f.assoc.abort(f.now).unwrap();
            drain(&mut f.assoc, f.now);
        }
        other => panic!("no fixture for {other}"),
    }
    checked(f, state)
}

fn checked(f: Fixture, state: State) -> Fixture {
    assert_eq!(f.assoc.state(), state, "fixture did not reach {state}");
    f
}

/// The role a state is reachable in (collision states are role specific).
fn role_for(state: State) -> Role {
    match state {
        State::AwaitingAssociateRq
        | State::AwaitingLocalAssociateResponse
        | State::CollisionAcceptorAwaitingReleaseRp
        | State::CollisionAcceptorAwaitingLocalResponse => Role::Acceptor,
        _ => Role::Requestor,
    }
}

/// What firing an event did.
#[derive(Debug)]
enum Outcome {
    /// A cell was applied.
    Applied(Option<AppliedTransition>),
    /// The call was refused as misuse.
    Refused(ApiMisuse),
    /// The event cannot occur in this state through the API (reason given).
    Impossible(&'static str),
}

/// Fires `event` at the fixture.
fn fire(f: &mut Fixture, event: fsm::Event) -> Outcome {
    use fsm::Event as E;
    let before = f.assoc.last_transition();
    let now = f.now;
    let result: Result<(), ApiMisuse> = match event {
        E::AssociateRequest | E::TransportConnectIndication => {
            return Outcome::Impossible("issued only by the constructors, in Sta1");
        }
        E::TransportConnectConfirm => f.assoc.handle_transport_connected(now),
        E::AssociateAcReceived => input(f, |p| &p.ac),
        E::AssociateRjReceived => input(f, |p| &p.rj),
        E::AssociateRqReceived => input(f, |p| &p.rq),
        E::PDataReceived => input(f, |p| &p.pdata),
        E::ReleaseRqReceived => input(f, |p| &p.release_rq),
        E::ReleaseRpReceived => input(f, |p| &p.release_rp),
        E::AbortReceived => input(f, |p| &p.abort),
        E::InvalidPduReceived => input(f, |p| &p.invalid),
        E::AssociateAccept | E::AssociateReject => {
            let token = match f.token.take() {
                Some(t) => t,
                // A token from another association: the state check comes first.
                None => {
                    let mut other = fixture(State::AwaitingLocalAssociateResponse, Role::Acceptor);
                    other.token.take().unwrap()
                }
            };
            if event == E::AssociateAccept {
                f.assoc.accept(now, token, AcceptOptions::default())
            } else {
                f.assoc.reject(now, token, RejectReason::NoReasonGiven)
            }
        }
        E::PDataRequest => {
            let data = [0u8; 4];
            f.assoc.send_pdata(
                now,
                &PData::new(vec![Pdv {
                    context_id: pc1(),
                    header: MessageControlHeader::COMMAND | MessageControlHeader::LAST,
                    data: &data,
                }]),
            )
        }
        E::ReleaseRequest => f.assoc.release(now),
        E::ReleaseResponse => f.assoc.release_response(now),
        E::AbortRequest => f.assoc.abort(now),
        E::TransportClosed => {
            f.assoc.handle_transport_closed(now);
            Ok(())
        }
        E::ArtimExpired => match f.assoc.next_timer() {
            Some((deadline, Timer::Artim)) => {
                f.assoc.handle_timeout(deadline);
                Ok(())
            }
            _ => return Outcome::Impossible("ARTIM is not armed in this state"),
        },
        _ => unreachable!("all 19 events covered"),
    };
    match result {
        Err(e) => Outcome::Refused(e),
        Ok(()) => {
            let after = f.assoc.last_transition();
            Outcome::Applied((after != before).then_some(after).flatten())
        }
    }
}

fn input(f: &mut Fixture, pick: impl Fn(&PeerPdus) -> &Vec<u8>) -> Result<(), ApiMisuse> {
    let bytes = pick(&f.pdus).clone();
    f.assoc
        .handle_input(f.now, &bytes)
        .map(|n| assert_eq!(n, bytes.len()))
}

/// Observable state that a refused call must leave untouched.
fn snapshot(assoc: &Association) -> (State, Option<AppliedTransition>, Option<(Instant, Timer)>) {
    (assoc.state(), assoc.last_transition(), assoc.next_timer())
}

fn state_by_id(id: &str) -> State {
    *State::ALL.iter().find(|s| s.id() == id).unwrap()
}

fn event_by_id(id: &str) -> fsm::Event {
    *fsm::Event::ALL.iter().find(|e| e.id() == id).unwrap()
}

#[test]
fn table_matches_the_spec_file_cell_for_cell() {
    let rows = table("part8-state-table.tsv");
    assert_eq!(rows.len(), 13 * 19);
    let mut defined = 0;
    for row in &rows {
        let state = state_by_id(&row["state"]);
        let event = event_by_id(&row["event"]);
        match fsm::transition(state, event) {
            Some(t) => {
                defined += 1;
                assert_eq!(t.action.id(), row["action"], "{state}/{event}");
                assert_eq!(t.next.to_string(), row["next_state"], "{state}/{event}");
            }
            None => assert!(row["action"].is_empty(), "{state}/{event} missing"),
        }
    }
    assert_eq!(defined, 123);
    assert_eq!(fsm::DEFINED_CELLS, 123);
}

#[test]
fn every_cell_driven_on_a_real_association() {
    let rows = table("part8-state-table.tsv");
    let mut asserted_defined = 0;
    let mut asserted_refused = 0;
    let mut impossible: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut visits = 0;
    for row in &rows {
        let state = state_by_id(&row["state"]);
        let event = event_by_id(&row["event"]);
        let action = &row["action"];
        let next = &row["next_state"];
        // The two conditional cells are driven in both branches below.
        let roles: &[Role] = match (state, event) {
            (State::AwaitingReleaseRp, fsm::Event::ReleaseRqReceived) => {
                &[Role::Requestor, Role::Acceptor]
            }
            (State::Idle, _) => &[Role::Requestor, Role::Acceptor],
            _ => &[role_for(state)],
        };
        if state == State::Idle
            && matches!(
                event,
                fsm::Event::AssociateRequest | fsm::Event::TransportConnectIndication
            )
        {
            // Evt1 and Evt5 are the constructors: a requestor and an acceptor start in Sta1.
            let now = Instant::now();
            let t = if event == fsm::Event::AssociateRequest {
                Association::requestor(now, AssociationConfig::default(), request()).unwrap()
            } else {
                Association::acceptor(now, AssociationConfig::default(), policy())
            }
            .last_transition()
            .unwrap();
            assert_eq!(
                (t.from, t.event, t.action.id(), t.to.id()),
                (state, event, action.as_str(), next.as_str())
            );
            asserted_defined += 1;
            visits += 1;
            continue;
        }
        for &role in roles {
            visits += 1;
            let mut f = fixture(state, role);
            let before = snapshot(&f.assoc);
            let outcome = fire(&mut f, event);
            let cell = format!("{state}/{event} ({role:?})");
            if action.is_empty() {
                match outcome {
                    Outcome::Refused(ApiMisuse::NotAllowed {
                        state: s, event: e, ..
                    }) => {
                        assert_eq!((s, e), (state, event), "{cell}");
                        assert_eq!(
                            snapshot(&f.assoc),
                            before,
                            "{cell}: a refused call changed something"
                        );
                        assert!(
                            f.assoc.poll_transmit(f.now, &mut Vec::new()).is_none(),
                            "{cell}"
                        );
                        assert!(f.assoc.poll_event().is_none(), "{cell}");
                        asserted_refused += 1;
                    }
                    Outcome::Refused(ApiMisuse::NoTransport(s)) => {
                        assert_eq!(s, state, "{cell}");
                        assert_eq!(snapshot(&f.assoc), before, "{cell}");
                        asserted_refused += 1;
                    }
                    Outcome::Applied(None) => {
                        // Input or a transport close after the association ended: ignored.
                        assert_eq!(state, State::Idle, "{cell}: only Sta1 ignores events");
                        assert_eq!(snapshot(&f.assoc), before, "{cell}");
                        asserted_refused += 1;
                    }
                    Outcome::Impossible(why) => impossible.entry(why).or_default().push(cell),
                    Outcome::Applied(Some(t)) => panic!("{cell}: undefined cell applied {t}"),
                    Outcome::Refused(e) => panic!("{cell}: unexpected refusal {e}"),
                }
            } else {
                let Outcome::Applied(Some(t)) = outcome else {
                    panic!("{cell}: defined cell {action} not applied: {outcome:?}");
                };
                assert_eq!((t.from, t.event), (state, event), "{cell}");
                assert_eq!(t.action.id(), action, "{cell}");
                let expected_next = match next.as_str() {
                    "Sta3|Sta13" => "Sta3", // an acceptable request; the other branch below
                    "Sta9|Sta10" if role == Role::Requestor => "Sta9",
                    "Sta9|Sta10" => "Sta10",
                    n => n,
                };
                assert_eq!(t.to.id(), expected_next, "{cell}");
                assert_eq!(f.assoc.state(), t.to, "{cell}");
                asserted_defined += 1;
            }
        }
    }
    // 123 defined cells, AR-8 in both roles.
    assert_eq!(asserted_defined, 124);
    let impossible_count: usize = impossible.values().map(Vec::len).sum();
    println!(
        "defined: {asserted_defined}; refused or ignored: {asserted_refused}; impossible: {impossible:#?}"
    );
    assert_eq!(
        asserted_defined + asserted_refused + impossible_count,
        visits
    );
}

#[test]
fn ae6_rejects_an_unacceptable_request_into_sta13() {
    let config = AssociationConfig::default();
    let now = Instant::now();
    let strict = Arc::new(AcceptorPolicy {
        called_ae_titles: vec![AeTitle::new("SOMEONE-ELSE").unwrap()],
        ..(*policy()).clone()
    });
    let mut acceptor = Association::acceptor(now, config.clone(), strict);
    let pdus = peer_pdus(&config);
    acceptor.handle_input(now, &pdus.rq).unwrap();
    let t = acceptor.last_transition().unwrap();
    assert_eq!(t.action.id(), "AE-6");
    assert_eq!(t.to, State::AwaitingTransportClose);
    let mut out = Vec::new();
    let sent = acceptor.poll_transmit(now, &mut out).unwrap();
    assert_eq!(sent.pdu_type, dicomwire::pdu::PduType::AssociateRj);
    assert_eq!(out, [0x03, 0, 0, 0, 0, 4, 0, 1, 1, 7]);
    assert!(matches!(acceptor.next_timer(), Some((_, Timer::Artim))));
}

#[test]
fn artim_runs_only_in_sta2_and_sta13() {
    for state in State::ALL {
        if state == State::Idle {
            continue;
        }
        let f = fixture(state, role_for(state));
        let artim = matches!(f.assoc.next_timer(), Some((_, Timer::Artim)));
        let expected = matches!(
            state,
            State::AwaitingAssociateRq | State::AwaitingTransportClose
        );
        assert_eq!(artim, expected, "{state}");
    }
}
