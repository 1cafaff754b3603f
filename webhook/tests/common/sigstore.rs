//! The loopback Sigstore of `scripts/sigstore.sh` and the real cosign v3 it ships: images
//! pushed to the rig's registries, signed and attested with cosign 3's defaults (keyless, new
//! bundle format, referrers), with a key, or into the legacy `.sig`/`.att` tags. Needs the
//! including test file to declare `rig` (common/rig.rs) and `tools` (common/simple.rs).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::rig::Rig;
use crate::tools;

/// What the signer's token says: the certificate's subject.
pub const SIGNER: &str = "signer@portieris.test";
/// The builder our CI's SLSA provenance names, and the repository it builds.
pub const OUR_CI: &str =
    "https://github.com/portieris-test/ci/.github/workflows/build.yml@refs/heads/main";
pub const OUR_REPOSITORY: &str = "https://github.com/portieris-test/app";
/// The password `cosign generate-key-pair` encrypts the key with.
const PASSWORD: &str = "portieris-test";

/// `scripts/sigstore.sh env` of the running loopback Sigstore.
pub struct Sigstore(BTreeMap<String, String>);

impl Sigstore {
    /// Fails (never skips) without a running loopback Sigstore.
    pub fn get() -> Self {
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

    pub fn env(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("scripts/sigstore.sh env has no {key}"))
    }

    /// An ID token for `subject` from the loopback issuer.
    pub fn token(&self, subject: &str) -> String {
        let url = format!("{}?sub={subject}", self.env("PORTIERIS_SIGSTORE_TOKEN_URL"));
        tools::run(Command::new("curl").args(["-fsS", &url]), None)
    }

    pub fn issuer(&self) -> &str {
        self.env("PORTIERIS_SIGSTORE_OIDC_ISSUER")
    }

    pub fn trusted_root(&self) -> String {
        std::fs::read_to_string(self.env("PORTIERIS_SIGSTORE_TRUSTED_ROOT"))
            .expect("the loopback trusted root")
    }
}

/// Who signs.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    /// Keyless, with a token for this subject.
    Keyless(&'a str),
    /// The key pair, into a bundle.
    Key,
    /// The key, into the legacy `.sig`/`.att` tag (cosign 3 with `--new-bundle-format=false`).
    KeyLegacy,
}

/// Which of the rig's registries.
#[derive(Clone, Copy)]
pub enum Registry {
    /// go-containerregistry's, with `GET /v2/<name>/referrers/<digest>`.
    Referrers,
    /// Debian's docker-registry 2.8: cosign keeps the `sha256-<hex>` index instead.
    Fallback,
}

/// cosign with its own HOME (the `release` key pair), and new repositories under `prefix`.
pub struct Cosign {
    pub rig: Rig,
    pub sigstore: Sigstore,
    home: tempfile::TempDir,
    layouts: tempfile::TempDir,
    prefix: String,
}

impl Cosign {
    /// `prefix` should be new each run (the registries keep state).
    pub fn new(prefix: String) -> Self {
        let cosign = Self {
            rig: Rig::get(),
            sigstore: Sigstore::get(),
            home: tempfile::tempdir().expect("tempdir"),
            layouts: tempfile::tempdir().expect("tempdir"),
            prefix,
        };
        cosign.run(&["generate-key-pair", "--output-key-prefix", "release"]);
        cosign
    }

    pub fn run(&self, args: &[&str]) -> String {
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

    /// A file in cosign's working folder (predicates are written there).
    pub fn file(&self, name: &str, content: &[u8]) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, content).expect("write a file for cosign");
        path.display().to_string()
    }

    /// Pushes a new image `name:v1` (its content its name) to `registry`: the tag reference
    /// and the digest.
    pub fn push(&self, registry: Registry, name: &str) -> (String, String) {
        self.push_made(registry, name, tools::make_image)
    }

    /// [`Cosign::push`] of an Alpine-like image (an APK database of four packages).
    pub fn push_alpine(&self, registry: Registry, name: &str) -> (String, String) {
        self.push_made(registry, name, tools::make_alpine_image)
    }

    fn push_made(
        &self,
        registry: Registry,
        name: &str,
        make: fn(&Path, &str, &str),
    ) -> (String, String) {
        let host = match registry {
            Registry::Referrers => self.rig.env("PORTIERIS_RIG_REGISTRY_REFERRERS"),
            Registry::Fallback => self.rig.env("PORTIERIS_RIG_REGISTRY"),
        };
        let layout = self.layouts.path().join(name);
        make(&layout, "v1", &format!("{} {name}", self.prefix));
        let image = format!("{host}/{}/{name}:v1", self.prefix);
        tools::push(&self.rig, &format!("oci:{}:v1", layout.display()), &image);
        let digest = tools::sha256(&tools::raw_manifest(&self.rig, &image));
        (image, digest)
    }

    /// `cosign sign` of `image@digest` against the loopback Sigstore.
    pub fn sign(&self, image: &str, digest: &str, signer: Signer<'_>) {
        self.signing("sign", &[], image, digest, signer);
    }

    /// `cosign attest` of `predicate` (a file) with `--type kind` for `image@digest`.
    pub fn attest(&self, image: &str, digest: &str, kind: &str, predicate: &str, signer: Signer) {
        let extra = ["--type", kind, "--predicate", predicate];
        self.signing("attest", &extra, image, digest, signer);
    }

    fn signing(&self, verb: &str, extra: &[&str], image: &str, digest: &str, signer: Signer) {
        let reference = by_digest(image, digest);
        let config = self.sigstore.env("PORTIERIS_SIGSTORE_SIGNING_CONFIG");
        let root = self.sigstore.env("PORTIERIS_SIGSTORE_TRUSTED_ROOT");
        let mut args = vec![verb, "--yes", "--trusted-root", root];
        args.extend(extra);
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
        self.run(&args);
    }

    /// `cosign attest --type slsaprovenance1` of provenance naming `builder` (and
    /// [`OUR_REPOSITORY`]) for `image@digest`.
    pub fn attest_provenance(&self, image: &str, digest: &str, builder: &str, signer: Signer) {
        let name = format!("provenance-{}.json", digest.trim_start_matches("sha256:"));
        let predicate = self.file(&name, &provenance(builder, OUR_REPOSITORY));
        self.attest(image, digest, "slsaprovenance1", &predicate, signer);
    }

    /// The `attestations` entry policies hold images to: SLSA provenance v1, keyless by
    /// [`SIGNER`], built by [`OUR_CI`] from [`OUR_REPOSITORY`].
    pub fn built_by_our_ci(&self) -> serde_json::Value {
        serde_json::json!({
            "predicateType": "slsaprovenance1",
            "signer": self.keyless(SIGNER),
            "conditions": [
                format!("predicate.runDetails.builder.id == '{OUR_CI}'"),
                format!(
                    "predicate.buildDefinition.externalParameters.source.repository == '{OUR_REPOSITORY}'"
                ),
            ],
        })
    }

    pub fn public_key(&self) -> String {
        std::fs::read_to_string(self.home.path().join("release.pub")).expect("release.pub")
    }

    /// A keyless requirement for `subject` under the `sigstore-root` Secret.
    pub fn keyless(&self, subject: &str) -> serde_json::Value {
        serde_json::json!({"keyless": {
            "identities": [{"issuer": self.sigstore.issuer(), "subject": subject}],
            "trustedRootSecret": "sigstore-root"}})
    }
}

/// `name@digest` of the tag reference `name:tag`.
pub fn by_digest(image: &str, digest: &str) -> String {
    format!("{}@{digest}", image.rsplit_once(':').expect("a tag").0)
}

/// SLSA provenance v1 as a CI builder writes it (the predicate; cosign wraps the statement).
pub fn provenance(builder: &str, repository: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "buildDefinition": {
            "buildType": "https://github.com/portieris-test/ci/container@v1",
            "externalParameters": {"source": {"repository": repository, "ref": "refs/heads/main"}},
            "internalParameters": {"runner": "linux-amd64"},
            "resolvedDependencies": [{
                "uri": format!("git+{repository}@refs/heads/main"),
                "digest": {"gitCommit": "6f1ad1e1c6a2c8a3ef0e32a10dd54b21c1c0b6c1"}
            }]
        },
        "runDetails": {
            "builder": {"id": builder},
            "metadata": {
                "invocationId": "https://github.com/portieris-test/app/actions/runs/42/attempts/1",
                "startedOn": "2026-12-06T09:00:00Z",
                "finishedOn": "2026-12-06T09:04:00Z"
            }
        }
    }))
    .expect("JSON")
}
