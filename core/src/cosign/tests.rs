//! The payload rules and the judgement over keys made here; core/tests/cosign.rs runs the
//! vectors the real cosign made.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};

use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn payload(reference: &str, digest: &str) -> Vec<u8> {
    alloc::format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

fn key(seed: u8) -> (SigningKey, String) {
    let signing = SigningKey::from_slice(&[seed; 32]).expect("scalar");
    let pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM");
    (signing, pem)
}

fn sign(signing: &SigningKey, payload: &[u8]) -> Signature {
    let signature: p256::ecdsa::Signature = signing.sign(payload);
    Signature {
        payload: payload.to_vec(),
        signature: Some(STANDARD.encode(signature.to_der().as_bytes())),
    }
}

fn need(pems: &[&str]) -> CosignNeed {
    CosignNeed {
        keys: pems
            .iter()
            .enumerate()
            .map(|(n, pem)| CosignKey {
                key_secret: alloc::format!("team/key{n}"),
                public_key_pem: pem.to_string(),
            })
            .collect(),
        repository: None,
        remap: None,
    }
}

fn image() -> ImageRef {
    ImageRef::parse("127.0.0.1:5000/team/app:v1").expect("reference")
}

fn digest(text: &str) -> Digest {
    Digest::parse(text).expect("digest")
}

#[test]
fn a_payload_names_its_repository_and_digest_and_unknown_fields_are_ignored() {
    let parsed = CosignPayload::parse(&payload("127.0.0.1:5000/team/app", DIGEST)).expect("ok");
    assert_eq!(parsed.identity.name(), "127.0.0.1:5000/team/app");
    assert_eq!(parsed.digest, digest(DIGEST));
    let extra = br#"{"critical":{"identity":{"docker-reference":"r/a"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"cosign container image signature","new":1},"optional":{"a":"b"}}"#;
    assert!(
        CosignPayload::parse(extra).is_ok(),
        "cosign ignores them too"
    );
}

#[test]
fn a_payload_of_another_type_or_shape_is_refused() {
    let atomic = String::from_utf8(payload("r/a", DIGEST))
        .expect("utf-8")
        .replace(
            "cosign container image signature",
            "atomic container signature",
        );
    assert!(matches!(
        CosignPayload::parse(atomic.as_bytes()),
        Err(PayloadError::WrongType { found, .. }) if found == "atomic container signature"
    ));
    assert!(matches!(
        CosignPayload::parse(br#"{"critical":{}}"#),
        Err(PayloadError::Malformed(_))
    ));
    assert!(matches!(
        CosignPayload::parse(&payload("r/a", "sha256:short")),
        Err(PayloadError::BadDigest { .. })
    ));
    assert!(matches!(
        CosignPayload::parse(&payload("UPPER/Case", DIGEST)),
        Err(PayloadError::BadIdentity { .. })
    ));
    let big = alloc::vec![b' '; payload::MAX_PAYLOAD + 1];
    assert_eq!(
        CosignPayload::parse(&big),
        Err(PayloadError::TooLarge(payload::MAX_PAYLOAD + 1))
    );
}

#[test]
fn a_signature_by_the_key_over_the_digest_and_repository_admits_at_the_digest() {
    let (signing, pem) = key(1);
    let signed = sign(&signing, &payload("127.0.0.1:5000/team/app", DIGEST));
    let got = evaluate(&need(&[&pem]), &image(), &digest(DIGEST), &[signed]);
    assert_eq!(got, Ok(digest(DIGEST)));
}

#[test]
fn a_mirror_is_accepted_only_where_remap_identity_says_what_it_copies() {
    let (signing, pem) = key(1);
    let upstream = sign(&signing, &payload("registry.example/team/app", DIGEST));
    let mirror = ImageRef::parse("mirror.example/team/app:v1").expect("reference");
    let strict = evaluate(
        &need(&[&pem]),
        &mirror,
        &digest(DIGEST),
        core::slice::from_ref(&upstream),
    );
    let why = strict.expect_err("another repository").text;
    assert!(
        why.contains(
            "signed for repository registry.example/team/app, not mirror.example/team/app"
        ),
        "{why}"
    );
    let mut remapped = need(&[&pem]);
    remapped.remap = Some(RemapIdentity {
        prefix: "mirror.example/team".into(),
        signed_prefix: "registry.example/team".into(),
    });
    let got = evaluate(
        &remapped,
        &mirror,
        &digest(DIGEST),
        core::slice::from_ref(&upstream),
    );
    assert_eq!(got, Ok(digest(DIGEST)));
    // The remap covers the prefix only: another mirror path still needs its own signature.
    let elsewhere = ImageRef::parse("mirror.example/other/app:v1").expect("reference");
    let why = evaluate(&remapped, &elsewhere, &digest(DIGEST), &[upstream]).expect_err("other");
    assert!(
        why.text.contains("not mirror.example/other/app"),
        "{}",
        why.text
    );
}

#[test]
fn every_key_must_have_signed() {
    let (alice, alice_pem) = key(1);
    let (bob, bob_pem) = key(2);
    let body = payload("127.0.0.1:5000/team/app", DIGEST);
    let both = [sign(&alice, &body), sign(&bob, &body)];
    let need = need(&[&alice_pem, &bob_pem]);
    assert_eq!(
        evaluate(&need, &image(), &digest(DIGEST), &both),
        Ok(digest(DIGEST))
    );
    let why = evaluate(&need, &image(), &digest(DIGEST), &both[..1]).expect_err("bob missing");
    assert!(
        why.text.contains("team/key1") && !why.text.contains("team/key0"),
        "{why}"
    );
    assert!(why.text.contains("does not verify with the key"), "{why}");
}

#[test]
fn another_digest_another_repository_or_no_signature_denies() {
    let (signing, pem) = key(1);
    let need = need(&[&pem]);
    let other = sign(&signing, &payload("127.0.0.1:5000/team/app", OTHER));
    let why = evaluate(&need, &image(), &digest(DIGEST), &[other]).expect_err("digest");
    assert!(
        why.text.contains(&alloc::format!("expected {DIGEST}")),
        "{why}"
    );
    let elsewhere = sign(&signing, &payload("127.0.0.1:5000/team/other", DIGEST));
    let why = evaluate(&need, &image(), &digest(DIGEST), &[elsewhere]).expect_err("repository");
    assert!(
        why.text
            .contains("signed for repository 127.0.0.1:5000/team/other"),
        "{why}"
    );
    let why = evaluate(&need, &image(), &digest(DIGEST), &[]).expect_err("none");
    assert!(why.text.contains("no cosign signatures found"), "{why}");
}

#[test]
fn a_tampered_payload_or_a_bad_annotation_denies() {
    let (signing, pem) = key(1);
    let need = need(&[&pem]);
    let mut tampered = sign(&signing, &payload("127.0.0.1:5000/team/app", OTHER));
    tampered.payload = payload("127.0.0.1:5000/team/app", DIGEST);
    let missing = Signature {
        payload: tampered.payload.clone(),
        signature: None,
    };
    let garbage = Signature {
        payload: tampered.payload.clone(),
        signature: Some("%%%".into()),
    };
    let why = evaluate(
        &need,
        &image(),
        &digest(DIGEST),
        &[tampered, missing, garbage],
    )
    .expect_err("all bad");
    assert!(
        why.text
            .contains("signature 1: the signature does not verify"),
        "{why}"
    );
    assert!(
        why.text
            .contains("signature 2: no dev.cosignproject.cosign/signature"),
        "{why}"
    );
    assert!(
        why.text
            .contains("signature 3: the signature annotation is not base64"),
        "{why}"
    );
}

#[test]
fn a_key_secret_without_a_public_key_denies_naming_it() {
    let (signing, _) = key(1);
    let signed = sign(&signing, &payload("127.0.0.1:5000/team/app", DIGEST));
    let why =
        evaluate(&need(&["not PEM"]), &image(), &digest(DIGEST), &[signed]).expect_err("bad key");
    assert!(
        why.text
            .contains("cosign key Secret \"team/key0\": not a usable PEM public key"),
        "{why}"
    );
}

#[test]
fn a_payload_written_as_arrays_is_refused_by_both_formats() {
    // serde's derive reads a struct from an array of its fields; Go's decoder does not.
    let d = DIGEST;
    for arrays in [
        alloc::format!(r#"[["cosign container image signature",["r/a"],["{d}"]]]"#),
        alloc::format!(
            r#"{{"critical":["cosign container image signature",{{"docker-reference":"r/a"}},{{"docker-manifest-digest":"{d}"}}]}}"#
        ),
        alloc::format!(
            r#"{{"critical":{{"type":"cosign container image signature","identity":["r/a"],"image":{{"docker-manifest-digest":"{d}"}}}}}}"#
        ),
    ] {
        assert!(
            matches!(
                CosignPayload::parse(arrays.as_bytes()),
                Err(PayloadError::Malformed(_))
            ),
            "{arrays}"
        );
        let atomic = arrays.replace(
            "cosign container image signature",
            "atomic container signature",
        );
        assert!(
            matches!(
                crate::simple::Payload::parse(atomic.as_bytes()),
                Err(PayloadError::Malformed(_))
            ),
            "{atomic}"
        );
    }
}
