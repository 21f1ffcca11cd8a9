//! [`TlsFailure`] (the TLS session failed: a certificate, the peer, the network) and
//! [`TlsError`] (the configuration cannot be used), and the one place where rustls errors
//! become them.

use std::fmt;

use rustls::{AlertDescription, CertificateError, Error as RustlsError, PeerIncompatible};
use thiserror::Error;

/// Which side found the problem with a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// We rejected the peer's certificate.
    Local,
    /// The peer rejected our certificate and told us with an alert.
    Peer,
}

/// Why a TLS session failed, in terms a person configuring the two ends can act on.
///
/// Failures the peer reports with an alert map to the same variants as the ones we detect
/// ourselves, with [`Origin::Peer`] where it matters whose certificate was refused. Every
/// `Display` is one line that says what to check.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TlsFailure {
    /// A certificate chain does not lead to a trusted CA (alert `unknown_ca`).
    #[error("{}", unknown_ca(*by))]
    UnknownCa {
        /// Whose certificate was refused.
        by: Origin,
    },
    /// A certificate's notAfter has passed (alert `certificate_expired`).
    #[error("{}", expired(*by))]
    CertificateExpired {
        /// Whose certificate was refused.
        by: Origin,
    },
    /// A certificate's notBefore is still in the future.
    #[error("{}", not_yet_valid(*by))]
    CertificateNotYetValid {
        /// Whose certificate was refused.
        by: Origin,
    },
    /// The server's certificate does not name the host we dialled.
    #[error(
        "the server's certificate is not valid for {expected:?} (it names {}); dial a name it \
         has, or pass that name as the TLS server name",
        names(presented)
    )]
    WrongName {
        /// The name we expected (the `server_name` given to [`TlsLayer::client`](crate::TlsLayer::client)).
        expected: String,
        /// The names in the certificate's subjectAltName, when known.
        presented: Vec<String>,
    },
    /// The server requires a client certificate and the client sent none.
    #[error(
        "no client certificate was presented, but the server requires one (give the client \
         --tls-cert and --tls-key, or set the server's --tls-client-auth optional)"
    )]
    NoClientCertificate,
    /// The two ends share no TLS protocol version (alert `protocol_version`).
    #[error(
        "no TLS protocol version in common: this side speaks TLS 1.3 and TLS 1.2 only (enable one \
         of them on the peer; SSL 3.0, TLS 1.0 and 1.1 are forbidden by RFC 8996)"
    )]
    NoCommonProtocolVersion,
    /// The two ends share no cipher suite.
    #[error(
        "no cipher suite in common: this side allows the TLS 1.3 suites and, for TLS 1.2, ECDHE \
         with AES-GCM only (enable ECDHE-ECDSA/RSA-AES128/256-GCM-SHA256/384 on the peer)"
    )]
    NoCommonCipherSuite,
    /// The peer ended the session with an alert that has no variant of its own.
    #[error("the peer aborted TLS with alert {alert} ({})", alert_hint(alert))]
    PeerAlert {
        /// The alert's name as in RFC 8446 6.2, e.g. `handshake_failure`.
        alert: String,
    },
    /// A certificate was refused for another reason (bad signature, wrong key usage, revoked…).
    #[error("{}", bad_certificate(*by, reason))]
    BadCertificate {
        /// Whose certificate was refused.
        by: Origin,
        /// What was wrong with it.
        reason: String,
    },
    /// What arrived is not TLS: most often a peer that speaks plain DICOM on this port.
    #[error(
        "the peer does not speak TLS on this connection (is TLS enabled on the peer, and is this \
         its TLS port?)"
    )]
    NotTls,
    /// Anything else rustls reported.
    #[error("TLS failed: {0}")]
    Other(String),
}

fn unknown_ca(by: Origin) -> &'static str {
    match by {
        Origin::Local => "the peer's certificate is not signed by a trusted CA (check --tls-ca)",
        Origin::Peer => {
            "the peer does not trust the CA that signed our certificate (add our CA to the \
             peer's trusted CAs, or use a certificate from a CA it trusts)"
        }
    }
}

fn expired(by: Origin) -> &'static str {
    match by {
        Origin::Local => {
            "the peer's certificate has expired (renew it, or check this machine's clock)"
        }
        Origin::Peer => {
            "the peer says our certificate has expired or is not valid yet (check our \
             certificate's dates and the peer's clock)"
        }
    }
}

fn not_yet_valid(by: Origin) -> &'static str {
    match by {
        Origin::Local => {
            "the peer's certificate is not valid yet (check the clocks of both machines, or wait \
             for its notBefore)"
        }
        Origin::Peer => {
            "the peer says our certificate is not valid yet (check the clocks of both machines)"
        }
    }
}

fn bad_certificate(by: Origin, reason: &str) -> String {
    match by {
        Origin::Local => format!("the peer's certificate was refused: {reason}"),
        Origin::Peer => format!(
            "the peer refused our certificate ({reason}); check its key usage and that the peer \
             trusts its CA"
        ),
    }
}

fn names(presented: &[String]) -> String {
    if presented.is_empty() {
        "no name we could read".to_owned()
    } else {
        presented.join(", ")
    }
}

fn alert_hint(alert: &str) -> &'static str {
    match alert {
        "handshake_failure" => {
            "usually no cipher suite or key exchange in common, or the peer requires a client \
             certificate; see the peer's log"
        }
        "access_denied" => "the peer refused our identity; see the peer's log",
        "insufficient_security" => "the peer wants stronger ciphers than we offer",
        "decrypt_error" => "a signature or the handshake did not verify; see the peer's log",
        "internal_error" => "the peer had an internal error; see the peer's log",
        _ => "see the peer's log",
    }
}

/// The RFC 8446 name of an alert, for [`TlsFailure::PeerAlert`] and logs.
fn alert_name(alert: AlertDescription) -> String {
    let known = match alert {
        AlertDescription::CloseNotify => "close_notify",
        AlertDescription::UnexpectedMessage => "unexpected_message",
        AlertDescription::BadRecordMac => "bad_record_mac",
        AlertDescription::RecordOverflow => "record_overflow",
        AlertDescription::HandshakeFailure => "handshake_failure",
        AlertDescription::BadCertificate => "bad_certificate",
        AlertDescription::UnsupportedCertificate => "unsupported_certificate",
        AlertDescription::CertificateRevoked => "certificate_revoked",
        AlertDescription::CertificateExpired => "certificate_expired",
        AlertDescription::CertificateUnknown => "certificate_unknown",
        AlertDescription::IllegalParameter => "illegal_parameter",
        AlertDescription::UnknownCA => "unknown_ca",
        AlertDescription::AccessDenied => "access_denied",
        AlertDescription::DecodeError => "decode_error",
        AlertDescription::DecryptError => "decrypt_error",
        AlertDescription::ProtocolVersion => "protocol_version",
        AlertDescription::InsufficientSecurity => "insufficient_security",
        AlertDescription::InternalError => "internal_error",
        AlertDescription::InappropriateFallback => "inappropriate_fallback",
        AlertDescription::UserCanceled => "user_canceled",
        AlertDescription::MissingExtension => "missing_extension",
        AlertDescription::UnsupportedExtension => "unsupported_extension",
        AlertDescription::UnrecognisedName => "unrecognized_name",
        AlertDescription::BadCertificateStatusResponse => "bad_certificate_status_response",
        AlertDescription::UnknownPSKIdentity => "unknown_psk_identity",
        AlertDescription::CertificateRequired => "certificate_required",
        AlertDescription::NoApplicationProtocol => "no_application_protocol",
        other => return format!("{other:?}"),
    };
    known.to_owned()
}

/// What [`classify`] needs to know about the layer that saw the error.
pub(crate) struct Context<'a> {
    /// True on the server side: a missing certificate is then the client's.
    pub(crate) is_server: bool,
    /// The name the client expects in the server's certificate.
    pub(crate) expected_name: Option<&'a str>,
    /// The first byte of ciphertext the peer sent (a TLS record starts with 0x14–0x17).
    pub(crate) first_byte: Option<u8>,
}

/// The one place where a rustls error becomes a [`TlsFailure`].
pub(crate) fn classify(error: RustlsError, cx: &Context<'_>) -> TlsFailure {
    if cx.first_byte.is_some_and(|b| !(0x14..=0x17).contains(&b)) {
        return TlsFailure::NotTls;
    }
    match error {
        RustlsError::InvalidCertificate(e) => classify_certificate(e, Origin::Local, cx),
        RustlsError::NoCertificatesPresented if cx.is_server => TlsFailure::NoClientCertificate,
        RustlsError::NoCertificatesPresented => TlsFailure::BadCertificate {
            by: Origin::Local,
            reason: "the server presented no certificate".to_owned(),
        },
        RustlsError::AlertReceived(alert) => classify_alert(alert),
        RustlsError::PeerIncompatible(p) => classify_incompatible(p),
        RustlsError::InvalidMessage(m) => {
            TlsFailure::Other(format!("the peer sent a malformed TLS message ({m:?})"))
        }
        RustlsError::PeerMisbehaved(m) => {
            TlsFailure::Other(format!("the peer broke the TLS protocol ({m:?})"))
        }
        other => TlsFailure::Other(other.to_string()),
    }
}

fn classify_certificate(e: CertificateError, by: Origin, cx: &Context<'_>) -> TlsFailure {
    use CertificateError as C;
    match e {
        C::UnknownIssuer => TlsFailure::UnknownCa { by },
        C::Expired | C::ExpiredContext { .. } => TlsFailure::CertificateExpired { by },
        C::NotValidYet | C::NotValidYetContext { .. } => TlsFailure::CertificateNotYetValid { by },
        C::NotValidForName => TlsFailure::WrongName {
            expected: cx.expected_name.unwrap_or_default().to_owned(),
            presented: Vec::new(),
        },
        C::NotValidForNameContext { presented, .. } => TlsFailure::WrongName {
            expected: cx.expected_name.unwrap_or_default().to_owned(),
            presented: presented.iter().map(|n| tidy_name(n)).collect(),
        },
        other => TlsFailure::BadCertificate {
            by,
            reason: other.to_string(),
        },
    }
}

/// webpki lists presented names in `Debug` form (`DnsName("a")`, `IpAddress(1.2.3.4)`);
/// a person reads them as `DNS:a`, `IP:1.2.3.4`, like [`PeerCertificate::alt_names`](crate::PeerCertificate::alt_names).
fn tidy_name(name: &str) -> String {
    let inner = |prefix: &str, suffix: &str| name.strip_prefix(prefix)?.strip_suffix(suffix);
    if let Some(dns) = inner("DnsName(\"", "\")") {
        format!("DNS:{dns}")
    } else if let Some(ip) = inner("IpAddress(", ")") {
        format!("IP:{ip}")
    } else {
        name.to_owned()
    }
}

fn classify_alert(alert: AlertDescription) -> TlsFailure {
    let by = Origin::Peer;
    match alert {
        AlertDescription::UnknownCA => TlsFailure::UnknownCa { by },
        AlertDescription::CertificateExpired => TlsFailure::CertificateExpired { by },
        AlertDescription::CertificateRequired => TlsFailure::NoClientCertificate,
        AlertDescription::ProtocolVersion => TlsFailure::NoCommonProtocolVersion,
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateRevoked
        | AlertDescription::CertificateUnknown => TlsFailure::BadCertificate {
            by,
            reason: alert_name(alert),
        },
        other => TlsFailure::PeerAlert {
            alert: alert_name(other),
        },
    }
}

fn classify_incompatible(p: PeerIncompatible) -> TlsFailure {
    use PeerIncompatible as P;
    match p {
        P::NoCipherSuitesInCommon => TlsFailure::NoCommonCipherSuite,
        // signature_algorithms came with TLS 1.2: a client without it offers TLS 1.1 or
        // older (openssl s_client -tls1_1 sends none), which rustls finds out first.
        P::ServerDoesNotSupportTls12Or13
        | P::SignatureAlgorithmsExtensionRequired
        | P::SupportedVersionsExtensionRequired
        | P::Tls12NotOffered
        | P::Tls12NotOfferedOrEnabled
        | P::ServerTlsVersionIsDisabledByOurConfig => TlsFailure::NoCommonProtocolVersion,
        other => TlsFailure::Other(format!(
            "the peer's TLS is incompatible with ours ({other:?})"
        )),
    }
}

/// What [`TlsLayer::write_plaintext`](crate::TlsLayer::write_plaintext) refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The session failed earlier; nothing more can be sent.
    #[error(transparent)]
    Failed(#[from] TlsFailure),
    /// [`send_close_notify`](crate::TlsLayer::send_close_notify) was called: our side is
    /// closed for writing. A caller's mistake; nothing was taken.
    #[error("TLS close_notify was already sent: no more data can be written")]
    Closed,
}

/// Which PEM input of a configuration a [`TlsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PemInput {
    /// Our certificate chain (`--tls-cert`).
    Certificate,
    /// Our private key (`--tls-key`).
    PrivateKey,
    /// The trusted CA certificates (`--tls-ca`).
    Ca,
}

impl fmt::Display for PemInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Certificate => "certificate (--tls-cert)",
            Self::PrivateKey => "private key (--tls-key)",
            Self::Ca => "CA certificates (--tls-ca)",
        })
    }
}

/// A TLS configuration, or a layer's construction, that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM input could not be parsed (bad base64, a truncated section).
    #[error("the {input} is not valid PEM: {reason}")]
    BadPem {
        /// Which input.
        input: PemInput,
        /// What the parser said.
        reason: String,
    },
    /// A PEM input that must hold certificates holds none.
    #[error("the {0} holds no certificate (expected a \"BEGIN CERTIFICATE\" section)")]
    NoCertificate(PemInput),
    /// The key PEM holds no private key.
    #[error(
        "the private key (--tls-key) holds no private key (expected \"BEGIN PRIVATE KEY\", \
         \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\")"
    )]
    NoPrivateKey,
    /// The private key is encrypted with a passphrase.
    #[error(
        "the private key (--tls-key) is encrypted; store it unencrypted with restricted file \
         permissions (openssl pkey -in key.pem -out key-plain.pem)"
    )]
    EncryptedPrivateKey,
    /// The private key cannot be used (unsupported algorithm or a corrupt key).
    #[error("the private key (--tls-key) cannot be used: {0}")]
    BadPrivateKey(String),
    /// The private key is not the one of the first certificate of the chain.
    #[error(
        "the private key (--tls-key) does not belong to the certificate (--tls-cert); the first \
         certificate in the file must be the one issued for this key"
    )]
    KeyMismatch,
    /// A CA certificate cannot be used as a trust anchor.
    #[error("a CA certificate (--tls-ca) cannot be used: {0}")]
    BadCaCertificate(String),
    /// The name given for the server is neither a DNS name nor an IP address.
    #[error(
        "{0:?} is not a DNS name or an IP address, so it cannot be checked against a certificate"
    )]
    InvalidServerName(String),
    /// No TLS version was allowed.
    #[error("no TLS version allowed: allow TLS 1.3, TLS 1.2 or both")]
    NoVersions,
    /// rustls refused the configuration for another reason.
    #[error("the TLS configuration cannot be used: {0}")]
    Config(String),
}

impl TlsError {
    /// The error for a rustls error raised while building a configuration with a key.
    pub(crate) fn from_key_setup(error: RustlsError) -> Self {
        match error {
            RustlsError::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                Self::KeyMismatch
            }
            RustlsError::General(reason) => Self::BadPrivateKey(reason),
            other => Self::Config(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            is_server: false,
            expected_name: Some("pacs.example"),
            first_byte: Some(0x16),
        }
    }

    #[test]
    fn alerts_from_the_peer_say_it_refused_our_certificate() {
        let failure = classify(
            RustlsError::AlertReceived(AlertDescription::UnknownCA),
            &cx(),
        );
        assert_eq!(failure, TlsFailure::UnknownCa { by: Origin::Peer });
        assert!(failure.to_string().contains("does not trust the CA"));
    }

    #[test]
    fn a_dicom_pdu_where_a_tls_record_belongs_is_not_tls() {
        let cx = Context {
            first_byte: Some(0x01),
            ..cx()
        };
        let failure = classify(
            RustlsError::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            &cx,
        );
        assert_eq!(failure, TlsFailure::NotTls);
    }

    #[test]
    fn presented_names_read_like_alt_names() {
        assert_eq!(tidy_name("DnsName(\"pacs.example\")"), "DNS:pacs.example");
        assert_eq!(tidy_name("IpAddress(127.0.0.1)"), "IP:127.0.0.1");
        assert_eq!(tidy_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn every_display_is_one_line() {
        let all = [
            TlsFailure::UnknownCa { by: Origin::Local },
            TlsFailure::UnknownCa { by: Origin::Peer },
            TlsFailure::CertificateExpired { by: Origin::Local },
            TlsFailure::CertificateExpired { by: Origin::Peer },
            TlsFailure::CertificateNotYetValid { by: Origin::Local },
            TlsFailure::CertificateNotYetValid { by: Origin::Peer },
            TlsFailure::WrongName {
                expected: "a".into(),
                presented: vec!["b".into()],
            },
            TlsFailure::NoClientCertificate,
            TlsFailure::NoCommonProtocolVersion,
            TlsFailure::NoCommonCipherSuite,
            TlsFailure::PeerAlert {
                alert: "handshake_failure".into(),
            },
            TlsFailure::BadCertificate {
                by: Origin::Peer,
                reason: "bad_certificate".into(),
            },
            TlsFailure::NotTls,
            TlsFailure::Other("x".into()),
        ];
        for failure in all {
            let text = failure.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.contains("  "), "{text}");
        }
    }
}
