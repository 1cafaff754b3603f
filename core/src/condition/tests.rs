extern crate std;

use alloc::format;
use alloc::string::{String, ToString as _};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;
use std::thread;
use std::time::Instant;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Bindings, CompileError, Condition, ConditionError};
use crate::limits::{CONDITION_RUNTIME_COST, MAX_CONDITION_SOURCE};

fn compile_error(source: &str) -> CompileError {
    Condition::compile(source).expect_err(source)
}

fn check(source: &str, statement: &Value) -> Result<bool, ConditionError> {
    Condition::compile(source)
        .unwrap_or_else(|e| panic!("{source}: {e}"))
        .check(&Bindings::new(statement))
}

fn provenance() -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "img", "digest": {"sha256": "ab"}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "runDetails": {"builder": {"id": "https://github.com/our-org/ci"}},
            "matches": [
                {"vulnerability": {"severity": "High"}},
                {"vulnerability": {"severity": "Low"}}
            ],
            "packages": [{"name": "openssl"}, {"name": "zlib"}]
        }
    })
}

#[test]
fn the_issue_examples_decide() {
    let s = provenance();
    for (source, expected) in [
        (
            r#"predicate.runDetails.builder.id == "https://github.com/our-org/ci""#,
            true,
        ),
        (
            r#"predicate.matches.all(m, m.vulnerability.severity != "Critical")"#,
            true,
        ),
        (r#"!predicate.packages.exists(p, p.name == "log4j")"#, true),
        (r#"predicate.packages.exists(p, p.name == "zlib")"#, true),
        (r#"predicateType.startsWith("https://slsa.dev/")"#, true),
        (r#"subject.exists_one(s, has(s.digest.sha256))"#, true),
        (
            r#"predicate.packages.map(p, p.name).filter(n, n == "zlib").size() == 1"#,
            true,
        ),
        (
            r#"predicate.runDetails.builder.id.matches("^https://github[.]com/our-org/")"#,
            true,
        ),
        (r#""openssl" in predicate.packages.map(p, p.name)"#, true),
        (
            r#"predicate.matches.filter(m, m.vulnerability.severity == "High").size() == 0"#,
            false,
        ),
    ] {
        assert_eq!(check(source, &s), Ok(expected), "{source}");
    }
}

#[test]
fn a_missing_key_fails_and_a_string_is_not_a_bool() {
    let s = provenance();
    let failed = check("predicate.nothing == 1", &s).expect_err("an error");
    assert!(
        matches!(&failed, ConditionError::Failed(m) if m.contains("nothing")),
        "{failed}"
    );
    let not_bool = check("predicateType", &s).expect_err("an error");
    assert_eq!(not_bool, ConditionError::NotBool("string".into()));
    assert!(not_bool.to_string().contains("not a bool"));
    // A statement without a predicate binds null.
    let empty = check("predicate == null", &json!({}));
    assert_eq!(empty, Ok(true));
}

#[test]
fn parse_errors_have_their_position() {
    let e = compile_error("predicate.a ==");
    assert_eq!((e.line, e.column), (1, 15), "{e}");
    let e = compile_error("predicate.a == 1 &&\n  predicate.b ==");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.to_string().starts_with("line 2, column "), "{e}");
}

#[test]
fn unknown_variables_and_functions_are_refused_where_written() {
    let e = compile_error("predicate.a == other");
    assert_eq!(
        (e.line, e.column, e.message.contains("'other'")),
        (1, 16, true),
        "{e}"
    );
    let e = compile_error("predicate.a.lowerAscii() == \"x\"");
    assert!(e.message.contains("'lowerAscii' is not allowed"), "{e}");
    let e = compile_error("é == 1");
    assert_eq!((e.line, e.column), (1, 1), "{e}");
    let e = compile_error("\"é\" == é2");
    assert_eq!((e.line, e.column), (1, 8), "{e}");
    for source in [
        "type(predicate) == map",
        "timestamp(predicate.t) > 0",
        "predicate.a.exists(x, x == y)",
        "optional.of(1) == 1",
        "predicate.s.matches(predicate.p)",
        "predicate.s.matches(\"(\")",
        "predicate.s.matches(\"a{1000}{1000}\")",
        "matches(predicate.s, \"a\")",
        "google.protobuf.Int64Value{value: 1} == 1",
        "bytes(predicate.s) == b'a'",
        "predicate.list.exists(@result, true)",
    ] {
        assert!(Condition::compile(source).is_err(), "{source}");
    }
}

#[test]
fn a_long_source_is_refused() {
    let source = format!("predicate.a == \"{}\"", "x".repeat(MAX_CONDITION_SOURCE));
    assert!(compile_error(&source).message.contains("over the limit"));
}

/// Each shape that nests the parser's or the interpreter's recursion, as deep as the source
/// limit allows, on a 2 MiB stack (a test thread's default).
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let n = MAX_CONDITION_SOURCE / 8;
    let shapes: Vec<String> = [
        format!("{}true{}", "(".repeat(n), ")".repeat(n)),
        format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        format!("{}1{}", "{1:".repeat(n / 3), "}".repeat(n / 3)),
        format!("{}1{}", "size(".repeat(n / 5), ")".repeat(n / 5)),
        format!("predicate{} == 1", ".b".repeat(n)),
        format!("predicate{} == 1", "[0]".repeat(n)),
        format!("{}true", "!".repeat(n * 3)),
        format!("{}1 == 1", "-".repeat(n * 3)),
        format!("1{} == 1", "+1".repeat(n)),
        format!("true{}", "&&true".repeat(n / 2)),
        format!("{}1", "true?1:".repeat(n / 2)),
        format!(
            "{}true{}",
            "[1].exists(x,".repeat(n / 10),
            ")".repeat(n / 10)
        ),
        format!("{}true{}", "!(".repeat(n / 2), ")".repeat(n / 2)),
    ]
    .into_iter()
    .map(|s| s.chars().take(MAX_CONDITION_SOURCE).collect())
    .collect();
    let checked = thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let statement = Bindings::new(&json!({"predicate": {}}));
            shapes
                .iter()
                .map(|s| match Condition::compile(s) {
                    Ok(c) => {
                        let _ = c.check(&statement);
                        true
                    }
                    Err(_) => false,
                })
                .collect::<Vec<bool>>()
        })
        .expect("no error")
        .join()
        .expect("no stack overflow");
    // Parentheses, brackets and braces nest the parser; chains nest the tree.
    assert_eq!(&checked[..6], &[false; 6]);
    assert!(!checked[8], "a chain of 512 additions is too deep");
}

#[test]
fn one_scan_of_a_predicate_list_is_accepted_and_a_nested_scan_is_not() {
    Condition::compile(r#"predicate.matches.all(m, m.vulnerability.severity != "Critical" && m.fix.state != "not-fixed")"#).expect("no error");
    Condition::compile(r#"predicate.a.map(x, x.name).filter(n, n.startsWith("a")).size() < 10"#)
        .expect("no error");
    let e = compile_error("predicate.a.all(x, predicate.b.exists(y, x == y))");
    assert!(e.message.contains("estimated cost"), "{e}");
    assert_eq!((e.line, e.column), (1, 16), "{e}");
    // String functions on parts of each element scan each element's own string: together no
    // more than the statement. Inside an independent inner scan they are not.
    Condition::compile(
        r#"predicate.a.exists(x, x.name.contains("log4j") || x.v.matches("^2[.]1[0-7]"))"#,
    )
    .expect("no error");
    let nested = r#"predicate.a.exists(x, predicate.b.exists(y, x.name.contains("log4j")))"#;
    assert!(Condition::compile(nested).is_err());
}

#[test]
fn a_check_over_the_runtime_limit_is_not_evaluated() {
    let condition = Condition::compile("predicate.a.all(x, x == 0)").expect("no error");
    let small = Bindings::new(&json!({"predicate": {"a": [0, 0, 0]}}));
    assert_eq!(condition.check(&small), Ok(true));
    let n = usize::try_from(CONDITION_RUNTIME_COST).expect("no error");
    let large = Bindings::new(&json!({"predicate": {"a": vec![0; n / 4]}}));
    let over = condition.check(&large).expect_err("an error");
    assert!(
        matches!(over, ConditionError::OverCost { estimated, limit }
        if estimated > limit && limit == CONDITION_RUNTIME_COST),
        "{over}"
    );
    assert!(over.to_string().contains("over the limit"));
}

#[test]
fn estimates_saturate_instead_of_overflowing() {
    let mut source = String::from("predicate.a");
    for i in 0..8 {
        source = format!("predicate.a.map(x{i}, {source} + {source})");
        if source.len() > MAX_CONDITION_SOURCE / 2 {
            break;
        }
    }
    let source = format!("size({source}) > 0");
    assert!(compile_error(&source).message.contains("estimated cost"));
    let e = compile_error(&format!(
        "size({}) > 0",
        "predicate.a + ".repeat(200) + "predicate.a"
    ));
    assert!(!e.message.is_empty());
}

/// Shapes that multiply work (doubling strings in a loop, map over map, list + list, exists_one,
/// has, nested ternaries) on inputs sized so their estimate is just under the runtime limit:
/// the time stays within a bound, so the estimate is not wildly low. Debug builds are ~10x
/// slower than the release figures in the benchmark; the bound here is loose on purpose.
#[test]
fn estimates_bound_adversarial_shapes() {
    let cases = [
        "predicate.l.map(x, predicate.s + predicate.s + predicate.s).exists(y, y == \"\")",
        "predicate.l.map(x, predicate.l.map(y, y)).size() > 0",
        "predicate.l.map(x, predicate.l + predicate.l).size() > 0",
        "predicate.l.exists_one(x, has(x.a) ? x.a == 1 : (x == 1 ? true : x == 2))",
        "predicate.l.filter(x, x == predicate.l).size() == 0",
        "predicate.l.all(x, string(x) + predicate.s != predicate.s)",
        "[predicate, predicate, predicate] == [predicate, predicate, subject]",
        "predicate.l.map(x, [predicate.s, predicate.s]).map(y, y[0] + y[1]).size() > 0",
        "predicate.s.matches(\"(a|b|c|d)*x\") || size(predicate.s + predicate.s) == 0",
        "predicate.l.exists(x, predicate.s.contains(predicate.s + \"x\"))",
        "predicate.t.exists(x, x.contains(\"zz\") || x.matches(\"(a|b|c)*z\") || size(x) == 0)",
        "predicate.t.map(x, x + x).exists(y, y.contains(\"zz\"))",
        "predicate.t.filter(x, string(x) == \"\").exists(y, [y, y].exists(z, z.contains(\"a\")))",
    ];
    // A dotted name is resolved prefix by prefix in every scope.
    let chain = format!(
        "a{}",
        ".abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz".repeat(40)
    );
    let chain =
        format!("predicate.l.exists(a, predicate.l.exists(b, [1].exists(c, {chain} == 1)))");
    for source in cases.iter().copied().chain([chain.as_str()]) {
        let condition =
            Condition::compile_within(source, u64::MAX).unwrap_or_else(|e| panic!("{source}: {e}"));
        let (statement, estimated) = largest_under_limit(&condition);
        let start = Instant::now();
        let result = condition.check(&statement);
        let elapsed = start.elapsed();
        assert!(
            !matches!(result, Err(ConditionError::OverCost { .. })),
            "{source}"
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "{source}: {elapsed:?} for an estimate of {estimated}"
        );
    }
}

/// The statement `{l: [n numbers], s: "ab…" (n bytes)}` with the largest n whose estimate is
/// under the runtime limit.
fn largest_under_limit(condition: &Condition) -> (Bindings, u64) {
    condition.largest_under_limit(
        21,
        |n| json!({"predicate": {"l": vec![1; n], "s": "ab".repeat(n / 2)}}),
    )
}

#[test]
fn conditions_compare_and_print_by_source() {
    let a = Condition::compile("predicate.a == 1").expect("no error");
    let b = Condition::compile("predicate.a == 1").expect("no error");
    assert_eq!(a, b.clone());
    assert_ne!(a, Condition::compile("predicate.a == 2").expect("no error"));
    assert_eq!(format!("{a:?}"), "Condition(\"predicate.a == 1\")");
    assert_eq!(a.source(), "predicate.a == 1");
    fn shared<T: Send + Sync>() {}
    shared::<Condition>();
    shared::<Bindings>();
}

/// Tokens that make up conditions, and some that do not, so generated sources reach every
/// part of the parser and the walk.
const TOKENS: &[&str] = &[
    "predicate",
    "subject",
    "predicateType",
    ".",
    "a",
    "l",
    "s",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "?",
    "!",
    "-",
    "+",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    " in ",
    "1",
    "0",
    "-1",
    "9223372036854775807",
    "1u",
    "2.5",
    "\"x\"",
    "b'y'",
    "null",
    "true",
    ".all(x,",
    ".exists(x,",
    ".exists_one(x,",
    ".map(x,",
    ".filter(x,",
    "has(",
    "size(",
    ".contains(",
    ".startsWith(",
    ".matches(\"a+\")",
    "string(",
    "int(",
    "x",
    "\"",
    "'",
    "\\",
    "`",
    "#",
    "é",
    "\n",
    "@result",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the source: compile and check return, never panic.
    #[test]
    fn odd_sources_never_panic(picks in proptest::collection::vec(0..TOKENS.len(), 0..40)) {
        let source: String = picks.iter().map(|&i| TOKENS[i]).collect();
        if let Ok(condition) = Condition::compile(&source) {
            let statement = Bindings::new(&json!({
                "predicate": {"a": {"l": [1, 2]}, "l": [1, "x", null], "s": "sss"},
                "subject": [], "predicateType": "t"
            }));
            let _ = condition.check(&statement);
        }
    }
}
