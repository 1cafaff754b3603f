//! The answer of the registry signature extension API
//! (`GET /extensions/v2/<repository>/signatures/<digest>`, as OpenShift's registry serves it):
//! containers/image's `extensionSignatureList`, the simple-signing messages base64-encoded.

use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::json::Object;

pub use crate::limits::MAX_SIGNATURE_LIST_BYTES;
/// The extension API's only signature format (containers/image `extensionSignature`).
const EXTENSION_SCHEMA_VERSION: u64 = 2;
const EXTENSION_TYPE_ATOMIC: &str = "atomic";

/// Why a signature list was refused. Signatures are numbered from 1 among the atomic ones.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureListError {
    TooLarge { size: usize },
    Malformed(String),
    TooMany { count: usize, max: usize },
    NotBase64 { signature: usize, reason: String },
    SignatureTooLarge { signature: usize, max_bytes: usize },
}

impl fmt::Display for SignatureListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size } => write!(
                f,
                "{size} bytes, larger than {MAX_SIGNATURE_LIST_BYTES} bytes"
            ),
            Self::Malformed(e) => write!(f, "not a signature list: {e}"),
            Self::TooMany { count, max } => {
                write!(f, "{count} signatures, more than the {max} accepted")
            }
            Self::NotBase64 { signature, reason } => {
                write!(f, "signature {signature}: content is not base64: {reason}")
            }
            Self::SignatureTooLarge {
                signature,
                max_bytes,
            } => write!(f, "signature {signature} is larger than {max_bytes} bytes"),
        }
    }
}

impl core::error::Error for SignatureListError {}

/// containers/image's `extensionSignatureList`.
#[derive(Deserialize)]
struct SignatureList {
    #[serde(default)]
    signatures: Vec<Object<ExtensionSignature>>,
}

#[derive(Deserialize)]
struct ExtensionSignature {
    #[serde(rename = "schemaVersion")]
    schema_version: u64,
    #[serde(rename = "type")]
    kind: String,
    /// base64 of the signature message.
    content: String,
}

/// The signature messages of an extension API answer: atomic schema-2 entries only (others
/// are skipped, as containers/image does), at most `max` of them (more is an error, not a
/// silent cut: a list that long is not trusted), each at most `max_bytes`.
pub fn parse_signature_list(
    body: &[u8],
    max: usize,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, SignatureListError> {
    if body.len() > MAX_SIGNATURE_LIST_BYTES {
        return Err(SignatureListError::TooLarge { size: body.len() });
    }
    let Object(list): Object<SignatureList> =
        serde_json::from_slice(body).map_err(|e| SignatureListError::Malformed(e.to_string()))?;
    let atomic: Vec<&ExtensionSignature> = list
        .signatures
        .iter()
        .map(|Object(s)| s)
        .filter(|s| s.schema_version == EXTENSION_SCHEMA_VERSION && s.kind == EXTENSION_TYPE_ATOMIC)
        .collect();
    if atomic.len() > max {
        return Err(SignatureListError::TooMany {
            count: atomic.len(),
            max,
        });
    }
    atomic
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let signature = n + 1;
            let bytes = STANDARD
                .decode(&s.content)
                .map_err(|e| SignatureListError::NotBase64 {
                    signature,
                    reason: e.to_string(),
                })?;
            if bytes.len() > max_bytes {
                return Err(SignatureListError::SignatureTooLarge {
                    signature,
                    max_bytes,
                });
            }
            Ok(bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn entry(version: u64, kind: &str, content: &[u8]) -> serde_json::Value {
        serde_json::json!({"schemaVersion": version, "type": kind, "name": "sha256:x@y",
            "content": STANDARD.encode(content)})
    }

    fn list(entries: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::json!({ "signatures": entries })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn the_signature_list_keeps_atomic_schema_2_entries() {
        let body = list(vec![
            entry(2, "atomic", b"one"),
            entry(1, "atomic", b"old"),
            entry(2, "cosign", b"other"),
            entry(2, "atomic", b"two"),
        ]);
        let got = parse_signature_list(&body, 16, 64).expect("list");
        assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
        let empty = parse_signature_list(b"{}", 16, 64).expect("no signatures field");
        assert!(empty.is_empty());
    }

    #[test]
    fn the_signature_list_is_bounded_in_count_and_size() {
        let many = list((0..17).map(|_| entry(2, "atomic", b"s")).collect());
        let why = parse_signature_list(&many, 16, 64).expect_err("count");
        assert_eq!(why, SignatureListError::TooMany { count: 17, max: 16 });
        assert!(why.to_string().contains("17 signatures"), "{why}");
        // Skipped entries do not count.
        let mut mixed: Vec<_> = (0..16).map(|_| entry(2, "atomic", b"s")).collect();
        mixed.push(entry(1, "atomic", b"s"));
        assert_eq!(
            parse_signature_list(&list(mixed), 16, 64).map(|l| l.len()),
            Ok(16)
        );
        let big = list(vec![
            entry(2, "atomic", b"ok"),
            entry(2, "atomic", &[0; 65]),
        ]);
        let why = parse_signature_list(&big, 16, 64).expect_err("size");
        assert_eq!(
            why,
            SignatureListError::SignatureTooLarge {
                signature: 2,
                max_bytes: 64
            }
        );
        assert!(why.to_string().contains("larger than 64"), "{why}");
        let huge = vec![b' '; MAX_SIGNATURE_LIST_BYTES + 1];
        assert!(matches!(
            parse_signature_list(&huge, 16, 64),
            Err(SignatureListError::TooLarge { .. })
        ));
    }

    #[test]
    fn entries_that_are_not_extension_signatures_refuse_the_list() {
        let bad = br#"{"signatures":[{"schemaVersion":2,"type":"atomic","content":"%%"}]}"#;
        assert!(matches!(
            parse_signature_list(bad, 16, 64),
            Err(SignatureListError::NotBase64 { signature: 1, .. })
        ));
        for malformed in [
            &br#"{"signatures":null}"#[..],
            br#"{"signatures":[{"schemaVersion":2,"type":"atomic"}]}"#,
            br#"{"signatures":[{"schemaVersion":-2,"type":"x","content":""}]}"#,
            // serde's derive would read these arrays as the structs' fields in order.
            br#"{"signatures":[[2,"atomic","b25l"]]}"#,
            br#"[[{"schemaVersion":2,"type":"atomic","content":"b25l"}]]"#,
            b"not JSON",
        ] {
            assert!(
                matches!(
                    parse_signature_list(malformed, 16, 64),
                    Err(SignatureListError::Malformed(_))
                ),
                "{malformed:?}"
            );
        }
    }
}
