//! CEL conditions over a verified in-toto statement (`predicate.runDetails.builder.id ==
//! "…"`, `!predicate.packages.exists(p, p.name == "log4j")`).
//!
//! cel-rust has no cost accounting, so the bound is ours: a condition is compiled once per
//! policy snapshot, and compiling walks its tree (`cost`) to refuse any variable, function or
//! shape whose cost is not modelled, then estimates its worst cost on the largest statement
//! accepted ([`ATTESTATION_STATEMENT_MAX`](crate::limits::ATTESTATION_STATEMENT_MAX)). A check
//! estimates again with the sizes of the statement at hand and evaluates only under
//! [`CONDITION_RUNTIME_COST`](crate::limits::CONDITION_RUNTIME_COST), so no policy author can
//! stall the server. One unit is about one node evaluated, or 16 bytes copied or compared.
//!
//! Without the `cel` feature the types exist (policies hold them) but nothing compiles.

use alloc::string::String;
use core::fmt;

#[cfg(feature = "cel")]
mod bind;
#[cfg(feature = "cel")]
mod compiled;
#[cfg(feature = "cel")]
mod cost;
#[cfg(all(test, feature = "cel"))]
mod nested_tests;
#[cfg(feature = "cel")]
mod pattern;
#[cfg(all(test, feature = "cel"))]
mod tests;

#[cfg(feature = "cel")]
pub use bind::Bindings;
#[cfg(feature = "cel")]
pub use compiled::Condition;

/// Where and why an expression does not compile (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl core::error::Error for CompileError {}

/// Why a condition could not say true or false (a deny either way: fail closed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionError {
    /// The estimate for this statement exceeds the limit: not evaluated.
    OverCost { estimated: u64, limit: u64 },
    /// Evaluation failed (no such key, no such overload…); the message is cel's.
    Failed(String),
    /// The result is not a bool; names its type.
    NotBool(String),
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OverCost { estimated, limit } => write!(
                f,
                "not evaluated: its estimated cost on this statement is {estimated}, over the \
                 limit of {limit}"
            ),
            Self::Failed(message) => f.write_str(message),
            Self::NotBool(kind) => write!(f, "it gave a {kind}, not a bool"),
        }
    }
}

impl core::error::Error for ConditionError {}

#[cfg(not(feature = "cel"))]
mod disabled;
#[cfg(not(feature = "cel"))]
pub use disabled::{Bindings, Condition};
