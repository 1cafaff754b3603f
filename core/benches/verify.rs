//! Signature checks over vectors real tools made: canonical JSON, a whole Notary v1 chain
//! (`core/tests/fixtures/notary`, notary-server 0.7.0) and, with feature `openpgp`, a simple
//! signature made by skopeo and gpg (`core/tests/fixtures/simple`).
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

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = canonical_json, notary_chain, simple_signing }
criterion_main!(benches);
