//! The cosign need of a policy whose `cosign.format` is `sig`: its key requirements with key
//! Secrets resolved. (Bundles, `format: bundle`, are the `sigstore` folder's need.)

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{CosignKey, CosignNeed};
use crate::policy::secrets::{SecretScope, field, find, key_namespace};
use crate::policy::{Cosign, CosignFormat, CosignRequirement, Policy, PolicySet, Secret};
use crate::reason::Reason;
use crate::reference::ImageRef;

/// Secret data keys that may hold the PEM public key, in the order they are looked up:
/// `cosign.pub` (the file `cosign generate-key-pair` writes, as
/// `kubectl create secret generic --from-file=cosign.pub` names it) and `key`.
pub const KEY_FIELDS: [&str; 2] = ["cosign.pub", "key"];

/// `None` when the policy has no `cosign`; otherwise the need, or every reason it cannot be
/// built (no requirement, a missing Secret, a bad repository), each a deny.
pub fn need(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<Option<CosignNeed>, Vec<Reason>> {
    let Some(cosign) = &policy.cosign else {
        return Ok(None);
    };
    let mut reasons = shape(cosign);
    if cosign.format() == CosignFormat::Bundle && reasons.is_empty() {
        return Ok(None); // the sigstore folder's need
    }
    let mut keys = Vec::new();
    for requirement in &cosign.requirements {
        if requirement.keyless.is_some() {
            continue; // said by `shape`
        }
        match key(requirement, secrets, policies) {
            Ok(key) => keys.push(key),
            Err(why) => reasons.push(why),
        }
    }
    let repository = repository(cosign).unwrap_or_else(|why| {
        reasons.push(why);
        None
    });
    if reasons.is_empty() {
        Ok(Some(CosignNeed {
            keys,
            repository,
            remap: cosign.remap_identity.clone(),
        }))
    } else {
        // All of them the policy's: its text or its Secrets.
        Err(reasons.into_iter().map(Reason::policy).collect())
    }
}

/// Whether the policy's own `cosign` is wrong (no requirement, one that is neither a key nor
/// keyless or both, a keyless one read from `.sig` tags, a repository that is not one): like a
/// broken simple requirement, no warn mode softens it.
pub fn broken(policy: &Policy) -> bool {
    policy
        .cosign
        .as_ref()
        .is_some_and(|cosign| !shape(cosign).is_empty() || repository(cosign).is_err())
}

/// What is wrong with the requirements as written, whatever the Secrets hold.
pub(crate) fn shape(cosign: &Cosign) -> Vec<String> {
    let mut reasons = Vec::new();
    if cosign.requirements.is_empty() {
        // `cosign: {}` reads like "check cosign", so it must not admit unchecked.
        reasons.push(String::from("cosign has no requirements"));
    }
    for (n, requirement) in cosign.requirements.iter().enumerate() {
        let n = n + 1;
        match (requirement.key_secret.is_empty(), &requirement.keyless) {
            (true, None) => reasons.push(format!(
                "cosign requirement {n} has neither keySecret nor keyless"
            )),
            (false, Some(_)) => reasons.push(format!(
                "cosign requirement {n} has both keySecret and keyless; write one per requirement"
            )),
            (true, Some(keyless)) => {
                if keyless.identities.is_empty() {
                    reasons.push(format!(
                        "cosign requirement {n} is keyless with no identities (it would accept anyone)"
                    ));
                }
                if cosign.format() == CosignFormat::Sig {
                    reasons.push(format!(
                        "cosign requirement {n} is keyless, which is read from bundles: \
                         remove \"format: sig\""
                    ));
                }
            }
            (false, None) => {}
        }
    }
    reasons
}

pub(crate) fn key(
    requirement: &CosignRequirement,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<CosignKey, String> {
    let asked = &requirement.key_secret_namespace;
    let key_namespace = key_namespace(asked, secrets, "cosign")?;
    let secret = find(
        policies,
        key_namespace,
        &requirement.key_secret,
        "cosign key",
    )?;
    let pem = public_key(secret)?;
    Ok(CosignKey {
        key_secret: format!("{key_namespace}/{}", requirement.key_secret),
        public_key_pem: pem,
    })
}

/// The first of [`KEY_FIELDS`] the Secret has, as text.
fn public_key(secret: &Secret) -> Result<String, String> {
    let present = KEY_FIELDS
        .iter()
        .find(|k| secret.data.get(**k).is_some_and(|v| !v.is_empty()));
    let name = present.copied().unwrap_or(KEY_FIELDS[0]);
    let bytes = field(secret, name).map_err(|_| {
        format!(
            "cosign key Secret \"{}/{}\" has neither \"cosign.pub\" nor \"key\"",
            secret.namespace, secret.name
        )
    })?;
    core::str::from_utf8(bytes).map(String::from).map_err(|_| {
        format!(
            "cosign key Secret \"{}/{}\" \"{name}\" is not UTF-8 PEM",
            secret.namespace, secret.name
        )
    })
}

/// `cosign.repository`: a repository name without tag or digest.
pub(crate) fn repository(cosign: &Cosign) -> Result<Option<ImageRef>, String> {
    let text = cosign.repository.as_str();
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = |why: &str| format!("cosign repository \"{text}\" is invalid: {why}");
    let parsed = ImageRef::parse(text).map_err(|e| invalid(&format!("{e}")))?;
    // A tag sits after the last `/` (a `:` before it is a registry port).
    let tagged = text
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    if parsed.digest().is_some() || tagged {
        return Err(invalid("a repository has no tag or digest"));
    }
    Ok(Some(parsed))
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use serde_json::{Value, json};

    use super::*;
    use crate::admission::{Options, Request};
    use crate::evidence::Need;
    use crate::policy::Resource;
    use crate::verdict::{Assessment, Plan, plan};

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n";

    fn set(policy: Value, secrets: &[(&str, Value)]) -> PolicySet {
        let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
            "metadata": {"name": "cluster"}, "spec": {"repositories": [{"name": "icr.io/*", "policy": policy}]}});
        let secrets = secrets.iter().map(|(name, data)| {
            let object = json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": "portieris"}, "stringData": data});
            Resource::from_value(&object).expect("secret")
        });
        PolicySet::new(secrets.chain([Resource::from_value(&object).expect("policy")]))
    }

    fn assess(set: &PolicySet, options: &Options) -> Assessment {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "team",
            "operation": "CREATE", "object": {"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "icr.io/team/app:1"}]}}}});
        let bytes = serde_json::to_vec(&review).expect("json");
        let request = Request::parse(&bytes, options).expect("valid");
        match plan(&request, set, options) {
            Plan::Images(mut images) => images.remove(0).assessment,
            Plan::Final(d) => panic!("unexpected final decision {d:?}"),
        }
    }

    fn denial(set: &PolicySet, options: &Options) -> String {
        match assess(set, options) {
            Assessment::Decided(crate::verdict::Verdict::Deny(why)) => why
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            other => panic!("expected a deny, got {other:?}"),
        }
    }

    #[test]
    fn cosign_needs_carry_every_key_and_the_signature_repository() {
        let policy = json!({"trust": {"enabled": true}, "cosign": {
            "requirements": [{"keySecret": "alice"}, {"keySecret": "bob"}],
            "repository": "registry.example:5000/team/signatures"}});
        let secrets = [
            ("alice", json!({"cosign.pub": PEM})),
            ("bob", json!({"key": PEM})),
        ];
        let Assessment::Needs(requirements) = assess(&set(policy, &secrets), &Options::default())
        else {
            panic!("needs")
        };
        let kinds: Vec<bool> = requirements
            .needs
            .iter()
            .map(|n| matches!(n, Need::Cosign(_)))
            .collect();
        assert_eq!(kinds, vec![true, false], "cosign, then trust");
        let Need::Cosign(need) = &requirements.needs[0] else {
            panic!("a cosign need")
        };
        let secrets: Vec<&str> = need.keys.iter().map(|k| k.key_secret.as_str()).collect();
        assert_eq!(secrets, ["portieris/alice", "portieris/bob"]);
        assert!(need.keys.iter().all(|k| k.public_key_pem == PEM));
        let repository = need.repository.as_ref().map(ImageRef::name);
        assert_eq!(
            repository.as_deref(),
            Some("registry.example:5000/team/signatures")
        );
    }

    #[test]
    fn each_requirement_is_a_key_or_keyless_and_keyless_reads_bundles() {
        let defaults = Options::default();
        let neither = set(json!({"cosign": {"requirements": [{}]}}), &[]);
        let why = denial(&neither, &defaults);
        assert!(
            why.contains("requirement 1 has neither keySecret nor keyless"),
            "{why}"
        );
        let id = json!({"identities": [{"issuer": "https://issuer", "subject": "me@example.com"}]});
        let both = set(
            json!({"cosign": {"requirements": [{"keySecret": "k", "keyless": id}]}}),
            &[("k", json!({"cosign.pub": PEM}))],
        );
        let why = denial(&both, &defaults);
        assert!(
            why.contains("requirement 1 has both keySecret and keyless"),
            "{why}"
        );
        let sig = set(
            json!({"cosign": {"format": "sig", "requirements": [{"keyless": id}]}}),
            &[],
        );
        let why = denial(&sig, &defaults);
        assert!(
            why.contains("requirement 1 is keyless, which is read from bundles"),
            "{why}"
        );
        let nobody = set(
            json!({"cosign": {"requirements": [{"keyless": {"identities": []}}]}}),
            &[],
        );
        let why = denial(&nobody, &defaults);
        assert!(
            why.contains("keyless with no identities (it would accept anyone)"),
            "{why}"
        );
    }

    #[test]
    fn a_policy_reading_bundles_has_no_sig_need() {
        let policy = json!({"cosign": {"format": "bundle", "requirements": [{"keySecret": "k"}]}});
        let Some(cosign) = serde_json::from_value::<Policy>(policy)
            .expect("policy")
            .cosign
        else {
            panic!("cosign")
        };
        assert_eq!(cosign.format(), CosignFormat::Bundle);
        let keyless = json!({"requirements": [{"keyless": {"identities": [{"issuer": "i", "subject": "s"}]}}]});
        let keyless: Cosign = serde_json::from_value(keyless).expect("cosign");
        assert_eq!(
            keyless.format(),
            CosignFormat::Bundle,
            "keyless defaults to bundles"
        );
        let keyed: Cosign =
            serde_json::from_value(json!({"requirements": [{"keySecret": "k"}]})).expect("cosign");
        assert_eq!(
            keyed.format(),
            CosignFormat::Sig,
            "old policies keep reading .sig tags"
        );
    }

    #[test]
    fn a_cosign_policy_that_cannot_be_checked_denies_saying_why() {
        let defaults = Options::default();
        let empty = set(json!({"cosign": {}}), &[]);
        assert!(denial(&empty, &defaults).contains("cosign has no requirements"));
        let missing = set(
            json!({"cosign": {"requirements": [{"keySecret": "k"}]}}),
            &[],
        );
        let why = denial(&missing, &defaults);
        assert!(
            why.contains("cosign key Secret \"portieris/k\" not found"),
            "{why}"
        );
        let keyless = set(
            json!({"cosign": {"requirements": [{"keySecret": "k"}]}}),
            &[("k", json!({"other": "x"}))],
        );
        let why = denial(&keyless, &defaults);
        assert!(
            why.contains("has neither \"cosign.pub\" nor \"key\""),
            "{why}"
        );
        let tagged = set(
            json!({"cosign": {"requirements": [{"keySecret": "k"}], "repository": "icr.io/sigs:v1"}}),
            &[("k", json!({"key": PEM}))],
        );
        let why = denial(&tagged, &defaults);
        assert!(
            why.contains("cosign repository \"icr.io/sigs:v1\" is invalid"),
            "{why}"
        );
    }

    #[test]
    fn only_a_cosign_section_that_cannot_mean_anything_is_broken() {
        let policy = |cosign: Value| -> Policy {
            serde_json::from_value(json!({ "cosign": cosign })).expect("policy")
        };
        assert!(!broken(&Policy::default()), "no cosign section");
        let sound = policy(json!({"requirements": [{"keySecret": "k"}]}));
        assert!(!broken(&sound), "a missing Secret is not the policy's text");
        for wrong in [
            json!({}),
            json!({"requirements": [{"keySecret": ""}]}),
            json!({"requirements": [{"keySecret": "k"}], "repository": "icr.io/sigs@sha256:0"}),
        ] {
            assert!(broken(&policy(wrong.clone())), "{wrong}");
        }
    }

    #[test]
    fn unknown_cosign_fields_make_the_policy_invalid() {
        for cosign in [
            json!({"requirements": [{"keySecret": "k", "keySecretNamspace": "x"}]}),
            json!({"requirements": [], "repo": "icr.io/sigs"}),
        ] {
            let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
                "metadata": {"name": "cluster"},
                "spec": {"repositories": [{"name": "*", "policy": {"cosign": cosign}}]}});
            let Ok(Resource::ClusterImagePolicy { spec, .. }) = Resource::from_value(&object)
            else {
                panic!("a cluster policy")
            };
            let why = spec.expect_err("unknown field refused");
            assert!(why.contains("unknown field"), "{why}");
        }
    }

    #[test]
    fn a_key_from_another_namespace_needs_the_cross_namespace_option_under_the_legacy_lookup() {
        let policy =
            json!({"cosign": {"requirements": [{"keySecret": "k", "keySecretNamespace": "keys"}]}});
        let legacy = Options {
            cluster_secrets_in_workload_namespace: true,
            ..Options::default()
        };
        let why = denial(&set(policy.clone(), &[]), &legacy);
        assert!(
            why.contains("cosign keySecretNamespace \"keys\" is not allowed"),
            "{why}"
        );
        let allowed = Options {
            allow_cross_namespace_keys: true,
            ..legacy
        };
        let why = denial(&set(policy, &[]), &allowed);
        assert!(
            why.contains("cosign key Secret \"keys/k\" not found"),
            "{why}"
        );
    }
}
