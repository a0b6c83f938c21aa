//! The service's logic, in plain Rust over the stores: exactly-once refresh, the
//! authorization code flow with the T2 count, and token usage (T3).

pub mod access;
pub mod authorization;
pub mod caps;
mod refresh;
pub mod usage;

use trellis_platform::error::ApiError;
use uuid::Uuid;

use crate::crypto::{Binding, Keyring};
use crate::secret::Secret;
use crate::store::providers::ProviderRow;

/// Column names that seal values (the `column` of a [`Binding`]).
pub mod columns {
    pub const CLIENT_SECRET: &str = "providers.client_secret";
    pub const ACCESS_TOKEN: &str = "token_secrets.access_token";
    pub const REFRESH_TOKEN: &str = "token_secrets.refresh_token";
    pub const CREDENTIAL_SECRET: &str = "credentials.secret";
    pub const PKCE_VERIFIER: &str = "pending_authorizations.pkce_verifier";
}

/// Opens a sealed value; a value that does not open is our fault (a missing key or a
/// damaged row) and never says more than which row.
pub fn open(
    keyring: &Keyring,
    sealed: &[u8],
    column: &'static str,
    row: &str,
) -> Result<Secret, ApiError> {
    keyring
        .open(sealed, Binding::new(column, row))
        .map_err(|error| ApiError::internal(anyhow::anyhow!("{column} of {row}: {error}")))
}

pub fn seal(keyring: &Keyring, secret: &Secret, column: &'static str, row: &str) -> Vec<u8> {
    keyring.seal(secret, Binding::new(column, row))
}

/// The provider's client secret, if it has one.
pub fn client_secret(
    keyring: &Keyring,
    provider: &ProviderRow,
) -> Result<Option<Secret>, ApiError> {
    provider
        .client_secret
        .as_deref()
        .map(|sealed| {
            open(
                keyring,
                sealed,
                columns::CLIENT_SECRET,
                &provider.id.to_string(),
            )
        })
        .transpose()
}

/// `tokens/<id>`: how preconditions name a token.
pub fn token_subject(id: Uuid) -> String {
    format!("tokens/{id}")
}
