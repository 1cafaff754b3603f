//! The remembered Notation verdict (`notation::evaluate`'s memo): a second admission of the
//! same signature under the same need costs a hash, admits what the first admitted (logged
//! failures included), and nothing else: not another envelope, not another store, not another
//! statement, not a time outside the window the first verdict holds in. Over the
//! notation-go envelopes of `core/tests/fixtures/notation`.
//!
//! Every test uses inputs of its own: the memo is one per process, and tests run together.

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use std::path::Path;

use portieris_core::evidence::{self, Gathered, Material, Need};
use portieris_core::notation::envelope::{Descriptor, Envelope, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS};
use portieris_core::notation::trust_policy::{StoreKind, StoreRef, TrustPolicy};
use portieris_core::notation::{
    NotationNeed, Signature, TrustStore, evaluate, evaluate_afresh, remembered,
};
use portieris_core::time::{UnixTime, parse_rfc3339};
use portieris_core::{Digest, ImageRef};
use serde_json::{Value, json};

const DIGEST: &str = "sha256:f803a754f781c393f3bef7d9ffb58379813ef73b6baf84044d97db1c10790c21";

fn read(path: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notation");
    std::fs::read(dir.join(path)).expect("fixture")
}

fn at(time: &str) -> UnixTime {
    parse_rfc3339(time).expect("RFC 3339")
}

/// The fixtures' time: every envelope was made then.
fn now() -> UnixTime {
    at("2026-12-06T17:00:19Z")
}

fn store(files: &[&str]) -> TrustStore {
    let entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                f.rsplit('/').next().unwrap_or(f).replace(".der", ".crl"),
                read(f),
            )
        })
        .collect();
    TrustStore::read(entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))).expect("a store")
}

/// One statement, `name`, for `registry.example/<scope>`, over the store `ca:acme`.
fn policy(name: &str, scope: &str, verification: Value, identities: &[&str]) -> TrustPolicy {
    let document = json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": name,
            "registryScopes": [format!("registry.example/{scope}")],
            "signatureVerification": verification,
            "trustStores": ["ca:acme"],
            "trustedIdentities": identities,
        }]
    });
    TrustPolicy::parse(&serde_json::to_vec(&document).expect("JSON")).expect("a policy")
}

fn need(policy: TrustPolicy, ca: &[&str]) -> NotationNeed {
    let named = StoreRef {
        kind: StoreKind::Ca,
        name: "acme".into(),
    };
    NotationNeed {
        trust_policy: Arc::new(policy),
        stores: BTreeMap::from([(named, store(ca))]),
    }
}

fn strict(name: &str, scope: &str) -> TrustPolicy {
    policy(name, scope, json!({"level": "strict"}), &["*"])
}

fn image(scope: &str) -> ImageRef {
    ImageRef::parse(&format!("registry.example/{scope}@{DIGEST}")).expect("a reference")
}

fn target() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: DIGEST.into(),
        size: 328,
        annotations: BTreeMap::new(),
    }
}

fn signature(file: &str) -> Vec<Signature> {
    let media_type = if file.ends_with(".cose") {
        MEDIA_TYPE_COSE
    } else {
        MEDIA_TYPE_JWS
    };
    vec![Signature {
        media_type: media_type.into(),
        envelope: read(&format!("envelopes/{file}")),
    }]
}

#[test]
fn a_remembered_verdict_admits_the_same_signature_with_the_same_verified() {
    let need = need(strict("memo-same", "memo-same"), &["pki/root.pem"]);
    let (image, target, signatures) = (image("memo-same"), target(), signature("jws-ec.jws"));
    assert!(!remembered(&need, &image, &target, &signatures, now()));
    let first = evaluate(&need, &image, &target, &signatures, now()).expect("passes");
    assert!(remembered(&need, &image, &target, &signatures, now()));
    let again = evaluate(&need, &image, &target, &signatures, now()).expect("passes again");
    assert_eq!(again, first);
    assert_eq!(
        evaluate_afresh(&need, &image, &target, &signatures, now()),
        Ok(first)
    );
    // Later, within the window (the certificates run to 2036), it still holds.
    assert!(remembered(
        &need,
        &image,
        &target,
        &signatures,
        at("2030-01-01T00:00:00Z")
    ));
}

#[test]
fn judging_afresh_remembers_nothing() {
    let need = need(strict("memo-afresh", "memo-afresh"), &["pki/root.pem"]);
    let (image, target, signatures) = (image("memo-afresh"), target(), signature("cose-ec.cose"));
    evaluate_afresh(&need, &image, &target, &signatures, now()).expect("passes");
    assert!(!remembered(&need, &image, &target, &signatures, now()));
}

#[test]
fn another_envelope_is_judged_afresh() {
    let need = need(strict("memo-envelope", "memo-envelope"), &["pki/root.pem"]);
    let (image, target) = (image("memo-envelope"), target());
    evaluate(&need, &image, &target, &signature("jws-rsa.jws"), now()).expect("passes");
    let tampered = signature("jws-tampered.jws");
    assert!(!remembered(&need, &image, &target, &tampered, now()));
    let refused = evaluate(&need, &image, &target, &tampered, now()).expect_err("tampered");
    assert!(refused.text.contains("integrity"), "{}", refused.text);
    // Another descriptor for the same envelope: not this manifest.
    let mut other = target.clone();
    other.size += 1;
    let signatures = signature("jws-rsa.jws");
    assert!(!remembered(&need, &image, &other, &signatures, now()));
    let refused = evaluate(&need, &image, &other, &signatures, now()).expect_err("mismatch");
    assert!(
        refused.text.contains("not this image's manifest"),
        "{}",
        refused.text
    );
}

#[test]
fn another_store_is_judged_afresh() {
    let trusted = need(strict("memo-store", "memo-store"), &["pki/root.pem"]);
    let (image, target, signatures) = (image("memo-store"), target(), signature("cose-rsa.cose"));
    evaluate(&trusted, &image, &target, &signatures, now()).expect("passes");
    let other = need(strict("memo-store", "memo-store"), &["pki/other-root.pem"]);
    assert!(!remembered(&other, &image, &target, &signatures, now()));
    let refused = evaluate(&other, &image, &target, &signatures, now()).expect_err("untrusted");
    assert!(refused.text.contains("authenticity"), "{}", refused.text);
    // The same certificate with a CRL that revokes the leaf: the CRL is part of the store.
    let revoked = signature("jws-revoked.jws");
    let clean = need(
        strict("memo-store", "memo-store"),
        &["pki/root.pem", "pki/crl-empty.der"],
    );
    evaluate(&clean, &image, &target, &revoked, now()).expect("not revoked by an empty CRL");
    let listing = need(
        strict("memo-store", "memo-store"),
        &["pki/root.pem", "pki/crl-revoked.der"],
    );
    assert!(!remembered(&listing, &image, &target, &revoked, now()));
    let refused = evaluate(&listing, &image, &target, &revoked, now()).expect_err("revoked");
    assert!(refused.text.contains("revocation"), "{}", refused.text);
}

#[test]
fn another_statement_is_judged_afresh() {
    let any = need(
        strict("memo-statement", "memo-statement"),
        &["pki/root.pem"],
    );
    let (image, target, signatures) = (image("memo-statement"), target(), signature("jws-rsa.jws"));
    evaluate(&any, &image, &target, &signatures, now()).expect("passes");
    // The same name and scope, another trusted identity.
    let leaf_ec = "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, CN=leaf-ec";
    let verification = json!({"level": "strict"});
    let policy = policy("memo-statement", "memo-statement", verification, &[leaf_ec]);
    let narrower = need(policy, &["pki/root.pem"]);
    assert!(!remembered(&narrower, &image, &target, &signatures, now()));
    let refused = evaluate(&narrower, &image, &target, &signatures, now()).expect_err("identity");
    assert!(
        refused.text.contains("is not a trusted identity"),
        "{}",
        refused.text
    );
}

#[test]
fn a_verdict_holds_only_within_its_window() {
    // cose-expiry expires an hour after it was signed (notation sign --expiry 1h).
    let need = need(strict("memo-window", "memo-window"), &["pki/root.pem"]);
    let (image, target, signatures) = (
        image("memo-window"),
        target(),
        signature("cose-expiry.cose"),
    );
    let envelope = Envelope::open(MEDIA_TYPE_COSE, &signatures[0].envelope).expect("opens");
    let expiry = envelope.expiry.expect("an expiry");
    assert!(expiry > now());
    evaluate(&need, &image, &target, &signatures, now()).expect("passes");
    let before_expiry = UnixTime(expiry.0 - 1);
    assert!(remembered(
        &need,
        &image,
        &target,
        &signatures,
        before_expiry
    ));
    let expired = expiry;
    assert!(!remembered(&need, &image, &target, &signatures, expired));
    let refused = evaluate(&need, &image, &target, &signatures, expired).expect_err("expired");
    assert!(
        refused.text.contains("expiry: the signature expired"),
        "{}",
        refused.text
    );
    // Before the verdict was reached (a clock set back): judged afresh.
    let earlier = at("2026-12-06T16:00:00Z");
    assert!(!remembered(&need, &image, &target, &signatures, earlier));
}

#[test]
fn a_window_ends_when_a_certificate_or_a_crl_stops_holding() {
    let need = need(
        strict("memo-crl", "memo-crl"),
        &["pki/root.pem", "pki/crl-empty.der", "pki/crl-root.der"],
    );
    let (image, target, signatures) = (image("memo-crl"), target(), signature("jws-revoked.jws"));
    evaluate(&need, &image, &target, &signatures, now()).expect("passes");
    // The certificates are valid through 2036-01-01T00:00:00Z, the CRLs current until 2036-12.
    assert!(remembered(
        &need,
        &image,
        &target,
        &signatures,
        at("2036-01-01T00:00:00Z")
    ));
    let expired = at("2036-01-01T00:00:01Z");
    assert!(!remembered(&need, &image, &target, &signatures, expired));
    let refused = evaluate(&need, &image, &target, &signatures, expired).expect_err("expired");
    assert!(
        refused.text.contains("authentic timestamp"),
        "{}",
        refused.text
    );
}

#[test]
fn logged_failures_are_remembered_with_the_verdict() {
    // jws-expiry-passed expired before the fixtures' time; the statement only logs expiry.
    let verification = json!({"level": "strict", "override": {"expiry": "log"}});
    let need = need(
        policy("memo-logged", "memo-logged", verification, &["*"]),
        &["pki/root.pem"],
    );
    let (image, target) = (image("memo-logged"), target());
    let signatures = signature("jws-expiry-passed.jws");
    let first = evaluate(&need, &image, &target, &signatures, now()).expect("passes, logged");
    assert_eq!(first.logged.len(), 1, "{:?}", first.logged);
    assert!(first.logged[0].contains("expiry"), "{:?}", first.logged);
    assert!(remembered(&need, &image, &target, &signatures, now()));
    assert_eq!(
        evaluate(&need, &image, &target, &signatures, now()),
        Ok(first)
    );
}

#[test]
fn the_evidence_seam_says_a_remembered_verdict_costs_no_signature_check() {
    let need = Need::Notation(need(strict("memo-seam", "memo-seam"), &["pki/root.pem"]));
    let image = image("memo-seam");
    let digest = Digest::parse(DIGEST).expect("a digest");
    let gathered: Gathered = Ok(Material::Notation {
        digest: digest.clone(),
        manifest: Arc::from(read("manifest.json")),
        signatures: Arc::from(signature("jws-ec.jws")),
    });
    assert!(evidence::costly(&need, &image, &gathered, now()));
    assert_eq!(
        evidence::verify(&need, &image, &gathered, now()),
        Ok(&digest)
    );
    assert!(!evidence::costly(&need, &image, &gathered, now()));
    assert!(evidence::costly(
        &need,
        &image,
        &gathered,
        at("2036-01-01T00:00:01Z")
    ));
}
