//! RFC 6902 JSON Patch `replace` operations that pin images, base64 encoded for the
//! AdmissionResponse.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use serde_json::json;

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

/// The patch document as JSON.
pub fn to_json(ops: &[Replace]) -> Vec<u8> {
    let ops: Vec<_> = ops
        .iter()
        .map(|op| json!({"op": "replace", "path": op.path, "value": op.value}))
        .collect();
    // Serialising a Value made of strings cannot fail.
    serde_json::to_vec(&ops).unwrap_or_default()
}

/// The patch document as the base64 the AdmissionResponse carries.
pub fn encode(ops: &[Replace]) -> String {
    base64::engine::general_purpose::STANDARD.encode(to_json(ops))
}
