//! The built-in functions: their names and argument counts (checked at parse time), the
//! literal arguments that can be checked at parse time, and dispatch to the implementations.

mod aggregate;
mod dates;
mod lists;
mod math;
mod text;

use chrono::{DateTime, Utc};

use crate::budget::Meter;
use crate::error::EvalError;
use crate::value::Value;

pub(crate) use dates::{check_pattern, parse_unit};
pub(crate) use lists::parse_order;
pub(crate) use text::joined;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Sum,
    Average,
    Count,
    Min,
    Max,
    SumBy,
    CountBy,
    Round,
    Abs,
    Number,
    If,
    Concat,
    Join,
    Len,
    Upper,
    Lower,
    Trim,
    Select,
    Group,
    Sort,
    Date,
    DateValue,
    Today,
    Now,
    Year,
    Month,
    Day,
    DateAdd,
    DateDiff,
    FormatDate,
}

/// Upper bound on arguments for the functions that take any number of them.
const VARIADIC: usize = usize::MAX;

/// Every function, in the order the documentation lists them.
const ALL: [Function; 30] = [
    Function::Sum,
    Function::Average,
    Function::Count,
    Function::Min,
    Function::Max,
    Function::SumBy,
    Function::CountBy,
    Function::Round,
    Function::Abs,
    Function::Number,
    Function::If,
    Function::Concat,
    Function::Join,
    Function::Len,
    Function::Upper,
    Function::Lower,
    Function::Trim,
    Function::Select,
    Function::Group,
    Function::Sort,
    Function::Date,
    Function::DateValue,
    Function::Today,
    Function::Now,
    Function::Year,
    Function::Month,
    Function::Day,
    Function::DateAdd,
    Function::DateDiff,
    Function::FormatDate,
];

impl Function {
    #[cfg(test)]
    pub(crate) fn all() -> impl Iterator<Item = Function> {
        ALL.into_iter()
    }

    /// Finds a function by name, ignoring case.
    pub(crate) fn lookup(name: &str) -> Option<Function> {
        ALL.into_iter()
            .find(|function| function.name().eq_ignore_ascii_case(name))
    }

    /// Canonical (upper-case) name, fewest and most arguments.
    fn spec(self) -> (&'static str, usize, usize) {
        use Function as F;
        match self {
            F::Sum => ("SUM", 1, VARIADIC),
            F::Average => ("AVERAGE", 1, VARIADIC),
            F::Count => ("COUNT", 1, VARIADIC),
            F::Min => ("MIN", 1, VARIADIC),
            F::Max => ("MAX", 1, VARIADIC),
            F::SumBy => ("SUMBY", 2, 2),
            F::CountBy => ("COUNTBY", 1, 1),
            F::Round => ("ROUND", 1, 2),
            F::Abs => ("ABS", 1, 1),
            F::Number => ("NUMBER", 1, 1),
            F::If => ("IF", 3, 3),
            F::Concat => ("CONCAT", 1, VARIADIC),
            F::Join => ("JOIN", 1, 2),
            F::Len => ("LEN", 1, 1),
            F::Upper => ("UPPER", 1, 1),
            F::Lower => ("LOWER", 1, 1),
            F::Trim => ("TRIM", 1, 1),
            F::Select => ("SELECT", 2, 2),
            F::Group => ("GROUP", 1, 1),
            F::Sort => ("SORT", 1, 2),
            F::Date => ("DATE", 1, 2),
            F::DateValue => ("DATEVALUE", 1, 2),
            F::Today => ("TODAY", 0, 0),
            F::Now => ("NOW", 0, 0),
            F::Year => ("YEAR", 1, 1),
            F::Month => ("MONTH", 1, 1),
            F::Day => ("DAY", 1, 1),
            F::DateAdd => ("DATEADD", 3, 3),
            F::DateDiff => ("DATEDIFF", 3, 3),
            F::FormatDate => ("FORMATDATE", 2, 2),
        }
    }

    /// The canonical (upper-case) name.
    pub(crate) fn name(self) -> &'static str {
        self.spec().0
    }

    /// Fewest and most arguments (`usize::MAX` for any number).
    pub(crate) fn arity(self) -> (usize, usize) {
        let (_, min, max) = self.spec();
        (min, max)
    }

    /// The arity check's message, or `None` when `count` arguments are accepted.
    pub(crate) fn arity_error(self, count: usize) -> Option<String> {
        let (min, max) = self.arity();
        if (min..=max).contains(&count) {
            return None;
        }
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        let expected = if min == max {
            format!("{min} {}", plural(min))
        } else if max == VARIADIC {
            format!("at least {min} {}", plural(min))
        } else {
            format!("{min} to {max} arguments")
        };
        Some(format!("{} expects {expected}, got {count}", self.name()))
    }

    /// Checks a string literal passed as argument `index`, for the arguments whose valid
    /// values are known without data (sort orders, date units, date patterns), so a typo is
    /// caught when the formula is saved rather than when it is rendered.
    pub(crate) fn check_literal(self, index: usize, text: &str) -> Result<(), String> {
        let checked = match (self, index) {
            (Function::Sort, 1) => parse_order(text).map(drop),
            (Function::DateAdd | Function::DateDiff, 2) => parse_unit(text).map(drop),
            (Function::Date | Function::DateValue | Function::FormatDate, 1) => check_pattern(text),
            _ => Ok(()),
        };
        checked.map_err(|message| format!("{}: {message}", self.name()))
    }
}

/// Applies `function` to its evaluated arguments. `IF` arrives here only when its condition
/// has several values; the evaluator handles the single-condition case lazily. Reading the
/// arguments was counted by the evaluator; what a function builds is counted here.
pub(crate) fn call(
    function: Function,
    args: &[Value],
    now: DateTime<Utc>,
    meter: &Meter,
) -> Result<Value, EvalError> {
    use Function as F;
    let m = meter;
    match (function, args) {
        (F::Sum, values) => aggregate::sum(values),
        (F::Average, values) => aggregate::average(values),
        (F::Count, values) => Ok(aggregate::count(values)),
        (F::Min, values) => aggregate::extreme(values, "MIN", std::cmp::Ordering::Less),
        (F::Max, values) => aggregate::extreme(values, "MAX", std::cmp::Ordering::Greater),
        (F::SumBy, [values, keys]) => aggregate::sum_by(values, keys, m),
        (F::CountBy, [keys]) => aggregate::count_by(keys, m),
        (F::Round, [x]) => math::round(x, None, m),
        (F::Round, [x, digits]) => math::round(x, Some(digits), m),
        (F::Abs, [x]) => math::abs(x, m),
        (F::Number, [x]) => math::number_of(x, m),
        (F::If, [condition, then, otherwise]) => lists::choose(condition, then, otherwise, m),
        (F::Concat, values) => text::concat(values, m),
        (F::Join, [values]) => text::join(values, None, m),
        (F::Join, [values, separator]) => text::join(values, Some(separator), m),
        (F::Len, [x]) => text::len(x, m),
        (F::Upper, [x]) => text::map_text(x, "UPPER", m, |s| s.to_uppercase()),
        (F::Lower, [x]) => text::map_text(x, "LOWER", m, |s| s.to_lowercase()),
        (F::Trim, [x]) => text::map_text(x, "TRIM", m, |s| s.trim().to_string()),
        (F::Select, [values, condition]) => lists::select(values, condition, m),
        (F::Group, [values]) => lists::group(values, m),
        (F::Sort, [values]) => lists::sort(values, None, m),
        (F::Sort, [values, order]) => lists::sort(values, Some(order), m),
        (F::Date, [x]) => dates::date(x, None, m),
        (F::Date, [x, pattern]) => dates::date(x, Some(pattern), m),
        (F::DateValue, [x]) => dates::date_value(x, None, m),
        (F::DateValue, [x, pattern]) => dates::date_value(x, Some(pattern), m),
        (F::Today, []) => Ok(dates::today(now)),
        (F::Now, []) => Ok(Value::from(crate::value::Scalar::Date(now))),
        (F::Year, [x]) => dates::part(x, "YEAR", m, |d| chrono::Datelike::year(d).into()),
        (F::Month, [x]) => dates::part(x, "MONTH", m, |d| chrono::Datelike::month(d).into()),
        (F::Day, [x]) => dates::part(x, "DAY", m, |d| chrono::Datelike::day(d).into()),
        (F::DateAdd, [date, amount, unit]) => dates::date_add(date, amount, unit, m),
        (F::DateDiff, [start, end, unit]) => dates::date_diff(start, end, unit, m),
        (F::FormatDate, [date, pattern]) => dates::format_date(date, pattern, m),
        // The parser checks argument counts, so a formula never gets here.
        (function, args) => Err(EvalError::new(
            function
                .arity_error(args.len())
                .unwrap_or_else(|| format!("{}: wrong arguments", function.name())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for function in Function::all() {
            assert_eq!(Function::lookup(function.name()), Some(function));
            assert_eq!(
                Function::lookup(&function.name().to_lowercase()),
                Some(function)
            );
        }
        let mut names: Vec<_> = Function::all().map(Function::name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(Function::lookup("NOPE"), None);
    }

    #[test]
    fn arity_messages() {
        assert_eq!(
            Function::Sum.arity_error(0).unwrap(),
            "SUM expects at least 1 argument, got 0"
        );
        assert_eq!(
            Function::If.arity_error(2).unwrap(),
            "IF expects 3 arguments, got 2"
        );
        assert_eq!(
            Function::Round.arity_error(3).unwrap(),
            "ROUND expects 1 to 2 arguments, got 3"
        );
        assert_eq!(
            Function::Now.arity_error(1).unwrap(),
            "NOW expects 0 arguments, got 1"
        );
        assert_eq!(Function::Concat.arity_error(9), None);
    }
}
