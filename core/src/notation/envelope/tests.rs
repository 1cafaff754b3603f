//! Envelopes made here, JWS and COSE alike from one description, with P-256, P-384, P-521
//! and RSA-2048 leaf certificates; each rule is broken once and must give its error in both
//! formats.

use alloc::boxed::Box;
use alloc::string::{String, ToString as _};
use alloc::vec;
use alloc::vec::Vec;
use core::str::FromStr as _;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use coset::cbor::value::Value as Cbor;
use coset::{
    CborSerializable as _, CoseSign1, CoseSign1Builder, HeaderBuilder,
    RegisteredLabelWithPrivate::Text, TaggedCborSerializable as _, iana,
};
use der::asn1::{BitString, ObjectIdentifier, UtcTime};
use der::{Decode as _, Encode as _};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use serde_json::{Value, json};
use sha2::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::*;
use crate::time::parse_rfc3339;

const SIGNED_AT: &str = "2026-06-01T12:00:00Z";
const LATER: &str = "2026-12-01T12:00:00Z";
const DIGEST: &str = "sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333";

/// A signing key of each kind notation uses here.
enum Key {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

impl Key {
    fn p256() -> Self {
        Self::P256(p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("scalar"))
    }

    fn p384() -> Self {
        Self::P384(p384::ecdsa::SigningKey::from_slice(&[7; 48]).expect("scalar"))
    }

    fn p521() -> Self {
        let mut scalar = [7; 66];
        scalar[0] = 1;
        Self::P521(p521::ecdsa::SigningKey::from_slice(&scalar).expect("scalar"))
    }

    fn rsa2048() -> Self {
        let pem = include_str!("../../notary/testdata/rsa2048.pem");
        Self::Rsa(Box::new(
            rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("test RSA key"),
        ))
    }

    /// The algorithm notation signs with for this key, as JWS names it.
    fn alg(&self) -> &'static str {
        match self {
            Self::P256(_) => "ES256",
            Self::P384(_) => "ES384",
            Self::P521(_) => "ES512",
            Self::Rsa(_) => "PS256",
        }
    }

    /// Raw `r || s` for ECDSA, PSS (salt = digest length) for RSA.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer as _;
        match self {
            Self::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Self::P384(key) => {
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Self::P521(key) => {
                // p521 implements `Signer` only with its `getrandom` feature; a random nonce does too.
                use p521::ecdsa::signature::RandomizedSigner as _;
                let signature: p521::ecdsa::Signature =
                    key.sign_with_rng(&mut rand_core::OsRng, message);
                signature.to_bytes().to_vec()
            }
            Self::Rsa(key) => key
                .sign_with_rng(
                    &mut rand_core::OsRng,
                    rsa::Pss::new::<sha2::Sha256>(),
                    &sha2::Sha256::digest(message),
                )
                .expect("signs"),
        }
    }

    fn spki(&self) -> SubjectPublicKeyInfoOwned {
        match self {
            Self::P256(key) => ec_spki("1.2.840.10045.3.1.7", key.verifying_key().to_sec1_bytes()),
            Self::P384(key) => ec_spki("1.3.132.0.34", key.verifying_key().to_sec1_bytes()),
            Self::P521(key) => {
                let point = p521::ecdsa::VerifyingKey::from(key).to_encoded_point(false);
                ec_spki("1.3.132.0.35", point.as_bytes().into())
            }
            Self::Rsa(key) => {
                let der = key.to_public_key().to_public_key_der().expect("spki");
                SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).expect("spki")
            }
        }
    }

    /// A certificate for the key; the envelope only reads its key, so it is not signed.
    fn certificate(&self) -> Vec<u8> {
        let name = Name::from_str("CN=signer,O=example").expect("name");
        let at = |text| {
            let seconds = parse_rfc3339(text).expect("date").0;
            Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(seconds)).expect("utc"))
        };
        let algorithm = AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        };
        let tbs_certificate = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::from(1_u32),
            signature: algorithm.clone(),
            issuer: name.clone(),
            validity: Validity {
                not_before: at("2026-01-01T00:00:00Z"),
                not_after: at("2027-01-01T00:00:00Z"),
            },
            subject: name,
            subject_public_key_info: self.spki(),
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: None,
        };
        Certificate {
            tbs_certificate,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(&[0; 8]).expect("bits"),
        }
        .to_der()
        .expect("der")
    }
}

fn ec_spki(curve: &str, point: Box<[u8]>) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
            parameters: Some(ObjectIdentifier::new_unwrap(curve).into()),
        },
        subject_public_key: BitString::from_bytes(&point).expect("bits"),
    }
}

/// One envelope, described once and written as JWS or COSE.
#[derive(Clone)]
struct Spec {
    alg: &'static str,
    cty: Option<&'static str>,
    crit: Vec<&'static str>,
    scheme: &'static str,
    signing_time: Option<&'static str>,
    authentic_signing_time: Option<&'static str>,
    expiry: Option<&'static str>,
    /// Other protected headers, text valued.
    extra: Vec<(&'static str, &'static str)>,
    payload: Vec<u8>,
    /// `None`: the key's certificate alone.
    chain: Option<Vec<Vec<u8>>>,
    timestamp: Option<Vec<u8>>,
    agent: Option<&'static str>,
}

fn payload() -> Vec<u8> {
    serde_json::to_vec(&json!({"targetArtifact": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": DIGEST,
        "size": 16724,
        "annotations": {"io.wabbit-networks.buildId": "123"},
    }}))
    .expect("json")
}

impl Spec {
    /// What `notation sign` writes for `key` (notary.x509, with a signing agent).
    fn notation(key: &Key) -> Self {
        Self {
            alg: key.alg(),
            cty: Some(PAYLOAD_CONTENT_TYPE),
            crit: vec![SIGNING_SCHEME],
            scheme: "notary.x509",
            signing_time: Some(SIGNED_AT),
            authentic_signing_time: None,
            expiry: None,
            extra: Vec::new(),
            payload: payload(),
            chain: None,
            timestamp: None,
            agent: Some("notation-go/1.3.2"),
        }
    }

    fn chain(&self, key: &Key) -> Vec<Vec<u8>> {
        self.chain
            .clone()
            .unwrap_or_else(|| vec![key.certificate()])
    }

    fn jws(&self, key: &Key) -> Vec<u8> {
        let mut protected = serde_json::Map::new();
        protected.insert("alg".into(), json!(self.alg));
        if let Some(cty) = self.cty {
            protected.insert("cty".into(), json!(cty));
        }
        protected.insert("crit".into(), json!(self.crit));
        protected.insert(SIGNING_SCHEME.into(), json!(self.scheme));
        let times = [
            (SIGNING_TIME, self.signing_time),
            (AUTHENTIC_SIGNING_TIME, self.authentic_signing_time),
            (EXPIRY, self.expiry),
        ];
        for (header, time) in times {
            if let Some(time) = time {
                protected.insert(header.into(), json!(time));
            }
        }
        for (header, value) in &self.extra {
            protected.insert((*header).into(), json!(value));
        }
        let protected = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&protected).expect("json"));
        let payload = URL_SAFE_NO_PAD.encode(&self.payload);
        let signature = key.sign(alloc::format!("{protected}.{payload}").as_bytes());
        let chain: Vec<String> = self.chain(key).iter().map(|c| STANDARD.encode(c)).collect();
        let mut header = json!({ "x5c": chain });
        if let Some(token) = &self.timestamp {
            header[TIMESTAMP_SIGNATURE] = json!(STANDARD.encode(token));
        }
        if let Some(agent) = self.agent {
            header[SIGNING_AGENT] = json!(agent);
        }
        serde_json::to_vec(&json!({
            "payload": payload,
            "protected": protected,
            "header": header,
            "signature": URL_SAFE_NO_PAD.encode(signature),
        }))
        .expect("json")
    }

    fn cose_algorithm(&self) -> iana::Algorithm {
        match self.alg {
            "PS256" => iana::Algorithm::PS256,
            "PS384" => iana::Algorithm::PS384,
            "ES256" => iana::Algorithm::ES256,
            "ES384" => iana::Algorithm::ES384,
            "ES512" => iana::Algorithm::ES512,
            "EdDSA" => iana::Algorithm::EdDSA,
            other => panic!("no COSE algorithm for {other}"),
        }
    }

    fn cose_sign1(&self, key: &Key) -> CoseSign1 {
        let mut protected = HeaderBuilder::new().algorithm(self.cose_algorithm());
        for label in &self.crit {
            protected = protected.add_critical_label(Text((*label).into()));
        }
        if let Some(cty) = self.cty {
            protected = protected.content_type(cty.into());
        }
        protected = protected.text_value(SIGNING_SCHEME.into(), self.scheme.into());
        let times = [
            (SIGNING_TIME, self.signing_time),
            (AUTHENTIC_SIGNING_TIME, self.authentic_signing_time),
            (EXPIRY, self.expiry),
        ];
        for (header, time) in times {
            if let Some(time) = time {
                protected = protected.text_value(header.into(), epoch(time));
            }
        }
        for (header, value) in &self.extra {
            protected = protected.text_value((*header).into(), (*value).into());
        }
        let chain = self.chain(key).into_iter().map(Cbor::Bytes).collect();
        let mut unprotected = HeaderBuilder::new().value(33, Cbor::Array(chain));
        if let Some(token) = &self.timestamp {
            unprotected = unprotected.text_value(TIMESTAMP_SIGNATURE.into(), token.clone().into());
        }
        if let Some(agent) = self.agent {
            unprotected = unprotected.text_value(SIGNING_AGENT.into(), agent.into());
        }
        CoseSign1Builder::new()
            .protected(protected.build())
            .unprotected(unprotected.build())
            .payload(self.payload.clone())
            .create_signature(&[], |tbs| key.sign(tbs))
            .build()
    }

    fn cose(&self, key: &Key) -> Vec<u8> {
        self.cose_sign1(key).to_tagged_vec().expect("cbor")
    }

    /// Opens the envelope in both formats; both must agree but for the signature value (each
    /// signs its own bytes).
    fn open(&self, key: &Key) -> Result<Envelope, EnvelopeError> {
        let jws = Envelope::open(MEDIA_TYPE_JWS, &self.jws(key));
        let cose = Envelope::open(MEDIA_TYPE_COSE, &self.cose(key));
        let unsigned = |opened: &Result<Envelope, EnvelopeError>| {
            opened.clone().map(|e| Envelope {
                signature: Vec::new(),
                ..e
            })
        };
        assert_eq!(unsigned(&jws), unsigned(&cose), "JWS and COSE disagree");
        jws
    }
}

/// A tag-1 epoch time, as notation writes COSE times.
fn epoch(text: &str) -> Cbor {
    let seconds = parse_rfc3339(text).expect("date").0;
    Cbor::Tag(1, Box::new(Cbor::Integer(seconds.into())))
}

fn at(text: &str) -> UnixTime {
    parse_rfc3339(text).expect("date")
}

#[test]
fn a_notation_envelope_opens_in_both_formats_with_each_key() {
    for key in [Key::p256(), Key::p384(), Key::p521(), Key::rsa2048()] {
        let mut spec = Spec::notation(&key);
        spec.timestamp = Some(vec![0x30, 0x03, 0x02, 0x01, 0x05]);
        spec.expiry = Some(LATER);
        spec.crit.push(EXPIRY);
        let envelope = spec.open(&key).expect("opens");
        assert_eq!(envelope.algorithm.to_string(), key.alg());
        assert_eq!(envelope.scheme, SigningScheme::X509);
        assert_eq!(envelope.signing_time, at(SIGNED_AT));
        assert_eq!(envelope.expiry, Some(at(LATER)));
        assert_eq!(envelope.chain, vec![key.certificate()]);
        assert_eq!(envelope.timestamp, spec.timestamp);
        assert_eq!(envelope.signing_agent.as_deref(), Some("notation-go/1.3.2"));
        assert!(!envelope.signature.is_empty());
        let target = envelope.target;
        assert_eq!(target.digest, DIGEST);
        assert_eq!(target.size, 16724);
        assert_eq!(
            target.media_type,
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(target.annotations["io.wabbit-networks.buildId"], "123");
    }
}

#[test]
fn a_signing_authority_envelope_carries_its_authentic_signing_time() {
    let key = Key::p256();
    let mut spec = Spec::notation(&key);
    spec.scheme = "notary.x509.signingAuthority";
    spec.signing_time = None;
    spec.authentic_signing_time = Some(SIGNED_AT);
    spec.crit.push(AUTHENTIC_SIGNING_TIME);
    let envelope = spec.open(&key).expect("opens");
    assert_eq!(envelope.scheme, SigningScheme::SigningAuthority);
    assert_eq!(envelope.signing_time, at(SIGNED_AT));
}

/// Each header rule, broken on its own, gives its error in both formats.
#[test]
fn each_header_rule_is_enforced_in_both_formats() {
    let key = Key::p256();
    let base = Spec::notation(&key);
    let authority = Spec {
        scheme: "notary.x509.signingAuthority",
        signing_time: None,
        authentic_signing_time: Some(SIGNED_AT),
        crit: vec![SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME],
        ..base.clone()
    };
    let cases: Vec<(Spec, EnvelopeError)> = vec![
        (
            Spec {
                cty: Some("application/json"),
                ..base.clone()
            },
            EnvelopeError::ContentType("application/json".into()),
        ),
        (
            Spec {
                cty: None,
                ..base.clone()
            },
            EnvelopeError::MissingHeader("cty"),
        ),
        (
            Spec {
                signing_time: None,
                ..base.clone()
            },
            EnvelopeError::MissingHeader(SIGNING_TIME),
        ),
        (
            Spec {
                authentic_signing_time: None,
                ..authority.clone()
            },
            EnvelopeError::MissingHeader(AUTHENTIC_SIGNING_TIME),
        ),
        (
            Spec {
                authentic_signing_time: Some(SIGNED_AT),
                ..base.clone()
            },
            EnvelopeError::ForbiddenHeader {
                header: AUTHENTIC_SIGNING_TIME,
                scheme: SigningScheme::X509,
            },
        ),
        (
            Spec {
                scheme: "notary.x509.v2",
                ..base.clone()
            },
            EnvelopeError::UnsupportedSigningScheme("notary.x509.v2".into()),
        ),
        (
            Spec {
                crit: vec![],
                ..base.clone()
            },
            EnvelopeError::MissingHeader("crit"),
        ),
        (
            Spec {
                crit: vec![EXPIRY],
                ..base.clone()
            },
            EnvelopeError::NotCritical(SIGNING_SCHEME),
        ),
        (
            Spec {
                crit: vec![SIGNING_SCHEME],
                ..authority.clone()
            },
            EnvelopeError::NotCritical(AUTHENTIC_SIGNING_TIME),
        ),
        (
            Spec {
                expiry: Some(LATER),
                ..base.clone()
            },
            EnvelopeError::NotCritical(EXPIRY),
        ),
        (
            Spec {
                crit: vec![SIGNING_SCHEME, EXPIRY],
                ..base.clone()
            },
            EnvelopeError::CriticalNotPresent(EXPIRY.into()),
        ),
        (
            Spec {
                crit: vec![SIGNING_SCHEME, SIGNING_TIME],
                ..base.clone()
            },
            EnvelopeError::CriticalNotPresent(SIGNING_TIME.into()),
        ),
        (
            Spec {
                crit: vec![SIGNING_SCHEME, "com.example.policy"],
                extra: vec![("com.example.policy", "strict")],
                ..base.clone()
            },
            EnvelopeError::UnknownCritical("com.example.policy".into()),
        ),
        (
            Spec {
                crit: vec![SIGNING_SCHEME, "io.cncf.notary.verificationPlugin"],
                extra: vec![("io.cncf.notary.verificationPlugin", "com.example.plugin")],
                ..base.clone()
            },
            EnvelopeError::PluginRequired("com.example.plugin".into()),
        ),
        (
            Spec {
                alg: "ES384",
                ..base.clone()
            },
            EnvelopeError::AlgorithmMismatch {
                header: Algorithm::Es384,
                key: Algorithm::Es256,
            },
        ),
        (
            Spec {
                expiry: Some(SIGNED_AT),
                crit: vec![SIGNING_SCHEME, EXPIRY],
                ..base.clone()
            },
            EnvelopeError::ExpiryNotAfterSigningTime {
                signing_time: at(SIGNED_AT),
                expiry: at(SIGNED_AT),
            },
        ),
        (
            Spec {
                chain: Some(vec![]),
                ..base.clone()
            },
            EnvelopeError::NoCertificate,
        ),
        (
            Spec {
                chain: Some(vec![key.certificate(); 11]),
                ..base.clone()
            },
            EnvelopeError::TooManyCertificates {
                count: 11,
                limit: MAX_CHAIN_CERTIFICATES,
            },
        ),
        (
            Spec {
                chain: Some(vec![vec![0x30, 0x00]]),
                ..base.clone()
            },
            EnvelopeError::LeafCertificate(KeyProblem::Der),
        ),
        (
            Spec {
                timestamp: Some(vec![0; MAX_TIMESTAMP_BYTES + 1]),
                ..base.clone()
            },
            EnvelopeError::TimestampTooLarge {
                bytes: MAX_TIMESTAMP_BYTES + 1,
                limit: MAX_TIMESTAMP_BYTES,
            },
        ),
    ];
    for (spec, expected) in cases {
        assert_eq!(spec.open(&key), Err(expected));
    }
}

#[test]
fn the_algorithm_must_be_the_one_the_key_calls_for() {
    let rsa = Key::rsa2048();
    let spec = Spec {
        alg: "PS384",
        ..Spec::notation(&rsa)
    };
    let mismatch = EnvelopeError::AlgorithmMismatch {
        header: Algorithm::Ps384,
        key: Algorithm::Ps256,
    };
    assert_eq!(spec.open(&rsa), Err(mismatch));
    let p256 = Key::p256();
    let spec = Spec {
        alg: "PS256",
        ..Spec::notation(&p256)
    };
    let mismatch = EnvelopeError::AlgorithmMismatch {
        header: Algorithm::Ps256,
        key: Algorithm::Es256,
    };
    assert_eq!(spec.open(&p256), Err(mismatch));
}

#[test]
fn an_algorithm_notation_does_not_sign_with_is_refused() {
    let key = Key::p256();
    let spec = Spec {
        alg: "EdDSA",
        ..Spec::notation(&key)
    };
    let jws = Envelope::open(MEDIA_TYPE_JWS, &spec.jws(&key));
    assert_eq!(
        jws,
        Err(EnvelopeError::UnsupportedAlgorithm("EdDSA".into()))
    );
    let cose = Envelope::open(MEDIA_TYPE_COSE, &spec.cose(&key));
    assert_eq!(cose, Err(EnvelopeError::UnsupportedAlgorithm("-8".into())));
    let message = jws.expect_err("refused").to_string();
    assert!(
        message.contains("EdDSA") && message.contains("not supported"),
        "{message}"
    );
    let spec = Spec {
        alg: "ES512",
        ..Spec::notation(&key)
    };
    let mismatch = EnvelopeError::AlgorithmMismatch {
        header: Algorithm::Es512,
        key: Algorithm::Es256,
    };
    assert_eq!(spec.open(&key), Err(mismatch));
}

#[test]
fn the_payload_is_read_strictly_once_signed() {
    let key = Key::p256();
    let target = |target: Value| serde_json::to_vec(&json!({ "targetArtifact": target }));
    let unread = |spec: &Spec| match spec.open(&key) {
        Err(EnvelopeError::Payload(_)) => true,
        other => panic!("{other:?}"),
    };
    let base = Spec::notation(&key);
    for payload in [
        b"not json".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        target(json!({"mediaType": "m", "digest": DIGEST})).expect("json"),
        target(json!({"mediaType": "m", "digest": DIGEST, "size": -1})).expect("json"),
        target(json!({"mediaType": "m", "digest": DIGEST, "size": "1"})).expect("json"),
        br#"{"targetArtifact":{"mediaType":"m","digest":"x","size":1,"size":2}}"#.to_vec(),
    ] {
        assert!(unread(&Spec {
            payload,
            ..base.clone()
        }));
    }
    for digest in [
        "sha256:ABC",
        "md5:0123",
        "sha256",
        &alloc::format!("{DIGEST}0"),
    ] {
        let payload = target(json!({"mediaType": "m", "digest": digest, "size": 1}));
        let spec = Spec {
            payload: payload.expect("json"),
            ..base.clone()
        };
        assert_eq!(spec.open(&key), Err(EnvelopeError::Digest(digest.into())));
    }
    let sha512 = alloc::format!("sha512:{}", "ab".repeat(64));
    let payload = target(json!({"mediaType": "m", "digest": sha512, "size": 1, "new": true}));
    let spec = Spec {
        payload: payload.expect("json"),
        ..base
    };
    assert_eq!(spec.open(&key).expect("opens").target.digest, sha512);
}

#[test]
fn a_tampered_jws_does_not_verify() {
    let key = Key::p256();
    let spec = Spec::notation(&key);
    let envelope: Value = serde_json::from_slice(&spec.jws(&key)).expect("json");
    let other = Spec {
        signing_time: Some(LATER),
        payload: b"{}".to_vec(),
        ..spec
    };
    let forged: Value = serde_json::from_slice(&other.jws(&key)).expect("json");
    for part in ["payload", "protected"] {
        let mut tampered = envelope.clone();
        tampered[part] = forged[part].clone();
        let bytes = serde_json::to_vec(&tampered).expect("json");
        let opened = Envelope::open(MEDIA_TYPE_JWS, &bytes);
        assert_eq!(opened, Err(EnvelopeError::SignatureInvalid), "{part}");
    }
}

#[test]
fn a_tampered_cose_envelope_does_not_verify() {
    let key = Key::p256();
    let spec = Spec::notation(&key);
    let mut payload = spec.cose_sign1(&key);
    payload.payload = Some(b"{}".to_vec());
    let mut protected = spec.cose_sign1(&key);
    protected
        .protected
        .header
        .rest
        .retain(|(label, _)| *label != coset::Label::Text(SIGNING_TIME.into()));
    protected
        .protected
        .header
        .rest
        .push((coset::Label::Text(SIGNING_TIME.into()), epoch(LATER)));
    protected.protected.original_data = None;
    for tampered in [payload, protected] {
        let bytes = tampered.to_tagged_vec().expect("cbor");
        let opened = Envelope::open(MEDIA_TYPE_COSE, &bytes);
        assert_eq!(opened, Err(EnvelopeError::SignatureInvalid));
    }
}

#[test]
fn envelopes_out_of_shape_are_refused() {
    let key = Key::p256();
    let spec = Spec::notation(&key);
    let envelope: Value = serde_json::from_slice(&spec.jws(&key)).expect("json");
    let malformed = |media_type, bytes: &[u8]| {
        matches!(
            Envelope::open(media_type, bytes),
            Err(EnvelopeError::Malformed(_))
        )
    };
    let mut extra = envelope.clone();
    extra["signatures"] = json!([]);
    assert!(malformed(
        MEDIA_TYPE_JWS,
        &serde_json::to_vec(&extra).expect("json")
    ));
    let text = String::from_utf8(spec.jws(&key)).expect("utf-8");
    let twice = text.replacen('{', r#"{"signature":"AA","#, 1);
    assert!(malformed(MEDIA_TYPE_JWS, twice.as_bytes()));
    let header = br#"{"alg":"ES256","alg":"ES256"}"#;
    let mut duplicate = envelope.clone();
    duplicate["protected"] = json!(URL_SAFE_NO_PAD.encode(header));
    assert!(malformed(
        MEDIA_TYPE_JWS,
        &serde_json::to_vec(&duplicate).expect("json")
    ));
    let mut padded = envelope;
    padded["signature"] = json!("AA==");
    let bytes = serde_json::to_vec(&padded).expect("json");
    assert_eq!(
        Envelope::open(MEDIA_TYPE_JWS, &bytes),
        Err(EnvelopeError::Base64("signature"))
    );
    let untagged = spec.cose_sign1(&key).to_vec().expect("cbor");
    assert!(malformed(MEDIA_TYPE_COSE, &untagged));
    let mut detached = spec.cose_sign1(&key);
    detached.payload = None;
    let bytes = detached.to_tagged_vec().expect("cbor");
    assert_eq!(
        Envelope::open(MEDIA_TYPE_COSE, &bytes),
        Err(EnvelopeError::DetachedPayload)
    );
    let mut untagged_time = spec.cose_sign1(&key);
    for (label, value) in &mut untagged_time.protected.header.rest {
        if *label == coset::Label::Text(SIGNING_TIME.into()) {
            *value = Cbor::Integer(1_780_000_000.into());
        }
    }
    untagged_time.protected.original_data = None;
    let bytes = untagged_time.to_tagged_vec().expect("cbor");
    let opened = Envelope::open(MEDIA_TYPE_COSE, &bytes);
    assert_eq!(opened, Err(EnvelopeError::BadHeader(SIGNING_TIME)));
}

#[test]
fn size_and_media_type_are_checked_before_parsing() {
    let huge = vec![b' '; MAX_NOTATION_ENVELOPE_BYTES + 1];
    for media_type in [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE] {
        let opened = Envelope::open(media_type, &huge);
        let too_large = EnvelopeError::TooLarge {
            bytes: MAX_NOTATION_ENVELOPE_BYTES + 1,
            limit: MAX_NOTATION_ENVELOPE_BYTES,
        };
        assert_eq!(opened, Err(too_large));
    }
    let opened = Envelope::open("application/json", b"{}");
    assert_eq!(
        opened,
        Err(EnvelopeError::UnknownMediaType("application/json".into()))
    );
}

/// Every prefix and every one-byte change of a valid envelope is refused, never a panic.
#[test]
fn damaged_envelopes_are_refused_without_panicking() {
    let key = Key::p256();
    let spec = Spec::notation(&key);
    for (media_type, bytes) in [
        (MEDIA_TYPE_JWS, spec.jws(&key)),
        (MEDIA_TYPE_COSE, spec.cose(&key)),
    ] {
        for end in 0..bytes.len() {
            let prefix = bytes.get(..end).expect("in range");
            assert!(Envelope::open(media_type, prefix).is_err());
        }
        for index in (0..bytes.len()).step_by(7) {
            let mut damaged = bytes.clone();
            damaged[index] ^= 0x01;
            let _ = Envelope::open(media_type, &damaged);
        }
    }
}

/// Nesting far past the parsers' recursion limits (serde_json 128, ciborium 256) is refused,
/// not a stack overflow.
#[test]
fn deeply_nested_headers_are_refused() {
    let depth = 100_000;
    let json = alloc::format!(
        r#"{{"payload":"","protected":"","signature":"","header":{{"x":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let opened = Envelope::open(MEDIA_TYPE_JWS, json.as_bytes());
    assert!(
        matches!(opened, Err(EnvelopeError::Malformed(_))),
        "{opened:?}"
    );
    // 18([h'', {33: [[[…]]]}, h'', h''])
    let mut cbor = vec![0xd2, 0x84, 0x40, 0xa1, 0x18, 0x21];
    cbor.extend(core::iter::repeat_n(0x81, depth));
    cbor.push(0x00);
    cbor.extend([0x40, 0x40]);
    let opened = Envelope::open(MEDIA_TYPE_COSE, &cbor);
    assert!(
        matches!(opened, Err(EnvelopeError::Malformed(_))),
        "{opened:?}"
    );
}

#[test]
fn every_error_names_what_was_wrong() {
    let errors = [
        EnvelopeError::PluginRequired("com.example.plugin".into()),
        EnvelopeError::UnknownCritical("com.example.policy".into()),
        EnvelopeError::NotCritical(EXPIRY),
        EnvelopeError::AlgorithmMismatch {
            header: Algorithm::Es384,
            key: Algorithm::Ps256,
        },
    ];
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(messages[0].contains("com.example.plugin") && messages[0].contains("not supported"));
    assert!(messages[1].contains("com.example.policy"));
    assert!(messages[2].contains(EXPIRY));
    assert!(messages[3].contains("ES384") && messages[3].contains("PS256"));
}
