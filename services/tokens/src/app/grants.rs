//! Token grants (I6): one data source of another account uses a token.
//!
//! Grants are created by the import service, which has checked that the grantee is in the
//! token's family (I1) before it imports; a service token is trusted with every token
//! anyway (it may call GetAccessToken), so a family check here would add a dependency on
//! the library service without adding protection. What is checked here: the token exists,
//! belongs to the import's source account and is not revoked, and the grantee is another
//! account than the owner.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use trellis_platform::error::StoreResultExt;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::etag;
use uuid::Uuid;

use super::App;
use crate::domain::TokenState;
use crate::store::grants::{self as store, GrantRow};
use crate::store::tokens;

/// A grant as an import asks for it.
#[derive(Debug)]
pub struct NewGrant {
    pub token_id: Uuid,
    pub grantee: Uuid,
    pub data_source: Uuid,
    /// The account the import copies from: only its own token is granted (I15).
    pub source_account: Uuid,
    pub request_fingerprint: String,
}

/// Which grants a list is of.
#[derive(Debug, Clone, Copy)]
pub enum Grants {
    /// Of a token, for a caller signed into `viewer` (none for a service).
    OfToken {
        token_id: Uuid,
        viewer: Option<Uuid>,
    },
    /// To an account (services only).
    To { grantee: Uuid },
}

impl App {
    /// A grant the caller may see: a service (`viewer` none), or a user of the token's or
    /// the grantee's account.
    pub async fn visible_grant(&self, id: Uuid, viewer: Option<Uuid>) -> ApiResult<GrantRow> {
        let mut conn = self.conn().await?;
        visible(&mut conn, id, viewer).await
    }

    pub async fn list_grants(
        &self,
        of: Grants,
        after: Option<Uuid>,
        limit: i64,
    ) -> ApiResult<Vec<GrantRow>> {
        let mut conn = self.conn().await?;
        let (token_id, grantee) = match of {
            Grants::OfToken { token_id, viewer } => {
                let token = tokens::get(&mut conn, token_id)
                    .await
                    .about("token", token_id)?;
                if viewer.is_some_and(|account| account != token.token.account_id) {
                    return Err(ApiError::not_found("token", token_id));
                }
                (Some(token_id), None)
            }
            Grants::To { grantee } => (None, Some(grantee)),
        };
        Ok(store::list(&mut conn, token_id, grantee, after, limit).await?)
    }
}

/// Makes the grant, or answers with the one the data source already holds (bound to the new
/// fingerprint).
pub async fn create(conn: &mut AsyncPgConnection, grant: &NewGrant) -> ApiResult<GrantRow> {
    let token_id = grant.token_id;
    let token = tokens::get(conn, token_id).await.about("token", token_id)?;
    // I15: only the import's source account's own token is handed out, so an import from
    // one account cannot grant another account's token.
    if token.token.account_id != grant.source_account {
        return Err(ApiError::not_found("token", token_id));
    }
    if token.token.status == TokenState::Revoked {
        return Err(ApiError::precondition(
            "TOKEN_STATUS",
            format!("tokens/{token_id}"),
            "the token was revoked; nothing can be granted on it",
        ));
    }
    if token.token.account_id == grant.grantee {
        return Err(ApiError::invalid(
            "grant.grantee_account_id",
            "is the token's own account, whose data sources use it without a grant",
        ));
    }
    let row = GrantRow {
        id: Uuid::now_v7(),
        token_id,
        grantee_account_id: grant.grantee,
        data_source_id: grant.data_source,
        create_time: Utc::now(),
        request_fingerprint: grant.request_fingerprint.clone(),
    };
    let stored = store::insert_or_get(conn, &row).await?;
    if stored.grantee_account_id != grant.grantee {
        return Err(ApiError::invalid(
            "grant.grantee_account_id",
            "the data source already holds a grant on this token for another account",
        ));
    }
    Ok(stored)
}

/// Deletes grant `id` if `sent_etag` matches. Only the token's account (or a service,
/// `viewer` none) takes its grants back.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    viewer: Option<Uuid>,
    sent_etag: &str,
) -> ApiResult<()> {
    let grant = store::get(conn, id).await.about("grant", id)?;
    let owner = tokens::get(conn, grant.token_id).await?.token.account_id;
    if viewer.is_some_and(|account| account != owner) {
        return Err(ApiError::not_found("grant", id));
    }
    etag::require(sent_etag, &grant.etag(), "grant")?;
    Ok(store::delete(conn, id).await?)
}

async fn visible(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    viewer: Option<Uuid>,
) -> ApiResult<GrantRow> {
    let grant = store::get(conn, id).await.about("grant", id)?;
    let Some(account) = viewer else {
        return Ok(grant);
    };
    if account == grant.grantee_account_id {
        return Ok(grant);
    }
    let token = tokens::get(conn, grant.token_id).await?;
    if token.token.account_id != account {
        return Err(ApiError::not_found("grant", id));
    }
    Ok(grant)
}
