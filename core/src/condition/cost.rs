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
//!
//! Costs are totals over every evaluation of a node (`times`: once at the top, once an
//! iteration in a comprehension's body), and each value carries the sum of its weights over
//! those evaluations. Containment makes nested scans linear: the elements of a list are
//! disjoint parts of it, so over all iterations `x.items` weighs no more than the range did,
//! and a scan of `x.items` in the body iterates that sum, not iterations × longest. A path
//! from a variable (`predicate.a`, `r.items[0]`) also denotes a set of nodes (`nodes`): at a
//! check the statement's own, so its bounds are the max or sum over what it selects.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators,
};
use serde_json::Value;

use super::pattern::Patterns;
use crate::limits::MAX_CONDITION_DEPTH;
use kind::{Kind, is_ident};
use nodes::{Key, Set};

mod kind;
mod nodes;

pub(crate) use nodes::{Budget, walk as measure};

/// Bounds of a value: longest list or map, longest string, weight. For a statement: measured
/// in `Bindings` (`total` is then the whole statement's weight), or the worst case allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub len: u64,
    pub bytes: u64,
    pub total: u64,
}

/// What the walk knows of the statement: its bounds, and at a check its variables (in the
/// order of [`VARIABLES`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Doc<'v> {
    pub sizes: Sizes,
    pub vars: Option<[&'v Value; 3]>,
}

/// The estimate for one node: its cost over all its evaluations, and bounds of what it
/// yields (the max of one evaluation, the sum of the weights of all).
#[derive(Debug, Clone, Default)]
struct Est<'v> {
    cost: u64,
    shape: Sizes,
    sum: u64,
    path: Option<Path<'v>>,
}

/// A path's nodes; `rep`: at most how often one node is reached, when the path starts at the
/// iteration variable of the innermost comprehension (its elements are then reached once an
/// iteration each, times how often their container was).
#[derive(Debug, Clone)]
struct Path<'v> {
    set: Set<'v>,
    rep: Option<u64>,
}

/// A comprehension variable: bounds of what it binds over all iterations, and its node set
/// if the range is a path.
struct Scope<'a, 'v> {
    name: &'a str,
    shape: Sizes,
    sum: u64,
    set: Option<Set<'v>>,
    rep: u64,
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

/// Estimates `expr` for a statement `doc`. `patterns` collects (at compile) or knows (at a
/// check) the compiled `matches` patterns.
pub(super) fn estimate(
    expr: &IdedExpr,
    doc: Doc<'_>,
    patterns: &mut Patterns,
) -> Result<u64, Fault> {
    // Measuring node sets visits subtrees: a few passes over the statement at most.
    let budget = Budget::new(doc.sizes.total.saturating_mul(8).saturating_add(4096));
    let mut walk = Walk {
        doc,
        scopes: Vec::new(),
        times: 1,
        innermost: None,
        amortized: None,
        patterns,
        budget,
    };
    walk.expr(expr, 0).map(|est| est.cost)
}

struct Walk<'a, 'v, 'p> {
    doc: Doc<'v>,
    /// Comprehension variables in scope, innermost last.
    scopes: Vec<Scope<'a, 'v>>,
    /// How many times the node being walked is evaluated, at most.
    times: u64,
    /// The iteration variable (index in `scopes`) of the comprehension whose body is walked.
    innermost: Option<usize>,
    /// The accumulator of the filter or projection whose step is being walked: its append
    /// copies parts of distinct elements, charged once for the whole range instead.
    amortized: Option<&'a str>,
    patterns: &'p mut Patterns,
    budget: Budget<'v>,
}

/// A scalar (bool, number, null): no length, weight one.
const SCALAR: Sizes = Sizes {
    len: 0,
    bytes: 0,
    total: 1,
};

impl<'a, 'v> Walk<'a, 'v, '_> {
    fn expr(&mut self, e: &'a IdedExpr, depth: usize) -> Result<Est<'v>, Fault> {
        if depth > MAX_CONDITION_DEPTH {
            return Err(fault(
                e,
                format!("expression nested deeper than {MAX_CONDITION_DEPTH}"),
            ));
        }
        let depth = depth + 1;
        match &e.expr {
            Expr::Literal(literal) => Ok(self.value(self.times, literal_shape(literal))),
            Expr::Ident(name) => self.ident(e, name),
            Expr::Select(select) => {
                let operand = self.expr(&select.operand, depth)?;
                // A hash lookup of the field name.
                let cost = add(&[
                    operand.cost,
                    self.per(1_u64.saturating_add(bytes(len(select.field.len())))),
                ]);
                if select.test {
                    return Ok(self.value(cost, SCALAR));
                }
                Ok(self.part(operand, Key::Field(&select.field), cost))
            }
            Expr::List(list) => {
                let elements = self.all(&list.elements, depth)?;
                Ok(self.collection(len(list.elements.len()), &elements))
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
                Ok(self.collection(len(map.entries.len()), &parts))
            }
            Expr::Call(call) => self.call(e, call, depth),
            Expr::Comprehension(comprehension) => self.comprehension(e, comprehension, depth),
            Expr::Struct(_) => Err(fault(e, "message construction is not supported".into())),
            Expr::Unspecified => Err(fault(e, "empty expression".into())),
        }
    }

    fn all(&mut self, exprs: &'a [IdedExpr], depth: usize) -> Result<Vec<Est<'v>>, Fault> {
        exprs.iter().map(|e| self.expr(e, depth)).collect()
    }

    /// `unit` per evaluation.
    fn per(&self, unit: u64) -> u64 {
        self.times.saturating_mul(unit)
    }

    /// A value that is not a path, each evaluation as heavy as `shape` allows.
    fn value(&self, cost: u64, shape: Sizes) -> Est<'v> {
        Est {
            cost,
            shape,
            sum: self.per(shape.total),
            path: None,
        }
    }

    /// A path reaching `set`: its bounds are the set's.
    fn path(&self, set: Set<'v>, rep: Option<u64>, cost: u64) -> Est<'v> {
        let every = self.per(set.max.total);
        let sum = rep.map_or(every, |r| r.saturating_mul(set.weight).min(every));
        Est {
            cost,
            shape: set.max,
            sum,
            path: Some(Path { set, rep }),
        }
    }

    /// A field or an element of `whole`: a path step, or a part bounded by its whole.
    fn part(&mut self, whole: Est<'v>, key: Key<'_>, cost: u64) -> Est<'v> {
        match whole.path {
            Some(p) => {
                let set = p.set.step(key, self.doc.sizes, &mut self.budget);
                self.path(set, p.rep, cost)
            }
            None => Est {
                cost,
                path: None,
                ..whole
            },
        }
    }

    fn ident(&mut self, e: &IdedExpr, name: &str) -> Result<Est<'v>, Fault> {
        if let Some(i) = self.scopes.iter().rposition(|s| s.name == name) {
            let scope = &self.scopes[i];
            let inner = self.innermost == Some(i);
            let sum = if inner {
                scope.sum
            } else {
                self.per(scope.shape.total)
            };
            let est = match scope.set.clone() {
                Some(set) => self.path(set, inner.then_some(scope.rep), self.times),
                None => self.value(self.times, scope.shape),
            };
            return Ok(Est {
                sum: est.sum.min(sum),
                shape: scope.shape,
                ..est
            });
        }
        let Some(k) = VARIABLES.iter().position(|v| *v == name) else {
            return Err(fault(
                e,
                format!(
                    "unknown variable '{name}' (conditions read predicate, predicateType and subject)"
                ),
            ));
        };
        let set = match self.doc.vars.as_ref().and_then(|vars| vars.get(k)) {
            Some(value) => Set::root(value, self.doc.sizes),
            None => Set::whole(self.doc.sizes),
        };
        Ok(self.path(set, None, self.times))
    }

    fn call(
        &mut self,
        e: &'a IdedExpr,
        call: &'a CallExpr,
        depth: usize,
    ) -> Result<Est<'v>, Fault> {
        if let (Some(accu), operators::ADD, [lhs, list]) = (
            self.amortized,
            call.func_name.as_str(),
            call.args.as_slice(),
        ) && is_ident(lhs, accu)
            && let Expr::List(list) = &list.expr
            && let [item] = list.elements.as_slice()
        {
            let item = self.expr(item, depth)?;
            return Ok(self.value(item.cost.saturating_add(self.per(3)), SCALAR));
        }
        let mut operands = Vec::with_capacity(call.args.len().saturating_add(1));
        if let Some(target) = &call.target {
            operands.push(self.expr(target, depth)?);
        }
        operands.extend(self.all(&call.args, depth)?);
        // Every operand is evaluated (at most) once an evaluation; the node itself is one unit.
        let base = operands
            .iter()
            .fold(self.times, |sum, a| sum.saturating_add(a.cost));
        if let (operators::INDEX, [_, key]) = (call.func_name.as_str(), call.args.as_slice())
            && let Some(key) = literal_key(key)
            && operands.first().is_some_and(|c| c.path.is_some())
        {
            // A list or map lookup by a literal: a path step.
            let container = operands.swap_remove(0);
            let cost = base.saturating_add(self.per(1));
            return Ok(self.part(container, key, cost));
        }
        let (extra, mut shape) = self.operator(e, call, &operands)?;
        shape.cost = shape.cost.saturating_add(base).saturating_add(extra);
        Ok(shape)
    }

    /// The work of one call beyond evaluating its operands, over all its evaluations, and
    /// what it yields (cost left at zero).
    fn operator(
        &mut self,
        e: &IdedExpr,
        call: &CallExpr,
        operands: &[Est<'v>],
    ) -> Result<(u64, Est<'v>), Fault> {
        let t = self.times;
        // Work linear in operand sizes: `per` an evaluation at most, or (containment) at most
        // `sum` over all.
        let lin = |per: u64, sum: u64| t.saturating_mul(per).min(sum);
        let scalar = |extra| {
            let est = Est {
                cost: 0,
                shape: SCALAR,
                sum: t,
                path: None,
            };
            Ok((extra, est))
        };
        match (call.func_name.as_str(), operands) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, [_, _])
            | (operators::LOGICAL_NOT | operators::NOT_STRICTLY_FALSE, [_]) => scalar(0),
            // One branch runs an evaluation, but costs vary by evaluation: both are charged.
            (operators::CONDITIONAL, [_, a, b]) => Ok((
                0,
                Est {
                    cost: 0,
                    shape: max(a.shape, b.shape),
                    sum: a.sum.saturating_add(b.sum),
                    path: None,
                },
            )),
            // Equality and order: cel converts a value of another type (an int against a
            // list walks the list), so both sides are charged, not the smaller.
            (
                operators::EQUALS
                | operators::NOT_EQUALS
                | operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                [a, b],
            ) => scalar(lin(
                a.shape.total.saturating_add(b.shape.total),
                a.sum.saturating_add(b.sum),
            )),
            // Concatenation copies both sides (lists deeply); numbers add in one unit.
            (operators::ADD, [a, b]) => {
                let sum = a.sum.saturating_add(b.sum);
                let shape = Sizes {
                    len: a.shape.len.saturating_add(b.shape.len),
                    bytes: a.shape.bytes.saturating_add(b.shape.bytes),
                    total: a.shape.total.saturating_add(b.shape.total),
                };
                let est = Est {
                    sum,
                    ..self.value(0, shape)
                };
                Ok((sum, est))
            }
            (
                operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                [_, _],
            )
            | (operators::NEGATE, [_]) => scalar(0),
            // A list or map lookup; a map hashes the key. The element is part of the container.
            (operators::INDEX, [container, key]) => Ok((
                key.sum,
                Est {
                    cost: 0,
                    path: None,
                    ..container.clone()
                },
            )),
            // A list is scanned, each element compared with the needle; a map hashes it.
            (operators::IN, [needle, hay]) => {
                let scan = hay.shape.total.min(
                    hay.shape
                        .len
                        .saturating_mul(needle.shape.total.saturating_add(1)),
                );
                let per = needle.shape.total.saturating_add(scan);
                scalar(lin(per, needle.sum.saturating_add(hay.sum)))
            }
            // Strings count code points; lists and maps know their size. A value's bytes in
            // 16s are at most its weight.
            ("size", [s]) => scalar(lin(bytes(s.shape.bytes), s.sum)),
            ("contains", [s, needle]) if call.target.is_some() => scalar(lin(
                bytes(s.shape.bytes.saturating_add(needle.shape.bytes)),
                s.sum.saturating_add(needle.sum),
            )),
            ("startsWith" | "endsWith", [s, affix]) if call.target.is_some() => scalar(lin(
                bytes(s.shape.bytes.min(affix.shape.bytes)),
                s.sum.min(affix.sum),
            )),
            ("matches", [s, _]) if call.target.is_some() => {
                let states = self.pattern(e, &call.args)?.saturating_add(1);
                // A Pike VM steps every state on every byte (and the end).
                let per = states.saturating_mul(s.shape.bytes.saturating_add(1)) / 4;
                let sum = states.saturating_mul(s.sum.saturating_mul(16).saturating_add(t)) / 4;
                scalar(lin(per, sum))
            }
            ("string" | "int" | "uint" | "double", [v]) if call.target.is_none() => {
                let shape = Sizes {
                    len: 0,
                    bytes: v.shape.bytes.max(32),
                    total: v.shape.total.max(3),
                };
                let sum = v.sum.saturating_add(self.per(3)).min(self.per(shape.total));
                let est = Est {
                    sum,
                    ..self.value(0, shape)
                };
                Ok((lin(bytes(v.shape.bytes), v.sum), est))
            }
            (name, _) => Err(refused(e, name, operands.len())),
        }
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
    ) -> Result<Est<'v>, Fault> {
        let Some(kind) = Kind::of(c) else {
            return Err(fault(e, "unsupported comprehension".into()));
        };
        let range = self.expr(&c.iter_range, depth)?;
        let init = self.expr(&c.accu_init, depth)?;
        let (outer, innermost) = (self.times, self.innermost);
        let (iter, iterations) = self.iteration(c.iter_var.as_str(), &range);
        let iter_sum = iter.sum;
        // The accumulator is a bool or an int, or (map, filter) a list only appended to.
        self.scopes.push(iter);
        self.innermost = Some(self.scopes.len().saturating_sub(1));
        self.scopes.push(Scope {
            name: c.accu_var.as_str(),
            shape: SCALAR,
            sum: 0,
            set: None,
            rep: 0,
        });
        self.times = iterations;
        let amortize = matches!(kind, Kind::Filter | Kind::Projection);
        self.amortized = amortize.then_some(c.accu_var.as_str());
        let body = self
            .expr(&c.loop_cond, depth)
            .and_then(|cond| Ok((cond, self.expr(&c.loop_step, depth)?)));
        self.amortized = None;
        (self.times, self.innermost) = (outer, innermost);
        let result = self.expr(&c.result, depth);
        self.scopes.truncate(self.scopes.len().saturating_sub(2));
        let (cond, step) = body?;
        let result = result?;
        // Each iteration runs the condition and the step, and clones its element. Filter and
        // projection appends copy (twice: into `[f]`, then onto the list) parts of elements.
        let copies = if amortize { 3 } else { 1 };
        let cost = add(&[
            range.cost,
            init.cost,
            cond.cost,
            step.cost,
            iterations,
            iter_sum.saturating_mul(copies),
            result.cost,
            outer,
        ]);
        let est = match kind {
            Kind::Fold => self.value(cost, SCALAR),
            // Parts of distinct elements: bounded as the range.
            Kind::Filter | Kind::Projection => Est {
                cost,
                shape: range.shape,
                sum: iter_sum.saturating_add(outer),
                path: None,
            },
            // `[f]` appended once an element.
            Kind::Map => {
                let n = range.path.as_ref().map_or(range.shape.len, |p| p.set.top);
                let sum = step.sum.saturating_add(outer);
                let total = n.saturating_mul(step.shape.total).saturating_add(1);
                let shape = Sizes {
                    len: n.max(step.shape.len),
                    bytes: step.shape.bytes,
                    total: total.min(sum),
                };
                Est {
                    cost,
                    shape,
                    sum,
                    path: None,
                }
            }
        };
        Ok(est)
    }

    /// The iteration variable over `range`, and the iterations over all evaluations: at most
    /// the longest range each evaluation, or (elements weigh one or more, and are parts of
    /// the range) its summed weight, or for a path its nodes' lengths as often as reached.
    fn iteration(&mut self, name: &'a str, range: &Est<'v>) -> (Scope<'a, 'v>, u64) {
        let outer = self.times;
        let Some(path) = &range.path else {
            let iterations = self.per(range.shape.len).min(range.sum);
            let scope = Scope {
                name,
                shape: range.shape,
                sum: range.sum,
                set: None,
                rep: outer,
            };
            return (scope, iterations);
        };
        let every = self.per(path.set.top);
        let iterations = path
            .rep
            .map_or(every, |r| r.saturating_mul(path.set.tops).min(every));
        let rep = path.rep.unwrap_or(outer);
        let set = path.set.elements(self.doc.sizes, &mut self.budget);
        let scope = Scope {
            name,
            shape: set.max,
            sum: rep.saturating_mul(set.weight).min(range.sum),
            set: Some(set),
            rep,
        };
        (scope, iterations.min(range.sum))
    }

    /// A list or map literal: its elements evaluated and copied into it.
    fn collection(&self, count: u64, parts: &[Est<'v>]) -> Est<'v> {
        let cost = parts.iter().fold(self.times, |sum, p| {
            sum.saturating_add(p.cost).saturating_add(p.sum)
        });
        let sum = parts
            .iter()
            .fold(self.times, |sum, p| sum.saturating_add(p.sum));
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
        Est {
            cost,
            shape,
            sum: sum.min(self.per(shape.total)),
            path: None,
        }
    }
}

/// A literal index (`[0]`, `['k']`): a path step.
fn literal_key(key: &IdedExpr) -> Option<Key<'_>> {
    match &key.expr {
        Expr::Literal(LiteralValue::Int(i)) => u64::try_from(*i.inner()).ok().map(Key::Index),
        Expr::Literal(LiteralValue::UInt(u)) => Some(Key::Index(*u.inner())),
        Expr::Literal(LiteralValue::String(s)) => Some(Key::Field(s.inner())),
        _ => None,
    }
}

/// A call with no cost model.
fn refused(e: &IdedExpr, name: &str, n: usize) -> Fault {
    let shown = display(name);
    let message = if is_allowed(name) {
        format!("'{shown}' is not allowed with {n} operand(s) here")
    } else {
        format!("function '{shown}' is not allowed in conditions (allowed: {FUNCTIONS})")
    };
    fault(e, message)
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
