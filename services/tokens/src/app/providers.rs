//! Providers: registered, read, changed under an etag, and deleted once no token uses them.
//! The operators' providers are every account's; an account's admin registers OAuth apps
//! its family alone sees (`crate::domain::providers`).

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::error::StoreResultExt;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::etag;
use uuid::Uuid;

use super::App;
use crate::domain::providers::{Family, Manager};
use crate::domain::providers_catalogue::placeholders;
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

    /// `account` and its partner, asked of the library (remembered briefly).
    pub async fn family(&self, account: Uuid) -> ApiResult<Family> {
        Ok(Family {
            account,
            parent: self.library.parent_of(account).await?,
        })
    }

    /// The family whose providers a caller sees; None for a service, which sees all.
    pub async fn viewer_family(&self, caller: &Caller) -> ApiResult<Option<Family>> {
        if caller.is_service() {
            return Ok(None);
        }
        Ok(Some(self.family(caller.account()?).await?))
    }

    /// Who changes providers: an operator (the only service the access policy lets in), or
    /// an admin of the signed-in account.
    pub async fn manager(&self, caller: &Caller) -> ApiResult<Manager> {
        if caller.is_service() {
            return Ok(Manager::Operator);
        }
        caller.require_admin()?;
        Ok(Manager::Admin(self.family(caller.account()?).await?))
    }

    /// The owner of a provider the caller registers: an operator names any account or
    /// none (a provider every account sees); an admin names its signed-in account.
    pub async fn owner_of_new(
        &self,
        caller: &Caller,
        requested: Option<Uuid>,
    ) -> ApiResult<Option<Uuid>> {
        if caller.is_service() {
            if let Some(owner) = requested {
                self.family(owner).await.map_err(|error| match error {
                    ApiError::NotFound { .. } => {
                        ApiError::invalid("provider.owner_account_id", "no such account")
                    }
                    other => other,
                })?;
            }
            return Ok(requested);
        }
        caller.require_admin()?;
        let account = caller.account()?;
        match requested {
            None => Err(ApiError::PermissionDenied(
                "only operators register providers every account sees; an admin registers \
                 its family's own OAuth app with provider.owner_account_id set to the \
                 signed-in account"
                    .into(),
            )),
            Some(owner) if owner == account => Ok(Some(owner)),
            Some(_) => Err(ApiError::PermissionDenied(
                "an admin registers OAuth apps for the account it is signed into only".into(),
            )),
        }
    }

    /// Provider `id`, if the viewer sees it (else NOT_FOUND, as if it did not exist).
    pub async fn get_provider(&self, id: Uuid, viewer: Option<Family>) -> ApiResult<ProviderRow> {
        let mut conn = self.conn().await?;
        let row = store::get(&mut conn, id).await.about("provider", id)?;
        if viewer.is_some_and(|family| !family.sees(row.owner_account_id)) {
            return Err(ApiError::not_found("provider", id));
        }
        Ok(row)
    }

    pub async fn list_providers(
        &self,
        viewer: Option<Family>,
        after: Option<PageKey>,
        limit: i64,
    ) -> ApiResult<Vec<ProviderRow>> {
        let owners: Option<Vec<Uuid>> =
            viewer.map(|family| family.parent.into_iter().chain([family.account]).collect());
        let mut conn = self.conn().await?;
        Ok(store::list(&mut conn, owners.as_deref(), after, limit).await?)
    }

    /// The operators' provider of catalogue entry `key`: what an app registered for that
    /// entry is filled from.
    pub async fn catalogue_provider(&self, key: &str) -> ApiResult<ProviderRow> {
        let mut conn = self.conn().await?;
        store::of_catalogue(&mut conn, key).await?.ok_or_else(|| {
            ApiError::invalid(
                "provider.catalogue_key",
                format!(
                    "no catalogue provider {key:?} is loaded (`trellis-tokens catalogue` loads \
                     catalogue/providers.toml)"
                ),
            )
        })
    }

    /// Whether an authorization for `account` may begin with `provider`: one its family
    /// sees (else NOT_FOUND), with an OAuth app registered, whose URLs are its own.
    pub async fn check_authorizable(&self, provider: &ProviderRow, account: Uuid) -> ApiResult<()> {
        let id = provider.id;
        if provider.owner_account_id.is_some()
            && !self.family(account).await?.sees(provider.owner_account_id)
        {
            return Err(ApiError::not_found("provider", id));
        }
        if provider.client_id.is_empty() {
            return Err(ApiError::precondition(
                "NO_OAUTH_APP",
                format!("providers/{id}"),
                format!(
                    "no OAuth app is registered for {}: an operator sets its client id, or \
                     an admin of the account registers the family's own app (CreateProvider \
                     with catalogue_key {:?}, owner_account_id, client_id and client_secret)",
                    provider.name, provider.catalogue_key
                ),
            ));
        }
        let templated = [&provider.authorization_url, &provider.token_url]
            .into_iter()
            .any(|url| !placeholders(url).is_empty());
        if templated {
            return Err(ApiError::precondition(
                "PROVIDER_CONFIGURATION",
                format!("providers/{id}"),
                "the provider's URLs are a template (such as Shopify's {shop}): an admin \
                 registers an app with its own URLs",
            ));
        }
        Ok(())
    }
}

pub async fn create(conn: &mut AsyncPgConnection, row: &ProviderRow) -> ApiResult<ProviderRow> {
    Ok(store::insert(conn, row).await?)
}

/// Changes provider `id` if `manager` may and `sent_etag` matches: `merge` makes the new
/// row from the current one (and checks it).
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    manager: &Manager,
    sent_etag: &str,
    merge: impl FnOnce(&ProviderRow) -> ApiResult<ProviderRow>,
) -> ApiResult<ProviderRow> {
    let current = store::get_for_update(conn, id)
        .await
        .about("provider", id)?;
    manager.check(id, current.owner_account_id)?;
    etag::require(sent_etag, &current.etag(), "provider")?;
    let row = merge(&current)?;
    Ok(store::update(conn, &row).await?)
}

/// Deletes provider `id` if `manager` may, `sent_etag` matches and no token of it exists.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    manager: &Manager,
    sent_etag: &str,
) -> ApiResult<()> {
    let current = store::get_for_update(conn, id)
        .await
        .about("provider", id)?;
    manager.check(id, current.owner_account_id)?;
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
