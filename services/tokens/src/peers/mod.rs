//! The service's calls to others: the library (which data sources name a token, T3) and
//! the OAuth providers (code exchange, refresh, revocation, userinfo).

pub mod library;
pub mod oauth;
