//! Criterion benchmarks of the PDU codec: P-DATA-TF decoding at the sizes real peers send
//! (16 KiB, DCMTK's default maximum) and at 1 MiB, and a large A-ASSOCIATE-RQ decoded and
//! encoded.
//!
//! `cargo bench -p dicomwire --bench pdu` (append `-- --warm-up-time 1 --measurement-time 3`
//! for a quick run).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use dicomwire::pdu::{
    self, AeTitle, AssociateRq, AsyncOperationsWindow, DICOM_APPLICATION_CONTEXT, DecodeLimits,
    Decoded, MessageControlHeader, PDU_HEADER_LEN, PDV_HEADER_LEN, PData, PROTOCOL_VERSION, Pdu,
    Pdv, PresentationContextId, PresentationContextRq, RoleSelection,
    SopClassCommonExtendedNegotiation, SopClassExtendedNegotiation, Uid, UserIdentity,
    UserIdentityRequest, UserInformation,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn limits() -> DecodeLimits {
    DecodeLimits {
        max_pdu_length: u32::try_from(2 * MIB).expect("2 MiB fits"),
        ..DecodeLimits::default()
    }
}

fn context(id: u8) -> PresentationContextId {
    PresentationContextId::new(id).expect("odd context id")
}

fn uid(text: &str) -> Uid {
    Uid::new(text).expect("valid UID")
}

/// A P-DATA-TF of exactly `total` bytes on the wire, its data split into PDVs of at most
/// `pdv_len` bytes of fragment: a data set in flight, as a C-STORE sends it.
fn p_data(total: usize, pdv_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..total)
        .map(|i| u8::try_from(i * 31 % 251).expect("below 251"))
        .collect();
    let mut left = total - PDU_HEADER_LEN;
    let mut fragments = Vec::new();
    let mut offset = 0;
    while left > 0 {
        let take = (left - PDV_HEADER_LEN).min(pdv_len);
        fragments.push(&payload[offset..offset + take]);
        offset += take;
        left -= take + PDV_HEADER_LEN;
    }
    let last = fragments.len() - 1;
    let pdvs = fragments
        .into_iter()
        .enumerate()
        .map(|(i, data)| Pdv {
            context_id: context(3),
            header: if i == last {
                MessageControlHeader::LAST
            } else {
                MessageControlHeader::empty()
            },
            data,
        })
        .collect();
    let mut wire = Vec::with_capacity(total);
    Pdu::PData(PData::new(pdvs))
        .encode(&mut wire)
        .expect("P-DATA-TF encodes");
    assert_eq!(wire.len(), total);
    wire
}

/// An A-ASSOCIATE-RQ like a workstation's that offers many storage and query classes:
/// 20 presentation contexts with 1–3 transfer syntaxes each and every user information
/// sub-item a request can carry.
fn associate_rq_20() -> AssociateRq {
    const SOP_CLASSES: [&str; 20] = [
        "1.2.840.10008.1.1",             // Verification
        "1.2.840.10008.5.1.4.1.1.2",     // CT Image Storage
        "1.2.840.10008.5.1.4.1.1.2.1",   // Enhanced CT Image Storage
        "1.2.840.10008.5.1.4.1.1.4",     // MR Image Storage
        "1.2.840.10008.5.1.4.1.1.4.1",   // Enhanced MR Image Storage
        "1.2.840.10008.5.1.4.1.1.1",     // Computed Radiography Image Storage
        "1.2.840.10008.5.1.4.1.1.1.1",   // Digital X-Ray Image Storage - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2",   // Digital Mammography X-Ray Image Storage
        "1.2.840.10008.5.1.4.1.1.6.1",   // Ultrasound Image Storage
        "1.2.840.10008.5.1.4.1.1.7",     // Secondary Capture Image Storage
        "1.2.840.10008.5.1.4.1.1.128",   // PET Image Storage
        "1.2.840.10008.5.1.4.1.1.481.1", // RT Image Storage
        "1.2.840.10008.5.1.4.1.1.88.22", // Enhanced SR Storage
        "1.2.840.10008.5.1.4.1.1.104.1", // Encapsulated PDF Storage
        "1.2.840.10008.5.1.4.1.1.11.1",  // Grayscale Softcopy Presentation State
        "1.2.840.10008.5.1.4.31",        // Modality Worklist Information Model - FIND
        "1.2.840.10008.5.1.4.1.2.2.1",   // Study Root Q/R - FIND
        "1.2.840.10008.5.1.4.1.2.2.2",   // Study Root Q/R - MOVE
        "1.2.840.10008.5.1.4.1.2.2.3",   // Study Root Q/R - GET
        "1.2.840.10008.5.1.4.38.1",      // Hanging Protocol Storage
    ];
    const TRANSFER_SYNTAXES: [&str; 6] = [
        "1.2.840.10008.1.2.1",    // Explicit VR Little Endian
        "1.2.840.10008.1.2",      // Implicit VR Little Endian
        "1.2.840.10008.1.2.4.70", // JPEG Lossless, first-order prediction
        "1.2.840.10008.1.2.4.90", // JPEG 2000 lossless only
        "1.2.840.10008.1.2.5",    // RLE Lossless
        "1.2.840.10008.1.2.2",    // Explicit VR Big Endian (retired)
    ];
    let presentation_contexts = SOP_CLASSES
        .iter()
        .enumerate()
        .map(|(i, sop)| PresentationContextRq {
            id: context(u8::try_from(2 * i + 1).expect("fewer than 128 contexts")),
            abstract_syntax: uid(sop),
            transfer_syntaxes: (0..=i % 3)
                .map(|k| uid(TRANSFER_SYNTAXES[(i + k) % TRANSFER_SYNTAXES.len()]))
                .collect(),
            unknown_sub_items: Vec::new(),
        })
        .collect();

    let mut user_information = UserInformation::new(16_384, uid("1.2.826.0.1.3680043.10.1408.1"));
    user_information.implementation_version_name = Some("DICOMWIRE_010".to_owned());
    user_information.async_operations_window = Some(AsyncOperationsWindow {
        max_operations_invoked: 4,
        max_operations_performed: 1,
    });
    user_information.role_selections = [
        "1.2.840.10008.5.1.4.1.1.2",
        "1.2.840.10008.5.1.4.1.1.4",
        "1.2.840.10008.5.1.4.38.1",
    ]
    .iter()
    .map(|sop| RoleSelection {
        sop_class_uid: uid(sop),
        scu_role: false,
        scp_role: true,
    })
    .collect();
    user_information.sop_class_extended = vec![SopClassExtendedNegotiation {
        sop_class_uid: uid("1.2.840.10008.5.1.4.1.2.2.1"),
        // Relational queries, combined date-time matching, fuzzy semantic matching.
        application_information: vec![1, 1, 0],
    }];
    user_information.sop_class_common_extended = vec![SopClassCommonExtendedNegotiation {
        version: 0,
        sop_class_uid: uid("1.2.840.10008.5.1.4.1.1.2.1"),
        service_class_uid: uid("1.2.840.10008.4.2"),
        related_general_sop_classes: vec![uid("1.2.840.10008.5.1.4.1.1.2")],
        reserved: Vec::new(),
    }];
    user_information.user_identity_request = Some(UserIdentityRequest {
        identity: UserIdentity::UsernamePasscode {
            username: b"radiographer".to_vec(),
            passcode: b"correct horse battery staple".to_vec(),
        },
        positive_response_requested: true,
    });

    AssociateRq {
        protocol_version: PROTOCOL_VERSION,
        called_ae_title: AeTitle::new("ARCHIVE_SCP").expect("AE title"),
        calling_ae_title: AeTitle::new("CT_WORKSTATION_7").expect("AE title"),
        application_context: DICOM_APPLICATION_CONTEXT,
        presentation_contexts,
        user_information,
        unknown_items: Vec::new(),
    }
}

fn decode_complete(wire: &[u8], limits: &DecodeLimits) -> usize {
    match pdu::decode(black_box(wire), limits) {
        Ok(Decoded::Complete { pdu, consumed }) => {
            black_box(pdu);
            consumed
        }
        other => panic!("benchmark input does not decode: {other:?}"),
    }
}

fn p_data_decode(c: &mut Criterion) {
    let limits = limits();
    let mut group = c.benchmark_group("p_data_decode");
    // One PDV per PDU is what DCMTK and pynetdicom send; 64 PDVs show the per-PDV cost.
    for (name, total, pdv_len) in [
        ("16KiB", 16 * KIB, usize::MAX),
        ("1MiB", MIB, usize::MAX),
        ("1MiB_64_pdvs", MIB, 16 * KIB),
    ] {
        let wire = p_data(total, pdv_len);
        group.throughput(Throughput::Bytes(u64::try_from(wire.len()).expect("fits")));
        group.bench_with_input(BenchmarkId::from_parameter(name), &wire, |b, wire| {
            b.iter(|| decode_complete(wire, &limits));
        });
    }
    group.finish();
}

fn associate_rq(c: &mut Criterion) {
    let rq = associate_rq_20();
    let pdu = Pdu::AssociateRq(Box::new(rq));
    let mut wire = Vec::new();
    pdu.encode(&mut wire).expect("A-ASSOCIATE-RQ encodes");
    let limits = DecodeLimits::default();
    assert_eq!(decode_complete(&wire, &limits), wire.len());

    let mut group = c.benchmark_group("associate_rq_20_contexts");
    group.bench_function("decode", |b| b.iter(|| decode_complete(&wire, &limits)));
    let mut out = Vec::with_capacity(wire.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&pdu)
                .encode(&mut out)
                .expect("A-ASSOCIATE-RQ encodes")
        });
    });
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, less the undocumented `pub fn`
// the first one generates, which `missing_docs` refuses.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    p_data_decode(&mut criterion);
    associate_rq(&mut criterion);
    criterion.final_summary();
}
