use super::*;
use crate::admission::{ContainerList, Invalid};
use crate::notary::Signer;
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
        Plan::Images(images) => decide_verified(request, &images, &[]),
    }
}

fn decide_pod(images: &[&str], policies: &PolicySet) -> Decision {
    decide(&pod(images).expect("valid"), policies, &Options::default())
}

fn reasons(decision: Decision) -> Vec<String> {
    match decision {
        Decision::Deny { reasons } => reasons.into_iter().map(|r| r.text).collect(),
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
        ("icr.io/simple/a", "key Secret \"portieris/k\" not found"),
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
        notes: Vec::new(),
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
fn notes_of_admitted_images_are_warnings_and_a_deny_drops_them() {
    let digest = Digest::parse(D).expect("digest");
    let noted = Verdict::Allow {
        digest: Some(digest),
        mutate: false,
        notes: vec!["notation: logged, not enforced: expiry".into()],
    };
    let nginx = site("nginx:1.25");
    let decision = combine([(&nginx, noted.clone())].into_iter());
    let Decision::Allow { warnings, .. } = &decision else {
        panic!("allow")
    };
    assert_eq!(
        warnings,
        &["Note \"nginx:1.25\", notation: logged, not enforced: expiry"]
    );
    assert!(!decision.is_warn(), "a note is not a waived deny");
    let denied = Verdict::Deny(vec![Reason::refused("unsigned")]);
    let redis = site("redis:7");
    let decision = combine([(&nginx, noted), (&redis, denied)].into_iter());
    assert!(matches!(decision, Decision::Deny { ref reasons } if reasons.len() == 1));
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
                notes: Vec::new(),
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

/// A Secret in portieris' namespace, where ClusterImagePolicies read theirs.
fn secret(name: &str, data: Value) -> Resource {
    secret_in(crate::admission::DEFAULT_NAMESPACE, name, data)
}

fn secret_in(namespace: &str, name: &str, data: Value) -> Resource {
    let object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "stringData": data});
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
    let why = reasons(decide_verified(
        &request,
        &images_of(&request, &missing),
        &[],
    ));
    assert!(
        why[0].contains("signer Secret \"portieris/alice\" not found"),
        "{why:?}"
    );
    let incomplete = trust_policies(
        json!({"enabled": true, "signerSecrets": [{"name": "alice"}]}),
        vec![secret("alice", json!({"name": "alice"}))],
    );
    let why = reasons(decide_verified(
        &request,
        &images_of(&request, &incomplete),
        &[],
    ));
    assert!(why[0].contains("has no \"publicKey\""), "{why:?}");
}

#[test]
fn verified_trust_admits_and_pins_every_container_of_the_image() {
    let request = pod(&["icr.io/team/app:1", "icr.io/team/app:1"]).expect("valid");
    let set = trust_policies(json!({"enabled": true}), vec![]);
    let images = images_of(&request, &set);
    let digest = Digest::parse(D).expect("digest");
    let Decision::Allow { patch, .. } = decide_verified(&request, &images, &[vec![Ok(digest)]])
    else {
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
    let why = reasons(decide_verified(
        &request,
        &images,
        &[vec![Err(Reason::refused("tag 1 is not signed"))]],
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
    let why = reasons(decide_verified(&request, &images, &[vec![Ok(other)]]));
    assert!(
        why[0].contains("is not the digest the image names"),
        "{why:?}"
    );
    let same = Digest::parse(D).expect("digest");
    assert_eq!(
        decide_verified(&request, &images, &[vec![Ok(same)]]),
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
    let (d, other) = (
        Digest::parse(D).expect("d"),
        Digest::parse(OTHER).expect("d"),
    );
    let both = [Ok(Vouched::plain(&d)), Ok(Vouched::plain(&other))];
    let Verdict::Deny(why) = conclude(&requirements, &both) else {
        panic!("deny")
    };
    assert!(why[0].text.contains("disagree on the digest"), "{why:?}");
    let agree = [Ok(Vouched::plain(&d)), Ok(Vouched::plain(&d))];
    assert!(matches!(
        conclude(&requirements, &agree),
        Verdict::Allow {
            digest: Some(_),
            mutate: true,
            ..
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
    let decision = decide_verified(&request, &images, &[vec![Ok(Digest::parse(D).expect("d"))]]);
    assert_eq!(decision, Decision::allow_unchanged());
}

const REAL_KEY: &str = "-----BEGIN PUBLIC KEY-----\nREAL\n-----END PUBLIC KEY-----\n";
const ATTACKER_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMINE\n-----END PUBLIC KEY-----\n";

/// One rule of each format naming Secrets, as a ClusterImagePolicy or as an ImagePolicy of
/// the workload's namespace `team`, with `secrets` beside it.
fn keyed_policies(kind: &str, secrets: Vec<Resource>) -> PolicySet {
    let repositories = json!([
        {"name": "icr.io/trust/*", "policy": {"trust": {"enabled": true, "signerSecrets": [{"name": "alice"}]}}},
        {"name": "icr.io/simple/*", "policy": {"simple": {"storeURL": "https://store.example",
            "storeSecret": "store", "requirements": [{"type": "signedBy", "keySecret": "gpg"}]}}},
        {"name": "icr.io/cosign/*", "policy": {"cosign": {"requirements": [{"keySecret": "cosign"}]}}},
    ]);
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": kind,
        "metadata": {"name": "keys", "namespace": "team"}, "spec": {"repositories": repositories}});
    PolicySet::new(
        secrets
            .into_iter()
            .chain([Resource::from_value(&object).expect("policy")]),
    )
}

/// The Secrets of every rule of [`keyed_policies`], in `namespace`, holding `key`.
fn key_secrets(namespace: &str, key: &str) -> Vec<Resource> {
    vec![
        secret_in(
            namespace,
            "alice",
            json!({"name": "alice", "publicKey": key}),
        ),
        secret_in(namespace, "gpg", json!({"key": key})),
        secret_in(namespace, "cosign", json!({"cosign.pub": key})),
        secret_in(
            namespace,
            "store",
            json!({"username": key, "password": "p"}),
        ),
    ]
}

/// The key each rule's need carries for `image` in `team`, or the deny.
fn key_of(set: &PolicySet, image: &str, options: &Options) -> Result<String, String> {
    let request = pod(&[image]).expect("valid");
    let Plan::Images(images) = plan(&request, set, options) else {
        panic!("images")
    };
    let requirements = match &images[0].assessment {
        Assessment::Needs(requirements) => requirements,
        Assessment::Decided(Verdict::Deny(why)) => {
            return Err(Reason::join(why.clone())
                .map(|r| r.text)
                .unwrap_or_default());
        }
        other => panic!("{other:?}"),
    };
    Ok(match &requirements.needs[0] {
        Need::Trust(trust) => trust.signers[0].public_key_pem.clone(),
        Need::Simple(simple) => {
            let store = simple.store_auth.as_ref().map(|a| a.username.clone());
            let keyring = String::from_utf8(simple.requirements[0].keyring.clone()).expect("utf-8");
            assert_eq!(
                store.as_deref(),
                Some(keyring.as_str()),
                "store and key alike"
            );
            keyring
        }
        Need::Cosign(cosign) => cosign.keys[0].public_key_pem.clone(),
        other => panic!("{other:?}"),
    })
}

const KEYED: [&str; 3] = [
    "icr.io/trust/app:1",
    "icr.io/simple/app:1",
    "icr.io/cosign/app:1",
];

#[test]
fn a_cluster_policy_reads_its_secrets_where_portieris_runs_never_in_the_workloads_namespace() {
    let mut both = key_secrets("team", ATTACKER_KEY);
    both.extend(key_secrets("portieris", REAL_KEY));
    let set = keyed_policies("ClusterImagePolicy", both);
    for image in KEYED {
        assert_eq!(
            key_of(&set, image, &Options::default()),
            Ok(REAL_KEY.into()),
            "{image}"
        );
    }
    let planted = keyed_policies("ClusterImagePolicy", key_secrets("team", ATTACKER_KEY));
    for image in KEYED {
        let why = key_of(&planted, image, &Options::default()).expect_err(image);
        assert!(why.contains("Secret \"portieris/"), "{image}: {why}");
        assert!(!why.contains("team/"), "{image}: {why}");
    }
    let elsewhere = Options {
        namespace: "security".into(),
        ..Options::default()
    };
    let set = keyed_policies("ClusterImagePolicy", key_secrets("security", REAL_KEY));
    for image in KEYED {
        assert_eq!(
            key_of(&set, image, &elsewhere),
            Ok(REAL_KEY.into()),
            "{image}"
        );
    }
}

#[test]
fn the_migration_switch_restores_portieris_lookup_in_the_workloads_namespace() {
    let legacy = Options {
        cluster_secrets_in_workload_namespace: true,
        ..Options::default()
    };
    let mut both = key_secrets("team", ATTACKER_KEY);
    both.extend(key_secrets("portieris", REAL_KEY));
    let set = keyed_policies("ClusterImagePolicy", both);
    for image in KEYED {
        assert_eq!(
            key_of(&set, image, &legacy),
            Ok(ATTACKER_KEY.into()),
            "{image}"
        );
    }
}

#[test]
fn an_image_policy_reads_its_secrets_in_its_own_namespace() {
    let mut both = key_secrets("team", REAL_KEY);
    both.extend(key_secrets("portieris", ATTACKER_KEY));
    let set = keyed_policies("ImagePolicy", both);
    for image in KEYED {
        assert_eq!(
            key_of(&set, image, &Options::default()),
            Ok(REAL_KEY.into()),
            "{image}"
        );
    }
}

#[test]
fn a_cluster_policy_may_name_the_namespace_of_its_keys_an_image_policy_may_not() {
    let policy = |kind: &str| {
        let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": kind,
            "metadata": {"name": "keys", "namespace": "team"}, "spec": {"repositories": [
                {"name": "icr.io/*", "policy": {"cosign": {"requirements": [
                    {"keySecret": "cosign", "keySecretNamespace": "keys"}]}}}]}});
        Resource::from_value(&object).expect("policy")
    };
    let secrets = || key_secrets("keys", REAL_KEY);
    let cluster = PolicySet::new(secrets().into_iter().chain([policy("ClusterImagePolicy")]));
    let image = "icr.io/cosign/app:1";
    assert_eq!(
        key_of(&cluster, image, &Options::default()),
        Ok(REAL_KEY.into())
    );
    let namespaced = PolicySet::new(secrets().into_iter().chain([policy("ImagePolicy")]));
    let why = key_of(&namespaced, image, &Options::default()).expect_err("refused");
    assert!(
        why.contains("keySecretNamespace \"keys\" is not allowed"),
        "{why}"
    );
    let cross = Options {
        allow_cross_namespace_keys: true,
        ..Options::default()
    };
    assert_eq!(key_of(&namespaced, image, &cross), Ok(REAL_KEY.into()));
}

/// The needs of the one image of a pod running `image`, under `rules`.
fn needs_of(image: &str, rules: Value) -> Requirements {
    let request = pod(&[image]).expect("valid");
    match images_of(&request, &policies(rules)).remove(0).assessment {
        Assessment::Needs(requirements) => requirements,
        Assessment::Decided(verdict) => panic!("{image}: decided {verdict:?}"),
    }
}

/// The decision on a pod running `image` under `rules`, every need answered with `digest`.
fn decide_with(image: &str, rules: Value, digest: &str) -> Decision {
    let request = pod(&[image]).expect("valid");
    let images = images_of(&request, &policies(rules));
    let evidence: Vec<Vec<Result<Digest, Reason>>> = images
        .iter()
        .map(|i| match &i.assessment {
            Assessment::Needs(r) => r
                .needs
                .iter()
                .map(|_| Ok(Digest::parse(digest).expect("d")))
                .collect(),
            Assessment::Decided(_) => Vec::new(),
        })
        .collect();
    decide_verified(&request, &images, &evidence)
}

fn tag_rule(policy: Value) -> Value {
    json!([{"name": "icr.io/team/app:v1.*", "policy": policy}, {"name": "icr.io/team/*", "policy": {"trust": {"enabled": true}}}])
}

#[test]
fn a_tag_rule_vouches_for_a_digest_only_when_trust_ties_it_to_the_tag() {
    let image = alloc::format!("icr.io/team/app:v1.2@{D}");
    let requirements = needs_of(&image, tag_rule(json!({"trust": {"enabled": true}})));
    assert!(requirements.tag_bound);
    assert!(
        matches!(&requirements.needs[..], [Need::Trust(t)] if t.by_tag),
        "{requirements:?}"
    );
    let policy = tag_rule(json!({"trust": {"enabled": true}}));
    assert!(decide_with(&image, policy.clone(), D).is_allow());
    let why = reasons(decide_with(&image, policy, OTHER));
    assert!(why[0].contains("tag \"v1.2\" is sha256:ffff"), "{why:?}");
    assert!(why[0].contains("the rule names the tag"), "{why:?}");
}

#[test]
fn a_tag_rule_without_signatures_asks_the_registry_for_the_tags_digest_and_pins_nothing() {
    let image = alloc::format!("icr.io/team/app:v1.2@{D}");
    for policy in [
        json!({}),
        json!({"simple": {"requirements": [{"type": "insecureAcceptAnything"}]}}),
    ] {
        let requirements = needs_of(&image, tag_rule(policy.clone()));
        assert_eq!(requirements.needs, vec![Need::TagDigest], "{policy}");
        assert_eq!(
            decide_with(&image, tag_rule(policy.clone()), D),
            Decision::allow_unchanged()
        );
        let why = reasons(decide_with(&image, tag_rule(policy), OTHER));
        assert!(why[0].contains("tag \"v1.2\" is"), "{why:?}");
    }
    // Without a digest the tag is what runs, and an empty rule needs nothing.
    let plain = pod(&["icr.io/team/app:v1.2"]).expect("valid");
    let images = images_of(&plain, &policies(tag_rule(json!({}))));
    assert!(matches!(
        images[0].assessment,
        Assessment::Decided(Verdict::Allow { .. })
    ));
}

#[test]
fn signatures_that_do_not_name_the_tag_are_tied_by_the_registry_those_that_do_are_not() {
    let image = alloc::format!("icr.io/team/app:v1.2@{D}");
    let simple = |identity: Value| {
        json!({"simple": {"requirements": [
        {"type": "signedBy", "keySecret": "k", "signedIdentity": identity}]}})
    };
    let secrets = |rules: Value| {
        let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
            "metadata": {"name": "cluster"}, "spec": {"repositories": rules}});
        PolicySet::new([
            secret(
                "k",
                json!({"key": "-----BEGIN PGP PUBLIC KEY BLOCK-----", "cosign.pub": "-----BEGIN PUBLIC KEY-----"}),
            ),
            Resource::from_value(&object).expect("policy"),
        ])
    };
    let kinds = |rules: Value| {
        let request = pod(&[&image]).expect("valid");
        let Assessment::Needs(requirements) =
            images_of(&request, &secrets(rules)).remove(0).assessment
        else {
            panic!("needs")
        };
        requirements
            .needs
            .iter()
            .map(|n| match n {
                Need::Simple(_) => "simple",
                Need::Cosign(_) => "cosign",
                Need::Sigstore(_) => "sigstore",
                Need::Attestation(_) => "attestation",
                Need::Notation(_) => "notation",
                Need::Trust(_) => "trust",
                Need::TagDigest => "registry",
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(tag_rule(simple(json!({})))), ["simple"]);
    assert_eq!(
        kinds(tag_rule(simple(json!({"type": "matchExact"})))),
        ["simple"]
    );
    assert_eq!(
        kinds(tag_rule(simple(
            json!({"type": "exactReference", "dockerReference": "icr.io/team/app:v1.2"})
        ))),
        ["simple"]
    );
    assert_eq!(
        kinds(tag_rule(simple(
            json!({"type": "exactReference", "dockerReference": "icr.io/team/app:v1.3"})
        ))),
        ["simple", "registry"]
    );
    assert_eq!(
        kinds(tag_rule(simple(json!({"type": "matchRepository"})))),
        ["simple", "registry"]
    );
    assert_eq!(
        kinds(tag_rule(
            json!({"cosign": {"requirements": [{"keySecret": "k"}]}})
        )),
        ["cosign", "registry"]
    );
}

#[test]
fn an_untagged_rule_judges_tag_and_digest_by_the_digest_alone() {
    let image = alloc::format!("icr.io/team/app:v1.2@{D}");
    let requirements = needs_of(
        &image,
        json!([{"name": "icr.io/team/*", "policy": {"trust": {"enabled": true}}}]),
    );
    assert!(!requirements.tag_bound);
    assert!(matches!(&requirements.needs[..], [Need::Trust(t)] if !t.by_tag));
    let empty = pod(&[&image]).expect("valid");
    let images = images_of(&empty, &policies(json!([{"name": "icr.io/team/*"}])));
    assert!(matches!(
        images[0].assessment,
        Assessment::Decided(Verdict::Allow { .. })
    ));
}

#[test]
fn tag_and_digest_mutation_is_re_admitted_under_the_tag_rule_that_admitted_it() {
    let rules = tag_rule(json!({"trust": {"enabled": true}, "mutation": "tagAndDigest"}));
    let request = pod(&["icr.io/team/app:v1.2"]).expect("valid");
    let set = policies(rules.clone());
    let images = images_of(&request, &set);
    let digest = Digest::parse(D).expect("digest");
    let Decision::Allow { patch, .. } = decide_verified(&request, &images, &[vec![Ok(digest)]])
    else {
        panic!("allowed")
    };
    let pinned = alloc::format!("icr.io/team/app:v1.2@{D}");
    assert_eq!(patch[0].value, pinned);
    assert_eq!(
        decide_with(&pinned, rules.clone(), D),
        Decision::allow_unchanged()
    );
    let cosign = tag_rule(
        json!({"cosign": {"requirements": [{"keySecret": "k"}]}, "mutation": "tagAndDigest"}),
    );
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "cluster"}, "spec": {"repositories": cosign}});
    let set = PolicySet::new([
        secret("k", json!({"cosign.pub": "-----BEGIN PUBLIC KEY-----"})),
        Resource::from_value(&object).expect("policy"),
    ]);
    let again = pod(&[&pinned]).expect("valid");
    let images = images_of(&again, &set);
    let d = || Ok(Digest::parse(D).expect("d"));
    assert_eq!(
        decide_verified(&again, &images, &[vec![d(), d()]]),
        Decision::allow_unchanged()
    );
}
