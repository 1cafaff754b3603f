//! Harnesses behind the one-line targets in `fuzz_targets/`: each `run` takes the raw fuzzer
//! input, drives one parser or decision path of `portieris-core`, and asserts its invariants
//! (a failed assertion is a crash libFuzzer reports, like a panic inside the core).
//!
//! Inputs that carry more than one document (a policy and the images to resolve, an
//! AdmissionReview and the evidence to decide with) are split at their last NUL byte: the
//! document before it, control bytes after it (see [`input`]). JSON and YAML never contain a
//! raw NUL, so the committed seeds stay plain documents.

pub mod admission;
pub mod attestation;
pub mod canonical;
pub mod condition;
pub mod cosign;
pub mod decide;
pub mod freshness;
pub mod input;
pub mod manifest;
pub mod model;
pub mod notary;
pub mod notation;
pub mod openpgp;
pub mod pattern;
pub mod policy;
pub mod reference;
pub mod referrers;
pub mod registry;
pub mod sigstore;
pub mod simple;
