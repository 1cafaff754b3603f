//! Sigstore end to end: images pushed to the rig's registries (one with the OCI 1.1 referrers
//! API, one without), signed by the real cosign v3 with its default settings (keyless, new
//! bundle format, referrers) against the loopback Sigstore of `scripts/sigstore.sh` (Fulcio,
//! TesseraCT, rekor-tiles, the timestamp authority, an OIDC issuer), and judged by
//! `portieris review` under `cosign` policies. The tests fail, never skip, without the rig or
//! the loopback Sigstore (`scripts/test.sh` starts both).

#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)] // shared with other test files
#[path = "common/simple.rs"]
mod tools;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use review::{Folder, Reviewed, image_policy, secret};
use rig::Rig;
use serde_json::{Value, json};

/// What the signer's token says: the certificate's subject.
const SIGNER: &str = "signer@portieris.test";
/// The password `cosign generate-key-pair` encrypts the key with.
const PASSWORD: &str = "portieris-test";

/// `scripts/sigstore.sh env` of the running loopback Sigstore.
struct Sigstore(BTreeMap<String, String>);

impl Sigstore {
    fn get() -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sigstore.sh");
        let status = Command::new("bash").arg(&script).arg("status").output();
        let running =
            status.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("running"));
        assert!(
            running,
            "no loopback Sigstore: start it: scripts/sigstore.sh start"
        );
        let env = tools::run(Command::new("bash").arg(&script).arg("env"), None);
        Self(
            env.lines()
                .filter_map(|line| line.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn env(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("scripts/sigstore.sh env has no {key}"))
    }

    /// An ID token for `subject` from the loopback issuer.
    fn token(&self, subject: &str) -> String {
        let url = format!("{}?sub={subject}", self.env("PORTIERIS_SIGSTORE_TOKEN_URL"));
        tools::run(Command::new("curl").args(["-fsS", &url]), None)
    }
}

/// Everything the tests share, made once per test binary.
struct World {
    rig: Rig,
    sigstore: Sigstore,
    /// cosign's working folder (its HOME, the key pair).
    home: tempfile::TempDir,
    layouts: tempfile::TempDir,
    /// `sigstore/run-<time>`: new repositories each run (the registries keep state).
    prefix: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let world = World {
            rig: Rig::get(),
            sigstore: Sigstore::get(),
            home: tempfile::tempdir().expect("tempdir"),
            layouts: tempfile::tempdir().expect("tempdir"),
            prefix: format!("sigstore/run-{}", std::process::id()),
        };
        world.cosign(&["generate-key-pair", "--output-key-prefix", "release"]);
        world
    })
}

/// Which of the rig's registries.
#[derive(Clone, Copy)]
enum Registry {
    /// go-containerregistry's, with `GET /v2/<name>/referrers/<digest>`.
    Referrers,
    /// Debian's docker-registry 2.8: cosign keeps the `sha256-<hex>` index instead.
    Fallback,
}

impl World {
    fn cosign(&self, args: &[&str]) -> String {
        let bin = self.sigstore.env("PORTIERIS_SIGSTORE_COSIGN");
        tools::run(
            Command::new(bin)
                .current_dir(self.home.path())
                .env("HOME", self.home.path())
                .env("COSIGN_PASSWORD", PASSWORD)
                .env("SSL_CERT_FILE", self.rig.ca())
                .args(args),
            None,
        )
    }

    /// Pushes a new image `name:v1` (its content its name) to `registry`: the tag reference
    /// and the digest.
    fn push(&self, registry: Registry, name: &str) -> (String, String) {
        let host = match registry {
            Registry::Referrers => self.rig.env("PORTIERIS_RIG_REGISTRY_REFERRERS"),
            Registry::Fallback => self.rig.env("PORTIERIS_RIG_REGISTRY"),
        };
        let layout = self.layouts.path().join(name);
        tools::make_image(&layout, "v1", &format!("sigstore {name}"));
        let image = format!("{host}/{}/{name}:v1", self.prefix);
        tools::push(&self.rig, &format!("oci:{}:v1", layout.display()), &image);
        let digest = tools::sha256(&tools::raw_manifest(&self.rig, &image));
        (image, digest)
    }

    /// `cosign sign` of `image@digest` with cosign 3's defaults against the loopback
    /// Sigstore: keyless with `subject`'s token, or with the key pair.
    fn sign(&self, image: &str, digest: &str, signer: Signer<'_>) {
        let reference = format!("{}@{digest}", image.rsplit_once(':').expect("a tag").0);
        let config = self.sigstore.env("PORTIERIS_SIGSTORE_SIGNING_CONFIG");
        let root = self.sigstore.env("PORTIERIS_SIGSTORE_TRUSTED_ROOT");
        let mut args = vec!["sign", "--yes", "--trusted-root", root];
        if !matches!(signer, Signer::KeyLegacy) {
            args.extend(["--signing-config", config]);
        }
        let token;
        match signer {
            Signer::Keyless(subject) => {
                token = self.sigstore.token(subject);
                args.extend(["--identity-token", &token]);
            }
            Signer::Key => args.extend(["--key", "release.key"]),
            Signer::KeyLegacy => args.extend([
                "--key",
                "release.key",
                "--new-bundle-format=false",
                "--use-signing-config=false",
                "--tlog-upload=false",
            ]),
        }
        args.push(&reference);
        self.cosign(&args);
    }

    fn public_key(&self) -> String {
        std::fs::read_to_string(self.home.path().join("release.pub")).expect("release.pub")
    }

    fn trusted_root(&self) -> String {
        std::fs::read_to_string(self.sigstore.env("PORTIERIS_SIGSTORE_TRUSTED_ROOT"))
            .expect("the loopback trusted root")
    }

    /// `portieris review` of a Pod running `image` under `cosign` for the whole registry, with
    /// the loopback root and the release key as Secrets.
    fn review(&self, image: &str, cosign: Value) -> Reviewed {
        let host = image.split('/').next().expect("a registry");
        let folder = Folder::new(&[
            image_policy(json!([{"name": format!("{host}/*"), "policy": {"cosign": cosign}}])),
            secret(
                "sigstore-root",
                json!({"trusted_root.json": self.trusted_root()}),
            ),
            secret("release-key", json!({"cosign.pub": self.public_key()})),
        ]);
        review::review(folder.path(), &self.rig.ca(), image, None, &[])
    }

    fn keyless_policy(&self, subject: &str) -> Value {
        json!({"requirements": [{"keyless": {
            "identities": [{"issuer": self.sigstore.env("PORTIERIS_SIGSTORE_OIDC_ISSUER"), "subject": subject}],
            "trustedRootSecret": "sigstore-root"}}]})
    }
}

#[derive(Clone, Copy)]
enum Signer<'a> {
    Keyless(&'a str),
    Key,
    /// The key, into the `.sig` tag (cosign 3 with `--new-bundle-format=false`).
    KeyLegacy,
}

fn keyless_signed_image_is_admitted_and_pinned(registry: Registry, name: &str) {
    let world = world();
    let (image, digest) = world.push(registry, name);
    world.sign(&image, &digest, Signer::Keyless(SIGNER));
    let reviewed = world.review(&image, world.keyless_policy(SIGNER));
    reviewed.assert_allowed("signed keyless by cosign v3");
    assert_eq!(
        reviewed.pinned(),
        Some(format!(
            "{}@{digest}",
            image.rsplit_once(':').expect("a tag").0
        ))
    );
    let other = world.review(&image, world.keyless_policy("someone@portieris.test"));
    other.assert_denied("another identity", "someone@portieris.test");
}

#[test]
fn cosign_v3_keyless_defaults_through_the_referrers_api_are_admitted_and_pinned() {
    keyless_signed_image_is_admitted_and_pinned(Registry::Referrers, "keyless-api");
}

#[test]
fn cosign_v3_keyless_defaults_through_the_tag_fallback_are_admitted_and_pinned() {
    keyless_signed_image_is_admitted_and_pinned(Registry::Fallback, "keyless-fallback");
}

#[test]
fn an_image_without_bundles_is_denied() {
    let world = world();
    let (image, _) = world.push(Registry::Referrers, "unsigned");
    let reviewed = world.review(&image, world.keyless_policy(SIGNER));
    reviewed.assert_denied("no bundles", "no Sigstore bundles found");
}

#[test]
fn a_key_based_bundle_meets_a_key_requirement_read_from_bundles_only() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "keyed");
    world.sign(&image, &digest, Signer::Key);
    let bundle = json!({"format": "bundle", "requirements": [{"keySecret": "release-key"}]});
    world
        .review(&image, bundle)
        .assert_allowed("a key-based bundle");
    // The same policy reading `.sig` tags: cosign 3 wrote none.
    let sig = json!({"requirements": [{"keySecret": "release-key"}]});
    world
        .review(&image, sig)
        .assert_denied("no .sig signatures", "no cosign signatures found");
}

#[test]
fn a_keyless_bundle_outside_the_trusted_root_is_denied() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "public-good");
    world.sign(&image, &digest, Signer::Keyless(SIGNER));
    // No trustedRootSecret: the public-good root, which knows nothing of the loopback Fulcio.
    let policy = json!({"requirements": [{"keyless": {"identities": [
        {"issuer": world.sigstore.env("PORTIERIS_SIGSTORE_OIDC_ISSUER"), "subject": SIGNER}]}}]});
    world
        .review(&image, policy)
        .assert_denied("the public-good root", "Sigstore public-good root");
}

#[test]
fn an_image_with_a_sig_and_a_bundle_is_checked_on_the_format_the_policy_names() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "both");
    world.sign(&image, &digest, Signer::KeyLegacy);
    world.sign(&image, &digest, Signer::Keyless(SIGNER));
    let sig = json!({"requirements": [{"keySecret": "release-key"}]});
    let reviewed = world.review(&image, sig);
    reviewed.assert_allowed("the key's .sig");
    let pinned = reviewed.pinned();
    let keyless = world.review(&image, world.keyless_policy(SIGNER));
    keyless.assert_allowed("the keyless bundle");
    assert_eq!(keyless.pinned(), pinned, "both formats pin the one digest");
    // The key signed only a `.sig`: a policy reading bundles for it finds none by the key.
    let key_bundle = json!({"format": "bundle", "requirements": [{"keySecret": "release-key"}]});
    world
        .review(&image, key_bundle)
        .assert_denied("no bundle by the key", "is signed by the key in Secret");
}
