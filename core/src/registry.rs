//! What a registry client reads from its peers and its Secrets, parsed without I/O: the
//! `WWW-Authenticate` challenges of a 401 and the token server's answer ([`challenge`]), the
//! registry credentials of image pull Secrets ([`docker_config`]), the manifest a tag names
//! ([`manifest`]) and the signature extension API's answer ([`signature_list`]).
//!
//! The webhook sends the requests; these parsers only read bytes, so they are fuzzed here
//! (`fuzz/fuzz_targets/{www_authenticate,docker_config,manifest,signature_list}.rs`) without
//! an HTTP stack.

pub mod challenge;
pub mod docker_config;
pub mod manifest;
pub mod signature_list;

pub use challenge::{Challenge, ChallengeError, Token, TokenError, parse_challenges, parse_token};
pub use docker_config::{Credential, DockerConfigError};
pub use manifest::{Manifest, ManifestError, MediaType, parse_manifest};
pub use signature_list::{SignatureListError, parse_signature_list};
