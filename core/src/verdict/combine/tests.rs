//! Warn mode and tag-preserving mutation, through `plan` and `finish` as the webhook drives them.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use serde_json::{Value, json};

use super::{MAX_WARNING_CHARS, MAX_WARNINGS};
use crate::admission::original::ORIGINAL_IMAGES;
use crate::admission::patch;
use crate::policy::{Enforcement, Resource};
use crate::reason::Reason;
use crate::verdict::{Decision, ImagePlan, Plan, plan};
use crate::{Digest, Options, PolicySet, Request};

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn cluster_policy(repositories: Value) -> Resource {
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "cluster"}, "spec": {"repositories": repositories}});
    Resource::from_value(&object).expect("policy")
}

fn policies(repositories: Value) -> PolicySet {
    PolicySet::new([cluster_policy(repositories)])
}

/// Trust for `icr.io/*` with `extra` policy fields; `quay.io/*` is enforced trust.
fn trust(extra: Value) -> PolicySet {
    let mut policy = json!({"trust": {"enabled": true}});
    for (k, v) in extra.as_object().expect("fields") {
        policy[k] = v.clone();
    }
    policies(json!([
        {"name": "icr.io/*", "policy": policy},
        {"name": "quay.io/*", "policy": {"trust": {"enabled": true}}},
    ]))
}

fn review(kind: &str, object: Value) -> Request {
    let group = if kind == "Pod" { "" } else { "apps" };
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u", "kind": {"group": group, "version": "v1", "kind": kind}, "namespace": "team",
        "operation": "UPDATE", "object": object}});
    Request::parse(
        &serde_json::to_vec(&review).expect("json"),
        &Options::default(),
    )
    .expect("valid")
}

fn pod_object(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .map(|i| json!({"name": "c", "image": i}))
        .collect();
    json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
}

fn images(request: &Request, set: &PolicySet, options: &Options) -> Vec<ImagePlan> {
    match plan(request, set, options) {
        Plan::Images(images) => images,
        Plan::Final(d) => panic!("unexpected final decision {d:?}"),
    }
}

/// Decides with `evidence` for every need of every image.
fn decide(request: &Request, set: &PolicySet, options: &Options, evidence: &[&str]) -> Decision {
    let images = images(request, set, options);
    let gathered: Vec<Vec<_>> = images
        .iter()
        .zip(evidence.iter().chain(core::iter::repeat(&"")))
        .map(|(image, e)| match &image.assessment {
            crate::verdict::Assessment::Needs(r) => r
                .needs
                .iter()
                .map(|_| Digest::parse(e).map_err(|_| Reason::refused("unsigned")))
                .collect(),
            crate::verdict::Assessment::Decided(_) => Vec::new(),
        })
        .collect();
    super::super::decide_verified(request, &images, &gathered)
}

fn warn_options() -> Options {
    Options {
        enforcement: Enforcement::Warn,
        ..Options::default()
    }
}

/// The object once the decision's patch is applied, as the API server would.
fn patched(object: &Value, decision: &Decision) -> Value {
    let Decision::Allow {
        patch, annotate, ..
    } = decision
    else {
        panic!("expected an allow, got {decision:?}")
    };
    let document = patch::document(patch, annotate.as_ref());
    let ops: json_patch::Patch = serde_json::from_slice(&document).expect("a JSON Patch");
    let mut object = object.clone();
    json_patch::patch(&mut object, &ops).expect("the patch applies");
    object
}

fn recorded(object: &Value) -> Value {
    let text = object["metadata"]["annotations"][ORIGINAL_IMAGES]
        .as_str()
        .expect("the annotation is a string");
    serde_json::from_str(text).expect("the annotation is JSON")
}

fn deny_reasons(decision: Decision) -> Vec<String> {
    match decision {
        Decision::Deny { reasons } => reasons.into_iter().map(|r| r.text).collect(),
        Decision::Allow { .. } => panic!("expected a deny"),
    }
}

#[test]
fn a_failing_image_under_a_warn_policy_is_admitted_unmutated_with_a_warning() {
    let request = review("Pod", pod_object(&["icr.io/team/app:1"]));
    let set = trust(json!({"enforcement": "warn"}));
    let decision = decide(&request, &set, &Options::default(), &["unsigned"]);
    assert!(decision.is_warn(), "{decision:?}");
    let Decision::Allow {
        patch,
        warnings,
        annotate,
        waived,
    } = decision
    else {
        panic!("allowed")
    };
    assert_eq!((patch, annotate, waived.len()), (vec![], None, 1));
    assert_eq!(
        warnings,
        vec![String::from(
            "Warn \"icr.io/team/app:1\", unsigned (ClusterImagePolicy \"cluster\", repository \"icr.io/*\")"
        )]
    );
}

#[test]
fn an_image_that_passes_is_pinned_even_when_another_only_warns() {
    let request = review(
        "Pod",
        pod_object(&["icr.io/team/app:1", "quay.io/team/ok:1"]),
    );
    let set = trust(json!({"enforcement": "warn"}));
    let decision = decide(&request, &set, &Options::default(), &["unsigned", D]);
    assert!(decision.is_warn());
    let after = patched(
        &pod_object(&["icr.io/team/app:1", "quay.io/team/ok:1"]),
        &decision,
    );
    assert_eq!(after["spec"]["containers"][0]["image"], "icr.io/team/app:1");
    assert_eq!(
        after["spec"]["containers"][1]["image"],
        alloc::format!("quay.io/team/ok@{D}")
    );
}

#[test]
fn an_enforced_failure_denies_even_when_another_image_only_warns() {
    let request = review(
        "Pod",
        pod_object(&["icr.io/team/app:1", "quay.io/team/bad:1"]),
    );
    let set = trust(json!({"enforcement": "warn"}));
    let why = deny_reasons(decide(&request, &set, &Options::default(), &["x", "x"]));
    assert_eq!(why.len(), 1, "only the enforced reason: {why:?}");
    assert!(why[0].starts_with("Deny \"quay.io/team/bad:1\""), "{why:?}");
}

#[test]
fn a_passing_image_under_a_warn_policy_is_pinned_without_warnings() {
    let request = review("Pod", pod_object(&["icr.io/team/app:1"]));
    let set = trust(json!({"enforcement": "warn"}));
    let decision = decide(&request, &set, &Options::default(), &[D]);
    assert!(decision.is_allow() && !decision.is_warn());
    let after = patched(&pod_object(&["icr.io/team/app:1"]), &decision);
    assert_eq!(
        after["spec"]["containers"][0]["image"],
        alloc::format!("icr.io/team/app@{D}")
    );
}

#[test]
fn the_server_flag_makes_enforced_policies_and_missing_policies_warn() {
    let request = review(
        "Pod",
        pod_object(&["quay.io/team/bad:1", "ghcr.io/none/x:1"]),
    );
    let set = trust(json!({}));
    let enforced = deny_reasons(decide(&request, &set, &Options::default(), &["x"]));
    assert_eq!(enforced.len(), 2, "{enforced:?}");
    let warned = decide(&request, &set, &warn_options(), &["x"]);
    let Decision::Allow {
        warnings, waived, ..
    } = warned
    else {
        panic!("the flag admits: {warned:?}")
    };
    assert_eq!(waived.len(), 2);
    assert!(warnings[0].contains("ghcr.io/none/x:1") && warnings[0].contains("no matching"));
    assert!(warnings[1].contains("quay.io/team/bad:1"));
}

#[test]
fn no_matching_policy_is_not_softened_by_another_policy_in_warn_mode() {
    let request = review("Pod", pod_object(&["ghcr.io/none/x:1"]));
    let set = trust(json!({"enforcement": "warn"}));
    let why = deny_reasons(decide(&request, &set, &Options::default(), &[]));
    assert!(why[0].contains("no matching repositories"), "{why:?}");
}

#[test]
fn an_invalid_policy_denies_even_under_the_warn_flag() {
    let typo = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ImagePolicy",
        "metadata": {"name": "typo", "namespace": "team"},
        "spec": {"repositories": [{"name": "*", "policy": {"enforcement": "wran"}}]}});
    let set = PolicySet::new([Resource::from_value(&typo).expect("parses as a resource")]);
    let request = review("Pod", pod_object(&["icr.io/team/app:1"]));
    let why = deny_reasons(decide(&request, &set, &warn_options(), &[]));
    assert!(why[0].contains("typo"), "names the invalid object: {why:?}");
}

#[test]
fn a_policy_with_a_broken_requirement_denies_although_it_says_warn() {
    let set = policies(json!([{"name": "*", "policy": {"enforcement": "warn",
        "simple": {"requirements": [{"type": "signedby"}]}}}]));
    let request = review("Pod", pod_object(&["icr.io/team/app:1"]));
    let why = deny_reasons(decide(&request, &set, &warn_options(), &[]));
    assert!(
        why[0].contains("unknown simple requirement type"),
        "{why:?}"
    );
}

#[test]
fn a_reject_requirement_under_warn_admits_with_a_warning() {
    let set = policies(json!([{"name": "*", "policy": {"enforcement": "warn",
        "simple": {"requirements": [{"type": "reject"}]}}}]));
    let request = review("Pod", pod_object(&["icr.io/team/app:1"]));
    assert!(decide(&request, &set, &Options::default(), &[]).is_warn());
}

#[test]
fn warnings_are_bounded_in_length_and_number() {
    let long = alloc::format!("icr.io/team/{}", "a".repeat(200));
    let names: Vec<String> = (0..MAX_WARNINGS + 3)
        .map(|i| alloc::format!("{long}{i}:1"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let request = review("Pod", pod_object(&refs));
    let decision = decide(
        &request,
        &trust(json!({"enforcement": "warn"})),
        &Options::default(),
        &[],
    );
    let Decision::Allow {
        warnings, waived, ..
    } = decision
    else {
        panic!("allowed")
    };
    assert_eq!(waived.len(), MAX_WARNINGS + 3);
    assert!(
        waived.iter().all(|w| w.text.contains("unsigned")),
        "kept in full"
    );
    assert_eq!(warnings.len(), MAX_WARNINGS + 1);
    assert!(
        warnings
            .iter()
            .all(|w| w.chars().count() <= MAX_WARNING_CHARS && !w.contains('\n'))
    );
    assert!(warnings[0].ends_with('…'));
    assert_eq!(
        warnings[MAX_WARNINGS],
        "and 3 more warnings; the portieris log has them all"
    );
    let total: usize = warnings.iter().map(|w| w.len()).sum();
    assert!(
        total <= 3 * 1024,
        "well within the API server's 4 KiB: {total} bytes"
    );
}

#[test]
fn tag_and_digest_keeps_the_tag_and_records_the_original() {
    let object = pod_object(&["icr.io/team/app:1"]);
    let request = review("Pod", object.clone());
    let set = trust(json!({"mutation": "tagAndDigest"}));
    let decision = decide(&request, &set, &Options::default(), &[D]);
    let after = patched(&object, &decision);
    assert_eq!(
        after["spec"]["containers"][0]["image"],
        alloc::format!("icr.io/team/app:1@{D}")
    );
    assert_eq!(
        recorded(&after),
        json!({"/spec/containers/0/image": "icr.io/team/app:1"})
    );
}

#[test]
fn re_admitting_a_mutated_object_verifies_its_digest_and_changes_nothing() {
    let object = pod_object(&["icr.io/team/app:1"]);
    let set = trust(json!({"mutation": "tagAndDigest"}));
    let first = decide(
        &review("Pod", object.clone()),
        &set,
        &Options::default(),
        &[D],
    );
    let mutated = patched(&object, &first);
    let again = review("Pod", mutated.clone());
    let Plan::Images(planned) = plan(&again, &set, &Options::default()) else {
        panic!("images")
    };
    let crate::verdict::Assessment::Needs(needs) = &planned[0].assessment else {
        panic!("needs evidence")
    };
    assert_eq!(
        needs.image.digest(),
        Some(&Digest::parse(D).expect("d")),
        "checked at its digest"
    );
    assert_eq!(
        decide(&again, &set, &Options::default(), &[D]),
        Decision::allow_unchanged()
    );
    let why = deny_reasons(decide(&again, &set, &Options::default(), &[OTHER]));
    assert!(
        why[0].contains("is not the digest the image names"),
        "{why:?}"
    );
}

#[test]
fn the_annotation_is_created_with_whatever_metadata_is_missing() {
    let set = trust(json!({"mutation": "tagAndDigest"}));
    let containers = json!({"containers": [{"name": "c", "image": "icr.io/team/app:1"}]});
    for metadata in [
        None,
        Some(json!({"name": "p"})),
        Some(json!({"name": "p", "annotations": null})),
        Some(json!({"name": "p", "annotations": {"other/key": "kept"}})),
    ] {
        let mut object = json!({"spec": containers});
        if let Some(metadata) = &metadata {
            object["metadata"] = metadata.clone();
        }
        let decision = decide(
            &review("Pod", object.clone()),
            &set,
            &Options::default(),
            &[D],
        );
        let after = patched(&object, &decision);
        assert_eq!(
            recorded(&after),
            json!({"/spec/containers/0/image": "icr.io/team/app:1"}),
            "{metadata:?}"
        );
        if metadata.is_some_and(|m| m["annotations"].is_object()) {
            assert_eq!(after["metadata"]["annotations"]["other/key"], "kept");
        }
    }
}

#[test]
fn a_pod_template_records_on_the_top_level_object() {
    let object = json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "icr.io/team/app:1"}]}}}});
    let set = trust(json!({"mutation": "tagAndDigest"}));
    let decision = decide(
        &review("Deployment", object.clone()),
        &set,
        &Options::default(),
        &[D],
    );
    let after = patched(&object, &decision);
    assert_eq!(
        recorded(&after),
        json!({"/spec/template/spec/containers/0/image": "icr.io/team/app:1"})
    );
    assert!(after["spec"]["template"].get("metadata").is_none());
}

#[test]
fn a_new_tag_replaces_its_entry_and_entries_of_other_repositories_are_dropped() {
    let old = json!({"/spec/containers/0/image": "icr.io/team/app:1",
        "/spec/containers/1/image": "icr.io/team/gone:1"})
    .to_string();
    let mut object = pod_object(&["icr.io/team/app:2", &alloc::format!("icr.io/team/new@{D}")]);
    object["metadata"]["annotations"] = json!({ORIGINAL_IMAGES: old});
    let set = trust(json!({"mutation": "tagAndDigest"}));
    let decision = decide(
        &review("Pod", object.clone()),
        &set,
        &Options::default(),
        &[D, D],
    );
    let after = patched(&object, &decision);
    assert_eq!(
        recorded(&after),
        json!({"/spec/containers/0/image": "icr.io/team/app:2"})
    );
}

#[test]
fn digest_mutation_and_mutate_image_false_add_no_annotation() {
    let object = pod_object(&["icr.io/team/app:1"]);
    for extra in [
        json!({}),
        json!({"mutateImage": false, "mutation": "tagAndDigest"}),
    ] {
        let decision = decide(
            &review("Pod", object.clone()),
            &trust(extra.clone()),
            &Options::default(),
            &[D],
        );
        let Decision::Allow { annotate, .. } = &decision else {
            panic!("allowed")
        };
        assert_eq!(annotate, &None, "{extra}");
    }
}

#[test]
fn a_request_that_pins_nothing_carries_no_patch_even_with_a_stale_annotation() {
    let stale = json!({"/spec/containers/0/image": "icr.io/team/app:0",
        "/spec/containers/1/image": "icr.io/team/gone:1"})
    .to_string();
    let mut object = pod_object(&["icr.io/team/app:1"]);
    object["metadata"]["annotations"] = json!({ORIGINAL_IMAGES: stale});
    let unpinned = [
        policies(json!([{"name": "icr.io/*", "policy": {}}])),
        trust(json!({"mutateImage": false, "mutation": "tagAndDigest"})),
        trust(json!({"mutateImage": false})),
    ];
    for set in &unpinned {
        let decision = decide(
            &review("Pod", object.clone()),
            set,
            &Options::default(),
            &[D],
        );
        assert_eq!(decision, Decision::allow_unchanged(), "{set:?}");
        let response: Value =
            serde_json::from_slice(&crate::response::respond("u", &decision)).expect("json");
        assert!(response["response"].get("patch").is_none(), "{response}");
        assert!(
            response["response"].get("patchType").is_none(),
            "{response}"
        );
    }
}

#[test]
fn control_characters_from_the_request_never_make_a_message_line() {
    let forged = "icr.io/team/app:1\nDeny \"icr.io/other\", forged\r\u{1b}[2K";
    let request = review("Pod", pod_object(&[forged, "quay.io/x\n:1"]));
    let deny = decide(&request, &trust(json!({})), &Options::default(), &[D, D]);
    let reasons = deny_reasons(deny.clone());
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| !r.chars().any(char::is_control)),
        "{reasons:?}"
    );
    assert!(reasons[0].contains("app:1\\nDeny"), "{reasons:?}");
    let response: Value =
        serde_json::from_slice(&crate::response::respond("u", &deny)).expect("json");
    let message = response["response"]["status"]["message"]
        .as_str()
        .expect("message");
    assert_eq!(
        message.lines().count(),
        2,
        "one line per problem: {message}"
    );
    let warned = decide(&request, &trust(json!({})), &warn_options(), &[D, D]);
    let reasons = deny_reasons(warned);
    assert!(
        reasons.iter().all(|r| !r.chars().any(char::is_control)),
        "unreadable images deny"
    );
}

#[test]
fn enforcement_and_mutation_default_to_what_portieris_does() {
    let policy: crate::policy::Policy = serde_json::from_value(json!({})).expect("policy");
    assert_eq!(policy.enforcement, Enforcement::Enforce);
    assert_eq!(policy.mutation, crate::policy::Mutation::Digest);
    for bad in [json!({"enforcement": "audit"}), json!({"mutation": "tag"})] {
        assert!(
            serde_json::from_value::<crate::policy::Policy>(bad.clone()).is_err(),
            "{bad} is refused"
        );
    }
}
