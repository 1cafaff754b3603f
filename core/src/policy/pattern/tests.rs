use super::*;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn matches(pattern: &str, image: &str) -> bool {
    let pattern = Pattern::parse(pattern).expect("valid pattern");
    let image = ImageRef::parse(image).expect("valid image");
    pattern.matches(&image)
}

#[test]
fn star_alone_matches_every_image() {
    for image in [
        "nginx",
        "icr.io/a/b/c:1",
        "localhost:5000/x",
        "quay.io/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert!(matches("*", image), "{image}");
    }
}

#[test]
fn short_and_full_docker_hub_names_are_the_same_pattern() {
    let names = [
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx",
        "index.docker.io/nginx",
    ];
    for pattern in names {
        for image in names {
            assert!(matches(pattern, image), "{pattern} vs {image}");
        }
        assert!(Pattern::parse(pattern).expect("valid").is_exact());
        assert_eq!(
            Pattern::parse(pattern).expect("valid").to_string(),
            "docker.io/library/nginx"
        );
    }
}

#[test]
fn docker_hub_org_is_not_taken_for_a_host() {
    assert!(matches("org/*", "docker.io/org/app"));
    assert!(!matches("org/*", "org.io/app"));
    assert!(!matches("org/*", "icr.io/org/app"));
}

#[test]
fn registry_wildcard_covers_every_depth() {
    assert!(matches("icr.io/*", "icr.io/ns/app"));
    assert!(matches("icr.io/*", "icr.io/ns/deep/er/app:v1"));
    assert!(!matches("icr.io/*", "de.icr.io/ns/app"));
    assert!(!matches("icr.io/*", "icr.io.evil.com/ns/app"));
    assert!(!matches("icr.io/*", "evil.com/icr.io/ns/app"));
}

#[test]
fn embedded_path_wildcard() {
    assert!(matches("icr.io/*/nginx", "icr.io/team/nginx"));
    assert!(matches("icr.io/*/nginx", "icr.io/a/b/nginx"));
    assert!(!matches("icr.io/*/nginx", "icr.io/team/nginx-evil"));
    assert!(!matches("icr.io/*/nginx", "icr.io/nginx"));
}

#[test]
fn host_wildcards_never_cross_into_the_path() {
    assert!(matches("*.icr.io/ns/*", "de.icr.io/ns/app"));
    assert!(matches("*.icr.io/ns/*", "a.b.icr.io/ns/app"));
    assert!(!matches("*.icr.io/ns/*", "evil.com/x.icr.io/ns/app"));
    assert!(!matches("*.icr.io/ns/*", "icr.io/ns/app"));
    assert!(matches(
        "registry*.example.com/*",
        "registry-eu.example.com/y"
    ));
    assert!(!matches(
        "registry*.example.com/*",
        "registry.attacker.com/x.example.com/y"
    ));
    assert!(!matches(
        "registry*.example.com/*",
        "registry.attacker.com/example.com/y"
    ));
}

#[test]
fn any_host_segment_matches_one_registry() {
    assert!(matches("*/team/app", "icr.io/team/app"));
    assert!(matches("*/team/app", "docker.io/team/app"));
    assert!(!matches("*/team/app", "icr.io/x/team/app"));
}

#[test]
fn ports_are_part_of_the_host() {
    assert!(matches("localhost:5000/*", "localhost:5000/x"));
    assert!(!matches("localhost:5000/*", "localhost:5001/x"));
    assert!(!matches("localhost:5000/*", "localhost/x"));
    assert!(matches("localhost:*/*", "localhost:5001/x"));
    assert!(!matches("localhost:*/*", "localhost/x"));
    assert!(matches(
        "127.0.0.1:5000/test/app",
        "127.0.0.1:5000/test/app:v1"
    ));
}

#[test]
fn hosts_compare_case_insensitively_and_upper_case_paths_are_refused() {
    assert!(matches("ICR.io/ns/*", "icr.io/ns/app"));
    assert!(matches("icr.io/ns/*", "ICR.IO/ns/app"));
    assert!(matches!(
        Pattern::parse("icr.io/NS/*"),
        Err(PatternError::InvalidCharacter { part: "path", .. })
    ));
}

#[test]
fn untagged_patterns_match_every_tag_and_digests() {
    assert!(matches("icr.io/ns/app", "icr.io/ns/app:v1"));
    assert!(matches(
        "icr.io/ns/app",
        &alloc::format!("icr.io/ns/app@{D}")
    ));
    assert!(matches("icr.io/ns/*", &alloc::format!("icr.io/ns/app@{D}")));
    assert!(matches("nginx", &alloc::format!("nginx@{D}")));
}

#[test]
fn tagged_patterns_match_only_that_tag() {
    assert!(matches("icr.io/ns/app:v1", "icr.io/ns/app:v1"));
    assert!(!matches("icr.io/ns/app:v1", "icr.io/ns/app:v10"));
    assert!(!matches("icr.io/ns/app:v1", "icr.io/ns/app"));
    assert!(!matches(
        "icr.io/ns/app:v1",
        &alloc::format!("icr.io/ns/app@{D}")
    ));
    assert!(matches("icr.io/ns/app:v1.*", "icr.io/ns/app:v1.2"));
    assert!(matches("nginx:latest", "nginx"));
    assert!(matches("localhost:5000/app:*", "localhost:5000/app:x"));
}

#[test]
fn prefixes_are_not_matches() {
    assert!(!matches("icr.io/ns/app", "icr.io/ns/app2"));
    assert!(!matches("icr.io/ns/app", "icr.io/ns/app/sub"));
    assert!(!matches("icr.io/ns", "icr.io/ns/app"));
    assert!(!matches("nginx", "nginx-evil"));
    assert!(!matches("docker.io/library/*", "docker.io/org/app"));
}

#[test]
fn docker_hub_wildcards() {
    assert!(matches("docker.io/*", "nginx"));
    assert!(matches("docker.io/*", "org/app"));
    assert!(matches("ngin*", "nginx"));
    assert!(!matches("ngin*", "org/nginx"));
    assert!(!matches("docker.io/*", "icr.io/x"));
}

#[test]
fn invalid_patterns_are_refused() {
    assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
    assert_eq!(
        Pattern::parse(&alloc::format!("nginx@{D}")),
        Err(PatternError::Digest)
    );
    assert!(Pattern::parse("icr.io/ns/app:").is_err());
    assert!(Pattern::parse("icr.io/").is_err());
    assert!(Pattern::parse("icr io/x").is_err());
    assert!(Pattern::parse("icr.io/x:a+b").is_err());
}

#[test]
fn specificity_counts_non_star_characters_of_the_normalised_pattern() {
    let spec = |p: &str| Pattern::parse(p).expect("valid").specificity();
    assert_eq!(spec("*"), 0);
    assert_eq!(spec("icr.io/*"), "icr.io/".len());
    assert!(spec("icr.io/ns/*") > spec("icr.io/*"));
    assert_eq!(spec("nginx"), "docker.io/library/nginx".len());
}

#[test]
fn glob_is_anchored_on_both_ends() {
    assert!(glob("a*c", "abc"));
    assert!(glob("a*c", "ac"));
    assert!(!glob("a*c", "abcd"));
    assert!(!glob("a*c", "xabc"));
    assert!(glob("*a*a*", "banana"));
    assert!(!glob("*a*a*a*a", "banana"));
    assert!(glob("", ""));
    assert!(!glob("", "a"));
    assert!(
        !glob("a*a", "a"),
        "the first and last literals cannot share a byte"
    );
}

/// The meaning of a glob, by brute force: `*` tries every split.
fn reference_glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| reference_glob(rest, &text[i..])),
        Some((c, rest)) => text.first() == Some(c) && reference_glob(rest, &text[1..]),
    }
}

/// Every string over `alphabet` of length at most `max`.
fn strings(alphabet: &[char], max: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max {
        last = last
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}

#[test]
fn the_linear_glob_agrees_with_backtracking_on_every_small_case() {
    let texts = strings(&['a', 'b'], 6);
    for pattern in strings(&['a', 'b', '*'], 6) {
        for text in &texts {
            assert_eq!(
                glob(&pattern, text),
                reference_glob(pattern.as_bytes(), text.as_bytes()),
                "{pattern:?} on {text:?}"
            );
        }
    }
}

#[test]
fn runs_of_stars_are_one_star() {
    let collapsed = Pattern::parse("icr.io/**/app***").expect("valid");
    assert_eq!(collapsed, Pattern::parse("icr.io/*/app*").expect("valid"));
    assert!(matches("icr.io/**/app***", "icr.io/team/app-x"));
    assert_eq!(collapsed.to_string(), "icr.io/*/app*");
}

#[test]
fn a_pattern_longer_than_any_image_can_be_is_refused() {
    let long = format!("icr.io/{}*", "a".repeat(MAX_PATTERN_LEN));
    let error = Pattern::parse(&long).expect_err("too long");
    assert!(matches!(error, PatternError::TooLong { .. }), "{error}");
    assert!(error.to_string().contains("more than 512"), "{error}");
    let stars = format!("*/*{}b", "a".repeat(400));
    assert!(
        Pattern::parse(&stars).is_ok(),
        "512 bytes is the bound, not less"
    );
}

#[test]
fn a_pattern_naming_only_a_registry_is_refused_with_the_pattern_to_write() {
    for name in [
        "quay.io",
        "*.icr.io",
        "icr.io:443",
        "localhost",
        "localhost:5000",
        "quay.io:*",
        "QUAY.IO",
        "*.*",
    ] {
        let error = Pattern::parse(name).expect_err(name);
        assert!(
            matches!(error, PatternError::RegistryOnly { .. }),
            "{name}: {error}"
        );
        let message = error.to_string();
        assert!(message.contains("names only a registry"), "{message}");
        assert!(message.contains("/*\""), "{message}");
    }
    for fine in ["nginx", "nginx:1.*", "library/nginx", "quay.io/*", "*"] {
        assert!(Pattern::parse(fine).is_ok(), "{fine}");
    }
}

#[test]
fn every_spelling_of_a_registry_is_matched_by_its_rule() {
    let spellings = [
        ("icr.io/team/*", "icr.io:443/team/app:1"),
        ("icr.io/team/*", "ICR.IO:443/team/app"),
        ("icr.io:443/team/*", "icr.io/team/app"),
        ("*.icr.io/team/*", "us.icr.io:443/team/app"),
        ("docker.io/library/nginx", "index.docker.io/nginx"),
        (
            "docker.io/library/nginx",
            "index.docker.io:443/library/nginx",
        ),
        ("nginx", "registry-1.docker.io/nginx:1"),
        ("nginx", "registry-1.docker.io:443/library/nginx"),
        ("nginx", "registry.hub.docker.com/library/nginx"),
        ("registry-1.docker.io/library/nginx", "nginx"),
        ("docker.io/team/*", "index.docker.io/team/app"),
    ];
    for (pattern, image) in spellings {
        assert!(matches(pattern, image), "{pattern} must govern {image}");
    }
    assert!(
        !matches("icr.io/team/*", "icr.io:4443/team/app"),
        "another port"
    );
    assert!(
        !matches("icr.io/team/*", "icr.io:80/team/app"),
        "plain HTTP is another endpoint"
    );
}

/// Found by the `reference` fuzz target: an upper-case Docker Hub host must normalise like the
/// lower-case one, so that an image always matches the pattern of its own name.
#[test]
fn a_docker_hub_host_in_another_case_is_matched_by_its_own_name() {
    for text in [
        "Index.Docker.IO/library/nginx:1",
        "DOCKER.IO/nginx",
        "iNdex.docker.io/library/nginx:latest",
    ] {
        let image = ImageRef::parse(text).expect("a reference");
        let own = Pattern::parse(&image.name()).expect("a pattern");
        assert!(own.matches(&image), "{text}");
        assert!(matches("nginx", text), "{text}");
    }
}

#[test]
fn a_host_with_two_ports_is_refused_not_half_normalised() {
    for text in ["dock.r.io:443:443/x", "r.io:5000:443/x", "*.r.io:1:2/x"] {
        assert!(
            matches!(
                Pattern::parse(text),
                Err(PatternError::InvalidCharacter { part: "host", .. })
            ),
            "{text}"
        );
    }
    // One port is a host's own, and `:443` is dropped exactly once.
    let once = Pattern::parse("dock.r.io:443/x").expect("one port");
    let again = Pattern::parse(&once.to_string()).expect("its normal form");
    assert_eq!(once, again);
}
