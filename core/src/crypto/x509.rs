//! The parts of an X.509 certificate that are looked at: common name, validity, CA flag,
//! signature algorithm, and the subject public key; validated as notary validates them.

use alloc::string::String;

use der::asn1::ObjectIdentifier;
use der::{Decode as _, Tag, Tagged as _};
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

use super::KeyProblem;
use super::keys::{Verifier, bounded, verifier_from_spki};
use crate::time::UnixTime;

const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// sha1WithRSAEncryption, dsa-with-sha1, ecdsa-with-SHA1: what notary's
/// `ValidateCertificate` refuses.
const SHA1_SIGNATURES: [ObjectIdentifier; 3] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"),
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
];

/// Notary gives a certificate's `NotBefore` one day of leeway for clock skew.
const NOT_BEFORE_LEEWAY: u64 = 86_400;

/// A parsed certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    /// The last CN of the subject, as Go's `pkix.Name` keeps it.
    pub common_name: Option<String>,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    pub is_ca: bool,
    pub sha1_signed: bool,
    pub verifier: Verifier,
}

impl CertInfo {
    pub(crate) fn parse(der: &[u8]) -> Result<Self, KeyProblem> {
        // Callers bound the PEM; the DER is bounded again here for any other path.
        bounded(der)?;
        let cert = Certificate::from_der(der).map_err(|_| KeyProblem::Der)?;
        let tbs = &cert.tbs_certificate;
        let is_ca = match tbs
            .extensions
            .iter()
            .flatten()
            .find(|ext| ext.extn_id == BASIC_CONSTRAINTS)
        {
            Some(ext) => {
                BasicConstraints::from_der(ext.extn_value.as_bytes())
                    .map_err(|_| KeyProblem::Der)?
                    .ca
            }
            None => false,
        };
        let seconds = |time: x509_cert::time::Time| UnixTime(time.to_unix_duration().as_secs());
        Ok(Self {
            common_name: common_name(&tbs.subject),
            not_before: seconds(tbs.validity.not_before),
            not_after: seconds(tbs.validity.not_after),
            is_ca,
            sha1_signed: SHA1_SIGNATURES.contains(&cert.signature_algorithm.oid),
            verifier: verifier_from_spki(&tbs.subject_public_key_info)?,
        })
    }

    /// Notary's `ValidateCertificate`: no SHA-1, a window that is not inverted, and, when
    /// `now` is given, `not_before - 1 day <= now <= not_after`. (RSA size is checked when the
    /// key is parsed.)
    pub(crate) fn validate(&self, now: Option<UnixTime>) -> Result<(), KeyProblem> {
        if self.sha1_signed {
            return Err(KeyProblem::Sha1Certificate);
        }
        let window = |now| KeyProblem::CertificateValidity {
            not_before: self.not_before,
            not_after: self.not_after,
            now,
        };
        if self.not_before > self.not_after {
            return Err(window(now.unwrap_or(UnixTime(0))));
        }
        if let Some(now) = now {
            let earliest = self.not_before.0.saturating_sub(NOT_BEFORE_LEEWAY);
            if now.0 < earliest || now > self.not_after {
                return Err(window(now));
            }
        }
        Ok(())
    }
}

fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|attribute| attribute.oid == COMMON_NAME)
        .filter_map(|attribute| {
            let value = &attribute.value;
            let text = matches!(
                value.tag(),
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
            );
            text.then(|| core::str::from_utf8(value.value()).ok())
                .flatten()
                .map(String::from)
        })
        .next_back()
}
