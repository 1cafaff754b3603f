//! Image references: `ImageRef::parse` against the grammar model, normalisation idempotent.

use portieris_core::policy::Pattern;
use portieris_core::reference::{Digest, ImageRef, MAX_NAME_LEN};

use crate::model;

/// Target `reference`: the input as one reference.
pub fn run(data: &[u8]) {
    if let Ok(text) = core::str::from_utf8(data) {
        check(text);
    }
}

/// Every invariant of one reference string.
pub fn check(text: &str) {
    let parsed = ImageRef::parse(text);
    let expected = model::reference(text);
    let reference = match (parsed, expected) {
        (Err(_), None) => return check_digest(text),
        (Ok(r), Some(m)) => {
            assert_eq!(
                (r.domain(), r.path(), r.tag(), r.digest().map(Digest::hex)),
                (
                    m.domain.as_str(),
                    m.path.as_str(),
                    m.tag.as_deref(),
                    m.digest.as_deref()
                ),
                "{text:?}: parse disagrees with the grammar model"
            );
            r
        }
        (Ok(r), None) => panic!("{text:?}: accepted as {r} but the grammar refuses it"),
        (Err(e), Some(m)) => panic!("{text:?}: refused ({e}) but the grammar accepts it as {m:?}"),
    };
    // Normalisation is idempotent: the displayed form parses back to the same reference and
    // displays the same.
    let shown = reference.to_string();
    let again = ImageRef::parse(&shown)
        .unwrap_or_else(|e| panic!("{text:?}: normalised form {shown:?} is refused: {e}"));
    assert_eq!(
        again, reference,
        "{text:?}: parse(display(parse(x))) != parse(x)"
    );
    assert_eq!(again.to_string(), shown, "{text:?}: display is not stable");
    assert!(
        reference.name().len() <= MAX_NAME_LEN,
        "{text:?}: name too long"
    );
    assert!(
        reference.tag().is_some() || reference.digest().is_some(),
        "{text:?}: neither tag nor digest"
    );
    // The pinned form names the same repository and only the digest.
    let digest = reference
        .digest()
        .cloned()
        .unwrap_or_else(|| crate::input::digest(0));
    let pinned = ImageRef::parse(&reference.pinned(&digest))
        .unwrap_or_else(|e| panic!("{text:?}: pinned form refused: {e}"));
    assert_eq!(
        (pinned.name(), pinned.tag(), pinned.digest()),
        (reference.name(), None, Some(&digest)),
        "{text:?}: pinned form"
    );
    // The exact pattern of its own name matches it, whatever the tag or digest.
    let exact = Pattern::parse(&reference.name())
        .unwrap_or_else(|e| panic!("{text:?}: its name is not a pattern: {e}"));
    assert!(exact.is_exact(), "{text:?}: own name is not exact");
    assert!(
        exact.matches(&reference),
        "{text:?}: own name does not match"
    );
    assert_eq!(
        reference.domain(),
        reference.domain().to_ascii_lowercase(),
        "{text:?}: the host is not lower-cased"
    );
    check_digest(text);
}

fn check_digest(text: &str) {
    if let Ok(digest) = Digest::parse(text) {
        assert_eq!(
            digest.to_string(),
            text,
            "a digest displays as it was written"
        );
        assert_eq!(digest.algorithm(), "sha256");
    }
}
