//! The error policy, in one place.
//!
//! - Handlers and domain code return [`ApiError`], a small closed set of outcomes. Each maps to
//!   one gRPC code and carries `google.rpc` details: `BadRequest` field violations for invalid
//!   input, `PreconditionFailure` for a state that forbids the call, `ErrorInfo` with a stable
//!   reason everywhere, `ResourceInfo` for a missing resource, `RetryInfo` where waiting helps.
//! - Stores return [`StoreError`]: Diesel's errors translated once, at the store boundary,
//!   into what the domain cares about (a unique violation is "already exists", a
//!   serialization failure is "retry").
//! - `Internal` is only for our own faults. Its cause is logged once, where it is turned into
//!   a status, and the caller sees an opaque message: never a secret, a query or a stack.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

/// `ErrorInfo.domain` of every error Trellis returns.
pub const ERROR_DOMAIN: &str = "trellis";

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid argument: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{} not found", name_resource(resource, id))]
    NotFound { resource: &'static str, id: String },
    #[error("{} already exists", name_resource(resource, id))]
    AlreadyExists { resource: &'static str, id: String },
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("failed precondition: {}", describe_preconditions(.0))]
    FailedPrecondition(Vec<PreconditionViolation>),
    /// The resource changed since the caller read it (etag mismatch) or a concurrent
    /// transaction won; reading again and retrying is the remedy.
    #[error("{0}")]
    Aborted(String),
    #[error("{message}")]
    ResourceExhausted {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    pub fn not_found(resource: &'static str, id: impl ToString) -> Self {
        ApiError::NotFound {
            resource,
            id: id.to_string(),
        }
    }

    /// One violated precondition: `kind` is a stable upper-case type such as `ETAG`,
    /// `subject` what it is about, `description` what is wrong.
    pub fn precondition(
        kind: impl Into<String>,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        ApiError::FailedPrecondition(vec![PreconditionViolation::new(kind, subject, description)])
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(error.into())
    }

    pub fn code(&self) -> Code {
        match self {
            ApiError::InvalidArgument(_) => Code::InvalidArgument,
            ApiError::NotFound { .. } => Code::NotFound,
            ApiError::AlreadyExists { .. } => Code::AlreadyExists,
            ApiError::PermissionDenied(_) => Code::PermissionDenied,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::FailedPrecondition(_) => Code::FailedPrecondition,
            ApiError::Aborted(_) => Code::Aborted,
            ApiError::ResourceExhausted { .. } => Code::ResourceExhausted,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::Internal(_) => Code::Internal,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::InvalidArgument(_) => "INVALID_ARGUMENT",
            ApiError::NotFound { .. } => "NOT_FOUND",
            ApiError::AlreadyExists { .. } => "ALREADY_EXISTS",
            ApiError::PermissionDenied(_) => "PERMISSION_DENIED",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::FailedPrecondition(_) => "FAILED_PRECONDITION",
            ApiError::Aborted(_) => "ABORTED",
            ApiError::ResourceExhausted { .. } => "RESOURCE_EXHAUSTED",
            ApiError::Unavailable(_) => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }
}

fn name_resource(resource: &str, id: &str) -> String {
    if id.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource} {id}")
    }
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe_preconditions(violations: &[PreconditionViolation]) -> String {
    violations
        .iter()
        .map(|v| match v.subject.as_str() {
            "" => format!("{}: {}", v.r#type, v.description),
            subject => format!("{}: {} ({subject})", v.r#type, v.description),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The most violations one answer lists; a request with more is told how many were left out.
pub const MAX_REPORTED_VIOLATIONS: usize = 20;
/// The longest text of one part of an answer (a message, a field, a description, an id), in
/// bytes. An answer travels in HTTP/2 headers, which a client bounds (16 KiB by default), and
/// its parts may echo what the caller sent, so each is cut to fit.
pub const MAX_ANSWER_TEXT: usize = 1024;

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

/// What an answer can carry of a caller's value: short enough for headers.
const MAX_ECHOED_ID: usize = 128;

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
fn bounded(error: ApiError) -> ApiError {
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

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let error = bounded(error);
        let mut details = ErrorDetails::new();
        details.set_error_info(error.reason(), ERROR_DOMAIN, []);
        match &error {
            ApiError::InvalidArgument(violations) => {
                details.set_bad_request(violations.clone());
            }
            ApiError::NotFound { resource, id } => {
                details.set_resource_info(*resource, id, "", "not found");
            }
            ApiError::AlreadyExists { resource, id } => {
                details.set_resource_info(*resource, id, "", "already exists");
            }
            ApiError::FailedPrecondition(violations) => {
                details.set_precondition_failure(violations.clone());
            }
            ApiError::ResourceExhausted {
                retry_after: Some(delay),
                ..
            } => {
                details.set_retry_info(Some(*delay));
            }
            _ => {}
        }
        match &error {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
            }
            ApiError::Unavailable(_) => {
                tracing::warn!(code = ?error.code(), %error, "call refused");
            }
            _ => tracing::info!(code = ?error.code(), %error, "call refused"),
        }
        let message = truncated(&error.to_string(), MAX_ANSWER_TEXT);
        Status::with_error_details(error.code(), message, details)
    }
}

/// Collects field violations while validating a request, then fails with all of them.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Adds a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, description: impl Into<String>) {
        if !ok {
            self.add(field, description);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> ApiResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument(self.0))
        }
    }
}

/// Diesel's errors, as the domain sees them. Stores return this; `?` turns it into an
/// [`ApiError`] with a generic message, or a store maps it with context first.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("row not found")]
    NotFound,
    #[error("unique constraint {constraint} violated")]
    UniqueViolation { constraint: String },
    #[error("foreign key {constraint} violated")]
    ForeignKeyViolation { constraint: String },
    #[error("check constraint {constraint} violated")]
    CheckViolation { constraint: String },
    #[error("concurrent transaction conflict")]
    SerializationFailure,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(diesel::result::Error),
}

impl From<diesel::result::Error> for StoreError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match error {
            Error::NotFound => StoreError::NotFound,
            Error::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or("unknown").to_owned();
                match kind {
                    Kind::UniqueViolation => StoreError::UniqueViolation { constraint },
                    Kind::ForeignKeyViolation => StoreError::ForeignKeyViolation { constraint },
                    Kind::CheckViolation => StoreError::CheckViolation { constraint },
                    Kind::SerializationFailure => StoreError::SerializationFailure,
                    // PostgreSQL ended one of two transactions that waited on each other
                    // (SQLSTATE 40P01): as retryable as a serialization failure. Diesel has
                    // no kind for it and diesel-async keeps the SQLSTATE to itself, so the
                    // server's message is what there is to go by.
                    Kind::Unknown if info.message() == "deadlock detected" => {
                        tracing::warn!(details = ?info.details(), "deadlock detected");
                        StoreError::SerializationFailure
                    }
                    Kind::ClosedConnection => StoreError::Unavailable(info.message().to_owned()),
                    other => StoreError::Other(Error::DatabaseError(other, info)),
                }
            }
            other => StoreError::Other(other),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::not_found("resource", ""),
            // The constraint's name is the schema's business, not the caller's.
            StoreError::UniqueViolation { constraint } => {
                tracing::info!(%constraint, "unique violation");
                ApiError::AlreadyExists {
                    resource: "resource",
                    id: String::new(),
                }
            }
            StoreError::SerializationFailure => {
                ApiError::Aborted("a concurrent change won; read again and retry".into())
            }
            StoreError::Unavailable(message) => {
                tracing::warn!(%message, "database unavailable");
                ApiError::Unavailable("the database is unavailable; retry later".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<tonic::Status> for ApiError {
    /// A failed call to another Trellis service: caller mistakes keep their code, the rest is
    /// unavailable or internal.
    fn from(status: tonic::Status) -> Self {
        let message = status.message().to_owned();
        let reason = status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone());
        if reason.as_deref() == Some(crate::wire::REQUEST_UNDECODABLE) {
            return ApiError::Internal(anyhow::anyhow!(
                "a peer could not decode our request: {message}"
            ));
        }
        match status.code() {
            Code::InvalidArgument => ApiError::invalid("", message),
            Code::NotFound => ApiError::not_found("resource", message),
            Code::PermissionDenied => ApiError::PermissionDenied(message),
            Code::Unauthenticated => ApiError::Unauthenticated(message),
            Code::FailedPrecondition => ApiError::precondition("UPSTREAM", "", message),
            Code::Aborted => ApiError::Aborted(message),
            Code::Unavailable | Code::DeadlineExceeded => ApiError::Unavailable(message),
            code => {
                ApiError::Internal(anyhow::anyhow!("upstream call failed: {code:?}: {message}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    /// The bytes an answer's status takes in HTTP/2 headers.
    fn header_bytes(status: &Status) -> usize {
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).expect("headers");
        headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum()
    }

    #[test]
    fn an_answer_echoing_a_huge_value_still_fits_in_headers() {
        let huge = "\u{1F600}".repeat(100_000);
        let cases = [
            ApiError::not_found("embed", &huge),
            ApiError::invalid(huge.clone(), huge.clone()),
            ApiError::precondition(huge.clone(), huge.clone(), huge.clone()),
            ApiError::PermissionDenied(huge.clone()),
        ];
        for error in cases {
            let status = Status::from(error);
            assert!(
                header_bytes(&status) < 8 * 1024,
                "{} bytes",
                header_bytes(&status)
            );
            assert!(status.message().contains('…'), "{}", status.message());
        }
    }

    #[test]
    fn many_violations_are_reported_up_to_a_bound_with_a_count_of_the_rest() {
        let mut violations = Violations::new();
        for i in 0..10_000 {
            violations.add(format!("scopes[{i}]"), "must not contain a NUL byte");
        }
        let status = Status::from(violations.into_result().expect_err("invalid"));
        let details = status.get_error_details();
        let reported = &details.bad_request().expect("BadRequest").field_violations;
        assert_eq!(reported.len(), MAX_REPORTED_VIOLATIONS + 1);
        assert_eq!(
            reported.last().expect("a count").description,
            format!("and {} more violations", 10_000 - MAX_REPORTED_VIOLATIONS)
        );
        assert!(header_bytes(&status) < 8 * 1024);
    }

    #[test]
    fn a_message_names_its_reason_and_no_constraint() {
        let status = Status::from(ApiError::precondition(
            "PLAN_EXECUTED",
            "plan 1",
            "the plan was executed",
        ));
        assert_eq!(
            status.message(),
            "failed precondition: PLAN_EXECUTED: the plan was executed (plan 1)"
        );
        let status = Status::from(ApiError::from(StoreError::UniqueViolation {
            constraint: "klips_account_id_name_key".into(),
        }));
        assert_eq!(status.code(), Code::AlreadyExists);
        assert!(!status.message().contains("klips_"), "{}", status.message());
        let details = status.get_error_details();
        assert!(
            !format!("{details:?}").contains("klips_"),
            "no constraint in the details: {details:?}"
        );
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncated("abc", 3), "abc");
        let cut = truncated("ééééé", 6);
        assert!(cut.len() <= 6 && cut.ends_with('…'), "{cut}");
    }
}
