//! Property tests of image references: references generated from the grammar at the top of
//! `core/src/reference.rs` parse and normalise as documented, survive parse → display → parse
//! unchanged, and agree with the independent grammar model in `fuzz/src/model.rs`; mutations
//! that leave the grammar are refused.

use portieris_core::reference::{ImageRef, MAX_NAME_LEN};
use proptest::prelude::*;

#[path = "../../fuzz/src/model.rs"]
#[allow(dead_code)]
mod model;

/// The parts a reference is generated from, before normalisation.
#[derive(Debug, Clone)]
struct Parts {
    domain: Option<String>,
    components: Vec<String>,
    tag: Option<String>,
    digest: Option<String>,
}

impl Parts {
    fn path(&self) -> String {
        self.components.join("/")
    }

    fn text(&self) -> String {
        let mut text = String::new();
        if let Some(domain) = &self.domain {
            text.push_str(domain);
            text.push('/');
        }
        text.push_str(&self.path());
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push_str("@sha256:");
            text.push_str(digest);
        }
        text
    }

    /// What the documentation says the reference normalises to (hosts lower-cased).
    fn normalised(&self) -> (String, String, Option<String>, Option<String>) {
        let domain = match self
            .domain
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => "docker.io".to_string(),
            Some(domain) => {
                let domain = match domain.strip_suffix(":443") {
                    Some(bare) if bare.contains('.') || bare == "localhost" => bare,
                    _ => domain,
                };
                match domain {
                    "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                        "docker.io".to_string()
                    }
                    other => other.to_string(),
                }
            }
        };
        let mut path = self.path();
        if domain == "docker.io" && self.components.len() == 1 {
            path = format!("library/{path}");
        }
        let tag = match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag.clone()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        (domain, path, tag, self.digest.clone())
    }
}

fn chars(set: &'static str, len: core::ops::Range<usize>) -> impl Strategy<Value = String> {
    let set: Vec<char> = set.chars().collect();
    prop::collection::vec(prop::sample::select(set), len).prop_map(|c| c.into_iter().collect())
}

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `[a-z0-9]+ { separator [a-z0-9]+ }`, separator `.`, `_`, `__` or `-`+.
fn component() -> impl Strategy<Value = String> {
    let separator = prop_oneof![
        Just("."),
        Just("_"),
        Just("__"),
        Just("-"),
        Just("--"),
        Just("---")
    ];
    (
        chars(LOWER, 1..6),
        prop::collection::vec((separator, chars(LOWER, 1..5)), 0..3),
    )
        .prop_map(|(first, rest)| {
            let mut out = first;
            for (separator, run) in rest {
                out.push_str(separator);
                out.push_str(&run);
            }
            out
        })
}

/// A host label: alphanumerics, inner `-`.
fn label() -> impl Strategy<Value = String> {
    (
        chars(ALNUM, 1..2),
        chars("abc-019", 0..4),
        chars(ALNUM, 1..2),
    )
        .prop_map(|(first, middle, last)| {
            if middle.is_empty() {
                first
            } else {
                format!("{first}{middle}{last}")
            }
        })
}

/// Something docker reads as a domain: a dotted host, a host with a port, or localhost.
fn domain() -> impl Strategy<Value = String> {
    let port = || chars("0123456789", 1..6);
    prop_oneof![
        Just("localhost".to_string()),
        Just("docker.io".to_string()),
        Just("index.docker.io".to_string()),
        Just("Index.Docker.IO".to_string()),
        Just("registry-1.docker.io:443".to_string()),
        Just("registry.hub.docker.com".to_string()),
        Just("docker.io:443".to_string()),
        Just("DOCKER.IO".to_string()),
        port().prop_map(|p| format!("localhost:{p}")),
        prop::collection::vec(label(), 2..4).prop_map(|labels| labels.join(".")),
        (label(), port()).prop_map(|(host, port)| format!("{host}:{port}")),
    ]
}

fn tag() -> impl Strategy<Value = String> {
    let rest = "abcXYZ019_.-";
    prop_oneof![
        (chars("aZ9_", 1..2), chars(rest, 0..12)).prop_map(|(a, b)| a + &b),
        chars("aZ9_", 128..129),
    ]
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        prop::option::of(domain()),
        prop::collection::vec(component(), 1..4),
        prop::option::of(tag()),
        prop::option::of(chars("0123456789abcdef", 64..65)),
    )
        .prop_map(|(domain, components, tag, digest)| Parts {
            domain,
            components,
            tag,
            digest,
        })
        // Without a domain, a first component with `.` would itself be read as the domain.
        .prop_filter("ambiguous first component", |p| {
            p.domain.is_some() || p.components.len() == 1 || !p.components[0].contains('.')
        })
        .prop_filter("name too long", |p| {
            let (domain, path, ..) = p.normalised();
            domain.len() + 1 + path.len() <= MAX_NAME_LEN
        })
}

/// Edits that take a valid reference out of the grammar.
#[derive(Debug, Clone)]
enum Mutation {
    UpperCaseInPath(usize),
    EmptyComponent(usize),
    TrailingSeparator(usize, &'static str),
    LeadingSeparator(usize, &'static str),
    ForbiddenCharInPath(usize, char),
    TagTooLong,
    TagLeadingPunctuation(char),
    ForbiddenCharInTag(char),
    EmptyTag,
    DigestUpperCase,
    DigestLength(usize),
    DigestAlgorithm(&'static str),
    NameTooLong,
    BadDomain(&'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let forbidden =
        || prop::sample::select(" !$%^&()+=[]{}|;'<>,?`~#\"\\é".chars().collect::<Vec<_>>());
    let separator = || prop::sample::select(vec![".", "_", "__", "-", "___", ".."]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::UpperCaseInPath),
        any::<usize>().prop_map(Mutation::EmptyComponent),
        (any::<usize>(), separator()).prop_map(|(i, s)| Mutation::TrailingSeparator(i, s)),
        (any::<usize>(), separator()).prop_map(|(i, s)| Mutation::LeadingSeparator(i, s)),
        (any::<usize>(), forbidden()).prop_map(|(i, c)| Mutation::ForbiddenCharInPath(i, c)),
        Just(Mutation::TagTooLong),
        prop::sample::select(vec!['.', '-']).prop_map(Mutation::TagLeadingPunctuation),
        forbidden().prop_map(Mutation::ForbiddenCharInTag),
        Just(Mutation::EmptyTag),
        Just(Mutation::DigestUpperCase),
        prop::sample::select(vec![0usize, 1, 63, 65, 128]).prop_map(Mutation::DigestLength),
        prop::sample::select(vec!["sha512", "SHA256", "md5", "sha256 ", ""])
            .prop_map(Mutation::DigestAlgorithm),
        Just(Mutation::NameTooLong),
        prop::sample::select(vec![
            "-bad.io",
            "bad-.io",
            "bad..io",
            "bad_host.io",
            "localhost:123456",
            "localhost:",
            "localhost:5a",
            "a.b:-1",
        ])
        .prop_map(Mutation::BadDomain),
    ]
}

/// The mutated reference text.
fn mutate(parts: &Parts, mutation: &Mutation) -> String {
    let mut parts = parts.clone();
    let pick = |i: usize, parts: &Parts| i % parts.components.len();
    let digest = parts.digest.clone().unwrap_or_else(|| "ab".repeat(32));
    match mutation {
        Mutation::UpperCaseInPath(i) => {
            let c = pick(*i, &parts);
            let component = &mut parts.components[c];
            let at = i % (component.len() + 1);
            component.insert(at, 'Q');
        }
        Mutation::EmptyComponent(i) => {
            let c = pick(*i, &parts);
            parts.components.insert(c + 1, String::new());
        }
        Mutation::TrailingSeparator(i, s) => {
            let c = pick(*i, &parts);
            parts.components[c].push_str(s);
        }
        Mutation::LeadingSeparator(i, s) => {
            let c = pick(*i, &parts);
            parts.components[c].insert_str(0, s);
            // A leading `.` on the first component could turn it into a domain; keep one.
            parts
                .domain
                .get_or_insert_with(|| "example.com".to_string());
        }
        Mutation::ForbiddenCharInPath(i, ch) => {
            let c = pick(*i, &parts);
            let component = &mut parts.components[c];
            let at = i % (component.len() + 1);
            component.insert(at, *ch);
            parts
                .domain
                .get_or_insert_with(|| "example.com".to_string());
        }
        Mutation::TagTooLong => parts.tag = Some("t".repeat(129)),
        Mutation::TagLeadingPunctuation(c) => {
            parts.tag = Some(format!("{c}{}", parts.tag.clone().unwrap_or_default()));
        }
        Mutation::ForbiddenCharInTag(c) => {
            parts.tag = Some(format!("v{c}1"));
        }
        Mutation::EmptyTag => parts.tag = Some(String::new()),
        Mutation::DigestUpperCase => parts.digest = Some(digest.to_ascii_uppercase()),
        Mutation::DigestLength(n) => parts.digest = Some("a".repeat(*n)),
        Mutation::DigestAlgorithm(algorithm) => {
            parts.digest = None;
            return format!("{}@{algorithm}:{digest}", parts.text());
        }
        Mutation::NameTooLong => {
            let last = parts.components.len() - 1;
            parts.components[last].push_str(&"z".repeat(MAX_NAME_LEN));
        }
        Mutation::BadDomain(domain) => parts.domain = Some((*domain).to_string()),
    }
    parts.text()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_references_parse_to_their_documented_normal_form(parts in parts()) {
        let text = parts.text();
        let parsed = ImageRef::parse(&text);
        prop_assert!(parsed.is_ok(), "{text:?} refused: {:?}", parsed);
        let reference = parsed.expect("checked");
        let (domain, path, tag, digest) = parts.normalised();
        prop_assert_eq!(reference.domain(), domain.as_str());
        prop_assert_eq!(reference.path(), path.as_str());
        prop_assert_eq!(reference.tag(), tag.as_deref());
        prop_assert_eq!(reference.digest().map(|d| d.hex().to_string()), digest);
    }

    #[test]
    fn parse_display_parse_is_the_identity(parts in parts()) {
        let reference = ImageRef::parse(&parts.text()).expect("a generated reference");
        let shown = reference.to_string();
        let again = ImageRef::parse(&shown).expect("a normalised reference parses");
        prop_assert_eq!(&again, &reference);
        prop_assert_eq!(again.to_string(), shown);
    }

    #[test]
    fn parse_agrees_with_the_grammar_model(parts in parts()) {
        let text = parts.text();
        let reference = ImageRef::parse(&text).expect("a generated reference");
        let model = model::reference(&text).expect("the model accepts it too");
        prop_assert_eq!(reference.domain(), model.domain.as_str());
        prop_assert_eq!(reference.path(), model.path.as_str());
        prop_assert_eq!(reference.tag(), model.tag.as_deref());
    }

    #[test]
    fn mutations_out_of_the_grammar_are_refused(parts in parts(), mutation in mutation()) {
        let text = mutate(&parts, &mutation);
        let parsed = ImageRef::parse(&text);
        prop_assert!(parsed.is_err(), "{text:?} ({mutation:?}) accepted as {:?}", parsed);
        prop_assert!(model::reference(&text).is_none(), "the model accepts {text:?}");
    }

    /// Every spelling of a registry is one name: the HTTPS port and Docker Hub's hosts.
    #[test]
    fn registry_aliases_normalise_to_one_reference(parts in parts(), alias in 0usize..6) {
        let canonical = ImageRef::parse(&parts.text()).expect("a generated reference");
        let host = canonical.domain().to_string();
        let respelled = if host == "docker.io" {
            ["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com",
             "docker.io:443", "index.docker.io:443", "Registry-1.Docker.IO:443"][alias].to_string()
        } else if host.contains(':') {
            host.clone()
        } else {
            format!("{host}:443")
        };
        let path = canonical.path();
        let mut text = format!("{respelled}/{path}");
        if let Some(tag) = canonical.tag() {
            text = format!("{text}:{tag}");
        }
        if let Some(digest) = canonical.digest() {
            text = format!("{text}@{digest}");
        }
        let again = ImageRef::parse(&text).expect("the respelled reference parses");
        prop_assert_eq!(&again, &canonical, "{}", text);
    }

    #[test]
    fn arbitrary_text_parses_exactly_when_the_model_accepts_it(
        text in chars("aZ09./:@_-*A", 0..24)
    ) {
        prop_assert_eq!(ImageRef::parse(&text).is_ok(), model::reference(&text).is_some(), "{:?}", text);
    }
}
