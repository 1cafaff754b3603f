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
                Err(portieris_core::evidence::FetchFailure::new(
                    portieris_core::evidence::Cause::NotFound,
                    "unused",
                )),
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
    assert!(
        text.contains(
            "portieris_admission_request_duration_seconds_count{outcome=\"invalid\"} 1\n"
        )
    );
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
    let trusted = Ok(portieris_core::evidence::Material::Trust(Ok(digest)));
    let evidence = crate::admit::testing::Fixed(trusted, Duration::from_millis(150));
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
