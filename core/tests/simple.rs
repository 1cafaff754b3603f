//! Simple signing over vectors made by gpg and skopeo (fixtures/simple/regen.sh): identity
//! rules, keys that may not sign, digests and repositories that are not the image's.
#![cfg(feature = "openpgp")]

use std::time::{SystemTime, UNIX_EPOCH};

use portieris_core::evidence::{SignedBy, SimpleNeed};
use portieris_core::policy::SignedIdentity;
use portieris_core::simple::IdentityRule;
use portieris_core::simple::openpgp::{Keyring, evaluate, verify};
use portieris_core::time::UnixTime;
use portieris_core::{Digest, ImageRef};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/simple");
const IMAGE: &str = "127.0.0.1:5000/test/signed:v1";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key(name: &str) -> Vec<u8> {
    read(&format!("keys/{name}.asc"))
}

fn sig(name: &str) -> Vec<u8> {
    read(&format!("sigs/{name}"))
}

fn digest(which: &str) -> Digest {
    let text = String::from_utf8(read("digests.txt")).expect("utf-8");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{which} ")))
        .expect("digest listed");
    Digest::parse(line).expect("digest")
}

fn fingerprint(name: &str) -> String {
    let text = String::from_utf8(read("fingerprints.txt")).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .expect("fingerprint listed")
        .into()
}

fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
}

fn rule(kind: &str, configure: impl FnOnce(&mut SignedIdentity)) -> IdentityRule {
    let mut identity = SignedIdentity {
        kind: kind.into(),
        ..SignedIdentity::default()
    };
    configure(&mut identity);
    IdentityRule::from_policy(&identity).expect("valid rule")
}

fn signed_by(keyring: &str, identity: IdentityRule) -> SignedBy {
    SignedBy {
        key_secret: format!("ns/{keyring}"),
        keyring: key(keyring),
        identity,
    }
}

fn judge(requirements: Vec<SignedBy>, image: &str, sigs: &[&str]) -> Result<Digest, String> {
    let need = SimpleNeed {
        requirements,
        store_url: None,
        store_auth: None,
    };
    let signatures: Vec<Vec<u8>> = sigs.iter().map(|s| sig(s)).collect();
    let image = ImageRef::parse(image).expect("image");
    evaluate(&need, &image, &digest("image"), &signatures, now()).map_err(|r| r.text)
}

fn default_rule() -> IdentityRule {
    rule("", |_| {})
}

#[test]
fn skopeo_signature_with_the_right_key_identity_and_digest_is_admitted() {
    let got = judge(
        vec![signed_by("rsa", default_rule())],
        IMAGE,
        &["rsa-right.sig"],
    );
    assert_eq!(got, Ok(digest("image")));
}

#[test]
fn armoured_and_uncompressed_messages_and_binary_keyrings_verify() {
    for s in ["rsa-right.asc", "rsa-right.raw"] {
        let got = judge(vec![signed_by("rsa", default_rule())], IMAGE, &[s]);
        assert_eq!(got, Ok(digest("image")), "{s}");
    }
    let keyring = Keyring::parse(&read("keys/rsa.gpg")).expect("binary keyring");
    let verified = verify(&keyring, &sig("rsa-right.sig"), now()).expect("verifies");
    assert_eq!(verified.signer, fingerprint("rsa"));
}

#[test]
fn a_signing_subkey_verifies_for_its_primary_key() {
    let got = judge(
        vec![signed_by("subkey", default_rule())],
        IMAGE,
        &["subkey-right.sig"],
    );
    assert_eq!(got, Ok(digest("image")));
}

#[test]
fn any_key_of_a_keyring_may_sign() {
    let got = judge(
        vec![signed_by("rsa-and-other", default_rule())],
        IMAGE,
        &["other-right.sig"],
    );
    assert_eq!(got, Ok(digest("image")));
}

#[test]
fn a_message_signed_by_two_keys_verifies_with_either() {
    for keyring in ["rsa", "other"] {
        let got = judge(
            vec![signed_by(keyring, default_rule())],
            IMAGE,
            &["two-signers.sig"],
        );
        assert_eq!(got, Ok(digest("image")), "{keyring}");
    }
}

#[test]
fn a_signature_by_another_key_is_refused_naming_the_signer() {
    let why = judge(
        vec![signed_by("rsa", default_rule())],
        IMAGE,
        &["other-right.sig"],
    )
    .expect_err("wrong key");
    assert!(why.contains(&fingerprint("other")), "{why}");
    assert!(why.contains("not a key of the keyring"), "{why}");
}

#[test]
fn every_required_key_must_have_signed() {
    let both = vec![
        signed_by("rsa", default_rule()),
        signed_by("other", default_rule()),
    ];
    let why = judge(both.clone(), IMAGE, &["rsa-right.sig"]).expect_err("other missing");
    assert!(why.contains("ns/other") && !why.contains("ns/rsa"), "{why}");
    let got = judge(both, IMAGE, &["rsa-right.sig", "other-right.sig"]);
    assert_eq!(got, Ok(digest("image")));
}

#[test]
fn an_expired_key_is_refused() {
    let why = judge(
        vec![signed_by("expired", default_rule())],
        IMAGE,
        &["expired-right.sig"],
    )
    .expect_err("expired");
    assert!(
        why.contains(&fingerprint("expired")) && why.contains("expired at"),
        "{why}"
    );
}

#[test]
fn a_revoked_signing_subkey_is_refused() {
    let why = judge(
        vec![signed_by("revoked", default_rule())],
        IMAGE,
        &["revoked-right.sig"],
    )
    .expect_err("revoked");
    assert!(why.contains("is revoked"), "{why}");
}

#[test]
fn a_key_without_a_signing_capability_is_not_usable() {
    let keyring = Keyring::parse(&key("nosign")).expect("keyring");
    let why = verify(&keyring, &sig("rsa-right.sig"), now()).expect_err("no signer");
    assert!(
        why.to_string().contains("not a key of the keyring"),
        "{why}"
    );
}

#[test]
fn a_signature_from_the_future_is_refused() {
    let keyring = Keyring::parse(&key("rsa")).expect("keyring");
    let why = verify(&keyring, &sig("rsa-right.sig"), UnixTime(1_000_000_000)).expect_err("future");
    assert!(why.to_string().contains("in the future"), "{why}");
}

#[test]
fn a_signature_for_another_digest_is_refused_with_both_digests() {
    let why = judge(
        vec![signed_by("rsa", default_rule())],
        IMAGE,
        &["rsa-other-digest.sig"],
    )
    .expect_err("other digest");
    let (signed, expected) = (digest("other").to_string(), digest("image").to_string());
    assert!(why.contains(&signed) && why.contains(&expected), "{why}");
}

#[test]
fn a_signature_for_another_repository_is_refused() {
    let why = judge(
        vec![signed_by("rsa", default_rule())],
        IMAGE,
        &["rsa-other-repo.sig"],
    )
    .expect_err("other repo");
    assert!(why.contains("127.0.0.1:5000/test/other:v1"), "{why}");
}

#[test]
fn corrupt_bytes_are_refused() {
    let why = judge(
        vec![signed_by("rsa", default_rule())],
        IMAGE,
        &["corrupt.raw"],
    )
    .expect_err("corrupt");
    assert!(why.contains("signature 1"), "{why}");
    let keyring = Keyring::parse(&key("rsa")).expect("keyring");
    for garbage in [&b""[..], b"not pgp", &[0xff; 300]] {
        assert!(verify(&keyring, garbage, now()).is_err());
    }
    assert!(Keyring::parse(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx").is_err());
}

#[test]
fn no_signatures_is_a_deny() {
    let why = judge(vec![signed_by("rsa", default_rule())], IMAGE, &[]).expect_err("none");
    assert!(why.contains("no simple signatures"), "{why}");
}

#[test]
fn one_good_signature_among_bad_ones_meets_the_requirement() {
    let got = judge(
        vec![signed_by("rsa", default_rule())],
        IMAGE,
        &["corrupt.raw", "rsa-other-repo.sig", "rsa-right.sig"],
    );
    assert_eq!(got, Ok(digest("image")));
}

/// (rule, image the pod names, signature, admitted?)
#[test]
fn identity_rules_follow_containers_image() {
    let pinned = format!("127.0.0.1:5000/test/signed@{}", digest("image"));
    let exact_ref = |r: &str| {
        let r = r.to_string();
        rule("exactReference", move |i| i.docker_reference = r)
    };
    let cases: Vec<(IdentityRule, &str, &str, bool)> = vec![
        (default_rule(), IMAGE, "rsa-right.sig", true),
        (
            default_rule(),
            "127.0.0.1:5000/test/signed:v2",
            "rsa-right.sig",
            false,
        ),
        (default_rule(), &pinned, "rsa-other-tag.sig", true),
        (rule("matchExact", |_| {}), IMAGE, "rsa-right.sig", true),
        (rule("matchExact", |_| {}), &pinned, "rsa-right.sig", false),
        (
            rule("matchRepository", |_| {}),
            "127.0.0.1:5000/test/signed:v9",
            "rsa-other-tag.sig",
            true,
        ),
        (
            rule("matchRepository", |_| {}),
            IMAGE,
            "rsa-other-repo.sig",
            false,
        ),
        (
            exact_ref("127.0.0.1:5000/test/other:v1"),
            IMAGE,
            "rsa-other-repo.sig",
            true,
        ),
        (
            exact_ref("127.0.0.1:5000/test/other:v1"),
            IMAGE,
            "rsa-right.sig",
            false,
        ),
        (
            rule("matchExactRepository", |i| {
                i.docker_repository = "127.0.0.1:5000/test/other".into()
            }),
            IMAGE,
            "rsa-other-repo.sig",
            true,
        ),
        (
            rule("exactRepository", |i| {
                i.docker_repository = "127.0.0.1:5000/test/other".into()
            }),
            IMAGE,
            "rsa-right.sig",
            false,
        ),
    ];
    for (n, (identity, image, signature, admitted)) in cases.into_iter().enumerate() {
        let got = judge(
            vec![signed_by("rsa", identity.clone())],
            image,
            &[signature],
        );
        assert_eq!(
            got.is_ok(),
            admitted,
            "case {n}: {identity:?} {image} {signature}: {got:?}"
        );
    }
}

#[test]
fn remap_identity_checks_a_mirror_as_the_signed_original() {
    let remap = |prefix: &str| {
        let prefix = prefix.to_string();
        rule("remapIdentity", move |i| {
            i.prefix = prefix;
            i.signed_prefix = "registry.example.com/mirror".into();
        })
    };
    let got = judge(
        vec![signed_by("rsa", remap("127.0.0.1:5000/test"))],
        IMAGE,
        &["rsa-mirror.sig"],
    );
    assert_eq!(got, Ok(digest("image")));
    // Without the remap the mirror's signature names another repository.
    assert!(
        judge(
            vec![signed_by("rsa", default_rule())],
            IMAGE,
            &["rsa-mirror.sig"]
        )
        .is_err()
    );
    // A prefix that is not on a path boundary does not apply.
    let partial = judge(
        vec![signed_by("rsa", remap("127.0.0.1:5000/tes"))],
        IMAGE,
        &["rsa-mirror.sig"],
    );
    assert!(partial.is_err());
    // An image outside the prefix is checked as itself.
    let outside = judge(
        vec![signed_by("rsa", remap("quay.io/x"))],
        IMAGE,
        &["rsa-right.sig"],
    );
    assert_eq!(outside, Ok(digest("image")));
}

#[test]
fn identity_rules_need_their_fields_and_known_types() {
    for (kind, expected) in [
        ("exactReference", "dockerReference"),
        ("matchExactRepository", "dockerRepository"),
        ("remapIdentity", "prefix"),
        ("matchSomething", "unknown signedIdentity type"),
    ] {
        let identity = SignedIdentity {
            kind: kind.into(),
            ..SignedIdentity::default()
        };
        let why = IdentityRule::from_policy(&identity)
            .expect_err(kind)
            .to_string();
        assert!(why.contains(expected), "{kind}: {why}");
    }
}

mod policy {
    use portieris_core::Digest;
    use portieris_core::evidence::{Cause, FetchFailure, Gathered, Material, Need};
    use portieris_core::policy::Resource;
    use portieris_core::reason::Class;
    use portieris_core::verdict::{Assessment, ImagePlan, Plan};
    use portieris_core::{Decision, Options, PolicySet, Request, finish, plan};
    use serde_json::json;

    /// A cluster policy needing Notary trust and a simple signature whose key Secret lives in
    /// `key_namespace`; the key Secret exists in both "team" and "keys".
    fn set(key_namespace: &str) -> PolicySet {
        let policy = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
            "metadata": {"name": "cluster"}, "spec": {"repositories": [{"name": "127.0.0.1:5000/*",
            "policy": {"trust": {"enabled": true}, "simple": {"requirements": [{"type": "signedBy",
            "keySecret": "k", "keySecretNamespace": key_namespace}]}}}]}});
        let secret = |ns: &str| {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": ns},
                "stringData": {"key": String::from_utf8(super::key("rsa")).expect("armoured")}})
        };
        PolicySet::new(
            [policy, secret("team"), secret("keys")]
                .iter()
                .map(|o| Resource::from_value(o).expect("resource")),
        )
    }

    fn request() -> Request {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "namespace": "team", "operation": "CREATE", "object": {"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": super::IMAGE}]}}}});
        Request::parse(
            &serde_json::to_vec(&review).expect("json"),
            &Options::default(),
        )
        .expect("valid")
    }

    fn images(set: &PolicySet, options: &Options) -> Vec<ImagePlan> {
        match plan(&request(), set, options) {
            Plan::Images(images) => images,
            Plan::Final(decision) => panic!("{decision:?}"),
        }
    }

    fn needs(images: &[ImagePlan]) -> Vec<Need> {
        match &images[0].assessment {
            Assessment::Needs(requirements) => requirements.needs.clone(),
            Assessment::Decided(verdict) => panic!("{verdict:?}"),
        }
    }

    #[test]
    fn a_cluster_policy_may_name_its_key_namespace_which_the_legacy_lookup_needs_the_option_for() {
        let set = set("keys");
        let Need::Simple(simple) = &needs(&images(&set, &Options::default()))[0] else {
            panic!("a simple need")
        };
        assert_eq!(simple.requirements[0].key_secret, "keys/k");
        let legacy = Options {
            cluster_secrets_in_workload_namespace: true,
            ..Options::default()
        };
        let Assessment::Decided(verdict) = &images(&set, &legacy)[0].assessment else {
            panic!("denied without evidence")
        };
        assert!(format!("{verdict:?}").contains("keySecretNamespace \\\"keys\\\" is not allowed"));
        let allowed = Options {
            allow_cross_namespace_keys: true,
            ..legacy
        };
        let Need::Simple(simple) = &needs(&images(&set, &allowed))[0] else {
            panic!("a simple need")
        };
        assert_eq!(simple.requirements[0].key_secret, "keys/k");
    }

    #[test]
    fn trust_and_simple_must_both_pass_and_agree_on_the_digest() {
        let set = set("team");
        let images = images(&set, &Options::default());
        let needs = needs(&images);
        assert!(
            matches!(needs[..], [Need::Simple(_), Need::Trust(_)]),
            "{needs:?}"
        );
        let d = super::digest("image");
        let other = super::digest("other");
        // Real material: skopeo's signature of the image, verified by the core in `finish`.
        let simple = |digest: &Digest, sig: &str| -> Gathered {
            Ok(Material::Simple {
                digest: digest.clone(),
                signatures: vec![super::sig(sig)].into(),
            })
        };
        let trust = |digest: &Digest| -> Gathered { Ok(Material::Trust(Ok(digest.clone()))) };
        let decide =
            |evidence: Vec<Gathered>| finish(&request(), &images, &[evidence], super::now());
        let agreed = decide(vec![simple(&d, "rsa-right.sig"), trust(&d)]);
        assert!(agreed.is_allow(), "{agreed:?}");
        let Decision::Deny { reasons } = decide(vec![simple(&d, "rsa-right.sig"), trust(&other)])
        else {
            panic!("disagreeing digests deny")
        };
        assert!(reasons[0].text.contains("disagree"), "{reasons:?}");
        assert_eq!(reasons[0].class, Class::Refused);
        // The signature names `d`: for another manifest digest it is refused.
        let refused = decide(vec![simple(&other, "rsa-right.sig"), trust(&other)]);
        assert_eq!(refused.class(), Some(Class::Refused), "{refused:?}");
        // A store that could not be read is not a refusal of the image.
        let timeout = FetchFailure::new(Cause::Timeout, "https://store/x: timed out");
        let failed = decide(vec![Err(timeout), trust(&d)]);
        let Decision::Deny { reasons } = &failed else {
            panic!("an unread store denies")
        };
        assert_eq!(reasons[0].class, Class::Unverifiable, "{reasons:?}");
        assert!(
            reasons[0]
                .text
                .contains("simple signing: https://store/x: timed out"),
            "{reasons:?}"
        );
    }
}
