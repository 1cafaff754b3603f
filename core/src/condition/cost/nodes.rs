//! Node sets: what a path (`predicate.a.b`, `r.Vulnerabilities`, `x[0]`) may denote. At a
//! check they are the statement's actual JSON nodes; at compile, or once the walk has spent
//! its budget, only the document's bounds. Every set is an antichain of the JSON tree (it
//! starts from one root, and fields, indexes and elements of distinct, disjoint nodes are
//! distinct and disjoint), so the weights of its nodes add up to at most the document's.

use alloc::rc::Rc;
use alloc::vec::Vec;

use serde_json::Value;

use super::Sizes;

/// One node: a JSON value, or a map key (what iterating a map binds).
#[derive(Debug, Clone, Copy)]
pub(super) enum Node<'v> {
    Value(&'v Value),
    Key(&'v str),
}

/// A set of nodes with its bounds: the max of each measure and the sums that containment
/// bounds.
#[derive(Debug, Clone)]
pub(super) struct Set<'v> {
    /// `None`: any antichain of the document (bounds only).
    pub nodes: Option<Rc<[Node<'v>]>>,
    pub max: Sizes,
    /// The longest top-level list or map (what a comprehension iterates).
    pub top: u64,
    /// Σ of the weights.
    pub weight: u64,
    /// Σ of the top-level lengths.
    pub tops: u64,
}

/// Node visits left to the walk: measuring is a pass over each set's subtrees, so a
/// condition with many paths on a large statement falls back to the document's bounds.
/// Single nodes measured are remembered: the same path written twice is measured once.
pub(crate) struct Budget<'v> {
    left: u64,
    memo: Vec<(&'v Value, Sizes, u64)>,
}

impl<'v> Budget<'v> {
    pub fn new(left: u64) -> Budget<'v> {
        Budget {
            left,
            memo: Vec::new(),
        }
    }

    fn spend(&mut self) -> Option<()> {
        self.left = self.left.checked_sub(1)?;
        Some(())
    }

    /// A single node's bounds, measured once.
    fn single(&mut self, node: Node<'v>) -> Option<(Sizes, u64)> {
        let Node::Value(value) = node else {
            return measure(node, self);
        };
        if let Some((_, sizes, top)) = self.memo.iter().find(|m| core::ptr::eq(m.0, value)) {
            return Some((*sizes, *top));
        }
        let (sizes, top) = measure(node, self)?;
        if self.memo.len() < 256 {
            self.memo.push((value, sizes, top));
        }
        Some((sizes, top))
    }
}

impl<'v> Set<'v> {
    /// Any antichain of a document whose values are bounded by `doc` (its `total` the
    /// document's weight).
    pub fn whole(doc: Sizes) -> Set<'v> {
        Set {
            nodes: None,
            max: doc,
            top: doc.len,
            weight: doc.total,
            tops: doc.total,
        }
    }

    /// A variable: bounded by the document it is (most of), without a pass over it.
    pub fn root(value: &'v Value, doc: Sizes) -> Set<'v> {
        Set {
            nodes: Some([Node::Value(value)].into()),
            ..Set::whole(doc)
        }
    }

    pub fn of(nodes: Vec<Node<'v>>, doc: Sizes, budget: &mut Budget<'v>) -> Set<'v> {
        let mut set = Set {
            nodes: None,
            max: Sizes::default(),
            top: 0,
            weight: 0,
            tops: 0,
        };
        for node in &nodes {
            let measured = match nodes.as_slice() {
                [one] => budget.single(*one),
                _ => measure(*node, budget),
            };
            let Some((sizes, top)) = measured else {
                return Set::whole(doc);
            };
            set.max = super::max(set.max, sizes);
            set.top = set.top.max(top);
            set.weight = set.weight.saturating_add(sizes.total);
            set.tops = set.tops.saturating_add(top);
        }
        set.nodes = Some(nodes.into());
        set
    }

    /// The nodes a path step reaches from these (`None` keeps bounds only).
    pub fn step(&self, key: Key<'_>, doc: Sizes, budget: &mut Budget<'v>) -> Set<'v> {
        let Some(nodes) = &self.nodes else {
            return Set::whole(doc);
        };
        let next = nodes.iter().filter_map(|n| key.of(*n)).collect();
        Set::of(next, doc, budget)
    }

    /// The elements (lists) and keys (maps) of these nodes: what iterating binds.
    pub fn elements(&self, doc: Sizes, budget: &mut Budget<'v>) -> Set<'v> {
        let Some(nodes) = &self.nodes else {
            return Set::whole(doc);
        };
        let mut next = Vec::new();
        for node in nodes.iter() {
            match node {
                Node::Value(Value::Array(items)) => next.extend(items.iter().map(Node::Value)),
                Node::Value(Value::Object(map)) => {
                    next.extend(map.keys().map(|k| Node::Key(k.as_str())));
                }
                _ => {}
            }
        }
        Set::of(next, doc, budget)
    }
}

/// A path step: a field (`.f`, `['f']`) or a list index (`[0]`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Key<'k> {
    Field(&'k str),
    Index(u64),
}

impl Key<'_> {
    fn of<'v>(self, node: Node<'v>) -> Option<Node<'v>> {
        match (self, node) {
            (Key::Field(f), Node::Value(Value::Object(map))) => map.get(f).map(Node::Value),
            (Key::Index(i), Node::Value(Value::Array(items))) => usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .map(Node::Value),
            _ => None,
        }
    }
}

/// A node's bounds (as `Bindings` measures the statement) and top-level length; `None` once
/// the budget is spent.
fn measure(node: Node<'_>, budget: &mut Budget<'_>) -> Option<(Sizes, u64)> {
    let mut sizes = Sizes::default();
    match node {
        Node::Key(key) => {
            budget.spend()?;
            sizes.total = 1;
            string(key, &mut sizes);
            Some((sizes, 0))
        }
        Node::Value(value) => {
            walk(value, &mut sizes, budget)?;
            let top = match value {
                Value::Array(items) => items.len(),
                Value::Object(map) => map.len(),
                _ => 0,
            };
            Some((sizes, super::len(top)))
        }
    }
}

/// Bounds of a value: longest list or map, longest string or key, weight (nodes, and bytes
/// in 16s). Recursion is bounded by serde_json's 128 levels.
pub(crate) fn walk(value: &Value, sizes: &mut Sizes, budget: &mut Budget<'_>) -> Option<()> {
    budget.spend()?;
    sizes.total = sizes.total.saturating_add(1);
    match value {
        Value::String(s) => string(s, sizes),
        Value::Array(items) => {
            sizes.len = sizes.len.max(super::len(items.len()));
            for item in items {
                walk(item, sizes, budget)?;
            }
        }
        Value::Object(entries) => {
            sizes.len = sizes.len.max(super::len(entries.len()));
            for (key, item) in entries {
                sizes.total = sizes.total.saturating_add(1);
                string(key, sizes);
                walk(item, sizes, budget)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Some(())
}

fn string(s: &str, sizes: &mut Sizes) {
    let bytes = super::len(s.len());
    sizes.bytes = sizes.bytes.max(bytes);
    sizes.total = sizes.total.saturating_add(bytes / 16);
}
