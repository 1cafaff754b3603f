//! Key-based cosign end to end: `portieris review` against the rig's real registry, with keys
//! made by the real `cosign generate-key-pair` and signatures pushed by the real
//! `cosign sign --key … --tlog-upload=false` (`scripts/cosign-bin.sh` builds it; the tests fail,
//! never skip, without it). Images are pushed with skopeo, signature artifacts copied with it.

#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)] // shared with other test files
#[path = "common/simple.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use review::{Folder, Reviewed, image_policy, pull_secret, secret};
use rig::Rig;
use serde_json::{Value, json};

/// The password `cosign generate-key-pair` encrypts private keys with.
const PASSWORD: &str = "portieris-test";

/// The real cosign CLI, with a folder for its keys.
struct Cosign {
    bin: PathBuf,
    keys: tempfile::TempDir,
    /// The rig's CA: cosign (Go) trusts the registry through `SSL_CERT_FILE`.
    ca: PathBuf,
}

impl Cosign {
    /// `$PORTIERIS_COSIGN` (set by scripts/test.sh), else what `scripts/cosign-bin.sh` prints
    /// (building it if this machine has none yet).
    fn new(rig: &Rig) -> Self {
        let bin = match std::env::var_os("PORTIERIS_COSIGN") {
            Some(path) => PathBuf::from(path),
            None => {
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cosign-bin.sh");
                let out = Command::new("bash").arg(&script).output();
                let out = out.unwrap_or_else(|e| panic!("{}: {e}", script.display()));
                assert!(
                    out.status.success(),
                    "these tests need the real cosign: `bash scripts/cosign-bin.sh` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
        };
        assert!(
            bin.is_file(),
            "these tests need the real cosign, not found at {} (build it: bash scripts/cosign-bin.sh)",
            bin.display()
        );
        Self {
            bin,
            keys: tempfile::tempdir().expect("key folder"),
            ca: rig.ca(),
        }
    }

    fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> String {
        let mut command = Command::new(&self.bin);
        command
            .current_dir(self.keys.path())
            .env("COSIGN_PASSWORD", PASSWORD)
            .env("SSL_CERT_FILE", &self.ca)
            // No sigstore TUF cache or docker config from the machine.
            .env("HOME", self.keys.path())
            .envs(extra_env.iter().copied())
            .args(args);
        tools::run(&mut command, None)
    }

    /// `cosign generate-key-pair` as `<name>.key`/`<name>.pub`; the public key PEM.
    fn generate(&self, name: &str) -> String {
        self.run(&["generate-key-pair", "--output-key-prefix", name], &[]);
        std::fs::read_to_string(self.keys.path().join(format!("{name}.pub"))).expect("public key")
    }

    /// `cosign sign` of `image` (by digest) with `<key>.key`, without the transparency log.
    fn sign(&self, key: &str, image: &str, extra: &Extra) {
        let key = format!("{key}.key");
        let mut args = vec!["sign", "--key", &key, "--tlog-upload=false", "--yes"];
        args.extend(extra.args.iter().copied());
        args.push(image);
        self.run(&args, extra.env);
    }
}

/// Extra `cosign sign` arguments and environment.
#[derive(Default)]
struct Extra<'a> {
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
}

/// Everything the tests share, made once per test binary.
struct World {
    rig: Rig,
    /// `127.0.0.1:5000`
    registry: String,
    /// The repositories of this run: `cosign/run-<time>`.
    prefix: String,
    /// Public key PEMs by name: alice, bob, mallory.
    keys: Vec<(&'static str, String)>,
    /// app:v1, signed by alice: its digest.
    app: String,
    /// app:other, another image whose `.sig` tag is a copy of app's signatures.
    other: String,
    /// stored:v1, signed by alice into signatures (`COSIGN_REPOSITORY`).
    stored: String,
    /// An in-process registry serving cosign/app with a changed payload blob.
    tampering: String,
    /// An in-process registry counting the requests of the cache tests.
    counting: Counting,
    /// A Notary- and cosign-signed image, and a tag moved after Notary signed it (cosign-signed
    /// at its new digest) with the digest Notary signed.
    notarised: String,
    notarised_digest: String,
    moved: String,
    moved_from: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(World::make)
}

/// What setting up needs at hand.
struct Setup {
    rig: Rig,
    registry: String,
    /// `cosign/run-<time>`: new repositories each run, since cosign adds to a digest's
    /// signatures (never replaces them) and the rig's registry and notary-server keep state.
    prefix: String,
    layouts: PathBuf,
    cosign: Cosign,
}

impl Setup {
    /// `registry/prefix/name`.
    fn repository(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.registry, self.prefix)
    }

    /// Pushes a new image (`content` decides its digest) as `repository:tag`; its digest.
    fn push(&self, repository: &str, tag: &str, content: &str) -> String {
        let layout = self.layouts.join(repository);
        tools::make_image(&layout, tag, content);
        let image = format!("{}:{tag}", self.repository(repository));
        tools::push(
            &self.rig,
            &format!("oci:{}:{tag}", layout.display()),
            &image,
        );
        tools::sha256(&tools::raw_manifest(&self.rig, &image))
    }

    /// `cosign sign` of `repository@digest` by each of `keys`.
    fn sign(&self, repository: &str, digest: &str, keys: &[&str], extra: &Extra) {
        let image = format!("{}@{digest}", self.repository(repository));
        for key in keys {
            self.cosign.sign(key, &image, extra);
        }
    }

    /// Copies the signature artifact of `from` (`repository@digest`) to the `.sig` tag of
    /// `to`: signatures made for `from` now sit where `to`'s are looked up.
    fn copy_signatures(&self, from: (&str, &str), to: (&str, &str)) {
        let image = |(repository, digest): (&str, &str)| {
            let tag = digest.replacen(':', "-", 1) + ".sig";
            format!("docker://{}:{tag}", self.repository(repository))
        };
        let certs = self.rig.env("PORTIERIS_RIG_CERT_DIR");
        tools::run(
            Command::new("skopeo")
                .args(["copy", "-q", "--preserve-digests", "--src-cert-dir", &certs])
                .args(["--dest-cert-dir", &certs])
                .arg(image(from))
                .arg(image(to)),
            None,
        );
    }

    /// A repository whose tag v1 Notary signs at one image and cosign at `cosign_content`'s:
    /// the image and the digest Notary signed.
    fn notarised(&self, name: &str, cosign_content: Option<&str>) -> (String, String) {
        let notary_digest = self.push(name, "v1", &format!("{name} notarised"));
        let image = format!("{}:v1", self.repository(name));
        let manifest = tools::raw_manifest(&self.rig, &image);
        tools::notary_sign(&self.rig, &self.repository(name), "v1", &manifest);
        let cosign_digest = match cosign_content {
            Some(content) => self.push(name, "v1", content),
            None => notary_digest.clone(),
        };
        self.sign(name, &cosign_digest, &["alice"], &Extra::default());
        (image, notary_digest)
    }
}

/// `sha256-<hex>.sig`, the tag cosign signs `digest` under.
fn signature_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1) + ".sig"
}

impl Setup {
    /// Copies the signature artifact of `repository@digest` into `dir` (skopeo's `dir:`
    /// layout: `manifest.json`, blobs by hex); its manifest and layer digests.
    fn artifact(&self, repository: &str, digest: &str, dir: &Path) -> (Vec<u8>, Vec<String>) {
        let certs = self.rig.env("PORTIERIS_RIG_CERT_DIR");
        tools::run(
            Command::new("skopeo")
                .args(["copy", "-q", "--preserve-digests", "--src-cert-dir", &certs])
                .arg(format!(
                    "docker://{}:{}",
                    self.repository(repository),
                    signature_tag(digest)
                ))
                .arg(format!("dir:{}", dir.display())),
            None,
        );
        let manifest = std::fs::read(dir.join("manifest.json")).expect("signature manifest");
        let parsed: Value = serde_json::from_slice(&manifest).expect("JSON");
        let layers = parsed["layers"].as_array().expect("layers");
        let digests = layers
            .iter()
            .map(|l| l["digest"].as_str().expect("a layer digest").to_string())
            .collect();
        (manifest, digests)
    }

    /// An in-process registry serving cosign/app:v1 and its signature manifest, but a payload
    /// blob changed by one byte under the layer's digest; its address.
    fn tampering_registry(&self, root: &Path, app: &str) -> String {
        std::fs::create_dir_all(root).expect("registry root");
        let address = tools::serve(root.to_path_buf(), Some(tools::rig_tls(&self.rig))).to_string();
        let tag = signature_tag(app);
        let signatures = root.join("signatures");
        let (manifest, layers) = self.artifact("app", app, &signatures);
        let layer = layers[0].clone();
        let mut payload = std::fs::read(signatures.join(&layer["sha256:".len()..])).expect("blob");
        let at = payload.len() - 3;
        payload[at] ^= 1;
        let repository = root.join("v2/cosign/app");
        std::fs::create_dir_all(repository.join("manifests")).expect("manifests");
        std::fs::create_dir_all(repository.join("blobs")).expect("blobs");
        let image = tools::raw_manifest(&self.rig, &format!("{}:v1", self.repository("app")));
        std::fs::write(repository.join("manifests/v1"), image).expect("image manifest");
        std::fs::write(repository.join("manifests").join(&tag), manifest).expect("signatures");
        std::fs::write(repository.join("blobs").join(&layer), payload).expect("tampered blob");
        address
    }
}

/// An in-process registry that records what it is asked ([`tools::served`]): cosign/cached:v1
/// signed by alice and bob (two layers), and cosign/late:v1, whose signature artifact (alice's)
/// waits outside until [`Counting::publish`]. Signed as this registry's repositories; only the
/// cache tests read it.
struct Counting {
    address: std::net::SocketAddr,
    cached: String,
    late: String,
    /// The late artifact: `manifests/<tag>` and `blobs/`, and where they are served from.
    late_staged: PathBuf,
    late_served: PathBuf,
}

impl Counting {
    /// Serves cosign/late's signatures from now on.
    fn publish(&self) {
        let tag = signature_tag(&self.late);
        std::fs::rename(
            self.late_staged.join("blobs"),
            self.late_served.join("blobs"),
        )
        .expect("blobs");
        std::fs::rename(
            self.late_staged.join("manifests").join(&tag),
            self.late_served.join("manifests").join(&tag),
        )
        .expect("signature manifest");
    }

    /// The paths under `/v2/cosign/<name>/` asked for, but the image's own manifest (the
    /// digest lookup): the signature reads.
    fn signature_reads(&self, name: &str) -> Vec<String> {
        let prefix = format!("/v2/cosign/{name}/");
        tools::served(self.address)
            .into_iter()
            .filter(|p| p.starts_with(&prefix) && !p.ends_with("/manifests/v1"))
            .collect()
    }
}

impl Setup {
    fn counting_registry(&self, root: &Path) -> Counting {
        let served = root.join("served");
        std::fs::create_dir_all(&served).expect("registry root");
        let address = tools::serve(served.clone(), Some(tools::rig_tls(&self.rig)));
        let counted = |name: &str, keys: &[&str], signatures_into: &Path| {
            let digest = self.push(name, "v1", &format!("cosign {name}, counted"));
            let identity = format!("{address}/cosign/{name}");
            let args = ["--sign-container-identity", identity.as_str()];
            let extra = Extra {
                args: &args,
                ..Extra::default()
            };
            self.sign(name, &digest, keys, &extra);
            let copied = root.join(format!("artifact-{name}"));
            let (manifest, layers) = self.artifact(name, &digest, &copied);
            let image = format!("{}:v1", self.repository(name));
            let repository = served.join(format!("v2/cosign/{name}"));
            std::fs::create_dir_all(repository.join("manifests")).expect("manifests");
            std::fs::write(
                repository.join("manifests/v1"),
                tools::raw_manifest(&self.rig, &image),
            )
            .expect("image manifest");
            std::fs::create_dir_all(signatures_into.join("manifests")).expect("manifests");
            std::fs::create_dir_all(signatures_into.join("blobs")).expect("blobs");
            let tag = signature_tag(&digest);
            std::fs::write(signatures_into.join("manifests").join(tag), manifest)
                .expect("signature manifest");
            for layer in &layers {
                let hex = &layer["sha256:".len()..];
                std::fs::copy(copied.join(hex), signatures_into.join("blobs").join(layer))
                    .expect("payload blob");
            }
            digest
        };
        let cached = counted(
            "cached",
            &["alice", "bob"],
            &served.join("v2/cosign/cached"),
        );
        let late_staged = root.join("late-staged");
        let late = counted("late", &["alice"], &late_staged);
        Counting {
            address,
            cached,
            late,
            late_staged,
            late_served: served.join("v2/cosign/late"),
        }
    }
}

impl World {
    fn make() -> Self {
        let rig = Rig::get();
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cosign");
        let _ = std::fs::remove_dir_all(&root);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let setup = Setup {
            registry: rig.env("PORTIERIS_RIG_REGISTRY"),
            prefix: format!("cosign/run-{stamp}"),
            cosign: Cosign::new(&rig),
            layouts: root.join("layouts"),
            rig,
        };
        let keys = ["alice", "bob", "mallory"].map(|n| (n, setup.cosign.generate(n)));
        let plain = Extra::default();
        let app = setup.push("app", "v1", "cosign app");
        setup.sign("app", &app, &["alice"], &plain);
        let both = setup.push("both", "v1", "cosign both");
        setup.sign("both", &both, &["alice", "bob"], &plain);
        setup.push("unsigned", "v1", "cosign unsigned");
        let other = setup.push("app", "other", "cosign other");
        setup.copy_signatures(("app", &app), ("app", &other));
        // The same image under another repository, its signatures copied along.
        let mirror = setup.push("mirror", "v1", "cosign app");
        setup.copy_signatures(("app", &app), ("mirror", &mirror));
        let stored = setup.push("stored", "v1", "cosign stored elsewhere");
        let elsewhere = setup.repository("signatures");
        let env = [("COSIGN_REPOSITORY", elsewhere.as_str())];
        let into = Extra {
            env: &env,
            ..Extra::default()
        };
        setup.sign("stored", &stored, &["alice"], &into);
        // Signed as the token-auth registry's repository (which shares the storage).
        let private = setup.push("private", "v1", "cosign private");
        let token_registry = setup.rig.env("PORTIERIS_RIG_REGISTRY_TOKEN");
        let identity = format!("{token_registry}/{}/private", setup.prefix);
        let args = ["--sign-container-identity", identity.as_str()];
        let token = Extra {
            args: &args,
            ..Extra::default()
        };
        setup.sign("private", &private, &["alice"], &token);
        let tampering = setup.tampering_registry(&root.join("tampering-registry"), &app);
        let counting = setup.counting_registry(&root.join("counting-registry"));
        let (notarised, notarised_digest) = setup.notarised("notarised", None);
        let (moved, moved_from) = setup.notarised("moved", Some("moved after notary signed"));
        Self {
            registry: setup.registry.clone(),
            prefix: setup.prefix.clone(),
            keys: keys.into_iter().collect(),
            app,
            other,
            stored,
            tampering,
            counting,
            notarised,
            notarised_digest,
            moved,
            moved_from,
            rig: setup.rig,
        }
    }

    /// A folder with `policy` for every image; alice's key under `cosign.pub`, bob's and
    /// mallory's under `key`; a pull Secret for the token-auth registry.
    fn folder(&self, policy: Value) -> Folder {
        let mut docs = vec![image_policy(json!([{"name": "*", "policy": policy}]))];
        for (name, pem) in &self.keys {
            let field = if *name == "alice" {
                "cosign.pub"
            } else {
                "key"
            };
            docs.push(secret(&format!("{name}-key"), json!({ field: pem })));
        }
        docs.push(pull_secret(
            "pull",
            &self.rig.env("PORTIERIS_RIG_REGISTRY_TOKEN"),
            &self.rig.env("PORTIERIS_RIG_TOKEN_USER"),
            &self.rig.env("PORTIERIS_RIG_TOKEN_PASSWORD"),
        ));
        Folder::new(&docs)
    }

    fn review(&self, policy: Value, image: &str) -> Reviewed {
        review::review(self.folder(policy).path(), &self.rig.ca(), image, None, &[])
    }

    /// `registry/prefix/name`, as [`Setup::repository`].
    fn image(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.registry, self.prefix)
    }
}

/// `cosign` requiring these keys (`<name>-key` Secrets).
fn cosign(keys: &[&str]) -> Value {
    let requirements: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "keySecret": format!("{k}-key") }))
        .collect();
    json!({ "cosign": { "requirements": requirements } })
}

#[test]
fn the_signing_key_admits_and_the_pod_is_pinned_to_the_signed_digest() {
    let w = world();
    let reviewed = w.review(cosign(&["alice"]), &format!("{}:v1", w.image("app")));
    reviewed.assert_allowed("alice signed cosign/app:v1");
    assert_eq!(
        reviewed.pinned(),
        Some(format!("{}@{}", w.image("app"), w.app))
    );
    let by_digest = w.review(cosign(&["alice"]), &format!("{}@{}", w.image("app"), w.app));
    by_digest.assert_allowed("the signed digest named directly");
    assert_eq!(by_digest.pinned(), None, "already pinned");
}

#[test]
fn a_key_under_the_secret_field_key_is_read_too() {
    let w = world();
    w.review(cosign(&["bob"]), &format!("{}:v1", w.image("both")))
        .assert_allowed("bob's key under `key`");
}

#[test]
fn a_key_that_did_not_sign_denies() {
    let w = world();
    let reviewed = w.review(cosign(&["mallory"]), &format!("{}:v1", w.image("app")));
    reviewed.assert_denied("mallory did not sign", "team/mallory-key");
    assert!(
        reviewed.message().contains("does not verify with the key"),
        "{}",
        reviewed.message()
    );
}

#[test]
fn an_unsigned_image_denies() {
    let w = world();
    w.review(cosign(&["alice"]), &format!("{}:v1", w.image("unsigned")))
        .assert_denied("no .sig tag", "no cosign signatures found");
}

#[test]
fn signatures_copied_from_another_digest_deny() {
    let w = world();
    let reviewed = w.review(cosign(&["alice"]), &format!("{}:other", w.image("app")));
    reviewed.assert_denied(
        "app's signatures under other's .sig tag",
        &format!("signed digest {}, expected {}", w.app, w.other),
    );
}

#[test]
fn signatures_copied_to_another_repository_deny() {
    let w = world();
    let reviewed = w.review(cosign(&["alice"]), &format!("{}:v1", w.image("mirror")));
    reviewed.assert_denied(
        "the same digest, signed for cosign/app",
        &format!(
            "signed for repository {}, not {}",
            w.image("app"),
            w.image("mirror")
        ),
    );
}

#[test]
fn two_required_keys_need_a_signature_by_each() {
    let w = world();
    w.review(
        cosign(&["alice", "bob"]),
        &format!("{}:v1", w.image("both")),
    )
    .assert_allowed("alice and bob signed");
    let reviewed = w.review(cosign(&["alice", "bob"]), &format!("{}:v1", w.image("app")));
    reviewed.assert_denied("bob did not sign", "team/bob-key");
    assert!(
        !reviewed.message().contains("team/alice-key"),
        "alice's requirement holds: {}",
        reviewed.message()
    );
}

#[test]
fn signatures_stored_in_another_repository_are_read_from_it() {
    let w = world();
    let image = format!("{}:v1", w.image("stored"));
    let mut policy = cosign(&["alice"]);
    w.review(policy.clone(), &image).assert_denied(
        "not in the image's repository",
        "no cosign signatures found",
    );
    policy["cosign"]["repository"] = json!(w.image("signatures"));
    let reviewed = w.review(policy, &image);
    reviewed.assert_allowed("cosign.repository");
    assert_eq!(
        reviewed.pinned(),
        Some(format!("{}@{}", w.image("stored"), w.stored))
    );
}

#[test]
fn a_policy_naming_cosign_without_requirements_denies() {
    let w = world();
    w.review(json!({"cosign": {}}), &format!("{}:v1", w.image("app")))
        .assert_denied("cosign: {}", "cosign has no requirements");
    w.review(cosign(&["nobody"]), &format!("{}:v1", w.image("app")))
        .assert_denied(
            "a missing Secret",
            "cosign key Secret \"team/nobody-key\" not found",
        );
}

#[test]
fn signatures_are_read_through_registry_token_auth_with_the_pull_secret() {
    let w = world();
    let token_registry = w.rig.env("PORTIERIS_RIG_REGISTRY_TOKEN");
    let image = format!("{token_registry}/{}/private:v1", w.prefix);
    let folder = w.folder(cosign(&["alice"]));
    let with = review::review(folder.path(), &w.rig.ca(), &image, Some("pull"), &[]);
    with.assert_allowed("token auth with the pull Secret");
    let without = review::review(folder.path(), &w.rig.ca(), &image, None, &[]);
    without.assert_denied("no pull secret", "imagePullSecret");
}

#[test]
fn a_payload_blob_that_is_not_its_layer_digest_denies() {
    let w = world();
    let image = format!("{}/cosign/app:v1", w.tampering);
    w.review(cosign(&["alice"]), &image)
        .assert_denied("a changed payload", "not the digest it was asked for");
}

/// In process, as `portieris serve` runs: one registry reader across admissions.
mod in_process {
    use std::sync::Arc;
    use std::time::Duration;

    use portieris_core::evidence::{self, CosignKey, CosignNeed, Need};
    use portieris_core::{Digest, ImageRef};
    use portieris_webhook::evidence::cosign::gather;
    use portieris_webhook::fetch::registry::Registry;
    use portieris_webhook::fetch::{Credential, FetchConfig, Fetcher};

    use super::{World, world};

    fn registry(w: &World) -> Registry {
        let config = FetchConfig::new(Duration::from_secs(10), Some(w.rig.ca()));
        Registry::new(Arc::new(Fetcher::new(&config).expect("client")))
    }

    fn need(w: &World, keys: &[&str]) -> CosignNeed {
        let key = |name: &&str| CosignKey {
            key_secret: format!("team/{name}-key"),
            public_key_pem: w
                .keys
                .iter()
                .find(|(n, _)| n == name)
                .expect("key")
                .1
                .clone(),
        };
        CosignNeed {
            keys: keys.iter().map(key).collect(),
            repository: None,
            remap: None,
        }
    }

    /// Admits `cosign/<name>:v1` of the counting registry, reading signatures with `pull`.
    async fn admit(
        w: &World,
        r: &Registry,
        name: &str,
        keys: &[&str],
        pull: &[Credential],
    ) -> Result<Digest, String> {
        let image = format!("{}/cosign/{name}:v1", w.counting.address);
        let image = ImageRef::parse(&image).expect("reference");
        let need = need(w, keys);
        let gathered = gather(r, &need, &image, &[], pull).await;
        // Cosign keys have no validity period: any time will do.
        let now = portieris_core::time::UnixTime(0);
        evidence::verify(&Need::Cosign(need), &image, &gathered, now)
            .cloned()
            .map_err(|r| r.text)
    }

    #[tokio::test]
    async fn a_second_admission_reads_no_signatures_and_other_credentials_read_their_own() {
        let w = world();
        let registry = registry(w);
        let digest = Digest::parse(&w.counting.cached).expect("digest");
        let both = ["alice", "bob"];
        assert_eq!(
            admit(w, &registry, "cached", &both, &[]).await,
            Ok(digest.clone())
        );
        let reads = w.counting.signature_reads("cached");
        assert_eq!(
            reads.len(),
            3,
            "the .sig manifest and both payloads: {reads:?}"
        );
        assert_eq!(
            admit(w, &registry, "cached", &both, &[]).await,
            Ok(digest.clone())
        );
        assert_eq!(
            w.counting.signature_reads("cached"),
            reads,
            "nothing read again"
        );
        // Verified again, not a cached verdict: a key that did not sign still denies.
        let why = admit(w, &registry, "cached", &["mallory"], &[]).await;
        assert!(why.expect_err("mallory").contains("team/mallory-key"));
        assert_eq!(w.counting.signature_reads("cached"), reads);
        let pull = [Credential {
            username: "someone".into(),
            password: "else".into(),
        }];
        for _ in 0..2 {
            let got = admit(w, &registry, "cached", &both, &pull).await;
            assert_eq!(got, Ok(digest.clone()));
            assert_eq!(
                w.counting.signature_reads("cached").len(),
                6,
                "another credential reads its own set, once"
            );
        }
    }

    #[tokio::test]
    async fn a_signature_pushed_after_a_deny_counts_once_the_short_ttl_passes() {
        let w = world();
        let registry = registry(w);
        for _ in 0..2 {
            let why = admit(w, &registry, "late", &["alice"], &[]).await;
            assert!(
                why.expect_err("unsigned")
                    .contains("no cosign signatures found")
            );
        }
        assert_eq!(
            w.counting.signature_reads("late").len(),
            1,
            "the empty set is kept"
        );
        w.counting.publish();
        tokio::time::sleep(
            portieris_webhook::fetch::signature_sets::EMPTY_TTL + Duration::from_millis(200),
        )
        .await;
        let digest = Digest::parse(&w.counting.late).expect("digest");
        assert_eq!(
            admit(w, &registry, "late", &["alice"], &[]).await,
            Ok(digest)
        );
        assert_eq!(
            w.counting.signature_reads("late").len(),
            3,
            "the .sig manifest and payload"
        );
    }
}

fn trust_and_cosign(w: &World) -> Value {
    let mut policy = cosign(&["alice"]);
    policy["trust"] = json!({"enabled": true, "trustServer": w.rig.env("PORTIERIS_RIG_NOTARY")});
    policy
}

#[test]
fn trust_and_cosign_agreeing_on_the_digest_admit() {
    let w = world();
    let reviewed = w.review(trust_and_cosign(w), &w.notarised);
    reviewed.assert_allowed("Notary and cosign agree");
    assert_eq!(
        reviewed.pinned(),
        Some(format!("{}@{}", w.image("notarised"), w.notarised_digest))
    );
}

#[test]
fn a_tag_moved_after_notary_signed_it_denies_when_trust_and_cosign_disagree() {
    let w = world();
    let reviewed = w.review(trust_and_cosign(w), &w.moved);
    reviewed.assert_denied(
        "Notary at the old digest, cosign at the new",
        "disagree on the digest",
    );
    assert!(
        reviewed.message().contains(&w.moved_from),
        "{}",
        reviewed.message()
    );
    w.review(cosign(&["alice"]), &w.moved)
        .assert_allowed("the cosign signature alone holds");
}
