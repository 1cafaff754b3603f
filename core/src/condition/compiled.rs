//! Compiling (parse, check, estimate) and checking (estimate again, evaluate) one condition.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString as _};
use alloc::sync::Arc;
use core::fmt;
use std::sync::LazyLock;

use cel::common::types::{CelBool, CelString};
use cel::common::value::CowVal;
use cel::{Context, Env, ExecutionError, FunctionContext, ParseErrors, Program, Value};

use super::bind::Bindings;
use super::cost::{Doc, Fault, Sizes, estimate};
use super::pattern::{Patterns, SharedPatterns};
use super::{CompileError, ConditionError};
use crate::limits::{
    ATTESTATION_STATEMENT_MAX, CONDITION_RUNTIME_COST, CONDITION_STATIC_COST, MAX_CONDITION_SOURCE,
};

/// The standard library and macros, without optional syntax. Built once: it is the same for
/// every condition (the walk in `cost` decides what a condition may call).
static ENV: LazyLock<Arc<Env>> =
    LazyLock::new(|| Arc::new(Env::stdlib().with_optional_support(false)));

/// The worst statement a condition is validated against: every list, map and string as long
/// as the statement itself, and as heavy.
const WORST: Sizes = {
    let max = ATTESTATION_STATEMENT_MAX as u64;
    Sizes {
        len: max,
        bytes: max,
        total: max,
    }
};

/// A CEL condition compiled once per policy snapshot. Equality compares the source; cloning
/// shares the compiled program.
#[derive(Clone)]
pub struct Condition(Arc<Compiled>);

struct Compiled {
    source: String,
    program: Program,
    patterns: SharedPatterns,
}

impl Condition {
    /// Parses and checks `source`, and refuses it if its worst cost is over the limit.
    ///
    /// # Errors
    /// A [`CompileError`] with the position of the first fault: syntax, an unknown variable
    /// or function, a nesting or a cost over the limits.
    pub fn compile(source: &str) -> Result<Condition, CompileError> {
        Self::compile_within(source, CONDITION_STATIC_COST)
    }

    /// [`Condition::compile`] with another static limit: tests and benchmarks reach
    /// expressions the validator refuses, to see the runtime estimate hold.
    #[doc(hidden)]
    pub fn compile_within(source: &str, static_limit: u64) -> Result<Condition, CompileError> {
        if source.len() > MAX_CONDITION_SOURCE {
            return Err(CompileError {
                line: 1,
                column: 1,
                message: format!(
                    "condition of {} bytes, over the limit of {MAX_CONDITION_SOURCE}",
                    source.len()
                ),
            });
        }
        let program = ENV.compile(source).map_err(|e| parse_error(source, &e))?;
        let mut patterns = Patterns::default();
        let at = |fault: Fault| located(source, &program, fault);
        let worst = Doc {
            sizes: WORST,
            vars: None,
        };
        let estimated = estimate(program.expression(), worst, &mut patterns).map_err(at)?;
        if estimated > static_limit {
            return Err(at(Fault {
                id: program.expression().id,
                message: format!(
                    "estimated cost {estimated} on a statement of {ATTESTATION_STATEMENT_MAX} \
                     bytes, over the limit of {static_limit}"
                ),
            }));
        }
        Ok(Condition(Arc::new(Compiled {
            source: source.into(),
            program,
            patterns: Arc::new(patterns),
        })))
    }

    pub fn source(&self) -> &str {
        &self.0.source
    }

    /// The estimated cost of checking this condition against `statement`.
    pub fn estimate(&self, statement: &Bindings) -> u64 {
        // The walk succeeded at compile and only sizes differ: a fault cannot recur, and
        // would count as over any limit.
        let mut patterns = Patterns::default();
        estimate(self.0.program.expression(), statement.doc(), &mut patterns).unwrap_or(u64::MAX)
    }

    /// The statement `make(n)` with the largest `n` below `2^bits` whose estimate is at most
    /// [`CONDITION_RUNTIME_COST`], and that estimate: the worst statement a check lets through
    /// (for the tests and benchmarks that time it).
    #[doc(hidden)]
    pub fn largest_under_limit(
        &self,
        bits: u32,
        make: impl Fn(usize) -> serde_json::Value,
    ) -> (Bindings, u64) {
        let (mut low, mut high) = (1usize, 1usize << bits);
        while low + 1 < high {
            let mid = low + (high - low) / 2;
            if self.estimate(&Bindings::new(&make(mid))) <= CONDITION_RUNTIME_COST {
                low = mid;
            } else {
                high = mid;
            }
        }
        let bindings = Bindings::new(&make(low));
        let estimate = self.estimate(&bindings);
        (bindings, estimate)
    }

    /// Evaluates against a bound statement: `Ok(true)` passes.
    ///
    /// # Errors
    /// [`ConditionError::OverCost`] before evaluating if the estimate for this statement is
    /// over [`CONDITION_RUNTIME_COST`]; [`ConditionError::Failed`] if evaluation fails;
    /// [`ConditionError::NotBool`] for any other result.
    pub fn check(&self, statement: &Bindings) -> Result<bool, ConditionError> {
        let estimated = self.estimate(statement);
        if estimated > CONDITION_RUNTIME_COST {
            return Err(ConditionError::OverCost {
                estimated,
                limit: CONDITION_RUNTIME_COST,
            });
        }
        let mut context = Context::with_env(Arc::clone(&ENV));
        context.set_variable_resolver(statement);
        if !self.0.patterns.is_empty() {
            let patterns = Arc::clone(&self.0.patterns);
            let matches: Function = Box::new(move |ftx| matches(&patterns, ftx));
            context
                .add_function("matches", matches)
                .map_err(|e| ConditionError::Failed(e.to_string()))?;
        }
        match self.0.program.execute(&context) {
            Ok(Value::Bool(passed)) => Ok(passed),
            Ok(other) => Err(ConditionError::NotBool(other.type_of().to_string())),
            Err(error) => Err(ConditionError::Failed(error.to_string())),
        }
    }
}

/// A function added to a context (cel's own alias is private).
type Function = Box<
    dyn for<'c, 'v> Fn(&mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError>
        + Send
        + Sync,
>;

/// `s.matches(pattern)` with the pattern compiled with the condition.
fn matches<'c, 'v>(
    patterns: &Patterns,
    ftx: &mut FunctionContext<'c, 'v>,
) -> Result<CowVal<'c, 'v>, ExecutionError> {
    let text = |v: Option<&CowVal<'_, '_>>| {
        v.and_then(|v| v.downcast_ref::<CelString>().map(|s| s.inner().to_string()))
    };
    let (Some(haystack), Some(pattern)) = (text(ftx.this.as_ref()), text(ftx.args.first())) else {
        return Err(ExecutionError::function_error(
            "matches",
            "takes a string and a pattern",
        ));
    };
    patterns
        .is_match(&pattern, &haystack)
        .map(|m| CowVal::owned(CelBool::from(m)))
        .ok_or_else(|| ExecutionError::function_error("matches", "pattern not compiled"))
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.0.source == other.0.source
    }
}

impl Eq for Condition {}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.0.source).finish()
    }
}

/// cel's first parse error, at its position (1-based already).
fn parse_error(source: &str, errors: &ParseErrors) -> CompileError {
    let Some(first) = errors.errors.first() else {
        return at_offset(source, 0, "does not parse".into());
    };
    let (line, column) = first.pos;
    let message = if first.msg.contains("Recursion limit") {
        "expression nested too deeply".to_string()
    } else {
        first.msg.clone()
    };
    CompileError {
        line: u32::try_from(line).unwrap_or(1).max(1),
        column: u32::try_from(column).unwrap_or(1).max(1),
        message,
    }
}

/// A fault at its node's place in the source.
fn located(source: &str, program: &Program, fault: Fault) -> CompileError {
    let offset = program
        .source_info()
        .offset_for(fault.id)
        .map_or(0, |(start, _)| start);
    at_offset(source, offset, fault.message)
}

/// Line and column (1-based, in characters) of the character at `offset` (in characters, as
/// the parser counts).
fn at_offset(source: &str, offset: u32, message: String) -> CompileError {
    let (mut line, mut column) = (1u32, 1u32);
    for c in source
        .chars()
        .take(usize::try_from(offset).unwrap_or(usize::MAX))
    {
        if c == '\n' {
            line = line.saturating_add(1);
            column = 1;
        } else {
            column = column.saturating_add(1);
        }
    }
    CompileError {
        line,
        column,
        message,
    }
}
