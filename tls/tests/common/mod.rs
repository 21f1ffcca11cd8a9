//! Test PKI made at run time with rcgen (no key or certificate is ever committed), and a
//! pair of layers joined by in-memory pipes.
#![allow(dead_code, unreachable_pub, missing_docs)]

use dicomwire_tls::{ClientAuth, TlsClientConfig, TlsFailure, TlsLayer, TlsServerConfig};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

/// A TLS 1.1 ClientHello as TLS 1.0 and 1.1 clients send it (`openssl s_client -tls1_1`
/// among them): client_version 3.2, two suites, no extensions, so no
/// signature_algorithms, which rustls looks for before the version.
pub const TLS11_CLIENT_HELLO: &str = concat!(
    "160301002f",   // a handshake record, TLS 1.0, 47 bytes
    "0100002b0302", // ClientHello, 43 bytes, client_version TLS 1.1
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", // random
    "00",           // no session id
    "0004c013002f", // ECDHE-RSA-AES128-SHA, AES128-SHA
    "0100",         // null compression; no extensions
);

/// The bytes a hex string spells.
pub fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A CA that issues certificates for one test.
pub struct Pki {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Identity {
    pub fn pair(&self) -> (&[u8], &[u8]) {
        (self.cert_pem.as_bytes(), self.key_pem.as_bytes())
    }
}

impl Pki {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "dicomwire tests");
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_pem = params.self_signed(&key).expect("CA certificate").pem();
        Self {
            ca_pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf valid now for `names` (DNS names or IP addresses), with CN = the first name.
    pub fn leaf(&self, names: &[&str]) -> Identity {
        self.leaf_with(names, |_| {})
    }

    /// A leaf whose parameters `adjust` changes before signing.
    pub fn leaf_with(
        &self,
        names: &[&str],
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Identity {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Clinic");
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        adjust(&mut params);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A leaf that expired in 2001.
    pub fn expired(&self, names: &[&str]) -> Identity {
        self.leaf_with(names, |p| {
            p.not_before = date_time_ymd(2000, 1, 1);
            p.not_after = date_time_ymd(2001, 1, 1);
        })
    }

    /// A leaf valid from 2090.
    pub fn not_yet_valid(&self, names: &[&str]) -> Identity {
        self.leaf_with(names, |p| {
            p.not_before = date_time_ymd(2090, 1, 1);
            p.not_after = date_time_ymd(2091, 1, 1);
        })
    }

    pub fn server_config(&self, id: &Identity, auth: ClientAuth) -> TlsServerConfig {
        TlsServerConfig::new(
            id.cert_pem.as_bytes(),
            id.key_pem.as_bytes(),
            self.ca_pem.as_bytes(),
            auth,
        )
        .expect("server config")
    }

    pub fn client_config(&self, id: Option<&Identity>) -> TlsClientConfig {
        TlsClientConfig::new(self.ca_pem.as_bytes(), id.map(Identity::pair)).expect("client config")
    }
}

/// How ciphertext is handed to the receiving layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Everything in one call.
    Whole,
    /// One byte per call.
    Bytewise,
    /// Chunks of 1..=max bytes from a seeded generator.
    Chunks { seed: u64, max: usize },
}

/// One direction of the pair: ciphertext in flight and what the receiver got.
#[derive(Default)]
pub struct Pipe {
    pub wire: Vec<u8>,
    pub received: Vec<u8>,
    pub failure: Option<TlsFailure>,
}

/// A client and a server layer joined by two pipes.
pub struct Pair {
    pub client: TlsLayer,
    pub server: TlsLayer,
    /// Ciphertext from the client; `received` is the server's plaintext.
    pub to_server: Pipe,
    /// Ciphertext from the server; `received` is the client's plaintext.
    pub to_client: Pipe,
    pub delivery: Delivery,
    rng: u64,
}

/// How the handshake ended on each side.
#[derive(Debug)]
pub struct Outcome {
    pub client: Option<TlsFailure>,
    pub server: Option<TlsFailure>,
}

impl Pair {
    pub fn new(client: TlsLayer, server: TlsLayer) -> Self {
        Self {
            client,
            server,
            to_server: Pipe::default(),
            to_client: Pipe::default(),
            delivery: Delivery::Whole,
            rng: 0,
        }
    }

    pub fn connect(client: &TlsClientConfig, server_name: &str, server: &TlsServerConfig) -> Self {
        Self::new(
            TlsLayer::client(client, server_name).expect("client layer"),
            TlsLayer::server(server).expect("server layer"),
        )
    }

    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        if let Delivery::Chunks { seed, .. } = delivery {
            self.rng = seed | 1;
        }
        self.delivery = delivery;
        self
    }

    fn chunk(&mut self, left: usize) -> usize {
        match self.delivery {
            Delivery::Whole => left,
            Delivery::Bytewise => 1,
            Delivery::Chunks { max, .. } => {
                // xorshift64: deterministic, no dependency.
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                let n = usize::try_from(self.rng % max as u64).expect("small") + 1;
                n.min(left)
            }
        }
    }

    /// Moves ciphertext both ways until nothing moves; returns how many bytes moved.
    pub fn run(&mut self) -> usize {
        let mut moved_total = 0;
        loop {
            let moved = self.step_to_server() + self.step_to_client();
            if moved == 0 {
                return moved_total;
            }
            moved_total += moved;
        }
    }

    /// Runs the handshake (and whatever else is queued) to its end.
    pub fn handshake(&mut self) -> Outcome {
        self.run();
        Outcome {
            client: self.to_client.failure.clone(),
            server: self.to_server.failure.clone(),
        }
    }

    /// Runs the handshake and panics if either side failed.
    pub fn expect_handshake(&mut self) {
        let outcome = self.handshake();
        assert!(
            outcome.client.is_none() && outcome.server.is_none(),
            "handshake failed: {outcome:?}"
        );
        assert!(!self.client.is_handshaking() && !self.server.is_handshaking());
    }

    pub fn step_to_server(&mut self) -> usize {
        let mut wire = std::mem::take(&mut self.to_server.wire);
        self.client.poll_ciphertext(&mut wire);
        let moved = wire.len();
        let mut pipe = std::mem::take(&mut self.to_server);
        self.deliver(&wire, Side::Server, &mut pipe);
        self.to_server = pipe;
        moved
    }

    pub fn step_to_client(&mut self) -> usize {
        let mut wire = std::mem::take(&mut self.to_client.wire);
        self.server.poll_ciphertext(&mut wire);
        let moved = wire.len();
        let mut pipe = std::mem::take(&mut self.to_client);
        self.deliver(&wire, Side::Client, &mut pipe);
        self.to_client = pipe;
        moved
    }

    fn deliver(&mut self, wire: &[u8], to: Side, pipe: &mut Pipe) {
        let mut offset = 0;
        while offset < wire.len() {
            let n = self.chunk(wire.len() - offset);
            let layer = match to {
                Side::Server => &mut self.server,
                Side::Client => &mut self.client,
            };
            match layer.handle_ciphertext(&wire[offset..offset + n]) {
                Ok(taken) => {
                    offset += taken;
                    layer.poll_plaintext(&mut pipe.received);
                    if taken == 0 && layer.peer_closed() {
                        break;
                    }
                }
                Err(failure) => {
                    pipe.failure.get_or_insert(failure);
                    break;
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Client,
    Server,
}
