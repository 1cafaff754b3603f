//! Notary Project signature envelopes, JWS (`application/jose+json`) and COSE_Sign1
//! (`application/cose`), read into one checked [`Envelope`].
//!
//! [`Envelope::open`] does what notation-core-go's `Envelope.Verify` does: it reads the
//! envelope, applies the specification's header rules (content type, signing scheme and its
//! time, critical headers), checks that the header's algorithm is the one the leaf
//! certificate's key calls for, checks the signature with that key, and only then reads the
//! payload. Nothing here says whether the certificate is trusted: that is the chain's, the
//! trust policy's and the timestamp's business.
//!
//! Not supported, and refused with an error saying so: envelopes that ask for a verification
//! plugin.

mod cose;
mod jws;
#[cfg(test)]
mod tests;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use der::Decode as _;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;
use x509_cert::Certificate;

use crate::crypto::KeyProblem;
use crate::crypto::keys::{Hash, Verifier, bounded, verifier_from_spki_with_p521};
use crate::json::Object;
use crate::limits::{MAX_CHAIN_CERTIFICATES, MAX_NOTATION_ENVELOPE_BYTES, MAX_TIMESTAMP_BYTES};
use crate::time::UnixTime;

/// Layer media type of a JWS envelope.
pub const MEDIA_TYPE_JWS: &str = "application/jose+json";
/// Layer media type of a COSE envelope.
pub const MEDIA_TYPE_COSE: &str = "application/cose";
/// The one payload content type (`cty`) the specification defines.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";
/// `io.cncf.notary.verificationPlugin` and `…PluginMinVersion` both start so.
const VERIFICATION_PLUGIN: &str = "io.cncf.notary.verificationPlugin";

/// The Notary Project signing scheme (`io.cncf.notary.signingScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningScheme {
    /// `notary.x509`: the signing time is the signer's claim; a timestamp may vouch for it.
    X509,
    /// `notary.x509.signingAuthority`: the signing time is authentic (a signing authority's).
    SigningAuthority,
}

impl SigningScheme {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "notary.x509" => Some(Self::X509),
            "notary.x509.signingAuthority" => Some(Self::SigningAuthority),
            _ => None,
        }
    }

    /// The header that holds this scheme's signing time.
    fn time_header(self) -> &'static str {
        match self {
            Self::X509 => SIGNING_TIME,
            Self::SigningAuthority => AUTHENTIC_SIGNING_TIME,
        }
    }
}

impl fmt::Display for SigningScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X509 => "notary.x509",
            Self::SigningAuthority => "notary.x509.signingAuthority",
        })
    }
}

/// The signature algorithms Notation signs with, named as JWS names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PSS with SHA-256 (RSA-2048 keys).
    Ps256,
    /// RSASSA-PSS with SHA-384 (RSA-3072 keys).
    Ps384,
    /// RSASSA-PSS with SHA-512 (RSA-4096 keys).
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// ECDSA on P-521 with SHA-512.
    Es512,
}

impl Algorithm {
    fn hash(self) -> Hash {
        match self {
            Self::Ps256 | Self::Es256 => Hash::Sha256,
            Self::Ps384 | Self::Es384 => Hash::Sha384,
            Self::Ps512 | Self::Es512 => Hash::Sha512,
        }
    }

    /// The one algorithm notation signs with for `key`: RSA by its size (2048, 3072, 4096 bits
    /// only), ECDSA by its curve.
    fn for_key(key: &Verifier) -> Result<Self, EnvelopeError> {
        match key {
            Verifier::Ecdsa(_) => Ok(Self::Es256),
            Verifier::EcdsaP384(_) => Ok(Self::Es384),
            Verifier::EcdsaP521(_) => Ok(Self::Es512),
            Verifier::Rsa(rsa) => match rsa.n().bits() {
                2048 => Ok(Self::Ps256),
                3072 => Ok(Self::Ps384),
                4096 => Ok(Self::Ps512),
                bits => Err(EnvelopeError::UnsupportedKey(alloc::format!(
                    "RSA-{bits} (notation signs with RSA-2048, 3072 or 4096)"
                ))),
            },
            Verifier::Ed25519(_) => Err(EnvelopeError::UnsupportedKey("Ed25519".to_string())),
        }
    }

    /// Checks `signature` over `message` with `key` (PSS for RSA, raw `r || s` for ECDSA).
    fn verify(self, key: &Verifier, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                key.verify_pss(self.hash(), message, signature)
            }
            Self::Es256 | Self::Es384 | Self::Es512 => {
                key.verify_ecdsa_raw(self.hash(), message, signature)
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        })
    }
}

/// The payload's `targetArtifact`: the OCI descriptor of what was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    /// `<algorithm>:<hex>`, checked to be sha256, sha384 or sha512 with lower-case hex of the
    /// right length.
    pub digest: String,
    pub size: u64,
    /// User metadata (`notation sign --user-metadata`); empty when absent.
    pub annotations: BTreeMap<String, String>,
}

/// A Notation signature whose signature checks with its leaf certificate's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub target: Descriptor,
    pub scheme: SigningScheme,
    pub algorithm: Algorithm,
    /// io.cncf.notary.signingTime (X509) or io.cncf.notary.authenticSigningTime
    /// (SigningAuthority), whole seconds.
    pub signing_time: UnixTime,
    /// io.cncf.notary.expiry, after `signing_time`.
    pub expiry: Option<UnixTime>,
    /// x5c / x5chain: DER certificates, leaf first; not empty.
    pub chain: Vec<Vec<u8>>,
    /// The raw signature value (what a timestamp stamps).
    pub signature: Vec<u8>,
    /// io.cncf.notary.timestampSignature: DER CMS SignedData (a TimeStampToken), unchecked.
    /// The specification gives it meaning under `notary.x509` only.
    pub timestamp: Option<Vec<u8>>,
    /// io.cncf.notary.signingAgent, unsigned and informational.
    pub signing_agent: Option<String>,
}

/// Why an envelope cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// More bytes than [`MAX_NOTATION_ENVELOPE_BYTES`].
    TooLarge { bytes: usize, limit: usize },
    /// A layer media type that is neither JWS nor COSE.
    UnknownMediaType(String),
    /// Not JSON or CBOR of the envelope's shape (the parser's message).
    Malformed(String),
    /// A field that is not the base64 it must be.
    Base64(&'static str),
    /// A header the specification requires is absent.
    MissingHeader(&'static str),
    /// A header of the wrong type, or a time that does not read.
    BadHeader(&'static str),
    /// A payload content type other than [`PAYLOAD_CONTENT_TYPE`].
    ContentType(String),
    /// A signature algorithm Notation does not define.
    UnsupportedAlgorithm(String),
    /// A signing scheme other than `notary.x509` and `notary.x509.signingAuthority`.
    UnsupportedSigningScheme(String),
    /// A header the signing scheme forbids (the other scheme's signing time).
    ForbiddenHeader {
        header: &'static str,
        scheme: SigningScheme,
    },
    /// A header that must be critical is not listed in `crit`.
    NotCritical(&'static str),
    /// `crit` lists a header that is not there, or that may not be critical.
    CriticalNotPresent(String),
    /// `crit` lists a header this verifier does not understand.
    UnknownCritical(String),
    /// The signature asks for a verification plugin (the header's value); plugins are not
    /// supported.
    PluginRequired(String),
    /// The expiry is not after the signing time.
    ExpiryNotAfterSigningTime {
        signing_time: UnixTime,
        expiry: UnixTime,
    },
    /// A COSE envelope without its payload (detached).
    DetachedPayload,
    /// An empty signature value.
    EmptySignature,
    /// No certificate in `x5c` / `x5chain`.
    NoCertificate,
    /// More certificates than [`MAX_CHAIN_CERTIFICATES`].
    TooManyCertificates { count: usize, limit: usize },
    /// A timestamp token larger than [`MAX_TIMESTAMP_BYTES`].
    TimestampTooLarge { bytes: usize, limit: usize },
    /// The leaf certificate, or its key, does not parse.
    LeafCertificate(KeyProblem),
    /// A leaf key notation does not sign with.
    UnsupportedKey(String),
    /// The header's algorithm is not the one the leaf key calls for.
    AlgorithmMismatch { header: Algorithm, key: Algorithm },
    /// The signature does not check with the leaf certificate's key.
    SignatureInvalid,
    /// The payload is not a Notary Project payload (the parser's message).
    Payload(String),
    /// The target's digest is not `<sha256|sha384|sha512>:<hex>`.
    Digest(String),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes, limit } => {
                write!(
                    f,
                    "the signature envelope is {bytes} bytes, more than {limit}"
                )
            }
            Self::UnknownMediaType(media_type) => {
                write!(f, "unknown signature envelope media type {media_type:?}")
            }
            Self::Malformed(message) => write!(f, "the signature envelope is malformed: {message}"),
            Self::Base64(field) => write!(f, "the envelope's {field} is not valid base64"),
            Self::MissingHeader(header) => write!(f, "the {header:?} header is missing"),
            Self::BadHeader(header) => write!(f, "the {header:?} header has an invalid value"),
            Self::ContentType(cty) => write!(
                f,
                "payload content type {cty:?} is not {PAYLOAD_CONTENT_TYPE:?}"
            ),
            Self::UnsupportedAlgorithm(alg) => write!(
                f,
                "signature algorithm {alg} is not supported (PS256, PS384, PS512, ES256, ES384 or ES512)"
            ),
            Self::UnsupportedSigningScheme(scheme) => {
                write!(f, "unsupported signing scheme {scheme:?}")
            }
            Self::ForbiddenHeader { header, scheme } => {
                write!(f, "the {header:?} header must not be present for {scheme}")
            }
            Self::NotCritical(header) => {
                write!(f, "the {header:?} header is not marked critical")
            }
            Self::CriticalNotPresent(header) => write!(
                f,
                "{header:?} is marked critical but is not a header that may be critical here"
            ),
            Self::UnknownCritical(header) => {
                write!(f, "unknown critical header {header:?}")
            }
            Self::PluginRequired(plugin) => write!(
                f,
                "the signature requires verification plugin {plugin:?}; plugins are not supported"
            ),
            Self::ExpiryNotAfterSigningTime {
                signing_time,
                expiry,
            } => write!(
                f,
                "the expiry {expiry} is not after the signing time {signing_time}"
            ),
            Self::DetachedPayload => f.write_str("the COSE envelope has no payload"),
            Self::EmptySignature => f.write_str("the signature is empty"),
            Self::NoCertificate => f.write_str("the envelope has no certificate chain"),
            Self::TooManyCertificates { count, limit } => {
                write!(
                    f,
                    "the certificate chain has {count} certificates, more than {limit}"
                )
            }
            Self::TimestampTooLarge { bytes, limit } => {
                write!(
                    f,
                    "the timestamp signature is {bytes} bytes, more than {limit}"
                )
            }
            Self::LeafCertificate(problem) => write!(f, "the signing certificate: {problem}"),
            Self::UnsupportedKey(key) => write!(f, "unsupported signing key {key}"),
            Self::AlgorithmMismatch { header, key } => write!(
                f,
                "the header says {header} but the signing certificate's key calls for {key}"
            ),
            Self::SignatureInvalid => {
                f.write_str("the signature does not verify with the signing certificate's key")
            }
            Self::Payload(message) => write!(f, "the signed payload is unreadable: {message}"),
            Self::Digest(digest) => write!(f, "the signed target digest {digest:?} is invalid"),
        }
    }
}

impl core::error::Error for EnvelopeError {}

impl Envelope {
    /// Parses `bytes` of layer media type `media_type` ("application/jose+json" or
    /// "application/cose") and checks its signature with the leaf certificate's key
    /// (integrity). Nothing about trust.
    ///
    /// # Errors
    ///
    /// An [`EnvelopeError`] naming the first rule the envelope breaks.
    pub fn open(media_type: &str, bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_NOTATION_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge {
                bytes: bytes.len(),
                limit: MAX_NOTATION_ENVELOPE_BYTES,
            });
        }
        let parsed = match media_type {
            MEDIA_TYPE_JWS => jws::parse(bytes)?,
            MEDIA_TYPE_COSE => cose::parse(bytes)?,
            _ => return Err(EnvelopeError::UnknownMediaType(media_type.to_string())),
        };
        parsed.open()
    }
}

/// The protected header as either format carries it, before the specification's rules.
#[derive(Debug, Default)]
struct Protected {
    /// `alg`; `None` when absent.
    algorithm: Option<Algorithm>,
    /// `cty` / content type (3).
    content_type: Option<String>,
    /// `crit`, labels as text (a COSE integer label as its decimal).
    critical: Vec<String>,
    signing_scheme: Option<String>,
    signing_time: Option<UnixTime>,
    authentic_signing_time: Option<UnixTime>,
    expiry: Option<UnixTime>,
    /// The value of `io.cncf.notary.verificationPlugin*` (or its name, if not text).
    plugin: Option<String>,
    /// Labels of every other protected header (extended attributes).
    extended: Vec<String>,
}

/// What a format hands back: the protected header, the bytes signed and what was signed.
#[derive(Debug)]
struct Parsed {
    protected: Protected,
    /// JWS: `protected "." payload` as received; COSE: the Sig_structure.
    signing_input: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    chain: Vec<Vec<u8>>,
    timestamp: Option<Vec<u8>>,
    signing_agent: Option<String>,
}

/// The signed attributes once the specification's rules hold.
struct Attributes {
    algorithm: Algorithm,
    scheme: SigningScheme,
    signing_time: UnixTime,
    expiry: Option<UnixTime>,
}

impl Parsed {
    /// Header rules, then the chain's bounds, the key, the signature, and last the payload
    /// (read only once it is known to be signed).
    fn open(self) -> Result<Envelope, EnvelopeError> {
        let attributes = self.protected.check()?;
        if self.signature.is_empty() {
            return Err(EnvelopeError::EmptySignature);
        }
        if let Some(token) = self
            .timestamp
            .as_ref()
            .filter(|t| t.len() > MAX_TIMESTAMP_BYTES)
        {
            return Err(EnvelopeError::TimestampTooLarge {
                bytes: token.len(),
                limit: MAX_TIMESTAMP_BYTES,
            });
        }
        check_chain_length(self.chain.len())?;
        let leaf = self.chain.first().ok_or(EnvelopeError::NoCertificate)?;
        let key = leaf_key(leaf).map_err(EnvelopeError::LeafCertificate)?;
        let expected = Algorithm::for_key(&key)?;
        if expected != attributes.algorithm {
            return Err(EnvelopeError::AlgorithmMismatch {
                header: attributes.algorithm,
                key: expected,
            });
        }
        if !expected.verify(&key, &self.signing_input, &self.signature) {
            return Err(EnvelopeError::SignatureInvalid);
        }
        Ok(Envelope {
            target: parse_payload(&self.payload)?,
            scheme: attributes.scheme,
            algorithm: attributes.algorithm,
            signing_time: attributes.signing_time,
            expiry: attributes.expiry,
            chain: self.chain,
            signature: self.signature,
            timestamp: self.timestamp,
            signing_agent: self.signing_agent,
        })
    }
}

/// The leaf certificate's key, P-521 included. Only the key is read here; the certificate's
/// other rules are the chain's.
fn leaf_key(der: &[u8]) -> Result<Verifier, KeyProblem> {
    bounded(der)?;
    let certificate = Certificate::from_der(der).map_err(|_| KeyProblem::Der)?;
    verifier_from_spki_with_p521(&certificate.tbs_certificate.subject_public_key_info)
}

/// Refuses an empty chain or one over [`MAX_CHAIN_CERTIFICATES`]; formats call it before
/// decoding the certificates too.
fn check_chain_length(count: usize) -> Result<(), EnvelopeError> {
    if count == 0 {
        return Err(EnvelopeError::NoCertificate);
    }
    if count > MAX_CHAIN_CERTIFICATES {
        return Err(EnvelopeError::TooManyCertificates {
            count,
            limit: MAX_CHAIN_CERTIFICATES,
        });
    }
    Ok(())
}

impl Protected {
    /// The specification's header rules, as notation-core-go applies them.
    fn check(&self) -> Result<Attributes, EnvelopeError> {
        let algorithm = self.algorithm.ok_or(EnvelopeError::MissingHeader("alg"))?;
        let content_type = self
            .content_type
            .as_deref()
            .ok_or(EnvelopeError::MissingHeader("cty"))?;
        if content_type != PAYLOAD_CONTENT_TYPE {
            return Err(EnvelopeError::ContentType(content_type.to_string()));
        }
        let scheme_text = self
            .signing_scheme
            .as_deref()
            .ok_or(EnvelopeError::MissingHeader(SIGNING_SCHEME))?;
        let scheme = SigningScheme::parse(scheme_text)
            .ok_or_else(|| EnvelopeError::UnsupportedSigningScheme(scheme_text.to_string()))?;
        if let Some(plugin) = &self.plugin {
            return Err(EnvelopeError::PluginRequired(plugin.clone()));
        }
        let signing_time = self.signing_time_for(scheme)?;
        self.check_critical(scheme)?;
        if let Some(expiry) = self.expiry.filter(|expiry| *expiry <= signing_time) {
            return Err(EnvelopeError::ExpiryNotAfterSigningTime {
                signing_time,
                expiry,
            });
        }
        Ok(Attributes {
            algorithm,
            scheme,
            signing_time,
            expiry: self.expiry,
        })
    }

    /// The scheme's signing time; the other scheme's must be absent.
    fn signing_time_for(&self, scheme: SigningScheme) -> Result<UnixTime, EnvelopeError> {
        let (own, other, other_header) = match scheme {
            SigningScheme::X509 => (
                self.signing_time,
                self.authentic_signing_time,
                AUTHENTIC_SIGNING_TIME,
            ),
            SigningScheme::SigningAuthority => {
                (self.authentic_signing_time, self.signing_time, SIGNING_TIME)
            }
        };
        if other.is_some() {
            return Err(EnvelopeError::ForbiddenHeader {
                header: other_header,
                scheme,
            });
        }
        own.ok_or(EnvelopeError::MissingHeader(scheme.time_header()))
    }

    /// `crit` lists the signing scheme, the authentic signing time (signingAuthority) and the
    /// expiry when present, and nothing else this verifier does not understand.
    fn check_critical(&self, scheme: SigningScheme) -> Result<(), EnvelopeError> {
        if self.critical.is_empty() {
            return Err(EnvelopeError::MissingHeader("crit"));
        }
        let authentic = scheme == SigningScheme::SigningAuthority;
        let understood: [(&'static str, bool); 3] = [
            (SIGNING_SCHEME, true),
            (AUTHENTIC_SIGNING_TIME, authentic),
            (EXPIRY, self.expiry.is_some()),
        ];
        for (header, present) in understood {
            if present && !self.critical.iter().any(|c| c == header) {
                return Err(EnvelopeError::NotCritical(header));
            }
        }
        for label in &self.critical {
            let allowed = understood
                .iter()
                .any(|(header, present)| *present && header == label);
            if allowed {
                continue;
            }
            if self.extended.contains(label) {
                return Err(EnvelopeError::UnknownCritical(label.clone()));
            }
            return Err(EnvelopeError::CriticalNotPresent(label.clone()));
        }
        Ok(())
    }

    /// Records a protected header that is none of the specification's: a plugin request, or an
    /// extended attribute.
    fn extended_header(&mut self, label: String, text_value: Option<&str>) {
        if label.starts_with(VERIFICATION_PLUGIN) && self.plugin.is_none() {
            self.plugin = Some(text_value.map_or_else(|| label.clone(), String::from));
        }
        self.extended.push(label);
    }
}

/// The payload as the specification writes it. Unknown members are ignored, as notation's
/// decoder ignores them; a member written twice is refused.
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "targetArtifact")]
    target_artifact: Object<WireDescriptor>,
}

#[derive(Deserialize)]
struct WireDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

fn parse_payload(payload: &[u8]) -> Result<Descriptor, EnvelopeError> {
    let Object(payload) = serde_json::from_slice::<Object<Payload>>(payload)
        .map_err(|e| EnvelopeError::Payload(e.to_string()))?;
    let Object(target) = payload.target_artifact;
    check_digest(&target.digest)?;
    Ok(Descriptor {
        media_type: target.media_type,
        digest: target.digest,
        size: target.size,
        annotations: target.annotations.unwrap_or_default(),
    })
}

/// `sha256:<64 hex>`, `sha384:<96 hex>` or `sha512:<128 hex>`, lower-case: the OCI
/// registered algorithms Notation signs with.
fn check_digest(digest: &str) -> Result<(), EnvelopeError> {
    let invalid = || EnvelopeError::Digest(digest.to_string());
    let (algorithm, hex) = digest.split_once(':').ok_or_else(invalid)?;
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(invalid()),
    };
    let lower_hex = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex.len() != length || !lower_hex {
        return Err(invalid());
    }
    Ok(())
}
