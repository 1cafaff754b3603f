//! The "atomic container signature" payload: what a simple signature signs.

use alloc::string::String;
use core::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::json::Object;
use crate::reference::{Digest, ImageRef, ReferenceError};

/// The only payload type containers/image defines.
pub const SIGNATURE_TYPE: &str = "atomic container signature";

pub use crate::limits::MAX_PAYLOAD;

/// The critical section of a verified payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// `critical.identity.docker-reference`, normalised, and whether it named a tag or digest.
    pub identity: SignedReference,
    /// `critical.image.docker-manifest-digest`.
    pub digest: Digest,
}

/// A signature's `docker-reference`: normalised, and whether it named a tag or a digest.
/// containers/image never lets a name-only identity (`busybox`) stand for a tag or a digest,
/// while the normalised reference alone would read it as `busybox:latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReference {
    reference: ImageRef,
    name_only: bool,
}

impl SignedReference {
    /// Parses a signed `docker-reference` as an image reference.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        Ok(Self {
            reference: ImageRef::parse(text)?,
            name_only: !names_tag_or_digest(text),
        })
    }

    /// The normalised reference; a name-only one has the tag `latest` here.
    pub fn reference(&self) -> &ImageRef {
        &self.reference
    }

    /// Whether the signature named neither a tag nor a digest.
    pub fn is_name_only(&self) -> bool {
        self.name_only
    }
}

impl fmt::Display for SignedReference {
    // A name-only identity is shown as signed, without the `latest` it never named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name_only {
            f.write_str(&self.reference.name())
        } else {
            self.reference.fmt(f)
        }
    }
}

/// Whether a reference as written has a tag (a `:` after the last `/`) or a digest.
pub(crate) fn names_tag_or_digest(text: &str) -> bool {
    text.contains('@')
        || text
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    TooLarge(usize),
    /// Not the JSON containers/image writes, or a critical field it does not know.
    Malformed(String),
    WrongType {
        found: String,
        expected: &'static str,
    },
    BadIdentity {
        reference: String,
        error: String,
    },
    BadDigest {
        digest: String,
        error: String,
    },
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "signature payload of {n} bytes is too large"),
            Self::Malformed(e) => write!(f, "malformed signature payload: {e}"),
            Self::WrongType { found, expected } => write!(
                f,
                "signature payload type is \"{found}\", not \"{expected}\""
            ),
            Self::BadIdentity { reference, error } => {
                write!(f, "signed identity \"{reference}\" is invalid: {error}")
            }
            Self::BadDigest { digest, error } => {
                write!(f, "signed digest \"{digest}\" is invalid: {error}")
            }
        }
    }
}

// Unknown fields in `critical` must fail verification (containers/image does the same), so every
// level of it denies them; `optional` is free-form and ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    critical: Object<Critical>,
    // Free-form (creator, timestamp): read past, never trusted.
    #[serde(default, rename = "optional")]
    _optional: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Critical {
    #[serde(rename = "type")]
    kind: String,
    identity: Object<Identity>,
    image: Object<Image>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

impl Payload {
    /// Parses the signed bytes. Call only on bytes whose signature verified.
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        let critical = read::<Raw>(bytes)?.critical.0;
        let name_only = !names_tag_or_digest(&critical.identity.0.docker_reference);
        let (reference, digest) = checked(
            critical.kind,
            SIGNATURE_TYPE,
            critical.identity.0.docker_reference,
            critical.image.0.docker_manifest_digest,
        )?;
        let identity = SignedReference {
            reference,
            name_only,
        };
        Ok(Self { identity, digest })
    }
}

/// Reads a payload of at most [`MAX_PAYLOAD`] bytes into the format's own `Raw` shape (the
/// containers format refuses unknown critical fields, cosign's ignores them). Every level is
/// an [`Object`]: Go refuses a payload written as arrays, which serde's derive would read.
pub(crate) fn read<R: DeserializeOwned>(bytes: &[u8]) -> Result<R, PayloadError> {
    if bytes.len() > MAX_PAYLOAD {
        return Err(PayloadError::TooLarge(bytes.len()));
    }
    serde_json::from_slice::<Object<R>>(bytes)
        .map(|Object(raw)| raw)
        .map_err(|e| PayloadError::Malformed(alloc::format!("{e}")))
}

/// The `critical` checks both formats share: the type is the format's, the identity is an
/// image reference and the digest a digest.
pub(crate) fn checked(
    kind: String,
    expected: &'static str,
    reference: String,
    digest: String,
) -> Result<(ImageRef, Digest), PayloadError> {
    if kind != expected {
        return Err(PayloadError::WrongType {
            found: kind,
            expected,
        });
    }
    let identity = ImageRef::parse(&reference).map_err(|e| PayloadError::BadIdentity {
        error: alloc::format!("{e}"),
        reference: reference.clone(),
    })?;
    let digest = Digest::parse(&digest).map_err(|e| PayloadError::BadDigest {
        error: alloc::format!("{e}"),
        digest: digest.clone(),
    })?;
    Ok((identity, digest))
}
