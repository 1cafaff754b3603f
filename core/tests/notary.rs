//! Notary verification over metadata a real notary-server 0.7.0 served
//! (`tests/fixtures/notary/`, made by its `regen.sh`; see its README for the cases).

extern crate alloc;

use alloc::collections::BTreeMap;

use portieris_core::notary::canonical_json::canonicalize;
use portieris_core::notary::{NotaryError, Signer, TargetRef, Trusted, key_id, pem_key_id};
use portieris_core::reference::Digest;
use portieris_core::time::UnixTime;
use serde_json::Value;

const CASES: [&str; 5] = ["signed", "signers", "onesigner", "toplevel", "rotated"];

#[path = "common/notary_case.rs"]
mod notary_case;

use notary_case::{Case, read, seconds};

impl Case {
    fn tags(&self) -> Vec<(String, Value)> {
        let tags = self.expected["tags"].as_object().expect("tags");
        tags.iter().map(|(t, v)| (t.clone(), v.clone())).collect()
    }

    fn digest(&self, tag: &str) -> Digest {
        let text = self.expected["tags"][tag]["digest"]
            .as_str()
            .expect("digest");
        Digest::parse(text).expect("digest")
    }
}

fn tag(name: &str) -> TargetRef {
    TargetRef::Tag(name.into())
}

/// Flips the first occurrence of `from` to `to` in `bytes`.
fn replace(bytes: &mut Vec<u8>, from: &str, to: &str) {
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    assert!(text.contains(from), "{from} not found");
    *bytes = text.replacen(from, to, 1).into_bytes();
}

#[test]
fn every_signed_tag_verifies_to_the_registry_digest() {
    for name in CASES {
        let case = Case::load(name);
        for (tag_name, info) in case.tags() {
            let verified = case.verify(&tag(&tag_name), &[]).expect(name);
            assert_eq!(verified.digest, case.digest(&tag_name), "{name} {tag_name}");
            assert_eq!(verified.length, info["length"].as_u64().expect("length"));
            // The manifest bytes the registry serves hash to the signed digest.
            let manifest = read(&case.dir.join(info["manifest"].as_str().expect("manifest")));
            let sha = <sha2::Sha256 as sha2::Digest>::digest(&manifest);
            assert_eq!(verified.digest, Digest::from_sha256(&sha.into()));
            let signed_by: Vec<&str> = info["signed_by"]
                .as_array()
                .expect("signed_by")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let role = verified.roles.first().expect("a role");
            assert!(
                signed_by.contains(&role.as_str()),
                "{name} {tag_name}: {role}"
            );
            let expected_role = if signed_by.contains(&"targets/releases") {
                "targets/releases"
            } else {
                "targets"
            };
            assert_eq!(role, expected_role);
        }
    }
}

#[test]
fn signed_digest_references_verify_in_every_case() {
    for name in CASES {
        let case = Case::load(name);
        for (tag_name, _) in case.tags() {
            let digest = case.digest(&tag_name);
            let verified = case
                .verify(&TargetRef::Digest(digest.clone()), &[])
                .expect(name);
            assert_eq!(verified.digest, digest);
        }
    }
}

#[test]
fn unsigned_tag_and_digest_are_refused() {
    let case = Case::load("signed");
    assert_eq!(
        case.verify(&tag("v3"), &[]).expect_err("unsigned"),
        NotaryError::NotSigned {
            target: "tag v3".into()
        }
    );
    let other = Case::load("toplevel").digest("v1");
    assert_eq!(
        case.verify(&TargetRef::Digest(other.clone()), &[])
            .expect_err("unsigned"),
        NotaryError::NotSigned {
            target: format!("digest {other}")
        }
    );
}

#[test]
fn only_delegated_roles_are_fetched() {
    let signed = Case::load("signed");
    let (_, rounds) = signed
        .run(&tag("v1"), &[], signed.now(), None)
        .expect("signed");
    assert_eq!(rounds, [vec!["targets/releases".to_string()]]);
    let toplevel = Case::load("toplevel");
    let (verified, rounds) = toplevel
        .run(&tag("v1"), &[], toplevel.now(), None)
        .expect("toplevel");
    assert!(rounds.is_empty(), "{rounds:?}");
    assert_eq!(verified.roles, ["targets"]);
}

#[test]
fn pinned_alice_and_bob_are_accepted() {
    let case = Case::load("signers");
    let signers = [case.signer("alice"), case.signer("bob")];
    let (verified, rounds) = case
        .run(&tag("v1"), &signers, case.now(), None)
        .expect("signers");
    assert_eq!(verified.digest, case.digest("v1"));
    assert_eq!(
        verified.roles,
        ["targets/releases", "targets/alice", "targets/bob"]
    );
    assert_eq!(
        rounds,
        [vec![
            "targets/alice".to_string(),
            "targets/bob".to_string(),
            "targets/releases".to_string()
        ]]
    );
    let digest = TargetRef::Digest(case.digest("v1"));
    case.verify(&digest, &signers).expect("digest with signers");
}

#[test]
fn pinned_mallory_is_refused() {
    let case = Case::load("signers");
    let mallory = case.signer("mallory");
    let as_alice = Signer {
        name: "alice".into(),
        ..mallory.clone()
    };
    assert!(matches!(
        case.verify(&tag("v1"), &[as_alice]),
        Err(NotaryError::SignerKeyNotListed { signer, .. }) if signer == "alice"
    ));
    assert_eq!(
        case.verify(&tag("v1"), &[mallory]).expect_err("mallory"),
        NotaryError::SignerNotDelegated {
            signer: "mallory".into()
        }
    );
}

#[test]
fn signer_without_a_delegation_is_refused() {
    let case = Case::load("signed");
    assert_eq!(
        case.verify(&tag("v1"), &[case.signer("alice")])
            .expect_err("not delegated"),
        NotaryError::SignerNotDelegated {
            signer: "alice".into()
        }
    );
}

#[test]
fn one_of_two_signers_did_not_sign() {
    let case = Case::load("onesigner");
    let signers = [case.signer("alice"), case.signer("bob")];
    assert_eq!(
        case.verify(&tag("v1"), &signers).expect_err("bob"),
        NotaryError::SignerDidNotSign {
            signer: "bob".into(),
            target: "tag v1".into()
        }
    );
    assert_eq!(
        case.verify(&tag("v2"), &signers).expect_err("alice"),
        NotaryError::SignerDidNotSign {
            signer: "alice".into(),
            target: "tag v2".into()
        }
    );
    case.verify(&tag("v1"), &signers[..1]).expect("alice alone");
    case.verify(&tag("v2"), &signers[1..]).expect("bob alone");
}

#[test]
fn expired_timestamp_is_refused() {
    let case = Case::load("signers");
    let expiry = seconds(case.expected["earliest_expiry"].as_str().expect("expiry"));
    let (verified, _) = case.run(&tag("v1"), &[], case.now(), None).expect("valid");
    assert_eq!(verified.expires, expiry);
    let later = UnixTime(expiry.0 + 1);
    assert_eq!(
        case.run(&tag("v1"), &[], later, None).expect_err("expired"),
        NotaryError::Expired {
            role: "timestamp".into(),
            expires: expiry,
            now: later
        }
    );
}

#[test]
fn tampered_targets_and_release_bytes_are_refused() {
    let mut case = Case::load("signers");
    replace(&mut case.metadata.targets, "\"version\":3", "\"version\":4");
    assert!(matches!(
        case.verify(&tag("v1"), &[]),
        Err(NotaryError::HashMismatch { role, .. }) if role == "targets"
    ));
    let mut case = Case::load("signers");
    let releases = case
        .served
        .get_mut("targets/releases")
        .and_then(Option::as_mut)
        .expect("releases");
    replace(releases, "\"version\":1", "\"version\":2");
    assert!(matches!(
        case.verify(&tag("v1"), &[]),
        Err(NotaryError::HashMismatch { role, .. }) if role == "targets/releases"
    ));
}

#[test]
fn tampered_root_signature_is_refused() {
    let mut case = Case::load("signed");
    let mut root: Value = serde_json::from_slice(&case.metadata.root).expect("root");
    let sig = root["signatures"][0]["sig"]
        .as_str()
        .expect("sig")
        .to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    root["signatures"][0]["sig"] = Value::String(format!("{flipped}{}", &sig[1..]));
    case.metadata.root = serde_json::to_vec(&root).expect("json");
    assert_eq!(
        case.verify(&tag("v1"), &[]).expect_err("tampered"),
        NotaryError::ThresholdNotMet {
            role: "root".into(),
            valid: 0,
            threshold: 1
        }
    );
}

#[test]
fn root_without_signatures_does_not_meet_its_threshold() {
    let mut case = Case::load("toplevel");
    let mut root: Value = serde_json::from_slice(&case.metadata.root).expect("root");
    root["signatures"] = Value::Array(Vec::new());
    case.metadata.root = serde_json::to_vec(&root).expect("json");
    assert!(matches!(
        case.verify(&tag("v1"), &[]),
        Err(NotaryError::ThresholdNotMet { role, valid: 0, .. }) if role == "root"
    ));
}

#[test]
fn root_for_another_gun_is_refused() {
    let mut case = Case::load("signed");
    let real = case.gun.clone();
    case.gun = "127.0.0.1:25000/test/other".into();
    assert_eq!(
        case.verify(&tag("v1"), &[]).expect_err("gun"),
        NotaryError::GunMismatch {
            common_name: real,
            gun: case.gun.clone()
        }
    );
}

#[test]
fn rotated_root_is_accepted_from_the_pinned_first_root() {
    let case = Case::load("rotated");
    let first = read(&case.dir.join("1.root.json"));
    let pinned = Trusted::pinned_root(&case.gun, &first).expect("pinned");
    assert_eq!(pinned.version("root"), Some(1));
    let (verified, _) = case
        .run(&tag("v1"), &[], case.now(), Some(&pinned))
        .expect("rotation");
    assert_eq!(verified.digest, case.digest("v1"));
    assert_eq!(verified.trusted.version("root"), Some(3));
    // And with the new root trusted, the next check passes too.
    case.run(&tag("v1"), &[], case.now(), Some(&verified.trusted))
        .expect("again");
}

#[test]
fn rotated_root_without_the_old_key_signature_is_refused() {
    let mut case = Case::load("rotated");
    let first = read(&case.dir.join("1.root.json"));
    let pinned = Trusted::pinned_root(&case.gun, &first).expect("pinned");
    let old_key = case.expected["root_versions"]["1.root.json"]["root_keyids"][0]
        .as_str()
        .expect("old key")
        .to_string();
    let mut root: Value = serde_json::from_slice(&case.metadata.root).expect("root");
    if let Some(signatures) = root["signatures"].as_array_mut() {
        signatures.retain(|s| s["keyid"] != old_key.as_str());
    }
    case.metadata.root = serde_json::to_vec(&root).expect("json");
    assert_eq!(
        case.run(&tag("v1"), &[], case.now(), Some(&pinned))
            .expect_err("not cross-signed"),
        NotaryError::RootRotationNotTrusted {
            valid: 0,
            threshold: 1
        }
    );
}

#[test]
fn old_root_is_refused_once_the_new_one_is_trusted() {
    let mut case = Case::load("rotated");
    let trusted = case
        .run(&tag("v1"), &[], case.now(), None)
        .expect("current")
        .0
        .trusted;
    case.metadata.root = read(&case.dir.join("2.root.json"));
    assert!(matches!(
        case.run(&tag("v1"), &[], case.now(), Some(&trusted)),
        Err(NotaryError::RootRotationNotTrusted { valid: 0, .. })
    ));
}

#[test]
fn trusted_state_is_stable_across_checks() {
    let case = Case::load("signers");
    let signers = [case.signer("alice")];
    let (first, _) = case
        .run(&tag("v1"), &signers, case.now(), None)
        .expect("first");
    assert_eq!(first.trusted.gun(), case.gun);
    for role in [
        "root",
        "timestamp",
        "snapshot",
        "targets",
        "targets/releases",
        "targets/alice",
    ] {
        assert_eq!(
            first.trusted.version(role),
            case.expected["roles"][role]["version"].as_u64(),
            "{role}"
        );
    }
    let (second, _) = case
        .run(&tag("v1"), &signers, case.now(), Some(&first.trusted))
        .expect("second");
    assert_eq!(second, first);
}

#[test]
fn key_ids_of_the_real_metadata_are_canonical_ids() {
    let mut checked = BTreeMap::new();
    for name in CASES {
        let case = Case::load(name);
        let mut files = vec![case.metadata.root.clone(), case.metadata.targets.clone()];
        files.extend(case.served.values().flatten().cloned());
        for file in files {
            let file: Value = serde_json::from_slice(&file).expect("json");
            let maps = [
                &file["signed"]["keys"],
                &file["signed"]["delegations"]["keys"],
            ];
            for (id, key) in maps.into_iter().filter_map(Value::as_object).flatten() {
                let keytype = key["keytype"].as_str().expect("keytype");
                let public = base64_decode(key["keyval"]["public"].as_str().expect("public"));
                assert_eq!(&key_id(keytype, &public), id, "{name}: {keytype}");
                *checked.entry(keytype.to_string()).or_insert(0) += 1;
            }
        }
        for (signer, info) in case.expected["signers"].as_object().expect("signers") {
            let pem = case.signer(signer).public_key_pem;
            assert_eq!(
                pem_key_id(&pem).as_deref(),
                Ok(info["keyid"].as_str().expect("keyid")),
                "{name}: {signer}"
            );
        }
    }
    for keytype in ["ecdsa", "ecdsa-x509", "rsa-x509"] {
        assert!(
            checked.contains_key(keytype),
            "no {keytype} key: {checked:?}"
        );
    }
}

#[test]
fn canonical_json_of_the_real_metadata_is_the_bytes_go_wrote() {
    for name in CASES {
        let case = Case::load(name);
        let mut files = vec![
            case.metadata.root.clone(),
            case.metadata.timestamp.clone(),
            case.metadata.snapshot.clone(),
            case.metadata.targets.clone(),
        ];
        files.extend(case.served.values().flatten().cloned());
        for raw in files {
            // notary-server writes `{"signed":<canonical>,"signatures":[…]}`.
            let start = b"{\"signed\":".len();
            let end = raw
                .windows(14)
                .rposition(|w| w == b",\"signatures\":")
                .expect("signatures");
            let value: Value = serde_json::from_slice(&raw).expect("json");
            assert_eq!(
                canonicalize(&value["signed"]).expect("canonical"),
                raw[start..end],
                "{name}"
            );
        }
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}
