//! Simple signing with the real tools: gpg keys in a temporary GNUPGHOME, images pushed to the
//! rig's registry with `skopeo copy --sign-by` (signatures into a lookaside staging folder),
//! crafted signatures from `skopeo standalone-sign`, and in-process HTTP(S) file servers: one
//! serving the lookaside folder (basic auth under `/private/`), one acting as a registry that
//! implements the signature extension API, which docker-registry does not.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use crate::rig::Rig;

/// Basic-auth credentials of the store's `/private/` half.
pub const STORE_USER: &str = "store-user";
pub const STORE_PASSWORD: &str = "store-password";

/// A GNUPGHOME of its own.
pub struct Gpg {
    home: PathBuf,
}

impl Gpg {
    /// `faked_time` (`20200101T000000`): every key and signature made here is dated then.
    pub fn new(home: PathBuf, faked_time: Option<&str>) -> Self {
        std::fs::create_dir_all(&home).expect("GNUPGHOME");
        let mut conf = String::new();
        if let Some(time) = faked_time {
            conf = format!("faked-system-time {time}\n");
        }
        std::fs::write(home.join("gpg.conf"), conf).expect("gpg.conf");
        run(Command::new("chmod").arg("700").arg(&home), None);
        Self { home }
    }

    fn gpg(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut command = Command::new("gpg");
        command
            .arg("--homedir")
            .arg(&self.home)
            .args(["--batch", "--quiet"])
            .args(args);
        run(&mut command, stdin)
    }

    /// A new unprotected ed25519 key with `usage` (`sign`, or `cert` for a primary key that
    /// only certifies), expiring at `expire` (`never`, `2020-02-01`); its fingerprint.
    pub fn generate(&self, name: &str, usage: &str, expire: &str) -> String {
        let uid = format!("portieris test {name} <{name}@portieris.test>");
        self.gpg(
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                &uid,
                "ed25519",
                usage,
                expire,
            ],
            None,
        );
        let listing = self.gpg(&["--with-colons", "--list-keys", &uid], None);
        listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| !f.is_empty()))
            .expect("a fingerprint")
            .to_string()
    }

    pub fn add_signing_subkey(&self, fingerprint: &str) {
        self.gpg(
            &[
                "--passphrase",
                "",
                "--quick-add-key",
                fingerprint,
                "ed25519",
                "sign",
                "never",
            ],
            None,
        );
    }

    /// Revokes the first subkey ("key no longer used").
    pub fn revoke_first_subkey(&self, fingerprint: &str) {
        self.gpg(
            &["--command-fd", "0", "--edit-key", fingerprint],
            Some("key 1\nrevkey\ny\n0\n\ny\nsave\n"),
        );
    }

    /// The armoured public key, as a key Secret holds it.
    pub fn export(&self, fingerprint: &str) -> String {
        self.gpg(&["--armor", "--export", fingerprint], None)
    }

    /// `skopeo standalone-sign`: a signature of `manifest` for `reference` by `fingerprint`.
    pub fn sign(&self, manifest: &[u8], reference: &str, fingerprint: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (input, output) = (dir.path().join("manifest"), dir.path().join("signature"));
        std::fs::write(&input, manifest).expect("manifest");
        run(
            Command::new("skopeo")
                .env("GNUPGHOME", &self.home)
                .arg("standalone-sign")
                .arg(&input)
                .arg(reference)
                .arg(fingerprint)
                .arg("-o")
                .arg(&output),
            None,
        );
        std::fs::read(output).expect("signature")
    }

    /// `skopeo copy --sign-by` (with `extra` options): pushes `from` to `dest`, its signature
    /// written to the lookaside staging folder `staging`.
    pub fn push_signed(
        &self,
        rig: &Rig,
        from: &str,
        dest: &str,
        by: &str,
        staging: &Path,
        extra: &[&str],
    ) {
        let registries = tempfile::tempdir().expect("registries.d");
        let config = format!(
            "docker:\n  {}:\n    lookaside-staging: file://{}\n",
            rig.env("PORTIERIS_RIG_REGISTRY"),
            staging.display()
        );
        std::fs::write(registries.path().join("portieris-test.yaml"), config).expect("yaml");
        run(
            Command::new("skopeo")
                .env("GNUPGHOME", &self.home)
                .arg("--registries.d")
                .arg(registries.path())
                .args(["copy", "-q", "--sign-by", by, "--dest-cert-dir"])
                .arg(rig.env("PORTIERIS_RIG_CERT_DIR"))
                .args(extra)
                .arg(from)
                .arg(dest),
            None,
        );
    }
}

impl Drop for Gpg {
    // The agent gpg started for this home would outlive the test otherwise.
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .status();
    }
}

/// Runs a tool, panicking with its stderr when it fails; its stdout.
pub fn run(command: &mut Command, stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("stdin written");
    drop(input);
    let out = child.wait_with_output().expect("finished");
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An OCI layout with one image tagged `tag` (the rig's `mkimage.py`).
pub fn make_image(layout: &Path, tag: &str, content: &str) {
    mkimage(&[], layout, tag, content);
}

/// The same, Alpine-like: with an APK database of four packages, for SBOM tools to list.
pub fn make_alpine_image(layout: &Path, tag: &str, content: &str) {
    mkimage(&["--alpine"], layout, tag, content);
}

fn mkimage(flags: &[&str], layout: &Path, tag: &str, content: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rig/mkimage.py");
    run(
        Command::new("python3")
            .arg(script)
            .args(flags)
            .arg(layout)
            .arg(tag)
            .arg(content),
        None,
    );
}

/// Adds to `layout` an OCI index `tag` over two new images (amd64 and arm64).
pub fn make_index(layout: &Path, tag: &str) {
    let mut descriptors = Vec::new();
    for arch in ["amd64", "arm64"] {
        make_image(layout, arch, &format!("multi-arch {arch}"));
        let index = read_json(&layout.join("index.json"));
        let mut descriptor = index["manifests"]
            .as_array()
            .and_then(|m| m.last())
            .expect("the image just made")
            .clone();
        descriptor["annotations"] = Value::Null;
        descriptor["platform"] = json!({"architecture": arch, "os": "linux"});
        descriptors.push(descriptor);
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descriptors});
    let bytes = index.to_string().into_bytes();
    let digest = sha256(&bytes);
    let blob = layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
    std::fs::write(blob, &bytes).expect("index blob");
    let top = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(layout.join("index.json"), top.to_string()).expect("index.json");
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The manifest bytes the registry serves for `image` (`skopeo inspect --raw`).
pub fn raw_manifest(rig: &Rig, image: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--cert-dir"])
        .arg(rig.env("PORTIERIS_RIG_CERT_DIR"))
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo inspect {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `skopeo copy` of `from` (any transport) to the rig registry's `image`, unsigned.
pub fn push(rig: &Rig, from: &str, image: &str) {
    let certs = rig.env("PORTIERIS_RIG_CERT_DIR");
    run(
        Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--all",
                "--src-cert-dir",
                &certs,
                "--dest-cert-dir",
                &certs,
            ])
            .arg(from)
            .arg(format!("docker://{image}")),
        None,
    );
}

/// Signs `tag` = `manifest` in a new Notary repository `gun` on the rig's anonymous
/// notary-server with the real `notary` CLI (server-managed snapshot, as Docker does).
pub fn notary_sign(rig: &Rig, gun: &str, tag: &str, manifest: &[u8]) {
    let trust = tempfile::tempdir().expect("trust dir");
    let file = trust.path().join("manifest.json");
    std::fs::write(&file, manifest).expect("manifest");
    let passphrase = rig.env("PORTIERIS_RIG_PASSPHRASE");
    let notary = |args: &[&str]| {
        let mut command = Command::new("notary");
        command
            .arg("-s")
            .arg(rig.env("PORTIERIS_RIG_NOTARY"))
            .arg("-d")
            .arg(trust.path())
            .arg("--tlscacert")
            .arg(rig.ca())
            .args(args);
        for role in ["ROOT", "TARGETS", "SNAPSHOT"] {
            command.env(format!("NOTARY_{role}_PASSPHRASE"), &passphrase);
        }
        run(&mut command, None);
    };
    notary(&["init", gun, "-p"]);
    notary(&["key", "rotate", gun, "snapshot", "-r"]);
    let file = file.to_str().expect("UTF-8 path");
    notary(&["add", gun, tag, file]);
    notary(&["publish", gun]);
}

/// Writes `signatures` as `<store>/<repository path>@sha256=<hex>/signature-N`.
pub fn store_signatures(store: &Path, path: &str, digest: &str, signatures: &[&[u8]]) {
    let dir = store.join(format!("{path}@{}", digest.replacen(':', "=", 1)));
    std::fs::create_dir_all(&dir).expect("signature folder");
    for (n, signature) in signatures.iter().enumerate() {
        std::fs::write(dir.join(format!("signature-{}", n + 1)), signature).expect("signature");
    }
}

/// Serves the files under `root` (HTTPS when `tls` is given) from a thread of its own, for the
/// life of the test process. `/v2/` answers `{}` with `X-Registry-Supports-Signatures: 1`;
/// files under `/v2/*/manifests/` carry `Docker-Content-Digest` (their sha256, or what a
/// `<file>.digest` beside them says); paths under `/private/` need basic auth with
/// [`STORE_USER`]. [`served`] lists the paths it was asked for.
pub fn serve(root: PathBuf, tls: Option<TlsAcceptor>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let address = listener.local_addr().expect("address");
    let root = Arc::new(root);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((tcp, _)) = listener.accept().await {
                let (root, tls) = (Arc::clone(&root), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                connection(stream, root, address).await;
                            }
                        }
                        None => connection(tcp, root, address).await,
                    }
                });
            }
        });
    });
    address
}

/// Every request the [`serve`] servers of this process answered: address and path.
static SERVED: Mutex<Vec<(SocketAddr, String)>> = Mutex::new(Vec::new());

/// The paths the server at `address` was asked for so far, in order.
pub fn served(address: SocketAddr) -> Vec<String> {
    let served = SERVED.lock().unwrap_or_else(PoisonError::into_inner);
    served
        .iter()
        .filter(|(a, _)| *a == address)
        .map(|(_, path)| path.clone())
        .collect()
}

async fn connection<S>(stream: S, root: Arc<PathBuf>, address: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let root = Arc::clone(&root);
        let seen = (address, request.uri().path().to_string());
        SERVED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(seen);
        async move { Ok::<_, Infallible>(answer(&root, &request)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn answer(root: &Path, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    if path == "/v2/" {
        let mut response = reply(StatusCode::OK, b"{}".to_vec());
        response.headers_mut().insert(
            "X-Registry-Supports-Signatures",
            hyper::header::HeaderValue::from_static("1"),
        );
        return response;
    }
    let expected = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{STORE_USER}:{STORE_PASSWORD}")
        )
    );
    let authorized = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if path.starts_with("/private/") && !authorized {
        let mut response = reply(StatusCode::UNAUTHORIZED, Vec::new());
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"store\""),
        );
        return response;
    }
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return reply(StatusCode::BAD_REQUEST, Vec::new());
    }
    match std::fs::read(root.join(relative)) {
        Ok(body) => {
            // `<file>.digest`, if present, is the Docker-Content-Digest claimed (a lying registry).
            let claimed = std::fs::read_to_string(root.join(format!("{relative}.digest"))).ok();
            let digest = path
                .contains("/manifests/")
                .then(|| claimed.unwrap_or_else(|| sha256(&body)));
            let mut response = reply(StatusCode::OK, body);
            if let Some(digest) = digest {
                response.headers_mut().insert(
                    "Docker-Content-Digest",
                    digest.parse().expect("a header value"),
                );
            }
            response
        }
        Err(_) => reply(StatusCode::NOT_FOUND, Vec::new()),
    }
}

/// A TLS acceptor with the rig's server certificate (issued for 127.0.0.1 by the rig CA).
pub fn rig_tls(rig: &Rig) -> TlsAcceptor {
    let dir = PathBuf::from(rig.env("PORTIERIS_RIG_DIR")).join("tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .expect("server.crt")
        .collect::<Result<_, _>>()
        .expect("PEM certificates");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    TlsAcceptor::from(Arc::new(config))
}
