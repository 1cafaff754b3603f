//! The attestation need of a policy: each `attestations` entry with its predicate type
//! resolved, its signer's Secrets read and its conditions (compiled with the policy).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::predicate;
use crate::condition::Condition;
use crate::cosign::need::repository;
use crate::policy::secrets::SecretScope;
use crate::policy::{Attestation, Policy, PolicySet};
use crate::reason::Reason;
use crate::reference::ImageRef;
use crate::sigstore::need::{Signer, identities, signer};

/// Statements about the image's digest, one meeting each requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationNeed {
    pub requirements: Vec<Required>,
    /// `cosign.repository`, when the policy has one: where attestations are stored, as for
    /// signatures; `None` means the image's own repository.
    pub repository: Option<ImageRef>,
}

/// One `attestations` entry, ready to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    /// How messages name it: `attestation N (<predicate type>)`.
    pub name: String,
    /// The predicate type's URI.
    pub predicate_type: String,
    pub signer: Signer,
    pub conditions: Vec<Condition>,
}

/// `None` unless the policy has attestations; otherwise the need, or every reason it cannot
/// be built (each a deny, the policy's to fix). `default_root` is as for Sigstore bundles.
pub fn need(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
    default_root: Option<&Arc<[u8]>>,
) -> Result<Option<AttestationNeed>, Vec<Reason>> {
    if policy.attestations.is_empty() {
        return Ok(None);
    }
    let mut reasons = problems(policy);
    if !reasons.is_empty() {
        return Err(reasons.into_iter().map(Reason::policy).collect());
    }
    let mut requirements = Vec::new();
    for (n, attestation) in policy.attestations.iter().enumerate() {
        let name = name(n, attestation);
        match signer(&attestation.signer, secrets, policies, default_root) {
            Ok(signer) => requirements.push(Required {
                predicate_type: resolved(attestation).into(),
                signer,
                conditions: attestation.conditions.clone(),
                name,
            }),
            Err(why) => reasons.push(format!("{name}: {why}")),
        }
    }
    let repository = match policy.cosign.as_ref().map(repository) {
        Some(Ok(repository)) => repository,
        Some(Err(why)) => {
            reasons.push(why);
            None
        }
        None => None,
    };
    if reasons.is_empty() {
        Ok(Some(AttestationNeed {
            requirements,
            repository,
        }))
    } else {
        Err(reasons.into_iter().map(Reason::policy).collect())
    }
}

/// Whether the policy's `attestations` are wrong as written: no warn mode softens that.
pub fn broken(policy: &Policy) -> bool {
    !problems(policy).is_empty()
}

/// What is wrong with the entries as written, whatever the Secrets hold: a predicate type
/// that is neither a URI nor a short name, a signer that is neither a key nor keyless (or
/// both), keyless identities that do not compile. (Conditions compile with the policy.)
pub fn problems(policy: &Policy) -> Vec<String> {
    let mut reasons = Vec::new();
    for (n, attestation) in policy.attestations.iter().enumerate() {
        let name = name(n, attestation);
        if predicate::resolve(&attestation.predicate_type).is_none() {
            let short: Vec<&str> = predicate::SHORT_NAMES.iter().map(|(s, _)| *s).collect();
            reasons.push(format!(
                "{name}: predicateType is neither a URI nor one of {}",
                short.join(", ")
            ));
        }
        let signer = &attestation.signer;
        match (signer.key_secret.is_empty(), &signer.keyless) {
            (true, None) => {
                reasons.push(format!("{name}: signer has neither keySecret nor keyless"))
            }
            (false, Some(_)) => reasons.push(format!(
                "{name}: signer has both keySecret and keyless; write one"
            )),
            (true, Some(keyless)) => {
                if let Err(why) = identities(&keyless.identities) {
                    reasons.push(format!("{name}: {why}"));
                }
            }
            (false, None) => {}
        }
    }
    reasons
}

/// `attestation N (<type as written>)`, N from 1.
fn name(n: usize, attestation: &Attestation) -> String {
    format!("attestation {} ({})", n + 1, attestation.predicate_type)
}

fn resolved(attestation: &Attestation) -> &str {
    predicate::resolve(&attestation.predicate_type).unwrap_or(&attestation.predicate_type)
}
