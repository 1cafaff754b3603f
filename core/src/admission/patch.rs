//! RFC 6902 JSON Patch: `replace` operations that pin images, and the `add` that records the
//! original images in an annotation; base64 encoded for the AdmissionResponse.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

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

/// One patch operation as written. Fields in byte order of their names, as the `json!`
/// objects this replaces wrote them (see `response.rs`).
#[derive(Serialize)]
struct Op<'a, V> {
    op: &'static str,
    path: Cow<'a, str>,
    value: V,
}

/// The value of the annotation `add`: the string itself, or the maps it must create.
#[derive(Serialize)]
#[serde(untagged)]
enum AddValue<'a> {
    Text(&'a str),
    Map(BTreeMap<&'a str, &'a str>),
    Nested(BTreeMap<&'static str, BTreeMap<&'a str, &'a str>>),
}

impl Annotate {
    fn op(&self) -> Op<'_, AddValue<'_>> {
        let one = || BTreeMap::from([(self.key.as_str(), self.value.as_str())]);
        let (path, value) = match self.at {
            Annotations::NoMetadata => (
                Cow::Borrowed("/metadata"),
                AddValue::Nested(BTreeMap::from([("annotations", one())])),
            ),
            Annotations::NoMap => (Cow::Borrowed("/metadata/annotations"), AddValue::Map(one())),
            Annotations::Map => (
                Cow::Owned(format!("/metadata/annotations/{}", escape(&self.key))),
                AddValue::Text(&self.value),
            ),
        };
        Op {
            op: "add",
            path,
            value,
        }
    }
}

/// A document of pins then at most one annotation, serialised as one JSON array.
struct Document<'a> {
    ops: &'a [Replace],
    annotate: Option<&'a Annotate>,
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = self.ops.len() + usize::from(self.annotate.is_some());
        let mut seq = serializer.serialize_seq(Some(len))?;
        for op in self.ops {
            seq.serialize_element(&Op {
                op: "replace",
                path: Cow::Borrowed(&op.path),
                value: op.value.as_str(),
            })?;
        }
        if let Some(annotate) = self.annotate {
            seq.serialize_element(&annotate.op())?;
        }
        seq.end()
    }
}

/// The patch document as JSON.
pub fn to_json(ops: &[Replace]) -> Vec<u8> {
    document(ops, None)
}

/// The patch document with the pins, then the annotation if any.
pub fn document(ops: &[Replace], annotate: Option<&Annotate>) -> Vec<u8> {
    // Strings only: serialising cannot fail; an empty document would not parse as a patch.
    serde_json::to_vec(&Document { ops, annotate }).unwrap_or_default()
}

/// The patch document as the base64 the AdmissionResponse carries.
pub fn encode(ops: &[Replace]) -> String {
    encode_document(ops, None)
}

/// [`document`] as the base64 the AdmissionResponse carries.
pub fn encode_document(ops: &[Replace], annotate: Option<&Annotate>) -> String {
    base64::engine::general_purpose::STANDARD.encode(document(ops, annotate))
}
