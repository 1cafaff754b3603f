//! The signature artifact: the OCI (or Docker v2) manifest `cosign sign` pushes at tag
//! `sha256-<hex>.sig`, one layer per signature, the signature in the layer's
//! `dev.cosignproject.cosign/signature` annotation and the signed payload as the layer blob.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;

use super::SIGNATURE_ANNOTATION;
use crate::json::Object;
use crate::limits::{MAX_COSIGN_SIGNATURES as MAX_SIGNATURES, MAX_PAYLOAD};
use crate::reference::Digest;

/// One signature layer: where its payload is, and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The blob holding the payload; the frontend must check the bytes hash to it.
    pub digest: Digest,
    /// The size the manifest gives, at most the payload limit.
    pub size: usize,
    /// The base64 signature annotation, if present.
    pub signature: Option<String>,
}

/// Why a signature artifact was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactError {
    Malformed(String),
    TooManyLayers(usize),
    LayerTooLarge {
        layer: usize,
        size: u64,
        limit: usize,
    },
    BadDigest {
        layer: usize,
        digest: String,
    },
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "the signature manifest is not a manifest: {e}"),
            Self::TooManyLayers(n) => write!(
                f,
                "the signature manifest has {n} layers, more than the {MAX_SIGNATURES} accepted"
            ),
            Self::LayerTooLarge { layer, size, limit } => {
                write!(f, "layer {layer}: {size} bytes, more than {limit}")
            }
            Self::BadDigest { layer, digest } => {
                write!(
                    f,
                    "signature {layer}: layer digest \"{digest}\" is not sha256"
                )
            }
        }
    }
}

impl core::error::Error for ArtifactError {}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Object<Descriptor>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: alloc::collections::BTreeMap<String, String>,
}

/// The layers of a signature manifest: at most [`MAX_SIGNATURES`] (more is an error, not a
/// silent cut), each at most [`MAX_PAYLOAD`] bytes by its descriptor.
pub fn parse(manifest: &[u8]) -> Result<Vec<Layer>, ArtifactError> {
    layers(manifest, MAX_PAYLOAD)
}

/// The layers of a cosign artifact (`.sig`, or `.att` whose layers are DSSE envelopes): at
/// most [`MAX_SIGNATURES`], each at most `max_layer` bytes by its descriptor.
pub fn layers(manifest: &[u8], max_layer: usize) -> Result<Vec<Layer>, ArtifactError> {
    let Object(parsed): Object<Manifest> =
        serde_json::from_slice(manifest).map_err(|e| ArtifactError::Malformed(format!("{e}")))?;
    if parsed.layers.len() > MAX_SIGNATURES {
        return Err(ArtifactError::TooManyLayers(parsed.layers.len()));
    }
    parsed
        .layers
        .into_iter()
        .enumerate()
        .map(|(n, Object(mut descriptor))| {
            let layer = n + 1;
            let size = usize::try_from(descriptor.size)
                .ok()
                .filter(|s| *s <= max_layer)
                .ok_or(ArtifactError::LayerTooLarge {
                    layer,
                    size: descriptor.size,
                    limit: max_layer,
                })?;
            let digest =
                Digest::parse(&descriptor.digest).map_err(|_| ArtifactError::BadDigest {
                    layer,
                    digest: descriptor.digest.clone(),
                })?;
            Ok(Layer {
                digest,
                size,
                signature: descriptor.annotations.remove(SIGNATURE_ANNOTATION),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn layer(size: u64, annotated: bool) -> serde_json::Value {
        let mut l = serde_json::json!({"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": D, "size": size});
        if annotated {
            l["annotations"] = serde_json::json!({SIGNATURE_ANNOTATION: "c2ln"});
        }
        l
    }

    fn manifest(layers: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "layers": layers}))
            .expect("JSON")
    }

    #[test]
    fn layers_carry_digest_size_and_signature_annotation() {
        let got = parse(&manifest(alloc::vec![layer(250, true), layer(3, false)])).expect("ok");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].signature.as_deref(), Some("c2ln"));
        assert_eq!((got[0].size, got[1].signature.as_ref()), (250, None));
        assert_eq!(got[1].digest, Digest::parse(D).expect("digest"));
    }

    #[test]
    fn layer_count_and_size_are_bounded() {
        let many = manifest((0..=MAX_SIGNATURES).map(|_| layer(1, true)).collect());
        assert_eq!(parse(&many), Err(ArtifactError::TooManyLayers(17)));
        let big = manifest(alloc::vec![layer(MAX_PAYLOAD as u64 + 1, true)]);
        assert!(matches!(
            parse(&big),
            Err(ArtifactError::LayerTooLarge { layer: 1, .. })
        ));
        assert!(matches!(
            parse(b"not JSON"),
            Err(ArtifactError::Malformed(_))
        ));
    }

    #[test]
    fn a_manifest_and_its_layers_are_objects() {
        // serde's derive would read these arrays as the structs' fields in order.
        let layer = alloc::format!(r#"["{D}",3,{{"{SIGNATURE_ANNOTATION}":"c2ln"}}]"#);
        let layers = alloc::format!(r#"{{"layers":[{layer}]}}"#);
        for array in ["[[]]", layers.as_str()] {
            assert!(
                matches!(parse(array.as_bytes()), Err(ArtifactError::Malformed(_))),
                "{array}"
            );
        }
    }
}
