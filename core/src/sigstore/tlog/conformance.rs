//! Sigstore's conformance cases (`tests/vectors/sigstore/conformance/`) through this half of
//! the verification: [`Bundle::parse`], [`check_content`] and [`verify_entry`]. Each case is
//! expected to end in one named outcome; cases this half does not decide (certificates, SCTs,
//! timestamps, identities, trusted-root parsing) are expected to pass it, and the table says
//! which module refuses them instead. Run with `--nocapture` to print the table.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::{BodyError, CheckpointError, Claim, ProofError, Signer, TlogError, verify_entry};
use crate::crypto::keys::{self, Hash, Verifier};
use crate::crypto::x509::CertInfo;
use crate::sigstore::bundle::{Bundle, BundleError, ContentError, check_content};
use crate::sigstore::trusted_root::{LogKey, Validity};
use crate::time::{UnixTime, parse_rfc3339};

pub(super) const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/sigstore");

/// The day these expectations were written; integrated times are compared with it.
const NOW: &str = "2026-12-06T00:00:00Z";

/// How a case ends in this half.
#[derive(Debug)]
enum Outcome {
    Parse(BundleError),
    Content(ContentError),
    Tlog(TlogError),
    /// Passes every check of this half.
    Pass,
    /// This half cannot run: what is missing, and who decides.
    Elsewhere(&'static str),
}

/// The trusted root's `tlogs`, read just enough for these tests (the real parser is
/// `trusted_root.rs`'s). A log without `validFor.start` makes the root unreadable.
pub(super) fn tlogs(root: &serde_json::Value) -> Option<Vec<LogKey>> {
    let time = |value: &serde_json::Value| value.as_str().and_then(parse_rfc3339);
    root["tlogs"]
        .as_array()?
        .iter()
        .map(|log| {
            let key = &log["publicKey"];
            let der = STANDARD.decode(key["rawBytes"].as_str()?).ok()?;
            let hash = match key["keyDetails"].as_str()? {
                "PKIX_ECDSA_P384_SHA_384" => Hash::Sha384,
                "PKIX_ED25519" => Hash::Sha512,
                _ => Hash::Sha256,
            };
            let validity = &key["validFor"];
            Some(LogKey {
                base_url: log["baseUrl"].as_str()?.into(),
                log_id: STANDARD.decode(log["logId"]["keyId"].as_str()?).ok()?,
                key: keys::verifier_from_der(&der).ok()?,
                hash,
                key_der: der,
                validity: Validity {
                    start: time(&validity["start"])?,
                    end: validity.get("end").and_then(time),
                },
            })
        })
        .collect()
}

pub(super) fn read(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(Path::new(DIR).join("conformance"))
        .expect("the conformance vectors")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Runs one case through this half.
fn run(dir: &Path) -> Outcome {
    let bundle = match Bundle::parse(&read(&dir.join("bundle.sigstore.json")).expect("bundle")) {
        Ok(bundle) => bundle,
        Err(error) => return Outcome::Parse(error),
    };
    let root_path = dir.join("trusted_root.json");
    let root = read(&root_path)
        .or_else(|| {
            read(&Path::new(DIR).join("../../../src/sigstore/public-good.trusted_root.json"))
        })
        .expect("a trusted root");
    let root: serde_json::Value = serde_json::from_slice(&root).expect("trusted root JSON");
    let Some(logs) = tlogs(&root) else {
        return Outcome::Elsewhere("trusted root unreadable: trusted_root.rs");
    };
    let artifact = read(&dir.join("artifact"))
        .or_else(|| read(&Path::new(DIR).join("conformance/a.txt")))
        .expect("an artifact");
    let digest: [u8; 32] = Sha256::digest(&artifact).into();
    let (spki, verifier): (Option<Vec<u8>>, Verifier) = match read(&dir.join("key.pub")) {
        Some(pem) => {
            let text = String::from_utf8(pem).expect("PEM");
            match crate::crypto::pem_key(&text) {
                Ok((der, key)) => (Some(der), key.verifier),
                Err(_) => return Outcome::Elsewhere("key.pub unusable: the policy's key reader"),
            }
        }
        None => match bundle.leaf_certificate() {
            Some(leaf) => match CertInfo::parse(leaf) {
                Ok(cert) => (None, cert.verifier),
                Err(_) => return Outcome::Elsewhere("leaf unreadable: certificate.rs"),
            },
            None => return Outcome::Elsewhere("no key given for a key bundle: the glue"),
        },
    };
    if let Err(error) = check_content(&bundle, &digest, &verifier) {
        return Outcome::Content(error);
    }
    let Some(signer) = Signer::of(&bundle, spki.as_deref()) else {
        return Outcome::Elsewhere("no signer");
    };
    let claim = Claim {
        bundle: &bundle,
        artifact_sha256: &digest,
        signer,
    };
    let now = parse_rfc3339(NOW).expect("now");
    for entry in &bundle.tlog_entries {
        if let Err(error) = verify_entry(entry, &logs, &claim, now) {
            return Outcome::Tlog(error);
        }
    }
    Outcome::Pass
}

/// The outcome each case must have in this half.
fn expected(name: &str, outcome: &Outcome) -> bool {
    use BundleError as B;
    use Outcome::{Content as C, Elsewhere, Parse as P, Pass, Tlog as T};
    match name {
        // Refused at parse.
        "bundle-empty-certificate-chain_fail" => matches!(outcome, P(B::EmptyChain)),
        "bundle-invalid-base64-signature_fail" => {
            matches!(outcome, P(B::Base64("messageSignature.signature")))
        }
        "bundle-malformed-json_fail" => matches!(outcome, P(B::Json(_))),
        "bundle-negative-log-index_fail" => matches!(outcome, P(B::Negative("logIndex"))),
        "bundle-unknown-version_fail" => matches!(outcome, P(B::UnknownMediaType(_))),
        "intoto-missing-inclusion-proof_fail" | "rekor2-no-inclusion-proof_fail" => {
            matches!(outcome, P(B::MissingInclusion { entry: 0, .. }))
        }
        // Refused by the signature over the artifact.
        "dsse-invalid-sig_fail" | "rekor2-dsse-invalid-sig_fail" | "signature-mismatch_fail" => {
            matches!(outcome, C(ContentError::Signature))
        }
        "message-digest-mismatch_fail" | "wrong-material_fail" => {
            matches!(outcome, C(ContentError::DigestMismatch))
        }
        // Refused by the log entry.
        "bundle-from-wrong-instance_fail" => matches!(outcome, T(TlogError::UnknownLog)),
        "set-invalid-signature_fail" => matches!(outcome, T(TlogError::Promise)),
        "inclusion-proof-corrupted-hash_fail" | "invalid-inclusion-proof_fail" => {
            matches!(outcome, T(TlogError::Proof(ProofError::RootMismatch)))
        }
        "checkpoint-bad-keyhint_fail" => {
            matches!(
                outcome,
                T(TlogError::Checkpoint(CheckpointError::NoLogSignature))
            )
        }
        "invalid-checkpoint-signature_fail" => {
            matches!(
                outcome,
                T(TlogError::Checkpoint(CheckpointError::Signature))
            )
        }
        "checkpoint-wrong-roothash_fail" => {
            matches!(outcome, T(TlogError::Checkpoint(CheckpointError::Mismatch)))
        }
        "rekor2-checkpoint-missing-log-signature_fail" => {
            matches!(outcome, T(TlogError::Checkpoint(CheckpointError::Note)))
        }
        "rekor2-checkpoint-missing-origin_fail"
        | "rekor2-checkpoint-missing-root-hash_fail"
        | "rekor2-checkpoint-missing-size_fail" => {
            matches!(outcome, T(TlogError::Checkpoint(CheckpointError::Body)))
        }
        "rekor2-checkpoint-no-matching-signature_fail" => {
            matches!(outcome, T(TlogError::Checkpoint(CheckpointError::Origin)))
        }
        "incorrect-public-key_fail" | "wrong-hashedrekord-cert-and-sig_fail" => {
            matches!(
                outcome,
                T(TlogError::Body(BodyError::Signer | BodyError::Signature))
            )
        }
        "wrong-hashedrekord-artifact_fail"
        | "wrong-hashedrekord-entry_fail"
        | "dsse-mismatch-envelope_fail"
        | "rekor2-dsse-mismatch-envelope_fail" => {
            matches!(outcome, T(TlogError::Body(BodyError::Digest)))
        }
        "dsse-mismatch-sig_fail"
        | "rekor2-dsse-mismatch-sig_fail"
        | "intoto-log-entry-mismatch_fail" => {
            matches!(outcome, T(TlogError::Body(BodyError::Signature)))
        }
        // Decided elsewhere.
        "managed-key-no-key_fail" => matches!(outcome, Elsewhere(who) if who.ends_with("glue")),
        "managed-key-wrong-key_fail" => {
            matches!(outcome, Elsewhere(who) if who.ends_with("key reader"))
        }
        "trust-root-tlog-missing-validity-start_fail" => {
            matches!(outcome, Elsewhere(who) if who.ends_with("trusted_root.rs"))
        }
        // Everything else passes this half: happy paths, and failures that are the
        // certificate's, the SCT's, the timestamps' or the identity's to find.
        _ => matches!(outcome, Pass),
    }
}

#[test]
fn every_conformance_case_ends_as_expected_in_the_bundle_and_log_checks() {
    let mut table = String::new();
    let mut wrong = Vec::new();
    for dir in case_dirs() {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let outcome = run(&dir);
        let line = alloc::format!("{name:55} {outcome:?}\n");
        table.push_str(&line);
        if !expected(&name, &outcome) {
            wrong.push(line);
        }
    }
    std::println!("{table}");
    assert!(wrong.is_empty(), "unexpected outcomes:\n{}", wrong.concat());
}

#[test]
fn every_happy_path_passes_this_half() {
    let happy: Vec<_> = case_dirs()
        .into_iter()
        .filter(|dir| !dir.to_string_lossy().ends_with("_fail"))
        .collect();
    assert!(happy.len() >= 20, "{} happy cases", happy.len());
    for dir in happy {
        assert!(matches!(run(&dir), Outcome::Pass), "{}", dir.display());
    }
}

/// `integrated-time-in-future_fail` was made in May 2026 with an integrated time after its
/// certificate expired; by now the time is past, and the certificate check refuses it. Before
/// that time, the log check refuses it as in the future.
#[test]
fn an_integrated_time_after_now_is_refused() {
    let dir = Path::new(DIR).join("conformance/integrated-time-in-future_fail");
    let bundle =
        Bundle::parse(&read(&dir.join("bundle.sigstore.json")).expect("bundle")).expect("parses");
    let root = read(&Path::new(DIR).join("../../../src/sigstore/public-good.trusted_root.json"))
        .expect("root");
    let logs = tlogs(&serde_json::from_slice(&root).expect("JSON")).expect("logs");
    let artifact = read(&Path::new(DIR).join("conformance/a.txt")).expect("artifact");
    let digest: [u8; 32] = Sha256::digest(&artifact).into();
    let leaf = bundle.leaf_certificate().expect("a certificate");
    let claim = Claim {
        bundle: &bundle,
        artifact_sha256: &digest,
        signer: Signer::Certificate(leaf),
    };
    let entry = &bundle.tlog_entries[0];
    let integrated = entry.integrated_time.expect("a v1 entry");
    let before = UnixTime(integrated.0 - super::MAX_CLOCK_SKEW_SECONDS - 1);
    assert_eq!(
        verify_entry(entry, &logs, &claim, before).err(),
        Some(TlogError::IntegratedTimeInFuture {
            integrated,
            now: before
        })
    );
    let within_skew = UnixTime(integrated.0 - super::MAX_CLOCK_SKEW_SECONDS);
    let logged = verify_entry(entry, &logs, &claim, within_skew).expect("within the skew");
    assert_eq!(logged.integrated_time, Some(integrated));
}
