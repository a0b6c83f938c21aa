//! The service's rules in plain Rust, without the database, gRPC or HTTP: sealing of
//! secrets, when a token is usable and when it needs a refresh, the redirect URI and state
//! of the authorization code flow, the T2 count's warnings, saved credentials' fields, and
//! which data sources use a token (T3). The use cases in `crate::app` apply them.

pub mod access;
pub mod authorization;
pub mod caps;
pub mod credentials;
pub mod holding;
pub mod limits;
pub mod providers;
pub mod providers_catalogue;
pub mod usage;

use trellis_platform::error::ApiError;
use uuid::Uuid;

use crate::crypto::{Binding, Keyring};
use crate::secret::Secret;

trellis_platform::text_enum! {
    /// Where a token stands: only an active one hands out access tokens; a revoked one is
    /// kept only as a tombstone for the data sources that still name it.
    pub enum TokenState {
        Active = "active",
        NeedsReauthorization = "needs_reauthorization",
        InvalidatedByProvider = "invalidated_by_provider",
        Revoked = "revoked",
    }
}

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

/// The client secret of provider `provider_id`, sealed as `sealed`, if it has one.
pub fn client_secret(
    keyring: &Keyring,
    provider_id: Uuid,
    sealed: Option<&[u8]>,
) -> Result<Option<Secret>, ApiError> {
    sealed
        .map(|sealed| {
            open(
                keyring,
                sealed,
                columns::CLIENT_SECRET,
                &provider_id.to_string(),
            )
        })
        .transpose()
}

/// `tokens/<id>`: how preconditions name a token.
pub fn token_subject(id: Uuid) -> String {
    format!("tokens/{id}")
}

/// Something an answer warns the caller of (T2, and what a re-authorization changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
    pub token_count: i32,
    pub token_limit: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    ScopesReduced,
    ExternalUserChanged,
    NearLimit,
    LimitExceeded,
}

impl Warning {
    /// A warning that counts nothing.
    pub fn new(kind: WarningKind, message: String) -> Self {
        Self {
            kind,
            message,
            token_count: 0,
            token_limit: 0,
        }
    }
}

/// I14, in depth: a grant or a credential copy serves the request it was made for
/// (`bound`, empty if unrecorded). Whatever path changed the data source since, its secret
/// is not handed out for another request.
pub fn check_bound(bound: &str, current: &str, data_source: Uuid) -> Result<(), ApiError> {
    if bound.is_empty() || bound == current {
        return Ok(());
    }
    Err(ApiError::precondition(
        "QUERY_CHANGED_SINCE_IMPORT",
        format!("data_sources/{data_source}"),
        "the data source no longer fetches what its master's token or credential was granted \
         for (I14); it needs a token or credential of its own account",
    ))
}
