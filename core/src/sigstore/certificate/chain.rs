//! Fulcio chains: a leaf for code signing, up to a certificate authority of the trusted root.

use alloc::string::ToString as _;
use alloc::vec::Vec;

use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use super::{CertificateError, Role};
use crate::crypto::certificate::{
    BASIC_CONSTRAINTS, CODE_SIGNING, Cert, ChainError, EXTENDED_KEY_USAGE, KEY_USAGE, check_path,
};
use crate::sigstore::trusted_root::{Authority, TrustedRoot};
use crate::time::UnixTime;

/// The leaf's own checks: an end entity for code signing, valid at `at`.
pub(super) fn check_leaf(leaf: &Cert, at: UnixTime) -> Result<(), CertificateError> {
    let malformed = |()| CertificateError::Malformed(Role::Leaf);
    if let Some(oid) = leaf.unknown_critical() {
        return Err(CertificateError::UnknownCriticalExtension {
            role: Role::Leaf,
            oid: oid.to_string(),
        });
    }
    let constraints: Option<BasicConstraints> =
        leaf.decoded(BASIC_CONSTRAINTS).map_err(malformed)?;
    if constraints.is_some_and(|c| c.ca) {
        return Err(CertificateError::NotCodeSigning("is a CA certificate"));
    }
    let usage: Option<KeyUsage> = leaf.decoded(KEY_USAGE).map_err(malformed)?;
    if !usage.is_some_and(|u| u.digital_signature()) {
        return Err(CertificateError::NotCodeSigning(
            "has no digitalSignature key usage",
        ));
    }
    let extended: Option<ExtendedKeyUsage> = leaf.decoded(EXTENDED_KEY_USAGE).map_err(malformed)?;
    if !extended.is_some_and(|e| e.0.contains(&CODE_SIGNING)) {
        return Err(CertificateError::NotCodeSigning(
            "has no codeSigning extended key usage",
        ));
    }
    if !leaf.valid_at(at) {
        return Err(CertificateError::Expired {
            not_before: leaf.not_before(),
            not_after: leaf.not_after(),
            at,
        });
    }
    Ok(())
}

/// The first certificate authority of `root` valid at `at` whose chain signs `leaf`, with the
/// certificate that signed the leaf.
pub(super) fn to_root<'r>(
    leaf: &Cert,
    at: UnixTime,
    root: &'r TrustedRoot,
) -> Result<(&'r Authority, Cert), CertificateError> {
    let mut tried = Vec::new();
    for (index, authority) in root.certificate_authorities.iter().enumerate() {
        if !authority.validity.contains(at) {
            continue;
        }
        match signs(authority, leaf, at) {
            Ok(issuer) => return Ok((authority, issuer)),
            Err(e) => tried.push((index, e)),
        }
    }
    if tried.is_empty() {
        return Err(CertificateError::NoAuthorityAt(at));
    }
    Err(CertificateError::Untrusted(tried))
}

/// Whether `authority`'s chain (leaf-most first, ending in its root) signs `leaf` at `at`;
/// the certificate that signed the leaf if so. The root is the trust anchor: its own
/// signature is not what makes it trusted, so it is not checked.
pub(super) fn signs(authority: &Authority, leaf: &Cert, at: UnixTime) -> Result<Cert, ChainError> {
    let chain = authority
        .chain
        .iter()
        .enumerate()
        .map(|(index, der)| Cert::parse(der).ok_or(ChainError::Malformed { index }))
        .collect::<Result<Vec<_>, _>>()?;
    check_path(leaf, &chain, 0, at)?;
    chain
        .into_iter()
        .next()
        .ok_or(ChainError::Malformed { index: 0 })
}
