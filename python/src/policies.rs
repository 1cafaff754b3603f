//! `portieris.Policies`: ImagePolicy, ClusterImagePolicy and Secret objects, compiled.

use std::sync::Arc;

use portieris_core::PolicySet;
use portieris_core::policy::{PolicyKind, Resource, Unmatched};
use portieris_webhook::policies::PolicyStore;
use portieris_webhook::policy_dir::{self, Document};
use pyo3::prelude::*;
use serde_json::Value;

use crate::errors::{Kind, error};
use crate::reference;

/// Largest policy text read by `Policies.from_yaml`, as for a file of a policy folder.
const MAX_POLICY_BYTES: usize = 16 * 1024 * 1024;

/// ImagePolicy, ClusterImagePolicy and Secret objects, compiled for matching and reviews.
#[pyclass(frozen, module = "portieris", name = "Policies")]
pub(crate) struct PyPolicies {
    pub(crate) store: Arc<PolicyStore>,
    /// The objects as written, for the policy dict `match` returns.
    objects: Vec<Value>,
}

/// Parses a multi-document YAML (or JSON) text into objects; every problem, one a line.
fn parse_documents(text: &str) -> Result<(Vec<Resource>, Vec<Value>), Vec<String>> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(vec![format!(
            "the policy text is larger than {MAX_POLICY_BYTES} bytes"
        )]);
    }
    let mut resources = Vec::new();
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    // The policy folder's reader: duplicate keys refused, aliases bounded.
    let stream = policy_dir::read_yaml(text);
    for Document { number, value } in stream.documents {
        match Resource::from_value(&value) {
            Ok(resource) => {
                resources.push(resource);
                objects.push(value);
            }
            Err(e) => problems.push(format!("document {number}: {e}")),
        }
    }
    if let Some((number, e)) = stream.error {
        problems.push(format!("document {number}: {e}"));
    }
    if problems.is_empty() {
        Ok((resources, objects))
    } else {
        Err(problems)
    }
}

/// The `policy` of repository `repository` in the object that matched, as written.
fn written_policy(
    objects: &[Value],
    kind: PolicyKind,
    namespace: Option<&str>,
    object: &str,
    repository: &str,
) -> Value {
    let kind = kind.to_string();
    objects
        .iter()
        .filter(|o| o["kind"].as_str() == Some(kind.as_str()))
        .filter(|o| o["metadata"]["name"].as_str() == Some(object))
        .filter(|o| {
            // An ImagePolicy without a namespace is in "default", as the core reads it.
            namespace.is_none()
                || Some(o["metadata"]["namespace"].as_str().unwrap_or("default")) == namespace
        })
        .filter_map(|o| o["spec"]["repositories"].as_array())
        .flatten()
        .find(|r| r["name"].as_str() == Some(repository))
        .map(|r| {
            r.get("policy")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()))
        })
        .unwrap_or(Value::Null)
}

#[pymethods]
impl PyPolicies {
    /// Reads ImagePolicy, ClusterImagePolicy and Secret documents from a YAML (or JSON) text.
    #[staticmethod]
    fn from_yaml(py: Python<'_>, text: &str) -> PyResult<Self> {
        let (resources, objects) = parse_documents(text).map_err(|problems| {
            error(
                py,
                Kind::Policy,
                format!("the policies have problems:\n{}", problems.join("\n")),
            )
        })?;
        let store = Arc::new(PolicyStore::new());
        store.replace(PolicySet::new(resources));
        Ok(Self { store, objects })
    }

    /// The rule that governs `image` in `namespace`: (repository name, policy JSON), or None.
    fn match_json(
        &self,
        py: Python<'_>,
        namespace: &str,
        image: &str,
    ) -> PyResult<Option<(String, String)>> {
        let image = reference::parse(py, image)?;
        let set = self.store.current();
        match set.resolve(namespace, &image) {
            Ok(found) => {
                let policy = written_policy(
                    &self.objects,
                    found.kind,
                    found.namespace,
                    found.object,
                    found.repository,
                );
                Ok(Some((found.repository.to_string(), policy.to_string())))
            }
            Err(invalid @ Unmatched::Invalid { .. }) => {
                Err(error(py, Kind::Policy, invalid.to_string()))
            }
            Err(_) => Ok(None),
        }
    }

    /// Why `image` has no rule in `namespace` (the deny message), or None when one governs it.
    fn unmatched_reason(
        &self,
        py: Python<'_>,
        namespace: &str,
        image: &str,
    ) -> PyResult<Option<String>> {
        let image = reference::parse(py, image)?;
        Ok(self
            .store
            .current()
            .resolve(namespace, &image)
            .err()
            .map(|e| e.to_string()))
    }

    /// How many objects were read (policies and Secrets).
    fn __len__(&self) -> usize {
        self.objects.len()
    }

    fn __repr__(&self) -> String {
        format!("Policies(<{} objects>)", self.objects.len())
    }
}
