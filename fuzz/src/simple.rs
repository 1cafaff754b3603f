//! Simple signing: the signed payload, and the `signedIdentity` rules that compare its
//! identity with the image (containers-policy.json(5)).

use portieris_core::policy::SignedIdentity;
use portieris_core::reference::{Digest, ImageRef};
use portieris_core::simple::IdentityRule;
use portieris_core::simple::payload::{MAX_PAYLOAD, Payload};
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
        Some(Ok(&payload.identity)),
        reference.map(ImageRef::parse).as_ref().map(Result::as_ref)
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

/// Each rule as containers-policy.json(5) defines it.
fn check_rule(rule: &IdentityRule, image: &ImageRef, signed: &ImageRef) {
    let got = rule.check(image, signed).is_ok();
    let want = match rule {
        IdentityRule::MatchExact => image == signed,
        IdentityRule::MatchRepository => image.name() == signed.name(),
        IdentityRule::MatchRepoDigestOrExact if image.digest().is_some() => {
            image.name() == signed.name()
        }
        IdentityRule::MatchRepoDigestOrExact => image == signed,
        IdentityRule::ExactReference(wanted) => wanted == signed,
        IdentityRule::ExactRepository(wanted) => *wanted == signed.name(),
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

/// `remapIdentity`: when the image's repository name is `prefix` or lies under it (the next
/// character is `/`; containers/image's `refMatchesPrefix` compares names only, so a host
/// prefix never covers another port), `prefix` is replaced by `signedPrefix` in the full
/// reference, which must parse; then `matchRepoDigestOrExact`. Otherwise the image as it is.
fn remap_model(image: &ImageRef, signed: &ImageRef, prefix: &str, signed_prefix: &str) -> bool {
    let repo_digest_or_exact = |image: &ImageRef| {
        if image.digest().is_some() {
            image.name() == signed.name()
        } else {
            image == signed
        }
    };
    let name = image.name();
    let covered = name == prefix
        || (name.len() > prefix.len()
            && name.starts_with(prefix)
            && name.as_bytes()[prefix.len()] == b'/');
    if !covered {
        return repo_digest_or_exact(image);
    }
    let full = image.to_string();
    let remapped = format!("{signed_prefix}{}", &full[prefix.len()..]);
    ImageRef::parse(&remapped).is_ok_and(|r| repo_digest_or_exact(&r))
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
