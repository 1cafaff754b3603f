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

/// Plans and decides with no evidence gathered.
fn decide(request: &Request, policies: &PolicySet, options: &Options) -> Decision {
    match plan(request, policies, options) {
        Plan::Final(decision) => decision,
        Plan::Images(images) => finish(request, &images, &[]),
    }
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
    assert_eq!(decision, Decision::allow_unchanged());
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
        (
            "icr.io/trust/a",
            "the evidence the policy needs was not gathered",
        ),
        // signedBy is verified now; without its key Secret it denies before any fetch.
        ("icr.io/simple/a", "key Secret \"team/k\" not found"),
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
    assert_eq!(decision, Decision::allow_unchanged());
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

const OTHER: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn secret(name: &str, data: Value) -> Resource {
    let object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "team"}, "stringData": data});
    Resource::from_value(&object).expect("secret")
}

fn trust_policies(trust: Value, extra: Vec<Resource>) -> PolicySet {
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "cluster"}, "spec": {"repositories": [{"name": "icr.io/*", "policy": {"trust": trust}}]}});
    PolicySet::new(
        extra
            .into_iter()
            .chain([Resource::from_value(&object).expect("policy")]),
    )
}

fn images_of(request: &Request, set: &PolicySet) -> Vec<ImagePlan> {
    match plan(request, set, &Options::default()) {
        Plan::Images(images) => images,
        Plan::Final(d) => panic!("unexpected final decision {d:?}"),
    }
}

#[test]
fn identical_images_are_planned_once_for_all_their_containers() {
    let request = pod(&["icr.io/a:1", "icr.io/b:1", "icr.io/a:1"]).expect("valid");
    let images = images_of(&request, &policies(json!([{"name": "*"}])));
    assert_eq!(
        images.iter().map(|i| i.sites.clone()).collect::<Vec<_>>(),
        vec![vec![0, 2], vec![1]]
    );
}

#[test]
fn trust_needs_carry_the_policy_server_and_the_pinned_signers() {
    let set = trust_policies(
        json!({"enabled": true, "trustServer": "https://notary.example:4443", "signerSecrets": [{"name": "alice-secret"}]}),
        vec![secret(
            "alice-secret",
            json!({"name": "alice", "publicKey": "-----BEGIN PUBLIC KEY-----"}),
        )],
    );
    let request = pod(&["icr.io/team/app:1"]).expect("valid");
    let images = images_of(&request, &set);
    let Assessment::Needs(requirements) = &images[0].assessment else {
        panic!("{images:?}")
    };
    assert_eq!(requirements.image.to_string(), "icr.io/team/app:1");
    let Need::Trust(trust) = &requirements.needs[0] else {
        panic!("a trust need")
    };
    assert_eq!(trust.server.as_deref(), Some("https://notary.example:4443"));
    assert_eq!(
        trust.signers,
        vec![Signer {
            name: "alice".into(),
            public_key_pem: "-----BEGIN PUBLIC KEY-----".into()
        }]
    );
}

#[test]
fn a_missing_or_incomplete_signer_secret_denies_and_names_it() {
    let request = pod(&["icr.io/team/app:1"]).expect("valid");
    let missing = trust_policies(
        json!({"enabled": true, "signerSecrets": [{"name": "alice"}]}),
        vec![],
    );
    let why = reasons(finish(&request, &images_of(&request, &missing), &[]));
    assert!(
        why[0].contains("signer Secret \"team/alice\" not found"),
        "{why:?}"
    );
    let incomplete = trust_policies(
        json!({"enabled": true, "signerSecrets": [{"name": "alice"}]}),
        vec![secret("alice", json!({"name": "alice"}))],
    );
    let why = reasons(finish(&request, &images_of(&request, &incomplete), &[]));
    assert!(why[0].contains("has no \"publicKey\""), "{why:?}");
}

#[test]
fn verified_trust_admits_and_pins_every_container_of_the_image() {
    let request = pod(&["icr.io/team/app:1", "icr.io/team/app:1"]).expect("valid");
    let set = trust_policies(json!({"enabled": true}), vec![]);
    let images = images_of(&request, &set);
    let digest = Digest::parse(D).expect("digest");
    let Decision::Allow { patch, .. } = finish(&request, &images, &[vec![Ok(digest)]]) else {
        panic!("allowed")
    };
    let pinned = alloc::format!("icr.io/team/app@{D}");
    assert_eq!(
        patch
            .iter()
            .map(|p| (p.path.as_str(), p.value.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("/spec/containers/0/image", pinned.as_str()),
            ("/spec/containers/1/image", pinned.as_str()),
        ]
    );
}

#[test]
fn failed_trust_evidence_denies_with_the_reason_and_the_rule() {
    let request = pod(&["icr.io/team/app:1"]).expect("valid");
    let images = images_of(&request, &trust_policies(json!({"enabled": true}), vec![]));
    let why = reasons(finish(
        &request,
        &images,
        &[vec![Err("tag 1 is not signed".into())]],
    ));
    assert_eq!(
        why,
        vec![String::from(
            "Deny \"icr.io/team/app:1\", tag 1 is not signed (ClusterImagePolicy \"cluster\", repository \"icr.io/*\")"
        )]
    );
}

#[test]
fn a_digest_reference_must_be_the_digest_that_was_verified() {
    let request = pod(&[&alloc::format!("icr.io/team/app@{D}")]).expect("valid");
    let images = images_of(&request, &trust_policies(json!({"enabled": true}), vec![]));
    let other = Digest::parse(OTHER).expect("digest");
    let why = reasons(finish(&request, &images, &[vec![Ok(other)]]));
    assert!(
        why[0].contains("is not the digest the image names"),
        "{why:?}"
    );
    let same = Digest::parse(D).expect("digest");
    assert_eq!(
        finish(&request, &images, &[vec![Ok(same)]]),
        Decision::allow_unchanged()
    );
}

#[test]
fn evidence_that_disagrees_on_the_digest_denies() {
    let request = pod(&["icr.io/team/app:1"]).expect("valid");
    let images = images_of(&request, &trust_policies(json!({"enabled": true}), vec![]));
    let Assessment::Needs(mut requirements) = images[0].assessment.clone() else {
        panic!("needs")
    };
    requirements.needs.push(requirements.needs[0].clone());
    let both = [
        Ok(Digest::parse(D).expect("d")),
        Ok(Digest::parse(OTHER).expect("d")),
    ];
    let Verdict::Deny(why) = conclude(&requirements, &both) else {
        panic!("deny")
    };
    assert!(why[0].contains("disagree on the digest"), "{why:?}");
    let agree = [
        Ok(Digest::parse(D).expect("d")),
        Ok(Digest::parse(D).expect("d")),
    ];
    assert!(matches!(
        conclude(&requirements, &agree),
        Verdict::Allow {
            digest: Some(_),
            mutate: true
        }
    ));
}

#[test]
fn trust_with_mutate_image_false_admits_without_a_patch() {
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy", "metadata": {"name": "c"},
        "spec": {"repositories": [{"name": "*", "policy": {"trust": {"enabled": true}, "mutateImage": false}}]}});
    let set = PolicySet::new([Resource::from_value(&object).expect("policy")]);
    let request = pod(&["icr.io/team/app:1"]).expect("valid");
    let images = images_of(&request, &set);
    let decision = finish(&request, &images, &[vec![Ok(Digest::parse(D).expect("d"))]]);
    assert_eq!(decision, Decision::allow_unchanged());
}
