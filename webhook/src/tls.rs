//! The serving certificate: read from PEM files and reloaded when they change, or generated
//! for local use with `--self-signed`. Kubernetes updates a mounted Secret by swapping a
//! symlink, so the files' contents are polled and compared rather than watched for events.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject as _};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config;

/// ALPN names, HTTP/2 preferred (the API server asks for it).
pub const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A zero `--reload-interval` would read the files in a busy loop.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_millis(100);

/// Why no certificate could be served. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: no PEM certificate ({cause})", path.display())]
    Certificate { path: PathBuf, cause: pem::Error },
    #[error("{}: no PEM private key in PKCS#8, PKCS#1 or SEC1 form ({cause})", path.display())]
    Key { path: PathBuf, cause: pem::Error },
    #[error("{}: unusable private key ({cause})", path.display())]
    UnusableKey { path: PathBuf, cause: rustls::Error },
    #[error("{} is not the key of the certificate in {} ({cause})", key.display(), cert.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        cause: rustls::Error,
    },
    #[error("cannot generate a self-signed certificate: {0}")]
    SelfSigned(String),
    #[error("TLS configuration: {0}")]
    Config(rustls::Error),
}

/// Sets up TLS for the webhook listener from `--self-signed` or `--tls-cert`/`--tls-key`.
/// With files, also starts the task that reloads them every `--reload-interval`.
pub fn start(config: &config::Tls) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let resolver = match config {
        config::Tls::SelfSigned => {
            tracing::warn!(
                "serving a throwaway self-signed certificate: for local use only, nothing trusts it"
            );
            Arc::new(CertResolver::new(self_signed(&provider)?))
        }
        config::Tls::Files {
            cert,
            key,
            reload_interval,
        } => {
            let files = CertFiles {
                cert: cert.clone(),
                key: key.clone(),
                provider: provider.clone(),
            };
            let (seen, key) = files.load()?;
            let resolver = Arc::new(CertResolver::new(key));
            tokio::spawn(watch(files, seen, resolver.clone(), *reload_interval));
            resolver
        }
    };
    server_config(resolver, provider)
}

/// The process-wide provider `main` installs, or ring when none is (unit tests).
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

fn server_config(
    resolver: Arc<CertResolver>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Serves the current certificate; [`CertResolver::replace`] swaps it for new handshakes
/// while connections already open keep theirs.
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    pub fn new(key: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(key)),
        }
    }

    pub fn replace(&self, key: CertifiedKey) {
        // A poisoned lock still holds a whole key: swaps are a single assignment.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

// Not derived: the key stays out of logs, whatever its own `Debug` prints.
impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver").finish_non_exhaustive()
    }
}

/// The `--tls-cert` and `--tls-key` files.
struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
}

/// The files' contents, compared to notice a change. No `Debug`: it holds the private key.
#[derive(PartialEq, Eq)]
struct Pems {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl CertFiles {
    fn load(&self) -> Result<(Pems, CertifiedKey), TlsError> {
        let pems = self.read()?;
        let key = self.parse(&pems)?;
        Ok((pems, key))
    }

    fn read(&self) -> Result<Pems, TlsError> {
        Ok(Pems {
            cert: read(&self.cert)?,
            key: read(&self.key)?,
        })
    }

    fn parse(&self, pems: &Pems) -> Result<CertifiedKey, TlsError> {
        let chain = chain(&pems.cert).map_err(|cause| TlsError::Certificate {
            path: self.cert.clone(),
            cause,
        })?;
        let key = PrivateKeyDer::from_pem_slice(&pems.key).map_err(|cause| TlsError::Key {
            path: self.key.clone(),
            cause,
        })?;
        certified_key(chain, key, &self.provider).map_err(|e| match e {
            KeyError::Unusable(cause) => TlsError::UnusableKey {
                path: self.key.clone(),
                cause,
            },
            KeyError::Mismatch(cause) => TlsError::Mismatch {
                cert: self.cert.clone(),
                key: self.key.clone(),
                cause,
            },
        })
    }

    /// Rebuilds the certificate when either file changed since `seen`; on failure the
    /// previous certificate stays in force.
    fn refresh(&self, seen: &mut Pems, resolver: &CertResolver) {
        let pems = match self.read() {
            Ok(pems) => pems,
            Err(e) => {
                tracing::error!(error = %e, "keeping the previous certificate");
                return;
            }
        };
        if pems == *seen {
            return;
        }
        match self.parse(&pems) {
            Ok(key) => {
                resolver.replace(key);
                tracing::info!(cert = %self.cert.display(), "serving certificate reloaded");
            }
            Err(e) => tracing::error!(error = %e, "keeping the previous certificate"),
        }
        // A broken pair is reported once, not on every tick; fixing either file retries.
        *seen = pems;
    }
}

/// Every certificate in `pem`, leaf first; at least one.
fn chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, pem::Error> {
    let chain = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if chain.is_empty() {
        return Err(pem::Error::NoItemsFound);
    }
    Ok(chain)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|cause| TlsError::Read {
        path: path.to_path_buf(),
        cause,
    })
}

/// Checks the files every `every`, for the life of the process.
async fn watch(files: CertFiles, mut seen: Pems, resolver: Arc<CertResolver>, every: Duration) {
    let every = every.max(MIN_RELOAD_INTERVAL);
    loop {
        tokio::time::sleep(every).await;
        files.refresh(&mut seen, &resolver);
    }
}

/// Why a key does not serve a certificate chain.
enum KeyError {
    Unusable(rustls::Error),
    Mismatch(rustls::Error),
}

fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, KeyError> {
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(KeyError::Unusable)?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(KeyError::Mismatch)?;
    Ok(certified)
}

/// A certificate for this machine's loopback names (and `$HOSTNAME`), signed by its own key.
fn self_signed(provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(std::env::var("HOSTNAME").ok().filter(|h| is_dns_name(h)));
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::SelfSigned(e.to_string()))?;
    let key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    certified_key(vec![generated.cert.der().clone()], key, provider).map_err(|e| {
        let (KeyError::Unusable(cause) | KeyError::Mismatch(cause)) = e;
        TlsError::SelfSigned(cause.to_string())
    })
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair {
        cert: String,
        key: String,
        der: CertificateDer<'static>,
    }

    fn generate(name: &str) -> Pair {
        let generated =
            rcgen::generate_simple_self_signed(vec![name.to_owned()]).expect("rcgen generates");
        Pair {
            cert: generated.cert.pem(),
            key: generated.signing_key.serialize_pem(),
            der: generated.cert.der().clone(),
        }
    }

    fn files_in(dir: &Path) -> CertFiles {
        CertFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            provider: provider(),
        }
    }

    fn write(files: &CertFiles, cert: &str, key: &str) {
        std::fs::write(&files.cert, cert).expect("cert written");
        std::fs::write(&files.key, key).expect("key written");
    }

    fn served(resolver: &CertResolver) -> CertificateDer<'static> {
        resolver.current().cert[0].clone()
    }

    #[test]
    fn loads_a_pkcs8_key_and_its_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = files_in(dir.path());
        let pair = generate("a.test");
        write(&files, &pair.cert, &pair.key);
        let (_, key) = files.load().expect("pair loads");
        assert_eq!(key.cert, vec![pair.der]);
    }

    #[test]
    fn names_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = files_in(dir.path());
        let error = files.load().err().expect("missing files fail").to_string();
        assert!(error.starts_with("cannot read "), "{error}");
        assert!(error.contains("tls.crt"), "{error}");
    }

    #[test]
    fn names_a_file_without_a_certificate_or_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = files_in(dir.path());
        let pair = generate("a.test");
        write(&files, "not pem\n", &pair.key);
        let error = files.load().err().expect("no certificate").to_string();
        assert!(error.contains("tls.crt: no PEM certificate"), "{error}");
        write(&files, &pair.cert, &pair.cert);
        let error = files.load().err().expect("no key").to_string();
        assert!(error.contains("tls.key: no PEM private key"), "{error}");
    }

    #[test]
    fn refuses_a_key_that_is_not_the_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = files_in(dir.path());
        let (one, other) = (generate("a.test"), generate("b.test"));
        write(&files, &one.cert, &other.key);
        let error = files.load().err().expect("mismatch fails");
        assert!(matches!(error, TlsError::Mismatch { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("is not the key of the certificate in")
        );
    }

    #[test]
    fn refresh_swaps_in_changed_files_and_keeps_the_old_pair_when_broken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = files_in(dir.path());
        let (first, second, third) = (generate("a.test"), generate("b.test"), generate("c.test"));
        write(&files, &first.cert, &first.key);
        let (mut seen, key) = files.load().expect("first pair loads");
        let resolver = CertResolver::new(key);

        write(&files, &second.cert, &second.key);
        files.refresh(&mut seen, &resolver);
        assert_eq!(served(&resolver), second.der);

        write(&files, &third.cert, &first.key);
        files.refresh(&mut seen, &resolver);
        assert_eq!(
            served(&resolver),
            second.der,
            "a mismatched pair is not served"
        );

        std::fs::write(&files.key, &third.key).expect("key written");
        files.refresh(&mut seen, &resolver);
        assert_eq!(served(&resolver), third.der, "fixing one file is enough");
    }

    #[test]
    fn self_signed_certificate_matches_its_key() {
        let key = self_signed(&provider()).expect("generated");
        assert_eq!(key.cert.len(), 1);
        key.keys_match().expect("key matches");
    }

    #[test]
    fn offers_h2_then_http1() {
        let key = self_signed(&provider()).expect("generated");
        let config = server_config(Arc::new(CertResolver::new(key)), provider()).expect("config");
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
