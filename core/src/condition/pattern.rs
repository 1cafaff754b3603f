//! `matches`: RE2-style patterns, which must be string literals so that each is compiled (and
//! its size bounded) once with the condition, on regex-automata as the core's other regexes.
//! cel's own `matches` would compile the pattern again at every call.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString as _};
use alloc::sync::Arc;

use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;

use crate::limits::MAX_CONDITION_REGEX_STATES;

/// The patterns of one condition, by source text.
#[derive(Debug, Default)]
pub(super) struct Patterns(BTreeMap<String, Compiled>);

#[derive(Debug)]
struct Compiled {
    regex: Regex,
    states: u64,
}

impl Patterns {
    /// Compiles `pattern` (once), returning its automaton's states: the cost of a byte.
    pub(super) fn add(&mut self, pattern: &str) -> Result<u64, String> {
        if let Some(compiled) = self.0.get(pattern) {
            return Ok(compiled.states);
        }
        let invalid = |e: &dyn core::fmt::Display| format!("invalid pattern {pattern:?}: {e}");
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().nfa_size_limit(Some(64 * 1024)))
            .build(pattern)
            .map_err(|e| invalid(&e))?;
        let states = nfa.states().len();
        if states > MAX_CONDITION_REGEX_STATES {
            return Err(format!(
                "pattern {pattern:?} compiles to {states} states, over the limit of {MAX_CONDITION_REGEX_STATES}"
            ));
        }
        let regex = Regex::new(pattern).map_err(|e| invalid(&e))?;
        let states = u64::try_from(states).unwrap_or(u64::MAX);
        self.0
            .insert(pattern.to_string(), Compiled { regex, states });
        Ok(states)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `haystack` has a match of `pattern` (CEL's `matches` is unanchored); `None` for
    /// a pattern not compiled with the condition, which cannot happen for a checked tree.
    pub(super) fn is_match(&self, pattern: &str, haystack: &str) -> Option<bool> {
        self.0.get(pattern).map(|c| c.regex.is_match(haystack))
    }
}

/// Shared by the condition and every check's `matches` function.
pub(super) type SharedPatterns = Arc<Patterns>;
