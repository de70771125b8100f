//! TLS with rustls (ring as the cryptography provider; never OpenSSL), TLS 1.2 and 1.3
//! only.
//!
//! * [`ClientTls`]: the trust of every outbound connection (webhooks, chat webhooks, the
//!   Twilio-compatible API, SMTP): Mozilla's root certificates (webpki-roots, built into
//!   the binary, so a container without a system store trusts the same servers) plus the
//!   certificates of `serve --ca-file` (a PEM bundle, for private CAs).
//! * [`server_config`]: `serve --tls-cert/--tls-key`, with HTTP/2 and HTTP/1.1 offered by
//!   ALPN.

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// TLS 1.3 and 1.2; rustls has nothing older.
static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// ring, as reqwest and lettre are built with here. rustls 0.23.48 deprecates it for lacking
/// the post-quantum key exchange (X25519MLKEM768) that its aws-lc-rs provider has; aws-lc-rs
/// is a large C build (and a CMake one on some targets), so ring stays until that trade is
/// made for all three at once.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The trust of outbound connections. Cloning shares it.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    /// The `--ca-file` certificates, also handed to lettre (which builds its own config).
    extra: Arc<Vec<CertificateDer<'static>>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").field("extra_roots", &self.extra.len()).finish()
    }
}

impl Default for ClientTls {
    /// Mozilla's roots only.
    fn default() -> Self {
        ClientTls::with_roots(Vec::new()).expect("the built-in roots make a configuration")
    }
}

impl ClientTls {
    /// The built-in roots plus, when given, every certificate of a PEM bundle.
    pub fn from_ca_file(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            None => Ok(ClientTls::default()),
            Some(path) => {
                let certs = read_certs(path).with_context(|| format!("--ca-file {}", path.display()))?;
                ClientTls::with_roots(certs).with_context(|| format!("--ca-file {}", path.display()))
            }
        }
    }

    fn with_roots(extra: Vec<CertificateDer<'static>>) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in &extra {
            roots.add(cert.clone()).context("a certificate of the CA file is not a usable trust anchor")?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ClientTls { config: Arc::new(config), extra: Arc::new(extra) })
    }

    /// The `--ca-file` certificates (empty without one).
    pub fn extra_roots(&self) -> &[CertificateDer<'static>] {
        &self.extra
    }

    /// A reqwest client builder that uses this trust (and only TLS 1.2 or newer).
    pub fn http_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder().use_preconfigured_tls((*self.config).clone())
    }
}

/// Every certificate of a PEM file; an error when there is none.
fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("cannot read it: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        anyhow::bail!("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    Ok(certs)
}

/// The configuration of `serve --tls-cert CERT --tls-key KEY`: the certificate chain
/// (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1), TLS 1.2 and 1.3, ALPN `h2`
/// then `http/1.1`.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = read_certs(cert).with_context(|| format!("--tls-cert {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("--tls-key {}: no PEM private key could be read: {e}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("--tls-cert and --tls-key do not make a usable certificate (does the key match it?)")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// An error with its causes (`error sending request: … : dns error: … refused`), since the
/// top of reqwest's and lettre's errors rarely says what went wrong.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_ca_files_are_errors() {
        assert!(ClientTls::from_ca_file(Some(Path::new("/nonexistent/ca.pem"))).is_err());
        let dir = std::env::temp_dir().join(format!("openwelkin-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let err = ClientTls::from_ca_file(Some(&empty)).unwrap_err();
        assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");
        std::fs::remove_dir_all(dir).unwrap();
        assert!(ClientTls::default().extra_roots().is_empty());
    }
}
