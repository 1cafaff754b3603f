//! The portieris webhook: everything with I/O around `portieris-core`. The `portieris` binary
//! is a thin `main.rs` over this library, which the Python binding and the fuzzers also use.

pub mod admit;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod evidence;
pub mod fetch;
pub mod metrics;
pub mod policies;
pub mod policy_dir;
pub mod review;
pub mod server;
pub mod sigstore_cli;
pub mod sigstore_root;
pub mod tls;
pub mod trust;
