//! The cost model: an abstract interpreter over cel's tree that gives, for every node, an upper
//! bound on the work evaluating it does and on the value it yields. It is also the checker: any
//! variable, function or shape it has no model for is refused (fail closed).
//!
//! A value is bounded by its longest list or map (`len`), its longest string or bytes
//! (`bytes`), both including nested values, and its weight (`total`: nodes, plus bytes in 16s),
//! which bounds deep copies and comparisons. A unit of cost is about one node evaluated, or 16
//! bytes copied or compared, or one element cloned. Orientation: Kubernetes' CEL cost model
//! (strings by length, comprehensions by range size times their body); the interpreter's own
//! habits are priced in: iterating clones each element (deeply), list literals and `+` copy
//! their operands, `map` and `filter` append in place. Arithmetic saturates, so a huge estimate
//! stays huge.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators,
};

use super::pattern::Patterns;
use crate::limits::MAX_CONDITION_DEPTH;

/// Bounds of the statement's variables: measured in `Bindings`, or the worst case allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub len: u64,
    pub bytes: u64,
    pub total: u64,
}

/// The estimate for one node: cost of evaluating it, and bounds of what it yields.
///
/// Of `cost`, `k` times the weight bound of the innermost comprehension's element is work on
/// parts of that element (a string function on `x.name`), so over the loop it sums to `k` times
/// the range's weight, not `k` times the element bound once an element: a scan applying
/// `contains` to every name is linear in the statement. Dropping `k` is always sound.
#[derive(Debug, Clone, Copy, Default)]
struct Est {
    cost: u64,
    k: u64,
    shape: Sizes,
}

/// A node refused, by its id (for the position) and why.
#[derive(Debug)]
pub(super) struct Fault {
    pub id: u64,
    pub message: String,
}

/// The variables a condition may read.
pub(super) const VARIABLES: [&str; 3] = ["predicate", "predicateType", "subject"];
/// Functions and operators with a cost model; anything else is refused.
const FUNCTIONS: &str = "size, contains, startsWith, endsWith, matches, string, int, uint, \
                         double, has, all, exists, exists_one, map, filter, in, and operators";

/// Estimates `expr` for a statement of `sizes`. `patterns` collects (at compile) or knows (at
/// a check) the compiled `matches` patterns.
pub(super) fn estimate(
    expr: &IdedExpr,
    sizes: Sizes,
    patterns: &mut Patterns,
) -> Result<u64, Fault> {
    let mut walk = Walk {
        sizes,
        scopes: Vec::new(),
        amortized: None,
        innermost: None,
        patterns,
    };
    walk.expr(expr, 0).map(|est| est.cost)
}

struct Walk<'a, 'p> {
    sizes: Sizes,
    /// Comprehension variables in scope, innermost last.
    scopes: Vec<(&'a str, Sizes)>,
    /// The accumulator of the filter or projection whose step is being walked: its append
    /// copies parts of distinct elements, charged once for the whole range instead.
    amortized: Option<&'a str>,
    /// The innermost comprehension's element and its weight bound.
    innermost: Option<(&'a str, u64)>,
    patterns: &'p mut Patterns,
}

/// A scalar (bool, number, null): no length, weight one.
const SCALAR: Sizes = Sizes {
    len: 0,
    bytes: 0,
    total: 1,
};

impl<'a> Walk<'a, '_> {
    fn expr(&mut self, e: &'a IdedExpr, depth: usize) -> Result<Est, Fault> {
        if depth > MAX_CONDITION_DEPTH {
            return Err(fault(
                e,
                format!("expression nested deeper than {MAX_CONDITION_DEPTH}"),
            ));
        }
        let depth = depth + 1;
        match &e.expr {
            Expr::Literal(literal) => Ok(leaf(literal_shape(literal))),
            Expr::Ident(name) => self.ident(e, name),
            Expr::Select(select) => {
                if let Some(name) = qualified(e) {
                    return self.qualified(e, &name, select.test, depth);
                }
                let operand = self.expr(&select.operand, depth)?;
                let shape = if select.test { SCALAR } else { operand.shape };
                // A hash lookup of the field name.
                Ok(Est {
                    cost: add(&[operand.cost, 1, bytes(len(select.field.len()))]),
                    k: operand.k,
                    shape,
                })
            }
            Expr::List(list) => {
                let elements = self.all(&list.elements, depth)?;
                Ok(collection(len(list.elements.len()), &elements))
            }
            Expr::Map(map) => {
                let mut parts = Vec::with_capacity(map.entries.len().saturating_mul(2));
                for entry in &map.entries {
                    let EntryExpr::MapEntry(entry) = &entry.expr else {
                        return Err(fault(e, "struct fields in a map".into()));
                    };
                    parts.push(self.expr(&entry.key, depth)?);
                    parts.push(self.expr(&entry.value, depth)?);
                }
                Ok(collection(len(map.entries.len()), &parts))
            }
            Expr::Call(call) => self.call(e, call, depth),
            Expr::Comprehension(comprehension) => self.comprehension(e, comprehension, depth),
            Expr::Struct(_) => Err(fault(e, "message construction is not supported".into())),
            Expr::Unspecified => Err(fault(e, "empty expression".into())),
        }
    }

    fn all(&mut self, exprs: &'a [IdedExpr], depth: usize) -> Result<Vec<Est>, Fault> {
        exprs.iter().map(|e| self.expr(e, depth)).collect()
    }

    /// A dotted name (`predicate.runDetails.builder`): cel joins it, then looks every prefix
    /// up in every scope (one a comprehension) before selecting the remaining fields.
    fn qualified(
        &self,
        e: &IdedExpr,
        name: &Qualified<'a>,
        test: bool,
        depth: usize,
    ) -> Result<Est, Fault> {
        if depth.saturating_add(name.segments) > MAX_CONDITION_DEPTH {
            return Err(fault(
                e,
                format!("expression nested deeper than {MAX_CONDITION_DEPTH}"),
            ));
        }
        let root = self.ident(name.root, name.root_name)?;
        let scopes = len(self.scopes.len() / 2).saturating_add(1);
        let segments = len(name.segments);
        let lookups = scopes.saturating_mul(segments);
        Ok(Est {
            cost: add(&[
                root.cost,
                bytes(name.bytes),
                lookups.saturating_mul(1 + bytes(name.bytes)),
            ]),
            k: 0,
            shape: if test { SCALAR } else { root.shape },
        })
    }

    fn ident(&self, e: &IdedExpr, name: &str) -> Result<Est, Fault> {
        // Looked up scope by scope, innermost first.
        let lookups = len(self.scopes.len() / 2).saturating_add(1);
        let cost = lookups.saturating_mul(1 + bytes(len(name.len())));
        if let Some((_, shape)) = self.scopes.iter().rev().find(|(n, _)| *n == name) {
            return Ok(Est {
                cost,
                k: 0,
                shape: *shape,
            });
        }
        if VARIABLES.contains(&name) {
            return Ok(Est {
                cost,
                k: 0,
                shape: self.sizes,
            });
        }
        Err(fault(
            e,
            format!(
                "unknown variable '{name}' (conditions read predicate, predicateType and subject)"
            ),
        ))
    }

    fn call(&mut self, e: &'a IdedExpr, call: &'a CallExpr, depth: usize) -> Result<Est, Fault> {
        if let (Some(accu), operators::ADD, [lhs, list]) = (
            self.amortized,
            call.func_name.as_str(),
            call.args.as_slice(),
        ) && is_ident(lhs, accu)
            && let Expr::List(list) = &list.expr
            && let [item] = list.elements.as_slice()
        {
            let item = self.expr(item, depth)?;
            return Ok(Est {
                cost: item.cost.saturating_add(3),
                k: item.k,
                shape: SCALAR,
            });
        }
        let target = match &call.target {
            Some(target) => Some(self.expr(target, depth)?),
            None => None,
        };
        let args = self.all(&call.args, depth)?;
        // Every operand is evaluated (at most) once; the node itself is one unit.
        let base = add(&[
            target.map_or(0, |t| t.cost),
            args.iter().fold(0, |sum, a| sum.saturating_add(a.cost)),
            1,
        ]);
        let k = target
            .iter()
            .chain(&args)
            .fold(0, |sum: u64, a| sum.saturating_add(a.k));
        let operands: Vec<Sizes> = target.iter().chain(&args).map(|a| a.shape).collect();
        let nodes: Vec<&IdedExpr> = call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect();
        // Length-bound work on strings: per 16 bytes, or per unit of the element's weight
        // when the string is a part of the innermost element (see `Est`).
        let innermost = self.innermost;
        let by_length = |units_per_16: u64, i: usize| -> (u64, u64) {
            match part_of_element(innermost, nodes[i]) {
                Some(bound) => (units_per_16.saturating_mul(bound), units_per_16),
                None => (units_per_16.saturating_mul(bytes(operands[i].bytes)), 0),
            }
        };
        let (extra, shape) = match (call.func_name.as_str(), operands.as_slice()) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, [_, _])
            | (operators::LOGICAL_NOT | operators::NOT_STRICTLY_FALSE, [_]) => ((0, 0), SCALAR),
            (operators::CONDITIONAL, [_, a, b]) => {
                // One branch runs: charge the dearer, not both (and the larger share).
                let dearer = args[1].cost.max(args[2].cost);
                let both = args[1].cost.saturating_add(args[2].cost);
                let share = args[1].k.max(args[2].k);
                return Ok(Est {
                    cost: base.saturating_sub(both).saturating_add(dearer),
                    k: args[0].k.saturating_add(share),
                    shape: max(*a, *b),
                });
            }
            // Equality and order stop at the first difference, and first compare lengths.
            (
                operators::EQUALS
                | operators::NOT_EQUALS
                | operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                [a, b],
            ) => ((a.total.min(b.total), 0), SCALAR),
            // Concatenation copies both sides (lists deeply); numbers add in one unit.
            (operators::ADD, [a, b]) => (
                (a.total.saturating_add(b.total), 0),
                Sizes {
                    len: a.len.saturating_add(b.len),
                    bytes: a.bytes.saturating_add(b.bytes),
                    total: a.total.saturating_add(b.total),
                },
            ),
            (
                operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                [_, _],
            )
            | (operators::NEGATE, [_]) => ((0, 0), SCALAR),
            // A list or map lookup; a map hashes the key.
            (operators::INDEX, [container, key]) => ((key.total, 0), *container),
            // A list is scanned, each element compared with the needle; a map hashes it.
            (operators::IN, [needle, haystack]) => (
                (
                    needle.total.saturating_add(
                        haystack
                            .total
                            .min(haystack.len.saturating_mul(needle.total.saturating_add(1))),
                    ),
                    0,
                ),
                SCALAR,
            ),
            // Strings count code points; lists and maps know their size.
            ("size", [_]) => (by_length(1, 0), SCALAR),
            ("contains", [_, _]) if call.target.is_some() => {
                let (s, needle) = (by_length(1, 0), by_length(1, 1));
                (
                    (s.0.saturating_add(needle.0), s.1.saturating_add(needle.1)),
                    SCALAR,
                )
            }
            ("startsWith" | "endsWith", [s, affix]) if call.target.is_some() => {
                ((bytes(s.bytes.min(affix.bytes)), 0), SCALAR)
            }
            ("matches", [_, _]) if call.target.is_some() => {
                let states = self.pattern(e, &call.args)?.saturating_add(1);
                // A Pike VM steps every state on every byte (and the end); four steps a unit.
                let (length, share) = by_length(states.saturating_mul(4), 0);
                ((length.saturating_add(states / 4 + 1), share), SCALAR)
            }
            ("string" | "int" | "uint" | "double", [v]) if call.target.is_none() => (
                by_length(1, 0),
                Sizes {
                    len: 0,
                    bytes: v.bytes.max(32),
                    total: v.total.max(3),
                },
            ),
            (name, _) if is_allowed(name) => {
                let n = operands.len();
                let message = format!(
                    "'{}' is not allowed with {n} operand(s) here",
                    display(name)
                );
                return Err(fault(e, message));
            }
            (name, _) => {
                let name = display(name);
                let message = format!(
                    "function '{name}' is not allowed in conditions (allowed: {FUNCTIONS})"
                );
                return Err(fault(e, message));
            }
        };
        Ok(Est {
            cost: base.saturating_add(extra.0),
            k: k.saturating_add(extra.1),
            shape,
        })
    }

    /// The literal pattern of a `matches` call, compiled; its automaton's states.
    fn pattern(&mut self, e: &IdedExpr, args: &[IdedExpr]) -> Result<u64, Fault> {
        let [pattern] = args else {
            return Err(fault(e, "matches takes one pattern".into()));
        };
        let Expr::Literal(LiteralValue::String(pattern)) = &pattern.expr else {
            return Err(fault(
                e,
                "the pattern of matches must be a string literal".into(),
            ));
        };
        self.patterns
            .add(pattern.inner())
            .map_err(|message| fault(e, message))
    }

    fn comprehension(
        &mut self,
        e: &'a IdedExpr,
        c: &'a ComprehensionExpr,
        depth: usize,
    ) -> Result<Est, Fault> {
        let Some(kind) = Kind::of(c) else {
            return Err(fault(e, "unsupported comprehension".into()));
        };
        let range = self.expr(&c.iter_range, depth)?;
        let init = self.expr(&c.accu_init, depth)?;
        // Elements and keys are bounded by their container; the accumulator is a bool or an
        // int, or (map, filter) a list only appended to.
        self.scopes.push((c.iter_var.as_str(), range.shape));
        self.scopes.push((c.accu_var.as_str(), SCALAR));
        let amortize = matches!(kind, Kind::Filter | Kind::Projection);
        let outer = (self.amortized, self.innermost);
        self.amortized = amortize.then_some(c.accu_var.as_str());
        let element = range.shape.total;
        self.innermost = Some((c.iter_var.as_str(), element));
        let body = self
            .expr(&c.loop_cond, depth)
            .and_then(|cond| Ok((cond, self.expr(&c.loop_step, depth)?)));
        (self.amortized, self.innermost) = outer;
        let result = self.expr(&c.result, depth);
        self.scopes.truncate(self.scopes.len().saturating_sub(2));
        let (cond, step) = body?;
        let result = result?;
        let n = range.shape.len;
        // Work on parts of the elements: `share` units per unit of each element's weight,
        // charged `share` times the range's weight in all rather than once an element.
        let share = cond.k.saturating_add(step.k);
        let iteration =
            add(&[cond.cost, step.cost, 1]).saturating_sub(share.saturating_mul(element));
        // Each iteration runs the condition and the step, and clones its element: the clones
        // weigh the range's weight at most.
        // Filter and projection appends copy (twice: into `[f]`, then onto the list) parts of
        // distinct elements.
        let copies = if amortize { 3 } else { 1 };
        let cost = add(&[
            range.cost,
            init.cost,
            n.saturating_mul(iteration),
            share.saturating_mul(range.shape.total),
            range.shape.total.saturating_mul(copies),
            result.cost,
            1,
        ]);
        let shape = match kind {
            Kind::Fold => SCALAR,
            // Parts of distinct elements weigh the range's weight at most.
            Kind::Filter | Kind::Projection => range.shape,
            // `[f]` appended once an element: the list's bounds, n times its weight.
            Kind::Map => Sizes {
                len: n.max(step.shape.len),
                bytes: step.shape.bytes,
                total: n.saturating_mul(step.shape.total).saturating_add(1),
            },
        };
        // Only the range and the initial value run in the enclosing loop's iteration.
        let k = range.k.saturating_add(init.k);
        Ok(Est { cost, k, shape })
    }
}

/// The comprehensions the standard macros write; nothing else reaches the tree from source.
enum Kind {
    /// all, exists, exists_one: a bool or a count.
    Fold,
    /// filter: appends its own elements.
    Filter,
    /// map to a part of each element (`x.name`, `x.a[0]`): no new values.
    Projection,
    /// map: appends a new value per element.
    Map,
}

impl Kind {
    fn of(c: &ComprehensionExpr) -> Option<Kind> {
        if c.iter_var2.is_some() || !c.accu_var.starts_with('@') {
            return None;
        }
        match &c.accu_init.expr {
            Expr::Literal(LiteralValue::Boolean(_) | LiteralValue::Int(_)) => Some(Kind::Fold),
            Expr::List(list) if list.elements.is_empty() => Some(match appended(c) {
                Some(item) if is_ident(item, &c.iter_var) && guarded(c) => Kind::Filter,
                Some(item) if projects(item, &c.iter_var) => Kind::Projection,
                _ => Kind::Map,
            }),
            _ => None,
        }
    }
}

/// The value a map or filter step appends: `f` of `@result + [f]`, guarded or not.
fn appended(c: &ComprehensionExpr) -> Option<&IdedExpr> {
    let step = match &c.loop_step.expr {
        Expr::Call(call) if call.func_name == operators::CONDITIONAL => call.args.get(1)?,
        _ => &c.loop_step,
    };
    let Expr::Call(append) = &step.expr else {
        return None;
    };
    match (append.func_name.as_str(), append.args.as_slice()) {
        (operators::ADD, [_, list]) => match &list.expr {
            Expr::List(l) => l.elements.first().filter(|_| l.elements.len() == 1),
            _ => None,
        },
        _ => None,
    }
}

fn guarded(c: &ComprehensionExpr) -> bool {
    matches!(&c.loop_step.expr, Expr::Call(call) if call.func_name == operators::CONDITIONAL)
}

fn is_ident(e: &IdedExpr, name: &str) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == name)
}

/// A dotted name read at once by cel: its root identifier, segments and bytes joined.
struct Qualified<'a> {
    root: &'a IdedExpr,
    root_name: &'a str,
    segments: usize,
    bytes: u64,
}

/// `e` as a dotted name (fields selected on an identifier, the last one maybe a `has()`).
fn qualified(e: &IdedExpr) -> Option<Qualified<'_>> {
    let (mut segments, mut bytes) = (1usize, 0u64);
    let mut node = e;
    loop {
        match &node.expr {
            Expr::Select(select) if !select.test || core::ptr::eq(node, e) => {
                segments = segments.saturating_add(1);
                bytes = bytes.saturating_add(len(select.field.len()).saturating_add(1));
                node = &select.operand;
            }
            Expr::Ident(name) => {
                return Some(Qualified {
                    root: node,
                    root_name: name,
                    segments,
                    bytes: bytes.saturating_add(len(name.len())),
                });
            }
            _ => return None,
        }
    }
}

/// The weight bound of the innermost element if `e` is a part of it read in place.
fn part_of_element(innermost: Option<(&str, u64)>, e: &IdedExpr) -> Option<u64> {
    let (name, bound) = innermost?;
    projects(e, name).then_some(bound)
}

/// Whether `e` is a part of `var` read in place: fields and indexes by literals.
fn projects(e: &IdedExpr, var: &str) -> bool {
    let mut e = e;
    loop {
        match &e.expr {
            Expr::Ident(name) => return name == var,
            Expr::Select(select) if !select.test => e = &select.operand,
            Expr::Call(call) if call.func_name == operators::INDEX => match call.args.as_slice() {
                [container, key] if matches!(key.expr, Expr::Literal(_)) => e = container,
                _ => return false,
            },
            _ => return false,
        }
    }
}

fn is_allowed(name: &str) -> bool {
    const NAMES: [&str; 9] = [
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "string",
        "int",
        "uint",
        "double",
    ];
    NAMES.contains(&name)
        || name.starts_with('_')
        || name.ends_with('_')
        || name == operators::IN
        || name == operators::NOT_STRICTLY_FALSE
}

/// An operator by the symbol written (`_[?_]` is `[?]`), a function by its name.
fn display(name: &str) -> &str {
    name.trim_matches(|c| c == '_' || c == '@')
}

/// A list or map literal: its elements evaluated and copied into it.
fn collection(count: u64, parts: &[Est]) -> Est {
    let cost = parts.iter().fold(1u64, |sum, p| {
        sum.saturating_add(p.cost).saturating_add(p.shape.total)
    });
    let k = parts.iter().fold(0u64, |sum, p| sum.saturating_add(p.k));
    let shape = parts.iter().fold(
        Sizes {
            len: count,
            bytes: 0,
            total: 1,
        },
        |s, p| Sizes {
            len: s.len.max(p.shape.len),
            bytes: s.bytes.max(p.shape.bytes),
            total: s.total.saturating_add(p.shape.total),
        },
    );
    Est { cost, k, shape }
}

fn literal_shape(literal: &LiteralValue) -> Sizes {
    let n = match literal {
        LiteralValue::String(s) => len(s.inner().len()),
        LiteralValue::Bytes(b) => len(b.inner().len()),
        _ => return SCALAR,
    };
    Sizes {
        len: 0,
        bytes: n,
        total: 1 + n / 16,
    }
}

fn leaf(shape: Sizes) -> Est {
    Est {
        cost: 1,
        k: 0,
        shape,
    }
}

fn max(a: Sizes, b: Sizes) -> Sizes {
    Sizes {
        len: a.len.max(b.len),
        bytes: a.bytes.max(b.bytes),
        total: a.total.max(b.total),
    }
}

/// Bytes in units of 16, rounded up.
fn bytes(n: u64) -> u64 {
    n.div_ceil(16)
}

fn add(parts: &[u64]) -> u64 {
    parts.iter().fold(0, |sum, p| sum.saturating_add(*p))
}

fn len(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn fault(e: &IdedExpr, message: String) -> Fault {
    Fault { id: e.id, message }
}
