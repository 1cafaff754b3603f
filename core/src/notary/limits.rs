//! Bounds on untrusted metadata, so that a hostile server cannot make verification slow or
//! large. Fetchers should apply [`ROLE_BYTES`] while downloading.

/// Bytes of one role's file.
pub const ROLE_BYTES: usize = 10 * 1024 * 1024;
/// Signatures on one role.
pub const SIGNATURES: usize = 100;
/// Keys in one `keys` map, and key IDs listed for one role.
pub const KEYS: usize = 1000;
/// Delegations listed in one targets file.
pub const DELEGATIONS: usize = 1000;
/// Delegation roles walked while searching for a target.
pub const ROLES: usize = 1000;
/// Segments below `targets/` in a delegation name (`targets/a/b` has 2).
pub const DELEGATION_DEPTH: usize = 8;
