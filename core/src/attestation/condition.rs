//! PLACEHOLDER until the `cel` branch lands: conditions never pass.
use alloc::string::String;
use core::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    source: String,
}
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
#[derive(Debug)]
pub enum ConditionError {
    Failed(String),
}
impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("placeholder")
    }
}
pub struct Bindings;
impl Bindings {
    pub fn new(_: &serde_json::Value) -> Self {
        Self
    }
}
impl Condition {
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        Ok(Self {
            source: source.into(),
        })
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn check(&self, _: &Bindings) -> Result<bool, ConditionError> {
        Err(ConditionError::Failed("placeholder".into()))
    }
}
