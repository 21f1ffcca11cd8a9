//! The tokio server and client over loopback: every service, C-MOVE through a
//! sub-association to a second tokio server, timers on a paused clock, shutdown, and the
//! failures a client reports. Every test is bounded in time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dicomwire::dimse::Status;
use dicomwire::pdu::{PresentationReason, RejectSource};
use dicomwire::service::scu::{FindProgress, ScuService, association_request};
use dicomwire::service::{
    Handlers, InMemoryHangingProtocols, InMemoryWorklist, StaticDestinations, uids,
};
use dicomwire::session::{ClientEvent, Operation, ScpConfig};
use dicomwire::ul::{Aborted, AssociationConfig};
use dicomwire_tests::services::{
    Host, RecordingStore, SCP_AE, SCU_AE, Setup, ae, destination, hp_instances, hp_uid,
    retrieve_query, worklist_query, worklist_record,
};
use dicomwire_tokio::{Client, ClientError, Server, ShutdownHandle};
use tokio::task::JoinHandle;

/// The most any test may take, in real time.
const BUDGET: Duration = Duration::from_secs(60);

/// Runs `test` within [`BUDGET`] of real time, whatever the runtime's clock does: a test
/// that does not end by then fails the whole test binary rather than hanging it.
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    let done = Arc::new(AtomicBool::new(false));
    let watched = Arc::clone(&done);
    std::thread::spawn(move || {
        std::thread::sleep(BUDGET);
        if !watched.load(Ordering::SeqCst) {
            eprintln!("a test ran past its budget of {BUDGET:?}");
            std::process::exit(101);
        }
    });
    let output = test.await;
    done.store(true, Ordering::SeqCst);
    output
}

/// A server on the current runtime.
struct Running {
    addr: std::net::SocketAddr,
    stop: ShutdownHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    fn start(config: ScpConfig) -> Self {
        let server = Server::bind("127.0.0.1:0", Arc::new(config)).expect("bind");
        let (addr, stop) = (server.local_addr(), server.shutdown_handle());
        let task = tokio::spawn(server.run());
        Self { addr, stop, task }
    }

    /// Shuts down; `run` returns once every session has ended.
    async fn stop(self) {
        self.stop.shutdown();
        self.task.await.expect("server task").expect("server run");
    }
}

/// A server whose policy is the service harness's (every service, called AE `SCP`).
fn config(handlers: Handlers) -> ScpConfig {
    let policy = Setup::new(handlers.clone()).policy();
    ScpConfig::new(Arc::new(policy), Arc::new(handlers))
}

fn worklist(count: usize) -> Handlers {
    let records = (0..count)
        .map(|n| worklist_record("DOE^JANE", &format!("P{n:05}"), "CT", "20250101", "0900"))
        .collect();
    let worklist = Some(Arc::new(InMemoryWorklist::new(records)) as _);
    Handlers {
        worklist,
        ..Handlers::default()
    }
}

fn hanging_protocols(count: usize, destinations: StaticDestinations) -> Handlers {
    let hanging = Arc::new(InMemoryHangingProtocols::new(hp_instances(count)));
    Handlers {
        hanging_protocol_retrieve: Some(Arc::clone(&hanging) as _),
        hanging_protocol_find: Some(hanging as _),
        move_destinations: Some(Arc::new(destinations)),
        ..Handlers::default()
    }
}

async fn connect_with(
    addr: std::net::SocketAddr,
    called: &str,
    services: &[ScuService],
    config: AssociationConfig,
) -> Result<Client, ClientError> {
    Client::connect(
        addr,
        association_request(ae(SCU_AE), ae(called), services),
        config,
    )
    .await
}

async fn connect(addr: std::net::SocketAddr, services: &[ScuService]) -> Client {
    connect_with(addr, SCP_AE, services, AssociationConfig::default())
        .await
        .expect("associate")
}

/// Matches and the final status of a C-FIND's steps.
fn matches_and_status(steps: &[FindProgress]) -> (usize, Option<Status>) {
    let matches = steps
        .iter()
        .filter(|p| matches!(p, FindProgress::Match { .. }))
        .count();
    let status = steps.iter().find_map(|p| match p {
        FindProgress::Finished { status, .. } => Some(*status),
        _ => None,
    });
    (matches, status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo() {
    bounded(async {
        let server = Running::start(config(Handlers::default()));
        let mut client = connect(server.addr, &[ScuService::Verification]).await;
        assert_eq!(client.echo().await.expect("echo"), Status::SUCCESS);
        assert_eq!(client.echo().await.expect("a second echo"), Status::SUCCESS);
        client.release().await.expect("release");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worklist_find_returns_many_matches() {
    bounded(async {
        let server = Running::start(config(worklist(1500)));
        let mut client = connect(server.addr, &[ScuService::WorklistFind]).await;
        let mut steps = Vec::new();
        let result = client
            .run(Operation::worklist_find(worklist_query()), |event| {
                if let ClientEvent::Find { progress, .. } = event {
                    steps.push(progress.clone());
                }
            })
            .await
            .expect("find");
        assert_eq!(matches_and_status(&steps), (1500, Some(Status::SUCCESS)));
        assert_eq!((result.matches, result.status), (1500, Status::SUCCESS));
        client.release().await.expect("release");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_stores_instances_into_the_store_handler() {
    bounded(async {
        let server = Running::start(config(hanging_protocols(4, StaticDestinations::new())));
        let mut client = connect(server.addr, &[ScuService::HangingProtocolGet]).await;
        let store = Arc::new(RecordingStore::new());
        let wanted: Vec<String> = (1..=3).map(hp_uid).collect();
        let get = Operation::Get {
            sop_class: uids::HANGING_PROTOCOL_GET,
            identifier: retrieve_query(&wanted),
            store: Arc::clone(&store) as _,
        };
        let outcome = client.run(get, |_| {}).await.expect("get");
        assert_eq!(outcome.status, Status::SUCCESS);
        assert_eq!(outcome.received, 3);
        assert_eq!(outcome.sub_operations.completed, Some(3));
        assert_eq!(store.uids(), wanted);
        client.release().await.expect("release");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_goes_through_a_sub_association_to_a_second_server() {
    bounded(async {
        // The destination: a second tokio server storing what it receives.
        let host = Host::storage("STORE");
        let handlers = Handlers {
            store: Some(Arc::clone(&host.store) as _),
            ..Handlers::default()
        };
        let store_server =
            Running::start(ScpConfig::new(Arc::new(host.policy), Arc::new(handlers)));
        let mut destinations = StaticDestinations::new();
        destinations.insert("STORE", destination("127.0.0.1", store_server.addr.port()));
        let server = Running::start(config(hanging_protocols(5, destinations)));

        let mut client = connect(server.addr, &[ScuService::HangingProtocolMove]).await;
        let wanted: Vec<String> = (2..=4).map(hp_uid).collect();
        let operation = Operation::hanging_protocol_move(retrieve_query(&wanted), ae("STORE"));
        let outcome = client.run(operation, |_| {}).await.expect("move");
        assert_eq!(outcome.status, Status::SUCCESS, "{outcome:?}");
        assert_eq!(outcome.sub_operations.completed, Some(3));
        assert_eq!(host.store.uids(), wanted);
        let stored = host.store.stored();
        assert!(
            stored
                .iter()
                .all(|s| s.move_originator.as_deref() == Some(SCU_AE)),
            "{stored:?}"
        );
        client.release().await.expect("release");
        server.stop().await;
        store_server.stop().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_association_ends_at_the_idle_timeout_on_the_paused_clock() {
    bounded(async {
        // The server ends associations idle for 60 s; the client has no timer of its own.
        let mut config = config(Handlers::default());
        config.association.idle_timeout = Some(Duration::from_secs(60));
        let server = Running::start(config);
        let quiet = AssociationConfig {
            idle_timeout: None,
            ..AssociationConfig::default()
        };
        let mut client = connect_with(server.addr, SCP_AE, &[ScuService::Verification], quiet)
            .await
            .expect("associate");
        let (virtual_start, real_start) = (tokio::time::Instant::now(), std::time::Instant::now());
        // A spinning loop (a `now` from another clock than the one slept on) would keep
        // the runtime busy: virtual time would never reach the timeout.
        match client.next_event().await {
            Err(ClientError::Aborted(Aborted::ByPeer(_))) => {}
            other => panic!("expected the server's A-ABORT, got {other:?}"),
        }
        let waited = virtual_start.elapsed();
        assert!(
            waited >= Duration::from_secs(60) && waited < Duration::from_secs(61),
            "ended after {waited:?} of virtual time"
        );
        assert!(
            real_start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            real_start.elapsed()
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_an_idle_association_and_refuses_new_clients() {
    bounded(async {
        let server = Running::start(config(Handlers::default()));
        let addr = server.addr;
        let mut client = connect(addr, &[ScuService::Verification]).await;
        assert_eq!(client.echo().await.expect("echo"), Status::SUCCESS);
        let stopped = tokio::spawn(server.stop());
        match client.next_event().await {
            Err(ClientError::ReleasedByPeer) => {}
            other => panic!("expected the server's release, got {other:?}"),
        }
        stopped.await.expect("stopped");
        match connect_with(
            addr,
            SCP_AE,
            &[ScuService::Verification],
            AssociationConfig::default(),
        )
        .await
        {
            Err(ClientError::Connect(_)) => {}
            other => panic!("expected a refused connection, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_find_in_progress_finish_then_releases() {
    bounded(async {
        const RECORDS: usize = 20_000;
        let mut config = config(worklist(RECORDS));
        config.shutdown_grace = Duration::from_secs(40);
        let server = Running::start(config);
        let mut client = connect(server.addr, &[ScuService::WorklistFind]).await;
        let find = Operation::worklist_find(worklist_query());
        let op = client.session().submit(find).expect("submit");
        let (mut matches, mut status) = (0, None);
        let mut stopping = false;
        loop {
            match client.next_event().await {
                Ok(ClientEvent::Find {
                    op: o,
                    progress: FindProgress::Match { .. },
                }) => {
                    assert_eq!(o, op);
                    matches += 1;
                    if !stopping {
                        // Mid-find: the server makes responses as we take them.
                        stopping = true;
                        server.stop.shutdown();
                    }
                }
                Ok(ClientEvent::Find {
                    progress: FindProgress::Finished { status: s, .. },
                    ..
                }) => {
                    status = Some(s);
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(ClientError::ReleasedByPeer) => break,
                Err(e) => panic!("ended with {e}"),
            }
        }
        assert_eq!((matches, status), (RECORDS, Some(Status::SUCCESS)));
        server.task.await.expect("server task").expect("server run");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connect_error() {
    bounded(async {
        let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = unused.local_addr().expect("addr");
        drop(unused);
        let config = AssociationConfig::default();
        match connect_with(addr, SCP_AE, &[ScuService::Verification], config).await {
            Err(ClientError::Connect(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused)
            }
            other => panic!("expected a refused connection, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_associations_say_why() {
    bounded(async {
        let mut config = config(Handlers::default());
        config.max_associations = 1;
        let server = Running::start(config);
        let services = [ScuService::Verification];
        let default = AssociationConfig::default;
        // Not the called AE title the server answers to.
        match connect_with(server.addr, "SOMEONE", &services, default()).await {
            Err(ClientError::Rejected(r)) => assert_eq!(r.rj.source.codes(), (1, 7), "{r}"),
            other => panic!("expected a rejection, got {other:?}"),
        }
        // Over the association limit.
        let held = connect(server.addr, &services).await;
        match connect_with(server.addr, SCP_AE, &services, default()).await {
            Err(ClientError::Rejected(r)) => assert_eq!(
                r.rj.source,
                RejectSource::ServiceProviderPresentation(PresentationReason::LocalLimitExceeded)
            ),
            other => panic!("expected a rejection over the limit, got {other:?}"),
        }
        held.release().await.expect("release");
        server.stop().await;
    })
    .await;
}
