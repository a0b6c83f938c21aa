//! Reading a scalar as the type an operation needs. Data often carries numbers, booleans and
//! dates as text (CSV always does), so text is converted when it reads cleanly; anything else
//! is an error that names the operation and the value.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::error::EvalError;
use crate::value::Scalar;

/// `{context}: expected {expected}, got {value}`.
pub(crate) fn mismatch(context: &str, expected: &str, value: &Scalar) -> EvalError {
    EvalError::new(format!(
        "{context}: expected {expected}, got {}",
        value.describe()
    ))
}

/// A number, or `None` for null and blank text.
pub(crate) fn number(value: &Scalar, context: &str) -> Result<Option<f64>, EvalError> {
    match value {
        Scalar::Null => Ok(None),
        Scalar::Number(n) => Ok(Some(*n)),
        Scalar::Text(text) if text.trim().is_empty() => Ok(None),
        Scalar::Text(text) => match parse_number(text) {
            Some(n) => Ok(Some(n)),
            None => Err(mismatch(context, "a number", value)),
        },
        _ => Err(mismatch(context, "a number", value)),
    }
}

/// Decimal text such as `12`, `-3.5`, ` 1e3 `; not `inf`, `NaN`, or anything non-finite.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Truth for conditions: null and blank text are false, numbers are true unless zero, text
/// must read `true` or `false` (any case).
pub(crate) fn truth(value: &Scalar, context: &str) -> Result<bool, EvalError> {
    match value {
        Scalar::Null => Ok(false),
        Scalar::Bool(b) => Ok(*b),
        Scalar::Number(n) => Ok(*n != 0.0),
        Scalar::Text(text) if text.trim().is_empty() => Ok(false),
        Scalar::Text(text) => {
            parse_bool(text).ok_or_else(|| mismatch(context, "true or false", value))
        }
        _ => Err(mismatch(context, "true or false", value)),
    }
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A date, or `None` for null and blank text; text must be in one of [`parse_date`]'s forms.
pub(crate) fn date(value: &Scalar, context: &str) -> Result<Option<DateTime<Utc>>, EvalError> {
    match value {
        Scalar::Null => Ok(None),
        Scalar::Date(date) => Ok(Some(*date)),
        Scalar::Text(text) if text.trim().is_empty() => Ok(None),
        Scalar::Text(text) => match parse_date(text) {
            Some(date) => Ok(Some(date)),
            None => Err(mismatch(context, "a date", value)),
        },
        _ => Err(mismatch(context, "a date", value)),
    }
}

/// ISO 8601 text: RFC 3339 with an offset, or a date and time without one (read as UTC),
/// with `T` or a space between them, or a date alone (midnight UTC).
pub(crate) fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.to_utc());
    }
    if let Ok(date) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(date.to_utc());
    }
    const LOCAL: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    if let Some(date) = LOCAL
        .iter()
        .find_map(|pattern| NaiveDateTime::parse_from_str(text, pattern).ok())
    {
        return Some(date.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|day| day.and_time(NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn text(s: &str) -> Scalar {
        Scalar::Text(s.to_string())
    }

    #[test]
    fn numbers_from_text() {
        assert_eq!(number(&text(" 12.5 "), "t").unwrap(), Some(12.5));
        assert_eq!(number(&text("-1e3"), "t").unwrap(), Some(-1000.0));
        assert_eq!(number(&text(""), "t").unwrap(), None);
        assert_eq!(number(&Scalar::Null, "t").unwrap(), None);
        for bad in ["abc", "inf", "NaN", "-infinity", "1e999", "12abc"] {
            assert_eq!(
                number(&text(bad), "SUM").unwrap_err().message(),
                format!("SUM: expected a number, got text {bad:?}")
            );
        }
        assert_eq!(
            number(&Scalar::Bool(true), "+").unwrap_err().message(),
            "+: expected a number, got boolean true"
        );
    }

    #[test]
    fn truth_of_values() {
        assert!(truth(&text("TRUE"), "t").unwrap());
        assert!(!truth(&text("false"), "t").unwrap());
        assert!(!truth(&Scalar::Null, "t").unwrap());
        assert!(truth(&Scalar::Number(2.0), "t").unwrap());
        assert_eq!(
            truth(&text("yes"), "IF").unwrap_err().message(),
            "IF: expected true or false, got text \"yes\""
        );
    }

    #[test]
    fn dates_from_text() {
        let march = |h, m, s| Utc.with_ymd_and_hms(2024, 3, 5, h, m, s).unwrap();
        assert_eq!(parse_date("2024-03-05"), Some(march(0, 0, 0)));
        assert_eq!(parse_date("2024-03-05T10:20:30Z"), Some(march(10, 20, 30)));
        assert_eq!(
            parse_date("2024-03-05T12:20:30+02:00"),
            Some(march(10, 20, 30))
        );
        assert_eq!(parse_date("2024-03-05 10:20:30"), Some(march(10, 20, 30)));
        assert_eq!(parse_date("2024-03-05T10:20"), Some(march(10, 20, 0)));
        assert_eq!(parse_date("05/03/2024"), None);
        assert_eq!(
            date(&text("soon"), "YEAR").unwrap_err().message(),
            "YEAR: expected a date, got text \"soon\""
        );
    }
}
