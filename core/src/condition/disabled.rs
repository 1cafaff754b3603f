//! Without the `cel` feature: the same types, and nothing compiles, so policies that carry
//! conditions are refused when they are validated rather than admitted unchecked.

use alloc::string::ToString as _;
use alloc::sync::Arc;
use core::fmt;

use super::{CompileError, ConditionError};

const DISABLED: &str = "this build cannot evaluate CEL conditions (feature \"cel\")";

/// A CEL condition; this build cannot compile one.
#[derive(Clone, PartialEq, Eq)]
pub struct Condition {
    source: Arc<str>,
}

impl Condition {
    /// Always fails at 1:1: this build has no CEL.
    ///
    /// # Errors
    /// Always a [`CompileError`] saying the `cel` feature is missing.
    pub fn compile(_source: &str) -> Result<Condition, CompileError> {
        Err(CompileError {
            line: 1,
            column: 1,
            message: DISABLED.into(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Unreachable in practice (nothing compiles): fails, never panics.
    ///
    /// # Errors
    /// Always [`ConditionError::Failed`].
    pub fn check(&self, _statement: &Bindings) -> Result<bool, ConditionError> {
        Err(ConditionError::Failed(DISABLED.to_string()))
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

/// An in-toto statement bound for conditions; this build keeps nothing of it.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    _private: (),
}

impl Bindings {
    pub fn new(_statement: &serde_json::Value) -> Bindings {
        Bindings { _private: () }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_feature_nothing_compiles_at_line_one() {
        let error = Condition::compile("true").expect_err("no CEL");
        assert_eq!((error.line, error.column), (1, 1));
        assert!(error.to_string().contains("feature \"cel\""), "{error}");
    }
}
