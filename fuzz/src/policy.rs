//! Policy objects: read (JSON, or YAML as the webhook's policy folder reads it), compile into a
//! `PolicySet`, resolve images; the resolution is compared with a model of the documented rules.

use portieris_core::PolicySet;
use portieris_core::policy::{Pattern, PolicyKind, PolicySpec, Repository, Resource, Unmatched};
use portieris_core::reference::ImageRef;
use serde_json::Value;

use crate::{input, model, pattern};

/// At most this many (namespace, image) queries per input, to keep executions fast.
const MAX_QUERIES: usize = 256;

/// Target `policy`: policy documents, then after a NUL optional `namespace image` lines.
pub fn run(data: &[u8]) {
    let (document, queries) = input::split(data);
    let Ok(text) = core::str::from_utf8(document) else {
        return;
    };
    let resources: Vec<Resource> = documents(text)
        .iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        })
        .filter_map(|value| Resource::from_value(value).ok())
        .collect();
    let set = PolicySet::new(resources.clone());
    check_listing(&resources, &set);
    let queries = String::from_utf8_lossy(queries);
    for (namespace, image) in self::queries(&resources, &queries) {
        if let Ok(image) = ImageRef::parse(&image) {
            check_resolve(&resources, &set, &namespace, &image);
        }
    }
}

/// JSON when it is JSON, else a YAML stream read as the webhook reads policy files (stopping at
/// the first document that does not parse).
pub fn documents(text: &str) -> Vec<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return vec![value];
    }
    let mut values = Vec::new();
    let mut input = text.as_bytes();
    for document in serde_saphyr::read_with_options(&mut input, yaml_options()).take(64) {
        match document {
            Ok(Value::Null) => {}
            Ok(value) => values.push(value),
            Err(_) => break,
        }
    }
    values
}

/// `yaml_options` of webhook/src/policy_dir.rs (this crate does not build the webhook): duplicate
/// and merge keys and custom tags refused, YAML 1.2 scalars, alias expansion bounded.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        merge_keys: serde_saphyr::MergeKeyPolicy::Error,
        reject_unsupported_tags: true,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 10_000,
        },
    }
}

/// The queries: the input's lines, else every namespace the policies name (and two more)
/// with fixed images and images each pattern implies.
fn queries(resources: &[Resource], text: &str) -> Vec<(String, String)> {
    let given: Vec<(String, String)> = text
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((namespace, image)) => (namespace.to_string(), image.to_string()),
            None => ("default".to_string(), line.to_string()),
        })
        .collect();
    if !given.is_empty() {
        return given.into_iter().take(MAX_QUERIES).collect();
    }
    let mut namespaces = vec!["default".to_string(), "team".to_string()];
    let mut images: Vec<String> = pattern::IMAGES.iter().map(|s| s.to_string()).collect();
    for resource in resources {
        if let Resource::ImagePolicy { namespace, .. } = resource
            && !namespaces.contains(namespace)
        {
            namespaces.push(namespace.clone());
        }
        for repository in repositories(resource) {
            images.extend(
                pattern::implied_images(&repository.name)
                    .into_iter()
                    .take(6),
            );
        }
    }
    let mut out = Vec::new();
    for namespace in namespaces.iter().take(8) {
        for image in &images {
            out.push((namespace.clone(), image.clone()));
        }
    }
    out.truncate(MAX_QUERIES);
    out
}

fn repositories(resource: &Resource) -> &[Repository] {
    match resource {
        Resource::ImagePolicy { spec: Ok(spec), .. }
        | Resource::ClusterImagePolicy { spec: Ok(spec), .. } => &spec.repositories,
        _ => &[],
    }
}

/// A policy object: kind, namespace, name and spec.
type Object<'a> = (
    PolicyKind,
    Option<&'a str>,
    &'a str,
    &'a Result<PolicySpec, String>,
);

/// `rules()` lists every valid repository once, `problems()` every invalid object.
fn check_listing(resources: &[Resource], set: &PolicySet) {
    let objects: Vec<Object<'_>> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::ImagePolicy {
                namespace,
                name,
                spec,
            } => Some((
                PolicyKind::ImagePolicy,
                Some(namespace.as_str()),
                name.as_str(),
                spec,
            )),
            Resource::ClusterImagePolicy { name, spec } => {
                Some((PolicyKind::ClusterImagePolicy, None, name.as_str(), spec))
            }
            Resource::Secret(_) => None,
        })
        .collect();
    let invalid = objects.iter().filter(|o| !object_valid(o.3)).count();
    let rules: usize = objects
        .iter()
        .filter(|o| object_valid(o.3))
        .map(|o| o.3.as_ref().map_or(0, |s| s.repositories.len()))
        .sum();
    assert_eq!(
        set.problems().count(),
        invalid,
        "problems() is every invalid object"
    );
    assert_eq!(
        set.rules().count(),
        rules,
        "rules() is every repository of valid objects"
    );
}

fn object_valid(spec: &Result<PolicySpec, String>) -> bool {
    spec.as_ref().is_ok_and(|s| {
        s.repositories
            .iter()
            .all(|r| model::pattern(&r.name).is_some())
    })
}

/// `resolve` against the documented rules: the scope (the namespace's ImagePolicies if it has
/// any, else the ClusterImagePolicies), any invalid object in scope denies, else the matching
/// candidate with an exact name, then the most non-`*` characters, then the first in
/// (object name, position) order.
fn check_resolve(resources: &[Resource], set: &PolicySet, namespace: &str, image: &ImageRef) {
    let result = set.resolve(namespace, image);
    let namespaced: Vec<(&str, &Result<PolicySpec, String>)> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::ImagePolicy {
                namespace: ns,
                name,
                spec,
            } if ns == namespace => Some((name.as_str(), spec)),
            _ => None,
        })
        .collect();
    let (kind, mut scope) = if namespaced.is_empty() {
        let cluster = resources
            .iter()
            .filter_map(|r| match r {
                Resource::ClusterImagePolicy { name, spec } => Some((name.as_str(), spec)),
                _ => None,
            })
            .collect();
        (PolicyKind::ClusterImagePolicy, cluster)
    } else {
        (PolicyKind::ImagePolicy, namespaced)
    };
    let context = format!("{kind} scope of {namespace:?}, image {image}");
    if scope.is_empty() {
        assert_eq!(result, Err(Unmatched::NoPolicies), "{context}");
        return;
    }
    let invalid: Vec<&str> = scope
        .iter()
        .filter(|(_, spec)| !object_valid(spec))
        .map(|(name, _)| *name)
        .collect();
    if !invalid.is_empty() {
        match &result {
            Err(Unmatched::Invalid {
                kind: k, object, ..
            }) => {
                assert_eq!(*k, kind, "{context}");
                assert!(
                    invalid.contains(&object.as_str()),
                    "{context}: {object} is valid"
                );
            }
            other => panic!("{context}: invalid objects {invalid:?} in scope, got {other:?}"),
        }
        return;
    }
    scope.sort_by_key(|(name, _)| *name);
    let mut best: Option<(&str, &Repository, (bool, usize))> = None;
    for (object, spec) in &scope {
        for repository in spec.as_ref().map_or(&[][..], |s| &s.repositories[..]) {
            let Some(model) = model::pattern(&repository.name) else {
                unreachable!("objects in scope are valid")
            };
            if !model.matches(image.domain(), image.path(), image.tag()) {
                continue;
            }
            let rank = (model.is_exact(), model.specificity());
            if best.is_none_or(|(_, _, top)| rank > top) {
                best = Some((object, repository, rank));
            }
        }
    }
    match (best, &result) {
        (None, Err(Unmatched::NoNamespaceMatch { namespace: ns }))
            if kind == PolicyKind::ImagePolicy && ns == namespace => {}
        (None, Err(Unmatched::NoClusterMatch { namespace: ns }))
            if kind == PolicyKind::ClusterImagePolicy && ns == namespace => {}
        (Some((object, repository, _)), Ok(found)) => {
            assert_eq!(found.kind, kind, "{context}");
            let want_namespace = (kind == PolicyKind::ImagePolicy).then_some(namespace);
            assert_eq!(found.namespace, want_namespace, "{context}");
            assert_eq!(
                (found.object, found.repository, found.policy),
                (object, repository.name.as_str(), &repository.policy),
                "{context}: not the most specific rule"
            );
            let compiled = Pattern::parse(found.repository).expect("a matched rule compiles");
            assert!(
                compiled.matches(image),
                "{context}: the matched rule does not match"
            );
        }
        (want, got) => panic!(
            "{context}: expected {:?}, got {got:?}",
            want.map(|(o, r, _)| (o, &r.name))
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn yaml_is_read_as_the_policy_folder_reads_it() {
        let corpus = super::documents(include_str!("../corpus/policy/team.yaml"));
        assert!(!corpus.is_empty());
        assert_eq!(super::documents("a: 1\n---\n---\nb: 2\n").len(), 2);
        // A duplicate key ends the stream, as it refuses the policy folder.
        assert_eq!(super::documents("a: 1\n---\nb: 1\nb: 2\n").len(), 1);
        super::run(include_bytes!("../corpus/policy/cluster.yaml"));
        super::run(include_bytes!("../corpus/policy/team.yaml"));
    }
}
