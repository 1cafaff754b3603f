//! Why material could not be had, typed: the same for every format.

use alloc::string::String;
use core::fmt;

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
