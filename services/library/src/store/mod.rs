//! Diesel queries, one module per table group. Functions take a connection and return
//! [`StoreError`]; a use case that changes several rows runs them in one transaction
//! (`trellis_platform::db::transaction`, or the request-id write of
//! `trellis_platform::replay`), so that nothing is half-written.

#[macro_use]
pub mod owned;

pub mod accounts;
pub mod assets;
pub mod company_properties;
pub mod dashboards;
pub mod data_sources;
pub mod embeds;
pub mod graph;
pub mod klips;
pub mod memberships;
pub mod properties;
pub mod schema;
pub mod variables;

use trellis_platform::error::StoreError;

/// A stored value that does not decode: our fault, reported as internal.
pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Other(diesel::result::Error::DeserializationError(
        what.into().into(),
    ))
}
