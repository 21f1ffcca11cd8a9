//! Criterion benchmarks of the DIMSE layer: command set encode and decode, and the
//! fragmentation of a 64 MiB data set into P-DATA-TF PDUs of 16 KiB and 1 MiB.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use dicomwire::dimse::{CFindRq, CStoreRq, CommandSet, Message, Priority};
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::ul::{
    AcceptOptions, AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event,
    ProposedContext, RolePolicy, SupportedSyntax,
};

const CT_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

fn c_find_rq() -> Message {
    Message::CFindRq(CFindRq {
        message_id: 7,
        affected_sop_class_uid: "1.2.840.10008.5.1.4.31".into(),
        priority: Priority::Medium,
    })
}

fn command_sets(c: &mut Criterion) {
    let message = c_find_rq();
    let mut encoded = Vec::new();
    message.to_command(true).encode(&mut encoded).unwrap();
    let mut group = c.benchmark_group("command_set");
    group.bench_function("encode C-FIND-RQ", |b| {
        let mut out = Vec::with_capacity(128);
        b.iter(|| {
            out.clear();
            black_box(&message)
                .to_command(true)
                .encode(&mut out)
                .unwrap();
            black_box(out.len())
        });
    });
    group.bench_function("decode C-FIND-RQ", |b| {
        b.iter(|| {
            let set = CommandSet::decode(black_box(&encoded)).unwrap();
            black_box(Message::from_command(&set).unwrap())
        });
    });
    group.finish();
}

/// An established pair whose acceptor takes CT Storage from the requestor.
fn established(max_pdu: u32) -> (Association, Association, Instant) {
    let now = Instant::now();
    let config = AssociationConfig {
        max_pdu_length: max_pdu,
        max_send_pdu_length: max_pdu,
        ..AssociationConfig::default()
    };
    let ct = Uid::new(CT_STORAGE).unwrap();
    let ts = Uid::new(EXPLICIT_LE).unwrap();
    let request =
        AssociationRequest::new(AeTitle::new("BENCH").unwrap(), AeTitle::new("SCP").unwrap())
            .with_context(ProposedContext::new(ct.clone(), vec![ts.clone()]));
    let policy = Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(ct, vec![ts]).with_roles(RolePolicy::default()),
        ],
        ..AcceptorPolicy::default()
    });
    let mut scu = Association::requestor(now, config.clone(), request).unwrap();
    scu.handle_transport_connected(now).unwrap();
    let mut scp = Association::acceptor(now, config, policy);
    let mut wire = Vec::new();
    for _ in 0..3 {
        while scu.poll_transmit(now, &mut wire).is_some() {}
        scp.handle_input(now, &wire).unwrap();
        wire.clear();
        while let Some(e) = scp.poll_event() {
            if let Event::AssociationRequested(incoming) = e {
                scp.accept(now, incoming, AcceptOptions::default()).unwrap();
            }
        }
        while scp.poll_transmit(now, &mut wire).is_some() {}
        scu.handle_input(now, &wire).unwrap();
        wire.clear();
        while scu.poll_event().is_some() {}
    }
    assert!(scu.negotiated().is_some());
    (scu, scp, now)
}

fn fragmentation(c: &mut Criterion) {
    const SIZE: usize = 64 * 1024 * 1024;
    let data = Bytes::from(vec![0x5Au8; SIZE]);
    let mut group = c.benchmark_group("fragment_64MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for max_pdu in [16 * 1024u32, 1024 * 1024] {
        group.bench_with_input(
            BenchmarkId::from_parameter(max_pdu),
            &max_pdu,
            |b, &max_pdu| {
                let (mut scu, _scp, now) = established(max_pdu);
                let ctx = scu.negotiated().unwrap().accepted().next().unwrap().id;
                let mut out = Vec::with_capacity(max_pdu as usize + 64);
                b.iter(|| {
                    let rq = Message::CStoreRq(CStoreRq {
                        message_id: 0,
                        affected_sop_class_uid: CT_STORAGE.into(),
                        affected_sop_instance_uid: "1.2.3.4".into(),
                        priority: Priority::Medium,
                        move_originator_ae_title: None,
                        move_originator_message_id: None,
                    });
                    let id = scu.send_request(now, ctx, rq, Some(data.clone())).unwrap();
                    let mut total = 0;
                    while scu.poll_transmit(now, &mut out).is_some() {
                        total += out.len();
                        out.clear();
                    }
                    // Pretend the peer answered, so the window frees up.
                    scu_complete(&mut scu, id);
                    black_box(total)
                });
            },
        );
    }
    group.finish();
}

/// Completes the outstanding C-STORE by feeding its response.
fn scu_complete(scu: &mut Association, id: u16) {
    use dicomwire::dimse::{CStoreRsp, Status, StatusDetail};
    use dicomwire::pdu::{MessageControlHeader, PData, Pdu, Pdv};
    let rsp = Message::CStoreRsp(CStoreRsp {
        message_id_being_responded_to: id,
        affected_sop_class_uid: Some(CT_STORAGE.into()),
        affected_sop_instance_uid: Some("1.2.3.4".into()),
        status: Status::SUCCESS,
        detail: StatusDetail::default(),
    });
    let mut command = Vec::new();
    rsp.to_command(false).encode(&mut command).unwrap();
    let ctx = scu.negotiated().unwrap().accepted().next().unwrap().id;
    let mut wire = Vec::new();
    Pdu::PData(PData::new(vec![Pdv {
        context_id: ctx,
        header: MessageControlHeader::COMMAND | MessageControlHeader::LAST,
        data: &command,
    }]))
    .encode(&mut wire)
    .unwrap();
    scu.handle_input(Instant::now(), &wire).unwrap();
    while scu.poll_event().is_some() {}
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    command_sets(&mut c);
    fragmentation(&mut c);
    c.final_summary();
}
