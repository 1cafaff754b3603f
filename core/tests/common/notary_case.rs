//! The Notary vectors of `tests/fixtures/notary` (made by a real notary-server; see its
//! README), loaded and driven round by round as a frontend would. Shared by `tests/notary.rs`
//! and `benches/verify.rs` (each includes it with `#[path]`).

use alloc::collections::BTreeMap;
use std::path::PathBuf;

use portieris_core::notary::{
    Metadata, NotaryError, Query, Signer, Step, TargetRef, Trusted, Verified, verify,
};
use portieris_core::time::UnixTime;
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notary")
}

pub fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS…`, written here independently of the
/// crate's parser.
pub fn seconds(text: &str) -> UnixTime {
    let n = |range: core::ops::Range<usize>| -> i64 {
        text.get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("date {text}"))
    };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 719_469;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    UnixTime(u64::try_from(secs).expect("after 1970"))
}

/// One case as served: top-level files, delegation files (`None` = 404), expectations.
pub struct Case {
    pub dir: PathBuf,
    pub expected: Value,
    pub gun: String,
    pub metadata: Metadata,
    pub served: BTreeMap<String, Option<Vec<u8>>>,
}

impl Case {
    pub fn load(name: &str) -> Self {
        let dir = fixtures().join(name);
        let expected: Value =
            serde_json::from_slice(&read(&dir.join("expected.json"))).expect("expected.json");
        let served = expected["roles"]
            .as_object()
            .expect("roles")
            .iter()
            .filter(|(role, _)| role.starts_with("targets/"))
            .map(|(role, info)| {
                let file = info["file"].as_str().map(|f| read(&dir.join(f)));
                (role.clone(), file)
            })
            .collect();
        let metadata = Metadata {
            root: read(&dir.join("root.json")),
            timestamp: read(&dir.join("timestamp.json")),
            snapshot: read(&dir.join("snapshot.json")),
            targets: read(&dir.join("targets.json")),
            delegations: BTreeMap::new(),
        };
        Self {
            gun: expected["gun"].as_str().expect("gun").into(),
            dir,
            expected,
            metadata,
            served,
        }
    }

    pub fn now(&self) -> UnixTime {
        seconds(
            self.expected["generated_at"]
                .as_str()
                .expect("generated_at"),
        )
    }
}

impl Case {
    pub fn signer(&self, name: &str) -> Signer {
        let pem = read(&fixtures().join("keys").join(format!("{name}.pub.pem")));
        Signer {
            name: name.into(),
            public_key_pem: String::from_utf8(pem).expect("utf-8"),
        }
    }

    /// Drives `verify` as a frontend would, serving the roles it asks for.
    pub fn run(
        &self,
        target: &TargetRef,
        signers: &[Signer],
        now: UnixTime,
        trusted: Option<&Trusted>,
    ) -> Result<(Verified, Vec<Vec<String>>), NotaryError> {
        let mut metadata = self.metadata.clone();
        let query = Query {
            gun: &self.gun,
            target,
            signers,
        };
        let mut rounds = Vec::new();
        loop {
            match verify(&query, &metadata, now, trusted)? {
                Step::Done(verified) => return Ok((verified, rounds)),
                Step::Fetch(roles) => {
                    assert!(rounds.len() < 5, "too many rounds: {rounds:?}");
                    for role in &roles {
                        let file = self.served.get(role).cloned().flatten();
                        assert!(metadata.delegations.insert(role.clone(), file).is_none());
                    }
                    rounds.push(roles);
                }
            }
        }
    }

    pub fn verify(&self, target: &TargetRef, signers: &[Signer]) -> Result<Verified, NotaryError> {
        self.run(target, signers, self.now(), None).map(|(v, _)| v)
    }
}
