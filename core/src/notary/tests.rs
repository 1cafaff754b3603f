//! Verification over repositories built in memory (see `tests/fixture.rs`); the real
//! notary-server vectors are exercised in `core/tests/notary.rs`.

mod fixture;

use alloc::string::ToString as _;
use alloc::vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use self::fixture::*;
use super::*;
use crate::limits;
use crate::notary::canonical_json::CanonicalJsonError;

fn ok(repo: &Repo, target: &TargetRef, signers: &[Signer]) -> Verified {
    run(&repo.served(), target, signers, now(), None).expect("verified")
}

fn err(repo: &Repo, target: &TargetRef, signers: &[Signer]) -> NotaryError {
    match run(&repo.served(), target, signers, now(), None) {
        Ok(verified) => panic!("verified {:?}", verified.digest),
        Err(error) => error,
    }
}

// ---- target selection ----

#[test]
fn signed_tag_gives_the_release_digest() {
    let verified = ok(&Repo::new(), &tag("v1"), &[]);
    assert_eq!(verified.digest, digest_of(V1));
    assert_eq!(verified.length, V1.len() as u64);
    assert_eq!(verified.roles, ["targets/releases"]);
}

#[test]
fn first_call_asks_only_for_releases_then_answers() {
    let (_, rounds) =
        run_logged(&Repo::new().served(), &tag("v1"), &[], now(), None).expect("verified");
    assert_eq!(rounds, [vec!["targets/releases".to_string()]]);
}

#[test]
fn signer_roles_are_asked_for_with_releases_in_one_round() {
    let repo = Repo::new();
    let signers = [pin("alice", &repo.alice), pin("bob", &repo.bob)];
    let (_, rounds) =
        run_logged(&repo.served(), &tag("v1"), &signers, now(), None).expect("verified");
    assert_eq!(
        rounds,
        [vec![
            "targets/alice".to_string(),
            "targets/bob".to_string(),
            "targets/releases".to_string()
        ]]
    );
}

#[test]
fn tag_only_in_targets_is_taken_from_targets() {
    let verified = ok(&Repo::new(), &tag("old"), &[]);
    assert_eq!(verified.digest, digest_of(OLD));
    assert_eq!(verified.roles, ["targets"]);
}

#[test]
fn releases_wins_over_targets_for_the_same_tag() {
    // `targets` signs v1 as OLD, releases as V1.
    assert_eq!(ok(&Repo::new(), &tag("v1"), &[]).digest, digest_of(V1));
}

#[test]
fn missing_releases_role_falls_back_to_targets() {
    let mut repo = Repo::new();
    repo.missing.push("targets/releases".into());
    let verified = ok(&repo, &tag("v1"), &[]);
    assert_eq!(verified.digest, digest_of(OLD));
    assert_eq!(verified.roles, ["targets"]);
}

#[test]
fn releases_not_in_snapshot_is_never_fetched() {
    let mut repo = Repo::new();
    repo.unlisted.push("targets/releases".into());
    let (verified, rounds) =
        run_logged(&repo.served(), &tag("v1"), &[], now(), None).expect("verified");
    assert!(rounds.is_empty());
    assert_eq!(verified.digest, digest_of(OLD));
}

#[test]
fn undelegated_releases_is_never_fetched() {
    let mut repo = Repo::new();
    repo.targets["delegations"]["roles"] = json!([]);
    let (verified, rounds) =
        run_logged(&repo.served(), &tag("old"), &[], now(), None).expect("verified");
    assert!(rounds.is_empty());
    assert_eq!(verified.roles, ["targets"]);
}

#[test]
fn releases_paths_that_do_not_cover_the_tag_are_skipped() {
    let mut repo = Repo::new();
    repo.targets["delegations"]["roles"][0]["paths"] = json!(["v2"]);
    let (verified, rounds) =
        run_logged(&repo.served(), &tag("v1"), &[], now(), None).expect("verified");
    assert!(rounds.is_empty());
    assert_eq!(verified.digest, digest_of(OLD));
}

#[test]
fn a_release_target_outside_the_role_paths_is_ignored() {
    let mut repo = Repo::new();
    repo.targets["delegations"]["roles"][0]["paths"] = json!(["v", "x"]);
    repo.delegations
        .get_mut("targets/releases")
        .expect("releases")["targets"]["latest"] = target(V2);
    repo.targets["targets"]["latest"] = target(OLD);
    assert_eq!(ok(&repo, &tag("latest"), &[]).digest, digest_of(OLD));
}

#[test]
fn nested_release_delegations_are_fetched_as_needed() {
    let mut repo = Repo::new();
    let team = Key::ecdsa(20);
    let releases = repo
        .delegations
        .get_mut("targets/releases")
        .expect("releases");
    releases["delegations"] = json!({
        "keys": keys(&[&team]),
        "roles": [delegation("targets/releases/team", &[&team], &["v3"])],
    });
    repo.delegations.insert(
        "targets/releases/team".into(),
        targets_role(
            "2028-01-01T00:00:00Z",
            json!({"v3": target(V2), "v4": target(V1)}),
        ),
    );
    repo.signers
        .insert("targets/releases/team".into(), vec![team]);
    let (verified, rounds) =
        run_logged(&repo.served(), &tag("v3"), &[], now(), None).expect("verified");
    assert_eq!(verified.digest, digest_of(V2));
    assert_eq!(verified.roles, ["targets/releases/team"]);
    assert_eq!(
        rounds,
        [
            vec!["targets/releases".to_string()],
            vec!["targets/releases/team".to_string()]
        ]
    );
    // v4 is in the nested role but outside its paths.
    assert_eq!(
        err(&repo, &tag("v4"), &[]),
        NotaryError::NotSigned {
            target: "tag v4".into()
        }
    );
}

#[test]
fn unsigned_tag_is_refused() {
    let error = err(&Repo::new(), &tag("v3"), &[]);
    assert_eq!(
        error,
        NotaryError::NotSigned {
            target: "tag v3".into()
        }
    );
    assert_eq!(error.to_string(), "tag v3 is not signed");
}

#[test]
fn signed_digest_reference_is_accepted() {
    let digest = digest_of(V2);
    let verified = ok(&Repo::new(), &TargetRef::Digest(digest.clone()), &[]);
    assert_eq!(verified.digest, digest);
    assert_eq!(verified.roles, ["targets/releases"]);
    let old = digest_of(OLD);
    assert_eq!(
        ok(&Repo::new(), &TargetRef::Digest(old.clone()), &[]).roles,
        ["targets"]
    );
}

#[test]
fn unsigned_digest_reference_is_refused() {
    let digest = digest_of("something else");
    assert_eq!(
        err(&Repo::new(), &TargetRef::Digest(digest.clone()), &[]),
        NotaryError::NotSigned {
            target: alloc::format!("digest {digest}")
        }
    );
}

#[test]
fn a_target_without_sha256_has_no_digest() {
    let mut repo = Repo::new();
    repo.targets["targets"]["bare"] = json!({"hashes": {"sha512": "AAAA"}, "length": 1});
    assert_eq!(
        err(&repo, &tag("bare"), &[]),
        NotaryError::NoDigest {
            role: "targets".into(),
            target: "bare".into()
        }
    );
}

// ---- signers ----

#[test]
fn pinned_signer_with_the_right_key_is_accepted() {
    let repo = Repo::new();
    let verified = ok(&repo, &tag("v1"), &[pin("alice", &repo.alice)]);
    assert_eq!(verified.digest, digest_of(V1));
    assert_eq!(verified.roles, ["targets/releases", "targets/alice"]);
}

#[test]
fn pinned_rsa_certificate_signer_is_accepted() {
    let repo = Repo::new();
    let verified = ok(&repo, &tag("v1"), &[pin("bob", &repo.bob)]);
    assert_eq!(verified.roles, ["targets/releases", "targets/bob"]);
}

#[test]
fn pinned_signer_with_a_docker_role_header_is_accepted() {
    let repo = Repo::new();
    let pem = repo.alice.pem.replacen(
        "-----BEGIN PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nrole: alice\n\n",
        1,
    );
    assert!(pem.contains("role: alice"));
    let signer = Signer {
        name: "alice".into(),
        public_key_pem: pem,
    };
    ok(&repo, &tag("v1"), &[signer]);
}

#[test]
fn pinned_signer_with_another_key_is_refused() {
    let repo = Repo::new();
    assert_eq!(
        err(&repo, &tag("v1"), &[pin("alice", &repo.mallory)]),
        NotaryError::SignerKeyNotListed {
            signer: "alice".into(),
            key_id: repo.mallory.id.clone()
        }
    );
}

#[test]
fn pinned_signer_that_is_not_delegated_is_refused() {
    let repo = Repo::new();
    assert_eq!(
        err(&repo, &tag("v1"), &[pin("mallory", &repo.mallory)]),
        NotaryError::SignerNotDelegated {
            signer: "mallory".into()
        }
    );
}

#[test]
fn every_pinned_signer_must_have_signed() {
    let repo = Repo::new();
    let signers = [pin("alice", &repo.alice), pin("bob", &repo.bob)];
    ok(&repo, &tag("v1"), &signers);
    // bob did not sign v2.
    assert_eq!(
        err(&repo, &tag("v2"), &signers),
        NotaryError::SignerDidNotSign {
            signer: "bob".into(),
            target: "tag v2".into()
        }
    );
}

#[test]
fn pinned_signer_with_another_digest_is_refused() {
    let mut repo = Repo::new();
    repo.delegations.get_mut("targets/alice").expect("alice")["targets"]["v1"] = target(OLD);
    assert_eq!(
        err(&repo, &tag("v1"), &[pin("alice", &repo.alice)]),
        NotaryError::SignerDigestMismatch {
            signer: "alice".into(),
            target: "tag v1".into(),
            release: digest_of(V1),
            signed: digest_of(OLD),
        }
    );
}

#[test]
fn pinned_signer_role_that_is_missing_is_refused() {
    let mut repo = Repo::new();
    repo.missing.push("targets/alice".into());
    assert_eq!(
        err(&repo, &tag("v1"), &[pin("alice", &repo.alice)]),
        NotaryError::SignerRoleMissing {
            signer: "alice".into()
        }
    );
    let mut repo = Repo::new();
    repo.unlisted.push("targets/alice".into());
    assert_eq!(
        err(&repo, &tag("v1"), &[pin("alice", &repo.alice)]),
        NotaryError::SignerRoleMissing {
            signer: "alice".into()
        }
    );
}

#[test]
fn pinned_key_must_itself_have_signed_the_role() {
    let mut repo = Repo::new();
    // targets/alice lists alice and mallory; only mallory signs it.
    repo.targets["delegations"]["keys"] = keys(&[&repo.alice, &repo.bob, &repo.mallory]);
    repo.targets["delegations"]["roles"][1] =
        delegation("targets/alice", &[&repo.alice, &repo.mallory], &[""]);
    repo.signers
        .insert("targets/alice".into(), vec![repo.mallory.clone()]);
    assert_eq!(
        err(&repo, &tag("v1"), &[pin("alice", &repo.alice)]),
        NotaryError::SignerKeyDidNotSign {
            signer: "alice".into(),
            key_id: repo.alice.id.clone()
        }
    );
}

#[test]
fn pinned_signer_for_a_digest_must_sign_that_digest() {
    let repo = Repo::new();
    let signers = [pin("alice", &repo.alice), pin("bob", &repo.bob)];
    ok(&repo, &TargetRef::Digest(digest_of(V1)), &signers);
    assert_eq!(
        err(&repo, &TargetRef::Digest(digest_of(V2)), &signers),
        NotaryError::SignerDidNotSign {
            signer: "bob".into(),
            target: alloc::format!("digest {}", digest_of(V2))
        }
    );
}

#[test]
fn invalid_signer_names_and_keys_are_refused_before_fetching() {
    let repo = Repo::new();
    for name in ["", "a/b", "Alice", ".."] {
        assert_eq!(
            verify(
                &Query {
                    gun: GUN,
                    target: &tag("v1"),
                    signers: &[pin(name, &repo.alice)],
                },
                &repo.served(),
                now(),
                None,
            ),
            Err(NotaryError::InvalidSignerName {
                signer: name.into()
            })
        );
    }
    let garbage = Signer {
        name: "alice".into(),
        public_key_pem: "not a key".into(),
    };
    assert_eq!(
        err(&repo, &tag("v1"), &[garbage]),
        NotaryError::SignerKey {
            signer: "alice".into(),
            problem: KeyProblem::Pem
        }
    );
}

#[test]
fn pinned_certificate_must_be_valid_now() {
    let mut repo = Repo::new();
    let expired = Key::rsa_x509("bob", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z");
    repo.targets["delegations"]["keys"] = keys(&[&repo.alice, &expired]);
    repo.targets["delegations"]["roles"][2] = delegation("targets/bob", &[&expired], &[""]);
    repo.signers
        .insert("targets/bob".into(), vec![expired.clone()]);
    assert!(matches!(
        err(&repo, &tag("v1"), &[pin("bob", &expired)]),
        NotaryError::SignerKey {
            problem: KeyProblem::CertificateValidity { .. },
            ..
        }
    ));
}

// ---- freeze, rollback, tampering ----

#[test]
fn expired_timestamp_is_refused() {
    let later = at("2026-06-15T00:00:00Z");
    let error = run(&Repo::new().served(), &tag("v1"), &[], later, None).expect_err("expired");
    assert_eq!(
        error,
        NotaryError::Expired {
            role: "timestamp".into(),
            expires: at("2026-06-14T00:00:00Z"),
            now: later
        }
    );
    assert_eq!(
        error.to_string(),
        "timestamp: expired at 2026-06-14T00:00:00Z (now 2026-06-15T00:00:00Z)"
    );
}

#[test]
fn expired_delegation_is_refused() {
    let mut repo = Repo::new();
    repo.delegations
        .get_mut("targets/releases")
        .expect("releases")["expires"] = json!("2026-05-31T23:59:59Z");
    assert!(matches!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::Expired { role, .. } if role == "targets/releases"
    ));
}

#[test]
fn expiry_is_the_earliest_in_the_chain() {
    let repo = Repo::new();
    assert_eq!(
        ok(&repo, &tag("v1"), &[]).expires,
        at("2026-06-14T00:00:00Z")
    );
    let mut repo = Repo::new();
    repo.delegations.get_mut("targets/alice").expect("alice")["expires"] =
        json!("2026-06-02T00:00:00Z");
    assert_eq!(
        ok(&repo, &tag("v1"), &[pin("alice", &repo.alice)]).expires,
        at("2026-06-02T00:00:00Z")
    );
}

#[test]
fn tampered_targets_bytes_are_refused() {
    let mut served = Repo::new().served();
    let at = served
        .targets
        .iter()
        .position(|b| *b == b'3')
        .expect("version digit");
    if let Some(byte) = served.targets.get_mut(at) {
        *byte = b'9';
    }
    let error = run(&served, &tag("v1"), &[], now(), None).expect_err("tampered");
    assert!(
        matches!(&error, NotaryError::HashMismatch { role, algorithm: "sha256" | "sha512", .. } if role == "targets"),
        "{error}"
    );
}

#[test]
fn tampered_snapshot_bytes_are_refused() {
    let mut served = Repo::new().served();
    served.snapshot.push(b'\n');
    assert!(matches!(
        run(&served, &tag("v1"), &[], now(), None),
        Err(NotaryError::HashMismatch { role, .. }) if role == "snapshot"
    ));
}

#[test]
fn root_not_covered_by_the_snapshot_is_refused() {
    let repo = Repo::new();
    let mut served = repo.served();
    let mut other = Repo::new();
    other.root["expires"] = json!("2035-01-01T00:00:00Z");
    served.root = other.file("root", &other.root);
    assert!(matches!(
        run(&served, &tag("v1"), &[], now(), None),
        Err(NotaryError::HashMismatch { role, .. }) if role == "root"
    ));
}

#[test]
fn wrong_length_is_refused() {
    let repo = Repo::new();
    let mut served = repo.served();
    let mut envelope: Value = serde_json::from_slice(&served.timestamp).expect("json");
    let length = envelope["signed"]["meta"]["snapshot"]["length"]
        .as_u64()
        .expect("length");
    envelope["signed"]["meta"]["snapshot"]["length"] = json!(length + 1);
    served.timestamp = repo.file("timestamp", &envelope["signed"]);
    assert_eq!(
        run(&served, &tag("v1"), &[], now(), None).expect_err("length"),
        NotaryError::LengthMismatch {
            role: "snapshot".into(),
            expected: length + 1,
            actual: served.snapshot.len()
        }
    );
}

#[test]
fn tampered_signature_is_refused() {
    let mut repo = Repo::new();
    repo.edits.insert("targets".into(), |envelope| {
        let sig = envelope["signatures"][0]["sig"].as_str().expect("sig");
        let mut bytes = STANDARD.decode(sig).expect("base64");
        if let Some(byte) = bytes.get_mut(10) {
            *byte ^= 1;
        }
        envelope["signatures"][0]["sig"] = json!(STANDARD.encode(bytes));
    });
    assert_eq!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::ThresholdNotMet {
            role: "targets".into(),
            valid: 0,
            threshold: 1
        }
    );
}

#[test]
fn tampered_signed_content_is_refused() {
    let mut repo = Repo::new();
    repo.edits.insert("targets/releases".into(), |envelope| {
        envelope["signed"]["targets"]["v1"] = target(OLD);
    });
    assert!(matches!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::ThresholdNotMet { role, valid: 0, .. } if role == "targets/releases"
    ));
}

#[test]
fn signature_by_a_key_of_another_role_does_not_count() {
    let mut repo = Repo::new();
    repo.signers
        .insert("timestamp".into(), vec![repo.snapshot_key.clone()]);
    assert!(matches!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::ThresholdNotMet { role, .. } if role == "timestamp"
    ));
}

#[test]
fn threshold_counts_distinct_keys() {
    let mut repo = Repo::new();
    repo.root["roles"]["targets"]["threshold"] = json!(2);
    repo.signers.insert(
        "targets".into(),
        vec![repo.targets_key.clone(), repo.targets_key.clone()],
    );
    assert_eq!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::ThresholdNotMet {
            role: "targets".into(),
            valid: 1,
            threshold: 2
        }
    );
    let second = Key::ed25519(30);
    repo.root["keys"][second.id.as_str()] = second.json();
    repo.root["roles"]["targets"]["keyids"] = json!([repo.targets_key.id, second.id]);
    repo.signers
        .insert("targets".into(), vec![repo.targets_key.clone(), second]);
    ok(&repo, &tag("v1"), &[]);
}

#[test]
fn wrong_gun_for_the_root_is_refused() {
    let repo = Repo::new();
    let query = Query {
        gun: "example.com/other",
        target: &tag("v1"),
        signers: &[],
    };
    let error = verify(&query, &repo.served(), now(), None).expect_err("gun");
    assert_eq!(
        error,
        NotaryError::GunMismatch {
            common_name: GUN.into(),
            gun: "example.com/other".into()
        }
    );
}

#[test]
fn root_certificate_out_of_its_validity_is_refused() {
    for (not_before, not_after) in [
        ("2020-01-01T00:00:00Z", "2026-05-01T00:00:00Z"),
        ("2026-06-03T00:00:00Z", "2030-01-01T00:00:00Z"),
    ] {
        let error = err(
            &with_root_key(Key::ecdsa_x509(1, GUN, not_before, not_after)),
            &tag("v1"),
            &[],
        );
        assert!(
            matches!(
                error,
                NotaryError::RootKey {
                    problem: KeyProblem::CertificateValidity { .. },
                    ..
                }
            ),
            "{error}"
        );
    }
    // One day of leeway before notBefore, as notary allows.
    ok(
        &with_root_key(Key::ecdsa_x509(
            1,
            GUN,
            "2026-06-01T12:00:00Z",
            "2030-01-01T00:00:00Z",
        )),
        &tag("v1"),
        &[],
    );
}

#[test]
fn root_key_that_is_a_ca_or_not_a_certificate_is_refused() {
    let ca = Key::ecdsa_cert(1, GUN, "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z", true);
    assert!(matches!(
        err(&with_root_key(ca), &tag("v1"), &[]),
        NotaryError::RootKey {
            problem: KeyProblem::NotLeaf,
            ..
        }
    ));
    assert!(matches!(
        err(&with_root_key(Key::ecdsa(1)), &tag("v1"), &[]),
        NotaryError::RootKey {
            problem: KeyProblem::NotCertificate,
            ..
        }
    ));
}

#[test]
fn root_certificate_signed_with_sha1_is_refused() {
    let key = Key::ecdsa_x509(1, GUN, "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z");
    let sha1 = with_signature_algorithm(&key, "1.2.840.10045.4.1");
    assert!(matches!(
        err(&with_root_key(sha1), &tag("v1"), &[]),
        NotaryError::RootKey {
            problem: KeyProblem::Sha1Certificate,
            ..
        }
    ));
}

/// The repository with another root key.
fn with_root_key(key: Key) -> Repo {
    let mut repo = Repo::new();
    let old = repo.root_key.id.clone();
    if let Some(keys) = repo.root["keys"].as_object_mut() {
        keys.remove(&old);
        keys.insert(key.id.clone(), key.json());
    }
    repo.root["roles"]["root"]["keyids"] = json!([key.id]);
    repo.signers.insert("root".into(), vec![key.clone()]);
    repo.root_key = key;
    repo
}

#[test]
fn key_listed_under_another_id_is_refused() {
    let mut repo = Repo::new();
    let id = repo.alice.id.clone();
    repo.targets["delegations"]["keys"][id.as_str()] = repo.mallory.json();
    assert_eq!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::KeyIdMismatch {
            role: "targets".into(),
            listed: id,
            computed: repo.mallory.id.clone()
        }
    );
}

#[test]
fn role_listing_an_unknown_key_is_refused() {
    let mut repo = Repo::new();
    repo.root["roles"]["snapshot"]["keyids"] = json!(["00"]);
    assert_eq!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::UnknownKey {
            role: "root".into(),
            key_id: "00".into()
        }
    );
}

#[test]
fn wrong_type_is_refused() {
    let mut repo = Repo::new();
    repo.timestamp["_type"] = json!("timestamp");
    assert_eq!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::WrongType {
            role: "timestamp".into(),
            expected: "Timestamp",
            found: "timestamp".into()
        }
    );
}

#[test]
fn floats_in_signed_are_refused() {
    let mut repo = Repo::new();
    repo.edits.insert("targets".into(), |envelope| {
        envelope["signed"]["targets"]["old"]["custom"] = json!(1.5);
    });
    assert_eq!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::Canonical {
            role: "targets".into(),
            error: CanonicalJsonError::UnsupportedNumber
        }
    );
}

// ---- trusted state: rollback and root rotation ----

#[test]
fn trusted_state_accepts_the_same_repository_again() {
    let repo = Repo::new();
    let served = repo.served();
    let first = run(&served, &tag("v1"), &[], now(), None).expect("first");
    assert_eq!(first.trusted.gun(), GUN);
    assert_eq!(first.trusted.version("targets"), Some(3));
    assert_eq!(first.trusted.version("targets/releases"), Some(2));
    let second = run(&served, &tag("v1"), &[], now(), Some(&first.trusted)).expect("second");
    assert_eq!(second.trusted, first.trusted);
}

#[test]
fn rollback_of_any_role_is_refused() {
    for (role, field) in [
        ("root", "root"),
        ("timestamp", "timestamp"),
        ("snapshot", "snapshot"),
        ("targets", "targets"),
        ("targets/releases", "targets/releases"),
    ] {
        let mut newer = Repo::new();
        bump_version(&mut newer, field);
        let trusted = run(&newer.served(), &tag("v1"), &[], now(), None)
            .expect("newer")
            .trusted;
        let error = run(
            &Repo::new().served(),
            &tag("v1"),
            &[],
            now(),
            Some(&trusted),
        )
        .expect_err("rollback");
        assert!(
            matches!(&error, NotaryError::Rollback { role: r, .. } if r == role),
            "{role}: {error}"
        );
    }
}

#[test]
fn rollback_message_names_both_versions() {
    let mut newer = Repo::new();
    newer.timestamp["version"] = json!(9);
    let trusted = run(&newer.served(), &tag("v1"), &[], now(), None)
        .expect("newer")
        .trusted;
    let error = run(
        &Repo::new().served(),
        &tag("v1"),
        &[],
        now(),
        Some(&trusted),
    )
    .expect_err("rollback");
    assert_eq!(
        error.to_string(),
        "timestamp: rollback: version 5 < trusted version 9"
    );
}

fn bump_version(repo: &mut Repo, role: &str) {
    let signed = match role {
        "root" => &mut repo.root,
        "timestamp" => &mut repo.timestamp,
        "snapshot" => &mut repo.snapshot,
        "targets" => &mut repo.targets,
        other => repo.delegations.get_mut(other).expect("role"),
    };
    let version = signed["version"].as_u64().expect("version");
    signed["version"] = json!(version + 1);
}

#[test]
fn trusted_state_for_another_gun_is_refused() {
    let repo = Repo::new();
    let trusted = run(&repo.served(), &tag("v1"), &[], now(), None)
        .expect("first")
        .trusted;
    let other = Trusted {
        gun: "example.com/other".into(),
        ..trusted
    };
    assert!(matches!(
        run(&repo.served(), &tag("v1"), &[], now(), Some(&other)),
        Err(NotaryError::TrustedForOtherGun { .. })
    ));
}

#[test]
fn new_root_must_be_signed_by_the_trusted_root_keys() {
    let trusted = run(&Repo::new().served(), &tag("v1"), &[], now(), None)
        .expect("first")
        .trusted;
    let new_key = Key::ecdsa_x509(40, GUN, "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z");
    let mut rotated = with_root_key(new_key.clone());
    rotated.root["version"] = json!(2);
    // Signed only by the new key: a stranger's root.
    assert_eq!(
        run(&rotated.served(), &tag("v1"), &[], now(), Some(&trusted)).expect_err("untrusted"),
        NotaryError::RootRotationNotTrusted {
            valid: 0,
            threshold: 1
        }
    );
    // Without trusted state the same root is accepted (trust on first use).
    run(&rotated.served(), &tag("v1"), &[], now(), None).expect("first use");
    // Cross-signed by the old key: a rotation.
    let old_key = Repo::new().root_key;
    rotated
        .signers
        .insert("root".into(), vec![new_key, old_key]);
    let verified =
        run(&rotated.served(), &tag("v1"), &[], now(), Some(&trusted)).expect("rotation");
    assert_eq!(verified.trusted.version("root"), Some(2));
}

#[test]
fn new_root_must_also_be_signed_by_its_own_keys() {
    let trusted = run(&Repo::new().served(), &tag("v1"), &[], now(), None)
        .expect("first")
        .trusted;
    let new_key = Key::ecdsa_x509(40, GUN, "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z");
    let mut rotated = with_root_key(new_key);
    rotated
        .signers
        .insert("root".into(), vec![Repo::new().root_key]);
    assert_eq!(
        run(&rotated.served(), &tag("v1"), &[], now(), Some(&trusted)).expect_err("own"),
        NotaryError::ThresholdNotMet {
            role: "root".into(),
            valid: 0,
            threshold: 1
        }
    );
}

// ---- signature methods ----

#[test]
fn rsa_pkcs1v15_and_pss_signatures_are_accepted() {
    for method in ["rsapss", "rsapkcs1v15", "RSAPSS"] {
        let mut repo = Repo::new();
        let rsa = Key::rsa();
        repo.root["keys"][rsa.id.as_str()] = rsa.json();
        repo.root["roles"]["snapshot"]["keyids"] = json!([rsa.id]);
        repo.signers.insert("snapshot".into(), vec![rsa]);
        let edit: Edit = match method {
            "rsapkcs1v15" => resign_pkcs1v15,
            "RSAPSS" => |envelope| envelope["signatures"][0]["method"] = json!("RSAPSS"),
            _ => |_| {},
        };
        repo.edits.insert("snapshot".into(), edit);
        ok(&repo, &tag("v1"), &[]);
    }
}

/// Replaces the RSA-PSS signature with a PKCS#1 v1.5 one by the same key.
fn resign_pkcs1v15(envelope: &mut Value) {
    let message = canonical_json::canonicalize(&envelope["signed"]).expect("canonical");
    let signature = Key::rsa().sign_with("rsapkcs1v15", &message);
    envelope["signatures"][0]["method"] = json!("rsapkcs1v15");
    envelope["signatures"][0]["sig"] = json!(STANDARD.encode(signature));
}

#[test]
fn rsa_pss_with_another_salt_length_is_refused() {
    let mut repo = Repo::new();
    let rsa = Key::rsa();
    repo.root["keys"][rsa.id.as_str()] = rsa.json();
    repo.root["roles"]["snapshot"]["keyids"] = json!([rsa.id]);
    repo.signers.insert("snapshot".into(), vec![rsa]);
    repo.edits.insert("snapshot".into(), |envelope| {
        let message = canonical_json::canonicalize(&envelope["signed"]).expect("canonical");
        let key =
            rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("testdata/rsa2048.pem")).expect("key");
        let signature = key
            .sign_with_rng(
                &mut rand_core::OsRng,
                rsa::Pss::new_with_salt::<sha2::Sha256>(20),
                &sha2::Sha256::digest(&message),
            )
            .expect("sign");
        envelope["signatures"][0]["sig"] = json!(STANDARD.encode(signature));
    });
    assert!(matches!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::ThresholdNotMet { role, .. } if role == "snapshot"
    ));
}

#[test]
fn ecdsa_signature_in_der_form_is_refused() {
    let mut repo = Repo::new();
    repo.edits.insert("targets".into(), |envelope| {
        let sig = envelope["signatures"][0]["sig"].as_str().expect("sig");
        let raw = STANDARD.decode(sig).expect("base64");
        let der = p256::ecdsa::Signature::from_slice(&raw)
            .expect("signature")
            .to_der();
        envelope["signatures"][0]["sig"] = json!(STANDARD.encode(der.as_bytes()));
    });
    assert!(matches!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::ThresholdNotMet { role, .. } if role == "targets"
    ));
}

#[test]
fn method_that_does_not_fit_the_key_is_refused() {
    let mut repo = Repo::new();
    repo.edits.insert("timestamp".into(), |envelope| {
        envelope["signatures"][0]["method"] = json!("ecdsa");
    });
    assert!(matches!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::ThresholdNotMet { role, .. } if role == "timestamp"
    ));
}

// ---- hostile input ----

#[test]
fn oversized_and_malformed_files_are_refused() {
    let mut served = Repo::new().served();
    served.root = vec![b' '; limits::MAX_ROLE_BYTES + 1];
    assert!(matches!(
        run(&served, &tag("v1"), &[], now(), None),
        Err(NotaryError::TooLarge { .. })
    ));
    for bytes in [
        &b""[..],
        b"[]",
        b"{}",
        b"{\"signed\":[]}",
        b"{\"signed\":{}}",
    ] {
        let mut served = Repo::new().served();
        served.root = bytes.to_vec();
        assert!(matches!(
            run(&served, &tag("v1"), &[], now(), None),
            Err(NotaryError::Malformed { .. })
        ));
    }
}

#[test]
fn too_many_signatures_are_refused() {
    let mut repo = Repo::new();
    repo.edits.insert("timestamp".into(), |envelope| {
        let one = envelope["signatures"][0].clone();
        envelope["signatures"] = Value::Array(vec![one; limits::MAX_ROLE_SIGNATURES + 1]);
    });
    assert!(matches!(
        err(&repo, &tag("v1"), &[]),
        NotaryError::LimitExceeded {
            what: "signatures",
            ..
        }
    ));
}

#[test]
fn mutated_metadata_never_panics() {
    let repo = Repo::new();
    let served = repo.served();
    let signers = [pin("alice", &repo.alice)];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let mut metadata = served.clone();
        let file = match round % 5 {
            0 => &mut metadata.root,
            1 => &mut metadata.timestamp,
            2 => &mut metadata.snapshot,
            3 => &mut metadata.targets,
            _ => metadata
                .delegations
                .get_mut("targets/releases")
                .and_then(Option::as_mut)
                .expect("releases"),
        };
        let len = file.len() as u64;
        for _ in 0..(1 + next() % 4) {
            let at = usize::try_from(next() % len).expect("index");
            if let Some(byte) = file.get_mut(at) {
                *byte = b" {}[]\":,0123456789abcdefZ-."[usize::try_from(next() % 27).expect("i")];
            }
        }
        let _ = verify(
            &Query {
                gun: GUN,
                target: &tag("v1"),
                signers: &signers,
            },
            &metadata,
            now(),
            None,
        );
    }
}

#[test]
fn too_many_nested_delegations_are_refused() {
    let mut repo = Repo::new();
    let team = Key::ecdsa(20);
    let roles: Vec<Value> = (0..limits::MAX_DELEGATIONS)
        .map(|i| delegation(&alloc::format!("targets/releases/r{i}"), &[&team], &[""]))
        .collect();
    repo.delegations
        .get_mut("targets/releases")
        .expect("releases")["delegations"] = json!({"keys": keys(&[&team]), "roles": roles});
    assert!(matches!(
        err(&repo, &tag("v9"), &[]),
        NotaryError::LimitExceeded {
            what: "delegation roles",
            ..
        }
    ));
}

#[test]
fn pinned_root_must_be_a_self_signed_root_for_the_gun() {
    let repo = Repo::new();
    let root = repo.served().root;
    let pinned = Trusted::pinned_root(GUN, &root).expect("pinned");
    assert_eq!(pinned.version("root"), Some(1));
    ok(&repo, &tag("v1"), &[]);
    run(&repo.served(), &tag("v1"), &[], now(), Some(&pinned)).expect("pinned root");
    assert!(matches!(
        Trusted::pinned_root("example.com/other", &root),
        Err(NotaryError::GunMismatch { .. })
    ));
    let mut unsigned = Repo::new();
    unsigned.signers.insert("root".into(), vec![]);
    assert!(matches!(
        Trusted::pinned_root(GUN, &unsigned.served().root),
        Err(NotaryError::ThresholdNotMet { .. })
    ));
}
