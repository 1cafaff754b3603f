//! A Fulcio-like PKI made in memory (P-256 root, intermediate, leaf, CT log), with knobs to
//! break each check of [`verify`].

use alloc::string::ToString as _;
use alloc::vec;
use alloc::vec::Vec;
use core::str::FromStr as _;
use core::time::Duration;

use der::Encode as _;
use der::asn1::{BitString, Ia5String, ObjectIdentifier, OctetString, Utf8StringRef};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePublicKey as _;
use sha2::{Digest as _, Sha256};
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity as CertValidity};

use super::*;
use crate::crypto::keys::Hash;
use crate::sigstore::trusted_root::{Authority, LogKey, Validity};
use crate::time::parse_rfc3339;

const SUBJECT: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

fn at(text: &str) -> UnixTime {
    parse_rfc3339(text).expect("test date")
}

/// When the leaf was issued (and its SCT made); it is valid for ten minutes.
fn signed() -> UnixTime {
    at("2026-06-01T12:00:00Z")
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32].into()).expect("scalar")
}

fn spki(key: &SigningKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).expect("spki")
}

fn name(cn: &str) -> Name {
    Name::from_str(&alloc::format!("CN={cn},O=example")).expect("name")
}

fn time(at: UnixTime) -> Time {
    Time::UtcTime(der::asn1::UtcTime::from_unix_duration(Duration::from_secs(at.0)).expect("utc"))
}

fn ext(oid: &str, critical: bool, value: &impl der::Encode) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap(oid),
        critical,
        extn_value: OctetString::new(value.to_der().expect("der")).expect("octets"),
    }
}

fn raw_ext(oid: &str, value: &[u8]) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap(oid),
        critical: false,
        extn_value: OctetString::new(value).expect("octets"),
    }
}

fn ca_extensions(path_len: Option<u8>) -> Vec<Extension> {
    vec![
        ext(
            "2.5.29.19",
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
        ),
        ext(
            "2.5.29.15",
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        ),
    ]
}

fn tbs(
    serial: u32,
    issuer: &str,
    subject: Name,
    key: &SigningKey,
    window: (UnixTime, UnixTime),
    extensions: Vec<Extension>,
) -> TbsCertificate {
    TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::from(serial),
        signature: AlgorithmIdentifierOwned {
            oid: ECDSA_SHA256,
            parameters: None,
        },
        issuer: name(issuer),
        validity: CertValidity {
            not_before: time(window.0),
            not_after: time(window.1),
        },
        subject,
        subject_public_key_info: spki(key),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    }
}

fn sign(tbs: TbsCertificate, signer: &SigningKey) -> Vec<u8> {
    use p256::ecdsa::signature::Signer as _;
    let signature: p256::ecdsa::DerSignature = signer.sign(&tbs.to_der().expect("tbs"));
    let cert = x509_cert::Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(signature.as_bytes()).expect("bits"),
    };
    cert.to_der().expect("certificate")
}

/// The knobs: each edits one part before it is signed.
#[derive(Default)]
struct Knobs {
    leaf: Option<fn(&mut Vec<Extension>)>,
    intermediate: Option<fn(&mut Vec<Extension>)>,
    root_path_len: Option<u8>,
    /// Edits the leaf after its SCT was made (so the SCT no longer covers it).
    after_sct: Option<fn(&mut Vec<Extension>)>,
    sct_time: Option<UnixTime>,
    /// When the leaf's ten minutes start (and its SCT is made), instead of [`signed`].
    leaf_start: Option<UnixTime>,
}

struct Pki {
    root: TrustedRoot,
    leaf: Vec<u8>,
}

fn leaf_extensions() -> Vec<Extension> {
    let uri = Ia5String::new(SUBJECT).expect("ia5");
    let code_signing = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    vec![
        ext(
            "2.5.29.15",
            true,
            &KeyUsage(KeyUsages::DigitalSignature.into()),
        ),
        ext("2.5.29.37", false, &ExtendedKeyUsage(vec![code_signing])),
        ext(
            "2.5.29.17",
            true,
            &SubjectAltName(vec![GeneralName::UniformResourceIdentifier(uri)]),
        ),
        raw_ext("1.3.6.1.4.1.57264.1.2", b"push"),
        ext(
            "1.3.6.1.4.1.57264.1.8",
            false,
            &Utf8StringRef::new(ISSUER).expect("utf8"),
        ),
        ext(
            "1.3.6.1.4.1.57264.1.12",
            false,
            &Utf8StringRef::new("https://github.com/acme/app").expect("utf8"),
        ),
    ]
}

fn pki(knobs: &Knobs) -> Pki {
    let (root_key, intermediate_key, leaf_key, ct_key) = (key(1), key(2), key(3), key(4));
    let year = (at("2026-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z"));
    let root = sign(
        tbs(
            1,
            "root",
            name("root"),
            &root_key,
            year,
            ca_extensions(knobs.root_path_len),
        ),
        &root_key,
    );
    let mut extensions = ca_extensions(Some(0));
    if let Some(edit) = knobs.intermediate {
        edit(&mut extensions);
    }
    let intermediate = sign(
        tbs(
            2,
            "root",
            name("intermediate"),
            &intermediate_key,
            year,
            extensions,
        ),
        &root_key,
    );

    let mut extensions = leaf_extensions();
    if let Some(edit) = knobs.leaf {
        edit(&mut extensions);
    }
    let start = knobs.leaf_start.unwrap_or(signed());
    let window = (start, UnixTime(start.0 + 600));
    let mut leaf = tbs(
        3,
        "intermediate",
        Name::default(),
        &leaf_key,
        window,
        extensions,
    );
    let ct_spki = ct_key
        .verifying_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    let log_id: [u8; 32] = Sha256::digest(&ct_spki).into();
    let sct_time = knobs.sct_time.unwrap_or(start);
    let sct = sct(&ct_key, &log_id, sct_time, &leaf, &spki(&intermediate_key));
    leaf.extensions.get_or_insert_with(Vec::new).push(raw_ext(
        "1.3.6.1.4.1.11129.2.4.2",
        &OctetString::new(sct)
            .expect("octets")
            .to_der()
            .expect("der"),
    ));
    if let Some(edit) = knobs.after_sct {
        edit(leaf.extensions.get_or_insert_with(Vec::new));
    }
    let leaf = sign(leaf, &intermediate_key);

    let always = Validity {
        start: UnixTime(0),
        end: None,
    };
    let root = TrustedRoot {
        tlogs: Vec::new(),
        ctlogs: vec![LogKey {
            base_url: "https://ct.example".into(),
            log_id: log_id.to_vec(),
            key: Verifier::Ecdsa(*ct_key.verifying_key()),
            hash: Hash::Sha256,
            key_der: ct_spki,
            validity: Validity {
                start: at("2026-01-01T00:00:00Z"),
                end: None,
            },
        }],
        certificate_authorities: vec![Authority {
            uri: "https://fulcio.example".into(),
            chain: vec![intermediate, root],
            validity: always,
        }],
        timestamp_authorities: Vec::new(),
    };
    Pki { root, leaf }
}

/// A TLS SCT list with one SCT over the precertificate `tbs` (which has no SCT yet).
fn sct(
    ct: &SigningKey,
    log_id: &[u8],
    at: UnixTime,
    tbs: &TbsCertificate,
    issuer: &SubjectPublicKeyInfoOwned,
) -> Vec<u8> {
    use p256::ecdsa::signature::Signer as _;
    let timestamp = (at.0 * 1000).to_be_bytes();
    let tbs = tbs.to_der().expect("tbs");
    let mut signed = vec![0u8, 0];
    signed.extend_from_slice(&timestamp);
    signed.extend_from_slice(&[0, 1]);
    signed.extend_from_slice(&Sha256::digest(issuer.to_der().expect("spki")));
    let len = u32::try_from(tbs.len()).expect("len").to_be_bytes();
    signed.extend_from_slice(&len[1..]);
    signed.extend_from_slice(&tbs);
    signed.extend_from_slice(&[0, 0]);
    let signature: p256::ecdsa::DerSignature = ct.sign(&signed);
    let signature = signature.as_bytes();

    let mut one = vec![0u8];
    one.extend_from_slice(log_id);
    one.extend_from_slice(&timestamp);
    one.extend_from_slice(&[0, 0, 4, 3]);
    one.extend_from_slice(&u16::try_from(signature.len()).expect("len").to_be_bytes());
    one.extend_from_slice(signature);
    let mut list = u16::try_from(one.len() + 2)
        .expect("len")
        .to_be_bytes()
        .to_vec();
    list.extend_from_slice(&u16::try_from(one.len()).expect("len").to_be_bytes());
    list.extend_from_slice(&one);
    list
}

fn check(knobs: &Knobs, at: UnixTime) -> Result<VerifiedCertificate, CertificateError> {
    let pki = pki(knobs);
    verify(&pki.leaf, &[], at, &pki.root)
}

fn remove(extensions: &mut Vec<Extension>, oid: &str) {
    let oid = ObjectIdentifier::new_unwrap(oid);
    extensions.retain(|e| e.extn_id != oid);
}

fn untrusted(result: Result<VerifiedCertificate, CertificateError>) -> ChainError {
    match result {
        Err(CertificateError::Untrusted(tried)) if tried.len() == 1 => tried[0].1.clone(),
        other => panic!("expected one untrusted chain, got {other:?}"),
    }
}

#[test]
fn a_fulcio_leaf_with_its_sct_verifies_and_yields_its_identity() {
    let verified = check(&Knobs::default(), UnixTime(signed().0 + 60)).expect("verifies");
    assert_eq!(verified.identity.subject, SUBJECT);
    assert_eq!(verified.identity.subject_kind, SubjectKind::Uri);
    assert_eq!(verified.identity.issuer.as_deref(), Some(ISSUER));
    let extensions: Vec<(&str, &str)> = verified
        .identity
        .extensions
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    assert_eq!(
        extensions,
        [
            ("githubWorkflowTrigger", "push"),
            ("sourceRepositoryURI", "https://github.com/acme/app")
        ]
    );
    assert_eq!(verified.authority, "https://fulcio.example");
    assert_eq!(verified.not_after, UnixTime(signed().0 + 600));
}

#[test]
fn the_leaf_must_be_valid_at_the_signing_time_inclusive() {
    assert!(check(&Knobs::default(), signed()).is_ok());
    assert!(check(&Knobs::default(), UnixTime(signed().0 + 600)).is_ok());
    assert!(matches!(
        check(&Knobs::default(), UnixTime(signed().0 + 601)),
        Err(CertificateError::Expired { .. })
    ));
    assert!(matches!(
        check(&Knobs::default(), UnixTime(signed().0 - 1)),
        Err(CertificateError::Expired { .. })
    ));
}

#[test]
fn the_leaf_must_be_an_end_entity_for_code_signing() {
    let knobs = Knobs {
        leaf: Some(|e| {
            e.push(ext(
                "2.5.29.19",
                true,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: None,
                },
            ))
        }),
        ..Knobs::default()
    };
    assert_eq!(
        check(&knobs, signed()).err(),
        Some(CertificateError::NotCodeSigning("is a CA certificate"))
    );
    let knobs = Knobs {
        leaf: Some(|e| remove(e, "2.5.29.37")),
        ..Knobs::default()
    };
    assert_eq!(
        check(&knobs, signed()).err(),
        Some(CertificateError::NotCodeSigning(
            "has no codeSigning extended key usage"
        ))
    );
    let knobs = Knobs {
        leaf: Some(|e| {
            remove(e, "2.5.29.15");
            e.push(ext(
                "2.5.29.15",
                true,
                &KeyUsage(KeyUsages::KeyEncipherment.into()),
            ));
        }),
        ..Knobs::default()
    };
    assert_eq!(
        check(&knobs, signed()).err(),
        Some(CertificateError::NotCodeSigning(
            "has no digitalSignature key usage"
        ))
    );
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    let knobs = Knobs {
        leaf: Some(|e| {
            let mut policy = raw_ext("2.5.29.32", &[0x30, 0]);
            policy.critical = true;
            e.push(policy);
        }),
        ..Knobs::default()
    };
    assert!(matches!(
        check(&knobs, signed()),
        Err(CertificateError::UnknownCriticalExtension {
            role: Role::Leaf,
            ..
        })
    ));
}

#[test]
fn the_intermediate_must_be_a_ca_that_may_sign_certificates() {
    let knobs = Knobs {
        intermediate: Some(|e| {
            remove(e, "2.5.29.15");
            e.push(ext(
                "2.5.29.15",
                true,
                &KeyUsage(KeyUsages::DigitalSignature.into()),
            ));
        }),
        ..Knobs::default()
    };
    assert!(matches!(
        untrusted(check(&knobs, signed())),
        ChainError::NotCa { index: 0, .. }
    ));
    let knobs = Knobs {
        intermediate: Some(|e| remove(e, "2.5.29.19")),
        ..Knobs::default()
    };
    assert!(matches!(
        untrusted(check(&knobs, signed())),
        ChainError::NotCa { index: 0, .. }
    ));
}

#[test]
fn a_path_length_of_zero_on_the_root_refuses_an_intermediate() {
    let knobs = Knobs {
        root_path_len: Some(0),
        ..Knobs::default()
    };
    assert!(matches!(
        untrusted(check(&knobs, signed())),
        ChainError::NotCa { index: 1, .. }
    ));
    let knobs = Knobs {
        root_path_len: Some(1),
        ..Knobs::default()
    };
    assert!(check(&knobs, signed()).is_ok());
}

#[test]
fn every_certificate_of_the_chain_must_be_valid_at_the_signing_time() {
    // A leaf issued in 2027 under CAs whose certificates end in 2026.
    let start = at("2027-01-01T00:00:00Z");
    let knobs = Knobs {
        leaf_start: Some(start),
        ..Knobs::default()
    };
    assert!(matches!(
        untrusted(check(&knobs, start)),
        ChainError::NotValidAt { index: 0, .. }
    ));
}

#[test]
fn the_authority_chain_is_read_leaf_most_first() {
    let pki = pki(&Knobs::default());
    let mut root = pki.root.clone();
    root.certificate_authorities[0].chain.reverse();
    assert!(matches!(
        untrusted(verify(&pki.leaf, &[], signed(), &root)),
        ChainError::IssuerName { index: 0 }
    ));
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let pki = pki(&Knobs::default());
    let other = pki_with_other_intermediate_key();
    let mut root = pki.root.clone();
    root.certificate_authorities[0].chain[0] = other;
    assert_eq!(
        untrusted(verify(&pki.leaf, &[], signed(), &root)),
        ChainError::Signature { index: 0 }
    );
}

fn pki_with_other_intermediate_key() -> Vec<u8> {
    let year = (at("2026-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z"));
    sign(
        tbs(
            2,
            "root",
            name("intermediate"),
            &key(9),
            year,
            ca_extensions(Some(0)),
        ),
        &key(1),
    )
}

#[test]
fn the_authority_must_be_valid_at_the_signing_time_with_an_inclusive_end() {
    let pki = pki(&Knobs::default());
    let mut root = pki.root.clone();
    root.certificate_authorities[0].validity = Validity {
        start: UnixTime(0),
        end: Some(signed()),
    };
    assert!(verify(&pki.leaf, &[], signed(), &root).is_ok());
    assert_eq!(
        verify(&pki.leaf, &[], UnixTime(signed().0 + 1), &root).err(),
        Some(CertificateError::NoAuthorityAt(UnixTime(signed().0 + 1)))
    );
}

#[test]
fn an_sct_that_does_not_cover_the_certificate_is_refused() {
    let knobs = Knobs {
        after_sct: Some(|e| remove(e, "1.3.6.1.4.1.57264.1.12")),
        ..Knobs::default()
    };
    assert!(matches!(
        check(&knobs, signed()),
        Err(CertificateError::Sct(SctError::Unverified(_)))
    ));
    let knobs = Knobs {
        after_sct: Some(|e| remove(e, "1.3.6.1.4.1.11129.2.4.2")),
        ..Knobs::default()
    };
    assert_eq!(
        check(&knobs, signed()).err(),
        Some(CertificateError::Sct(SctError::Missing))
    );
}

#[test]
fn an_sct_from_an_unknown_log_or_outside_the_logs_validity_is_refused() {
    let pki = pki(&Knobs::default());
    let mut root = pki.root.clone();
    root.ctlogs[0].log_id[0] ^= 1;
    assert!(matches!(
        verify(&pki.leaf, &[], signed(), &root),
        Err(CertificateError::Sct(SctError::Unverified(_)))
    ));
    let mut root = pki.root.clone();
    root.ctlogs[0].validity = Validity {
        start: UnixTime(signed().0 + 1),
        end: None,
    };
    assert!(matches!(
        verify(&pki.leaf, &[], signed(), &root),
        Err(CertificateError::Sct(SctError::Unverified(_)))
    ));
    // An SCT made before the log's start, checked at a time when the log is valid.
    let knobs = Knobs {
        sct_time: Some(at("2025-12-31T00:00:00Z")),
        ..Knobs::default()
    };
    assert!(matches!(
        check(&knobs, signed()),
        Err(CertificateError::Sct(_))
    ));
}

#[test]
fn the_deprecated_issuer_extension_is_read_and_two_subjects_are_refused() {
    let knobs = Knobs {
        leaf: Some(|e| {
            remove(e, "1.3.6.1.4.1.57264.1.8");
            e.push(raw_ext(
                "1.3.6.1.4.1.57264.1.1",
                b"https://accounts.google.com",
            ));
        }),
        ..Knobs::default()
    };
    let verified = check(&knobs, signed()).expect("verifies");
    assert_eq!(
        verified.identity.issuer.as_deref(),
        Some("https://accounts.google.com")
    );

    let knobs = Knobs {
        leaf: Some(|e| {
            remove(e, "2.5.29.17");
            let email = GeneralName::Rfc822Name(Ia5String::new("a@example.com").expect("ia5"));
            let uri = GeneralName::UniformResourceIdentifier(Ia5String::new(SUBJECT).expect("ia5"));
            e.push(ext("2.5.29.17", true, &SubjectAltName(vec![email, uri])));
        }),
        ..Knobs::default()
    };
    assert_eq!(
        check(&knobs, signed()).err(),
        Some(CertificateError::Identity(FulcioError::SeveralSubjects))
    );
}

#[test]
fn an_email_subject_is_read_and_a_raw_string_where_a_utf8string_belongs_is_refused() {
    let knobs = Knobs {
        leaf: Some(|e| {
            remove(e, "2.5.29.17");
            let email = GeneralName::Rfc822Name(Ia5String::new("a@example.com").expect("ia5"));
            e.push(ext("2.5.29.17", true, &SubjectAltName(vec![email])));
        }),
        ..Knobs::default()
    };
    let verified = check(&knobs, signed()).expect("verifies");
    assert_eq!(verified.identity.subject_kind, SubjectKind::Email);
    assert_eq!(verified.identity.subject, "a@example.com");

    // .1.12 must be a DER UTF8String, not the raw text the deprecated ones are.
    let knobs = Knobs {
        leaf: Some(|e| {
            remove(e, "1.3.6.1.4.1.57264.1.12");
            e.push(raw_ext(
                "1.3.6.1.4.1.57264.1.12",
                b"https://github.com/acme/app",
            ));
        }),
        ..Knobs::default()
    };
    assert_eq!(
        check(&knobs, signed()).err(),
        Some(CertificateError::Identity(FulcioError::Extension(
            "sourceRepositoryURI".to_string()
        )))
    );
}

#[test]
fn the_bundle_may_not_carry_a_root_nor_too_many_certificates() {
    let pki = pki(&Knobs::default());
    let chain = &pki.root.certificate_authorities[0].chain;
    assert!(verify(&pki.leaf, &chain[..1], signed(), &pki.root).is_ok());
    assert_eq!(
        verify(&pki.leaf, chain, signed(), &pki.root).err(),
        Some(CertificateError::RootInBundle(2))
    );
    let many: Vec<Vec<u8>> = (0..crate::limits::MAX_CHAIN_CERTIFICATES)
        .map(|_| chain[0].clone())
        .collect();
    assert!(matches!(
        verify(&pki.leaf, &many, signed(), &pki.root),
        Err(CertificateError::TooManyCertificates(_))
    ));
    assert_eq!(
        verify(b"not a certificate", &[], signed(), &pki.root).err(),
        Some(CertificateError::Malformed(Role::Leaf))
    );
}

#[test]
fn errors_say_what_failed() {
    let pki = pki(&Knobs::default());
    let message = verify(&pki.leaf, &[], UnixTime(signed().0 + 601), &pki.root)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        message,
        "the leaf certificate is valid from 2026-06-01T12:00:00Z to 2026-06-01T12:10:00Z, \
         not at the signing time 2026-06-01T12:10:01Z"
    );
}
