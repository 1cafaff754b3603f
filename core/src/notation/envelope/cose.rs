//! The COSE envelope: a tagged COSE_Sign1 (tag 18), signed over the Sig_structure
//! `["Signature1", protected bstr as received, h'', payload]`.

use alloc::string::{String, ToString as _};
use alloc::vec::Vec;

use coset::cbor::value::Value;
use coset::iana::EnumI64 as _;
use coset::{CoseSign1, Header, Label, RegisteredLabel, RegisteredLabelWithPrivate};
use coset::{TaggedCborSerializable as _, iana};

use super::{
    AUTHENTIC_SIGNING_TIME, Algorithm, EXPIRY, EnvelopeError, Parsed, Protected, SIGNING_AGENT,
    SIGNING_SCHEME, SIGNING_TIME, TIMESTAMP_SIGNATURE, check_chain_length,
};
use crate::time::UnixTime;

/// The x5chain header's label (RFC 9360).
const X5CHAIN: i64 = 33;
/// CBOR tag of an epoch-based date/time.
const EPOCH_TIME_TAG: u64 = 1;

/// Reads a COSE envelope; verifies nothing.
pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, EnvelopeError> {
    let sign1 =
        CoseSign1::from_tagged_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let protected = read_protected(&sign1.protected.header)?;
    // coset builds the Sig_structure from the protected header's bytes as received.
    let signing_input = sign1.tbs_data(&[]);
    let payload = sign1.payload.ok_or(EnvelopeError::DetachedPayload)?;
    let mut parsed = Parsed {
        protected,
        signing_input,
        payload,
        signature: sign1.signature,
        chain: Vec::new(),
        timestamp: None,
        signing_agent: None,
    };
    read_unprotected(sign1.unprotected, &mut parsed)?;
    Ok(parsed)
}

fn read_protected(header: &Header) -> Result<Protected, EnvelopeError> {
    let mut protected = Protected {
        algorithm: header.alg.as_ref().map(algorithm).transpose()?,
        content_type: header.content_type.as_ref().map(content_type),
        critical: header.crit.iter().map(label_text).collect(),
        ..Protected::default()
    };
    for (label, value) in &header.rest {
        let name = match label {
            Label::Text(name) => name.as_str(),
            Label::Int(number) => {
                protected.extended_header(number.to_string(), None);
                continue;
            }
        };
        match name {
            SIGNING_SCHEME => protected.signing_scheme = Some(text(value, SIGNING_SCHEME)?),
            SIGNING_TIME => protected.signing_time = Some(time(value, SIGNING_TIME)?),
            AUTHENTIC_SIGNING_TIME => {
                protected.authentic_signing_time = Some(time(value, AUTHENTIC_SIGNING_TIME)?);
            }
            EXPIRY => protected.expiry = Some(time(value, EXPIRY)?),
            _ => protected.extended_header(name.to_string(), value.as_text()),
        }
    }
    Ok(protected)
}

/// x5chain, the signing agent and the timestamp; other headers are ignored, as notation
/// ignores them.
fn read_unprotected(header: Header, parsed: &mut Parsed) -> Result<(), EnvelopeError> {
    for (label, value) in header.rest {
        match label {
            Label::Int(X5CHAIN) => parsed.chain = chain(value)?,
            Label::Text(name) if name == SIGNING_AGENT => {
                parsed.signing_agent = Some(text(&value, SIGNING_AGENT)?);
            }
            Label::Text(name) if name == TIMESTAMP_SIGNATURE => {
                let Value::Bytes(token) = value else {
                    return Err(EnvelopeError::BadHeader(TIMESTAMP_SIGNATURE));
                };
                parsed.timestamp = Some(token);
            }
            _ => {}
        }
    }
    Ok(())
}

/// An array of DER certificates, as notation writes it (not a lone bstr).
fn chain(value: Value) -> Result<Vec<Vec<u8>>, EnvelopeError> {
    let Value::Array(items) = value else {
        return Err(EnvelopeError::BadHeader("x5chain"));
    };
    check_chain_length(items.len())?;
    items
        .into_iter()
        .map(|item| match item {
            Value::Bytes(der) => Ok(der),
            _ => Err(EnvelopeError::BadHeader("x5chain")),
        })
        .collect()
}

fn algorithm(
    label: &RegisteredLabelWithPrivate<iana::Algorithm>,
) -> Result<Algorithm, EnvelopeError> {
    match label {
        RegisteredLabelWithPrivate::Assigned(iana::Algorithm::PS256) => Ok(Algorithm::Ps256),
        RegisteredLabelWithPrivate::Assigned(iana::Algorithm::PS384) => Ok(Algorithm::Ps384),
        RegisteredLabelWithPrivate::Assigned(iana::Algorithm::PS512) => Ok(Algorithm::Ps512),
        RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256) => Ok(Algorithm::Es256),
        RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384) => Ok(Algorithm::Es384),
        RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES512) => Ok(Algorithm::Es512),
        other => Err(EnvelopeError::UnsupportedAlgorithm(label_text(other))),
    }
}

fn content_type(label: &RegisteredLabel<iana::CoapContentFormat>) -> String {
    match label {
        RegisteredLabel::Text(text) => text.clone(),
        RegisteredLabel::Assigned(format) => format.to_i64().to_string(),
    }
}

/// A label as text: a name as it is, a number in decimal.
fn label_text<T: coset::iana::EnumI64 + coset::iana::WithPrivateRange>(
    label: &RegisteredLabelWithPrivate<T>,
) -> String {
    match label {
        RegisteredLabelWithPrivate::Text(text) => text.clone(),
        RegisteredLabelWithPrivate::Assigned(known) => known.to_i64().to_string(),
        RegisteredLabelWithPrivate::PrivateUse(number) => number.to_string(),
    }
}

fn text(value: &Value, header: &'static str) -> Result<String, EnvelopeError> {
    value
        .as_text()
        .map(String::from)
        .ok_or(EnvelopeError::BadHeader(header))
}

/// A tag-1 epoch time (notation refuses an untagged one); a fraction is dropped.
fn time(value: &Value, header: &'static str) -> Result<UnixTime, EnvelopeError> {
    let bad = EnvelopeError::BadHeader(header);
    let Value::Tag(EPOCH_TIME_TAG, inner) = value else {
        return Err(bad);
    };
    match inner.as_ref() {
        Value::Integer(seconds) => u64::try_from(*seconds).map(UnixTime).map_err(|_| bad),
        // Under 2^64 so the cast cannot saturate; NaN and infinities fail the range test.
        Value::Float(seconds) if (0.0..18_446_744_073_709_551_616.0).contains(seconds) => {
            Ok(UnixTime(*seconds as u64))
        }
        _ => Err(bad),
    }
}
