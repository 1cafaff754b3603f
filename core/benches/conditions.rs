//! CEL conditions on attestations: compiling one, checking a SLSA provenance condition, and the
//! worst the validator accepts: each candidate expression (accepted by `Condition::compile`) on
//! the statement that brings its estimate just under the runtime limit, so its time is the
//! most a check can take and time / estimate is the cost of a unit.
//! `cargo bench -p portieris-core --features cel --bench conditions`.

use core::hint::black_box;
use core::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portieris_core::condition::{Bindings, Condition};
use serde_json::{Value, json};

const PROVENANCE: &str = r#"predicate.runDetails.builder.id == "https://github.com/our-org/ci" && predicate.buildDefinition.externalParameters.workflow.repository.startsWith("https://github.com/our-org/")"#;

/// Accepted expressions, each stressing one part of the interpreter, with the statement
/// (parameterised by a size) that stresses it.
const WORST: &[(&str, &str)] = &[
    ("scan_numbers", "predicate.l.all(x, x == 0)"),
    ("scan_maps", "predicate.m.all(x, x.a.b != \"Low\")"),
    (
        "filter_projection",
        "predicate.m.map(x, x.a).filter(y, y.b == \"x\").size() == 0",
    ),
    (
        "exists_one_has",
        "predicate.m.exists_one(x, has(x.a.c) ? x.a.c == 1 : x.a.b == \"y\")",
    ),
    (
        "deep_equality",
        "[predicate.m, predicate.m] == [predicate.m, predicate.m]",
    ),
    (
        "concat_contains",
        "(predicate.s + predicate.s).contains(predicate.s + \"x\")",
    ),
    ("matches", "predicate.s.matches(\"(a|b|c|d|e|f|g|h)*x\")"),
    ("in_list", "1 in predicate.l.map(x, x)"),
    (
        "scan_contains",
        "predicate.t.exists(x, x.contains(\"zz\") || size(x) == 0)",
    ),
    (
        "scan_matches",
        "predicate.t.exists(x, x.matches(\"(a|b|c|d|e|f|g|h)*x\"))",
    ),
    // Linear through containment: each element's own list.
    (
        "nested_scan",
        "predicate.n.all(x, x.b.all(y, y.c != \"HIGH\" && y.c != \"CRITICAL\"))",
    ),
];

fn statement(n: usize) -> Value {
    let maps: Vec<Value> = (0..n / 8)
        .map(|_| json!({"a": {"b": "Critical"}}))
        .collect();
    let nested: Vec<Value> = (0..n / 16)
        .map(|_| json!({"b": [{"c": "LOW"}, {"c": "LOW"}]}))
        .collect();
    json!({"predicate": {
        "l": vec![0; n],
        "n": nested,
        "m": maps,
        "s": "ab".repeat(n / 2),
        "t": vec!["ab".repeat(32); n / 64],
    }})
}

/// The largest statement whose estimate is under the runtime limit, and that estimate.
fn just_under(condition: &Condition) -> (Bindings, u64) {
    condition.largest_under_limit(23, statement)
}

fn conditions(c: &mut Criterion) {
    let mut group = c.benchmark_group("conditions");
    group.bench_function("compile", |b| {
        b.iter(|| Condition::compile(black_box(PROVENANCE)));
    });
    let provenance = Condition::compile(PROVENANCE).expect("compiles");
    let statement = Bindings::new(&json!({
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"externalParameters": {"workflow": {
                "repository": "https://github.com/our-org/app", "path": ".github/workflows/release.yml"}}},
            "runDetails": {"builder": {"id": "https://github.com/our-org/ci"}}
        }
    }));
    group.bench_function("check_provenance", |b| {
        b.iter(|| provenance.check(black_box(&statement)));
    });
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for (name, source) in WORST {
        let condition = Condition::compile(source).expect("accepted by the validator");
        let (bindings, estimate) = just_under(&condition);
        assert!(condition.check(&bindings).is_ok(), "{name} evaluates");
        eprintln!("conditions/worst_{name}: estimate {estimate} units");
        group.bench_function(format!("worst_{name}"), |b| {
            b.iter(|| condition.check(black_box(&bindings)));
        });
    }
    group.finish();
}

criterion_group!(benches, conditions);
criterion_main!(benches);
