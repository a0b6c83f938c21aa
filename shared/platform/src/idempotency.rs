//! Request ids: a mutating call that carries a `request_id` is safe to retry.
//!
//! Inside the transaction that makes a change, a handler first calls [`replay`]: when the
//! same caller already sent the same method with the same request id, the stored response
//! comes back and nothing is changed again. Otherwise it makes the change and calls
//! [`remember`] before committing, so the change and its answer land together or not at all.
//!
//! Answers are kept for a retention period (`TRELLIS_REQUEST_ID_RETENTION`, a week by
//! default): every server purges older ones hourly ([`purge_older_than`]). A retry after
//! that is a new request.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use prost::Message;

use crate::error::{ApiError, StoreError};

diesel::table! {
    request_ids (scope, method, request_id) {
        scope -> Text,
        method -> Text,
        request_id -> Text,
        response -> Bytea,
        created_at -> Timestamptz,
    }
}

/// Longest request id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Checks a request id's shape; an empty one means "not retry-safe" and is allowed.
pub fn validate(request_id: &str) -> Result<(), ApiError> {
    if request_id.len() > MAX_REQUEST_ID_LEN {
        return Err(ApiError::invalid(
            "request_id",
            format!("at most {MAX_REQUEST_ID_LEN} characters"),
        ));
    }
    if request_id.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "request_id",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// The response stored for this request id, if the call was already made.
pub async fn replay<R: Message + Default>(
    conn: &mut AsyncPgConnection,
    scope: &str,
    method: &str,
    request_id: &str,
) -> Result<Option<R>, StoreError> {
    if request_id.is_empty() {
        return Ok(None);
    }
    // Serialise concurrent retries of the same request id until the first commits.
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(format!("{scope}\u{1f}{method}\u{1f}{request_id}"))
        .execute(conn)
        .await?;
    let stored: Option<Vec<u8>> = request_ids::table
        .filter(request_ids::scope.eq(scope))
        .filter(request_ids::method.eq(method))
        .filter(request_ids::request_id.eq(request_id))
        .select(request_ids::response)
        .first(conn)
        .await
        .optional()?;
    Ok(stored.and_then(|bytes| R::decode(bytes.as_slice()).ok()))
}

/// Stores the response of a call made under `request_id`.
pub async fn remember<R: Message>(
    conn: &mut AsyncPgConnection,
    scope: &str,
    method: &str,
    request_id: &str,
    response: &R,
) -> Result<(), StoreError> {
    if request_id.is_empty() {
        return Ok(());
    }
    diesel::insert_into(request_ids::table)
        .values((
            request_ids::scope.eq(scope),
            request_ids::method.eq(method),
            request_ids::request_id.eq(request_id),
            request_ids::response.eq(response.encode_to_vec()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the answers stored longer ago than `age`; returns how many.
pub async fn purge_older_than(
    conn: &mut AsyncPgConnection,
    age: std::time::Duration,
) -> Result<usize, StoreError> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    Ok(
        diesel::delete(request_ids::table.filter(request_ids::created_at.lt(cutoff)))
            .execute(conn)
            .await?,
    )
}
