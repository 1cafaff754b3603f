//! The bundle as protobuf-JSON writes it (`dev.sigstore.bundle.v1.Bundle`): camelCase names,
//! bytes as base64 text, 64-bit integers as decimal strings, fields at their default value
//! left out. Only the shape is read here; `bundle.rs` turns it into checked values.
//!
//! Every struct is read through [`Object`], so an array never stands in for an object. Unknown
//! fields are ignored, as they carry nothing that is verified.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::Visitor;
use serde::{Deserialize, Deserializer};

use crate::json::Object;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Bundle {
    pub media_type: String,
    pub verification_material: Object<VerificationMaterial>,
    pub message_signature: Option<Object<MessageSignature>>,
    pub dsse_envelope: Option<Object<Envelope>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VerificationMaterial {
    pub public_key: Option<Object<PublicKeyIdentifier>>,
    pub x509_certificate_chain: Option<Object<CertificateChain>>,
    pub certificate: Option<Object<Certificate>>,
    #[serde(default)]
    pub tlog_entries: Vec<Object<TlogEntry>>,
    pub timestamp_verification_data: Option<Object<TimestampVerificationData>>,
}

#[derive(Deserialize)]
pub(super) struct PublicKeyIdentifier {
    #[serde(default)]
    pub hint: String,
}

#[derive(Deserialize)]
pub(super) struct CertificateChain {
    #[serde(default)]
    pub certificates: Vec<Object<Certificate>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Certificate {
    #[serde(default)]
    pub raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TlogEntry {
    #[serde(default)]
    pub log_index: Int64,
    pub log_id: Object<LogId>,
    pub kind_version: Object<KindVersion>,
    #[serde(default)]
    pub integrated_time: Int64,
    pub inclusion_promise: Option<Object<InclusionPromise>>,
    pub inclusion_proof: Option<Object<InclusionProof>>,
    #[serde(default)]
    pub canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LogId {
    #[serde(default)]
    pub key_id: String,
}

#[derive(Deserialize)]
pub(super) struct KindVersion {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InclusionPromise {
    #[serde(default)]
    pub signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InclusionProof {
    #[serde(default)]
    pub log_index: Int64,
    #[serde(default)]
    pub root_hash: String,
    #[serde(default)]
    pub tree_size: Int64,
    #[serde(default)]
    pub hashes: Vec<String>,
    pub checkpoint: Option<Object<Checkpoint>>,
}

#[derive(Deserialize)]
pub(super) struct Checkpoint {
    #[serde(default)]
    pub envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TimestampVerificationData {
    #[serde(default)]
    pub rfc3161_timestamps: Vec<Object<Rfc3161Timestamp>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Rfc3161Timestamp {
    #[serde(default)]
    pub signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageSignature {
    pub message_digest: Option<Object<HashOutput>>,
    #[serde(default)]
    pub signature: String,
}

#[derive(Deserialize)]
pub(super) struct HashOutput {
    #[serde(default)]
    pub algorithm: String,
    #[serde(default)]
    pub digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope {
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub payload_type: String,
    #[serde(default)]
    pub signatures: Vec<Object<EnvelopeSignature>>,
}

#[derive(Deserialize)]
pub(super) struct EnvelopeSignature {
    #[serde(default)]
    pub sig: String,
    #[serde(default)]
    pub keyid: String,
}

/// A protobuf `int64`: protobuf-JSON writes it as a decimal string and reads a string or a
/// number. Absent means 0.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Int64(pub i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Int64Visitor;

        impl Visitor<'_> for Int64Visitor {
            type Value = Int64;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 64-bit integer, as a number or a decimal string")
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Int64, E> {
                Ok(Int64(value))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Int64, E> {
                i64::try_from(value)
                    .map(Int64)
                    .map_err(|_| E::custom("integer out of the int64 range"))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Int64, E> {
                decimal(text)
                    .map(Int64)
                    .ok_or_else(|| E::custom("not a decimal int64"))
            }
        }

        deserializer.deserialize_any(Int64Visitor)
    }
}

/// `-?[0-9]+` within the int64 range (`str::parse` would also take a leading `+`).
fn decimal(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_int64_is_read_from_a_decimal_string_or_a_number() {
        let read = |text: &str| serde_json::from_str::<Int64>(text).ok().map(|n| n.0);
        assert_eq!(read(r#""27246492""#), Some(27_246_492));
        assert_eq!(read(r#""-1""#), Some(-1));
        assert_eq!(read("42"), Some(42));
        assert_eq!(read(r#""+1""#), None);
        assert_eq!(read(r#""""#), None);
        assert_eq!(read(r#""1e3""#), None);
        assert_eq!(read(r#""9223372036854775808""#), None);
        assert_eq!(read("1.5"), None);
    }
}
