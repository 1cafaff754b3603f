//! Every container image of a workload object, with the JSON pointer of its `image` field.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;

use super::AdmissionError;
use super::WorkloadKind;
use super::patch::escape;

/// The three container lists of a pod spec, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContainerList {
    InitContainers,
    Containers,
    EphemeralContainers,
}

impl ContainerList {
    const ALL: [Self; 3] = [
        Self::InitContainers,
        Self::Containers,
        Self::EphemeralContainers,
    ];

    /// The pod spec field name.
    pub fn field(self) -> &'static str {
        match self {
            Self::InitContainers => "initContainers",
            Self::Containers => "containers",
            Self::EphemeralContainers => "ephemeralContainers",
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

/// All non-blank images of `object`. Blank images are skipped: OpenShift DeploymentConfigs
/// send them before their image triggers fill them in.
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
        for (index, container) in containers.iter().enumerate() {
            let pointer = format!("{list_pointer}/{index}/image");
            let image = match container.get("image") {
                _ if !container.is_object() => {
                    return Err(malformed(pointer, "the container is not an object"));
                }
                None | Some(Value::Null) => continue,
                Some(Value::String(image)) if image.is_empty() => continue,
                Some(Value::String(image)) => image.clone(),
                Some(_) => return Err(malformed(pointer, "the image must be a string")),
            };
            if sites.len() == max {
                return Err(AdmissionError::TooManyContainers { max });
            }
            sites.push(ContainerSite {
                list,
                index,
                pointer,
                image,
            });
        }
    }
    Ok(sites)
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
