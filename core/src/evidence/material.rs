//! What a frontend brings back for a [`Need`](super::Need): the material as fetched, or a
//! typed reason it could not be fetched. Never a verdict on a signature: the core verifies.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::cosign::Signature;
use crate::reference::Digest;

/// The answer to one need: its material, or why there is none.
pub type Gathered = Result<Material, FetchFailure>;

/// Raw material, one variant per format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Material {
    /// Notary v1. TUF is a conversation (each round of delegation roles depends on the last),
    /// so the frontend drives the core's own state machine ([`crate::notary::verify`]'s
    /// `Step`s), fetching what it asks for, and hands back where it ended: the target the core
    /// verified, or the core's reason to refuse the metadata served.
    Trust(Result<Digest, String>),
    /// Simple signing: the image's manifest digest, as computed from the manifest served, and
    /// every signature read for it (lookaside store or registry extension API), as bytes.
    Simple {
        digest: Digest,
        signatures: Arc<[Vec<u8>]>,
    },
    /// Key-based cosign: the image's manifest digest and the layers of its `.sig` artifact
    /// (payload blob and signature annotation).
    Cosign {
        digest: Digest,
        signatures: Arc<[Signature]>,
    },
    /// The digest the image's tag has on its registry now.
    TagDigest(Digest),
}

/// Why material could not be had. Always [`crate::reason::Class::Unverifiable`]: the image may
/// be fine, portieris could not tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    pub cause: Cause,
    /// What was fetched and what happened, naming the URL or image: the deny message.
    pub message: String,
}

impl FetchFailure {
    pub fn new(cause: Cause, message: impl Into<String>) -> Self {
        Self {
            cause,
            message: message.into(),
        }
    }
}

impl fmt::Display for FetchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The kind of failure, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// No complete answer in time, or the request's deadline passed.
    Timeout,
    /// HTTP 404 where the material must exist.
    NotFound,
    /// Another unexpected HTTP status.
    Status(u16),
    /// An answer over its size limit.
    TooLarge,
    Tls,
    /// No connection (DNS, refused, reset).
    Connect,
    /// The upstream refused the credentials, or its authentication could not be followed.
    Auth,
    /// Too many bytes are being read at once: shed, not waited for.
    Busy,
    /// The answer is not what was asked for (a malformed manifest or list, a digest that is
    /// not what the registry claims or what was asked).
    Unreadable,
    /// This frontend is not set up to fetch it (no trust server for the registry, a registry
    /// without the signature API).
    Unavailable,
}
