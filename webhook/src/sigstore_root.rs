//! The default Sigstore trusted root of `serve`: the root of keyless requirements that name no
//! `trustedRootSecret`, refreshed from a standard TUF repository (Sigstore's, by default) at
//! start and then every `--sigstore-tuf-refresh`. TUF here is the standard specification,
//! handled by `tough`; Notary v1's dialect is the core's own (`core/src/notary`).
//!
//! A fetched `trusted_root.json` replaces the current root only once TUF verified it (signed
//! metadata chained to the initial TUF root, within its length and hashes) and the core parsed
//! it; on any failure the last good root stays (at first the snapshot compiled into the core),
//! a warning says why, and the metrics count it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::StreamExt as _;
use reqwest::{StatusCode, Url};
use tough::{
    ExpirationEnforcement, Limits, RepositoryLoader, TargetName, Transport, TransportError,
    TransportErrorKind, TransportStream,
};

use portieris_core::sigstore::TrustedRoot;

/// Sigstore's production TUF root (`root.json`) as sigstore-python 4.5.1 ships it
/// (`scripts/vectors-sigstore.sh` refreshes it): where the chain of trust to the repository's
/// current metadata starts. Its expiry does not matter: TUF updates the root first.
pub const SIGSTORE_TUF_ROOT: &[u8] = include_bytes!("sigstore-tuf.root.json");

/// Sigstore's public-good TUF repository.
pub const DEFAULT_TUF_URL: &str = "https://tuf-repo-cdn.sigstore.dev";

/// The TUF target holding the trusted root.
pub const TARGET: &str = "trusted_root.json";

/// Bounds on what one refresh fetches: each file (metadata or target), the root rotations
/// followed, and the whole refresh.
const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
const MAX_ROOT_UPDATES: u64 = 64;
const MAX_REFRESH_TIME: Duration = Duration::from_secs(120);

/// How soon a failed refresh is tried again (when `--sigstore-tuf-refresh` is longer).
pub const RETRY: Duration = Duration::from_secs(15 * 60);

/// The default root in force, shared by the refresher (which installs) and the admitter
/// (which reads it per request: an `Arc` clone under a read lock).
#[derive(Debug, Clone, Default)]
pub struct DefaultRoot(Arc<RwLock<Option<Arc<[u8]>>>>);

impl DefaultRoot {
    /// The last root installed; `None` until one is (the core then uses its snapshot).
    pub fn current(&self) -> Option<Arc<[u8]>> {
        self.0
            .read()
            .map_or_else(|e| e.into_inner().clone(), |root| root.clone())
    }

    fn install(&self, json: Arc<[u8]>) {
        match self.0.write() {
            Ok(mut root) => *root = Some(json),
            Err(e) => *e.into_inner() = Some(json),
        }
    }
}

/// Where the trusted root is refreshed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TufSource {
    /// The repository: metadata at its top, targets under `targets/`.
    pub url: String,
    /// The initial TUF `root.json` (its keys are what the repository must be signed by).
    pub root: Vec<u8>,
    /// Deadline for each HTTP request.
    pub timeout: Duration,
    /// Extra PEM CA certificates for HTTPS (as for registries).
    pub ca_file: Option<PathBuf>,
}

/// Why a refresh did not install a root.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("setting up the TUF client: {0}")]
    Setup(String),
    #[error("TUF repository {url}: {detail}")]
    Tuf { url: String, detail: String },
    #[error("TUF repository {url} has no target {TARGET}")]
    NoTarget { url: String },
    #[error("the {TARGET} of TUF repository {url} is not a usable trusted root: {detail}")]
    Unusable { url: String, detail: String },
    #[error("refreshing from TUF repository {url} took more than {seconds} s")]
    Timeout { url: String, seconds: u64 },
}

/// Refreshes a [`DefaultRoot`] from a [`TufSource`].
#[derive(Debug, Clone)]
pub struct Refresher {
    source: TufSource,
    metadata: Url,
    targets: Url,
    transport: HttpTransport,
    root: DefaultRoot,
}

impl Refresher {
    pub fn new(source: TufSource, root: DefaultRoot) -> Result<Self, RefreshError> {
        let base = source.url.trim_end_matches('/');
        let parse = |text: String| {
            crate::fetch::parse_url(&text).map_err(|e| RefreshError::Setup(e.to_string()))
        };
        let metadata = parse(format!("{base}/"))?;
        // TUF repositories are public: credentials in the URL would only end up in the logs.
        if !metadata.username().is_empty() || metadata.password().is_some() {
            return Err(RefreshError::Setup(format!(
                "the TUF repository URL {} has user info; none is sent",
                crate::fetch::redact(&metadata)
            )));
        }
        let targets = parse(format!("{base}/targets/"))?;
        let transport = HttpTransport::new(source.timeout, source.ca_file.as_deref())?;
        Ok(Self {
            source,
            metadata,
            targets,
            transport,
            root,
        })
    }

    /// One refresh: the target fetched, verified and parsed, then installed. Counted in the
    /// metrics either way.
    pub async fn refresh(&self) -> Result<(), RefreshError> {
        let outcome = match tokio::time::timeout(MAX_REFRESH_TIME, self.fetch()).await {
            Ok(fetched) => fetched,
            Err(_) => Err(RefreshError::Timeout {
                url: self.source.url.clone(),
                seconds: MAX_REFRESH_TIME.as_secs(),
            }),
        };
        match outcome {
            Ok(json) => {
                self.root.install(json);
                COUNTS.ok.fetch_add(1, Ordering::Relaxed);
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                COUNTS.last_success.store(now, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                COUNTS.error.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Arc<[u8]>, RefreshError> {
        let url = || self.source.url.clone();
        let tuf = |e: tough::error::Error| RefreshError::Tuf {
            url: url(),
            detail: e.to_string(),
        };
        // Without a datastore tough keeps its metadata in a temporary folder of its own.
        let repository = RepositoryLoader::new(
            &self.source.root,
            self.metadata.clone(),
            self.targets.clone(),
        )
        .transport(self.transport.clone())
        .limits(Limits {
            max_root_size: MAX_FILE_BYTES as u64,
            max_targets_size: MAX_FILE_BYTES as u64,
            max_timestamp_size: MAX_FILE_BYTES as u64,
            max_snapshot_size: MAX_FILE_BYTES as u64,
            max_root_updates: MAX_ROOT_UPDATES,
        })
        .expiration_enforcement(ExpirationEnforcement::Safe)
        .load()
        .await
        .map_err(tuf)?;
        let name = TargetName::new(TARGET).map_err(tuf)?;
        let Some(mut stream) = repository.read_target(&name).await.map_err(tuf)? else {
            return Err(RefreshError::NoTarget { url: url() });
        };
        // tough checks the length and hashes the targets metadata signs as it streams.
        let mut json = Vec::new();
        while let Some(chunk) = stream.next().await {
            json.extend_from_slice(&chunk.map_err(tuf)?);
        }
        TrustedRoot::parse(&json).map_err(|e| RefreshError::Unusable {
            url: url(),
            detail: e.to_string(),
        })?;
        Ok(Arc::from(json))
    }

    /// Refreshes now, then every `every` (give or take a tenth, so that replicas spread
    /// out), for as long as the process runs. A failure is logged and tried again sooner
    /// (after [`RETRY`] at most); the root in force stays.
    pub async fn run(self, every: Duration) {
        loop {
            let next = match self.refresh().await {
                Ok(()) => {
                    tracing::info!(url = %self.source.url, "Sigstore trusted root refreshed from TUF");
                    every
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "Sigstore trusted root not refreshed; the last good root stays in force"
                    );
                    every.min(RETRY)
                }
            };
            tokio::time::sleep(jittered(next)).await;
        }
    }
}

/// `every` ± up to 10 %, from the clock's nanoseconds (spreading, not security).
fn jittered(every: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let spread = every / 10;
    let offset = spread.mul_f64(f64::from(nanos % 2001) / 1000.0);
    (every - spread + offset).max(Duration::from_secs(1))
}

/// Refresh counts since the process started, read by [`crate::metrics`] at each scrape.
pub struct Counts {
    ok: AtomicU64,
    error: AtomicU64,
    last_success: AtomicI64,
}

impl Counts {
    /// Refreshes that installed a root.
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }
    /// Refreshes that failed (the root in force stayed).
    pub fn errors(&self) -> u64 {
        self.error.load(Ordering::Relaxed)
    }
    /// Unix time of the last refresh that installed a root; 0 before any.
    pub fn last_success(&self) -> i64 {
        self.last_success.load(Ordering::Relaxed)
    }
}

pub static COUNTS: Counts = Counts {
    ok: AtomicU64::new(0),
    error: AtomicU64::new(0),
    last_success: AtomicI64::new(0),
};

/// tough's transport over a reqwest client of ours (our TLS setup, a deadline per request,
/// every body bounded), so that tough needs none of its HTTP features.
#[derive(Debug, Clone)]
struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    fn new(timeout: Duration, ca_file: Option<&std::path::Path>) -> Result<Self, RefreshError> {
        let tls =
            crate::fetch::tls_config(ca_file).map_err(|e| RefreshError::Setup(e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("portieris/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RefreshError::Setup(e.to_string()))?;
        Ok(Self { client })
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        let shown = crate::fetch::redact(&url);
        let fail = |kind, e: String| TransportError::new_with_cause(kind, shown.clone(), e);
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TransportError::new(
                TransportErrorKind::UnsupportedUrlScheme,
                shown,
            ));
        }
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| fail(TransportErrorKind::Other, e.to_string()))?;
        match response.status() {
            status if status.is_success() => {}
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => {
                return Err(TransportError::new(TransportErrorKind::FileNotFound, shown));
            }
            status => return Err(fail(TransportErrorKind::Other, format!("HTTP {status}"))),
        }
        let mut response = response;
        let mut chunks = Vec::new();
        let mut total = 0usize;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(TransportErrorKind::Other, e.to_string()))?
        {
            total += chunk.len();
            if total > MAX_FILE_BYTES {
                return Err(fail(
                    TransportErrorKind::Other,
                    format!("larger than {MAX_FILE_BYTES} bytes"),
                ));
            }
            chunks.push(Ok(chunk));
        }
        Ok(Box::pin(futures::stream::iter(chunks)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tough::schema::{Root, Signed};

    #[test]
    fn the_embedded_sigstore_tuf_root_is_one_tough_reads_and_it_signs_itself() {
        let root: Signed<Root> = serde_json::from_slice(SIGSTORE_TUF_ROOT).expect("a TUF root");
        root.signed
            .verify_role(&root)
            .expect("signed by its own root keys");
    }

    #[test]
    fn refreshes_are_spread_by_a_tenth_at_most() {
        let every = Duration::from_secs(86_400);
        for _ in 0..100 {
            let next = jittered(every);
            assert!(
                next >= every - every / 10 && next <= every + every / 10,
                "{next:?}"
            );
        }
        assert_eq!(jittered(Duration::ZERO), Duration::from_secs(1));
    }

    #[test]
    fn a_repository_url_must_be_http() {
        let source = TufSource {
            url: "file:///tmp/repo".into(),
            root: SIGSTORE_TUF_ROOT.to_vec(),
            timeout: Duration::from_secs(1),
            ca_file: None,
        };
        let why = Refresher::new(source.clone(), DefaultRoot::default()).expect_err("refused");
        assert!(why.to_string().contains("only http and https"), "{why}");
        let secret = TufSource {
            url: "https://user:hunter2@tuf.example.com".into(),
            ..source
        };
        let why = Refresher::new(secret, DefaultRoot::default()).expect_err("refused");
        assert!(why.to_string().contains("user info"), "{why}");
        assert!(!why.to_string().contains("hunter2"), "{why}");
    }
}
