//! Attestations judged as an `attestations` policy entry judges them, over DSSE envelopes
//! signed in the test with a P-256 key (the legacy `.att` layers `cosign attest --key` writes:
//! PAE over the statement, ECDSA over SHA-256): predicate type, subject, signature, the
//! signer's kind, the memo. Bundles made by the real cosign are judged in
//! `core/tests/attestation_vectors.rs`; conditions in `core/src/condition`.

extern crate alloc;

use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use portieris_core::attestation::{AttestationNeed, Required, evaluate, remembered, verify};
use portieris_core::evidence::{CosignKey, KeylessSigner, RootSource, Signer};
use portieris_core::policy::KeylessIdentity;
use portieris_core::reason::Class;
use portieris_core::sigstore::bundle::dsse::pae;
use portieris_core::time::UnixTime;
use portieris_core::{Digest, ImageRef};
use serde_json::json;

const SLSA1: &str = "https://slsa.dev/provenance/v1";
const HEX: &str = "5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";

fn digest() -> Digest {
    Digest::parse(&format!("sha256:{HEX}")).expect("digest")
}

fn image() -> ImageRef {
    ImageRef::parse(&format!("registry.test/app@sha256:{HEX}")).expect("image")
}

fn statement(predicate_type: &str, subject_hex: &str) -> Vec<u8> {
    built_by(predicate_type, subject_hex, "https://ci.test/builder")
}

fn built_by(predicate_type: &str, subject_hex: &str, builder: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.test/app", "digest": {"sha256": subject_hex}}],
        "predicateType": predicate_type,
        "predicate": {"runDetails": {"builder": {"id": builder}}}
    }))
    .expect("JSON")
}

/// A DSSE envelope of `statement` signed by `key`, as `cosign attest --key` stores it.
fn envelope(key: &SigningKey, statement: &[u8]) -> Vec<u8> {
    let signature: DerSignature = key.sign(&pae("application/vnd.in-toto+json", statement));
    serde_json::to_vec(&json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": STANDARD.encode(statement),
        "signatures": [{"keyid": "", "sig": STANDARD.encode(signature.as_bytes())}]
    }))
    .expect("JSON")
}

fn key() -> SigningKey {
    SigningKey::random(&mut rand_core::OsRng)
}

fn pem(key: &SigningKey) -> String {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM")
}

fn required(signer: Signer, predicate_type: &str) -> Required {
    Required {
        name: format!("attestation 1 ({predicate_type})"),
        predicate_type: predicate_type.into(),
        signer,
        conditions: Vec::new(),
    }
}

fn by_key(key: &SigningKey) -> Signer {
    Signer::Key(CosignKey {
        key_secret: "team/ci-key".into(),
        public_key_pem: pem(key),
    })
}

fn need(required: Required) -> AttestationNeed {
    AttestationNeed {
        requirements: vec![required],
        repository: None,
    }
}

fn judge(need: &AttestationNeed, envelopes: &[Vec<u8>]) -> Result<Digest, String> {
    evaluate(
        need,
        &image(),
        &digest(),
        &[],
        envelopes,
        UnixTime(2_000_000_000),
    )
    .map_err(|r| {
        assert_eq!(r.class, Class::Refused, "{}", r.text);
        r.text
    })
}

#[test]
fn a_key_signed_statement_of_the_type_about_the_digest_is_met() {
    let key = key();
    let need = need(required(by_key(&key), SLSA1));
    let signed = envelope(&key, &statement(SLSA1, HEX));
    assert_eq!(judge(&need, &[signed]), Ok(digest()));
}

#[test]
fn another_predicate_type_is_not_the_one_required() {
    let key = key();
    let need = need(required(by_key(&key), SLSA1));
    let sbom = envelope(&key, &statement("https://spdx.dev/Document", HEX));
    let why = judge(&need, &[sbom]).expect_err("no provenance");
    assert!(
        why.contains("no attestation of type \"https://slsa.dev/provenance/v1\" signed by the key in Secret \"team/ci-key\" was found"),
        "{why}"
    );
}

#[test]
fn a_statement_about_another_digest_is_refused_for_its_subject() {
    let key = key();
    let need = need(required(by_key(&key), SLSA1));
    let other = envelope(&key, &statement(SLSA1, &"ab".repeat(32)));
    let why = judge(&need, &[other]).expect_err("another subject");
    assert!(
        why.contains(".att layer 1: ")
            && why.contains("no subject of the statement has the artifact's digest"),
        "{why}"
    );
}

#[test]
fn a_statement_signed_by_another_key_or_altered_after_signing_is_refused() {
    let (ours, theirs) = (key(), key());
    let need = need(required(by_key(&ours), SLSA1));
    let why = judge(&need, &[envelope(&theirs, &statement(SLSA1, HEX))]).expect_err("their key");
    assert!(why.contains("signature"), "{why}");
    // The payload swapped for another statement under the same signature.
    let mut altered: serde_json::Value =
        serde_json::from_slice(&envelope(&ours, &statement(SLSA1, HEX))).expect("JSON");
    let forged = built_by(SLSA1, HEX, "https://evil.test/builder");
    altered["payload"] = json!(STANDARD.encode(forged));
    let altered = serde_json::to_vec(&altered).expect("JSON");
    assert!(judge(&need, &[altered]).is_err());
}

#[test]
fn a_keyless_signer_does_not_read_legacy_envelopes() {
    let key = key();
    let keyless = Signer::Keyless(KeylessSigner {
        identities: vec![KeylessIdentity {
            issuer: "https://issuer.test".into(),
            subject: "ci@test".into(),
            ..KeylessIdentity::default()
        }],
        root: RootSource::Default { json: None },
    });
    let need = need(required(keyless, SLSA1));
    let why = judge(&need, &[envelope(&key, &statement(SLSA1, HEX))]).expect_err("keyless");
    assert!(
        why.contains("keyless attestations are read from Sigstore bundles"),
        "{why}"
    );
}

#[test]
fn a_layer_that_is_not_an_envelope_is_refused_saying_so() {
    let key = key();
    let need = need(required(by_key(&key), SLSA1));
    let why = judge(&need, &[b"{\"payload\": 1}".to_vec()]).expect_err("not an envelope");
    assert!(why.contains("the layer is not a DSSE envelope"), "{why}");
}

#[test]
fn one_passing_statement_among_refused_ones_meets_the_requirement_and_is_remembered() {
    let key = key();
    let need = need(required(by_key(&key), SLSA1));
    let good = envelope(&key, &statement(SLSA1, HEX));
    let bad = envelope(&key, &statement(SLSA1, &"cd".repeat(32)));
    let envelopes = [bad, good];
    assert!(!remembered(&need, &digest(), &[], &envelopes));
    assert_eq!(judge(&need, &envelopes), Ok(digest()));
    assert!(remembered(&need, &digest(), &[], &envelopes));
    // Remembered for this key only.
    let other = self::need(required(by_key(&self::key()), SLSA1));
    assert!(!remembered(&other, &digest(), &[], &envelopes));
}

#[test]
fn verify_returns_every_passing_statement_and_each_reason_otherwise() {
    let key = key();
    let req = required(by_key(&key), SLSA1);
    let sha256: [u8; 32] = hex32(HEX);
    let one = envelope(&key, &statement(SLSA1, HEX));
    let two = envelope(&key, &statement(SLSA1, HEX));
    let found = verify(&req, &sha256, &[], &[one, two], UnixTime(0)).expect("two statements");
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].predicate_type, SLSA1);
    assert_eq!(found[0].statement, statement(SLSA1, HEX));
    assert!(found[0].identity.is_none());
    let reasons = verify(&req, &sha256, &[], &[], UnixTime(0)).expect_err("none");
    assert_eq!(
        reasons,
        vec!["no attestation of type \"https://slsa.dev/provenance/v1\" was found"]
    );
}

fn hex32(hex: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    bytes.try_into().expect("32 bytes")
}
