//! Command line: `serve`, `review` and `validate`. Every flag can also be set from a
//! `PORTIERIS_*` environment variable, which is how the Helm chart configures the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "portieris",
    version,
    about = "Kubernetes admission webhook that admits only trusted images"
)]
pub struct Cli {
    /// Log format.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "PORTIERIS_LOG_FORMAT",
        global = true
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
// Parsed once at startup: the size of `ServeArgs` does not matter.
pub enum Command {
    /// Serve the admission webhook over HTTPS, and metrics over HTTP.
    Serve(Box<ServeArgs>),
    /// Evaluate one AdmissionReview (a file, or `-` for stdin) and print the response.
    /// Exit status: 0 allowed, 1 denied, 2 invalid input.
    Review(Box<ReviewArgs>),
    /// Check a policy folder and report every problem with its file and field.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Admit objects of kinds portieris does not know instead of denying them.
    #[arg(long, env = "PORTIERIS_ALLOW_UNKNOWN_KINDS")]
    pub allow_unknown_kinds: bool,
    /// Honour `keySecretNamespace` in simple `signedBy` requirements, letting a policy read
    /// its key Secret from another namespace. Off by default (see docs/simple-signing.md).
    #[arg(long, env = "PORTIERIS_ALLOW_CROSS_NAMESPACE_KEYS")]
    pub allow_cross_namespace_keys: bool,
    /// `warn` is a dry run: every image that fails its policy, or matches none, is admitted
    /// unmutated with a warning instead of denied; invalid policies still deny. `enforce`
    /// leaves it to each policy's `enforcement`.
    #[arg(
        long,
        value_enum,
        default_value = "enforce",
        env = "PORTIERIS_ENFORCEMENT"
    )]
    pub enforcement: Enforcement,
}

/// `--enforcement`: the server-wide floor under every policy's `enforcement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Enforcement {
    Enforce,
    Warn,
}

impl EngineArgs {
    /// The core's options for these flags.
    pub fn options(&self) -> portieris_core::Options {
        portieris_core::Options {
            allow_unknown_kinds: self.allow_unknown_kinds,
            allow_cross_namespace_keys: self.allow_cross_namespace_keys,
            enforcement: match self.enforcement {
                Enforcement::Enforce => portieris_core::policy::Enforcement::Enforce,
                Enforcement::Warn => portieris_core::policy::Enforcement::Warn,
            },
            ..Default::default()
        }
    }
}

/// How trust data and signatures are fetched; shared by `serve` and `review`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Deadline for one HTTP request to a registry, trust server or token server.
    #[arg(long, default_value = "5s", value_parser = parse_duration, env = "PORTIERIS_FETCH_TIMEOUT")]
    pub fetch_timeout: Duration,
    /// Extra PEM CA certificates trusted for outbound HTTPS, on top of the system store
    /// [default: /etc/certs/ca.pem when that file exists].
    #[arg(long, env = "PORTIERIS_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Trust (Notary) server of a registry host, as REGISTRY=URL; repeatable. Overrides the
    /// built-in map (docker.io, quay.io, icr.io); a policy's trustServer overrides both.
    #[arg(
        long = "trust-server",
        value_name = "REGISTRY=URL",
        value_parser = crate::fetch::trust_server::parse_flag,
        value_delimiter = ',',
        env = "PORTIERIS_TRUST_SERVERS"
    )]
    pub trust_servers: Vec<(String, String)>,
    /// How long a verified trust result is reused (never past its metadata's expiry).
    #[arg(long, default_value = "60s", value_parser = parse_duration, env = "PORTIERIS_TRUST_CACHE_TTL")]
    pub trust_cache_ttl: Duration,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Read policies and Secrets from this folder of YAML files instead of from Kubernetes.
    #[arg(long, env = "PORTIERIS_POLICY_DIR")]
    pub policy_dir: Option<PathBuf>,
    /// HTTPS address for /admit and the health endpoints.
    #[arg(long, default_value = "0.0.0.0:8000", env = "PORTIERIS_LISTEN")]
    pub listen: SocketAddr,
    /// Plain HTTP address for /metrics.
    #[arg(long, default_value = "0.0.0.0:8080", env = "PORTIERIS_METRICS_LISTEN")]
    pub metrics_listen: SocketAddr,
    /// PEM certificate chain served to the API server.
    #[arg(long, default_value = "/etc/certs/tls.crt", env = "PORTIERIS_TLS_CERT")]
    pub tls_cert: PathBuf,
    /// PEM private key for --tls-cert.
    #[arg(long, default_value = "/etc/certs/tls.key", env = "PORTIERIS_TLS_KEY")]
    pub tls_key: PathBuf,
    /// Serve a throwaway self-signed certificate (for local use only).
    #[arg(long, env = "PORTIERIS_SELF_SIGNED")]
    pub self_signed: bool,
    /// How often the certificate files and the policy folder are checked for changes.
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "PORTIERIS_RELOAD_INTERVAL")]
    pub reload_interval: Duration,
    /// Largest AdmissionReview body accepted, in bytes.
    #[arg(long, default_value_t = 3 * 1024 * 1024, env = "PORTIERIS_MAX_BODY_BYTES")]
    pub max_body_bytes: usize,
    /// Deadline for one admission request, reading the body included.
    #[arg(long, default_value = "9s", value_parser = parse_duration, env = "PORTIERIS_REQUEST_TIMEOUT")]
    pub request_timeout: Duration,
    /// Admission requests evaluated at once; more wait their turn (before their body is
    /// read) within --request-timeout, and time out with 504 if it passes.
    #[arg(
        long,
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..),
        env = "PORTIERIS_MAX_CONCURRENT_ADMISSIONS"
    )]
    pub max_concurrent_admissions: u32,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Folder of ImagePolicy, ClusterImagePolicy and Secret YAML documents.
    #[arg(long, env = "PORTIERIS_POLICY_DIR")]
    pub policy_dir: PathBuf,
    /// AdmissionReview JSON file; `-` or nothing reads stdin.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Folder of ImagePolicy, ClusterImagePolicy and Secret YAML documents.
    #[arg(long, env = "PORTIERIS_POLICY_DIR")]
    pub policy_dir: PathBuf,
}

/// Durations as `500ms`, `10s`, `2m` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 10s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{text}`: unit must be ms, s or m")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_bare_seconds() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
