//! Diesel queries and transactions, one module per table group. Stores return
//! [`StoreError`]; they know nothing of gRPC.

pub mod imports;
pub mod links;
pub mod plans;
pub mod saga_lock;
pub mod schema;
pub mod updates;

use serde::Serialize;
use serde::de::DeserializeOwned;
use trellis_platform::error::StoreError;

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

trellis_platform::text_column!(crate::domain::asset::AssetKind);
trellis_platform::text_column!(crate::domain::import::ImportKind);
trellis_platform::text_column!(crate::domain::import::ImportState);
