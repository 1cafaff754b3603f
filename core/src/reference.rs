//! Docker / OCI image references: parse, validate and normalise the way docker does.
//!
//! Grammar (from `github.com/distribution/reference`):
//! ```text
//! reference := name [ ":" tag ] [ "@" digest ]
//! name      := [ domain "/" ] path-component { "/" path-component }
//! domain    := host [ ":" port ]          (first component, if it has "." or ":" or is "localhost")
//! path-component := [a-z0-9]+ { separator [a-z0-9]+ },  separator := "." | "_" | "__" | "-"+
//! tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! digest    := "sha256:" 64 lower-case hex digits (the only algorithm accepted)
//! ```
//! Normalisation: the host is lower-cased; no domain means `docker.io`; a one-component Docker Hub path gets
//! `library/`; no tag and no digest means tag `latest`. Every other spelling of one registry is
//! one name ([`canonical_host`]): the HTTPS port `:443` is dropped, and Docker Hub's other hosts
//! (`index.docker.io`, `registry-1.docker.io`, `registry.hub.docker.com`) are `docker.io`, so a
//! rule, a trust server or a pull secret for a registry cannot be walked around by respelling it.

use alloc::string::{String, ToString};
use core::fmt;

pub use crate::limits::MAX_NAME_LEN;
use crate::limits::MAX_TAG_LEN;

/// Docker Hub, as written in normalised references.
pub const DOCKER_HUB: &str = "docker.io";
/// Hosts that serve Docker Hub's repositories under another name.
const DOCKER_HUB_ALIASES: [&str; 3] = [
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
];

/// The one name of a registry host (`host[:port]`, already lower-cased): without the default
/// HTTPS port, Docker Hub's aliases as `docker.io`. A container runtime pulls `icr.io:443/x`
/// and `icr.io/x` from the same place, so policies, trust servers and credentials must see
/// one name. Port 80 is not dropped: runtimes speak HTTPS to it, so it is another endpoint.
/// Nor is `:443` dropped from a one-label host (`registry:443`): `registry/x` would read as the
/// Docker Hub repository `registry/x` (found by the `reference` fuzz target).
pub fn canonical_host(host: &str) -> &str {
    let host = match host.strip_suffix(":443") {
        Some(bare) if bare.contains('.') || bare == "localhost" => bare,
        _ => host,
    };
    if DOCKER_HUB_ALIASES.contains(&host) {
        DOCKER_HUB
    } else {
        host
    }
}
const SHA256_HEX_LEN: usize = 64;

/// A content digest. Only `sha256` exists in the registries we verify against.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lower-case hex>`.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(ReferenceError::InvalidDigest);
        };
        if algorithm != "sha256" {
            return Err(ReferenceError::UnsupportedDigestAlgorithm(
                algorithm.to_string(),
            ));
        }
        if hex.len() != SHA256_HEX_LEN
            || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(ReferenceError::InvalidDigest);
        }
        Ok(Self {
            hex: hex.to_string(),
        })
    }

    /// The digest of a sha256 hash given as raw bytes.
    pub fn from_sha256(hash: &[u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hex = hash
            .iter()
            .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
            .map(char::from)
            .collect();
        Self { hex }
    }

    /// The algorithm name, always `sha256`.
    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// The lower-case hex of the hash.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and normalises an image reference as docker does.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest)?)),
            None => (text, None),
        };
        let (name, tag) = split_tag(rest);
        if let Some(tag) = tag {
            check_tag(tag)?;
        }
        let (domain, path) = split_domain(name);
        // Hosts are case-insensitive: lower-cased, `DOCKER.IO/nginx` is Docker Hub's nginx to
        // the matcher, the trust lookup and the pinned image alike.
        let domain = match domain {
            Some(domain) => {
                check_domain(domain)?;
                canonical_host(&domain.to_ascii_lowercase()).to_string()
            }
            None => DOCKER_HUB.to_string(),
        };
        check_path(path)?;
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            alloc::format!("library/{path}")
        } else {
            path.to_string()
        };
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong);
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The registry host, with its port if it has one (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag; `latest` when the reference had neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, when the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The reference without its digest: `name:tag` (`latest` when it had no tag either).
    pub fn without_digest(&self) -> Self {
        Self {
            tag: Some(self.tag.clone().unwrap_or_else(|| "latest".to_string())),
            digest: None,
            ..self.clone()
        }
    }

    /// `domain/path`: the repository name without tag or digest.
    pub fn name(&self) -> String {
        alloc::format!("{}/{}", self.domain, self.path)
    }

    /// `domain/path@digest`: the immutable form an admitted image is rewritten to.
    pub fn pinned(&self, digest: &Digest) -> String {
        alloc::format!("{}/{}@{}", self.domain, self.path, digest)
    }

    /// `domain/path:tag@digest`: pinned, keeping the tag for people to read (`latest` when
    /// the reference had none). Kubernetes pulls by the digest; the tag is not looked at.
    /// A digest-only reference has no tag to keep and stays `domain/path@digest`.
    pub fn pinned_keeping_tag(&self, digest: &Digest) -> String {
        match &self.tag {
            Some(tag) => alloc::format!("{}/{}:{tag}@{digest}", self.domain, self.path),
            None => self.pinned(digest),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Why a reference was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The reference is an empty string.
    Empty,
    /// Domain and path together are longer than 255 characters.
    NameTooLong,
    /// The path has upper-case letters, which docker never accepts in repositories.
    UpperCaseRepository,
    /// A path component is empty (`a//b`, a leading or trailing `/`).
    EmptyPathComponent,
    /// A path component has a character or separator outside the grammar.
    InvalidPathComponent(String),
    /// The registry host or port is malformed.
    InvalidDomain(String),
    /// The tag is empty, too long or has a character outside `[A-Za-z0-9_.-]`.
    InvalidTag(String),
    /// A digest algorithm other than sha256.
    UnsupportedDigestAlgorithm(String),
    /// The digest is not `sha256:` followed by 64 lower-case hex digits.
    InvalidDigest,
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the image reference is empty"),
            Self::NameTooLong => write!(
                f,
                "the repository name is longer than {MAX_NAME_LEN} characters"
            ),
            Self::UpperCaseRepository => f.write_str("the repository name must be lower case"),
            Self::EmptyPathComponent => {
                f.write_str("the repository name has an empty path component")
            }
            Self::InvalidPathComponent(c) => write!(f, "invalid repository path component \"{c}\""),
            Self::InvalidDomain(d) => write!(f, "invalid registry host \"{d}\""),
            Self::InvalidTag(t) => write!(f, "invalid tag \"{t}\""),
            Self::UnsupportedDigestAlgorithm(a) => {
                write!(
                    f,
                    "unsupported digest algorithm \"{a}\" (only sha256 is accepted)"
                )
            }
            Self::InvalidDigest => {
                f.write_str("the digest must be sha256: followed by 64 lower-case hex digits")
            }
        }
    }
}

impl core::error::Error for ReferenceError {}

/// Splits `name[:tag]`; a `:` only starts a tag after the last `/` (else it is a port).
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

/// Docker's rule: the first component is a domain if it has `.` or `:` or is `localhost`.
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    let valid = !tag.is_empty()
        && tag.len() <= MAX_TAG_LEN
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ReferenceError::InvalidTag(tag.to_string()))
    }
}

fn check_domain(domain: &str) -> Result<(), ReferenceError> {
    let invalid = || ReferenceError::InvalidDomain(domain.to_string());
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let port_ok = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if port.is_some_and(|p| !port_ok(p)) {
        return Err(invalid());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn check_path(path: &str) -> Result<(), ReferenceError> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::UpperCaseRepository);
    }
    path.split('/').try_for_each(check_component)
}

/// `[a-z0-9]+ (separator [a-z0-9]+)*` with separator `.`, `_`, `__` or one or more `-`.
fn check_component(component: &str) -> Result<(), ReferenceError> {
    if component.is_empty() {
        return Err(ReferenceError::EmptyPathComponent);
    }
    let invalid = || ReferenceError::InvalidPathComponent(component.to_string());
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        if i == bytes.len() {
            return Ok(());
        }
        let sep = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        match &component[sep..i] {
            "." | "_" | "__" => {}
            s if s.bytes().all(|b| b == b'-') => {}
            _ => return Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests;
