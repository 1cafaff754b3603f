//! `portieris`: the admission webhook server and its offline CLI.

mod admit;
mod cli;
mod cluster;
mod metrics;
mod policies;
mod policy_dir;
mod review;
mod server;
mod tls;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use portieris_core::Options;

use crate::admit::Admitter;
use crate::cli::{Cli, Command, EngineArgs, LogFormat, ServeArgs};
use crate::policies::PolicyStore;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => match serve(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "portieris serve failed");
                ExitCode::FAILURE
            }
        },
        Command::Review(args) => review::review(&args),
        Command::Validate(args) => review::validate(&args),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTIERIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub(crate) fn options(engine: &EngineArgs) -> Options {
    Options {
        allow_unknown_kinds: engine.allow_unknown_kinds,
        ..Options::default()
    }
}

#[tokio::main]
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // One process-wide crypto provider for every TLS endpoint (server and Kubernetes client).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Arc::new(PolicyStore::new());
    let parents = match &args.policy_dir {
        Some(dir) => {
            let set = policy_dir::load(dir)?
                .into_policy_set()
                .map_err(review::problems_error)?;
            store.replace(set);
            tokio::spawn(policy_dir::watch(
                dir.clone(),
                store.clone(),
                args.reload_interval,
            ));
            None
        }
        None => Some(cluster::connect(store.clone()).await?),
    };
    let admitter = Arc::new(Admitter::new(store, parents, options(&args.engine)));
    server::run(&args, admitter).await
}
