//! Sigstore end to end: images pushed to the rig's registries (one with the OCI 1.1 referrers
//! API, one without), signed by the real cosign v3 with its default settings (keyless, new
//! bundle format, referrers) against the loopback Sigstore of `scripts/sigstore.sh` (Fulcio,
//! TesseraCT, rekor-tiles, the timestamp authority, an OIDC issuer), and judged by
//! `portieris review` under `cosign` policies. The tests fail, never skip, without the rig or
//! the loopback Sigstore (`scripts/test.sh` starts both).

#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)] // shared with other test files
#[path = "common/simple.rs"]
mod tools;

#[allow(dead_code)] // shared with other test files
#[path = "common/sigstore.rs"]
mod sigstore;

use std::sync::OnceLock;

use review::{Folder, Reviewed, image_policy, secret};
use serde_json::{Value, json};
use sigstore::{Cosign, Registry, SIGNER, Signer, by_digest};

fn world() -> &'static Cosign {
    static WORLD: OnceLock<Cosign> = OnceLock::new();
    WORLD.get_or_init(|| Cosign::new(format!("sigstore/run-{}", std::process::id())))
}

/// `portieris review` of a Pod running `image` under `cosign` for the whole registry, with
/// the loopback root and the release key as Secrets.
fn review(world: &Cosign, image: &str, cosign: Value) -> Reviewed {
    let host = image.split('/').next().expect("a registry");
    let folder = Folder::new(&[
        image_policy(json!([{"name": format!("{host}/*"), "policy": {"cosign": cosign}}])),
        secret(
            "sigstore-root",
            json!({"trusted_root.json": world.sigstore.trusted_root()}),
        ),
        secret("release-key", json!({"cosign.pub": world.public_key()})),
    ]);
    review::review(folder.path(), &world.rig.ca(), image, None, &[])
}

fn keyless_policy(world: &Cosign, subject: &str) -> Value {
    json!({"requirements": [world.keyless(subject)]})
}

fn keyless_signed_image_is_admitted_and_pinned(registry: Registry, name: &str) {
    let world = world();
    let (image, digest) = world.push(registry, name);
    world.sign(&image, &digest, Signer::Keyless(SIGNER));
    let reviewed = review(world, &image, keyless_policy(world, SIGNER));
    reviewed.assert_allowed("signed keyless by cosign v3");
    assert_eq!(reviewed.pinned(), Some(by_digest(&image, &digest)));
    let other = review(
        world,
        &image,
        keyless_policy(world, "someone@portieris.test"),
    );
    other.assert_denied("another identity", "someone@portieris.test");
}

#[test]
fn cosign_v3_keyless_defaults_through_the_referrers_api_are_admitted_and_pinned() {
    keyless_signed_image_is_admitted_and_pinned(Registry::Referrers, "keyless-api");
}

#[test]
fn cosign_v3_keyless_defaults_through_the_tag_fallback_are_admitted_and_pinned() {
    keyless_signed_image_is_admitted_and_pinned(Registry::Fallback, "keyless-fallback");
}

#[test]
fn an_image_without_bundles_is_denied() {
    let world = world();
    let (image, _) = world.push(Registry::Referrers, "unsigned");
    let reviewed = review(world, &image, keyless_policy(world, SIGNER));
    reviewed.assert_denied("no bundles", "no Sigstore bundles found");
}

#[test]
fn a_key_based_bundle_meets_a_key_requirement_read_from_bundles_only() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "keyed");
    world.sign(&image, &digest, Signer::Key);
    let bundle = json!({"format": "bundle", "requirements": [{"keySecret": "release-key"}]});
    review(world, &image, bundle).assert_allowed("a key-based bundle");
    // The same policy reading `.sig` tags: cosign 3 wrote none.
    let sig = json!({"requirements": [{"keySecret": "release-key"}]});
    review(world, &image, sig).assert_denied("no .sig signatures", "no cosign signatures found");
}

#[test]
fn a_keyless_bundle_outside_the_trusted_root_is_denied() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "public-good");
    world.sign(&image, &digest, Signer::Keyless(SIGNER));
    // No trustedRootSecret: the public-good root, which knows nothing of the loopback Fulcio.
    let policy = json!({"requirements": [{"keyless": {"identities": [
        {"issuer": world.sigstore.issuer(), "subject": SIGNER}]}}]});
    review(world, &image, policy)
        .assert_denied("the public-good root", "Sigstore public-good root");
}

#[test]
fn an_image_with_a_sig_and_a_bundle_is_checked_on_the_format_the_policy_names() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "both");
    world.sign(&image, &digest, Signer::KeyLegacy);
    world.sign(&image, &digest, Signer::Keyless(SIGNER));
    let sig = json!({"requirements": [{"keySecret": "release-key"}]});
    let reviewed = review(world, &image, sig);
    reviewed.assert_allowed("the key's .sig");
    let pinned = reviewed.pinned();
    let keyless = review(world, &image, keyless_policy(world, SIGNER));
    keyless.assert_allowed("the keyless bundle");
    assert_eq!(keyless.pinned(), pinned, "both formats pin the one digest");
    // The key signed only a `.sig`: a policy reading bundles for it finds none by the key.
    let key_bundle = json!({"format": "bundle", "requirements": [{"keySecret": "release-key"}]});
    review(world, &image, key_bundle)
        .assert_denied("no bundle by the key", "is signed by the key in Secret");
}
