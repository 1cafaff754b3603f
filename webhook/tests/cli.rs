//! `portieris review` and `portieris validate` against the shipped examples.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn portieris(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_portieris"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("portieris runs");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("stdin written");
    drop(input);
    child.wait_with_output().expect("portieris exits")
}

fn review(example: &str) -> (i32, serde_json::Value) {
    let policies = examples().join("policies");
    let file = examples().join("admission").join(example);
    let out = portieris(
        &[
            "review",
            "--policy-dir",
            policies.to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
        ],
        None,
    );
    let response = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().expect("exit code"), response)
}

fn message(response: &serde_json::Value) -> &str {
    response["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
}

/// Runs `portieris validate --policy-dir <dir>`: its exit code and its report (stdout). Its
/// stderr goes to the test's, which the harness shows when the test fails.
fn validate(dir: &Path) -> (Option<i32>, String) {
    let out = portieris(
        &["validate", "--policy-dir", dir.to_str().expect("utf-8")],
        None,
    );
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), report)
}

/// `portieris validate` of a folder holding `policies` as `p.yaml` exits 1 and reports each of
/// `needles`.
fn assert_reports(policies: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("p.yaml"), policies).expect("write");
    let (code, report) = validate(dir.path());
    assert_eq!(code, Some(1), "{report}");
    for needle in needles {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
}

const KINDS: [&str; 8] = [
    "pod",
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "replicationcontroller",
    "job",
    "cronjob",
];

#[test]
fn review_allows_every_kind_whose_images_the_policy_allows() {
    for kind in KINDS {
        let (code, response) = review(&format!("{kind}-allowed.json"));
        assert_eq!(code, 0, "{kind}: {response}");
        assert_eq!(response["response"]["allowed"], true, "{kind}");
        assert_eq!(
            response["response"]["uid"],
            format!("example-{kind}-allowed")
        );
    }
}

#[test]
fn review_denies_every_kind_with_an_unmatched_image_and_names_it() {
    for kind in KINDS {
        let (code, response) = review(&format!("{kind}-denied.json"));
        assert_eq!(code, 1, "{kind}: {response}");
        assert_eq!(response["response"]["allowed"], false);
        assert_eq!(
            message(&response),
            "Deny \"quay.io/evil/miner:latest\", no matching repositories in ClusterImagePolicies and no ImagePolicies in the \"default\" namespace",
            "{kind}"
        );
    }
}

#[test]
fn review_checks_ephemeral_debug_containers() {
    let (code, response) = review("pod-ephemeral-denied.json");
    assert_eq!(code, 1);
    assert!(
        message(&response).contains("quay.io/evil/shell"),
        "{response}"
    );
}

#[test]
fn review_uses_only_the_namespace_image_policy_where_one_exists() {
    assert_eq!(review("team-deployment-allowed.json").0, 0);
    let (code, response) = review("team-pod-denied.json");
    assert_eq!(code, 1);
    assert!(
        message(&response)
            .contains("no matching repositories in the ImagePolicies of the \"team\" namespace")
    );
}

#[test]
fn review_denies_when_trust_data_cannot_be_fetched() {
    let policies = examples().join("policies");
    let file = examples().join("admission/pod-trust-required.json");
    // A loopback port that refuses connections stands in for icr.io's notary server.
    let args = [
        "review",
        "--trust-server",
        "icr.io=https://127.0.0.1:1",
        "--policy-dir",
        policies.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ];
    let out = portieris(&args, None);
    assert_eq!(out.status.code(), Some(1));
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a response");
    assert!(
        message(&response).contains("https://127.0.0.1:1"),
        "{response}"
    );
}

#[test]
fn review_denies_unknown_kinds_unless_told_to_pass_them() {
    let (code, response) = review("widget-unknown-kind.json");
    assert_eq!(code, 1);
    assert!(
        message(&response).contains("example.com/v1 Widget"),
        "{response}"
    );
    let policies = examples().join("policies");
    let file = examples().join("admission/widget-unknown-kind.json");
    let args = [
        "review",
        "--allow-unknown-kinds",
        "--policy-dir",
        policies.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ];
    assert_eq!(portieris(&args, None).status.code(), Some(0));
}

#[test]
fn review_reads_stdin_and_exits_2_on_malformed_input() {
    let policies = examples().join("policies");
    let out = portieris(
        &[
            "review",
            "--policy-dir",
            policies.to_str().expect("utf-8"),
            "-",
        ],
        Some(b"{not json"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not JSON"),
        "{out:?}"
    );
    let body = std::fs::read(examples().join("admission/pod-allowed.json")).expect("example");
    let out = portieris(
        &["review", "--policy-dir", policies.to_str().expect("utf-8")],
        Some(&body),
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn validate_accepts_the_examples() {
    for folder in ["policies", "demo/policies"] {
        let (code, report) = validate(&examples().join(folder));
        assert_eq!(code, Some(0), "{folder}: {report}");
    }
}

#[test]
fn validate_reports_every_problem_with_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = "apiVersion: portieris.cloud.ibm.com/v1\nkind: ImagePolicy\nmetadata: {name: p, namespace: team}\nspec:\n  repositories:\n    - name: \"icr.io/Team/*\"\n    - name: ok.io/*\n      policy:\n        trsut: {enabled: true}\n---\napiVersion: portieris.cloud.ibm.com/v1\nkind: ImagePolicy\nmetadata: {name: q, namespace: team}\nspec:\n  repositories:\n    - name: \"*\"\n      policy: {trust: {enabled: true, signerSecrets: [{name: alice}]}}\n";
    std::fs::write(dir.path().join("bad.yaml"), bad).expect("write");
    std::fs::write(dir.path().join("broken.yml"), "kind: [unclosed").expect("write");
    std::fs::write(
        dir.path().join("other.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )
    .expect("write");
    let (code, report) = validate(dir.path());
    assert_eq!(code, Some(1), "{report}");
    for needle in [
        "bad.yaml (document 1): ImagePolicy \"team/p\": spec.repositories[1] (\"ok.io/*\"): unknown field `trsut`",
        "bad.yaml (document 2): ImagePolicy \"team/q\": spec.repositories[0].policy.trust.signerSecrets[0].name: Secret \"team/alice\" is not in the folder",
        "broken.yml (document 1): not valid YAML",
        "other.yaml (document 1): unsupported object v1 ConfigMap",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
}

#[test]
fn validate_reports_policy_fields_that_cannot_mean_what_they_say() {
    let policies = "apiVersion: portieris.cloud.ibm.com/v1\nkind: ClusterImagePolicy\nmetadata: {name: c}\nspec:\n  repositories:\n    - name: \"icr.io/*\"\n      policy: {mutateImage: false, mutation: tagAndDigest}\n---\napiVersion: portieris.cloud.ibm.com/v1\nkind: ClusterImagePolicy\nmetadata: {name: d}\nspec:\n  repositories:\n    - name: \"quay.io/*\"\n      policy: {enforcement: audit}\n";
    assert_reports(
        policies,
        &[
            "unknown variant `audit`, expected `enforce` or `warn`",
            "spec.repositories[0].policy.mutation: tagAndDigest has no effect with mutateImage: false",
        ],
    );
}

#[test]
fn validate_reports_attestation_problems_with_the_position_of_a_bad_condition() {
    let policies = r#"apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata: {name: p, namespace: team}
spec:
  repositories:
    - name: "icr.io/*"
      policy:
        attestations:
          - predicateType: slsaprovenance1
            signer: {keySecret: ci-key}
            conditions: ["predicate.runDetails.builder.id == 'ci'", "predicate.x ==="]
---
apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata: {name: q, namespace: team}
spec:
  repositories:
    - name: "quay.io/*"
      policy:
        attestations:
          - predicateType: slsa
            signer: {keySecret: absent}
---
apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata: {name: r, namespace: team}
spec:
  repositories:
    - name: "gcr.io/*"
      policy:
        attestations:
          - predicateType: spdxjson
            signer: {keySecret: absent}
            conditions: ["predicate.packages.all(p, predicate.packages.exists(q, q.name == p.name))"]
"#;
    assert_reports(
        policies,
        &[
            "ImagePolicy \"team/p\": spec.repositories[0] (\"icr.io/*\"): condition 2: line 1, column ",
            "spec.repositories[0].policy.attestations: attestation 1 (slsa): predicateType is neither a URI nor one of slsaprovenance,",
            "spec.repositories[0].policy.attestations[0].signer.keySecret: Secret \"team/absent\" is not in the folder",
            "ImagePolicy \"team/r\": spec.repositories[0] (\"gcr.io/*\"): condition 1: line 1, column ",
            "over the limit of 4294967296",
        ],
    );
}

#[test]
fn validate_reports_notation_problems_in_the_field_and_in_its_trust_policy_document() {
    let policies = r#"apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata: {name: p, namespace: team}
spec:
  repositories:
    - name: "icr.io/*"
      policy:
        notation:
          trustPolicy: {secret: trust-policy}
          trustStores:
            - {type: ca, name: acme, secret: acme}
            - {type: x509, name: other, secret: absent}
---
apiVersion: v1
kind: Secret
metadata: {name: trust-policy, namespace: team}
stringData:
  trustpolicy.json: |
    {"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["*"],
      "signatureVerification": {"level": "strict"}, "trustStores": ["ca:acme", "tsa:stamps"],
      "trustedIdentities": ["*"]}]}
---
apiVersion: v1
kind: Secret
metadata: {name: acme, namespace: team}
stringData: {root.pem: x}
---
apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata: {name: q, namespace: team}
spec:
  repositories:
    - name: "quay.io/*"
      policy:
        notation:
          trustPolicy: {secret: overlapping}
---
apiVersion: v1
kind: Secret
metadata: {name: overlapping, namespace: team}
stringData:
  trustpolicy.json: |
    {"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["*"],
      "signatureVerification": {"level": "strict"}, "trustStores": ["ca:acme"],
      "trustedIdentities": ["x509.subject: C=US, ST=WA, O=acme", "x509.subject: C=US, ST=WA, O=acme, CN=ci"]}]}
"#;
    assert_reports(
        policies,
        &[
            "spec.repositories[0].policy.notation: notation trustStores[1]: type \"x509\" is not ca, signingAuthority or tsa",
            "spec.repositories[0].policy.notation.trustStores[1].secret: Secret \"team/absent\" is not in the folder",
            "spec.repositories[0].policy.notation.trustPolicy: the trust policy document uses the trust store tsa:stamps, which trustStores does not give",
            "ImagePolicy \"team/q\": spec.repositories[0].policy.notation.trustPolicy: notation trust policy: statement \"a\": trusted identities",
        ],
    );
}

#[test]
fn review_refuses_a_policy_folder_with_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("broken.yaml"), "kind: [unclosed").expect("write");
    let file = examples().join("admission/pod-allowed.json");
    let out = portieris(
        &[
            "review",
            "--policy-dir",
            dir.path().to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.yaml"));
}

#[test]
fn validate_refuses_duplicate_keys_naming_file_document_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A later, weaker value must not win: each duplicate is refused, not resolved.
    let policies = "apiVersion: portieris.cloud.ibm.com/v1\nkind: ClusterImagePolicy\nmetadata: {name: a}\nspec:\n  repositories: [{name: \"quay.io/*\", policy: {}}]\n---\napiVersion: portieris.cloud.ibm.com/v1\nkind: ClusterImagePolicy\nmetadata: {name: b}\nspec:\n  repositories:\n    - name: \"icr.io/*\"\n      policy: {trust: {enabled: true}}\n      policy: {}\n";
    std::fs::write(dir.path().join("policy.yaml"), policies).expect("write");
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: k, namespace: team}\nstringData:\n  cosign.pub: one\n  cosign.pub: two\n";
    std::fs::write(dir.path().join("secret.yaml"), secret).expect("write");
    let (code, report) = validate(dir.path());
    assert_eq!(code, Some(1), "{report}");
    for needle in [
        "policy.yaml (document 2): duplicate key `policy` at line 14, column 7",
        "secret.yaml (document 1): duplicate key `cosign.pub` at line 6, column 3",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
}

#[test]
fn review_refuses_a_policy_folder_with_a_duplicate_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policies = "apiVersion: portieris.cloud.ibm.com/v1\nkind: ClusterImagePolicy\nmetadata: {name: c}\nspec: {repositories: [{name: \"*\", policy: {trust: {enabled: true}}}]}\nspec: {repositories: [{name: \"*\", policy: {}}]}\n";
    std::fs::write(dir.path().join("p.yaml"), policies).expect("write");
    let file = examples().join("admission/pod-allowed.json");
    let out = portieris(
        &[
            "review",
            "--policy-dir",
            dir.path().to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("p.yaml (document 1): duplicate key `spec` at line 5, column 1"),
        "{stderr}"
    );
}

/// docs/cli.md is the `--help` of every command; `PORTIERIS_UPDATE_DOCS=1 cargo test` rewrites it.
#[test]
fn cli_reference_in_docs_is_current() {
    let mut doc = String::from(
        "# Command line reference\n\nGenerated from `--help` by `PORTIERIS_UPDATE_DOCS=1 cargo test -p portieris-webhook --test cli`.\n",
    );
    let commands = [
        &[][..],
        &["serve"],
        &["review"],
        &["validate"],
        &["sigstore", "verify-bundle"],
    ];
    for command in commands {
        let mut args: Vec<&str> = command.to_vec();
        args.push("--help");
        let help = String::from_utf8(portieris(&args, None).stdout).expect("utf-8");
        let title = if command.is_empty() {
            "portieris".to_string()
        } else {
            format!("portieris {}", command.join(" "))
        };
        doc.push_str(&format!(
            "\n## {title}\n\n```text\n{}\n```\n",
            help.trim_end()
        ));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
    if std::env::var_os("PORTIERIS_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).expect("docs/cli.md written");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == doc,
        "docs/cli.md is stale: run PORTIERIS_UPDATE_DOCS=1 cargo test -p portieris-webhook --test cli"
    );
}
