//! TLS material for every TLS link of the system: the terminal host, the acquirer connectors and
//! the simulators.
//!
//! [`server_config`] and [`client_config`] turn PEM files into rustls configurations (with
//! optional or required client certificates on the server side, and a private CA on the client
//! side). [`DevPki`] generates a throw-away certificate authority and leaf certificates for tests,
//! the demo and local runs — never for production, where certificates come from the operator's
//! PKI. The crypto provider is `ring`, fixed here once for the whole system.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no {what} in PEM form")]
    Missing { path: PathBuf, what: &'static str },
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: certificate {index} is not X.509 DER: {problem}")]
    Certificate { path: PathBuf, index: usize, problem: String },
}

/// When one certificate of a PEM file stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateExpiry {
    /// The subject's distinguished name, e.g. `CN=pos.city.example`.
    pub subject: String,
    /// `notAfter`, in seconds since the Unix epoch.
    pub not_after_unix: i64,
}

/// The expiry of every certificate in a PEM file (a leaf and its chain, or a CA bundle), for the
/// "certificate expires soon" alert.
pub fn certificate_expiries(path: &Path) -> Result<Vec<CertificateExpiry>, TlsError> {
    let pem = read(path)?;
    certificates_from_pem(&pem, path)?
        .iter()
        .enumerate()
        .map(|(index, der)| {
            let (_, certificate) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|error| {
                TlsError::Certificate { path: path.to_path_buf(), index, problem: error.to_string() }
            })?;
            Ok(CertificateExpiry {
                subject: certificate.subject().to_string(),
                not_after_unix: certificate.validity().not_after.timestamp(),
            })
        })
        .collect()
}

/// Whether a TLS server asks its clients for certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    /// Verified when presented; a client without one is still served.
    Optional,
    Required,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

pub fn certificates_from_pem(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?;
    if certificates.is_empty() {
        return Err(TlsError::Missing { path: path.to_path_buf(), what: "certificate" });
    }
    Ok(certificates)
}

pub fn private_key_from_pem(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?
        .ok_or_else(|| TlsError::Missing { path: path.to_path_buf(), what: "private key" })
}

fn root_store(ca_pem: &[u8], path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates_from_pem(ca_pem, path)? {
        roots.add(certificate)?;
    }
    Ok(roots)
}

/// A server configuration from PEM bytes (certificate chain, key, and the CA that signs client
/// certificates when clients authenticate).
pub fn server_config_from_pem(
    chain: &[u8],
    key: &[u8],
    client_ca: Option<&[u8]>,
    client_auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_revoking(chain, key, client_ca, &[], client_auth)
}

/// Certificate revocation lists in PEM form (`-----BEGIN X509 CRL-----`).
pub fn crls_from_pem(pem: &[u8], path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let crls: Vec<_> = rustls_pemfile::crls(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?;
    if crls.is_empty() {
        return Err(TlsError::Missing { path: path.to_path_buf(), what: "certificate revocation list" });
    }
    Ok(crls)
}

/// As [`server_config_from_pem`], refusing client certificates that these revocation lists (of
/// the client CA) name: a terminal taken out of service, a lost certificate.
pub fn server_config_revoking(
    chain: &[u8],
    key: &[u8],
    client_ca: Option<&[u8]>,
    crls: &[CertificateRevocationListDer<'static>],
    client_auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let label = Path::new("<pem>");
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match (client_auth, client_ca) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(ca)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(ca, label)?), provider())
                .with_crls(crls.iter().cloned());
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated().build()?
            } else {
                verifier.build()?
            };
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(Arc::new(builder.with_single_cert(certificates_from_pem(chain, label)?, private_key_from_pem(key, label)?)?))
}

/// A server configuration from PEM files.
pub fn server_config(
    chain: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    client_auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_files(chain, key, client_ca, &[], client_auth)
}

/// As [`server_config`], with revocation lists of the client CA (PEM files).
pub fn server_config_files(
    chain: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    crl_files: &[PathBuf],
    client_auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let ca = client_ca.map(read).transpose()?;
    let mut crls = Vec::new();
    for file in crl_files {
        crls.extend(crls_from_pem(&read(file)?, file)?);
    }
    server_config_revoking(&read(chain)?, &read(key)?, ca.as_deref(), &crls, client_auth)
        .map_err(|error| relabel(error, chain))
}

/// A client configuration trusting the CA in `ca_pem`, with an optional client certificate.
pub fn client_config_from_pem(
    ca_pem: &[u8],
    identity: Option<(&[u8], &[u8])>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let label = Path::new("<pem>");
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(ca_pem, label)?);
    let config = match identity {
        Some((chain, key)) => {
            builder.with_client_auth_cert(certificates_from_pem(chain, label)?, private_key_from_pem(key, label)?)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A client configuration from PEM files.
pub fn client_config(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let identity = identity.map(|(chain, key)| Ok::<_, TlsError>((read(chain)?, read(key)?))).transpose()?;
    client_config_from_pem(&read(ca)?, identity.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())))
        .map_err(|error| relabel(error, ca))
}

fn relabel(error: TlsError, path: &Path) -> TlsError {
    match error {
        TlsError::Missing { what, .. } => TlsError::Missing { path: path.to_path_buf(), what },
        other => other,
    }
}

/// The URI a terminal's certificate carries in its subject alternative name.
pub const TERMINAL_URI_PREFIX: &str = "urn:pos:terminal:";

/// `urn:pos:terminal:<id>`.
pub fn terminal_uri(terminal_id: &str) -> String {
    format!("{TERMINAL_URI_PREFIX}{terminal_id}")
}

/// Why a certificate names no terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminalIdentityError {
    #[error("the certificate could not be read: {0}")]
    Unreadable(String),
    #[error("the certificate names no terminal (no subject alternative name {TERMINAL_URI_PREFIX}<id>)")]
    NoTerminal,
    #[error("the certificate names more than one terminal")]
    SeveralTerminals,
}

/// The terminal id a (verified) client certificate names: its one `urn:pos:terminal:<id>` URI.
pub fn terminal_id_of(certificate: &CertificateDer<'_>) -> Result<String, TerminalIdentityError> {
    use x509_parser::prelude::*;
    let (_, parsed) = X509Certificate::from_der(certificate.as_ref())
        .map_err(|e| TerminalIdentityError::Unreadable(e.to_string()))?;
    let names = parsed
        .subject_alternative_name()
        .map_err(|e| TerminalIdentityError::Unreadable(e.to_string()))?
        .map(|extension| extension.value.general_names.clone())
        .unwrap_or_default();
    let mut terminals = names.iter().filter_map(|name| match name {
        GeneralName::URI(uri) => uri.strip_prefix(TERMINAL_URI_PREFIX).map(str::to_string),
        _ => None,
    });
    let first = terminals.next().ok_or(TerminalIdentityError::NoTerminal)?;
    if terminals.next().is_some() {
        return Err(TerminalIdentityError::SeveralTerminals);
    }
    Ok(first)
}

/// A random positive 16-byte certificate serial number (RFC 5280 allows up to 20 octets).
fn random_serial() -> Vec<u8> {
    let mut serial: Vec<u8> = (0..16).map(|_| rand_byte()).collect();
    serial[0] &= 0x7F;
    serial[0] |= 0x01;
    serial
}

/// A byte from the operating system's generator, through the same ring the TLS stack uses.
fn rand_byte() -> u8 {
    use ring::rand::SecureRandom;
    let mut byte = [0u8; 1];
    // A failing system generator is not something to sign certificates with.
    ring::rand::SystemRandom::new().fill(&mut byte).expect("the system's random generator works");
    byte[0]
}

/// A development PKI: one CA and the leaf certificates signed by it, as PEM.
pub struct DevPki {
    ca: rcgen::CertifiedKey,
}

/// A leaf certificate and its key, as PEM.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub chain_pem: String,
    pub key_pem: String,
    /// The certificate's serial number (what a revocation list names).
    pub serial: Vec<u8>,
}

impl DevPki {
    pub fn new(name: &str) -> Result<DevPki, TlsError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key_pair = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key_pair)?;
        Ok(DevPki { ca: rcgen::CertifiedKey { cert, key_pair } })
    }

    pub fn ca_pem(&self) -> String {
        self.ca.cert.pem()
    }

    /// A server certificate for these DNS names or IP addresses.
    pub fn server(&self, names: &[&str]) -> Result<Leaf, TlsError> {
        self.leaf(names, rcgen::ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (a gateway node, a counter) with this common name.
    pub fn client(&self, name: &str) -> Result<Leaf, TlsError> {
        self.leaf(&[name], rcgen::ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A payment terminal's client certificate: its id as the URI `urn:pos:terminal:<id>` in the
    /// subject alternative name (PROTOCOLS.md §1), and as the common name for people reading it.
    pub fn terminal(&self, terminal_id: &str) -> Result<Leaf, TlsError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("terminal {terminal_id}"));
        let uri = rcgen::Ia5String::try_from(terminal_uri(terminal_id))?;
        params.subject_alt_names = vec![rcgen::SanType::URI(uri)];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let serial = random_serial();
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let key_pair = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key_pair, &self.ca.cert, &self.ca.key_pair)?;
        Ok(Leaf { chain_pem: cert.pem(), key_pem: key_pair.serialize_pem(), serial })
    }

    /// A client configuration for a terminal: trusts this CA, presents the terminal's certificate.
    pub fn terminal_client(&self, terminal_id: &str) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let leaf = self.terminal(terminal_id)?;
        client_config_from_pem(self.ca_pem().as_bytes(), Some((leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes())))
    }

    /// A server configuration for `names` that requires client certificates of this CA (the
    /// terminal host of a test or demo).
    pub fn server_requiring_clients(&self, names: &[&str]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let leaf = self.server(names)?;
        server_config_from_pem(
            leaf.chain_pem.as_bytes(),
            leaf.key_pem.as_bytes(),
            Some(self.ca_pem().as_bytes()),
            ClientAuth::Required,
        )
    }

    /// A revocation list of this CA naming the certificates with these serial numbers (PEM).
    pub fn revocation_list(&self, serials: &[Vec<u8>]) -> Result<String, TlsError> {
        let now = time::OffsetDateTime::now_utc();
        let params = rcgen::CertificateRevocationListParams {
            this_update: now,
            next_update: now + std::time::Duration::from_secs(7 * 24 * 3600),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(serial),
                    revocation_time: now,
                    reason_code: Some(rcgen::RevocationReason::CessationOfOperation),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.ca.cert, &self.ca.key_pair)?.pem()?)
    }

    /// Writes a terminal's certificate and key into `dir` as `terminal-<id>.crt` and `.key`.
    pub fn write_terminal(&self, dir: &Path, terminal_id: &str) -> Result<(), TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Read { path: dir.to_path_buf(), source })?;
        let leaf = self.terminal(terminal_id)?;
        for (file, content) in [
            (format!("terminal-{terminal_id}.crt"), leaf.chain_pem),
            (format!("terminal-{terminal_id}.key"), leaf.key_pem),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, content).map_err(|source| TlsError::Read { path, source })?;
        }
        Ok(())
    }

    fn leaf(&self, names: &[&str], usage: rcgen::ExtendedKeyUsagePurpose) -> Result<Leaf, TlsError> {
        let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(rcgen::DnType::CommonName, *first);
        }
        params.extended_key_usages = vec![usage];
        let serial = random_serial();
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let key_pair = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key_pair, &self.ca.cert, &self.ca.key_pair)?;
        Ok(Leaf { chain_pem: cert.pem(), key_pem: key_pair.serialize_pem(), serial })
    }

    /// Writes the CA and a server leaf for `names` into `dir` as `ca.crt`, `<stem>.crt`,
    /// `<stem>.key`.
    pub fn write_server(&self, dir: &Path, stem: &str, names: &[&str]) -> Result<(), TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Read { path: dir.to_path_buf(), source })?;
        let leaf = self.server(names)?;
        for (file, content) in [
            ("ca.crt".to_string(), self.ca_pem()),
            (format!("{stem}.crt"), leaf.chain_pem),
            (format!("{stem}.key"), leaf.key_pem),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, content).map_err(|source| TlsError::Read { path, source })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn certificate_expiries_are_read_from_a_pem_chain() {
        let dir = std::env::temp_dir().join(format!("pos-tls-expiry-{}", std::process::id()));
        let pki = super::DevPki::new("expiry test CA").expect("CA");
        let mut params = rcgen::CertificateParams::new(vec!["pos.city.example".to_string()]).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "pos.city.example");
        params.not_after = rcgen::date_time_ymd(2031, 3, 31);
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = params.signed_by(&key, &pki.ca.cert, &pki.ca.key_pair).expect("leaf");
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("chain.crt");
        std::fs::write(&file, format!("{}{}", leaf.pem(), pki.ca_pem())).expect("write");
        let expiries = super::certificate_expiries(&file).expect("read");
        assert_eq!(expiries.len(), 2);
        assert_eq!(expiries[0].subject, "CN=pos.city.example");
        // 2031-03-31T00:00:00Z
        assert_eq!(expiries[0].not_after_unix, 1_932_681_600);
        assert_eq!(expiries[1].subject, "CN=expiry test CA");
        std::fs::write(&file, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
        assert!(matches!(super::certificate_expiries(&file), Err(super::TlsError::Certificate { index: 0, .. })));
        std::fs::remove_dir_all(&dir).ok();
    }

    use super::*;

    #[test]
    fn dev_pki_makes_working_configurations() {
        let pki = DevPki::new("test CA").unwrap();
        let server = pki.server(&["localhost", "127.0.0.1"]).unwrap();
        let client = pki.client("T0010101").unwrap();
        let ca = pki.ca_pem();
        assert!(server_config_from_pem(
            server.chain_pem.as_bytes(),
            server.key_pem.as_bytes(),
            Some(ca.as_bytes()),
            ClientAuth::Required
        )
        .is_ok());
        assert!(server_config_from_pem(server.chain_pem.as_bytes(), server.key_pem.as_bytes(), None, ClientAuth::None)
            .is_ok());
        assert!(client_config_from_pem(ca.as_bytes(), Some((client.chain_pem.as_bytes(), client.key_pem.as_bytes())))
            .is_ok());
    }

    #[test]
    fn a_terminal_certificate_names_its_terminal_and_only_it() {
        let pki = DevPki::new("test CA").unwrap();
        let terminal = pki.terminal("10010101").unwrap();
        let der = certificates_from_pem(terminal.chain_pem.as_bytes(), Path::new("t.crt")).unwrap();
        assert_eq!(terminal_id_of(&der[0]).unwrap(), "10010101");
        let other = pki.client("counter-r0101").unwrap();
        let der = certificates_from_pem(other.chain_pem.as_bytes(), Path::new("c.crt")).unwrap();
        assert_eq!(terminal_id_of(&der[0]).unwrap_err(), TerminalIdentityError::NoTerminal);
        assert!(matches!(
            terminal_id_of(&CertificateDer::from(vec![0x30, 0x01])),
            Err(TerminalIdentityError::Unreadable(_))
        ));
    }

    #[test]
    fn missing_pem_content_is_named() {
        let error = certificates_from_pem(b"not pem", Path::new("x.crt")).unwrap_err();
        assert_eq!(error.to_string(), "x.crt holds no certificate in PEM form");
    }
}
