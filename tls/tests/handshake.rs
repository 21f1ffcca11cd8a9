//! Handshakes of the B.12 profile in memory: what is negotiated, and each refusal as both
//! ends report it.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{Pair, Pki};
use dicomwire_tls::{ClientAuth, Origin, TlsFailure, TlsLayer, TlsVersion};
use rustls::pki_types::pem::PemObject;

const SERVER: &str = "pacs.example";
const CLIENT: &str = "modality.example";

const TLS12_SUITES: [&str; 4] = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
];

/// A CA, a server certificate for `SERVER` and a client certificate for `CLIENT`.
struct Setup {
    pki: Pki,
    server: common::Identity,
    client: common::Identity,
}

fn setup() -> Setup {
    let pki = Pki::new("Test CA");
    let server = pki.leaf(&[SERVER]);
    let client = pki.leaf(&[CLIENT]);
    Setup {
        pki,
        server,
        client,
    }
}

fn mutual(s: &Setup) -> Pair {
    Pair::connect(
        &s.pki.client_config(Some(&s.client)),
        SERVER,
        &s.pki.server_config(&s.server, ClientAuth::Required),
    )
}

#[test]
fn tls13_is_negotiated_by_default_with_mutual_authentication() {
    let s = setup();
    let mut pair = mutual(&s);
    pair.expect_handshake();

    let at_client = pair.client.summary().expect("client summary");
    let at_server = pair.server.summary().expect("server summary");
    for summary in [&at_client, &at_server] {
        assert_eq!(summary.version, TlsVersion::Tls13);
        assert!(summary.cipher_suite.starts_with("TLS13_AES_"), "{summary}");
        assert!(!summary.resumed);
    }
    let server_cert = at_client.peer_certificate.expect("server certificate");
    assert_eq!(server_cert.subject, "O=Clinic, CN=pacs.example");
    assert_eq!(server_cert.common_name.as_deref(), Some(SERVER));
    assert_eq!(server_cert.dns_names, [SERVER]);
    let client_cert = at_server
        .peer_certificate
        .as_ref()
        .expect("client certificate");
    assert_eq!(client_cert.dns_names, [CLIENT]);
    let line = at_server.to_string();
    assert!(line.starts_with("TLS 1.3 TLS13_AES_"), "{line}");
    assert!(
        line.ends_with("peer \"O=Clinic, CN=modality.example\" [DNS:modality.example]"),
        "{line}"
    );
}

#[test]
fn a_client_limited_to_tls12_negotiates_an_ecdhe_aes_gcm_suite() {
    let s = setup();
    let client = s
        .pki
        .client_config(Some(&s.client))
        .with_versions(&[TlsVersion::Tls12])
        .expect("TLS 1.2 client");
    let server = s.pki.server_config(&s.server, ClientAuth::Required);
    let mut pair = Pair::connect(&client, SERVER, &server);
    pair.expect_handshake();
    for summary in [pair.client.summary(), pair.server.summary()] {
        let summary = summary.expect("summary");
        assert_eq!(summary.version, TlsVersion::Tls12);
        assert!(
            TLS12_SUITES.contains(&summary.cipher_suite.as_str()),
            "{summary}"
        );
    }
    assert!(
        pair.server
            .summary()
            .expect("summary")
            .peer_certificate
            .is_some()
    );
}

#[test]
fn tls12_chacha20_is_not_offered() {
    // A raw rustls client that offers only ECDHE-ECDSA-CHACHA20-POLY1305 under TLS 1.2:
    // the profile's server must refuse it.
    let s = setup();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(
        rustls::pki_types::CertificateDer::pem_slice_iter(s.pki.ca_pem.as_bytes())
            .map(Result::unwrap),
    );
    #[allow(deprecated)]
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
            rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..rustls::crypto::ring::default_provider()
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(SERVER)
        .expect("name")
        .to_owned();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let server = s.pki.server_config(&s.server, ClientAuth::Optional);
    let mut pair = Pair::new(
        TlsLayer::from_rustls(conn.into()),
        TlsLayer::server(&server).expect("server"),
    );
    let outcome = pair.handshake();
    assert_eq!(outcome.server, Some(TlsFailure::NoCommonCipherSuite));
    assert!(
        matches!(&outcome.client, Some(TlsFailure::PeerAlert { alert }) if alert == "handshake_failure"),
        "{outcome:?}"
    );
}

#[test]
fn required_client_auth_refuses_a_client_without_certificate() {
    for version in TlsVersion::ALL {
        let s = setup();
        let client = s
            .pki
            .client_config(None)
            .with_versions(&[version])
            .expect("client");
        let server = s.pki.server_config(&s.server, ClientAuth::Required);
        let mut pair = Pair::connect(&client, SERVER, &server);
        pair.client
            .write_plaintext(b"A-ASSOCIATE-RQ")
            .expect("queued");
        let outcome = pair.handshake();
        assert_eq!(
            outcome.server,
            Some(TlsFailure::NoClientCertificate),
            "{version}"
        );
        assert_eq!(
            outcome.client,
            Some(TlsFailure::NoClientCertificate),
            "{version}"
        );
        assert!(
            pair.to_server.received.is_empty(),
            "no plaintext reached the server"
        );
        assert!(
            outcome
                .client
                .expect("failure")
                .to_string()
                .contains("--tls-cert"),
            "the message says what to configure"
        );
    }
}

#[test]
fn optional_client_auth_accepts_a_client_without_certificate() {
    let s = setup();
    let server = s.pki.server_config(&s.server, ClientAuth::Optional);
    let mut pair = Pair::connect(&s.pki.client_config(None), SERVER, &server);
    pair.expect_handshake();
    let summary = pair.server.summary().expect("summary");
    assert_eq!(summary.peer_certificate, None);
    assert!(summary.to_string().ends_with("peer without certificate"));
}

#[test]
fn optional_client_auth_still_verifies_a_presented_certificate() {
    let s = setup();
    let stranger = Pki::new("Other CA").leaf(&[CLIENT]);
    let server = s.pki.server_config(&s.server, ClientAuth::Optional);
    let mut pair = Pair::connect(&s.pki.client_config(Some(&stranger)), SERVER, &server);
    let outcome = pair.handshake();
    assert_eq!(
        outcome.server,
        Some(TlsFailure::UnknownCa { by: Origin::Local })
    );
    assert_eq!(
        outcome.client,
        Some(TlsFailure::UnknownCa { by: Origin::Peer })
    );
}

#[test]
fn a_server_certificate_from_an_unknown_ca_is_refused_by_the_client() {
    let s = setup();
    let stranger = Pki::new("Other CA").leaf(&[SERVER]);
    let mut pair = Pair::connect(
        &s.pki.client_config(Some(&s.client)),
        SERVER,
        &s.pki.server_config(&stranger, ClientAuth::Required),
    );
    let outcome = pair.handshake();
    let failure = outcome.client.expect("client failure");
    assert_eq!(failure, TlsFailure::UnknownCa { by: Origin::Local });
    assert_eq!(
        failure.to_string(),
        "the peer's certificate is not signed by a trusted CA (check --tls-ca)"
    );
    assert_eq!(
        outcome.server,
        Some(TlsFailure::UnknownCa { by: Origin::Peer })
    );
}

#[test]
fn a_client_certificate_from_an_unknown_ca_is_refused_by_the_server() {
    let s = setup();
    let stranger = Pki::new("Other CA").leaf(&[CLIENT]);
    let mut pair = Pair::connect(
        &s.pki.client_config(Some(&stranger)),
        SERVER,
        &s.pki.server_config(&s.server, ClientAuth::Required),
    );
    let outcome = pair.handshake();
    assert_eq!(
        outcome.server,
        Some(TlsFailure::UnknownCa { by: Origin::Local })
    );
    let failure = outcome.client.expect("client failure");
    assert_eq!(failure, TlsFailure::UnknownCa { by: Origin::Peer });
    assert!(
        failure
            .to_string()
            .contains("does not trust the CA that signed our certificate")
    );
}

#[test]
fn an_expired_server_certificate_is_refused() {
    let s = setup();
    let expired = s.pki.expired(&[SERVER]);
    let mut pair = Pair::connect(
        &s.pki.client_config(Some(&s.client)),
        SERVER,
        &s.pki.server_config(&expired, ClientAuth::Required),
    );
    let outcome = pair.handshake();
    assert_eq!(
        outcome.client,
        Some(TlsFailure::CertificateExpired { by: Origin::Local })
    );
    assert_eq!(
        outcome.server,
        Some(TlsFailure::CertificateExpired { by: Origin::Peer })
    );
}

#[test]
fn an_expired_client_certificate_is_refused() {
    let s = setup();
    let expired = s.pki.expired(&[CLIENT]);
    let mut pair = Pair::connect(
        &s.pki.client_config(Some(&expired)),
        SERVER,
        &s.pki.server_config(&s.server, ClientAuth::Required),
    );
    let outcome = pair.handshake();
    assert_eq!(
        outcome.server,
        Some(TlsFailure::CertificateExpired { by: Origin::Local })
    );
    assert_eq!(
        outcome.client,
        Some(TlsFailure::CertificateExpired { by: Origin::Peer })
    );
}

#[test]
fn a_not_yet_valid_server_certificate_is_refused() {
    let s = setup();
    let early = s.pki.not_yet_valid(&[SERVER]);
    let mut pair = Pair::connect(
        &s.pki.client_config(None),
        SERVER,
        &s.pki.server_config(&early, ClientAuth::Optional),
    );
    let outcome = pair.handshake();
    assert_eq!(
        outcome.client,
        Some(TlsFailure::CertificateNotYetValid { by: Origin::Local })
    );
    // TLS has one alert for both (certificate_expired: "expired or not currently valid").
    assert_eq!(
        outcome.server,
        Some(TlsFailure::CertificateExpired { by: Origin::Peer })
    );
}

#[test]
fn a_not_yet_valid_client_certificate_is_refused() {
    let s = setup();
    let early = s.pki.not_yet_valid(&[CLIENT]);
    let mut pair = Pair::connect(
        &s.pki.client_config(Some(&early)),
        SERVER,
        &s.pki.server_config(&s.server, ClientAuth::Required),
    );
    let outcome = pair.handshake();
    assert_eq!(
        outcome.server,
        Some(TlsFailure::CertificateNotYetValid { by: Origin::Local })
    );
}

#[test]
fn a_fixed_verification_time_decides_validity() {
    let s = setup();
    let dated = s.pki.leaf_with(&[SERVER], |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let server = s.pki.server_config(&dated, ClientAuth::Optional);
    let year_2020 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_590_000_000); // May 2020
    let year_2022 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_650_000_000); // April 2022
    let client = s.pki.client_config(None);

    let then = client.clone().with_fixed_time(year_2020).expect("config");
    Pair::connect(&then, SERVER, &server).expect_handshake();

    let later = client.with_fixed_time(year_2022).expect("config");
    let outcome = Pair::connect(&later, SERVER, &server).handshake();
    assert_eq!(
        outcome.client,
        Some(TlsFailure::CertificateExpired { by: Origin::Local })
    );
}

#[test]
fn a_server_certificate_for_another_name_is_refused() {
    let s = setup();
    let mut pair = Pair::connect(
        &s.pki.client_config(Some(&s.client)),
        "ris.example",
        &s.pki.server_config(&s.server, ClientAuth::Required),
    );
    let outcome = pair.handshake();
    let failure = outcome.client.clone().expect("client failure");
    assert_eq!(
        failure,
        TlsFailure::WrongName {
            expected: "ris.example".into(),
            presented: vec!["DNS:pacs.example".into()],
        }
    );
    assert!(
        failure
            .to_string()
            .contains("\"ris.example\" (it names DNS:pacs.example)"),
        "{failure}"
    );
    assert!(
        matches!(
            outcome.server,
            Some(TlsFailure::BadCertificate {
                by: Origin::Peer,
                ..
            })
        ),
        "{outcome:?}"
    );
}

#[test]
fn an_ip_address_is_checked_against_the_ip_subject_alt_names() {
    let s = setup();
    let by_ip = s.pki.leaf(&["127.0.0.1", "::1"]);
    let server = s.pki.server_config(&by_ip, ClientAuth::Optional);
    let client = s.pki.client_config(None);

    let mut pair = Pair::connect(&client, "127.0.0.1", &server);
    pair.expect_handshake();
    let peer = pair
        .client
        .summary()
        .and_then(|s| s.peer_certificate)
        .expect("peer");
    let expected: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    assert_eq!(peer.ip_addresses, expected);
    assert!(peer.dns_names.is_empty());

    Pair::connect(&client, "::1", &server).expect_handshake();

    let outcome = Pair::connect(&client, "127.0.0.2", &server).handshake();
    assert!(
        matches!(&outcome.client, Some(TlsFailure::WrongName { expected, .. }) if expected == "127.0.0.2"),
        "{outcome:?}"
    );
}

#[test]
fn dialling_an_ip_address_checks_the_name_given_not_the_address() {
    // The socket goes to an address; the layer checks the name the caller expects.
    let s = setup();
    let server = s.pki.server_config(&s.server, ClientAuth::Optional);
    let client = s.pki.client_config(None);
    let outcome = Pair::connect(&client, "127.0.0.1", &server).handshake();
    assert!(
        matches!(outcome.client, Some(TlsFailure::WrongName { .. })),
        "{outcome:?}"
    );
    Pair::connect(&client, SERVER, &server).expect_handshake();
}

#[test]
fn no_common_protocol_version_is_reported_on_both_ends() {
    let s = setup();
    let cases = [
        (TlsVersion::Tls12, TlsVersion::Tls13),
        (TlsVersion::Tls13, TlsVersion::Tls12),
    ];
    for (client_version, server_version) in cases {
        let client = s
            .pki
            .client_config(Some(&s.client))
            .with_versions(&[client_version])
            .expect("client");
        let server = s
            .pki
            .server_config(&s.server, ClientAuth::Required)
            .with_versions(&[server_version])
            .expect("server");
        let outcome = Pair::connect(&client, SERVER, &server).handshake();
        let case = format!("client {client_version}, server {server_version}");
        assert_eq!(
            outcome.server,
            Some(TlsFailure::NoCommonProtocolVersion),
            "{case}"
        );
        assert_eq!(
            outcome.client,
            Some(TlsFailure::NoCommonProtocolVersion),
            "{case}"
        );
    }
}

#[test]
fn a_tls11_client_is_no_common_protocol_version() {
    let s = setup();
    let mut server =
        TlsLayer::server(&s.pki.server_config(&s.server, ClientAuth::Required)).unwrap();
    assert_eq!(
        server.handle_ciphertext(&common::unhex(common::TLS11_CLIENT_HELLO)),
        Err(TlsFailure::NoCommonProtocolVersion)
    );
    // The client hears why: a fatal alert.
    let mut alert = Vec::new();
    assert!(server.poll_ciphertext(&mut alert) > 0);
    assert_eq!(&alert[..1], &[0x15], "an alert record");
}

#[test]
fn a_plain_dicom_peer_is_not_tls() {
    let s = setup();
    // The first bytes of an A-ASSOCIATE-RQ (PDU type 0x01) arriving at a TLS server.
    let mut server =
        TlsLayer::server(&s.pki.server_config(&s.server, ClientAuth::Required)).unwrap();
    let rq = [0x01, 0x00, 0x00, 0x00, 0x00, 0xcd, 0x00, 0x01, 0x00, 0x00];
    assert_eq!(server.handle_ciphertext(&rq), Err(TlsFailure::NotTls));
    // An A-ABORT (0x07) answering a TLS client's ClientHello.
    let mut client = TlsLayer::client(&s.pki.client_config(None), SERVER).unwrap();
    let mut hello = Vec::new();
    assert!(client.poll_ciphertext(&mut hello) > 0);
    let abort = [0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x02];
    let failure = client.handle_ciphertext(&abort).unwrap_err();
    assert_eq!(failure, TlsFailure::NotTls);
    assert!(failure.to_string().contains("TLS port"));
}

#[test]
fn a_failure_is_final() {
    let s = setup();
    let stranger = Pki::new("Other CA").leaf(&[SERVER]);
    let mut pair = Pair::connect(
        &s.pki.client_config(None),
        SERVER,
        &s.pki.server_config(&stranger, ClientAuth::Optional),
    );
    let outcome = pair.handshake();
    let failure = outcome.client.expect("client failure");
    assert_eq!(pair.client.failure(), Some(&failure));
    assert!(!pair.client.wants_read());
    assert_eq!(
        pair.client.handle_ciphertext(&[0x16, 0x03, 0x03]),
        Err(failure.clone())
    );
    assert_eq!(
        pair.client.write_plaintext(b"x"),
        Err(dicomwire_tls::WriteError::Failed(failure))
    );
    assert_eq!(pair.client.summary(), None);
}

#[test]
fn a_second_connection_resumes_the_session() {
    let s = setup();
    let client = s.pki.client_config(Some(&s.client));
    let server = s.pki.server_config(&s.server, ClientAuth::Required);
    let mut first = Pair::connect(&client, SERVER, &server);
    first.expect_handshake();
    // TLS 1.3 tickets arrive after the handshake, with the first data.
    first.server.write_plaintext(b"A-ASSOCIATE-AC").unwrap();
    first.run();
    let mut second = Pair::connect(&client, SERVER, &server);
    second.expect_handshake();
    let summary = second.server.summary().expect("summary");
    assert!(summary.resumed, "{summary}");
    assert!(
        summary.peer_certificate.is_some(),
        "a resumed session still knows the client's certificate"
    );
}
