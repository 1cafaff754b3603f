//! `signedIdentity`: which signed references an image accepts, with containers/image semantics.
//!
//! Every comparison is between normalised references ([`ImageRef`]), so `nginx`,
//! `docker.io/library/nginx:latest` and `index.docker.io/library/nginx` are one identity. A
//! signed identity that names neither a tag nor a digest matches only the repository rules.
//! `core/tests/containers_image.rs` holds containers/image's own tables for these rules.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use crate::policy::SignedIdentity;
use crate::reference::ImageRef;
use crate::simple::payload::{SignedReference, names_tag_or_digest};

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
    /// The signature must name exactly this reference (which names a tag or a digest),
    /// whatever the image is called.
    ExactReference(ImageRef),
    /// The signature must name this repository (`domain/path`), whatever the image is called.
    ExactRepository(String),
    /// An image under `prefix` is checked as if it were under `signed_prefix` (mirrors), then
    /// as [`Self::MatchRepoDigestOrExact`]. Both are a registry host, or a host and path compared
    /// as written (`docker.io/library`), the host normalised.
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
    /// `remapIdentity` rewrote the image into a string that is not a normalised reference.
    BadRemap {
        image: String,
        remapped: String,
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
            Self::BadRemap { image, remapped } => write!(
                f,
                "remapIdentity rewrites \"{image}\" to \"{remapped}\", not a normalised reference"
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
                // As containers/image's NewPRMExactReference: a name-only reference is refused.
                if !names_tag_or_digest(text) {
                    let why = format!("\"{text}\" names neither a tag nor a digest");
                    return Err(bad("dockerReference", &why));
                }
                Ok(Self::ExactReference(parse("dockerReference", text)?))
            }
            "matchExactRepository" | "exactRepository" => {
                // Any tag or digest is ignored, as containers/image does.
                let text = required("dockerRepository", &identity.docker_repository)?;
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
    pub fn check(&self, image: &ImageRef, signed: &SignedReference) -> Result<(), IdentityError> {
        let ok = match self {
            Self::MatchRepoDigestOrExact => repo_digest_or_exact(image, signed),
            Self::MatchExact => exact(image, signed),
            Self::MatchRepository => image.name() == signed.reference().name(),
            Self::ExactReference(wanted) => !signed.is_name_only() && wanted == signed.reference(),
            Self::ExactRepository(wanted) => *wanted == signed.reference().name(),
            Self::RemapIdentity { .. } => repo_digest_or_exact(&self.remapped(image)?, signed),
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

    /// What signatures are compared with: for `remapIdentity` an image under `prefix` rewritten
    /// under `signedPrefix` (an error when that is not a normalised reference), otherwise the
    /// image itself.
    pub fn remapped(&self, image: &ImageRef) -> Result<ImageRef, IdentityError> {
        match self {
            Self::RemapIdentity {
                prefix,
                signed_prefix,
            } => remap(image, prefix, signed_prefix),
            _ => Ok(image.clone()),
        }
    }
}

/// `matchExact`: the image's reference exactly, or for `name:tag@digest` the signed `name:tag`.
fn exact(image: &ImageRef, signed: &SignedReference) -> bool {
    let reference = signed.reference();
    !signed.is_name_only() && (image == reference || tag_of_pinned_matches(image, reference))
}

/// `name:tag@digest` names, as an identity, `name:tag`: its digest is checked against the
/// signature's manifest digest, and tag-preserving mutation writes this form, so a mutated
/// image must match where `name:tag` matched before it was pinned.
fn tag_of_pinned_matches(image: &ImageRef, signed: &ImageRef) -> bool {
    image.digest().is_some()
        && image.tag().is_some()
        && signed.digest().is_none()
        && image.name() == signed.name()
        && image.tag() == signed.tag()
}

/// containers/image's `matchRepoDigestOrExactReferenceValues`: a tagged image (also one with a
/// digest) is matched as by `matchExact`, an image named by digest alone by its repository.
fn repo_digest_or_exact(image: &ImageRef, signed: &SignedReference) -> bool {
    if image.tag().is_some() {
        exact(image, signed)
    } else {
        !signed.is_name_only() && image.name() == signed.reference().name()
    }
}

/// containers/image's `remapReferencePrefix`: an image whose repository name is `prefix` or lies
/// under it (the next character is `/`: `example.com/a` does not cover `example.com/ab`, nor
/// the host `example.com` the registry `example.com:5000`) has `prefix` replaced by
/// `signed_prefix`; the result must be a normalised reference (`vendor.example:5000@sha256:…`
/// or `docker.io/busybox:1` are not). Other images are returned as they are.
pub(crate) fn remap(
    image: &ImageRef,
    prefix: &str,
    signed_prefix: &str,
) -> Result<ImageRef, IdentityError> {
    let name = image.name();
    let covered = name
        .strip_prefix(prefix)
        .is_some_and(|under| under.is_empty() || under.starts_with('/'));
    // The full reference starts with the name, so the tag and digest follow the prefix too.
    let full = image.to_string();
    let rest = match full.strip_prefix(prefix) {
        Some(rest) if covered => rest,
        _ => return Ok(image.clone()),
    };
    let remapped = format!("{signed_prefix}{rest}");
    match ImageRef::parse(&remapped) {
        Ok(reference) if reference.to_string() == remapped => Ok(reference),
        _ => Err(IdentityError::BadRemap {
            image: full,
            remapped,
        }),
    }
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

/// A remap prefix as containers/image takes it: a registry host, or a host and a path without
/// tag or digest. The path is kept as written (`docker.io/library` covers the official images;
/// normalising it like a repository would make it `docker.io/library/library`); the host is
/// normalised as image hosts are (lower case, one name per registry), or it would never match.
/// A first component that is not a host (`busybox`, `ns/app`) is refused: containers/image
/// accepts it but it never matches anything.
fn prefix(field: &'static str, text: &str) -> Result<String, IdentityError> {
    let text = required(field, text)?;
    let invalid = || {
        let why = format!("\"{text}\" is not a registry host, or a host and a repository path");
        bad(field, &why)
    };
    let (host, path) = match text.split_once('/') {
        Some((host, path)) => (host, Some(path)),
        None => (text, None),
    };
    let is_host = host.contains(['.', ':']) || host == "localhost";
    if !is_host || text.contains('@') || path.is_some_and(|p| p.contains(':')) {
        return Err(invalid());
    }
    // Parsing validates the host and path (a placeholder path for a bare host) and gives the
    // host's normalised name.
    let parsed =
        ImageRef::parse(&format!("{host}/{}", path.unwrap_or("x"))).map_err(|_| invalid())?;
    Ok(match path {
        Some(path) => format!("{}/{path}", parsed.domain()),
        None => parsed.domain().into(),
    })
}

fn bad(field: &'static str, error: &str) -> IdentityError {
    IdentityError::BadRule {
        field,
        error: error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).expect("a valid reference")
    }

    fn signed(text: &str) -> SignedReference {
        SignedReference::parse(text).expect("a valid reference")
    }

    fn remap_rule(prefix: &str, signed_prefix: &str) -> IdentityRule {
        IdentityRule::from_policy(&SignedIdentity {
            kind: "remapIdentity".into(),
            prefix: prefix.into(),
            signed_prefix: signed_prefix.into(),
            ..SignedIdentity::default()
        })
        .expect("a valid rule")
    }

    // Reproducer: fuzz/regressions/simple_payload-remap-host-prefix-and-port.
    #[test]
    fn a_host_prefix_does_not_remap_the_same_host_with_a_port() {
        let rule = remap_rule("quay.io", "mirror.example.com");
        let on_port = image("quay.io:5000/org/app:v1");
        let signed_for_mirror_port = signed("mirror.example.com:5000/org/app:v1");
        assert!(rule.check(&on_port, &signed_for_mirror_port).is_err());
        // The same host without a port is remapped, and a port image still matches itself.
        let signed_for_mirror = signed("mirror.example.com/org/app:v1");
        assert!(
            rule.check(&image("quay.io/org/app:v1"), &signed_for_mirror)
                .is_ok()
        );
        assert!(
            rule.check(&on_port, &signed("quay.io:5000/org/app:v1"))
                .is_ok()
        );
    }

    #[test]
    fn match_exact_takes_a_pinned_tag_as_its_tag_and_a_bare_digest_as_nothing() {
        let rule = IdentityRule::MatchExact;
        let app = signed("icr.io/team/app:1");
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let pinned = image(&alloc::format!("icr.io/team/app:1@{d}"));
        assert!(rule.check(&pinned, &app).is_ok());
        let other_tag = image(&alloc::format!("icr.io/team/app:2@{d}"));
        assert!(rule.check(&other_tag, &app).is_err());
        let bare = image(&alloc::format!("icr.io/team/app@{d}"));
        assert!(rule.check(&bare, &app).is_err());
    }

    #[test]
    fn a_repository_prefix_remaps_itself_and_what_is_under_it_only() {
        let rule = remap_rule("quay.io/org/app", "mirror.example.com/org/app");
        let app = signed("mirror.example.com/org/app:v1");
        assert!(rule.check(&image("quay.io/org/app:v1"), &app).is_ok());
        let longer = image("quay.io/org/apps:v1");
        assert!(
            rule.check(&longer, &signed("mirror.example.com/org/apps:v1"))
                .is_err()
        );
        let nested = remap_rule("quay.io/org", "mirror.example.com/org");
        assert!(nested.check(&image("quay.io/org/app:v1"), &app).is_ok());
    }

    #[test]
    fn a_docker_hub_namespace_prefix_is_kept_as_written() {
        let rule = remap_rule("docker.io/library", "mirror.example.com/hub");
        let hub = signed("mirror.example.com/hub/busybox:1");
        assert!(rule.check(&image("busybox:1"), &hub).is_ok());
        // The host is normalised like an image's.
        let upper = remap_rule("Mirror.Example.COM/hub", "docker.io/library");
        let official = signed("busybox:1");
        let mirrored = image("mirror.example.com/hub/busybox:1");
        assert!(upper.check(&mirrored, &official).is_ok());
    }

    #[test]
    fn a_name_only_signed_identity_matches_repository_rules_only() {
        let busybox = signed("busybox");
        let tagged = image("busybox:latest");
        assert!(busybox.is_name_only());
        assert_eq!(busybox.to_string(), "docker.io/library/busybox");
        for rule in [
            IdentityRule::MatchExact,
            IdentityRule::MatchRepoDigestOrExact,
        ] {
            assert!(rule.check(&tagged, &busybox).is_err(), "{}", rule.name());
        }
        assert!(
            IdentityRule::MatchRepository
                .check(&tagged, &busybox)
                .is_ok()
        );
    }
}
