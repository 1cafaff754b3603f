//! In-toto attestations: the predicate conditions a policy puts on a verified statement.

pub mod condition;
