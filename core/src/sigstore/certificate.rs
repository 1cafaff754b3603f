//! Fulcio certificates: the leaf of a keyless bundle, checked against the trusted root's
//! certificate authorities at a signing time the caller gives (a Rekor integrated time or an
//! RFC 3161 time, never the wall clock), with its embedded SCT checked against the root's CT
//! logs, and the signer's identity read from it.
//!
//! What [`verify`] checks:
//! 1. the leaf is an end-entity certificate for code signing (`digitalSignature`, EKU
//!    `codeSigning`), valid at the time, with no critical extension this code does not check;
//! 2. the bundle's other certificates hold no root (a self-issued certificate): trust comes
//!    from the trusted root only, so they are otherwise not used, as in sigstore-go;
//! 3. some certificate authority whose `validFor` holds the time has a chain that signs the
//!    leaf: each certificate valid at the time, each CA with `cA` and `keyCertSign` and a path
//!    length that allows the certificates below it, each signature checked per its algorithm;
//! 4. an embedded SCT from a CT log of the root, valid at the SCT's time, signs the
//!    precertificate ([`sct`]);
//! 5. the identity (SAN, OIDC issuer, Fulcio's extensions) is readable ([`fulcio`]).

mod chain;
pub mod fulcio;
mod sct;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use der::Decode as _;

pub use self::fulcio::FulcioError;
pub use self::fulcio::{CertIdentity, SubjectKind};
pub use self::sct::SctError;
use super::trusted_root::TrustedRoot;
use crate::crypto::KeyProblem;
use crate::crypto::certificate::Cert;
pub use crate::crypto::certificate::ChainError;
use crate::crypto::keys::Verifier;
use crate::limits::MAX_CHAIN_CERTIFICATES;
use crate::time::{Rfc3339, UnixTime};

/// A leaf certificate that chains to the trusted root and carries a valid SCT.
#[derive(Debug, Clone)]
pub struct VerifiedCertificate {
    /// The leaf's key, which must have made the bundle's signature.
    pub(crate) verifier: Verifier,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// The URI of the certificate authority the leaf chains to.
    pub authority: String,
    pub identity: CertIdentity,
}

impl VerifiedCertificate {
    /// The leaf's public key.
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// Which certificate a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leaf,
    /// The bundle's certificates after the leaf, counted from 1 (the leaf is 0).
    Bundle(usize),
    /// The `index`-th certificate of the `authority`-th certificate authority of the root.
    Authority {
        authority: usize,
        index: usize,
    },
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leaf => f.write_str("the leaf certificate"),
            Self::Bundle(i) => write!(f, "the bundle's certificate {i}"),
            Self::Authority { authority, index } => write!(
                f,
                "certificate {index} of certificateAuthorities[{authority}]"
            ),
        }
    }
}

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// Not DER X.509, or larger than [`crate::limits::MAX_KEY_BYTES`].
    Malformed(Role),
    /// More than [`MAX_CHAIN_CERTIFICATES`] certificates in the bundle.
    TooManyCertificates(usize),
    /// The bundle holds a self-issued (root) certificate.
    RootInBundle(usize),
    /// The leaf's key is not one this verifier supports.
    Key(KeyProblem),
    /// The leaf is a CA, lacks `digitalSignature` key usage, or the `codeSigning` EKU.
    NotCodeSigning(&'static str),
    /// A critical extension whose meaning is not checked here (its OID).
    UnknownCriticalExtension { role: Role, oid: String },
    /// The leaf is not valid at the signing time.
    Expired {
        not_before: UnixTime,
        not_after: UnixTime,
        at: UnixTime,
    },
    /// No certificate authority of the root is valid at the signing time.
    NoAuthorityAt(UnixTime),
    /// No certificate authority valid at the time signs the leaf; why, for each one tried.
    Untrusted(Vec<(usize, ChainError)>),
    /// The embedded SCT is missing or does not verify.
    Sct(SctError),
    /// The identity cannot be read.
    Identity(FulcioError),
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(role) => write!(f, "{role} is not a DER X.509 certificate"),
            Self::TooManyCertificates(n) => write!(
                f,
                "the bundle holds {n} certificates, more than {MAX_CHAIN_CERTIFICATES}"
            ),
            Self::RootInBundle(i) => write!(
                f,
                "the bundle's certificate {i} is a root (self-issued): roots come from the trusted root only"
            ),
            Self::Key(problem) => write!(f, "the leaf certificate's key: {problem}"),
            Self::NotCodeSigning(what) => write!(f, "the leaf certificate {what}"),
            Self::UnknownCriticalExtension { role, oid } => {
                write!(
                    f,
                    "{role} has a critical extension {oid} that is not checked"
                )
            }
            Self::Expired {
                not_before,
                not_after,
                at,
            } => write!(
                f,
                "the leaf certificate is valid from {} to {}, not at the signing time {}",
                Rfc3339(*not_before),
                Rfc3339(*not_after),
                Rfc3339(*at)
            ),
            Self::NoAuthorityAt(at) => write!(
                f,
                "no certificate authority of the trusted root is valid at the signing time {}",
                Rfc3339(*at)
            ),
            Self::Untrusted(tried) => {
                f.write_str("the leaf certificate does not chain to the trusted root:")?;
                for (authority, error) in tried {
                    write!(f, " certificateAuthorities[{authority}]: {error};")?;
                }
                Ok(())
            }
            Self::Sct(e) => write!(f, "the certificate's SCT: {e}"),
            Self::Identity(e) => write!(f, "the certificate's identity: {e}"),
        }
    }
}

impl core::error::Error for CertificateError {}

/// Checks the Fulcio `leaf` (DER), with the bundle's other certificates `intermediates`, at
/// the signing time `at` against `root`, and reads its identity. See the module docs.
///
/// # Errors
/// The first check that fails.
pub fn verify(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    at: UnixTime,
    root: &TrustedRoot,
) -> Result<VerifiedCertificate, CertificateError> {
    if intermediates.len() >= MAX_CHAIN_CERTIFICATES {
        return Err(CertificateError::TooManyCertificates(
            intermediates.len() + 1,
        ));
    }
    let leaf = Cert::parse(leaf).ok_or(CertificateError::Malformed(Role::Leaf))?;
    refuse_roots(intermediates)?;
    chain::check_leaf(&leaf, at)?;
    let (authority, issuer) = chain::to_root(&leaf, at, root)?;
    sct::verify(&leaf, &issuer, &root.ctlogs).map_err(CertificateError::Sct)?;
    let identity = fulcio::identity(&leaf.cert).map_err(CertificateError::Identity)?;
    Ok(VerifiedCertificate {
        verifier: leaf.verifier().map_err(CertificateError::Key)?,
        not_before: leaf.not_before(),
        not_after: leaf.not_after(),
        authority: authority.uri.clone(),
        identity,
    })
}

/// A bundle may carry the chain above the leaf, but not its root: a root there would be a
/// trust anchor chosen by whoever made the bundle (sigstore-conformance
/// `bundle-with-root-cert_fail`).
fn refuse_roots(intermediates: &[Vec<u8>]) -> Result<(), CertificateError> {
    for (i, der) in intermediates.iter().enumerate() {
        let index = i + 1;
        crate::crypto::keys::bounded(der)
            .map_err(|_| CertificateError::Malformed(Role::Bundle(index)))?;
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|_| CertificateError::Malformed(Role::Bundle(index)))?;
        if cert.tbs_certificate.subject == cert.tbs_certificate.issuer {
            return Err(CertificateError::RootInBundle(index));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
