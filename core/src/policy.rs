//! Image policies: the CRD types, the Kubernetes objects they arrive in, and resolution of the
//! one repository rule that governs an image in a namespace.
//!
//! Resolution is Portieris': if the namespace has any `ImagePolicy`, only its ImagePolicies
//! count; otherwise the `ClusterImagePolicy` objects do; with neither the image is denied. All
//! repositories of all objects in scope are one candidate set, walked in (object name, list
//! position) order. An exact name wins; otherwise the wildcard with the most non-`*`
//! characters; ties go to the first. Patterns are anchored and normalised (see [`pattern`]).

mod index;
pub mod pattern;
mod resource;
pub mod secrets;
mod types;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use pattern::{Pattern, PatternError};
pub use resource::{Resource, ResourceError, Secret};
pub use types::{
    Attestation, Cosign, CosignFormat, CosignRequirement, Iccrva, Keyless, KeylessIdentity,
    Notation, NotationSource, NotationTrustStore, Policy, PolicySpec, RemapIdentity, Repository,
    Requirement, SignedIdentity, SignerSecret, Simple, Trust, Vulnerability,
};
pub use types::{Enforcement, Mutation};

use self::index::Index;
use crate::reference::ImageRef;

pub use crate::limits::MAX_SCOPE_REPOSITORIES;

/// The two policy kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PolicyKind {
    ImagePolicy,
    ClusterImagePolicy,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ImagePolicy => "ImagePolicy",
            Self::ClusterImagePolicy => "ClusterImagePolicy",
        })
    }
}

/// Every policy and Secret of a cluster (or a policy folder), compiled for matching.
///
/// Built whole from a snapshot and swapped atomically by the frontend; never mutated.
#[derive(Debug, Default)]
pub struct PolicySet {
    namespaces: BTreeMap<String, Scope>,
    cluster: Scope,
    secrets: BTreeMap<(String, String), Secret>,
}

/// The policies of one scope: a namespace's ImagePolicies, or the ClusterImagePolicies.
#[derive(Debug, Default)]
struct Scope {
    /// Sorted by (object name, list position).
    candidates: Vec<Candidate>,
    /// Objects that failed to parse; any of them makes the whole scope deny.
    invalid: Vec<(String, String)>,
    /// Policy objects in this scope, valid or not.
    objects: usize,
    /// Built over `candidates` once they are sorted.
    index: Index,
}

#[derive(Debug)]
struct Candidate {
    object: String,
    pattern: Pattern,
    repository: Repository,
}

/// The repository rule that governs an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    pub kind: PolicyKind,
    /// Namespace of the ImagePolicy; `None` for a ClusterImagePolicy.
    pub namespace: Option<&'a str>,
    /// Name of the policy object.
    pub object: &'a str,
    /// The `repositories[].name` that matched.
    pub repository: &'a str,
    /// Whether that name names tags (`repo:v1.*`), so the image's tag decided the match.
    pub tagged: bool,
    pub policy: &'a Policy,
}

/// Why no rule governs an image. Each is a deny.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmatched {
    /// No ImagePolicy in the namespace and no ClusterImagePolicy at all.
    NoPolicies,
    /// The namespace has no ImagePolicy and no ClusterImagePolicy repository matches.
    NoClusterMatch { namespace: String },
    /// The namespace has ImagePolicies and none of their repositories matches.
    NoNamespaceMatch { namespace: String },
    /// A policy object in scope is malformed, so the scope cannot be trusted.
    Invalid {
        kind: PolicyKind,
        object: String,
        error: String,
    },
}

impl fmt::Display for Unmatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPolicies => f.write_str("no image policies or cluster policies"),
            Self::NoClusterMatch { namespace } => write!(
                f,
                "no matching repositories in ClusterImagePolicies and no ImagePolicies in the \"{namespace}\" namespace"
            ),
            Self::NoNamespaceMatch { namespace } => {
                write!(
                    f,
                    "no matching repositories in the ImagePolicies of the \"{namespace}\" namespace"
                )
            }
            Self::Invalid {
                kind,
                object,
                error,
            } => write!(f, "{kind} \"{object}\" is invalid: {error}"),
        }
    }
}

impl PolicySet {
    /// Compiles a snapshot of policy objects and Secrets. Never fails: a malformed object is
    /// kept as invalid and denies every image of its scope.
    pub fn new(resources: impl IntoIterator<Item = Resource>) -> Self {
        let mut set = Self::default();
        for resource in resources {
            match resource {
                Resource::ImagePolicy {
                    namespace,
                    name,
                    spec,
                } => {
                    set.namespaces.entry(namespace).or_default().add(name, spec);
                }
                Resource::ClusterImagePolicy { name, spec } => set.cluster.add(name, spec),
                Resource::Secret(secret) => {
                    set.secrets
                        .insert((secret.namespace.clone(), secret.name.clone()), secret);
                }
            }
        }
        for scope in set.namespaces.values_mut().chain([&mut set.cluster]) {
            // Stable: list positions keep their order within one object.
            scope.candidates.sort_by(|a, b| a.object.cmp(&b.object));
            scope.bound();
            scope.invalid.sort();
            scope.index = Index::new(scope.candidates.iter().map(|c| &c.pattern));
        }
        set
    }

    /// The rule that governs `image` in `namespace`.
    pub fn resolve(&self, namespace: &str, image: &ImageRef) -> Result<Match<'_>, Unmatched> {
        let (kind, scope_namespace, scope) = match self.namespaces.get_key_value(namespace) {
            Some((key, scope)) => (PolicyKind::ImagePolicy, Some(key.as_str()), scope),
            None if self.cluster.objects == 0 => return Err(Unmatched::NoPolicies),
            None => (PolicyKind::ClusterImagePolicy, None, &self.cluster),
        };
        if let Some((object, error)) = scope.invalid.first() {
            return Err(Unmatched::Invalid {
                kind,
                object: object.clone(),
                error: error.clone(),
            });
        }
        let best = scope.best(image).ok_or_else(|| match kind {
            PolicyKind::ImagePolicy => Unmatched::NoNamespaceMatch {
                namespace: namespace.into(),
            },
            PolicyKind::ClusterImagePolicy => Unmatched::NoClusterMatch {
                namespace: namespace.into(),
            },
        })?;
        Ok(Match {
            kind,
            namespace: scope_namespace,
            object: &best.object,
            repository: &best.repository.name,
            tagged: best.pattern.has_tag(),
            policy: &best.repository.policy,
        })
    }

    /// How many repository rules an image in `namespace` is resolved against: a bound on the
    /// work of resolving one image there, for a frontend to decide where to do it.
    pub fn rules_in_scope(&self, namespace: &str) -> usize {
        let scope = self.namespaces.get(namespace).unwrap_or(&self.cluster);
        scope.candidates.len()
    }

    /// A Secret by namespace and name.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        self.secrets
            .get(&(String::from(namespace), String::from(name)))
    }

    /// Every invalid policy object, as (kind, namespace, name, error), for validation reports.
    pub fn problems(&self) -> impl Iterator<Item = (PolicyKind, Option<&str>, &str, &str)> {
        let namespaced = self.namespaces.iter().flat_map(|(ns, scope)| {
            scope.invalid.iter().map(move |(o, e)| {
                (
                    PolicyKind::ImagePolicy,
                    Some(ns.as_str()),
                    o.as_str(),
                    e.as_str(),
                )
            })
        });
        let cluster = self
            .cluster
            .invalid
            .iter()
            .map(|(o, e)| (PolicyKind::ClusterImagePolicy, None, o.as_str(), e.as_str()));
        namespaced.chain(cluster)
    }

    /// Every repository rule, as (kind, namespace, object, repository), for validation.
    pub fn rules(&self) -> impl Iterator<Item = (PolicyKind, Option<&str>, &str, &Repository)> {
        let namespaced = self.namespaces.iter().flat_map(|(ns, scope)| {
            scope.candidates.iter().map(move |c| {
                (
                    PolicyKind::ImagePolicy,
                    Some(ns.as_str()),
                    c.object.as_str(),
                    &c.repository,
                )
            })
        });
        let cluster = self.cluster.candidates.iter().map(|c| {
            (
                PolicyKind::ClusterImagePolicy,
                None,
                c.object.as_str(),
                &c.repository,
            )
        });
        namespaced.chain(cluster)
    }
}

impl Scope {
    fn add(&mut self, object: String, spec: Result<PolicySpec, String>) {
        // Counted even when it has no repositories: it still puts its scope in force.
        self.objects += 1;
        let spec = match spec {
            Ok(spec) => spec,
            Err(error) => return self.invalid.push((object, error)),
        };
        let mut compiled = Vec::with_capacity(spec.repositories.len());
        for (i, repository) in spec.repositories.into_iter().enumerate() {
            match Pattern::parse(&repository.name) {
                Ok(pattern) => compiled.push(Candidate {
                    object: object.clone(),
                    pattern,
                    repository,
                }),
                Err(e) => {
                    let error =
                        alloc::format!("repositories[{i}].name \"{}\": {e}", repository.name);
                    return self.invalid.push((object, error));
                }
            }
        }
        self.candidates.extend(compiled);
    }

    /// Past [`MAX_SCOPE_REPOSITORIES`] the object holding the first rule too many is invalid,
    /// so the scope denies: resolving an image costs at most that many matches.
    fn bound(&mut self) {
        let Some(over) = self.candidates.get(MAX_SCOPE_REPOSITORIES) else {
            return;
        };
        let error = alloc::format!(
            "the {} repository rules in force together are more than {MAX_SCOPE_REPOSITORIES}; \
             merge rules with wildcards",
            self.candidates.len()
        );
        self.invalid.push((over.object.clone(), error));
    }

    /// Exact beats wildcard; then most specific; ties keep the first in order.
    fn best(&self, image: &ImageRef) -> Option<&Candidate> {
        self.index.best(&self.candidates, image)
    }
}

#[cfg(test)]
mod tests;
