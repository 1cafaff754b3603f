//! The Notary Project's certificate chain rules (notation-core-go `x509`
//! `ValidateCodeSigningCertChain` and `ValidateTimestampingCertChain`): a chain given leaf
//! first, each certificate issued by the next, ending in a self-signed root (or one self-signed
//! leaf), with the profile's key usages and key sizes. Trust is a separate question:
//! [`trusted`] says whether the chain holds a certificate of the trust store.

use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use der::asn1::ObjectIdentifier;
use rsa::traits::PublicKeyParts as _;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use crate::crypto::certificate::{
    BASIC_CONSTRAINTS, Cert, ChainError, EXTENDED_KEY_USAGE, KEY_USAGE, TIME_STAMPING,
};
use crate::crypto::keys::Verifier;
use crate::limits::MAX_CHAIN_CERTIFICATES;
use crate::time::{Rfc3339, UnixTime};

/// The extended key usages a code-signing leaf must not have: serverAuth, clientAuth,
/// emailProtection, timeStamping, OCSPSigning.
const NOT_FOR_CODE_SIGNING: [ObjectIdentifier; 5] = [
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1"),
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2"),
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4"),
    TIME_STAMPING,
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9"),
];
/// RSA modulus sizes Notary signs with; its EC curves are P-256, P-384 and P-521.
const RSA_SIGNING_BITS: [usize; 3] = [2048, 3072, 4096];

/// Which rules a chain is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// A signature's chain: key usage critical, no EKU that is for something else.
    CodeSigning,
    /// A timestamp authority's chain: the leaf's only EKU is `timeStamping`, marked critical.
    Timestamping,
}

/// Why a chain breaks Notary's rules; `index` counts from the leaf (0).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainProblem {
    Empty,
    /// More than [`MAX_CHAIN_CERTIFICATES`].
    TooLong(usize),
    /// Not DER X.509, or larger than [`crate::limits::MAX_KEY_BYTES`].
    Malformed {
        index: usize,
    },
    /// The last certificate is not self-signed (issuer and subject equal, signed by its own key).
    RootNotSelfSigned {
        index: usize,
    },
    /// A certificate before the last is self-signed.
    SelfSignedInside {
        index: usize,
    },
    /// A certificate is not named and signed by the next, or a CA's constraints do not hold.
    Link(ChainError),
    /// The leaf's basic constraints, key usage or extended key usage break the profile.
    Leaf(&'static str),
    /// A CA's key usage extension is missing or (code signing) not critical.
    CaKeyUsage {
        index: usize,
        why: &'static str,
    },
    /// The leaf's key is not RSA 2048, 3072 or 4096, or ECDSA P-256, P-384 or P-521.
    LeafKey(String),
    /// A critical extension whose meaning is not checked (its OID).
    CriticalExtension {
        index: usize,
        oid: String,
    },
    /// A certificate is not valid over the whole of `earliest..=latest`.
    NotValid {
        index: usize,
        not_before: UnixTime,
        not_after: UnixTime,
        earliest: UnixTime,
        latest: UnixTime,
    },
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the certificate chain is empty"),
            Self::TooLong(n) => write!(
                f,
                "the certificate chain holds {n} certificates, more than {MAX_CHAIN_CERTIFICATES}"
            ),
            Self::Malformed { index } => {
                write!(f, "certificate {index} of the chain does not parse")
            }
            Self::RootNotSelfSigned { index } => write!(
                f,
                "certificate {index}, the last of the chain, is not a self-signed root"
            ),
            Self::SelfSignedInside { index } => write!(
                f,
                "certificate {index} of the chain is self-signed but not its last"
            ),
            Self::Link(e) => write!(f, "{e}"),
            Self::Leaf(why) => write!(f, "the leaf certificate {why}"),
            Self::CaKeyUsage { index, why } => write!(f, "certificate {index} {why}"),
            Self::LeafKey(why) => write!(f, "the leaf certificate's key {why}"),
            Self::CriticalExtension { index, oid } => write!(
                f,
                "certificate {index} has a critical extension {oid} that is not checked"
            ),
            Self::NotValid {
                index,
                not_before,
                not_after,
                earliest,
                latest,
            } => {
                write!(
                    f,
                    "certificate {index} is valid from {} to {}, ",
                    Rfc3339(*not_before),
                    Rfc3339(*not_after)
                )?;
                if earliest == latest {
                    write!(f, "not at {}", Rfc3339(*earliest))
                } else {
                    write!(
                        f,
                        "not throughout {} to {}",
                        Rfc3339(*earliest),
                        Rfc3339(*latest)
                    )
                }
            }
        }
    }
}

impl core::error::Error for ChainProblem {}

/// Notary's code-signing chain rules; with `at`, every certificate must also be valid then
/// (`None` leaves validity to the caller, as notation does when it checks a signature's
/// integrity: which time counts depends on the trust policy and the timestamp).
///
/// # Errors
/// The first rule broken, checked certificate by certificate from the leaf.
pub fn check_code_signing(chain: &[Vec<u8>], at: Option<UnixTime>) -> Result<(), ChainProblem> {
    let certs = check(chain, Profile::CodeSigning)?;
    at.map_or(Ok(()), |at| valid_over(&certs, at, at))
}

/// Notary's timestamping chain rules, with validity at `at` if given.
///
/// # Errors
/// The first rule broken.
pub fn check_timestamping(chain: &[Vec<u8>], at: Option<UnixTime>) -> Result<(), ChainProblem> {
    let certs = check(chain, Profile::Timestamping)?;
    at.map_or(Ok(()), |at| valid_over(&certs, at, at))
}

/// Whether every certificate of `chain` is valid over all of `earliest..=latest` (a timestamp
/// with its accuracy: notation's `BoundedAfter(notBefore)` and `BoundedBefore(notAfter)`).
///
/// # Errors
/// The first certificate that is not, or that does not parse.
pub fn check_valid_over(
    chain: &[Vec<u8>],
    earliest: UnixTime,
    latest: UnixTime,
) -> Result<(), ChainProblem> {
    valid_over(&parse(chain)?, earliest, latest)
}

/// The index of the first certificate of `chain` (leaf first) that is byte for byte a
/// certificate of `store`: notation's authenticity rule (`VerifyAuthenticity`), which trusts
/// a chain that holds any certificate of the trust store, leaf, intermediate or root. The
/// chain's own rules are [`check_code_signing`]'s.
#[must_use]
pub fn trusted(chain: &[Vec<u8>], store: &[Vec<u8>]) -> Option<usize> {
    chain.iter().position(|cert| store.contains(cert))
}

/// Parses `chain` and checks `profile`'s rules, validity aside.
pub(crate) fn check(chain: &[Vec<u8>], profile: Profile) -> Result<Vec<Cert>, ChainProblem> {
    let certs = parse(chain)?;
    for (index, cert) in certs.iter().enumerate() {
        if let Some(oid) = cert.unknown_critical() {
            let oid = oid.to_string();
            return Err(ChainProblem::CriticalExtension { index, oid });
        }
        let self_signed = cert.check_signed_by_with_p521(cert, index).is_ok();
        match certs.get(index + 1) {
            None if !self_signed => return Err(ChainProblem::RootNotSelfSigned { index }),
            Some(_) if self_signed => return Err(ChainProblem::SelfSignedInside { index }),
            Some(issuer) => cert
                .check_signed_by_with_p521(issuer, index + 1)
                .map_err(ChainProblem::Link)?,
            None => {}
        }
        if index == 0 {
            check_leaf(cert, profile)?;
        } else {
            check_ca(cert, index, profile)?;
        }
    }
    Ok(certs)
}

/// The certificates of `chain`, at least one and at most [`MAX_CHAIN_CERTIFICATES`].
pub(crate) fn parse(chain: &[Vec<u8>]) -> Result<Vec<Cert>, ChainProblem> {
    if chain.is_empty() {
        return Err(ChainProblem::Empty);
    }
    if chain.len() > MAX_CHAIN_CERTIFICATES {
        return Err(ChainProblem::TooLong(chain.len()));
    }
    chain
        .iter()
        .enumerate()
        .map(|(index, der)| Cert::parse(der).ok_or(ChainProblem::Malformed { index }))
        .collect()
}

pub(crate) fn valid_over(
    certs: &[Cert],
    earliest: UnixTime,
    latest: UnixTime,
) -> Result<(), ChainProblem> {
    for (index, cert) in certs.iter().enumerate() {
        let (not_before, not_after) = (cert.not_before(), cert.not_after());
        if earliest < not_before || latest > not_after {
            return Err(ChainProblem::NotValid {
                index,
                not_before,
                not_after,
                earliest,
                latest,
            });
        }
    }
    Ok(())
}

fn check_leaf(leaf: &Cert, profile: Profile) -> Result<(), ChainProblem> {
    let malformed = |()| ChainProblem::Malformed { index: 0 };
    let constraints: Option<BasicConstraints> =
        leaf.decoded(BASIC_CONSTRAINTS).map_err(malformed)?;
    if constraints.is_some_and(|c| c.ca) {
        return Err(ChainProblem::Leaf("is a CA certificate"));
    }
    check_key_usage_present(leaf, 0, profile)?;
    let usage: Option<KeyUsage> = leaf.decoded(KEY_USAGE).map_err(malformed)?;
    let usage = usage.map(|u| u.0).unwrap_or_default();
    if !usage.contains(KeyUsages::DigitalSignature) {
        return Err(ChainProblem::Leaf("has no digitalSignature key usage"));
    }
    // Notary allows nonRepudiation beside digitalSignature, and nothing else.
    if !(usage - KeyUsages::DigitalSignature - KeyUsages::NonRepudiation).is_empty() {
        return Err(ChainProblem::Leaf(
            "has key usages other than digitalSignature",
        ));
    }
    check_extended_key_usage(leaf, profile)?;
    check_leaf_key(leaf)
}

fn check_extended_key_usage(leaf: &Cert, profile: Profile) -> Result<(), ChainProblem> {
    let malformed = |()| ChainProblem::Malformed { index: 0 };
    let extended: Option<ExtendedKeyUsage> = leaf.decoded(EXTENDED_KEY_USAGE).map_err(malformed)?;
    let usages = extended.map(|e| e.0).unwrap_or_default();
    match profile {
        Profile::CodeSigning => {
            if usages.iter().any(|u| NOT_FOR_CODE_SIGNING.contains(u)) {
                return Err(ChainProblem::Leaf(
                    "has an extended key usage that is not for code signing",
                ));
            }
        }
        Profile::Timestamping => {
            // RFC 3161 2.3: one EKU, timeStamping, in a critical extension.
            if usages != [TIME_STAMPING] {
                return Err(ChainProblem::Leaf(
                    "must have timeStamping as its only extended key usage",
                ));
            }
            if !is_critical(leaf, EXTENDED_KEY_USAGE) {
                return Err(ChainProblem::Leaf(
                    "must mark its extended key usage critical",
                ));
            }
        }
    }
    Ok(())
}

fn check_leaf_key(leaf: &Cert) -> Result<(), ChainProblem> {
    let key = leaf
        .verifier_with_p521()
        .map_err(|problem| ChainProblem::LeafKey(alloc::format!("is not usable: {problem}")))?;
    match key {
        Verifier::Ecdsa(_) | Verifier::EcdsaP384(_) | Verifier::EcdsaP521(_) => Ok(()),
        // Go counts bytes: its key size is the modulus length rounded up to whole bytes.
        Verifier::Rsa(key) if RSA_SIGNING_BITS.contains(&key.n().bits().next_multiple_of(8)) => {
            Ok(())
        }
        Verifier::Rsa(key) => Err(ChainProblem::LeafKey(alloc::format!(
            "is RSA with {} bits, not 2048, 3072 or 4096",
            key.n().bits()
        ))),
        Verifier::Ed25519(_) => Err(ChainProblem::LeafKey("is Ed25519, not RSA or ECDSA".into())),
    }
}

fn check_ca(ca: &Cert, index: usize, profile: Profile) -> Result<(), ChainProblem> {
    check_key_usage_present(ca, index, profile)?;
    // Validity is the caller's: `None`. The CAs below this one are `index - 1`.
    ca.check_ca(index, index - 1, None)
        .map_err(ChainProblem::Link)
}

/// Both profiles need a key usage extension; code signing needs it critical.
fn check_key_usage_present(
    cert: &Cert,
    index: usize,
    profile: Profile,
) -> Result<(), ChainProblem> {
    let present = cert
        .extension(KEY_USAGE)
        .map_err(|()| ChainProblem::Malformed { index })?
        .is_some();
    let why = if !present {
        "has no key usage extension"
    } else if profile == Profile::CodeSigning && !is_critical(cert, KEY_USAGE) {
        "does not mark its key usage extension critical"
    } else {
        return Ok(());
    };
    if index == 0 {
        Err(ChainProblem::Leaf(why))
    } else {
        Err(ChainProblem::CaKeyUsage { index, why })
    }
}

fn is_critical(cert: &Cert, oid: ObjectIdentifier) -> bool {
    cert.cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .any(|e| e.extn_id == oid && e.critical)
}

#[cfg(test)]
mod tests;
