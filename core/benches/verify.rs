//! Signature checks over vectors real tools made: canonical JSON, a whole Notary v1 chain
//! (`core/tests/fixtures/notary`, notary-server 0.7.0) and, with feature `openpgp`, a simple
//! signature made by skopeo and gpg (`core/tests/fixtures/simple`), and Sigstore bundles from
//! the client conformance suite (`core/tests/vectors/sigstore/conformance`).
//! `cargo bench -p portieris-core --features openpgp --bench verify`.

extern crate alloc;

use core::hint::black_box;
use core::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portieris_core::notary::TargetRef;
use portieris_core::notary::canonical_json::canonicalize;
use serde_json::Value;

// The vectors as the Notary tests load and drive them; not every helper is used here.
#[allow(dead_code)]
#[path = "../tests/common/notary_case.rs"]
mod notary_case;

use notary_case::{Case, fixtures, read};

fn canonical_json(c: &mut Criterion) {
    let root: Value =
        serde_json::from_slice(&read(&fixtures().join("onesigner/root.json"))).expect("root.json");
    let signed = &root["signed"];
    c.bench_function("canonical_json/root", |b| {
        b.iter(|| canonicalize(black_box(signed)));
    });
}

/// The `onesigner` case: root, timestamp, snapshot, targets, then `targets/releases` and the
/// signers' roles, served round after round; `alice` pinned.
fn notary_chain(c: &mut Criterion) {
    let case = Case::load("onesigner");
    let signers = [case.signer("alice")];
    let target = TargetRef::Tag("v1".into());
    let chain = |target| case.verify(target, &signers).expect("verifies");
    assert_eq!(
        chain(&target).roles.first().map(String::as_str),
        Some("targets/releases")
    );
    c.bench_function("notary_chain/onesigner_v1_pinned", |b| {
        b.iter(|| chain(black_box(&target)));
    });
}

#[cfg(feature = "openpgp")]
fn simple_signing(c: &mut Criterion) {
    use portieris_core::simple::openpgp::{Keyring, verify};
    use portieris_core::time::UnixTime;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/simple");
    let keyring = Keyring::parse(&read(&dir.join("keys/rsa.asc"))).expect("keyring");
    let signature = read(&dir.join("sigs/rsa-right.sig"));
    // The vectors' keys were made when the fixtures were; they are valid from then on.
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let now = UnixTime(since_epoch.expect("a clock after 1970").as_secs());
    if let Err(e) = verify(&keyring, &signature, now) {
        panic!("the vector verifies: {e}");
    }
    c.bench_function("simple_signing/rsa_verify", |b| {
        b.iter(|| verify(&keyring, black_box(&signature), now));
    });
}

#[cfg(not(feature = "openpgp"))]
fn simple_signing(_: &mut Criterion) {
    eprintln!("simple_signing: needs --features openpgp");
}

/// Sigstore's conformance cases, as the suite hands them to a client: the bundle, the artifact
/// (`a.txt` unless the case has its own), the case's trusted root or the public-good one.
fn sigstore(c: &mut Criterion) {
    use portieris_core::sigstore::identity::{IdentityPolicy, Matcher};
    use portieris_core::sigstore::{Expect, PUBLIC_GOOD_ROOT, TrustedRoot, bundle::Bundle, verify};
    use portieris_core::time::UnixTime;
    use sha2::{Digest as _, Sha256};

    let cases =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/sigstore/conformance");
    let artifact: [u8; 32] = Sha256::digest(read(&cases.join("a.txt"))).into();
    let bundle_json = |case: &str| read(&cases.join(case).join("bundle.sigstore.json"));
    let bundle = |case: &str| Bundle::parse(&bundle_json(case)).expect("the bundle parses");
    let root = |json: &[u8]| TrustedRoot::parse(json).expect("the trusted root parses");
    // The suite's default identity (its `test/assets/bundle-verify/README.md`).
    let identities = [IdentityPolicy::new(
        Matcher::exact("https://token.actions.githubusercontent.com").expect("issuer"),
        Matcher::exact("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main").expect("subject"),
        alloc::collections::BTreeMap::new(),
    )
    .expect("the identity")];
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let now = UnixTime(since_epoch.expect("a clock after 1970").as_secs());

    let v03 = bundle_json("happy-path-v0.3");
    c.bench_function("sigstore/bundle_parse", |b| {
        b.iter(|| Bundle::parse(black_box(&v03)));
    });
    c.bench_function("sigstore/trusted_root_parse", |b| {
        b.iter(|| TrustedRoot::parse(black_box(PUBLIC_GOOD_ROOT)));
    });

    let public_good = root(PUBLIC_GOOD_ROOT);
    let mut keyless = |name: &str, case: &str, root: &TrustedRoot| {
        let bundle = bundle(case);
        let run = |bundle: &Bundle| {
            verify(
                bundle,
                &artifact,
                Expect::Keyless(&identities),
                Some(root),
                now,
            )
        };
        let verified = run(&bundle).unwrap_or_else(|e| panic!("{case} verifies: {e}"));
        assert!(verified.identity.is_some(), "{case}: an identity");
        c.bench_function(name, |b| b.iter(|| run(black_box(&bundle))));
    };
    // Message signature, Rekor v1 promise and proof, Fulcio chain, SCT, identity.
    keyless("sigstore/keyless_verify", "happy-path-v0.3", &public_good);
    // Rekor v2 checkpoint and an RFC 3161 timestamp, under the case's own root.
    let rekor2 = root(&read(&cases.join("rekor2-happy-path/trusted_root.json")));
    keyless(
        "sigstore/keyless_verify_rekor2",
        "rekor2-happy-path",
        &rekor2,
    );

    // A key bundle, its log entry checked under the public-good root as the suite does.
    let key = String::from_utf8(read(&cases.join("managed-key-happy-path/key.pub"))).expect("PEM");
    let managed = bundle("managed-key-happy-path");
    let run = |bundle: &Bundle| {
        verify(
            bundle,
            &artifact,
            Expect::Key(&key),
            Some(&public_good),
            now,
        )
    };
    if let Err(e) = run(&managed) {
        panic!("managed-key-happy-path verifies: {e}");
    }
    c.bench_function("sigstore/key_verify", |b| {
        b.iter(|| run(black_box(&managed)))
    });
    sigstore_admission(c);
}

/// An image's keyless bundle judged as an admission judges it (`sigstore::evaluate`, the
/// loopback fixture of cosign v3): the first time (root parsed, identity compiled, bundle
/// verified) and again (the verdict remembered).
fn sigstore_admission(c: &mut Criterion) {
    use alloc::sync::Arc;

    use portieris_core::evidence::{KeylessSigner, RootSource, Signer, SigstoreNeed};
    use portieris_core::policy::KeylessIdentity;
    use portieris_core::sigstore::evaluate;
    use portieris_core::{Digest, ImageRef};

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigstore");
    let text = |path: &str| {
        String::from_utf8(read(&dir.join(path)))
            .expect("UTF-8")
            .trim()
            .to_string()
    };
    let image = ImageRef::parse(&text("keyless/image")).expect("image");
    let digest = Digest::parse(&text("keyless/digest")).expect("digest");
    let bundles = vec![read(&dir.join("keyless/bundle.sigstore.json"))];
    let need = |subject: &str| SigstoreNeed {
        signers: vec![Signer::Keyless(KeylessSigner {
            identities: vec![KeylessIdentity {
                issuer: text("keyless/issuer"),
                subject: subject.into(),
                ..KeylessIdentity::default()
            }],
            root: RootSource::Secret {
                name: "portieris/sigstore-root".into(),
                json: Arc::from(read(&dir.join("trusted_root.json"))),
            },
        })],
        repository: None,
    };
    let now = portieris_core::time::UnixTime(u64::MAX / 2);
    let signer = text("keyless/identity");
    // Each iteration a subject the memo has not seen: the cold path (the identity differs
    // only by case in its regex-free exact match, so every one of them fails at the last step,
    // after the whole verification).
    let mut n = 0u64;
    c.bench_function("sigstore/admission_keyless_first", |b| {
        b.iter(|| {
            n += 1;
            let subject = format!("{signer}{n}");
            evaluate(&need(&subject), &image, &digest, &bundles, now).expect_err("another subject")
        })
    });
    let warm = need(&signer);
    evaluate(&warm, &image, &digest, &bundles, now).expect("the fixture verifies");
    c.bench_function("sigstore/admission_keyless_again", |b| {
        b.iter(|| evaluate(black_box(&warm), &image, &digest, &bundles, now))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = canonical_json, notary_chain, simple_signing, sigstore }
criterion_main!(benches);
