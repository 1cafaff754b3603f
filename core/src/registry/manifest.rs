//! The manifest a registry serves for a tag: its digest (the sha256 of the bytes served, never
//! the registry's word for it) and its media type.
//!
//! Only formats whose digest is the sha256 of their bytes are accepted: OCI manifest and
//! index, Docker v2 schema 2 manifest and manifest list (not schema 1, whose digest excludes
//! its embedded signatures). An index (multi-arch image) is resolved to the index's own digest,
//! which is what signers sign with `skopeo copy --all` and what the pod is pinned to.

use alloc::string::{String, ToString as _};
use core::fmt;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::json::Object;
use crate::reference::Digest;

/// The `Accept` header of a manifest request: the four accepted formats.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";
pub use crate::limits::MAX_MANIFEST_BYTES;

/// Characters of a refused `mediaType` kept for the message.
pub const MAX_QUOTED_CHARS: usize = 128;

/// Docker schema 1 types: a registry serving one for a schema-2 body contradicts itself.
const SCHEMA_1_TYPES: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// An accepted manifest format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    OciManifest,
    OciIndex,
    DockerManifest,
    DockerManifestList,
}

impl MediaType {
    pub const ALL: [Self; 4] = [
        Self::OciManifest,
        Self::OciIndex,
        Self::DockerManifest,
        Self::DockerManifestList,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OciManifest => "application/vnd.oci.image.manifest.v1+json",
            Self::OciIndex => "application/vnd.oci.image.index.v1+json",
            Self::DockerManifest => "application/vnd.docker.distribution.manifest.v2+json",
            Self::DockerManifestList => "application/vnd.docker.distribution.manifest.list.v2+json",
        }
    }

    /// The format a media type names exactly (as a manifest's `mediaType` field spells it).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A served manifest, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The sha256 of the bytes served.
    pub digest: Digest,
    /// The format, from the manifest's `mediaType` or else the response's `Content-Type`;
    /// `None` when neither names one (an OCI manifest may omit the field, and a registry may
    /// serve `application/json`).
    pub media_type: Option<MediaType>,
}

/// Why a served manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestError {
    TooLarge {
        size: usize,
    },
    /// Not a JSON object with a `schemaVersion` (and a string `mediaType`, if any).
    Malformed(String),
    SchemaVersion(u64),
    /// The manifest's `mediaType` is not one of the accepted formats (its first
    /// [`MAX_QUOTED_CHARS`] characters: the registry chooses its length).
    MediaType(String),
    /// The response's `Content-Type` names another format than the manifest's `mediaType`
    /// (or, when it has none, a schema-1 format).
    ContentType {
        declared: Option<MediaType>,
        served: String,
    },
    /// The registry's `Docker-Content-Digest` is not the sha256 of the bytes it served.
    DigestMismatch {
        claimed: String,
        actual: Digest,
    },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NOT_V2: &str = "the manifest is not an OCI or Docker v2 manifest or index";
        match self {
            Self::TooLarge { size } => write!(
                f,
                "the manifest is {size} bytes, larger than {MAX_MANIFEST_BYTES}"
            ),
            Self::Malformed(e) => write!(f, "{NOT_V2}: {e}"),
            Self::SchemaVersion(version) => write!(f, "{NOT_V2}: schemaVersion {version}"),
            Self::MediaType(text) => write!(f, "{NOT_V2}: mediaType {text:?}"),
            Self::ContentType {
                declared: Some(declared),
                served,
            } => write!(
                f,
                "the manifest says it is {declared}, but the registry serves it as {served}"
            ),
            Self::ContentType {
                declared: None,
                served,
            } => write!(
                f,
                "the manifest is schema 2, but the registry serves it as {served}"
            ),
            Self::DigestMismatch { claimed, actual } => write!(
                f,
                "the registry says it is {claimed}, but the manifest it served is {actual}"
            ),
        }
    }
}

impl core::error::Error for ManifestError {}

#[derive(Deserialize)]
struct Fields {
    #[serde(rename = "schemaVersion")]
    schema_version: u64,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
}

/// Checks a served manifest and computes its digest. `content_type` is the response's
/// `Content-Type` header (parameters and case ignored), `claimed` its `Docker-Content-Digest`:
/// compared when it is a sha256 digest; other algorithms are not (only sha256 is accepted
/// anywhere here, and the bytes decide).
pub fn parse_manifest(
    body: &[u8],
    content_type: Option<&str>,
    claimed: Option<&str>,
) -> Result<Manifest, ManifestError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge { size: body.len() });
    }
    let Object(fields): Object<Fields> =
        serde_json::from_slice(body).map_err(|e| ManifestError::Malformed(e.to_string()))?;
    if fields.schema_version != 2 {
        return Err(ManifestError::SchemaVersion(fields.schema_version));
    }
    let declared = fields
        .media_type
        .map(|text| {
            MediaType::parse(&text).ok_or_else(|| {
                ManifestError::MediaType(text.chars().take(MAX_QUOTED_CHARS).collect())
            })
        })
        .transpose()?;
    let contradiction = |served: &str| ManifestError::ContentType {
        declared,
        served: served.to_string(),
    };
    let media_type = match content_type.map(served_type) {
        Some(Served::Other(served)) => return Err(contradiction(served)),
        Some(Served::Manifest(served)) if declared.is_some_and(|d| d != served) => {
            return Err(contradiction(served.as_str()));
        }
        Some(Served::Manifest(served)) => Some(served),
        Some(Served::Generic) | None => declared,
    };
    let digest = Digest::from_sha256(&Sha256::digest(body).into());
    match claimed {
        Some(claimed) if claimed.starts_with("sha256:") && claimed != digest.to_string() => {
            Err(ManifestError::DigestMismatch {
                claimed: claimed.to_string(),
                actual: digest,
            })
        }
        _ => Ok(Manifest { digest, media_type }),
    }
}

/// What a `Content-Type` says of the format.
enum Served<'a> {
    Manifest(MediaType),
    /// Another manifest format (schema 1): it contradicts any schema-2 body.
    Other(&'a str),
    /// A generic type (`application/json`, …): registries and proxies serve those, and they
    /// say nothing of the format.
    Generic,
}

fn served_type(content_type: &str) -> Served<'_> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim_matches([' ', '\t']);
    if let Some(known) = MediaType::ALL
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(essence))
    {
        Served::Manifest(known)
    } else if SCHEMA_1_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(essence))
    {
        Served::Other(essence)
    } else {
        Served::Generic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    const INDEX: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    /// An OCI manifest may omit `mediaType`.
    const BARE: &[u8] = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;

    fn sha256(body: &[u8]) -> String {
        Digest::from_sha256(&Sha256::digest(body).into()).to_string()
    }

    #[test]
    fn a_manifest_digest_is_the_sha256_of_the_bytes_served() {
        let got = parse_manifest(INDEX, None, None).expect("digest");
        assert_eq!(got.digest.to_string(), sha256(INDEX));
        assert_eq!(got.media_type, Some(MediaType::OciIndex));
        let agreed = parse_manifest(INDEX, None, Some(&sha256(INDEX))).expect("agrees");
        assert_eq!(agreed, got);
        let other_algorithm = parse_manifest(INDEX, None, Some("sha512:abc")).expect("ignored");
        assert_eq!(other_algorithm, got);
    }

    #[test]
    fn a_registry_claiming_another_sha256_digest_is_refused() {
        let other = sha256(b"other");
        let why = parse_manifest(INDEX, None, Some(&other)).expect_err("mismatch");
        assert!(matches!(why, ManifestError::DigestMismatch { .. }), "{why}");
        assert!(why.to_string().contains(&other), "{why}");
        assert!(why.to_string().contains(&sha256(INDEX)), "{why}");
    }

    #[test]
    fn schema_1_and_non_manifests_are_refused() {
        let v1 = br#"{"schemaVersion":1,"name":"i","tag":"v1","signatures":[]}"#;
        let why = parse_manifest(v1, None, None).expect_err("schema 1");
        assert!(why.to_string().contains("schemaVersion 1"), "{why}");
        for bad in [&b"<html>"[..], b"[2]", b"{}", br#"{"schemaVersion":"2"}"#] {
            assert!(
                matches!(
                    parse_manifest(bad, None, None),
                    Err(ManifestError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(
            parse_manifest(&big, None, None),
            Err(ManifestError::TooLarge { size: big.len() })
        );
    }

    #[test]
    fn a_manifest_of_another_media_type_is_refused() {
        for other in [
            "application/vnd.oci.artifact.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON",
        ] {
            let body = format!(r#"{{"schemaVersion":2,"mediaType":"{other}"}}"#);
            assert_eq!(
                parse_manifest(body.as_bytes(), None, None),
                Err(ManifestError::MediaType(other.into()))
            );
        }
        let long = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}"}}"#,
            "é".repeat(1000)
        );
        assert_eq!(
            parse_manifest(long.as_bytes(), None, None),
            Err(ManifestError::MediaType("é".repeat(MAX_QUOTED_CHARS)))
        );
        let null = br#"{"schemaVersion":2,"mediaType":null}"#;
        assert_eq!(
            parse_manifest(null, None, None).map(|m| m.media_type),
            Ok(None)
        );
        let number = br#"{"schemaVersion":2,"mediaType":1}"#;
        assert!(matches!(
            parse_manifest(number, None, None),
            Err(ManifestError::Malformed(_))
        ));
    }

    #[test]
    fn the_content_type_agrees_with_the_manifest_or_says_nothing() {
        let media_type =
            |body, served| parse_manifest(body, Some(served), None).map(|m| m.media_type);
        let index = Ok(Some(MediaType::OciIndex));
        assert_eq!(
            media_type(INDEX, "application/vnd.oci.image.index.v1+json"),
            index
        );
        assert_eq!(
            media_type(
                INDEX,
                "Application/VND.oci.image.index.v1+json ; charset=utf-8"
            ),
            index
        );
        for generic in [
            "application/json",
            "text/plain",
            "",
            "application/octet-stream",
        ] {
            assert_eq!(media_type(INDEX, generic), index, "{generic}");
            assert_eq!(media_type(BARE, generic), Ok(None), "{generic}");
        }
        assert_eq!(
            media_type(BARE, "application/vnd.oci.image.manifest.v1+json"),
            Ok(Some(MediaType::OciManifest))
        );
    }

    #[test]
    fn a_content_type_naming_another_format_is_refused() {
        let why = parse_manifest(
            INDEX,
            Some("application/vnd.docker.distribution.manifest.list.v2+json"),
            None,
        )
        .expect_err("contradiction");
        assert_eq!(
            why,
            ManifestError::ContentType {
                declared: Some(MediaType::OciIndex),
                served: "application/vnd.docker.distribution.manifest.list.v2+json".into(),
            }
        );
        let schema_1 = "application/vnd.docker.distribution.manifest.v1+prettyjws";
        for body in [INDEX, BARE] {
            assert!(
                matches!(
                    parse_manifest(body, Some(schema_1), None),
                    Err(ManifestError::ContentType { .. })
                ),
                "{body:?}"
            );
        }
    }

    #[test]
    fn the_accept_header_lists_every_accepted_format() {
        let listed: vec::Vec<&str> = MANIFEST_ACCEPT.split(", ").collect();
        let all: vec::Vec<&str> = MediaType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(listed, all);
        for media_type in MediaType::ALL {
            assert_eq!(MediaType::parse(media_type.as_str()), Some(media_type));
        }
    }
}
