use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::ser::{CharEscape, Formatter};
use serde_json::{Value, json};

use super::*;

/// Vectors from notary's own Go code; see `../testdata/regen.sh`.
const GO_VECTORS: &str = include_str!("../testdata/go_vectors.json");

#[test]
fn matches_docker_go_canonical_json() {
    let vectors: Value = serde_json::from_str(GO_VECTORS).expect("vectors");
    let cases = vectors["canonical_json"].as_array().expect("cases");
    assert!(cases.len() > 20);
    for case in cases {
        let input = case["input"].as_str().expect("input");
        let value: Value = serde_json::from_str(input).expect("input parses");
        let ours = canonicalize(&value);
        match case["canonical_base64"].as_str() {
            Some(expected) => {
                let expected = STANDARD.decode(expected).expect("base64");
                assert_eq!(
                    ours.as_deref().map(String::from_utf8_lossy),
                    Ok(String::from_utf8_lossy(&expected)),
                    "{input}"
                );
            }
            None => assert!(ours.is_err(), "{input}: Go refuses it"),
        }
    }
}

/// An independent canonicaliser: serde_json's compact writer over a value whose objects are
/// re-collected into `BTreeMap`s, with an escaper that writes everything but `"` and `\` raw.
fn reference(value: &Value) -> Vec<u8> {
    struct GoCanonical;
    impl Formatter for GoCanonical {
        fn write_char_escape<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            escape: CharEscape,
        ) -> std::io::Result<()> {
            let raw: &[u8] = match escape {
                CharEscape::Quote => b"\\\"",
                CharEscape::ReverseSolidus => b"\\\\",
                CharEscape::Solidus => b"/",
                CharEscape::Backspace => b"\x08",
                CharEscape::FormFeed => b"\x0c",
                CharEscape::LineFeed => b"\n",
                CharEscape::CarriageReturn => b"\r",
                CharEscape::Tab => b"\t",
                CharEscape::AsciiControl(byte) => return writer.write_all(&[byte]),
            };
            writer.write_all(raw)
        }
    }
    fn sorted(value: &Value) -> serde_json::Result<Value> {
        Ok(match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(sorted).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => {
                let map: BTreeMap<&String, Value> = map
                    .iter()
                    .map(|(k, v)| Ok((k, sorted(v)?)))
                    .collect::<serde_json::Result<_>>()?;
                serde_json::to_value(map)?
            }
            other => other.clone(),
        })
    }
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoCanonical);
    serde::Serialize::serialize(&sorted(value).expect("sorted"), &mut serializer)
        .expect("serialise");
    out
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }

    fn string(&mut self) -> String {
        const PIECES: [&str; 16] = [
            "a", "Z", "_", "\"", "\\", "/", "\n", "\u{1}", "\u{1f}", "\u{7f}", "<>&", "é",
            "\u{2028}", "\u{2029}", "😀", " ",
        ];
        (0..self.below(6))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }

    fn value(&mut self, depth: usize) -> Value {
        match self.below(if depth > 3 { 4 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.next().is_multiple_of(2)),
            2 => json!(i64::try_from(self.next() % (1 << 53)).expect("fits") - (1 << 52)),
            3 => Value::String(self.string()),
            4 | 5 => Value::Object(
                (0..self.below(5))
                    .map(|_| (self.string(), self.value(depth + 1)))
                    .collect(),
            ),
            _ => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
        }
    }
}

#[test]
fn matches_an_independent_canonicaliser_on_generated_values() {
    let mut generator = Gen(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let value = generator.value(0);
        assert_eq!(
            canonicalize(&value).expect("canonical"),
            reference(&value),
            "{value}"
        );
    }
}

#[test]
fn escapes_only_quote_and_backslash() {
    let value = json!({"s": "\"\\\n\t\u{0}<>&\u{2028}é/"});
    assert_eq!(
        canonicalize(&value).expect("canonical"),
        "{\"s\":\"\\\"\\\\\n\t\u{0}<>&\u{2028}é/\"}".as_bytes()
    );
}

#[test]
fn sorts_keys_bytewise() {
    let value = json!({"b": 1, "a": {"é": 1, "z": 2, "Z": 3}, "_": 0, "A": 0});
    assert_eq!(
        canonicalize(&value).expect("canonical"),
        "{\"A\":0,\"_\":0,\"a\":{\"Z\":3,\"z\":2,\"é\":1},\"b\":1}".as_bytes()
    );
}

#[test]
fn writes_integral_floats_as_integers() {
    let value: Value = serde_json::from_str("[1.0, 1e3, -0.0, -2.0e1]").expect("json");
    assert_eq!(canonicalize(&value).expect("canonical"), b"[1,1000,0,-20]");
}

#[test]
fn refuses_fractions_and_integers_go_would_round() {
    for text in [
        "1.5",
        "1e-3",
        "1e300",
        "9007199254740993",
        "-9007199254740993",
        "18446744073709551615",
    ] {
        let value: Value = serde_json::from_str(text).expect("json");
        assert_eq!(
            canonicalize(&value),
            Err(CanonicalJsonError::UnsupportedNumber),
            "{text}"
        );
    }
    let edge: Value = serde_json::from_str("[9007199254740992, -9007199254740992]").expect("json");
    assert_eq!(
        canonicalize(&edge).expect("canonical"),
        b"[9007199254740992,-9007199254740992]"
    );
}

#[test]
fn refuses_nesting_deeper_than_the_limit() {
    let mut value = json!(0);
    for _ in 0..MAX_JSON_DEPTH {
        value = json!([value]);
    }
    assert!(canonicalize(&value).is_ok());
    value = json!({ "a": value });
    assert_eq!(canonicalize(&value), Err(CanonicalJsonError::TooDeep));
}
