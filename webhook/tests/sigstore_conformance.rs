//! Sigstore's client conformance suite, bundle verification cases
//! (`core/tests/vectors/sigstore/conformance`, copied by `scripts/vectors-sigstore.sh`), driven
//! through `portieris sigstore verify-bundle` with the suite's own CLI protocol: every case
//! whose name ends in `_fail` must be refused, every other case verified.

use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../core/tests/vectors/sigstore/conformance"
);
/// The suite's defaults (its `test/assets/bundle-verify/README.md`).
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The arguments the suite passes for `case`.
fn arguments(case: &Path) -> Vec<String> {
    let path = |name: &str| case.join(name).display().to_string();
    let text = |name: &str, default: &str| {
        std::fs::read_to_string(case.join(name)).unwrap_or_else(|_| default.to_string())
    };
    let mut args = vec!["sigstore".into(), "verify-bundle".into()];
    args.extend(["--bundle".into(), path("bundle.sigstore.json")]);
    if case.join("key.pub").exists() {
        args.extend(["--key".into(), path("key.pub")]);
    } else {
        args.extend(["--certificate-identity".into(), text("identity", IDENTITY)]);
        args.extend(["--certificate-oidc-issuer".into(), text("issuer", ISSUER)]);
    }
    if case.join("trusted_root.json").exists() {
        args.extend(["--trusted-root".into(), path("trusted_root.json")]);
    }
    let artifact = case.join("artifact");
    let artifact = if artifact.exists() {
        artifact
    } else {
        Path::new(CASES).join("a.txt")
    };
    args.push(artifact.display().to_string());
    args
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(CASES)
        .expect("the conformance vectors")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_conformance_case_is_verified_or_refused_as_the_suite_says() {
    let cases = cases();
    assert!(
        cases.len() >= 70,
        "the suite has 70 cases, found {}",
        cases.len()
    );
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let out = Command::new(env!("CARGO_BIN_EXE_portieris"))
            .args(arguments(case))
            .output()
            .expect("portieris runs");
        let refused = !out.status.success();
        if refused != name.ends_with("_fail") {
            let said = String::from_utf8_lossy(if refused { &out.stderr } else { &out.stdout });
            wrong.push(format!("{name}: {}", said.trim()));
        }
        // A refusal is a verdict (1), not a crash or an unreadable file (2), except for the
        // one case whose trusted root is the broken input.
        if refused && name != "trust-root-tlog-missing-validity-start_fail" {
            assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        }
    }
    assert!(
        wrong.is_empty(),
        "cases decided wrongly:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_digest_argument_stands_for_the_artifact() {
    let case = Path::new(CASES).join("happy-path-v0.3");
    let mut args = arguments(&case);
    let artifact = std::fs::read(Path::new(CASES).join("a.txt")).expect("a.txt");
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&artifact);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    *args.last_mut().expect("an artifact") = format!("sha256:{hex}");
    let ok = Command::new(env!("CARGO_BIN_EXE_portieris"))
        .args(&args)
        .output()
        .expect("portieris runs");
    assert!(ok.status.success(), "{ok:?}");
    *args.last_mut().expect("an artifact") = format!("sha256:{}", "0".repeat(64));
    let other = Command::new(env!("CARGO_BIN_EXE_portieris"))
        .args(&args)
        .output()
        .expect("portieris runs");
    assert_eq!(
        other.status.code(),
        Some(1),
        "another digest is refused: {other:?}"
    );
}
