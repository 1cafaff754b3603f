use super::*;
use crate::admission::{ContainerList, Invalid};
use crate::policy::Resource;
use alloc::vec;
use serde_json::{Value, json};

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn policies(repositories: Value) -> PolicySet {
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "cluster"}, "spec": {"repositories": repositories}});
    PolicySet::new([Resource::from_value(&object).expect("policy")])
}

fn pod(images: &[&str]) -> Result<Request, Invalid> {
    let containers: Vec<Value> = images
        .iter()
        .map(|i| json!({"name": "c", "image": i}))
        .collect();
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "team",
        "operation": "CREATE", "object": {"metadata": {"name": "p"}, "spec": {"containers": containers}}}});
    Request::parse(
        &serde_json::to_vec(&review).expect("json"),
        &Options::default(),
    )
}

fn decide_pod(images: &[&str], policies: &PolicySet) -> Decision {
    decide(&pod(images).expect("valid"), policies, &Options::default())
}

fn reasons(decision: Decision) -> Vec<String> {
    match decision {
        Decision::Deny { reasons } => reasons,
        Decision::Allow { .. } => panic!("expected a deny"),
    }
}

#[test]
fn an_empty_policy_allows_without_mutation() {
    let decision = decide_pod(
        &["icr.io/team/app:1"],
        &policies(json!([{"name": "icr.io/*"}])),
    );
    assert_eq!(
        decision,
        Decision::Allow {
            patch: vec![],
            warnings: vec![]
        }
    );
}

#[test]
fn insecure_accept_anything_allows_and_reject_denies() {
    let set = policies(json!([
        {"name": "icr.io/*", "policy": {"simple": {"requirements": [{"type": "insecureAcceptAnything"}]}}},
        {"name": "quay.io/*", "policy": {"simple": {"requirements": [{"type": "reject"}]}}},
    ]));
    assert!(decide_pod(&["icr.io/a/b"], &set).is_allow());
    let why = reasons(decide_pod(&["quay.io/a/b"], &set));
    assert_eq!(
        why,
        vec![String::from(
            "Deny \"quay.io/a/b\", the policy rejects this image (simple requirement \"reject\") (ClusterImagePolicy \"cluster\", repository \"quay.io/*\")"
        )]
    );
}

#[test]
fn requirements_this_build_cannot_verify_deny_and_say_so() {
    let set = policies(json!([
        {"name": "icr.io/trust/*", "policy": {"trust": {"enabled": true}}},
        {"name": "icr.io/simple/*", "policy": {"simple": {"requirements": [{"type": "signedBy", "keySecret": "k"}]}}},
        {"name": "icr.io/va/*", "policy": {"vulnerability": {"ICCRVA": {"enabled": true}}}},
        {"name": "icr.io/odd/*", "policy": {"simple": {"requirements": [{"type": "signedByMagic"}]}}},
    ]));
    let cases = [
        ("icr.io/trust/a", "trust (Notary v1)"),
        ("icr.io/simple/a", "signedBy"),
        ("icr.io/va/a", "ICCRVA"),
        (
            "icr.io/odd/a",
            "unknown simple requirement type \"signedByMagic\"",
        ),
    ];
    for (image, needle) in cases {
        let why = reasons(decide_pod(&[image], &set));
        assert!(
            why.len() == 1 && why[0].contains(needle),
            "{image}: {why:?}"
        );
    }
}

#[test]
fn trust_disabled_is_an_empty_policy() {
    assert!(
        decide_pod(
            &["icr.io/a"],
            &policies(json!([{"name": "*", "policy": {"trust": {"enabled": false}}}]))
        )
        .is_allow()
    );
}

#[test]
fn one_denied_image_denies_the_whole_workload() {
    let set = policies(json!([{"name": "icr.io/*"}]));
    let why = reasons(decide_pod(&["icr.io/ok", "nginx"], &set));
    assert_eq!(why.len(), 1);
    assert!(
        why[0].starts_with("Deny \"nginx\", no matching repositories in ClusterImagePolicies"),
        "{why:?}"
    );
}

#[test]
fn reasons_are_sorted_and_deduplicated() {
    let set = policies(json!([{"name": "icr.io/*"}]));
    let why = reasons(decide_pod(&["zzz", "aaa", "zzz", "Bad"], &set));
    assert_eq!(why.len(), 3);
    let mut sorted = why.clone();
    sorted.sort();
    assert_eq!(why, sorted);
    assert!(
        why.iter()
            .any(|r| r.starts_with("Deny \"Bad\", invalid image name"))
    );
}

#[test]
fn no_policies_deny_every_image() {
    let why = reasons(decide_pod(&["nginx"], &PolicySet::default()));
    assert_eq!(
        why,
        vec![String::from(
            "Deny \"nginx\", no image policies or cluster policies"
        )]
    );
}

fn site(image: &str) -> ContainerSite {
    ContainerSite {
        list: ContainerList::Containers,
        index: 0,
        pointer: "/spec/containers/0/image".into(),
        image: image.into(),
    }
}

#[test]
fn verified_digests_are_pinned_when_the_policy_mutates() {
    let digest = Digest::parse(D).expect("digest");
    let allow = |mutate| Verdict::Allow {
        digest: Some(digest.clone()),
        mutate,
    };
    let nginx = site("nginx:1.25");
    let Decision::Allow { patch, .. } = combine([(&nginx, allow(true))].into_iter()) else {
        panic!("allow")
    };
    assert_eq!(
        patch,
        vec![Replace {
            path: nginx.pointer.clone(),
            value: alloc::format!("docker.io/library/nginx@{D}")
        }]
    );
    let Decision::Allow { patch, .. } = combine([(&nginx, allow(false))].into_iter()) else {
        panic!("allow")
    };
    assert!(patch.is_empty(), "mutateImage: false");
}

#[test]
fn an_image_already_pinned_is_not_patched_again() {
    let digest = Digest::parse(D).expect("digest");
    let pinned = site(&alloc::format!("docker.io/library/nginx@{D}"));
    let decision = combine(
        [(
            &pinned,
            Verdict::Allow {
                digest: Some(digest),
                mutate: true,
            },
        )]
        .into_iter(),
    );
    assert_eq!(
        decision,
        Decision::Allow {
            patch: vec![],
            warnings: vec![]
        }
    );
}

fn widget() -> Request {
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u", "kind": {"group": "example.com", "version": "v1", "kind": "Widget"}, "name": "w",
        "namespace": "team", "operation": "CREATE", "object": {"spec": {}}}});
    Request::parse(
        &serde_json::to_vec(&review).expect("json"),
        &Options::default(),
    )
    .expect("parses")
}

#[test]
fn unknown_kinds_deny_unless_configured_to_pass() {
    let set = policies(json!([{"name": "*"}]));
    let why = reasons(decide(&widget(), &set, &Options::default()));
    assert_eq!(
        why,
        vec![String::from(
            "Deny example.com/v1 Widget \"w\", not a kind portieris checks"
        )]
    );
    let lenient = Options {
        allow_unknown_kinds: true,
        ..Options::default()
    };
    let Decision::Allow { warnings, .. } = decide(&widget(), &set, &lenient) else {
        panic!("allowed")
    };
    assert_eq!(warnings.len(), 1);
}
