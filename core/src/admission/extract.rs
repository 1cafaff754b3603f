//! Every container image of a workload object, with the JSON pointer of its `image` field.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;

use super::AdmissionError;
use super::WorkloadKind;
use super::patch::escape;

/// The lists of a pod spec that name images, in the order they are checked: the three
/// container lists, then the volumes (a Kubernetes `image` volume pulls an image onto the
/// node as surely as a container does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContainerList {
    InitContainers,
    Containers,
    EphemeralContainers,
    /// `volumes[].image.reference` (ImageVolume, Kubernetes 1.31+).
    ImageVolumes,
}

impl ContainerList {
    /// Every list, in the order images are reported.
    pub const ALL: [Self; 4] = [
        Self::InitContainers,
        Self::Containers,
        Self::EphemeralContainers,
        Self::ImageVolumes,
    ];

    /// The pod spec field name.
    pub fn field(self) -> &'static str {
        match self {
            Self::InitContainers => "initContainers",
            Self::Containers => "containers",
            Self::EphemeralContainers => "ephemeralContainers",
            Self::ImageVolumes => "volumes",
        }
    }

    fn not_an_object(self) -> &'static str {
        match self {
            Self::ImageVolumes => "the volume is not an object",
            _ => "the container is not an object",
        }
    }

    /// Where an item of this list keeps its image, below the item: `/image` for a container,
    /// `/image/reference` for a volume.
    pub fn image_pointer(self) -> &'static str {
        match self {
            Self::ImageVolumes => "/image/reference",
            _ => "/image",
        }
    }
}

/// One container's image and where it is in the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSite {
    pub list: ContainerList,
    pub index: usize,
    /// RFC 6901 pointer to the `image` field, e.g. `/spec/template/spec/containers/0/image`.
    pub pointer: String,
    pub image: String,
}

/// All non-blank images of `object`: containers' and image volumes'. Blank images are skipped:
/// OpenShift DeploymentConfigs send them before their image triggers fill them in.
pub(super) fn sites(
    kind: WorkloadKind,
    object: &Value,
    max: usize,
) -> Result<Vec<ContainerSite>, AdmissionError> {
    let prefix = kind.pod_spec_pointer();
    let malformed = |pointer: String, problem| AdmissionError::Malformed { pointer, problem };
    let spec = object.pointer(prefix).filter(|s| s.is_object());
    let spec =
        spec.ok_or_else(|| malformed(prefix.into(), "the pod spec is missing or not an object"))?;
    let mut sites = Vec::new();
    let list_pointer = |list: ContainerList| format!("{prefix}/{}", escape(list.field()));
    for list in ContainerList::ALL {
        let containers = match spec.get(list.field()) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(containers)) => containers,
            Some(_) => return Err(malformed(list_pointer(list), "must be a list")),
        };
        // Built only for the lists an object has: most Pods have one of the three.
        let list_pointer = list_pointer(list);
        for (index, item) in containers.iter().enumerate() {
            let pointer = format!("{list_pointer}/{index}{}", list.image_pointer());
            if !item.is_object() {
                return Err(malformed(pointer, list.not_an_object()));
            }
            let Some(image) = image_of(list, item).map_err(|p| malformed(pointer.clone(), p))?
            else {
                continue;
            };
            if sites.len() == max {
                return Err(AdmissionError::TooManyContainers { max });
            }
            sites.push(ContainerSite {
                list,
                index,
                pointer,
                image: image.clone(),
            });
        }
    }
    Ok(sites)
}

/// The image an item names: `None` when it names none (a blank image, which OpenShift sends
/// before its triggers fill it in; a volume of another type), or what is malformed.
fn image_of(list: ContainerList, item: &Value) -> Result<Option<&String>, &'static str> {
    let image = match list {
        ContainerList::ImageVolumes => match item.get("image") {
            None | Some(Value::Null) => return Ok(None),
            Some(source @ Value::Object(_)) => source.get("reference"),
            Some(_) => return Err("the image volume source is not an object"),
        },
        _ => item.get("image"),
    };
    match image {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(image)) if image.is_empty() => Ok(None),
        Some(Value::String(image)) => Ok(Some(image)),
        Some(_) => Err("the image must be a string"),
    }
}

/// Names in the pod spec's `imagePullSecrets`, and its `serviceAccountName`: where registry and
/// Notary credentials come from.
pub(super) fn credentials(kind: WorkloadKind, object: &Value) -> (Vec<String>, Option<String>) {
    let Some(spec) = object.pointer(kind.pod_spec_pointer()) else {
        return (Vec::new(), None);
    };
    let names = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let secrets = names
        .filter_map(|s| s.get("name").and_then(Value::as_str))
        .filter(|n| !n.is_empty());
    let account = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    (
        secrets.map(String::from).collect(),
        account.map(String::from),
    )
}
