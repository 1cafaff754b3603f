//! Who may have signed: a keyless policy lists identities (an OIDC issuer, a subject and
//! optionally Fulcio's other claims, each exact or a regex) and a certificate is accepted if
//! it matches every field of at least one of them. An empty list accepts nobody.
//!
//! Regexes always match the whole value: each is compiled as `^(?:pattern)$`, and the pattern
//! must parse on its own first, so that it cannot close the group and escape the anchors
//! (`a)|(?:b` would otherwise compile to an unanchored alternation). Compiled once, when the
//! policy is built; their size is bounded ([`MAX_IDENTITY_PATTERN`]).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use regex_automata::meta::Regex;

pub use super::certificate::fulcio::{CertIdentity, SubjectKind, extension_names};
use crate::limits::{MAX_IDENTITIES, MAX_IDENTITY_PATTERN};

/// The compiled size a regex may take (the NFA), so a short pattern with large repetitions
/// (`a{1000}{1000}`) is refused rather than built.
const MAX_REGEX_NFA_BYTES: usize = 1024 * 1024;

/// One value to compare: exactly, or with an anchored regex.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex { pattern: String, regex: Regex },
}

impl Matcher {
    /// A value that must be equal.
    ///
    /// # Errors
    /// [`IdentityError::PatternTooLong`].
    pub fn exact(value: &str) -> Result<Self, IdentityError> {
        bounded(value)?;
        Ok(Self::Exact(value.into()))
    }

    /// A regex that must match the whole value.
    ///
    /// # Errors
    /// [`IdentityError::PatternTooLong`] or [`IdentityError::Regex`].
    pub fn regex(pattern: &str) -> Result<Self, IdentityError> {
        bounded(pattern)?;
        let invalid = |e: &dyn fmt::Display| IdentityError::Regex {
            pattern: pattern.into(),
            message: e.to_string(),
        };
        regex_automata::util::syntax::parse(pattern).map_err(|e| invalid(&e))?;
        let config = Regex::config().nfa_size_limit(Some(MAX_REGEX_NFA_BYTES));
        let regex = Regex::builder()
            .configure(config)
            .build(&format!("^(?:{pattern})$"))
            .map_err(|e| invalid(&e))?;
        Ok(Self::Regex {
            pattern: pattern.into(),
            regex,
        })
    }

    /// Whether `value` matches, whole.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => expected == value,
            // The anchors already make any match whole; the span check keeps that true
            // whatever flags the pattern sets.
            Self::Regex { regex, .. } => regex
                .find(value)
                .is_some_and(|m| m.start() == 0 && m.end() == value.len()),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(value) => write!(f, "\"{value}\""),
            Self::Regex { pattern, .. } => write!(f, "matching /{pattern}/"),
        }
    }
}

fn bounded(pattern: &str) -> Result<(), IdentityError> {
    if pattern.len() > MAX_IDENTITY_PATTERN {
        return Err(IdentityError::PatternTooLong(pattern.len()));
    }
    Ok(())
}

/// One accepted identity: every field given must match.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    pub issuer: Matcher,
    pub subject: Matcher,
    /// Fulcio extensions by name ([`extension_names`]); the certificate must have each.
    pub extensions: BTreeMap<String, Matcher>,
}

impl IdentityPolicy {
    /// An identity; extension names are checked against Fulcio's, so a misspelt name is an
    /// error rather than a field no certificate has.
    ///
    /// # Errors
    /// [`IdentityError::UnknownExtension`].
    pub fn new(
        issuer: Matcher,
        subject: Matcher,
        extensions: BTreeMap<String, Matcher>,
    ) -> Result<Self, IdentityError> {
        if let Some(name) = extensions
            .keys()
            .find(|name| !extension_names().any(|known| known == name.as_str()))
        {
            return Err(IdentityError::UnknownExtension(name.clone()));
        }
        Ok(Self {
            issuer,
            subject,
            extensions,
        })
    }

    /// The first field that differs: its name, what was expected, what the certificate has.
    fn mismatch(&self, identity: &CertIdentity) -> Option<Mismatch> {
        let differs = |field: &str, matcher: &Matcher, found: Option<&String>| {
            (!found.is_some_and(|value| matcher.matches(value))).then(|| Mismatch {
                field: field.into(),
                expected: matcher.to_string(),
                found: found.cloned(),
            })
        };
        differs("issuer", &self.issuer, identity.issuer.as_ref())
            .or_else(|| differs("subject", &self.subject, Some(&identity.subject)))
            .or_else(|| {
                self.extensions.iter().find_map(|(name, matcher)| {
                    differs(name, matcher, identity.extensions.get(name.as_str()))
                })
            })
    }
}

/// A field of one policy identity that the certificate does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub field: String,
    /// The matcher, as displayed (`"exact"` or `matching /regex/`).
    pub expected: String,
    /// The certificate's value; `None` if it has none.
    pub found: Option<String>,
}

/// Why an identity was refused, or a policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    /// A pattern longer than [`MAX_IDENTITY_PATTERN`] bytes.
    PatternTooLong(usize),
    /// A regex that does not compile, or compiles too large.
    Regex { pattern: String, message: String },
    /// An extension name that is not one of Fulcio's.
    UnknownExtension(String),
    /// No identities: a keyless check with no identity accepts nobody.
    NoIdentities,
    /// More than [`MAX_IDENTITIES`] identities.
    TooManyIdentities(usize),
    /// The certificate matches none of the identities; for each, the first field that differs.
    Mismatch {
        subject: String,
        issuer: Option<String>,
        identities: Vec<Mismatch>,
    },
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PatternTooLong(n) => write!(
                f,
                "an identity pattern of {n} bytes is longer than {MAX_IDENTITY_PATTERN}"
            ),
            Self::Regex { pattern, message } => {
                write!(f, "identity regex /{pattern}/ is invalid: {message}")
            }
            Self::UnknownExtension(name) => {
                write!(f, "\"{name}\" is not a Fulcio certificate extension")
            }
            Self::NoIdentities => f.write_str("no identities are allowed, so no signer is"),
            Self::TooManyIdentities(n) => {
                write!(f, "{n} identities, more than {MAX_IDENTITIES}")
            }
            Self::Mismatch {
                subject,
                issuer,
                identities,
            } => {
                write!(
                    f,
                    "the certificate of \"{subject}\" issued by {} matches no allowed identity:",
                    Found(issuer.as_ref())
                )?;
                for (i, m) in identities.iter().enumerate() {
                    let sep = if i == 0 { " " } else { "; " };
                    write!(
                        f,
                        "{sep}[{i}] {} is {}, not {}",
                        m.field,
                        Found(m.found.as_ref()),
                        m.expected
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl core::error::Error for IdentityError {}

/// A certificate value for messages: quoted, or "none".
struct Found<'a>(Option<&'a String>);

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "\"{value}\""),
            None => f.write_str("none"),
        }
    }
}

/// Accepts `identity` if it matches every field of at least one of `policies`.
///
/// # Errors
/// [`IdentityError::NoIdentities`] for an empty list, [`IdentityError::TooManyIdentities`],
/// or [`IdentityError::Mismatch`] naming what differed.
pub fn check(identity: &CertIdentity, policies: &[IdentityPolicy]) -> Result<(), IdentityError> {
    if policies.is_empty() {
        return Err(IdentityError::NoIdentities);
    }
    if policies.len() > MAX_IDENTITIES {
        return Err(IdentityError::TooManyIdentities(policies.len()));
    }
    let mut identities = Vec::new();
    for policy in policies {
        match policy.mismatch(identity) {
            None => return Ok(()),
            Some(m) => identities.push(m),
        }
    }
    Err(IdentityError::Mismatch {
        subject: identity.subject.clone(),
        issuer: identity.issuer.clone(),
        identities,
    })
}

#[cfg(test)]
mod tests;
