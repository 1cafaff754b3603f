//! A statement bound once for every condition of a policy entry: converted to CEL values once,
//! and measured once, so each check estimates its cost with the sizes at hand.

use alloc::boxed::Box;

use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use serde_json::Value;

use super::cost::Sizes;

/// An in-toto statement bound for conditions: variables `predicate` (the statement's
/// predicate, any JSON), `predicateType` (a string) and `subject` (the subject list). A field
/// the statement lacks is `null`.
#[derive(Debug)]
pub struct Bindings {
    predicate: Box<dyn Val>,
    predicate_type: Box<dyn Val>,
    subject: Box<dyn Val>,
    sizes: Sizes,
}

impl Bindings {
    pub fn new(statement: &Value) -> Bindings {
        let field = |name| statement.get(name).unwrap_or(&Value::Null);
        let (predicate, predicate_type, subject) =
            (field("predicate"), field("predicateType"), field("subject"));
        let mut sizes = Sizes::default();
        for value in [predicate, predicate_type, subject] {
            measure(value, &mut sizes);
        }
        Bindings {
            predicate: to_val(predicate),
            predicate_type: to_val(predicate_type),
            subject: to_val(subject),
            sizes,
        }
    }

    pub(super) fn sizes(&self) -> Sizes {
        self.sizes
    }
}

impl VariableResolver for Bindings {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let value = match variable {
            "predicate" => &self.predicate,
            "predicateType" => &self.predicate_type,
            "subject" => &self.subject,
            _ => return None,
        };
        Some(CowVal::Borrowed(value.as_ref()))
    }
}

/// JSON to a CEL value: numbers become int, uint or double as serde_json holds them.
fn to_val(value: &Value) -> Box<dyn Val> {
    // serde_json values always serialize, and every CEL `Value` built from them converts;
    // `null` is the fallback should either ever fail.
    cel::to_value(value)
        .ok()
        .and_then(|value| Box::<dyn Val>::try_from(value).ok())
        .unwrap_or_else(|| Box::new(cel::common::types::CelNull))
}

/// The longest list or map, the longest string or key, and the weight (nodes, and bytes in
/// 16s) of a value. A loop rather than recursion would need a stack anyway; serde_json
/// parses at most 128 levels, so recursion is bounded for parsed statements.
fn measure(value: &Value, sizes: &mut Sizes) {
    sizes.total = sizes.total.saturating_add(1);
    match value {
        Value::String(s) => string(s, sizes),
        Value::Array(items) => {
            sizes.len = sizes.len.max(len(items.len()));
            items.iter().for_each(|item| measure(item, sizes));
        }
        Value::Object(entries) => {
            sizes.len = sizes.len.max(len(entries.len()));
            for (key, item) in entries {
                sizes.total = sizes.total.saturating_add(1);
                string(key, sizes);
                measure(item, sizes);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn string(s: &str, sizes: &mut Sizes) {
    let bytes = len(s.len());
    sizes.bytes = sizes.bytes.max(bytes);
    sizes.total = sizes.total.saturating_add(bytes / 16);
}

fn len(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
