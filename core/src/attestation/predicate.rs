//! Predicate types by URI, or by the short names `cosign attest --type` and sigstore
//! policy-controller accept for the types the field uses.

/// `(short name, URI)`, as cosign's `options/predicate.go` maps them.
pub const SHORT_NAMES: [(&str, &str); 10] = [
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
    ("link", "https://in-toto.io/Link/v1"),
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
];

/// The URI a policy's `predicateType` names: a short name's, or the text itself when it is a
/// URI (it has a scheme); `None` for anything else, so a typo is an error, not a type that no
/// attestation has.
pub fn resolve(written: &str) -> Option<&str> {
    if let Some((_, uri)) = SHORT_NAMES.iter().find(|(name, _)| *name == written) {
        return Some(uri);
    }
    let (scheme, rest) = written.split_once(':')?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (scheme_ok && !rest.is_empty() && !written.contains(char::is_whitespace)).then_some(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_resolve_to_cosign_uris() {
        assert_eq!(
            resolve("slsaprovenance1"),
            Some("https://slsa.dev/provenance/v1")
        );
        assert_eq!(resolve("spdxjson"), Some("https://spdx.dev/Document"));
        assert_eq!(
            resolve("vuln"),
            Some("https://cosign.sigstore.dev/attestation/vuln/v1")
        );
    }

    #[test]
    fn any_uri_is_its_own_type() {
        assert_eq!(
            resolve("https://example.com/p/v1"),
            Some("https://example.com/p/v1")
        );
        assert_eq!(resolve("urn:example:p"), Some("urn:example:p"));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "slsa",
            "",
            "SLSAProvenance",
            "https:",
            "1http://x",
            "https://a b",
        ] {
            assert_eq!(resolve(bad), None, "{bad:?}");
        }
    }
}
