//! Sigstore's `trusted_root.json` (protobuf-specs `dev.sigstore.trustroot.v1.TrustedRoot`): the
//! Fulcio CAs, Rekor logs, CT logs and timestamp authorities a bundle is checked against, each
//! with the time window in which it may be trusted.
//!
//! Read as protobuf's JSON mapping writes it (camelCase names, bytes as standard base64,
//! 64-bit integers as strings). Fields this verifier does not use (`subject`, `operator`,
//! `checkpointKeyId`, `hashAlgorithm` of the Merkle tree) are ignored. A log whose key type
//! this verifier does not support is left out rather than refusing the whole root, so that a
//! root that adds, say, a post-quantum log stays usable: nothing verifies against a key that
//! is not there, so leaving it out admits nothing. Anything malformed refuses the root.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::Decode as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::crypto::KeyProblem;
use crate::crypto::keys::{self, Hash, Verifier};
use crate::json::Object;
use crate::limits::{
    MAX_CHAIN_CERTIFICATES, MAX_KEY_BYTES, MAX_TRUSTED_ROOT_BYTES, MAX_TRUSTED_ROOT_ENTRIES,
};
use crate::time::{UnixTime, parse_rfc3339};

/// The media types of the trusted roots read here (v0.1, and v0.2 as protobuf-specs names it).
pub const MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

/// When a key or CA may be trusted (`validFor`); `end` is inclusive, `None` means open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: UnixTime,
    pub end: Option<UnixTime>,
}

impl Validity {
    pub fn contains(&self, at: UnixTime) -> bool {
        self.start <= at && self.end.is_none_or(|end| at <= end)
    }
}

/// A transparency log's key (Rekor or CT): its log ID (SHA-256 of the DER key unless the root
/// says otherwise), the key and the digest it signs with, and its validity.
#[derive(Debug, Clone)]
pub struct LogKey {
    pub base_url: String,
    pub log_id: Vec<u8>,
    pub(crate) key: Verifier,
    pub(crate) hash: Hash,
    /// The key's `rawBytes` as the root gives them, for key hints computed over them (Rekor v2
    /// checkpoints): a DER SubjectPublicKeyInfo, except for the deprecated `PKCS1_RSA_PKCS1V5`
    /// keys, which are a PKCS#1 `RSAPublicKey`.
    pub key_der: Vec<u8>,
    pub validity: Validity,
}

/// A certificate authority (Fulcio) or timestamp authority: its chain, leaf-most first and
/// ending in the root, as DER, and its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub uri: String,
    pub chain: Vec<Vec<u8>>,
    pub validity: Validity,
}

/// What a bundle is checked against.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub tlogs: Vec<LogKey>,
    pub ctlogs: Vec<LogKey>,
    pub certificate_authorities: Vec<Authority>,
    pub timestamp_authorities: Vec<Authority>,
}

/// Which list of the trusted root an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Tlogs,
    Ctlogs,
    CertificateAuthorities,
    TimestampAuthorities,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tlogs => "tlogs",
            Self::Ctlogs => "ctlogs",
            Self::CertificateAuthorities => "certificateAuthorities",
            Self::TimestampAuthorities => "timestampAuthorities",
        })
    }
}

/// Why a trusted root was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustedRootError {
    /// More than [`MAX_TRUSTED_ROOT_BYTES`].
    TooLarge(usize),
    /// Not JSON of the expected shape (serde's message).
    Malformed(String),
    /// A `mediaType` other than [`MEDIA_TYPES`].
    MediaType(String),
    /// A list longer than [`MAX_TRUSTED_ROOT_ENTRIES`].
    TooManyEntries { section: Section, count: usize },
    /// `validFor` or its `start` is missing: an open start would trust the key for all time.
    MissingStart { section: Section, index: usize },
    /// A `validFor` time that is not RFC 3339, or an end before the start.
    BadValidity { section: Section, index: usize },
    /// Base64 that does not decode.
    Base64 { section: Section, index: usize },
    /// A log key that does not parse as its `keyDetails` says.
    Key {
        section: Section,
        index: usize,
        problem: KeyProblem,
    },
    /// A CA with no certificates, or more than [`MAX_CHAIN_CERTIFICATES`], or one too large
    /// or not DER X.509.
    Chain { section: Section, index: usize },
}

impl fmt::Display for TrustedRootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(
                f,
                "the trusted root is {n} bytes, more than {MAX_TRUSTED_ROOT_BYTES}"
            ),
            Self::Malformed(e) => write!(f, "the trusted root is not a TrustedRoot: {e}"),
            Self::MediaType(m) => write!(f, "the trusted root's mediaType \"{m}\" is not known"),
            Self::TooManyEntries { section, count } => write!(
                f,
                "the trusted root lists {count} {section}, more than {MAX_TRUSTED_ROOT_ENTRIES}"
            ),
            Self::MissingStart { section, index } => {
                write!(f, "{section}[{index}]: validFor has no start")
            }
            Self::BadValidity { section, index } => write!(
                f,
                "{section}[{index}]: validFor is not RFC 3339, or ends before it starts"
            ),
            Self::Base64 { section, index } => write!(f, "{section}[{index}]: bad base64"),
            Self::Key {
                section,
                index,
                problem,
            } => write!(f, "{section}[{index}]: unusable key: {problem}"),
            Self::Chain { section, index } => write!(
                f,
                "{section}[{index}]: the certificate chain is empty, longer than \
                 {MAX_CHAIN_CERTIFICATES}, or holds a certificate over {MAX_KEY_BYTES} bytes \
                 or one that is not DER X.509"
            ),
        }
    }
}

impl core::error::Error for TrustedRootError {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootJson {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<Object<LogJson>>,
    #[serde(default)]
    ctlogs: Vec<Object<LogJson>>,
    #[serde(default)]
    certificate_authorities: Vec<Object<AuthorityJson>>,
    #[serde(default)]
    timestamp_authorities: Vec<Object<AuthorityJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogJson {
    #[serde(default)]
    base_url: String,
    public_key: Object<PublicKeyJson>,
    #[serde(default)]
    log_id: Option<Object<LogIdJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyJson {
    raw_bytes: String,
    key_details: String,
    valid_for: Option<Object<RangeJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogIdJson {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RangeJson {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorityJson {
    #[serde(default)]
    uri: String,
    cert_chain: Object<ChainJson>,
    valid_for: Option<Object<RangeJson>>,
}

#[derive(Deserialize)]
struct ChainJson {
    certificates: Vec<Object<RawJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJson {
    raw_bytes: String,
}

impl TrustedRoot {
    /// Reads a `trusted_root.json`.
    ///
    /// # Errors
    /// The first problem found, naming the list and entry.
    pub fn parse(json: &[u8]) -> Result<Self, TrustedRootError> {
        if json.len() > MAX_TRUSTED_ROOT_BYTES {
            return Err(TrustedRootError::TooLarge(json.len()));
        }
        let Object(root): Object<RootJson> = serde_json::from_slice(json)
            .map_err(|e| TrustedRootError::Malformed(alloc::format!("{e}")))?;
        if !MEDIA_TYPES.contains(&root.media_type.as_str()) {
            return Err(TrustedRootError::MediaType(root.media_type));
        }
        Ok(Self {
            tlogs: logs(Section::Tlogs, root.tlogs)?,
            ctlogs: logs(Section::Ctlogs, root.ctlogs)?,
            certificate_authorities: authorities(
                Section::CertificateAuthorities,
                root.certificate_authorities,
            )?,
            timestamp_authorities: authorities(
                Section::TimestampAuthorities,
                root.timestamp_authorities,
            )?,
        })
    }
}

fn bounded<T>(section: Section, list: &[T]) -> Result<(), TrustedRootError> {
    if list.len() > MAX_TRUSTED_ROOT_ENTRIES {
        return Err(TrustedRootError::TooManyEntries {
            section,
            count: list.len(),
        });
    }
    Ok(())
}

fn logs(section: Section, list: Vec<Object<LogJson>>) -> Result<Vec<LogKey>, TrustedRootError> {
    bounded(section, &list)?;
    let mut keys = Vec::new();
    for (index, Object(log)) in list.into_iter().enumerate() {
        if let Some(key) = log_key(section, index, log)? {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// One log; `None` for a key type this verifier does not support.
fn log_key(
    section: Section,
    index: usize,
    log: LogJson,
) -> Result<Option<LogKey>, TrustedRootError> {
    let Object(public_key) = log.public_key;
    let validity = validity(section, index, public_key.valid_for)?;
    let raw = base64(section, index, &public_key.raw_bytes)?;
    let key_error = |problem| TrustedRootError::Key {
        section,
        index,
        problem,
    };
    keys::bounded(&raw).map_err(key_error)?;
    let Some((key, hash)) = key_of(&public_key.key_details, &raw) else {
        return Ok(None);
    };
    let key = key.map_err(key_error)?;
    let log_id = match log.log_id {
        Some(Object(id)) => base64(section, index, &id.key_id)?,
        None => Sha256::digest(&raw).to_vec(),
    };
    Ok(Some(LogKey {
        base_url: log.base_url,
        log_id,
        key,
        hash,
        key_der: raw,
        validity,
    }))
}

/// The key of a `keyDetails` this verifier supports, with the digest it signs with; `None`
/// for any other. A key of the wrong kind for its `keyDetails` is an error.
fn key_of(details: &str, raw: &[u8]) -> Option<(Result<Verifier, KeyProblem>, Hash)> {
    let (key, hash, expected): (_, _, fn(&Verifier) -> bool) = match details {
        "PKIX_ECDSA_P256_SHA_256" => (keys::verifier_from_der(raw), Hash::Sha256, |k| {
            matches!(k, Verifier::Ecdsa(_))
        }),
        "PKIX_ECDSA_P384_SHA_384" => (keys::verifier_from_der(raw), Hash::Sha384, |k| {
            matches!(k, Verifier::EcdsaP384(_))
        }),
        // Pure Ed25519 hashes internally; SHA-512 is what it uses.
        "PKIX_ED25519" => (keys::verifier_from_der(raw), Hash::Sha512, |k| {
            matches!(k, Verifier::Ed25519(_))
        }),
        "PKIX_RSA_PKCS1V15_2048_SHA256"
        | "PKIX_RSA_PKCS1V15_3072_SHA256"
        | "PKIX_RSA_PKCS1V15_4096_SHA256"
        | "PKIX_RSA_PKCS1V5" => (keys::verifier_from_der(raw), Hash::Sha256, |k| {
            matches!(k, Verifier::Rsa(_))
        }),
        // Deprecated, but staging's first CT log still has one: a bare PKCS#1 key.
        "PKCS1_RSA_PKCS1V5" => (keys::rsa_verifier(raw), Hash::Sha256, |_| true),
        _ => return None,
    };
    let key = key.and_then(|k| {
        if expected(&k) {
            Ok(k)
        } else {
            Err(KeyProblem::Algorithm)
        }
    });
    Some((key, hash))
}

fn authorities(
    section: Section,
    list: Vec<Object<AuthorityJson>>,
) -> Result<Vec<Authority>, TrustedRootError> {
    bounded(section, &list)?;
    list.into_iter()
        .enumerate()
        .map(|(index, Object(authority))| {
            let validity = validity(section, index, authority.valid_for)?;
            let certificates = authority.cert_chain.0.certificates;
            if certificates.is_empty() || certificates.len() > MAX_CHAIN_CERTIFICATES {
                return Err(TrustedRootError::Chain { section, index });
            }
            let chain = certificates
                .iter()
                .map(|Object(cert)| {
                    let der = base64(section, index, &cert.raw_bytes)?;
                    let bad = TrustedRootError::Chain { section, index };
                    keys::bounded(&der).map_err(|_| bad.clone())?;
                    // Parsed again when used; refusing it here says which root is broken.
                    x509_cert::Certificate::from_der(&der).map_err(|_| bad)?;
                    Ok(der)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Authority {
                uri: authority.uri,
                chain,
                validity,
            })
        })
        .collect()
}

fn validity(
    section: Section,
    index: usize,
    range: Option<Object<RangeJson>>,
) -> Result<Validity, TrustedRootError> {
    let range = range.map(|Object(r)| r);
    let Some(start) = range.as_ref().and_then(|r| r.start.as_deref()) else {
        return Err(TrustedRootError::MissingStart { section, index });
    };
    let bad = TrustedRootError::BadValidity { section, index };
    let start = parse_rfc3339(start).ok_or(bad.clone())?;
    let end = match range.as_ref().and_then(|r| r.end.as_deref()) {
        Some(end) => Some(parse_rfc3339(end).ok_or(bad.clone())?),
        None => None,
    };
    if end.is_some_and(|end| end < start) {
        return Err(bad);
    }
    Ok(Validity { start, end })
}

fn base64(section: Section, index: usize, text: &str) -> Result<Vec<u8>, TrustedRootError> {
    STANDARD
        .decode(text)
        .map_err(|_| TrustedRootError::Base64 { section, index })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(tlog_valid_for: &str) -> String {
        alloc::format!(
            r#"{{"mediaType":"{}","tlogs":[{{"baseUrl":"https://rekor.example",
            "hashAlgorithm":"SHA2_256","publicKey":{{"rawBytes":"MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=",
            "keyDetails":"PKIX_ED25519"{tlog_valid_for}}},"logId":{{"keyId":"AAAA"}}}}]}}"#,
            MEDIA_TYPES[0]
        )
    }

    #[test]
    fn a_log_without_a_validity_start_refuses_the_root() {
        for valid_for in [
            "",
            r#","validFor":{}"#,
            r#","validFor":{"end":"2030-01-01T00:00:00Z"}"#,
        ] {
            assert_eq!(
                TrustedRoot::parse(root(valid_for).as_bytes()).err(),
                Some(TrustedRootError::MissingStart {
                    section: Section::Tlogs,
                    index: 0
                }),
                "{valid_for}"
            );
        }
    }

    #[test]
    fn validity_end_is_inclusive() {
        let json = root(
            r#","validFor":{"start":"2025-01-01T00:00:00Z","end":"2025-06-01T00:00:00.999Z"}"#,
        );
        let parsed = TrustedRoot::parse(json.as_bytes()).expect("a root");
        let validity = parsed.tlogs[0].validity;
        let end = parse_rfc3339("2025-06-01T00:00:00Z").expect("a date");
        assert!(validity.contains(end));
        assert!(!validity.contains(UnixTime(end.0 + 1)));
        assert!(!validity.contains(UnixTime(validity.start.0 - 1)));
        assert_eq!(parsed.tlogs[0].log_id, [0, 0, 0]);
    }

    #[test]
    fn an_end_before_the_start_and_an_unknown_media_type_are_refused() {
        let json =
            root(r#","validFor":{"start":"2025-01-01T00:00:00Z","end":"2024-01-01T00:00:00Z"}"#);
        assert!(matches!(
            TrustedRoot::parse(json.as_bytes()),
            Err(TrustedRootError::BadValidity { .. })
        ));
        let json = root(r#","validFor":{"start":"2025-01-01T00:00:00Z"}"#)
            .replace("version=0.1", "version=9");
        assert!(matches!(
            TrustedRoot::parse(json.as_bytes()),
            Err(TrustedRootError::MediaType(_))
        ));
    }

    #[test]
    fn a_key_of_another_kind_than_its_key_details_is_refused_and_an_unknown_kind_left_out() {
        let valid = r#","validFor":{"start":"2025-01-01T00:00:00Z"}"#;
        let json = root(valid).replace("PKIX_ED25519", "PKIX_ECDSA_P256_SHA_256");
        assert!(matches!(
            TrustedRoot::parse(json.as_bytes()),
            Err(TrustedRootError::Key { .. })
        ));
        let json = root(valid).replace("PKIX_ED25519", "ML_DSA_65");
        let parsed = TrustedRoot::parse(json.as_bytes()).expect("a root");
        assert!(parsed.tlogs.is_empty());
    }

    #[test]
    fn a_certificate_authority_must_hold_x509_certificates() {
        let ca = |certificates: &str| {
            alloc::format!(
                r#"{{"mediaType":"{}","certificateAuthorities":[{{"uri":"https://ca.example",
                "certChain":{{"certificates":[{certificates}]}},
                "validFor":{{"start":"2025-01-01T00:00:00Z"}}}}]}}"#,
                MEDIA_TYPES[0]
            )
        };
        let broken = TrustedRootError::Chain {
            section: Section::CertificateAuthorities,
            index: 0,
        };
        assert_eq!(
            TrustedRoot::parse(ca("").as_bytes()).err(),
            Some(broken.clone())
        );
        let not_x509 = ca(r#"{"rawBytes":"MAA="}"#);
        assert_eq!(TrustedRoot::parse(not_x509.as_bytes()).err(), Some(broken));
    }

    #[test]
    fn lists_must_be_objects_and_roots_bounded() {
        let json = root(r#","validFor":["2025-01-01T00:00:00Z"]"#);
        assert!(matches!(
            TrustedRoot::parse(json.as_bytes()),
            Err(TrustedRootError::Malformed(_))
        ));
        let big = alloc::vec![b' '; MAX_TRUSTED_ROOT_BYTES + 1];
        assert_eq!(
            TrustedRoot::parse(&big).err(),
            Some(TrustedRootError::TooLarge(MAX_TRUSTED_ROOT_BYTES + 1))
        );
    }
}
