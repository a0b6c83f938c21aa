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
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    #[error("{resource} {id} already exists")]
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
        .map(|v| format!("{} ({})", v.description, v.subject))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
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
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
            }
            _ => {}
        }
        Status::with_error_details(error.code(), error.to_string(), details)
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
            StoreError::UniqueViolation { constraint } => ApiError::AlreadyExists {
                resource: "resource",
                id: constraint,
            },
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
