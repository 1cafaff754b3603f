//! RFC 6902 JSON Patch: `replace` operations that pin images, and the `add` that records the
//! original images in an annotation; base64 encoded for the AdmissionResponse.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use serde_json::{Value, json};

/// Replace the string at `path` (an RFC 6901 pointer) with `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    pub path: String,
    pub value: String,
}

/// Escapes one RFC 6901 reference token: `~` is `~0` and `/` is `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Sets annotation `key` to `value` on the object, creating `metadata` and
/// `metadata.annotations` when the object lacks them (an `add` into a missing parent fails).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotate {
    /// What the object has now; decides which member the `add` creates.
    pub at: Annotations,
    pub key: String,
    pub value: String,
}

/// How far the object's `metadata.annotations` exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Annotations {
    /// The object has no `metadata` object.
    #[default]
    NoMetadata,
    /// `metadata` has no `annotations` map (or a null one).
    NoMap,
    /// `metadata.annotations` is a map.
    Map,
}

impl Annotate {
    fn op(&self) -> Value {
        match self.at {
            Annotations::NoMetadata => {
                json!({"op": "add", "path": "/metadata", "value": {"annotations": {&self.key: &self.value}}})
            }
            Annotations::NoMap => {
                json!({"op": "add", "path": "/metadata/annotations", "value": {&self.key: &self.value}})
            }
            Annotations::Map => {
                let path = format!("/metadata/annotations/{}", escape(&self.key));
                json!({"op": "add", "path": path, "value": &self.value})
            }
        }
    }
}

/// The patch document as JSON.
pub fn to_json(ops: &[Replace]) -> Vec<u8> {
    document(ops, None)
}

/// The patch document with the pins, then the annotation if any.
pub fn document(ops: &[Replace], annotate: Option<&Annotate>) -> Vec<u8> {
    let ops: Vec<Value> = ops
        .iter()
        .map(|op| json!({"op": "replace", "path": op.path, "value": op.value}))
        .chain(annotate.map(Annotate::op))
        .collect();
    // Serialising a Value made of strings cannot fail.
    serde_json::to_vec(&ops).unwrap_or_default()
}

/// The patch document as the base64 the AdmissionResponse carries.
pub fn encode(ops: &[Replace]) -> String {
    encode_document(ops, None)
}

/// [`document`] as the base64 the AdmissionResponse carries.
pub fn encode_document(ops: &[Replace], annotate: Option<&Annotate>) -> String {
    base64::engine::general_purpose::STANDARD.encode(document(ops, annotate))
}
