//! Round trips of every PDU, item and sub-item type, by example and by proptest, and split
//! invariance: any split of a valid byte stream decodes to the same PDUs.

use dicomwire::pdu::{
    self, Abort, AbortReason, AbortSource, AcseReason, AeTitle, AssociateAc, AssociateRj,
    AssociateRq, AsyncOperationsWindow, DICOM_APPLICATION_CONTEXT, DecodeLimits, Decoded, ItemType,
    MessageControlHeader, PData, Pdu, Pdv, PresentationContextAc, PresentationContextId,
    PresentationContextResult, PresentationContextRq, PresentationReason, RawItem, RejectResult,
    RejectSource, RoleSelection, ServiceUserReason, SopClassCommonExtendedNegotiation,
    SopClassExtendedNegotiation, Uid, UserIdentity, UserIdentityRequest, UserIdentityResponse,
    UserInformation,
};
use proptest::prelude::*;

const NO_LIMITS: DecodeLimits = DecodeLimits {
    max_pdu_length: u32::MAX,
    max_associate_length: u32::MAX,
};

fn uid(s: &str) -> Uid {
    Uid::new(s).unwrap()
}

fn pc(id: u8) -> PresentationContextId {
    PresentationContextId::new(id).unwrap()
}

fn roundtrip(pdu: &Pdu<'_>) -> Vec<u8> {
    let mut wire = Vec::new();
    let n = pdu.encode(&mut wire).expect("encodes");
    assert_eq!(n, wire.len());
    match pdu::decode(&wire, &NO_LIMITS).expect("decodes") {
        Decoded::Complete {
            pdu: back,
            consumed,
        } => {
            assert_eq!(consumed, wire.len());
            assert_eq!(&back, pdu);
        }
        other => panic!("incomplete: {other:?}"),
    }
    wire
}

/// A request using every item and sub-item a request can hold.
fn full_rq() -> AssociateRq {
    let mut ui = UserInformation::new(16384, uid("1.2.826.0.1.3680043.10.1"));
    ui.async_operations_window = Some(AsyncOperationsWindow {
        max_operations_invoked: 5,
        max_operations_performed: 0,
    });
    ui.role_selections.push(RoleSelection {
        sop_class_uid: uid("1.2.840.10008.5.1.4.38.1"),
        scu_role: false,
        scp_role: true,
    });
    ui.implementation_version_name = Some("DICOMWIRE_010".into());
    ui.sop_class_extended.push(SopClassExtendedNegotiation {
        sop_class_uid: uid("1.2.840.10008.5.1.4.31"),
        application_information: vec![1, 0, 1],
    });
    ui.sop_class_common_extended
        .push(SopClassCommonExtendedNegotiation {
            version: 0,
            sop_class_uid: uid("1.2.840.10008.5.1.4.1.1.2.1"),
            service_class_uid: uid("1.2.840.10008.4.2"),
            related_general_sop_classes: vec![uid("1.2.840.10008.5.1.4.1.1.2")],
            reserved: vec![],
        });
    ui.user_identity_request = Some(UserIdentityRequest {
        identity: UserIdentity::Jwt(b"eyJhbGciOiJIUzI1NiJ9.e30.sig".to_vec()),
        positive_response_requested: true,
    });
    ui.unknown.push(RawItem {
        item_type: 0x5F,
        value: vec![9, 9],
    });
    AssociateRq {
        protocol_version: 1,
        called_ae_title: AeTitle::new("ANY-SCP").unwrap(),
        calling_ae_title: AeTitle::new("FINDSCU").unwrap(),
        application_context: DICOM_APPLICATION_CONTEXT,
        presentation_contexts: vec![
            PresentationContextRq {
                id: pc(1),
                abstract_syntax: uid("1.2.840.10008.1.1"),
                transfer_syntaxes: vec![uid("1.2.840.10008.1.2.1"), uid("1.2.840.10008.1.2")],
                unknown_sub_items: vec![],
            },
            PresentationContextRq {
                id: pc(3),
                abstract_syntax: uid("1.2.840.10008.5.1.4.31"),
                transfer_syntaxes: vec![uid("1.2.840.10008.1.2")],
                unknown_sub_items: vec![RawItem {
                    item_type: 0x31,
                    value: vec![],
                }],
            },
        ],
        user_information: ui,
        unknown_items: vec![RawItem {
            item_type: 0x60,
            value: b"future".to_vec(),
        }],
    }
}

#[test]
fn every_pdu_type_round_trips() {
    let rq = full_rq();
    roundtrip(&Pdu::AssociateRq(Box::new(rq.clone())));

    let mut ui = UserInformation::new(0, uid("1.2.3"));
    ui.user_identity_response = Some(UserIdentityResponse {
        server_response: b"ticket".to_vec(),
    });
    ui.async_operations_window = Some(AsyncOperationsWindow {
        max_operations_invoked: 1,
        max_operations_performed: 1,
    });
    ui.role_selections = rq.user_information.role_selections.clone();
    ui.sop_class_extended = rq.user_information.sop_class_extended.clone();
    let ac = AssociateAc {
        protocol_version: 1,
        called_ae_title_echo: *b"ANY-SCP         ",
        calling_ae_title_echo: *b"FINDSCU         ",
        application_context: DICOM_APPLICATION_CONTEXT,
        presentation_contexts: vec![
            PresentationContextAc {
                id: pc(1),
                result: PresentationContextResult::Acceptance,
                transfer_syntax: Some(uid("1.2.840.10008.1.2.1")),
                unknown_sub_items: vec![],
            },
            PresentationContextAc {
                id: pc(3),
                result: PresentationContextResult::AbstractSyntaxNotSupported,
                transfer_syntax: None,
                unknown_sub_items: vec![],
            },
            PresentationContextAc {
                id: pc(5),
                result: PresentationContextResult::TransferSyntaxesNotSupported,
                transfer_syntax: Some(uid("1.2.840.10008.1.2")),
                unknown_sub_items: vec![],
            },
        ],
        user_information: ui,
        unknown_items: vec![],
    };
    roundtrip(&Pdu::AssociateAc(Box::new(ac)));

    for (result, source) in [
        (
            RejectResult::Permanent,
            RejectSource::ServiceUser(ServiceUserReason::CalledAeTitleNotRecognized),
        ),
        (
            RejectResult::Transient,
            RejectSource::ServiceProviderPresentation(PresentationReason::LocalLimitExceeded),
        ),
        (
            RejectResult::Permanent,
            RejectSource::ServiceProviderAcse(AcseReason::ProtocolVersionNotSupported),
        ),
        (
            RejectResult::Permanent,
            RejectSource::ServiceUser(ServiceUserReason::Reserved(5)),
        ),
    ] {
        let wire = roundtrip(&Pdu::AssociateRj(AssociateRj { result, source }));
        assert_eq!(wire.len(), 10);
    }

    let data = [0u8; 100];
    let wire = roundtrip(&Pdu::PData(PData::new(vec![
        Pdv {
            context_id: pc(1),
            header: MessageControlHeader::COMMAND | MessageControlHeader::LAST,
            data: &data[..10],
        },
        Pdv {
            context_id: pc(1),
            header: MessageControlHeader::empty(),
            data: &data,
        },
        Pdv {
            context_id: pc(255),
            header: MessageControlHeader::LAST,
            data: &[],
        },
    ])));
    assert_eq!(wire.len(), 6 + (6 + 10) + (6 + 100) + 6);

    assert_eq!(roundtrip(&Pdu::ReleaseRq), [5, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    assert_eq!(roundtrip(&Pdu::ReleaseRp), [6, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    assert_eq!(
        roundtrip(&Pdu::Abort(Abort::USER)),
        [7, 0, 0, 0, 0, 4, 0, 0, 0, 0]
    );
    assert_eq!(
        roundtrip(&Pdu::Abort(Abort::provider(
            AbortReason::InvalidPduParameterValue
        ))),
        [7, 0, 0, 0, 0, 4, 0, 0, 2, 6]
    );
}

#[test]
fn every_user_identity_type_round_trips() {
    for identity in [
        UserIdentity::Username(b"alice".to_vec()),
        UserIdentity::UsernamePasscode {
            username: b"alice".to_vec(),
            passcode: b"s3cret".to_vec(),
        },
        UserIdentity::KerberosServiceTicket(vec![1, 2, 3]),
        UserIdentity::SamlAssertion(b"<saml/>".to_vec()),
        UserIdentity::Jwt(b"a.b.c".to_vec()),
    ] {
        for positive_response_requested in [false, true] {
            let mut rq = full_rq();
            rq.user_information.user_identity_request = Some(UserIdentityRequest {
                identity: identity.clone(),
                positive_response_requested,
            });
            roundtrip(&Pdu::AssociateRq(Box::new(rq)));
        }
    }
}

#[test]
fn a_user_abort_ignores_the_reason_byte() {
    let wire = [7, 0, 0, 0, 0, 4, 0, 0, 0, 5];
    let Decoded::Complete {
        pdu: Pdu::Abort(a), ..
    } = pdu::decode(&wire, &NO_LIMITS).unwrap()
    else {
        panic!()
    };
    assert_eq!(a.source, AbortSource::ServiceUser);
}

#[test]
fn encode_refuses_lengths_that_do_not_fit_and_appends_nothing() {
    let mut rq = full_rq();
    rq.user_information.user_identity_request = Some(UserIdentityRequest {
        identity: UserIdentity::Jwt(vec![b'x'; 70_000]),
        positive_response_requested: false,
    });
    let mut out = vec![0xAA];
    let err = Pdu::AssociateRq(Box::new(rq)).encode(&mut out).unwrap_err();
    assert!(
        matches!(err, pdu::EncodeError::ItemTooLong { len: 70_000, .. }),
        "{err:?}"
    );
    assert_eq!(out, [0xAA], "nothing appended on error");

    // The sub-item fits on its own (65535 - 6) but the user information item then does not.
    let mut rq = full_rq();
    rq.user_information.user_identity_request = Some(UserIdentityRequest {
        identity: UserIdentity::Jwt(vec![b'x'; 65_529]),
        positive_response_requested: false,
    });
    let err = Pdu::AssociateRq(Box::new(rq)).encode(&mut out).unwrap_err();
    assert!(
        matches!(err, pdu::EncodeError::ItemTooLong { .. }),
        "{err:?}"
    );
    assert_eq!(out, [0xAA]);
}

#[test]
fn encode_refuses_structures_the_decoder_would_refuse() {
    let mut rq = full_rq();
    rq.presentation_contexts.clear();
    assert!(
        Pdu::AssociateRq(Box::new(rq))
            .encode(&mut Vec::new())
            .is_err()
    );

    let mut rq = full_rq();
    rq.presentation_contexts[0].transfer_syntaxes.clear();
    assert!(
        Pdu::AssociateRq(Box::new(rq))
            .encode(&mut Vec::new())
            .is_err()
    );

    let mut rq = full_rq();
    rq.user_information.implementation_version_name = Some("x".repeat(17));
    assert!(
        Pdu::AssociateRq(Box::new(rq))
            .encode(&mut Vec::new())
            .is_err()
    );

    let mut rq = full_rq();
    rq.unknown_items.push(RawItem {
        item_type: ItemType::UserInformation.code(),
        value: vec![],
    });
    assert!(
        Pdu::AssociateRq(Box::new(rq))
            .encode(&mut Vec::new())
            .is_err()
    );

    assert!(
        Pdu::PData(PData::new(vec![]))
            .encode(&mut Vec::new())
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------
// proptest strategies

fn arb_uid() -> impl Strategy<Value = Uid> {
    proptest::collection::vec(0u32..100_000, 1..8).prop_map(|parts| {
        let text = parts
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        Uid::new(text[..text.len().min(64)].trim_end_matches('.')).unwrap()
    })
}

fn arb_ae() -> impl Strategy<Value = AeTitle> {
    "[A-Z0-9_ -]{0,14}[A-Z]".prop_map(|s| AeTitle::new(&s).unwrap())
}

fn arb_raw_items() -> impl Strategy<Value = Vec<RawItem>> {
    proptest::collection::vec(
        (
            any::<u8>().prop_filter("unknown item type", |t| ItemType::from_code(*t).is_none()),
            proptest::collection::vec(any::<u8>(), 0..8),
        )
            .prop_map(|(item_type, value)| RawItem { item_type, value }),
        0..2,
    )
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn arb_identity() -> impl Strategy<Value = UserIdentity> {
    prop_oneof![
        arb_bytes(20).prop_map(UserIdentity::Username),
        (arb_bytes(20), arb_bytes(20))
            .prop_map(|(username, passcode)| UserIdentity::UsernamePasscode { username, passcode }),
        arb_bytes(40).prop_map(UserIdentity::KerberosServiceTicket),
        arb_bytes(40).prop_map(UserIdentity::SamlAssertion),
        arb_bytes(40).prop_map(UserIdentity::Jwt),
    ]
}

fn arb_user_info(request: bool) -> impl Strategy<Value = UserInformation> {
    (
        any::<u32>(),
        arb_uid(),
        proptest::option::of((any::<u16>(), any::<u16>())),
        proptest::collection::vec((arb_uid(), any::<bool>(), any::<bool>()), 0..3),
        proptest::option::of("[ -~]{1,16}"),
        proptest::collection::vec((arb_uid(), arb_bytes(6)), 0..3),
        proptest::collection::vec(
            (
                any::<u8>(),
                arb_uid(),
                arb_uid(),
                proptest::collection::vec(arb_uid(), 0..3),
                arb_bytes(3),
            ),
            0..2,
        ),
        proptest::option::of((arb_identity(), any::<bool>())),
        proptest::option::of(arb_bytes(20)),
        arb_raw_items(),
    )
        .prop_map(
            move |(max, impl_uid, window, roles, version, ext, common, identity, response, raw)| {
                let mut ui = UserInformation::new(max, impl_uid);
                ui.async_operations_window = window.map(|(i, p)| AsyncOperationsWindow {
                    max_operations_invoked: i,
                    max_operations_performed: p,
                });
                ui.role_selections = roles
                    .into_iter()
                    .map(|(sop_class_uid, scu_role, scp_role)| RoleSelection {
                        sop_class_uid,
                        scu_role,
                        scp_role,
                    })
                    .collect();
                ui.implementation_version_name = version;
                ui.sop_class_extended = ext
                    .into_iter()
                    .map(
                        |(sop_class_uid, application_information)| SopClassExtendedNegotiation {
                            sop_class_uid,
                            application_information,
                        },
                    )
                    .collect();
                if request {
                    ui.sop_class_common_extended = common
                        .into_iter()
                        .map(|(version, sop, service, related, reserved)| {
                            SopClassCommonExtendedNegotiation {
                                version,
                                sop_class_uid: sop,
                                service_class_uid: service,
                                related_general_sop_classes: related,
                                reserved,
                            }
                        })
                        .collect();
                    ui.user_identity_request =
                        identity.map(|(identity, positive_response_requested)| {
                            UserIdentityRequest {
                                identity,
                                positive_response_requested,
                            }
                        });
                } else {
                    ui.user_identity_response =
                        response.map(|server_response| UserIdentityResponse { server_response });
                }
                ui.unknown = raw;
                ui
            },
        )
}

fn arb_context_id() -> impl Strategy<Value = PresentationContextId> {
    (0u8..128).prop_map(|n| PresentationContextId::new(n * 2 + 1).unwrap())
}

fn arb_rq() -> impl Strategy<Value = AssociateRq> {
    (
        any::<u16>(),
        arb_ae(),
        arb_ae(),
        arb_uid(),
        proptest::collection::vec(
            (
                arb_context_id(),
                arb_uid(),
                proptest::collection::vec(arb_uid(), 1..4),
                arb_raw_items(),
            ),
            1..5,
        ),
        arb_user_info(true),
        arb_raw_items(),
    )
        .prop_map(
            |(version, called, calling, ctx, pcs, ui, raw)| AssociateRq {
                protocol_version: version,
                called_ae_title: called,
                calling_ae_title: calling,
                application_context: ctx,
                presentation_contexts: pcs
                    .into_iter()
                    .map(
                        |(id, abstract_syntax, transfer_syntaxes, unknown_sub_items)| {
                            PresentationContextRq {
                                id,
                                abstract_syntax,
                                transfer_syntaxes,
                                unknown_sub_items,
                            }
                        },
                    )
                    .collect(),
                user_information: ui,
                unknown_items: raw,
            },
        )
}

fn arb_ac() -> impl Strategy<Value = AssociateAc> {
    (
        any::<u16>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        arb_uid(),
        proptest::collection::vec(
            (
                arb_context_id(),
                0u8..5,
                proptest::option::of(arb_uid()),
                arb_raw_items(),
            ),
            1..5,
        ),
        arb_user_info(false),
        arb_raw_items(),
    )
        .prop_map(
            |(version, called, calling, ctx, pcs, ui, raw)| AssociateAc {
                protocol_version: version,
                called_ae_title_echo: called,
                calling_ae_title_echo: calling,
                application_context: ctx,
                presentation_contexts: pcs
                    .into_iter()
                    .map(|(id, result, ts, unknown_sub_items)| {
                        let result = PresentationContextResult::from_code(result).unwrap();
                        let transfer_syntax = if result == PresentationContextResult::Acceptance {
                            Some(ts.unwrap_or_else(|| uid("1.2.840.10008.1.2")))
                        } else {
                            ts
                        };
                        PresentationContextAc {
                            id,
                            result,
                            transfer_syntax,
                            unknown_sub_items,
                        }
                    })
                    .collect(),
                user_information: ui,
                unknown_items: raw,
            },
        )
}

fn arb_small_pdu() -> impl Strategy<Value = Pdu<'static>> {
    prop_oneof![
        (1u8..3, 1u8..4, any::<u8>()).prop_map(|(r, s, reason)| {
            Pdu::AssociateRj(AssociateRj {
                result: RejectResult::from_code(r).unwrap(),
                source: RejectSource::from_codes(s, reason).unwrap(),
            })
        }),
        Just(Pdu::ReleaseRq),
        Just(Pdu::ReleaseRp),
        Just(Pdu::Abort(Abort::USER)),
        (0u8..3, any::<u8>()).prop_map(|(s, r)| Pdu::Abort(Abort::from_codes(s, r))),
    ]
}

/// PDV payloads are owned by the strategy value and borrowed when the PDU is built.
type OwnedPdvs = Vec<(PresentationContextId, u8, Vec<u8>)>;

fn arb_pdvs() -> impl Strategy<Value = OwnedPdvs> {
    proptest::collection::vec((arb_context_id(), 0u8..4, arb_bytes(300)), 1..4)
}

fn pdata(pdvs: &OwnedPdvs) -> Pdu<'_> {
    Pdu::PData(PData::new(
        pdvs.iter()
            .map(|(id, h, data)| Pdv {
                context_id: *id,
                header: MessageControlHeader::from_bits_truncate(*h),
                data,
            })
            .collect(),
    ))
}

/// Any split of a byte stream, fed through a growing buffer, decodes to the same PDUs.
fn decode_stream(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut decoded = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(stream.len());
    points.sort_unstable();
    for end in points {
        buffer.extend_from_slice(&stream[start..end.max(start)]);
        start = end.max(start);
        loop {
            match pdu::decode(&buffer, &NO_LIMITS).expect("valid stream") {
                Decoded::Complete { pdu, consumed } => {
                    let mut re = Vec::new();
                    pdu.encode(&mut re).unwrap();
                    decoded.push(re);
                    buffer.drain(..consumed);
                }
                Decoded::Incomplete { needed } => {
                    assert!(needed > 0);
                    break;
                }
            }
        }
    }
    assert!(buffer.is_empty(), "bytes left over");
    decoded
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn associate_rq_round_trips(rq in arb_rq()) {
        roundtrip(&Pdu::AssociateRq(Box::new(rq)));
    }

    #[test]
    fn associate_ac_round_trips(ac in arb_ac()) {
        roundtrip(&Pdu::AssociateAc(Box::new(ac)));
    }

    #[test]
    fn fixed_size_pdus_round_trip(pdu in arb_small_pdu()) {
        prop_assert_eq!(roundtrip(&pdu).len(), 10);
    }

    #[test]
    fn p_data_round_trips(pdvs in arb_pdvs()) {
        roundtrip(&pdata(&pdvs));
    }

    #[test]
    fn split_invariance(
        rq in arb_rq(),
        ac in arb_ac(),
        small in arb_small_pdu(),
        pdvs in arb_pdvs(),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let pdus = [
            Pdu::AssociateRq(Box::new(rq)),
            Pdu::AssociateAc(Box::new(ac)),
            pdata(&pdvs),
            small,
        ];
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for p in &pdus {
            let mut one = Vec::new();
            p.encode(&mut one).unwrap();
            stream.extend_from_slice(&one);
            expected.push(one);
        }
        prop_assert_eq!(decode_stream(&stream, &cuts), expected.clone());
        // Byte by byte.
        let every: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(decode_stream(&stream, &every), expected);
    }

    #[test]
    fn every_prefix_is_incomplete_with_the_exact_need(rq in arb_rq()) {
        let mut wire = Vec::new();
        Pdu::AssociateRq(Box::new(rq)).encode(&mut wire).unwrap();
        for len in 0..wire.len() {
            match pdu::decode(&wire[..len], &NO_LIMITS).unwrap() {
                Decoded::Incomplete { needed } if len < 6 => prop_assert_eq!(needed, 6 - len),
                Decoded::Incomplete { needed } => prop_assert_eq!(needed, wire.len() - len),
                Decoded::Complete { .. } => prop_assert!(false, "complete at {}", len),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(Decoded::Complete { pdu, consumed }) = pdu::decode(&bytes, &DecodeLimits::default()) {
            prop_assert!(consumed <= bytes.len());
            let mut re = Vec::new();
            pdu.encode(&mut re).unwrap();
            let Decoded::Complete { pdu: again, .. } = pdu::decode(&re, &NO_LIMITS).unwrap() else {
                panic!("re-encoded PDU is incomplete");
            };
            prop_assert_eq!(again, pdu);
        }
    }
}
