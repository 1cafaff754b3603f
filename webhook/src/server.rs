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
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body_util::channel::Channel;
    use hyper::body::{Frame, SizeHint};
    use portieris_core::{Options, PolicySet};

    use super::*;
    use crate::policies::PolicyStore;

    const REVIEW: &str = r#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u1", "namespace": "team", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}"#;

    fn app(store: Arc<PolicyStore>) -> App {
        App {
            // No policy here needs evidence: the gatherer is never asked.
            admitter: Arc::new(Admitter::new(
                store,
                Box::new(crate::admit::testing::Fixed(
                    Err("unused".into()),
                    Duration::ZERO,
                )),
                Options::default(),
                Duration::from_millis(100),
            )),
            metrics: Metrics::new().expect("metrics register"),
            max_body_bytes: 1024,
            request_timeout: Duration::from_millis(200),
            body_read_timeout: Duration::from_secs(60),
            bodies: ByteBudget::new(1 << 20),
            admissions: Semaphore::new(64),
        }
    }

    /// Ready, with no policy: every image is denied.
    fn ready_app() -> App {
        let store = Arc::new(PolicyStore::new());
        store.replace(PolicySet::new(Vec::new()));
        app(store)
    }

    fn request<B>(method: Method, path: &str, content_type: &str, body: B) -> Request<B> {
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = path.parse().expect("a path is a URI");
        let value = HeaderValue::from_str(content_type).expect("header value");
        request.headers_mut().insert(header::CONTENT_TYPE, value);
        request
    }

    fn post(content_type: &str, body: &'static str) -> Request<Full<Bytes>> {
        request(Method::POST, "/admit", content_type, Full::from(body))
    }

    fn get(path: &str) -> Request<Full<Bytes>> {
        request(Method::GET, path, TEXT, Full::default())
    }

    async fn webhook<B>(app: &App, request: Request<B>) -> StatusCode
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        app.route(Endpoint::Webhook, request).await.status()
    }

    async fn body(reply: Reply) -> String {
        let bytes = reply.into_body().collect().await.expect("full body");
        String::from_utf8(bytes.to_bytes().to_vec()).expect("utf-8 body")
    }

    async fn exposition(app: &App) -> String {
        body(app.route(Endpoint::Metrics, get("/metrics")).await).await
    }

    #[tokio::test]
    async fn readiness_waits_for_the_first_policy_snapshot() {
        let store = Arc::new(PolicyStore::new());
        let app = app(store.clone());
        let probe = || get("/health/readiness");
        assert_eq!(
            webhook(&app, probe()).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        store.replace(PolicySet::new(Vec::new()));
        assert_eq!(webhook(&app, probe()).await, StatusCode::OK);
    }

    #[tokio::test]
    async fn admit_answers_json_and_accepts_a_charset() {
        let app = ready_app();
        let reply = app
            .route(
                Endpoint::Webhook,
                post("application/json; charset=utf-8", REVIEW),
            )
            .await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.headers()[header::CONTENT_TYPE], JSON);
        assert!(body(reply).await.contains(r#""allowed":false"#));
    }

    #[tokio::test]
    async fn admit_refuses_other_content_types() {
        let app = ready_app();
        let status = webhook(&app, post("text/plain", REVIEW)).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn admit_answers_malformed_json_with_400_text() {
        let app = ready_app();
        let reply = app.route(Endpoint::Webhook, post(JSON, "{")).await;
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
        assert_eq!(reply.headers()[header::CONTENT_TYPE], TEXT);
    }

    /// A body that declares its length and never sends a byte, like a client that stalls
    /// after its headers.
    struct Declared(u64);

    impl Body for Declared {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Pending
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.0)
        }
    }

    #[tokio::test]
    async fn admit_refuses_a_declared_oversized_body_without_waiting_for_it() {
        let app = ready_app();
        let oversized = request(Method::POST, "/admit", JSON, Declared(1025));
        assert_eq!(
            webhook(&app, oversized).await,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[tokio::test]
    async fn admit_stops_reading_a_streamed_body_at_the_limit() {
        let app = ready_app();
        let (mut sender, body) = Channel::<Bytes>::new(4);
        for _ in 0..3 {
            sender
                .send_data(Bytes::from(vec![b' '; 512]))
                .await
                .expect("buffered");
        }
        drop(sender);
        let status = webhook(&app, request(Method::POST, "/admit", JSON, body)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn admit_times_out_a_body_that_never_ends() {
        let app = ready_app();
        let stalled = || request(Method::POST, "/admit", JSON, Declared(1024));
        assert_eq!(webhook(&app, stalled()).await, StatusCode::GATEWAY_TIMEOUT);
        let app = App {
            body_read_timeout: Duration::from_millis(50),
            ..ready_app()
        };
        assert_eq!(webhook(&app, stalled()).await, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(app.bodies.in_use(), 0);
    }

    #[tokio::test]
    async fn bodies_over_the_budget_in_flight_are_refused_and_the_budget_comes_back() {
        let app = App {
            bodies: ByteBudget::new(1024),
            request_timeout: Duration::from_secs(10),
            ..ready_app()
        };
        let (mut sender, held) = Channel::<Bytes>::new(4);
        sender
            .send_data(Bytes::from(vec![b' '; 800]))
            .await
            .expect("buffered");
        let holding = webhook(&app, request(Method::POST, "/admit", JSON, held));
        let second = async {
            // The first body holds 800 of the 1024 bytes until it is answered.
            while app.bodies.in_use() == 0 {
                tokio::task::yield_now().await;
            }
            let status = webhook(&app, post(JSON, REVIEW)).await;
            drop(sender);
            status
        };
        let (first, second) = tokio::join!(holding, second);
        assert_eq!(second, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            first,
            StatusCode::BAD_REQUEST,
            "800 spaces are not a review"
        );
        assert_eq!(app.bodies.in_use(), 0);
        assert_eq!(webhook(&app, post(JSON, REVIEW)).await, StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_paths_are_404_and_wrong_methods_405() {
        let app = ready_app();
        let reply = app.route(Endpoint::Webhook, get("/admit")).await;
        assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.headers()[header::ALLOW], "POST");
        assert_eq!(webhook(&app, get("/metrics")).await, StatusCode::NOT_FOUND);
        let post_metrics = request(Method::POST, "/metrics", TEXT, Full::<Bytes>::default());
        let status = app.route(Endpoint::Metrics, post_metrics).await.status();
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn every_admission_request_is_counted_refusals_as_denials() {
        let app = ready_app();
        webhook(&app, post(JSON, REVIEW)).await;
        webhook(&app, post("text/plain", REVIEW)).await;
        webhook(&app, get("/admit")).await;
        let text = exposition(&app).await;
        assert!(text.contains("portieris_pod_admission_decision_allow_count 0\n"));
        assert!(text.contains("portieris_pod_admission_decision_deny_count 2\n"));
        assert!(text.contains(
            "portieris_admission_request_duration_seconds_count{outcome=\"invalid\"} 1\n"
        ));
    }

    const TRUSTED_REVIEW: &str = r#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u2", "namespace": "team", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "icr.io/team/app:v1"}]}}}}"#;

    /// Every icr.io image needs trust evidence, which takes 150 ms to gather.
    fn slow_app(cap: usize, request_timeout: Duration) -> App {
        let policy = serde_json::json!({"apiVersion": "portieris.cloud.ibm.com/v1",
            "kind": "ClusterImagePolicy", "metadata": {"name": "trust"},
            "spec": {"repositories": [{"name": "icr.io/*", "policy": {"trust": {"enabled": true}}}]}});
        let store = Arc::new(PolicyStore::new());
        store.replace(PolicySet::new([
            portieris_core::policy::Resource::from_value(&policy).expect("a policy"),
        ]));
        let digest = portieris_core::Digest::from_sha256(&[7; 32]);
        let evidence = crate::admit::testing::Fixed(Ok(digest), Duration::from_millis(150));
        let admitter = Admitter::new(
            store,
            Box::new(evidence),
            Options::default(),
            Duration::from_secs(1),
        );
        App {
            admitter: Arc::new(admitter),
            metrics: Metrics::new().expect("metrics register"),
            max_body_bytes: 4096,
            request_timeout,
            body_read_timeout: Duration::from_secs(60),
            bodies: ByteBudget::new(1 << 20),
            admissions: Semaphore::new(cap),
        }
    }

    #[tokio::test]
    async fn admissions_over_the_cap_wait_their_turn() {
        let app = slow_app(1, Duration::from_secs(2));
        let started = Instant::now();
        let (a, b) = tokio::join!(
            webhook(&app, post(JSON, TRUSTED_REVIEW)),
            webhook(&app, post(JSON, TRUSTED_REVIEW))
        );
        assert_eq!((a, b), (StatusCode::OK, StatusCode::OK));
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "one at a time: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn an_admission_still_waiting_at_its_deadline_times_out() {
        let app = slow_app(1, Duration::from_millis(250));
        let (a, b) = tokio::join!(
            webhook(&app, post(JSON, TRUSTED_REVIEW)),
            webhook(&app, post(JSON, TRUSTED_REVIEW))
        );
        let mut statuses = [a, b];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::GATEWAY_TIMEOUT]);
        let roomy = slow_app(2, Duration::from_millis(250));
        let (a, b) = tokio::join!(
            webhook(&roomy, post(JSON, TRUSTED_REVIEW)),
            webhook(&roomy, post(JSON, TRUSTED_REVIEW))
        );
        assert_eq!(
            (a, b),
            (StatusCode::OK, StatusCode::OK),
            "under the cap both run at once"
        );
    }

    /// Serves `app` over plain HTTP/1.1 on a loopback port until the test ends.
    async fn listen(app: App) -> (Arc<Server>, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = Arc::new(Server {
            app,
            http: Http::new(),
        });
        let serving = server.clone();
        tokio::spawn(async move {
            let graceful = GracefulShutdown::new();
            while let Ok((tcp, peer)) = listener.accept().await {
                let (server, watcher) = (serving.clone(), graceful.watcher());
                tokio::spawn(server.serve(tcp, peer, Endpoint::Webhook, Protocol::Http1, watcher));
            }
        });
        (server, address)
    }

    /// Waits for `ready`, failing the test after a generous 10 s.
    async fn eventually(what: &str, ready: impl Fn() -> bool) {
        let wait = async {
            while !ready() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("{what}: not within 10 s"));
    }

    #[tokio::test]
    async fn stalled_bodies_hold_no_admission_slot() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        const STALLED: usize = 50;
        const SENT: usize = 10;
        let (server, address) = listen(App {
            admissions: Semaphore::new(2),
            request_timeout: Duration::from_secs(30),
            ..ready_app()
        })
        .await;
        // Each sends its headers and 10 of the 1000 bytes it declares, then stalls.
        let mut stalled = Vec::new();
        for _ in 0..STALLED {
            let mut tcp = TcpStream::connect(address).await.expect("connect");
            let head = "POST /admit HTTP/1.1\r\nhost: webhook\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
            tcp.write_all(head.as_bytes()).await.expect("head sent");
            tcp.write_all(&[b' '; SENT])
                .await
                .expect("start of body sent");
            stalled.push(tcp);
        }
        let app = &server.app;
        eventually("every stalled body being read", || {
            app.bodies.in_use() == STALLED * SENT
        })
        .await;
        let mut tcp = TcpStream::connect(address).await.expect("connect");
        let request = format!(
            "POST /admit HTTP/1.1\r\nhost: webhook\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{REVIEW}",
            REVIEW.len()
        );
        tcp.write_all(request.as_bytes())
            .await
            .expect("request sent");
        let mut answer = String::new();
        let read = tcp.read_to_string(&mut answer);
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("answered while the stalled bodies wait")
            .expect("read");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains(r#""allowed":false"#), "{answer}");
        assert_eq!(
            app.bodies.in_use(),
            STALLED * SENT,
            "the stalled bodies are still being waited for"
        );
        assert_eq!(app.admissions.available_permits(), 2);
        drop(stalled);
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        let app = ready_app();
        let reply = app.route(Endpoint::Metrics, get("/metrics")).await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(
            reply.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4"
        );
    }
}
