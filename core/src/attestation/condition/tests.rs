extern crate std;

use alloc::string::ToString as _;

use serde_json::json;

use super::{Bindings, Condition};

#[test]
fn a_provenance_condition_passes() {
    let c = Condition::compile(r#"predicate.runDetails.builder.id == "https://ci""#).unwrap();
    let b = Bindings::new(&json!({"predicate": {"runDetails": {"builder": {"id": "https://ci"}}}}));
    assert_eq!(c.check(&b), Ok(true));
}
