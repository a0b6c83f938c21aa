//! The syntax tree a formula parses into. Positions are not kept: errors with positions are
//! found while parsing, and evaluation errors are about data, not places in the text.

use crate::functions::Function;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Null,
    Bool(bool),
    /// Always finite and not negative: `-1` is `Unary(Neg, Number(1))`.
    Number(f64),
    Text(String),
    /// `[a, b, …]`: the elements' values, concatenated.
    Array(Vec<Expr>),
    /// `@n`: all of binding `n`'s data.
    Binding(usize),
    /// `$name`.
    Variable(String),
    /// A base followed by one or more steps: `@0.items[0].name`.
    Path(Box<Expr>, Vec<Step>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Call(Function, Vec<Expr>),
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// `.name` or `["name"]`: the member of that name of each object.
    Key(String),
    /// `[n]`: the n-th value selected so far (negative counts from the end).
    Index(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Binding strength, loosest first; the parser and the printer share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Precedence {
    Or,
    And,
    Not,
    Comparison,
    Concat,
    Additive,
    Multiplicative,
    Negation,
    Postfix,
    Primary,
}

impl BinaryOp {
    pub(crate) fn precedence(self) -> Precedence {
        match self {
            BinaryOp::Or => Precedence::Or,
            BinaryOp::And => Precedence::And,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => Precedence::Comparison,
            BinaryOp::Concat => Precedence::Concat,
            BinaryOp::Add | BinaryOp::Sub => Precedence::Additive,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => Precedence::Multiplicative,
        }
    }

    /// The canonical spelling, used by the printer and in error messages.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Concat => "&",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

impl Expr {
    pub(crate) fn precedence(&self) -> Precedence {
        match self {
            Expr::Binary(op, ..) => op.precedence(),
            Expr::Unary(UnaryOp::Not, _) => Precedence::Not,
            Expr::Unary(UnaryOp::Neg, _) => Precedence::Negation,
            Expr::Path(..) => Precedence::Postfix,
            _ => Precedence::Primary,
        }
    }

    /// Calls `visit` on this node and every node below it.
    pub(crate) fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match self {
            Expr::Array(items) | Expr::Call(_, items) => {
                items.iter().for_each(|item| item.walk(visit));
            }
            Expr::Path(base, _) | Expr::Unary(_, base) => base.walk(visit),
            Expr::Binary(_, left, right) => {
                left.walk(visit);
                right.walk(visit);
            }
            Expr::Null
            | Expr::Bool(_)
            | Expr::Number(_)
            | Expr::Text(_)
            | Expr::Binding(_)
            | Expr::Variable(_) => {}
        }
    }
}
