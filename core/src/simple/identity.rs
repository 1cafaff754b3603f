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
            Self::MatchExact => image == signed || tag_of_pinned_matches(image, signed),
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

fn repo_digest_or_exact(image: &ImageRef, signed: &ImageRef) -> bool {
    if image.digest().is_some() {
        image.name() == signed.name()
    } else {
        image == signed
    }
}

/// `image` with `prefix` replaced by `signed_prefix`; `None` when the prefix does not apply.
/// As containers/image's `refMatchesPrefix`, the prefix is compared with the repository name
/// only and must be all of it or end where a `/` follows: `example.com/a` does not cover
/// `example.com/ab`, and the host `example.com` does not cover `example.com:5000/a` (another
/// registry; found by the `simple_payload` fuzz target, see docs/fuzzing.md F2).
fn remap(image: &ImageRef, prefix: &str, signed_prefix: &str) -> Option<Result<ImageRef, ()>> {
    let name = image.name();
    let under = name.strip_prefix(prefix)?;
    if !(under.is_empty() || under.starts_with('/')) {
        return None;
    }
    // The full reference starts with the name, so the tag and digest follow the prefix too.
    let full = image.to_string();
    let rest = full.strip_prefix(prefix)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).expect("a valid reference")
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
        let on_port = image("quay.io:443/org/app:v1");
        let signed_for_mirror_port = image("mirror.example.com:443/org/app:v1");
        assert!(rule.check(&on_port, &signed_for_mirror_port).is_err());
        // The same host without a port is remapped, and a port image still matches itself.
        let signed_for_mirror = image("mirror.example.com/org/app:v1");
        assert!(
            rule.check(&image("quay.io/org/app:v1"), &signed_for_mirror)
                .is_ok()
        );
        assert!(rule.check(&on_port, &on_port).is_ok());
    }

    #[test]
    fn match_exact_takes_a_pinned_tag_as_its_tag_and_a_bare_digest_as_nothing() {
        let rule = IdentityRule::MatchExact;
        let signed = image("icr.io/team/app:1");
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let pinned = image(&alloc::format!("icr.io/team/app:1@{d}"));
        assert!(rule.check(&pinned, &signed).is_ok());
        let other_tag = image(&alloc::format!("icr.io/team/app:2@{d}"));
        assert!(rule.check(&other_tag, &signed).is_err());
        let bare = image(&alloc::format!("icr.io/team/app@{d}"));
        assert!(rule.check(&bare, &signed).is_err());
    }

    #[test]
    fn a_repository_prefix_remaps_itself_and_what_is_under_it_only() {
        let rule = remap_rule("quay.io/org/app", "mirror.example.com/org/app");
        let signed = image("mirror.example.com/org/app:v1");
        assert!(rule.check(&image("quay.io/org/app:v1"), &signed).is_ok());
        let longer = image("quay.io/org/apps:v1");
        assert!(
            rule.check(&longer, &image("mirror.example.com/org/apps:v1"))
                .is_err()
        );
        let nested = remap_rule("quay.io/org", "mirror.example.com/org");
        assert!(nested.check(&image("quay.io/org/app:v1"), &signed).is_ok());
    }
}
