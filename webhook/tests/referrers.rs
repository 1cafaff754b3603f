//! OCI 1.1 referrers read by the webhook's fetcher (`fetch::referrers`) from two real
//! registries of the rig (`scripts/rig.sh start`): `$PORTIERIS_RIG_REGISTRY_REFERRERS`, which
//! serves the referrers API (go-containerregistry's registry: it ignores `artifactType` and
//! lists each referrer as its config's media type), and `$PORTIERIS_RIG_REGISTRY`, Debian's
//! docker-registry 2.8 without it, where referrers are found through the index at tag
//! `sha256-<hex>`. Images, referrers and fallback indexes are pushed by `common/oci.py`, a
//! minimal OCI client, as cosign v3 pushes a Sigstore bundle: an image manifest with the empty
//! config, `artifactType`, one layer and a `subject`. What no honest registry does (answer the
//! referrers path with something else, serve other bytes than it lists) is played by an HTTPS
//! file server with the rig's certificate (`common/simple.rs`). Without the rig every test
//! fails, saying how to start it.

#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // a shared helper: not every test file uses all of it
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)] // shared with other test files: here, its HTTPS file server
#[path = "common/simple.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portieris_core::evidence::Cause;
use portieris_core::registry::referrers::{
    EMPTY_CONFIG_MEDIA_TYPE, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Referrer,
};
use portieris_core::{Digest, ImageRef};
use portieris_webhook::fetch::referrers::{Bounds, Referrers};
use portieris_webhook::fetch::registry::Registry;
use portieris_webhook::fetch::{FetchConfig, Fetcher};
use rig::Rig;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const TIMEOUT: Duration = Duration::from_secs(10);
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SBOM: &str = "application/spdx+json";

/// The two registries: with the referrers API, and without it (tag fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Api,
    Fallback,
}

/// One repository of one rig registry, new for each test (the rig's registries keep what
/// earlier runs pushed).
struct Repo {
    kind: Kind,
    registry: String,
    repo: String,
    ca: PathBuf,
    rig_dir: PathBuf,
}

/// A manifest as pushed.
#[derive(Debug, Clone)]
struct Pushed {
    digest: String,
    size: usize,
}

/// A referrer as pushed: its manifest, artifact type and blob.
#[derive(Debug, Clone)]
struct PushedReferrer {
    manifest: Pushed,
    artifact_type: String,
    blob: Vec<u8>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Repo {
    fn new(rig: &Rig, kind: Kind, name: &str) -> Self {
        let registry = match kind {
            Kind::Api => rig.env("PORTIERIS_RIG_REGISTRY_REFERRERS"),
            Kind::Fallback => rig.env("PORTIERIS_RIG_REGISTRY"),
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            kind,
            registry,
            repo: format!("test/referrers-{name}-{stamp}-{n}"),
            ca: rig.ca(),
            rig_dir: PathBuf::from(rig.env("PORTIERIS_RIG_DIR")),
        }
    }

    fn image(&self) -> ImageRef {
        ImageRef::parse(&format!("{}/{}:v1", self.registry, self.repo)).expect("image reference")
    }

    /// Runs `common/oci.py` over `ops`; its answers.
    fn oci(&self, ops: &[Value]) -> Vec<Value> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/oci.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&self.ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(&serde_json::to_vec(ops).expect("JSON"))
                .expect("ops written");
        }
        let out = child.wait_with_output().expect("oci.py finished");
        assert!(
            out.status.success(),
            "oci.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("oci.py answers JSON")
    }

    fn blob_op(&self, data: &[u8]) -> Value {
        json!({"op": "blob", "registry": self.registry, "repo": self.repo,
            "data": STANDARD.encode(data)})
    }

    fn manifest_op(&self, reference: &str, media_type: &str, data: &[u8]) -> Value {
        json!({"op": "manifest", "registry": self.registry, "repo": self.repo,
            "reference": reference, "media_type": media_type, "data": STANDARD.encode(data)})
    }

    /// Pushes `manifest` by its digest, after `blobs`.
    fn push(&self, blobs: &[&[u8]], media_type: &str, manifest: &Value) -> Pushed {
        let bytes = serde_json::to_vec(manifest).expect("JSON");
        let digest = sha256(&bytes);
        let mut ops: Vec<Value> = blobs.iter().map(|b| self.blob_op(b)).collect();
        ops.push(self.manifest_op(&digest, media_type, &bytes));
        let answers = self.oci(&ops);
        assert_eq!(
            answers.last().and_then(|a| a["digest"].as_str()),
            Some(digest.as_str())
        );
        Pushed {
            digest,
            size: bytes.len(),
        }
    }

    /// A one-layer image, tagged `v1`; its manifest.
    fn push_image(&self) -> Pushed {
        let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}}))
        .expect("JSON");
        let layer = format!("layer of {}", self.repo).into_bytes();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &layer)],
        });
        let pushed = self.push(&[&config, &layer], MANIFEST_MEDIA_TYPE, &manifest);
        let bytes = serde_json::to_vec(&manifest).expect("JSON");
        self.oci(&[self.manifest_op("v1", MANIFEST_MEDIA_TYPE, &bytes)]);
        pushed
    }

    /// A referrer of `subject` as cosign v3 writes a bundle: the empty config, `artifactType`,
    /// one layer holding `blob`.
    fn push_referrer(&self, subject: &Pushed, artifact_type: &str, blob: &[u8]) -> PushedReferrer {
        self.push_referrer_listing(
            subject,
            artifact_type,
            blob,
            &descriptor(artifact_type, blob),
        )
    }

    /// Like [`Repo::push_referrer`], its layer described by `layer` (which may lie).
    fn push_referrer_listing(
        &self,
        subject: &Pushed,
        artifact_type: &str,
        blob: &[u8],
        layer: &Value,
    ) -> PushedReferrer {
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": artifact_type,
            "config": descriptor(EMPTY_CONFIG_MEDIA_TYPE, b"{}"),
            "layers": [layer],
            "subject": {"mediaType": MANIFEST_MEDIA_TYPE, "digest": subject.digest,
                "size": subject.size},
            "annotations": {"dev.sigstore.bundle.content": "dsse-envelope"},
        });
        PushedReferrer {
            manifest: self.push(&[b"{}", blob], MANIFEST_MEDIA_TYPE, &manifest),
            artifact_type: artifact_type.to_string(),
            blob: blob.to_vec(),
        }
    }

    /// The tag-schema index of `subject`, listing `referrers` (as cosign writes it on a
    /// registry without the API).
    fn push_fallback_index(&self, subject: &Pushed, referrers: &[&PushedReferrer]) {
        let manifests: Vec<Value> = referrers
            .iter()
            .map(|r| {
                json!({"mediaType": MANIFEST_MEDIA_TYPE, "digest": r.manifest.digest,
                    "size": r.manifest.size, "artifactType": r.artifact_type})
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE,
            "manifests": manifests});
        let tag = subject.digest.replacen(':', "-", 1);
        let bytes = serde_json::to_vec(&index).expect("JSON");
        self.oci(&[self.manifest_op(&tag, INDEX_MEDIA_TYPE, &bytes)]);
    }

    /// Makes `referrers` findable: the API finds them by their subject; without it, the
    /// fallback index lists them.
    fn publish(&self, subject: &Pushed, referrers: &[&PushedReferrer]) {
        if self.kind == Kind::Fallback {
            self.push_fallback_index(subject, referrers);
        }
    }

    /// What the registry answers to `GET /v2/<repo>/referrers/<digest>?artifactType=…`.
    fn referrers_answer(&self, subject: &Pushed, artifact_type: &str) -> Value {
        let url = format!(
            "https://{}/v2/{}/referrers/{}?artifactType={}",
            self.registry,
            self.repo,
            subject.digest,
            artifact_type.replace('+', "%2B")
        );
        self.oci(&[json!({"op": "get", "url": url, "accept": INDEX_MEDIA_TYPE})])
            .remove(0)
    }
}

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(bytes), "size": bytes.len()})
}

fn referrers(rig: &Rig, bounds: Bounds) -> Referrers {
    let fetcher = Fetcher::new(&FetchConfig::new(TIMEOUT, Some(rig.ca()))).expect("client");
    Referrers::bounded(Registry::new(Arc::new(fetcher)), bounds)
}

fn digest(pushed: &Pushed) -> Digest {
    Digest::parse(&pushed.digest).expect("digest")
}

/// What a fetched referrer is, to compare with what was pushed.
fn seen(referrer: &Referrer) -> (String, String, Vec<Vec<u8>>) {
    (
        referrer.artifact_type.clone(),
        referrer.manifest_digest.to_string(),
        referrer.blobs.iter().map(|b| b.bytes.clone()).collect(),
    )
}

fn pushed(referrers: &[&PushedReferrer]) -> Vec<(String, String, Vec<Vec<u8>>)> {
    let mut all: Vec<_> = referrers
        .iter()
        .map(|r| {
            (
                r.artifact_type.clone(),
                r.manifest.digest.clone(),
                vec![r.blob.clone()],
            )
        })
        .collect();
    all.sort_by(|a, b| a.1.cmp(&b.1));
    all
}

/// A small Sigstore bundle-like JSON, its bytes new to the registry (blobs are stored by
/// digest across repositories, and one test changes a stored blob).
fn bundle(repo: &Repo, n: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"mediaType": BUNDLE, "n": n, "for": repo.repo,
        "verificationMaterial": {"publicKey": {"hint": "test"}},
        "dsseEnvelope": {"payload": "e30=", "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": "MEUCIQ=="}]}}))
    .expect("JSON")
}

/// Two bundles and an SBOM of one image, and a bundle of another image in the same
/// repository; fetched by type, each type gives exactly its own.
async fn only_the_referrers_of_the_type_asked_for_are_returned(kind: Kind) {
    let rig = Rig::get();
    let repo = Repo::new(&rig, kind, "types");
    let image = repo.push_image();
    let first = repo.push_referrer(&image, BUNDLE, &bundle(&repo, 1));
    let second = repo.push_referrer(&image, BUNDLE, &bundle(&repo, 2));
    let sbom = repo.push_referrer(&image, SBOM, br#"{"spdxVersion":"SPDX-2.3"}"#);
    repo.publish(&image, &[&first, &second, &sbom]);
    let other_image = repo.push_image_other();
    let stranger = repo.push_referrer(&other_image, BUNDLE, &bundle(&repo, 3));
    repo.publish(&other_image, &[&stranger]);

    let reader = referrers(&rig, Bounds::default());
    let got = reader
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect("bundles");
    assert_eq!(
        got.iter().map(seen).collect::<Vec<_>>(),
        pushed(&[&first, &second])
    );
    assert!(got.iter().all(|r| r.blobs[0].media_type == BUNDLE));
    assert_eq!(
        got[0].annotations.get("dev.sigstore.bundle.content"),
        Some(&"dsse-envelope".to_string())
    );
    let got = reader
        .fetch(&repo.image(), &digest(&image), SBOM, &[])
        .await
        .expect("SBOM");
    assert_eq!(got.iter().map(seen).collect::<Vec<_>>(), pushed(&[&sbom]));
    let got = reader
        .fetch(&repo.image(), &digest(&other_image), BUNDLE, &[])
        .await
        .expect("the other image's");
    assert_eq!(
        got.iter().map(seen).collect::<Vec<_>>(),
        pushed(&[&stranger])
    );
}

impl Repo {
    /// A second image in the same repository, tagged `v2`.
    fn push_image_other(&self) -> Pushed {
        let layer = format!("other layer of {}", self.repo).into_bytes();
        let config = b"{\"architecture\":\"arm64\",\"os\":\"linux\"}".to_vec();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &layer)],
        });
        self.push(&[&config, &layer], MANIFEST_MEDIA_TYPE, &manifest)
    }
}

#[tokio::test]
async fn the_referrers_api_gives_only_the_referrers_of_the_type_asked_for() {
    only_the_referrers_of_the_type_asked_for_are_returned(Kind::Api).await;
}

#[tokio::test]
async fn the_tag_fallback_gives_only_the_referrers_of_the_type_asked_for() {
    only_the_referrers_of_the_type_asked_for_are_returned(Kind::Fallback).await;
}

/// What each registry does with the API, pinned so that a change of rig shows: the one with
/// the API lists every referrer whatever `artifactType` asks, each as its config's media type,
/// without `OCI-Filters-Applied`; the one without answers 404.
#[tokio::test]
async fn the_rig_registries_answer_the_referrers_api_as_documented() {
    let rig = Rig::get();
    let api = Repo::new(&rig, Kind::Api, "answer");
    let image = api.push_image();
    let one = api.push_referrer(&image, BUNDLE, &bundle(&api, 1));
    let sbom = api.push_referrer(&image, SBOM, b"{}");
    let answer = api.referrers_answer(&image, BUNDLE);
    assert_eq!(answer["status"], 200, "{answer}");
    let headers = answer["headers"].as_object().expect("headers");
    assert!(
        !headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("OCI-Filters-Applied")),
        "{answer}"
    );
    let index: Value = serde_json::from_str(answer["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(index["mediaType"], INDEX_MEDIA_TYPE);
    let mut listed: Vec<(String, String)> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            (
                m["digest"].as_str().unwrap_or_default().to_string(),
                m["artifactType"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        (
            one.manifest.digest.clone(),
            EMPTY_CONFIG_MEDIA_TYPE.to_string(),
        ),
        (
            sbom.manifest.digest.clone(),
            EMPTY_CONFIG_MEDIA_TYPE.to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(listed, expected, "{answer}");

    let old = Repo::new(&rig, Kind::Fallback, "answer");
    let image = old.push_image();
    let answer = old.referrers_answer(&image, BUNDLE);
    assert_eq!(answer["status"], 404, "{answer}");
}

async fn an_image_without_referrers_has_none(kind: Kind) {
    let rig = Rig::get();
    let repo = Repo::new(&rig, kind, "none");
    let image = repo.push_image();
    let got = referrers(&rig, Bounds::default())
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect("no referrers is not an error");
    assert!(got.is_empty(), "{got:?}");
    // A repository the registry has never seen: none either.
    let unknown = Repo::new(&rig, kind, "unknown");
    let got = referrers(&rig, Bounds::default())
        .fetch(&unknown.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect("no repository, no referrers");
    assert!(got.is_empty(), "{got:?}");
}

#[tokio::test]
async fn an_image_without_referrers_has_none_on_the_referrers_api() {
    an_image_without_referrers_has_none(Kind::Api).await;
}

#[tokio::test]
async fn an_image_without_referrers_has_none_through_the_tag_fallback() {
    an_image_without_referrers_has_none(Kind::Fallback).await;
}

/// The fallback index is written by clients, so it can list anything: a referrer of another
/// image listed for this one is refused, not skipped.
#[tokio::test]
async fn a_referrer_whose_subject_is_another_image_is_refused() {
    let rig = Rig::get();
    let repo = Repo::new(&rig, Kind::Fallback, "subject");
    let image = repo.push_image();
    let other = repo.push_image_other();
    let mine = repo.push_referrer(&image, BUNDLE, &bundle(&repo, 1));
    let theirs = repo.push_referrer(&other, BUNDLE, &bundle(&repo, 2));
    repo.push_fallback_index(&image, &[&mine, &theirs]);
    let failure = referrers(&rig, Bounds::default())
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect_err("refused");
    assert_eq!(failure.cause, Cause::Unreadable, "{failure}");
    assert!(failure.message.contains("subject"), "{failure}");
    assert!(failure.message.contains(&other.digest), "{failure}");
}

/// A blob whose stored bytes were changed (same length) on the registry's disk.
#[tokio::test]
async fn a_blob_that_is_not_its_digest_is_refused() {
    let rig = Rig::get();
    let repo = Repo::new(&rig, Kind::Fallback, "tampered");
    let image = repo.push_image();
    let blob = bundle(&repo, 1);
    let referrer = repo.push_referrer(&image, BUNDLE, &blob);
    repo.push_fallback_index(&image, &[&referrer]);
    let hex = sha256(&blob).trim_start_matches("sha256:").to_string();
    let data = repo
        .rig_dir
        .join("registry/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(&hex)
        .join("data");
    let mut forged = blob.clone();
    forged[0] = b' ';
    std::fs::write(&data, &forged).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let failure = referrers(&rig, Bounds::default())
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect_err("refused");
    assert_eq!(failure.cause, Cause::Unreadable, "{failure}");
    assert!(failure.message.contains(&sha256(&forged)), "{failure}");
}

/// A layer listed with another size than its blob's: the registry serves the blob it has.
#[tokio::test]
async fn a_blob_that_is_not_its_listed_size_is_refused() {
    let rig = Rig::get();
    let repo = Repo::new(&rig, Kind::Api, "size");
    let image = repo.push_image();
    let blob = bundle(&repo, 1);
    let mut layer = descriptor(BUNDLE, &blob);
    layer["size"] = json!(blob.len() + 10);
    let _ = repo.push_referrer_listing(&image, BUNDLE, &blob, &layer);
    let failure = referrers(&rig, Bounds::default())
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect_err("refused");
    assert_eq!(failure.cause, Cause::Unreadable, "{failure}");
    assert!(failure.message.contains("listed as"), "{failure}");
}

async fn bounds_fail_closed(kind: Kind) {
    let rig = Rig::get();
    let repo = Repo::new(&rig, kind, "bounds");
    let image = repo.push_image();
    let first = repo.push_referrer(&image, BUNDLE, &bundle(&repo, 1));
    let second = repo.push_referrer(&image, BUNDLE, &bundle(&repo, 2));
    repo.publish(&image, &[&first, &second]);
    let size = bundle(&repo, 1).len();
    let within = Bounds {
        max_referrers: 2,
        max_layers: 1,
        max_blob_bytes: size,
        max_total_bytes: 2 * size,
    };
    let got = referrers(&rig, within)
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect("within the bounds");
    assert_eq!(got.len(), 2);
    for (bounds, says) in [
        (
            Bounds {
                max_referrers: 1,
                ..within
            },
            "more than the 1 fetched",
        ),
        (
            Bounds {
                max_blob_bytes: size - 1,
                ..within
            },
            "more than",
        ),
        (
            Bounds {
                max_total_bytes: 2 * size - 1,
                ..within
            },
            "more than",
        ),
        (
            Bounds {
                max_layers: 0,
                ..within
            },
            "layers",
        ),
    ] {
        let failure = referrers(&rig, bounds)
            .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
            .await
            .expect_err("past a bound");
        assert_eq!(failure.cause, Cause::TooLarge, "{bounds:?}: {failure}");
        assert!(failure.message.contains(says), "{bounds:?}: {failure}");
    }
}

#[tokio::test]
async fn count_and_size_bounds_fail_closed_on_the_referrers_api() {
    bounds_fail_closed(Kind::Api).await;
}

#[tokio::test]
async fn count_and_size_bounds_fail_closed_through_the_tag_fallback() {
    bounds_fail_closed(Kind::Fallback).await;
}

/// Reads are cached: a referrer pushed after a read is seen once the cache has let go (an
/// empty set is kept 5 s, a set with referrers 30 s), not at once.
#[tokio::test]
async fn a_read_is_cached_per_image_and_type() {
    let rig = Rig::get();
    let repo = Repo::new(&rig, Kind::Api, "cache");
    let image = repo.push_image();
    let reader = referrers(&rig, Bounds::default());
    let first = repo.push_referrer(&image, BUNDLE, &bundle(&repo, 1));
    let got = reader
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect("one");
    assert_eq!(got.len(), 1);
    let _ = repo.push_referrer(&image, BUNDLE, &bundle(&repo, 2));
    let again = reader
        .fetch(&repo.image(), &digest(&image), BUNDLE, &[])
        .await
        .expect("cached");
    assert!(Arc::ptr_eq(&got, &again), "served from the cache");
    assert_eq!(
        again.iter().map(seen).collect::<Vec<_>>(),
        pushed(&[&first])
    );
    let sboms = reader
        .fetch(&repo.image(), &digest(&image), SBOM, &[])
        .await
        .expect("another type is another read");
    assert!(sboms.is_empty());
}

/// A registry played by files: `referrers` (the answer at `/v2/test/odd/referrers/<digest>`,
/// none if `None`), the fallback index (none if `None`), and one bundle referrer of `subject`
/// whose manifest is served as `served` (its own bytes if `None`). The image, the referrer's
/// manifest bytes, and the server's address.
struct FileRegistry {
    image: ImageRef,
    subject: Digest,
    referrer: Vec<u8>,
    address: std::net::SocketAddr,
    _root: tempfile::TempDir,
}

impl FileRegistry {
    fn new(
        rig: &Rig,
        referrers: impl Fn(&Value) -> Option<Vec<u8>>,
        fallback: bool,
        served: Option<&[u8]>,
    ) -> Self {
        let root = tempfile::tempdir().expect("root");
        let repo = root.path().join("v2/test/odd");
        for dir in ["referrers", "manifests", "blobs"] {
            std::fs::create_dir_all(repo.join(dir)).expect("folders");
        }
        let subject_bytes = b"the image manifest of the file registry";
        let subject = sha256(subject_bytes);
        let blob = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": BUNDLE,
            "config": descriptor(EMPTY_CONFIG_MEDIA_TYPE, b"{}"),
            "layers": [descriptor(BUNDLE, blob)],
            "subject": {"mediaType": MANIFEST_MEDIA_TYPE, "digest": subject,
                "size": subject_bytes.len()},
        }))
        .expect("JSON");
        let index = json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [{"mediaType": MANIFEST_MEDIA_TYPE, "digest": sha256(&manifest),
                "size": manifest.len(), "artifactType": BUNDLE}]});
        let write = |path: PathBuf, bytes: &[u8]| std::fs::write(path, bytes).expect("write");
        if let Some(answer) = referrers(&index) {
            write(repo.join("referrers").join(&subject), &answer);
        }
        if fallback {
            let tag = subject.replacen(':', "-", 1);
            write(
                repo.join("manifests").join(tag),
                &serde_json::to_vec(&index).expect("JSON"),
            );
        }
        write(
            repo.join("manifests").join(sha256(&manifest)),
            served.unwrap_or(&manifest),
        );
        write(repo.join("blobs").join(sha256(blob)), blob);
        let address = tools::serve(root.path().to_path_buf(), Some(tools::rig_tls(rig)));
        Self {
            image: ImageRef::parse(&format!("{address}/test/odd:v1")).expect("image"),
            subject: Digest::parse(&subject).expect("digest"),
            referrer: manifest,
            address,
            _root: root,
        }
    }

    async fn fetch(
        &self,
        rig: &Rig,
    ) -> Result<Arc<[Referrer]>, portieris_core::evidence::FetchFailure> {
        referrers(rig, Bounds::default())
            .fetch(&self.image, &self.subject, BUNDLE, &[])
            .await
    }

    fn asked_for_the_fallback_tag(&self) -> bool {
        let tag = format!("/v2/test/odd/manifests/sha256-{}", self.subject.hex());
        tools::served(self.address).contains(&tag)
    }
}

/// A registry without the API may answer the referrers path with a page of its own: that is
/// not an index, so the tag is read.
#[tokio::test]
async fn a_registry_answering_the_referrers_path_with_something_else_is_read_through_the_tag() {
    let rig = Rig::get();
    let files = FileRegistry::new(
        &rig,
        |_| Some(b"<html>no such page</html>".to_vec()),
        true,
        None,
    );
    let got = files.fetch(&rig).await.expect("through the tag");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].manifest_digest.to_string(), sha256(&files.referrer));
    assert!(files.asked_for_the_fallback_tag());
}

/// An index is an index without the `Content-Type` that says so (this server sends none).
#[tokio::test]
async fn a_referrers_api_answer_is_read_whatever_its_content_type() {
    let rig = Rig::get();
    let files = FileRegistry::new(
        &rig,
        |index| Some(serde_json::to_vec(index).expect("JSON")),
        false,
        None,
    );
    let got = files.fetch(&rig).await.expect("from the API");
    assert_eq!(got.len(), 1);
    assert!(!files.asked_for_the_fallback_tag());
}

/// A registry listing one manifest and serving other bytes for it (another referrer of the
/// same image, here) is refused: the listed digest is the one checked.
#[tokio::test]
async fn a_registry_serving_other_bytes_than_the_referrer_it_lists_is_refused() {
    let rig = Rig::get();
    let other = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    let files = FileRegistry::new(
        &rig,
        |index| Some(serde_json::to_vec(index).expect("JSON")),
        false,
        Some(other),
    );
    let failure = files.fetch(&rig).await.expect_err("refused");
    assert_eq!(failure.cause, Cause::Unreadable, "{failure}");
    assert!(failure.message.contains(&sha256(other)), "{failure}");
}

/// A manifest longer than listed is not read past its listed size.
#[tokio::test]
async fn a_registry_serving_more_bytes_than_the_referrer_it_lists_is_cut_off() {
    let rig = Rig::get();
    let padded = vec![b' '; 64 * 1024];
    let files = FileRegistry::new(
        &rig,
        |index| Some(serde_json::to_vec(index).expect("JSON")),
        false,
        Some(&padded),
    );
    let failure = files.fetch(&rig).await.expect_err("refused");
    assert_eq!(failure.cause, Cause::TooLarge, "{failure}");
    assert!(
        failure
            .message
            .contains(&format!("larger than {} bytes", files.referrer.len())),
        "{failure}"
    );
}
