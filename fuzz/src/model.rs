//! Independent models of portieris' documented rules, used as oracles by the fuzz targets and
//! by the property tests in `core/tests/proptest_*.rs` (which include this file by path).
//!
//! Written from the documentation (`docs/policies.md`, the grammar at the top of
//! `core/src/reference.rs` and of `core/src/policy/pattern.rs`), not from the code, and in a
//! different style: a state machine for path components, a dynamic-programming glob, splits from
//! the right. Only prelude types are used, so the file compiles in any std crate.

/// Docker Hub as normalised references write it.
pub const DOCKER_HUB: &str = "docker.io";

/// Anchored glob over bytes: `*` matches any run (including none), every other byte itself.
/// Dynamic programming over (pattern suffix, text suffix): `O(pattern × text)`, no backtracking.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // `row[j]`: does pattern[i..] match text[j..]? Start with the empty pattern suffix.
    let mut row: Vec<bool> = (0..=text.len()).map(|j| j == text.len()).collect();
    for &p in pattern.iter().rev() {
        let mut current = vec![false; text.len() + 1];
        for j in (0..=text.len()).rev() {
            current[j] = if p == b'*' {
                row[j] || (j < text.len() && current[j + 1])
            } else {
                j < text.len() && text[j] == p && row[j + 1]
            };
        }
        row = current;
    }
    row[0]
}

/// A normalised image reference as the documented grammar gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefModel {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    /// The 64 hex digits after `sha256:`.
    pub digest: Option<String>,
}

/// Parses and normalises a reference per the grammar; `None` when the grammar refuses it.
///
/// ```text
/// reference := name [ ":" tag ] [ "@" digest ]
/// name      := [ domain "/" ] path-component { "/" path-component }
/// domain    := host [ ":" port ]   (first component, if it has "." or ":" or is "localhost")
/// path-component := [a-z0-9]+ { separator [a-z0-9]+ },  separator := "." | "_" | "__" | "-"+
/// tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
/// digest    := "sha256:" 64 lower-case hex digits
/// ```
/// Host labels are `[A-Za-z0-9]` runs joined by `-` (no leading or trailing `-`); the port is
/// 1 to 5 digits (portieris is stricter than distribution's `[0-9]+`, which only refuses more).
/// Normalisation: the host is lower-cased, no domain is `docker.io`, `:443` is dropped and
/// Docker Hub's other hosts are `docker.io`, a one-component
/// Docker Hub path gets `library/`, no tag and no digest is tag `latest`; the normalised
/// `domain/path` is at most 255 characters.
pub fn reference(text: &str) -> Option<RefModel> {
    let (rest, digest) = match text.find('@') {
        Some(at) => (&text[..at], Some(digest(&text[at + 1..])?)),
        None => (text, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(colon) if !rest[colon + 1..].contains('/') => {
            (&rest[..colon], Some(&rest[colon + 1..]))
        }
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        let bytes = tag.as_bytes();
        let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        let ok = !bytes.is_empty()
            && bytes.len() <= 128
            && word(&bytes[0])
            && bytes[1..]
                .iter()
                .all(|b| word(b) || *b == b'.' || *b == b'-');
        if !ok {
            return None;
        }
    }
    let mut segments: Vec<&str> = name.split('/').collect();
    let first = segments[0];
    let has_domain =
        segments.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut domain = String::from(DOCKER_HUB);
    if has_domain {
        if !domain_ok(first) {
            return None;
        }
        domain = canonical(&first.to_ascii_lowercase());
        segments.remove(0);
    }
    if !segments.iter().all(|s| component_ok(s.as_bytes())) {
        return None;
    }
    let mut path = segments.join("/");
    if domain == DOCKER_HUB && segments.len() == 1 {
        path = format!("library/{path}");
    }
    if domain.len() + 1 + path.len() > 255 {
        return None;
    }
    let tag = match (tag, &digest) {
        (Some(tag), _) => Some(String::from(tag)),
        (None, None) => Some(String::from("latest")),
        (None, Some(_)) => None,
    };
    Some(RefModel {
        domain,
        path,
        tag,
        digest,
    })
}

/// One name per registry: no `:443` (but on a one-label host, which would then read as a
/// Docker Hub path), Docker Hub's other hosts are `docker.io`.
fn canonical(host: &str) -> String {
    let host = match host.strip_suffix(":443") {
        Some(bare) if bare.contains('.') || bare == "localhost" => bare,
        _ => host,
    };
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            String::from(DOCKER_HUB)
        }
        other => String::from(other),
    }
}

fn digest(text: &str) -> Option<String> {
    let hex = text.strip_prefix("sha256:")?;
    let ok = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| String::from(hex))
}

fn domain_ok(domain: &str) -> bool {
    let (host, port) = match domain.rfind(':') {
        Some(colon) => (&domain[..colon], Some(&domain[colon + 1..])),
        None => (domain, None),
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |label: &str| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    port_ok && host.split('.').all(label_ok)
}

/// `[a-z0-9]+ (separator [a-z0-9]+)*` as a state machine.
fn component_ok(bytes: &[u8]) -> bool {
    #[derive(PartialEq)]
    enum State {
        Start,
        Alnum,
        Dot,
        Underscore,
        TwoUnderscores,
        Dash,
    }
    let mut state = State::Start;
    for &b in bytes {
        state = match (state, b) {
            (_, b'a'..=b'z' | b'0'..=b'9') => State::Alnum,
            (State::Alnum, b'.') => State::Dot,
            (State::Alnum, b'_') => State::Underscore,
            (State::Underscore, b'_') => State::TwoUnderscores,
            (State::Alnum | State::Dash, b'-') => State::Dash,
            _ => return false,
        };
    }
    state == State::Alnum
}

/// A repository pattern as `docs/policies.md` describes it, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternModel {
    /// `*` alone: every image.
    pub everything: bool,
    pub host: String,
    pub path: String,
    pub tag: Option<String>,
}

/// Compiles a pattern per the documentation; `None` when it is an error.
///
/// `[host "/"] path [":" tag]`; the first segment is a host when it contains `.` or `:`, is
/// `localhost` or is `*`; hosts are lower-cased, without `:443`, and Docker Hub's other hosts
/// are `docker.io`; no host is Docker Hub, where a one-segment path other than `*` gets
/// `library/`. Empty names, names over 512 bytes, digests (`@`), a name without `/` that is a
/// host, a host with `*` and `:443` or with two ports, and characters no image can have there
/// (upper case in a path) are errors. `**` is `*`.
pub fn pattern(text: &str) -> Option<PatternModel> {
    if text.len() > 512 {
        return None;
    }
    let mut text = String::from(text);
    while text.contains("**") {
        text = text.replace("**", "*");
    }
    let text = text.as_str();
    if text == "*" {
        return Some(PatternModel {
            everything: true,
            host: String::from("*"),
            path: String::from("*"),
            tag: None,
        });
    }
    if text.is_empty() || text.contains('@') {
        return None;
    }
    let (name, tag) = match text.rfind(':') {
        Some(colon) if !text[colon + 1..].contains('/') => {
            (&text[..colon], Some(&text[colon + 1..]))
        }
        _ => (text, None),
    };
    if !name.contains('/') && (name.contains('.') || name.contains(':') || name == "localhost") {
        return None;
    }
    let (host, path) = match name.find('/') {
        Some(slash)
            if {
                let first = &name[..slash];
                first.contains('.') || first.contains(':') || first == "localhost" || first == "*"
            } =>
        {
            (Some(name[..slash].to_ascii_lowercase()), &name[slash + 1..])
        }
        _ => (None, name),
    };
    if host
        .as_deref()
        .is_some_and(|h| h.contains('*') && h.ends_with(":443"))
    {
        return None;
    }
    // One port at most.
    if host.as_deref().is_some_and(|h| h.matches(':').count() > 1) {
        return None;
    }
    let host = match host.as_deref() {
        None => String::from(DOCKER_HUB),
        Some(host) => canonical(host),
    };
    let only = |text: &str, extra: &[u8], upper: bool| {
        !text.is_empty()
            && text.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || (upper && b.is_ascii_uppercase())
                    || extra.contains(&b)
            })
    };
    if !only(&host, b".-:*", true) || !only(path, b"._-/*", false) {
        return None;
    }
    if let Some(tag) = tag
        && !only(tag, b"_.-*", true)
    {
        return None;
    }
    let path = if host == DOCKER_HUB && !path.contains('/') && path != "*" {
        format!("library/{path}")
    } else {
        String::from(path)
    };
    Some(PatternModel {
        everything: false,
        host,
        path,
        tag: tag.map(String::from),
    })
}

impl PatternModel {
    /// Whether the normalised image `domain/path[:tag]` is named by this pattern.
    pub fn matches(&self, domain: &str, path: &str, tag: Option<&str>) -> bool {
        if self.everything {
            return true;
        }
        let tag_ok = match (&self.tag, tag) {
            (None, _) => true,
            (Some(want), Some(tag)) => glob(want.as_bytes(), tag.as_bytes()),
            (Some(_), None) => false,
        };
        tag_ok
            && glob(self.host.as_bytes(), domain.to_ascii_lowercase().as_bytes())
            && glob(self.path.as_bytes(), path.as_bytes())
    }

    /// The normalised text: `host/path[:tag]`, or `*`.
    pub fn normalised(&self) -> String {
        if self.everything {
            return String::from("*");
        }
        match &self.tag {
            Some(tag) => format!("{}/{}:{tag}", self.host, self.path),
            None => format!("{}/{}", self.host, self.path),
        }
    }

    /// No `*` anywhere: it names one repository (or one tag of it).
    pub fn is_exact(&self) -> bool {
        !self.normalised().contains('*')
    }

    /// Characters other than `*` in the normalised text (`*` alone: 0).
    pub fn specificity(&self) -> usize {
        self.normalised().chars().filter(|c| *c != '*').count()
    }
}
