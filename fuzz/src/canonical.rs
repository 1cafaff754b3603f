//! Notary's canonical JSON: `canonicalize` against an independent canonicaliser written from
//! the documented Go dialect, and idempotent through a re-parse.

use arbitrary::{Arbitrary, Unstructured};
use portieris_core::notary::canonical_json::canonicalize;
use serde_json::{Map, Number, Value};

/// Nested arrays and objects allowed (the documented bound, serde_json's own).
const MAX_DEPTH: usize = 128;
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0; // 2^53

/// A JSON value as `arbitrary` builds it, so that the fuzzer reaches every shape (deep nests,
/// huge and fractional numbers, odd strings) without having to write valid JSON.
#[derive(Debug, Arbitrary)]
pub enum Json {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Unsigned(n) => Value::Number((*n).into()),
            Self::Signed(n) => Value::Number((*n).into()),
            Self::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Text(text) => Value::String(text.clone()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// Target `canonical_json`: input starting with `{` or `[` is parsed as JSON text (the
/// committed seeds are notary's files); anything else builds a value with `arbitrary`.
pub fn run(data: &[u8]) {
    let value = match data.first() {
        Some(b'{' | b'[') => match serde_json::from_slice::<Value>(data) {
            Ok(value) => value,
            Err(_) => return,
        },
        _ => match Json::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(json) => json.to_value(),
            Err(_) => return,
        },
    };
    check(&value);
    if let Some(signed) = value.get("signed") {
        check(signed);
    }
}

/// `canonicalize` agrees with the model; its output re-parses to a value with the same
/// canonical form (unless it holds raw control characters, which Go writes and JSON refuses).
pub fn check(value: &Value) {
    let got = canonicalize(value);
    let want = model(value);
    let bytes = match (got, want) {
        (Ok(got), Some(want)) => {
            assert_eq!(
                String::from_utf8_lossy(&got),
                want,
                "canonical form differs from the model"
            );
            got
        }
        (Err(_), None) => return,
        (Ok(got), None) => panic!(
            "canonicalised to {:?}, the model refuses",
            String::from_utf8_lossy(&got)
        ),
        (Err(e), Some(want)) => panic!("refused ({e}), the model gives {want:?}"),
    };
    assert!(core::str::from_utf8(&bytes).is_ok(), "not UTF-8");
    // Raw control characters are Go's dialect, not JSON; and serde_json's parser reads at
    // most 127 nested levels while canonical JSON writes 128 (values from a parse never
    // reach 128, so verification is not affected).
    if bytes.iter().any(|&b| b < 0x20) || depth(value) >= MAX_DEPTH {
        return;
    }
    let again: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "canonical form {:?} is not JSON: {e}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let twice = canonicalize(&again).expect("a canonical form canonicalises");
    assert_eq!(
        twice, bytes,
        "canonicalise ∘ parse ∘ canonicalise is not idempotent"
    );
}

/// Nesting of arrays and objects: 0 for a scalar, 1 for `[]`.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Go's `MarshalCanonical` as documented: keys sorted bytewise, no whitespace, only `"` and
/// `\` escaped, every number read as a float64 and written as an integer — refused with a
/// fraction or beyond ±2^53 — and at most 128 nested arrays and objects.
pub fn model(value: &Value) -> Option<String> {
    let mut out = String::new();
    write(&mut out, value, 0)?;
    Some(out)
}

fn write(out: &mut String, value: &Value, enclosing: usize) -> Option<()> {
    let nested = matches!(value, Value::Array(_) | Value::Object(_));
    if nested && enclosing + 1 > MAX_DEPTH {
        return None;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)?),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item, enclosing + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, key);
                out.push(':');
                write(out, &map[key], enclosing + 1)?;
            }
            out.push('}');
        }
    }
    Some(())
}

fn number(n: &Number) -> Option<String> {
    // Integers are checked exactly: a float64 would round 2^53 + 1 into range.
    let exact: Option<i128> = n
        .as_u64()
        .map(i128::from)
        .or_else(|| n.as_i64().map(i128::from));
    if let Some(i) = exact {
        return (i.unsigned_abs() <= 1 << 53).then(|| i.to_string());
    }
    let f = n.as_f64()?;
    if !f.is_finite() || f.fract() != 0.0 || f.abs() > MAX_SAFE_INTEGER {
        return None;
    }
    Some(format!("{}", f as i64))
}

fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn nesting_bounds_of_the_parser_and_of_canonical_json() {
        // serde_json reads 127 levels, not 128; canonical JSON writes up to 128.
        assert!(serde_json::from_str::<Value>(&nested(127)).is_ok());
        assert!(serde_json::from_str::<Value>(&nested(128)).is_err());
        let mut value = Value::Array(vec![]);
        for _ in 1..MAX_DEPTH {
            value = Value::Array(vec![value]);
        }
        assert_eq!(depth(&value), 128);
        assert!(canonicalize(&value).is_ok() && model(&value).is_some());
        let deeper = Value::Array(vec![value]);
        assert!(canonicalize(&deeper).is_err() && model(&deeper).is_none());
        check(&deeper);
    }

    #[test]
    fn the_crash_found_by_the_campaign_replays_clean() {
        run(include_bytes!("../regressions/canonical_json-depth-128"));
    }
}
