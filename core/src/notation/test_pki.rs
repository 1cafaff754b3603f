//! A small PKI made in memory for the Notation tests: P-256 keys from seeds, certificates and
//! CRLs signed with ECDSA-SHA256, every part open to a test's edits before signing.

use alloc::vec;
use alloc::vec::Vec;
use core::str::FromStr as _;
use core::time::Duration;

use der::Encode as _;
use der::asn1::{BitString, ObjectIdentifier, OctetString};
use p256::ecdsa::SigningKey;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::time::{UnixTime, parse_rfc3339};

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(super) const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
pub(super) const TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";

pub(super) fn at(text: &str) -> UnixTime {
    parse_rfc3339(text).expect("test date")
}

/// The validity every certificate gets unless a test changes it: the year 2026.
pub(super) fn year() -> (UnixTime, UnixTime) {
    (at("2026-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z"))
}

pub(super) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32].into()).expect("scalar")
}

pub(super) fn name(cn: &str) -> Name {
    Name::from_str(&alloc::format!("CN={cn},O=example")).expect("name")
}

pub(super) fn time(at: UnixTime) -> Time {
    Time::UtcTime(der::asn1::UtcTime::from_unix_duration(Duration::from_secs(at.0)).expect("utc"))
}

pub(super) fn ext(oid: &str, critical: bool, value: &impl der::Encode) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap(oid),
        critical,
        extn_value: OctetString::new(value.to_der().expect("der")).expect("octets"),
    }
}

pub(super) fn remove(extensions: &mut Vec<Extension>, oid: &str) {
    let oid = ObjectIdentifier::new_unwrap(oid);
    extensions.retain(|e| e.extn_id != oid);
}

pub(super) fn ca_extensions(path_len: Option<u8>) -> Vec<Extension> {
    let constraints = BasicConstraints {
        ca: true,
        path_len_constraint: path_len,
    };
    vec![
        ext("2.5.29.19", true, &constraints),
        ext(
            "2.5.29.15",
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        ),
    ]
}

/// A leaf for `eku` (an OID), with `digitalSignature` as its critical key usage.
pub(super) fn leaf_extensions(eku: &str, eku_critical: bool) -> Vec<Extension> {
    vec![
        ext(
            "2.5.29.15",
            true,
            &KeyUsage(KeyUsages::DigitalSignature.into()),
        ),
        ext(
            "2.5.29.37",
            eku_critical,
            &ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap(eku)]),
        ),
    ]
}

/// One certificate to make: its subject's CN, its key seed, its issuer (None: self-signed).
pub(super) struct Spec<'a> {
    pub serial: u32,
    pub cn: &'a str,
    pub seed: u8,
    pub issuer: Option<(&'a str, u8)>,
    pub window: (UnixTime, UnixTime),
    pub extensions: Vec<Extension>,
    /// The subject key, if not the P-256 key of `seed`.
    pub spki: Option<SubjectPublicKeyInfoOwned>,
}

pub(super) fn spki(key: &SigningKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).expect("spki")
}

pub(super) fn issue(spec: Spec<'_>) -> Vec<u8> {
    let (issuer, issuer_seed) = spec.issuer.unwrap_or((spec.cn, spec.seed));
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::from(spec.serial),
        signature: algorithm(),
        issuer: name(issuer),
        validity: Validity {
            not_before: time(spec.window.0),
            not_after: time(spec.window.1),
        },
        subject: name(spec.cn),
        subject_public_key_info: spec.spki.unwrap_or_else(|| spki(&key(spec.seed))),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions),
    };
    let signature = sign(&tbs.to_der().expect("tbs"), issuer_seed);
    let cert = x509_cert::Certificate {
        signature_algorithm: algorithm(),
        tbs_certificate: tbs,
        signature,
    };
    cert.to_der().expect("certificate")
}

fn algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_SHA256,
        parameters: None,
    }
}

fn sign(message: &[u8], seed: u8) -> BitString {
    use p256::ecdsa::signature::Signer as _;
    let signature: p256::ecdsa::DerSignature = key(seed).sign(message);
    BitString::from_bytes(signature.as_bytes()).expect("bits")
}

/// A three-certificate chain, leaf first: a leaf (seed 3) with `leaf` extensions issued by
/// "intermediate" (seed 2, path length 0) issued by the self-signed "root" (seed 1).
pub(super) fn chain(leaf: Vec<Extension>) -> Vec<Vec<u8>> {
    vec![
        issue(Spec {
            serial: 3,
            cn: "leaf",
            seed: 3,
            issuer: Some(("intermediate", 2)),
            window: year(),
            extensions: leaf,
            spki: None,
        }),
        intermediate(ca_extensions(Some(0))),
        root(),
    ]
}

pub(super) fn intermediate(extensions: Vec<Extension>) -> Vec<u8> {
    issue(Spec {
        serial: 2,
        cn: "intermediate",
        seed: 2,
        issuer: Some(("root", 1)),
        window: year(),
        extensions,
        spki: None,
    })
}

pub(super) fn root() -> Vec<u8> {
    issue(Spec {
        serial: 1,
        cn: "root",
        seed: 1,
        issuer: None,
        window: year(),
        extensions: ca_extensions(None),
        spki: None,
    })
}

/// A CRL by `issuer` (CN, key seed) with `revoked` entries, `this_update..next_update`.
pub(super) struct CrlSpec<'a> {
    pub issuer: &'a str,
    pub seed: u8,
    pub this_update: UnixTime,
    pub next_update: Option<UnixTime>,
    pub revoked: Vec<RevokedCert>,
    pub extensions: Option<Vec<Extension>>,
}

pub(super) fn revoked(serial: u32, when: UnixTime, extensions: Vec<Extension>) -> RevokedCert {
    RevokedCert {
        serial_number: SerialNumber::from(serial),
        revocation_date: time(when),
        crl_entry_extensions: (!extensions.is_empty()).then_some(extensions),
    }
}

pub(super) fn crl(spec: CrlSpec<'_>) -> Vec<u8> {
    let tbs = TbsCertList {
        version: Version::V2,
        signature: algorithm(),
        issuer: name(spec.issuer),
        this_update: time(spec.this_update),
        next_update: spec.next_update.map(time),
        revoked_certificates: (!spec.revoked.is_empty()).then_some(spec.revoked),
        crl_extensions: spec.extensions,
    };
    let signature = sign(&tbs.to_der().expect("tbs"), spec.seed);
    CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm(),
        signature,
    }
    .to_der()
    .expect("crl")
}

/// The parts of a timestamp token a test may change before it is signed.
pub(super) struct TokenSpec {
    /// What the imprint is the SHA-256 of.
    pub message: Vec<u8>,
    /// `genTime` as written in the token (`YYYYMMDDHHMMSS[.f]Z`).
    pub gen_time: &'static str,
    pub accuracy_seconds: Option<u64>,
    /// The TSA's signing certificate and the other certificates the token carries.
    pub signing: Vec<u8>,
    pub others: Vec<Vec<u8>>,
    /// The key seed that signs (the signing certificate's is 5 in [`tsa_chain`]).
    pub seed: u8,
    /// Whether the ESS `signingCertificateV2` attribute is there.
    pub ess: bool,
    /// A `signingTime` attribute.
    pub signing_time: Option<UnixTime>,
}

/// A TSA chain, leaf first: "tsa" (seed 5) with `leaf` extensions, by "tsa root" (seed 4)
/// with `root` extensions.
pub(super) fn tsa_chain(leaf: Vec<Extension>, root: Vec<Extension>) -> Vec<Vec<u8>> {
    let root = issue(Spec {
        serial: 40,
        cn: "tsa root",
        seed: 4,
        issuer: None,
        window: year(),
        extensions: root,
        spki: None,
    });
    let leaf = issue(Spec {
        serial: 50,
        cn: "tsa",
        seed: 5,
        issuer: Some(("tsa root", 4)),
        window: year(),
        extensions: leaf,
        spki: None,
    });
    vec![leaf, root]
}

/// A DER TimeStampToken (ContentInfo of SignedData over a TSTInfo), signed with ECDSA-SHA256.
pub(super) fn token(spec: TokenSpec) -> Vec<u8> {
    use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
    use cms::content_info::{CmsVersion, ContentInfo};
    use cms::signed_data::{
        CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo,
        SignerInfos,
    };
    use der::Decode as _;
    use der::asn1::{Any, SetOfVec};
    use sha2::{Digest as _, Sha256};
    use x509_cert::attr::Attribute;

    use crate::crypto::rfc3161::{
        Accuracy, CONTENT_TYPE, EssCertIdV2, MESSAGE_DIGEST, MessageImprint, SIGNED_DATA,
        SIGNING_CERTIFICATE_V2, SigningCertificateV2, TST_INFO, TstInfo,
    };

    let sha256 = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
        parameters: None,
    };
    let tst = TstInfo {
        version: 1,
        policy: ObjectIdentifier::new_unwrap("1.2.3.4.1"),
        message_imprint: MessageImprint {
            hash_algorithm: sha256.clone(),
            hashed_message: OctetString::new(Sha256::digest(&spec.message).to_vec())
                .expect("octets"),
        },
        serial_number: der::asn1::Int::new(&[1]).expect("int"),
        gen_time: Any::new(der::Tag::GeneralizedTime, spec.gen_time.as_bytes()).expect("time"),
        accuracy: spec.accuracy_seconds.map(|seconds| Accuracy {
            seconds: Some(seconds),
            millis: None,
            micros: None,
        }),
        ordering: false,
        nonce: None,
        tsa: None,
        extensions: None,
    }
    .to_der()
    .expect("TSTInfo");
    let attribute = |oid, value: Any| Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).expect("set"),
    };
    let mut attributes = vec![
        attribute(CONTENT_TYPE, Any::encode_from(&TST_INFO).expect("oid")),
        attribute(
            MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(Sha256::digest(&tst).to_vec()).expect("octets"))
                .expect("digest"),
        ),
    ];
    if spec.ess {
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(Sha256::digest(&spec.signing).to_vec())
                    .expect("octets"),
                issuer_serial: None,
            }],
            policies: None,
        };
        attributes.push(attribute(
            SIGNING_CERTIFICATE_V2,
            Any::encode_from(&ess).expect("ess"),
        ));
    }
    if let Some(at) = spec.signing_time {
        attributes.push(attribute(
            ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5"),
            Any::encode_from(&time(at)).expect("time"),
        ));
    }
    let attributes = SetOfVec::try_from(attributes).expect("set");
    let signature = sign(&attributes.to_der().expect("attributes"), spec.seed);
    let signing = x509_cert::Certificate::from_der(&spec.signing).expect("signing");
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signing.tbs_certificate.issuer.clone(),
            serial_number: signing.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: Some(attributes),
        signature_algorithm: algorithm(),
        signature: OctetString::new(signature.raw_bytes()).expect("octets"),
        unsigned_attrs: None,
    };
    let certificates = core::iter::once(&spec.signing)
        .chain(&spec.others)
        .map(|der| {
            CertificateChoices::Certificate(x509_cert::Certificate::from_der(der).expect("cert"))
        })
        .collect::<Vec<_>>();
    let signed_data = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![sha256]).expect("set"),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: TST_INFO,
            econtent: Some(Any::new(der::Tag::OctetString, tst).expect("content")),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(certificates).expect("set"),
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).expect("set")),
    };
    ContentInfo {
        content_type: SIGNED_DATA,
        content: Any::encode_from(&signed_data).expect("signed data"),
    }
    .to_der()
    .expect("token")
}
