//! The log entry's body (`canonicalizedBody`) against the bundle: the entry must record the
//! bundle's artifact digest, signature and signer, or it proves nothing about this bundle.
//!
//! Kinds read (Rekor's type schemas; v2 ones from `rekor-tiles`' protobufs):
//! - `hashedrekord` 0.0.1: `spec.data.hash` (sha256, hex), `spec.signature.content`,
//!   `spec.signature.publicKey.content` (base64 PEM);
//! - `hashedrekord` 0.0.2: `spec.hashedRekordV002.data` (`SHA2_256`, base64),
//!   `.signature.content`, `.signature.verifier.{x509Certificate|publicKey}.rawBytes`; for a
//!   DSSE bundle the digest is SHA-256 of the envelope's PAE;
//! - `dsse` 0.0.1: `spec.payloadHash` and `spec.signatures[{signature, verifier}]`;
//! - `dsse` 0.0.2: `spec.dsseV002.payloadHash` and `.signatures[{content, verifier}]`;
//! - `intoto` 0.0.2: `spec.content.payloadHash` and `.envelope.{payloadType, signatures[{sig,
//!   publicKey}]}`, where `sig` is base64 of the base64 signature.
//!
//! The envelope hashes (`envelopeHash`, intoto's `hash`) are not recomputed: they depend on
//! the JSON the client sent to the log, which the bundle does not keep; the payload hash and
//! the signature bind the entry to the envelope.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use super::{Claim, Signer};
use crate::crypto::pem;
use crate::json::Object;
use crate::sigstore::bundle::dsse::{hex32, pae};
use crate::sigstore::bundle::{Content, TlogEntry};

/// Why an entry's body is not the bundle's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is not JSON of the kind's shape (the parser's message).
    Json(String),
    /// The body's `kind`/`apiVersion` are not the entry's `kindVersion`.
    KindVersion,
    /// A kind and version not read here, or not one that can record this bundle's content.
    Unsupported { kind: String, version: String },
    /// A field that is not the encoding expected (base64, hex, PEM).
    Encoding(&'static str),
    /// A digest algorithm other than SHA-256.
    Algorithm(String),
    /// The entry records other than one signature.
    Signatures(usize),
    /// The recorded digest is not the artifact's (or the envelope's).
    Digest,
    /// The recorded signature is not the bundle's.
    Signature,
    /// The recorded certificate or key is not the bundle's signer.
    Signer,
    /// The recorded DSSE payload type is not the envelope's.
    PayloadType,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(message) => write!(f, "the body is not readable: {message}"),
            Self::KindVersion => f.write_str("the body's kind is not the entry's kindVersion"),
            Self::Unsupported { kind, version } => {
                write!(
                    f,
                    "entries of kind {kind} {version} cannot record this bundle"
                )
            }
            Self::Encoding(field) => write!(f, "{field} is not encoded as expected"),
            Self::Algorithm(name) => write!(f, "digest algorithm {name:?} is not SHA-256"),
            Self::Signatures(count) => write!(f, "the entry has {count} signatures, not one"),
            Self::Digest => f.write_str("the entry records another digest than the bundle's"),
            Self::Signature => f.write_str("the entry records another signature than the bundle's"),
            Self::Signer => f.write_str("the entry records another signer than the bundle's"),
            Self::PayloadType => {
                f.write_str("the entry records another payload type than the envelope's")
            }
        }
    }
}

impl core::error::Error for BodyError {}

/// A certificate or key as the entry records it (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
enum RecordedSigner {
    Certificate(Vec<u8>),
    PublicKey(Vec<u8>),
}

/// What an entry records, whatever its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    digest: [u8; 32],
    signature: Vec<u8>,
    signer: RecordedSigner,
    /// intoto only.
    payload_type: Option<String>,
}

/// What the bundle needs the entry to record.
struct Expected<'a> {
    digest: [u8; 32],
    signature: &'a [u8],
    payload_type: Option<&'a str>,
}

/// Checks that `entry`'s body records `claim`.
pub(super) fn check(entry: &TlogEntry, claim: &Claim<'_>) -> Result<(), BodyError> {
    let Object(body) = from_slice::<Head>(&entry.body)?;
    if body.kind != entry.kind || body.api_version != entry.kind_version {
        return Err(BodyError::KindVersion);
    }
    let unsupported = || BodyError::Unsupported {
        kind: body.kind.clone(),
        version: body.api_version.clone(),
    };
    let (recorded, expected) = match (
        &claim.bundle.content,
        body.kind.as_str(),
        body.api_version.as_str(),
    ) {
        (Content::MessageSignature(message), "hashedrekord", version) => {
            let recorded = match version {
                "0.0.1" => hashedrekord_v001(body.spec)?,
                "0.0.2" => hashedrekord_v002(body.spec)?,
                _ => return Err(unsupported()),
            };
            let expected = Expected {
                digest: *claim.artifact_sha256,
                signature: &message.signature,
                payload_type: None,
            };
            (recorded, expected)
        }
        (Content::Dsse(envelope), kind, version) => {
            let recorded = match (kind, version) {
                ("hashedrekord", "0.0.2") => hashedrekord_v002(body.spec)?,
                ("dsse", "0.0.1") => dsse_v001(body.spec)?,
                ("dsse", "0.0.2") => dsse_v002(body.spec)?,
                ("intoto", "0.0.2") => intoto_v002(body.spec)?,
                _ => return Err(unsupported()),
            };
            // hashedrekord over DSSE (Rekor v2) records the PAE's digest; the others the
            // payload's.
            let digest = if kind == "hashedrekord" {
                Sha256::digest(pae(&envelope.payload_type, &envelope.payload))
            } else {
                Sha256::digest(&envelope.payload)
            };
            let expected = Expected {
                digest: digest.into(),
                signature: &envelope.signature,
                payload_type: (kind == "intoto").then_some(envelope.payload_type.as_str()),
            };
            (recorded, expected)
        }
        _ => return Err(unsupported()),
    };
    compare(&recorded, &expected, claim.signer)
}

fn compare(
    recorded: &Recorded,
    expected: &Expected<'_>,
    signer: Signer<'_>,
) -> Result<(), BodyError> {
    if recorded.digest != expected.digest {
        return Err(BodyError::Digest);
    }
    if recorded.signature != expected.signature {
        return Err(BodyError::Signature);
    }
    let same_signer = match (&recorded.signer, signer) {
        (RecordedSigner::Certificate(der), Signer::Certificate(expected))
        | (RecordedSigner::PublicKey(der), Signer::PublicKey(expected)) => der == expected,
        _ => false,
    };
    if !same_signer {
        return Err(BodyError::Signer);
    }
    if recorded.payload_type.as_deref() != expected.payload_type {
        return Err(BodyError::PayloadType);
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

fn from_slice<T: DeserializeOwned>(json: &[u8]) -> Result<Object<T>, BodyError> {
    serde_json::from_slice(json).map_err(|error| BodyError::Json(alloc::format!("{error}")))
}

fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, BodyError> {
    serde_json::from_value::<Object<T>>(value)
        .map(|Object(value)| value)
        .map_err(|error| BodyError::Json(alloc::format!("{error}")))
}

// hashedrekord 0.0.1.

#[derive(Deserialize)]
struct HashedRekordV001 {
    data: Object<HashedRekordData>,
    signature: Object<HashedRekordSignature>,
}

#[derive(Deserialize)]
struct HashedRekordData {
    hash: Object<HexHash>,
}

/// Rekor v1's `{algorithm: "sha256", value: <hex>}`.
#[derive(Deserialize)]
struct HexHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashedRekordSignature {
    content: String,
    public_key: Object<PemContent>,
}

#[derive(Deserialize)]
struct PemContent {
    content: String,
}

fn hashedrekord_v001(spec: serde_json::Value) -> Result<Recorded, BodyError> {
    let spec: HashedRekordV001 = from_value(spec)?;
    let Object(signature) = spec.signature;
    Ok(Recorded {
        digest: hex_hash(&spec.data.0.hash.0)?,
        signature: base64("signature.content", &signature.content)?,
        signer: pem_signer(&signature.public_key.0.content)?,
        payload_type: None,
    })
}

// hashedrekord 0.0.2 (Rekor v2).

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashedRekordV002Spec {
    hashed_rekord_v002: Object<HashedRekordV002>,
}

#[derive(Deserialize)]
struct HashedRekordV002 {
    data: Object<HashOutput>,
    signature: Object<V2Signature>,
}

/// Rekor v2's protobuf `HashOutput`: `{algorithm: "SHA2_256", digest: <base64>}`.
#[derive(Deserialize)]
struct HashOutput {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
struct V2Signature {
    content: String,
    verifier: Object<V2Verifier>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V2Verifier {
    public_key: Option<Object<RawBytes>>,
    x509_certificate: Option<Object<RawBytes>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

fn hashedrekord_v002(spec: serde_json::Value) -> Result<Recorded, BodyError> {
    let spec: HashedRekordV002Spec = from_value(spec)?;
    let Object(entry) = spec.hashed_rekord_v002;
    let Object(signature) = entry.signature;
    Ok(Recorded {
        digest: output_hash(&entry.data.0)?,
        signature: base64("signature.content", &signature.content)?,
        signer: v2_signer(signature.verifier.0)?,
        payload_type: None,
    })
}

// dsse 0.0.1 and 0.0.2.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV001 {
    payload_hash: Object<HexHash>,
    signatures: Vec<Object<DsseV001Signature>>,
}

#[derive(Deserialize)]
struct DsseV001Signature {
    signature: String,
    verifier: String,
}

fn dsse_v001(spec: serde_json::Value) -> Result<Recorded, BodyError> {
    let spec: DsseV001 = from_value(spec)?;
    let Object(signature) = one(spec.signatures)?;
    Ok(Recorded {
        digest: hex_hash(&spec.payload_hash.0)?,
        signature: base64("signatures[].signature", &signature.signature)?,
        signer: pem_signer(&signature.verifier)?,
        payload_type: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV002Spec {
    dsse_v002: Object<DsseV002>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV002 {
    payload_hash: Object<HashOutput>,
    signatures: Vec<Object<V2Signature>>,
}

fn dsse_v002(spec: serde_json::Value) -> Result<Recorded, BodyError> {
    let spec: DsseV002Spec = from_value(spec)?;
    let Object(entry) = spec.dsse_v002;
    let Object(signature) = one(entry.signatures)?;
    Ok(Recorded {
        digest: output_hash(&entry.payload_hash.0)?,
        signature: base64("signatures[].content", &signature.content)?,
        signer: v2_signer(signature.verifier.0)?,
        payload_type: None,
    })
}

// intoto 0.0.2.

#[derive(Deserialize)]
struct IntotoV002 {
    content: Object<IntotoContent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoContent {
    envelope: Object<IntotoEnvelope>,
    payload_hash: Object<HexHash>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoEnvelope {
    payload_type: String,
    signatures: Vec<Object<IntotoSignature>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoSignature {
    sig: String,
    public_key: String,
}

fn intoto_v002(spec: serde_json::Value) -> Result<Recorded, BodyError> {
    let spec: IntotoV002 = from_value(spec)?;
    let Object(content) = spec.content;
    let Object(envelope) = content.envelope;
    let Object(signature) = one(envelope.signatures)?;
    // Rekor stores the envelope's base64 signature text, base64-encoded again. Anything else
    // recorded there is not the base64 of a signature, so it cannot be the bundle's.
    let sig_text = base64("envelope.signatures[].sig", &signature.sig)?;
    let recorded_signature = STANDARD
        .decode(&sig_text)
        .map_err(|_| BodyError::Signature)?;
    Ok(Recorded {
        digest: hex_hash(&content.payload_hash.0)?,
        signature: recorded_signature,
        signer: pem_signer(&signature.public_key)?,
        payload_type: Some(envelope.payload_type),
    })
}

// Shared field readers.

fn one<T>(items: Vec<T>) -> Result<T, BodyError> {
    let [item] = <[T; 1]>::try_from(items).map_err(|items| BodyError::Signatures(items.len()))?;
    Ok(item)
}

fn hex_hash(hash: &HexHash) -> Result<[u8; 32], BodyError> {
    if hash.algorithm != "sha256" {
        return Err(BodyError::Algorithm(hash.algorithm.clone()));
    }
    hex32(&hash.value).ok_or(BodyError::Encoding("hash value"))
}

fn output_hash(hash: &HashOutput) -> Result<[u8; 32], BodyError> {
    if hash.algorithm != crate::sigstore::bundle::SHA2_256 {
        return Err(BodyError::Algorithm(hash.algorithm.clone()));
    }
    <[u8; 32]>::try_from(base64("digest", &hash.digest)?).map_err(|_| BodyError::Encoding("digest"))
}

fn base64(field: &'static str, text: &str) -> Result<Vec<u8>, BodyError> {
    STANDARD
        .decode(text)
        .map_err(|_| BodyError::Encoding(field))
}

/// Rekor v1's verifiers: base64 of a PEM `CERTIFICATE` or `PUBLIC KEY`.
fn pem_signer(encoded: &str) -> Result<RecordedSigner, BodyError> {
    let text = base64("verifier", encoded)?;
    let text = core::str::from_utf8(&text).map_err(|_| BodyError::Encoding("verifier"))?;
    let block = pem::decode_first(text).ok_or(BodyError::Encoding("verifier"))?;
    match block.label.as_str() {
        "CERTIFICATE" => Ok(RecordedSigner::Certificate(block.der)),
        "PUBLIC KEY" => Ok(RecordedSigner::PublicKey(block.der)),
        _ => Err(BodyError::Encoding("verifier")),
    }
}

/// Rekor v2's verifiers: exactly one of a DER certificate and a DER public key.
fn v2_signer(verifier: V2Verifier) -> Result<RecordedSigner, BodyError> {
    match (verifier.x509_certificate, verifier.public_key) {
        (Some(Object(cert)), None) => Ok(RecordedSigner::Certificate(base64(
            "verifier.x509Certificate.rawBytes",
            &cert.raw_bytes,
        )?)),
        (None, Some(Object(key))) => Ok(RecordedSigner::PublicKey(base64(
            "verifier.publicKey.rawBytes",
            &key.raw_bytes,
        )?)),
        _ => Err(BodyError::Encoding("verifier")),
    }
}
