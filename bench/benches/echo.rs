//! Criterion benchmark of one association with one C-ECHO, end to end: open, C-ECHO,
//! release. Through the core pair in memory (no sockets, one thread), and over loopback
//! TCP from the blocking client against the std server (a thread per association) and
//! the mio server (one event loop).
//!
//! `cargo bench -p dicomwire-bench --bench echo`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use dicomwire::dimse::{CEchoRq, Message};
use dicomwire::pdu::AeTitle;
use dicomwire::service::scu::{ScuService, association_request};
use dicomwire::service::{Admission, Handlers, Scp, uids};
use dicomwire::ul::{
    AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event, SupportedSyntax,
};
use dicomwire_mio::{MioServer, MioServerOptions};
use dicomwire_std::{Client, ClientOptions, Server, ServerOptions};

fn policy() -> Arc<AcceptorPolicy> {
    Arc::new(AcceptorPolicy {
        abstract_syntaxes: vec![SupportedSyntax::new(
            uids::VERIFICATION,
            uids::uncompressed_transfer_syntaxes(),
        )],
        ..AcceptorPolicy::default()
    })
}

fn request() -> AssociationRequest {
    association_request(
        AeTitle::new("BENCH").expect("ae"),
        AeTitle::new("ANY-SCP").expect("ae"),
        &[ScuService::Verification],
    )
}

/// One association and one C-ECHO between a requestor core and an acceptor core served
/// by the service layer's SCP, bytes handed over in memory.
fn echo_in_memory(
    policy: &Arc<AcceptorPolicy>,
    handlers: &Arc<Handlers>,
    request: &AssociationRequest,
) {
    let now = Instant::now();
    let config = AssociationConfig::default();
    let mut scu = Association::requestor(now, config.clone(), request.clone()).expect("requestor");
    scu.handle_transport_connected(now).expect("connected");
    let mut acceptor = Association::acceptor(now, config, Arc::clone(policy));
    let mut scp = Scp::new(Arc::clone(handlers));
    let mut wire = Vec::with_capacity(4096);
    let mut released = false;
    while !released {
        wire.clear();
        while scu.poll_transmit(now, &mut wire).is_some() {}
        if !wire.is_empty() {
            acceptor.handle_input(now, &wire).expect("acceptor input");
        }
        while let Some(event) = acceptor.poll_event() {
            scp.serve_event(&mut acceptor, now, event, Admission::Open);
        }
        scp.poll(&mut acceptor, now);
        wire.clear();
        while acceptor.poll_transmit(now, &mut wire).is_some() {}
        if !wire.is_empty() {
            scu.handle_input(now, &wire).expect("requestor input");
        }
        while let Some(event) = scu.poll_event() {
            match event {
                Event::Established(negotiated) => {
                    let ctx = negotiated.accepted().next().expect("accepted").id;
                    let rq = Message::CEchoRq(CEchoRq {
                        message_id: 1,
                        affected_sop_class_uid: uids::VERIFICATION.as_str().to_owned(),
                    });
                    scu.send_request(now, ctx, rq, None).expect("C-ECHO-RQ");
                }
                Event::Message(_) => scu.release(now).expect("release"),
                Event::Released => released = true,
                Event::Aborted(a) => panic!("aborted: {a}"),
                _ => {}
            }
        }
    }
}

fn echo_over_tcp(addr: std::net::SocketAddr, request: &AssociationRequest) {
    let mut client =
        Client::connect(addr, request.clone(), ClientOptions::default()).expect("associate");
    let status = client.echo().expect("echo");
    assert!(status.is_success());
    client.release().expect("release");
}

fn association_with_echo(c: &mut Criterion) {
    let policy = policy();
    let handlers = Arc::new(Handlers::default());
    let request = request();
    let mut group = c.benchmark_group("association_with_one_echo");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("in_memory_core_pair", |b| {
        b.iter(|| echo_in_memory(&policy, &handlers, black_box(&request)));
    });

    let std_server = Server::bind(
        "127.0.0.1:0",
        ServerOptions::new(Arc::clone(&policy), Arc::clone(&handlers)),
    )
    .expect("bind std");
    let std_addr = std_server.local_addr();
    let std_stop = std_server.shutdown_handle();
    let std_thread = std::thread::spawn(move || std_server.run());
    group.bench_function("loopback_std_server", |b| {
        b.iter(|| echo_over_tcp(std_addr, &request));
    });
    std_stop.shutdown();
    let _ = std_thread.join();

    let mio_server = MioServer::bind(
        "127.0.0.1:0",
        MioServerOptions::new(Arc::clone(&policy), Arc::clone(&handlers)),
    )
    .expect("bind mio");
    let mio_addr = mio_server.local_addr();
    let mio_stop = mio_server.shutdown_handle();
    let mio_thread = std::thread::spawn(move || mio_server.run());
    group.bench_function("loopback_mio_server", |b| {
        b.iter(|| echo_over_tcp(mio_addr, &request));
    });
    mio_stop.shutdown();
    let _ = mio_thread.join();
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, less the undocumented `pub fn`
// the first one generates, which `missing_docs` refuses.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    association_with_echo(&mut criterion);
    criterion.final_summary();
}
