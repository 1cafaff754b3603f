//! `portieris`: the admission webhook server and its offline CLI.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use portieris_webhook::admit::Admitter;
use portieris_webhook::cli::{Cli, Command, LogFormat, SigstoreCommand};
use portieris_webhook::evidence::Gatherer;
use portieris_webhook::policies::PolicyStore;
use portieris_webhook::sigstore_root::{DefaultRoot, Refresher, SIGSTORE_TUF_ROOT, TufSource};
use portieris_webhook::{cluster, config, policy_dir, review, server, sigstore_cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held to the end of `main`: dropping it writes out the lines still queued.
    let _log = init_logging(cli.log_format);
    // One process-wide crypto provider for every TLS endpoint: server, fetchers, Kubernetes.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Serve(args) => match serve(config::Serve::from(&*args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "portieris serve failed");
                ExitCode::FAILURE
            }
        },
        Command::Review(args) => review::review(&config::Review::from(&*args)),
        Command::Validate(args) => review::validate(&args.policy_dir),
        Command::Sigstore(SigstoreCommand::VerifyBundle(args)) => {
            sigstore_cli::verify_bundle(&args)
        }
    }
}

/// Log lines go to stderr from a thread of their own, in batches: a `write` per admission on
/// the request path was a fifth of the server's CPU time at load. The queue is not lossy (a
/// full queue makes the request wait rather than drop a decision's line). Its 4,096 lines are
/// far more than arrive between two batches; the library's 128,000 cost 4 MiB of idle RSS.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTIERIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(4096)
        .thread_name("portieris-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    // Colours only on a terminal: not in `kubectl logs` or a file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}

/// Evidence must be in before the request deadline, leaving a second to answer.
fn evidence_deadline(config: &config::Serve) -> Duration {
    config
        .requests
        .timeout
        .saturating_sub(Duration::from_secs(1))
        .max(Duration::from_millis(500))
}

#[tokio::main]
async fn serve(config: config::Serve) -> anyhow::Result<()> {
    let store = Arc::new(PolicyStore::new());
    let cluster = match &config.policies {
        config::Policies::Dir {
            path,
            reload_interval,
        } => {
            let set = policy_dir::load(path)?
                .into_policy_set()
                .map_err(review::problems_error)?;
            store.replace(set);
            tokio::spawn(policy_dir::watch(
                path.clone(),
                store.clone(),
                *reload_interval,
            ));
            None
        }
        config::Policies::Cluster => Some(cluster::connect(store.clone()).await?),
    };
    let gatherer = Gatherer::new(&config.fetch)?;
    let mut admitter = Admitter::new(
        store,
        Box::new(gatherer),
        config.engine.clone(),
        evidence_deadline(&config),
    );
    if let Some(cluster) = cluster {
        admitter = admitter.with_cluster(cluster);
    }
    if let Some(tuf) = &config.sigstore_tuf {
        let root = DefaultRoot::default();
        let refresher = Refresher::new(tuf_source(tuf, &config.fetch)?, root.clone())?;
        tokio::spawn(refresher.run(tuf.refresh));
        admitter = admitter.with_sigstore_root(root);
    }
    server::run(&config, Arc::new(admitter)).await
}

/// The TUF repository to refresh from, its initial root read now (a missing file stops
/// `serve`: it is a setup error, not a network one).
fn tuf_source(tuf: &config::SigstoreTuf, fetch: &config::Fetch) -> anyhow::Result<TufSource> {
    use anyhow::Context as _;
    let root = match &tuf.root {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("reading --sigstore-tuf-root {}", path.display()))?,
        None => SIGSTORE_TUF_ROOT.to_vec(),
    };
    let fetch = portieris_webhook::fetch::FetchConfig::new(fetch.timeout, fetch.ca_file.clone());
    Ok(TufSource {
        url: tuf.url.clone(),
        root,
        timeout: fetch.timeout,
        ca_file: fetch.ca_file,
    })
}
