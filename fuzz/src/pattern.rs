//! Repository patterns: `Pattern::parse(..).matches(..)` against the documented model.

use portieris_core::policy::Pattern;
use portieris_core::reference::ImageRef;

use crate::model;

/// Images every pattern is tried on, besides the ones the input names or implies.
pub const IMAGES: &[&str] = &[
    "nginx",
    "busybox:1.36",
    "docker.io/library/nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    "icr.io/team/app:v1.2",
    "de.icr.io/team/app:v1",
    "evil.com/x.icr.io/team/app",
    "localhost:5000/a/b/c:dev",
    "Registry.Example.COM:443/team/app:latest",
    "quay.io/org/app:v1@sha256:2222222222222222222222222222222222222222222222222222222222222222",
];

/// Target `pattern`: `pattern [\n image...]`; without images, ones implied by the pattern.
pub fn run(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let (pattern, images) = text.split_once('\n').unwrap_or((text, ""));
    let images: Vec<&str> = images.lines().collect();
    check(pattern, &images);
}

/// Compiles `text` and compares every match decision with the model.
pub fn check(text: &str, images: &[&str]) {
    let compiled = Pattern::parse(text);
    let expected = model::pattern(text);
    let (compiled, expected) = match (compiled, expected) {
        (Ok(c), Some(m)) => (c, m),
        (Err(_), None) => return,
        (Ok(c), None) => panic!("{text:?}: compiled as {c} but the documented rules refuse it"),
        (Err(e), Some(m)) => panic!("{text:?}: refused ({e}) but the rules accept it as {m:?}"),
    };
    let normalised = compiled.to_string();
    assert_eq!(normalised, expected.normalised(), "{text:?}: normal form");
    assert_eq!(
        compiled.is_exact(),
        expected.is_exact(),
        "{text:?}: exactness"
    );
    assert_eq!(
        compiled.specificity(),
        expected.specificity(),
        "{text:?}: specificity"
    );
    let again = Pattern::parse(&normalised)
        .unwrap_or_else(|e| panic!("{text:?}: normal form {normalised:?} refused: {e}"));
    assert_eq!(
        again, compiled,
        "{text:?}: normalising twice changes the pattern"
    );

    let implied = implied_images(text);
    let all = images
        .iter()
        .copied()
        .chain(implied.iter().map(String::as_str))
        .chain(IMAGES.iter().copied());
    for image in all {
        let Ok(image) = ImageRef::parse(image) else {
            continue;
        };
        let want = expected.matches(image.domain(), image.path(), image.tag());
        assert_eq!(
            compiled.matches(&image),
            want,
            "pattern {text:?} on image {image}: the model says {want}"
        );
    }
}

/// Images a pattern may name: each `*` replaced by a few runs, with and without the tag.
pub fn implied_images(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    for fill in ["", "x", "a/b", "x.y", "-", ":1"] {
        let image = pattern.replace('*', fill);
        out.push(image.to_ascii_lowercase());
        if let Some((name, _)) = image.rsplit_once(':') {
            out.push(format!("{name}@sha256:{}", "3".repeat(64)));
        }
        out.push(image);
    }
    out
}
