//! Notary Project signatures (Notation): JWS and COSE envelopes over an image's descriptor,
//! X.509 chains to named trust stores, RFC 3161 timestamps, CRLs, and the Notary Project's
//! own trust policy document deciding what is enforced.

pub mod chain;
pub mod envelope;
pub mod identity;
pub mod revocation;
pub mod timestamp;
pub mod trust_policy;

#[cfg(test)]
mod test_pki;
