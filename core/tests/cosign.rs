//! Cosign over vectors made by the real cosign (fixtures/cosign/regen.sh): P-256, RSA and
//! Ed25519 keys, the payloads and signatures `cosign sign` pushed to the test rig's registry.

use portieris_core::cosign::{
    CosignKey, CosignNeed, CosignPayload, Signature, SignatureError, evaluate, verify,
};
use portieris_core::{Digest, ImageRef};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cosign");
const KEYS: [&str; 3] = ["ecdsa", "rsa", "ed25519"];

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key(name: &str) -> String {
    read(&format!("keys/{name}.pub"))
}

fn payload(name: &str) -> Vec<u8> {
    read(&format!("payloads/{name}.json")).into_bytes()
}

fn sig(key: &str, payload: &str) -> String {
    read(&format!("sigs/{key}-{payload}.sig"))
}

/// A line of digests.txt: `<which> <value>`.
fn listed(which: &str) -> String {
    let text = read("digests.txt");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{which} ")))
        .unwrap_or_else(|| panic!("digests.txt lists no {which}"))
        .to_string()
}

fn digest(which: &str) -> Digest {
    Digest::parse(&listed(which)).expect("digest")
}

/// The repository regen.sh signed in, tagged `image`.
fn image() -> ImageRef {
    let repository = listed("repository");
    ImageRef::parse(&format!("{repository}:image")).expect("reference")
}

fn need(key_name: &str) -> CosignNeed {
    CosignNeed {
        keys: vec![CosignKey {
            key_secret: format!("team/{key_name}"),
            public_key_pem: key(key_name),
        }],
        repository: None,
        remap: None,
    }
}

fn signature(key: &str, payload_name: &str) -> Signature {
    Signature {
        payload: payload(payload_name),
        signature: Some(sig(key, payload_name)),
    }
}

#[test]
fn cosign_signatures_verify_with_their_keys() {
    for name in KEYS {
        assert_eq!(
            verify(&key(name), &payload("image"), &sig(name, "image")),
            Ok(()),
            "{name}"
        );
    }
}

#[test]
fn the_payload_cosign_pushed_names_the_repository_and_the_digest() {
    let parsed = CosignPayload::parse(&payload("image")).expect("payload");
    assert_eq!(parsed.identity.name(), image().name());
    assert_eq!(parsed.digest, digest("image"));
}

#[test]
fn a_signature_by_another_key_does_not_verify() {
    for (signer, checker) in [("ecdsa", "rsa"), ("rsa", "ed25519"), ("ed25519", "ecdsa")] {
        assert_eq!(
            verify(&key(checker), &payload("image"), &sig(signer, "image")),
            Err(SignatureError::Invalid),
            "{signer} checked with {checker}"
        );
    }
}

#[test]
fn a_changed_payload_does_not_verify() {
    let mut changed = payload("image");
    let at = changed.len() - 3;
    changed[at] ^= 1;
    for name in KEYS {
        assert_eq!(
            verify(&key(name), &changed, &sig(name, "image")),
            Err(SignatureError::Invalid),
            "{name}"
        );
    }
    // Another payload's signature over this payload.
    assert_eq!(
        verify(&key("ecdsa"), &payload("image"), &sig("ecdsa", "other")),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn each_key_type_admits_its_signature_at_the_image_digest() {
    for name in KEYS {
        let got = evaluate(
            &need(name),
            &image(),
            &digest("image"),
            &[signature(name, "image")],
        );
        assert_eq!(got, Ok(digest("image")), "{name}");
    }
}

#[test]
fn a_signature_over_another_digest_denies() {
    let why = evaluate(
        &need("ecdsa"),
        &image(),
        &digest("image"),
        &[signature("ecdsa", "other")],
    )
    .expect_err("other digest");
    assert!(
        why.text.contains(&format!(
            "signed digest {}, expected {}",
            digest("other"),
            digest("image")
        )),
        "{why}"
    );
}

#[test]
fn the_signature_of_another_repository_denies() {
    let elsewhere =
        ImageRef::parse(&format!("{}/elsewhere:v1", image().name())).expect("reference");
    let why = evaluate(
        &need("rsa"),
        &elsewhere,
        &digest("image"),
        &[signature("rsa", "image")],
    )
    .expect_err("another repository");
    let expected = format!("signed for repository {}, not", image().name());
    assert!(why.text.contains(&expected), "{why}");
}
