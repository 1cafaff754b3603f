//! Verdicts: what the matched policy says of each image, and the one decision for a request.
//!
//! Fail closed: every requirement this build cannot verify is a deny that says so.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::admission::patch::Replace;
use crate::admission::{ContainerSite, Kind, Operation, Options, Request};
use crate::policy::{Match, Policy, PolicySet};
use crate::reference::{Digest, ImageRef};

/// The decision on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Admit, pinning images by `patch` (empty when nothing is rewritten).
    Allow {
        patch: Vec<Replace>,
        warnings: Vec<String>,
    },
    /// Refuse; one line per problem, sorted and without duplicates.
    Deny { reasons: Vec<String> },
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// What the policy says of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted; pinned to `digest` when one was verified and the policy mutates.
    Allow {
        digest: Option<Digest>,
        mutate: bool,
    },
    /// Refused, with every reason.
    Deny(Vec<String>),
}

/// Decides a request against the policies.
pub fn decide(request: &Request, policies: &PolicySet, options: &Options) -> Decision {
    if matches!(request.operation, Operation::Delete | Operation::Connect) {
        return Decision::Allow {
            patch: Vec::new(),
            warnings: Vec::new(),
        };
    }
    if let Kind::Other { .. } = &request.kind {
        let kind = &request.kind;
        return if options.allow_unknown_kinds {
            let warning =
                format!("portieris admitted {kind} without checking it: not a kind it checks");
            Decision::Allow {
                patch: Vec::new(),
                warnings: alloc::vec![warning],
            }
        } else {
            let reason = format!(
                "Deny {kind} \"{}\", not a kind portieris checks",
                request.name
            );
            Decision::Deny {
                reasons: alloc::vec![reason],
            }
        };
    }
    combine(
        request
            .sites
            .iter()
            .map(|site| (site, judge(&site.image, &request.namespace, policies))),
    )
}

/// Joins per-image verdicts into one decision.
pub fn combine<'a>(verdicts: impl Iterator<Item = (&'a ContainerSite, Verdict)>) -> Decision {
    let mut patch = Vec::new();
    let mut reasons = BTreeSet::new();
    for (site, verdict) in verdicts {
        match verdict {
            Verdict::Allow {
                digest: Some(digest),
                mutate: true,
            } => {
                if let Some(op) = pin(site, &digest) {
                    patch.push(op);
                }
            }
            Verdict::Allow { .. } => {}
            Verdict::Deny(why) => reasons.extend(
                why.into_iter()
                    .map(|r| format!("Deny \"{}\", {r}", site.image)),
            ),
        }
    }
    if reasons.is_empty() {
        Decision::Allow {
            patch,
            warnings: Vec::new(),
        }
    } else {
        Decision::Deny {
            reasons: reasons.into_iter().collect(),
        }
    }
}

/// The verdict on one image in a namespace.
pub fn judge(image: &str, namespace: &str, policies: &PolicySet) -> Verdict {
    let image = match ImageRef::parse(image) {
        Ok(image) => image,
        Err(e) => return Verdict::Deny(alloc::vec![format!("invalid image name: {e}")]),
    };
    match policies.resolve(namespace, &image) {
        Ok(matched) => check(&matched),
        Err(unmatched) => Verdict::Deny(alloc::vec![unmatched.to_string()]),
    }
}

/// Checks what the matched policy requires. Requirements that need signatures this build
/// cannot verify yet deny.
fn check(matched: &Match<'_>) -> Verdict {
    let policy: &Policy = matched.policy;
    let mut reasons = Vec::new();
    if policy.vulnerability.iccrva.enabled.unwrap_or(false) {
        reasons.push(
            "vulnerability.ICCRVA is IBM Cloud Vulnerability Advisor, which is not available here"
                .into(),
        );
    }
    if policy.trust.is_enabled() {
        reasons.push(
            "trust (Notary v1) verification is required but not supported by this build yet".into(),
        );
    }
    for requirement in &policy.simple.requirements {
        match requirement.kind.as_str() {
            "insecureAcceptAnything" => {}
            "reject" => {
                reasons.push("the policy rejects this image (simple requirement \"reject\")".into())
            }
            "signedBy" => {
                reasons.push(
                    "simple signing (signedBy) is required but not supported by this build yet"
                        .into(),
                );
            }
            other => reasons.push(format!("unknown simple requirement type \"{other}\"")),
        }
    }
    if reasons.is_empty() {
        return Verdict::Allow {
            digest: None,
            mutate: policy.mutates(),
        };
    }
    let source = match matched.namespace {
        Some(ns) => format!("{} \"{ns}/{}\"", matched.kind, matched.object),
        None => format!("{} \"{}\"", matched.kind, matched.object),
    };
    let context = format!(" ({source}, repository \"{}\")", matched.repository);
    Verdict::Deny(reasons.into_iter().map(|r: String| r + &context).collect())
}

/// The replace op pinning `site` to `digest`; none when the image already is that.
fn pin(site: &ContainerSite, digest: &Digest) -> Option<Replace> {
    let image = ImageRef::parse(&site.image).ok()?;
    let pinned = image.pinned(digest);
    (pinned != site.image).then(|| Replace {
        path: site.pointer.clone(),
        value: pinned,
    })
}

#[cfg(test)]
mod tests;
