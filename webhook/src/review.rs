//! `portieris review` and `portieris validate`: the offline CLI over the `/admit` path.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use portieris_core::PolicySet;
use portieris_core::notation::need;
use portieris_core::policy::{Mutation, Notation, Pattern, Policy, Resource, Secret};

use crate::admit::{Admitter, Outcome};
use crate::config;
use crate::evidence::Gatherer;
use crate::policies::PolicyStore;
use crate::policy_dir::{self, Problem};

const EXIT_DENIED: u8 = 1;
const EXIT_INVALID: u8 = 2;
/// Offline there is no API server deadline; this only bounds a hung upstream.
const EVIDENCE_DEADLINE: Duration = Duration::from_secs(30);

/// Evaluates one AdmissionReview and prints the response. Exit 0 allow (warn mode included:
/// the warnings are in the response), 1 deny, 2 invalid.
pub fn review(config: &config::Review) -> ExitCode {
    match run_review(config) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("portieris review: {message}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn run_review(config: &config::Review) -> Result<ExitCode, String> {
    let set = load_policies(&config.policy_dir)?;
    let body = read_input(config.file.as_deref())
        .map_err(|e| format!("cannot read the AdmissionReview: {e}"))?;
    let store = Arc::new(PolicyStore::new());
    store.replace(set);
    let gatherer = Gatherer::new(&config.fetch).map_err(|e| e.to_string())?;
    let admitter = Admitter::new(
        store,
        Box::new(gatherer),
        config.engine.clone(),
        EVIDENCE_DEADLINE,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let admitted = runtime.block_on(admitter.admit(&body));
    if admitted.status != 200 {
        return Err(String::from_utf8_lossy(&admitted.body).trim().to_string());
    }
    let pretty = serde_json::from_slice::<serde_json::Value>(&admitted.body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .map_err(|e| e.to_string())?;
    println!("{pretty}");
    Ok(match admitted.outcome {
        Outcome::Allow | Outcome::Warn(_) => ExitCode::SUCCESS,
        Outcome::Deny(_) => ExitCode::from(EXIT_DENIED),
        Outcome::Invalid => ExitCode::from(EXIT_INVALID),
    })
}

fn read_input(file: Option<&Path>) -> std::io::Result<Vec<u8>> {
    match file {
        Some(path) if path != Path::new("-") => std::fs::read(path),
        _ => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body)?;
            Ok(body)
        }
    }
}

fn load_policies(dir: &Path) -> Result<PolicySet, String> {
    let folder =
        policy_dir::load(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    folder
        .into_policy_set()
        .map_err(|problems| problems_error(problems).to_string())
}

/// Every problem of a policy folder as one error.
pub fn problems_error(problems: Vec<Problem>) -> anyhow::Error {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    anyhow::anyhow!("the policy folder has problems:\n{}", lines.join("\n"))
}

/// Checks a policy folder; prints every problem with its file and field. Exit 0 when clean.
pub fn validate(dir: &Path) -> ExitCode {
    let folder = match policy_dir::load(dir) {
        Ok(folder) => folder,
        Err(e) => {
            eprintln!("portieris validate: cannot read {}: {e}", dir.display());
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let mut problems: Vec<String> = folder.problems.iter().map(ToString::to_string).collect();
    let secrets: Vec<&Secret> = folder
        .resources
        .iter()
        .filter_map(|(_, r)| match r {
            Resource::Secret(s) => Some(s),
            _ => None,
        })
        .collect();
    for (origin, resource) in &folder.resources {
        problems.extend(
            check_resource(resource, &secrets)
                .into_iter()
                .map(|p| format!("{origin}: {p}")),
        );
    }
    if problems.is_empty() {
        println!(
            "{}: {} objects, no problems",
            dir.display(),
            folder.resources.len()
        );
        ExitCode::SUCCESS
    } else {
        for problem in &problems {
            println!("{problem}");
        }
        ExitCode::from(EXIT_DENIED)
    }
}

/// Problems of one object: an unreadable spec, bad patterns, Secrets it names that are absent.
fn check_resource(resource: &Resource, secrets: &[&Secret]) -> Vec<String> {
    let (kind, namespace, name, spec) = match resource {
        Resource::ImagePolicy {
            namespace,
            name,
            spec,
        } => ("ImagePolicy", Some(namespace.as_str()), name, spec),
        Resource::ClusterImagePolicy { name, spec } => ("ClusterImagePolicy", None, name, spec),
        Resource::Secret(_) => return Vec::new(),
    };
    let what = format!(
        "{kind} \"{}{name}\"",
        namespace.map(|n| format!("{n}/")).unwrap_or_default()
    );
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => return vec![format!("{what}: {e}")],
    };
    let mut problems = Vec::new();
    for (i, repository) in spec.repositories.iter().enumerate() {
        let field = format!("{what}: spec.repositories[{i}]");
        if let Err(e) = Pattern::parse(&repository.name) {
            problems.push(format!("{field}.name: {e}"));
        }
        let policy = &repository.policy;
        if !policy.mutates() && policy.mutation == Mutation::TagAndDigest {
            // Not an error for the webhook (nothing is mutated, as mutateImage says), but
            // surely not what the author meant.
            problems.push(format!(
                "{field}.policy.mutation: tagAndDigest has no effect with mutateImage: false"
            ));
        }
        for problem in portieris_core::attestation::problems(policy) {
            problems.push(format!("{field}.policy.attestations: {problem}"));
        }
        if let Some(notation) = &policy.notation {
            let field = format!("{field}.policy.notation");
            problems.extend(notation_problems(notation, namespace, secrets, &field));
        }
        for (path, secret, secret_namespace) in secret_refs(&repository.policy) {
            // A ClusterImagePolicy's Secrets are read from the namespace of each request, so
            // they can only be checked offline when the policy names a namespace.
            let Some(ns) = secret_namespace.or(namespace) else {
                continue;
            };
            if find(secrets, ns, secret).is_none() {
                problems.push(format!(
                    "{field}.{path}: Secret \"{ns}/{secret}\" is not in the folder"
                ));
            }
        }
    }
    problems
}

fn find<'a>(secrets: &[&'a Secret], namespace: &str, name: &str) -> Option<&'a Secret> {
    (secrets.iter().copied()).find(|s| s.namespace == namespace && s.name == name)
}

/// The `notation` field's own problems, and its trust policy document's when the folder has
/// its Secret (a ClusterImagePolicy's only when `secretNamespace` names where).
fn notation_problems(
    notation: &Notation,
    namespace: Option<&str>,
    secrets: &[&Secret],
    field: &str,
) -> Vec<String> {
    let mut problems: Vec<String> = (need::shape(notation).into_iter())
        .map(|p| format!("{field}: {p}"))
        .collect();
    let asked = Some(notation.secret_namespace.as_str()).filter(|n| !n.is_empty());
    let document = asked
        .or(namespace)
        .and_then(|ns| find(secrets, ns, &notation.trust_policy.secret));
    if let Some(secret) = document {
        let found = need::document_problems(notation, secret);
        problems.extend(
            found
                .into_iter()
                .map(|p| format!("{field}.trustPolicy: {p}")),
        );
    }
    problems
}

/// Every Secret a policy names: (field path, Secret name, namespace if the policy sets one).
fn secret_refs(policy: &Policy) -> Vec<(String, &str, Option<&str>)> {
    let signers = policy.trust.signer_secrets.iter().enumerate();
    let mut refs: Vec<_> = signers
        .map(|(j, s)| {
            (
                format!("policy.trust.signerSecrets[{j}].name"),
                s.name.as_str(),
                None,
            )
        })
        .collect();
    for (j, r) in policy
        .simple
        .requirements
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.key_secret.is_empty())
    {
        let namespace = Some(r.key_secret_namespace.as_str()).filter(|n| !n.is_empty());
        refs.push((
            format!("policy.simple.requirements[{j}].keySecret"),
            &r.key_secret,
            namespace,
        ));
    }
    for (j, attestation) in policy.attestations.iter().enumerate() {
        let signer = &attestation.signer;
        if !signer.key_secret.is_empty() {
            let namespace = Some(signer.key_secret_namespace.as_str()).filter(|n| !n.is_empty());
            let path = format!("policy.attestations[{j}].signer.keySecret");
            refs.push((path, &signer.key_secret, namespace));
        }
    }
    if let Some(notation) = &policy.notation {
        let namespace = Some(notation.secret_namespace.as_str()).filter(|n| !n.is_empty());
        let path = "policy.notation.trustPolicy.secret".to_string();
        refs.push((path, &notation.trust_policy.secret, namespace));
        for (j, store) in notation.trust_stores.iter().enumerate() {
            let path = format!("policy.notation.trustStores[{j}].secret");
            refs.push((path, &store.secret, namespace));
        }
    }
    if !policy.simple.store_secret.is_empty() {
        refs.push((
            "policy.simple.storeSecret".into(),
            &policy.simple.store_secret,
            None,
        ));
    }
    refs
}
