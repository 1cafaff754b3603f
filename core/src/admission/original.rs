//! The `portieris.cloud.ibm.com/original-images` annotation: a JSON map from the pointer of
//! each `image` field that tag-preserving mutation rewrote to the image as it was written, so
//! that GitOps tools can tell what was asked for. It sits on the object admitted (for a
//! Deployment, on the Deployment), next to the pointers it names.

use alloc::collections::BTreeMap;
use alloc::string::String;

use serde_json::Value;

use super::ContainerSite;
use super::patch::{Annotate, Annotations};
use crate::reference::ImageRef;

/// The annotation key. Portieris' API group, so it is plainly portieris' own.
pub const ORIGINAL_IMAGES: &str = "portieris.cloud.ibm.com/original-images";

/// What the object already records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalImages {
    /// How far `metadata.annotations` exists.
    pub at: Annotations,
    /// The annotation's value, when the object has it.
    pub value: Option<String>,
}

/// Reads the annotation from an object's `metadata`.
pub(super) fn read(metadata: Option<&Value>) -> OriginalImages {
    let Some(metadata) = metadata.filter(|m| m.is_object()) else {
        return OriginalImages::default();
    };
    match metadata.get("annotations").and_then(Value::as_object) {
        Some(map) => OriginalImages {
            at: Annotations::Map,
            value: map
                .get(ORIGINAL_IMAGES)
                .and_then(Value::as_str)
                .map(String::from),
        },
        None => OriginalImages {
            at: Annotations::NoMap,
            value: None,
        },
    }
}

/// The annotation once `rewritten` (pointer → image as written) is recorded: what the object
/// already records for images still derived from it, overridden by the new rewrites. `None`
/// when that is what the object already has, so re-admitting a mutated object changes nothing,
/// and `None` when nothing is rewritten: a request that pins nothing (`mutateImage: false`, an
/// empty policy) must carry no patch at all, not even one tidying a stale annotation.
pub fn record(
    recorded: &OriginalImages,
    sites: &[ContainerSite],
    rewritten: BTreeMap<String, String>,
) -> Option<Annotate> {
    if rewritten.is_empty() {
        return None;
    }
    let before = recorded.value.as_deref().map(parse);
    let unreadable = matches!(before, Some(None));
    let before = before.flatten().unwrap_or_default();
    let mut after: BTreeMap<String, String> = before
        .iter()
        .filter(|(pointer, original)| still_derived(sites, pointer, original))
        .map(|(p, o)| (p.clone(), o.clone()))
        .collect();
    after.extend(rewritten);
    let unchanged = recorded.value.is_some() && !unreadable && after == before;
    if unchanged || (recorded.value.is_none() && after.is_empty()) {
        return None;
    }
    Some(Annotate {
        at: recorded.at,
        key: ORIGINAL_IMAGES.into(),
        // Serialising a map of strings cannot fail.
        value: serde_json::to_string(&after).unwrap_or_default(),
    })
}

/// A JSON object of strings, or `None` when the value is anything else.
fn parse(value: &str) -> Option<BTreeMap<String, String>> {
    serde_json::from_str(value).ok()
}

/// Whether the image at `pointer` is still the repository `original` named: an entry for a
/// container that is gone, or now runs another repository, no longer says anything true.
fn still_derived(sites: &[ContainerSite], pointer: &str, original: &str) -> bool {
    let name = |image: &str| ImageRef::parse(image).ok().map(|r| r.name());
    sites
        .iter()
        .find(|s| s.pointer == pointer)
        .is_some_and(|site| name(&site.image).is_some() && name(&site.image) == name(original))
}
