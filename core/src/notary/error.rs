//! Why trust data was refused: each variant names the role and the check that failed.

use alloc::string::String;
use core::fmt;

use super::canonical_json::CanonicalJsonError;
use crate::crypto::KeyProblem;
use crate::reference::Digest;
use crate::time::Rfc3339;
use crate::time::UnixTime;

/// Why trust data was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotaryError {
    /// The role's bytes exceed the size limit.
    TooLarge {
        role: String,
        size: usize,
        limit: usize,
    },
    /// A count (signatures, keys, delegations, roles walked, nesting) exceeds its limit.
    LimitExceeded {
        role: String,
        what: &'static str,
        limit: usize,
    },
    /// The role is not JSON of the expected shape.
    Malformed { role: String, reason: String },
    /// `signed` has no canonical form (a float, a huge integer, deep nesting).
    Canonical {
        role: String,
        error: CanonicalJsonError,
    },
    /// `signed._type` is not the role's type.
    WrongType {
        role: String,
        expected: &'static str,
        found: String,
    },
    /// A `keys` map lists a key under an ID that is not the key's own.
    KeyIdMismatch {
        role: String,
        listed: String,
        computed: String,
    },
    /// A role lists a key ID that its `keys` map lacks.
    UnknownKey { role: String, key_id: String },
    /// Fewer valid signatures than the threshold, counting distinct keys.
    ThresholdNotMet {
        role: String,
        valid: usize,
        threshold: u64,
    },
    /// A new root is not signed by a threshold of the previously trusted root keys.
    RootRotationNotTrusted { valid: usize, threshold: u64 },
    /// No root key is a usable certificate; the reason found for the first one.
    RootKey { key_id: String, problem: KeyProblem },
    /// The root certificate's common name is not the repository (GUN).
    GunMismatch { common_name: String, gun: String },
    /// The metadata's `expires` is before `now` (freeze protection).
    Expired {
        role: String,
        expires: UnixTime,
        now: UnixTime,
    },
    /// The version went backwards from the trusted one (rollback protection).
    Rollback {
        role: String,
        version: u64,
        trusted: u64,
    },
    /// The hash recorded by the referring role does not match the bytes served.
    HashMismatch {
        role: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    /// The length recorded by the referring role does not match the bytes served.
    LengthMismatch {
        role: String,
        expected: u64,
        actual: usize,
    },
    /// The referring role has no usable entry (hashes) for a role it must cover.
    MissingMeta {
        referrer: &'static str,
        role: String,
    },
    /// `trusted` was cached for another repository.
    TrustedForOtherGun { trusted: String, gun: String },
    /// The tag or digest is not a signed target in `targets/releases` or `targets`.
    NotSigned { target: String },
    /// The signed target has no sha256 hash, so there is no digest to pin.
    NoDigest { role: String, target: String },
    /// A signer name that cannot be a delegation (`targets/<name>`).
    InvalidSignerName { signer: String },
    /// The pinned public key or certificate is unusable.
    SignerKey { signer: String, problem: KeyProblem },
    /// `targets.json` does not delegate to `targets/<signer>`.
    SignerNotDelegated { signer: String },
    /// `targets/<signer>` is delegated but absent (not in snapshot, or 404).
    SignerRoleMissing { signer: String },
    /// The delegation to `targets/<signer>` does not list the pinned key.
    SignerKeyNotListed { signer: String, key_id: String },
    /// The pinned key is listed but did not sign `targets/<signer>`.
    SignerKeyDidNotSign { signer: String, key_id: String },
    /// `targets/<signer>` does not sign the tag or digest.
    SignerDidNotSign { signer: String, target: String },
    /// `targets/<signer>` signs the tag with another digest than the release.
    SignerDigestMismatch {
        signer: String,
        target: String,
        release: Digest,
        signed: Digest,
    },
}

impl fmt::Display for NotaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { role, size, limit } => {
                write!(f, "{role}: {size} bytes exceed the limit of {limit}")
            }
            Self::LimitExceeded { role, what, limit } => {
                write!(f, "{role}: more than {limit} {what}")
            }
            Self::Malformed { role, reason } => write!(f, "{role}: malformed metadata: {reason}"),
            Self::Canonical { role, error } => write!(f, "{role}: {error}"),
            Self::WrongType {
                role,
                expected,
                found,
            } => write!(f, "{role}: _type is {found:?}, expected {expected:?}"),
            Self::KeyIdMismatch {
                role,
                listed,
                computed,
            } => write!(f, "{role}: key listed as {listed} has ID {computed}"),
            Self::UnknownKey { role, key_id } => {
                write!(f, "{role}: lists key {key_id}, which is not in its keys")
            }
            Self::ThresholdNotMet {
                role,
                valid,
                threshold,
            } => write!(
                f,
                "{role}: {valid} valid signature(s), threshold is {threshold}"
            ),
            Self::RootRotationNotTrusted { valid, threshold } => write!(
                f,
                "root: signed by {valid} of the trusted root keys, threshold is {threshold}"
            ),
            Self::RootKey { key_id, problem } => write!(f, "root: key {key_id}: {problem}"),
            Self::GunMismatch { common_name, gun } => write!(
                f,
                "root: certificate common name {common_name:?} is not the repository {gun:?}"
            ),
            Self::Expired { role, expires, now } => write!(
                f,
                "{role}: expired at {} (now {})",
                Rfc3339(*expires),
                Rfc3339(*now)
            ),
            Self::Rollback {
                role,
                version,
                trusted,
            } => write!(
                f,
                "{role}: rollback: version {version} < trusted version {trusted}"
            ),
            Self::HashMismatch {
                role,
                algorithm,
                expected,
                actual,
            } => write!(
                f,
                "{role}: {algorithm} mismatch: expected {expected}, got {actual}"
            ),
            Self::LengthMismatch {
                role,
                expected,
                actual,
            } => write!(
                f,
                "{role}: length mismatch: expected {expected}, got {actual}"
            ),
            Self::MissingMeta { referrer, role } => {
                write!(f, "{referrer}: no sha256 entry for {role}")
            }
            Self::TrustedForOtherGun { trusted, gun } => write!(
                f,
                "trusted data is for {trusted:?}, not the repository {gun:?}"
            ),
            Self::NotSigned { target } => write!(f, "{target} is not signed"),
            Self::NoDigest { role, target } => {
                write!(f, "{role}: target {target:?} has no sha256 hash")
            }
            Self::InvalidSignerName { signer } => {
                write!(f, "signer {signer:?} is not a valid delegation name")
            }
            Self::SignerKey { signer, problem } => {
                write!(f, "signer {signer}: pinned key: {problem}")
            }
            Self::SignerNotDelegated { signer } => {
                write!(f, "signer {signer}: targets/{signer} is not delegated")
            }
            Self::SignerRoleMissing { signer } => {
                write!(f, "signer {signer}: targets/{signer} does not exist")
            }
            Self::SignerKeyNotListed { signer, key_id } => write!(
                f,
                "signer {signer}: pinned key {key_id} is not a key of targets/{signer}"
            ),
            Self::SignerKeyDidNotSign { signer, key_id } => write!(
                f,
                "signer {signer}: pinned key {key_id} did not sign targets/{signer}"
            ),
            Self::SignerDidNotSign { signer, target } => {
                write!(f, "signer {signer}: did not sign {target}")
            }
            Self::SignerDigestMismatch {
                signer,
                target,
                release,
                signed,
            } => write!(
                f,
                "signer {signer}: signed {target} as {signed}, the release is {release}"
            ),
        }
    }
}

// Here rather than in `crypto` because it writes times with notary's `Rfc3339`, and `crypto`
// must not import `notary`.
impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedType(keytype) => write!(f, "unsupported key type {keytype:?}"),
            Self::Pem => f.write_str("not a PEM block of the expected kind"),
            Self::Der => f.write_str("DER does not parse"),
            Self::Algorithm => f.write_str("key algorithm does not match the key type"),
            Self::RsaSize => f.write_str("RSA key outside 2048..=8192 bits or bad exponent"),
            Self::Encoding => f.write_str("invalid key encoding"),
            Self::NotLeaf => f.write_str("CA certificate where a leaf is needed"),
            Self::Sha1Certificate => f.write_str("certificate signed with SHA-1"),
            Self::CertificateValidity {
                not_before,
                not_after,
                now,
            } => write!(
                f,
                "certificate valid from {} to {} (now {})",
                Rfc3339(*not_before),
                Rfc3339(*not_after),
                Rfc3339(*now)
            ),
            Self::NotCertificate => f.write_str("not a certificate"),
            Self::TooLarge { bytes, limit } => {
                write!(f, "key of {bytes} bytes, more than {limit}")
            }
        }
    }
}

impl core::error::Error for NotaryError {}
impl core::error::Error for KeyProblem {}
