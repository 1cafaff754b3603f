//! The webhook's listeners: HTTPS for the API server (`/admit`, `/health/*`) and plain HTTP
//! for Prometheus (`/metrics`). SIGTERM or Ctrl-C stops accepting connections and lets the
//! requests in flight finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Buf as _, Bytes};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::admit::{Admitted, Admitter, Outcome};
use crate::config;
use crate::fetch::budget::{Buffer, ByteBudget, Overflow};
use crate::metrics::{self, Metrics};
use crate::tls;

/// A client that connects and then stays silent is dropped after this.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Also bounds how long an idle HTTP/1 keep-alive connection stays open.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Pings that find the dead peers of idle HTTP/2 connections.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Time left to requests in flight at shutdown; the kubelet's default grace period is 30 s.
const DRAIN_DEADLINE: Duration = Duration::from_secs(15);
/// Pause after a failed accept (out of file descriptors, typically), so as not to spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

type Reply = Response<Full<Bytes>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves until SIGTERM or Ctrl-C, then drains the connections and returns.
pub async fn run(config: &config::Serve, admitter: Arc<Admitter>) -> anyhow::Result<()> {
    let requests = &config.requests;
    anyhow::ensure!(
        requests.max_body_bytes_in_flight >= requests.max_body_bytes,
        "--max-body-bytes-in-flight ({}) must be at least --max-body-bytes ({})",
        requests.max_body_bytes_in_flight,
        requests.max_body_bytes
    );
    let server = Arc::new(Server {
        app: App::new(requests, admitter).context("registering metrics")?,
        http: Http::new(),
    });
    let acceptor = TlsAcceptor::from(tls::start(&config.tls)?);
    let webhook = bind(config.listen).await?;
    let metrics = bind(config.metrics_listen).await?;
    tracing::info!(webhook = %webhook.local_addr()?, metrics = %metrics.local_addr()?, "listening");
    let graceful = server.accept(webhook, metrics, acceptor).await;
    drain(graceful).await;
    Ok(())
}

async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// The accepted connection, or `None` after a pause when accepting failed.
async fn connection(
    accepted: std::io::Result<(TcpStream, SocketAddr)>,
) -> Option<(TcpStream, SocketAddr)> {
    match accepted {
        Ok(connection) => Some(connection),
        Err(e) => {
            tracing::warn!(error = %e, "cannot accept a connection");
            tokio::time::sleep(ACCEPT_BACKOFF).await;
            None
        }
    }
}

/// Resolves on SIGTERM (how the kubelet stops a pod) or Ctrl-C.
async fn shutdown_signal() {
    tokio::select! {
        () = ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
        () = terminate() => tracing::info!("SIGTERM: shutting down"),
    }
}

async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!(error = %e, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            sigterm.recv().await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}

/// Waits for the watched connections to finish their requests, up to [`DRAIN_DEADLINE`].
async fn drain(graceful: GracefulShutdown) {
    tracing::info!(
        connections = graceful.count(),
        "waiting for requests in flight"
    );
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline_seconds = DRAIN_DEADLINE.as_secs(),
            "requests still in flight at the deadline are cut off"
        );
    }
}

/// Connection settings per protocol. The protocol comes from ALPN (HTTP/1.1 without TLS)
/// rather than from sniffing the first bytes, a wait that no timeout would bound.
struct Http {
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl Http {
    fn new() -> Self {
        let mut base = auto::Builder::new(TokioExecutor::new());
        base.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        base.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(HTTP2_KEEP_ALIVE);
        Self {
            http1: base.clone().http1_only(),
            http2: base.http2_only(),
        }
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Http1,
    Http2,
}

struct Server {
    app: App,
    http: Http,
}

impl Server {
    /// Serves both listeners until a shutdown signal, then closes them. The connections
    /// still open are left to the returned [`GracefulShutdown`].
    async fn accept(
        self: Arc<Self>,
        webhook: TcpListener,
        metrics: TcpListener,
        acceptor: TlsAcceptor,
    ) -> GracefulShutdown {
        let graceful = GracefulShutdown::new();
        let mut stop = pin!(shutdown_signal());
        loop {
            tokio::select! {
                accepted = webhook.accept() => {
                    let Some((tcp, peer)) = connection(accepted).await else { continue };
                    let watcher = graceful.watcher();
                    tokio::spawn(self.clone().serve_tls(tcp, peer, acceptor.clone(), watcher));
                }
                accepted = metrics.accept() => {
                    let Some((tcp, peer)) = connection(accepted).await else { continue };
                    tokio::spawn(self.clone().serve_metrics(tcp, peer, graceful.watcher()));
                }
                () = &mut stop => return graceful,
            }
        }
    }

    async fn serve_tls(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        acceptor: TlsAcceptor,
        watcher: Watcher,
    ) {
        // Answers are small and the peer waits for each: send them without Nagle's delay.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "cannot disable Nagle's algorithm");
        }
        // Failed handshakes are mostly probes that only open a socket: not worth a warning.
        let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
        let protocol = match tls.get_ref().1.alpn_protocol() {
            Some(tls::ALPN_H2) => Protocol::Http2,
            _ => Protocol::Http1,
        };
        self.serve(tls, peer, Endpoint::Webhook, protocol, watcher)
            .await;
    }

    /// Plain HTTP/1.1, what Prometheus scrapes with.
    async fn serve_metrics(self: Arc<Self>, tcp: TcpStream, peer: SocketAddr, watcher: Watcher) {
        self.serve(tcp, peer, Endpoint::Metrics, Protocol::Http1, watcher)
            .await;
    }

    async fn serve<I>(
        self: Arc<Self>,
        io: I,
        peer: SocketAddr,
        endpoint: Endpoint,
        protocol: Protocol,
        watcher: Watcher,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let server = self.clone();
        let service = service_fn(move |request| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.app.route(endpoint, request).await) }
        });
        let http = match protocol {
            Protocol::Http1 => &self.http.http1,
            Protocol::Http2 => &self.http.http2,
        };
        let connection = http.serve_connection(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Which listener a request came in on.
#[derive(Clone, Copy)]
enum Endpoint {
    Webhook,
    Metrics,
}

/// Answers requests; no sockets, so tests call [`App::route`] directly.
struct App {
    admitter: Arc<Admitter>,
    metrics: Metrics,
    max_body_bytes: usize,
    request_timeout: Duration,
    /// Deadline of reading a body (`--body-read-timeout`), inside `request_timeout`.
    body_read_timeout: Duration,
    /// Bytes of bodies held from their first byte to the answer (`--max-body-bytes-in-flight`):
    /// bodies are read before an admission permit is taken, so this, not the permits, bounds
    /// their memory. A body that cannot get budget is refused at once (see
    /// [`crate::fetch::budget`] for why buffers never wait for budget); clients that send
    /// nothing hold none.
    bodies: ByteBudget,
    /// One permit per admission evaluated at once (`--max-concurrent-admissions`), taken only
    /// once the body is read: a slow or stalled body must not hold a slot that a complete
    /// request could use.
    ///
    /// Requests over the cap wait for a permit inside their deadline rather than being
    /// refused: the API server treats any answer but a 200 review as the webhook failing,
    /// and applies `failurePolicy` — `Fail` rejects the user's object, `Ignore` admits it
    /// unchecked. Neither is right for a burst that would clear in milliseconds, so a burst
    /// queues and only a request still waiting at its deadline gets the 504 any late answer
    /// gets.
    admissions: Semaphore,
}

impl App {
    fn new(
        requests: &config::Requests,
        admitter: Arc<Admitter>,
    ) -> Result<Self, prometheus::Error> {
        Ok(Self {
            admitter,
            metrics: Metrics::new()?,
            max_body_bytes: requests.max_body_bytes,
            request_timeout: requests.timeout,
            body_read_timeout: requests.body_read_timeout,
            bodies: ByteBudget::new(requests.max_body_bytes_in_flight),
            admissions: Semaphore::new(permits(requests.max_concurrent)),
        })
    }

    async fn route<B>(&self, endpoint: Endpoint, request: Request<B>) -> Reply
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        match endpoint {
            Endpoint::Webhook => self.route_webhook(request).await,
            Endpoint::Metrics => self.route_metrics(&request),
        }
    }

    async fn route_webhook<B>(&self, request: Request<B>) -> Reply
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        match (request.method(), request.uri().path()) {
            (&Method::POST, "/admit") => self.admit(request).await,
            (&Method::GET, "/health/liveness") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/health/readiness") => self.readiness(),
            (_, "/admit") => method_not_allowed("POST"),
            (_, "/health/liveness" | "/health/readiness") => method_not_allowed("GET"),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    fn route_metrics<B>(&self, request: &Request<B>) -> Reply {
        match (request.method(), request.uri().path()) {
            (&Method::GET, "/metrics") => self.exposition(),
            (_, "/metrics") => method_not_allowed("GET"),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    fn readiness(&self) -> Reply {
        if self.admitter.ready() {
            text(StatusCode::OK, "ready\n")
        } else {
            text(StatusCode::SERVICE_UNAVAILABLE, "policies not loaded yet\n")
        }
    }

    fn exposition(&self) -> Reply {
        match self.metrics.render() {
            Ok(exposition) => reply(StatusCode::OK, metrics::CONTENT_TYPE, exposition),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode the metrics");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot encode the metrics\n",
                )
            }
        }
    }

    /// `/admit`: the whole request, body included, within the request timeout; every
    /// request is counted, refusals as denials.
    async fn admit<B>(&self, request: Request<B>) -> Reply
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let (reply, outcome) = tokio::time::timeout(self.request_timeout, self.evaluate(request))
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(timeout = ?self.request_timeout, "admission request timed out");
                let reply = text(StatusCode::GATEWAY_TIMEOUT, "admission request timed out\n");
                (reply, Outcome::Invalid)
            });
        self.metrics.observe(outcome, started.elapsed());
        reply
    }

    async fn evaluate<B>(&self, request: Request<B>) -> (Reply, Outcome)
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let body = match self.review_body(request).await {
            Ok(body) => body,
            Err(refusal) => {
                tracing::warn!(status = %refusal.status(), "admission request refused");
                return (refusal, Outcome::Invalid);
            }
        };
        // The semaphore is never closed; if it were, refusing is the safe answer.
        let Ok(_permit) = self.admissions.acquire().await else {
            let reply = text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
            return (reply, Outcome::Invalid);
        };
        let admitted = self.admitter.admit(body.as_slice()).await;
        let outcome = admitted.outcome;
        (admitted_reply(admitted), outcome)
    }

    /// The AdmissionReview bytes, or the answer to a request that cannot carry one.
    async fn review_body<B>(&self, request: Request<B>) -> Result<Buffer<'_>, Reply>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        if !is_json(request.headers()) {
            let message = "Content-Type must be application/json\n";
            return Err(text(StatusCode::UNSUPPORTED_MEDIA_TYPE, message));
        }
        let too_large = || {
            let message = format!("the body exceeds {} bytes\n", self.max_body_bytes);
            text(StatusCode::PAYLOAD_TOO_LARGE, message)
        };
        // A body's Content-Length shows here: a body that declares itself too large is
        // refused before any of it is read.
        if request.body().size_hint().lower() > self.max_body_bytes as u64 {
            return Err(too_large());
        }
        let read = self.read_body(request.into_body());
        match tokio::time::timeout(self.body_read_timeout, read).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(BodyError::Overflow(Overflow::TooLarge { .. }))) => Err(too_large()),
            Ok(Err(BodyError::Overflow(Overflow::Exhausted { total }))) => {
                tracing::warn!(budget = total, "request bodies in flight are over budget");
                let message = "too many request bodies are being read at once\n";
                Err(text(StatusCode::SERVICE_UNAVAILABLE, message))
            }
            Ok(Err(BodyError::Read(e))) => {
                tracing::debug!(error = %e, "cannot read an admission request body");
                Err(text(StatusCode::BAD_REQUEST, "cannot read the body\n"))
            }
            Err(_) => Err(text(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time\n",
            )),
        }
    }

    /// Reads `body` into a buffer bounded by `--max-body-bytes` and charged to the budget of
    /// bodies in flight as its bytes arrive.
    async fn read_body<B>(&self, body: B) -> Result<Buffer<'_>, BodyError>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let mut buffer = Buffer::new(&self.bodies, self.max_body_bytes);
        let mut body = pin!(body);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Read(e.into()))?;
            let Ok(mut data) = frame.into_data() else {
                continue; // trailers
            };
            while data.has_remaining() {
                let chunk = data.chunk();
                let n = chunk.len();
                buffer.push(chunk).map_err(BodyError::Overflow)?;
                data.advance(n);
            }
        }
        Ok(buffer)
    }
}

/// Why a request body could not be read.
enum BodyError {
    Overflow(Overflow),
    Read(BoxError),
}

/// Semaphore permits for a `--max-concurrent-admissions` value (at least one).
fn permits(max: usize) -> usize {
    max.clamp(1, Semaphore::MAX_PERMITS)
}

/// `application/json`, parameters such as `charset` allowed.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(JSON))
}

fn admitted_reply(admitted: Admitted) -> Reply {
    match StatusCode::from_u16(admitted.status) {
        Ok(StatusCode::OK) => reply(StatusCode::OK, JSON, admitted.body),
        Ok(status) => reply(status, TEXT, admitted.body),
        Err(_) => text(StatusCode::BAD_REQUEST, admitted.body),
    }
}

fn method_not_allowed(allowed: &'static str) -> Reply {
    let mut reply = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    reply
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    reply
}

fn text(status: StatusCode, message: impl Into<Bytes>) -> Reply {
    reply(status, TEXT, message)
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut reply = Response::new(Full::new(body.into()));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

#[cfg(test)]
mod tests;
