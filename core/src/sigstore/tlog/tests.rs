use super::conformance::{DIR, read, tlogs};
use super::*;
use alloc::vec::Vec;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::sigstore::bundle::{Bundle, Content};
use crate::time::parse_rfc3339;

/// A conformance case's bundle, its trusted root's logs and the digest of `a.txt`.
fn case(name: &str) -> (Bundle, Vec<LogKey>, [u8; 32]) {
    let dir = Path::new(DIR).join("conformance").join(name);
    let bundle =
        Bundle::parse(&read(&dir.join("bundle.sigstore.json")).expect("bundle")).expect("parses");
    let root = read(&dir.join("trusted_root.json"))
        .or_else(|| {
            read(&Path::new(DIR).join("../../../src/sigstore/public-good.trusted_root.json"))
        })
        .expect("root");
    let logs = tlogs(&serde_json::from_slice(&root).expect("JSON")).expect("logs");
    let artifact = read(&Path::new(DIR).join("conformance/a.txt")).expect("a.txt");
    (bundle, logs, Sha256::digest(&artifact).into())
}

fn now() -> UnixTime {
    parse_rfc3339("2026-12-06T00:00:00Z").expect("a date")
}

/// Verifies the case's first entry, with `edit` applied to it and to the logs first.
fn verify_edited(
    name: &str,
    edit: impl FnOnce(&mut TlogEntry, &mut Vec<LogKey>),
) -> Result<Option<UnixTime>, TlogError> {
    let (bundle, mut logs, digest) = case(name);
    let mut entry = bundle.tlog_entries[0].clone();
    edit(&mut entry, &mut logs);
    let leaf = bundle.leaf_certificate().expect("a certificate");
    let claim = Claim {
        bundle: &bundle,
        artifact_sha256: &digest,
        signer: Signer::Certificate(leaf),
    };
    verify_entry(&entry, &logs, &claim, now()).map(|logged| logged.integrated_time)
}

#[test]
fn a_promised_entry_proves_its_integrated_time() {
    assert_eq!(
        verify_edited("happy-path-v0.1", |_, _| {}),
        Ok(Some(UnixTime(1_689_177_396)))
    );
}

#[test]
fn an_entry_from_a_log_not_in_the_root_is_refused() {
    assert_eq!(
        verify_edited("happy-path-v0.1", |_, logs| logs.clear()),
        Err(TlogError::UnknownLog)
    );
}

#[test]
fn the_log_key_must_be_valid_at_the_integrated_time_end_included() {
    let at = |end: u64| {
        verify_edited("happy-path-v0.1", |_, logs| {
            for log in logs {
                log.validity.end = Some(UnixTime(end));
            }
        })
    };
    assert_eq!(at(1_689_177_396), Ok(Some(UnixTime(1_689_177_396))));
    assert_eq!(
        at(1_689_177_395),
        Err(TlogError::LogKeyNotValid {
            at: UnixTime(1_689_177_396)
        })
    );
}

#[test]
fn an_entry_with_neither_promise_nor_proof_is_refused() {
    let result = verify_edited("happy-path-v0.1", |entry, _| {
        entry.inclusion_promise = None;
        entry.inclusion_proof = None;
    });
    assert_eq!(result, Err(TlogError::NoInclusion));
}

#[test]
fn without_a_promise_the_integrated_time_is_not_vouched_for() {
    let result = verify_edited("happy-path-v0.2", |entry, _| entry.inclusion_promise = None);
    assert_eq!(result, Ok(None));
}

#[test]
fn a_proof_without_a_promise_needs_a_checkpoint() {
    let result = verify_edited("happy-path-v0.2", |entry, _| {
        entry.inclusion_promise = None;
        if let Some(proof) = &mut entry.inclusion_proof {
            proof.checkpoint = None;
        }
    });
    assert_eq!(result, Err(TlogError::MissingCheckpoint));
    let with_promise = verify_edited("happy-path-v0.2", |entry, _| {
        if let Some(proof) = &mut entry.inclusion_proof {
            proof.checkpoint = None;
        }
    });
    assert_eq!(with_promise, Ok(Some(UnixTime(1_689_177_396))));
}

#[test]
fn a_promise_without_an_integrated_time_is_refused() {
    let result = verify_edited("happy-path-v0.1", |entry, _| entry.integrated_time = None);
    assert_eq!(result, Err(TlogError::PromiseWithoutTime));
}

#[test]
fn a_promise_over_another_time_or_index_is_refused() {
    let later = verify_edited("happy-path-v0.1", |entry, _| {
        entry.integrated_time = Some(UnixTime(1_689_177_397));
    });
    assert_eq!(later, Err(TlogError::Promise));
    let elsewhere = verify_edited("happy-path-v0.1", |entry, _| entry.log_index += 1);
    assert_eq!(elsewhere, Err(TlogError::Promise));
}

#[test]
fn a_proof_for_another_leaf_index_is_refused() {
    let result = verify_edited("happy-path-v0.2", |entry, _| {
        entry.inclusion_promise = None;
        if let Some(proof) = &mut entry.inclusion_proof {
            proof.log_index -= 1;
        }
    });
    assert_eq!(result, Err(TlogError::Proof(ProofError::RootMismatch)));
}

#[test]
fn a_rekor_v2_entry_proves_no_time_and_leaves_the_key_window_to_the_caller() {
    let (bundle, logs, digest) = case("rekor2-happy-path");
    let leaf = bundle.leaf_certificate().expect("a certificate");
    let claim = Claim {
        bundle: &bundle,
        artifact_sha256: &digest,
        signer: Signer::Certificate(leaf),
    };
    let logged = verify_entry(&bundle.tlog_entries[0], &logs, &claim, now()).expect("verifies");
    assert_eq!(logged.integrated_time, None);
    assert_eq!(
        logged.log.base_url,
        "https://log2025-alpha1.rekor.sigstage.dev"
    );
    let time = |text| parse_rfc3339(text).expect("a date");
    assert!(logged.log_valid_at(time("2025-06-12T12:02:20Z")));
    assert!(!logged.log_valid_at(time("2025-04-15T23:59:59Z")));
}

#[test]
fn the_body_must_be_of_the_entrys_kind() {
    let result = verify_edited("happy-path-v0.1", |entry, _| entry.kind = "dsse".into());
    assert_eq!(result, Err(TlogError::Body(BodyError::KindVersion)));
}

#[test]
fn a_message_signature_is_not_recorded_by_a_dsse_entry() {
    let result = verify_edited("happy-path-v0.1", |entry, _| {
        entry.kind = "dsse".into();
        entry.body = br#"{"apiVersion":"0.0.1","kind":"dsse","spec":{}}"#.to_vec();
    });
    assert_eq!(
        result,
        Err(TlogError::Body(BodyError::Unsupported {
            kind: "dsse".into(),
            version: "0.0.1".into()
        }))
    );
}

#[test]
fn a_key_signer_is_not_a_recorded_certificate() {
    let (bundle, logs, digest) = case("happy-path-v0.1");
    let leaf = bundle.leaf_certificate().expect("a certificate");
    let claim = Claim {
        bundle: &bundle,
        artifact_sha256: &digest,
        signer: Signer::PublicKey(leaf),
    };
    assert_eq!(
        verify_entry(&bundle.tlog_entries[0], &logs, &claim, now()).err(),
        Some(TlogError::Body(BodyError::Signer))
    );
}

#[test]
fn a_body_with_an_array_for_an_object_is_refused() {
    let result = verify_edited("happy-path-v0.1", |entry, _| {
        entry.body = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":[[],[]]}"#.to_vec();
    });
    assert!(matches!(result, Err(TlogError::Body(BodyError::Json(_)))));
}

/// A `dsse` 0.0.2 body (Rekor v2; no conformance vector has one) made from the
/// `rekor2-dsse-happy-path` bundle: it records the payload's digest, the signature and the
/// certificate.
fn dsse_v002_body(bundle: &Bundle, signature: &[u8]) -> Vec<u8> {
    let Content::Dsse(envelope) = &bundle.content else {
        panic!("an envelope")
    };
    let leaf = bundle.leaf_certificate().expect("a certificate");
    let body = json!({
        "apiVersion": "0.0.2",
        "kind": "dsse",
        "spec": {"dsseV002": {
            "payloadHash": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Sha256::digest(&envelope.payload))},
            "signatures": [{
                "content": STANDARD.encode(signature),
                "verifier": {"keyDetails": "PKIX_ECDSA_P256_SHA_256", "x509Certificate": {"rawBytes": STANDARD.encode(leaf)}}
            }]
        }}
    });
    serde_json::to_vec(&body).expect("JSON")
}

#[test]
fn a_dsse_v002_body_records_the_envelope() {
    let (bundle, _, digest) = case("rekor2-dsse-happy-path");
    let Content::Dsse(envelope) = &bundle.content else {
        panic!("an envelope")
    };
    let mut entry = bundle.tlog_entries[0].clone();
    (entry.kind, entry.kind_version) = ("dsse".into(), "0.0.2".into());
    let claim = Claim {
        bundle: &bundle,
        artifact_sha256: &digest,
        signer: Signer::Certificate(bundle.leaf_certificate().expect("a certificate")),
    };
    entry.body = dsse_v002_body(&bundle, &envelope.signature);
    assert_eq!(body::check(&entry, &claim), Ok(()));
    let mut other = envelope.signature.clone();
    other[10] ^= 1;
    entry.body = dsse_v002_body(&bundle, &other);
    assert_eq!(body::check(&entry, &claim), Err(BodyError::Signature));
}

#[test]
fn a_body_with_another_digest_algorithm_is_refused() {
    let result = verify_edited("rekor2-happy-path", |entry, _| {
        let mut body: Value = serde_json::from_slice(&entry.body).expect("JSON");
        body["spec"]["hashedRekordV002"]["data"]["algorithm"] = json!("SHA2_384");
        entry.body = serde_json::to_vec(&body).expect("JSON");
    });
    assert_eq!(
        result,
        Err(TlogError::Body(BodyError::Algorithm("SHA2_384".into())))
    );
}

#[test]
fn the_signer_is_the_certificate_or_else_the_policys_key() {
    let (keyless, _, _) = case("happy-path-v0.3");
    let leaf = keyless.leaf_certificate().expect("a certificate");
    assert_eq!(
        Signer::of(&keyless, Some(b"key")),
        Some(Signer::Certificate(leaf))
    );
    let (keyed, _, _) = case("managed-key-happy-path");
    assert_eq!(
        Signer::of(&keyed, Some(b"key")),
        Some(Signer::PublicKey(b"key"))
    );
    assert_eq!(Signer::of(&keyed, None), None);
}
