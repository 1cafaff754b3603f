//! Notary Project signatures (Notation) judged as an admission judges them, over the
//! envelopes notation-go v1.3.2 made (`core/tests/fixtures/notation`): one JWS signature with
//! an EC P-256 leaf, one COSE signature with an RSA-3072 leaf, and one JWS signature (RSA)
//! with an RFC 3161 timestamp under a `tsa` store, with the intermediate's and the root's
//! CRLs given with the `ca` store. Also the trust policy document parsed, and a trust store
//! read from its Secret's entries (PEM certificate, DER CRLs).
//! Each signature the first time (`evaluate_afresh`: envelope, chain, timestamp and CRL checks)
//! and again (`evaluate` with its verdict remembered: the key's hash and a lookup).
//! `cargo bench -p portieris-core --bench notation [--features ring]`.

extern crate alloc;

use alloc::collections::BTreeMap;
use core::hint::black_box;
use core::time::Duration;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use portieris_core::ImageRef;
use portieris_core::notation::envelope::{Descriptor, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS};
use portieris_core::notation::trust_policy::{StoreKind, StoreRef, TrustPolicy};
use portieris_core::notation::{NotationNeed, Signature, TrustStore, evaluate, evaluate_afresh};
use portieris_core::time::{UnixTime, parse_rfc3339};

const DIGEST: &str = "sha256:f803a754f781c393f3bef7d9ffb58379813ef73b6baf84044d97db1c10790c21";

fn read(path: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notation");
    std::fs::read(dir.join(path)).expect("fixture")
}

fn store(entries: &[(&str, &str)]) -> TrustStore {
    let read: Vec<(&str, Vec<u8>)> = entries.iter().map(|(k, f)| (*k, read(f))).collect();
    TrustStore::read(read.iter().map(|(k, v)| (*k, v.as_slice()))).expect("a store")
}

/// The fixtures' stores, the `ca` one with the intermediate's (empty) CRL and the root's.
fn need() -> NotationNeed {
    let policy = TrustPolicy::parse(&read("trust-policy.json")).expect("the policy");
    let ca = [
        ("root.pem", "pki/root.pem"),
        ("intermediate.crl", "pki/crl-empty.der"),
        ("root.crl", "pki/crl-root.der"),
    ];
    let tsa = [("tsa-root.pem", "pki/tsa-root.pem")];
    let named = |kind, name: &str| StoreRef {
        kind,
        name: name.into(),
    };
    let stores = BTreeMap::from([
        (named(StoreKind::Ca, "acme"), store(&ca)),
        (named(StoreKind::Tsa, "portieris-tsa"), store(&tsa)),
    ]);
    NotationNeed {
        trust_policy: policy.into(),
        stores,
    }
}

fn signature(media_type: &str, file: &str) -> Vec<Signature> {
    vec![Signature {
        media_type: media_type.into(),
        envelope: read(file),
    }]
}

fn notation(c: &mut Criterion) {
    let need = need();
    let target = Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: DIGEST.into(),
        size: 328,
        annotations: BTreeMap::new(),
    };
    let now: UnixTime = parse_rfc3339("2026-12-06T17:00:19Z").expect("RFC 3339");
    let cases = [
        ("jws_ec_p256", "ca", MEDIA_TYPE_JWS, "envelopes/jws-ec.jws"),
        (
            "cose_rsa3072",
            "ca",
            MEDIA_TYPE_COSE,
            "envelopes/cose-rsa.cose",
        ),
        (
            "jws_rsa_timestamp_crl",
            "ca-tsa",
            MEDIA_TYPE_JWS,
            "envelopes/jws-rsa-tsa.jws",
        ),
    ];
    for (name, statement, media_type, file) in cases {
        let image = ImageRef::parse(&format!("registry.example/{statement}@{DIGEST}"))
            .expect("a reference");
        let signatures = signature(media_type, file);
        let verified = evaluate_afresh(&need, &image, &target, &signatures, now);
        let verified = verified.expect("verifies");
        assert_eq!(verified.statement, statement);
        assert!(verified.logged.is_empty(), "{:?}", verified.logged);
        c.bench_function(&format!("notation/{name}_first"), |b| {
            b.iter(|| evaluate_afresh(black_box(&need), &image, &target, &signatures, now))
        });
        assert_eq!(
            evaluate(&need, &image, &target, &signatures, now),
            Ok(verified)
        );
        c.bench_function(&format!("notation/{name}_remembered"), |b| {
            b.iter(|| evaluate(black_box(&need), &image, &target, &signatures, now))
        });
    }
    let document = read("trust-policy.json");
    c.bench_function("notation/trust_policy_parse", |b| {
        b.iter(|| TrustPolicy::parse(black_box(&document)).expect("parses"))
    });
    let entries: Vec<(&str, Vec<u8>)> = [
        ("root.pem", "pki/root.pem"),
        ("intermediate.crl", "pki/crl-empty.der"),
        ("root.crl", "pki/crl-root.pem"),
    ]
    .iter()
    .map(|(k, f)| (*k, read(f)))
    .collect();
    c.bench_function("notation/trust_store_read", |b| {
        b.iter(|| TrustStore::read(black_box(&entries).iter().map(|(k, v)| (*k, v.as_slice()))))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = notation }
criterion_main!(benches);
