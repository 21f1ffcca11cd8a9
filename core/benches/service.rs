//! Criterion benchmarks of the receive side and of matching: P-DATA-TF in, DIMSE message
//! out, through an established acceptor (reassembly of a 512 KiB C-STORE data set sent
//! as 16 KiB and 128 KiB PDUs), and a Modality Worklist identifier matched against
//! 10,000 records (the work of a worklist C-FIND with 10,000 candidates).
//!
//! `cargo bench -p dicomwire --bench service`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use dicomwire::dimse::{CStoreRq, CStoreRsp, Message, Priority, Status, StatusDetail};
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::service::{MatchOptions, match_identifier};
use dicomwire::ul::{
    AcceptOptions, AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event,
    ProposedContext, RolePolicy, SupportedSyntax,
};

const CT_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const KIB: usize = 1024;

/// An established pair whose acceptor takes CT Storage from the requestor.
fn established(max_pdu: u32) -> (Association, Association, Instant) {
    let now = Instant::now();
    let config = AssociationConfig {
        max_pdu_length: max_pdu,
        max_send_pdu_length: max_pdu,
        ..AssociationConfig::default()
    };
    let ct = Uid::new(CT_STORAGE).expect("uid");
    let ts = Uid::new(EXPLICIT_LE).expect("uid");
    let request = AssociationRequest::new(
        AeTitle::new("BENCH").expect("ae"),
        AeTitle::new("SCP").expect("ae"),
    )
    .with_context(ProposedContext::new(ct.clone(), vec![ts.clone()]));
    let policy = Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(ct, vec![ts]).with_roles(RolePolicy::default()),
        ],
        ..AcceptorPolicy::default()
    });
    let mut scu = Association::requestor(now, config.clone(), request).expect("requestor");
    scu.handle_transport_connected(now).expect("connected");
    let mut scp = Association::acceptor(now, config, policy);
    let mut wire = Vec::new();
    for _ in 0..3 {
        while scu.poll_transmit(now, &mut wire).is_some() {}
        scp.handle_input(now, &wire).expect("input");
        wire.clear();
        while let Some(e) = scp.poll_event() {
            if let Event::AssociationRequested(incoming) = e {
                scp.accept(now, incoming, AcceptOptions::default())
                    .expect("accept");
            }
        }
        while scp.poll_transmit(now, &mut wire).is_some() {}
        scu.handle_input(now, &wire).expect("input");
        wire.clear();
        while scu.poll_event().is_some() {}
    }
    assert!(scu.negotiated().is_some() && scp.negotiated().is_some());
    (scu, scp, now)
}

/// Reassembly: the wire bytes of one C-STORE-RQ with a 512 KiB data set, fed to the
/// acceptor until the message comes out; the acceptor answers so its window frees up.
fn reassembly(c: &mut Criterion) {
    const SIZE: usize = 512 * KIB;
    let data = Bytes::from(vec![0x5Au8; SIZE]);
    let mut group = c.benchmark_group("reassemble_c_store_512KiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    for max_pdu in [16 * 1024u32, 128 * 1024] {
        let (mut scu, mut scp, now) = established(max_pdu);
        let ctx = scu
            .negotiated()
            .and_then(|n| n.accepted().next())
            .expect("context")
            .id;
        let rq = Message::CStoreRq(CStoreRq {
            message_id: 1,
            affected_sop_class_uid: CT_STORAGE.into(),
            affected_sop_instance_uid: "1.2.3.4".into(),
            priority: Priority::Medium,
            move_originator_ae_title: None,
            move_originator_message_id: None,
        });
        scu.send_request(now, ctx, rq, Some(data.clone()))
            .expect("send");
        let mut wire = Vec::new();
        while scu.poll_transmit(now, &mut wire).is_some() {}
        let mut sink = Vec::new();
        group.bench_with_input(BenchmarkId::from_parameter(max_pdu), &wire, |b, wire| {
            b.iter(|| {
                let mut rest = &wire[..];
                let mut got = 0;
                while !rest.is_empty() || got == 0 {
                    let taken = scp.handle_input(now, rest).expect("input");
                    rest = &rest[taken..];
                    while let Some(event) = scp.poll_event() {
                        if let Event::Message(incoming) = event {
                            got += incoming.data.as_ref().map_or(0, |d| d.bytes.len());
                            let Message::CStoreRq(rq) = &incoming.message else {
                                panic!("not a C-STORE-RQ");
                            };
                            let rsp = Message::CStoreRsp(CStoreRsp {
                                message_id_being_responded_to: rq.message_id,
                                affected_sop_class_uid: Some(CT_STORAGE.into()),
                                affected_sop_instance_uid: Some("1.2.3.4".into()),
                                status: Status::SUCCESS,
                                detail: StatusDetail::default(),
                            });
                            scp.send_response(now, incoming.context_id, rsp, None)
                                .expect("respond");
                        }
                    }
                    sink.clear();
                    while scp.poll_transmit(now, &mut sink).is_some() {}
                }
                assert_eq!(got, SIZE, "the whole data set came out");
                black_box(got)
            });
        });
    }
    group.finish();
}

fn text(tag: Tag, vr: VR, value: &str) -> InMemElement {
    if value.is_empty() {
        DataElement::new(tag, vr, PrimitiveValue::Empty)
    } else {
        DataElement::new(tag, vr, PrimitiveValue::from(value))
    }
}

fn record(n: usize) -> InMemDicomObject {
    let modality = ["CT", "MR", "US", "CR", "MG", "NM"][n % 6];
    let step = InMemDicomObject::from_element_iter([
        text(Tag(0x0008, 0x0060), VR::CS, modality),
        text(Tag(0x0040, 0x0001), VR::AE, &format!("STATION{}", n % 9)),
        text(
            Tag(0x0040, 0x0002),
            VR::DA,
            &format!("202601{:02}", 1 + n % 28),
        ),
        text(
            Tag(0x0040, 0x0003),
            VR::TM,
            &format!("{:02}{:02}00", 7 + n % 10, n % 60),
        ),
        text(Tag(0x0040, 0x0006), VR::PN, "Schneider^Katrin^^Dr."),
        text(Tag(0x0040, 0x0007), VR::LO, "CT Chest with IV contrast"),
        text(Tag(0x0040, 0x0009), VR::SH, &format!("SPS{n:07}")),
    ]);
    InMemDicomObject::from_element_iter([
        text(Tag(0x0008, 0x0005), VR::CS, "ISO_IR 192"),
        text(Tag(0x0008, 0x0050), VR::SH, &format!("BN{n:08}")),
        text(Tag(0x0008, 0x0090), VR::PN, "Weber^Thomas^^Dr."),
        text(Tag(0x0010, 0x0010), VR::PN, &format!("Doe^Patient{n}")),
        text(Tag(0x0010, 0x0020), VR::LO, &format!("PID{n:06}")),
        text(Tag(0x0010, 0x0030), VR::DA, "19700101"),
        text(
            Tag(0x0010, 0x0040),
            VR::CS,
            if n % 2 == 0 { "F" } else { "M" },
        ),
        text(
            Tag(0x0020, 0x000D),
            VR::UI,
            &format!("1.2.826.0.1.3680043.10.1408.{n}"),
        ),
        text(Tag(0x0032, 0x1060), VR::LO, "CT Chest with contrast"),
        text(Tag(0x0040, 0x1001), VR::SH, &format!("RP{n:06}")),
        DataElement::new(
            Tag(0x0040, 0x0100),
            VR::SQ,
            DataSetSequence::from(vec![step]),
        ),
    ])
}

/// Matching: a worklist query against 10,000 records, universal (every record matches,
/// six return keys) and selective (modality and a date range: one record in six).
fn matching(c: &mut Criterion) {
    let records: Vec<InMemDicomObject> = (0..10_000).map(record).collect();
    let query = |modality: &str, dates: &str| {
        InMemDicomObject::from_element_iter([
            text(Tag(0x0010, 0x0010), VR::PN, ""),
            text(Tag(0x0010, 0x0020), VR::LO, ""),
            text(Tag(0x0008, 0x0050), VR::SH, ""),
            DataElement::new(
                Tag(0x0040, 0x0100),
                VR::SQ,
                DataSetSequence::from(vec![InMemDicomObject::from_element_iter([
                    text(Tag(0x0008, 0x0060), VR::CS, modality),
                    text(Tag(0x0040, 0x0002), VR::DA, dates),
                    text(Tag(0x0040, 0x0001), VR::AE, ""),
                ])]),
            ),
        ])
    };
    let options = MatchOptions::worklist();
    let mut group = c.benchmark_group("worklist_match_10000");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.measurement_time(Duration::from_secs(5));
    for (name, q) in [
        ("universal", query("", "")),
        ("modality_and_dates", query("CT", "20260101-20260131")),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                records
                    .iter()
                    .filter_map(|r| match_identifier(black_box(&q), r, &options))
                    .count()
            });
        });
    }
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, less the undocumented `pub fn`
// the first one generates, which `missing_docs` refuses.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    reassembly(&mut criterion);
    matching(&mut criterion);
    criterion.final_summary();
}
