//! The client against local servers: plain answers, token auth, limits, failures, TLS.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::test_server::{Canned, FakeServer, Seen};
use super::*;

const REPO_PATH: &str = "/v2/gun/_trust/tuf/root.json";
const GOOD_TOKEN: &str = "token-for-right";

fn fetcher_with(timeout: Duration, max_body_bytes: usize, ca_file: Option<PathBuf>) -> Fetcher {
    let config = FetchConfig {
        timeout,
        ca_file,
        max_body_bytes,
        max_bytes_in_flight: DEFAULT_BYTES_IN_FLIGHT,
    };
    Fetcher::new(&config).expect("client")
}

fn fetcher() -> Fetcher {
    fetcher_with(Duration::from_secs(5), MAX_BODY_BYTES, None)
}

fn user(username: &str, password: &str) -> Credential {
    Credential {
        username: username.into(),
        password: password.into(),
    }
}

fn form_has(seen: &Seen, pair: &str) -> bool {
    seen.body.split('&').any(|p| p == pair)
}

/// A Notary server with a token server at `/token`: `right`/`pw` gets a token by password
/// grant (POST); the data needs that token.
fn token_auth(seen: &Seen) -> Canned {
    if seen.path == "/token" {
        let right = form_has(seen, "username=right") && form_has(seen, "password=pw");
        return match (seen.method.as_str(), right) {
            ("POST", true) => {
                Canned::ok(format!(r#"{{"token":"{GOOD_TOKEN}","expires_in":300}}"#).into_bytes())
            }
            _ => Canned::status(401),
        };
    }
    if seen.authorization.as_deref() == Some(&format!("Bearer {GOOD_TOKEN}")) {
        return Canned::ok(b"trust data".to_vec());
    }
    challenge(seen)
}

fn challenge(seen: &Seen) -> Canned {
    let realm = format!("http://{}/token", seen.host);
    Canned::status(401).header(
        "www-authenticate",
        &format!(r#"Bearer realm="{realm}",service="notary",scope="repository:gun:pull""#),
    )
}

fn token_requests(server: &FakeServer) -> usize {
    server.paths().iter().filter(|p| *p == "/token").count()
}

#[tokio::test]
async fn an_anonymous_get_returns_the_body() {
    let server = FakeServer::start(|_| Canned::ok(b"{\"signed\":{}}".to_vec())).await;
    let fetcher = fetcher();
    let body = fetcher
        .session(&[])
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await;
    assert_eq!(body.expect("fetched"), b"{\"signed\":{}}");
    assert_eq!(server.seen()[0].authorization, None);
}

#[tokio::test]
async fn a_404_is_none_when_optional_and_a_status_error_otherwise() {
    let server = FakeServer::start(|_| Canned::status(404)).await;
    let fetcher = fetcher();
    let session = fetcher.session(&[]);
    let url = format!("{}{REPO_PATH}", server.url());
    assert_eq!(session.get_optional(&url).await, Ok(None));
    let error = session.get(&url).await.expect_err("404");
    assert_eq!(
        error,
        FetchError::Status {
            url: url.clone(),
            status: 404
        }
    );
    assert_eq!(error.to_string(), format!("{url}: HTTP status 404"));
}

#[tokio::test]
async fn the_right_credential_gets_a_token_by_password_grant() {
    let server = FakeServer::start(token_auth).await;
    let fetcher = fetcher();
    let credentials = [user("right", "pw")];
    let body = fetcher
        .session(&credentials)
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await;
    assert_eq!(body.expect("authorized"), b"trust data");
    let grant = server
        .seen()
        .into_iter()
        .find(|s| s.path == "/token")
        .expect("token request");
    assert_eq!(grant.method, "POST");
    for pair in [
        "grant_type=password",
        "client_id=portieris",
        "service=notary",
        "scope=repository%3Agun%3Apull",
    ] {
        assert!(form_has(&grant, pair), "{pair} in {}", grant.body);
    }
}

#[tokio::test]
async fn a_wrong_credential_is_an_auth_error_that_shows_no_password() {
    let server = FakeServer::start(token_auth).await;
    let fetcher = fetcher();
    let credentials = [user("wrong", "hunter2")];
    let error = fetcher
        .session(&credentials)
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await
        .expect_err("refused");
    assert!(matches!(error, FetchError::Auth { .. }), "{error:?}");
    let text = format!("{error} {error:?}");
    assert!(text.contains("no valid imagePullSecret"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("wrong"),
        "{text}"
    );
}

#[tokio::test]
async fn the_second_of_two_credentials_is_used_when_the_first_is_refused() {
    let server = FakeServer::start(token_auth).await;
    let fetcher = fetcher();
    let credentials = [user("wrong", "x"), user("right", "pw")];
    let body = fetcher
        .session(&credentials)
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await;
    assert_eq!(body.expect("second credential"), b"trust data");
    assert_eq!(token_requests(&server), 2);
}

#[tokio::test]
async fn tokens_are_cached_and_a_session_reuses_what_worked() {
    let server = FakeServer::start(token_auth).await;
    let fetcher = fetcher();
    let credentials = [user("right", "pw")];
    let url = format!("{}{REPO_PATH}", server.url());
    let session = fetcher.session(&credentials);
    session.get(&url).await.expect("first");
    assert_eq!(server.requests(), 3, "401, token, retry");
    session.get(&url).await.expect("second");
    assert_eq!(server.requests(), 4, "straight in with the token");
    fetcher
        .session(&credentials)
        .get(&url)
        .await
        .expect("new session");
    assert_eq!(server.requests(), 6, "401, retry with the cached token");
    assert_eq!(token_requests(&server), 1);
}

#[tokio::test]
async fn a_token_server_without_password_grants_gets_basic_auth_on_get() {
    let server = FakeServer::start(|seen| {
        if seen.path != "/token" {
            return token_auth(seen);
        }
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("right:pw")
        );
        match seen.method.as_str() {
            "POST" => Canned::status(405),
            _ if seen.authorization.as_deref() == Some(basic.as_str()) => {
                Canned::ok(format!(r#"{{"access_token":"{GOOD_TOKEN}"}}"#).into_bytes())
            }
            _ => Canned::status(401),
        }
    })
    .await;
    let fetcher = fetcher();
    let credentials = [user("right", "pw")];
    let body = fetcher
        .session(&credentials)
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await;
    assert_eq!(body.expect("authorized"), b"trust data");
    let get = server
        .seen()
        .into_iter()
        .find(|s| s.path == "/token" && s.method == "GET")
        .expect("GET fallback");
    assert_eq!(get.query, "service=notary&scope=repository%3Agun%3Apull");
}

#[tokio::test]
async fn without_credentials_an_anonymous_token_is_tried() {
    let server = FakeServer::start(|seen| match (seen.path.as_str(), &seen.authorization) {
        ("/token", None) => Canned::ok(br#"{"token":"anonymous"}"#.to_vec()),
        (_, Some(auth)) if auth == "Bearer anonymous" => Canned::ok(b"public".to_vec()),
        _ => challenge(seen),
    })
    .await;
    let body = fetcher()
        .session(&[])
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await;
    assert_eq!(body.expect("public"), b"public");
}

#[tokio::test]
async fn without_credentials_a_refused_anonymous_token_says_no_pull_secret() {
    let server = FakeServer::start(token_auth).await;
    let error = fetcher()
        .session(&[])
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await
        .expect_err("private");
    assert!(
        error.to_string().contains("no valid imagePullSecret"),
        "{error}"
    );
}

#[tokio::test]
async fn a_token_refused_by_the_server_moves_on_to_the_next_credential() {
    // Both get tokens, only the second's token opens the data.
    let server = FakeServer::start(|seen| {
        if seen.path == "/token" {
            let name = if form_has(seen, "username=a") {
                "a"
            } else {
                "b"
            };
            return Canned::ok(format!(r#"{{"token":"t-{name}"}}"#).into_bytes());
        }
        match seen.authorization.as_deref() {
            Some("Bearer t-b") => Canned::ok(b"ok".to_vec()),
            Some(_) => Canned::status(403),
            None => challenge(seen),
        }
    })
    .await;
    let credentials = [user("a", "1"), user("b", "2")];
    let body = fetcher()
        .session(&credentials)
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await;
    assert_eq!(body.expect("second"), b"ok");
}

#[tokio::test]
async fn a_basic_challenge_is_answered_with_the_credentials() {
    let server = FakeServer::start(|seen| {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("right:pw")
        );
        if seen.authorization.as_deref() == Some(basic.as_str()) {
            Canned::ok(b"basic".to_vec())
        } else {
            Canned::status(401).header("www-authenticate", r#"Basic realm="notary""#)
        }
    })
    .await;
    let credentials = [user("wrong", "x"), user("right", "pw")];
    let body = fetcher()
        .session(&credentials)
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await;
    assert_eq!(body.expect("basic"), b"basic");
}

#[tokio::test]
async fn a_response_past_the_limit_is_too_large() {
    let server = FakeServer::start(|_| Canned::ok(vec![b'x'; 4096])).await;
    let fetcher = fetcher_with(Duration::from_secs(5), 1024, None);
    let error = fetcher
        .session(&[])
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await
        .expect_err("too large");
    assert!(
        matches!(error, FetchError::TooLarge { limit: 1024, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_chunked_response_is_cut_off_past_the_limit() {
    // No Content-Length: the limit is enforced while streaming.
    let addr = raw_server(|mut stream| async move {
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).await.expect("head");
        let chunk = format!("400\r\n{}\r\n", "y".repeat(1024));
        for _ in 0..64 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let fetcher = fetcher_with(Duration::from_secs(5), 8 * 1024, None);
    let error = fetcher
        .session(&[])
        .get(&format!("http://{addr}{REPO_PATH}"))
        .await
        .expect_err("too large");
    assert!(matches!(error, FetchError::TooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn an_endless_manifest_is_cut_off_at_the_manifest_limit() {
    use crate::fetch::registry::{Registry, RegistryError};
    use portieris_core::registry::manifest::MAX_MANIFEST_BYTES;
    let (ca_pem, acceptor) = tls_acceptor();
    let addr = raw_server(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            let mut request = [0u8; 2048];
            let _ = tls.read(&mut request).await;
            stream_endless_manifest(&mut tls).await;
        }
    })
    .await;
    let mut ca_file = tempfile::NamedTempFile::new().expect("temp file");
    ca_file.write_all(ca_pem.as_bytes()).expect("CA written");
    let fetcher = Arc::new(fetcher_with(
        Duration::from_secs(30),
        MAX_BODY_BYTES,
        Some(ca_file.path().into()),
    ));
    let registry = Registry::new(Arc::clone(&fetcher));
    let image = portieris_core::ImageRef::parse(&format!("{addr}/flood/app:v1")).expect("image");
    let error = registry.digest(&image, &[]).await.expect_err("endless");
    // Not a timeout: the read stopped at the manifest limit, not at the fetch deadline.
    assert!(
        matches!(
            &error,
            RegistryError::Manifest {
                source: FetchError::TooLarge {
                    limit: MAX_MANIFEST_BYTES,
                    ..
                },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(fetcher.budget().in_use(), 0, "the budget is given back");
    assert!(fetcher.budget().peak() <= MAX_MANIFEST_BYTES);
}

#[tokio::test]
async fn a_declared_length_over_the_callers_limit_is_refused_before_reading() {
    let server = FakeServer::start(|_| Canned::ok(vec![b'x'; 4096])).await;
    let fetcher = fetcher();
    let error = fetcher
        .session(&[])
        .limited(1000)
        .get(&format!("{}{REPO_PATH}", server.url()))
        .await
        .expect_err("too large");
    assert!(
        matches!(error, FetchError::TooLarge { limit: 1000, .. }),
        "{error:?}"
    );
    assert_eq!(fetcher.budget().peak(), 0, "nothing was read");
}

#[tokio::test]
async fn the_budget_in_flight_bounds_the_bytes_of_concurrent_fetches() {
    const FETCHES: usize = 8;
    const BODY: usize = 64 * 1024;
    const FIRST: usize = 40 * 1024;
    const BUDGET: usize = 256 * 1024;
    // Every answer sends 40 KiB, then waits for the test before the other 24 KiB: 8 buffers of
    // at least 40 KiB cannot all be held under 256 KiB.
    let (release, released) = tokio::sync::watch::channel(false);
    let addr = raw_server(move |mut stream| {
        let mut released = released.clone();
        async move {
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request).await;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&[b'x'; FIRST]).await;
            let _ = released.wait_for(|go| *go).await;
            let _ = stream.write_all(&[b'x'; BODY - FIRST]).await;
        }
    })
    .await;
    let fetcher = Arc::new(
        Fetcher::new(&FetchConfig {
            max_bytes_in_flight: BUDGET,
            ..FetchConfig::new(Duration::from_secs(30), None)
        })
        .expect("client"),
    );
    let busy = Arc::new(AtomicUsize::new(0));
    let mut fetches = tokio::task::JoinSet::new();
    for _ in 0..FETCHES {
        let (fetcher, busy) = (Arc::clone(&fetcher), Arc::clone(&busy));
        let url = format!("http://{addr}{REPO_PATH}");
        fetches.spawn(async move {
            let result = fetcher.session(&[]).limited(BODY).get(&url).await;
            if matches!(result, Err(FetchError::Busy { .. })) {
                busy.fetch_add(1, Ordering::Relaxed);
            }
            result
        });
    }
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while busy.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    waited.await.expect("a fetch over the budget fails at once");
    release.send_replace(true);
    let mut ok = 0;
    while let Some(result) = fetches.join_next().await {
        match result.expect("fetch task") {
            Ok(body) => {
                assert_eq!(body.len(), BODY);
                ok += 1;
            }
            Err(FetchError::Busy { budget, .. }) => assert_eq!(budget, BUDGET),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(ok >= 1, "the last fetch holding budget always finishes");
    assert!(
        fetcher.budget().peak() <= BUDGET,
        "peak {}",
        fetcher.budget().peak()
    );
    assert_eq!(fetcher.budget().in_use(), 0);
}

#[tokio::test]
async fn a_closed_port_fails_fast_with_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let started = Instant::now();
    let error = fetcher()
        .session(&[])
        .get(&format!("http://{addr}{REPO_PATH}"))
        .await
        .expect_err("refused");
    assert!(matches!(error, FetchError::Connect { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_deadline() {
    let addr = raw_server(|stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let deadline = Duration::from_millis(300);
    let fetcher = fetcher_with(deadline, MAX_BODY_BYTES, None);
    for scheme in ["http", "https"] {
        let started = Instant::now();
        let error = fetcher
            .session(&[])
            .get(&format!("{scheme}://{addr}{REPO_PATH}"))
            .await
            .expect_err("silent server");
        assert!(
            matches!(error, FetchError::Timeout { .. }),
            "{scheme}: {error:?}"
        );
        let elapsed = started.elapsed();
        assert!(
            elapsed >= deadline && elapsed < deadline + Duration::from_secs(2),
            "{scheme}: {elapsed:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_ca_is_a_tls_error_and_the_ca_file_makes_it_trusted() {
    let (ca_pem, addr) = tls_server().await;
    let url = format!("https://{addr}{REPO_PATH}");
    let error = fetcher()
        .session(&[])
        .get(&url)
        .await
        .expect_err("unknown CA");
    assert!(matches!(error, FetchError::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");

    let mut ca_file = tempfile::NamedTempFile::new().expect("temp file");
    ca_file.write_all(ca_pem.as_bytes()).expect("CA written");
    let trusting = fetcher_with(
        Duration::from_secs(5),
        MAX_BODY_BYTES,
        Some(ca_file.path().into()),
    );
    assert_eq!(
        trusting.session(&[]).get(&url).await.expect("trusted"),
        b"over tls"
    );
}

#[test]
fn a_ca_file_without_certificates_is_refused_at_startup() {
    let mut empty = tempfile::NamedTempFile::new().expect("temp file");
    empty.write_all(b"not a certificate\n").expect("written");
    let config = FetchConfig::new(Duration::from_secs(1), Some(empty.path().into()));
    let error = Fetcher::new(&config).err().expect("refused");
    assert!(error.to_string().contains("no PEM certificate"), "{error}");
    let missing = FetchConfig::new(Duration::from_secs(1), Some("/nonexistent/ca.pem".into()));
    assert!(matches!(
        Fetcher::new(&missing),
        Err(SetupError::CaFile { .. })
    ));
}

#[test]
fn urls_in_errors_carry_no_user_info() {
    let url = Url::parse("https://user:secret@notary.example/v2/x").expect("url");
    assert_eq!(redact(&url), "https://notary.example/v2/x");
    let error = parse_url("ftp://user:secret@host/x").expect_err("ftp");
    assert!(!error.to_string().contains("secret"), "{error}");
}

/// A TCP server running `serve` on each connection.
async fn raw_server<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

/// An HTTPS server with a certificate from a fresh CA; returns the CA's PEM.
async fn tls_server() -> (String, SocketAddr) {
    let (ca, acceptor) = tls_acceptor();
    let addr = raw_server(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            let mut request = [0u8; 2048];
            let _ = tls.read(&mut request).await;
            let response =
                "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nover tls";
            let _ = tls.write_all(response.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    })
    .await;
    (ca, addr)
}

/// Writes `{"schemaVersion":2,"pad":"` and then spaces, in chunks, until the peer goes away.
async fn stream_endless_manifest<S>(stream: &mut S)
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let head = "HTTP/1.1 200 OK\r\n\
                Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let start = br#"{"schemaVersion":2,"pad":""#;
    let mut chunk = format!("{:x}\r\n", start.len()).into_bytes();
    chunk.extend_from_slice(start);
    chunk.extend_from_slice(b"\r\n");
    let pad = [b' '; 16 * 1024];
    loop {
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
        chunk = format!("{:x}\r\n", pad.len()).into_bytes();
        chunk.extend_from_slice(&pad);
        chunk.extend_from_slice(b"\r\n");
    }
}

/// The CA's PEM and an acceptor presenting a certificate for 127.0.0.1 that it issued.
fn tls_acceptor() -> (String, tokio_rustls::TlsAcceptor) {
    let mut params = CertificateParams::new(Vec::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("cert");
    let key = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .expect("server config");
    (ca.pem(), tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
