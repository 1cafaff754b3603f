//! containers/image's own tests of `signedBy`, ported row by row from its `signature/` directory
//! at commit df7e80d2d19872b61f352a8a182ec934dc0c2346: the identity tables of
//! policy_reference_match_test.go (and the prefix list of policy_config_test.go), the keyrings
//! and verifications of mechanism_test.go, and docker_test.go's manifest signature checks.
//! Fixtures: fixtures/containers-image (see its NOTICE). A row where we differ on purpose
//! asserts our behaviour and says why; each such row is checked to still differ from
//! containers/image, so the list cannot go stale.
#![cfg(feature = "openpgp")]

use std::collections::HashSet;

/// Rows whose result is deliberately the opposite of containers/image's: (a, b, why), written
/// with the table's placeholders.
type Differences<'a> = &'a [(&'a str, &'a str, &'a str)];

/// Runs a table: `ours(a, b)` is our answer, `None` for a row that does not apply to us (an
/// invalid image reference, which containers/image's tests skip too).
fn run(
    test: &str,
    cases: &[(String, String, bool)],
    differences: Differences<'_>,
    ours: impl Fn(&str, &str) -> Option<bool>,
) {
    let mut failures = Vec::new();
    let mut used = HashSet::new();
    for (a, b, theirs) in cases {
        let Some(got) = ours(a, b) else { continue };
        let difference = differences
            .iter()
            .find(|(x, y, _)| expand(x) == *a && expand(y) == *b);
        let want = match difference {
            Some((x, y, _)) => {
                used.insert((*x, *y));
                !theirs
            }
            None => *theirs,
        };
        if got != want {
            let why = difference.map_or("", |(_, _, why)| why);
            failures.push(format!("{a} vs {b}: got {got}, want {want} {why}"));
        }
    }
    assert!(failures.is_empty(), "{test}:\n{}", failures.join("\n"));
    for (x, y, _) in differences {
        assert!(used.contains(&(*x, *y)), "{test}: no row {x} vs {y}");
    }
}

/// The Go tables' constants, written `$D`, `$O`, `$RHEL`, `$UNTAGGED_RHEL` in rows.
fn expand(text: &str) -> String {
    text.replace(
        "$D",
        "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    )
    .replace(
        "$O",
        "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    )
    .replace("$UNTAGGED_RHEL", "registry.access.redhat.com/rhel7/rhel")
    .replace("$RHEL", "registry.access.redhat.com/rhel7/rhel:7.2.3")
}

fn rows(table: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    table
        .iter()
        .map(|(a, b, r)| (expand(a), expand(b), *r))
        .collect()
}

/// A symmetric table, both ways round.
fn symmetric(table: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    let mut cases = rows(table);
    cases.extend(rows(table).into_iter().map(|(a, b, r)| (b, a, r)));
    cases
}

mod identity {
    use portieris_core::ImageRef;
    use portieris_core::policy::SignedIdentity;
    use portieris_core::simple::payload::SignedReference;
    use portieris_core::simple::{IdentityError, IdentityRule};

    use super::{Differences, expand, rows, run, symmetric};

    /// prmExactMatchTestTable: symmetric.
    const EXACT: &[(&str, &str, bool)] = &[
        // Success, simple matches
        ("busybox:latest", "busybox:latest", true),
        ("$RHEL", "$RHEL", true),
        ("busybox$D", "busybox$D", true),
        // Non-canonical reference format is canonicalized
        ("library/busybox:latest", "busybox:latest", true),
        ("docker.io/library/busybox:latest", "busybox:latest", true),
        ("library/busybox$D", "busybox$D", true),
        // Mismatch
        ("busybox:latest", "busybox:notlatest", false),
        ("busybox:latest", "notbusybox:latest", false),
        (
            "busybox:latest",
            "hostname/library/busybox:notlatest",
            false,
        ),
        (
            "hostname/library/busybox:latest",
            "busybox:notlatest",
            false,
        ),
        ("busybox:latest", "$RHEL", false),
        ("busybox$D", "notbusybox$D", false),
        ("busybox:latest", "busybox$D", false),
        ("busybox$D", "busybox$O", false),
        // NameOnly references
        ("busybox", "busybox:latest", false),
        ("busybox", "busybox$D", false),
        ("busybox", "busybox", false),
        // References with both tags and digests: both must match
        ("busybox:latest$D", "busybox:latest$D", true),
        ("busybox:latest$D", "busybox:latest$O", false),
        ("busybox:latest$D", "busybox:notlatest$D", false),
        ("busybox:latest$D", "busybox$D", false),
        ("busybox:latest$D", "busybox:latest", false),
        // Invalid format
        (
            "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES",
            "busybox:latest",
            false,
        ),
        ("", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", false),
        ("INVALID", "INVALID", false),
    ];

    /// prmRepositoryMatchTestTable: symmetric.
    const REPOSITORY: &[(&str, &str, bool)] = &[
        // Success, simple matches
        ("busybox:latest", "busybox:latest", true),
        ("$RHEL", "$RHEL", true),
        ("busybox$D", "busybox$D", true),
        // Non-canonical reference format is canonicalized
        ("library/busybox:latest", "busybox:latest", true),
        ("docker.io/library/busybox:latest", "busybox:latest", true),
        ("library/busybox$D", "busybox$D", true),
        // The same as above, but with mismatching tags
        ("busybox:latest", "busybox:notlatest", true),
        ("$RHELtagsuffix", "$RHEL", true),
        ("library/busybox:latest", "busybox:notlatest", true),
        ("busybox:latest", "library/busybox:notlatest", true),
        (
            "docker.io/library/busybox:notlatest",
            "busybox:latest",
            true,
        ),
        (
            "busybox:notlatest",
            "docker.io/library/busybox:latest",
            true,
        ),
        ("busybox:latest", "busybox$D", true),
        ("busybox$D", "busybox$O", true),
        // The same as above, but with defaulted tags (which can happen with /usr/bin/cosign)
        ("busybox", "busybox:notlatest", true),
        ("$RHEL", "$UNTAGGED_RHEL", true),
        ("busybox", "busybox$D", true),
        ("library/busybox", "busybox", true),
        ("docker.io/library/busybox", "busybox", true),
        // Mismatch
        ("busybox:latest", "notbusybox:latest", false),
        (
            "hostname/library/busybox:latest",
            "busybox:notlatest",
            false,
        ),
        ("busybox:latest", "$RHEL", false),
        ("busybox$D", "notbusybox$D", false),
        // References with both tags and digests: both are ignored
        ("busybox:latest$D", "busybox:latest$D", true),
        ("busybox:latest$D", "busybox:latest$O", true),
        ("busybox:latest$D", "busybox:notlatest$D", true),
        ("busybox:latest$D", "busybox$D", true),
        ("busybox:latest$D", "busybox:latest", true),
        // Invalid format
        (
            "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES",
            "busybox:latest",
            false,
        ),
        ("", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", false),
        ("INVALID", "INVALID", false),
    ];

    /// matchRepoDigestOrExactTestTable: (image, signed), not symmetric.
    const REPO_DIGEST_OR_EXACT: &[(&str, &str, bool)] = &[
        // Tag mismatch
        ("busybox:latest", "busybox:notlatest", false),
        ("$RHELtagsuffix", "$RHEL", false),
        ("library/busybox:latest", "busybox:notlatest", false),
        ("busybox:latest", "library/busybox:notlatest", false),
        (
            "docker.io/library/busybox:notlatest",
            "busybox:latest",
            false,
        ),
        (
            "busybox:notlatest",
            "docker.io/library/busybox:latest",
            false,
        ),
        // NameOnly references
        ("busybox", "busybox:latest", false),
        ("busybox:latest", "busybox", false),
        ("busybox", "busybox$D", false),
        ("busybox$D", "busybox", false),
        ("$RHEL", "$UNTAGGED_RHEL", false),
        ("busybox", "busybox", false),
        // Tag references only accept signatures with matching tags.
        ("busybox:latest", "busybox$D", false),
        // Digest references accept any signature with matching repository.
        ("busybox$D", "busybox:latest", true),
        ("busybox$D", "busybox$O", true),
        // References with both tags and digests: both must match
        ("busybox:latest$D", "busybox:latest", false),
        ("busybox:latest$D", "busybox:notlatest", false),
        ("busybox:latest", "busybox:latest$D", false),
        ("busybox:latest$D", "busybox:latest$O", false),
        ("busybox:latest$D", "busybox:notlatest$O", false),
    ];

    /// A pod's image without tag or digest is pulled as `:latest` (kubelet, docker), so that is
    /// the image we check; containers/image's tests also pass images that name neither, which
    /// its docker transport never produces.
    const IMPLICIT_LATEST: &str = "an image without a tag is the image :latest";
    /// `mutation: tagAndDigest` rewrites an admitted `name:tag` to `name:tag@digest`; the
    /// digest is checked against the signature's manifest digest, and the signed `name:tag`
    /// must still match when that pod is re-admitted (its ReplicaSet's pods, for example).
    const PINNED_TAG: &str = "name:tag@digest accepts a signature for name:tag";

    /// The deliberate differences of `matchExact`, `matchRepoDigestOrExact` and
    /// `remapIdentity` (which ends in `matchRepoDigestOrExact`).
    const EXACT_DIFFERENCES: Differences<'static> = &[
        ("busybox", "busybox:latest", IMPLICIT_LATEST),
        ("busybox:latest$D", "busybox:latest", PINNED_TAG),
    ];

    fn compile(identity: SignedIdentity) -> Result<IdentityRule, IdentityError> {
        IdentityRule::from_policy(&identity)
    }

    fn simple(kind: &str) -> IdentityRule {
        compile(SignedIdentity {
            kind: kind.into(),
            ..SignedIdentity::default()
        })
        .expect("a rule without fields")
    }

    fn remap(prefix: &str, signed_prefix: &str) -> Result<IdentityRule, IdentityError> {
        compile(SignedIdentity {
            kind: "remapIdentity".into(),
            prefix: prefix.into(),
            signed_prefix: signed_prefix.into(),
            ..SignedIdentity::default()
        })
    }

    /// Whether `rule` accepts a signature naming `signed` (as a payload's `docker-reference`,
    /// which must be a valid reference) for `image`.
    fn accepts(rule: &IdentityRule, image: &ImageRef, signed: &str) -> bool {
        SignedReference::parse(signed).is_ok_and(|s| rule.check(image, &s).is_ok())
    }

    /// `accepts` for an image given as text; `None` when it is not a valid reference (no pod
    /// with it gets this far; containers/image's tests skip those rows).
    fn check(rule: &IdentityRule, image: &str, signed: &str) -> Option<bool> {
        let Ok(image) = ImageRef::parse(image) else {
            return None;
        };
        Some(accepts(rule, &image, signed))
    }

    /// The rows of TestPRMMatchRepoDigestOrExactMatchesDockerReference: what `matchExact`
    /// accepts, what `matchRepository` refuses, and its own table.
    fn repo_digest_or_exact_cases() -> Vec<(String, String, bool)> {
        let mut cases: Vec<_> = symmetric(EXACT).into_iter().filter(|c| c.2).collect();
        cases.extend(symmetric(REPOSITORY).into_iter().filter(|c| !c.2));
        cases.extend(rows(REPO_DIGEST_OR_EXACT));
        cases
    }

    #[test]
    fn invalid_references_are_refused() {
        // TestParseImageAndDockerReference, TestParseDockerReferences
        for bad in ["UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", ""] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
            assert!(SignedReference::parse(bad).is_err(), "{bad}");
        }
        let rhel = SignedReference::parse(&expand("$RHEL")).expect("valid");
        assert_eq!(rhel.to_string(), expand("$RHEL"));
        assert!(!rhel.is_name_only());
        let busybox = SignedReference::parse("busybox").expect("valid");
        assert!(busybox.is_name_only());
        assert_eq!(busybox.to_string(), "docker.io/library/busybox");
    }

    #[test]
    fn match_exact() {
        // TestPRMMatchExactMatchesDockerReference
        let rule = simple("matchExact");
        run(
            "matchExact",
            &symmetric(EXACT),
            EXACT_DIFFERENCES,
            |a, b| check(&rule, a, b),
        );
    }

    #[test]
    fn match_repo_digest_or_exact() {
        // TestPRMMatchRepoDigestOrExactMatchesDockerReference (and, with both references
        // valid, TestMatchRepoDigestOrExactReferenceValues: the same rows).
        for kind in ["", "matchRepoDigestOrExact"] {
            let rule = simple(kind);
            let cases = repo_digest_or_exact_cases();
            run(kind, &cases, EXACT_DIFFERENCES, |a, b| check(&rule, a, b));
        }
    }

    #[test]
    fn match_repository() {
        // TestPRMMatchRepositoryMatchesDockerReference
        let rule = simple("matchRepository");
        run("matchRepository", &symmetric(REPOSITORY), &[], |a, b| {
            check(&rule, a, b)
        });
    }

    #[test]
    fn exact_reference() {
        // TestPRMExactReferenceMatchesDockerReference: the rule's dockerReference is `a`, the
        // image does not matter. A dockerReference that is invalid or names neither a tag nor a
        // digest is refused when the policy is compiled (as NewPRMExactReference does), so it
        // accepts nothing.
        let image = ImageRef::parse("unrelated.example/image:1").expect("valid");
        run("exactReference", &symmetric(EXACT), &[], |a, b| {
            let rule = compile(SignedIdentity {
                kind: "exactReference".into(),
                docker_reference: a.into(),
                ..SignedIdentity::default()
            });
            Some(rule.is_ok_and(|rule| accepts(&rule, &image, b)))
        });
        // TestNewPRMExactReference
        for (reference, valid) in [
            ("library/busybox:latest", true),
            ("", false),
            ("INVALIDUPPERCASE:latest", false),
            ("library/busybox", false),
        ] {
            let rule = compile(SignedIdentity {
                kind: "exactReference".into(),
                docker_reference: reference.into(),
                ..SignedIdentity::default()
            });
            assert_eq!(rule.is_ok(), valid, "{reference}: {rule:?}");
        }
    }

    #[test]
    fn exact_repository() {
        // TestPRMExactRepositoryMatchesDockerReference: the rule's dockerRepository is `a`;
        // a tag or digest in it is ignored, as containers/image does.
        let image = ImageRef::parse("unrelated.example/image:1").expect("valid");
        run("exactRepository", &symmetric(REPOSITORY), &[], |a, b| {
            let rule = compile(SignedIdentity {
                kind: "exactRepository".into(),
                docker_repository: a.into(),
                ..SignedIdentity::default()
            });
            Some(rule.is_ok_and(|rule| accepts(&rule, &image, b)))
        });
    }

    #[test]
    fn remap_identity_ref_matches_prefix() {
        // TestPRMRemapIdentityRefMatchesPrefix: (image, prefix, covered). An image is covered
        // when the rule rewrites it (the signed prefix differs from every prefix here).
        const TABLE: &[(&str, &str, bool)] = &[
            // Prefix is a reference.Domain() value
            ("docker.io/image", "docker.io", true),
            ("docker.io/image", "example.com", false),
            ("example.com:5000/image", "example.com:5000", true),
            ("example.com:50000/image", "example.com:5000", false),
            ("example.com:5000/image", "example.com", false),
            ("example.com/foo", "example.com", true),
            ("example.com/foo/bar", "example.com", true),
            ("example.com/foo/bar:baz", "example.com", true),
            ("example.com/foo/bar$D", "example.com", true),
            // Prefix is a reference.Named.Name() value or a repo namespace
            ("docker.io/ns/image", "docker.io/library", false),
            ("example.com/library", "docker.io/library", false),
            ("docker.io/libraryy/image", "docker.io/library", false),
            ("docker.io/library/busybox", "docker.io/library", true),
            ("example.com/ns/image", "example.com/ns", true),
            ("example.com/ns2/image", "example.com/ns", false),
            ("example.com/n2/image", "example.com/ns", false),
            ("example.com", "example.com/library/busybox", false),
            ("example.com:5000/ns/image", "example.com/ns", false),
            ("example.com/ns/image", "example.com:5000/ns", false),
            (
                "docker.io/library/busybox",
                "docker.io/library/busybox",
                true,
            ),
            (
                "example.com/library/busybox",
                "docker.io/library/busybox",
                false,
            ),
            (
                "docker.io/library/busybox2",
                "docker.io/library/busybox",
                false,
            ),
            ("example.com/ns/image", "example.com/ns/image", true),
            ("example.com/ns/imag2", "example.com/ns/image", false),
            ("example.com/ns/imagee", "example.com/ns/image", false),
            ("example.com:5000/ns/image", "example.com/ns/image", false),
            ("example.com/ns/image", "example.com:5000/ns/image", false),
            ("example.com/ns/image:tag", "example.com/ns/image", true),
            ("example.com/ns/image$D", "example.com/ns/image", true),
            ("example.com/ns/image:tag$D", "example.com/ns/image", true),
        ];
        run("refMatchesPrefix", &rows(TABLE), &[], |image, prefix| {
            let rule = remap(prefix, "docker.io/library/signed-prefix").expect("valid rule");
            let image = ImageRef::parse(image).expect("valid image");
            Some(rule.remapped(&image).as_ref() != Ok(&image))
        });
    }

    #[test]
    fn remap_identity_remap_reference_prefix() {
        // TestPRMRemapIdentityRemapReferencePrefix: (prefix, signedPrefix, image, rewritten),
        // "" where the rewrite must fail. A signedPrefix that is not a host (`notlocalhost`)
        // fails for us when the policy is compiled rather than when an image is rewritten.
        const TABLE: &[(&str, &str, &str, &str)] = &[
            // Match sanity checking, primarily tested in TestPRMRefMatchesPrefix
            (
                "mirror.example",
                "vendor.example",
                "mirror.example/ns/image:tag",
                "vendor.example/ns/image:tag",
            ),
            (
                "mirror.example",
                "vendor.example",
                "different.com/ns/image:tag",
                "different.com/ns/image:tag",
            ),
            (
                "mirror.example/ns",
                "vendor.example/vendor-ns",
                "mirror.example/different-ns/image:tag",
                "mirror.example/different-ns/image:tag",
            ),
            (
                "docker.io",
                "not-docker-signed.example/ns",
                "busybox",
                "not-docker-signed.example/ns/library/busybox",
            ),
            // Rewrites work as expected
            (
                "mirror.example",
                "vendor.example",
                "mirror.example/ns/image:tag",
                "vendor.example/ns/image:tag",
            ),
            (
                "example.com/mirror",
                "example.com/vendor",
                "example.com/mirror/image:tag",
                "example.com/vendor/image:tag",
            ),
            (
                "example.com/ns/mirror",
                "example.com/ns/vendor",
                "example.com/ns/mirror:tag",
                "example.com/ns/vendor:tag",
            ),
            (
                "mirror.example",
                "vendor.example",
                "prefixmirror.example/ns/image:tag",
                "prefixmirror.example/ns/image:tag",
            ),
            (
                "docker.io",
                "not-docker-signed.example",
                "busybox",
                "not-docker-signed.example/library/busybox",
            ),
            (
                "docker.io/library",
                "not-docker-signed.example/ns",
                "busybox",
                "not-docker-signed.example/ns/busybox",
            ),
            (
                "docker.io/library/busybox",
                "not-docker-signed.example/ns/notbusybox",
                "busybox",
                "not-docker-signed.example/ns/notbusybox",
            ),
            // On match, tag/digest is preserved
            (
                "mirror.example",
                "vendor.example",
                "mirror.example/image",
                "vendor.example/image",
            ),
            (
                "mirror.example",
                "vendor.example",
                "mirror.example/image:tag",
                "vendor.example/image:tag",
            ),
            (
                "mirror.example",
                "vendor.example",
                "mirror.example/image$D",
                "vendor.example/image$D",
            ),
            (
                "mirror.example",
                "vendor.example",
                "mirror.example/image:tag$D",
                "vendor.example/image:tag$D",
            ),
            // Rewrite creating an invalid reference
            (
                "mirror.example/ns/image",
                "vendor.example:5000",
                "mirror.example/ns/image:tag",
                "",
            ),
            // Rewrite creating a valid reference string in short format, which would imply a
            // docker.io prefix and is rejected
            (
                "mirror.example/ns/image",
                "vendor.example:5000",
                "mirror.example/ns/image$D",
                "",
            ),
            (
                "mirror.example/ns/image",
                "notlocalhost",
                "mirror.example/ns/image:tag",
                "",
            ),
        ];
        for (prefix, signed_prefix, image, expected) in TABLE {
            let (image, expected) = (expand(image), expand(expected));
            let image = ImageRef::parse(&image).expect("valid image");
            let got = remap(prefix, signed_prefix).and_then(|rule| rule.remapped(&image));
            let want = (!expected.is_empty()).then(|| ImageRef::parse(&expected).expect("valid"));
            assert_eq!(got.ok(), want, "{prefix} -> {signed_prefix}: {image}");
        }
    }

    #[test]
    fn remap_identity_matches_docker_reference() {
        // TestPRMRemapIdentityMatchesDockerReference: (prefix, signedPrefix, image, signed).
        // containers/image builds these rules unvalidated; we compile them as a policy would,
        // and a refused rule accepts nothing.
        const TABLE: &[(&str, &str, &str, &str, bool)] = &[
            // No match rewriting
            (
                "does-not-match.com",
                "does-not-match.rewritten",
                "busybox:latest",
                "busybox:latest",
                true,
            ),
            (
                "does-not-match.com",
                "does-not-match.rewritten",
                "busybox:latest",
                "notbusybox:latest",
                false,
            ),
            // Match rewriting non-docker
            (
                "mirror.example",
                "public.com",
                "mirror.example/busybox:1",
                "public.com/busybox:1",
                true,
            ),
            (
                "mirror.example",
                "public.com",
                "mirror.example/busybox:1",
                "public.com/busybox:not1",
                false,
            ),
            // Rewriting to docker.io
            (
                "mirror.example",
                "docker.io/library",
                "mirror.example/busybox:latest",
                "busybox:latest",
                true,
            ),
            (
                "mirror.example",
                "docker.io/library",
                "mirror.example/alpine:latest",
                "busybox:latest",
                false,
            ),
            // Rewriting from docker.io
            (
                "docker.io/library",
                "original.com",
                "copied:latest",
                "original.com/copied:latest",
                true,
            ),
            (
                "docker.io/library",
                "original.com",
                "copied:latest",
                "original.com/ns/copied:latest",
                false,
            ),
            // Invalid object: prefix is not a host name
            (
                "busybox",
                "example.com/busybox",
                "busybox:latest",
                "example.com/busybox:latest",
                false,
            ),
            // Invalid object: signedPrefix is not a host name
            (
                "docker.io/library/busybox",
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
                false,
            ),
            // Invalid object: invalid prefix. "Happens to work, not an API promise" upstream:
            // the prefix matches nothing, so the image is checked as itself. We refuse a prefix
            // whose first component is not a registry host (it could never match), so the rule
            // accepts nothing.
            (
                "UPPERCASE",
                "example.com",
                "example.com/foo:latest",
                "example.com/foo:latest",
                false,
            ),
            (
                "example.com",
                "UPPERCASE",
                "example.com/foo:latest",
                "UPPERCASE/foo:latest",
                false,
            ),
        ];
        for (prefix, signed_prefix, image, signed, result) in TABLE {
            let rule = remap(prefix, signed_prefix);
            let got = rule.is_ok_and(|rule| check(&rule, image, signed) == Some(true));
            assert_eq!(
                got, *result,
                "{prefix} -> {signed_prefix}: {image} vs {signed}"
            );
        }
        // Otherwise the same as matchRepoDigestOrExact, with no rewrite and with a rewrite of
        // the image's registry (prmRemapIdentityMRDOETestCase).
        let cases = repo_digest_or_exact_cases();
        let none = remap(
            "never-causes-a-rewrite.example",
            "never-causes-a-rewrite.example",
        )
        .expect("valid rule");
        run("remapIdentity", &cases, EXACT_DIFFERENCES, |a, b| {
            check(&none, a, b)
        });
        run(
            "remapIdentity rewritten",
            &cases,
            EXACT_DIFFERENCES,
            |a, b| {
                let image = ImageRef::parse(a).ok()?;
                let rule = remap(&modified(image.domain()), image.domain()).expect("valid rule");
                check(&rule, &modified(&image.to_string()), b)
            },
        );
    }

    /// modifiedString: the first letter replaced by the next one.
    fn modified(text: &str) -> String {
        let mut chars = text.chars();
        let first = match chars.next() {
            Some('z') => 'a',
            Some(c @ 'a'..='y') => char::from(c as u8 + 1),
            other => panic!("unexpected first character {other:?}"),
        };
        format!("{first}{}", chars.as_str())
    }

    #[test]
    fn remap_identity_prefixes() {
        // TestValidateIdentityRemappingPrefix (policy_config_test.go).
        for valid in [
            "localhost",
            "example.com",
            "example.com:80",
            "example.com/repo",
            "example.com/ns1/ns2/ns3/repo.with.dots-dashes_underscores",
            "example.com:80/ns1/ns2/ns3/repo.with.dots-dashes_underscores",
        ] {
            assert!(remap(valid, valid).is_ok(), "{valid}");
        }
        // Accepted upstream with the note "invalid, do not actually work, and may be rejected
        // in the future": a first component that is not a registry host never matches a
        // normalised name. We refuse them, so that such a policy says so.
        for never_matches in ["shortname", "ns/shortname"] {
            assert!(
                remap(never_matches, "example.com").is_err(),
                "{never_matches}"
            );
        }
        for invalid in [
            "",
            "repo_with_underscores",
            "example.com/",
            "example.com/UPPERCASEISINVALID",
            "example.com/repo/",
            "example.com/repo:tag",
            "example.com/repo$D",
            "example.com/repo:tag$D",
        ] {
            let invalid = expand(invalid);
            assert!(remap(&invalid, "example.com").is_err(), "{invalid}");
            assert!(remap("example.com", &invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn registry_aliases_are_one_registry() {
        // Not a containers/image row: our references name a registry one way (lower case,
        // `index.docker.io` and Docker Hub's other hosts as `docker.io`, no `:443`), which
        // containers/image does not do, so prefixes are normalised the same way or they would
        // never match.
        let rule = remap("INDEX.docker.io/library", "mirror.example/hub").expect("valid rule");
        let image = ImageRef::parse("busybox:1").expect("valid");
        assert!(accepts(&rule, &image, "mirror.example/hub/busybox:1"));
        let signed_alias = ImageRef::parse("index.docker.io/library/busybox:1").expect("valid");
        assert_eq!(signed_alias, image);
    }
}

/// The fixtures' keys and signatures (fixtures_info_test.go).
mod fixtures {
    use portieris_core::time::UnixTime;

    pub const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/containers-image"
    );
    pub const KEY: &str = "08CD26E446E2E95249B7A405E932F44B23E8DD43";
    pub const KEY_WITH_PASSPHRASE: &str = "F2B501009F78B0B340221A12A3CD242DA6028093";
    pub const PRIMARY_WITH_SUBKEY: &str = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36";
    pub const SUBKEY_WITH_SUBKEY: &str = "57D1D95BBC53BA0EAFF0718CD75B3109B3BAAEAF";
    pub const PRIMARY_WITH_REVOKED_SUBKEY: &str = "6D88C5A1993648A17B2BB0DC6B8499AF63388D63";
    /// The digest of image.manifest.json, which the signatures name.
    pub const MANIFEST_DIGEST: &str =
        "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";
    /// The fixtures were signed in June and July 2025, with keys that do not expire; a fixed
    /// clock keeps the expired signature expired and the others valid.
    pub const NOW: UnixTime = UnixTime(1_767_225_600);

    pub fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The V4 fixture and its `-v3` variant (fixtureVariants).
    pub fn variants(name: &str) -> [(String, Vec<u8>); 2] {
        let v3 = format!("{name}-v3");
        [(name.into(), read(name)), (v3.clone(), read(&v3))]
    }
}

mod mechanism {
    use portieris_core::simple::openpgp::{Keyring, OpenPgpError, verify};

    use super::fixtures::*;

    fn keyring(bytes: &[u8]) -> Keyring {
        Keyring::parse(bytes).unwrap_or_else(|e| panic!("keyring: {e}"))
    }

    fn refused(keyring: &Keyring, signature: &[u8]) -> OpenPgpError {
        match verify(keyring, signature, NOW) {
            Ok(verified) => panic!("verified, by {}", verified.signer),
            Err(e) => e,
        }
    }

    #[test]
    fn ephemeral_keyrings() {
        // TestNewEphemeralGPGSigningMechanism.
        // Empty input: accepted upstream ("just returns no keys"); we refuse a key Secret that
        // holds no key, so that the policy says what is wrong (either way nothing verifies).
        assert!(Keyring::parse(b"").is_err());
        // Successful import; the signature then validates.
        let public = keyring(&read("public-key.gpg"));
        assert_eq!(public.fingerprints(), [KEY]);
        for (name, signature) in variants("invalid-blob.signature") {
            let verified = verify(&public, &signature, NOW).expect(&name);
            assert_eq!(verified.payload, b"This is not JSON\n", "{name}");
            assert_eq!(verified.signer, KEY, "{name}");
        }
        // Keys with a subkey: the primary key's fingerprint, not the subkey's.
        for (file, primary) in [
            ("public-key-with-subkey.gpg", PRIMARY_WITH_SUBKEY),
            (
                "public-key-with-revoked-subkey.gpg",
                PRIMARY_WITH_REVOKED_SUBKEY,
            ),
        ] {
            assert_eq!(keyring(&read(file)).fingerprints(), [primary], "{file}");
        }
        // The binary GnuPG 1 pubring.gpg (with trust packets), concatenated twice. gpgme lists
        // every key imported, eight here; we merge the copies of a key, as gpg's keyring does.
        let pubring = read("pubring.gpg");
        let twice = keyring(&[pubring.clone(), pubring].concat());
        let expected = [
            KEY_WITH_PASSPHRASE,
            KEY,
            PRIMARY_WITH_SUBKEY,
            PRIMARY_WITH_REVOKED_SUBKEY,
        ];
        assert_eq!(twice.fingerprints(), expected);
        assert_eq!(
            verify(&twice, &read("image.signature"), NOW).map(|v| v.signer),
            Ok(KEY.into())
        );
        // Two keys from two blobs: a Secret holds one value, so the blobs are concatenated.
        let blobs = [read("public-key-1.gpg"), read("public-key-2.gpg")].concat();
        assert_eq!(keyring(&blobs).fingerprints(), [KEY, KEY_WITH_PASSPHRASE]);
        // Invalid input: refused.
        assert!(Keyring::parse(b"This is invalid").is_err());
    }

    #[test]
    fn several_armoured_blocks_in_one_value() {
        // Upstream's comment: two copies of public-key.gpg, armoured, work with gpgme but not
        // with its openpgp mechanism. gpg imports every block; so do we.
        let public = read("public-key.gpg");
        let two = [
            public.clone(),
            b"\n".to_vec(),
            read("public-key-with-subkey.gpg"),
        ]
        .concat();
        assert_eq!(keyring(&two).fingerprints(), [KEY, PRIMARY_WITH_SUBKEY]);
        let copies = keyring(&[public.clone(), public].concat());
        assert_eq!(copies.fingerprints(), [KEY]);
        let signer = |signature: &str| verify(&keyring(&two_of(signature)), &read(signature), NOW);
        assert_eq!(signer("image.signature").map(|v| v.signer), Ok(KEY.into()));
        assert_eq!(
            signer("subkey.signature").map(|v| v.signer),
            Ok(SUBKEY_WITH_SUBKEY.into())
        );
    }

    /// public-key.gpg and public-key-with-subkey.gpg, armoured, in one value.
    fn two_of(_signature: &str) -> Vec<u8> {
        [read("public-key.gpg"), read("public-key-with-subkey.gpg")].concat()
    }

    #[test]
    fn gpg_home_directory_keyring() {
        // TestNewGPGSigningMechanismInDirectory: the fixtures' pubring.gpg makes the key
        // available; without it (an empty keyring) the signature does not verify.
        let pubring = keyring(&read("pubring.gpg"));
        for (name, signature) in variants("invalid-blob.signature") {
            assert!(verify(&pubring, &signature, NOW).is_ok(), "{name}");
            let other = keyring(&read("public-key-2.gpg"));
            assert!(verify(&other, &signature, NOW).is_err(), "{name}");
        }
    }

    #[test]
    fn verify_signatures() {
        // TestGPGSigningMechanismVerify, with the fixtures' pubring.gpg as the keyring.
        let pubring = keyring(&read("pubring.gpg"));
        // Successful verification
        let verified = verify(&pubring, &read("invalid-blob.signature"), NOW).expect("valid");
        assert_eq!(verified.payload, b"This is not JSON\n");
        assert_eq!(verified.signer, KEY);
        // A signature by a subkey: upstream reports the subkey (then maps it to its primary
        // key) or the primary key; we report the subkey that signed.
        for (name, signature) in variants("subkey.signature") {
            let verified = verify(&pubring, &signature, NOW).expect(&name);
            assert_eq!(
                verified.payload,
                br#"{"critical":{"identity":{"docker-reference":"testing/manifest:latest"},"image":{"docker-manifest-digest":"sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"},"type":"atomic container signature"},"optional":{}}"#,
                "{name}"
            );
            assert_eq!(verified.signer, SUBKEY_WITH_SUBKEY, "{name}");
        }
        // Completely invalid signatures; a literal packet and encrypted data, not signatures.
        for garbage in [&b""[..], b"invalid signature"] {
            refused(&pubring, garbage);
        }
        for name in ["unsigned-literal.signature", "unsigned-encrypted.signature"] {
            refused(&pubring, &read(name));
        }
        // Expired signature (V4 only: V3 packets cannot expire)
        let why = refused(&pubring, &read("expired.signature")).to_string();
        assert!(why.contains("expired"), "{why}");
        // Corrupt signature, a valid signature by an unknown key, and by a revoked subkey
        for (fixture, reason) in [
            ("corrupt.signature", "verification error"),
            ("unknown-key.signature", "not a key of the keyring"),
            ("subkey-revoked.signature", "is revoked"),
        ] {
            for (name, signature) in variants(fixture) {
                let why = refused(&pubring, &signature).to_string();
                assert!(why.contains(reason), "{name}: {why}");
            }
        }
    }
}

mod docker {
    use portieris_core::evidence::{SignedBy, SimpleNeed};
    use portieris_core::policy::SignedIdentity;
    use portieris_core::simple::IdentityRule;
    use portieris_core::simple::openpgp::{Keyring, evaluate, verify};
    use portieris_core::{Digest, ImageRef};
    use sha2::{Digest as _, Sha256};

    use super::fixtures::*;

    /// Where containers/image's VerifyDockerManifestSignature compares the signed reference
    /// with an expected one, as strings after normalisation, a policy compares it with the
    /// image by an identity rule. image.signature signs `testing/manifest`, naming neither a
    /// tag nor a digest: the function accepts it for an expected `testing/manifest`, but a pod's
    /// image always has a tag or digest (`:latest` when it names neither), and containers/image's
    /// own `signedBy` refuses a name-only identity under matchRepoDigestOrExact, matchExact and
    /// exactReference. The nearest rule that accepts it, upstream and here, is matchRepository.
    fn matching(kind: &str) -> IdentityRule {
        IdentityRule::from_policy(&SignedIdentity {
            kind: kind.into(),
            ..SignedIdentity::default()
        })
        .expect("valid rule")
    }

    /// VerifyDockerManifestSignature: `signature` over `manifest` for `image`, signed by a key
    /// of `keyring` and accepted by `rule`.
    fn check(
        signature: &[u8],
        manifest: &[u8],
        image: &str,
        keyring: &[u8],
        rule: IdentityRule,
    ) -> Result<Digest, String> {
        let image = ImageRef::parse(image).map_err(|e| e.to_string())?;
        let need = SimpleNeed {
            requirements: vec![SignedBy {
                key_secret: "ns/key".into(),
                keyring: keyring.to_vec(),
                identity: rule,
            }],
            store_url: None,
            store_auth: None,
        };
        let hash: [u8; 32] = Sha256::digest(manifest).into();
        evaluate(
            &need,
            &image,
            &Digest::from_sha256(&hash),
            &[signature.to_vec()],
            NOW,
        )
        .map_err(|r| r.text)
    }

    #[test]
    fn verify_docker_manifest_signature() {
        // TestVerifyDockerManifestSignature
        let manifest = read("image.manifest.json");
        let signature = read("image.signature");
        let key = read("public-key.gpg");
        let repository = || matching("matchRepository");
        // Successful verification, also under another spelling of the reference
        for image in ["testing/manifest", "docker.io/testing/manifest"] {
            let got = check(&signature, &manifest, image, &key, repository());
            assert_eq!(
                got.map(|d| d.to_string()),
                Ok(MANIFEST_DIGEST.into()),
                "{image}"
            );
        }
        // The same signature under the default rule: its identity names no tag.
        let why = check(
            &signature,
            &manifest,
            "testing/manifest",
            &key,
            matching(""),
        )
        .expect_err("name-only identity");
        assert!(why.contains("does not match"), "{why}");
        // Invalid docker reference on input
        assert!(
            check(
                &signature,
                &manifest,
                "UPPERCASEISINVALID",
                &key,
                repository()
            )
            .is_err()
        );
        // Error computing the manifest digest: upstream cannot digest a schema 1 manifest with
        // invalid signatures; the webhook refuses schema 1 manifests before this, and here the
        // digest of those bytes is not the signed one.
        let schema1 = read("v2s1-invalid-signatures.manifest.json");
        assert!(check(&signature, &schema1, "testing/manifest", &key, repository()).is_err());
        // Error verifying the signature
        let corrupt = read("corrupt.signature");
        assert!(check(&corrupt, &manifest, "testing/manifest", &key, repository()).is_err());
        // Key fingerprint mismatch: the keyring does not hold the signing key
        let other = read("public-key-2.gpg");
        let why = check(
            &signature,
            &manifest,
            "testing/manifest",
            &other,
            repository(),
        )
        .expect_err("another key");
        assert!(why.contains("not a key of the keyring"), "{why}");
        // Invalid reference in the signature
        let invalid = read("invalid-reference.signature");
        let why = check(&invalid, &manifest, "testing/manifest", &key, repository())
            .expect_err("invalid reference");
        assert!(why.contains("UPPERCASEISINVALID"), "{why}");
        // Docker reference mismatch
        let image = "example.com/does-not/match";
        assert!(check(&signature, &manifest, image, &key, repository()).is_err());
        // Docker manifest digest mismatch
        let why = check(
            &signature,
            b"unexpected manifest",
            "testing/manifest",
            &key,
            repository(),
        )
        .expect_err("another manifest");
        assert!(why.contains(MANIFEST_DIGEST), "{why}");
    }

    #[test]
    fn verify_with_a_keyring_of_several_keys() {
        // TestVerifyImageManifestSignatureUsingKeyIdentityList: the accepted keys are those of
        // the keyring; pubring.gpg holds the signing key among others.
        let manifest = read("image.manifest.json");
        let signature = read("image.signature");
        let pubring = read("pubring.gpg");
        let verified = verify(&Keyring::parse(&pubring).expect("keyring"), &signature, NOW);
        assert_eq!(verified.map(|v| v.signer), Ok(KEY.into()));
        for image in ["testing/manifest", "docker.io/testing/manifest"] {
            let got = check(
                &signature,
                &manifest,
                image,
                &pubring,
                matching("matchRepository"),
            );
            assert_eq!(
                got.map(|d| d.to_string()),
                Ok(MANIFEST_DIGEST.into()),
                "{image}"
            );
        }
        // Without the signing key among them
        let without = [read("public-key-2.gpg"), read("public-key-with-subkey.gpg")].concat();
        let image = "testing/manifest";
        assert!(
            check(
                &signature,
                &manifest,
                image,
                &without,
                matching("matchRepository")
            )
            .is_err()
        );
    }

    #[test]
    fn a_subkey_signature_of_a_gpg_home_keyring_admits_its_tag() {
        // The brief's case: a signature by a subkey of a key in a GnuPG 1 pubring.gpg, for
        // `testing/manifest:latest`, under the default rule; and a revoked subkey's is refused.
        let manifest = read("image.manifest.json");
        let pubring = read("pubring.gpg");
        let image = "testing/manifest:latest";
        let subkey = check(
            &read("subkey.signature"),
            &manifest,
            image,
            &pubring,
            matching(""),
        );
        assert_eq!(subkey.map(|d| d.to_string()), Ok(MANIFEST_DIGEST.into()));
        let revoked = read("subkey-revoked.signature");
        let why = check(&revoked, &manifest, image, &pubring, matching("")).expect_err("revoked");
        assert!(why.contains("is revoked"), "{why}");
        // no-optional-fields.signature: a payload with an empty `optional` verifies too.
        let minimal = read("no-optional-fields.signature");
        let got = check(
            &minimal,
            &manifest,
            image,
            &pubring,
            matching("matchRepository"),
        );
        assert_eq!(got.map(|d| d.to_string()), Ok(MANIFEST_DIGEST.into()));
    }
}
