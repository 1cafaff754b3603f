//! Posts AdmissionReviews to a webhook over TLS and reports throughput and latency
//! percentiles. `loadgen --help`; bench/run.sh shows every use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hyper::body::Bytes;
use portieris_bench::load::{self, Target, Window};
use portieris_bench::{report, tls};
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "Load generator for /admit", args_override_self = true)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8000")]
    address: SocketAddr,
    /// TLS server name (must be in the server certificate).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value = "/admit")]
    path: String,
    /// PEM CA certificate(s) to trust for the server.
    #[arg(long)]
    ca: PathBuf,
    /// An AdmissionReview JSON file; repeatable, used in turn.
    #[arg(long = "body")]
    bodies: Vec<PathBuf>,
    /// A file of AdmissionReviews, one JSON document per line, used in turn.
    #[arg(long)]
    bodies_file: Option<PathBuf>,
    /// Closed loop: this many requests outstanding at all times.
    #[arg(long, default_value_t = 16, conflicts_with = "rate")]
    concurrency: usize,
    /// Open loop: this many requests per second whatever the answers do (HTTP/2 only).
    #[arg(long)]
    rate: Option<u32>,
    /// HTTP/2 connections shared by the requests (the API server multiplexes one or a few).
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// HTTP/1.1, one connection per closed-loop worker, instead of HTTP/2.
    #[arg(long)]
    http1: bool,
    /// Measured time, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured time before it, in seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Stop after this many requests (warm-up included): `--requests 1 --warmup 0` times one.
    #[arg(long, default_value_t = u64::MAX)]
    requests: u64,
    /// A 200 answer counts only if its body contains this text.
    #[arg(long, default_value = "\"allowed\":true")]
    expect: String,
    /// Open loop: most requests outstanding before new ones count as errors.
    #[arg(long, default_value_t = 10_000)]
    max_in_flight: usize,
    /// Print one JSON object instead of a line of text.
    #[arg(long)]
    json: bool,
    /// A label copied into the JSON output.
    #[arg(long, default_value = "")]
    label: String,
}

fn bodies(args: &Args) -> anyhow::Result<Vec<Bytes>> {
    let mut bodies = Vec::new();
    for path in &args.bodies {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        bodies.push(Bytes::from(text));
    }
    if let Some(path) = &args.bodies_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        bodies.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Bytes::from(l.to_owned())),
        );
    }
    anyhow::ensure!(!bodies.is_empty(), "give --body or --bodies-file");
    Ok(bodies)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let alpn = if args.http1 { tls::HTTP1 } else { tls::H2 };
    let target = Arc::new(Target::new(
        args.address,
        args.host.clone(),
        args.path.clone(),
        !args.http1,
        tls::client(&args.ca, alpn)?,
        bodies(&args)?,
        (!args.expect.is_empty()).then(|| args.expect.clone()),
    ));
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let window = Window {
        measure_from,
        until: measure_from + Duration::from_secs_f64(args.duration),
        max_requests: args.requests,
    };
    let tally = match args.rate {
        Some(rate) => {
            load::open_loop(target, rate, args.connections, args.max_in_flight, window).await?
        }
        None => load::closed_loop(target, args.concurrency, args.connections, window).await?,
    };
    // The measured window ends when the last request does (a request count can end it early).
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    let setting = json!({
        "label": args.label,
        "mode": if args.rate.is_some() { "open" } else { "closed" },
        "rate": args.rate,
        "concurrency": args.rate.is_none().then_some(args.concurrency),
        "connections": args.connections,
        "protocol": if args.http1 { "http/1.1" } else { "h2" },
    });
    let summary = tally.summary(elapsed, setting);
    if args.json {
        println!("{summary}");
    } else {
        println!("{}", report::text(&summary));
    }
    Ok(())
}
