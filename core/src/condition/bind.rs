//! A statement bound once for every condition of a policy entry: converted to CEL values once,
//! and measured once, so each check estimates its cost with the sizes at hand.

use alloc::boxed::Box;

use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use serde_json::Value;

use super::cost::{Budget, Doc, Sizes, measure};

/// An in-toto statement bound for conditions: variables `predicate` (the statement's
/// predicate, any JSON), `predicateType` (a string) and `subject` (the subject list). A field
/// the statement lacks is `null`.
#[derive(Debug)]
pub struct Bindings {
    predicate: Box<dyn Val>,
    predicate_type: Box<dyn Val>,
    subject: Box<dyn Val>,
    /// The same as JSON, for the estimate to follow paths in.
    json: [Value; 3],
    sizes: Sizes,
}

impl Bindings {
    pub fn new(statement: &Value) -> Bindings {
        let field = |name| statement.get(name).unwrap_or(&Value::Null);
        let (predicate, predicate_type, subject) =
            (field("predicate"), field("predicateType"), field("subject"));
        let mut sizes = Sizes::default();
        for value in [predicate, predicate_type, subject] {
            // Unbounded: serde_json parses at most 128 levels, so recursion is bounded.
            let _ = measure(value, &mut sizes, &mut Budget::new(u64::MAX));
        }
        Bindings {
            predicate: to_val(predicate),
            predicate_type: to_val(predicate_type),
            subject: to_val(subject),
            json: [predicate.clone(), predicate_type.clone(), subject.clone()],
            sizes,
        }
    }

    pub(super) fn doc(&self) -> Doc<'_> {
        let [predicate, predicate_type, subject] = &self.json;
        Doc {
            sizes: self.sizes,
            vars: Some([predicate, predicate_type, subject]),
        }
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
