//! What a registry serves for an image: the manifest a tag names
//! (`registry::parse_manifest`) and the signature extension API's list
//! (`registry::parse_signature_list`).
//!
//! Each harness checks the core's answer on the input, then compares it with a model that
//! reads the same document as a `serde_json::Value` and applies the documented rules. The
//! model is compared on the document written again from that `Value` (no key twice, valid
//! UTF-8 everywhere): on the raw input the core may rightly differ where the `Value` reading
//! does (a key written twice is refused by serde's derive and kept last by `Value`; what the
//! core skips unread is not checked, see H2 and H3 in docs/fuzzing.md).

use arbitrary::Unstructured;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portieris_core::registry::manifest::{MAX_MANIFEST_BYTES, MAX_QUOTED_CHARS};
use portieris_core::registry::signature_list::MAX_SIGNATURE_LIST_BYTES;
use portieris_core::registry::{
    ManifestError, MediaType, SignatureListError, parse_manifest, parse_signature_list,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::input;

/// The four accepted formats, written out here rather than taken from the core.
const ACCEPTED: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const SCHEMA_1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// A result in the model's terms: the media type accepted, or why not.
#[derive(Debug, PartialEq, Eq)]
enum ManifestKind {
    TooLarge,
    Malformed,
    SchemaVersion(u64),
    MediaType(String),
    ContentType,
}

/// Target `manifest`: a manifest, then after a NUL the response's `Content-Type` (first line,
/// none if empty) and `Docker-Content-Digest` (second line; `=` stands for the sha256 of the
/// manifest).
pub fn run_manifest(data: &[u8]) {
    let (body, control) = input::split(data);
    let control = String::from_utf8_lossy(control);
    let mut lines = control.split('\n');
    let content_type = lines.next().filter(|line| !line.is_empty());
    let actual = sha256(body);
    let claimed = lines.next().map(|line| {
        if line == "=" {
            actual.clone()
        } else {
            line.to_string()
        }
    });
    let got = parse_manifest(body, content_type, claimed.as_deref());
    assert_eq!(
        matches!(got, Err(ManifestError::TooLarge { .. })),
        body.len() > MAX_MANIFEST_BYTES
    );
    match &got {
        Ok(manifest) => {
            // The digest is the bytes', whatever the registry claimed.
            assert_eq!(manifest.digest.to_string(), actual);
            if let Some(claimed) = &claimed {
                assert!(!claimed.starts_with("sha256:") || *claimed == actual);
            }
            // Served as its own format, or with its true digest claimed, it reads the same.
            let again = parse_manifest(body, manifest.media_type.map(MediaType::as_str), None);
            assert_eq!(again.as_ref(), Ok(manifest));
            assert_eq!(parse_manifest(body, content_type, Some(&actual)), got);
        }
        Err(ManifestError::DigestMismatch { claimed, actual: a }) => {
            assert!(claimed.starts_with("sha256:") && *claimed != actual);
            assert_eq!(a.to_string(), actual);
            assert!(parse_manifest(body, content_type, None).is_ok());
        }
        Err(ManifestError::ContentType { declared, .. }) => {
            let without = parse_manifest(body, None, None).expect("a contradiction only");
            assert_eq!(without.media_type, *declared);
        }
        Err(ManifestError::SchemaVersion(version)) => assert_ne!(*version, 2),
        Err(ManifestError::MediaType(text)) => {
            assert!(!ACCEPTED.contains(&text.as_str()) && text.chars().count() <= MAX_QUOTED_CHARS);
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let written = serde_json::to_vec(&value).expect("a Value writes");
    let core = parse_manifest(&written, content_type, None);
    if let (Ok(first), Ok(again)) = (&got, &core) {
        assert_eq!(
            first.media_type, again.media_type,
            "the text changed the type"
        );
    }
    let core = match core {
        Ok(manifest) => {
            assert_eq!(manifest.digest.to_string(), sha256(&written));
            Ok(manifest.media_type.map(MediaType::as_str))
        }
        Err(error) => Err(manifest_kind(error)),
    };
    assert_eq!(core, model_manifest(&written, &value, content_type));
}

fn manifest_kind(error: ManifestError) -> ManifestKind {
    match error {
        ManifestError::TooLarge { .. } => ManifestKind::TooLarge,
        ManifestError::SchemaVersion(version) => ManifestKind::SchemaVersion(version),
        ManifestError::MediaType(text) => ManifestKind::MediaType(text),
        ManifestError::ContentType { .. } => ManifestKind::ContentType,
        ManifestError::Malformed(_) => ManifestKind::Malformed,
        other => panic!("no claim was made, yet {other}"),
    }
}

/// A JSON object with a numeric `schemaVersion` of 2 and, if any, a string (or null)
/// `mediaType` among the four accepted; a `Content-Type` naming one of them (parameters and
/// case aside) must be that one, a schema-1 type is a contradiction, any other type is silent.
fn model_manifest(
    bytes: &[u8],
    value: &Value,
    content_type: Option<&str>,
) -> Result<Option<&'static str>, ManifestKind> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestKind::TooLarge);
    }
    let object = value.as_object().ok_or(ManifestKind::Malformed)?;
    let version = object
        .get("schemaVersion")
        .and_then(Value::as_u64)
        .ok_or(ManifestKind::Malformed)?;
    let declared = match object.get("mediaType") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.as_str()),
        Some(_) => return Err(ManifestKind::Malformed),
    };
    if version != 2 {
        return Err(ManifestKind::SchemaVersion(version));
    }
    let declared = match declared {
        Some(text) => match ACCEPTED.iter().find(|t| **t == text) {
            Some(known) => Some(*known),
            None => {
                let quoted = text.chars().take(MAX_QUOTED_CHARS).collect();
                return Err(ManifestKind::MediaType(quoted));
            }
        },
        None => None,
    };
    let Some(content_type) = content_type else {
        return Ok(declared);
    };
    let essence = content_type.split(';').next().unwrap_or("");
    let essence = essence.trim_matches([' ', '\t']).to_ascii_lowercase();
    if SCHEMA_1.contains(&essence.as_str()) {
        return Err(ManifestKind::ContentType);
    }
    match ACCEPTED.iter().find(|t| **t == essence) {
        Some(served) if declared.is_some_and(|d| d != *served) => Err(ManifestKind::ContentType),
        Some(served) => Ok(Some(*served)),
        None => Ok(declared),
    }
}

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// A signature-list result in the model's terms.
#[derive(Debug, PartialEq, Eq)]
enum ListKind {
    TooLarge,
    Malformed,
    TooMany(usize),
    NotBase64(usize),
    SignatureTooLarge(usize),
}

/// Target `signature_list`: an extension API answer, then after a NUL the count limit (one
/// byte, modulo 24; 16 if absent) and the size limit (two bytes, little-endian; 4096 if absent).
pub fn run_signature_list(data: &[u8]) {
    let (body, control) = input::split(data);
    let mut u = Unstructured::new(control);
    let max = usize::from(input::byte(&mut u, 16) % 24);
    let max_bytes = usize::from(u16::from_le_bytes([
        input::byte(&mut u, 0),
        input::byte(&mut u, 16),
    ]));
    let got = parse_signature_list(body, max, max_bytes);
    assert_eq!(
        matches!(got, Err(SignatureListError::TooLarge { .. })),
        body.len() > MAX_SIGNATURE_LIST_BYTES
    );
    match &got {
        Ok(list) => {
            assert!(
                list.len() <= max,
                "{} signatures kept, max {max}",
                list.len()
            );
            assert!(list.iter().all(|s| s.len() <= max_bytes));
            // The messages alone, with entries of other kinds around them, read the same.
            let skipped = json!({"schemaVersion": 1, "type": "atomic", "content": "%"});
            let entries = list.iter().flat_map(|message| {
                let entry = json!({"schemaVersion": 2, "type": "atomic",
                    "content": STANDARD.encode(message)});
                [entry, skipped.clone()]
            });
            let rebuilt = json!({ "signatures": entries.collect::<Vec<_>>() }).to_string();
            assert_eq!(
                parse_signature_list(rebuilt.as_bytes(), max, max_bytes).as_ref(),
                Ok(list)
            );
        }
        Err(SignatureListError::TooMany { count, max: m }) => assert!(*m == max && *count > max),
        Err(SignatureListError::SignatureTooLarge {
            signature,
            max_bytes: m,
        }) => assert!(*m == max_bytes && *signature >= 1),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let written = serde_json::to_vec(&value).expect("a Value writes");
    let core = parse_signature_list(&written, max, max_bytes);
    if got.is_ok() {
        assert_eq!(core, got, "the text changed the signatures");
    }
    let core = core.map_err(|error| match error {
        SignatureListError::TooLarge { .. } => ListKind::TooLarge,
        SignatureListError::TooMany { count, .. } => ListKind::TooMany(count),
        SignatureListError::NotBase64 { signature, .. } => ListKind::NotBase64(signature),
        SignatureListError::SignatureTooLarge { signature, .. } => {
            ListKind::SignatureTooLarge(signature)
        }
        _ => ListKind::Malformed,
    });
    assert_eq!(core, model_list(&written, &value, max, max_bytes));
}

/// containers/image's rules: an object whose `signatures` (if present) is an array of objects,
/// each with a numeric `schemaVersion` and string `type` and `content`; only schema 2 `atomic`
/// entries count, at most `max`, each base64 of at most `max_bytes`.
fn model_list(
    bytes: &[u8],
    value: &Value,
    max: usize,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, ListKind> {
    if bytes.len() > MAX_SIGNATURE_LIST_BYTES {
        return Err(ListKind::TooLarge);
    }
    let object = value.as_object().ok_or(ListKind::Malformed)?;
    let entries: &[Value] = match object.get("signatures") {
        None => &[],
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(ListKind::Malformed),
    };
    let mut atomic = Vec::new();
    for entry in entries {
        let entry = entry.as_object().ok_or(ListKind::Malformed)?;
        let version = entry.get("schemaVersion").and_then(Value::as_u64);
        let kind = entry.get("type").and_then(Value::as_str);
        let content = entry.get("content").and_then(Value::as_str);
        let (Some(version), Some(kind), Some(content)) = (version, kind, content) else {
            return Err(ListKind::Malformed);
        };
        if version == 2 && kind == "atomic" {
            atomic.push(content);
        }
    }
    if atomic.len() > max {
        return Err(ListKind::TooMany(atomic.len()));
    }
    atomic
        .iter()
        .enumerate()
        .map(|(n, content)| {
            let message = STANDARD
                .decode(content)
                .map_err(|_| ListKind::NotBase64(n + 1))?;
            if message.len() > max_bytes {
                return Err(ListKind::SignatureTooLarge(n + 1));
            }
            Ok(message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_seeds_replay_clean() {
        for entry in std::fs::read_dir("corpus/manifest").expect("seeds") {
            super::run_manifest(&std::fs::read(entry.expect("seed").path()).expect("seed"));
        }
        for entry in std::fs::read_dir("corpus/signature_list").expect("seeds") {
            super::run_signature_list(&std::fs::read(entry.expect("seed").path()).expect("seed"));
        }
    }
}
