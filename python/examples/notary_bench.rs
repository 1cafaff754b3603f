//! `notary::verify` calls per second in Rust, over a committed Notary vector: the baseline for
//! the Python binding's figure (docs/benchmarks.md, "Python binding").
//!
//! cargo run --release -p portieris-python --example notary_bench [-- SECONDS]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use portieris_core::notary::{self, Metadata, Query, Signer, Step, TargetRef};
use portieris_core::time::UnixTime;

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, String> {
    std::fs::read(dir.join(file)).map_err(|e| format!("{}: {e}", dir.join(file).display()))
}

fn main() -> Result<(), String> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map_or(Ok(3.0), |s| s.parse())
        .map_err(|e| format!("seconds: {e}"))?;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/notary");
    let case = fixtures.join("onesigner");
    let metadata = Metadata {
        root: read(&case, "root.json")?,
        timestamp: read(&case, "timestamp.json")?,
        snapshot: read(&case, "snapshot.json")?,
        targets: read(&case, "targets.json")?,
        delegations: BTreeMap::new(),
    };
    let delegations: BTreeMap<String, Option<Vec<u8>>> = ["releases", "alice", "bob"]
        .iter()
        .map(|r| {
            Ok((
                format!("targets/{r}"),
                Some(read(&case, &format!("targets/{r}.json"))?),
            ))
        })
        .collect::<Result<_, String>>()?;
    let signers = vec![Signer {
        name: "alice".into(),
        public_key_pem: String::from_utf8_lossy(&read(&fixtures, "keys/alice.pub.pem")?)
            .into_owned(),
    }];
    let target = TargetRef::Tag("v1".into());
    let query = Query {
        gun: "127.0.0.1:25000/test/onesigner",
        target: &target,
        signers: &signers,
    };
    // As the Python tests do: one hour after the vector was generated, inside every validity.
    let expected: serde_json::Value = serde_json::from_slice(&read(&case, "expected.json")?)
        .map_err(|e| format!("expected.json: {e}"))?;
    let generated = expected["generated_at"].as_str().unwrap_or_default();
    let now = UnixTime(unix_seconds(generated)? + 3600);
    let once = || -> Result<String, String> {
        let mut metadata = metadata.clone();
        loop {
            match notary::verify(&query, &metadata, now, None).map_err(|e| e.to_string())? {
                Step::Done(verified) => return Ok(verified.digest.to_string()),
                Step::Fetch(roles) => {
                    for role in roles {
                        let bytes = delegations.get(&role).cloned().flatten();
                        metadata.delegations.insert(role, bytes);
                    }
                }
            }
        }
    };
    println!("digest {}", once()?);
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        once()?;
        calls += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "rust notary.verify: {calls} calls in {elapsed:.2}s = {:.1} calls/s ({:.1} us/call)",
        calls as f64 / elapsed,
        elapsed * 1e6 / calls as f64
    );
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SSZ` as Unix seconds (days from civil, proleptic Gregorian).
fn unix_seconds(text: &str) -> Result<u64, String> {
    let field = |from: usize, to: usize| -> Result<i64, String> {
        text.get(from..to)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an RFC 3339 time: {text:?}"))
    };
    let (y, m, d) = (field(0, 4)?, field(5, 7)?, field(8, 10)?);
    let (hh, mm, ss) = (field(11, 13)?, field(14, 16)?, field(17, 19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).map_err(|e| e.to_string())
}
