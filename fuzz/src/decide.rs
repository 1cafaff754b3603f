//! The whole decision: parse, plan against fixed policies, `finish` with fuzzed evidence,
//! respond. The decision is compared with a model: fail closed, digests agree, patches pin.

use std::sync::OnceLock;

use arbitrary::Unstructured;
use portieris_core::admission::patch::Replace;
use portieris_core::admission::{Kind, Operation, Request};
use portieris_core::evidence::{Cause, FetchFailure, Gathered, Material, Need};
use portieris_core::policy::Resource;
use portieris_core::reference::{Digest, ImageRef};
use portieris_core::response::{respond, respond_invalid};
use portieris_core::time::UnixTime;
use portieris_core::verdict::{Assessment, ImagePlan, Verdict};
use portieris_core::{Decision, Plan, PolicySet, finish, plan};
use serde_json::Value;

use crate::{admission, input};

/// Policy snapshots the control bytes choose from: the examples, trust for everything (with
/// a signer Secret), none at all, and one with an invalid object.
const POLICIES: &[&str] = &[
    include_str!("../corpus/policy/examples.json"),
    r#"[
      {"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
       "metadata": {"name": "everything"},
       "spec": {"repositories": [
         {"name": "*", "policy": {"trust": {"enabled": true, "signerSecrets": [{"name": "alice"}]}}},
         {"name": "icr.io/*", "policy": {"trust": {"enabled": true}, "mutateImage": false}},
         {"name": "quay.io/*:v*", "policy": {"trust": {"enabled": true, "trustServer": "https://n.example"}}},
         {"name": "docker.io/library/nginx", "policy": {}},
         {"name": "quay.io/signed/*", "policy": {"simple": {"requirements": [
           {"type": "signedBy", "keySecret": "gpg", "signedIdentity": {"type": "matchRepository"}}]}}},
         {"name": "quay.io/both/*", "policy": {"trust": {"enabled": true},
           "simple": {"requirements": [{"type": "signedBy", "keySecret": "gpg", "keySecretNamespace": "other"}]}}}
       ]}},
      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gpg", "namespace": "default"},
       "stringData": {"key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n"}},
      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "alice", "namespace": "default"},
       "stringData": {"name": "alice", "publicKey": "-----BEGIN PUBLIC KEY-----\nMFk=\n-----END PUBLIC KEY-----\n"}}
    ]"#,
    "[]",
    r#"[
      {"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
       "metadata": {"name": "ok"}, "spec": {"repositories": [{"name": "*", "policy": {}}]}},
      {"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ImagePolicy",
       "metadata": {"name": "typo", "namespace": "team"},
       "spec": {"repositories": [{"name": "*", "policy": {"trsut": {"enabled": true}}}]}}
    ]"#,
];

fn policies(index: usize) -> &'static PolicySet {
    static SETS: OnceLock<Vec<PolicySet>> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        POLICIES
            .iter()
            .map(|text| {
                let value: Value = serde_json::from_str(text).expect("fixed policies are JSON");
                let items = value.as_array().expect("a list").iter();
                PolicySet::new(items.map(|v| Resource::from_value(v).expect("a resource")))
            })
            .collect()
    });
    &sets[index % sets.len()]
}

/// Target `decide`: an AdmissionReview, then after a NUL control bytes choosing options,
/// policies and the evidence for each image.
pub fn run(data: &[u8]) {
    let (body, control) = input::split(data);
    let mut u = Unstructured::new(control);
    let options = admission::options(&mut u);
    let policies = policies(usize::from(input::byte(&mut u, 0)));
    let request = match Request::parse(body, &options) {
        Ok(request) => request,
        Err(invalid) => {
            let uid = invalid.uid.as_deref().unwrap_or("");
            let response = admission::response(&respond_invalid(uid, &invalid.error), uid);
            assert_eq!(response["allowed"], false, "an invalid request is refused");
            return;
        }
    };
    let decision = match plan(&request, policies, &options) {
        Plan::Final(decision) => {
            let allow = match (&request.operation, &request.kind) {
                (Operation::Delete | Operation::Connect, _) => true,
                (_, Kind::Other { .. }) => options.allow_unknown_kinds,
                (_, Kind::Workload(_)) => panic!("a workload CREATE/UPDATE needs a plan"),
            };
            assert_eq!(decision.is_allow(), allow, "final decision");
            if let Decision::Allow { patch, .. } = &decision {
                assert!(patch.is_empty(), "a final decision pins nothing");
            }
            decision
        }
        Plan::Images(images) => {
            check_plan(&request, &images);
            let evidence = evidence(&mut u, &images);
            let decision = finish(&request, &images, &evidence, UnixTime(1_800_000_000));
            // `Value` may refuse what the pruned read accepted (see the `admission` target).
            if let Ok(review) = serde_json::from_slice::<Value>(body) {
                let object = review["request"].get("object").unwrap_or(&Value::Null);
                check_decision(&request, object, &images, &evidence, &decision);
            }
            decision
        }
    };
    let response = admission::response(&respond(&request.uid, &decision), &request.uid);
    assert_eq!(response["allowed"], decision.is_allow());
}

/// One plan per distinct image string, covering every site once.
fn check_plan(request: &Request, images: &[ImagePlan]) {
    let mut covered: Vec<usize> = images.iter().flat_map(|i| i.sites.clone()).collect();
    covered.sort_unstable();
    assert!(
        covered.iter().copied().eq(0..request.sites.len()),
        "the plans do not cover each site exactly once"
    );
    let mut strings = Vec::new();
    for image in images {
        let text = &request.sites[image.sites[0]].image;
        assert!(
            image.sites.iter().all(|&s| &request.sites[s].image == text),
            "one plan for different images"
        );
        assert!(!strings.contains(&text), "two plans for {text}");
        strings.push(text);
        if let Assessment::Needs(requirements) = &image.assessment {
            assert!(!requirements.needs.is_empty(), "needs without a need");
            assert_eq!(
                Ok(&requirements.image),
                ImageRef::parse(text).as_ref(),
                "requirements for another image"
            );
        }
    }
}

/// Evidence for each image: by default every need answered with material vouching for one
/// digest (the pinned one, if the image pins one); the control bytes may drop or add entries,
/// fail them, or pick disagreeing digests. Simple and cosign material carries no signature
/// (the fixed policies' keys are not real): it never vouches.
fn evidence(u: &mut Unstructured<'_>, images: &[ImagePlan]) -> Vec<Vec<Gathered>> {
    images
        .iter()
        .map(|image| {
            let Assessment::Needs(requirements) = &image.assessment else {
                return Vec::new();
            };
            let own = requirements.image.digest().cloned();
            let control = input::byte(u, 0);
            let count = match control >> 6 {
                0..=2 => requirements.needs.len(),
                _ => usize::from(control & 3),
            };
            (0..count)
                .map(|j| {
                    let digest = match input::byte(u, 0) {
                        0..=199 => own.clone().unwrap_or_else(|| input::digest(0)),
                        200..=229 => input::digest(usize::from(input::byte(u, 0))),
                        230..=249 => return Ok(Material::Trust(Err("forged".to_string()))),
                        _ => return Err(FetchFailure::new(Cause::Timeout, String::new())),
                    };
                    Ok(material(requirements.needs.get(j), digest))
                })
                .collect()
        })
        .collect()
}

/// The material a need asks for, naming `digest`.
fn material(need: Option<&Need>, digest: Digest) -> Material {
    match need {
        Some(Need::TagDigest) => Material::TagDigest(digest),
        Some(Need::Simple(_)) => Material::Simple {
            digest,
            signatures: Vec::new().into(),
        },
        Some(Need::Cosign(_)) => Material::Cosign {
            digest,
            signatures: Vec::new().into(),
        },
        _ => Material::Trust(Ok(digest)),
    }
}

/// The digest `gathered` vouches for as the answer to `need`: Notary's verified target or the
/// tag's digest, each only for its own need.
fn vouches<'a>(need: &Need, gathered: &'a Gathered) -> Option<&'a Digest> {
    match (need, gathered) {
        (Need::Trust(_), Ok(Material::Trust(Ok(digest)))) => Some(digest),
        (Need::TagDigest, Ok(Material::TagDigest(digest))) => Some(digest),
        _ => None,
    }
}

/// The model: allow iff every image is allowed — decided so, or every need met with one
/// digest that is the image's own if it pins one; then exactly the pins of mutating images.
fn check_decision(
    request: &Request,
    object: &Value,
    images: &[ImagePlan],
    evidence: &[Vec<Gathered>],
    decision: &Decision,
) {
    let mut allow = true;
    let mut patch = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let (digest, mutate): (Option<Digest>, bool) = match &image.assessment {
            Assessment::Decided(Verdict::Deny(reasons)) => {
                assert!(!reasons.is_empty(), "a deny without a reason");
                allow = false;
                continue;
            }
            Assessment::Decided(Verdict::Allow { digest, mutate, .. }) => (digest.clone(), *mutate),
            Assessment::Needs(requirements) => {
                let given = &evidence[i];
                let digests: Vec<&Digest> = (requirements.needs.iter().zip(given))
                    .filter_map(|(need, g)| vouches(need, g))
                    .collect();
                let met = given.len() == requirements.needs.len()
                    && digests.len() == given.len()
                    && digests.windows(2).all(|w| w[0] == w[1])
                    && requirements
                        .image
                        .digest()
                        .is_none_or(|own| digests.iter().all(|d| *d == own));
                if !met {
                    allow = false;
                    continue;
                }
                (Some(digests[0].clone()), requirements.mutate)
            }
        };
        if let (Some(digest), true) = (digest, mutate) {
            for &s in &image.sites {
                let site = &request.sites[s];
                let pinned = ImageRef::parse(&site.image)
                    .expect("an allowed image parses")
                    .pinned(&digest);
                if pinned != site.image {
                    patch.push(Replace {
                        path: site.pointer.clone(),
                        value: pinned,
                    });
                }
            }
        }
    }
    match decision {
        Decision::Allow { patch: got, .. } => {
            assert!(
                allow,
                "allowed although an image is denied or its evidence failed"
            );
            let mut want = patch;
            let mut got_sorted = got.clone();
            want.sort_by(|a, b| a.path.cmp(&b.path));
            got_sorted.sort_by(|a, b| a.path.cmp(&b.path));
            assert_eq!(
                got_sorted, want,
                "the patch is not the pins of the mutating images"
            );
            if !got.is_empty() {
                admission::apply(object, got, &request.sites);
            }
        }
        Decision::Deny { reasons } => {
            assert!(
                !allow,
                "denied although every image is allowed: {reasons:?}"
            );
            assert!(!reasons.is_empty(), "a deny without a reason");
            assert!(
                reasons.windows(2).all(|w| w[0].text < w[1].text),
                "reasons not sorted or repeated"
            );
            assert!(
                reasons.iter().all(|r| r.text.starts_with("Deny \"")),
                "reason names no image"
            );
        }
    }
}
