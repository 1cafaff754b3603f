//! Notation's PKI checks (chains, trust, timestamps, CRLs) on the vectors of
//! `core/tests/fixtures/notation/`: envelopes signed by notation-go with our PKI and loopback
//! TSA, and the Notary Project's own timestamped envelopes (`spec/`, GlobalSign's TSA). Each
//! case's `expect` is what notation-go decided; these tests check the parts this core's
//! `notation::{chain, timestamp, revocation}` decide.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portieris_core::notation::chain::{self, ChainProblem};
use portieris_core::notation::envelope::Envelope;
use portieris_core::notation::revocation::{self, Crls, RevocationProblem, Unknown};
use portieris_core::notation::timestamp::{self, TimestampProblem};
use portieris_core::time::{UnixTime, parse_rfc3339};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/notation");

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The certificates of a file: every PEM `CERTIFICATE` block, or the file as one DER.
fn certificates(path: &str) -> Vec<Vec<u8>> {
    let bytes = read(path);
    let Ok(text) = core::str::from_utf8(&bytes) else {
        return vec![bytes];
    };
    if !text.contains("-----BEGIN") {
        return vec![bytes];
    }
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|block| {
            let body = block.split("-----END").next().expect("a PEM end");
            let base64: String = body.split_whitespace().collect();
            STANDARD.decode(base64).expect("base64")
        })
        .collect()
}

fn cases(set: &str) -> Vec<Value> {
    let json: Value = serde_json::from_slice(&read(&format!("{set}cases.json"))).expect("JSON");
    json["cases"].as_array().expect("cases").clone()
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key].as_str().unwrap_or_else(|| panic!("{key}"))
}

fn open(set: &str, case: &Value) -> Option<Envelope> {
    let bytes = read(&format!("{set}{}", text(case, "file")));
    Envelope::open(text(case, "media_type"), &bytes).ok()
}

fn now(case: &Value) -> UnixTime {
    parse_rfc3339(text(case, "now")).expect("now")
}

#[test]
fn our_timestamps_verify_against_the_loopback_tsa_root_only() {
    let tsa = certificates("pki/tsa-root.pem");
    let other = certificates("pki/other-root.pem");
    let mut stamped = 0;
    for case in cases("") {
        let Some(envelope) = open("", &case) else {
            continue;
        };
        let Some(token) = &envelope.timestamp else {
            continue;
        };
        let name = text(&case, "name");
        let verified = timestamp::verify(token, &envelope.signature, &tsa)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.chain.last(), tsa.first(), "{name}");
        assert!(verified.earliest <= verified.time && verified.time <= verified.latest);
        assert_eq!(
            timestamp::verify(token, &envelope.signature, &other),
            Err(TimestampProblem::Untrusted),
            "{name}"
        );
        assert_eq!(
            timestamp::verify(token, b"another signature", &tsa),
            Err(TimestampProblem::ImprintMismatch),
            "{name}"
        );
        stamped += 1;
    }
    assert!(stamped >= 4, "{stamped} timestamped cases");
}

#[test]
fn the_notary_projects_timestamps_verify_against_globalsign() {
    let root = certificates("spec/truststore/tsa/test-timestamp/globalsignRoot.cer");
    let mut stamped = 0;
    for case in cases("spec/") {
        let name = text(&case, "name");
        let envelope = open("spec/", &case).unwrap_or_else(|| panic!("{name} opens"));
        let Some(token) = &envelope.timestamp else {
            assert!(name.starts_with("withoutTimestamp"), "{name}");
            continue;
        };
        let verified = timestamp::verify(token, &envelope.signature, &root)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The authentic timestamp: the signing chain valid over genTime ± accuracy.
        let in_range = chain::check_valid_over(&envelope.chain, verified.earliest, verified.latest);
        let out_of_range = name.starts_with("timestampBeforeNotBefore")
            || name.starts_with("timestampAfterNotAfter");
        assert_eq!(in_range.is_err(), out_of_range, "{name}: {in_range:?}");
        stamped += 1;
    }
    assert!(stamped >= 12, "{stamped} timestamped cases");
}

#[test]
fn chains_hold_to_notarys_rules_unless_the_case_says_invalid_chain() {
    for case in cases("") {
        let name = text(&case, "name");
        let Some(envelope) = open("", &case) else {
            assert_eq!(text(&case, "expect"), "integrity", "{name} opens");
            continue;
        };
        let checked = chain::check_code_signing(&envelope.chain, None);
        if text(&case, "expect") == "invalid-chain" {
            assert!(
                matches!(checked, Err(ChainProblem::Leaf(_))),
                "{name}: {checked:?}"
            );
        } else {
            assert_eq!(checked, Ok(()), "{name}");
        }
    }
}

#[test]
fn trust_is_the_store_holding_a_certificate_of_the_chain() {
    let root = certificates("pki/root.pem");
    let other = certificates("pki/other-root.pem");
    for case in cases("").iter().filter(|c| text(c, "policy") == "ca") {
        let name = text(case, "name");
        let Some(envelope) = open("", case) else {
            continue;
        };
        let untrusted = text(case, "expect") == "untrusted";
        assert_eq!(
            chain::trusted(&envelope.chain, &root).is_none(),
            untrusted,
            "{name}"
        );
        if name.starts_with("jws-untrusted") {
            assert!(chain::trusted(&envelope.chain, &other).is_some(), "{name}");
        }
    }
}

#[test]
fn crls_decide_the_revocation_cases() {
    let mut checked = 0;
    for case in cases("") {
        let name = text(&case, "name");
        if !name.starts_with("jws-revoked") && !name.starts_with("cose-cdp") {
            continue;
        }
        let envelope = open("", &case).unwrap_or_else(|| panic!("{name} opens"));
        let files: Vec<Vec<u8>> = case["crls"]
            .as_array()
            .expect("crls")
            .iter()
            .map(|file| read(file.as_str().expect("a path")))
            .collect();
        let crls = Crls::parse(&files).expect("CRLs");
        let result = revocation::check(&envelope.chain, &crls, now(&case), None);
        match text(&case, "expect") {
            "revoked" => assert!(
                matches!(
                    result,
                    Err(RevocationProblem::Revoked {
                        index: 0,
                        reason: Some(1),
                        ..
                    })
                ),
                "{name}: {result:?}"
            ),
            "revocation-unknown" => assert_eq!(
                result,
                Err(RevocationProblem::Unknown {
                    index: 0,
                    why: Unknown::NoCrl
                }),
                "{name}"
            ),
            _ => assert_eq!(result, Ok(()), "{name}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
    // PEM reads as DER does.
    let pem = Crls::parse(&[read("pki/crl-revoked.pem")]);
    assert!(pem.is_ok());
}

#[test]
fn an_expired_leaf_needs_a_timestamp_inside_its_validity() {
    let tsa = certificates("pki/tsa-root.pem");
    for case in cases("") {
        let name = text(&case, "name");
        if !name.starts_with("jws-short-leaf-tsa") && !name.starts_with("cose-expired-leaf-tsa") {
            continue;
        }
        let envelope = open("", &case).unwrap_or_else(|| panic!("{name} opens"));
        let token = envelope.timestamp.as_ref().expect("a timestamp");
        let stamped = timestamp::verify(token, &envelope.signature, &tsa).expect("verifies");
        let in_range = chain::check_valid_over(&envelope.chain, stamped.earliest, stamped.latest);
        let at_now = chain::check_code_signing(&envelope.chain, Some(now(&case)));
        match (name.split('/').nth(1), text(&case, "expect")) {
            (Some("ca-tsa" | "ca-tsa-after-expiry"), "valid") => {
                assert_eq!(in_range, Ok(()), "{name}");
            }
            (Some("ca-tsa"), "expired") => assert!(in_range.is_err(), "{name}"),
            (Some("ca"), "expired") => assert!(at_now.is_err(), "{name}"),
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}
