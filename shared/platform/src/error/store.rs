//! The store's errors: Diesel's, translated once at the store boundary into what the domain
//! cares about, and from there into an answer that names the resource.
//!
//! # SQLSTATE codes, and the two that cannot be read
//!
//! PostgreSQL says what went wrong with a SQLSTATE code; its message text is for people and
//! is translated when the server's `lc_messages` is not English. Errors are classified by
//! code. Diesel's `DatabaseErrorInformation` has no code accessor, so the code reaches this
//! module only as diesel-async 0.9's `DatabaseErrorKind`, which its postgres backend
//! (`pg/error_helper.rs`) derives from tokio-postgres's `SqlState` for exactly these:
//!
//! | SQLSTATE | condition                 | `DatabaseErrorKind`     |
//! |----------|---------------------------|-------------------------|
//! | 23505    | `unique_violation`        | `UniqueViolation`       |
//! | 23503    | `foreign_key_violation`   | `ForeignKeyViolation`   |
//! | 23514    | `check_violation`         | `CheckViolation`        |
//! | 23502    | `not_null_violation`      | `NotNullViolation`      |
//! | 23001    | `restrict_violation`      | `RestrictViolation`     |
//! | 23P01    | `exclusion_violation`     | `ExclusionViolation`    |
//! | 40001    | `serialization_failure`   | `SerializationFailure`  |
//! | 25006    | `read_only_sql_transaction` | `ReadOnlyTransaction` |
//!
//! Every other SQLSTATE arrives as `Unknown`, and the code itself is unreachable: it stays
//! in the `tokio_postgres::error::DbError` that diesel-async wraps in a private type
//! (`PostgresDbErrorWrapper`) behind `Box<dyn DatabaseErrorInformation>`, a trait that
//! exposes message, details, hint, table, column, constraint and position, and is not
//! `Any`, so it cannot be downcast. An error with no SQLSTATE at all (the connection
//! dropped, a value that could not be encoded) arrives as `UnableToSendCommand`; diesel-async
//! never reports `ClosedConnection`.
//!
//! Two codes outside the table matter here: `deadlock_detected` (40P01), as retryable as a
//! serialization failure, and `lock_not_available` (55P03), a lock wait that ran out under
//! `lock_timeout`. For these [`sqlstate`] falls back on the primary message of PostgreSQL's
//! untranslated catalog, in this one function only, and is right only while the server
//! speaks English (`lc_messages` = `C` or `en_*`, as in the official images). When diesel
//! exposes the code (diesel-rs/diesel#5232 proposes `DatabaseErrorInformation::sqlstate`),
//! the fallback goes.

use std::fmt::Display;

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind as Kind, Error as DieselError};

use super::{ApiError, ApiResult};

/// The SQLSTATE codes this crate acts on.
pub mod codes {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const RESTRICT_VIOLATION: &str = "23001";
    pub const EXCLUSION_VIOLATION: &str = "23P01";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
}

/// The SQLSTATE of a database error, as far as it can be known (see the module
/// documentation): `None` for errors that are not the server's or whose code is unreachable.
pub fn sqlstate(error: &DieselError) -> Option<&'static str> {
    match error {
        DieselError::DatabaseError(kind, info) => sqlstate_of(kind, info.as_ref()),
        _ => None,
    }
}

fn sqlstate_of(kind: &Kind, info: &dyn DatabaseErrorInformation) -> Option<&'static str> {
    Some(match kind {
        Kind::UniqueViolation => codes::UNIQUE_VIOLATION,
        Kind::ForeignKeyViolation => codes::FOREIGN_KEY_VIOLATION,
        Kind::CheckViolation => codes::CHECK_VIOLATION,
        Kind::NotNullViolation => codes::NOT_NULL_VIOLATION,
        Kind::RestrictViolation => codes::RESTRICT_VIOLATION,
        Kind::ExclusionViolation => codes::EXCLUSION_VIOLATION,
        Kind::SerializationFailure => codes::SERIALIZATION_FAILURE,
        Kind::ReadOnlyTransaction => codes::READ_ONLY_SQL_TRANSACTION,
        // The code is unreachable for these two; see the module documentation.
        Kind::Unknown if info.message() == "deadlock detected" => codes::DEADLOCK_DETECTED,
        Kind::Unknown if info.message() == "canceling statement due to lock timeout" => {
            codes::LOCK_NOT_AVAILABLE
        }
        _ => return None,
    })
}

/// Diesel's errors, as the domain sees them. Stores return this; `?` turns it into an
/// [`ApiError`] with a generic message, or [`StoreError::into_api`] names the resource.
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
    Other(DieselError),
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        let DieselError::DatabaseError(kind, info) = error else {
            return match error {
                DieselError::NotFound => StoreError::NotFound,
                other => StoreError::Other(other),
            };
        };
        let constraint = || info.constraint_name().unwrap_or("unknown").to_owned();
        match sqlstate_of(&kind, info.as_ref()) {
            Some(codes::UNIQUE_VIOLATION) => StoreError::UniqueViolation {
                constraint: constraint(),
            },
            Some(codes::FOREIGN_KEY_VIOLATION) => StoreError::ForeignKeyViolation {
                constraint: constraint(),
            },
            Some(codes::CHECK_VIOLATION) => StoreError::CheckViolation {
                constraint: constraint(),
            },
            Some(codes::SERIALIZATION_FAILURE) => StoreError::SerializationFailure,
            // PostgreSQL ended one of two transactions that waited on each other.
            Some(codes::DEADLOCK_DETECTED) => {
                tracing::warn!(details = ?info.details(), "deadlock detected");
                StoreError::SerializationFailure
            }
            // Someone else holds the lock for too long: unavailable for now, not our fault.
            Some(codes::LOCK_NOT_AVAILABLE) => {
                StoreError::Unavailable("waited too long for a lock".into())
            }
            _ if kind == Kind::ClosedConnection => {
                StoreError::Unavailable(info.message().to_owned())
            }
            _ => StoreError::Other(DieselError::DatabaseError(kind, info)),
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
        error.into_api("resource", "")
    }
}

impl StoreError {
    /// The answer for a failure on the `resource` named `id`: a missing row is that
    /// resource not found, a unique violation is that resource already existing; the rest
    /// as `?` would map it.
    pub fn into_api(self, resource: &'static str, id: impl Display) -> ApiError {
        match self {
            StoreError::NotFound => ApiError::NotFound {
                resource,
                id: id.to_string(),
            },
            // The constraint's name is the schema's business, not the caller's.
            StoreError::UniqueViolation { constraint } => {
                tracing::info!(%constraint, "unique violation");
                ApiError::AlreadyExists {
                    resource,
                    id: id.to_string(),
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

/// Names the resource of a store call's failure: `store::klip(conn, id).await.about("klip", id)?`.
pub trait StoreResultExt<T> {
    /// [`StoreError::into_api`] on the error, if any.
    fn about(self, resource: &'static str, id: impl Display) -> ApiResult<T>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    fn about(self, resource: &'static str, id: impl Display) -> ApiResult<T> {
        self.map_err(|error| error.into_api(resource, id))
    }
}
