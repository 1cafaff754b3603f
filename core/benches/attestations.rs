//! An image's attestations judged as an admission judges them: the loopback fixtures of
//! `cosign attest` v3 (six bundles on one image: provenance v1 keyless and by key, v0.2, two
//! SBOMs, a vulnerability report), for an `attestations` entry asking for SLSA provenance v1
//! from the CI identity with two conditions. The first time (root parsed, identity and
//! bundles verified, the statement bound, the conditions checked) and again (remembered).
//! `cargo bench -p portieris-core --features cel --bench attestations`.

extern crate alloc;

use alloc::sync::Arc;
use core::hint::black_box;
use core::time::Duration;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use portieris_core::attestation::{AttestationNeed, Condition, Required, evaluate, verify};
use portieris_core::evidence::{KeylessSigner, RootSource, Signer};
use portieris_core::policy::KeylessIdentity;
use portieris_core::time::UnixTime;
use portieris_core::{Digest, ImageRef};

const CI: &str = "https://github.com/portieris-test/ci/.github/workflows/build.yml@refs/heads/main";

fn read(path: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attestations");
    std::fs::read(dir.join(path)).expect("fixture")
}

fn text(path: &str) -> String {
    String::from_utf8(read(path))
        .expect("UTF-8")
        .trim()
        .to_string()
}

fn required(subject: &str) -> Required {
    let conditions = [
        format!("predicate.runDetails.builder.id == '{CI}'"),
        "predicate.buildDefinition.externalParameters.source.repository == 'https://github.com/portieris-test/app'".into(),
    ];
    Required {
        name: "attestation 1 (slsaprovenance1)".into(),
        predicate_type: "https://slsa.dev/provenance/v1".into(),
        signer: Signer::Keyless(KeylessSigner {
            identities: vec![KeylessIdentity {
                issuer: "http://127.0.0.1:5561/github".into(),
                subject: subject.into(),
                ..KeylessIdentity::default()
            }],
            root: RootSource::Secret {
                name: "team/sigstore-root".into(),
                json: Arc::from(read("trusted_root.json")),
            },
        }),
        conditions: conditions
            .iter()
            .map(|c| Condition::compile(c).expect("compiles"))
            .collect(),
    }
}

fn attestations(c: &mut Criterion) {
    let cases = [
        "provenance-v1-keyless",
        "provenance-v1-key",
        "provenance-v02-keyless",
    ];
    let more = ["sbom-spdx", "sbom-cyclonedx", "vuln"];
    let bundles: Vec<Vec<u8>> = cases
        .iter()
        .chain(&more)
        .map(|case| read(&format!("a/{case}/bundle.sigstore.json")))
        .collect();
    let digest = Digest::parse(&text("a/digest")).expect("digest");
    let image = ImageRef::parse(&text("a/image")).expect("image");
    let sha256: [u8; 32] = (0..32)
        .map(|i| u8::from_str_radix(&digest.hex()[2 * i..2 * i + 2], 16).expect("hex"))
        .collect::<Vec<_>>()
        .try_into()
        .expect("32 bytes");
    let now = UnixTime(u64::MAX / 2);
    let cold = required(CI);
    c.bench_function("attestation/admission_provenance_first", |b| {
        b.iter(|| verify(black_box(&cold), &sha256, &bundles, &[], now).expect("verifies"))
    });
    let need = AttestationNeed {
        requirements: vec![required(CI)],
        repository: None,
    };
    evaluate(&need, &image, &digest, &bundles, &[], now).expect("verifies");
    c.bench_function("attestation/admission_provenance_again", |b| {
        b.iter(|| evaluate(black_box(&need), &image, &digest, &bundles, &[], now))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = attestations }
criterion_main!(benches);
