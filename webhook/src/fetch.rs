//! Fetching from registries, Notary servers and token servers: one HTTP client (connection
//! reuse, HTTP/2), a deadline per request, a bound on response size per request (each caller
//! names its own, enforced while reading) and a process-wide budget of response bytes being
//! read ([`budget`]), Docker token auth with image pull Secret credentials, and errors that
//! name the URL but never a credential.
//!
//! TLS: the client gets a `rustls::ClientConfig` built here (reqwest's
//! `tls_backend_preconfigured`), with the process-wide crypto provider (ring, installed by
//! `main`) and a root store of the system CA certificates (`rustls-native-certs`, which honours
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`) plus the optional `--ca-file` bundle. The system store, not
//! a compiled-in Mozilla list, because registries behind corporate CAs are the common case and
//! operators manage the store of the image; Portieris (Go) did the same.

pub mod auth;
pub mod budget;
pub mod cache;
pub mod coalesce;
pub mod docker_config;
pub mod referrers;
pub mod registry;
pub mod signature_sets;
pub mod trust_server;

#[cfg(test)]
pub mod test_server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Url};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

pub use auth::Session;
pub use docker_config::Credential;

use self::auth::TokenKey;
use self::budget::{Buffer, ByteBudget, Overflow};
use self::cache::TtlCache;

/// Portieris' extra CA bundle for outbound calls, used when present and `--ca-file` is unset.
pub const DEFAULT_CA_FILE: &str = "/etc/certs/ca.pem";
/// Largest response accepted, and the limit of a fetch that names none; TUF metadata of a
/// big repository is a few MiB at most. Callers name smaller limits ([`Session::limited`]).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Response bytes being read at once by all fetches (`--max-fetch-bytes-in-flight`).
pub const DEFAULT_BYTES_IN_FLIGHT: usize = 64 * 1024 * 1024;
/// Error responses are read (and dropped) only this far, to keep the connection reusable.
const ERROR_BODY_BYTES: usize = 64 * 1024;
/// Exchanges in flight at once, all servers together; more wait their turn inside their own
/// deadline (holding nothing, so waiting cannot deadlock). Besides the budget of bytes read,
/// each exchange costs what the budget cannot see: a connection (TLS and HTTP buffers) and
/// what its peer sent ahead of our reading (HTTP/2 windows below, an HTTP/1 read buffer),
/// about half a MiB at worst. Without this cap a Pod of 500 images on a hostile registry opened
/// 500 connections at once, and 64 such Pods took the server past 750 MiB with the byte budget
/// in force.
const MAX_CONCURRENT_EXCHANGES: usize = 128;
/// HTTP/2 flow-control windows: how much a server may send ahead of our reading, per stream
/// and per connection (hyper's defaults, 2 and 5 MiB, are sized for bulk downloads; metadata
/// is KiB, and 256 KiB still moves a 10 MiB role within the deadline at 50 ms round trips).
const H2_STREAM_WINDOW: u32 = 256 * 1024;
const H2_CONNECTION_WINDOW: u32 = 1024 * 1024;
/// Idle connections kept per host, for reuse.
const MAX_IDLE_PER_HOST: usize = 16;
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(90);
const MAX_REDIRECTS: usize = 5;
const TOKEN_CACHE_ENTRIES: usize = 4096;
/// Bytes of cached tokens. Registry tokens (JWTs mostly) are 1 to 3 KiB, so 4,096 of them fit
/// in 16 MiB; this only caps token servers that answer with unusually large tokens (each may
/// be up to the response limit).
const TOKEN_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// What [`FetchConfig::new`] takes as `max_bytes_in_flight`; `main` sets it from the flag.
/// How the client is set up.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Deadline of one HTTP exchange, body included.
    pub timeout: Duration,
    /// Extra PEM CA certificates trusted on top of the system store.
    pub ca_file: Option<PathBuf>,
    /// Ceiling on every response, whatever limit its caller names.
    pub max_body_bytes: usize,
    /// Response bytes all fetches of this client may hold while reading, together.
    pub max_bytes_in_flight: usize,
}

impl FetchConfig {
    /// `ca_file` from the flag, else [`DEFAULT_CA_FILE`] when that file exists.
    pub fn new(timeout: Duration, ca_file: Option<PathBuf>) -> Self {
        let ca_file = ca_file.or_else(|| {
            let default = Path::new(DEFAULT_CA_FILE);
            default.is_file().then(|| default.to_path_buf())
        });
        Self {
            timeout,
            ca_file,
            max_body_bytes: MAX_BODY_BYTES,
            max_bytes_in_flight: DEFAULT_BYTES_IN_FLIGHT,
        }
    }
}

/// Why a fetch failed. Every variant names the URL (without user info); none holds a token
/// or password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: no complete answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: TLS failed: {detail}")]
    Tls { url: String, detail: String },
    #[error("{url}: cannot connect: {detail}")]
    Connect { url: String, detail: String },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    /// The process-wide budget of response bytes being read was spent (see [`budget`]).
    #[error("{url}: not read, more than {budget} bytes of responses are being read at once")]
    Busy { url: String, budget: usize },
    #[error("{url}: {reason}")]
    Auth { url: String, reason: String },
    #[error("{url}: {detail}")]
    Invalid { url: String, detail: String },
}

impl FetchError {
    pub fn url(&self) -> &str {
        match self {
            Self::Timeout { url, .. }
            | Self::Status { url, .. }
            | Self::Tls { url, .. }
            | Self::Connect { url, .. }
            | Self::TooLarge { url, .. }
            | Self::Busy { url, .. }
            | Self::Auth { url, .. }
            | Self::Invalid { url, .. } => url,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }
}

/// Why the client could not be built (at startup).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("CA file {}: {detail}", path.display())]
    CaFile { path: PathBuf, detail: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// The HTTP client shared by every fetcher, with the token cache.
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    connect_timeout: Duration,
    max_body_bytes: usize,
    /// Shared by every response body being read.
    budget: ByteBudget,
    /// One permit per exchange in flight ([`MAX_CONCURRENT_EXCHANGES`]).
    exchanges: tokio::sync::Semaphore,
    tokens: Mutex<TtlCache<TokenKey, String>>,
}

/// One HTTP answer, its body read (and bounded).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> Result<Self, SetupError> {
        let tls = tls_config(config.ca_file.as_deref())?;
        let connect_timeout = config.timeout.min(MAX_CONNECT_TIMEOUT);
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .http2_initial_stream_window_size(H2_STREAM_WINDOW)
            .http2_initial_connection_window_size(H2_CONNECTION_WINDOW)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .user_agent(concat!("portieris/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        Ok(Self {
            client,
            timeout: config.timeout,
            connect_timeout,
            max_body_bytes: config.max_body_bytes,
            budget: ByteBudget::new(config.max_bytes_in_flight),
            exchanges: tokio::sync::Semaphore::new(MAX_CONCURRENT_EXCHANGES),
            tokens: Mutex::new(
                TtlCache::named("tokens", TOKEN_CACHE_ENTRIES)
                    .weighed(TOKEN_CACHE_BYTES, String::len),
            ),
        })
    }

    /// A sequence of fetches from one server with these credentials (tried in order when the
    /// server asks for authentication).
    pub fn session<'a>(&'a self, credentials: &'a [Credential]) -> Session<'a> {
        Session::new(self, credentials)
    }

    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The budget of response bytes being read, shared by every fetch of this client.
    pub fn budget(&self) -> &ByteBudget {
        &self.budget
    }

    /// Sends `request` for `url` and reads the answer, all within the deadline. A success's
    /// body is read up to `limit` bytes (and never past the configured ceiling); an error's is
    /// read and dropped.
    async fn exchange(
        &self,
        request: RequestBuilder,
        url: &Url,
        limit: usize,
    ) -> Result<Reply, FetchError> {
        let shown = redact(url);
        let limit = limit.min(self.max_body_bytes);
        let work = async {
            // Never closed; if it were, failing the fetch is the safe answer.
            let _turn = self
                .exchanges
                .acquire()
                .await
                .map_err(|_| FetchError::Busy {
                    url: shown.clone(),
                    budget: self.budget.total(),
                })?;
            // Boxed, and built only once it is our turn: a fetch waiting for its turn then
            // holds a few hundred bytes instead of the client stack's state (32,000 waiting
            // fetches of 64 flood Pods held about 400 MB that way).
            Box::pin(self.round_trip(request, &shown, limit)).await
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| FetchError::Timeout {
                url: shown.clone(),
                after: self.timeout,
            })?
    }
}

impl Fetcher {
    async fn round_trip(
        &self,
        request: RequestBuilder,
        shown: &str,
        limit: usize,
    ) -> Result<Reply, FetchError> {
        let response = request
            .send()
            .await
            .map_err(|e| classify(shown, &e, self.connect_timeout))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = if response.status().is_success() {
            read_body(response, limit, &self.budget, shown, self.timeout).await?
        } else {
            drain_error_body(response).await;
            Vec::new()
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// Streams the body into a buffer charged to `budget`, failing as soon as it passes `limit`
/// (at once when `Content-Length` says it will) or the budget is spent; dropping the response
/// then closes the stream.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    budget: &ByteBudget,
    shown: &str,
    timeout: Duration,
) -> Result<Vec<u8>, FetchError> {
    let refused = |overflow| match overflow {
        Overflow::TooLarge { limit } => FetchError::TooLarge {
            url: shown.to_string(),
            limit,
        },
        Overflow::Exhausted { total } => FetchError::Busy {
            url: shown.to_string(),
            budget: total,
        },
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(refused(Overflow::TooLarge { limit }));
    }
    let mut body = Buffer::new(budget, limit);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(shown, &e, timeout))?
    {
        body.push(&chunk).map_err(refused)?;
    }
    Ok(body.into_bytes())
}

/// Reads an error body to its end, up to [`ERROR_BODY_BYTES`], keeping none of it: no caller
/// reads it, and a connection whose body was read whole can be reused (most first requests
/// get a 401).
async fn drain_error_body(mut response: reqwest::Response) {
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > ERROR_BODY_BYTES {
            break;
        }
    }
}

/// Maps a reqwest error to what failed: a deadline, TLS, or the connection. reqwest only
/// times out connecting (`after`); the exchange deadline is enforced around it.
fn classify(shown: &str, error: &reqwest::Error, after: Duration) -> FetchError {
    let url = shown.to_string();
    if error.is_timeout() {
        return FetchError::Timeout { url, after };
    }
    if let Some(tls) = rustls_error(error) {
        return FetchError::Tls {
            url,
            detail: tls.to_string(),
        };
    }
    let detail = innermost(error);
    if error.is_redirect() || error.is_builder() {
        return FetchError::Invalid { url, detail };
    }
    FetchError::Connect { url, detail }
}

/// The rustls error behind a reqwest error, if any. `io::Error::source` skips the error it
/// wraps, so wrapped errors are looked at through `get_ref`.
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(tls) = rustls_error(inner)
        {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

/// The deepest cause's message ("Connection refused (os error 111)"), free of URLs.
fn innermost(error: &reqwest::Error) -> String {
    let mut current: &dyn std::error::Error = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The URL as shown in errors and logs: without user name or password.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Parses a URL to fetch; the error names it without user info.
pub fn parse_url(text: &str) -> Result<Url, FetchError> {
    let url = Url::parse(text).map_err(|e| FetchError::Invalid {
        url: text.split('@').next_back().unwrap_or(text).to_string(),
        detail: format!("not a URL: {e}"),
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(FetchError::Invalid {
            url: redact(&url),
            detail: "only http and https URLs are fetched".to_string(),
        });
    }
    Ok(url)
}

/// System roots plus the extra CA file, with the process-wide crypto provider (ring unless
/// `main` installed another), falling back to ring so that building never panics.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, SetupError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "skipping unreadable system CA certificates");
    }
    let (_, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::warn!(ignored, "skipping unparsable system CA certificates");
    }
    if let Some(path) = ca_file {
        add_ca_file(&mut roots, path)?;
    }
    if roots.is_empty() {
        tracing::warn!("no CA certificates: every HTTPS fetch will fail (set --ca-file)");
    }
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), SetupError> {
    let fail = |detail: String| SetupError::CaFile {
        path: path.to_path_buf(),
        detail,
    };
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))? {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(fail("no PEM certificate in it".to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
