//! dicomwire-tls: one IO-free TLS layer, on rustls, for every dicomwire transport.
//!
//! [`TlsLayer`] sits between a socket and a dicomwire session: ciphertext and the
//! session's bytes in, plaintext and ciphertext out, like the core it serves it never
//! opens a socket, spawns a thread or reads a file. Its documentation states the drain
//! order and runs a handshake in memory. Configurations are built from PEM *bytes*
//! ([`TlsServerConfig::new`], [`TlsClientConfig::new`]): reading the files is the caller's
//! job.
//!
//! # Secure transport profiles (PS3.15 Annex B)
//!
//! Offered: **B.12, the BCP 195 RFC 8996, 9325 Secure Transport Connection Profile.**
//!
//! - TLS 1.3 and TLS 1.2 only (RFC 8996 forbids SSL 3.0, TLS 1.0 and 1.1); TLS 1.3 is
//!   preferred when both ends speak it. [`TlsClientConfig::with_versions`] and
//!   [`TlsServerConfig::with_versions`] narrow that to one version.
//! - Cipher suites: the TLS 1.3 suites (AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305) and,
//!   for TLS 1.2, only the four RFC 9325 4.2 recommends: `ECDHE-ECDSA-AES256-GCM-SHA384`,
//!   `ECDHE-ECDSA-AES128-GCM-SHA256`, `ECDHE-RSA-AES256-GCM-SHA384`,
//!   `ECDHE-RSA-AES128-GCM-SHA256`. Key exchange over X25519, P-256 or P-384.
//! - Certificates are verified against the configured CA with webpki: chain, validity
//!   dates, key usage; the client checks that the server's certificate names the host it
//!   dialled (a DNS name, or an IP address in an IP subjectAltName; see
//!   [`TlsLayer::client`] for dialling an address while expecting a name).
//! - Mutual authentication ([`ClientAuth::Required`], the default) as IHE ATNA ITI-19
//!   Authenticate Node requires; [`ClientAuth::Optional`] for sites that authenticate
//!   clients otherwise.
//!
//! This also interoperates with peers of **B.11, the Non-downgrading BCP 195** profile,
//! which negotiate TLS 1.2 with ECDHE and AES-GCM: DCMTK 3.6.7's default
//! (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` among others).
//!
//! Not offered: the retired **Basic TLS** (B.1, `TLS_RSA_WITH_3DES_EDE_CBC_SHA`), **AES
//! TLS** (B.9, `TLS_RSA_WITH_AES_128_CBC_SHA`) and the other BCP 195 profiles' CBC and
//! static-RSA suites. They need 3DES, CBC mode or RSA key exchange, which rustls does not
//! implement because they are broken or lack forward secrecy. A peer that only speaks
//! those fails the handshake with [`TlsFailure::NoCommonCipherSuite`] or
//! [`TlsFailure::NoCommonProtocolVersion`].
//!
//! # Failures
//!
//! A handshake or session failure is a [`TlsFailure`], whether we found the problem or
//! the peer told us with an alert; its `Display` is one line a person can act on ("the
//! peer's certificate is not signed by a trusted CA (check --tls-ca)"). A configuration
//! that cannot be used is a [`TlsError`] ("the private key (--tls-key) does not belong to
//! the certificate (--tls-cert) …").
#![forbid(unsafe_code)]

mod config;
mod failure;
mod layer;
mod secured;
mod x509;

pub use config::{ClientAuth, TlsClientConfig, TlsServerConfig, TlsVersion};
pub use failure::{Origin, PemInput, TlsError, TlsFailure, WriteError};
pub use layer::{DEFAULT_BUFFER_LIMIT, TlsLayer, TlsSummary};
pub use secured::{Secured, ServerTls};
pub use x509::PeerCertificate;
