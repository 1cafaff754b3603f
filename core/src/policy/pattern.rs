//! Repository name patterns, compiled once and matched anchored against normalised images.
//!
//! A pattern is `[host "/"] path [":" tag]`, where `*` is a wildcard:
//! - `*` alone matches every image.
//! - The first segment is a host when it contains `.` or `:`, is `localhost`, or is `*`
//!   (docker's rule, plus `*` for "any registry"). A `*` in the host matches within the host
//!   only: it never crosses `/`, so `*.icr.io/ns/*` cannot match `evil.com/x.icr.io/ns/app`.
//! - Without a host the pattern names Docker Hub, normalised as images are: `nginx`,
//!   `library/nginx`, `docker.io/nginx` and `docker.io/library/nginx` are one pattern. A
//!   one-segment Docker Hub path other than `*` gets `library/`.
//! - A `*` in the path matches any run of characters, `/` included (`icr.io/*` is every
//!   repository under icr.io at any depth).
//! - Without a tag the pattern matches any tag and digest references; with a tag it matches
//!   only references carrying a matching tag.
//! - Hosts compare case-insensitively; paths and tags exactly.
//! - A name without `/` whose text is a host (`quay.io`, `*.icr.io`, `localhost:5000`) is
//!   refused: read as docker's grammar reads it, it would be the Docker Hub image
//!   `library/quay.io`, a rule that silently never applies. `quay.io/*` is what is meant.
//! - Runs of `*` are one `*`, a pattern is at most [`MAX_PATTERN_LEN`] bytes, and matching is
//!   linear in the pattern and the image: a policy cannot make resolution slow.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use crate::limits::{MAX_NAME_LEN, MAX_PATTERN_LEN};
use crate::reference::{DOCKER_HUB, ImageRef, canonical_host};

/// A compiled repository pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    host: String,
    path: String,
    tag: Option<String>,
    everything: bool,
    /// Derived at parse time: matching ranks every candidate by these, per image.
    exact: bool,
    specificity: usize,
}

impl Pattern {
    /// Compiles a `repositories[].name`.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong { len: text.len() });
        }
        let collapsed = collapse_stars(text);
        if collapsed == "*" {
            let (host, path) = (String::from("*"), String::from("*"));
            return Ok(Self {
                host,
                path,
                tag: None,
                everything: true,
                exact: false,
                specificity: 0,
            });
        }
        if text.contains('@') {
            return Err(PatternError::Digest);
        }
        let (name, tag) = split_tag(&collapsed);
        if !name.contains('/') && looks_like_host(name) {
            return Err(PatternError::RegistryOnly { name: name.into() });
        }
        let (host, path) = split_host(name);
        // A host has one port at most: `r.io:443:443` is no image's host, and dropping `:443`
        // from it once would leave a pattern that normalises differently a second time.
        if let Some(host) = host.filter(|h| h.matches(':').count() > 1) {
            return Err(PatternError::InvalidCharacter {
                part: "host",
                text: host.into(),
            });
        }
        if let Some(host) = host.filter(|h| h.contains('*') && h.ends_with(":443")) {
            return Err(PatternError::HttpsPort { host: host.into() });
        }
        let host = match host.map(str::to_ascii_lowercase) {
            Some(h) => canonical_host(&h).to_string(),
            None => DOCKER_HUB.to_string(),
        };
        check(
            &host,
            |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'*'),
            "host",
        )?;
        check(
            path,
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/*".contains(&b),
            "path",
        )?;
        if let Some(tag) = tag {
            check(
                tag,
                |b| b.is_ascii_alphanumeric() || b"_.-*".contains(&b),
                "tag",
            )?;
        }
        let path = if host == DOCKER_HUB && !path.contains('/') && path != "*" {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        let tag = tag.map(ToString::to_string);
        let literal = |part: &str| part.bytes().filter(|&b| b != b'*').count();
        let stars = |part: &str| part.contains('*');
        let tag_part = tag.as_deref().unwrap_or("");
        Ok(Self {
            exact: !stars(&host) && !stars(&path) && !stars(tag_part),
            // The normal form's characters other than `*`: host, `/`, path, and `:` + tag.
            specificity: literal(&host)
                + 1
                + literal(&path)
                + tag.as_ref().map_or(0, |t| 1 + literal(t)),
            host,
            path,
            tag,
            everything: false,
        })
    }

    /// Whether `image` is one of the images this pattern names.
    pub fn matches(&self, image: &ImageRef) -> bool {
        if self.everything {
            return true;
        }
        let tag_ok = match (&self.tag, image.tag()) {
            (None, _) => true,
            (Some(want), Some(tag)) => glob(want, tag),
            (Some(_), None) => false,
        };
        // `ImageRef::parse` lower-cases the host, and so does `Pattern::parse`.
        tag_ok && glob(&self.host, image.domain()) && glob(&self.path, image.path())
    }

    /// Whether the pattern names tags (`repo:v1.*`): it then matches only tagged references.
    pub fn has_tag(&self) -> bool {
        self.tag.is_some()
    }

    /// A pattern without any `*`: it names one repository (or one tag of it).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// How specific the pattern is: its characters other than `*`, normalised.
    pub fn specificity(&self) -> usize {
        self.specificity
    }

    /// What an image must have for this pattern to match it: the key it is indexed under.
    pub(crate) fn shape(&self) -> Shape<'_> {
        if self.exact {
            return Shape::Exact {
                host: &self.host,
                path: &self.path,
            };
        }
        let host = (!self.host.contains('*')).then_some(self.host.as_str());
        // Matching is anchored: the text before the first `*` must start the image's path.
        let prefix = self.path.split('*').next().unwrap_or_default();
        Shape::Wildcard { host, prefix }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.everything {
            return f.write_str("*");
        }
        write!(f, "{}/{}", self.host, self.path)?;
        match &self.tag {
            Some(tag) => write!(f, ":{tag}"),
            None => Ok(()),
        }
    }
}

/// The literal parts of a pattern that an image must share with it.
pub(crate) enum Shape<'a> {
    /// No `*` anywhere: the image's host and path are these.
    Exact { host: &'a str, path: &'a str },
    /// `host`: the image's host when the pattern's has no `*`; `prefix`: how the image's
    /// path must start.
    Wildcard {
        host: Option<&'a str>,
        prefix: &'a str,
    },
}

/// Why a repository name is not a usable pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// The name is empty.
    Empty,
    /// Patterns name repositories and tags, not digests.
    Digest,
    /// A host, path or tag has a character that no image reference can contain there.
    InvalidCharacter { part: &'static str, text: String },
    /// Longer than [`MAX_PATTERN_LEN`].
    TooLong { len: usize },
    /// Only a registry host, which docker's grammar reads as a Docker Hub repository.
    RegistryOnly { name: String },
    /// A host with a `*` and the port `:443`, which images drop from their host: the rule
    /// could not say which hosts it means.
    HttpsPort { host: String },
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the repository name is empty"),
            Self::Digest => f.write_str("a repository name cannot contain a digest (@)"),
            Self::InvalidCharacter { part, text } => write!(
                f,
                "the {part} \"{text}\" has a character no image can have there (paths are lower case)"
            ),
            Self::TooLong { len } => write!(
                f,
                "the repository name is {len} bytes, more than {MAX_PATTERN_LEN} (no image name is \
                 longer than {MAX_NAME_LEN})"
            ),
            Self::HttpsPort { host } => write!(
                f,
                "the host \"{host}\" names port 443, which image references drop (icr.io:443 \
                 is icr.io): write the host without \":443\""
            ),
            Self::RegistryOnly { name } => write!(
                f,
                "\"{name}\" names only a registry, which would be read as the Docker Hub image \
                 \"docker.io/library/{name}\" and never apply: write \"{name}/*\" for every \
                 repository of that registry"
            ),
        }
    }
}

impl core::error::Error for PatternError {}

fn check(text: &str, allowed: impl Fn(u8) -> bool, part: &'static str) -> Result<(), PatternError> {
    if !text.is_empty() && text.bytes().all(allowed) {
        Ok(())
    } else {
        Err(PatternError::InvalidCharacter {
            part,
            text: text.to_string(),
        })
    }
}

/// The text with every run of `*` written as one `*`: they match the same.
fn collapse_stars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c == '*' && out.ends_with('*')) {
            out.push(c);
        }
    }
    out
}

/// Docker's test for a first path component that is a host, with `*` standing for anything:
/// `quay.io`, `*.icr.io`, `localhost`, `localhost:5000`.
fn looks_like_host(name: &str) -> bool {
    name.contains(['.', ':']) || name == "localhost"
}

/// `name[:tag]`: a `:` starts a tag only after the last `/`.
fn split_tag(text: &str) -> (&str, Option<&str>) {
    let last_slash = text.rfind('/').map_or(0, |i| i + 1);
    match text[last_slash..].find(':') {
        Some(colon) => (
            &text[..last_slash + colon],
            Some(&text[last_slash + colon + 1..]),
        ),
        None => (text, None),
    }
}

fn split_host(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first == "*" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// Anchored glob match where `*` matches any run of bytes, in time linear in both lengths.
///
/// With `*` as the only wildcard, the literal segments between stars can be matched greedily:
/// the first must start the text, the last must end it, and each one between is taken at its
/// leftmost place after the one before (a later place only leaves less text for the rest).
/// `str::find` is the two-way algorithm, linear in the worst case, so no pattern can make a
/// match quadratic as backtracking on stars would.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(after_first) = text.strip_prefix(first) else {
        return false;
    };
    let (middle, last) = rest.rsplit_once('*').unwrap_or(("", rest));
    if after_first.len() < last.len() || !after_first.ends_with(last) {
        return false;
    }
    let mut free = &after_first[..after_first.len() - last.len()];
    for segment in middle.split('*').filter(|s| !s.is_empty()) {
        match free.find(segment) {
            Some(at) => free = &free[at + segment.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests;
