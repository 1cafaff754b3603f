//! OCI 1.1 referrers: the artifacts (Sigstore bundles, Notation signatures, attestations) a
//! registry stores *about* an image, each an OCI image manifest whose `subject` is the image's
//! manifest.
//!
//! A client finds them in an OCI image index: the referrers API's answer
//! (`GET /v2/<name>/referrers/<digest>[?artifactType=…]`), or, on a registry without that API,
//! the index clients keep at tag `sha256-<hex>` of the subject digest (the tag schema
//! fallback). [`parse_index`] reads that index's `manifests[]`; [`select`] keeps the entries
//! that may be of the artifact type wanted, bounded in count; [`parse_referrer`] reads one
//! referrer's manifest as served, checking that its bytes are the digest the index listed,
//! that its `subject` is the image, and what type it really is, and lists its layers (the
//! blobs to fetch). The frontend fetches; nothing here trusts the registry's word:
//!
//! - registries may ignore the `artifactType` filter (the `OCI-Filters-Applied` header says
//!   whether they applied it), so [`select`] filters again;
//! - an index entry's `artifactType` is the registry's claim; go-containerregistry's registry
//!   reports the config's media type there (`application/vnd.oci.empty.v1+json` for every
//!   cosign v3 bundle), and a fallback index may omit it. Entries without a type, or with the
//!   empty config's, are kept as candidates and the manifest decides ([`Selected::Unsure`]);
//! - the manifest's type is its `artifactType`, else its `config.mediaType` (OCI image spec
//!   1.1); one listed as another type than it is is refused.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::json::Object;
use crate::reference::Digest;

pub use crate::limits::{
    MAX_MANIFEST_BYTES, MAX_REFERRER_BLOB_BYTES, MAX_REFERRER_INDEX_ENTRIES, MAX_REFERRER_LAYERS,
    MAX_REFERRERS,
};

/// The media type of the index, as the referrers API and the fallback tag hold it.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The media type of a referrer's manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The empty config of artifacts (`{}`): a registry reporting it as an entry's type has read
/// the config, not the manifest's `artifactType`.
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Characters of a refused media type or digest kept for messages.
pub const MAX_QUOTED_CHARS: usize = 128;

/// One entry of a referrers index: a referrer's manifest as the registry describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    /// The type the registry (or the client that wrote the fallback index) gives it.
    pub artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

/// How an index entry stands against the artifact type wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    /// Listed as that type: its manifest must be of it.
    Listed,
    /// Listed without a type, or with the empty config's: its manifest says.
    Unsure,
}

/// A referrer's manifest, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrerManifest {
    /// The sha256 of the bytes served (the digest the index listed).
    pub digest: Digest,
    /// `artifactType`, else `config.mediaType`.
    pub artifact_type: String,
    /// The blobs, in order.
    pub layers: Vec<Layer>,
    pub annotations: BTreeMap<String, String>,
}

/// One layer of a referrer: a blob to fetch and check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub media_type: String,
    pub digest: Digest,
    /// At most the caller's bound on one blob.
    pub size: usize,
}

/// A referrer as fetched: its manifest's digest and type, and its layers' bytes (each checked
/// against its digest and size). What the formats verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub artifact_type: String,
    pub manifest_digest: Digest,
    pub annotations: BTreeMap<String, String>,
    pub blobs: Vec<Blob>,
}

/// One layer's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: String,
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

impl Referrer {
    /// The bytes it holds (for cache weights).
    pub fn weight(&self) -> usize {
        self.blobs.iter().map(|b| b.bytes.len()).sum()
    }
}

/// Why a referrers index or a referrer's manifest was refused. Entries and layers are numbered
/// from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferrersError {
    /// The index or manifest is larger than [`MAX_MANIFEST_BYTES`].
    TooLarge {
        size: usize,
    },
    /// Not a JSON object of the expected shape.
    Malformed(String),
    SchemaVersion(u64),
    /// The document's `mediaType` is not the one expected (its first [`MAX_QUOTED_CHARS`]).
    MediaType {
        expected: &'static str,
        found: String,
    },
    /// More index entries than [`MAX_REFERRER_INDEX_ENTRIES`].
    TooManyEntries {
        count: usize,
    },
    /// More referrers that may be of the type wanted than the caller's bound.
    TooMany {
        count: usize,
        max: usize,
    },
    /// An index entry's or a layer's digest is not `sha256:` and 64 lower-case hex digits.
    BadDigest {
        what: &'static str,
        number: usize,
        digest: String,
    },
    /// The manifest served is not the digest the index listed.
    ManifestDigest {
        listed: Digest,
        actual: Digest,
    },
    /// The manifest served is not the size the index listed.
    ManifestSize {
        listed: u64,
        actual: usize,
    },
    /// The manifest has no `subject`, or a `subject` that is another manifest.
    Subject {
        expected: Digest,
        found: Option<String>,
    },
    /// Neither `artifactType` nor `config.mediaType`.
    NoArtifactType,
    /// The index listed it as one type; its manifest is another.
    ArtifactType {
        listed: String,
        actual: String,
    },
    TooManyLayers {
        count: usize,
        max: usize,
    },
    LayerTooLarge {
        layer: usize,
        size: u64,
        max: usize,
    },
}

impl ReferrersError {
    /// Whether the refusal is a bound (count or size), rather than a document that is wrong.
    pub fn is_bound(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. }
                | Self::TooManyEntries { .. }
                | Self::TooMany { .. }
                | Self::TooManyLayers { .. }
                | Self::LayerTooLarge { .. }
        )
    }
}

impl fmt::Display for ReferrersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size } => {
                write!(f, "{size} bytes, larger than {MAX_MANIFEST_BYTES}")
            }
            Self::Malformed(e) => write!(f, "not an OCI index or manifest: {e}"),
            Self::SchemaVersion(version) => write!(f, "schemaVersion {version}, not 2"),
            Self::MediaType { expected, found } => {
                write!(f, "mediaType {found:?}, not {expected}")
            }
            Self::TooManyEntries { count } => write!(
                f,
                "{count} referrers listed, more than the {MAX_REFERRER_INDEX_ENTRIES} read"
            ),
            Self::TooMany { count, max } => write!(
                f,
                "{count} referrers may be of the type asked for, more than the {max} fetched"
            ),
            Self::BadDigest {
                what,
                number,
                digest,
            } => write!(f, "{what} {number}: digest {digest:?} is not sha256"),
            Self::ManifestDigest { listed, actual } => {
                write!(f, "the referrer listed as {listed} is served as {actual}")
            }
            Self::ManifestSize { listed, actual } => write!(
                f,
                "the referrer is listed as {listed} bytes, served as {actual}"
            ),
            Self::Subject {
                expected,
                found: Some(found),
            } => write!(f, "the referrer's subject is {found}, not {expected}"),
            Self::Subject {
                expected,
                found: None,
            } => write!(f, "the referrer has no subject (expected {expected})"),
            Self::NoArtifactType => {
                f.write_str("the referrer has neither an artifactType nor a config media type")
            }
            Self::ArtifactType { listed, actual } => write!(
                f,
                "the referrer is listed as {listed:?}, but its manifest is {actual:?}"
            ),
            Self::TooManyLayers { count, max } => {
                write!(f, "the referrer has {count} layers, more than {max}")
            }
            Self::LayerTooLarge { layer, size, max } => {
                write!(f, "layer {layer}: {size} bytes, more than {max}")
            }
        }
    }
}

impl core::error::Error for ReferrersError {}

#[derive(Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u64,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Object<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u64,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Object<Config>>,
    #[serde(default)]
    subject: Option<Object<Subject>>,
    #[serde(default)]
    layers: Vec<Object<LayerEntry>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct Config {
    #[serde(rename = "mediaType")]
    media_type: String,
}

#[derive(Deserialize)]
struct Subject {
    digest: String,
}

#[derive(Deserialize)]
struct LayerEntry {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
}

/// The entries of a referrers index (the referrers API's answer or the fallback tag's index),
/// in order, at most [`MAX_REFERRER_INDEX_ENTRIES`]. An object with `schemaVersion` 2 and, if
/// any, the index `mediaType`; every entry an object with a string `mediaType`, a sha256
/// `digest` and a `size`. An absent `manifests` is an empty index.
pub fn parse_index(body: &[u8]) -> Result<Vec<Descriptor>, ReferrersError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(ReferrersError::TooLarge { size: body.len() });
    }
    let Object(index): Object<Index> =
        serde_json::from_slice(body).map_err(|e| ReferrersError::Malformed(e.to_string()))?;
    check_header(index.schema_version, index.media_type, INDEX_MEDIA_TYPE)?;
    if index.manifests.len() > MAX_REFERRER_INDEX_ENTRIES {
        return Err(ReferrersError::TooManyEntries {
            count: index.manifests.len(),
        });
    }
    index
        .manifests
        .into_iter()
        .enumerate()
        .map(|(n, Object(entry))| {
            let digest = sha256_digest(&entry.digest, "entry", n + 1)?;
            Ok(Descriptor {
                media_type: entry.media_type,
                digest,
                size: entry.size,
                artifact_type: entry.artifact_type.filter(|t| !t.is_empty()),
                annotations: entry.annotations.unwrap_or_default(),
            })
        })
        .collect()
}

/// The entries that may be referrers of `artifact_type`, each once (by digest, in digest
/// order), with how sure the index is of their type: image manifests listed as that type, or
/// without a type, or as the empty config (see the module documentation); not other types,
/// nor indexes or other media types. More than `max` is an error (never a silent cut: which
/// ones would be kept is the registry's choice).
pub fn select(
    entries: &[Descriptor],
    artifact_type: &str,
    max: usize,
) -> Result<Vec<(Descriptor, Selected)>, ReferrersError> {
    let mut chosen: BTreeMap<&Digest, (&Descriptor, Selected)> = BTreeMap::new();
    for entry in entries {
        if entry.media_type != MANIFEST_MEDIA_TYPE {
            continue;
        }
        let selected = match entry.artifact_type.as_deref() {
            Some(listed) if listed == artifact_type => Selected::Listed,
            None | Some(EMPTY_CONFIG_MEDIA_TYPE) => Selected::Unsure,
            Some(_) => continue,
        };
        let slot = chosen.entry(&entry.digest).or_insert((entry, selected));
        // Listed twice, once with the type: the type holds.
        if selected == Selected::Listed {
            *slot = (entry, selected);
        }
    }
    if chosen.len() > max {
        return Err(ReferrersError::TooMany {
            count: chosen.len(),
            max,
        });
    }
    Ok(chosen
        .into_values()
        .map(|(entry, selected)| (entry.clone(), selected))
        .collect())
}

/// One referrer's manifest as served for `listed` (an entry of the index): its bytes must be
/// the listed digest and size, its `subject` the image `subject`; at most `max_layers` layers,
/// each at most `max_blob_bytes`. `None` when the index was unsure of its type and it is not
/// `artifact_type`; an error when the index listed it as that type and it is another.
pub fn parse_referrer(
    body: &[u8],
    listed: &Descriptor,
    subject: &Digest,
    artifact_type: &str,
    max_layers: usize,
    max_blob_bytes: usize,
) -> Result<Option<ReferrerManifest>, ReferrersError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(ReferrersError::TooLarge { size: body.len() });
    }
    let actual = Digest::from_sha256(&Sha256::digest(body).into());
    if actual != listed.digest {
        return Err(ReferrersError::ManifestDigest {
            listed: listed.digest.clone(),
            actual,
        });
    }
    if u64::try_from(body.len()).ok() != Some(listed.size) {
        return Err(ReferrersError::ManifestSize {
            listed: listed.size,
            actual: body.len(),
        });
    }
    let Object(manifest): Object<Manifest> =
        serde_json::from_slice(body).map_err(|e| ReferrersError::Malformed(e.to_string()))?;
    check_header(
        manifest.schema_version,
        manifest.media_type,
        MANIFEST_MEDIA_TYPE,
    )?;
    let found = manifest.subject.map(|Object(s)| s.digest);
    if found.as_deref() != Some(subject.to_string().as_str()) {
        return Err(ReferrersError::Subject {
            expected: subject.clone(),
            found: found.map(|f| f.chars().take(MAX_QUOTED_CHARS).collect()),
        });
    }
    let own_type = manifest
        .artifact_type
        .filter(|t| !t.is_empty())
        .or_else(|| manifest.config.map(|Object(c)| c.media_type))
        .filter(|t| !t.is_empty())
        .ok_or(ReferrersError::NoArtifactType)?;
    if own_type != artifact_type {
        return match listed.artifact_type.as_deref() {
            Some(listed) if listed != EMPTY_CONFIG_MEDIA_TYPE => {
                Err(ReferrersError::ArtifactType {
                    listed: listed.to_string(),
                    actual: own_type.chars().take(MAX_QUOTED_CHARS).collect(),
                })
            }
            _ => Ok(None),
        };
    }
    if manifest.layers.len() > max_layers {
        return Err(ReferrersError::TooManyLayers {
            count: manifest.layers.len(),
            max: max_layers,
        });
    }
    let layers = manifest
        .layers
        .into_iter()
        .enumerate()
        .map(|(n, Object(layer))| {
            let size = usize::try_from(layer.size)
                .ok()
                .filter(|s| *s <= max_blob_bytes)
                .ok_or(ReferrersError::LayerTooLarge {
                    layer: n + 1,
                    size: layer.size,
                    max: max_blob_bytes,
                })?;
            Ok(Layer {
                media_type: layer.media_type,
                digest: sha256_digest(&layer.digest, "layer", n + 1)?,
                size,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ReferrerManifest {
        digest: actual,
        artifact_type: own_type,
        layers,
        annotations: manifest.annotations.unwrap_or_default(),
    }))
}

/// The tag of the fallback index for `subject`: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    alloc::format!("{}-{}", subject.algorithm(), subject.hex())
}

fn check_header(
    version: u64,
    media_type: Option<String>,
    expected: &'static str,
) -> Result<(), ReferrersError> {
    if version != 2 {
        return Err(ReferrersError::SchemaVersion(version));
    }
    match media_type {
        Some(found) if found != expected => Err(ReferrersError::MediaType {
            expected,
            found: found.chars().take(MAX_QUOTED_CHARS).collect(),
        }),
        _ => Ok(()),
    }
}

fn sha256_digest(text: &str, what: &'static str, number: usize) -> Result<Digest, ReferrersError> {
    Digest::parse(text).map_err(|_| ReferrersError::BadDigest {
        what,
        number,
        digest: text.chars().take(MAX_QUOTED_CHARS).collect(),
    })
}

#[cfg(test)]
mod tests;
