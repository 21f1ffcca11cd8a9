//! Configurations that cannot be used say which input is wrong and how.

mod common;

use common::Pki;
use dicomwire_tls::{
    ClientAuth, PemInput, TlsClientConfig, TlsError, TlsLayer, TlsServerConfig, TlsVersion,
};

fn server(cert: &str, key: &str, ca: &str) -> Result<TlsServerConfig, TlsError> {
    TlsServerConfig::new(
        cert.as_bytes(),
        key.as_bytes(),
        ca.as_bytes(),
        ClientAuth::Required,
    )
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let pki = Pki::new("Test CA");
    let a = pki.leaf(&["a.example"]);
    let b = pki.leaf(&["b.example"]);
    let error = server(&a.cert_pem, &b.key_pem, &pki.ca_pem).unwrap_err();
    assert_eq!(error, TlsError::KeyMismatch);
    assert!(error.to_string().contains("--tls-key"));
    let error = TlsClientConfig::new(
        pki.ca_pem.as_bytes(),
        Some((a.cert_pem.as_bytes(), b.key_pem.as_bytes())),
    )
    .unwrap_err();
    assert_eq!(error, TlsError::KeyMismatch);
}

#[test]
fn missing_pem_sections_name_the_input() {
    let pki = Pki::new("Test CA");
    let id = pki.leaf(&["a.example"]);
    assert_eq!(
        server(&id.key_pem, &id.key_pem, &pki.ca_pem).unwrap_err(),
        TlsError::NoCertificate(PemInput::Certificate)
    );
    assert_eq!(
        server(&id.cert_pem, &id.cert_pem, &pki.ca_pem).unwrap_err(),
        TlsError::NoPrivateKey
    );
    assert_eq!(
        server(&id.cert_pem, &id.key_pem, "").unwrap_err(),
        TlsError::NoCertificate(PemInput::Ca)
    );
    let error = TlsClientConfig::new(b"not a PEM file", None).unwrap_err();
    assert_eq!(error, TlsError::NoCertificate(PemInput::Ca));
    assert!(error.to_string().contains("--tls-ca"), "{error}");
}

#[test]
fn broken_pem_is_reported_as_such() {
    let pki = Pki::new("Test CA");
    let id = pki.leaf(&["a.example"]);
    let broken = "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n";
    let error = server(broken, &id.key_pem, &pki.ca_pem).unwrap_err();
    assert!(
        matches!(
            &error,
            TlsError::BadPem {
                input: PemInput::Certificate,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn an_encrypted_key_says_so() {
    let pki = Pki::new("Test CA");
    let id = pki.leaf(&["a.example"]);
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(
        server(&id.cert_pem, encrypted, &pki.ca_pem).unwrap_err(),
        TlsError::EncryptedPrivateKey
    );
}

#[test]
fn a_server_name_must_be_a_dns_name_or_an_ip_address() {
    let pki = Pki::new("Test CA");
    let client = pki.client_config(None);
    assert_eq!(
        TlsLayer::client(&client, "not a name!").unwrap_err(),
        TlsError::InvalidServerName("not a name!".into())
    );
    assert!(TlsLayer::client(&client, "pacs.example").is_ok());
    assert!(TlsLayer::client(&client, "10.0.0.7").is_ok());
    assert!(TlsLayer::client(&client, "fe80::1").is_ok());
}

#[test]
fn at_least_one_version_must_be_allowed() {
    let pki = Pki::new("Test CA");
    assert_eq!(
        pki.client_config(None).with_versions(&[]).unwrap_err(),
        TlsError::NoVersions
    );
    let config = pki
        .client_config(None)
        .with_versions(&[TlsVersion::Tls13])
        .unwrap();
    assert_eq!(config.versions(), [TlsVersion::Tls13]);
}

#[test]
fn the_defaults_are_the_profiles() {
    let pki = Pki::new("Test CA");
    let id = pki.leaf(&["a.example"]);
    let server = server(&id.cert_pem, &id.key_pem, &pki.ca_pem).unwrap();
    assert_eq!(ClientAuth::default(), ClientAuth::Required);
    assert_eq!(server.client_auth(), ClientAuth::Required);
    assert_eq!(server.versions(), TlsVersion::ALL);
    let client = pki.client_config(Some(&id));
    assert!(client.has_identity());
    let text = format!("{server:?} {client:?}");
    assert!(
        !text.contains("PRIVATE"),
        "no key material in Debug: {text}"
    );
}
