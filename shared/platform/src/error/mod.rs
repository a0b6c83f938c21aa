//! The error policy, in one place.
//!
//! - Handlers and domain code return [`ApiError`], a small closed set of outcomes. Each maps to
//!   one gRPC code and carries `google.rpc` details: `BadRequest` field violations for invalid
//!   input, `PreconditionFailure` for a state that forbids the call, `ErrorInfo` with a stable
//!   reason everywhere, `ResourceInfo` for a missing resource, `RetryInfo` where waiting helps.
//! - Stores return [`StoreError`]: Diesel's errors translated once, at the store boundary, by
//!   SQLSTATE code into what the domain cares about (a unique violation is "already exists",
//!   a serialization failure is "retry"); [`StoreError::into_api`] names the resource and id
//!   of the answer (`store`).
//! - Every text an answer carries is bounded to fit in HTTP/2 headers (`bounds`), and
//!   [`Violations`] collects all of a request's invalid fields (`violations`).
//! - `Internal` is only for our own faults. Its cause is logged once, where it is turned into
//!   a status, and the caller sees an opaque message: never a secret, a query or a stack.

mod bounds;
mod store;
mod violations;

#[cfg(test)]
mod tests;

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

pub use bounds::{MAX_ANSWER_TEXT, MAX_REPORTED_VIOLATIONS, truncated};
pub use store::{StoreError, StoreResultExt, codes, sqlstate};
pub use violations::Violations;

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

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let error = bounds::bounded(error);
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
