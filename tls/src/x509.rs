//! Just enough DER to name a peer in logs and identity checks: the subject's distinguished
//! name and the subjectAltName's DNS names and IP addresses of a certificate webpki has
//! already verified. Anything unexpected gives `None`, never a panic.

use std::fmt::Write as _;
use std::net::IpAddr;

/// The peer's end-entity certificate, as far as a log line or an identity check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerCertificate {
    /// The subject distinguished name, in certificate order, e.g. `C=DE, O=Clinic, CN=pacs1`.
    pub subject: String,
    /// The subject's last common name (CN), if it has one.
    pub common_name: Option<String>,
    /// The subjectAltName DNS names.
    pub dns_names: Vec<String>,
    /// The subjectAltName IP addresses.
    pub ip_addresses: Vec<IpAddr>,
    /// The whole certificate, DER-encoded, for checks this summary does not cover.
    pub der: Vec<u8>,
}

impl PeerCertificate {
    /// The fields of a DER certificate, or `None` if it is not one we can read.
    pub(crate) fn parse(der: &[u8]) -> Option<Self> {
        let mut outer = Der(der);
        let mut certificate = Der(outer.expect(SEQUENCE)?);
        let mut tbs = Der(certificate.expect(SEQUENCE)?);
        if tbs.peek() == Some(EXPLICIT_0) {
            tbs.next()?; // version
        }
        tbs.expect(INTEGER)?; // serialNumber
        tbs.expect(SEQUENCE)?; // signature
        tbs.expect(SEQUENCE)?; // issuer
        tbs.expect(SEQUENCE)?; // validity
        let (subject, common_name) = name(tbs.expect(SEQUENCE)?)?;
        tbs.expect(SEQUENCE)?; // subjectPublicKeyInfo
        let mut found = Self {
            subject,
            common_name,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            der: der.to_vec(),
        };
        while let Some((tag, body)) = tbs.next() {
            if tag == EXPLICIT_3 {
                found.read_extensions(Der(body).expect(SEQUENCE)?)?;
            }
        }
        Some(found)
    }

    fn read_extensions(&mut self, extensions: &[u8]) -> Option<()> {
        let mut extensions = Der(extensions);
        while let Some((_, extension)) = extensions.next() {
            let mut extension = Der(extension);
            let oid = extension.expect(OID)?;
            if extension.peek() == Some(BOOLEAN) {
                extension.next()?; // critical
            }
            let value = extension.expect(OCTET_STRING)?;
            if oid == OID_SUBJECT_ALT_NAME {
                let mut names = Der(Der(value).expect(SEQUENCE)?);
                while let Some((tag, body)) = names.next() {
                    match tag {
                        SAN_DNS => self.dns_names.push(String::from_utf8_lossy(body).into()),
                        SAN_IP => {
                            if let Some(ip) = ip(body) {
                                self.ip_addresses.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Some(())
    }

    /// The subjectAltName entries as `DNS:…` and `IP:…`, for logs.
    pub fn alt_names(&self) -> Vec<String> {
        let dns = self.dns_names.iter().map(|n| format!("DNS:{n}"));
        let ips = self.ip_addresses.iter().map(|ip| format!("IP:{ip}"));
        dns.chain(ips).collect()
    }
}

const BOOLEAN: u8 = 0x01;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const EXPLICIT_0: u8 = 0xa0;
const EXPLICIT_3: u8 = 0xa3;
const SAN_DNS: u8 = 0x82;
const SAN_IP: u8 = 0x87;
/// 2.5.29.17
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// A cursor over DER TLVs.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next tag and its contents.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (bytes, rest) = rest.split_at(n);
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest)
        };
        if rest.len() < len {
            return None;
        }
        let (body, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, body))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, body) if t == tag => Some(body),
            _ => None,
        }
    }
}

/// A Name (RDNSequence) as `KEY=value, …`, and its last CN.
fn name(rdns: &[u8]) -> Option<(String, Option<String>)> {
    let mut text = String::new();
    let mut common_name = None;
    let mut rdns = Der(rdns);
    while let Some((SET, rdn)) = rdns.next() {
        let mut rdn = Der(rdn);
        while let Some((SEQUENCE, attribute)) = rdn.next() {
            let mut attribute = Der(attribute);
            let oid = attribute.expect(OID)?;
            let (tag, value) = attribute.next()?;
            let value = string(tag, value);
            if !text.is_empty() {
                text.push_str(", ");
            }
            match attribute_key(oid) {
                Some(key) => {
                    let _ = write!(text, "{key}={value}");
                }
                None => {
                    let _ = write!(text, "{}={value}", dotted(oid));
                }
            }
            if oid == [0x55, 0x04, 0x03] {
                common_name = Some(value);
            }
        }
    }
    Some((text, common_name))
}

fn attribute_key(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        _ => return None,
    })
}

/// An OID in dotted form, for attributes without a short name.
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        }
    }
    let mut text = String::new();
    if let Some((&first, rest)) = arcs.split_first() {
        let (a, b) = match first {
            0..=39 => (0, first),
            40..=79 => (1, first - 40),
            _ => (2, first - 80),
        };
        let _ = write!(text, "{a}.{b}");
        for arc in rest {
            let _ = write!(text, ".{arc}");
        }
    }
    text
}

/// A directory string's text: UTF-8, PrintableString, IA5String as they are, BMPString as
/// UTF-16, TeletexString as Latin-1.
fn string(tag: u8, value: &[u8]) -> String {
    match tag {
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        0x14 => value.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(value).into_owned(),
    }
}

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_oids() {
        assert_eq!(dotted(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
    }

    #[test]
    fn truncated_input_is_none_not_a_panic() {
        assert_eq!(PeerCertificate::parse(&[]), None);
        assert_eq!(PeerCertificate::parse(&[0x30, 0x82, 0xff]), None);
        assert_eq!(PeerCertificate::parse(&[0x30, 0x05, 0x30, 0x03]), None);
        assert_eq!(
            PeerCertificate::parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
    }
}
