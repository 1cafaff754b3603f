//! Nested scans: accepted when the inner range is part of the outer element, evaluated on
//! real cosign/syft statements and a large trivy report, and estimates that hold against the
//! interpreter on adversarial statements.

extern crate std;

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;
use std::time::Instant;

use serde_json::{Value, json};

use super::{Bindings, Condition, ConditionError};
use crate::limits::CONDITION_RUNTIME_COST;

const TRIVY: &str = "predicate.scanner.result.Results.all(r, r.Vulnerabilities.all(v, \
                     v.Severity != 'HIGH' && v.Severity != 'CRITICAL'))";
const SPDX: &str = "predicate.packages.all(p, p.externalRefs.all(e, \
                    e.referenceType != 'cpe23Type' || !e.referenceLocator.contains('log4j')))";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/attestations/a/{name}/statement.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("JSON")
}

fn compile(source: &str) -> Condition {
    Condition::compile(source).unwrap_or_else(|e| panic!("{source}: {e}"))
}

/// A trivy report: `results` Results, the first with `many` vulnerabilities, the others one.
fn trivy(results: usize, many: usize) -> Value {
    let vulnerability = |i: usize| {
        json!({"VulnerabilityID": format!("CVE-2024-{i}"), "PkgName": "libssl3",
               "InstalledVersion": "3.3.0-r2", "FixedVersion": "3.3.1-r0", "Severity": "LOW",
               "Title": "openssl: a long enough title for a realistic report entry"})
    };
    let results: Vec<Value> = (0..results)
        .map(|r| {
            let n = if r == 0 { many } else { 1 };
            json!({"Target": "img", "Class": "os-pkgs",
                   "Vulnerabilities": (0..n).map(vulnerability).collect::<Vec<_>>()})
        })
        .collect();
    json!({"predicate": {"scanner": {"result": {"Results": results}}}})
}

#[test]
fn nested_scans_of_parts_of_each_element_compile() {
    for source in [
        TRIVY,
        SPDX,
        "predicate.spec.containers.all(c, c.ports.all(p, p.containerPort != 22) && \
         c.env.all(e, !e.name.startsWith('AWS_')))",
        "predicate.a.all(x, x.b.all(y, y.c.exists(z, z.d.all(w, w == 1))))",
    ] {
        compile(source);
    }
}

#[test]
fn an_independent_nested_scan_is_refused_at_compile() {
    for source in [
        "predicate.packages.all(p, predicate.packages.exists(q, q.name == p.name))",
        "predicate.a.all(x, x.b.all(y, predicate.a.exists(z, z == y)))",
        "predicate.a.all(x, predicate.a.all(y, x.b.exists(z, z == y)))",
    ] {
        let e = Condition::compile(source).expect_err(source);
        assert!(e.message.contains("estimated cost"), "{e}");
    }
}

#[test]
fn real_cosign_and_syft_statements_are_evaluated() {
    let vuln = Bindings::new(&fixture("vuln"));
    assert_eq!(compile(TRIVY).check(&vuln), Ok(false));
    let relaxed = TRIVY.replace("'HIGH'", "'UNKNOWN'");
    assert_eq!(compile(&relaxed).check(&vuln), Ok(true));
    let sbom = Bindings::new(&fixture("sbom-spdx"));
    assert_eq!(compile(SPDX).check(&sbom), Ok(true));
    let busybox = SPDX.replace("log4j", "busybox");
    assert_eq!(compile(&busybox).check(&sbom), Ok(false));
}

#[test]
fn a_large_trivy_report_is_estimated_by_what_it_holds() {
    let condition = compile(TRIVY);
    let report = Bindings::new(&trivy(5, 500));
    let estimated = condition.estimate(&report);
    assert!(estimated < CONDITION_RUNTIME_COST / 10, "{estimated}");
    assert_eq!(condition.check(&report), Ok(true));
    // About 4 MiB: estimating is a few passes over it, refused (over the limit) quickly.
    let large = Bindings::new(&trivy(5, 16_000));
    let start = Instant::now();
    let estimated = condition.estimate(&large);
    let elapsed = start.elapsed();
    std::eprintln!("4 MiB trivy report: estimate {estimated} in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

/// A statement of about `n` units.
type Statement = fn(usize) -> Value;

/// Shapes that try to break the runtime estimate: many small lists against one long one,
/// deep nesting, maps of lists, elements lacking a field or holding a string there, values
/// compared across types. Each on the largest statement under the runtime limit: the check
/// is evaluated, and its time per unit stays within a loose bound (debug build).
#[test]
fn estimates_hold_on_adversarial_nested_statements() {
    let cases: [(&str, Statement); 6] = [
        ("predicate.a.all(x, x.b.all(y, y != 'z'))", |n| {
            let small: Vec<Value> = (0..n).map(|_| json!({"b": [1, 2]})).collect();
            json!({"predicate": {"a": small}})
        }),
        (
            "predicate.a.all(x, x.b.all(y, y != 'z'))",
            |n| json!({"predicate": {"a": [{"b": vec![1; n]}, {"b": "s".repeat(n)}, {"c": 1}]}}),
        ),
        (
            "predicate.m.all(k, predicate.m[k].all(y, y != predicate.m))",
            |n| {
                let m: serde_json::Map<_, _> = (0..n / 8)
                    .map(|i| (format!("k{i}"), json!([i, i])))
                    .collect();
                json!({"predicate": {"m": m}})
            },
        ),
        (
            "predicate.a.all(x, x.b.all(y, y.c.all(z, z.d.all(w, w != predicate.a))))",
            |n| {
                let leaf = json!({"d": [1, 2, 3]});
                let mid = json!({"c": vec![leaf; 4]});
                json!({"predicate": {"a": vec![json!({"b": vec![mid; 4]}); n / 64 + 1]}})
            },
        ),
        (
            "predicate.a.exists(x, x.b.contains('zz') || x.b.matches('(a|b)*zz'))",
            |n| {
                let items: Vec<Value> = (0..16)
                    .map(|i| json!({"b": "ab".repeat(n / 32 + i)}))
                    .collect();
                json!({"predicate": {"a": items}})
            },
        ),
        (
            "predicate.a.all(x, x.b.map(y, [y, y]).all(z, z != x))",
            |n| json!({"predicate": {"a": [{"b": vec![1; n / 8]}, {"b": [1]}]}}),
        ),
    ];
    for (source, statement) in cases {
        let condition = Condition::compile_within(source, u64::MAX).expect(source);
        let (bindings, estimated) = condition.largest_under_limit(21, statement);
        let start = Instant::now();
        let result = condition.check(&bindings);
        let elapsed = start.elapsed();
        assert!(
            !matches!(result, Err(ConditionError::OverCost { .. })),
            "{source}"
        );
        let per_unit = elapsed.as_nanos() / u128::from(estimated.max(1));
        std::eprintln!("{source}: estimate {estimated}, {elapsed:?}, {per_unit} ns/unit");
        assert!(
            elapsed < Duration::from_secs(2),
            "{source}: {elapsed:?} for {estimated}"
        );
    }
}
