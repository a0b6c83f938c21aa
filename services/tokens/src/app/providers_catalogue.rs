//! Loading the provider catalogue: each entry becomes (or updates) the operators' provider
//! of its key. Loading again changes nothing; an entry changed in the file updates the
//! provider's endpoints, scopes, caps and limits, but a client id or secret once set stays
//! (it is the operator's or was given before).

use diesel_async::AsyncPgConnection;
use trellis_platform::db::transaction;
use trellis_platform::error::{ApiError, ApiResult};

use crate::crypto::Keyring;
use crate::domain::providers_catalogue::Client;
use crate::domain::{columns, seal};
use crate::store::providers::{self as store, ProviderRow};

/// What loading did to one entry's provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Upserts the operators' provider of `entry` (a checked row of the catalogue, without a
/// client): created with `client`'s app if given; otherwise updated to the entry when it
/// differs, its client id and secret filled only where none is stored.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
    entry: ProviderRow,
    client: Option<&Client>,
) -> ApiResult<Outcome> {
    transaction::<_, ApiError, _>(conn, async |conn| {
        let Some(current) = store::of_catalogue_for_update(conn, &entry.catalogue_key).await?
        else {
            let mut row = entry;
            if let Some(client) = client {
                row.client_id = client.client_id.clone();
                row.client_secret = sealed(keyring, &row, client);
            }
            store::insert(conn, &row).await?;
            return Ok(Outcome::Created);
        };
        let wanted = wanted(keyring, &current, entry, client);
        if same(&current, &wanted) {
            return Ok(Outcome::Unchanged);
        }
        store::update(conn, &wanted).await?;
        Ok(Outcome::Updated)
    })
    .await
}

/// The current provider as the entry has it, keeping its id, owner, client id and secret.
fn wanted(
    keyring: &Keyring,
    current: &ProviderRow,
    entry: ProviderRow,
    client: Option<&Client>,
) -> ProviderRow {
    let mut wanted = ProviderRow {
        id: current.id,
        client_id: current.client_id.clone(),
        client_secret: current.client_secret.clone(),
        version: current.version,
        create_time: current.create_time,
        update_time: current.update_time,
        owner_account_id: current.owner_account_id,
        ..entry
    };
    if let Some(client) = client {
        if wanted.client_id.is_empty() {
            wanted.client_id = client.client_id.clone();
        }
        if wanted.client_secret.is_none() && wanted.client_id == client.client_id {
            wanted.client_secret = sealed(keyring, &wanted, client);
        } else if wanted.client_id != client.client_id {
            tracing::warn!(
                catalogue_key = %wanted.catalogue_key,
                "the provider keeps the client id it has; the clients file names another app"
            );
        }
    }
    wanted
}

fn sealed(keyring: &Keyring, row: &ProviderRow, client: &Client) -> Option<Vec<u8>> {
    client
        .client_secret
        .as_ref()
        .map(|secret| seal(keyring, secret, columns::CLIENT_SECRET, &row.id.to_string()))
}

/// Whether loading would change nothing a reader sees.
fn same(current: &ProviderRow, wanted: &ProviderRow) -> bool {
    current.name == wanted.name
        && current.authorization_url == wanted.authorization_url
        && current.token_url == wanted.token_url
        && current.revocation_url == wanted.revocation_url
        && current.userinfo_url == wanted.userinfo_url
        && current.client_id == wanted.client_id
        && current.client_secret == wanted.client_secret
        && current.scopes == wanted.scopes
        && current.authorization_parameters() == wanted.authorization_parameters()
        && current.max_tokens_per_user == wanted.max_tokens_per_user
        && current.warn_tokens_per_user == wanted.warn_tokens_per_user
        && current.limits() == wanted.limits()
        && current.token_parameters == wanted.token_parameters
}
