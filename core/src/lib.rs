#![doc = include_str!("../README.md")]
#![no_std]
// std only for tests and the `std` feature; everything else imports from core/alloc explicitly.
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod admission;
pub mod attestation;
pub mod condition;
pub mod cosign;
pub mod crypto;
pub mod evidence;
mod json;
pub mod limits;
pub mod notary;
pub mod notation;
pub mod policy;
pub mod reason;
pub mod reference;
pub mod registry;
pub mod response;
pub mod sigstore;
pub mod simple;
mod text;
pub mod time;
pub mod verdict;

pub use admission::{Options, Request};
pub use policy::PolicySet;
pub use reference::{Digest, ImageRef};
pub use verdict::{Decision, Plan, finish, plan};
