//! Notary Project signatures (Notation) made by the Notary Project's own Go libraries:
//! `notation-signer` (scripts/notation-signer/, notation-go v1.3.2) signs images pushed to the
//! rig's registries and pushes the signatures as notation does (an OCI image manifest with
//! artifact type `application/vnd.cncf.notary.signature` whose `subject` is the image: through
//! the referrers API, or the `sha256-<hex>` tag schema), with certificates from
//! `scripts/notation/pki.sh` (a new PKI per [`Notation`]) and, when asked, an RFC 3161 timestamp
//! from the loopback Sigstore's timestamp authority. Needs the including test file to declare
//! `rig` (common/rig.rs) and `tools` (common/simple.rs). Fails, never skips, without the rig (or,
//! for timestamps, the loopback Sigstore).
//!
//! The signer is `$PORTIERIS_NOTATION_SIGNER` (scripts/test.sh builds it), else
//! `scripts/notation-bin.sh`'s (built on first use, about a minute cold).
//!
//! The PKI's files ([`Pki::path`]): `root.pem` (the trusted root), `intermediate.pem`, leaves
//! `leaf-rsa`, `leaf-ec`, `leaf-expired` (valid 2024-01-01..2025-01-01), `leaf-short` (valid
//! until now + 1 day), `leaf-revoked` + `leaf-cdp` (CRL distribution point
//! `http://127.0.0.1:5590/intermediate.crl`), `leaf-wrong-eku`; `crl-empty.{der,pem}`,
//! `crl-revoked.{der,pem}` (lists leaf-revoked); `other-root.pem` + `leaf-untrusted`;
//! `sa-root.pem` + `sa-leaf`, `sa-leaf-expired`. Each leaf NAME has `NAME.pem`, `NAME.key`,
//! `NAME.chain.pem`. Subjects: `C=US, ST=WA, L=Seattle, O=acme-rockets.io, CN=NAME`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::rig::Rig;
use crate::tools;

/// The artifact type of a Notation signature manifest.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// Envelope (signature layer) media types.
pub const JWS: &str = "application/jose+json";
pub const COSE: &str = "application/cose";
/// What a trust policy's trustedIdentities write before the CN.
pub const SUBJECT_PREFIX: &str = "C=US, ST=WA, L=Seattle, O=acme-rockets.io, CN=";

/// The envelope format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    Jws,
    Cose,
}

impl Envelope {
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jws => JWS,
            Self::Cose => COSE,
        }
    }
}

/// The signing scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `notary.x509`: `io.cncf.notary.signingTime`; the root goes in a `ca` trust store.
    X509,
    /// `notary.x509.signingAuthority`: `io.cncf.notary.authenticSigningTime`; the root goes
    /// in a `signingAuthority` trust store.
    SigningAuthority,
}

/// Which of the rig's registries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registry {
    /// `$PORTIERIS_RIG_REGISTRY_REFERRERS`: go-containerregistry's, with the referrers API.
    Referrers,
    /// `$PORTIERIS_RIG_REGISTRY`: Debian's docker-registry 2.8, no referrers API (oras-go finds
    /// that out and uses the tag schema).
    Fallback,
}

/// How to sign. `Sign::default()`: `leaf-ec`, JWS, notary.x509, now, no expiry, no timestamp,
/// the referrers API.
#[derive(Clone, Debug)]
pub struct Sign<'a> {
    /// A leaf of the PKI (`leaf-rsa`, `leaf-ec`, `sa-leaf`, ...).
    pub leaf: &'a str,
    pub envelope: Envelope,
    pub scheme: Scheme,
    /// RFC 3339; `None`: now. The chain must be valid then (unless `unchecked_chain`).
    pub signing_time: Option<&'a str>,
    /// A Go duration (`1h`, `30s`): `io.cncf.notary.expiry` = signing time + this.
    pub expiry: Option<&'a str>,
    /// An RFC 3161 timestamp from the loopback Sigstore's timestamp authority.
    pub timestamp: bool,
    /// Push with the referrers tag schema (`sha256-<hex>` index) even where the registry has
    /// the referrers API.
    pub tag_schema: bool,
    /// Sign even with a chain that breaks Notary's code-signing rules (e.g. `leaf-wrong-eku`).
    pub unchecked_chain: bool,
}

impl Default for Sign<'_> {
    fn default() -> Self {
        Self {
            leaf: "leaf-ec",
            envelope: Envelope::Jws,
            scheme: Scheme::X509,
            signing_time: None,
            expiry: None,
            timestamp: false,
            tag_schema: false,
            unchecked_chain: false,
        }
    }
}

/// A PKI made by `scripts/notation/pki.sh` in a temporary folder.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = repo_root().join("scripts/notation/pki.sh");
        tools::run(Command::new("bash").arg(script).arg(dir.path()), None);
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file of the PKI (`root.pem`, `leaf-ec.chain.pem`, `crl-revoked.der`...).
    pub fn path(&self, file: &str) -> PathBuf {
        let path = self.dir.path().join(file);
        assert!(path.exists(), "the notation PKI has no {file}");
        path
    }

    /// A PEM file's text (a trust store's root, for a Secret).
    pub fn pem(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file)).expect("a PKI file")
    }

    pub fn bytes(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path(file)).expect("a PKI file")
    }

    /// `x509.subject: C=US, ..., CN=<name>`, as trustedIdentities write it.
    pub fn identity(name: &str) -> String {
        format!("x509.subject: {SUBJECT_PREFIX}{name}")
    }
}

/// What [`Notation::sign`] pushed.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The signature manifest's digest (it lists as a referrer of the image).
    pub manifest: String,
}

/// The signer, a PKI, the rig, and new repositories under `prefix`.
pub struct Notation {
    pub rig: Rig,
    pub pki: Pki,
    signer: PathBuf,
    layouts: tempfile::TempDir,
    prefix: String,
}

impl Notation {
    /// `prefix` should be new each run (the registries keep state).
    pub fn new(prefix: String) -> Self {
        Self {
            rig: Rig::get(),
            pki: Pki::new(),
            signer: signer(),
            layouts: tempfile::tempdir().expect("tempdir"),
            prefix,
        }
    }

    /// The notation-signer binary.
    pub fn signer(&self) -> &Path {
        &self.signer
    }

    /// The host:port of `registry`.
    pub fn host(&self, registry: Registry) -> String {
        match registry {
            Registry::Referrers => self.rig.env("PORTIERIS_RIG_REGISTRY_REFERRERS"),
            Registry::Fallback => self.rig.env("PORTIERIS_RIG_REGISTRY"),
        }
    }

    /// Pushes a new image `<prefix>/<name>:v1` (its content its name) to `registry`: the tag
    /// reference and the digest (`sha256:<hex>`).
    pub fn push(&self, registry: Registry, name: &str) -> (String, String) {
        let layout = self.layouts.path().join(name);
        tools::make_image(&layout, "v1", &format!("{} {name}", self.prefix));
        let image = format!("{}/{}/{name}:v1", self.host(registry), self.prefix);
        tools::push(&self.rig, &format!("oci:{}:v1", layout.display()), &image);
        let digest = tools::sha256(&tools::raw_manifest(&self.rig, &image));
        (image, digest)
    }

    /// Signs `image@digest` (`image` with or without its tag) and pushes the signature.
    pub fn sign(&self, image: &str, digest: &str, how: &Sign<'_>) -> Signed {
        let reference = format!("{}@{digest}", repository(image));
        let ca = self.rig.ca();
        let mut args: Vec<String> = vec![
            "--reference".into(),
            reference,
            "--ca-file".into(),
            ca.display().to_string(),
        ];
        if how.tag_schema {
            args.push("--tag-schema".into());
        }
        let out = self.run_sign(how, args);
        let manifest = out.trim().to_string();
        assert!(
            manifest.starts_with("sha256:"),
            "notation-signer printed {out:?}"
        );
        Signed { manifest }
    }

    /// The envelope bytes for `descriptor` (`{"mediaType","digest","size"}`), pushed nowhere.
    pub fn envelope(&self, descriptor: &serde_json::Value, how: &Sign<'_>) -> Vec<u8> {
        let out = tempfile::NamedTempFile::new().expect("tempfile");
        let args = vec![
            "--descriptor-json".into(),
            descriptor.to_string(),
            "--out".into(),
            out.path().display().to_string(),
        ];
        self.run_sign(how, args);
        std::fs::read(out.path()).expect("the envelope")
    }

    fn run_sign(&self, how: &Sign<'_>, tail: Vec<String>) -> String {
        let mut args: Vec<String> = vec![
            "sign".into(),
            "--key".into(),
            self.pki
                .path(&format!("{}.key", how.leaf))
                .display()
                .to_string(),
            "--chain".into(),
            self.pki
                .path(&format!("{}.chain.pem", how.leaf))
                .display()
                .to_string(),
            "--envelope".into(),
            match how.envelope {
                Envelope::Jws => "jws",
                Envelope::Cose => "cose",
            }
            .into(),
            "--scheme".into(),
            match how.scheme {
                Scheme::X509 => "notary.x509",
                Scheme::SigningAuthority => "notary.x509.signingAuthority",
            }
            .into(),
        ];
        if let Some(time) = how.signing_time {
            args.extend(["--signing-time".into(), time.into()]);
        }
        if let Some(expiry) = how.expiry {
            args.extend(["--expiry".into(), expiry.into()]);
        }
        if how.timestamp {
            let (url, root) = tsa();
            args.extend([
                "--tsa-url".into(),
                url,
                "--tsa-root".into(),
                root.display().to_string(),
            ]);
        }
        if how.unchecked_chain {
            args.push("--unchecked-chain".into());
        }
        args.extend(tail);
        tools::run(Command::new(&self.signer).args(&args), None)
    }

    /// `GET /v2/<repository>/referrers/<digest>` of `image`'s registry (which must serve the
    /// referrers API): the OCI index, with curl over the rig's CA.
    pub fn referrers(&self, image: &str, digest: &str) -> serde_json::Value {
        let repo = repository(image);
        let (host, path) = repo.split_once('/').expect("host/repository");
        let url = format!("https://{host}/v2/{path}/referrers/{digest}");
        let ca = self.rig.ca();
        let body = tools::run(
            Command::new("curl")
                .args(["-fsS", "--cacert"])
                .arg(ca)
                .arg(url),
            None,
        );
        serde_json::from_str(&body).expect("the referrers index is JSON")
    }

    /// The index at the referrers tag `sha256-<hex>` of `image@digest` (tag schema), with curl.
    pub fn referrers_tag(&self, image: &str, digest: &str) -> serde_json::Value {
        let repo = repository(image);
        let (host, path) = repo.split_once('/').expect("host/repository");
        let tag = digest.replacen(':', "-", 1);
        let url = format!("https://{host}/v2/{path}/manifests/{tag}");
        let ca = self.rig.ca();
        let body = tools::run(
            Command::new("curl")
                .args([
                    "-fsS",
                    "-H",
                    "Accept: application/vnd.oci.image.index.v1+json",
                    "--cacert",
                ])
                .arg(ca)
                .arg(url),
            None,
        );
        serde_json::from_str(&body).expect("the referrers tag index is JSON")
    }
}

/// `host/repo` of `host/repo:tag`, `host/repo@digest` or `host/repo`.
pub fn repository(image: &str) -> String {
    let image = image.split('@').next().expect("a reference");
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name.to_string(),
        _ => image.to_string(),
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `$PORTIERIS_NOTATION_SIGNER`, else `scripts/notation-bin.sh`'s (building it if needed).
pub fn signer() -> PathBuf {
    if let Ok(path) = std::env::var("PORTIERIS_NOTATION_SIGNER") {
        return PathBuf::from(path);
    }
    let script = repo_root().join("scripts/notation-bin.sh");
    let out = tools::run(Command::new("bash").arg(script), None);
    PathBuf::from(out.lines().last().expect("notation-bin.sh prints the path"))
}

/// The loopback timestamp authority's URL and root certificate (`scripts/sigstore.sh env`).
pub fn tsa() -> (String, PathBuf) {
    let script = repo_root().join("scripts/sigstore.sh");
    let status = Command::new("bash").arg(&script).arg("status").output();
    assert!(
        status.is_ok_and(|out| out.status.success()),
        "no loopback Sigstore (its timestamp authority): start it: scripts/sigstore.sh start"
    );
    let env = tools::run(Command::new("bash").arg(&script).arg("env"), None);
    let get = |key: &str| {
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("scripts/sigstore.sh env has no {key}"))
            .to_string()
    };
    let root = PathBuf::from(get("PORTIERIS_SIGSTORE_DIR")).join("keys/tsa-root.crt");
    assert!(root.exists(), "no {}", root.display());
    (get("PORTIERIS_SIGSTORE_TSA_URL"), root)
}
