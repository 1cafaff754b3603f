//! Simple signing: the signed payload, and the `signedIdentity` rules that compare its
//! identity with the image (containers-policy.json(5)).

use portieris_core::policy::SignedIdentity;
use portieris_core::reference::{Digest, ImageRef};
use portieris_core::simple::IdentityRule;
use portieris_core::simple::payload::{MAX_PAYLOAD, Payload, SignedReference};
use serde_json::Value;

use crate::input;

#[derive(serde::Deserialize)]
struct Envelope {
    critical: Value,
    #[serde(default, rename = "optional")]
    _optional: Option<serde::de::IgnoredAny>,
}

/// Target `simple_payload`: payload bytes, then after a NUL the lines `image`, `type`,
/// `dockerReference`, `dockerRepository`, `prefix`, `signedPrefix` of a `signedIdentity`.
pub fn run(data: &[u8]) {
    let (bytes, control) = input::split(data);
    let Ok(payload) = Payload::parse(bytes) else {
        return;
    };
    assert!(
        bytes.len() <= MAX_PAYLOAD,
        "a payload over the limit parsed"
    );
    // The parsed fields are exactly the critical fields, parsed as a reference and a digest.
    // The `optional` section is skipped, not read: serde_json does not check UTF-8 or number
    // ranges in what it skips (Go's decoder accepts both too), so only `critical` is re-read.
    let raw: Envelope = serde_json::from_slice(bytes).expect("it parsed");
    let critical = &raw.critical;
    assert_eq!(critical["type"], "atomic container signature");
    let reference = critical["identity"]["docker-reference"].as_str();
    let digest = critical["image"]["docker-manifest-digest"].as_str();
    assert_eq!(
        Some(Ok(payload.identity.reference())),
        reference.map(ImageRef::parse).as_ref().map(Result::as_ref)
    );
    // Name-only: no `@`, and no `:` after the last `/` (a `:` before it is a port).
    let names_tag_or_digest =
        |r: &str| r.contains('@') || r.rsplit('/').next().is_some_and(|l| l.contains(':'));
    assert_eq!(
        Some(payload.identity.is_name_only()),
        reference.map(|r| !names_tag_or_digest(r))
    );
    assert_eq!(
        Some(Ok(&payload.digest)),
        digest.map(Digest::parse).as_ref().map(Result::as_ref)
    );

    let control = String::from_utf8_lossy(control);
    let mut lines = control.lines();
    let image = lines.next().unwrap_or("quay.io/org/app:v1");
    let Ok(image) = ImageRef::parse(image) else {
        return;
    };
    let mut field = || lines.next().unwrap_or("").to_string();
    let identity = SignedIdentity {
        kind: field(),
        docker_reference: field(),
        docker_repository: field(),
        prefix: field(),
        signed_prefix: field(),
    };
    if let Ok(rule) = IdentityRule::from_policy(&identity) {
        check_rule(&rule, &image, &payload.identity);
    }
}

/// Each rule as containers-policy.json(5) defines it (core/tests/containers_image.rs holds
/// containers/image's tables), with our two differences: an image without a tag is `:latest`,
/// and `name:tag@digest` accepts a signature for `name:tag` (tag-preserving mutation).
fn check_rule(rule: &IdentityRule, image: &ImageRef, signed: &SignedReference) {
    let got = rule.check(image, signed).is_ok();
    let name_only = signed.is_name_only();
    let signed_ref = signed.reference();
    let want = match rule {
        IdentityRule::MatchExact => exact_model(image, signed),
        IdentityRule::MatchRepository => image.name() == signed_ref.name(),
        IdentityRule::MatchRepoDigestOrExact => repo_digest_or_exact_model(image, signed),
        IdentityRule::ExactReference(wanted) => !name_only && wanted == signed_ref,
        IdentityRule::ExactRepository(wanted) => *wanted == signed_ref.name(),
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => remap_model(image, signed, prefix, signed_prefix),
    };
    assert_eq!(
        got,
        want,
        "{} on image {image}, signed {signed}",
        rule.name()
    );
}

fn exact_model(image: &ImageRef, signed: &SignedReference) -> bool {
    let s = signed.reference();
    let pinned_tag = image.digest().is_some()
        && s.digest().is_none()
        && image.name() == s.name()
        && image.tag().is_some()
        && image.tag() == s.tag();
    !signed.is_name_only() && (image == s || pinned_tag)
}

/// A tagged image as `matchExact`, one named by digest alone by its repository; a name-only
/// signed identity never.
fn repo_digest_or_exact_model(image: &ImageRef, signed: &SignedReference) -> bool {
    if image.tag().is_some() {
        exact_model(image, signed)
    } else {
        !signed.is_name_only() && image.name() == signed.reference().name()
    }
}

/// `remapIdentity`: when the image's repository name is `prefix` or lies under it (the next
/// character is `/`; containers/image's `refMatchesPrefix` compares names only, so a host
/// prefix never covers another port), `prefix` is replaced by `signedPrefix` in the full
/// reference, which must be a normalised reference; then `matchRepoDigestOrExact`. Otherwise
/// the image as it is.
fn remap_model(
    image: &ImageRef,
    signed: &SignedReference,
    prefix: &str,
    signed_prefix: &str,
) -> bool {
    let name = image.name();
    let covered = name == prefix
        || (name.len() > prefix.len()
            && name.starts_with(prefix)
            && name.as_bytes()[prefix.len()] == b'/');
    if !covered {
        return repo_digest_or_exact_model(image, signed);
    }
    let full = image.to_string();
    let remapped = format!("{signed_prefix}{}", &full[prefix.len()..]);
    ImageRef::parse(&remapped)
        .is_ok_and(|r| r.to_string() == remapped && repo_digest_or_exact_model(&r, signed))
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_the_ignored_optional_section_holds_replays_clean() {
        super::run(include_bytes!(
            "../regressions/simple_payload-invalid-utf8-in-optional"
        ));
        super::run(include_bytes!(
            "../regressions/simple_payload-number-out-of-range-in-optional"
        ));
    }

    #[test]
    fn a_host_prefix_does_not_remap_the_same_host_with_a_port() {
        super::run(include_bytes!(
            "../regressions/simple_payload-remap-host-prefix-and-port"
        ));
    }
}
