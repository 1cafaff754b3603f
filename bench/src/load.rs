//! Connections to the server under test and the two ways of driving it: a closed loop (a
//! fixed number of requests outstanding, each sent when the previous answer arrives) and an
//! open loop (requests sent at a fixed rate whatever the answers do, latency counted from
//! when each was due, so a stall shows in the percentiles instead of slowing the sender).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::{http1, http2};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::TlsConnector;

use crate::report::Tally;

/// Where and what to post.
pub struct Target {
    pub address: SocketAddr,
    pub host: String,
    pub path: String,
    pub http2: bool,
    pub tls: Arc<ClientConfig>,
    /// Request bodies, used in turn.
    pub bodies: Vec<Bytes>,
    /// A 200 must contain this to count as a success (e.g. `"allowed":true`).
    pub expect: Option<String>,
    next: AtomicU64,
}

/// One connection's request half.
pub enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Target {
    pub fn new(
        address: SocketAddr,
        host: String,
        path: String,
        http2: bool,
        tls: Arc<ClientConfig>,
        bodies: Vec<Bytes>,
        expect: Option<String>,
    ) -> Self {
        Self {
            address,
            host,
            path,
            http2,
            tls,
            bodies,
            expect,
            next: AtomicU64::new(0),
        }
    }

    /// A new TLS connection, its protocol driven by a task of its own.
    pub async fn connect(&self) -> anyhow::Result<Sender> {
        let tcp = TcpStream::connect(self.address).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(self.host.clone()).context("server name")?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await?;
        let io = TokioIo::new(tls);
        if self.http2 {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(connection);
            Ok(Sender::Http2(sender))
        } else {
            let (sender, connection) = http1::handshake(io).await?;
            tokio::spawn(connection);
            Ok(Sender::Http1(sender))
        }
    }

    fn request(&self) -> anyhow::Result<Request<Full<Bytes>>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(n).unwrap_or(0) % self.bodies.len().max(1);
        let body = self.bodies.get(index).cloned().unwrap_or_default();
        // HTTP/2 takes :scheme and :authority from an absolute URI; HTTP/1.1 the origin form.
        let uri = if self.http2 {
            format!("https://{}{}", self.host_port(), self.path)
        } else {
            self.path.clone()
        };
        Ok(Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(HOST, self.host_port())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))?)
    }

    fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.address.port())
    }

    /// Sends one request; the status if the answer was read whole, and whether it passed.
    async fn send(&self, sender: &mut Sender) -> Option<u16> {
        let request = self.request().ok()?;
        let response = match sender {
            Sender::Http1(s) => {
                s.ready().await.ok()?;
                s.send_request(request).await.ok()?
            }
            Sender::Http2(s) => {
                s.ready().await.ok()?;
                s.send_request(request).await.ok()?
            }
        };
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        let expected = self
            .expect
            .as_ref()
            .is_none_or(|want| contains(&body, want.as_bytes()));
        Some(if status == 200 && !expected {
            299
        } else {
            status
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// When a run stops, and which of its requests are measured.
#[derive(Clone, Copy)]
pub struct Window {
    /// Requests started before this are warm-up, not recorded.
    pub measure_from: Instant,
    pub until: Instant,
    /// Stop after this many requests in all (warm-up included).
    pub max_requests: u64,
}

/// `concurrency` workers, each with one request outstanding. With HTTP/1.1 every worker has
/// its own connection; with HTTP/2 they share `connections` connections.
pub async fn closed_loop(
    target: Arc<Target>,
    concurrency: usize,
    connections: usize,
    window: Window,
) -> anyhow::Result<Tally> {
    let shared = if target.http2 {
        let mut senders = Vec::new();
        for _ in 0..connections.max(1) {
            senders.push(target.connect().await?);
        }
        senders
    } else {
        Vec::new()
    };
    let started = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for i in 0..concurrency {
        let sender = match shared.get(i % shared.len().max(1)) {
            Some(Sender::Http2(s)) => Sender::Http2(s.clone()),
            _ => target.connect().await?,
        };
        let (target, started) = (target.clone(), started.clone());
        workers.push(tokio::spawn(worker(target, sender, started, window)));
    }
    let mut total = Tally::new()?;
    for worker in workers {
        total.merge(&worker.await??)?;
    }
    Ok(total)
}

async fn worker(
    target: Arc<Target>,
    mut sender: Sender,
    started: Arc<AtomicU64>,
    window: Window,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    while Instant::now() < window.until
        && started.fetch_add(1, Ordering::Relaxed) < window.max_requests
    {
        let sent = Instant::now();
        let status = target.send(&mut sender).await;
        if sent >= window.measure_from {
            tally.record(sent.elapsed(), status);
        }
        if status.is_none() {
            // The connection is gone (or never answered): start a new one, as a client would.
            sender = target.connect().await?;
        }
    }
    Ok(tally)
}

/// `rate` requests per second over `connections` HTTP/2 connections, at most `max_in_flight`
/// outstanding; a request that would exceed it is counted as an error (status 0) at once.
///
/// Requests are released by a thread of their own that sleeps with `std::thread::sleep` (the
/// kernel's high-resolution timer), not by `tokio::time`: tokio's timer wheel ticks every
/// millisecond and fires up to a tick late, and as latency is counted from when a request was
/// due, that lateness of the generator was charged to the server (the bare server's p50 read
/// 1 ms). How late each request was released is reported as `pacer_late_us`.
pub async fn open_loop(
    target: Arc<Target>,
    rate: u32,
    connections: usize,
    max_in_flight: usize,
    window: Window,
) -> anyhow::Result<Tally> {
    anyhow::ensure!(
        target.http2,
        "the open loop needs HTTP/2 (one connection carries many requests)"
    );
    let mut senders = Vec::new();
    for _ in 0..connections.max(1) {
        if let Sender::Http2(s) = target.connect().await? {
            senders.push(s);
        }
    }
    anyhow::ensure!(!senders.is_empty(), "no HTTP/2 connection");
    let tally = Arc::new(std::sync::Mutex::new(Tally::new()?));
    let pace = Pace {
        period: Duration::from_secs_f64(1.0 / f64::from(rate.max(1))),
        max_in_flight,
        window,
    };
    let runtime = tokio::runtime::Handle::current();
    let released = tally.clone();
    // A blocking-pool thread: a thread of its own for as long as the run lasts.
    let mut tasks =
        tokio::task::spawn_blocking(move || pace.release(&runtime, &target, &senders, &released))
            .await?;
    while tasks.join_next().await.is_some() {}
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("a request task outlived the run"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a request task panicked"))?;
    Ok(tally)
}

/// When the open loop's requests are due.
struct Pace {
    period: Duration,
    max_in_flight: usize,
    window: Window,
}

impl Pace {
    /// Sleeps until each request is due and spawns it on `runtime`; the tasks still running.
    fn release(
        &self,
        runtime: &tokio::runtime::Handle,
        target: &Arc<Target>,
        senders: &[http2::SendRequest<Full<Bytes>>],
        tally: &Arc<std::sync::Mutex<Tally>>,
    ) -> tokio::task::JoinSet<()> {
        let permits = Arc::new(Semaphore::new(self.max_in_flight));
        let mut tasks = tokio::task::JoinSet::new();
        let start = Instant::now();
        for k in 0..self.window.max_requests {
            let due = start + self.period.mul_f64(k as f64);
            if due >= self.window.until {
                break;
            }
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let measured = due >= self.window.measure_from;
            if measured && let Ok(mut tally) = tally.lock() {
                tally.record_late(due.elapsed());
            }
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                if measured {
                    record(tally, Duration::ZERO, None);
                }
                continue;
            };
            let index = usize::try_from(k).unwrap_or(0) % senders.len().max(1);
            let Some(sender) = senders.get(index) else {
                break;
            };
            let mut sender = Sender::Http2(sender.clone());
            let (target, tally) = (target.clone(), tally.clone());
            tasks.spawn_on(
                async move {
                    let status = target.send(&mut sender).await;
                    if measured {
                        record(&tally, due.elapsed(), status);
                    }
                    drop(permit);
                },
                runtime,
            );
            // Reap finished tasks as we go so the set stays small.
            while tasks.try_join_next().is_some() {}
        }
        tasks
    }
}

fn record(tally: &std::sync::Mutex<Tally>, elapsed: Duration, status: Option<u16>) {
    if let Ok(mut tally) = tally.lock() {
        tally.record(elapsed, status);
    }
}
