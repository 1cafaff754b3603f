//! OCI 1.1 referrers: the index the referrers API answers (or the `sha256-<hex>` fallback tag
//! holds), the selection of the entries of one artifact type, and one referrer's manifest
//! (`registry::referrers::{parse_index, select, parse_referrer}`).
//!
//! As in `manifest.rs`, the index is compared with a model that reads the document as a
//! `serde_json::Value`, on the document written again from that `Value`.

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use portieris_core::registry::referrers::{
    self, Descriptor, EMPTY_CONFIG_MEDIA_TYPE, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE,
    MAX_MANIFEST_BYTES, MAX_REFERRER_INDEX_ENTRIES, ReferrersError, Selected,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::input;

/// The artifact types a harness asks for.
const TYPES: [&str; 4] = [
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.cncf.notary.signature",
    "application/spdx+json",
    EMPTY_CONFIG_MEDIA_TYPE,
];

/// An index result in the model's terms.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    TooLarge,
    Malformed,
    SchemaVersion(u64),
    MediaType,
    TooManyEntries(usize),
    BadDigest(usize),
}

/// What the model reads of one entry: media type, digest, size, type, annotations.
type ModelEntry = (
    String,
    String,
    u64,
    Option<String>,
    BTreeMap<String, String>,
);

/// Target `referrers`: a document, then after a NUL control bytes: the first says what the
/// document is (even or absent: an index; odd: a referrer's manifest), the second which
/// artifact type is asked for, the third the count bound of the selection or the layer bound
/// (modulo 8), the fourth which image digest is the subject (modulo 4: one of three fixed
/// digests, or 3, the default: the one the document names), the fifth the type the index
/// listed the manifest as (0: none, 1: the empty config's, else the one asked for).
pub fn run(data: &[u8]) {
    let (body, control) = input::split(data);
    let mut u = Unstructured::new(control);
    let mode = input::byte(&mut u, 0);
    let wanted = TYPES[usize::from(input::byte(&mut u, 0)) % TYPES.len()];
    let max = usize::from(input::byte(&mut u, 4) % 8);
    let subject = match input::byte(&mut u, 3) % 4 {
        3 => own_subject(body).unwrap_or_else(|| input::digest(0)),
        n => input::digest(usize::from(n)),
    };
    let listed_as = input::byte(&mut u, 2);
    if mode % 2 == 0 {
        run_index(body, wanted, max);
    } else {
        let listed_type = match listed_as {
            0 => None,
            1 => Some(EMPTY_CONFIG_MEDIA_TYPE.to_string()),
            _ => Some(wanted.to_string()),
        };
        run_referrer(body, &subject, wanted, max, listed_type);
    }
}

fn run_index(body: &[u8], wanted: &str, max: usize) {
    let got = referrers::parse_index(body);
    assert_eq!(
        matches!(got, Err(ReferrersError::TooLarge { .. })),
        body.len() > MAX_MANIFEST_BYTES
    );
    if let Ok(entries) = &got {
        assert!(entries.len() <= MAX_REFERRER_INDEX_ENTRIES);
        // The entries alone, written as a registry writes them, read the same.
        assert_eq!(
            referrers::parse_index(&render(entries)).as_ref(),
            Ok(entries)
        );
        check_selection(entries, wanted, max);
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let written = serde_json::to_vec(&value).expect("a Value writes");
    let core = referrers::parse_index(&written);
    if got.is_ok() {
        assert_eq!(core, got, "the text changed the entries");
    }
    let core = match core {
        Ok(entries) => Ok(entries
            .into_iter()
            .map(|e| {
                let digest = e.digest.to_string();
                (e.media_type, digest, e.size, e.artifact_type, e.annotations)
            })
            .collect()),
        Err(ReferrersError::TooLarge { .. }) => Err(Kind::TooLarge),
        Err(ReferrersError::SchemaVersion(v)) => Err(Kind::SchemaVersion(v)),
        Err(ReferrersError::MediaType { .. }) => Err(Kind::MediaType),
        Err(ReferrersError::TooManyEntries { count }) => Err(Kind::TooManyEntries(count)),
        Err(ReferrersError::BadDigest { number, .. }) => Err(Kind::BadDigest(number)),
        Err(_) => Err(Kind::Malformed),
    };
    assert_eq!(core, model_index(&written, &value));
}

/// What `select` keeps: image manifests listed as the type, or as none or the empty config,
/// each digest once, in digest order, at most `max`.
fn check_selection(entries: &[Descriptor], wanted: &str, max: usize) {
    let mut expected: BTreeMap<String, Selected> = BTreeMap::new();
    for entry in entries
        .iter()
        .filter(|e| e.media_type == MANIFEST_MEDIA_TYPE)
    {
        let selected = match entry.artifact_type.as_deref() {
            Some(t) if t == wanted => Selected::Listed,
            None | Some(EMPTY_CONFIG_MEDIA_TYPE) => Selected::Unsure,
            Some(_) => continue,
        };
        let slot = expected.entry(entry.digest.to_string()).or_insert(selected);
        if selected == Selected::Listed {
            *slot = selected;
        }
    }
    match referrers::select(entries, wanted, max) {
        Ok(chosen) => {
            assert!(expected.len() <= max);
            let got: BTreeMap<String, Selected> = chosen
                .iter()
                .map(|(d, s)| (d.digest.to_string(), *s))
                .collect();
            assert_eq!(got.len(), chosen.len(), "a digest twice");
            assert_eq!(got, expected);
            let order: Vec<String> = chosen.iter().map(|(d, _)| d.digest.to_string()).collect();
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(order, sorted);
        }
        Err(ReferrersError::TooMany { count, max: m }) => {
            assert!(m == max && count == expected.len() && count > max);
        }
        Err(other) => panic!("select refused with {other}"),
    }
}

/// An object with a numeric `schemaVersion` and, if present and not null, a string `mediaType`
/// and an array `manifests` of objects, each with a string `mediaType` and `digest`, a
/// non-negative integer `size`, a string or null `artifactType` and an object of strings (or
/// null) `annotations`; then schemaVersion 2, the index media type, at most 1,024 entries,
/// each digest `sha256:` and 64 lower-case hex digits.
fn model_index(bytes: &[u8], value: &Value) -> Result<Vec<ModelEntry>, Kind> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(Kind::TooLarge);
    }
    let object = value.as_object().ok_or(Kind::Malformed)?;
    let version = object
        .get("schemaVersion")
        .and_then(Value::as_u64)
        .ok_or(Kind::Malformed)?;
    let media_type = optional_string(object.get("mediaType"))?;
    let manifests: &[Value] = match object.get("manifests") {
        None => &[],
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(Kind::Malformed),
    };
    let mut read = Vec::new();
    for entry in manifests {
        let entry = entry.as_object().ok_or(Kind::Malformed)?;
        let media_type = entry.get("mediaType").and_then(Value::as_str);
        let digest = entry.get("digest").and_then(Value::as_str);
        let size = entry.get("size").and_then(Value::as_u64);
        let (Some(media_type), Some(digest), Some(size)) = (media_type, digest, size) else {
            return Err(Kind::Malformed);
        };
        let artifact_type = optional_string(entry.get("artifactType"))?;
        let annotations = match entry.get("annotations") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect::<Option<BTreeMap<_, _>>>()
                .ok_or(Kind::Malformed)?,
            Some(_) => return Err(Kind::Malformed),
        };
        read.push((
            media_type.to_string(),
            digest.to_string(),
            size,
            artifact_type.filter(|t| !t.is_empty()),
            annotations,
        ));
    }
    if version != 2 {
        return Err(Kind::SchemaVersion(version));
    }
    if media_type.is_some_and(|t| t != INDEX_MEDIA_TYPE) {
        return Err(Kind::MediaType);
    }
    if read.len() > MAX_REFERRER_INDEX_ENTRIES {
        return Err(Kind::TooManyEntries(read.len()));
    }
    if let Some(n) = read.iter().position(|(_, d, ..)| !is_sha256(d)) {
        return Err(Kind::BadDigest(n + 1));
    }
    Ok(read)
}

fn optional_string(value: Option<&Value>) -> Result<Option<String>, Kind> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Kind::Malformed),
    }
}

/// One referrer manifest, listed as its own digest and size (so only its content decides).
fn run_referrer(
    body: &[u8],
    subject: &portieris_core::Digest,
    wanted: &str,
    max_layers: usize,
    listed_type: Option<String>,
) {
    let digest = portieris_core::Digest::from_sha256(&Sha256::digest(body).into());
    let listed = Descriptor {
        media_type: MANIFEST_MEDIA_TYPE.to_string(),
        digest: digest.clone(),
        size: body.len() as u64,
        artifact_type: listed_type.clone(),
        annotations: BTreeMap::new(),
    };
    let max_blob = 1024;
    let got = referrers::parse_referrer(body, &listed, subject, wanted, max_layers, max_blob);
    match &got {
        Ok(Some(manifest)) => {
            assert_eq!(manifest.digest, digest);
            assert_eq!(manifest.artifact_type, wanted);
            assert!(manifest.layers.len() <= max_layers);
            assert!(manifest.layers.iter().all(|l| l.size <= max_blob));
            // Its subject is the image: it is that digest's referrer, no other's.
            for other in (0..3).map(input::digest).filter(|d| d != subject) {
                assert!(matches!(
                    referrers::parse_referrer(body, &listed, &other, wanted, max_layers, max_blob),
                    Err(ReferrersError::Subject { .. })
                ));
            }
        }
        Ok(None) => assert!(
            listed_type.is_none() || listed_type.as_deref() == Some(EMPTY_CONFIG_MEDIA_TYPE)
        ),
        Err(ReferrersError::TooLarge { .. }) => assert!(body.len() > MAX_MANIFEST_BYTES),
        Err(ReferrersError::ManifestDigest { .. } | ReferrersError::ManifestSize { .. }) => {
            panic!("listed as itself, yet {got:?}")
        }
        Err(ReferrersError::ArtifactType { listed, .. }) => {
            assert_eq!(Some(listed.as_str()), listed_type.as_deref());
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    if body.len() <= MAX_MANIFEST_BYTES {
        // Other bytes than those listed are refused before anything is read.
        let mut other = listed.clone();
        other.digest = input::digest(0);
        if other.digest != digest {
            assert!(matches!(
                referrers::parse_referrer(body, &other, subject, wanted, max_layers, max_blob),
                Err(ReferrersError::ManifestDigest { .. })
            ));
        }
    }
}

/// The `subject.digest` the document names, when it is a valid digest: so that real referrer
/// manifests (the seeds) reach the checks after the subject's.
fn own_subject(body: &[u8]) -> Option<portieris_core::Digest> {
    let value: Value = serde_json::from_slice(body).ok()?;
    portieris_core::Digest::parse(value["subject"]["digest"].as_str()?).ok()
}

fn is_sha256(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// An index as a registry writes it.
fn render(entries: &[Descriptor]) -> Vec<u8> {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut d = json!({"mediaType": e.media_type, "digest": e.digest.to_string(),
                "size": e.size});
            if let Some(t) = &e.artifact_type {
                d["artifactType"] = json!(t);
            }
            if !e.annotations.is_empty() {
                d["annotations"] = json!(e.annotations);
            }
            d
        })
        .collect();
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE,
        "manifests": manifests}))
    .expect("JSON")
}
