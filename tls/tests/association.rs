//! A real dicomwire association over TLS, in memory: A-ASSOCIATE, C-ECHO and A-RELEASE,
//! every byte passing through two `TlsLayer`s, driven in the order `TlsLayer` documents.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Pki;
use dicomwire::dimse::Status;
use dicomwire::pdu::{AeTitle, Uid};
use dicomwire::service::scu::EchoScu;
use dicomwire::service::{Admission, Handlers, Scp};
use dicomwire::ul::{
    AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event, ProposedContext,
    SupportedSyntax,
};
use dicomwire_tls::{ClientAuth, TlsFailure, TlsLayer, TlsVersion};

const VERIFICATION: &str = "1.2.840.10008.1.1";
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";

/// What a transport keeps per connection: the session, its TLS layer, and the bytes that
/// one of them has not taken yet.
struct Endpoint {
    assoc: Association,
    tls: TlsLayer,
    /// Plaintext from TLS the association has not taken yet.
    plain_in: Vec<u8>,
    /// The association's PDUs TLS has not taken yet.
    plain_out: Vec<u8>,
    saw_close: bool,
}

impl Endpoint {
    fn new(assoc: Association, tls: TlsLayer) -> Self {
        Self {
            assoc,
            tls,
            plain_in: Vec::new(),
            plain_out: Vec::new(),
            saw_close: false,
        }
    }

    /// One pass of the documented drain order, with `wire_in` as the socket's receive
    /// side and `wire_out` its send side. Returns whether anything moved.
    fn drive(
        &mut self,
        now: Instant,
        wire_in: &mut Vec<u8>,
        wire_out: &mut Vec<u8>,
    ) -> Result<bool, TlsFailure> {
        let before = (
            wire_in.len(),
            wire_out.len(),
            self.plain_in.len(),
            self.plain_out.len(),
        );
        // 1. Ciphertext from the socket.
        let taken = self.tls.handle_ciphertext(wire_in)?;
        wire_in.drain(..taken);
        // 2. Plaintext to the session.
        self.tls.poll_plaintext(&mut self.plain_in);
        let used = self.assoc.handle_input(now, &self.plain_in).expect("input");
        self.plain_in.drain(..used);
        if self.tls.peer_closed() && self.plain_in.is_empty() && !self.saw_close {
            self.saw_close = true;
            self.assoc.handle_transport_closed(now);
        }
        // 3. The session's bytes to TLS.
        while self.assoc.poll_transmit(now, &mut self.plain_out).is_some() {}
        if !self.plain_out.is_empty() {
            let taken = self.tls.write_plaintext(&self.plain_out).expect("write");
            self.plain_out.drain(..taken);
        }
        // Our side is done, or the peer's is: close_notify, then the socket would close.
        if (self.assoc.should_close_transport() || self.saw_close) && self.plain_out.is_empty() {
            self.tls.send_close_notify();
        }
        // 4. Ciphertext to the socket.
        self.tls.poll_ciphertext(wire_out);
        let after = (
            wire_in.len(),
            wire_out.len(),
            self.plain_in.len(),
            self.plain_out.len(),
        );
        Ok(before != after || used > 0)
    }
}

struct Run {
    version: TlsVersion,
    /// Every byte that crossed the wire, both ways.
    wire_log: Vec<u8>,
}

fn associate_echo_release(version: TlsVersion) -> Run {
    let pki = Pki::new("Test CA");
    let server_id = pki.leaf(&["pacs.example"]);
    let client_id = pki.leaf(&["modality.example"]);
    let client_config = pki
        .client_config(Some(&client_id))
        .with_versions(&[version])
        .expect("client config");
    let server_config = pki.server_config(&server_id, ClientAuth::Required);

    let verification = Uid::new(VERIFICATION).unwrap();
    let implicit_le = Uid::new(IMPLICIT_VR_LE).unwrap();
    let mut now = Instant::now();
    let config = AssociationConfig::default();
    let request = AssociationRequest::new(
        AeTitle::new("ECHOSCU").unwrap(),
        AeTitle::new("TLS-SCP").unwrap(),
    )
    .with_context(ProposedContext::new(
        verification.clone(),
        vec![implicit_le.clone()],
    ));
    let mut scu_assoc = Association::requestor(now, config.clone(), request).expect("requestor");
    // The TCP connection is up; the TLS handshake has not started. The A-ASSOCIATE-RQ
    // waits inside the TLS layer until it completes.
    scu_assoc
        .handle_transport_connected(now)
        .expect("connected");
    let policy = AcceptorPolicy {
        abstract_syntaxes: vec![SupportedSyntax::new(verification, vec![implicit_le])],
        ..AcceptorPolicy::default()
    };
    let scp_assoc = Association::acceptor(now, config, policy.into());

    let mut scu = Endpoint::new(
        scu_assoc,
        TlsLayer::client(&client_config, "pacs.example").expect("client layer"),
    );
    let mut scp = Endpoint::new(
        scp_assoc,
        TlsLayer::server(&server_config).expect("server layer"),
    );
    let mut server = Scp::new(Arc::new(Handlers::default()));
    let (mut to_scp, mut to_scu) = (Vec::new(), Vec::new());
    let mut wire_log = Vec::new();

    let mut echo: Option<EchoScu> = None;
    let mut echo_status = None;
    let mut established = false;
    let mut released = false;
    let mut scu_closed = false;
    for _ in 0..200 {
        let mut moved = scu
            .drive(now, &mut to_scu, &mut to_scp)
            .expect("client TLS");
        wire_log.extend_from_slice(&to_scp);
        moved |= scp
            .drive(now, &mut to_scp, &mut to_scu)
            .expect("server TLS");
        wire_log.extend_from_slice(&to_scu);
        while let Some(event) = scp.assoc.poll_event() {
            moved = true;
            server.serve_event(&mut scp.assoc, now, event, Admission::Open);
        }
        server.poll(&mut scp.assoc, now);
        while let Some(event) = scu.assoc.poll_event() {
            moved = true;
            let event = match &echo {
                Some(op) => match op.handle(event) {
                    Ok(status) => {
                        echo_status = Some(status);
                        scu.assoc.release(now).expect("release");
                        continue;
                    }
                    Err(other) => other,
                },
                None => event,
            };
            match event {
                Event::Established(negotiated) => {
                    assert_eq!(negotiated.accepted().count(), 1);
                    established = true;
                    // TLS is done by now: the A-ASSOCIATE-AC came through it.
                    assert!(!scu.tls.is_handshaking());
                    echo = Some(EchoScu::start(&mut scu.assoc, now).expect("C-ECHO-RQ"));
                }
                Event::Released => released = true,
                Event::Closed => scu_closed = true,
                other => panic!("unexpected requestor event {other:?}"),
            }
        }
        if !moved && scu_closed {
            break;
        }
        now += Duration::from_millis(1);
    }
    assert!(established, "the association was established over TLS");
    assert_eq!(echo_status, Some(Status::SUCCESS), "C-ECHO answered");
    assert!(released, "A-RELEASE confirmed");
    assert!(scu_closed, "the requestor's association closed");
    assert!(
        scu.tls.peer_closed(),
        "the acceptor ended TLS with close_notify"
    );
    assert!(
        scp.tls.peer_closed(),
        "the requestor ended TLS with close_notify"
    );

    let at_server = scp.tls.summary().expect("server summary");
    assert_eq!(at_server.version, version);
    let client_cert = at_server
        .peer_certificate
        .expect("the client authenticated");
    assert_eq!(client_cert.common_name.as_deref(), Some("modality.example"));
    Run { version, wire_log }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn association_echo_and_release_over_tls13() {
    let run = associate_echo_release(TlsVersion::Tls13);
    assert_eq!(run.version, TlsVersion::Tls13);
    assert!(
        !contains(&run.wire_log, b"ECHOSCU"),
        "AE titles never cross the wire in clear"
    );
    assert!(!contains(&run.wire_log, VERIFICATION.as_bytes()));
}

#[test]
fn association_echo_and_release_over_tls12() {
    let run = associate_echo_release(TlsVersion::Tls12);
    assert!(!contains(&run.wire_log, b"ECHOSCU"));
    assert!(!contains(&run.wire_log, IMPLICIT_VR_LE.as_bytes()));
}
