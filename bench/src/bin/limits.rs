//! What one request may cost the server (`bench/limits.sh` runs it; docs/security.md has the
//! figures). Loopback only, bounded in requests and time, stops by itself:
//!
//! - `flood`: a fake registry (in this process) answers every manifest GET with a manifest
//!   that never ends; `portieris serve` checks Pods naming `--images` distinct images there
//!   under a cosign policy (so every image's tag is resolved by a manifest GET). Once one
//!   request, then `--concurrent` at once, each phase on a fresh server; the server's peak RSS
//!   (`VmHWM`) per phase.
//! - `slow`: `--slow-clients` TLS connections that send their headers and 10 bytes of a
//!   1,000-byte body and stall (reconnecting when answered), while a closed loop of normal
//!   admissions is timed; the same loop alone before, for comparison; peak RSS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hyper::body::{Body, Bytes, Frame};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use portieris_bench::load::{self, Target, Window};
use portieris_bench::tls;
use rustls_pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Any P-256 public key: the flood is over before a signature would be checked.
const COSIGN_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPNwkkMcl1jOcssMT3xsSirqGKpyv
kGdaH4gqah9jyaKwISv+/7mbK8ZkaDNMQGO6qeWu8fwAq6qBQrFd9fbI3A==
-----END PUBLIC KEY-----
";

#[derive(Debug, Parser)]
#[command(about = "Peak RSS of portieris under a manifest flood and slow-body clients")]
struct Args {
    /// `flood`, `slow` or `all`.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// The portieris binary.
    #[arg(long, default_value = "target/release/portieris")]
    portieris: PathBuf,
    /// PEM certificate (for 127.0.0.1) and key served by portieris and the fake registry.
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    /// The CA of --cert.
    #[arg(long)]
    ca: PathBuf,
    /// Scratch folder (policies, logs).
    #[arg(long, default_value = "target/bench-limits")]
    out: PathBuf,
    /// Images per flood Pod (portieris accepts at most 512 containers).
    #[arg(long, default_value_t = 500)]
    images: usize,
    /// Flood requests at once in the second flood phase.
    #[arg(long, default_value_t = 64)]
    concurrent: usize,
    /// Stalled-body connections in the slow scenario.
    #[arg(long, default_value_t = 300)]
    slow_clients: usize,
    /// Measured seconds of normal traffic, alone and with the slow clients.
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    /// Normal requests outstanding (HTTP/2, as the API server sends).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Extra flags for `portieris serve`, e.g. `--max-fetch-bytes-in-flight=33554432`.
    #[arg(long, allow_hyphen_values = true)]
    serve_flag: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    if matches!(args.scenario.as_str(), "flood" | "all") {
        flood(&args).await?;
    }
    if matches!(args.scenario.as_str(), "slow" | "all") {
        slow(&args).await?;
    }
    Ok(())
}

// --- the flood ---------------------------------------------------------------------------

async fn flood(args: &Args) -> anyhow::Result<()> {
    let registry = Registry::start(&args.cert, &args.key).await?;
    let dir = args.out.join("flood-policies");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("flood.yaml"), flood_policy(registry.address))?;
    for requests in [1, args.concurrent] {
        let bodies = (0..requests)
            .map(|r| {
                pod(
                    &format!("flood-{requests}-{r}"),
                    &flood_images(args, registry.address, r),
                )
            })
            .collect();
        let label = format!("flood, {requests} request(s) of {} images", args.images);
        let server = Server::start(args, &dir, &format!("flood-{requests}"))?;
        let started = Instant::now();
        let tally = send_all(args, &server, bodies).await?;
        let elapsed = started.elapsed();
        let log = server.stop()?;
        let result = json!({
            "scenario": "flood", "requests": requests, "images": args.images,
            "seconds": elapsed.as_secs_f64(), "peak_rss_kib": log.peak_rss_kib,
            "answers": tally, "manifest_gets": registry.requests.swap(0, Ordering::Relaxed),
            "registry_bytes_sent": registry.sent.swap(0, Ordering::Relaxed),
            "too_large": log.count("response larger than"),
            "busy": log.count("being read at once"),
            "timeouts": log.count("no complete answer within"),
        });
        println!("{label}: {result}");
    }
    Ok(())
}

fn flood_images(args: &Args, registry: SocketAddr, request: usize) -> Vec<String> {
    (0..args.images)
        .map(|i| format!("{registry}/flood/r{request}-i{i}:v1"))
        .collect()
}

fn flood_policy(registry: SocketAddr) -> String {
    let key: String = COSIGN_KEY.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "apiVersion: portieris.cloud.ibm.com/v1
kind: ImagePolicy
metadata: {{name: flood, namespace: default}}
spec:
  repositories:
    - name: \"{registry}/*\"
      policy:
        cosign:
          requirements:
            - keySecret: flood-key
---
apiVersion: v1
kind: Secret
metadata: {{name: flood-key, namespace: default}}
stringData:
  cosign.pub: |
{key}"
    )
}

/// Sends every body at once, each on its own request, and counts the answers by status.
async fn send_all(args: &Args, server: &Server, bodies: Vec<Bytes>) -> anyhow::Result<Value> {
    let requests = bodies.len();
    let target = Arc::new(server.target(args, bodies, "\"allowed\":false")?);
    let now = Instant::now();
    let window = Window {
        measure_from: now,
        until: now + Duration::from_secs(60),
        max_requests: requests as u64,
    };
    let tally = load::closed_loop(target, requests, 2, window).await?;
    Ok(tally.summary(now.elapsed(), json!({})))
}

/// A fake registry: every GET gets a 200 whose manifest body never ends.
struct Registry {
    address: SocketAddr,
    requests: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl Registry {
    async fn start(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(tls::server(cert, key)?);
        let (requests, sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let counters = (requests.clone(), sent.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, counters) = (acceptor.clone(), counters.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                        counters.0.fetch_add(1, Ordering::Relaxed);
                        let body = Endless::new(counters.1.clone());
                        let response = Response::builder()
                            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                            .body(body);
                        async move { response }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            requests,
            sent,
        })
    }
}

/// `{"schemaVersion":2,"pad":"` and then spaces, 16 KiB a frame, for as long as it is read.
struct Endless {
    started: bool,
    pad: Bytes,
    sent: Arc<AtomicU64>,
}

impl Endless {
    fn new(sent: Arc<AtomicU64>) -> Self {
        Self {
            started: false,
            pad: Bytes::from(vec![b' '; 16 * 1024]),
            sent,
        }
    }
}

impl Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let data = if self.started {
            self.pad.clone()
        } else {
            self.started = true;
            Bytes::from_static(br#"{"schemaVersion":2,"pad":""#)
        };
        self.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

// --- slow clients ------------------------------------------------------------------------

async fn slow(args: &Args) -> anyhow::Result<()> {
    let dir = args.out.join("slow-policies");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("allow.yaml"), ALLOW_ALL)?;
    let server = Server::start(args, &dir, "slow")?;
    let body = pod("normal", &["nginx:1.27".to_string()]);
    let target = Arc::new(server.target(args, vec![body], "\"allowed\":true")?);
    let alone = timed_loop(args, target.clone()).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let stalled = Arc::new(AtomicU64::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..args.slow_clients {
        let client = SlowClient::new(args, server.address)?;
        clients.spawn(client.run(stop.clone(), stalled.clone()));
    }
    // Every slow client connected and stalled before the normal traffic starts.
    let until = Instant::now() + Duration::from_secs(20);
    while stalled.load(Ordering::Relaxed) < args.slow_clients as u64 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let with_slow = timed_loop(args, target).await?;
    stop.store(true, Ordering::Relaxed);
    clients.shutdown().await;
    let log = server.stop()?;
    let result = json!({
        "scenario": "slow", "slow_clients": args.slow_clients,
        "stalled_bodies_sent": stalled.load(Ordering::Relaxed),
        "peak_rss_kib": log.peak_rss_kib, "alone": alone, "with_slow_clients": with_slow,
        "body_timeouts": log.count("status=408"),
    });
    println!("slow clients: {result}");
    Ok(())
}

const ALLOW_ALL: &str = "apiVersion: portieris.cloud.ibm.com/v1
kind: ClusterImagePolicy
metadata: {name: allow-all}
spec:
  repositories:
    - name: \"*\"
      policy: {}
";

async fn timed_loop(args: &Args, target: Arc<Target>) -> anyhow::Result<Value> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(1);
    let window = Window {
        measure_from,
        until: measure_from + Duration::from_secs_f64(args.seconds),
        max_requests: u64::MAX,
    };
    let tally = load::closed_loop(target, args.concurrency, 2, window).await?;
    Ok(tally.summary(
        Instant::now().saturating_duration_since(measure_from),
        json!({"concurrency": args.concurrency}),
    ))
}

/// A client that sends its headers and the start of its body, then nothing; when the server
/// answers (408 at its body deadline) it connects again, until told to stop.
struct SlowClient {
    address: SocketAddr,
    connector: TlsConnector,
}

impl SlowClient {
    fn new(args: &Args, address: SocketAddr) -> anyhow::Result<Self> {
        let connector = TlsConnector::from(tls::client(&args.ca, tls::HTTP1)?);
        Ok(Self { address, connector })
    }

    async fn run(self, stop: Arc<AtomicBool>, stalled: Arc<AtomicU64>) {
        while !stop.load(Ordering::Relaxed) {
            if self.stall_once(&stalled).await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    async fn stall_once(&self, stalled: &AtomicU64) -> anyhow::Result<()> {
        let tcp = TcpStream::connect(self.address).await?;
        let name = ServerName::try_from("127.0.0.1")?;
        let mut tls = self.connector.connect(name, tcp).await?;
        let head = "POST /admit HTTP/1.1\r\nhost: 127.0.0.1\r\n\
                    content-type: application/json\r\ncontent-length: 1000\r\n\r\n";
        tls.write_all(head.as_bytes()).await?;
        tls.write_all(&[b' '; 10]).await?;
        tls.flush().await?;
        stalled.fetch_add(1, Ordering::Relaxed);
        let mut answer = Vec::new();
        let _ = tls.read_to_end(&mut answer).await;
        Ok(())
    }
}

// --- the server under test ---------------------------------------------------------------

fn pod(uid: &str, images: &[String]) -> Bytes {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid, "namespace": "default", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": uid, "namespace": "default"},
                "spec": {"containers": containers}}}});
    Bytes::from(review.to_string())
}

/// A `portieris serve` process, its log in a file.
struct Server {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

/// What a stopped server left: its peak RSS and its log.
struct Stopped {
    peak_rss_kib: u64,
    log: String,
}

impl Stopped {
    fn count(&self, needle: &str) -> usize {
        self.log.matches(needle).count()
    }
}

impl Server {
    fn start(args: &Args, policies: &Path, name: &str) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        drop(listener);
        let log = args.out.join(format!("{name}.log"));
        let child = Command::new(&args.portieris)
            .arg("serve")
            .arg("--policy-dir")
            .arg(policies)
            .args([
                "--tls-cert",
                &path(&args.cert)?,
                "--tls-key",
                &path(&args.key)?,
            ])
            .args(["--ca-file", &path(&args.ca)?])
            .args(["--listen", &address.to_string()])
            .args(["--metrics-listen", &metrics.to_string()])
            // Loopback only: no refresh of the default Sigstore root from the Internet.
            .args(["--sigstore-tuf-url", "none"])
            .args(&args.serve_flag)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", args.portieris.display()))?;
        let server = Self {
            child,
            address,
            log,
        };
        server.wait_listening()?;
        Ok(server)
    }

    fn wait_listening(&self) -> anyhow::Result<()> {
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(self.address).is_err() {
            anyhow::ensure!(
                Instant::now() < until,
                "portieris did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn target(&self, args: &Args, bodies: Vec<Bytes>, expect: &str) -> anyhow::Result<Target> {
        Ok(Target::new(
            self.address,
            "127.0.0.1".to_string(),
            "/admit".to_string(),
            true,
            tls::client(&args.ca, tls::H2)?,
            bodies,
            Some(expect.to_string()),
        ))
    }

    /// Reads the peak RSS, then ends the process (by its id) and reads its log.
    fn stop(mut self) -> anyhow::Result<Stopped> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let peak_rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/PID/status")?;
        self.child.kill()?;
        self.child.wait()?;
        let log = std::fs::read_to_string(&self.log)?;
        Ok(Stopped { peak_rss_kib, log })
    }
}

fn path(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_string)
        .context("a path that is not UTF-8")
}
