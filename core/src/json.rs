//! JSON reading shared by the parsers of network bytes.

use core::fmt;
use core::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A struct read from a JSON object only. serde's derived `Deserialize` also reads a struct
/// from an array of its fields in order (`[2, "atomic", "…"]`); Go's decoder, which wrote
/// what is read here, refuses that, and so must a reader that is to agree with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(Fields(PhantomData))
            .map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Entry {
        version: u64,
        kind: String,
    }

    #[test]
    fn a_struct_is_read_from_an_object_and_not_from_an_array() {
        let object = serde_json::from_str::<Object<Entry>>(r#"{"kind":"a","version":2,"x":[]}"#);
        assert_eq!(
            object.ok().map(|o| o.0),
            Some(Entry {
                version: 2,
                kind: "a".into()
            })
        );
        assert!(
            serde_json::from_str::<Entry>(r#"[2,"a"]"#).is_ok(),
            "serde's derive"
        );
        assert!(serde_json::from_str::<Object<Entry>>(r#"[2,"a"]"#).is_err());
        let duplicate = r#"{"kind":"a","version":2,"version":3}"#;
        assert!(serde_json::from_str::<Object<Entry>>(duplicate).is_err());
        assert!(serde_json::from_str::<Object<Entry>>(r#"{"kind":"a"}"#).is_err());
    }
}
