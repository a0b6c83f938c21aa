//! Equality and ordering between scalars, including text that stands for a number, boolean or
//! date (as CSV cells and many JSON APIs deliver them).

use std::cmp::Ordering;

use crate::coerce::{parse_bool, parse_date, parse_number};
use crate::error::EvalError;
use crate::value::Scalar;

/// `=`: never an error. Text equals a number, boolean or date when it reads as that value;
/// two texts compare exactly (so `"007" != "7"`); null equals only null.
pub(crate) fn equals(a: &Scalar, b: &Scalar) -> bool {
    use Scalar as S;
    match (a, b) {
        (S::Null, S::Null) => true,
        (S::Bool(x), S::Bool(y)) => x == y,
        (S::Number(x), S::Number(y)) => x == y,
        (S::Text(x), S::Text(y)) => x == y,
        (S::Date(x), S::Date(y)) => x == y,
        (S::Object(x), S::Object(y)) => x == y,
        (S::Number(n), S::Text(t)) | (S::Text(t), S::Number(n)) => parse_number(t) == Some(*n),
        (S::Bool(b), S::Text(t)) | (S::Text(t), S::Bool(b)) => parse_bool(t) == Some(*b),
        (S::Date(d), S::Text(t)) | (S::Text(t), S::Date(d)) => parse_date(t) == Some(*d),
        _ => false,
    }
}

/// `<`, `<=`, `>`, `>=`: `None` when either side is null (the comparison is then false).
/// Two texts compare as numbers when both read as numbers, otherwise as text; a number or
/// date against text that does not read as one is an error.
pub(crate) fn order(a: &Scalar, b: &Scalar, context: &str) -> Result<Option<Ordering>, EvalError> {
    use Scalar as S;
    let ordering = match (a, b) {
        (S::Null, _) | (_, S::Null) => return Ok(None),
        (S::Bool(x), S::Bool(y)) => x.cmp(y),
        (S::Number(x), S::Number(y)) => x.total_cmp(y),
        (S::Date(x), S::Date(y)) => x.cmp(y),
        (S::Text(x), S::Text(y)) => match (parse_number(x), parse_number(y)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => x.cmp(y),
        },
        (S::Number(x), S::Text(t)) => x.total_cmp(&text_as(parse_number(t), a, b, context)?),
        (S::Text(t), S::Number(y)) => text_as(parse_number(t), b, a, context)?.total_cmp(y),
        (S::Date(x), S::Text(t)) => x.cmp(&text_as(parse_date(t), a, b, context)?),
        (S::Text(t), S::Date(y)) => text_as(parse_date(t), b, a, context)?.cmp(y),
        _ => return Err(cannot_compare(a, b, context)),
    };
    Ok(Some(ordering))
}

fn text_as<T>(
    parsed: Option<T>,
    typed: &Scalar,
    text: &Scalar,
    context: &str,
) -> Result<T, EvalError> {
    parsed.ok_or_else(|| cannot_compare(typed, text, context))
}

fn cannot_compare(a: &Scalar, b: &Scalar, context: &str) -> EvalError {
    EvalError::new(format!(
        "{context}: cannot compare {} with {}",
        a.describe(),
        b.describe()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Scalar {
        Scalar::Text(s.to_string())
    }

    #[test]
    fn equality_reads_text_as_the_other_side() {
        assert!(equals(&Scalar::Number(7.0), &text("7")));
        assert!(equals(&text("7.0"), &Scalar::Number(7.0)));
        assert!(!equals(&text("007"), &text("7")));
        assert!(equals(&Scalar::Bool(true), &text("True")));
        assert!(!equals(&Scalar::Number(1.0), &text("x")));
        assert!(equals(&Scalar::Null, &Scalar::Null));
        assert!(!equals(&Scalar::Null, &text("")));
    }

    #[test]
    fn ordering_numbers_text_and_nulls() {
        let less = Some(Ordering::Less);
        assert_eq!(order(&text("9"), &text("10"), "<").unwrap(), less);
        assert_eq!(
            order(&text("b"), &text("a"), "<").unwrap(),
            Some(Ordering::Greater)
        );
        assert_eq!(order(&Scalar::Number(9.0), &text("10"), "<").unwrap(), less);
        assert_eq!(
            order(&Scalar::Null, &Scalar::Number(1.0), "<").unwrap(),
            None
        );
        assert_eq!(
            order(&Scalar::Number(1.0), &text("abc"), "operator '<'")
                .unwrap_err()
                .message(),
            "operator '<': cannot compare number 1 with text \"abc\""
        );
        assert!(order(&Scalar::Bool(true), &Scalar::Number(1.0), "<").is_err());
    }
}
