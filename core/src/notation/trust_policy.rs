//! The Notary Project's OCI trust policy document (`trustpolicy.json`, version 1.0), read as
//! notation-go reads and validates it, so users bring the file they already have: statements
//! with registry scopes, a verification level with overrides, trust stores
//! (`ca:name`, `signingAuthority:name`, `tsa:name`) and trusted identities.
//!
//! Stricter than notation-go in one way: unknown fields are refused (a misspelt field would
//! otherwise be a silently missing check).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;

use super::identity::DistinguishedName;
use crate::limits::{MAX_TRUST_POLICY_BYTES, MAX_TRUST_POLICY_STATEMENTS};

/// A validated trust policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    pub statements: Vec<Statement>,
}

/// One trust policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub name: String,
    /// `None` for the global scope `*`.
    pub scopes: Option<Vec<String>>,
    /// What each validation does on failure; `None` for the `skip` level.
    pub actions: Option<Actions>,
    /// Whether a timestamp is verified only once a certificate of the chain has expired.
    pub timestamp_after_expiry: bool,
    pub stores: Vec<StoreRef>,
    /// `None` for `*` (any identity the trust stores issue).
    pub identities: Option<Vec<DistinguishedName>>,
}

/// What a failed validation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Enforce,
    Log,
    Skip,
}

/// The action of each validation but integrity (always enforced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    pub authenticity: Action,
    pub authentic_timestamp: Action,
    pub expiry: Action,
    pub revocation: Action,
}

/// The kind of a trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StoreKind {
    Ca,
    SigningAuthority,
    Tsa,
}

impl StoreKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ca" => Some(Self::Ca),
            "signingAuthority" => Some(Self::SigningAuthority),
            "tsa" => Some(Self::Tsa),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ca => "ca",
            Self::SigningAuthority => "signingAuthority",
            Self::Tsa => "tsa",
        }
    }
}

/// A named trust store a statement uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoreRef {
    pub kind: StoreKind,
    pub name: String,
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

/// Why a trust policy document is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicyError(pub String);

impl fmt::Display for TrustPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "notation trust policy: {}", self.0)
    }
}

impl core::error::Error for TrustPolicyError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Document {
    version: String,
    trust_policies: Vec<RawStatement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStatement {
    #[serde(default)]
    name: String,
    #[serde(default)]
    registry_scopes: Vec<String>,
    signature_verification: Verification,
    #[serde(default)]
    trust_stores: Vec<String>,
    #[serde(default)]
    trusted_identities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Verification {
    #[serde(default)]
    level: String,
    #[serde(default)]
    r#override: BTreeMap<String, String>,
    #[serde(default)]
    verify_timestamp: Option<String>,
}

impl TrustPolicy {
    /// Reads and validates a document as notation-go's `OCIDocument.Validate` does.
    pub fn parse(json: &[u8]) -> Result<Self, TrustPolicyError> {
        if json.len() > MAX_TRUST_POLICY_BYTES {
            return Err(error(format!(
                "{} bytes is over the limit of {MAX_TRUST_POLICY_BYTES}",
                json.len()
            )));
        }
        let document: Document = serde_json::from_slice(json)
            .map_err(|e| error(format!("not a trust policy document: {e}")))?;
        if document.version != "1.0" {
            return Err(error(format!(
                "version \"{}\" is not supported (only \"1.0\")",
                document.version
            )));
        }
        if document.trust_policies.is_empty() {
            return Err(error("it has no trust policy statements".into()));
        }
        if document.trust_policies.len() > MAX_TRUST_POLICY_STATEMENTS {
            return Err(error(format!(
                "more than {MAX_TRUST_POLICY_STATEMENTS} statements"
            )));
        }
        let statements = document
            .trust_policies
            .into_iter()
            .map(Statement::validate)
            .collect::<Result<Vec<_>, _>>()?;
        unique(&statements)?;
        Ok(Self { statements })
    }

    /// The statement for a repository (`registry/path`, as fully qualified as notation
    /// writes it: `docker.io/library/nginx`): the one that lists it, else the global one.
    pub fn select(&self, repository: &str) -> Option<&Statement> {
        let listed = |s: &&Statement| {
            s.scopes
                .as_ref()
                .is_some_and(|scopes| scopes.iter().any(|scope| scope == repository))
        };
        (self.statements.iter().find(listed))
            .or_else(|| self.statements.iter().find(|s| s.scopes.is_none()))
    }

    /// Every trust store some statement names.
    pub fn stores(&self) -> BTreeSet<&StoreRef> {
        self.statements.iter().flat_map(|s| &s.stores).collect()
    }
}

fn error(text: String) -> TrustPolicyError {
    TrustPolicyError(text)
}

impl Statement {
    fn validate(raw: RawStatement) -> Result<Self, TrustPolicyError> {
        let name = raw.name;
        if name.is_empty() {
            return Err(error("a statement has no name".into()));
        }
        let within = |e: String| error(format!("statement \"{name}\": {e}"));
        let actions = actions(&raw.signature_verification).map_err(within)?;
        let timestamp_after_expiry = match raw.signature_verification.verify_timestamp.as_deref() {
            None | Some("always") => false,
            Some("afterCertExpiry") => true,
            Some(other) => {
                return Err(within(format!(
                    "verifyTimestamp \"{other}\" is neither \"always\" nor \"afterCertExpiry\""
                )));
            }
        };
        let scopes = scopes(&raw.registry_scopes).map_err(within)?;
        let (stores, identities) = match actions {
            None if raw.trust_stores.is_empty() && raw.trusted_identities.is_empty() => {
                (Vec::new(), None)
            }
            None => {
                return Err(within(
                    "the skip level takes no trust stores and no trusted identities".into(),
                ));
            }
            Some(_) if raw.trust_stores.is_empty() || raw.trusted_identities.is_empty() => {
                return Err(within(
                    "trustStores and trustedIdentities must both be given".into(),
                ));
            }
            Some(_) => (
                stores(&raw.trust_stores).map_err(within)?,
                identities(&raw.trusted_identities).map_err(within)?,
            ),
        };
        Ok(Self {
            name,
            scopes,
            actions,
            timestamp_after_expiry,
            stores,
            identities,
        })
    }
}

/// The level's actions with the overrides applied; `None` for `skip`.
fn actions(verification: &Verification) -> Result<Option<Actions>, String> {
    use Action::{Enforce, Log};
    let mut actions = match verification.level.as_str() {
        "strict" => Actions {
            authenticity: Enforce,
            authentic_timestamp: Enforce,
            expiry: Enforce,
            revocation: Enforce,
        },
        "permissive" => Actions {
            authenticity: Enforce,
            authentic_timestamp: Log,
            expiry: Log,
            revocation: Log,
        },
        "audit" => Actions {
            authenticity: Log,
            authentic_timestamp: Log,
            expiry: Log,
            revocation: Log,
        },
        "skip" if verification.r#override.is_empty() => return Ok(None),
        "skip" => return Err("the skip level cannot be overridden".into()),
        "" => return Err("signatureVerification has no level".into()),
        other => return Err(format!("level \"{other}\" is not a verification level")),
    };
    for (validation, action) in &verification.r#override {
        let action = match action.as_str() {
            "enforce" => Enforce,
            "log" => Log,
            "skip" if validation == "revocation" => Action::Skip,
            "skip" => return Err(format!("{validation} cannot be skipped")),
            other => return Err(format!("\"{other}\" is not enforce, log or skip")),
        };
        let slot = match validation.as_str() {
            "authenticity" => &mut actions.authenticity,
            "authenticTimestamp" => &mut actions.authentic_timestamp,
            "expiry" => &mut actions.expiry,
            "revocation" => &mut actions.revocation,
            "integrity" => return Err("integrity cannot be overridden".into()),
            other => return Err(format!("\"{other}\" is not a validation")),
        };
        *slot = action;
    }
    Ok(Some(actions))
}

/// `None` for the global scope; otherwise repositories as notation validates them.
fn scopes(raw: &[String]) -> Result<Option<Vec<String>>, String> {
    match raw {
        [] => Err("registryScopes is empty".into()),
        [only] if only == "*" => Ok(None),
        _ if raw.iter().any(|s| s == "*") => {
            Err("the scope * cannot be listed with other scopes".into())
        }
        _ => {
            for scope in raw {
                scope_format(scope)?;
            }
            Ok(Some(raw.to_vec()))
        }
    }
}

/// `registry[:port]/repository`, lower-case path components, no wildcard, no tag.
fn scope_format(scope: &str) -> Result<(), String> {
    let invalid = || {
        format!(
            "registry scope \"{scope}\" is not a fully qualified repository \
             (registry/repository, no scheme, tag or wildcard)"
        )
    };
    let (domain, path) = scope.split_once('/').ok_or_else(invalid)?;
    let domain_ok = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    let path_ok = !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    if domain_ok && path_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn stores(raw: &[String]) -> Result<Vec<StoreRef>, String> {
    raw.iter()
        .map(|store| {
            let (kind, name) = store
                .split_once(':')
                .ok_or_else(|| format!("trust store \"{store}\" is not type:name"))?;
            let kind = StoreKind::parse(kind).ok_or_else(|| {
                format!("trust store type \"{kind}\" is not ca, signingAuthority or tsa")
            })?;
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !name_ok {
                return Err(format!(
                    "trust store name \"{name}\" is not of [a-zA-Z0-9_.-]+"
                ));
            }
            Ok(StoreRef {
                kind,
                name: name.into(),
            })
        })
        .collect()
}

/// `None` for `*`; otherwise `x509.subject:` DNs, no two of which overlap.
fn identities(raw: &[String]) -> Result<Option<Vec<DistinguishedName>>, String> {
    if raw.iter().any(|i| i == "*") {
        return match raw {
            [_] => Ok(None),
            _ => Err("the identity * cannot be listed with other identities".into()),
        };
    }
    let parsed = raw
        .iter()
        .map(|identity| {
            let (prefix, value) = identity
                .split_once(':')
                .ok_or_else(|| format!("trusted identity \"{identity}\" has no prefix"))?;
            if prefix != "x509.subject" {
                return Err(format!(
                    "trusted identity \"{identity}\" is not x509.subject: (the only kind)"
                ));
            }
            DistinguishedName::parse(value)
                .map_err(|e| format!("trusted identity \"{identity}\": {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for ((i, a), text_a) in parsed.iter().enumerate().zip(raw) {
        for ((j, b), text_b) in parsed.iter().enumerate().zip(raw) {
            if i != j && a.is_subset_of(b) {
                return Err(format!(
                    "trusted identities \"{text_a}\" and \"{text_b}\" overlap"
                ));
            }
        }
    }
    Ok(Some(parsed))
}

/// Names are unique, a scope belongs to one statement, and only one statement is global.
fn unique(statements: &[Statement]) -> Result<(), TrustPolicyError> {
    let mut names = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for statement in statements {
        if !names.insert(statement.name.as_str()) {
            return Err(error(format!(
                "two statements are named \"{}\"",
                statement.name
            )));
        }
        let listed: Vec<&str> = match &statement.scopes {
            None => alloc::vec!["*"],
            Some(listed) => listed.iter().map(String::as_str).collect(),
        };
        for scope in listed {
            if !scopes.insert(scope) {
                return Err(error(format!(
                    "registry scope \"{scope}\" is in more than one statement"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
