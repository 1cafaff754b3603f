//! Attestations (`portieris_core::attestation`) as a key-signed `.att` layer brings them: the
//! input is the layer (a DSSE envelope), judged for a requirement the harness holds the key
//! of. The harness re-signs every payload the parser accepts, so the signature check is
//! passed and what decides is the statement, which a model judges independently: an in-toto
//! Statement v0.1 or v1, of the required predicate type, with a subject whose `sha256` is the
//! image's digest. The raw input (its own signature) must never pass.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use portieris_core::attestation::{Required, verify};
use portieris_core::evidence::{CosignKey, Signer};
use portieris_core::limits::{MAX_BUNDLE_BYTES, MAX_INTOTO_SUBJECTS};
use portieris_core::sigstore::bundle::{BundleError, Envelope, dsse};
use portieris_core::time::UnixTime;
use serde_json::{Value, json};

use crate::input;

/// What the requirement asks for: SLSA provenance v1.
const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// The harness's key (fixed, so that findings reproduce).
fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_slice(&[7; 32]).expect("a P-256 scalar"))
}

fn required() -> Required {
    let pem = key()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM");
    Required {
        name: "attestation 1".into(),
        predicate_type: PREDICATE_TYPE.into(),
        signer: Signer::Key(CosignKey {
            key_secret: "fuzz/key".into(),
            public_key_pem: pem,
        }),
        conditions: Vec::new(),
    }
}

pub fn run(data: &[u8]) {
    let digest = input::digest(usize::from(data.first().copied().unwrap_or(0)));
    let sha256 = bytes32(digest.hex());
    let required = required();
    // The layer as served: its own signature is not the harness key's.
    let raw = verify(&required, &sha256, &[], &[data.to_vec()], UnixTime(0));
    assert!(raw.is_err(), "an envelope not signed by the key passed");
    let parsed = Envelope::parse(data);
    if data.len() > MAX_BUNDLE_BYTES {
        assert!(matches!(parsed, Err(BundleError::TooLarge { .. })), "{parsed:?}");
        return;
    }
    let Ok(envelope) = parsed else { return };
    assert!(!envelope.payload.is_empty() && !envelope.signature.is_empty());
    let resigned = resign(&envelope.payload_type, &envelope.payload);
    let judged = verify(&required, &sha256, &[], &[resigned], UnixTime(0));
    let expected = envelope.payload_type == dsse::INTOTO_PAYLOAD_TYPE
        && model(&envelope.payload, digest.hex()) == Some(true);
    let typed = dsse::predicate_type(&envelope.payload).as_deref() == Some(PREDICATE_TYPE);
    match judged {
        Ok(found) => {
            assert!(expected, "accepted a statement the model refuses");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].statement, envelope.payload);
            assert_eq!(found[0].predicate_type, PREDICATE_TYPE);
        }
        Err(reasons) => {
            assert!(!expected, "refused a statement the model accepts: {reasons:?}");
            // Of another type it is no candidate at all; of the type, one reason.
            if typed {
                assert_eq!(reasons.len(), 1, "{reasons:?}");
                assert!(reasons[0].starts_with(".att layer 1: "), "{reasons:?}");
            } else {
                assert!(reasons[0].starts_with("no attestation of type"), "{reasons:?}");
            }
        }
    }
}

/// The envelope of `payload` signed by the harness key, as `cosign attest --key` writes it.
fn resign(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let signature: DerSignature = key().sign(&dsse::pae(payload_type, payload));
    serde_json::to_vec(&json!({
        "payloadType": payload_type,
        "payload": STANDARD.encode(payload),
        "signatures": [{"keyid": "", "sig": STANDARD.encode(signature.as_bytes())}]
    }))
    .expect("JSON")
}

/// Whether the statement is an in-toto Statement of [`PREDICATE_TYPE`] naming `hex`; `None`
/// when it is not one of the required type at all.
fn model(payload: &[u8], hex: &str) -> Option<bool> {
    let statement: Value = serde_json::from_slice(payload).ok()?;
    let object = statement.as_object()?;
    if object.get("predicateType")?.as_str()? != PREDICATE_TYPE {
        return None;
    }
    let kind = object.get("_type").and_then(Value::as_str);
    let known = matches!(
        kind,
        Some("https://in-toto.io/Statement/v0.1" | "https://in-toto.io/Statement/v1")
    );
    let Some(subjects) = object.get("subject").and_then(Value::as_array) else {
        return Some(false);
    };
    let well_formed = subjects.iter().all(|s| {
        s.as_object().is_some_and(|s| {
            s.get("digest").is_some_and(|d| {
                d.as_object()
                    .is_some_and(|d| d.get("sha256").is_none_or(|h| h.is_string() || h.is_null()))
            })
        })
    });
    let names = subjects.iter().any(|s| {
        s["digest"]["sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64 && h.eq_ignore_ascii_case(hex))
    });
    Some(known && well_formed && subjects.len() <= MAX_INTOTO_SUBJECTS && names)
}

/// A fixed digest's 64 hex digits as bytes.
fn bytes32(hex: &str) -> [u8; 32] {
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_statement_with_invalid_utf8_in_a_skipped_field_replays_clean() {
        super::run(include_bytes!(
            "../regressions/attestation-invalid-utf8-in-ignored-field"
        ));
    }
}
