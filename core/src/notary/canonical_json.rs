//! Go-style canonical JSON, the bytes Notary signs.
//!
//! Hand-written because no crate speaks Notary's dialect: notary re-parses `signed` into Go's
//! `map[string]interface{}` and encodes it with `github.com/docker/go/canonical/json`'s
//! `MarshalCanonical`, which (unlike OLPC canonical JSON, RFC 8785 or `serde_json`)
//! - sorts object keys bytewise and writes no whitespace;
//! - escapes only `"` and `\`: control characters, `<`, `>`, `&`, U+2028 and U+2029 are
//!   written raw (Go's HTML and control escaping is switched off in canonical mode);
//! - decodes every number as a float64 and writes it as an integer, refusing any that has a
//!   fraction (`1.0` and `1e3` become `1` and `1000`, `1.5` is an error).

use alloc::vec::Vec;
use core::fmt;

use serde_json::{Number, Value};

use crate::limits::MAX_JSON_DEPTH;

/// Integers beyond ±2^53 would be rounded by Go's float64 decoding, so the bytes notary
/// verifies would differ from the ones that were signed: refuse them rather than guess.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonicalJsonError {
    /// A number with a fraction, or an integer beyond ±2^53.
    UnsupportedNumber,
    /// Arrays and objects nested deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
}

impl fmt::Display for CanonicalJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedNumber => {
                f.write_str("canonical JSON allows only integers up to ±2^53")
            }
            Self::TooDeep => write!(f, "canonical JSON nested deeper than {MAX_JSON_DEPTH}"),
        }
    }
}

impl core::error::Error for CanonicalJsonError {}

/// The canonical encoding of `value`, as notary computes it before checking a signature.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, CanonicalJsonError> {
    let mut out = Vec::new();
    write_value(&mut out, value, 0)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), CanonicalJsonError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(out, number)?,
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            let depth = deeper(depth)?;
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(out, item, depth)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let depth = deeper(depth)?;
            // Sorted here rather than trusting the map: serde_json's `preserve_order` feature,
            // if anything in the build enables it, keeps insertion order.
            let mut entries: Vec<(&alloc::string::String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_value(out, item, depth)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn deeper(depth: usize) -> Result<usize, CanonicalJsonError> {
    if depth >= MAX_JSON_DEPTH {
        return Err(CanonicalJsonError::TooDeep);
    }
    Ok(depth + 1)
}

fn write_number(out: &mut Vec<u8>, number: &Number) -> Result<(), CanonicalJsonError> {
    let text = if let Some(n) = number.as_u64() {
        if n > MAX_SAFE_INTEGER {
            return Err(CanonicalJsonError::UnsupportedNumber);
        }
        alloc::format!("{n}")
    } else if let Some(n) = number.as_i64() {
        if n.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalJsonError::UnsupportedNumber);
        }
        alloc::format!("{n}")
    } else {
        float_as_integer(
            number
                .as_f64()
                .ok_or(CanonicalJsonError::UnsupportedNumber)?,
        )?
    };
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Go's canonical float encoder: integral values only, written as `int64(f)`.
fn float_as_integer(f: f64) -> Result<alloc::string::String, CanonicalJsonError> {
    const LIMIT: f64 = MAX_SAFE_INTEGER as f64;
    if !(-LIMIT..=LIMIT).contains(&f) {
        return Err(CanonicalJsonError::UnsupportedNumber);
    }
    // In range, `as` is exact for integral values; a round trip that changes the value had a
    // fraction (`f64::fract` needs std). `-0.0` becomes `0`, as `int64(-0.0)` does in Go.
    let truncated = f as i64;
    if truncated as f64 != f {
        return Err(CanonicalJsonError::UnsupportedNumber);
    }
    Ok(alloc::format!("{truncated}"))
}

/// A JSON string with only `"` and `\` escaped.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for byte in text.bytes() {
        if matches!(byte, b'"' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests;
