//! The crate's two error types, one per phase.
//!
//! [`ParseError`] is for text that is not a formula: it carries a position so the editor can
//! point at the problem, and the library service turns it into `INVALID_ARGUMENT` at save.
//! [`EvalError`] is for a valid formula that cannot be computed over the data it was given
//! (missing data, text where a number is needed, mismatched list lengths); it carries only a
//! message, because the cause is in the data rather than at a place in the text, and an
//! [`ErrorKind`] that tells a formula the data does not fit apart from one that ran out of
//! its [`Budget`](crate::Budget) or was cancelled.

/// A formula that could not be parsed, with the position of the problem.
///
/// Displays as `line 1, column 7: expected ')'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// Byte offset into the source where the problem starts.
    pub offset: usize,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes) from the start of the line.
    pub column: usize,
    /// What is wrong, without the position.
    pub message: String,
}

impl ParseError {
    /// Builds an error at `offset` in `src`, working out the line and column.
    pub(crate) fn at(src: &str, offset: usize, message: impl Into<String>) -> Self {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &src[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        ParseError {
            offset,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message: message.into(),
        }
    }
}

/// A formula that could not be evaluated over the given data.
///
/// The message names the operation and the offending value, e.g.
/// `SUM: expected a number, got text "abc"` or `binding @2 has no data yet`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    message: String,
    kind: ErrorKind,
}

/// Why an evaluation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The formula does not fit the data: missing data, text where a number is needed, …
    Data,
    /// The formula needed more steps than its budget allows.
    Steps,
    /// The formula's values would take more bytes than its budget allows.
    Bytes,
    /// The evaluation's caller cancelled it.
    Cancelled,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self::of_kind(ErrorKind::Data, message)
    }

    pub(crate) fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
            kind,
        }
    }

    /// The human-readable description of what went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_characters() {
        let error = ParseError::at("1 +\n  é )", 8, "unexpected ')'");
        assert_eq!((error.line, error.column), (2, 4));
        assert_eq!(error.to_string(), "line 2, column 4: unexpected ')'");
    }

    #[test]
    fn position_inside_a_character_moves_back_to_its_start() {
        let error = ParseError::at("é", 1, "x");
        assert_eq!((error.offset, error.column), (0, 1));
    }

    #[test]
    fn position_past_the_end_is_the_end() {
        let error = ParseError::at("ab", 10, "x");
        assert_eq!((error.offset, error.column), (2, 3));
    }
}
