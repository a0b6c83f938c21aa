//! Providers: registered, read, changed under an etag, and deleted once no token uses them.

use diesel_async::AsyncPgConnection;
use trellis_platform::error::StoreResultExt;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::etag;
use uuid::Uuid;

use super::App;
use crate::domain::{columns, seal};
use crate::secret::Secret;
use crate::store::providers::{self as store, ProviderRow};

/// The key a provider page continues after: its (name, id).
pub type PageKey = (String, Uuid);

impl App {
    /// A provider's client secret sealed to its row; none for an empty secret.
    pub fn seal_client_secret(&self, id: Uuid, secret: &str) -> Option<Vec<u8>> {
        (!secret.is_empty()).then(|| {
            seal(
                &self.keyring,
                &Secret::new(secret),
                columns::CLIENT_SECRET,
                &id.to_string(),
            )
        })
    }

    pub async fn get_provider(&self, id: Uuid) -> ApiResult<ProviderRow> {
        let mut conn = self.conn().await?;
        store::get(&mut conn, id).await.about("provider", id)
    }

    pub async fn list_providers(
        &self,
        after: Option<PageKey>,
        limit: i64,
    ) -> ApiResult<Vec<ProviderRow>> {
        let mut conn = self.conn().await?;
        Ok(store::list(&mut conn, after, limit).await?)
    }
}

pub async fn create(conn: &mut AsyncPgConnection, row: &ProviderRow) -> ApiResult<ProviderRow> {
    Ok(store::insert(conn, row).await?)
}

/// Changes provider `id` if `sent_etag` matches: `merge` makes the new row from the current
/// one (and checks it).
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    sent_etag: &str,
    merge: impl FnOnce(&ProviderRow) -> ApiResult<ProviderRow>,
) -> ApiResult<ProviderRow> {
    let current = store::get_for_update(conn, id)
        .await
        .about("provider", id)?;
    etag::require(sent_etag, &current.etag(), "provider")?;
    let row = merge(&current)?;
    Ok(store::update(conn, &row).await?)
}

/// Deletes provider `id` if `sent_etag` matches and no token of it exists.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid, sent_etag: &str) -> ApiResult<()> {
    let current = store::get_for_update(conn, id)
        .await
        .about("provider", id)?;
    etag::require(sent_etag, &current.etag(), "provider")?;
    let tokens = store::count_tokens(conn, id).await?;
    if tokens > 0 {
        return Err(ApiError::precondition(
            "PROVIDER_IN_USE",
            format!("providers/{id}"),
            format!("{tokens} tokens of this provider exist; delete them first"),
        ));
    }
    Ok(store::delete(conn, id).await?)
}
