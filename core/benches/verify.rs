//! Signature checks over vectors real tools made: canonical JSON, a whole Notary v1 chain
//! (`core/tests/fixtures/notary`, notary-server 0.7.0) and, with feature `openpgp`, a simple
//! signature made by skopeo and gpg (`core/tests/fixtures/simple`).
//! `cargo bench -p portieris-core --features openpgp --bench verify`.

extern crate alloc;

use alloc::collections::BTreeMap;
use core::hint::black_box;
use core::time::Duration;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use portieris_core::notary::canonical_json::canonicalize;
use portieris_core::notary::{Metadata, Query, Signer, Step, TargetRef, Verified, verify};
use portieris_core::time::UnixTime;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn canonical_json(c: &mut Criterion) {
    let root: Value = serde_json::from_slice(&read(&fixtures().join("notary/onesigner/root.json")))
        .expect("root.json");
    let signed = &root["signed"];
    c.bench_function("canonical_json/root", |b| {
        b.iter(|| canonicalize(black_box(signed)));
    });
}

/// The `onesigner` case: root, timestamp, snapshot, targets, then `targets/releases` and the
/// signers' roles, as the webhook serves them to the core round after round.
struct Chain {
    gun: String,
    metadata: Metadata,
    served: BTreeMap<String, Option<Vec<u8>>>,
    signers: Vec<Signer>,
    now: UnixTime,
}

impl Chain {
    fn load() -> Self {
        let dir = fixtures().join("notary/onesigner");
        let expected: Value =
            serde_json::from_slice(&read(&dir.join("expected.json"))).expect("expected.json");
        let served = expected["roles"]
            .as_object()
            .expect("roles")
            .iter()
            .filter(|(role, _)| role.starts_with("targets/"))
            .map(|(role, info)| {
                (
                    role.clone(),
                    info["file"].as_str().map(|f| read(&dir.join(f))),
                )
            })
            .collect();
        let alice = read(&fixtures().join("notary/keys/alice.pub.pem"));
        Self {
            gun: expected["gun"].as_str().expect("gun").into(),
            metadata: Metadata {
                root: read(&dir.join("root.json")),
                timestamp: read(&dir.join("timestamp.json")),
                snapshot: read(&dir.join("snapshot.json")),
                targets: read(&dir.join("targets.json")),
                delegations: BTreeMap::new(),
            },
            served,
            signers: vec![Signer {
                name: "alice".into(),
                public_key_pem: String::from_utf8(alice).expect("utf-8"),
            }],
            now: UnixTime(seconds(expected["generated_at"].as_str().expect("date"))),
        }
    }

    /// Every round until the target is verified.
    fn verify(&self, target: &TargetRef) -> Verified {
        let mut metadata = self.metadata.clone();
        let query = Query {
            gun: &self.gun,
            target,
            signers: &self.signers,
        };
        loop {
            match verify(&query, &metadata, self.now, None).expect("verifies") {
                Step::Done(verified) => return verified,
                Step::Fetch(roles) => {
                    for role in roles {
                        let file = self.served.get(&role).cloned().flatten();
                        metadata.delegations.insert(role, file);
                    }
                }
            }
        }
    }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (the fixture's generation time).
fn seconds(text: &str) -> u64 {
    let n = |r: core::ops::Range<usize>| -> i64 { text[r].parse().expect("a date") };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 719_469;
    u64::try_from(days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)).expect("> 1970")
}

fn notary_chain(c: &mut Criterion) {
    let chain = Chain::load();
    let target = TargetRef::Tag("v1".into());
    assert_eq!(
        chain.verify(&target).roles.first().map(String::as_str),
        Some("targets/releases")
    );
    c.bench_function("notary_chain/onesigner_v1_pinned", |b| {
        b.iter(|| chain.verify(black_box(&target)));
    });
}

#[cfg(feature = "openpgp")]
fn simple_signing(c: &mut Criterion) {
    use portieris_core::simple::openpgp::{Keyring, verify};
    let dir = fixtures().join("simple");
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
