//! CEL conditions: any source either fails to compile with a position, or compiles and checks
//! against a small fixed statement without panicking; a check is refused exactly when its
//! estimate is over the runtime limit.

use portieris_core::condition::{Bindings, CompileError, Condition, ConditionError};
use portieris_core::limits::CONDITION_RUNTIME_COST;
use serde_json::json;

pub fn run(data: &[u8]) {
    let Ok(source) = core::str::from_utf8(data) else {
        return;
    };
    let condition = match Condition::compile(source) {
        Ok(condition) => condition,
        Err(CompileError { line, column, .. }) => {
            assert!(line >= 1 && column >= 1, "positions are 1-based");
            return;
        }
    };
    let statement = Bindings::new(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "img", "digest": {"sha256": "ab"}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"runDetails": {"builder": {"id": "https://ci"}},
                      "l": [1, "x", null, 2.5, [1], {"a": 1}], "s": "abc"}
    }));
    let estimated = condition.estimate(&statement);
    let over = matches!(condition.check(&statement), Err(ConditionError::OverCost { .. }));
    assert_eq!(over, estimated > CONDITION_RUNTIME_COST, "{source}: {estimated}");
}
