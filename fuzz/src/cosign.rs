//! Cosign's signature artifact: the manifest at tag `sha256-<hex>.sig`, one layer per
//! signature (`cosign::artifact::parse`).
//!
//! As in `manifest.rs`, the model reads the document as a `serde_json::Value` and is compared
//! with the core on the document written again from that `Value`.

use std::collections::BTreeMap;

use portieris_core::cosign::artifact::{self, ArtifactError, Layer};
use portieris_core::cosign::payload::MAX_PAYLOAD;
use portieris_core::cosign::{MAX_SIGNATURES, SIGNATURE_ANNOTATION};
use serde_json::{Value, json};

/// A result in the model's terms.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Malformed,
    TooManyLayers(usize),
    LayerTooLarge(usize),
    BadDigest(usize),
}

/// What the model reads of one layer: digest, size and signature annotation.
type ModelLayer = (String, u64, Option<String>);

/// Target `cosign_artifact`: a signature manifest.
pub fn run(data: &[u8]) {
    let got = artifact::parse(data);
    match &got {
        Ok(layers) => {
            assert!(layers.len() <= MAX_SIGNATURES);
            for layer in layers {
                assert!(layer.size <= MAX_PAYLOAD);
                assert!(is_sha256(&layer.digest.to_string()), "{}", layer.digest);
            }
            // The layers alone, written as cosign writes them, read the same.
            let rebuilt = render(layers);
            assert_eq!(artifact::parse(&rebuilt).as_ref(), Ok(layers));
        }
        Err(ArtifactError::TooManyLayers(count)) => assert!(*count > MAX_SIGNATURES),
        Err(ArtifactError::LayerTooLarge { layer, size, .. }) => {
            assert!(*layer >= 1 && usize::try_from(*size).map_or(true, |s| s > MAX_PAYLOAD));
        }
        Err(ArtifactError::BadDigest { layer, digest }) => {
            assert!(*layer >= 1 && !is_sha256(digest), "{digest}");
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let written = serde_json::to_vec(&value).expect("a Value writes");
    let core = artifact::parse(&written);
    if got.is_ok() {
        assert_eq!(core, got, "the text changed the layers");
    }
    let core = match core {
        Ok(layers) => Ok(layers
            .into_iter()
            .map(|l| (l.digest.to_string(), l.size as u64, l.signature))
            .collect()),
        Err(ArtifactError::TooManyLayers(count)) => Err(Kind::TooManyLayers(count)),
        Err(ArtifactError::LayerTooLarge { layer, .. }) => Err(Kind::LayerTooLarge(layer)),
        Err(ArtifactError::BadDigest { layer, .. }) => Err(Kind::BadDigest(layer)),
        Err(_) => Err(Kind::Malformed),
    };
    assert_eq!(core, model(&value));
}

/// An object whose `layers` (if present) is an array of objects, each with a string `digest`,
/// a non-negative integer `size` and, if present, `annotations` mapping strings to strings;
/// at most 16 layers, each at most the payload limit, each digest `sha256:` and 64 lower-case
/// hex digits. The signature is the `dev.cosignproject.cosign/signature` annotation.
fn model(value: &Value) -> Result<Vec<ModelLayer>, Kind> {
    let object = value.as_object().ok_or(Kind::Malformed)?;
    let layers: &[Value] = match object.get("layers") {
        None => &[],
        Some(Value::Array(layers)) => layers,
        Some(_) => return Err(Kind::Malformed),
    };
    let mut read = Vec::new();
    for layer in layers {
        let layer = layer.as_object().ok_or(Kind::Malformed)?;
        let digest = layer.get("digest").and_then(Value::as_str);
        let size = layer.get("size").and_then(Value::as_u64);
        let (Some(digest), Some(size)) = (digest, size) else {
            return Err(Kind::Malformed);
        };
        let annotations = match layer.get("annotations") {
            None => BTreeMap::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect::<Option<BTreeMap<_, _>>>()
                .ok_or(Kind::Malformed)?,
            Some(_) => return Err(Kind::Malformed),
        };
        let signature = annotations.get(SIGNATURE_ANNOTATION).map(|s| s.to_string());
        read.push((digest.to_string(), size, signature));
    }
    if read.len() > MAX_SIGNATURES {
        return Err(Kind::TooManyLayers(read.len()));
    }
    for (n, (digest, size, _)) in read.iter().enumerate() {
        if *size > MAX_PAYLOAD as u64 {
            return Err(Kind::LayerTooLarge(n + 1));
        }
        if !is_sha256(digest) {
            return Err(Kind::BadDigest(n + 1));
        }
    }
    Ok(read)
}

fn is_sha256(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// A signature manifest as `cosign sign` pushes it.
fn render(layers: &[Layer]) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|layer| {
            let mut descriptor = json!({
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": layer.digest.to_string(),
                "size": layer.size,
            });
            if let Some(signature) = &layer.signature {
                descriptor["annotations"] = json!({ SIGNATURE_ANNOTATION: signature });
            }
            descriptor
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 233,
            "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
        "layers": layers,
    });
    serde_json::to_vec(&manifest).expect("JSON")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_seeds_replay_clean() {
        for entry in std::fs::read_dir("corpus/cosign_artifact").expect("seeds") {
            super::run(&std::fs::read(entry.expect("seed").path()).expect("seed"));
        }
    }
}
