//! Warn mode and tag-preserving mutation end to end: `portieris review` against the real
//! registry and notary-server of the test rig (`scripts/rig.sh start`), with images the real
//! `notary` CLI signed.

#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;

use review::Reviewed;
use rig::Rig;
use serde_json::{Value, json};

const ORIGINAL_IMAGES: &str = "portieris.cloud.ibm.com/original-images";

/// Notary trust for the rig's `test/*` repositories, with `extra` policy fields.
fn folder(rig: &Rig, extra: Value) -> review::Folder {
    let mut policy = extra;
    policy["trust"] = json!({"enabled": true, "trustServer": rig.env("PORTIERIS_RIG_NOTARY")});
    let pattern = format!("{}/test/*", rig.env("PORTIERIS_RIG_REGISTRY"));
    review::Folder::new(&[review::image_policy(
        json!([{"name": pattern, "policy": policy}]),
    )])
}

fn review(rig: &Rig, folder: &review::Folder, object: &Value, extra: &[&str]) -> Reviewed {
    review::review_object(folder.path(), &rig.ca(), object, extra)
}

fn image_of(object: &Value) -> &str {
    object["spec"]["containers"][0]["image"]
        .as_str()
        .expect("the container has an image")
}

#[test]
fn a_signed_tag_is_pinned_keeping_its_tag_and_the_original_is_recorded() {
    let rig = Rig::get();
    let folder = folder(&rig, json!({"mutation": "tagAndDigest"}));
    let signed = rig.image("signed_v1");
    let pod = review::pod(&signed.image, None);
    let reviewed = review(&rig, &folder, &pod, &[]);
    reviewed.assert_allowed("signed tag");
    let mutated = reviewed.patched(&pod);
    assert_eq!(
        image_of(&mutated),
        format!("{}:{}@{}", signed.gun, signed.tag, signed.digest)
    );
    let recorded = mutated["metadata"]["annotations"][ORIGINAL_IMAGES]
        .as_str()
        .expect("the annotation is set");
    assert_eq!(
        serde_json::from_str::<Value>(recorded).expect("JSON"),
        json!({"/spec/containers/0/image": signed.image})
    );
}

#[test]
fn re_reviewing_the_mutated_object_gives_no_patch() {
    let rig = Rig::get();
    let folder = folder(&rig, json!({"mutation": "tagAndDigest"}));
    let pod = review::pod(&rig.image("signed_v1").image, None);
    let mutated = review(&rig, &folder, &pod, &[]).patched(&pod);
    let again = review(&rig, &folder, &mutated, &[]);
    again.assert_allowed("the mutated object");
    assert!(!again.has_patch(), "nothing to change: {}", again.response);
}

#[test]
fn a_tag_and_digest_reference_is_verified_at_its_digest_not_its_tag() {
    let rig = Rig::get();
    let folder = folder(&rig, json!({"mutation": "tagAndDigest"}));
    let signed = rig.image("signed_v1");
    // v1 names another digest; v2's digest is signed, and the digest is what runs.
    let other_signed = format!("{}:v1@{}", signed.gun, rig.image("signed_v2").digest);
    let reviewed = review(&rig, &folder, &review::pod(&other_signed, None), &[]);
    reviewed.assert_allowed("a signed digest under another tag");
    assert!(
        !reviewed.has_patch(),
        "already pinned: {}",
        reviewed.response
    );
    let unsigned = format!("{}:v1@{}", signed.gun, rig.image("unsigned_v1").digest);
    let reviewed = review(&rig, &folder, &review::pod(&unsigned, None), &[]);
    reviewed.assert_denied("a signed tag naming an unsigned digest", "Deny");
}

#[test]
fn a_warn_policy_admits_an_unsigned_image_with_a_warning_and_no_patch() {
    let rig = Rig::get();
    let folder = folder(&rig, json!({"enforcement": "warn"}));
    let unsigned = rig.image("unsigned_v1").image;
    let reviewed = review(&rig, &folder, &review::pod(&unsigned, None), &[]);
    reviewed.assert_allowed("warn mode");
    assert!(!reviewed.has_patch(), "unmutated: {}", reviewed.response);
    let warnings = reviewed.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!("Warn \"{unsigned}\", ")),
        "{warnings:?}"
    );
    let signed = rig.image("signed_v1");
    let reviewed = review(&rig, &folder, &review::pod(&signed.image, None), &[]);
    reviewed.assert_allowed("a signed image under warn");
    assert!(reviewed.warnings().is_empty(), "{}", reviewed.response);
    assert_eq!(
        reviewed.pinned(),
        Some(format!("{}@{}", signed.gun, signed.digest))
    );
}

#[test]
fn the_enforcement_flag_turns_denies_into_warnings() {
    let rig = Rig::get();
    let folder = folder(&rig, json!({}));
    let unsigned = review::pod(&rig.image("unsigned_v1").image, None);
    review(&rig, &folder, &unsigned, &[]).assert_denied("enforced", "Deny");
    let warned = review(&rig, &folder, &unsigned, &["--enforcement", "warn"]);
    warned.assert_allowed("--enforcement warn");
    assert_eq!(warned.warnings().len(), 1, "{}", warned.response);
    let unmatched = review::pod("ghcr.io/nobody/app:1", None);
    review(&rig, &folder, &unmatched, &[]).assert_denied("no policy", "no matching");
    let warned = review(&rig, &folder, &unmatched, &["--enforcement", "warn"]);
    warned.assert_allowed("no policy, --enforcement warn");
    assert!(
        warned.warnings()[0].contains("no matching"),
        "{}",
        warned.response
    );
}
