use super::*;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use serde_json::json;

fn image(text: &str) -> ImageRef {
    ImageRef::parse(text).expect("valid image")
}

fn policy(kind: &str, namespace: &str, name: &str, repositories: serde_json::Value) -> Resource {
    let object = json!({
        "apiVersion": "portieris.cloud.ibm.com/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"repositories": repositories},
    });
    Resource::from_value(&object).expect("a policy object")
}

fn ns(name: &str, repositories: serde_json::Value) -> Resource {
    policy("ImagePolicy", "team", name, repositories)
}

fn cluster(name: &str, repositories: serde_json::Value) -> Resource {
    policy("ClusterImagePolicy", "", name, repositories)
}

fn matched<'a>(set: &'a PolicySet, namespace: &str, img: &str) -> (&'a str, &'a str) {
    let m = set.resolve(namespace, &image(img)).expect("a rule matches");
    (m.object, m.repository)
}

#[test]
fn no_policies_at_all_is_a_deny_that_says_so() {
    let set = PolicySet::new([]);
    let err = set.resolve("team", &image("nginx")).expect_err("denied");
    assert_eq!(err, Unmatched::NoPolicies);
    assert_eq!(err.to_string(), "no image policies or cluster policies");
}

#[test]
fn namespace_policies_replace_cluster_policies_entirely() {
    let set = PolicySet::new([
        cluster("allow-all", json!([{"name": "*"}])),
        ns("strict", json!([{"name": "icr.io/team/*"}])),
    ]);
    assert_eq!(
        matched(&set, "team", "icr.io/team/app"),
        ("strict", "icr.io/team/*")
    );
    let err = set
        .resolve("team", &image("nginx"))
        .expect_err("only the ImagePolicies count");
    assert_eq!(
        err,
        Unmatched::NoNamespaceMatch {
            namespace: "team".into()
        }
    );
    assert_eq!(matched(&set, "other", "nginx"), ("allow-all", "*"));
}

#[test]
fn an_empty_image_policy_still_puts_the_namespace_in_scope() {
    let set = PolicySet::new([
        cluster("allow-all", json!([{"name": "*"}])),
        ns("empty", json!([])),
    ]);
    assert!(matches!(
        set.resolve("team", &image("nginx")),
        Err(Unmatched::NoNamespaceMatch { .. })
    ));
}

#[test]
fn cluster_miss_names_the_namespace() {
    let set = PolicySet::new([cluster("c", json!([{"name": "icr.io/*"}]))]);
    let err = set.resolve("prod", &image("nginx")).expect_err("no match");
    assert_eq!(
        err.to_string(),
        "no matching repositories in ClusterImagePolicies and no ImagePolicies in the \"prod\" namespace"
    );
}

#[test]
fn exact_name_beats_a_more_specific_looking_wildcard() {
    let set = PolicySet::new([cluster(
        "c",
        json!([{"name": "docker.io/library/ngin*"}, {"name": "nginx"}, {"name": "*"}]),
    )]);
    assert_eq!(matched(&set, "x", "docker.io/library/nginx:1").1, "nginx");
}

#[test]
fn the_most_specific_wildcard_wins() {
    let set = PolicySet::new([cluster(
        "c",
        json!([{"name": "*"}, {"name": "icr.io/*"}, {"name": "icr.io/team/*"}]),
    )]);
    assert_eq!(matched(&set, "x", "icr.io/team/app").1, "icr.io/team/*");
    assert_eq!(matched(&set, "x", "icr.io/other/app").1, "icr.io/*");
    assert_eq!(matched(&set, "x", "quay.io/a/b").1, "*");
}

#[test]
fn ties_go_to_the_first_by_object_name_then_position() {
    let set = PolicySet::new([
        cluster("zeta", json!([{"name": "icr.io/a*"}])),
        cluster(
            "alpha",
            json!([{"name": "icr.io/*p"}, {"name": "icr.io/a*"}]),
        ),
    ]);
    assert_eq!(matched(&set, "x", "icr.io/app"), ("alpha", "icr.io/*p"));
}

#[test]
fn candidates_span_every_object_in_scope() {
    let set = PolicySet::new([
        ns("a", json!([{"name": "icr.io/*"}])),
        ns("b", json!([{"name": "icr.io/team/*"}])),
    ]);
    assert_eq!(
        matched(&set, "team", "icr.io/team/x"),
        ("b", "icr.io/team/*")
    );
}

#[test]
fn the_same_image_written_differently_gets_the_same_rule() {
    let set = PolicySet::new([ns(
        "p",
        json!([{"name": "*", "policy": {"trust": {"enabled": true}}}, {"name": "docker.io/library/nginx"}]),
    )]);
    for written in [
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx:1",
        "index.docker.io/nginx",
    ] {
        assert_eq!(
            matched(&set, "team", written).1,
            "docker.io/library/nginx",
            "{written}"
        );
    }
}

#[test]
fn a_malformed_object_makes_its_scope_deny() {
    let broken = ns(
        "broken",
        json!([{"name": "*", "policy": {"trsut": {"enabled": true}}}]),
    );
    let set = PolicySet::new([
        broken,
        ns("fine", json!([{"name": "*"}])),
        cluster("c", json!([{"name": "*"}])),
    ]);
    let err = set
        .resolve("team", &image("nginx"))
        .expect_err("fails closed");
    let Unmatched::Invalid { object, error, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(object, "broken");
    assert!(
        error.contains("spec.repositories[0]") && error.contains("trsut"),
        "{error}"
    );
    assert!(
        set.resolve("elsewhere", &image("nginx")).is_ok(),
        "other namespaces are unaffected"
    );
    assert_eq!(set.problems().count(), 1);
}

#[test]
fn an_invalid_pattern_makes_its_scope_deny() {
    let set = PolicySet::new([cluster(
        "c",
        json!([{"name": "icr.io/Team/*"}, {"name": "*"}]),
    )]);
    let err = set
        .resolve("x", &image("nginx"))
        .expect_err("fails closed")
        .to_string();
    assert!(
        err.contains("ClusterImagePolicy \"c\"") && err.contains("repositories[0].name"),
        "{err}"
    );
}

#[test]
fn every_portieris_policy_field_is_accepted() {
    let set = PolicySet::new([ns(
        "full",
        json!([{"name": "icr.io/*", "policy": {
            "trust": {"enabled": true, "trustServer": "https://notary.example", "signerSecrets": [{"name": "alice"}]},
            "simple": {"requirements": [{"type": "signedBy", "keySecret": "k", "keySecretNamespace": "keys",
                "signedIdentity": {"type": "remapIdentity", "prefix": "a", "signedPrefix": "b",
                    "dockerReference": "r", "dockerRepository": "d"}}],
                "storeURL": "https://store", "storeSecret": "s"},
            "vulnerability": {"ICCRVA": {"enabled": false, "account": "acc"}},
            "mutateImage": false,
        }}]),
    )]);
    let m = set.resolve("team", &image("icr.io/a/b")).expect("matches");
    assert!(m.policy.trust.is_enabled());
    assert_eq!(m.policy.trust.signer_secrets[0].name, "alice");
    assert_eq!(m.policy.simple.store_url, "https://store");
    assert_eq!(
        m.policy.simple.requirements[0]
            .signed_identity
            .signed_prefix,
        "b"
    );
    assert_eq!(m.policy.vulnerability.iccrva.account, "acc");
    assert!(!m.policy.mutates());
}

#[test]
fn secrets_are_decoded_and_found_by_namespace_and_name() {
    let object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "alice", "namespace": "team"},
        "data": {"name": "YWxpY2U="}, "stringData": {"publicKey": "PEM"}});
    let set = PolicySet::new([Resource::from_value(&object).expect("a Secret")]);
    let secret = set.secret("team", "alice").expect("found");
    assert_eq!(secret.data["name"], b"alice".to_vec());
    assert_eq!(secret.data["publicKey"], b"PEM".to_vec());
    assert!(set.secret("other", "alice").is_none());
    assert!(
        !alloc::format!("{secret:?}").contains("PEM"),
        "Debug must not print secret values"
    );
}

#[test]
fn objects_that_are_not_policies_are_refused_by_name() {
    let deployment =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
    assert!(matches!(
        Resource::from_value(&deployment),
        Err(ResourceError::UnsupportedKind { .. })
    ));
    let nameless =
        json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ImagePolicy", "spec": {}});
    assert!(matches!(
        Resource::from_value(&nameless),
        Err(ResourceError::MissingName { .. })
    ));
    assert_eq!(
        Resource::from_value(&json!([1])),
        Err(ResourceError::NotAnObject)
    );
    let bad = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "!!"}});
    assert!(matches!(
        Resource::from_value(&bad),
        Err(ResourceError::InvalidSecretData { .. })
    ));
}

#[test]
fn missing_namespace_defaults_like_kubectl() {
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ImagePolicy",
        "metadata": {"name": "p"}, "spec": {"repositories": [{"name": "*"}]}});
    let set = PolicySet::new(vec![Resource::from_value(&object).expect("policy")]);
    assert!(set.resolve("default", &image("nginx")).is_ok());
}

/// The rule a scan of every candidate picks, written from the documented rule alone: exact
/// beats wildcard, then most specific, ties to the first in (object, position) order.
fn scanned<'a>(set: &'a PolicySet, img: &ImageRef) -> Option<&'a str> {
    let mut best: Option<(&str, (bool, usize))> = None;
    for (_, _, _, repository) in set.rules() {
        let pattern = Pattern::parse(&repository.name).expect("compiled");
        let rank = (pattern.is_exact(), pattern.specificity());
        if pattern.matches(img) && best.is_none_or(|(_, top)| rank > top) {
            best = Some((repository.name.as_str(), rank));
        }
    }
    best.map(|(name, _)| name)
}

#[test]
fn the_index_picks_the_rule_a_scan_of_every_candidate_picks() {
    let patterns = [
        "*",
        "icr.io/*",
        "icr.io/team/*",
        "icr.io/team/app",
        "icr.io/team/app:v1",
        "icr.io/team/app:v*",
        "icr.io/team*",
        "icr.io/te*/app",
        "*.icr.io/team/*",
        "*/team/app",
        "de.icr.io/team/app",
        "nginx",
        "library/*",
        "docker.io/*",
        "localhost:5000/a/*",
        "localhost:5000/*/b",
        "icr.io/team/app/*",
        "icr.io/*/app",
        "ICR.io/team/*",
        "icr.io/team/*:v1",
    ];
    // Two objects, so ties between equal patterns go by object name then position.
    let (first, second) = patterns.split_at(patterns.len() / 2);
    let names = |list: &[&str]| json!(list.iter().map(|n| json!({"name": n})).collect::<Vec<_>>());
    let reversed: Vec<&str> = patterns.iter().rev().copied().collect();
    let set = PolicySet::new(vec![
        cluster("b", names(first)),
        cluster("a", names(second)),
        cluster("c", names(&reversed)),
    ]);
    let images = [
        "icr.io/team/app",
        "icr.io/team/app:v1",
        "icr.io/team/app:v2",
        "icr.io/team/app:dev",
        "icr.io/team/other",
        "icr.io/teammate/app",
        "icr.io/team/app/sub",
        "de.icr.io/team/app",
        "us.icr.io/team/x",
        "nginx",
        "docker.io/library/nginx:1",
        "busybox",
        "user/img",
        "localhost:5000/a/b",
        "localhost:5000/x/b",
        "evil.com/icr.io/team/app",
        "icr.io/x/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    ];
    for text in images {
        let img = image(text);
        let indexed = set.resolve("ns", &img).ok().map(|m| m.repository);
        assert_eq!(indexed, scanned(&set, &img), "{text}");
    }
}

#[test]
fn ten_thousand_repositories_resolve_like_a_scan() {
    let repositories: Vec<serde_json::Value> = (0..10_000)
        .map(|i| match i % 3 {
            0 => json!({"name": format!("r{}.example.com/team{i}/app", i % 7)}),
            1 => json!({"name": format!("r{}.example.com/team{i}/*", i % 7)}),
            _ => json!({"name": format!("*.example.com/team{}*", i % 50)}),
        })
        .collect();
    let set = PolicySet::new(vec![cluster("big", serde_json::Value::Array(repositories))]);
    for text in [
        "r0.example.com/team0/app",
        "r1.example.com/team1/x",
        "r4.example.com/team4/app",
        "r3.example.com/team17/y",
        "r9.example.com/team9/app",
        "other.io/x",
    ] {
        let img = image(text);
        let indexed = set.resolve("ns", &img).ok().map(|m| m.repository);
        assert_eq!(indexed, scanned(&set, &img), "{text}");
    }
}

#[test]
fn a_scope_with_more_rules_than_the_bound_denies_naming_the_object_past_it() {
    let object = |name: &str, count: usize| {
        let repositories: alloc::vec::Vec<serde_json::Value> = (0..count)
            .map(|i| json!({"name": alloc::format!("icr.io/{name}{i}/*")}))
            .collect();
        Resource::from_value(&json!({"apiVersion": "portieris.cloud.ibm.com/v1",
            "kind": "ClusterImagePolicy", "metadata": {"name": name},
            "spec": {"repositories": repositories}}))
        .expect("policy")
    };
    let half = MAX_SCOPE_REPOSITORIES / 2;
    let image = ImageRef::parse("icr.io/a0/app").expect("image");
    let within = PolicySet::new([object("a", half), object("b", half)]);
    assert!(within.resolve("team", &image).is_ok());
    let over = PolicySet::new([object("b", half), object("a", half), object("c", 1)]);
    let Err(Unmatched::Invalid { object, error, .. }) = over.resolve("team", &image) else {
        panic!("the scope denies")
    };
    assert_eq!(object, "c", "the object holding the rule past the bound");
    assert!(error.contains("more than 20000"), "{error}");
}
