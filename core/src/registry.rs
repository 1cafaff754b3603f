//! What a registry client reads from its peers and its Secrets, parsed without I/O: the
//! `WWW-Authenticate` challenges of a 401 and the token server's answer ([`challenge`]), the
//! registry credentials of image pull Secrets ([`docker_config`]), the manifest a tag names
//! ([`manifest`]), the signature extension API's answer ([`signature_list`]) and OCI 1.1
//! referrers: the index that lists them and each one's manifest ([`referrers`]).
//!
//! The webhook sends the requests; these parsers only read bytes, so they are fuzzed here
//! (`fuzz/fuzz_targets/{www_authenticate,docker_config,manifest,signature_list,referrers}.rs`)
//! without an HTTP stack.

pub mod challenge;
pub mod docker_config;
pub mod manifest;
pub mod referrers;
pub mod signature_list;

pub use challenge::{Challenge, ChallengeError, Token, TokenError, parse_challenges, parse_token};
pub use docker_config::{Credential, DockerConfigError};
pub use manifest::{Manifest, ManifestError, MediaType, parse_manifest};
pub use referrers::{ReferrersError, parse_index, parse_referrer};
pub use signature_list::{SignatureListError, parse_signature_list};
