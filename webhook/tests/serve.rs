//! `portieris serve` end to end: the real binary, real TLS, and clients that trust only the
//! test CA, as the API server trusts only the webhook's `caBundle`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Ca, JSON, Server, Tls, get, pod_review, post, review, send_http2, trusting};
use hyper::StatusCode;

const DEADLINE: Duration = Duration::from_secs(20);

/// A server with a certificate for 127.0.0.1 and localhost from a fresh CA.
async fn server(extra_args: &[&str]) -> Server {
    let ca = Ca::new();
    let issued = ca.issue(&["127.0.0.1", "localhost"]);
    Server::start(Tls::Files(&ca, &issued), extra_args).await
}

fn message(response: &serde_json::Value) -> &str {
    response["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn admits_an_image_the_policy_allows() {
    let server = server(&[]).await;
    let reply = server
        .send(post(JSON, pod_review("icr.io/allowed/app:1")))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, JSON);
    let review = reply.json();
    assert_eq!(review["response"]["allowed"], true, "{review}");
    assert_eq!(review["response"]["uid"], "u1");
}

#[tokio::test]
async fn denies_an_image_the_policy_rejects_and_names_it() {
    let server = server(&[]).await;
    let reply = server.send(post(JSON, pod_review("nginx"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let review = reply.json();
    assert_eq!(review["response"]["allowed"], false, "{review}");
    assert!(message(&review).contains(r#"Deny "nginx""#), "{review}");
}

#[tokio::test]
async fn denies_a_kind_it_does_not_know_and_names_it() {
    let server = server(&[]).await;
    let body = review(
        serde_json::json!({"group": "example.com", "version": "v1", "kind": "Widget"}),
        serde_json::json!({"group": "example.com", "version": "v1", "resource": "widgets"}),
        serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget"}),
    );
    let reply = server.send(post(JSON, body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let review = reply.json();
    assert_eq!(review["response"]["allowed"], false, "{review}");
    assert!(message(&review).contains("Widget"), "{review}");
}

#[tokio::test]
async fn answers_malformed_json_with_400() {
    let server = server(&[]).await;
    let reply = server.send(post(JSON, "{not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.content_type.starts_with("text/plain"), "{reply:?}");
}

#[tokio::test]
async fn refuses_a_body_over_the_size_limit_with_413() {
    let server = server(&["--max-body-bytes", "4096"]).await;
    let reply = server.send(post(JSON, vec![b' '; 5000])).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );
    let within = server.send(post(JSON, pod_review("nginx"))).await;
    assert_eq!(within.status, StatusCode::OK, "a small review still passes");
}

#[tokio::test]
async fn refuses_a_body_that_is_not_json_with_415() {
    let server = server(&[]).await;
    let reply = server
        .send(post("text/plain", pod_review("icr.io/allowed/app:1")))
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        reply.text().contains("application/json"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn liveness_answers_200() {
    let server = server(&[]).await;
    assert_eq!(
        server.send(get("/health/liveness")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn readiness_answers_200_once_the_policies_are_loaded() {
    let server = server(&[]).await;
    let reply = server.send(get("/health/readiness")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_every_admission_decision() {
    let server = server(&[]).await;
    server
        .send(post(JSON, pod_review("icr.io/allowed/app:1")))
        .await;
    server.send(post(JSON, pod_review("nginx"))).await;
    server
        .send(post("text/plain", pod_review("icr.io/allowed/app:1")))
        .await;
    server.send(get("/health/liveness")).await;

    let reply = server.metrics().await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, "text/plain; version=0.0.4");
    let text = reply.text();
    for line in [
        "portieris_pod_admission_decision_allow_count 1",
        "portieris_pod_admission_decision_deny_count 2",
        r#"portieris_admission_request_duration_seconds_count{outcome="allow"} 1"#,
        r#"portieris_admission_request_duration_seconds_count{outcome="deny"} 1"#,
        r#"portieris_admission_request_duration_seconds_count{outcome="invalid"} 1"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test]
async fn serves_a_replaced_certificate_without_restarting() {
    let ca = Ca::new();
    let first = ca.issue(&["127.0.0.1", "localhost"]);
    let server = Server::start(Tls::Files(&ca, &first), &[]).await;
    assert_eq!(server.served_certificate().await, first.der);

    let second = ca.issue(&["127.0.0.1", "localhost", "rotated.example"]);
    std::fs::write(server.cert_path(), &second.cert_pem).expect("cert replaced");
    std::fs::write(server.key_path(), &second.key_pem).expect("key replaced");

    let end = Instant::now() + DEADLINE;
    while server.served_certificate().await != second.der {
        assert!(Instant::now() < end, "not reloaded:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reply = server.send(get("/health/liveness")).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the new certificate serves requests"
    );
}

#[tokio::test]
async fn self_signed_mode_serves_tls_for_localhost_without_reading_files() {
    let server = Server::start(Tls::SelfSigned, &[]).await;
    assert_eq!(
        server.send(get("/health/liveness")).await.status,
        StatusCode::OK
    );

    // The throwaway certificate is its own issuer and names 127.0.0.1: a client that trusts
    // it alone completes a verified handshake.
    let certificate = server.served_certificate().await;
    let verified = server.connect_with(Arc::new(trusting(certificate))).await;
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test]
async fn serves_http2_to_clients_that_ask_for_it_by_alpn() {
    let ca = Ca::new();
    let issued = ca.issue(&["127.0.0.1"]);
    let server = Server::start(Tls::Files(&ca, &issued), &[]).await;
    let mut client = ca.client();
    client.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = server.connect_with(Arc::new(client)).await.expect("TLS");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let reply = send_http2(tls, post(JSON, pod_review("icr.io/allowed/app:1")))
        .await
        .expect("HTTP/2 answer");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["response"]["allowed"], true);
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_cleanly() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let mut server = server(&[]).await;
    let body = pod_review("icr.io/allowed/app:1");
    let mut tls = server.connect().await.expect("TLS");
    let head = format!(
        "POST /admit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.expect("head sent");
    // The server asks for the body once `/admit` starts reading it: the request is in flight.
    let mut interim = [0; 25];
    tls.read_exact(&mut interim).await.expect("interim answer");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");

    let pid = server.pid();
    let kill = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .expect("sh runs");
    assert!(kill.success());
    wait_until_refused(server.webhook).await;

    tls.write_all(body.as_bytes()).await.expect("body sent");
    let mut answer = Vec::new();
    // The server closes the connection after answering, as keep-alive ends at shutdown.
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(r#""allowed":true"#), "{answer}");

    let status = server.exit_status(DEADLINE).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        server.log()
    );
}

/// Waits until new connections are refused: the server has stopped accepting.
#[cfg(unix)]
async fn wait_until_refused(address: std::net::SocketAddr) {
    let end = Instant::now() + DEADLINE;
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(Instant::now() < end, "still accepting connections");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `image` until the decision is `allowed`, or the deadline passes.
async fn wait_for_decision(server: &Server, image: &str, allowed: bool) -> bool {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        let review = server.send(post(JSON, pod_review(image))).await.json();
        if review["response"]["allowed"] == allowed {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test]
async fn reloads_a_changed_policy_folder_and_keeps_the_last_good_one() {
    let server = server(&[]).await;
    assert!(wait_for_decision(&server, "nginx", false).await);
    let allow_all = "apiVersion: portieris.cloud.ibm.com/v1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  repositories: [{name: \"*\"}]\n";
    std::fs::write(server.policy_path(), allow_all).expect("policy rewritten");
    assert!(
        wait_for_decision(&server, "nginx", true).await,
        "the new policy took effect"
    );
    std::fs::write(server.policy_path(), "kind: [broken").expect("policy broken");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        wait_for_decision(&server, "nginx", true).await,
        "a broken folder is not loaded"
    );
    assert!(
        server.log().contains("policy folder not reloaded"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn admissions_over_the_concurrency_cap_queue_and_are_all_answered() {
    let server = server(&["--max-concurrent-admissions", "1"]).await;
    let replies = futures::future::join_all(
        (0..8).map(|_| server.send(post(JSON, pod_review("icr.io/allowed/app:1")))),
    )
    .await;
    for reply in replies {
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["response"]["allowed"], true);
    }
}

#[tokio::test]
async fn metrics_count_trust_cache_lookups_from_the_start() {
    let server = server(&[]).await;
    let text = server.metrics().await.text();
    for line in [
        r#"portieris_cache_requests_total{cache="trust_results",result="hit"} 0"#,
        r#"portieris_cache_requests_total{cache="trust_results",result="miss"} 0"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
