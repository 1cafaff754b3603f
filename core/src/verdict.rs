//! Verdicts: what the matched policy says of each image, and the one decision for a request.
//!
//! Sans-IO: [`plan`] says which evidence each image needs, the frontend gathers it, and
//! [`finish`] decides. Fail closed: missing or failed evidence, and every requirement this build
//! cannot verify, is a deny that says so.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::admission::patch::{Annotate, Replace};
use crate::admission::{ContainerSite, Kind, Operation, Options, Request};
use crate::evidence::{self, Gathered, Need, Vouched};
use crate::policy::secrets::SecretScope;
use crate::policy::{Enforcement, Match, Mutation, Policy, PolicyKind, PolicySet, Unmatched};
use crate::reason::{Class, Reason};
use crate::reference::{Digest, ImageRef};
use crate::text::escape_controls;
use crate::time::UnixTime;

pub use combine::{Handling, MAX_WARNING_CHARS, MAX_WARNINGS};

/// The decision on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Admit, pinning images by `patch` (empty when nothing is rewritten).
    Allow {
        patch: Vec<Replace>,
        /// For the AdmissionResponse: each at most [`MAX_WARNING_CHARS`] characters, at most
        /// [`MAX_WARNINGS`] of them plus one saying how many more there were.
        warnings: Vec<String>,
        /// Records the original images of a tag-preserving rewrite on the object.
        annotate: Option<Annotate>,
        /// Every deny reason that warn mode (the policy's, or the server's) waived, in full:
        /// when there is one, enforcing would have denied this request.
        waived: Vec<Reason>,
    },
    /// Refuse; one line per problem, sorted and without duplicates.
    Deny { reasons: Vec<Reason> },
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    /// Admitted only because warn mode waived some deny.
    pub fn is_warn(&self) -> bool {
        matches!(self, Self::Allow { waived, .. } if !waived.is_empty())
    }

    /// What a deny (or, in warn mode, the deny waived) was chiefly about: the greatest
    /// [`Class`] of its reasons; `None` for a plain allow.
    pub fn class(&self) -> Option<Class> {
        let reasons = match self {
            Self::Allow { waived, .. } => waived,
            Self::Deny { reasons } => reasons,
        };
        reasons.iter().map(|r| r.class).max()
    }

    /// Admit, changing nothing and warning of nothing.
    pub fn allow_unchanged() -> Self {
        Self::Allow {
            patch: Vec::new(),
            warnings: Vec::new(),
            annotate: None,
            waived: Vec::new(),
        }
    }
}

/// What the policy says of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted; pinned to `digest` when one was verified and the policy mutates.
    Allow {
        digest: Option<Digest>,
        mutate: bool,
        /// Failures of checks the policy only logs: the image is admitted, with a warning.
        notes: Vec<String>,
    },
    /// Refused, with every reason.
    Deny(Vec<Reason>),
}

/// What a request needs before it can be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Decided without looking at any image (DELETE, an unknown kind).
    Final(Decision),
    /// One entry per distinct image string of the request.
    Images(Vec<ImagePlan>),
}

/// One distinct image of a request and what deciding on it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePlan {
    /// Indices into [`Request::sites`] that carry this image.
    pub sites: Vec<usize>,
    pub assessment: Assessment,
    /// What a deny does, and how an allow is pinned.
    pub handling: Handling,
}

/// What the policy makes of an image before any evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    Decided(Verdict),
    /// Admissible only with evidence for every need.
    Needs(Requirements),
}

/// The evidence an image needs, and how to conclude once it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirements {
    pub image: ImageRef,
    pub needs: Vec<Need>,
    pub mutate: bool,
    /// The image is `name:tag@digest` under a rule that names its tag: the evidence must tie
    /// the digest to the tag.
    pub tag_bound: bool,
    /// Which policy rule asked, appended to deny reasons.
    context: String,
}

/// Plans a request: which images need which evidence.
pub fn plan(request: &Request, policies: &PolicySet, options: &Options) -> Plan {
    if matches!(request.operation, Operation::Delete | Operation::Connect) {
        return Plan::Final(Decision::allow_unchanged());
    }
    if let Kind::Other { .. } = &request.kind {
        return Plan::Final(unknown_kind(request, options));
    }
    let mut images: Vec<ImagePlan> = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, site) in request.sites.iter().enumerate() {
        if let Some(&at) = seen.get(site.image.as_str()) {
            images[at].sites.push(index);
            continue;
        }
        seen.insert(&site.image, images.len());
        let (assessment, handling) =
            assess_image(&site.image, &request.namespace, policies, options);
        images.push(ImagePlan {
            sites: alloc::vec![index],
            assessment,
            handling,
        });
    }
    Plan::Images(images)
}

/// Decides once the evidence is in: `gathered[i][j]` answers `images[i]`'s need `j`, and is
/// verified here (at `now`). Verifying signatures costs: a frontend with async workers calls
/// this off them when [`costly`] says so.
pub fn finish(
    request: &Request,
    images: &[ImagePlan],
    gathered: &[Vec<Gathered>],
    now: UnixTime,
) -> Decision {
    decide_with(request, images, |i, requirements| {
        let gathered = gathered.get(i).map_or(&[][..], Vec::as_slice);
        if gathered.len() != requirements.needs.len() {
            return not_gathered(requirements);
        }
        let image = &requirements.image;
        let verified: Vec<Result<Vouched, Reason>> = (requirements.needs.iter().zip(gathered))
            .map(|(need, gathered)| evidence::vouch(need, image, gathered, now))
            .collect();
        conclude(requirements, &verified)
    })
}

/// Whether [`finish`] will verify signatures (milliseconds: RSA, OpenPGP, ECDSA P-384), rather
/// than only look at digests Notary's exchange or a tag lookup already gave, or Sigstore
/// verdicts it remembers (Notation's at `now`).
pub fn costly(images: &[ImagePlan], gathered: &[Vec<Gathered>], now: UnixTime) -> bool {
    images
        .iter()
        .zip(gathered)
        .any(|(image, gathered)| match &image.assessment {
            Assessment::Needs(requirements) => (requirements.needs.iter().zip(gathered))
                .any(|(need, gathered)| evidence::costly(need, &requirements.image, gathered, now)),
            Assessment::Decided(_) => false,
        })
}

/// [`finish`] with every answer already verified: `verified[i][j]` is what `images[i]`'s need
/// `j` vouches for (tests of the conclusion, apart from any format).
#[cfg(test)]
fn decide_verified(
    request: &Request,
    images: &[ImagePlan],
    verified: &[Vec<Result<Digest, Reason>>],
) -> Decision {
    decide_with(request, images, |i, requirements| {
        let verified = verified.get(i).map_or(&[][..], Vec::as_slice);
        if verified.len() != requirements.needs.len() {
            return not_gathered(requirements);
        }
        let borrowed: Vec<Result<Vouched, Reason>> = verified
            .iter()
            .map(|v| v.as_ref().map(Vouched::plain).map_err(Clone::clone))
            .collect();
        conclude(requirements, &borrowed)
    })
}

/// Every image's verdict (decided, or concluded from its evidence by `conclude_image`), applied
/// to each of its sites.
fn decide_with(
    request: &Request,
    images: &[ImagePlan],
    mut conclude_image: impl FnMut(usize, &Requirements) -> Verdict,
) -> Decision {
    let mut combined = combine::Combined::default();
    for (i, image) in images.iter().enumerate() {
        let verdict = match &image.assessment {
            Assessment::Decided(verdict) => verdict.clone(),
            Assessment::Needs(requirements) => conclude_image(i, requirements),
        };
        for site in image.sites.iter().filter_map(|&s| request.sites.get(s)) {
            combined.add(site, verdict.clone(), image.handling);
        }
    }
    combined.decide(Some(request))
}

fn unknown_kind(request: &Request, options: &Options) -> Decision {
    let kind = &request.kind;
    if options.allow_unknown_kinds {
        let warning = format!(
            "portieris admitted {} without checking it: not a kind it checks",
            escape_controls(&kind.to_string())
        );
        Decision::Allow {
            patch: Vec::new(),
            warnings: alloc::vec![warning],
            annotate: None,
            waived: Vec::new(),
        }
    } else {
        let reason = Reason::refused(format!(
            "Deny {} \"{}\", not a kind portieris checks",
            escape_controls(&kind.to_string()),
            escape_controls(&request.name)
        ));
        Decision::Deny {
            reasons: alloc::vec![reason],
        }
    }
}

/// Joins per-image verdicts into one decision, every deny enforced and every pin to the bare
/// digest (Portieris' behaviour); [`finish`] applies each image's [`Handling`].
pub fn combine<'a>(verdicts: impl Iterator<Item = (&'a ContainerSite, Verdict)>) -> Decision {
    let mut combined = combine::Combined::default();
    for (site, verdict) in verdicts {
        combined.add(site, verdict, Handling::default());
    }
    combined.decide(None)
}

/// What the policy in force says of one image in a namespace, before evidence, with default
/// [`Options`].
pub fn assess(image: &str, namespace: &str, policies: &PolicySet) -> Assessment {
    assess_with(image, namespace, policies, &Options::default())
}

/// [`assess`] with the given options.
pub fn assess_with(
    image: &str,
    namespace: &str,
    policies: &PolicySet,
    options: &Options,
) -> Assessment {
    assess_image(image, namespace, policies, options).0
}

/// [`assess_with`], and how the image's verdict is handled. An unreadable image and an invalid
/// policy scope always deny: warn mode must never turn a broken policy into an allow. With no
/// matching policy there is no policy `enforcement`, so only the server's applies.
fn assess_image(
    image: &str,
    namespace: &str,
    policies: &PolicySet,
    options: &Options,
) -> (Assessment, Handling) {
    let deny = |reason: Reason| Assessment::Decided(Verdict::Deny(alloc::vec![reason]));
    let image = match ImageRef::parse(image) {
        Ok(image) => image,
        Err(e) => {
            let reason = Reason::refused(format!("invalid image name: {e}"));
            return (deny(reason), Handling::default());
        }
    };
    match policies.resolve(namespace, &image) {
        Ok(matched) => {
            let handling = handling(matched.policy, options);
            // `name:tag@digest` under a rule that names tags: see `tag`.
            let tie = (matched.tagged && image.digest().is_some())
                .then(|| tag::tie(matched.policy, &image));
            let assessment = requirements(image, &matched, namespace, policies, options, tie);
            (assessment, handling)
        }
        Err(invalid @ Unmatched::Invalid { .. }) => (
            deny(Reason::policy(invalid.to_string())),
            Handling::default(),
        ),
        Err(unmatched) => {
            let handling = Handling {
                enforcement: options.enforcement,
                ..Handling::default()
            };
            (deny(Reason::refused(unmatched.to_string())), handling)
        }
    }
}

/// The policy's handling, the server's enforcement as a floor. A policy whose own text is
/// wrong is enforced whatever it says.
fn handling(policy: &Policy, options: &Options) -> Handling {
    let enforcement = if evidence::broken(policy) {
        Enforcement::Enforce
    } else {
        policy.enforcement.max(options.enforcement)
    };
    Handling {
        enforcement,
        mutation: policy.mutation,
    }
}

/// Turns the matched policy into needs; requirements that fail outright deny at once.
fn requirements(
    image: ImageRef,
    matched: &Match<'_>,
    namespace: &str,
    policies: &PolicySet,
    options: &Options,
    tie: Option<tag::Tie>,
) -> Assessment {
    let policy: &Policy = matched.policy;
    let secrets = secret_scope(matched, namespace, options);
    let mut reasons = static_denials(policy);
    let (mut needs, unbuilt) =
        evidence::needs(policy, secrets, policies, options.sigstore_root.as_ref());
    reasons.extend(unbuilt);
    for need in &mut needs {
        if let Need::Trust(trust) = need {
            trust.by_tag = tie == Some(tag::Tie::Trust);
        }
    }
    if tie == Some(tag::Tie::Registry) {
        needs.push(Need::TagDigest);
    }
    let context = context(matched);
    if !reasons.is_empty() {
        return Assessment::Decided(Verdict::Deny(
            reasons
                .into_iter()
                .map(|r| r.with_suffix(&context))
                .collect(),
        ));
    }
    if needs.is_empty() {
        return Assessment::Decided(Verdict::Allow {
            digest: None,
            mutate: policy.mutates(),
            notes: Vec::new(),
        });
    }
    // The registry's tag digest ties a tag to a digest; it verifies nothing to pin to.
    let verifies = needs.iter().any(|need| !matches!(need, Need::TagDigest));
    Assessment::Needs(Requirements {
        tag_bound: tie.is_some(),
        image,
        needs,
        mutate: policy.mutates() && verifies,
        context,
    })
}

/// A requirement no format answers: IBM Cloud's Vulnerability Advisor.
fn static_denials(policy: &Policy) -> Vec<Reason> {
    let iccrva = policy.vulnerability.iccrva.enabled.unwrap_or(false);
    iccrva
        .then(|| {
            Reason::policy(
                "vulnerability.ICCRVA is IBM Cloud Vulnerability Advisor, which is not available here",
            )
        })
        .into_iter()
        .collect()
}

/// Where the matched policy reads its Secrets (see [`SecretScope`]).
fn secret_scope<'a>(
    matched: &Match<'a>,
    workload: &'a str,
    options: &'a Options,
) -> SecretScope<'a> {
    match (matched.kind, matched.namespace) {
        (PolicyKind::ImagePolicy, own) => SecretScope {
            namespace: own.unwrap_or(workload),
            may_name_another: options.allow_cross_namespace_keys,
        },
        (PolicyKind::ClusterImagePolicy, _) if options.cluster_secrets_in_workload_namespace => {
            SecretScope {
                namespace: workload,
                may_name_another: options.allow_cross_namespace_keys,
            }
        }
        (PolicyKind::ClusterImagePolicy, _) => SecretScope {
            namespace: &options.namespace,
            may_name_another: true,
        },
    }
}

fn context(matched: &Match<'_>) -> String {
    let source = match matched.namespace {
        Some(ns) => format!("{} \"{ns}/{}\"", matched.kind, matched.object),
        None => format!("{} \"{}\"", matched.kind, matched.object),
    };
    format!(" ({source}, repository \"{}\")", matched.repository)
}

/// Every need must be met, and all verified digests must agree (with each other, and with the
/// digest the reference pins, if any).
/// An answer per need is missing (or there are more answers than needs): deny.
fn not_gathered(requirements: &Requirements) -> Verdict {
    let reason = Reason::unverifiable("the evidence the policy needs was not gathered");
    Verdict::Deny(alloc::vec![reason.with_suffix(&requirements.context)])
}

fn conclude(requirements: &Requirements, verified: &[Result<Vouched, Reason>]) -> Verdict {
    let deny =
        |reason: Reason| Verdict::Deny(alloc::vec![reason.with_suffix(&requirements.context)]);
    let failures: Vec<Reason> = verified
        .iter()
        .filter_map(|e| e.as_ref().err())
        .map(|e| e.clone().with_suffix(&requirements.context))
        .collect();
    if !failures.is_empty() {
        return Verdict::Deny(failures);
    }
    let digests: BTreeSet<&Digest> = verified
        .iter()
        .filter_map(|e| e.as_ref().ok().map(|v| v.digest))
        .collect();
    let mut agreed = digests.iter();
    let (Some(digest), None) = (agreed.next(), agreed.next()) else {
        let list: Vec<String> = digests.iter().map(ToString::to_string).collect();
        return deny(Reason::refused(format!(
            "the signatures disagree on the digest ({})",
            list.join(", ")
        )));
    };
    if let Some(pinned) = requirements.image.digest().filter(|p| *p != *digest) {
        let tag = requirements.image.tag().filter(|_| requirements.tag_bound);
        return deny(Reason::refused(match tag {
            Some(tag) => format!(
                "tag \"{tag}\" is {digest}, not {pinned}: the rule names the tag, and the \
                 image runs the digest"
            ),
            None => format!("the signed digest {digest} is not the digest the image names"),
        }));
    }
    let notes = verified
        .iter()
        .flatten()
        .flat_map(|v| v.notes.iter().cloned());
    Verdict::Allow {
        digest: Some((*digest).clone()),
        mutate: requirements.mutate,
        notes: notes.map(|n| n + &requirements.context).collect(),
    }
}

/// The replace op pinning `site` to `digest` in the `mutation` form; none when the image
/// already is that.
fn pin(site: &ContainerSite, digest: &Digest, mutation: Mutation) -> Option<Replace> {
    let image = ImageRef::parse(&site.image).ok()?;
    let pinned = match mutation {
        Mutation::Digest => image.pinned(digest),
        Mutation::TagAndDigest => image.pinned_keeping_tag(digest),
    };
    (pinned != site.image).then(|| Replace {
        path: site.pointer.clone(),
        value: pinned,
    })
}

mod combine;
mod tag;

#[cfg(test)]
mod tests;
