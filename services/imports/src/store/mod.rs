//! Diesel queries and transactions, one module per table group. Stores return
//! [`StoreError`]; they know nothing of gRPC.

pub mod imports;
pub mod links;
pub mod plans;
pub mod saga_lock;
pub mod updates;

use serde::Serialize;
use serde::de::DeserializeOwned;
use trellis_platform::db::{DbConn, DbPool};
use trellis_platform::error::{ApiError, StoreError};

/// The error of a transaction that mixes store calls and domain checks: it rolls back on
/// any of them and surfaces as the [`ApiError`] inside.
#[derive(Debug)]
pub struct TxError(pub ApiError);

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        TxError(StoreError::from(error).into())
    }
}

impl From<StoreError> for TxError {
    fn from(error: StoreError) -> Self {
        TxError(error.into())
    }
}

impl From<ApiError> for TxError {
    fn from(error: ApiError) -> Self {
        TxError(error)
    }
}

impl From<TxError> for ApiError {
    fn from(error: TxError) -> Self {
        error.0
    }
}

pub async fn connect(pool: &DbPool) -> Result<DbConn, StoreError> {
    Ok(pool.get().await?)
}

/// A JSON column's value.
pub(crate) fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("plain structs serialize")
}

/// A JSON column read back; a value this version cannot read is a store fault.
pub(crate) fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|error| {
        StoreError::Other(diesel::result::Error::DeserializationError(Box::new(error)))
    })
}

/// A text column that holds one of a closed set of names.
pub(crate) fn unknown(column: &str, value: &str) -> StoreError {
    StoreError::Other(diesel::result::Error::DeserializationError(
        format!("unknown {column} {value:?}").into(),
    ))
}
