//! Property tests of repository patterns: `Pattern::parse(..).matches(&ImageRef)` against the
//! reference implementation in `fuzz/src/model.rs` — written from the rules in
//! `core/src/policy/pattern.rs` and `docs/policies.md` as a regex-free dynamic-programming glob
//! over the normalised host, path and tag — plus properties that need no model at all.

use portieris_core::policy::Pattern;
use portieris_core::reference::ImageRef;
use proptest::prelude::*;

#[path = "../../fuzz/src/model.rs"]
#[allow(dead_code)]
mod model;

fn chars(set: &'static str, len: core::ops::Range<usize>) -> impl Strategy<Value = String> {
    let set: Vec<char> = set.chars().collect();
    prop::collection::vec(prop::sample::select(set), len).prop_map(|c| c.into_iter().collect())
}

/// Images over a small alphabet, so that patterns often match them.
fn image() -> impl Strategy<Value = ImageRef> {
    let domain = prop::option::of(prop::sample::select(vec![
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io:443",
        "icr.io",
        "icr.io:443",
        "de.icr.io",
        "ICR.IO",
        "registry-eu.example.com",
        "registry.attacker.com",
        "localhost:5000",
        "localhost",
        "evil.com",
    ]));
    let component = prop_oneof![
        chars("ab", 1..3),
        (
            chars("ab", 1..2),
            prop::sample::select(vec![".", "_", "-"]),
            chars("ab", 1..2)
        )
            .prop_map(|(a, s, b)| format!("{a}{s}{b}")),
        Just("icr.io".to_string()),
        Just("library".to_string()),
    ];
    let path = prop::collection::vec(component, 1..4).prop_map(|c| c.join("/"));
    let tag = prop::option::of(prop::sample::select(vec![
        "v1", "v1.2", "latest", "V2", "dev",
    ]));
    let digest = prop::option::of(Just("1".repeat(64)));
    (domain, path, tag, digest)
        .prop_map(|(domain, path, tag, digest)| {
            let mut text = match domain {
                Some(domain) => format!("{domain}/{path}"),
                None => path,
            };
            if let Some(tag) = tag {
                text = format!("{text}:{tag}");
            }
            if let Some(digest) = digest {
                text = format!("{text}@sha256:{digest}");
            }
            ImageRef::parse(&text)
        })
        .prop_filter_map("not a reference", Result::ok)
}

/// Patterns from the documented shape `[host "/"] path [":" tag]` with `*` anywhere.
fn pattern() -> impl Strategy<Value = String> {
    let host = prop::option::of(prop::sample::select(vec![
        "*",
        "*.icr.io",
        "icr.io",
        "ICR.io",
        "icr.io*",
        "registry*.example.com",
        "localhost:5000",
        "localhost",
        "docker.io",
        "index.docker.io",
        "registry.hub.docker.com:443",
        "icr.io:443",
        "*:5000",
        "*:443",
    ]));
    let path = prop_oneof![
        Just("*".to_string()),
        chars("ab./_-*", 1..10),
        prop::collection::vec(chars("ab*", 1..3), 1..4).prop_map(|c| c.join("/")),
    ];
    let tag = prop::option::of(chars("v12.*L", 1..5));
    prop_oneof![
        1 => Just("*".to_string()),
        9 => (host, path, tag).prop_map(|(host, path, tag)| {
            let mut text = match host {
                Some(host) => format!("{host}/{path}"),
                None => path,
            };
            if let Some(tag) = tag {
                text = format!("{text}:{tag}");
            }
            text
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_agrees_with_the_reference_glob(text in pattern(), image in image()) {
        let compiled = Pattern::parse(&text);
        let model = model::pattern(&text);
        prop_assert_eq!(compiled.is_ok(), model.is_some(), "validity of {:?}", text);
        if let (Ok(compiled), Some(model)) = (compiled, model) {
            prop_assert_eq!(
                compiled.matches(&image),
                model.matches(image.domain(), image.path(), image.tag()),
                "{:?} on {}", text, image
            );
            prop_assert_eq!(compiled.to_string(), model.normalised());
            prop_assert_eq!(compiled.is_exact(), model.is_exact());
            prop_assert_eq!(compiled.specificity(), model.specificity());
        }
    }

    #[test]
    fn pattern_validity_agrees_on_arbitrary_text(text in chars("aB.:/*@_-1 ", 0..16)) {
        prop_assert_eq!(Pattern::parse(&text).is_ok(), model::pattern(&text).is_some(), "{:?}", text);
    }

    #[test]
    fn an_image_name_matches_itself_and_nothing_longer(image in image()) {
        let exact = Pattern::parse(&image.name()).expect("a name is a pattern");
        prop_assert!(exact.is_exact());
        prop_assert!(exact.matches(&image), "{} does not match {}", exact, image);
        let longer = ImageRef::parse(&format!("{}b", image.name())).expect("still a name");
        prop_assert!(!exact.matches(&longer), "{} matches {}", exact, longer);
        if let Some(tag) = image.tag() {
            let tagged = Pattern::parse(&format!("{}:{tag}", image.name())).expect("tagged");
            prop_assert!(tagged.matches(&image));
        }
    }

    #[test]
    fn a_star_in_place_of_any_part_of_the_path_still_matches(
        image in image(),
        from in any::<prop::sample::Index>(),
        to in any::<prop::sample::Index>(),
    ) {
        let path = image.path();
        let (a, b) = (from.index(path.len() + 1), to.index(path.len() + 1));
        let (a, b) = (a.min(b), a.max(b));
        let starred = format!("{}*{}", &path[..a], &path[b..]);
        // On Docker Hub a one-segment pattern path other than `*` gets `library/`, as
        // documented, so `lib*` is `library/lib*`: keep to paths that keep their shape.
        let hub = image.domain() == "docker.io";
        prop_assume!(!hub || starred == "*" || starred.contains('/'));
        let text = format!("{}/{starred}", image.domain());
        let pattern = Pattern::parse(&text).expect("a wildcard pattern");
        prop_assert!(pattern.matches(&image), "{} does not match {}", text, image);
        prop_assert!(!pattern.is_exact());
    }

    /// A rule names a registry by any of its spellings, and an image respelled keeps its rule.
    #[test]
    fn a_respelled_registry_keeps_its_rule(text in pattern(), image in image(), alias in 0usize..3) {
        let Ok(compiled) = Pattern::parse(&text) else { return Ok(()) };
        let host = image.domain();
        let respelled = match (host, alias) {
            ("docker.io", 0) => "index.docker.io:443".to_string(),
            ("docker.io", 1) => "registry-1.docker.io".to_string(),
            ("docker.io", _) => "Registry.Hub.Docker.Com".to_string(),
            (host, _) if host.contains(':') => host.to_string(),
            (host, _) => format!("{host}:443"),
        };
        let again = ImageRef::parse(&image.to_string().replacen(host, &respelled, 1))
            .expect("a respelled reference");
        prop_assert_eq!(compiled.matches(&again), compiled.matches(&image), "{:?} on {}", text, again);
    }

    #[test]
    fn a_host_wildcard_never_reaches_into_the_path(image in image(), suffix in chars("ab.", 1..4)) {
        // `*<suffix>/rest` matches only when the host itself ends with the suffix.
        let pattern = Pattern::parse(&format!("*{suffix}.io/*")).expect("a host wildcard");
        if pattern.matches(&image) {
            let host = image.domain().to_ascii_lowercase();
            let want = format!("{suffix}.io");
            prop_assert!(host.ends_with(&want), "{} matches {}", pattern, image);
        }
    }
}
