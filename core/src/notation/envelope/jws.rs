//! The JWS envelope: the flattened JSON serialization (`payload`, `protected`, `header`,
//! `signature`), signed over `protected "." payload` as received.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{
    AUTHENTIC_SIGNING_TIME, Algorithm, EXPIRY, EnvelopeError, Parsed, Protected, SIGNING_SCHEME,
    SIGNING_TIME, TIMESTAMP_SIGNATURE, check_chain_length,
};
use crate::json::Object;
use crate::time::{UnixTime, parse_rfc3339};

/// The envelope. The specification allows no other top-level member: one that is there may
/// be read differently elsewhere (a `signatures` list), so it is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    payload: String,
    protected: String,
    header: Object<Unprotected>,
    signature: String,
}

/// The unprotected header. Other members are ignored, as notation ignores them.
#[derive(Deserialize)]
struct Unprotected {
    /// Standard base64 DER, leaf first; absent reads as empty (refused as no certificate).
    #[serde(default)]
    x5c: Vec<String>,
    #[serde(rename = "io.cncf.notary.timestampSignature", default)]
    timestamp: Option<String>,
    #[serde(rename = "io.cncf.notary.signingAgent", default)]
    signing_agent: Option<String>,
}

/// Reads a JWS envelope; verifies nothing.
pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, EnvelopeError> {
    let Object(wire) = serde_json::from_slice::<Object<Wire>>(bytes)
        .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let Object(header) = wire.header;
    let protected_json = URL_SAFE_NO_PAD
        .decode(&wire.protected)
        .map_err(|_| EnvelopeError::Base64("protected"))?;
    let protected = read_protected(&protected_json)?;
    let payload = URL_SAFE_NO_PAD
        .decode(&wire.payload)
        .map_err(|_| EnvelopeError::Base64("payload"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(&wire.signature)
        .map_err(|_| EnvelopeError::Base64("signature"))?;
    check_chain_length(header.x5c.len())?;
    let chain = header
        .x5c
        .iter()
        .map(|der| {
            STANDARD
                .decode(der)
                .map_err(|_| EnvelopeError::Base64("x5c"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let timestamp = header
        .timestamp
        .map(|token| STANDARD.decode(token))
        .transpose()
        .map_err(|_| EnvelopeError::Base64(TIMESTAMP_SIGNATURE))?;
    let signing_input = [wire.protected.as_bytes(), b".", wire.payload.as_bytes()].concat();
    Ok(Parsed {
        protected,
        signing_input,
        payload,
        signature,
        chain,
        timestamp,
        signing_agent: header.signing_agent,
    })
}

/// The protected header's members, typed where the specification names them.
fn read_protected(json: &[u8]) -> Result<Protected, EnvelopeError> {
    let Members(members) = serde_json::from_slice(json)
        .map_err(|e| EnvelopeError::Malformed(format!("protected header: {e}")))?;
    let mut protected = Protected::default();
    for (name, value) in members {
        match name.as_str() {
            "alg" => protected.algorithm = Some(algorithm(&value)?),
            "cty" => protected.content_type = Some(text(&value, "cty")?),
            "crit" => protected.critical = critical(&value)?,
            SIGNING_SCHEME => protected.signing_scheme = Some(text(&value, SIGNING_SCHEME)?),
            SIGNING_TIME => protected.signing_time = Some(time(&value, SIGNING_TIME)?),
            AUTHENTIC_SIGNING_TIME => {
                protected.authentic_signing_time = Some(time(&value, AUTHENTIC_SIGNING_TIME)?);
            }
            EXPIRY => protected.expiry = Some(time(&value, EXPIRY)?),
            _ => protected.extended_header(name, value.as_str()),
        }
    }
    Ok(protected)
}

fn algorithm(value: &Value) -> Result<Algorithm, EnvelopeError> {
    match value.as_str() {
        Some("PS256") => Ok(Algorithm::Ps256),
        Some("PS384") => Ok(Algorithm::Ps384),
        Some("PS512") => Ok(Algorithm::Ps512),
        Some("ES256") => Ok(Algorithm::Es256),
        Some("ES384") => Ok(Algorithm::Es384),
        Some("ES512") => Ok(Algorithm::Es512),
        Some(other) => Err(EnvelopeError::UnsupportedAlgorithm(other.to_string())),
        None => Err(EnvelopeError::BadHeader("alg")),
    }
}

fn text(value: &Value, header: &'static str) -> Result<String, EnvelopeError> {
    value
        .as_str()
        .map(String::from)
        .ok_or(EnvelopeError::BadHeader(header))
}

/// An RFC 3339 time, as Go writes a `time.Time`.
fn time(value: &Value, header: &'static str) -> Result<UnixTime, EnvelopeError> {
    value
        .as_str()
        .and_then(parse_rfc3339)
        .ok_or(EnvelopeError::BadHeader(header))
}

fn critical(value: &Value) -> Result<Vec<String>, EnvelopeError> {
    let labels = value.as_array().ok_or(EnvelopeError::BadHeader("crit"))?;
    labels.iter().map(|label| text(label, "crit")).collect()
}

/// An object's members in order, a name written twice refused: the signer and this reader
/// must not see two different headers.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut seen = BTreeSet::new();
                let mut members = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if !seen.insert(name.clone()) {
                        return Err(de::Error::custom(format!("duplicate member {name:?}")));
                    }
                    members.push((name, map.next_value()?));
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}
