//! `Secured` sessions in memory: an `ScuSession` and an `ScpSession` (and a C-MOVE
//! destination) over TLS, driven as a transport drives any session, bytes passed by hand.

mod common;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use common::Pki;
use dicomwire::dimse::Status;
use dicomwire::pdu::AeTitle;
use dicomwire::service::scu::{ScuService, association_request};
use dicomwire::service::{Handlers, InMemoryWorklist, StaticDestinations, uids};
use dicomwire::session::{
    ClientError, ClientEvent, LinkId, Operation, OperationResult, ScpConfig, ScpSession,
    ScuSession, Session,
};
use dicomwire::ul::{AcceptorPolicy, AssociationConfig, SendQueue, SupportedSyntax};
use dicomwire_tls::{ClientAuth, Secured};

fn scp_config() -> Arc<ScpConfig> {
    let ts = uids::uncompressed_transfer_syntaxes();
    let policy = AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uids::VERIFICATION, ts.clone()),
            SupportedSyntax::new(uids::MODALITY_WORKLIST_FIND, ts),
        ],
        ..AcceptorPolicy::default()
    };
    let handlers = Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(Vec::new()))),
        move_destinations: Some(Arc::new(StaticDestinations::new())),
        ..Handlers::default()
    };
    Arc::new(ScpConfig::new(Arc::new(policy), Arc::new(handlers)))
}

fn client(now: Instant) -> ScuSession {
    let request = association_request(
        AeTitle::new("MODALITY").expect("AE"),
        AeTitle::new("PACS").expect("AE"),
        &[ScuService::Verification, ScuService::WorklistFind],
    );
    let mut scu = ScuSession::new(now, AssociationConfig::default(), request).expect("session");
    scu.handle_transport_connected(now);
    scu
}

/// Moves the bytes of `from`'s `link` to `to`'s `link` (ciphertext, both Secured).
fn carry<A: Session, B: Session>(now: Instant, from: &mut A, to: &mut B) -> (bool, Vec<u8>) {
    let mut queue = SendQueue::new();
    while from.poll_transmit(now, LinkId::MAIN, &mut queue).is_some() {}
    let mut wire = Vec::new();
    queue.drain_into(&mut wire);
    if wire.is_empty() {
        return (false, wire);
    }
    let bytes = Bytes::from(wire.clone());
    let mut taken = 0;
    while taken < bytes.len() {
        let n = to
            .handle_input(now, LinkId::MAIN, &bytes.slice(taken..))
            .expect("input");
        assert!(n > 0, "a Secured session took nothing");
        taken += n;
    }
    (true, wire)
}

/// Runs until the client is finished; every ciphertext byte seen on the wire.
fn run(
    now: Instant,
    scu: &mut Secured<ScuSession>,
    scp: &mut Secured<ScpSession>,
) -> (Vec<ClientEvent>, Vec<u8>) {
    let (mut events, mut seen) = (Vec::new(), Vec::new());
    for _ in 0..1000 {
        let (a, wire) = carry(now, scu, scp);
        seen.extend(wire);
        let (b, wire) = carry(now, scp, scu);
        seen.extend(wire);
        while scp.poll_event().is_some() {}
        if scp.poll_close() == Some(LinkId::MAIN) {
            scu.handle_transport_closed(now, LinkId::MAIN);
        }
        if scu.poll_close() == Some(LinkId::MAIN) {
            scp.handle_transport_closed(now, LinkId::MAIN);
        }
        events.extend(std::iter::from_fn(|| scu.poll_event()));
        if scu.is_finished() || !(a || b) {
            break;
        }
    }
    (events, seen)
}

#[test]
fn an_echo_and_a_find_over_tls_between_sessions() {
    let pki = Pki::new("dicomwire test CA");
    let server_id = pki.leaf(&["pacs.example"]);
    let client_id = pki.leaf(&["modality.example"]);
    let now = Instant::now();
    let server_tls = pki.server_config(&server_id, ClientAuth::Required);
    let client_tls = pki.client_config(Some(&client_id));
    let mut scp = Secured::server(
        ScpSession::new(now, scp_config(), 0).expect("scp"),
        &server_tls,
    )
    .expect("server layer");
    let mut scu = Secured::client(client(now), &client_tls, "pacs.example").expect("client layer");
    scu.inner_mut().submit(Operation::Echo).expect("echo");
    scu.inner_mut()
        .submit(Operation::worklist_find(
            dicom_object::InMemDicomObject::new_empty(),
        ))
        .expect("find");
    scu.inner_mut().release(now);
    let (events, wire) = run(now, &mut scu, &mut scp);
    let mut echo = OperationResult::default();
    let mut find = OperationResult::default();
    for e in &events {
        match e {
            ClientEvent::Echo { .. } => {
                echo.add(e);
            }
            ClientEvent::Find { .. } => {
                find.add(e);
            }
            _ => {}
        }
    }
    assert_eq!(echo.status, Status::SUCCESS, "{events:?}");
    assert_eq!(find.status, Status::SUCCESS, "{events:?}");
    assert!(
        matches!(events.last(), Some(ClientEvent::Closed(Ok(())))),
        "{events:?}"
    );
    assert!(scu.is_finished());
    // Nothing of DICOM in clear on the wire: no AE title, no UID.
    for clear in [&b"MODALITY"[..], b"1.2.840.10008.1.1"] {
        assert!(
            !wire.windows(clear.len()).any(|w| w == clear),
            "{clear:?} in clear"
        );
    }
}

#[test]
fn a_server_certificate_from_another_ca_ends_the_client_with_a_transport_close() {
    let pki = Pki::new("dicomwire test CA");
    let other = Pki::new("another CA");
    let now = Instant::now();
    let server_tls = other.server_config(&other.leaf(&["pacs.example"]), ClientAuth::Optional);
    let client_tls = pki.client_config(None);
    let mut scp = Secured::server(
        ScpSession::new(now, scp_config(), 0).expect("scp"),
        &server_tls,
    )
    .expect("server layer");
    let mut scu = Secured::client(client(now), &client_tls, "pacs.example").expect("client layer");
    scu.inner_mut().submit(Operation::Echo).expect("echo");
    let (events, _) = run(now, &mut scu, &mut scp);
    assert!(
        matches!(
            events.last(),
            Some(ClientEvent::Closed(Err(ClientError::Aborted(_))))
        ),
        "{events:?}"
    );
    assert!(scu.is_finished());
}

/// A server whose handshake fails tells the peer why before closing: the alert goes out
/// on a link the session still lists, then comes its close, and only then is the session
/// finished. (A transport that drives the links the session lists and stops once it is
/// finished, as dicomwire-std does, sent nothing before: the inner session had already
/// let go of the link, and the peer saw the connection close without a reason.)
#[test]
fn a_failed_handshake_sends_its_alert_then_closes() {
    let pki = Pki::new("dicomwire test CA");
    let now = Instant::now();
    let server_tls = pki.server_config(&pki.leaf(&["pacs.example"]), ClientAuth::Required);
    let mut scp = Secured::server(
        ScpSession::new(now, scp_config(), 0).expect("scp"),
        &server_tls,
    )
    .expect("server layer");
    let hello = Bytes::from(common::unhex(common::TLS11_CLIENT_HELLO));
    assert_eq!(scp.handle_input(now, LinkId::MAIN, &hello), Ok(hello.len()));
    let (mut out, mut closed) = (SendQueue::new(), Vec::new());
    for _ in 0..10 {
        if scp.is_finished() {
            break;
        }
        for link in scp.links() {
            while scp.poll_transmit(now, link, &mut out).is_some() {}
        }
        closed.extend(std::iter::from_fn(|| scp.poll_close()));
    }
    let mut wire = Vec::new();
    out.drain_into(&mut wire);
    // A fatal handshake_failure alert: rustls' answer to a ClientHello without
    // signature_algorithms.
    assert_eq!(wire, [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    assert_eq!(closed, [LinkId::MAIN]);
    assert!(scp.is_finished());
}
