//! Command line: `serve`, `review` and `validate`. Every flag can also be set from a
//! `PORTIERIS_*` environment variable, which is how the Helm chart configures the server.
//! The flags are converted here, once, into the typed [`config`] the library takes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config;

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
    /// Offline Sigstore checks (the Sigstore client conformance protocol's verbs).
    #[command(subcommand)]
    Sigstore(SigstoreCommand),
}

#[derive(Debug, Subcommand)]
pub enum SigstoreCommand {
    /// Verify a Sigstore bundle (v0.1–v0.3) for an artifact, offline, against a trusted root.
    /// Exit status: 0 verified, 1 refused, 2 unreadable input.
    VerifyBundle(VerifyBundleArgs),
}

#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// Sigstore's staging instance: portieris ships no staging root, so give `--trusted-root`.
    #[arg(long)]
    pub staging: bool,
    /// The bundle (`.sigstore.json`).
    #[arg(long)]
    pub bundle: PathBuf,
    /// The expected certificate identity (SAN email or URI), exact.
    #[arg(long, requires = "certificate_oidc_issuer", conflicts_with = "key")]
    pub certificate_identity: Option<String>,
    /// The expected OIDC issuer, exact.
    #[arg(long, requires = "certificate_identity")]
    pub certificate_oidc_issuer: Option<String>,
    /// A PEM public key, for bundles signed with a key.
    #[arg(long, required_unless_present = "certificate_identity")]
    pub key: Option<PathBuf>,
    /// `trusted_root.json` [default: the Sigstore public-good root portieris ships].
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// The artifact, or its digest as `sha256:<64 hex>` (the conformance protocol's rule: a
    /// string that is not exactly that is a path).
    pub file_or_digest: String,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Admit objects of kinds portieris does not know instead of denying them.
    #[arg(long, env = "PORTIERIS_ALLOW_UNKNOWN_KINDS")]
    pub allow_unknown_kinds: bool,
    /// Let an ImagePolicy's `keySecretNamespace` name another namespace than its own. Off by
    /// default (see docs/simple-signing.md); ClusterImagePolicies may always name one.
    #[arg(long, env = "PORTIERIS_ALLOW_CROSS_NAMESPACE_KEYS")]
    pub allow_cross_namespace_keys: bool,
    /// The namespace portieris runs in: ClusterImagePolicies read their key, signer and store
    /// Secrets there [default: the pod's own namespace (from its service account), else
    /// `portieris`].
    #[arg(long, env = "PORTIERIS_NAMESPACE")]
    pub namespace: Option<String>,
    /// IBM Portieris' lookup, for migrating only: ClusterImagePolicies read their Secrets from
    /// the namespace of the workload being admitted, where anyone who may create a Secret can
    /// plant a key (see docs/migration.md).
    #[arg(long, env = "PORTIERIS_CLUSTER_POLICY_SECRETS_IN_WORKLOAD_NAMESPACE")]
    pub cluster_policy_secrets_in_workload_namespace: bool,
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
            namespace: self.namespace.clone().unwrap_or_else(own_namespace),
            cluster_secrets_in_workload_namespace: self
                .cluster_policy_secrets_in_workload_namespace,
            enforcement: match self.enforcement {
                Enforcement::Enforce => portieris_core::policy::Enforcement::Enforce,
                Enforcement::Warn => portieris_core::policy::Enforcement::Warn,
            },
            ..Default::default()
        }
    }
}

/// Where a pod's service account token says it runs.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The namespace this pod runs in, else the chart's default.
fn own_namespace() -> String {
    std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| portieris_core::admission::DEFAULT_NAMESPACE.to_string())
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
    /// Bytes of responses all fetches may hold while reading them, together; a fetch that
    /// would pass it fails at once (a deny). At least 10 MiB, the largest response read.
    #[arg(
        long,
        default_value_t = 64 * 1024 * 1024,
        value_parser = clap::value_parser!(u64).range(10 * 1024 * 1024..),
        env = "PORTIERIS_MAX_FETCH_BYTES_IN_FLIGHT"
    )]
    pub max_fetch_bytes_in_flight: u64,
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
    /// Deadline for reading an admission request's body, from its headers on; a body not in
    /// by then is answered 408.
    #[arg(long, default_value = "5s", value_parser = parse_duration, env = "PORTIERIS_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Duration,
    /// Bytes of admission request bodies held at once, from the first byte read until the
    /// answer; a body that would pass it is answered 503. At least --max-body-bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024, env = "PORTIERIS_MAX_BODY_BYTES_IN_FLIGHT")]
    pub max_body_bytes_in_flight: usize,
    /// Admission requests evaluated at once; more wait their turn (once their body is read)
    /// within --request-timeout, and time out with 504 if it passes.
    #[arg(
        long,
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..),
        env = "PORTIERIS_MAX_CONCURRENT_ADMISSIONS"
    )]
    pub max_concurrent_admissions: u32,
    /// Standard TUF repository the default Sigstore trusted root (of keyless requirements
    /// without trustedRootSecret) is refreshed from, target trusted_root.json; '' or `none`
    /// keeps the snapshot compiled in.
    #[arg(long, default_value = crate::sigstore_root::DEFAULT_TUF_URL, env = "PORTIERIS_SIGSTORE_TUF_URL")]
    pub sigstore_tuf_url: String,
    /// Initial TUF root.json of --sigstore-tuf-url [default: Sigstore's production root,
    /// compiled in].
    #[arg(long, env = "PORTIERIS_SIGSTORE_TUF_ROOT")]
    pub sigstore_tuf_root: Option<PathBuf>,
    /// How often the default Sigstore trusted root is refreshed (give or take a tenth).
    #[arg(long, default_value = "24h", value_parser = parse_duration, env = "PORTIERIS_SIGSTORE_TUF_REFRESH")]
    pub sigstore_tuf_refresh: Duration,
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

impl From<&FetchArgs> for config::Fetch {
    fn from(args: &FetchArgs) -> Self {
        Self {
            timeout: args.fetch_timeout,
            ca_file: args.ca_file.clone(),
            trust_servers: args.trust_servers.clone(),
            trust_cache_ttl: args.trust_cache_ttl,
            max_bytes_in_flight: usize::try_from(args.max_fetch_bytes_in_flight)
                .unwrap_or(usize::MAX),
        }
    }
}

impl From<&ServeArgs> for config::Serve {
    fn from(args: &ServeArgs) -> Self {
        Self {
            policies: match &args.policy_dir {
                Some(path) => config::Policies::Dir {
                    path: path.clone(),
                    reload_interval: args.reload_interval,
                },
                None => config::Policies::Cluster,
            },
            listen: args.listen,
            metrics_listen: args.metrics_listen,
            tls: if args.self_signed {
                config::Tls::SelfSigned
            } else {
                config::Tls::Files {
                    cert: args.tls_cert.clone(),
                    key: args.tls_key.clone(),
                    reload_interval: args.reload_interval,
                }
            },
            requests: config::Requests {
                max_body_bytes: args.max_body_bytes,
                max_body_bytes_in_flight: args.max_body_bytes_in_flight,
                timeout: args.request_timeout,
                body_read_timeout: args.body_read_timeout,
                max_concurrent: usize::try_from(args.max_concurrent_admissions)
                    .unwrap_or(usize::MAX),
            },
            fetch: (&args.fetch).into(),
            engine: args.engine.options(),
            sigstore_tuf: match args.sigstore_tuf_url.trim() {
                "" | "none" => None,
                url => Some(config::SigstoreTuf {
                    url: url.to_string(),
                    root: args.sigstore_tuf_root.clone(),
                    refresh: args.sigstore_tuf_refresh,
                }),
            },
        }
    }
}

impl From<&ReviewArgs> for config::Review {
    fn from(args: &ReviewArgs) -> Self {
        Self {
            policy_dir: args.policy_dir.clone(),
            file: args.file.clone(),
            fetch: (&args.fetch).into(),
            engine: args.engine.options(),
        }
    }
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
        "m" | "h" => {
            let per = if unit == "m" { 60 } else { 3600 };
            n.checked_mul(per)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("`{text}` is too long"))
        }
        _ => Err(format!("`{text}`: unit must be ms, s, m or h")),
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
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("s").is_err());
    }

    fn serve(flags: &[&str]) -> config::Serve {
        let cli = Cli::try_parse_from([&["portieris", "serve"], flags].concat()).expect("flags");
        match cli.command {
            Command::Serve(args) => config::Serve::from(&*args),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn serve_flags_become_the_typed_config() {
        let config = serve(&[]);
        assert_eq!(config.policies, config::Policies::Cluster);
        assert_eq!(
            config.tls,
            config::Tls::Files {
                cert: "/etc/certs/tls.crt".into(),
                key: "/etc/certs/tls.key".into(),
                reload_interval: Duration::from_secs(10),
            }
        );
        assert_eq!(config.requests.timeout, Duration::from_secs(9));
        assert_eq!(config.requests.max_concurrent, 64);
        assert_eq!(config.fetch.max_bytes_in_flight, 64 * 1024 * 1024);
        assert_eq!(
            config.sigstore_tuf,
            Some(config::SigstoreTuf {
                url: crate::sigstore_root::DEFAULT_TUF_URL.into(),
                root: None,
                refresh: Duration::from_secs(86_400),
            })
        );
        for off in ["none", ""] {
            assert_eq!(serve(&["--sigstore-tuf-url", off]).sigstore_tuf, None);
        }
        let private = serve(&[
            "--sigstore-tuf-url=https://tuf.example.com",
            "--sigstore-tuf-root=root.json",
            "--sigstore-tuf-refresh=90m",
        ]);
        assert_eq!(
            private.sigstore_tuf,
            Some(config::SigstoreTuf {
                url: "https://tuf.example.com".into(),
                root: Some("root.json".into()),
                refresh: Duration::from_secs(5400),
            })
        );
        let config = serve(&[
            "--self-signed",
            "--policy-dir=policies",
            "--reload-interval=2s",
            "--fetch-timeout=250ms",
        ]);
        assert_eq!(config.tls, config::Tls::SelfSigned);
        assert_eq!(
            config.policies,
            config::Policies::Dir {
                path: "policies".into(),
                reload_interval: Duration::from_secs(2),
            }
        );
        assert_eq!(config.fetch.timeout, Duration::from_millis(250));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
