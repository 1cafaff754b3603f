//! What a registry client reads from its peers and its Secrets, parsed without I/O: the
//! `WWW-Authenticate` challenges of a 401 and the token server's answer ([`challenge`]), and
//! the registry credentials of image pull Secrets ([`docker_config`]).
//!
//! The webhook sends the requests; these parsers only read bytes, so they are fuzzed here
//! (`fuzz/fuzz_targets/{www_authenticate,docker_config}.rs`) without an HTTP stack.

pub mod challenge;
pub mod docker_config;

pub use challenge::{Challenge, ChallengeError, Token, TokenError, parse_challenges, parse_token};
pub use docker_config::{Credential, DockerConfigError};
