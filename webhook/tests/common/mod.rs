//! A real `portieris serve` process on ports the system picks, a test CA, and TLS clients.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Bytes};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub const JSON: &str = "application/json";

const POLICY: &str = r#"apiVersion: portieris.cloud.ibm.com/v1
kind: ClusterImagePolicy
metadata:
  name: default
spec:
  repositories:
    - name: "icr.io/allowed/*"
      policy: {}
    - name: "docker.io/*"
      policy:
        simple:
          requirements:
            - type: reject
"#;

const READY_DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// An AdmissionReview v1 of a Pod running `image`.
pub fn pod_review(image: &str) -> String {
    review(
        serde_json::json!({"group": "", "version": "v1", "kind": "Pod"}),
        serde_json::json!({"group": "", "version": "v1", "resource": "pods"}),
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": image}]}
        }),
    )
}

pub fn review(
    kind: serde_json::Value,
    resource: serde_json::Value,
    object: serde_json::Value,
) -> String {
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u1", "kind": kind, "resource": resource, "namespace": "team",
            "operation": "CREATE", "object": object
        }
    })
    .to_string()
}

/// A certificate authority that issues server certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and its key, as PEM files hold them.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl Ca {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::new()).expect("no names to check");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        Self { issuer }
    }

    pub fn issue(&self, names: &[&str]) -> Issued {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).expect("valid names");
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A client that trusts only this CA, as the API server trusts only its `caBundle`.
    pub fn client(&self) -> ClientConfig {
        trusting(self.issuer.der().clone())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
}

/// A client that trusts only `root`.
pub fn trusting(root: CertificateDer<'static>) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(root).expect("a usable root certificate");
    client_builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// For the self-signed mode only: accepts any certificate, still checking the handshake
/// signatures so the connection is real TLS.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How the server under test gets its certificate.
pub enum Tls<'a> {
    /// `--tls-cert`/`--tls-key` files holding this certificate.
    Files(&'a Ca, &'a Issued),
    /// `--self-signed`, with certificate paths that do not exist.
    SelfSigned,
}

/// A `portieris serve` process on ports the system chose.
pub struct Server {
    process: Process,
    dir: tempfile::TempDir,
    client: Arc<ClientConfig>,
    pub webhook: SocketAddr,
    pub metrics: SocketAddr,
}

impl Server {
    /// Starts the server and waits until it reports ready.
    pub async fn start(tls: Tls<'_>, extra_args: &[&str]) -> Self {
        Self::start_with(tls, POLICY, extra_args).await
    }

    /// [`Server::start`] with `policy` (YAML) as its policy folder's one file.
    pub async fn start_with(tls: Tls<'_>, policy: &str, extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let policies = dir.path().join("policies");
        std::fs::create_dir(&policies).expect("policy folder");
        std::fs::write(policies.join("policy.yaml"), policy).expect("policy written");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_portieris"));
        // Port 0: ports picked here and bound later would race with the other tests'.
        command
            .args(["--log-format", "json", "serve", "--policy-dir"])
            .arg(&policies)
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(dir.path().join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.path().join("tls.key"))
            .args(["--reload-interval", "1s"])
            // Loopback only: no refresh of the default Sigstore root from the Internet.
            .args(["--sigstore-tuf-url", "none"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let client = match tls {
            Tls::Files(ca, issued) => {
                std::fs::write(dir.path().join("tls.crt"), &issued.cert_pem).expect("cert");
                std::fs::write(dir.path().join("tls.key"), &issued.key_pem).expect("key");
                ca.client()
            }
            Tls::SelfSigned => {
                command.arg("--self-signed");
                let verifier = Arc::new(AnyCertificate(provider()));
                client_builder()
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth()
            }
        };
        let mut process = Process(command.spawn().expect("portieris starts"));
        let (webhook, metrics) = process.listening(&dir.path().join("server.log")).await;
        let mut server = Self {
            process,
            dir,
            client: Arc::new(client),
            webhook,
            metrics,
        };
        server.wait_ready().await;
        server
    }

    /// The one file of the server's policy folder.
    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policies/policy.yaml")
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("tls.crt")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("tls.key")
    }

    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("server.log"))
    }

    /// The exit status once the process has ended, waiting at most `deadline`.
    pub async fn exit_status(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if let Some(status) = self.process.exited() {
                return Some(status);
            }
            tokio::time::sleep(POLL).await;
        }
        None
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self.process.exited() {
                panic!("portieris exited with {status}:\n{}", self.log());
            }
            let probe = self.try_send(get("/health/readiness")).await;
            if probe.is_ok_and(|reply| reply.status == StatusCode::OK) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not ready in time:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A TLS connection to the webhook listener, for 127.0.0.1.
    pub async fn connect(&self) -> std::io::Result<TlsStream<TcpStream>> {
        self.connect_with(self.client.clone()).await
    }

    pub async fn connect_with(
        &self,
        client: Arc<ClientConfig>,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.webhook).await?;
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        TlsConnector::from(client).connect(name, tcp).await
    }

    /// The certificate the webhook listener serves now.
    pub async fn served_certificate(&self) -> CertificateDer<'static> {
        let tls = self.connect().await.expect("TLS handshake");
        let chain = tls.get_ref().1.peer_certificates().expect("a certificate");
        chain[0].clone().into_owned()
    }

    /// One HTTP/1.1 request over a new TLS connection.
    pub async fn send<B>(&self, request: Request<B>) -> Reply
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        self.try_send(request).await.expect("request answered")
    }

    async fn try_send<B>(&self, request: Request<B>) -> Result<Reply, BoxError>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        send_http1(self.connect().await?, request).await
    }

    /// `/metrics` over plain HTTP.
    pub async fn metrics(&self) -> Reply {
        let tcp = TcpStream::connect(self.metrics)
            .await
            .expect("metrics port");
        send_http1(tcp, get("/metrics"))
            .await
            .expect("metrics answered")
    }
}

/// The child process, killed and reaped on drop, also when a test panics.
struct Process(Child);

impl Process {
    fn exited(&mut self) -> Option<ExitStatus> {
        self.0.try_wait().expect("child status")
    }

    /// The addresses the server bound, from its `listening` log line.
    async fn listening(&mut self, log: &Path) -> (SocketAddr, SocketAddr) {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let text = read_log(log);
            if let Some(addresses) = text.lines().find_map(listening_line) {
                return addresses;
            }
            if let Some(status) = self.exited() {
                panic!("portieris exited with {status}:\n{text}");
            }
            assert!(Instant::now() < deadline, "not listening in time:\n{text}");
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // It may have exited already (the shutdown test); either way it is reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `(webhook, metrics)` from a JSON log line `{"fields":{"message":"listening",...}}`.
fn listening_line(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = &entry["fields"];
    if fields["message"] != "listening" {
        return None;
    }
    let address = |name: &str| fields[name].as_str()?.parse().ok();
    Some((address("webhook")?, address("metrics")?))
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn get(path: &str) -> Request<Full<Bytes>> {
    request(Method::GET, path, None, Bytes::new())
}

pub fn post(content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    request(Method::POST, "/admit", Some(content_type), body.into())
}

fn request(
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    if let Some(content_type) = content_type {
        builder = builder.header(CONTENT_TYPE, content_type);
    }
    builder.body(Full::new(body)).expect("a valid request")
}

pub async fn send_http1<I, B>(io: I, request: Request<B>) -> Result<Reply, BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    read(sender.send_request(request).await?).await
}

pub async fn send_http2<I>(io: I, request: Request<Full<Bytes>>) -> Result<Reply, BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io)).await?;
    tokio::spawn(connection);
    read(sender.send_request(request).await?).await
}

async fn read(response: hyper::Response<hyper::body::Incoming>) -> Result<Reply, BoxError> {
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}
