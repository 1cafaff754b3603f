//! Sigstore bundles (`dev.sigstore.bundle.v1.Bundle`, media types v0.1, v0.2 and v0.3) read
//! into checked values: what was signed (a message signature or a DSSE envelope), by what (a
//! key named by a hint, or a certificate), where it was logged, and its RFC 3161 timestamps.
//!
//! [`Bundle::parse`] checks the shape and the rules of the bundle's version; it verifies
//! nothing. [`check_content_with_key`] (in the crate, `check_content` with a parsed key)
//! checks the signature over the artifact; the log entries are checked by
//! [`super::tlog::verify_entry`], the certificate and timestamps by their modules.

mod content;
pub mod dsse;
mod wire;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

pub use self::content::ContentError;
use crate::crypto::keys::Verifier;
use crate::json::Object;
use crate::limits::{
    MAX_BUNDLE_BYTES, MAX_BUNDLE_CHAIN, MAX_INCLUSION_PROOF_HASHES, MAX_RFC3161_TIMESTAMPS,
    MAX_TLOG_ENTRIES,
};
use crate::time::UnixTime;

/// The protobuf `HashAlgorithm` name of SHA-256, the one artifact digest read.
pub(crate) const SHA2_256: &str = "SHA2_256";

/// A bundle's format version, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`: log entries need an inclusion
    /// promise.
    V0_1,
    /// `…;version=0.2`: log entries need an inclusion proof.
    V0_2,
    /// `…;version=0.3` or `application/vnd.dev.sigstore.bundle.v0.3+json`: as 0.2, and a
    /// single `certificate` replaces the chain.
    V0_3,
}

impl Version {
    fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(Self::V0_1),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(Self::V0_2),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Some(Self::V0_3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V0_1 => "v0.1",
            Self::V0_2 => "v0.2",
            Self::V0_3 => "v0.3",
        })
    }
}

/// A parsed bundle. Nothing in it is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub version: Version,
    pub content: Content,
    pub material: Material,
    /// Transparency-log entries, in the bundle's order.
    pub tlog_entries: Vec<TlogEntry>,
    /// RFC 3161 `TimeStampResponse`s' signed tokens (`signedTimestamp`), as DER.
    pub rfc3161_timestamps: Vec<Vec<u8>>,
}

/// What was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A signature over the artifact's bytes (`messageSignature`).
    MessageSignature(MessageSignature),
    /// A DSSE envelope (`dsseEnvelope`), in practice an in-toto statement about the artifact.
    Dsse(Envelope),
}

/// `messageSignature`: the signature, and the digest the signer says it made it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSignature {
    /// `messageDigest`, a hint only: it must equal the artifact's digest, never stand for it.
    pub digest: Option<MessageDigest>,
    pub signature: Vec<u8>,
}

/// `messageDigest`: a protobuf `HashAlgorithm` name (`SHA2_256`, …) and the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDigest {
    pub algorithm: String,
    pub digest: Vec<u8>,
}

/// `dsseEnvelope` with its one signature (bundles carry exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signature: Vec<u8>,
    /// `keyid`, unauthenticated; empty when absent.
    pub keyid: String,
}

/// Who signed, as the bundle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// `publicKey`: a key the verifier must already hold; `hint` only names it.
    PublicKey { hint: String },
    /// `certificate` (v0.3) or `x509CertificateChain` (v0.1, v0.2): the signing certificate as
    /// DER and, for a chain, the certificates after it.
    Certificate { leaf: Vec<u8>, chain: Vec<Vec<u8>> },
}

/// One `tlogEntries[]` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// The entry's index in the whole log (`logIndex`).
    pub log_index: u64,
    /// `logId.keyId`: which log, as the trusted root names it.
    pub log_id: Vec<u8>,
    /// `kindVersion`: the body's type, e.g. `hashedrekord` `0.0.1`.
    pub kind: String,
    pub kind_version: String,
    /// `integratedTime`; `None` when absent or 0 (Rekor v2 writes none).
    pub integrated_time: Option<UnixTime>,
    /// `inclusionPromise.signedEntryTimestamp`: the log's signature (SET).
    pub inclusion_promise: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
    /// `canonicalizedBody`: the entry as the log stores it (JSON).
    pub body: Vec<u8>,
}

/// `inclusionProof`: a Merkle audit path to a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf's index in the tree the proof is for (may differ from the entry's `logIndex`
    /// in a sharded log).
    pub log_index: u64,
    pub root_hash: [u8; 32],
    pub tree_size: u64,
    pub hashes: Vec<[u8; 32]>,
    /// `checkpoint.envelope`: the signed note, as text.
    pub checkpoint: Option<String>,
}

/// Why a bundle cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// More bytes than [`MAX_BUNDLE_BYTES`].
    TooLarge { bytes: usize, limit: usize },
    /// Not JSON, or not the bundle's shape (the parser's message).
    Json(String),
    /// A media type that is not a bundle version this reads.
    UnknownMediaType(String),
    /// Neither or both of `messageSignature` and `dsseEnvelope`.
    Content,
    /// Not exactly one of `publicKey`, `x509CertificateChain` and `certificate`, or the one
    /// the version does not allow.
    Material,
    /// An `x509CertificateChain` with no certificates.
    EmptyChain,
    /// A DSSE envelope with other than exactly one signature.
    EnvelopeSignatures(usize),
    /// A field that is not base64 (as protobuf-JSON reads it), or is empty where bytes are
    /// needed.
    Base64(&'static str),
    /// A negative `logIndex`, `integratedTime` or `treeSize`.
    Negative(&'static str),
    /// A hash that is not 32 bytes (the logs read here use SHA-256).
    HashLength(&'static str),
    /// A log entry without what the version requires: a promise (v0.1) or a proof (v0.2+).
    MissingInclusion { entry: usize, version: Version },
    /// A list longer than its bound.
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes, limit } => {
                write!(f, "the bundle is {bytes} bytes, more than {limit}")
            }
            Self::Json(message) => write!(f, "the bundle is not readable JSON: {message}"),
            Self::UnknownMediaType(media_type) => {
                write!(f, "unknown bundle media type {media_type:?}")
            }
            Self::Content => {
                f.write_str("the bundle needs exactly one of messageSignature and dsseEnvelope")
            }
            Self::Material => f.write_str(
                "the bundle needs exactly one of publicKey and a certificate (x509CertificateChain before v0.3, certificate from v0.3)",
            ),
            Self::EmptyChain => f.write_str("the bundle's certificate chain is empty"),
            Self::EnvelopeSignatures(count) => {
                write!(f, "the DSSE envelope has {count} signatures, not one")
            }
            Self::Base64(field) => write!(f, "{field} is not base64 of the bytes expected"),
            Self::Negative(field) => write!(f, "{field} is negative"),
            Self::HashLength(field) => write!(f, "{field} is not a SHA-256 hash"),
            Self::MissingInclusion { entry, version } => {
                let needed = if *version == Version::V0_1 {
                    "inclusion promise"
                } else {
                    "inclusion proof"
                };
                write!(f, "log entry {entry} has no {needed}, which a {version} bundle needs")
            }
            Self::TooMany { what, count, limit } => {
                write!(f, "the bundle has {count} {what}, more than {limit}")
            }
        }
    }
}

impl core::error::Error for BundleError {}

impl Envelope {
    /// Reads a DSSE envelope on its own (as cosign's legacy `.att` tags store attestations),
    /// within [`MAX_BUNDLE_BYTES`], with exactly one signature as in a bundle.
    pub fn parse(json: &[u8]) -> Result<Self, BundleError> {
        within_bounds(json)?;
        let envelope = serde_json::from_slice::<Object<wire::Envelope>>(json)
            .map_err(|error| BundleError::Json(alloc::format!("{error}")))?;
        match read_content(None, Some(envelope))? {
            Content::Dsse(envelope) => Ok(envelope),
            Content::MessageSignature(_) => Err(BundleError::Content),
        }
    }

    /// Checks that the envelope holds an in-toto statement naming the artifact whose SHA-256
    /// digest is `artifact_sha256`, signed by `key` over its PAE (as [`check_content`]).
    pub(crate) fn check(
        &self,
        artifact_sha256: &[u8; 32],
        key: &Verifier,
    ) -> Result<(), ContentError> {
        content::check_envelope(self, artifact_sha256, key)
    }
}

impl Bundle {
    /// Reads a bundle from its JSON, within [`MAX_BUNDLE_BYTES`] and the other bundle bounds.
    pub fn parse(json: &[u8]) -> Result<Self, BundleError> {
        within_bounds(json)?;
        let Object(raw) = serde_json::from_slice::<Object<wire::Bundle>>(json)
            .map_err(|error| BundleError::Json(alloc::format!("{error}")))?;
        let version = Version::from_media_type(&raw.media_type)
            .ok_or_else(|| BundleError::UnknownMediaType(raw.media_type.clone()))?;
        let content = read_content(raw.message_signature, raw.dsse_envelope)?;
        let Object(material) = raw.verification_material;
        let tlog_entries = tlog_entries(material.tlog_entries, version)?;
        let rfc3161_timestamps = timestamps(material.timestamp_verification_data)?;
        let material = read_material(
            material.public_key,
            material.x509_certificate_chain,
            material.certificate,
            version,
        )?;
        Ok(Self {
            version,
            content,
            material,
            tlog_entries,
            rfc3161_timestamps,
        })
    }

    /// The signing certificate (DER), when the bundle has one.
    pub fn leaf_certificate(&self) -> Option<&[u8]> {
        match &self.material {
            Material::Certificate { leaf, .. } => Some(leaf),
            Material::PublicKey { .. } => None,
        }
    }
}

/// `check_content` with the signer's key as a DER SubjectPublicKeyInfo (a certificate's, or
/// the one the policy names).
pub fn check_content_with_key(
    bundle: &Bundle,
    artifact_sha256: &[u8; 32],
    spki_der: &[u8],
) -> Result<(), ContentError> {
    crate::crypto::keys::bounded(spki_der).map_err(ContentError::Key)?;
    let key = crate::crypto::keys::verifier_from_der(spki_der).map_err(ContentError::Key)?;
    check_content(bundle, artifact_sha256, &key)
}

/// Checks that `bundle` signs the artifact whose SHA-256 digest is `artifact_sha256`, with
/// `key` (the certificate's key, or the key the policy names).
///
/// A message signature must verify over the digest (ECDSA, RSA; Sigstore signs the artifact
/// with SHA-256 whatever the key), and its `messageDigest`, when present, must be that digest.
/// A DSSE envelope must hold an in-toto statement naming the digest, and its signature must
/// verify over the envelope's PAE (SHA-384 for P-384 keys, SHA-256 for the others, pure
/// Ed25519).
pub(crate) fn check_content(
    bundle: &Bundle,
    artifact_sha256: &[u8; 32],
    key: &Verifier,
) -> Result<(), ContentError> {
    match &bundle.content {
        Content::MessageSignature(message) => content::check_message(message, artifact_sha256, key),
        Content::Dsse(envelope) => content::check_envelope(envelope, artifact_sha256, key),
    }
}

/// [`MAX_BUNDLE_BYTES`], for a bundle or an envelope alone.
fn within_bounds(json: &[u8]) -> Result<(), BundleError> {
    if json.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge {
            bytes: json.len(),
            limit: MAX_BUNDLE_BYTES,
        });
    }
    Ok(())
}

fn read_content(
    message: Option<Object<wire::MessageSignature>>,
    envelope: Option<Object<wire::Envelope>>,
) -> Result<Content, BundleError> {
    match (message, envelope) {
        (Some(Object(message)), None) => Ok(Content::MessageSignature(MessageSignature {
            digest: message
                .message_digest
                .map(|Object(digest)| -> Result<_, BundleError> {
                    Ok(MessageDigest {
                        algorithm: digest.algorithm,
                        digest: bytes("messageSignature.messageDigest.digest", &digest.digest)?,
                    })
                })
                .transpose()?,
            signature: bytes("messageSignature.signature", &message.signature)?,
        })),
        (None, Some(Object(envelope))) => {
            let [Object(signature)] = <[_; 1]>::try_from(envelope.signatures)
                .map_err(|signatures| BundleError::EnvelopeSignatures(signatures.len()))?;
            Ok(Content::Dsse(Envelope {
                payload: bytes("dsseEnvelope.payload", &envelope.payload)?,
                payload_type: envelope.payload_type,
                signature: bytes("dsseEnvelope.signatures[0].sig", &signature.sig)?,
                keyid: signature.keyid,
            }))
        }
        _ => Err(BundleError::Content),
    }
}

/// The signer: exactly one of the three, and the certificate form the version allows.
fn read_material(
    key: Option<Object<wire::PublicKeyIdentifier>>,
    chain: Option<Object<wire::CertificateChain>>,
    certificate: Option<Object<wire::Certificate>>,
    version: Version,
) -> Result<Material, BundleError> {
    match (key, chain, certificate) {
        (Some(Object(key)), None, None) => Ok(Material::PublicKey { hint: key.hint }),
        (None, Some(Object(chain)), None) if version < Version::V0_3 => {
            bounded("certificates", chain.certificates.len(), MAX_BUNDLE_CHAIN)?;
            let mut ders = chain
                .certificates
                .iter()
                .map(|Object(cert)| {
                    bytes(
                        "x509CertificateChain.certificates[].rawBytes",
                        &cert.raw_bytes,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter();
            let leaf = ders.next().ok_or(BundleError::EmptyChain)?;
            Ok(Material::Certificate {
                leaf,
                chain: ders.collect(),
            })
        }
        (None, None, Some(Object(cert))) if version >= Version::V0_3 => Ok(Material::Certificate {
            leaf: bytes("certificate.rawBytes", &cert.raw_bytes)?,
            chain: Vec::new(),
        }),
        _ => Err(BundleError::Material),
    }
}

fn tlog_entries(
    entries: Vec<Object<wire::TlogEntry>>,
    version: Version,
) -> Result<Vec<TlogEntry>, BundleError> {
    bounded("log entries", entries.len(), MAX_TLOG_ENTRIES)?;
    entries
        .into_iter()
        .enumerate()
        .map(|(index, Object(entry))| {
            let entry = tlog_entry(entry)?;
            let present = match version {
                Version::V0_1 => entry.inclusion_promise.is_some(),
                Version::V0_2 | Version::V0_3 => entry.inclusion_proof.is_some(),
            };
            if !present {
                return Err(BundleError::MissingInclusion {
                    entry: index,
                    version,
                });
            }
            Ok(entry)
        })
        .collect()
}

fn tlog_entry(entry: wire::TlogEntry) -> Result<TlogEntry, BundleError> {
    let integrated_time = unsigned("integratedTime", entry.integrated_time)?;
    Ok(TlogEntry {
        log_index: unsigned("logIndex", entry.log_index)?,
        log_id: bytes("logId.keyId", &entry.log_id.0.key_id)?,
        kind: entry.kind_version.0.kind,
        kind_version: entry.kind_version.0.version,
        integrated_time: (integrated_time != 0).then_some(UnixTime(integrated_time)),
        inclusion_promise: entry
            .inclusion_promise
            .map(|Object(promise)| {
                bytes(
                    "inclusionPromise.signedEntryTimestamp",
                    &promise.signed_entry_timestamp,
                )
            })
            .transpose()?,
        inclusion_proof: entry
            .inclusion_proof
            .map(|Object(proof)| inclusion_proof(proof))
            .transpose()?,
        body: bytes("canonicalizedBody", &entry.canonicalized_body)?,
    })
}

fn inclusion_proof(proof: wire::InclusionProof) -> Result<InclusionProof, BundleError> {
    bounded(
        "proof hashes",
        proof.hashes.len(),
        MAX_INCLUSION_PROOF_HASHES,
    )?;
    Ok(InclusionProof {
        log_index: unsigned("inclusionProof.logIndex", proof.log_index)?,
        root_hash: hash("inclusionProof.rootHash", &proof.root_hash)?,
        tree_size: unsigned("inclusionProof.treeSize", proof.tree_size)?,
        hashes: proof
            .hashes
            .iter()
            .map(|text| hash("inclusionProof.hashes[]", text))
            .collect::<Result<_, _>>()?,
        checkpoint: proof
            .checkpoint
            .map(|Object(checkpoint)| checkpoint.envelope),
    })
}

fn timestamps(
    data: Option<Object<wire::TimestampVerificationData>>,
) -> Result<Vec<Vec<u8>>, BundleError> {
    let stamps = data
        .map(|Object(data)| data.rfc3161_timestamps)
        .unwrap_or_default();
    bounded("RFC 3161 timestamps", stamps.len(), MAX_RFC3161_TIMESTAMPS)?;
    stamps
        .iter()
        .map(|Object(stamp)| {
            bytes(
                "rfc3161Timestamps[].signedTimestamp",
                &stamp.signed_timestamp,
            )
        })
        .collect()
}

/// Bytes as Go's protojson reads them (the reader of sigstore-go and cosign): line breaks
/// skipped, the URL-safe alphabet if `-` or `_` appears, no padding if the length is not a
/// multiple of 4. (`base64 response.tsr` wraps lines, and a conformance bundle was made so.)
/// Empty is refused, as every field read with this must hold something.
fn bytes(field: &'static str, text: &str) -> Result<Vec<u8>, BundleError> {
    let text: String = text.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
    let engine = match (text.contains(['-', '_']), text.len().is_multiple_of(4)) {
        (false, true) => STANDARD,
        (false, false) => STANDARD_NO_PAD,
        (true, true) => URL_SAFE,
        (true, false) => URL_SAFE_NO_PAD,
    };
    match engine.decode(&text) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(BundleError::Base64(field)),
    }
}

fn hash(field: &'static str, text: &str) -> Result<[u8; 32], BundleError> {
    <[u8; 32]>::try_from(bytes(field, text)?).map_err(|_| BundleError::HashLength(field))
}

fn unsigned(field: &'static str, value: wire::Int64) -> Result<u64, BundleError> {
    u64::try_from(value.0).map_err(|_| BundleError::Negative(field))
}

fn bounded(what: &'static str, count: usize, limit: usize) -> Result<(), BundleError> {
    if count > limit {
        return Err(BundleError::TooMany { what, count, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
