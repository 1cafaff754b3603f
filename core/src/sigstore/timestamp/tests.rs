//! The checks of [`verify`] one by one, on a real token (the conformance suite's
//! `rekor2-happy-path`, from Sigstore's staging TSA) taken apart and put back with one change.

use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cms::signed_data::SignerInfos;
use cms::signed_data::{SignedData, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};

use super::*;
use crate::crypto::rfc3161::{MESSAGE_DIGEST, SIGNING_CERTIFICATE_V2};
use crate::time::parse_rfc3339;
use cms::cert::CertificateChoices;

const BUNDLE: &str = include_str!(
    "../../../tests/vectors/sigstore/conformance/rekor2-happy-path/bundle.sigstore.json"
);
const ROOT: &str =
    include_str!("../../../tests/vectors/sigstore/conformance/rekor2-happy-path/trusted_root.json");

fn bundle() -> serde_json::Value {
    serde_json::from_str(BUNDLE).expect("bundle")
}

fn field(path: &[&str]) -> Vec<u8> {
    let mut value = &bundle();
    for key in path {
        value = &value[*key];
    }
    STANDARD
        .decode(value.as_str().expect("a string"))
        .expect("base64")
}

fn signature() -> Vec<u8> {
    field(&["messageSignature", "signature"])
}

fn token() -> Vec<u8> {
    let b = bundle();
    let stamp = &b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0];
    STANDARD
        .decode(stamp["signedTimestamp"].as_str().expect("string"))
        .expect("base64")
}

fn root() -> TrustedRoot {
    TrustedRoot::parse(ROOT.as_bytes()).expect("root")
}

/// The token with `change` made to its SignedData.
fn edited(change: impl FnOnce(&mut SignedData)) -> Vec<u8> {
    let mut response = TimeStampResp::from_der(&token()).expect("response");
    let info = response.token.as_mut().expect("token");
    let mut signed_data: SignedData = info.content.decode_as().expect("signed data");
    change(&mut signed_data);
    info.content = Any::encode_from(&signed_data).expect("any");
    response.to_der().expect("der")
}

fn edit_signer(signed_data: &mut SignedData, change: impl FnOnce(&mut SignerInfo)) {
    let mut signers = signed_data.signer_infos.0.clone().into_vec();
    change(&mut signers[0]);
    signed_data.signer_infos = SignerInfos(SetOfVec::try_from(signers).expect("set"));
}

fn edit_attribute(signed_data: &mut SignedData, oid: ObjectIdentifier, change: fn(&mut [u8])) {
    edit_signer(signed_data, |signer| {
        let attributes = signer.signed_attrs.as_mut().expect("signed attributes");
        let mut list = attributes.clone().into_vec();
        for attribute in list.iter_mut().filter(|a| a.oid == oid) {
            let mut values = attribute.values.clone().into_vec();
            let mut der = values[0].to_der().expect("der");
            change(&mut der);
            values[0] = Any::from_der(&der).expect("any");
            attribute.values = SetOfVec::try_from(values).expect("set");
        }
        *attributes = SetOfVec::try_from(list).expect("set");
    });
}

fn refused_by_the_authority(result: Result<UnixTime, TimestampError>) -> AuthorityError {
    match result {
        Err(TimestampError::Untrusted { tried, .. }) if tried.len() == 1 => tried[0].1.clone(),
        other => panic!("expected one authority's refusal, got {other:?}"),
    }
}

fn flip_last(bytes: &mut [u8]) {
    if let Some(last) = bytes.last_mut() {
        *last ^= 1;
    }
}

#[test]
fn the_real_token_verifies_and_its_time_is_read() {
    assert_eq!(
        verify(&token(), &signature(), &root()),
        Ok(parse_rfc3339("2025-06-12T12:02:20Z").expect("date"))
    );
    // Taken apart and put back unchanged, it still verifies: the edits below are the only
    // difference in each test.
    assert!(verify(&edited(|_| {}), &signature(), &root()).is_ok());
}

#[test]
fn the_imprint_must_be_of_the_signature_given() {
    let mut other = signature();
    flip_last(&mut other);
    assert_eq!(
        verify(&token(), &other, &root()),
        Err(TimestampError::ImprintMismatch)
    );
}

#[test]
fn a_changed_signature_is_refused() {
    let token = edited(|sd| {
        edit_signer(sd, |signer| {
            let mut bytes = signer.signature.as_bytes().to_vec();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
            signer.signature = OctetString::new(bytes).expect("octets");
        });
    });
    assert_eq!(
        refused_by_the_authority(verify(&token, &signature(), &root())),
        AuthorityError::Signature
    );
}

#[test]
fn the_message_digest_attribute_must_be_of_the_tst_info() {
    let token = edited(|sd| edit_attribute(sd, MESSAGE_DIGEST, flip_last));
    assert_eq!(
        refused_by_the_authority(verify(&token, &signature(), &root())),
        AuthorityError::SignedAttributes
    );
}

#[test]
fn signing_certificate_v2_must_name_the_signing_certificate() {
    // Byte 10 is inside the first ESSCertIDv2's certificate hash (after three SEQUENCE
    // headers and the OCTET STRING's, with the SHA-256 default algorithm left out).
    let token = edited(|sd| {
        edit_attribute(sd, SIGNING_CERTIFICATE_V2, |der| {
            if let Some(byte) = der.get_mut(10) {
                *byte ^= 1;
            }
        })
    });
    assert_eq!(
        refused_by_the_authority(verify(&token, &signature(), &root())),
        AuthorityError::SigningCertificate
    );
}

#[test]
fn a_token_without_its_certificate_verifies_and_one_with_another_is_refused() {
    let without = edited(|sd| sd.certificates = None);
    assert!(verify(&without, &signature(), &root()).is_ok());
    // Same issuer and serial, another subject: not the authority's certificate.
    let other = edited(|sd| {
        let set = sd.certificates.as_mut().expect("certificates");
        let mut list = set.0.clone().into_vec();
        if let Some(CertificateChoices::Certificate(cert)) = list.first_mut() {
            cert.tbs_certificate.subject = cert.tbs_certificate.issuer.clone();
        }
        set.0 = SetOfVec::try_from(list).expect("set");
    });
    assert_eq!(
        refused_by_the_authority(verify(&other, &signature(), &root())),
        AuthorityError::NotSigner
    );
}

#[test]
fn a_signer_named_by_another_serial_is_not_the_authority() {
    let token = edited(|sd| {
        edit_signer(sd, |signer| {
            if let SignerIdentifier::IssuerAndSerialNumber(id) = &mut signer.sid {
                id.serial_number = x509_cert::serial_number::SerialNumber::from(7u32);
            }
        });
    });
    assert_eq!(
        refused_by_the_authority(verify(&token, &signature(), &root())),
        AuthorityError::NotSigner
    );
}

#[test]
fn a_response_that_is_not_granted_is_refused() {
    let mut response = TimeStampResp::from_der(&token()).expect("response");
    response.status.status = 2;
    let der = response.to_der().expect("der");
    assert_eq!(
        verify(&der, &signature(), &root()),
        Err(TimestampError::NotGranted(2))
    );
}

#[test]
fn the_authority_must_be_valid_at_the_time_with_an_inclusive_end() {
    let at = parse_rfc3339("2025-06-12T12:02:20Z").expect("date");
    let mut root = root();
    root.timestamp_authorities[0].validity.end = Some(at);
    assert_eq!(verify(&token(), &signature(), &root), Ok(at));
    root.timestamp_authorities[0].validity.end = Some(UnixTime(at.0 - 1));
    assert_eq!(
        verify(&token(), &signature(), &root),
        Err(TimestampError::NoAuthorityAt(at))
    );
}

#[test]
fn an_oversized_or_truncated_response_is_refused() {
    let big = alloc::vec![0u8; MAX_TIMESTAMP_BYTES + 1];
    assert_eq!(
        verify(&big, &signature(), &root()),
        Err(TimestampError::TooLarge(MAX_TIMESTAMP_BYTES + 1))
    );
    let token = token();
    assert!(matches!(
        verify(&token[..token.len() - 1], &signature(), &root()),
        Err(TimestampError::Malformed(_))
    ));
}
