//! The library's rules in plain Rust, testable without gRPC or a database: validation of
//! names and definitions, `{props.NAME}`, `{date.…}` and `{token.NAME}` templates, date
//! expressions, pagination and limits, property resolution (I13), fingerprints and
//! instance keys, dependency closures (I3, I4) and clone plans (I5, I7), Klip rendering
//! (section 8) and the embed render cache (F6).

pub mod account;
pub mod asset;
pub mod clone;
pub mod closure;
pub mod dashboard;
pub mod data_source;
pub mod dates;
pub mod embed;
pub mod instance;
pub mod klip;
pub mod names;
pub mod pagination;
pub mod properties;
pub mod render;
pub mod render_size;
pub mod stored;
pub mod template;

#[cfg(test)]
pub(crate) mod fixtures;
