//! The workload kinds portieris checks, where their pod spec lives, and owner references.

use alloc::string::ToString;
use core::fmt;

use serde_json::Value;

use super::OwnerRef;

/// A kind whose objects run containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ReplicationController,
    Job,
    CronJob,
    /// Kubernetes 1.16–1.21's `pods/ephemeralcontainers` subresource (what `kubectl debug`
    /// wrote there): an `EphemeralContainers` object whose `ephemeralContainers` list sits at
    /// its root. Never an owner.
    EphemeralContainers,
}

impl WorkloadKind {
    /// The kind for an API group and kind name; old groups (`extensions`) included.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<Self> {
        let found = match kind {
            "Pod" => Self::Pod,
            "Deployment" => Self::Deployment,
            "ReplicaSet" => Self::ReplicaSet,
            "StatefulSet" => Self::StatefulSet,
            "DaemonSet" => Self::DaemonSet,
            "ReplicationController" => Self::ReplicationController,
            "Job" => Self::Job,
            "CronJob" => Self::CronJob,
            "EphemeralContainers" => Self::EphemeralContainers,
            _ => return None,
        };
        (found.groups().contains(&group)).then_some(found)
    }

    /// API groups that serve this kind (current and deprecated).
    fn groups(self) -> &'static [&'static str] {
        match self {
            Self::Pod | Self::ReplicationController | Self::EphemeralContainers => &[""],
            Self::Deployment | Self::ReplicaSet | Self::DaemonSet => &["apps", "extensions"],
            Self::StatefulSet => &["apps"],
            Self::Job | Self::CronJob => &["batch"],
        }
    }

    /// Whether objects of this kind own others (so an owner reference may name it).
    pub fn can_own(self) -> bool {
        self != Self::EphemeralContainers
    }

    /// JSON pointer to the pod spec inside an object of this kind (the object itself for
    /// `EphemeralContainers`).
    pub fn pod_spec_pointer(self) -> &'static str {
        match self {
            Self::Pod => "/spec",
            Self::CronJob => "/spec/jobTemplate/spec/template/spec",
            Self::EphemeralContainers => "",
            _ => "/spec/template/spec",
        }
    }

    /// The kind name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::Deployment => "Deployment",
            Self::ReplicaSet => "ReplicaSet",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicationController => "ReplicationController",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::EphemeralContainers => "EphemeralContainers",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The controlling owner of an object, if it is a workload kind.
pub(super) fn controller(metadata: &Value) -> Option<OwnerRef> {
    let owners = metadata.get("ownerReferences")?.as_array()?;
    let owner = owners
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))?;
    let field = |name| owner.get(name).and_then(Value::as_str);
    let api_version = field("apiVersion")?;
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    Some(OwnerRef {
        api_version: api_version.to_string(),
        kind: WorkloadKind::from_group_kind(group, field("kind")?).filter(|k| k.can_own())?,
        name: field("name")?.to_string(),
        uid: field("uid")?.to_string(),
    })
}
