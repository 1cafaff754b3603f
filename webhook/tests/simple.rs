//! Red Hat simple signing end to end: `portieris review` against the rig's real registry, with
//! keys made by the real `gpg` and signatures by the real `skopeo` (`copy --sign-by` into a
//! lookaside staging folder, `standalone-sign` for crafted cases), served over HTTP; the
//! registry signature extension API from a small in-process HTTPS server.

#[allow(dead_code)]
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)]
#[path = "common/simple.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use review::{Folder, Reviewed, image_policy, pull_secret, secret};
use rig::Rig;
use serde_json::{Value, json};
use tools::{Gpg, STORE_PASSWORD, STORE_USER};

/// Everything the tests share, made once per test binary.
struct World {
    rig: Rig,
    /// `127.0.0.1:5000`
    registry: String,
    /// The lookaside store: `http://127.0.0.1:<port>`, one folder per case.
    store: String,
    /// The in-process registry with the signature extension API: `127.0.0.1:<port>`.
    extension_registry: String,
    /// Armoured public keys by name.
    keys: Vec<(&'static str, String)>,
    /// The digest `simple/app:v1` has on the registry.
    app: String,
    /// The digest of the OCI index `simple/index:v1`.
    index: String,
    /// A tag Notary signed at one digest and the registry now serves at another, which is
    /// simple-signed; and the digest Notary signed.
    moved: String,
    moved_from: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(World::make)
}

/// The keys: alice, bob and mallory sign; `expired` expired in 2020 (made with gpg's clock
/// set back); `revoked` signs with a subkey that is revoked once its signatures are made.
struct Signers {
    gpg: Gpg,
    past: Gpg,
    alice: String,
    bob: String,
    mallory: String,
    expired: String,
    revoked: String,
}

impl Signers {
    fn make(homes: &Path) -> Self {
        let gpg = Gpg::new(homes.join("now"), None);
        let past = Gpg::new(homes.join("past"), Some("20200101T000000"));
        let [alice, bob, mallory] =
            ["alice", "bob", "mallory"].map(|n| gpg.generate(n, "sign", "never"));
        let expired = past.generate("expired", "sign", "2020-02-01");
        let revoked = gpg.generate("revoked", "cert", "never");
        gpg.add_signing_subkey(&revoked);
        Self {
            gpg,
            past,
            alice,
            bob,
            mallory,
            expired,
            revoked,
        }
    }

    /// alice's `skopeo standalone-sign` of `manifest` as `reference`.
    fn alice(&self, manifest: &[u8], reference: &str) -> Vec<u8> {
        self.gpg.sign(manifest, reference, &self.alice)
    }

    /// The armoured public keys, by Secret name prefix.
    fn export(&self) -> Vec<(&'static str, String)> {
        vec![
            ("alice", self.gpg.export(&self.alice)),
            ("bob", self.gpg.export(&self.bob)),
            ("mallory", self.gpg.export(&self.mallory)),
            ("expired", self.past.export(&self.expired)),
            ("revoked", self.gpg.export(&self.revoked)),
        ]
    }
}

/// What setting up needs at hand: the rig, the folders, the signers.
struct Setup {
    rig: Rig,
    registry: String,
    /// The lookaside store's folder: one subfolder per case.
    store: PathBuf,
    layouts: PathBuf,
    signers: Signers,
}

impl Setup {
    /// `skopeo copy --sign-by` alice of an OCI layout's `v1` to `image`, signature to "good".
    fn push_signed(&self, layout: &str, image: &str, extra: &[&str]) {
        let from = format!("oci:{}:v1", self.layouts.join(layout).display());
        let to = format!("docker://{image}");
        let by = &self.signers.alice;
        (self.signers.gpg).push_signed(&self.rig, &from, &to, by, &self.store.join("good"), extra);
    }

    /// Writes signatures of `repository@digest` into the store folder `case`.
    fn store(&self, case: &str, repository: &str, digest: &str, signatures: &[&[u8]]) {
        tools::store_signatures(&self.store.join(case), repository, digest, signatures);
    }

    /// simple/app:v1 (Docker v2 schema 2), signed by alice while pushed, also pushed as
    /// simple/app:copy and mirror/app:v1; its manifest and alice's signature.
    fn app(&self) -> (Vec<u8>, Vec<u8>) {
        tools::make_image(&self.layouts.join("app"), "v1", "simple signing app");
        let app = format!("{}/simple/app:v1", self.registry);
        self.push_signed("app", &app, &["--format", "v2s2"]);
        for copy in ["simple/app:copy", "mirror/app:v1"] {
            tools::push(
                &self.rig,
                &format!("docker://{app}"),
                &format!("{}/{copy}", self.registry),
            );
        }
        let manifest = tools::raw_manifest(&self.rig, &app);
        let folder = format!(
            "simple/app@{}",
            tools::sha256(&manifest).replacen(':', "=", 1)
        );
        let signature = std::fs::read(self.store.join("good").join(folder).join("signature-1"))
            .expect("skopeo copy --sign-by wrote signature-1");
        (manifest, signature)
    }

    /// A multi-arch OCI index simple/index:v1, signed at the index digest by
    /// `skopeo copy --all --sign-by`; its digest.
    fn index(&self) -> String {
        tools::make_index(&self.layouts.join("index"), "v1");
        let index = format!("{}/simple/index:v1", self.registry);
        self.push_signed("index", &index, &["--all"]);
        tools::sha256(&tools::raw_manifest(&self.rig, &index))
    }

    /// One store folder per failure case, all for simple/app at its digest; then the
    /// `revoked` key's subkey is revoked.
    fn crafted_stores(&self, manifest: &[u8], alice: &[u8]) {
        let app = format!("{}/simple/app:v1", self.registry);
        let other_manifest = tools::raw_manifest(&self.rig, &self.rig.image("unsigned_v1").image);
        let elsewhere = format!("{}/simple/elsewhere:v1", self.registry);
        let s = &self.signers;
        let cases: [(&str, Vec<Vec<u8>>); 8] = [
            ("good", vec![alice.to_vec()]),
            (
                "two",
                vec![alice.to_vec(), s.gpg.sign(manifest, &app, &s.bob)],
            ),
            ("expired", vec![s.past.sign(manifest, &app, &s.expired)]),
            ("revoked", vec![s.gpg.sign(manifest, &app, &s.revoked)]),
            ("private/good", vec![alice.to_vec()]),
            ("corrupt", vec![corrupt(alice)]),
            ("otherdigest", vec![s.alice(&other_manifest, &app)]),
            ("otherrepo", vec![s.alice(manifest, &elsewhere)]),
        ];
        let digest = tools::sha256(manifest);
        for (case, signatures) in &cases {
            let signatures: Vec<&[u8]> = signatures.iter().map(Vec::as_slice).collect();
            self.store(case, "simple/app", &digest, &signatures);
        }
        self.store("good", "mirror/app", &digest, &[alice]);
        std::fs::create_dir_all(self.store.join("empty")).expect("empty store");
        s.gpg.revoke_first_subkey(&s.revoked);
    }

    /// The rig's Notary-signed test/signed:v1, simple-signed at the same digest ("good") and
    /// at test/signed:v2's digest ("wrongdigest").
    fn notary_signed(&self) {
        let signed = self.rig.image("signed_v1");
        let v2 = tools::raw_manifest(&self.rig, &self.rig.image("signed_v2").image);
        let right = self.signers.alice(
            &tools::raw_manifest(&self.rig, &signed.image),
            &signed.image,
        );
        let wrong = self.signers.alice(&v2, &signed.image);
        self.store("good", "test/signed", &signed.digest, &[&right]);
        self.store("wrongdigest", "test/signed", &signed.digest, &[&wrong]);
    }

    /// A tag moved after Notary signed it: Notary says one digest, the registry (and alice's
    /// simple signature, in "good") another. A new repository each run, since the rig's
    /// notary-server keeps its state. The image and the digest Notary signed.
    fn moved_tag(&self) -> (String, String) {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let repository = format!("simple/moved-{stamp}");
        let image = format!("{}/{repository}:v1", self.registry);
        let layout = self.layouts.join("moved");
        for tag in ["before", "after"] {
            tools::make_image(&layout, tag, &format!("moved tag, {tag}"));
        }
        tools::push(
            &self.rig,
            &format!("oci:{}:before", layout.display()),
            &image,
        );
        let before = tools::raw_manifest(&self.rig, &image);
        tools::notary_sign(
            &self.rig,
            &format!("{}/{repository}", self.registry),
            "v1",
            &before,
        );
        tools::push(
            &self.rig,
            &format!("oci:{}:after", layout.display()),
            &image,
        );
        let after = tools::raw_manifest(&self.rig, &image);
        let signature = self.signers.alice(&after, &image);
        self.store("good", &repository, &tools::sha256(&after), &[&signature]);
        (image, tools::sha256(&before))
    }

    /// Starts the extension-API registry over `root`, serving simple/app:v1's manifest (also as
    /// tag `lying`, with a wrong Docker-Content-Digest) and alice's signature of it (as
    /// `<that registry>/simple/app:v1`); the same as simple/cached:v1, which only the cache test
    /// reads; its address.
    fn extension_registry(&self, root: &Path, manifest: &[u8]) -> String {
        let address = tools::serve(root.to_path_buf(), Some(tools::rig_tls(&self.rig))).to_string();
        let digest = tools::sha256(manifest);
        for repository in ["simple/app", "simple/cached"] {
            let manifests = root.join(format!("v2/{repository}/manifests"));
            std::fs::create_dir_all(&manifests).expect("manifests");
            std::fs::write(manifests.join("v1"), manifest).expect("manifest");
            let signature = self
                .signers
                .alice(manifest, &format!("{address}/{repository}:v1"));
            let list = json!({"signatures": [{"schemaVersion": 2, "type": "atomic",
                "name": format!("{digest}@0123456789abcdef0123456789abcdef"),
                "content": review::base64(&signature)}]});
            let signatures = root.join(format!("extensions/v2/{repository}/signatures"));
            std::fs::create_dir_all(&signatures).expect("signatures");
            std::fs::write(signatures.join(&digest), list.to_string()).expect("list");
        }
        // Tag `lying`: the same bytes, claimed to be another manifest.
        let manifests = root.join("v2/simple/app/manifests");
        std::fs::write(manifests.join("lying"), manifest).expect("manifest");
        std::fs::write(
            manifests.join("lying.digest"),
            tools::sha256(b"another manifest"),
        )
        .expect("claimed digest");
        address
    }
}

impl World {
    fn make() -> Self {
        let rig = Rig::get();
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("simple-signing");
        let _ = std::fs::remove_dir_all(&root);
        // gpg's homes and agents go when setup ends; only the served folders stay.
        let homes = tempfile::tempdir().expect("GNUPGHOMEs");
        let setup = Setup {
            registry: rig.env("PORTIERIS_RIG_REGISTRY"),
            rig,
            store: root.join("store"),
            layouts: root.join("layouts"),
            signers: Signers::make(homes.path()),
        };
        let (manifest, alice) = setup.app();
        let index = setup.index();
        setup.crafted_stores(&manifest, &alice);
        setup.notary_signed();
        let (moved, moved_from) = setup.moved_tag();
        let extension_registry =
            setup.extension_registry(&root.join("extension-registry"), &manifest);
        let keys = setup.signers.export();
        let store = format!("http://{}", tools::serve(setup.store.clone(), None));
        Self {
            rig: setup.rig,
            registry: setup.registry,
            store,
            extension_registry,
            keys,
            app: tools::sha256(&manifest),
            index,
            moved,
            moved_from,
        }
    }

    fn ca(&self) -> PathBuf {
        self.rig.ca()
    }

    /// A store URL for one case's folder.
    fn store(&self, case: &str) -> String {
        format!("{}/{case}", self.store)
    }

    /// A folder with `policy` for every image, every key Secret (`<name>-key`), the store
    /// Secret and a pull Secret for the token-auth registry.
    fn folder(&self, policy: Value) -> Folder {
        let mut docs = vec![image_policy(json!([{"name": "*", "policy": policy}]))];
        for (name, key) in &self.keys {
            docs.push(secret(&format!("{name}-key"), json!({ "key": key })));
        }
        docs.push(secret(
            "store",
            json!({"username": STORE_USER, "password": STORE_PASSWORD}),
        ));
        docs.push(secret(
            "store-wrong",
            json!({"username": STORE_USER, "password": "not the password"}),
        ));
        docs.push(pull_secret(
            "pull",
            &self.rig.env("PORTIERIS_RIG_REGISTRY_TOKEN"),
            &self.rig.env("PORTIERIS_RIG_TOKEN_USER"),
            &self.rig.env("PORTIERIS_RIG_TOKEN_PASSWORD"),
        ));
        Folder::new(&docs)
    }

    fn review(&self, policy: Value, image: &str) -> Reviewed {
        review::review(self.folder(policy).path(), &self.ca(), image, None, &[])
    }

    fn app_ref(&self) -> String {
        format!("{}/simple/app:v1", self.registry)
    }

    fn pinned(&self, repository: &str, digest: &str) -> Option<String> {
        Some(format!("{repository}@{digest}"))
    }
}

/// One byte of the signature flipped near its end (inside the signature MPI).
fn corrupt(signature: &[u8]) -> Vec<u8> {
    let mut bytes = signature.to_vec();
    let at = bytes.len().saturating_sub(10);
    bytes[at] ^= 0xff;
    bytes
}

/// `simple` with these `signedBy` requirements and store (none: the registry's API).
fn simple(requirements: &[Value], store: Option<&str>) -> Value {
    let mut simple = json!({ "requirements": requirements });
    if let Some(store) = store {
        simple["storeURL"] = json!(store);
    }
    json!({ "simple": simple })
}

fn signed_by(key: &str, identity: Value) -> Value {
    json!({"type": "signedBy", "keySecret": format!("{key}-key"), "signedIdentity": identity})
}

fn by_alice(world: &World, case: &str, identity: Value) -> Value {
    simple(&[signed_by("alice", identity)], Some(&world.store(case)))
}

fn default_rule() -> Value {
    json!({})
}

#[test]
fn a_tag_is_resolved_to_its_registry_digest_and_the_pod_pinned_to_it() {
    let w = world();
    let reviewed = w.review(by_alice(w, "good", default_rule()), &w.app_ref());
    reviewed.assert_allowed("matchRepoDigestOrExact");
    let repository = format!("{}/simple/app", w.registry);
    assert_eq!(reviewed.pinned(), w.pinned(&repository, &w.app));
    let by_digest = w.review(
        by_alice(w, "good", default_rule()),
        &format!("{repository}@{}", w.app),
    );
    by_digest.assert_allowed("the signed digest named directly");
    assert_eq!(by_digest.pinned(), None, "already pinned");
}

#[test]
fn mutate_image_false_admits_without_pinning() {
    let w = world();
    let mut policy = by_alice(w, "good", default_rule());
    policy["mutateImage"] = json!(false);
    let reviewed = w.review(policy, &w.app_ref());
    reviewed.assert_allowed("mutateImage: false");
    assert_eq!(reviewed.pinned(), None);
    assert!(reviewed.response["response"]["patch"].is_null());
}

#[test]
fn match_exact_admits_the_signed_reference_only() {
    let w = world();
    let rule = json!({"type": "matchExact"});
    w.review(by_alice(w, "good", rule.clone()), &w.app_ref())
        .assert_allowed("matchExact, the signed tag");
    let by_digest = format!("{}/simple/app@{}", w.registry, w.app);
    w.review(by_alice(w, "good", rule), &by_digest)
        .assert_denied("matchExact, a digest reference", "does not match");
}

#[test]
fn match_repository_admits_another_tag_of_the_signed_repository() {
    let w = world();
    let copy = format!("{}/simple/app:copy", w.registry);
    let reviewed = w.review(
        by_alice(w, "good", json!({"type": "matchRepository"})),
        &copy,
    );
    reviewed.assert_allowed("matchRepository, tag copy");
    assert_eq!(
        reviewed.pinned(),
        w.pinned(&format!("{}/simple/app", w.registry), &w.app)
    );
    w.review(by_alice(w, "good", default_rule()), &copy)
        .assert_denied("the default rule wants the signed tag", "does not match");
}

#[test]
fn exact_reference_admits_any_image_signed_as_that_reference() {
    let w = world();
    let rule = json!({"type": "exactReference", "dockerReference": w.app_ref()});
    let mirror = format!("{}/mirror/app:v1", w.registry);
    w.review(by_alice(w, "good", rule), &mirror)
        .assert_allowed("exactReference");
    let other = json!({"type": "matchExactReference", "dockerReference": format!("{}/simple/app:v2", w.registry)});
    w.review(by_alice(w, "good", other), &mirror)
        .assert_denied("another dockerReference", "does not match");
}

#[test]
fn exact_repository_admits_through_registry_token_auth_with_the_pull_secret() {
    let w = world();
    let token_registry = w.rig.env("PORTIERIS_RIG_REGISTRY_TOKEN");
    let image = format!("{token_registry}/simple/app:v1");
    let rule = json!({"type": "exactRepository", "dockerRepository": format!("{}/simple/app", w.registry)});
    let policy = by_alice(w, "good", rule);
    let folder = w.folder(policy);
    let with = review::review(folder.path(), &w.ca(), &image, Some("pull"), &[]);
    with.assert_allowed("exactRepository, token auth");
    assert_eq!(
        with.pinned(),
        w.pinned(&format!("{token_registry}/simple/app"), &w.app)
    );
    let without = review::review(folder.path(), &w.ca(), &image, None, &[]);
    without.assert_denied("no pull secret", "imagePullSecret");
}

#[test]
fn remap_identity_admits_a_mirrored_image_signed_under_its_origin() {
    let w = world();
    let mirror = format!("{}/mirror/app:v1", w.registry);
    let rule = json!({"type": "remapIdentity", "prefix": format!("{}/mirror", w.registry),
        "signedPrefix": format!("{}/simple", w.registry)});
    let reviewed = w.review(by_alice(w, "good", rule), &mirror);
    reviewed.assert_allowed("remapIdentity");
    assert_eq!(
        reviewed.pinned(),
        w.pinned(&format!("{}/mirror/app", w.registry), &w.app)
    );
    w.review(by_alice(w, "good", default_rule()), &mirror)
        .assert_denied("the mirror without remapping", "does not match");
}

#[test]
fn a_signature_by_another_key_denies() {
    let w = world();
    let policy = simple(
        &[signed_by("mallory", default_rule())],
        Some(&w.store("good")),
    );
    w.review(policy, &w.app_ref())
        .assert_denied("mallory's key", "not a key of the keyring");
}

#[test]
fn two_required_keys_need_a_signature_by_each() {
    let w = world();
    let both = [
        signed_by("alice", default_rule()),
        signed_by("bob", default_rule()),
    ];
    w.review(simple(&both, Some(&w.store("two"))), &w.app_ref())
        .assert_allowed("signed by alice and bob");
    let reviewed = w.review(simple(&both, Some(&w.store("good"))), &w.app_ref());
    reviewed.assert_denied("bob did not sign", "team/bob-key");
    assert!(
        !reviewed.message().contains("team/alice-key"),
        "alice's requirement holds: {}",
        reviewed.message()
    );
}

#[test]
fn a_signature_by_an_expired_key_denies() {
    let w = world();
    let policy = simple(
        &[signed_by("expired", default_rule())],
        Some(&w.store("expired")),
    );
    w.review(policy, &w.app_ref())
        .assert_denied("expired key", "expired at");
}

#[test]
fn a_signature_by_a_revoked_subkey_denies() {
    let w = world();
    let policy = simple(
        &[signed_by("revoked", default_rule())],
        Some(&w.store("revoked")),
    );
    w.review(policy, &w.app_ref())
        .assert_denied("revoked subkey", "is revoked");
}

#[test]
fn a_signature_for_another_digest_denies() {
    let w = world();
    w.review(by_alice(w, "otherdigest", default_rule()), &w.app_ref())
        .assert_denied("another digest", &format!("expected {}", w.app));
}

#[test]
fn a_signature_for_another_repository_denies() {
    let w = world();
    w.review(by_alice(w, "otherrepo", default_rule()), &w.app_ref())
        .assert_denied("another repository", "simple/elsewhere:v1");
}

#[test]
fn corrupt_signature_bytes_deny() {
    let w = world();
    let reviewed = w.review(by_alice(w, "corrupt", default_rule()), &w.app_ref());
    reviewed.assert_denied("corrupt", "signature 1: ");
    // The flipped byte lands in the compressed stream or in the signature itself, depending
    // on the (fresh) key's signature: unreadable or not verifying, never accepted.
    let message = reviewed.message();
    assert!(
        message.contains("signature 1: invalid signature")
            || message.contains("signature 1: no valid signature"),
        "{message}"
    );
}

#[test]
fn no_signatures_in_the_store_denies() {
    let w = world();
    w.review(by_alice(w, "empty", default_rule()), &w.app_ref())
        .assert_denied("404 at signature-1", "no simple signatures found");
}

#[test]
fn a_store_needing_basic_auth_is_read_with_the_store_secret() {
    let w = world();
    let mut policy = by_alice(w, "private/good", default_rule());
    w.review(policy.clone(), &w.app_ref())
        .assert_denied("no storeSecret", "the policy has no storeSecret");
    policy["simple"]["storeSecret"] = json!("store-wrong");
    w.review(policy.clone(), &w.app_ref())
        .assert_denied("a wrong password", "did not accept the storeSecret");
    policy["simple"]["storeSecret"] = json!("store");
    let reviewed = w.review(policy, &w.app_ref());
    reviewed.assert_allowed("with storeSecret");
    assert_eq!(
        reviewed.pinned(),
        w.pinned(&format!("{}/simple/app", w.registry), &w.app)
    );
}

#[test]
fn without_store_url_signatures_come_from_the_registry_extension_api() {
    let w = world();
    let policy = simple(&[signed_by("alice", default_rule())], None);
    let image = format!("{}/simple/app:v1", w.extension_registry);
    let reviewed = w.review(policy.clone(), &image);
    reviewed.assert_allowed("extension API");
    assert_eq!(
        reviewed.pinned(),
        w.pinned(&format!("{}/simple/app", w.extension_registry), &w.app)
    );
    // docker-registry does not advertise the API: nothing to verify, denied saying why.
    w.review(policy, &w.app_ref())
        .assert_denied("no extension API", "X-Registry-Supports-Signatures");
}

/// What the cache counted as `name` so far: (hits, misses).
fn cache_counts(name: &str) -> (u64, u64) {
    portieris_webhook::fetch::cache::counts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map_or((0, 0), |(_, c)| (c.hits(), c.misses()))
}

/// In process, as `portieris serve` runs: one registry reader across admissions. The only test
/// of this binary that reads signatures in process, so the cache counts are its own.
#[tokio::test]
async fn a_second_admission_verifies_cached_signatures_and_other_credentials_read_their_own() {
    use portieris_core::evidence::{self, Need, SignedBy, SimpleNeed};
    use portieris_core::simple::IdentityRule;
    use portieris_core::{Digest, ImageRef};
    use portieris_webhook::evidence::simple::gather;
    use portieris_webhook::fetch::registry::Registry;
    use portieris_webhook::fetch::{Credential, FetchConfig, Fetcher};

    let w = world();
    let config = FetchConfig::new(std::time::Duration::from_secs(10), Some(w.ca()));
    let fetcher = std::sync::Arc::new(Fetcher::new(&config).expect("client"));
    let registry = Registry::new(std::sync::Arc::clone(&fetcher));
    let alice = w.keys.iter().find(|(name, _)| *name == "alice");
    let need = SimpleNeed {
        requirements: vec![SignedBy {
            key_secret: "team/alice-key".into(),
            keyring: alice.expect("alice's key").1.clone().into_bytes(),
            identity: IdentityRule::MatchRepoDigestOrExact,
        }],
        store_url: None,
        store_auth: None,
    };
    let image =
        ImageRef::parse(&format!("{}/simple/cached:v1", w.extension_registry)).expect("reference");
    let address = w.extension_registry.parse().expect("address");
    let lists = || {
        tools::served(address)
            .iter()
            .filter(|path| path.starts_with("/extensions/v2/simple/cached/"))
            .count()
    };
    let digest = Digest::parse(&w.app).expect("digest");
    let pull = [Credential {
        username: "someone".into(),
        password: "else".into(),
    }];
    let before = cache_counts("simple_signatures");
    for (credentials, reads) in [(&[][..], 1), (&[][..], 1), (&pull[..], 2), (&pull[..], 2)] {
        let gathered = gather(&registry, &fetcher, &need, &image, credentials).await;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let now = portieris_core::time::UnixTime(now.expect("clock").as_secs());
        let got = evidence::verify(&Need::Simple(need.clone()), &image, &gathered, now);
        assert_eq!(got, Ok(&digest), "{credentials:?}");
        // A second admission reads nothing; another pull credential reads its own.
        assert_eq!(lists(), reads, "{credentials:?}");
    }
    let (hits, misses) = cache_counts("simple_signatures");
    assert_eq!((hits - before.0, misses - before.1), (2, 2));
}

#[test]
fn a_registry_claiming_another_digest_than_the_bytes_it_serves_denies() {
    let w = world();
    let policy = simple(
        &[signed_by("alice", json!({"type": "matchRepository"}))],
        None,
    );
    let image = format!("{}/simple/app:lying", w.extension_registry);
    w.review(policy, &image).assert_denied(
        "Docker-Content-Digest disagrees",
        &format!("the manifest it served is {}", w.app),
    );
}

#[test]
fn a_multi_arch_index_is_verified_and_pinned_at_the_index_digest() {
    let w = world();
    let repository = format!("{}/simple/index", w.registry);
    let raw = tools::raw_manifest(&w.rig, &format!("{repository}:v1"));
    let index: Value = serde_json::from_slice(&raw).expect("JSON");
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "the pushed manifest is an index"
    );
    let reviewed = w.review(
        by_alice(w, "good", default_rule()),
        &format!("{repository}:v1"),
    );
    reviewed.assert_allowed("index");
    assert_eq!(reviewed.pinned(), w.pinned(&repository, &w.index));
}

fn trust_and_simple(w: &World, case: &str) -> Value {
    let mut policy = by_alice(w, case, default_rule());
    policy["trust"] = json!({"enabled": true, "trustServer": w.rig.env("PORTIERIS_RIG_NOTARY")});
    policy
}

#[test]
fn trust_and_simple_signing_agreeing_on_the_digest_admit() {
    let w = world();
    let signed = w.rig.image("signed_v1");
    let reviewed = w.review(trust_and_simple(w, "good"), &signed.image);
    reviewed.assert_allowed("Notary and simple signing agree");
    assert_eq!(reviewed.pinned(), w.pinned(&signed.gun, &signed.digest));
}

#[test]
fn a_tag_moved_after_notary_signed_it_denies_when_the_signatures_disagree() {
    let w = world();
    let reviewed = w.review(trust_and_simple(w, "good"), &w.moved);
    reviewed.assert_denied(
        "Notary at the old digest, simple at the new",
        "disagree on the digest",
    );
    assert!(
        reviewed.message().contains(&w.moved_from),
        "{}",
        reviewed.message()
    );
    let simple_alone = w.review(by_alice(w, "good", default_rule()), &w.moved);
    simple_alone.assert_allowed("the simple signature alone holds");
}

#[test]
fn trust_and_simple_signing_on_different_digests_deny() {
    let w = world();
    let signed = w.rig.image("signed_v1");
    let reviewed = w.review(trust_and_simple(w, "wrongdigest"), &signed.image);
    reviewed.assert_denied(
        "simple signature over signed:v2's digest",
        &format!("expected {}", signed.digest),
    );
}
