//! The Notation test peers work (common/notation.rs): notation-signer (notation-go v1.3.2)
//! signs images pushed to the rig's registries, and the signatures are where a verifier looks:
//! in the referrers list of the registry with the referrers API, or in the `sha256-<hex>` tag
//! index of the one without. Fails, never skips, without the rig or the loopback Sigstore
//! (`scripts/test.sh` starts both and builds the signer).

#[allow(dead_code)] // shared with other test files
#[path = "common/notation.rs"]
mod notation;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)] // shared with other test files
#[path = "common/simple.rs"]
mod tools;

use std::sync::OnceLock;

use notation::{Envelope, Notation, Registry, SIGNATURE_ARTIFACT_TYPE, Scheme, Sign};
use serde_json::Value;

fn world() -> &'static Notation {
    static WORLD: OnceLock<Notation> = OnceLock::new();
    WORLD.get_or_init(|| Notation::new(format!("notation-peers/run-{}", std::process::id())))
}

/// The descriptor of `manifest` in `index`'s `manifests`.
fn listed<'a>(index: &'a Value, manifest: &str) -> &'a Value {
    index["manifests"]
        .as_array()
        .expect("an index")
        .iter()
        .find(|d| d["digest"] == manifest)
        .unwrap_or_else(|| panic!("{manifest} is not listed in {index:#}"))
}

/// The signature manifest: its subject is the image, its one layer the envelope. notation-go
/// (oras-go's PackManifest v1.1 with a config) writes no `artifactType` field: the artifact
/// type is the config's media type, which registries report as the referrer's artifactType.
fn check_signature_manifest(world: &Notation, image: &str, digest: &str, manifest: &str) -> Value {
    let reference = format!("{}@{manifest}", notation::repository(image));
    let raw = tools::raw_manifest(&world.rig, &reference);
    assert_eq!(tools::sha256(&raw), manifest);
    let parsed: Value = serde_json::from_slice(&raw).expect("JSON");
    assert_eq!(parsed["subject"]["digest"], digest);
    assert_eq!(parsed["artifactType"], Value::Null);
    assert_eq!(parsed["config"]["mediaType"], SIGNATURE_ARTIFACT_TYPE);
    parsed
}

#[test]
fn a_jws_signature_is_listed_as_a_referrer() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "jws");
    let signed = world.sign(&image, &digest, &Sign::default());
    let index = world.referrers(&image, &digest);
    assert_eq!(
        listed(&index, &signed.manifest)["artifactType"],
        SIGNATURE_ARTIFACT_TYPE
    );
    let manifest = check_signature_manifest(world, &image, &digest, &signed.manifest);
    assert_eq!(manifest["layers"][0]["mediaType"], notation::JWS);
}

#[test]
fn a_timestamped_cose_signature_by_a_signing_authority_is_listed_as_a_referrer() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "cose-tsa");
    let how = Sign {
        leaf: "sa-leaf",
        envelope: Envelope::Cose,
        scheme: Scheme::SigningAuthority,
        timestamp: true,
        ..Sign::default()
    };
    let signed = world.sign(&image, &digest, &how);
    let index = world.referrers(&image, &digest);
    assert_eq!(
        listed(&index, &signed.manifest)["artifactType"],
        SIGNATURE_ARTIFACT_TYPE
    );
    let manifest = check_signature_manifest(world, &image, &digest, &signed.manifest);
    assert_eq!(manifest["layers"][0]["mediaType"], notation::COSE);
}

#[test]
fn without_the_referrers_api_the_signature_is_in_the_tag_schema_index() {
    let world = world();
    let (image, digest) = world.push(Registry::Fallback, "fallback");
    let how = Sign {
        leaf: "leaf-rsa",
        signing_time: Some("2026-01-01T00:00:00Z"),
        expiry: Some("8760h"),
        ..Sign::default()
    };
    let signed = world.sign(&image, &digest, &how);
    let index = world.referrers_tag(&image, &digest);
    assert_eq!(
        listed(&index, &signed.manifest)["artifactType"],
        SIGNATURE_ARTIFACT_TYPE
    );
    check_signature_manifest(world, &image, &digest, &signed.manifest);
}

#[test]
fn the_tag_schema_can_be_forced_where_the_referrers_api_exists() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "forced-tag");
    let how = Sign {
        tag_schema: true,
        ..Sign::default()
    };
    let signed = world.sign(&image, &digest, &how);
    let index = world.referrers_tag(&image, &digest);
    listed(&index, &signed.manifest);
}

#[test]
fn an_expired_leaf_signs_at_a_past_signing_time() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "expired");
    let how = Sign {
        leaf: "leaf-expired",
        signing_time: Some("2024-06-01T00:00:00Z"),
        ..Sign::default()
    };
    let signed = world.sign(&image, &digest, &how);
    let index = world.referrers(&image, &digest);
    let listed = listed(&index, &signed.manifest);
    // notation-go dates the manifest by the signing time.
    assert_eq!(
        listed["annotations"]["org.opencontainers.image.created"],
        "2024-06-01T00:00:00Z"
    );
}
