//! The two configurations of the PS3.15 B.12 profile, built from PEM bytes.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{self, cipher_suite};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::failure::{PemInput, TlsError};

/// A TLS protocol version this crate can speak (RFC 8996 retired everything older).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246), ECDHE with AES-GCM only.
    Tls12,
    /// TLS 1.3 (RFC 8446), preferred when both ends speak it.
    Tls13,
}

impl TlsVersion {
    /// Both versions, TLS 1.3 first: the profile's default.
    pub const ALL: [Self; 2] = [Self::Tls13, Self::Tls12];

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            Self::Tls12 => &rustls::version::TLS12,
            Self::Tls13 => &rustls::version::TLS13,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tls12 => "TLS 1.2",
            Self::Tls13 => "TLS 1.3",
        })
    }
}

/// Whether a server requires its clients to present a certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAuth {
    /// Every client must present a certificate from the configured CA: mutual
    /// authentication, as IHE ATNA (ITI-19 Authenticate Node) requires.
    #[default]
    Required,
    /// A client may present a certificate (then it is verified) or none.
    Optional,
}

/// The cipher suites offered, in order of preference: every TLS 1.3 suite rustls has, and
/// for TLS 1.2 only ECDHE with AES-GCM, as RFC 9325 4.2 recommends. No CBC, no static RSA
/// key exchange, no ChaCha20 under TLS 1.2 (BCP 195 lists only the AES-GCM suites for the
/// profile's TLS 1.2 peers).
///
/// rustls 0.23.48 deprecates ring's provider because ring has no post-quantum key
/// exchange (X25519MLKEM768, which aws-lc-rs has). ring is kept on purpose: it builds with
/// a C compiler alone, and no DICOM peer negotiates post-quantum groups yet. Its
/// constructor is the only way to reach ring's random source and key loader.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        ..ring::default_provider()
    })
}

/// The wall time certificates are checked against.
#[derive(Debug)]
struct FixedTime(UnixTime);

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

fn time_provider(fixed: Option<SystemTime>) -> Arc<dyn TimeProvider> {
    match fixed {
        Some(at) => {
            let since_epoch = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            Arc::new(FixedTime(UnixTime::since_unix_epoch(since_epoch)))
        }
        None => Arc::new(DefaultTimeProvider),
    }
}

fn versions(allowed: &[TlsVersion]) -> Vec<&'static SupportedProtocolVersion> {
    TlsVersion::ALL
        .into_iter()
        .filter(|v| allowed.contains(v))
        .map(TlsVersion::rustls)
        .collect()
}

fn certificates(
    pem_bytes: &[u8],
    input: PemInput,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(input, &e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(input));
    }
    Ok(certs)
}

fn private_key(pem_bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::from_pem_slice(pem_bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) if contains(pem_bytes, b"ENCRYPTED PRIVATE KEY") => {
            Err(TlsError::EncryptedPrivateKey)
        }
        Err(pem::Error::NoItemsFound) => Err(TlsError::NoPrivateKey),
        Err(e) => Err(bad_pem(PemInput::PrivateKey, &e)),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn bad_pem(input: PemInput, error: &pem::Error) -> TlsError {
    TlsError::BadPem {
        input,
        reason: error.to_string(),
    }
}

fn roots(ca_pem: &[u8]) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(ca_pem, PemInput::Ca)? {
        store
            .add(cert)
            .map_err(|e| TlsError::BadCaCertificate(e.to_string()))?;
    }
    Ok(Arc::new(store))
}

/// Our certificate chain and its key.
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Ok(Self {
            chain: certificates(cert_chain_pem, PemInput::Certificate)?,
            key: private_key(key_pem)?,
        })
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// What a client trusts and presents: the configuration of [`TlsLayer::client`](crate::TlsLayer::client).
///
/// Build it once and share it among connections (it is cheap to clone): it holds rustls'
/// session cache, so later connections to the same server resume their TLS sessions.
#[derive(Clone)]
pub struct TlsClientConfig {
    roots: Arc<RootCertStore>,
    identity: Option<Identity>,
    versions: Vec<TlsVersion>,
    fixed_time: Option<SystemTime>,
    pub(crate) rustls: Arc<ClientConfig>,
}

impl TlsClientConfig {
    /// A client that trusts the CA certificates in `ca_pem` and, when `identity` is given
    /// as `(certificate chain PEM, private key PEM)`, presents that certificate to servers
    /// that ask for one (B.12 mutual authentication).
    ///
    /// TLS 1.3 and 1.2 are allowed; see [`with_versions`](Self::with_versions).
    pub fn new(ca_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Result<Self, TlsError> {
        let identity = identity
            .map(|(cert, key)| Identity::from_pem(cert, key))
            .transpose()?;
        Self::build(roots(ca_pem)?, identity, TlsVersion::ALL.to_vec(), None)
    }

    /// The same configuration allowing only `versions` (for a site that requires TLS 1.3,
    /// or to test a peer's TLS 1.2).
    pub fn with_versions(self, versions: &[TlsVersion]) -> Result<Self, TlsError> {
        Self::build(
            self.roots,
            self.identity,
            versions.to_vec(),
            self.fixed_time,
        )
    }

    /// The same configuration, checking certificate validity at `at` instead of the
    /// system's wall clock: for tests and for replaying a capture. Never in production.
    pub fn with_fixed_time(self, at: SystemTime) -> Result<Self, TlsError> {
        Self::build(self.roots, self.identity, self.versions, Some(at))
    }

    /// The TLS versions allowed.
    pub fn versions(&self) -> &[TlsVersion] {
        &self.versions
    }

    /// True when we have a certificate to present.
    pub fn has_identity(&self) -> bool {
        self.identity.is_some()
    }

    fn build(
        roots: Arc<RootCertStore>,
        identity: Option<Identity>,
        versions: Vec<TlsVersion>,
        fixed_time: Option<SystemTime>,
    ) -> Result<Self, TlsError> {
        let provider = provider();
        let time = time_provider(fixed_time);
        // The verifier built explicitly, so the restricted provider also sets the
        // signature algorithms it accepts.
        let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| TlsError::BadCaCertificate(e.to_string()))?;
        let builder = ClientConfig::builder_with_details(provider, time)
            .with_protocol_versions(&checked(&versions)?)
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_webpki_verifier(verifier);
        let config = match &identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .map_err(TlsError::from_key_setup)?,
            None => builder.with_no_client_auth(),
        };
        Ok(Self {
            roots,
            identity,
            versions,
            fixed_time,
            rustls: Arc::new(config),
        })
    }
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("trusted_cas", &self.roots.len())
            .field("has_identity", &self.identity.is_some())
            .field("versions", &self.versions)
            .field("fixed_time", &self.fixed_time)
            .finish_non_exhaustive()
    }
}

/// What a server presents and whom it trusts: the configuration of [`TlsLayer::server`](crate::TlsLayer::server).
///
/// Build it once and share it among connections (it is cheap to clone).
#[derive(Clone)]
pub struct TlsServerConfig {
    roots: Arc<RootCertStore>,
    identity: Identity,
    client_auth: ClientAuth,
    versions: Vec<TlsVersion>,
    fixed_time: Option<SystemTime>,
    pub(crate) rustls: Arc<ServerConfig>,
}

impl TlsServerConfig {
    /// A server presenting the certificate chain `cert_chain_pem` (ours first, then any
    /// intermediates) with its private key `key_pem`, verifying client certificates
    /// against the CA certificates in `ca_pem` as `client_auth` says.
    ///
    /// TLS 1.3 and 1.2 are allowed; see [`with_versions`](Self::with_versions).
    pub fn new(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        ca_pem: &[u8],
        client_auth: ClientAuth,
    ) -> Result<Self, TlsError> {
        let identity = Identity::from_pem(cert_chain_pem, key_pem)?;
        Self::build(
            roots(ca_pem)?,
            identity,
            client_auth,
            TlsVersion::ALL.to_vec(),
            None,
        )
    }

    /// The same configuration allowing only `versions`.
    pub fn with_versions(self, versions: &[TlsVersion]) -> Result<Self, TlsError> {
        Self::build(
            self.roots,
            self.identity,
            self.client_auth,
            versions.to_vec(),
            self.fixed_time,
        )
    }

    /// The same configuration, checking client certificates' validity at `at` instead of
    /// the system's wall clock: for tests and for replaying a capture. Never in production.
    pub fn with_fixed_time(self, at: SystemTime) -> Result<Self, TlsError> {
        Self::build(
            self.roots,
            self.identity,
            self.client_auth,
            self.versions,
            Some(at),
        )
    }

    /// Whether clients must present a certificate.
    pub fn client_auth(&self) -> ClientAuth {
        self.client_auth
    }

    /// The TLS versions allowed.
    pub fn versions(&self) -> &[TlsVersion] {
        &self.versions
    }

    fn build(
        roots: Arc<RootCertStore>,
        identity: Identity,
        client_auth: ClientAuth,
        versions: Vec<TlsVersion>,
        fixed_time: Option<SystemTime>,
    ) -> Result<Self, TlsError> {
        let provider = provider();
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
        let verifier = match client_auth {
            ClientAuth::Required => verifier,
            ClientAuth::Optional => verifier.allow_unauthenticated(),
        }
        .build()
        .map_err(|e| TlsError::BadCaCertificate(e.to_string()))?;
        let config = ServerConfig::builder_with_details(provider, time_provider(fixed_time))
            .with_protocol_versions(&checked(&versions)?)
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(TlsError::from_key_setup)?;
        Ok(Self {
            roots,
            identity,
            client_auth,
            versions,
            fixed_time,
            rustls: Arc::new(config),
        })
    }
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig")
            .field("chain_len", &self.identity.chain.len())
            .field("trusted_cas", &self.roots.len())
            .field("client_auth", &self.client_auth)
            .field("versions", &self.versions)
            .field("fixed_time", &self.fixed_time)
            .finish_non_exhaustive()
    }
}

fn checked(allowed: &[TlsVersion]) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let versions = versions(allowed);
    if versions.is_empty() {
        return Err(TlsError::NoVersions);
    }
    Ok(versions)
}
