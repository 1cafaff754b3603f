//! The default Sigstore trusted root refreshed from a real TUF repository: repositories written
//! by python-tuf (the TUF reference implementation, `scripts/tuf-py.sh`; see
//! `tests/tuf/make_repo.py`) holding the loopback Sigstore's `trusted_root.json`, served over
//! HTTP on loopback, read by `sigstore_root::Refresher` (tough). And end to end: a keyless
//! policy without `trustedRootSecret` admits the loopback fixture image only once the refresher
//! installed the loopback root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use portieris_core::Digest;
use portieris_core::evidence::{Gathered, Material};
use portieris_core::verdict::Requirements;
use portieris_webhook::admit::{Admitter, Gather, Outcome, Scope};
use portieris_webhook::policies::PolicyStore;
use portieris_webhook::sigstore_root::{COUNTS, DefaultRoot, RefreshError, Refresher, TufSource};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const TARGET: &str = "trusted_root.json";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/sigstore")
}

/// The loopback Sigstore's trusted root: what the repositories serve.
fn loopback_root() -> Vec<u8> {
    std::fs::read(fixtures().join("trusted_root.json")).expect("fixture trusted root")
}

/// `$PORTIERIS_TUF_PYTHON` (set by scripts/test.sh), else what `scripts/tuf-py.sh` prints
/// (installing python-tuf from PyPI once per machine).
fn tuf_python() -> PathBuf {
    if let Some(path) = std::env::var_os("PORTIERIS_TUF_PYTHON") {
        return PathBuf::from(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/tuf-py.sh");
    let out = Command::new("bash").arg(&script).output();
    let out = out.unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(
        out.status.success(),
        "these tests need python-tuf: `bash scripts/tuf-py.sh` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A TUF repository written by python-tuf with fresh keys, holding `target` as
/// `trusted_root.json`.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(target: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("repository folder");
        let file = dir.path().join("target.json");
        std::fs::write(&file, target).expect("target file");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tuf/make_repo.py");
        let out = Command::new(tuf_python())
            .arg(&script)
            .arg(dir.path())
            .arg(TARGET)
            .arg(&file)
            .output()
            .expect("run make_repo.py");
        assert!(
            out.status.success(),
            "make_repo.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    /// The folder to serve.
    fn served(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// The initial root a client starts from.
    fn root(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("root.json")).expect("root.json")
    }

    /// The target as served (`targets/<sha256>.trusted_root.json`).
    fn target_file(&self) -> PathBuf {
        let targets = self.served().join("targets");
        let entry = std::fs::read_dir(&targets)
            .expect("targets folder")
            .next()
            .expect("one target")
            .expect("entry");
        entry.path()
    }
}

/// Serves `dir` over HTTP/1.1 on loopback (GET only, one request per connection); the base
/// URL. The server lives as long as the test's runtime.
async fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let dir = dir.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let file = path.trim_start_matches('/');
                let body = (!file.contains("..") && !file.is_empty())
                    .then(|| std::fs::read(dir.join(file)).ok())
                    .flatten();
                let reply = match body {
                    Some(body) => {
                        let mut reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        reply.extend_from_slice(&body);
                        reply
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = tcp.write_all(&reply).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn refresher(url: &str, initial_root: Vec<u8>, root: &DefaultRoot) -> Refresher {
    let source = TufSource {
        url: url.to_string(),
        root: initial_root,
        timeout: Duration::from_secs(5),
        ca_file: None,
    };
    Refresher::new(source, root.clone()).expect("refresher")
}

fn current(root: &DefaultRoot) -> Option<Vec<u8>> {
    root.current().map(|json| json.to_vec())
}

#[tokio::test]
async fn the_refresher_installs_the_repositorys_trusted_root() {
    let repo = Repo::new(&loopback_root());
    let url = serve(repo.served()).await;
    let root = DefaultRoot::default();
    assert_eq!(
        current(&root),
        None,
        "the compiled-in snapshot until a refresh"
    );
    let ok = COUNTS.ok();
    refresher(&url, repo.root(), &root)
        .refresh()
        .await
        .expect("refresh");
    assert_eq!(current(&root), Some(loopback_root()));
    assert!(COUNTS.ok() > ok, "counted as ok");
    assert!(COUNTS.last_success() > 0);
}

/// A good refresh from one repository, then `bad` refused: the good root stays.
async fn refused_after_a_good_root(bad: Refresher, root: &DefaultRoot) -> RefreshError {
    let good = Repo::new(&loopback_root());
    let url = serve(good.served()).await;
    refresher(&url, good.root(), root)
        .refresh()
        .await
        .expect("good refresh");
    let errors = COUNTS.errors();
    let why = bad.refresh().await.expect_err("refused");
    assert_eq!(
        current(root),
        Some(loopback_root()),
        "the last good root stays"
    );
    assert!(COUNTS.errors() > errors, "counted as an error");
    why
}

#[tokio::test]
async fn a_target_changed_after_signing_is_refused() {
    let repo = Repo::new(&loopback_root());
    // The first log's URL moved to another port: still a valid trusted root of the same
    // length; only the hash the targets metadata signs can tell.
    let mut tampered = loopback_root();
    let at = tampered
        .windows(5)
        .position(|w| w == b":5563")
        .expect("the log's port");
    tampered[at + 4] = b'9';
    std::fs::write(repo.target_file(), &tampered).expect("tamper");
    let url = serve(repo.served()).await;
    let root = DefaultRoot::default();
    let why = refused_after_a_good_root(refresher(&url, repo.root(), &root), &root).await;
    assert!(matches!(why, RefreshError::Tuf { .. }), "{why}");
    assert!(why.to_string().contains("Hash mismatch"), "{why}");

    // Longer than the targets metadata says: refused while it streams.
    tampered.extend_from_slice(b"\n");
    std::fs::write(repo.target_file(), &tampered).expect("tamper");
    let why = refused_after_a_good_root(refresher(&url, repo.root(), &root), &root).await;
    assert!(why.to_string().contains("Maximum size"), "{why}");
}

#[tokio::test]
async fn metadata_signed_by_keys_the_initial_root_does_not_trust_is_refused() {
    let trusted = Repo::new(&loopback_root());
    let foreign = Repo::new(&loopback_root());
    let url = serve(foreign.served()).await;
    let root = DefaultRoot::default();
    // Before anything was installed, the compiled-in snapshot stays.
    let why = refresher(&url, trusted.root(), &root)
        .refresh()
        .await
        .expect_err("refused");
    assert!(matches!(why, RefreshError::Tuf { .. }), "{why}");
    assert!(why.to_string().contains("threshold"), "{why}");
    assert_eq!(current(&root), None);
    let why = refused_after_a_good_root(refresher(&url, trusted.root(), &root), &root).await;
    assert!(why.to_string().contains("threshold"), "{why}");
}

#[tokio::test]
async fn an_unreachable_repository_keeps_the_last_root() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let trusted = Repo::new(&loopback_root());
    let root = DefaultRoot::default();
    let why = refused_after_a_good_root(refresher(&url, trusted.root(), &root), &root).await;
    assert!(why.to_string().contains("error sending request"), "{why}");
}

#[tokio::test]
async fn a_target_that_is_not_a_trusted_root_is_refused() {
    let repo = Repo::new(br#"{"mediaType": "not a trusted root"}"#);
    let url = serve(repo.served()).await;
    let root = DefaultRoot::default();
    let why = refused_after_a_good_root(refresher(&url, repo.root(), &root), &root).await;
    assert!(matches!(why, RefreshError::Unusable { .. }), "{why}");
}

/// The keyless fixture's bundle for every need.
struct Bundles;

impl Gather for Bundles {
    fn gather<'a>(
        &'a self,
        _: Scope<'a>,
        requirements: &'a Requirements,
    ) -> BoxFuture<'a, Vec<Gathered>> {
        let keyless = fixtures().join("keyless");
        let digest = std::fs::read_to_string(keyless.join("digest")).expect("digest");
        let digest = Digest::parse(digest.trim()).expect("a digest");
        let bundle = std::fs::read(keyless.join("bundle.sigstore.json")).expect("bundle");
        let material = Material::Sigstore {
            digest,
            bundles: Arc::from(vec![bundle]),
        };
        let gathered = requirements
            .needs
            .iter()
            .map(|_| Ok(material.clone()))
            .collect();
        async move { gathered }.boxed()
    }
}

#[tokio::test]
async fn a_keyless_policy_without_a_root_secret_admits_once_the_refresher_installed_the_root() {
    let keyless = fixtures().join("keyless");
    let read = |name: &str| {
        std::fs::read_to_string(keyless.join(name))
            .expect("fixture")
            .trim()
            .to_string()
    };
    let (image, identity, issuer) = (read("image"), read("identity"), read("issuer"));
    let repository = image.split('@').next().expect("repository");
    let policies = tempfile::tempdir().expect("policy folder");
    let policy = serde_json::json!({
        "apiVersion": "portieris.cloud.ibm.com/v1",
        "kind": "ImagePolicy",
        "metadata": {"name": "keyless", "namespace": "team"},
        "spec": {"repositories": [{"name": repository, "policy": {"cosign": {
            "format": "bundle",
            "requirements": [{"keyless": {"identities": [{"issuer": issuer, "subject": identity}]}}]
        }}}]}
    });
    // JSON is YAML.
    std::fs::write(policies.path().join("policy.yaml"), policy.to_string()).expect("policy");
    let set = portieris_webhook::policy_dir::load(policies.path())
        .expect("policy folder")
        .into_policy_set()
        .expect("policies");
    let store = Arc::new(PolicyStore::new());
    store.replace(set);
    let root = DefaultRoot::default();
    let admitter = Admitter::new(
        store,
        Box::new(Bundles),
        portieris_core::Options::default(),
        Duration::from_secs(5),
    )
    .with_sigstore_root(root.clone());
    let body = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "namespace": "team", "operation": "CREATE",
            "object": {"metadata": {"name": "p", "namespace": "team"},
                "spec": {"containers": [{"name": "c", "image": image}]}}}
    })
    .to_string();

    // The public-good snapshot does not vouch for the loopback Sigstore.
    let before = admitter.admit(body.as_bytes()).await;
    assert!(
        matches!(before.outcome, Outcome::Deny(_)),
        "{:?}: {}",
        before.outcome,
        String::from_utf8_lossy(&before.body)
    );

    let repo = Repo::new(&loopback_root());
    let url = serve(repo.served()).await;
    refresher(&url, repo.root(), &root)
        .refresh()
        .await
        .expect("refresh");
    let after = admitter.admit(body.as_bytes()).await;
    assert_eq!(
        after.outcome,
        Outcome::Allow,
        "{}",
        String::from_utf8_lossy(&after.body)
    );
}
