//! A test PKI made at run time (no key or certificate is ever committed): a CA and the
//! leaf certificates a test asks for, written as PEM files into a temporary directory
//! that goes with the `Pki`.
//!
//! rcgen makes and signs every certificate. Its keys are ECDSA P-256 ([`Pki::new`]), or
//! RSA 2048 ([`Pki::rsa`]) for peers whose TLS 1.2 suites are ECDHE-RSA only (DCMTK
//! 3.6.7's default profile): rcgen cannot generate RSA keys with ring, so those keys come
//! from `openssl genpkey`, and rcgen signs with them.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};

/// The names a certificate for this machine's loopback peers holds.
pub const LOOPBACK: &[&str] = &["localhost", "127.0.0.1"];

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Leaf {
    /// `--tls-cert CERT --tls-key KEY`.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}

/// A CA issuing certificates for one test.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    rsa: bool,
}

impl Pki {
    /// A CA named `name`, ECDSA P-256 keys.
    pub fn new(name: &str) -> Self {
        Self::make(name, false)
    }

    /// A CA named `name`, RSA 2048 keys (from `openssl`).
    pub fn rsa(name: &str) -> Self {
        Self::make(name, true)
    }

    fn make(name: &str, rsa: bool) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the test PKI");
        let key = new_key(dir.path(), rsa, "ca");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "dicomwire tests");
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_pem = params.self_signed(&key).expect("CA certificate").pem();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, ca_pem).expect("write the CA certificate");
        Self {
            dir,
            ca,
            issuer: Issuer::new(params, key),
            rsa,
        }
    }

    /// The CA certificate's file.
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// The CA certificate's file, as an argument.
    pub fn ca_arg(&self) -> String {
        self.ca.display().to_string()
    }

    /// A leaf valid now for `names` (DNS names or IP addresses), for both TLS server and
    /// client authentication; `label` names its files.
    pub fn leaf(&self, label: &str, names: &[&str]) -> Leaf {
        self.leaf_with(label, names, |_| {})
    }

    /// A leaf that expired in 2001.
    pub fn expired(&self, label: &str, names: &[&str]) -> Leaf {
        self.leaf_with(label, names, |p| {
            p.not_before = date_time_ymd(2000, 1, 1);
            p.not_after = date_time_ymd(2001, 1, 1);
        })
    }

    /// A leaf valid from 2090.
    pub fn not_yet_valid(&self, label: &str, names: &[&str]) -> Leaf {
        self.leaf_with(label, names, |p| {
            p.not_before = date_time_ymd(2090, 1, 1);
            p.not_after = date_time_ymd(2091, 1, 1);
        })
    }

    /// A leaf whose parameters `adjust` changes before signing.
    pub fn leaf_with(
        &self,
        label: &str,
        names: &[&str],
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let key = new_key(self.dir.path(), self.rsa, label);
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
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        adjust(&mut params);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let leaf = Leaf {
            cert: self.dir.path().join(format!("{label}.pem")),
            key: self.dir.path().join(format!("{label}-key.pem")),
        };
        std::fs::write(&leaf.cert, cert.pem()).expect("write a certificate");
        std::fs::write(&leaf.key, key.serialize_pem()).expect("write a key");
        leaf
    }
}

/// A new key: ECDSA P-256 from rcgen, or RSA 2048 from `openssl genpkey` (PKCS#8).
fn new_key(dir: &Path, rsa: bool, label: &str) -> KeyPair {
    if !rsa {
        return KeyPair::generate().expect("an ECDSA key");
    }
    let path = dir.join(format!("{label}-rsa.pem"));
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (for RSA test keys) is missing");
    assert!(status.success(), "openssl genpkey failed");
    let pem = std::fs::read_to_string(&path).expect("read the RSA key");
    KeyPair::from_pem(&pem).expect("rcgen takes the RSA key")
}
