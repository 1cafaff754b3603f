//! Red Hat "simple signing" (containers/image signatures): the signed payload, the
//! `signedIdentity` rules, and (feature `openpgp`) the OpenPGP verification of signatures.
//!
//! The payload and identity parts are `no_std`; OpenPGP uses rPGP, which needs `std`.

pub mod identity;
mod need;
#[cfg(feature = "openpgp")]
pub mod openpgp;
pub mod payload;

pub use identity::{IdentityError, IdentityRule};
pub use need::{broken, need};
pub use payload::{Payload, PayloadError};

use alloc::string::String;
use alloc::vec::Vec;

use crate::registry::Credential;

/// One `signedBy` requirement with its key Secret resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    /// `namespace/name` of the key Secret, for messages.
    pub key_secret: String,
    /// The Secret's `key`: an armoured or binary OpenPGP keyring; any of its keys may sign.
    pub keyring: Vec<u8>,
    pub identity: IdentityRule,
}

/// A simple-signing check: every `signedBy` requirement must hold, and where to read signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleNeed {
    pub requirements: Vec<SignedBy>,
    /// `simple.storeURL`: the lookaside store; `None` means only the registry's own API.
    pub store_url: Option<String>,
    /// Basic-auth credentials for the store, from `simple.storeSecret`.
    pub store_auth: Option<Credential>,
}
