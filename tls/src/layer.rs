//! [`TlsLayer`]: one TLS session between a socket and a dicomwire session, no IO.

use std::fmt;
use std::io::{self, Read};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, HandshakeKind, ProtocolVersion, ServerConnection};

use crate::config::{TlsClientConfig, TlsServerConfig, TlsVersion};
use crate::failure::{self, TlsError, TlsFailure, WriteError};
use crate::x509::PeerCertificate;

/// How much plaintext waiting to be encrypted, and ciphertext waiting to be sent, a layer
/// holds by default before [`TlsLayer::write_plaintext`] takes less than it is given.
pub const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;

/// One TLS session (PS3.15 B.12) in either role, as a Sans-IO layer over rustls.
///
/// It sits between a transport's socket and a dicomwire session
/// (`dicomwire::ul::Association`, or one of the core's sessions): ciphertext
/// from the socket goes in, the peer's plaintext comes out for the session; the session's
/// bytes go in, ciphertext for the socket comes out. It never touches a socket, a file, a
/// thread or a clock of its own. Inside rustls, two things come from the system: the wall
/// time, through the configuration's time provider, to check certificate dates and
/// session-ticket ages ([`TlsClientConfig::with_fixed_time`] pins it), and random numbers
/// for keys.
///
/// # Driving it
///
/// - **inputs** `handle_*`: [`handle_ciphertext`](Self::handle_ciphertext), bytes read from
///   the socket;
/// - **verbs**: [`write_plaintext`](Self::write_plaintext), the session's bytes to send;
///   [`send_close_notify`](Self::send_close_notify) to end the session;
/// - **outputs** `poll_*`: [`poll_plaintext`](Self::poll_plaintext), what the peer sent;
///   [`poll_ciphertext`](Self::poll_ciphertext), what to write to the socket;
/// - **getters**: [`is_handshaking`](Self::is_handshaking), [`wants_read`](Self::wants_read),
///   [`wants_write`](Self::wants_write), [`peer_closed`](Self::peer_closed),
///   [`failure`](Self::failure), [`summary`](Self::summary).
///
/// After every input or verb, drain in this order:
///
/// 1. after reading from the socket, [`handle_ciphertext`](Self::handle_ciphertext) with
///    what was read; keep the bytes it did not take and offer them again after step 2
///    (it takes less only while the peer's plaintext waits undrained);
/// 2. [`poll_plaintext`](Self::poll_plaintext) and give the result to the session's
///    `handle_input` (whatever the session does not take stays in the transport's buffer);
/// 3. the session's `poll_transmit` output goes to
///    [`write_plaintext`](Self::write_plaintext); keep what it did not take and offer it
///    again after step 4;
/// 4. [`poll_ciphertext`](Self::poll_ciphertext) and write the result to the socket. Do
///    this also after step 1 even when the session had nothing to send: the handshake and
///    alerts come from here.
///
/// A session can write before the handshake is done: its bytes wait (bounded by the
/// buffer limit) and are encrypted once it completes. The requestor's A-ASSOCIATE-RQ can
/// so be handed over right after the TCP connect.
///
/// When `handle_ciphertext` returns a [`TlsFailure`], the session is over: drain
/// `poll_ciphertext` once more (the alert that tells the peer why), close the socket, tell
/// the dicomwire session the transport closed, and log the failure (each `Display` is one
/// line meant for the person who configures the two ends). Every later call returns the
/// same failure.
///
/// Closing: when the session wants the transport closed (`should_close_transport`), call
/// [`send_close_notify`](Self::send_close_notify), drain `poll_ciphertext`, then close
/// the socket. When [`peer_closed`](Self::peer_closed) turns true the peer has sent
/// close_notify: once the plaintext before it is drained, tell the session the transport
/// closed (its end of stream), answer with our own close_notify, drain, close.
///
/// ```
/// use dicomwire_tls::{ClientAuth, TlsClientConfig, TlsLayer, TlsServerConfig, TlsVersion};
/// # let ca_key = rcgen::KeyPair::generate()?;
/// # let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
/// # ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
/// # let ca_pem = ca_params.self_signed(&ca_key)?.pem();
/// # let ca = rcgen::Issuer::new(ca_params, ca_key);
/// # let leaf = |name: &str| -> Result<(String, String), rcgen::Error> {
/// #     let key = rcgen::KeyPair::generate()?;
/// #     let cert = rcgen::CertificateParams::new(vec![name.to_owned()])?.signed_by(&key, &ca)?;
/// #     Ok((cert.pem(), key.serialize_pem()))
/// # };
/// # let (server_cert, server_key) = leaf("pacs.example")?;
/// # let (client_cert, client_key) = leaf("modality.example")?;
/// // Both configurations trust the same CA; the server requires a client certificate.
/// let server_config = TlsServerConfig::new(
///     server_cert.as_bytes(),
///     server_key.as_bytes(),
///     ca_pem.as_bytes(),
///     ClientAuth::Required,
/// )?;
/// let identity = (client_cert.as_bytes(), client_key.as_bytes());
/// let client_config = TlsClientConfig::new(ca_pem.as_bytes(), Some(identity))?;
///
/// let mut client = TlsLayer::client(&client_config, "pacs.example")?;
/// let mut server = TlsLayer::server(&server_config)?;
///
/// // The session may write before the handshake: the bytes wait for it.
/// let taken = client.write_plaintext(b"A-ASSOCIATE-RQ")?;
/// assert_eq!(taken, 14);
///
/// // A transport in miniature: the socket is a Vec, read in one piece.
/// fn pump(
///     from: &mut TlsLayer,
///     to: &mut TlsLayer,
///     received: &mut Vec<u8>,
/// ) -> Result<(), dicomwire_tls::TlsFailure> {
///     let mut wire = Vec::new();
///     from.poll_ciphertext(&mut wire);           // step 4 on the sending side
///     let mut offset = 0;
///     while offset < wire.len() {
///         offset += to.handle_ciphertext(&wire[offset..])?; // step 1
///         to.poll_plaintext(received);           // step 2 (here: straight to `received`)
///     }
///     Ok(())
/// }
///
/// let (mut at_server, mut at_client) = (Vec::new(), Vec::new());
/// while client.is_handshaking() || server.is_handshaking() || client.wants_write() {
///     pump(&mut client, &mut server, &mut at_server)?;
///     pump(&mut server, &mut client, &mut at_client)?;
/// }
/// assert_eq!(at_server, b"A-ASSOCIATE-RQ");
///
/// server.write_plaintext(b"A-ASSOCIATE-AC")?;
/// pump(&mut server, &mut client, &mut at_client)?;
/// assert_eq!(at_client, b"A-ASSOCIATE-AC");
///
/// // Who is on the other end, for the log and for identity checks.
/// let summary = server.summary().expect("handshake done");
/// assert_eq!(summary.version, TlsVersion::Tls13);
/// let peer = summary.peer_certificate.expect("mutual authentication");
/// assert_eq!(peer.dns_names, ["modality.example"]);
///
/// // Closing: close_notify, then the peer sees it.
/// client.send_close_notify();
/// pump(&mut client, &mut server, &mut at_server)?;
/// assert!(server.peer_closed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TlsLayer {
    conn: Connection,
    expected_name: Option<String>,
    first_byte: Option<u8>,
    failure: Option<TlsFailure>,
    close_notify_sent: bool,
    peer_closed: bool,
    handshake_logged: bool,
}

impl TlsLayer {
    /// The client side of a TLS session with the server `server_name`.
    ///
    /// `server_name` is what the server's certificate must name: a DNS name, checked
    /// against its subjectAltName DNS entries (and sent as SNI), or an IP address, checked
    /// against its IP entries. When dialling an IP address whose server has a certificate
    /// for a DNS name, give that name here, not the address: the socket's address and the
    /// name checked are independent.
    pub fn client(config: &TlsClientConfig, server_name: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::InvalidServerName(server_name.to_owned()))?;
        let conn = ClientConnection::new(config.rustls.clone(), name)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(Self::new(conn.into(), Some(server_name.to_owned())))
    }

    /// The server side of a TLS session with a client that just connected.
    pub fn server(config: &TlsServerConfig) -> Result<Self, TlsError> {
        let conn = ServerConnection::new(config.rustls.clone())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(Self::new(conn.into(), None))
    }

    /// A layer over a rustls connection configured by hand, outside the profile: for tests
    /// that need a peer the profile forbids. Not for transports.
    #[doc(hidden)]
    pub fn from_rustls(conn: Connection) -> Self {
        Self::new(conn, None)
    }

    fn new(mut conn: Connection, expected_name: Option<String>) -> Self {
        conn.set_buffer_limit(Some(DEFAULT_BUFFER_LIMIT));
        Self {
            conn,
            expected_name,
            first_byte: None,
            failure: None,
            close_notify_sent: false,
            peer_closed: false,
            handshake_logged: false,
        }
    }

    /// Bounds the plaintext waiting for encryption and the ciphertext waiting to be
    /// polled: [`write_plaintext`](Self::write_plaintext) takes less once they hold about
    /// `bytes` (default [`DEFAULT_BUFFER_LIMIT`]). The handshake and alerts are never held
    /// back.
    pub fn set_buffer_limit(&mut self, bytes: usize) {
        self.conn.set_buffer_limit(Some(bytes));
    }

    /// Ciphertext read from the socket. Returns how many bytes were taken.
    ///
    /// It takes less than `input.len()` while the peer's plaintext waits to be drained
    /// with [`poll_plaintext`](Self::poll_plaintext) (about 16 KiB): drain, then offer
    /// the rest again. After the peer's close_notify everything is taken and discarded,
    /// as TLS requires.
    ///
    /// # Errors
    ///
    /// The session failed: a certificate was refused, the peer sent an alert or broke the
    /// protocol. The failure is final (see [`failure`](Self::failure)); poll the alert to
    /// send with [`poll_ciphertext`](Self::poll_ciphertext) and close the connection.
    pub fn handle_ciphertext(&mut self, input: &[u8]) -> Result<usize, TlsFailure> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        if self.first_byte.is_none() {
            self.first_byte = input.first().copied();
        }
        let mut taken = 0;
        while taken < input.len() {
            let mut rest = &input[taken..];
            match self.conn.read_tls(&mut rest) {
                // Only after close_notify does a non-empty reader give nothing.
                Ok(0) => {
                    self.peer_closed = true;
                    return Ok(input.len());
                }
                Ok(n) => taken += n,
                // rustls refuses ciphertext while the peer's plaintext fills its buffer:
                // that is backpressure, not a failure.
                Err(e) => match self.conn.process_new_packets() {
                    Ok(state) if state.plaintext_bytes_to_read() > 0 => break,
                    _ => return Err(self.fail_with(TlsFailure::Other(e.to_string()))),
                },
            }
            match self.conn.process_new_packets() {
                Ok(state) => self.peer_closed |= state.peer_has_closed(),
                Err(e) => {
                    let failure = failure::classify(
                        e,
                        &failure::Context {
                            is_server: matches!(self.conn, Connection::Server(_)),
                            expected_name: self.expected_name.as_deref(),
                            first_byte: self.first_byte,
                        },
                    );
                    return Err(self.fail_with(failure));
                }
            }
        }
        self.log_handshake_done();
        Ok(taken)
    }

    fn fail_with(&mut self, failure: TlsFailure) -> TlsFailure {
        tracing::debug!(%failure, "TLS session failed");
        self.failure = Some(failure.clone());
        failure
    }

    fn log_handshake_done(&mut self) {
        if !self.handshake_logged && !self.conn.is_handshaking() {
            self.handshake_logged = true;
            if let Some(summary) = self.summary() {
                tracing::debug!(%summary, "TLS handshake complete");
            }
        }
    }

    /// Appends the plaintext the peer sent to `out`; returns how many bytes were
    /// appended (0 when none waits).
    pub fn poll_plaintext(&mut self, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        // Reading stops at WouldBlock (nothing more now), at the end after close_notify,
        // or at an unexpected end of stream; what was read before is in `out` in every case.
        let _ = self.conn.reader().read_to_end(out);
        out.len() - before
    }

    /// The session's bytes to encrypt and send; returns how many were taken, which is
    /// less than `data.len()` (possibly 0) while about the buffer limit of plaintext and
    /// ciphertext waits: drain [`poll_ciphertext`](Self::poll_ciphertext), then offer the
    /// rest again. Before the handshake completes the bytes wait for it.
    ///
    /// # Errors
    ///
    /// [`WriteError::Failed`] once the session has failed, [`WriteError::Closed`] after
    /// [`send_close_notify`](Self::send_close_notify); nothing is taken.
    pub fn write_plaintext(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        if let Some(failure) = &self.failure {
            return Err(WriteError::Failed(failure.clone()));
        }
        if self.close_notify_sent {
            return Err(WriteError::Closed);
        }
        match io::Write::write(&mut self.conn.writer(), data) {
            Ok(n) => Ok(n),
            Err(e) => Err(WriteError::Failed(
                self.fail_with(TlsFailure::Other(e.to_string())),
            )),
        }
    }

    /// Appends the ciphertext to send to `out`; returns how many bytes were appended.
    pub fn poll_ciphertext(&mut self, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.len() - before
    }

    /// Queues a close_notify alert: we send nothing more. Poll it with
    /// [`poll_ciphertext`](Self::poll_ciphertext), then close the socket (the peer need
    /// not answer with its own: the DICOM release has already ended the association).
    pub fn send_close_notify(&mut self) {
        if !self.close_notify_sent {
            self.close_notify_sent = true;
            self.conn.send_close_notify();
        }
    }

    /// True until the handshake is complete. A client can finish before the server has
    /// checked its certificate: a refusal then arrives as an alert afterwards.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// True when ciphertext waits for [`poll_ciphertext`](Self::poll_ciphertext).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// True when the layer wants ciphertext now: false while the peer's plaintext waits
    /// undrained, while our handshake flight waits for
    /// [`poll_ciphertext`](Self::poll_ciphertext), after the peer's close_notify and after
    /// a failure. A transport can use it for read interest.
    pub fn wants_read(&self) -> bool {
        self.failure.is_none() && self.conn.wants_read()
    }

    /// True once the peer has sent close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The failure that ended the session, if one did.
    pub fn failure(&self) -> Option<&TlsFailure> {
        self.failure.as_ref()
    }

    /// What was negotiated and who the peer is, once the handshake is complete; for logs
    /// and for identity checks (e.g. mapping a certificate's name to an AE title).
    pub fn summary(&self) -> Option<TlsSummary> {
        if self.conn.is_handshaking() {
            return None;
        }
        let version = match self.conn.protocol_version()? {
            ProtocolVersion::TLSv1_3 => TlsVersion::Tls13,
            ProtocolVersion::TLSv1_2 => TlsVersion::Tls12,
            _ => return None,
        };
        let suite = self.conn.negotiated_cipher_suite()?.suite();
        Some(TlsSummary {
            version,
            cipher_suite: suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned),
            key_exchange: self
                .conn
                .negotiated_key_exchange_group()
                .map(|g| format!("{:?}", g.name())),
            resumed: self.conn.handshake_kind() == Some(HandshakeKind::Resumed),
            peer_certificate: self
                .conn
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|der| PeerCertificate::parse(der)),
        })
    }
}

impl fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsLayer")
            .field("server", &matches!(self.conn, Connection::Server(_)))
            .field("handshaking", &self.conn.is_handshaking())
            .field("failure", &self.failure)
            .field("close_notify_sent", &self.close_notify_sent)
            .finish_non_exhaustive()
    }
}

/// What a completed handshake agreed on, and the peer's certificate.
///
/// Its `Display` is one line for logs:
/// `TLS 1.3 TLS13_AES_256_GCM_SHA384 X25519 peer "CN=pacs1" [DNS:pacs1.example]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSummary {
    /// The protocol version.
    pub version: TlsVersion,
    /// The cipher suite's IANA-style name, e.g. `TLS13_AES_256_GCM_SHA384` or
    /// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    /// The key exchange group, e.g. `X25519` or `secp256r1`.
    pub key_exchange: Option<String>,
    /// True when an earlier session was resumed (no certificate exchange this time).
    pub resumed: bool,
    /// The peer's end-entity certificate: always for a client, for a server when the
    /// client presented one.
    pub peer_certificate: Option<PeerCertificate>,
}

impl fmt::Display for TlsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher_suite)?;
        if let Some(kx) = &self.key_exchange {
            write!(f, " {kx}")?;
        }
        if self.resumed {
            f.write_str(" resumed")?;
        }
        match &self.peer_certificate {
            Some(peer) => write!(
                f,
                " peer {:?} [{}]",
                peer.subject,
                peer.alt_names().join(", ")
            ),
            None => f.write_str(" peer without certificate"),
        }
    }
}
