//! DSSE (Dead Simple Signing Envelope, secure-systems-lab/dsse `protocol.md`): the
//! pre-authentication encoding a signature is made over, and the in-toto statement
//! (in-toto attestation framework, Statement v0.1 and v1) that Sigstore bundles carry in it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;

use crate::json::Object;
use crate::limits::MAX_INTOTO_SUBJECTS;

/// The payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The statement types read.
const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v0.1",
    "https://in-toto.io/Statement/v1",
];

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII
/// decimal byte counts: what a DSSE signature is over.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = alloc::format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    let mut encoded = Vec::with_capacity(head.len() + payload.len());
    encoded.extend_from_slice(head.as_bytes());
    encoded.extend_from_slice(payload);
    encoded
}

/// Why an in-toto statement does not name the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatementError {
    /// The payload is not an in-toto statement (the parser's message).
    Json(String),
    /// `_type` is not Statement v0.1 or v1.
    Type(String),
    /// More subjects than [`MAX_INTOTO_SUBJECTS`].
    TooManySubjects(usize),
    /// No subject has the artifact's SHA-256 digest.
    NoSubject,
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(message) => write!(f, "the payload is not an in-toto statement: {message}"),
            Self::Type(kind) => write!(f, "unknown in-toto statement type {kind:?}"),
            Self::TooManySubjects(count) => write!(
                f,
                "the statement has {count} subjects, more than {MAX_INTOTO_SUBJECTS}"
            ),
            Self::NoSubject => f.write_str("no subject of the statement has the artifact's digest"),
        }
    }
}

impl core::error::Error for StatementError {}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<Object<Subject>>,
}

#[derive(Deserialize)]
struct Subject {
    digest: Object<SubjectDigest>,
}

/// Only `sha256` is read; other algorithms of the digest set are ignored.
#[derive(Deserialize)]
struct SubjectDigest {
    sha256: Option<String>,
}

/// Checks that `payload` is an in-toto statement with a subject whose `sha256` is
/// `artifact_sha256` (hex, either case).
pub fn check_statement(payload: &[u8], artifact_sha256: &[u8; 32]) -> Result<(), StatementError> {
    // serde_json skips the strings of fields it ignores without checking them; JSON is UTF-8
    // (RFC 8259), and a signed statement that is not is refused whole, not half read.
    core::str::from_utf8(payload)
        .map_err(|_| StatementError::Json(alloc::string::String::from("not UTF-8")))?;
    let Object(statement) = serde_json::from_slice::<Object<Statement>>(payload)
        .map_err(|error| StatementError::Json(alloc::format!("{error}")))?;
    if !STATEMENT_TYPES.contains(&statement.kind.as_str()) {
        return Err(StatementError::Type(statement.kind));
    }
    if statement.subject.len() > MAX_INTOTO_SUBJECTS {
        return Err(StatementError::TooManySubjects(statement.subject.len()));
    }
    let named = statement.subject.iter().any(|Object(subject)| {
        subject
            .digest
            .0
            .sha256
            .as_deref()
            .and_then(hex32)
            .is_some_and(|digest| &digest == artifact_sha256)
    });
    if named {
        Ok(())
    } else {
        Err(StatementError::NoSubject)
    }
}

#[derive(Deserialize)]
struct Predicate {
    #[serde(rename = "predicateType")]
    predicate_type: Option<String>,
}

/// The `predicateType` of the in-toto statement `payload`, if it is a JSON object that has
/// one (what the statement says it is: an image signature, provenance, an SBOM…).
pub fn predicate_type(payload: &[u8]) -> Option<String> {
    serde_json::from_slice::<Object<Predicate>>(payload)
        .ok()
        .and_then(|Object(statement)| statement.predicate_type)
}

/// 64 hex digits, either case, as 32 bytes.
pub(crate) fn hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_spec_encoding() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn lengths_in_pae_count_bytes_not_characters() {
        assert_eq!(
            pae("é", "ü".as_bytes()),
            "DSSEv1 2 é 2 ü".as_bytes().to_vec()
        );
    }

    const DIGEST: [u8; 32] = [0xab; 32];

    fn statement(kind: &str, sha256: &str) -> Vec<u8> {
        alloc::format!(
            r#"{{"_type":"{kind}","subject":[{{"name":"x","digest":{{"sha1":"00","sha256":"{sha256}"}}}}],"predicateType":"p","predicate":{{}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_statement_naming_the_digest_is_accepted_in_either_hex_case() {
        let hex = "ab".repeat(32);
        for kind in STATEMENT_TYPES {
            assert_eq!(check_statement(&statement(kind, &hex), &DIGEST), Ok(()));
        }
        let upper = "AB".repeat(32);
        assert_eq!(
            check_statement(&statement(STATEMENT_TYPES[1], &upper), &DIGEST),
            Ok(())
        );
    }

    #[test]
    fn a_statement_naming_another_digest_is_refused() {
        let other = "cd".repeat(32);
        assert_eq!(
            check_statement(&statement(STATEMENT_TYPES[1], &other), &DIGEST),
            Err(StatementError::NoSubject)
        );
        let short = "ab".repeat(31);
        assert_eq!(
            check_statement(&statement(STATEMENT_TYPES[1], &short), &DIGEST),
            Err(StatementError::NoSubject)
        );
    }

    #[test]
    fn a_statement_that_is_not_utf8_is_refused_even_in_a_field_not_read() {
        let hex = "ab".repeat(32);
        let mut payload = statement(STATEMENT_TYPES[1], &hex);
        let name = payload
            .iter()
            .position(|&b| b == b'x')
            .expect("the subject's name");
        payload[name] = 0xf8;
        assert!(matches!(
            check_statement(&payload, &DIGEST),
            Err(StatementError::Json(_))
        ));
    }

    #[test]
    fn an_unknown_statement_type_is_refused() {
        let hex = "ab".repeat(32);
        assert!(matches!(
            check_statement(&statement("https://in-toto.io/Statement/v2", &hex), &DIGEST),
            Err(StatementError::Type(_))
        ));
    }

    #[test]
    fn a_statement_with_arrays_for_objects_is_refused() {
        let payload =
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[[{"sha256":"ab"}]]}"#;
        assert!(matches!(
            check_statement(payload, &DIGEST),
            Err(StatementError::Json(_))
        ));
        assert!(matches!(
            check_statement(br#"["https://in-toto.io/Statement/v1",[]]"#, &DIGEST),
            Err(StatementError::Json(_))
        ));
    }
}
