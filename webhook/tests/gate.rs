//! Every way past the gate of issue 14, each spelling a case, through `portieris review` and a
//! running `portieris serve`'s `/admit` alike: both must deny, with the same answer. Tag and
//! digest cases ask the test rig's real registry (`scripts/rig.sh start`) for a tag's digest.

#[allow(dead_code)] // shared with other test files
mod common;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;

use std::path::Path;
use std::process::Command;

use common::{JSON, Server, Tls, post};
use hyper::StatusCode;
use rig::Rig;
use serde_json::{Value, json};

/// `*` admits; each registry below is refused, so an image that escapes its registry's rule by
/// respelling the registry would be admitted by `*`.
const POLICY: &str = r#"apiVersion: portieris.cloud.ibm.com/v1
kind: ClusterImagePolicy
metadata: {name: gate}
spec:
  repositories:
    - name: "*"
      policy: {}
    - name: "icr.io/*"
      policy: {simple: {requirements: [{type: reject}]}}
    - name: "docker.io/*"
      policy: {simple: {requirements: [{type: reject}]}}
    - name: "127.0.0.1:5000/test/*"
      policy: {simple: {requirements: [{type: reject}]}}
    - name: "127.0.0.1:5000/test/signed:v1"
      policy: {}
    - name: "quay.io/keyed/*"
      policy: {cosign: {requirements: [{keySecret: planted}]}}
---
apiVersion: v1
kind: Secret
metadata: {name: planted, namespace: team}
stringData:
  cosign.pub: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
"#;

const FLAGS: [&str; 1] = ["--allow-unknown-kinds"];

fn admission(kind: &str, object: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "gate", "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "team",
        "operation": "CREATE", "object": object}})
}

fn pod(spec: Value) -> Value {
    admission("Pod", json!({"metadata": {"name": "p"}, "spec": spec}))
}

fn pod_running(image: &str) -> Value {
    pod(json!({"containers": [{"name": "c", "image": image}]}))
}

/// `portieris review` of `body` against a folder holding `policy`: exit code and stdout.
fn review(policy: &str, ca: &Path, body: &[u8]) -> (i32, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("policy.yaml"), policy).expect("policy");
    // Outside the policy folder, which reads every JSON file in it.
    let input = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(input.path(), body).expect("review");
    let out = Command::new(env!("CARGO_BIN_EXE_portieris"))
        .arg("review")
        .arg("--policy-dir")
        .arg(dir.path())
        .arg("--ca-file")
        .arg(ca)
        .args(FLAGS)
        .arg(input.path())
        .output()
        .expect("portieris runs");
    (out.status.code().expect("exit code"), out.stdout)
}

/// Both answers to `body`, checked to agree: the AdmissionResponse, or `None` for a body
/// that is no addressable review (`review` exits 2, `/admit` answers 400).
async fn judge(server: &Server, ca: &Path, body: &Value) -> Option<Value> {
    judge_bytes(server, ca, serde_json::to_vec(body).expect("json")).await
}

async fn judge_bytes(server: &Server, ca: &Path, body: Vec<u8>) -> Option<Value> {
    let (code, stdout) = review(POLICY, ca, &body);
    let reply = server.send(post(JSON, body)).await;
    if reply.status == StatusCode::BAD_REQUEST {
        assert_eq!(code, 2, "review exits 2 where /admit answers 400");
        return None;
    }
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let served = reply.json()["response"].clone();
    let reviewed: Value = serde_json::from_slice(&stdout).expect("review prints JSON");
    assert_eq!(reviewed["response"], served, "review and /admit disagree");
    let allowed = served["allowed"] == true;
    assert_eq!(code, if allowed { 0 } else { 1 }, "exit code of {served}");
    Some(served)
}

fn message(response: &Value) -> &str {
    response["status"]["message"].as_str().unwrap_or_default()
}

async fn gate() -> (Server, Rig) {
    let rig = Rig::get();
    let ca = rig.ca();
    let ca = ca.to_str().expect("utf-8 path");
    let args = ["--ca-file", ca, FLAGS[0]];
    (
        Server::start_with(Tls::SelfSigned, POLICY, &args).await,
        rig,
    )
}

async fn assert_denied(server: &Server, ca: &Path, body: &Value, reason: &str) {
    let response = judge(server, ca, body).await.expect("a review");
    assert_eq!(response["allowed"], false, "{body}: {response}");
    assert!(message(&response).contains(reason), "{body}: {response}");
}

#[tokio::test]
async fn every_spelling_of_a_registry_falls_under_its_rule() {
    let (server, rig) = gate().await;
    let rejected = "the policy rejects this image";
    for image in [
        "icr.io:443/team/app:1",
        "ICR.IO:443/team/app",
        "index.docker.io/library/nginx",
        "index.docker.io:443/nginx",
        "docker.io:443/nginx",
        "registry-1.docker.io/nginx",
        "registry-1.docker.io:443/library/nginx",
        "Registry.Hub.Docker.Com/nginx:1",
        "registry.hub.docker.com:443/org/app",
        "127.0.0.1:5000/test/unsigned:v1",
    ] {
        assert_denied(&server, &rig.ca(), &pod_running(image), rejected).await;
    }
    let other = judge(&server, &rig.ca(), &pod_running("quay.io/other/app:1")).await;
    assert_eq!(
        other.expect("a review")["allowed"],
        true,
        "the control case"
    );
}

#[tokio::test]
async fn a_tag_rule_admits_only_the_digest_its_tag_has() {
    let (server, rig) = gate().await;
    let v1 = rig.image("signed_v1");
    let v2 = rig.image("signed_v2");
    let base = "127.0.0.1:5000/test/signed";
    let smuggled = format!("{base}:v1@{}", v2.digest);
    let why = format!("tag \"v1\" is {}, not {}", v1.digest, v2.digest);
    assert_denied(&server, &rig.ca(), &pod_running(&smuggled), &why).await;
    let honest = judge(
        &server,
        &rig.ca(),
        &pod_running(&format!("{base}:v1@{}", v1.digest)),
    )
    .await;
    let honest = honest.expect("a review");
    assert_eq!(honest["allowed"], true, "{honest}");
    assert!(
        honest.get("patch").is_none(),
        "an empty policy pins nothing: {honest}"
    );
    let other_tag = format!("{base}:v2@{}", v1.digest);
    assert_denied(&server, &rig.ca(), &pod_running(&other_tag), "rejects").await;
}

#[tokio::test]
async fn image_volumes_are_checked_like_containers() {
    let (server, rig) = gate().await;
    let body = pod(
        json!({"containers": [{"name": "c", "image": "quay.io/other/app:1"}],
        "volumes": [{"name": "m", "image": {"reference": "icr.io/team/models:1"}}]}),
    );
    assert_denied(&server, &rig.ca(), &body, "Deny \"icr.io/team/models:1\"").await;
}

#[tokio::test]
async fn a_cluster_policy_never_reads_a_key_planted_in_the_workloads_namespace() {
    let (server, rig) = gate().await;
    let body = pod_running("quay.io/keyed/app:1");
    assert_denied(
        &server,
        &rig.ca(),
        &body,
        "Secret \"portieris/planted\" not found",
    )
    .await;
}

#[tokio::test]
async fn the_legacy_ephemeral_containers_kind_is_checked_with_unknown_kinds_allowed() {
    let (server, rig) = gate().await;
    let object = json!({"apiVersion": "v1", "kind": "EphemeralContainers",
        "metadata": {"name": "p", "namespace": "team"},
        "ephemeralContainers": [{"name": "debug", "image": "icr.io/tools/debug:1"}]});
    let body = admission("EphemeralContainers", object);
    assert_denied(&server, &rig.ca(), &body, "Deny \"icr.io/tools/debug:1\"").await;
}

#[tokio::test]
async fn a_member_written_twice_is_refused() {
    let (server, rig) = gate().await;
    let body = r#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "gate", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "team",
        "operation": "CREATE", "object": {"spec": {"containers": [
            {"name": "c", "image": "icr.io/team/app:1", "image": null}]}}}}"#;
    let answer = judge_bytes(&server, &rig.ca(), body.as_bytes().to_vec()).await;
    assert!(answer.is_none(), "refused as ambiguous: {answer:?}");
}

#[tokio::test]
async fn control_characters_never_forge_a_message_line_and_unpinned_requests_carry_no_patch() {
    let (server, rig) = gate().await;
    let forged = "quay.io/x\nDeny \"quay.io/y\", forged";
    let response = judge(&server, &rig.ca(), &pod_running(forged))
        .await
        .expect("review");
    assert_eq!(response["allowed"], false);
    assert_eq!(message(&response).lines().count(), 1, "{response}");
    let mut stale = pod_running("quay.io/other/app:1");
    stale["request"]["object"]["metadata"]["annotations"] = json!({
        "portieris.cloud.ibm.com/original-images": r#"{"/spec/containers/0/image": "quay.io/old/app:0"}"#});
    let response = judge(&server, &rig.ca(), &stale).await.expect("review");
    assert_eq!(response["allowed"], true, "{response}");
    assert!(response.get("patch").is_none(), "{response}");
}

#[tokio::test]
async fn a_pattern_naming_only_a_registry_is_refused_by_validate_and_denies() {
    let rig = Rig::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = "apiVersion: portieris.cloud.ibm.com/v1\nkind: ClusterImagePolicy\nmetadata: {name: c}\nspec:\n  repositories:\n    - name: \"*\"\n    - name: \"quay.io\"\n      policy: {simple: {requirements: [{type: reject}]}}\n";
    std::fs::write(dir.path().join("policy.yaml"), policy).expect("policy");
    let out = Command::new(env!("CARGO_BIN_EXE_portieris"))
        .arg("validate")
        .arg("--policy-dir")
        .arg(dir.path())
        .output()
        .expect("portieris runs");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains("names only a registry") && report.contains("quay.io/*"),
        "{report}"
    );
    let body = serde_json::to_vec(&pod_running("quay.io/team/app:1")).expect("json");
    let (code, stdout) = review(policy, &rig.ca(), &body);
    let response: Value = serde_json::from_slice(&stdout).expect("json");
    assert_eq!(code, 1, "{response}");
    assert!(
        message(&response["response"]).contains("names only a registry"),
        "{response}"
    );
}
