//! Notary v1 end to end: `portieris review` against the real registry and notary-server of the
//! test rig (`scripts/rig.sh start`), with images the real `notary` CLI signed.

#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;

use std::path::{Path, PathBuf};
use std::process::Command;

use review::Reviewed;
use rig::Rig;
use serde_json::{Value, json};

/// A policy folder: trust for every rig image, signer Secrets, a pull secret.
struct Folder(review::Folder);

impl Folder {
    fn new(rig: &Rig, repositories: Value) -> Self {
        let mut docs = vec![review::image_policy(repositories)];
        for signer in ["alice", "bob", "mallory"] {
            docs.push(review::secret(
                &format!("{signer}-signer"),
                json!({"name": signer, "publicKey": rig.signer_key(signer)}),
            ));
        }
        // Mallory's key under alice's delegation name: a key the repository never delegated.
        docs.push(review::secret(
            "alice-wrong-key",
            json!({"name": "alice", "publicKey": rig.signer_key("mallory")}),
        ));
        docs.push(review::pull_secret(
            "pull",
            &rig.env("PORTIERIS_RIG_REGISTRY"),
            &rig.env("PORTIERIS_RIG_TOKEN_USER"),
            &rig.env("PORTIERIS_RIG_TOKEN_PASSWORD"),
        ));
        Self(review::Folder::new(&docs))
    }

    fn path(&self) -> PathBuf {
        self.0.path().to_path_buf()
    }
}

fn review(rig: &Rig, folder: &Folder, image: &str, pull_secret: bool, extra: &[&str]) -> Reviewed {
    review::review(
        &folder.path(),
        &rig.ca(),
        image,
        pull_secret.then_some("pull"),
        extra,
    )
}

fn trust(rig: &Rig, signers: &[&str]) -> Value {
    let secrets: Vec<Value> = signers.iter().map(|s| json!({"name": s})).collect();
    json!({"trust": {"enabled": true, "trustServer": rig.env("PORTIERIS_RIG_NOTARY"), "signerSecrets": secrets}})
}

fn folder_for(rig: &Rig, signers: &[&str]) -> Folder {
    Folder::new(
        rig,
        json!([{"name": format!("{}/test/*", rig.env("PORTIERIS_RIG_REGISTRY")), "policy": trust(rig, signers)}]),
    )
}

fn pinned(rig: &Rig, image: &str) -> String {
    let image = rig.image(image);
    format!("{}@{}", image.gun, image.digest)
}

#[test]
fn a_signed_tag_is_admitted_and_pinned_to_the_signed_digest() {
    let rig = Rig::get();
    let folder = folder_for(&rig, &[]);
    for image in ["signed_v1", "signed_v2", "signed_oci", "toplevel_v1"] {
        let reviewed = review(&rig, &folder, &rig.image(image).image, false, &[]);
        assert_eq!(
            reviewed.code, 0,
            "{image}: {} {}",
            reviewed.response, reviewed.stderr
        );
        assert_eq!(reviewed.pinned(), Some(pinned(&rig, image)), "{image}");
    }
}

#[test]
fn an_unsigned_tag_is_denied() {
    let rig = Rig::get();
    let reviewed = review(
        &rig,
        &folder_for(&rig, &[]),
        &rig.image("unsigned_v1").image,
        false,
        &[],
    );
    assert_eq!(reviewed.code, 1, "{}", reviewed.stderr);
    assert!(
        reviewed.message().contains("unsigned"),
        "{}",
        reviewed.response
    );
}

#[test]
fn a_tag_that_was_never_signed_in_a_signed_repository_is_denied() {
    let rig = Rig::get();
    let image = format!("{}/test/signed:v9", rig.env("PORTIERIS_RIG_REGISTRY"));
    let reviewed = review(&rig, &folder_for(&rig, &[]), &image, false, &[]);
    assert_eq!(reviewed.code, 1);
    assert!(reviewed.message().contains("v9"), "{}", reviewed.response);
}

#[test]
fn a_digest_reference_is_admitted_only_if_that_digest_is_signed() {
    let rig = Rig::get();
    let folder = folder_for(&rig, &[]);
    let signed = pinned(&rig, "signed_v2");
    let reviewed = review(&rig, &folder, &signed, false, &[]);
    assert_eq!(reviewed.code, 0, "{}", reviewed.response);
    assert_eq!(reviewed.pinned(), None, "already pinned: nothing to patch");
    let unsigned_digest = rig.image("unsigned_v1").digest;
    let other = format!(
        "{}/test/signed@{unsigned_digest}",
        rig.env("PORTIERIS_RIG_REGISTRY")
    );
    assert_eq!(review(&rig, &folder, &other, false, &[]).code, 1);
}

#[test]
fn pinned_signers_must_all_have_signed_with_their_keys() {
    let rig = Rig::get();
    let signers = rig.image("signers_v1").image;
    let both = review(
        &rig,
        &folder_for(&rig, &["alice-signer", "bob-signer"]),
        &signers,
        false,
        &[],
    );
    assert_eq!(both.code, 0, "{} {}", both.response, both.stderr);
    assert_eq!(both.pinned(), Some(pinned(&rig, "signers_v1")));
    let wrong_key = review(
        &rig,
        &folder_for(&rig, &["alice-wrong-key"]),
        &signers,
        false,
        &[],
    );
    assert_eq!(wrong_key.code, 1, "a key alice's role does not list");
    let not_delegated = review(
        &rig,
        &folder_for(&rig, &["mallory-signer"]),
        &signers,
        false,
        &[],
    );
    assert_eq!(not_delegated.code, 1, "mallory is not delegated");
    assert!(
        not_delegated.message().contains("mallory"),
        "{}",
        not_delegated.response
    );
    let one_missing = review(
        &rig,
        &folder_for(&rig, &["alice-signer", "bob-signer"]),
        &rig.image("onesigner_v1").image,
        false,
        &[],
    );
    assert_eq!(one_missing.code, 1, "bob did not sign v1");
    assert!(
        one_missing.message().contains("bob"),
        "{}",
        one_missing.response
    );
}

#[test]
fn token_auth_uses_the_pull_secret() {
    let rig = Rig::get();
    let token_notary =
        json!({"trust": {"enabled": true, "trustServer": rig.env("PORTIERIS_RIG_NOTARY_TOKEN")}});
    let folder = Folder::new(
        &rig,
        json!([{"name": format!("{}/test/*", rig.env("PORTIERIS_RIG_REGISTRY")), "policy": token_notary}]),
    );
    let image = rig.image("token_v1").image;
    let with_secret = review(&rig, &folder, &image, true, &[]);
    assert_eq!(
        with_secret.code, 0,
        "{} {}",
        with_secret.response, with_secret.stderr
    );
    assert_eq!(with_secret.pinned(), Some(pinned(&rig, "token_v1")));
    let without = review(&rig, &folder, &image, false, &[]);
    assert_eq!(without.code, 1, "no credentials: denied");
}

#[test]
fn a_notary_server_that_is_down_or_silent_denies_in_time() {
    let rig = Rig::get();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    for server in [
        "https://127.0.0.1:1".to_string(),
        format!("https://{}", silent.local_addr().expect("addr")),
    ] {
        let policy = json!({"trust": {"enabled": true, "trustServer": server}});
        let folder = Folder::new(&rig, json!([{"name": "*", "policy": policy}]));
        let started = std::time::Instant::now();
        let reviewed = review(
            &rig,
            &folder,
            &rig.image("signed_v1").image,
            false,
            &["--fetch-timeout", "2s"],
        );
        assert_eq!(reviewed.code, 1, "{server}: {}", reviewed.response);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{server}: bounded"
        );
    }
}

/// `scripts/demo.sh` in test form: its policy folder admits the signed image, pinned, and
/// denies the unsigned one.
#[test]
fn the_demo_admits_the_signed_image_and_denies_the_unsigned_one() {
    let rig = Rig::get();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo");
    let run = |name: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_portieris"))
            .args(["review", "--policy-dir"])
            .arg(demo.join("policies"))
            .arg("--ca-file")
            .arg(rig.ca())
            .arg(demo.join("admission").join(name))
            .output()
            .expect("portieris runs");
        let response: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        Reviewed {
            code: out.status.code().expect("exit code"),
            response,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let signed = run("signed.json");
    assert_eq!(signed.code, 0, "{} {}", signed.response, signed.stderr);
    assert_eq!(signed.pinned(), Some(pinned(&rig, "signed_v1")));
    assert_eq!(run("unsigned.json").code, 1);
}
