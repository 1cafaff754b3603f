//! The certificate and trust half of Sigstore verification over the conformance suite's
//! bundles (`vectors/sigstore/conformance`, Sigstore's own cases): the trusted root, the
//! Fulcio chain with its SCT at the signing time, RFC 3161 timestamps, and the identity. The
//! bundle is read here with serde_json only to find the certificate, the times and the
//! signature; the Rekor entry and the signature itself are the bundle half's to check.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portieris_core::sigstore::certificate::{self, CertificateError, SubjectKind};
use portieris_core::sigstore::identity::{self, IdentityError, IdentityPolicy, Matcher};
use portieris_core::sigstore::timestamp;
use portieris_core::sigstore::trusted_root::{TrustedRoot, TrustedRootError};
use portieris_core::time::{UnixTime, parse_rfc3339};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/sigstore");
const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The cases this half refuses, with a part of the reason it gives.
const REFUSED: [(&str, &str); 14] = [
    (
        "bundle-from-wrong-instance_fail",
        "does not chain to the trusted root",
    ),
    ("bundle-with-root-cert_fail", "is a root (self-issued)"),
    ("integrated-time-in-future_fail", "not at the signing time"),
    ("intoto-expired-certificate_fail", "not at the signing time"),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "not at the signing time",
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "not at the signing time 2023-02-02",
    ),
    ("invalid-ct-key_fail", "no SCT verifies"),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "no timestamp authority of the trusted root is valid",
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        "not at the token's time",
    ),
    (
        "rekor2-timestamp-payload-mismatch_fail",
        "not over the bundle's signature",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "did not sign the token",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "did not sign the token",
    ),
    (
        "rekor2-timestamp-with-incorrect-time_fail",
        "not at the signing time 2025-07-15",
    ),
    (
        "trust-root-tlog-missing-validity-start_fail",
        "tlogs[1]: validFor has no start",
    ),
];

/// The cases whose bundle gives this half nothing to check, with why: the bundle half
/// refuses them (or, with `key.pub`, they are signed by a key).
const NOT_KEYLESS: [(&str, &str); 4] = [
    (
        "bundle-empty-certificate-chain_fail",
        "empty certificate chain",
    ),
    ("bundle-invalid-base64-signature_fail", "signature base64"),
    ("bundle-malformed-json_fail", "bundle JSON"),
    ("managed-key-no-key_fail", "no certificate"),
];

/// A Rekor v2 entry has no integrated time: without a timestamp there is no time to check
/// the certificate at, and the bundle half must refuse it.
const NO_TIME: &str = "rekor2-no-timestamp_fail";

fn read(path: &str) -> Option<Vec<u8>> {
    std::fs::read(format!("{DIR}/{path}")).ok()
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("{DIR}/conformance"))
        .expect("the conformance folder")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() > 60, "the conformance cases are there");
    names
}

fn text(case: &str, file: &str, default: &str) -> String {
    read(&format!("conformance/{case}/{file}"))
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_else(|| default.to_string())
}

/// Protobuf JSON bytes; line breaks are skipped as Go's decoder skips them (one case's
/// timestamp was written by `base64`, which wraps lines).
fn base64(value: &Value) -> Option<Vec<u8>> {
    let text: String = value
        .as_str()?
        .chars()
        .filter(|c| *c != '\n' && *c != '\r')
        .collect();
    STANDARD.decode(text).ok()
}

fn root_of(case: &str) -> Vec<u8> {
    read(&format!("conformance/{case}/trusted_root.json"))
        .or_else(|| read("../../../src/sigstore/public-good.trusted_root.json"))
        .expect("a trusted root")
}

/// What one bundle gives this half.
struct Material {
    leaf: Vec<u8>,
    intermediates: Vec<Vec<u8>>,
    signature: Vec<u8>,
    integrated_times: Vec<UnixTime>,
    timestamps: Vec<Vec<u8>>,
}

fn material(case: &str) -> Result<Material, String> {
    let bytes = read(&format!("conformance/{case}/bundle.sigstore.json")).ok_or("no bundle")?;
    let bundle: Value = serde_json::from_slice(&bytes).map_err(|e| format!("bundle JSON: {e}"))?;
    let material = &bundle["verificationMaterial"];
    let chain: Vec<Vec<u8>> = match material.get("certificate") {
        Some(cert) => vec![base64(&cert["rawBytes"]).ok_or("certificate base64")?],
        None => material["x509CertificateChain"]["certificates"]
            .as_array()
            .ok_or("no certificate")?
            .iter()
            .map(|c| base64(&c["rawBytes"]).ok_or("chain base64"))
            .collect::<Result<_, _>>()?,
    };
    let (leaf, intermediates) = chain.split_first().ok_or("empty certificate chain")?;
    let signature = match bundle.get("messageSignature") {
        Some(message) => base64(&message["signature"]),
        None => base64(&bundle["dsseEnvelope"]["signatures"][0]["sig"]),
    }
    .ok_or("signature base64")?;
    let mut integrated_times = Vec::new();
    for entry in material["tlogEntries"].as_array().into_iter().flatten() {
        if let Some(time) = entry["integratedTime"].as_str() {
            integrated_times.push(UnixTime(time.parse().map_err(|_| "integratedTime")?));
        }
    }
    let stamps = material["timestampVerificationData"]["rfc3161Timestamps"].as_array();
    let timestamps = stamps
        .into_iter()
        .flatten()
        .map(|stamp| base64(&stamp["signedTimestamp"]).ok_or("timestamp base64"))
        .collect::<Result<_, _>>()?;
    Ok(Material {
        leaf: leaf.clone(),
        intermediates: intermediates.to_vec(),
        signature,
        integrated_times,
        timestamps,
    })
}

fn identities(case: &str) -> Vec<IdentityPolicy> {
    let issuer = Matcher::exact(&text(case, "issuer", DEFAULT_ISSUER)).expect("issuer");
    let subject = Matcher::exact(&text(case, "identity", DEFAULT_IDENTITY)).expect("identity");
    vec![IdentityPolicy::new(issuer, subject, Default::default()).expect("policy")]
}

/// This half's verdict on one case: the root, every timestamp, and the certificate and
/// identity at every time (integrated times and timestamps), as sigstore-go checks them.
fn verdict(case: &str, material: &Material) -> Result<(), String> {
    let root = TrustedRoot::parse(&root_of(case)).map_err(|e| format!("trusted root: {e}"))?;
    let mut times = material.integrated_times.clone();
    for der in &material.timestamps {
        let time = timestamp::verify(der, &material.signature, &root)
            .map_err(|e| format!("timestamp: {e}"))?;
        times.push(time);
    }
    if times.is_empty() {
        return Err("no signing time".into());
    }
    for at in times {
        let verified = certificate::verify(&material.leaf, &material.intermediates, at, &root)
            .map_err(|e| format!("certificate: {e}"))?;
        identity::check(&verified.identity, &identities(case))
            .map_err(|e| format!("identity: {e}"))?;
    }
    Ok(())
}

#[test]
fn every_conformance_case_is_decided_as_named() {
    let mut wrong = Vec::new();
    for case in cases() {
        if read(&format!("conformance/{case}/key.pub")).is_some() {
            continue;
        }
        let result = material(&case).and_then(|m| verdict(&case, &m));
        let refused = REFUSED
            .iter()
            .chain(&NOT_KEYLESS)
            .find(|(name, _)| *name == case);
        let ok = match (refused, &result) {
            (Some((_, reason)), Err(message)) => message.contains(reason),
            (None, Err(message)) => case == NO_TIME && message == "no signing time",
            (None, Ok(())) => true,
            (Some(_), Ok(())) => false,
        };
        if !ok {
            wrong.push(format!("{case}: {result:?}"));
        }
    }
    assert!(wrong.is_empty(), "decided wrongly:\n{}", wrong.join("\n"));
}

#[test]
fn the_cases_named_as_refused_are_failing_cases() {
    for (case, _) in REFUSED.iter().chain(&NOT_KEYLESS) {
        assert!(case.ends_with("_fail"), "{case}");
        assert!(cases().contains(&case.to_string()), "{case} is a case");
    }
}

#[test]
fn every_trusted_root_in_the_vectors_parses_except_the_broken_one() {
    for path in [
        "../../../src/sigstore/public-good.trusted_root.json",
        "staging-trusted_root.json",
    ] {
        let root = TrustedRoot::parse(&read(path).expect("root")).expect(path);
        assert!(!root.tlogs.is_empty() && !root.ctlogs.is_empty(), "{path}");
        assert!(!root.certificate_authorities.is_empty(), "{path}");
        assert!(!root.timestamp_authorities.is_empty(), "{path}");
    }
    let mut parsed = 0;
    for case in cases() {
        let Some(json) = read(&format!("conformance/{case}/trusted_root.json")) else {
            continue;
        };
        let result = TrustedRoot::parse(&json);
        if case == "trust-root-tlog-missing-validity-start_fail" {
            assert!(
                matches!(result, Err(TrustedRootError::MissingStart { index: 1, .. })),
                "{case}: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "{case}: {:?}", result.err());
            parsed += 1;
        }
    }
    assert!(parsed > 30, "{parsed} roots");
}

/// The staging root's first CT log key is a bare PKCS#1 RSA key (`PKCS1_RSA_PKCS1V5`).
#[test]
fn the_staging_root_keeps_its_pkcs1_rsa_ct_log() {
    let root =
        TrustedRoot::parse(&read("staging-trusted_root.json").expect("root")).expect("parses");
    let rsa = root
        .ctlogs
        .iter()
        .find(|log| log.base_url == "https://ctfe.sigstage.dev/test");
    assert!(rsa.is_some_and(|log| log.key_der.starts_with(&[0x30, 0x82])));
}

#[test]
fn a_tlog_validity_end_equal_to_the_integrated_time_is_within_it() {
    let case = "trust-root-tlog-validity-end-inclusive";
    let root = TrustedRoot::parse(&root_of(case)).expect("root");
    let material = material(case).expect("material");
    let at = material.integrated_times[0];
    let log = root
        .tlogs
        .iter()
        .find(|log| log.validity.end.is_some())
        .expect("a closed log");
    assert_eq!(log.validity.end, Some(at));
    assert!(log.validity.contains(at));
    assert!(!log.validity.contains(UnixTime(at.0 + 1)));
}

#[test]
fn a_tsa_validity_end_equal_to_the_timestamp_is_within_it() {
    let case = "trust-root-tsa-validity-end-inclusive";
    let root = TrustedRoot::parse(&root_of(case)).expect("root");
    let material = material(case).expect("material");
    let at = timestamp::verify(&material.timestamps[0], &material.signature, &root);
    assert_eq!(at, Ok(parse_rfc3339("2025-06-12T12:02:20Z").expect("date")));
    assert_eq!(root.timestamp_authorities[0].validity.end, at.ok());
}

#[test]
fn the_happy_path_certificate_carries_the_workflow_identity() {
    let case = "happy-path-v0.3";
    let root = TrustedRoot::parse(&root_of(case)).expect("root");
    let m = material(case).expect("material");
    let at = m.integrated_times[0];
    let verified = certificate::verify(&m.leaf, &m.intermediates, at, &root).expect("verifies");
    let id = &verified.identity;
    assert_eq!(id.subject, DEFAULT_IDENTITY);
    assert_eq!(id.subject_kind, SubjectKind::Uri);
    assert_eq!(id.issuer.as_deref(), Some(DEFAULT_ISSUER));
    assert_eq!(
        id.extensions
            .get("githubWorkflowTrigger")
            .map(String::as_str),
        Some("workflow_dispatch")
    );
    assert_eq!(
        id.extensions.get("runnerEnvironment").map(String::as_str),
        Some("github-hosted")
    );
    assert_eq!(
        id.extensions
            .get("sourceRepositoryVisibilityAtSigning")
            .map(String::as_str),
        Some("public")
    );
    assert_eq!(verified.authority, "https://fulcio.sigstore.dev");
    assert!(verified.not_before <= at && at <= verified.not_after);
}

#[test]
fn the_happy_path_certificate_is_refused_outside_its_time_its_ct_logs_or_identity() {
    let case = "happy-path-v0.3";
    let root = TrustedRoot::parse(&root_of(case)).expect("root");
    let m = material(case).expect("material");
    let at = m.integrated_times[0];
    let later = certificate::verify(&m.leaf, &m.intermediates, UnixTime(at.0 + 3600), &root);
    assert!(
        matches!(later, Err(CertificateError::Expired { .. })),
        "{later:?}"
    );

    let mut no_ct = root.clone();
    no_ct.ctlogs.clear();
    let unlogged = certificate::verify(&m.leaf, &m.intermediates, at, &no_ct);
    assert!(
        matches!(unlogged, Err(CertificateError::Sct(_))),
        "{unlogged:?}"
    );

    let mut no_ca = root.clone();
    no_ca
        .certificate_authorities
        .retain(|ca| !ca.validity.contains(at));
    let untrusted = certificate::verify(&m.leaf, &m.intermediates, at, &no_ca);
    assert_eq!(untrusted.err(), Some(CertificateError::NoAuthorityAt(at)));

    let verified = certificate::verify(&m.leaf, &m.intermediates, at, &root).expect("verifies");
    let other = IdentityPolicy::new(
        Matcher::exact(DEFAULT_ISSUER).expect("issuer"),
        Matcher::regex("https://github.com/sigstore-conformance/.*@refs/heads/release")
            .expect("regex"),
        Default::default(),
    )
    .expect("policy");
    let refused = identity::check(&verified.identity, &[other]);
    let Err(IdentityError::Mismatch { identities, .. }) = &refused else {
        panic!("expected a mismatch: {refused:?}");
    };
    assert_eq!(identities[0].field, "subject");
    assert_eq!(identities[0].found.as_deref(), Some(DEFAULT_IDENTITY));
    assert_eq!(
        identity::check(&verified.identity, &[]),
        Err(IdentityError::NoIdentities)
    );
}

#[test]
fn a_leaf_passed_as_its_own_intermediate_is_refused_only_if_self_issued() {
    let case = "happy-path-v0.1";
    let root = TrustedRoot::parse(&root_of(case)).expect("root");
    let m = material(case).expect("material");
    let at = m.integrated_times[0];
    // The CA's intermediate is not a root: carrying it is allowed.
    let intermediate = root.certificate_authorities[1].chain[0].clone();
    assert!(certificate::verify(&m.leaf, &[intermediate], at, &root).is_ok());
    let ca_root = root.certificate_authorities[1].chain[1].clone();
    assert_eq!(
        certificate::verify(&m.leaf, &[ca_root], at, &root).err(),
        Some(CertificateError::RootInBundle(1))
    );
}
