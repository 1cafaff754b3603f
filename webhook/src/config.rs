//! Typed configuration: what the library is set up with, built once from the command line
//! (`cli.rs` converts its flags, defaults resolved) or by an embedder such as the Python
//! binding. Nothing outside `cli.rs` and `main.rs` takes clap structs; durations are
//! [`Duration`]s, sizes are bytes in a `usize`, and either-or flags are enums.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How trust data and signatures are fetched: `serve`, `review` and the Python binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// Deadline for one HTTP request to a registry, trust server or token server.
    pub timeout: Duration,
    /// Extra PEM CA certificates trusted for outbound HTTPS, on top of the system store;
    /// `None`: [`crate::fetch::DEFAULT_CA_FILE`] when that file exists.
    pub ca_file: Option<PathBuf>,
    /// Trust (Notary) server per registry host, as (registry, URL), over the built-in map.
    pub trust_servers: Vec<(String, String)>,
    /// How long a verified trust result, and the metadata it came from, is reused.
    pub trust_cache_ttl: Duration,
    /// Bytes of responses all fetches may hold while reading them, together.
    pub max_bytes_in_flight: usize,
}

/// `portieris serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serve {
    /// Where policies and Secrets come from.
    pub policies: Policies,
    /// HTTPS address for `/admit` and the health endpoints.
    pub listen: SocketAddr,
    /// Plain HTTP address for `/metrics`.
    pub metrics_listen: SocketAddr,
    /// The certificate served on `listen`.
    pub tls: Tls,
    /// Bounds on each admission request and on all of them together.
    pub requests: Requests,
    pub fetch: Fetch,
    /// The core's options for every decision.
    pub engine: portieris_core::Options,
    /// Where the default Sigstore trusted root is refreshed from; `None`: never (the snapshot
    /// compiled into the core stays).
    pub sigstore_tuf: Option<SigstoreTuf>,
}

/// The TUF repository of the default Sigstore trusted root (see `sigstore_root.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreTuf {
    pub url: String,
    /// The initial TUF `root.json`; `None`: Sigstore's production root, compiled in.
    pub root: Option<PathBuf>,
    /// How often the root is refreshed.
    pub refresh: Duration,
}

/// The source of policies and Secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policies {
    /// Watched in the Kubernetes cluster (in-cluster service account or kubeconfig).
    Cluster,
    /// A folder of YAML files, checked for changes every `reload_interval`.
    Dir {
        path: PathBuf,
        reload_interval: Duration,
    },
}

/// The serving certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// A throwaway self-signed certificate, for local use only.
    SelfSigned,
    /// A PEM certificate chain and its private key, checked for changes every
    /// `reload_interval`.
    Files {
        cert: PathBuf,
        key: PathBuf,
        reload_interval: Duration,
    },
}

/// What one admission request may take, and all of them together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requests {
    /// Largest AdmissionReview body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Bytes of request bodies held at once, from the first byte read until the answer.
    pub max_body_bytes_in_flight: usize,
    /// Deadline for one admission request, reading the body included.
    pub timeout: Duration,
    /// Deadline for reading a request's body, from its headers on.
    pub body_read_timeout: Duration,
    /// Admission requests evaluated at once; more wait their turn.
    pub max_concurrent: usize,
}

/// `portieris review`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Folder of ImagePolicy, ClusterImagePolicy and Secret YAML documents.
    pub policy_dir: PathBuf,
    /// AdmissionReview JSON file; `-` or `None` reads stdin.
    pub file: Option<PathBuf>,
    pub fetch: Fetch,
    /// The core's options for the decision.
    pub engine: portieris_core::Options,
}
