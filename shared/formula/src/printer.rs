//! Prints a syntax tree back as formula text that parses to the same tree, with the fewest
//! parentheses the precedence rules allow.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{Expr, Precedence, Step, UnaryOp};
use crate::lexer::is_field_char;
use crate::value::format_number;

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Null => f.write_str("null"),
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Number(n) => f.write_str(&format_number(*n)),
            Expr::Text(text) => write_string(f, text),
            Expr::Array(items) => {
                f.write_char('[')?;
                write_list(f, items)?;
                f.write_char(']')
            }
            Expr::Binding(index) => write!(f, "@{index}"),
            Expr::Variable(name) => write!(f, "${name}"),
            Expr::Path(base, steps) => {
                // A path or number base needs parentheses: `(@0.a).b` is not `@0.a.b` as a
                // tree, and `5.x` would read as a number.
                let bare =
                    base.precedence() == Precedence::Primary && !matches!(**base, Expr::Number(_));
                write_operand(f, base, bare)?;
                steps.iter().try_for_each(|step| write_step(f, step))
            }
            Expr::Unary(UnaryOp::Neg, operand) => {
                f.write_char('-')?;
                write_operand(f, operand, operand.precedence() >= Precedence::Negation)
            }
            Expr::Unary(UnaryOp::Not, operand) => {
                f.write_str("not ")?;
                write_operand(f, operand, operand.precedence() >= Precedence::Not)
            }
            Expr::Binary(op, left, right) => {
                let precedence = op.precedence();
                // Operators associate to the left; comparisons do not chain at all.
                let left_bare = if precedence == Precedence::Comparison {
                    left.precedence() > precedence
                } else {
                    left.precedence() >= precedence
                };
                write_operand(f, left, left_bare)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, right, right.precedence() > precedence)
            }
            Expr::Call(function, args) => {
                write!(f, "{}(", function.name())?;
                write_list(f, args)?;
                f.write_char(')')
            }
        }
    }
}

fn write_operand(f: &mut Formatter<'_>, expr: &Expr, bare: bool) -> fmt::Result {
    if bare {
        write!(f, "{expr}")
    } else {
        write!(f, "({expr})")
    }
}

fn write_list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn write_step(f: &mut Formatter<'_>, step: &Step) -> fmt::Result {
    match step {
        Step::Key(key) if !key.is_empty() && key.chars().all(is_field_char) => {
            write!(f, ".{key}")
        }
        Step::Key(key) => {
            f.write_char('[')?;
            write_string(f, key)?;
            f.write_char(']')
        }
        Step::Index(index) => write!(f, "[{index}]"),
    }
}

fn write_string(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use crate::parser::parse;

    fn canonical(src: &str) -> String {
        parse(src).unwrap().expr().to_string()
    }

    #[test]
    fn prints_with_minimal_parentheses() {
        assert_eq!(canonical("1+2*3"), "1 + 2 * 3");
        assert_eq!(canonical("(1+2)*3"), "(1 + 2) * 3");
        assert_eq!(canonical("1-(2-3)"), "1 - (2 - 3)");
        assert_eq!(canonical("(1-2)-3"), "1 - 2 - 3");
        assert_eq!(canonical("!(@0 = 1) && @1"), "not @0 = 1 and @1");
        assert_eq!(canonical("not (@0 or @1)"), "not (@0 or @1)");
        assert_eq!(canonical("1 + 2 & 3 = 3"), "1 + 2 & 3 = 3");
    }

    #[test]
    fn prints_paths_keys_and_strings() {
        assert_eq!(
            canonical(r#"@0.items[0]["a b"].x[-1]"#),
            r#"@0.items[0]["a b"].x[-1]"#
        );
        assert_eq!(canonical(r#"(@0.a).b"#), "(@0.a).b");
        assert_eq!(canonical("(5).x"), "(5).x");
        assert_eq!(canonical(r#""q\"\n\u0001""#), r#""q\"\n\u0001""#);
        assert_eq!(canonical("sum($x, [1, 2])"), "SUM($x, [1, 2])");
        assert_eq!(canonical("-(-1) - -2"), "--1 - -2");
        assert_eq!(canonical("(1 < 2) = true"), "(1 < 2) = true");
    }
}
