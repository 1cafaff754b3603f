//! Reads an AdmissionReview into a `Value` that holds only the members portieris reads.
//!
//! A review is mostly what portieris never looks at: `oldObject`, `userInfo`, `options`,
//! `managedFields`, `status`, and every container field but `image`. Building (and dropping)
//! a `Value` tree of all of it was most of the warm admission path, so those members are
//! skipped as they are read (serde's `IgnoredAny`: checked for syntax, not built).
//!
//! What is kept has the shape it has in the body: objects keep the members named below,
//! arrays keep every element (pruned alike), and a member of an unexpected type is kept as it
//! is, so the readers in `admission` see the same types, lengths and positions as in a whole
//! tree and report the same errors. `Request::from_value` on a whole tree gives the same
//! request; the tests of `admission` and the `admission` fuzz target check that.
//!
//! Skipped members are not held to `Value`'s extra limits (nesting depth 128, numbers that fit
//! an `f64`, paired UTF-16 surrogates in escapes): they are valid JSON either way, and nothing
//! reads them. Kept members are parsed exactly as `Value` parses them, but for one thing: a kept
//! member written twice in one object is refused (`Value` would keep the last), since the API
//! server never writes one twice and a reader must not pick one of two values silently.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::original::ORIGINAL_IMAGES;

/// Which members of a value to keep.
#[derive(Debug, Clone, Copy)]
enum Keep {
    /// The whole value.
    All,
    /// In an object, these members (each pruned by its own rule); in an array, each element
    /// pruned by this rule; any other value whole.
    Members(&'static [(&'static str, Keep)]),
}

const WHOLE: Keep = Keep::All;

/// How a member written twice is reported (the start of the parse error's text).
pub(super) const DUPLICATE: &str = "member";

/// A container: only its image.
const CONTAINER: Keep = Keep::Members(&[("image", WHOLE)]);

/// An image volume: only its reference.
const VOLUME: Keep = Keep::Members(&[("image", Keep::Members(&[("reference", WHOLE)]))]);

/// What `extract` reads of a pod spec.
const POD_SPEC_MEMBERS: [(&str, Keep); 6] = [
    ("initContainers", CONTAINER),
    ("containers", CONTAINER),
    ("ephemeralContainers", CONTAINER),
    ("volumes", VOLUME),
    ("imagePullSecrets", Keep::Members(&[("name", WHOLE)])),
    ("serviceAccountName", WHOLE),
];
const POD_SPEC: Keep = Keep::Members(&POD_SPEC_MEMBERS);
const POD_TEMPLATE: Keep = Keep::Members(&[("spec", POD_SPEC)]);

/// The pod spec's members and two more: a spec or an object may be a pod spec itself.
const fn pod_spec_and(extra: [(&'static str, Keep); 2]) -> [(&'static str, Keep); 8] {
    let p = POD_SPEC_MEMBERS;
    [p[0], p[1], p[2], p[3], p[4], p[5], extra[0], extra[1]]
}

/// An object's `spec`: a Pod's pod spec, a controller's `template`, a CronJob's
/// `jobTemplate`. The kind is not known while the body is read (`request.kind` may come after
/// `object`), so all three are kept; `extract` picks by kind.
const SPEC_MEMBERS: [(&str, Keep); 8] = pod_spec_and([
    ("template", POD_TEMPLATE),
    (
        "jobTemplate",
        Keep::Members(&[("spec", Keep::Members(&[("template", POD_TEMPLATE)]))]),
    ),
]);

/// The object: its metadata and spec, and the pod spec's members at its root too (the legacy
/// `EphemeralContainers` object keeps its list there).
const OBJECT_MEMBERS: [(&str, Keep); 8] = pod_spec_and([
    ("metadata", METADATA),
    ("spec", Keep::Members(&SPEC_MEMBERS)),
]);

const METADATA: Keep = Keep::Members(&[
    ("namespace", WHOLE),
    ("name", WHOLE),
    (
        "ownerReferences",
        Keep::Members(&[
            ("apiVersion", WHOLE),
            ("kind", WHOLE),
            ("name", WHOLE),
            ("uid", WHOLE),
            ("controller", WHOLE),
        ]),
    ),
    ("annotations", Keep::Members(&[(ORIGINAL_IMAGES, WHOLE)])),
]);

const REQUEST: Keep = Keep::Members(&[
    ("uid", WHOLE),
    (
        "kind",
        Keep::Members(&[("group", WHOLE), ("version", WHOLE), ("kind", WHOLE)]),
    ),
    ("operation", WHOLE),
    ("namespace", WHOLE),
    ("name", WHOLE),
    ("subResource", WHOLE),
    ("object", Keep::Members(&OBJECT_MEMBERS)),
]);

const REVIEW: Keep = Keep::Members(&[("apiVersion", WHOLE), ("kind", WHOLE), ("request", REQUEST)]);

/// The members of an AdmissionReview that `Request::from_value` reads.
pub(super) fn review(body: &str) -> serde_json::Result<Value> {
    let mut reader = serde_json::Deserializer::from_str(body);
    let value = REVIEW.deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

impl<'de> DeserializeSeed<'de> for Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self {
            Self::All => serde::Deserialize::deserialize(deserializer),
            Self::Members(members) => deserializer.deserialize_any(Pruned(members)),
        }
    }
}

/// Builds a `Value` as `Value`'s own visitor does, except for the members of objects.
struct Pruned(&'static [(&'static str, Keep)]);

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
        while let Some(element) = seq.next_element_seed(Keep::Members(self.0))? {
            elements.push(element);
        }
        Ok(Value::Array(elements))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(member) = map.next_key_seed(Member(self.0))? {
            match member {
                Some((name, keep)) => {
                    let value = map.next_value_seed(keep)?;
                    // `Value` keeps the last of two; the API server never writes two, so a
                    // body that does is refused rather than read one way of two.
                    if kept.insert(name.into(), value).is_some() {
                        return Err(de::Error::custom(format_args!(
                            "{DUPLICATE} \"{name}\" is written twice"
                        )));
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }
}

/// An object's key: the member it names, if it is one to keep. Read without copying it.
struct Member(&'static [(&'static str, Keep)]);

impl<'de> DeserializeSeed<'de> for Member {
    type Value = Option<(&'static str, Keep)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Member {
    type Value = Option<(&'static str, Keep)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|(name, _)| *name == key).copied())
    }
}
