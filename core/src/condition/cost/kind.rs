//! The comprehensions cel's macros write, recognised by shape: each kind has its own cost.

use cel::common::ast::{ComprehensionExpr, Expr, IdedExpr, LiteralValue, operators};

/// The comprehensions the standard macros write; nothing else reaches the tree from source.
pub(super) enum Kind {
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
    pub(super) fn of(c: &ComprehensionExpr) -> Option<Kind> {
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

pub(super) fn is_ident(e: &IdedExpr, name: &str) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == name)
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
