//! How much of an error an answer carries. An answer travels in HTTP/2 headers, which a
//! client bounds (16 KiB by default), and its parts may echo what the caller sent, so each
//! part is cut to fit and long lists are cut short with a count of the rest.

use tonic_types::{FieldViolation, PreconditionViolation};

use super::ApiError;

/// The most violations one answer lists; a request with more is told how many were left out.
pub const MAX_REPORTED_VIOLATIONS: usize = 20;
/// The longest text of one part of an answer (a message, a field, a description, an id), in
/// bytes.
pub const MAX_ANSWER_TEXT: usize = 1024;

/// What an answer can carry of a caller's value: short enough for headers.
pub(super) const MAX_ECHOED_ID: usize = 128;

/// `text` cut to at most `max` bytes on a character boundary, marked with `…` when cut.
pub fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn bounded_violations(violations: &[FieldViolation]) -> Vec<FieldViolation> {
    let mut bounded: Vec<FieldViolation> = violations
        .iter()
        .take(MAX_REPORTED_VIOLATIONS)
        .map(|v| {
            FieldViolation::new(
                truncated(&v.field, MAX_ECHOED_ID),
                truncated(&v.description, MAX_ANSWER_TEXT / 4),
            )
        })
        .collect();
    if violations.len() > MAX_REPORTED_VIOLATIONS {
        bounded.push(FieldViolation::new(
            "",
            format!(
                "and {} more violations",
                violations.len() - MAX_REPORTED_VIOLATIONS
            ),
        ));
    }
    bounded
}

fn bounded_preconditions(violations: &[PreconditionViolation]) -> Vec<PreconditionViolation> {
    violations
        .iter()
        .take(MAX_REPORTED_VIOLATIONS)
        .map(|v| {
            PreconditionViolation::new(
                truncated(&v.r#type, MAX_ECHOED_ID),
                truncated(&v.subject, MAX_ECHOED_ID),
                truncated(&v.description, MAX_ANSWER_TEXT / 4),
            )
        })
        .collect()
}

/// The same error with every text it carries cut to fit in an answer's headers.
pub(super) fn bounded(error: ApiError) -> ApiError {
    match error {
        ApiError::InvalidArgument(violations) => {
            ApiError::InvalidArgument(bounded_violations(&violations))
        }
        ApiError::NotFound { resource, id } => ApiError::NotFound {
            resource,
            id: truncated(&id, MAX_ECHOED_ID),
        },
        ApiError::AlreadyExists { resource, id } => ApiError::AlreadyExists {
            resource,
            id: truncated(&id, MAX_ECHOED_ID),
        },
        ApiError::FailedPrecondition(violations) => {
            ApiError::FailedPrecondition(bounded_preconditions(&violations))
        }
        other => other,
    }
}
