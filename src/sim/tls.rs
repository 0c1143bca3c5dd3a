//! TLS for the simulator: a throwaway certificate authority made at start (rcgen, ECDSA P-256)
//! and a server certificate it issues, served with rustls on the aws-lc-rs provider (the one
//! reqwest already uses, so there is one crypto backend).
//!
//! Nothing here is kept: the CA key lives only in memory while the certificates are made, and a
//! client trusts the simulator only through the CA certificate it is given (`ca_file`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

/// The names the default server certificate is for: every way a client reaches the loopback.
pub const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// How the simulator serves TLS (see [`crate::sim::Simulator::start_tls`]).
#[derive(Clone, Debug)]
pub struct Tls {
    /// The names the server certificate is for: IP addresses or DNS names.
    pub names: Vec<String>,
    /// Where to write the CA certificate (PEM, mode 0600, replaced atomically) once it is
    /// made; [`crate::sim::Simulator::profiles`] name it as every profile's `ca_file`.
    pub ca_file: Option<PathBuf>,
}

impl Tls {
    /// A certificate for [`LOOPBACK_NAMES`], the CA written where
    /// [`crate::sim::Simulator::start_tls`] chooses (a private temp folder).
    pub fn loopback() -> Tls {
        Tls {
            names: LOOPBACK_NAMES.iter().map(|n| n.to_string()).collect(),
            ca_file: None,
        }
    }

    /// The same, with the CA written to `path`.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Tls {
        self.ca_file = Some(path.into());
        self
    }
}

/// The made certificates, ready to serve.
#[derive(Clone)]
pub struct Ready {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// Handshakes with the server certificate.
    pub acceptor: TlsAcceptor,
}

/// Makes a CA and a server certificate for `names` it signs, and writes the CA where asked.
/// Slow-ish (two key pairs and two signatures): run off the first-frame path.
pub fn make(tls: &Tls) -> Result<Ready, String> {
    let fail = |what: &str, e: rcgen::Error| format!("cannot make the {what}: {e}");
    let ca_key = KeyPair::generate().map_err(|e| fail("CA key", e))?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "rekey simulator throwaway CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| fail("CA", e))?;
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf =
        CertificateParams::new(tls.names.clone()).map_err(|e| fail("server certificate", e))?;
    leaf.distinguished_name
        .push(DnType::CommonName, "rekey simulator");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(|e| fail("server key", e))?;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| fail("server certificate", e))?;

    let key = pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![leaf_cert.der().clone()], key)
        })
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let ca_pem = ca_cert.pem();
    if let Some(path) = &tls.ca_file {
        write_ca(path, &ca_pem)
            .map_err(|e| format!("cannot write the CA certificate to {}: {e}", path.display()))?;
    }
    Ok(Ready {
        ca_pem,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

/// Writes `pem` to `path` (0600) through a temp file in the same folder and a rename, so a
/// reader never sees half a file.
fn write_ca(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (tmp, mut file) = crate::fsutil::create_temp(dir, ".rekey-ca-", ".tmp")?;
    let written = file
        .write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_ca_and_a_server_certificate_for_the_loopback() {
        let dir = std::env::temp_dir().join(format!("rekey-tls-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("ca.pem");
        let ready = make(&Tls::loopback().with_ca_file(&path)).expect("made");
        assert!(ready.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("written"),
            ready.ca_pem
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_name_that_is_no_name_is_an_error_not_a_panic() {
        let tls = Tls {
            names: vec!["caf\u{e9}.example".into()],
            ca_file: None,
        };
        assert!(make(&tls).is_err());
    }
}
