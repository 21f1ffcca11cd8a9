//! Association negotiation between a requestor and an acceptor on the pair harness
//! (PS3.8 7.1, 9.3.2–9.3.4, Annex D; PS3.7 Annex D.3.3).
//!
//! Covered: the SCP/SCU role selection matrix (every proposal × every role policy), the
//! presentation context results 0–4, the acceptor's transfer-syntax preference, user
//! identity negotiation, the asynchronous operations window, the maximum PDU length and
//! what `send_pdata` does with it, every A-ASSOCIATE-RJ reason, the provider checks of
//! AE-6, the 128-context limit, and an association without an accepted context.

use dicomwire::pdu::{
    self, AcseReason, AssociateAc, AssociateRj, AssociateRq, AsyncOperationsWindow, DecodeLimits,
    Decoded, MessageControlHeader, Pdu, PduType, PresentationContextId, PresentationContextResult,
    PresentationReason, RejectResult, RejectSource, RoleSelection, ServiceUserReason, Uid,
    UserIdentity, UserIdentityRequest,
};
use dicomwire::ul::fsm::State;
use dicomwire::ul::{
    AcceptOptions, AcceptorPolicy, ApiMisuse, Association, AssociationRequest, ConfigError,
    MAX_PRESENTATION_CONTEXTS, Negotiated, NegotiatedContext, ProposedContext, RejectReason,
    RolePolicy, SupportedSyntax, Timer,
};
use dicomwire_tests::pair::{
    AssociateAnswer, Chunking, EXPLICIT_VR_LE, IMPLICIT_VR_LE, Pair, Side, VERIFICATION, ae,
    echo_policy, echo_request, ul_config,
};

const CT_IMAGE_STORAGE: Uid = Uid::from_static("1.2.840.10008.5.1.4.1.1.2");
const MR_IMAGE_STORAGE: Uid = Uid::from_static("1.2.840.10008.5.1.4.1.1.4");
const EXPLICIT_VR_BE: Uid = Uid::from_static("1.2.840.10008.1.2.2");
const UNKNOWN_SOP_CLASS: Uid = Uid::from_static("1.2.3.4.5");

fn pc(id: u8) -> PresentationContextId {
    PresentationContextId::new(id).unwrap()
}

fn decode(bytes: &[u8]) -> Pdu<'_> {
    let limits = DecodeLimits {
        max_pdu_length: u32::MAX,
        max_associate_length: u32::MAX,
    };
    match pdu::decode(bytes, &limits) {
        Ok(Decoded::Complete { pdu, consumed }) if consumed == bytes.len() => pdu,
        other => panic!("not one whole PDU: {other:?}"),
    }
}

fn encode(pdu: Pdu<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    pdu.encode(&mut out).unwrap();
    out
}

/// The A-ASSOCIATE-AC the acceptor sent.
fn sent_ac(pair: &Pair) -> AssociateAc {
    match decode(
        pair.last_sent(Side::Acceptor, PduType::AssociateAc)
            .expect("no A-ASSOCIATE-AC"),
    ) {
        Pdu::AssociateAc(ac) => *ac,
        other => panic!("{other:?}"),
    }
}

/// Runs a pair to establishment (whole PDUs) and returns it.
fn established(request: AssociationRequest, mut policy: AcceptorPolicy) -> Pair {
    // These scenarios look at the AC, even one that accepts nothing.
    policy.accept_with_no_context = true;
    let mut pair = Pair::new(Chunking::Whole, ul_config(), request, policy);
    pair.drive();
    assert_eq!(
        pair.state(Side::Requestor),
        State::Established,
        "{}",
        pair.dump()
    );
    assert_eq!(
        pair.state(Side::Acceptor),
        State::Established,
        "{}",
        pair.dump()
    );
    pair
}

fn negotiated(pair: &Pair, side: Side) -> &Negotiated {
    pair.side(side).negotiated().expect("negotiated")
}

fn context(negotiated: &Negotiated, id: u8) -> &NegotiatedContext {
    negotiated
        .contexts
        .iter()
        .find(|c| c.id == pc(id))
        .unwrap_or_else(|| panic!("no context {id}"))
}

/// The requestor receives `edit`ed from the A-ASSOCIATE-AC a real acceptor sends for
/// `request` under `policy`; the real acceptor never reads.
fn requestor_with_crafted_ac(
    request: AssociationRequest,
    policy: AcceptorPolicy,
    edit: impl FnOnce(&mut AssociateAc),
) -> Pair {
    let mut ac = sent_ac(&established(request.clone(), policy.clone()));
    edit(&mut ac);
    let bytes = encode(Pdu::AssociateAc(Box::new(ac)));
    let mut pair = Pair::new(Chunking::Whole, ul_config(), request, policy);
    pair.stall(Side::Acceptor);
    pair.drive();
    pair.inject(Side::Requestor, &bytes);
    pair.drive();
    pair
}

/// The A-ASSOCIATE-RQ our requestor sends for `request`, `edit`ed.
fn crafted_rq(request: AssociationRequest, edit: impl FnOnce(&mut AssociateRq)) -> Vec<u8> {
    let now = std::time::Instant::now();
    let mut requestor = Association::requestor(now, ul_config(), request).unwrap();
    requestor.handle_transport_connected(now).unwrap();
    let mut bytes = Vec::new();
    let _ = requestor.poll_transmit(now, &mut bytes).unwrap();
    let Pdu::AssociateRq(mut rq) = decode(&bytes) else {
        panic!("not an A-ASSOCIATE-RQ");
    };
    edit(&mut rq);
    encode(Pdu::AssociateRq(rq))
}

/// The acceptor under `policy` receives `rq`, before its requestor ever connects.
fn acceptor_receives(rq: &[u8], policy: AcceptorPolicy) -> Pair {
    let mut pair = Pair::unconnected(
        Chunking::Whole,
        ul_config(),
        ul_config(),
        echo_request(),
        policy,
    );
    pair.inject(Side::Acceptor, rq);
    pair.drive();
    pair
}

// ---------------------------------------------------------------------------------------
// SCP/SCU role selection (PS3.7 D.3.3.4)

#[test]
fn role_selection_matrix() {
    let proposals = [
        None,
        Some((false, false)),
        Some((false, true)),
        Some((true, false)),
        Some((true, true)),
    ];
    let mut cases = 0;
    for proposed in proposals {
        for may_scu in [false, true] {
            for may_scp in [false, true] {
                cases += 1;
                role_case(proposed, may_scu, may_scp);
            }
        }
    }
    assert_eq!(cases, 20);
}

fn role_case(proposed: Option<(bool, bool)>, may_scu: bool, may_scp: bool) {
    let case = format!("proposed {proposed:?}, requestor may be SCU {may_scu} / SCP {may_scp}");
    let mut request = AssociationRequest::new(ae("GETSCU"), ae("QRSCP"))
        .with_context(ProposedContext::new(CT_IMAGE_STORAGE, vec![IMPLICIT_VR_LE]));
    if let Some((scu, scp)) = proposed {
        request = request.with_role(CT_IMAGE_STORAGE, scu, scp);
    }
    let policy = AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(CT_IMAGE_STORAGE, vec![IMPLICIT_VR_LE]).with_roles(RolePolicy {
                requestor_may_be_scu: may_scu,
                requestor_may_be_scp: may_scp,
            }),
        ],
        ..AcceptorPolicy::default()
    };
    let pair = established(request, policy);

    // What the acceptor grants: only what was proposed and what the policy allows;
    // without a proposal the default roles (requestor SCU) apply.
    let (scu, scp) = match proposed {
        Some((scu, scp)) => (scu && may_scu, scp && may_scp),
        None => (may_scu, false),
    };
    let accepted = scu || scp;

    let ac = sent_ac(&pair);
    let reply: Vec<&RoleSelection> = ac
        .user_information
        .role_selections
        .iter()
        .filter(|r| r.sop_class_uid == CT_IMAGE_STORAGE)
        .collect();
    match (proposed, accepted) {
        (Some(_), true) => {
            assert_eq!(reply.len(), 1, "{case}: one reply item");
            assert_eq!((reply[0].scu_role, reply[0].scp_role), (scu, scp), "{case}");
            let (p_scu, p_scp) = proposed.unwrap();
            assert!(
                !reply[0].scu_role || p_scu,
                "{case}: granted SCU not proposed"
            );
            assert!(
                !reply[0].scp_role || p_scp,
                "{case}: granted SCP not proposed"
            );
        }
        _ => assert!(reply.is_empty(), "{case}: reply {reply:?}"),
    }
    let expected_result = if accepted {
        PresentationContextResult::Acceptance
    } else {
        PresentationContextResult::UserRejection
    };
    assert_eq!(
        ac.presentation_contexts[0].result, expected_result,
        "{case}"
    );

    let at_requestor = negotiated(&pair, Side::Requestor);
    let at_acceptor = negotiated(&pair, Side::Acceptor);
    let (rc, ac_ctx) = (context(at_requestor, 1), context(at_acceptor, 1));
    assert_eq!(rc.result, expected_result, "{case}: requestor's result");
    assert_eq!(ac_ctx.result, expected_result, "{case}: acceptor's result");
    assert_eq!(rc.is_accepted(), accepted, "{case}");
    if accepted {
        assert_eq!(
            (at_requestor.local_is_scu(rc), at_requestor.local_is_scp(rc)),
            (scu, scp),
            "{case}: requestor's roles"
        );
        assert_eq!(
            (
                at_acceptor.local_is_scu(ac_ctx),
                at_acceptor.local_is_scp(ac_ctx)
            ),
            (scp, scu),
            "{case}: acceptor's roles"
        );
    } else {
        assert_eq!(
            (rc.requestor_scu, rc.requestor_scp),
            (false, false),
            "{case}"
        );
        assert_eq!(
            (ac_ctx.requestor_scu, ac_ctx.requestor_scp),
            (false, false),
            "{case}"
        );
    }
    // Both sides agree on who plays what.
    assert_eq!(
        (
            rc.requestor_scu,
            rc.requestor_scp,
            rc.transfer_syntax.as_ref()
        ),
        (
            ac_ctx.requestor_scu,
            ac_ctx.requestor_scp,
            ac_ctx.transfer_syntax.as_ref()
        ),
        "{case}: the sides disagree"
    );
}

#[test]
fn acceptor_ignoring_role_selection_means_default_roles() {
    let request = AssociationRequest::new(ae("GETSCU"), ae("QRSCP"))
        .with_context(ProposedContext::new(CT_IMAGE_STORAGE, vec![IMPLICIT_VR_LE]))
        .with_role(CT_IMAGE_STORAGE, true, true);
    let policy = AcceptorPolicy {
        abstract_syntaxes: vec![SupportedSyntax::new(CT_IMAGE_STORAGE, vec![IMPLICIT_VR_LE])],
        ..AcceptorPolicy::default()
    };
    let pair = requestor_with_crafted_ac(request, policy, |ac| {
        ac.user_information.role_selections.clear();
    });
    let n = negotiated(&pair, Side::Requestor);
    let ctx = context(n, 1);
    assert_eq!((n.local_is_scu(ctx), n.local_is_scp(ctx)), (true, false));
}

// ---------------------------------------------------------------------------------------
// Presentation context results (PS3.8 Table 9-18)

fn mixed_request() -> AssociationRequest {
    AssociationRequest::new(ae("SCU"), ae("SCP"))
        // pc1: accepted (0)
        .with_context(ProposedContext::new(VERIFICATION, vec![IMPLICIT_VR_LE]))
        // pc3: the requestor wants to be SCP only, which the policy refuses: user-rejection (1)
        .with_context(ProposedContext::new(CT_IMAGE_STORAGE, vec![IMPLICIT_VR_LE]))
        .with_role(CT_IMAGE_STORAGE, false, true)
        // pc5: abstract-syntax-not-supported (3)
        .with_context(ProposedContext::new(
            UNKNOWN_SOP_CLASS,
            vec![IMPLICIT_VR_LE],
        ))
        // pc7: transfer-syntaxes-not-supported (4)
        .with_context(ProposedContext::new(MR_IMAGE_STORAGE, vec![EXPLICIT_VR_BE]))
}

fn mixed_policy() -> AcceptorPolicy {
    AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(VERIFICATION, vec![IMPLICIT_VR_LE]),
            SupportedSyntax::new(CT_IMAGE_STORAGE, vec![IMPLICIT_VR_LE]),
            SupportedSyntax::new(MR_IMAGE_STORAGE, vec![EXPLICIT_VR_LE, IMPLICIT_VR_LE]),
        ],
        ..AcceptorPolicy::default()
    }
}

#[test]
fn context_results_0_1_3_4() {
    let pair = established(mixed_request(), mixed_policy());
    let ac = sent_ac(&pair);
    let on_wire: Vec<(u8, u8)> = ac
        .presentation_contexts
        .iter()
        .map(|c| (c.id.get(), c.result.code()))
        .collect();
    assert_eq!(on_wire, [(1, 0), (3, 1), (5, 3), (7, 4)]);
    assert_eq!(
        ac.presentation_contexts[0].transfer_syntax,
        Some(IMPLICIT_VR_LE)
    );
    for side in Side::BOTH {
        let n = negotiated(&pair, side);
        let results: Vec<u8> = n.contexts.iter().map(|c| c.result.code()).collect();
        assert_eq!(results, [0, 1, 3, 4], "{side:?}");
        let accepted: Vec<u8> = n.accepted().map(|c| c.id.get()).collect();
        assert_eq!(accepted, [1], "{side:?}");
        assert_eq!(
            n.rejected_summary(),
            format!(
                "pc3 {CT_IMAGE_STORAGE}: user-rejection; \
                 pc5 {UNKNOWN_SOP_CLASS}: abstract-syntax-not-supported (provider rejection); \
                 pc7 {MR_IMAGE_STORAGE}: transfer-syntaxes-not-supported (provider rejection)"
            ),
            "{side:?}"
        );
        for c in &n.contexts {
            assert_eq!(c.transfer_syntax.is_some(), c.id == pc(1), "{side:?} {c:?}");
        }
    }
    assert_eq!(pair.events(Side::Requestor), ["Established(1 accepted)"]);
}

#[test]
fn context_result_2_when_the_ac_omits_a_proposed_context() {
    let pair = requestor_with_crafted_ac(mixed_request(), mixed_policy(), |ac| {
        ac.presentation_contexts.retain(|c| c.id != pc(5));
    });
    assert_eq!(pair.state(Side::Requestor), State::Established);
    let n = negotiated(&pair, Side::Requestor);
    let results: Vec<u8> = n.contexts.iter().map(|c| c.result.code()).collect();
    assert_eq!(results, [0, 1, 2, 4]);
    assert_eq!(context(n, 5).result, PresentationContextResult::NoReason);
    assert!(
        n.rejected_summary().contains(&format!(
            "pc5 {UNKNOWN_SOP_CLASS}: no-reason (provider rejection)"
        )),
        "{}",
        n.rejected_summary()
    );
}

#[test]
fn accepted_transfer_syntax_not_proposed_is_not_usable() {
    let mut pair = requestor_with_crafted_ac(echo_request(), echo_policy(), |ac| {
        ac.presentation_contexts[0].transfer_syntax = Some(EXPLICIT_VR_BE);
    });
    let n = negotiated(&pair, Side::Requestor);
    assert_eq!(n.accepted().count(), 0);
    assert_eq!(
        context(n, 1).result,
        PresentationContextResult::TransferSyntaxesNotSupported
    );
    let err = pair
        .send_message(Side::Requestor, 1, MessageControlHeader::COMMAND, b"x")
        .unwrap_err();
    assert_eq!(err, ApiMisuse::ContextNotAccepted(pc(1)));
}

#[test]
fn transfer_syntax_follows_the_acceptors_preference() {
    let cases = [
        // (requestor proposes, acceptor prefers, chosen)
        (
            vec![EXPLICIT_VR_LE, IMPLICIT_VR_LE],
            vec![IMPLICIT_VR_LE, EXPLICIT_VR_LE],
            IMPLICIT_VR_LE,
        ),
        (
            vec![IMPLICIT_VR_LE, EXPLICIT_VR_LE],
            vec![EXPLICIT_VR_LE, IMPLICIT_VR_LE],
            EXPLICIT_VR_LE,
        ),
        (
            vec![IMPLICIT_VR_LE],
            vec![EXPLICIT_VR_LE, IMPLICIT_VR_LE],
            IMPLICIT_VR_LE,
        ),
        (
            vec![EXPLICIT_VR_BE, EXPLICIT_VR_LE, IMPLICIT_VR_LE],
            vec![EXPLICIT_VR_BE, IMPLICIT_VR_LE],
            EXPLICIT_VR_BE,
        ),
    ];
    for (proposed, preferred, chosen) in cases {
        let request = AssociationRequest::new(ae("SCU"), ae("SCP"))
            .with_context(ProposedContext::new(CT_IMAGE_STORAGE, proposed.clone()));
        let policy = AcceptorPolicy {
            abstract_syntaxes: vec![SupportedSyntax::new(CT_IMAGE_STORAGE, preferred.clone())],
            ..AcceptorPolicy::default()
        };
        let pair = established(request, policy);
        let case = format!("proposed {proposed:?}, preferred {preferred:?}");
        assert_eq!(
            sent_ac(&pair).presentation_contexts[0]
                .transfer_syntax
                .as_ref(),
            Some(&chosen),
            "{case}"
        );
        for side in Side::BOTH {
            assert_eq!(
                context(negotiated(&pair, side), 1).transfer_syntax.as_ref(),
                Some(&chosen),
                "{case}, {side:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// User identity (PS3.7 D.3.3.7)

fn identity_request(positive_response_requested: bool) -> AssociationRequest {
    let mut request = echo_request();
    request.user_identity = Some(UserIdentityRequest {
        identity: UserIdentity::UsernamePasscode {
            username: b"alice".to_vec(),
            passcode: b"secret".to_vec(),
        },
        positive_response_requested,
    });
    request
}

#[test]
fn user_identity_accepted_with_and_without_server_response() {
    for requested in [false, true] {
        for server_response in [None, Some(b"server-token".to_vec())] {
            let case =
                format!("response requested {requested}, server response {server_response:?}");
            let request = identity_request(requested);
            let sent_identity = request.user_identity.clone().unwrap();
            let mut pair = Pair::new(Chunking::Whole, ul_config(), request, echo_policy());
            pair.associate_answer = AssociateAnswer::Hold;
            pair.drive();
            let incoming = pair.pending_incoming().expect("held");
            assert_eq!(incoming.user_identity(), Some(&sent_identity), "{case}");
            pair.accept(AcceptOptions {
                user_identity_response: server_response.clone(),
                ..AcceptOptions::default()
            })
            .unwrap();
            pair.drive();
            let ac = sent_ac(&pair);
            let item = ac.user_information.user_identity_response.as_ref();
            // The 0x59 item goes out exactly when the requestor asked for it; for
            // username and passcode its content is what the user gave (empty by default).
            let expected = requested.then(|| server_response.clone().unwrap_or_default());
            assert_eq!(item.map(|r| r.server_response.clone()), expected, "{case}");
            assert_eq!(
                negotiated(&pair, Side::Requestor).user_identity_response,
                expected,
                "{case}"
            );
            assert_eq!(
                negotiated(&pair, Side::Acceptor).user_identity,
                Some(sent_identity),
                "{case}"
            );
        }
    }
}

#[test]
fn user_identity_rejected() {
    let mut pair = Pair::new(
        Chunking::Whole,
        ul_config(),
        identity_request(true),
        echo_policy(),
    );
    pair.associate_answer = AssociateAnswer::Hold;
    pair.drive();
    assert!(pair.pending_incoming().unwrap().user_identity().is_some());
    pair.reject(RejectReason::NoReasonGiven).unwrap();
    pair.drive();
    assert_eq!(
        pair.events(Side::Requestor),
        [
            "Rejected(peer: rejected-permanent by DICOM UL service-user: no-reason-given)",
            "Closed"
        ]
    );
    assert_eq!(pair.sent(Side::Acceptor), ["A-ASSOCIATE-RJ(1,1,1)"]);
    assert!(pair.side(Side::Requestor).negotiated().is_none());
}

// ---------------------------------------------------------------------------------------
// Asynchronous operations window (PS3.7 D.3.3.3)

fn window(invoked: u16, performed: u16) -> AsyncOperationsWindow {
    AsyncOperationsWindow {
        max_operations_invoked: invoked,
        max_operations_performed: performed,
    }
}

/// The acceptor's reply for one field: never above the proposal, 0 meaning unlimited.
fn expected_field(ours: u16, proposed: u16) -> u16 {
    match (ours, proposed) {
        (o, 0) => o,
        (0, p) => p,
        (o, p) => o.min(p),
    }
}

fn window_case(proposed: Option<AsyncOperationsWindow>, ours: Option<AsyncOperationsWindow>) {
    let case = format!("proposed {proposed:?}, acceptor {ours:?}");
    let mut request = echo_request();
    request.async_operations_window = proposed;
    let mut policy = echo_policy();
    policy.async_operations_window = ours;
    let pair = established(request, policy);
    let reply = sent_ac(&pair).user_information.async_operations_window;
    let expected = match (proposed, ours) {
        (Some(p), Some(o)) => Some(window(
            expected_field(o.max_operations_invoked, p.max_operations_invoked),
            expected_field(o.max_operations_performed, p.max_operations_performed),
        )),
        _ => None,
    };
    assert_eq!(reply, expected, "{case}");
    if let (Some(r), Some(p)) = (reply, proposed) {
        for (got, asked) in [
            (r.max_operations_invoked, p.max_operations_invoked),
            (r.max_operations_performed, p.max_operations_performed),
        ] {
            assert!(
                asked == 0 || (got != 0 && got <= asked),
                "{case}: reply {r:?} above the proposal"
            );
        }
    }
    let agreed = expected.unwrap_or(window(1, 1));
    for side in Side::BOTH {
        assert_eq!(
            negotiated(&pair, side).async_operations_window,
            agreed,
            "{case}, {side:?}"
        );
    }
}

#[test]
fn async_window_absent_means_one_and_one() {
    window_case(None, None);
    window_case(None, Some(window(5, 5)));
    window_case(Some(window(5, 5)), None);
}

#[test]
fn async_window_reply_never_above_the_proposal() {
    window_case(Some(window(5, 3)), Some(window(2, 10)));
    let reply = {
        let mut request = echo_request();
        request.async_operations_window = Some(window(5, 3));
        let mut policy = echo_policy();
        policy.async_operations_window = Some(window(2, 10));
        sent_ac(&established(request, policy))
            .user_information
            .async_operations_window
    };
    assert_eq!(reply, Some(window(2, 3)));
}

#[test]
fn async_window_zero_means_unlimited() {
    // Proposed unlimited: our own limit. Ours unlimited: the proposal. Both: unlimited.
    let cases = [
        (window(0, 0), window(4, 4), window(4, 4)),
        (window(7, 0), window(0, 2), window(7, 2)),
        (window(0, 0), window(0, 0), window(0, 0)),
    ];
    for (proposed, ours, reply) in cases {
        let mut request = echo_request();
        request.async_operations_window = Some(proposed);
        let mut policy = echo_policy();
        policy.async_operations_window = Some(ours);
        let pair = established(request, policy);
        assert_eq!(
            sent_ac(&pair).user_information.async_operations_window,
            Some(reply)
        );
        for side in Side::BOTH {
            assert_eq!(negotiated(&pair, side).async_operations_window, reply);
        }
    }
}

#[test]
fn async_window_matrix() {
    let values = [0, 1, 3, 8];
    for pi in values {
        for pp in values {
            for oi in values {
                for op in values {
                    window_case(Some(window(pi, pp)), Some(window(oi, op)));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Maximum PDU length (PS3.8 D.1)

#[test]
fn send_limit_is_the_peers_maximum_capped_by_ours() {
    let mut requestor_config = ul_config();
    requestor_config.max_pdu_length = 16_384;
    requestor_config.max_send_pdu_length = 4096;
    let mut acceptor_config = ul_config();
    acceptor_config.max_pdu_length = 2 * 1024 * 1024;
    acceptor_config.max_send_pdu_length = 1024 * 1024;
    let mut pair = Pair::with_configs(
        Chunking::Whole,
        requestor_config,
        acceptor_config,
        echo_request(),
        echo_policy(),
    );
    pair.drive();
    let at_requestor = negotiated(&pair, Side::Requestor);
    assert_eq!(at_requestor.local_max_pdu_length, 16_384);
    assert_eq!(at_requestor.peer_max_pdu_length, 2 * 1024 * 1024);
    assert_eq!(
        at_requestor.send_max_pdu_length, 4096,
        "capped by our max_send_pdu_length"
    );
    let at_acceptor = negotiated(&pair, Side::Acceptor);
    assert_eq!(at_acceptor.peer_max_pdu_length, 16_384);
    assert_eq!(
        at_acceptor.send_max_pdu_length, 16_384,
        "the peer's, below our cap"
    );
}

#[test]
fn peer_maximum_zero_means_our_cap_at_the_requestor() {
    let pair = requestor_with_crafted_ac(echo_request(), echo_policy(), |ac| {
        ac.user_information.max_length = 0;
    });
    let n = negotiated(&pair, Side::Requestor);
    assert_eq!(n.peer_max_pdu_length, 0);
    assert_eq!(n.send_max_pdu_length, ul_config().max_send_pdu_length);
}

#[test]
fn peer_maximum_zero_means_our_cap_at_the_acceptor() {
    let rq = crafted_rq(echo_request(), |rq| rq.user_information.max_length = 0);
    let pair = acceptor_receives(&rq, echo_policy());
    assert_eq!(
        pair.state(Side::Acceptor),
        State::Established,
        "{}",
        pair.dump()
    );
    let n = negotiated(&pair, Side::Acceptor);
    assert_eq!(n.peer_max_pdu_length, 0);
    assert_eq!(n.send_max_pdu_length, ul_config().max_send_pdu_length);
}

#[test]
fn send_pdata_over_the_limit_is_refused_and_changes_nothing() {
    let mut acceptor_config = ul_config();
    acceptor_config.max_pdu_length = 1024;
    let mut pair = Pair::with_configs(
        Chunking::Whole,
        ul_config(),
        acceptor_config,
        echo_request(),
        echo_policy(),
    );
    pair.drive();
    assert_eq!(negotiated(&pair, Side::Requestor).send_max_pdu_length, 1024);
    let log = pair.log(Side::Requestor).len();
    let last = pair.side(Side::Requestor).last_transition();
    // One PDV: 4-byte item length, context id, control header, then the data.
    let too_big = vec![0xAB; 1024 - 6 + 1];
    let err = pair
        .send_message(Side::Requestor, 1, MessageControlHeader::LAST, &too_big)
        .unwrap_err();
    assert_eq!(
        err,
        ApiMisuse::PduTooLarge {
            len: 1025,
            max: 1024
        }
    );
    assert_eq!(pair.log(Side::Requestor).len(), log);
    assert_eq!(pair.side(Side::Requestor).last_transition(), last);
    assert_eq!(pair.state(Side::Requestor), State::Established);
    assert!(!pair.side(Side::Requestor).wants_write());
    // At the limit it goes, and arrives.
    let just_fits = vec![0xCD; 1024 - 6];
    pair.send_message(Side::Requestor, 1, MessageControlHeader::LAST, &just_fits)
        .unwrap();
    pair.drive();
    assert_eq!(pair.received_pdvs(Side::Acceptor).len(), 1);
    assert_eq!(pair.received_pdvs(Side::Acceptor)[0].data, just_fits);
    assert_eq!(pair.state(Side::Acceptor), State::Established);
}

// ---------------------------------------------------------------------------------------
// A-ASSOCIATE-RJ (PS3.8 Table 9-21)

#[test]
fn each_reject_reason_reaches_the_requestor() {
    let cases = [
        (
            RejectReason::NoReasonGiven,
            (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::NoReasonGiven),
            ),
            "rejected-permanent by DICOM UL service-user: no-reason-given",
        ),
        (
            RejectReason::ApplicationContextNameNotSupported,
            (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::ApplicationContextNameNotSupported),
            ),
            "rejected-permanent by DICOM UL service-user: application-context-name-not-supported",
        ),
        (
            RejectReason::CallingAeTitleNotRecognized,
            (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::CallingAeTitleNotRecognized),
            ),
            "rejected-permanent by DICOM UL service-user: calling-AE-title-not-recognized",
        ),
        (
            RejectReason::CalledAeTitleNotRecognized,
            (
                RejectResult::Permanent,
                RejectSource::ServiceUser(ServiceUserReason::CalledAeTitleNotRecognized),
            ),
            "rejected-permanent by DICOM UL service-user: called-AE-title-not-recognized",
        ),
        (
            RejectReason::ProtocolVersionNotSupported,
            (
                RejectResult::Permanent,
                RejectSource::ServiceProviderAcse(AcseReason::ProtocolVersionNotSupported),
            ),
            "rejected-permanent by DICOM UL service-provider (ACSE related function): \
             protocol-version-not-supported",
        ),
        (
            RejectReason::TemporaryCongestion,
            (
                RejectResult::Transient,
                RejectSource::ServiceProviderPresentation(PresentationReason::TemporaryCongestion),
            ),
            "rejected-transient by DICOM UL service-provider (presentation related function): \
             temporary-congestion",
        ),
        (
            RejectReason::LocalLimitExceeded,
            (
                RejectResult::Transient,
                RejectSource::ServiceProviderPresentation(PresentationReason::LocalLimitExceeded),
            ),
            "rejected-transient by DICOM UL service-provider (presentation related function): \
             local-limit-exceeded",
        ),
    ];
    for (reason, (result, source), text) in cases {
        let mut pair = Pair::new(Chunking::Whole, ul_config(), echo_request(), echo_policy());
        pair.associate_answer = AssociateAnswer::Reject(reason);
        pair.drive();
        let rejected = pair.rejections(Side::Requestor)[0];
        assert!(rejected.by_peer);
        assert_eq!(rejected.rj, AssociateRj { result, source }, "{reason:?}");
        assert_eq!(rejected.rj.to_string(), text);
        assert_eq!(reason.to_string(), text);
        assert_eq!(
            pair.events(Side::Requestor),
            [format!("Rejected(peer: {text})"), "Closed".to_owned()]
        );
        let (s, r) = source.codes();
        assert_eq!(
            pair.last_sent(Side::Acceptor, PduType::AssociateRj),
            Some(&[0x03, 0, 0, 0, 0, 4, 0, result.code(), s, r][..])
        );
    }
}

// ---------------------------------------------------------------------------------------
// The provider checks of AE-6: rejected before the user sees the request

/// The acceptor rejected in AE-6 (Sta2 → Sta13) without an A-ASSOCIATE indication.
fn assert_provider_rejected(pair: &Pair, codes: &str, text: &str) {
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[1],
        "Sta2 --Evt6/AE-6--> Sta13",
        "{}",
        pair.dump()
    );
    assert_eq!(
        pair.sent(Side::Acceptor),
        [format!("A-ASSOCIATE-RJ({codes})")]
    );
    assert_eq!(
        pair.events(Side::Acceptor)[0],
        format!("Rejected(we: {text})")
    );
    assert!(pair.established(Side::Acceptor).is_empty());
    assert!(pair.pending_incoming().is_none());
    // AE-6 starts ARTIM along with the A-ASSOCIATE-RJ; it stops when the requestor closes.
    if pair.is_open(Side::Acceptor) {
        assert_eq!(
            pair.side(Side::Acceptor).next_timer(),
            Some((pair.now + ul_config().artim_timeout, Timer::Artim))
        );
    } else {
        assert_eq!(pair.side(Side::Acceptor).poll_timeout(), None);
    }
}

#[test]
fn called_ae_not_in_policy_is_rejected() {
    let mut policy = echo_policy();
    policy.called_ae_titles = vec![ae("OTHER"), ae("ANOTHER")];
    let mut pair = Pair::new(Chunking::Whole, ul_config(), echo_request(), policy);
    pair.drive();
    let text = "rejected-permanent by DICOM UL service-user: called-AE-title-not-recognized";
    assert_provider_rejected(&pair, "1,1,7", text);
    assert_eq!(
        pair.events(Side::Requestor),
        [format!("Rejected(peer: {text})"), "Closed".to_owned()]
    );
    // The acceptor's association ends when the requestor closes its end (AR-5).
    assert_eq!(
        pair.transition_strings(Side::Acceptor)[2],
        "Sta13 --Evt17/AR-5--> Sta1"
    );
    assert_eq!(pair.events(Side::Acceptor)[1], "Closed");
}

#[test]
fn called_ae_in_policy_is_accepted() {
    let mut policy = echo_policy();
    policy.called_ae_titles = vec![ae("OTHER"), ae("SCP")];
    established(echo_request(), policy);
}

#[test]
fn calling_ae_not_allowed_is_rejected() {
    let mut policy = echo_policy();
    policy.calling_ae_titles = vec![ae("TRUSTED")];
    let mut pair = Pair::new(Chunking::Whole, ul_config(), echo_request(), policy);
    pair.drive();
    assert_provider_rejected(
        &pair,
        "1,1,3",
        "rejected-permanent by DICOM UL service-user: calling-AE-title-not-recognized",
    );
    let mut policy = echo_policy();
    policy.calling_ae_titles = vec![ae("TRUSTED"), ae("SCU")];
    established(echo_request(), policy);
}

#[test]
fn protocol_version_without_bit_0_is_rejected() {
    let rq = crafted_rq(echo_request(), |rq| rq.protocol_version = 0x0002);
    // Bytes 7-8 of the A-ASSOCIATE-RQ: the protocol version.
    assert_eq!(rq[6..8], [0x00, 0x02]);
    let pair = acceptor_receives(&rq, echo_policy());
    assert_provider_rejected(
        &pair,
        "1,2,2",
        "rejected-permanent by DICOM UL service-provider (ACSE related function): \
         protocol-version-not-supported",
    );
}

#[test]
fn protocol_version_with_bit_0_and_more_is_accepted() {
    // A version-1 acceptor tests only bit 0 (PS3.8 Table 9-11).
    let rq = crafted_rq(echo_request(), |rq| rq.protocol_version = 0x0003);
    let pair = acceptor_receives(&rq, echo_policy());
    assert_eq!(
        pair.state(Side::Acceptor),
        State::Established,
        "{}",
        pair.dump()
    );
}

#[test]
fn non_dicom_application_context_is_rejected() {
    let rq = crafted_rq(echo_request(), |rq| {
        rq.application_context = Uid::new("1.2.840.10008.3.1.1.2").unwrap();
    });
    let pair = acceptor_receives(&rq, echo_policy());
    assert_provider_rejected(
        &pair,
        "1,1,2",
        "rejected-permanent by DICOM UL service-user: application-context-name-not-supported",
    );
}

// ---------------------------------------------------------------------------------------
// Limits of the proposal

#[test]
fn more_than_128_contexts_is_a_config_error() {
    let many = |n: usize| {
        (0..n).fold(AssociationRequest::new(ae("SCU"), ae("SCP")), |r, _| {
            r.with_context(ProposedContext::new(VERIFICATION, vec![IMPLICIT_VR_LE]))
        })
    };
    let now = std::time::Instant::now();
    let err =
        Association::requestor(now, ul_config(), many(MAX_PRESENTATION_CONTEXTS + 1)).unwrap_err();
    assert_eq!(err, ConfigError::TooManyPresentationContexts(129));
    // 128 is fine: ids 1, 3 … 255.
    let pair = established(many(MAX_PRESENTATION_CONTEXTS), echo_policy());
    let n = negotiated(&pair, Side::Requestor);
    assert_eq!(n.accepted().count(), 128);
    assert_eq!(n.contexts.last().unwrap().id, pc(255));
}

/// What storage modalities propose (and `echoscu -pts 38 -ppc 128` sends): 128 contexts
/// of 38 transfer syntaxes, an A-ASSOCIATE-RQ of over 128 KiB, is accepted under the
/// default 1 MiB limit; a configured limit is still checked from the PDU header.
#[test]
fn a_request_of_128_contexts_with_38_transfer_syntaxes_each_is_accepted() {
    let syntaxes: Vec<Uid> = std::iter::once(IMPLICIT_VR_LE)
        .chain((1..38).map(|n| Uid::new(&format!("1.2.840.10008.1.2.4.{}", 100 + n)).unwrap()))
        .collect();
    let request = (0..MAX_PRESENTATION_CONTEXTS)
        .fold(AssociationRequest::new(ae("SCU"), ae("SCP")), |r, _| {
            r.with_context(ProposedContext::new(VERIFICATION, syntaxes.clone()))
        });
    let rq = crafted_rq(request.clone(), |_| {});
    assert!(rq.len() > 128 * 1024, "{} bytes", rq.len());
    let pair = established(request.clone(), echo_policy());
    assert_eq!(negotiated(&pair, Side::Acceptor).accepted().count(), 128);
    // Under a 64 KiB limit the same request is refused before it is buffered.
    let mut small = ul_config();
    small.max_associate_length = 64 * 1024;
    let mut pair = Pair::unconnected(Chunking::Whole, ul_config(), small, request, echo_policy());
    pair.inject(Side::Acceptor, &rq[..6]);
    pair.drive();
    assert_ne!(pair.state(Side::Acceptor), State::Established);
    assert!(
        pair.last_sent(Side::Acceptor, PduType::Abort).is_some(),
        "{}",
        pair.dump()
    );
}

#[test]
fn by_default_a_request_with_no_acceptable_context_is_rejected() {
    let request = AssociationRequest::new(ae("SCU"), ae("SCP"))
        .with_context(ProposedContext::new(
            UNKNOWN_SOP_CLASS,
            vec![IMPLICIT_VR_LE],
        ))
        .with_context(ProposedContext::new(MR_IMAGE_STORAGE, vec![EXPLICIT_VR_BE]));
    let mut pair = Pair::new(Chunking::Whole, ul_config(), request, mixed_policy());
    pair.drive();
    assert_eq!(
        pair.rejections(Side::Requestor)
            .iter()
            .map(|r| r.rj)
            .collect::<Vec<_>>(),
        [RejectReason::NoReasonGiven.to_pdu()],
        "{}",
        pair.dump()
    );
    assert_eq!(pair.state(Side::Requestor), State::Idle);
}

#[test]
fn a_repeated_presentation_context_id_is_rejected() {
    // A request for two contexts, the second renumbered to the first's ID 1.
    let now = std::time::Instant::now();
    let request = AssociationRequest::new(ae("SCU"), ae("SCP"))
        .with_context(ProposedContext::new(VERIFICATION, vec![IMPLICIT_VR_LE]))
        .with_context(ProposedContext::new(CT_IMAGE_STORAGE, vec![IMPLICIT_VR_LE]));
    let mut scu = dicomwire::ul::Association::requestor(now, ul_config(), request).expect("rq");
    scu.handle_transport_connected(now).expect("connect");
    let mut rq = Vec::new();
    while scu.poll_transmit(now, &mut rq).is_some() {}
    let second = rq
        .windows(5)
        .position(|w| w[0] == 0x20 && w[4] == 3)
        .expect("the second presentation context item");
    rq[second + 4] = 1;
    let mut scp = dicomwire::ul::Association::acceptor(now, ul_config(), mixed_policy().into());
    scp.handle_input(now, &rq).expect("input");
    let events: Vec<String> = std::iter::from_fn(|| scp.poll_event())
        .map(|e| format!("{e:?}"))
        .collect();
    assert!(
        events.iter().any(|e| e.starts_with("Rejected")),
        "{events:?}"
    );
    let mut rj = Vec::new();
    while scp.poll_transmit(now, &mut rj).is_some() {}
    assert_eq!(rj[0], 0x03, "an A-ASSOCIATE-RJ");
}

#[test]
fn no_accepted_context_establishes_with_a_summary() {
    let request = AssociationRequest::new(ae("SCU"), ae("SCP"))
        .with_context(ProposedContext::new(
            UNKNOWN_SOP_CLASS,
            vec![IMPLICIT_VR_LE],
        ))
        .with_context(ProposedContext::new(MR_IMAGE_STORAGE, vec![EXPLICIT_VR_BE]));
    let pair = established(request, mixed_policy());
    assert_eq!(pair.events(Side::Requestor), ["Established(0 accepted)"]);
    let n = &pair.established(Side::Requestor)[0];
    assert_eq!(n.accepted().count(), 0);
    assert_eq!(
        n.rejected_summary(),
        format!(
            "pc1 {UNKNOWN_SOP_CLASS}: abstract-syntax-not-supported (provider rejection); \
             pc3 {MR_IMAGE_STORAGE}: transfer-syntaxes-not-supported (provider rejection)"
        )
    );
}
