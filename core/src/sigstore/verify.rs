//! One bundle verified for one artifact, in the order Sigstore's clients verify: each log entry
//! records the bundle and is vouched for by a log of the trusted root; each RFC 3161 timestamp
//! is over its signature; for a keyless bundle, the certificate chains to a Fulcio CA with a
//! valid SCT at every verified signing time; the content is signed by the key (the policy's,
//! or the certificate's); the certificate names one of the expected identities.

use alloc::vec::Vec;
use core::fmt;

use super::bundle::{Bundle, Content, ContentError, Material, check_content};
use super::certificate::{self, CertIdentity, CertificateError};
use super::identity::{self, IdentityError, IdentityPolicy};
use super::timestamp::{self, TimestampError};
use super::tlog::{self, Claim, Signer, TlogError};
use super::trusted_root::TrustedRoot;
use crate::crypto::{KeyProblem, pem_key};
use crate::time::{Rfc3339, UnixTime};

/// Who must have signed.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// A public key, PEM (`PUBLIC KEY`). The key is the trust: log entries and timestamps are
    /// checked only when a trusted root is given.
    Key(&'a str),
    /// A Fulcio certificate for one of these identities (none accepts nobody).
    Keyless(&'a [IdentityPolicy]),
}

/// What a verified bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Every verified signing time: log integrated times and timestamps (empty for a key
    /// bundle checked without a trusted root).
    pub signed_at: Vec<UnixTime>,
    /// The certificate's identity (keyless bundles).
    pub identity: Option<CertIdentity>,
}

/// Why a bundle does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The expected key is not a usable `PUBLIC KEY` PEM.
    Key(KeyProblem),
    /// A key was expected and the bundle carries a certificate, or the reverse.
    Material(&'static str),
    /// A keyless bundle needs a trusted root.
    NoTrustedRoot,
    Content(ContentError),
    /// Log entry `index` (from 0) does not vouch for the bundle.
    Tlog {
        index: usize,
        error: TlogError,
    },
    /// A keyless bundle (or a key bundle checked under a root) with no log entry.
    NoTlogEntry,
    Timestamp {
        index: usize,
        error: TimestampError,
    },
    /// Nothing proves when the bundle was signed (no promise, no timestamp).
    NoSigningTime,
    /// A Rekor v2 entry's log was not trusted at any verified time.
    LogNotValidAtTimestamp {
        index: usize,
    },
    Certificate {
        at: UnixTime,
        error: CertificateError,
    },
    Identity(IdentityError),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(problem) => write!(
                f,
                "the expected key is not a usable PEM public key: {problem}"
            ),
            Self::Material(why) => f.write_str(why),
            Self::NoTrustedRoot => f.write_str("a keyless bundle needs a trusted root"),
            Self::Content(error) => write!(f, "{error}"),
            Self::Tlog { index, error } => write!(f, "log entry {index}: {error}"),
            Self::NoTlogEntry => f.write_str("the bundle has no transparency log entry"),
            Self::Timestamp { index, error } => write!(f, "timestamp {index}: {error}"),
            Self::NoSigningTime => f.write_str(
                "nothing proves when the bundle was signed (no signed log time, no timestamp)",
            ),
            Self::LogNotValidAtTimestamp { index } => write!(
                f,
                "log entry {index}: the log's key was not trusted at any verified signing time"
            ),
            Self::Certificate { at, error } => write!(f, "at {}: {error}", Rfc3339(*at)),
            Self::Identity(error) => write!(f, "{error}"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// Verifies `bundle` as a signature of the artifact whose SHA-256 is `artifact_sha256`, by
/// `expect`, against `root` (required for keyless), at `now` (for log times in the future).
///
/// # Errors
/// The first check that fails; see [`VerifyError`].
pub fn verify(
    bundle: &Bundle,
    artifact_sha256: &[u8; 32],
    expect: Expect<'_>,
    root: Option<&TrustedRoot>,
    now: UnixTime,
) -> Result<Verified, VerifyError> {
    match expect {
        Expect::Key(pem) => with_key(bundle, artifact_sha256, pem, root, now),
        Expect::Keyless(identities) => {
            let root = root.ok_or(VerifyError::NoTrustedRoot)?;
            keyless(bundle, artifact_sha256, identities, root, now)
        }
    }
}

fn with_key(
    bundle: &Bundle,
    artifact_sha256: &[u8; 32],
    pem: &str,
    root: Option<&TrustedRoot>,
    now: UnixTime,
) -> Result<Verified, VerifyError> {
    let (spki, key) = pem_key(pem).map_err(VerifyError::Key)?;
    if key.cert.is_some() {
        return Err(VerifyError::Key(KeyProblem::Pem));
    }
    if !matches!(bundle.material, Material::PublicKey { .. }) {
        return Err(VerifyError::Material(
            "the bundle is signed with a certificate, where a key is expected",
        ));
    }
    check_content(bundle, artifact_sha256, &key.verifier).map_err(VerifyError::Content)?;
    let Some(root) = root else {
        return Ok(Verified {
            signed_at: Vec::new(),
            identity: None,
        });
    };
    let claim = Claim {
        bundle,
        artifact_sha256,
        signer: Signer::PublicKey(&spki),
    };
    let signed_at = times(bundle, &claim, root, now)?;
    Ok(Verified {
        signed_at,
        identity: None,
    })
}

fn keyless(
    bundle: &Bundle,
    artifact_sha256: &[u8; 32],
    identities: &[IdentityPolicy],
    root: &TrustedRoot,
    now: UnixTime,
) -> Result<Verified, VerifyError> {
    let Material::Certificate { leaf, chain } = &bundle.material else {
        return Err(VerifyError::Material(
            "the bundle is signed with a key, where a Fulcio certificate is expected",
        ));
    };
    let claim = Claim {
        bundle,
        artifact_sha256,
        signer: Signer::Certificate(leaf),
    };
    let signed_at = times(bundle, &claim, root, now)?;
    let mut verified = None;
    for at in &signed_at {
        let certificate = certificate::verify(leaf, chain, *at, root)
            .map_err(|error| VerifyError::Certificate { at: *at, error })?;
        verified = Some(certificate);
    }
    let certificate = verified.ok_or(VerifyError::NoSigningTime)?;
    check_content(bundle, artifact_sha256, certificate.verifier()).map_err(VerifyError::Content)?;
    identity::check(&certificate.identity, identities).map_err(VerifyError::Identity)?;
    Ok(Verified {
        signed_at,
        identity: Some(certificate.identity),
    })
}

/// Every verified signing time: each log entry must vouch for the bundle (at least one entry),
/// each timestamp must verify, and there must be at least one time. A log entry that proves no
/// time (Rekor v2) must have been trusted at one of the timestamps' times.
fn times(
    bundle: &Bundle,
    claim: &Claim<'_>,
    root: &TrustedRoot,
    now: UnixTime,
) -> Result<Vec<UnixTime>, VerifyError> {
    if bundle.tlog_entries.is_empty() {
        return Err(VerifyError::NoTlogEntry);
    }
    let signature = signature_bytes(bundle);
    let mut stamped = Vec::new();
    for (index, token) in bundle.rfc3161_timestamps.iter().enumerate() {
        let at = timestamp::verify(token, signature, root)
            .map_err(|error| VerifyError::Timestamp { index, error })?;
        stamped.push(at);
    }
    let mut signed_at = stamped.clone();
    for (index, entry) in bundle.tlog_entries.iter().enumerate() {
        let logged = tlog::verify_entry(entry, &root.tlogs, claim, now)
            .map_err(|error| VerifyError::Tlog { index, error })?;
        match logged.integrated_time {
            Some(at) => signed_at.push(at),
            None if stamped.iter().any(|at| logged.log_valid_at(*at)) => {}
            None if stamped.is_empty() => return Err(VerifyError::NoSigningTime),
            None => return Err(VerifyError::LogNotValidAtTimestamp { index }),
        }
    }
    if signed_at.is_empty() {
        return Err(VerifyError::NoSigningTime);
    }
    Ok(signed_at)
}

/// The bytes a timestamp is taken over: the signature.
fn signature_bytes(bundle: &Bundle) -> &[u8] {
    match &bundle.content {
        Content::MessageSignature(message) => &message.signature,
        Content::Dsse(envelope) => &envelope.signature,
    }
}
