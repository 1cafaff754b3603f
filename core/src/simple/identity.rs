//! `signedIdentity`: which signed references an image accepts, with containers/image semantics.
//!
//! Every comparison is between normalised references ([`ImageRef`]), so `nginx`,
//! `docker.io/library/nginx:latest` and `index.docker.io/library/nginx` are one identity.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use crate::policy::SignedIdentity;
use crate::reference::ImageRef;

/// A compiled `signedIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRule {
    /// Default: for an image named by digest the repository must match, otherwise the
    /// repository and tag.
    MatchRepoDigestOrExact,
    /// Repository, tag and digest exactly as the image names them.
    MatchExact,
    /// Only the repository; any tag or digest was signed.
    MatchRepository,
    /// The signature must name exactly this reference, whatever the image is called.
    ExactReference(ImageRef),
    /// The signature must name this repository (`domain/path`), whatever the image is called.
    ExactRepository(String),
    /// An image under `prefix` is checked as if it were under `signed_prefix` (mirrors), then
    /// as [`Self::MatchRepoDigestOrExact`].
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// Why an identity rule is unusable, or why a signed identity does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    UnknownType(String),
    /// A field the rule needs is missing or is not a valid reference.
    BadRule {
        field: &'static str,
        error: String,
    },
    Mismatch {
        rule: &'static str,
        image: String,
        signed: String,
    },
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownType(t) => write!(f, "unknown signedIdentity type \"{t}\""),
            Self::BadRule { field, error } => write!(f, "signedIdentity.{field}: {error}"),
            Self::Mismatch {
                rule,
                image,
                signed,
            } => write!(
                f,
                "signed identity \"{signed}\" does not match \"{image}\" ({rule})"
            ),
        }
    }
}

impl IdentityRule {
    /// Compiles a policy's `signedIdentity`; both containers-policy.json spellings are accepted.
    pub fn from_policy(identity: &SignedIdentity) -> Result<Self, IdentityError> {
        match identity.kind.as_str() {
            "" | "matchRepoDigestOrExact" => Ok(Self::MatchRepoDigestOrExact),
            "matchExact" => Ok(Self::MatchExact),
            "matchRepository" => Ok(Self::MatchRepository),
            "matchExactReference" | "exactReference" => {
                let text = required("dockerReference", &identity.docker_reference)?;
                Ok(Self::ExactReference(parse("dockerReference", text)?))
            }
            "matchExactRepository" | "exactRepository" => {
                let text = required("dockerRepository", &identity.docker_repository)?;
                if text.contains('@') {
                    return Err(bad("dockerRepository", "must not name a digest"));
                }
                Ok(Self::ExactRepository(
                    parse("dockerRepository", text)?.name(),
                ))
            }
            "remapIdentity" => Ok(Self::RemapIdentity {
                prefix: prefix("prefix", &identity.prefix)?,
                signed_prefix: prefix("signedPrefix", &identity.signed_prefix)?,
            }),
            other => Err(IdentityError::UnknownType(other.into())),
        }
    }

    /// The rule's policy name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MatchRepoDigestOrExact => "matchRepoDigestOrExact",
            Self::MatchExact => "matchExact",
            Self::MatchRepository => "matchRepository",
            Self::ExactReference(_) => "exactReference",
            Self::ExactRepository(_) => "exactRepository",
            Self::RemapIdentity { .. } => "remapIdentity",
        }
    }

    /// Whether a signature for `signed` is good for `image` under this rule.
    pub fn check(&self, image: &ImageRef, signed: &ImageRef) -> Result<(), IdentityError> {
        let ok = match self {
            Self::MatchRepoDigestOrExact => repo_digest_or_exact(image, signed),
            Self::MatchExact => image == signed,
            Self::MatchRepository => image.name() == signed.name(),
            Self::ExactReference(wanted) => wanted == signed,
            Self::ExactRepository(wanted) => *wanted == signed.name(),
            Self::RemapIdentity {
                prefix,
                signed_prefix,
            } => match remap(image, prefix, signed_prefix) {
                Some(Ok(remapped)) => repo_digest_or_exact(&remapped, signed),
                // A remapped name that is not a reference matches nothing.
                Some(Err(())) => false,
                None => repo_digest_or_exact(image, signed),
            },
        };
        if ok {
            Ok(())
        } else {
            Err(IdentityError::Mismatch {
                rule: self.name(),
                image: image.to_string(),
                signed: signed.to_string(),
            })
        }
    }
}

fn repo_digest_or_exact(image: &ImageRef, signed: &ImageRef) -> bool {
    if image.digest().is_some() {
        image.name() == signed.name()
    } else {
        image == signed
    }
}

/// `image` with `prefix` replaced by `signed_prefix`; `None` when the prefix does not apply.
/// The prefix must end at a path-component boundary, so `example.com/a` does not cover
/// `example.com/ab`.
fn remap(image: &ImageRef, prefix: &str, signed_prefix: &str) -> Option<Result<ImageRef, ()>> {
    let full = image.to_string();
    let rest = full.strip_prefix(prefix)?;
    if !(rest.is_empty() || rest.starts_with(['/', ':', '@'])) {
        return None;
    }
    Some(ImageRef::parse(&format!("{signed_prefix}{rest}")).map_err(|_| ()))
}

fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, IdentityError> {
    if value.is_empty() {
        Err(bad(field, "is required"))
    } else {
        Ok(value)
    }
}

fn parse(field: &'static str, text: &str) -> Result<ImageRef, IdentityError> {
    ImageRef::parse(text).map_err(|e| bad(field, &format!("\"{text}\": {e}")))
}

/// A remap prefix, normalised the way references are (`nginx` would otherwise never match the
/// `docker.io/library/nginx` an image normalises to): a host, a host and namespace, or a
/// repository, never with a tag or digest.
fn prefix(field: &'static str, text: &str) -> Result<String, IdentityError> {
    let text = required(field, text)?;
    if text.contains('@') || text.ends_with('/') {
        return Err(bad(
            field,
            &format!("\"{text}\" is not a host or repository prefix"),
        ));
    }
    // A bare host (has a dot or a port, or is localhost, and no slash) stays as it is.
    let host_only =
        !text.contains('/') && (text.contains('.') || text.contains(':') || text == "localhost");
    if host_only {
        return Ok(text.into());
    }
    let parsed = parse(field, text)?;
    if text
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
    {
        return Err(bad(field, &format!("\"{text}\" must not name a tag")));
    }
    Ok(parsed.name())
}

fn bad(field: &'static str, error: &str) -> IdentityError {
    IdentityError::BadRule {
        field,
        error: error.into(),
    }
}
