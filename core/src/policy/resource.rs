//! Kubernetes objects as they come from the API server or a policy folder: `ImagePolicy`,
//! `ClusterImagePolicy` and the `Secret`s policies refer to.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use serde::Deserialize as _;
use serde_json::Value;

use super::types::{PolicySpec, Repository};

/// The API group and version of the policy CRDs.
pub const API_VERSION: &str = "portieris.cloud.ibm.com/v1";

/// One object of a policy snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A namespaced policy; `spec` is the parse error when malformed.
    ImagePolicy {
        namespace: String,
        name: String,
        spec: Result<PolicySpec, String>,
    },
    /// A cluster-wide policy; `spec` is the parse error when malformed.
    ClusterImagePolicy {
        name: String,
        spec: Result<PolicySpec, String>,
    },
    Secret(Secret),
}

/// A Kubernetes Secret, its `data` decoded (and `stringData` merged, as the API server does).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub namespace: String,
    pub name: String,
    pub data: BTreeMap<String, Vec<u8>>,
}

impl fmt::Debug for Secret {
    // Secret values never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why an object is not a policy object or Secret at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceError {
    /// Not a JSON/YAML object with string `kind` and `apiVersion`.
    NotAnObject,
    /// A kind (or apiVersion) portieris does not read.
    UnsupportedKind { api_version: String, kind: String },
    /// `metadata.name` is missing or empty.
    MissingName { kind: String },
    /// A Secret value is not valid base64.
    InvalidSecretData { name: String, key: String },
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("not a Kubernetes object (needs apiVersion and kind)"),
            Self::UnsupportedKind { api_version, kind } => write!(
                f,
                "unsupported object {api_version} {kind} (expected {API_VERSION} ImagePolicy or ClusterImagePolicy, or v1 Secret)"
            ),
            Self::MissingName { kind } => write!(f, "{kind} has no metadata.name"),
            Self::InvalidSecretData { name, key } => {
                write!(f, "Secret \"{name}\" data.{key} is not valid base64")
            }
        }
    }
}

impl core::error::Error for ResourceError {}

impl Resource {
    /// Reads one Kubernetes object. A missing namespace means `default`, as with `kubectl apply`.
    pub fn from_value(value: &Value) -> Result<Self, ResourceError> {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(ToString::to_string);
        let (Some(api_version), Some(kind)) =
            (text(value.get("apiVersion")), text(value.get("kind")))
        else {
            return Err(ResourceError::NotAnObject);
        };
        let metadata = value.get("metadata");
        let name = text(metadata.and_then(|m| m.get("name"))).filter(|n| !n.is_empty());
        let namespace =
            text(metadata.and_then(|m| m.get("namespace"))).unwrap_or_else(|| "default".into());
        let name = || {
            name.clone()
                .ok_or_else(|| ResourceError::MissingName { kind: kind.clone() })
        };
        match (api_version.as_str(), kind.as_str()) {
            (API_VERSION, "ImagePolicy") => Ok(Self::ImagePolicy {
                namespace,
                name: name()?,
                spec: spec(value),
            }),
            (API_VERSION, "ClusterImagePolicy") => Ok(Self::ClusterImagePolicy {
                name: name()?,
                spec: spec(value),
            }),
            ("v1", "Secret") => secret(value, namespace, name()?).map(Self::Secret),
            _ => Err(ResourceError::UnsupportedKind { api_version, kind }),
        }
    }
}

/// Parses `spec` entry by entry so that an error names the repository it is in.
fn spec(object: &Value) -> Result<PolicySpec, String> {
    let Some(spec) = object.get("spec") else {
        return Err("spec is missing".into());
    };
    let Value::Object(fields) = spec else {
        return Err("spec must be an object".into());
    };
    if let Some(field) = fields.keys().find(|k| *k != "repositories") {
        return Err(format!(
            "spec: unknown field `{field}`, expected `repositories`"
        ));
    }
    let repositories = match fields.get("repositories") {
        None | Some(Value::Null) => return Ok(PolicySpec::default()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("spec.repositories must be a list".into()),
    };
    let repositories = repositories
        .iter()
        .enumerate()
        .map(|(i, item)| {
            Repository::deserialize(item).map_err(|e| {
                let name = item.get("name").and_then(Value::as_str).unwrap_or("?");
                format!("spec.repositories[{i}] (\"{name}\"): {e}")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicySpec { repositories })
}

fn secret(object: &Value, namespace: String, name: String) -> Result<Secret, ResourceError> {
    let mut data = BTreeMap::new();
    let entries = |field| {
        object
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    };
    for (key, value) in entries("data") {
        let encoded = value.as_str().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| ResourceError::InvalidSecretData {
                name: name.clone(),
                key: key.clone(),
            })?;
        data.insert(key.clone(), decoded);
    }
    for (key, value) in entries("stringData") {
        data.insert(
            key.clone(),
            value.as_str().unwrap_or_default().as_bytes().to_vec(),
        );
    }
    Ok(Secret {
        namespace,
        name,
        data,
    })
}
