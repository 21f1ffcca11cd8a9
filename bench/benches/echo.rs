//! Criterion benchmark of one association with one C-ECHO, end to end: open, C-ECHO,
//! release. Through the core pair in memory (no sockets, one thread), and over loopback
//! TCP from the blocking client against the std server (a thread per association) and
//! the mio server (one event loop).
//!
//! `cargo bench -p dicomwire-bench --bench echo`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use dicomwire::pdu::AeTitle;
use dicomwire::service::scu::{ScuService, association_request};
use dicomwire::service::{Handlers, uids};
use dicomwire::session::{ClientEvent, LinkId, Operation, ScpConfig, ScpSession, ScuSession};
use dicomwire::ul::{
    AcceptorPolicy, AssociationConfig, AssociationRequest, SendQueue, SupportedSyntax,
};
use dicomwire_mio::MioServer;
use dicomwire_std::{Client, Server};

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

/// One association and one C-ECHO between an SCU session and an SCP session, bytes
/// handed over in memory.
fn echo_in_memory(config: &Arc<ScpConfig>, request: &AssociationRequest) {
    let now = Instant::now();
    let mut scu =
        ScuSession::new(now, AssociationConfig::default(), request.clone()).expect("requestor");
    scu.handle_transport_connected(now);
    scu.submit(Operation::Echo).expect("echo");
    scu.release(now);
    let mut scp = ScpSession::new(now, Arc::clone(config), 0).expect("acceptor");
    let (mut queue, mut wire) = (SendQueue::new(), Vec::with_capacity(4096));
    while !scu.is_finished() {
        while scu.poll_transmit(now, &mut queue).is_some() {}
        wire.clear();
        queue.drain_into(&mut wire);
        if !wire.is_empty() {
            scp.handle_input(now, LinkId::MAIN, &Bytes::copy_from_slice(&wire))
                .expect("acceptor input");
        }
        while scp.poll_transmit(now, LinkId::MAIN, &mut queue).is_some() {}
        while scp.poll_event().is_some() {}
        wire.clear();
        queue.drain_into(&mut wire);
        if !wire.is_empty() {
            scu.handle_input(now, &Bytes::copy_from_slice(&wire))
                .expect("requestor input");
        }
        if scp.poll_close().is_some() {
            scu.handle_transport_closed(now);
        }
        while let Some(event) = scu.poll_event() {
            if let ClientEvent::Closed(outcome) = event {
                outcome.expect("released");
            }
        }
    }
}

fn echo_over_tcp(addr: std::net::SocketAddr, request: &AssociationRequest) {
    let mut client =
        Client::connect(addr, request.clone(), AssociationConfig::default()).expect("associate");
    let status = client.echo().expect("echo");
    assert!(status.is_success());
    client.release().expect("release");
}

fn association_with_echo(c: &mut Criterion) {
    let config = Arc::new(ScpConfig::new(policy(), Arc::new(Handlers::default())));
    let request = request();
    let mut group = c.benchmark_group("association_with_one_echo");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("in_memory_core_pair", |b| {
        b.iter(|| echo_in_memory(&config, black_box(&request)));
    });

    let std_server = Server::bind("127.0.0.1:0", Arc::clone(&config)).expect("bind std");
    let std_addr = std_server.local_addr();
    let std_stop = std_server.shutdown_handle();
    let std_thread = std::thread::spawn(move || std_server.run());
    group.bench_function("loopback_std_server", |b| {
        b.iter(|| echo_over_tcp(std_addr, &request));
    });
    std_stop.shutdown();
    let _ = std_thread.join();

    let mio_server = MioServer::bind("127.0.0.1:0", Arc::clone(&config)).expect("bind mio");
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
