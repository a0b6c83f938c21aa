//! CreateTokenGrant, GetTokenGrant, ListTokenGrants, DeleteTokenGrant (I6).
//!
//! Grants are created by the import service, which has checked that the grantee is in the
//! token's family (I1) before it imports; a service token is trusted with every token
//! anyway (it may call GetAccessToken), so a family check here would add a dependency on
//! the library service without adding protection. What is checked here: the token exists
//! and is not revoked, and the grantee is another account than the owner.

use chrono::Utc;
use diesel_async::AsyncConnection;
use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_platform::idempotency;
use trellis_platform::pagination::PageRequest;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::{
    TokensApi, caller, check_etag, check_request_id, idempotency_scope, parse_id, replayed,
    require_account,
};
use crate::convert;
use crate::domain::authorization::not_found_as;
use crate::store::grants::{self as store, GrantRow};
use crate::store::{TxError, tokens};

/// A fingerprint is the library's SHA-256 in hex; anything else is not one.
pub(super) fn check_fingerprint(violations: &mut Violations, field: &str, value: &str) {
    if value.len() > 128 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        violations.add(
            field,
            "must be a data source fingerprint (hex, at most 128 characters)",
        );
    }
}

impl TokensApi {
    pub(super) async fn create_token_grant(
        &self,
        request: Request<CreateTokenGrantRequest>,
    ) -> ApiResult<CreateTokenGrantResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let grant = request
            .grant
            .ok_or_else(|| ApiError::invalid("grant", "required"))?;
        let mut violations = Violations::new();
        let parse = |v: &mut Violations, field: &str, value: &str| match Uuid::parse_str(value) {
            Ok(id) => Some(id),
            Err(_) => {
                v.add(
                    field,
                    if value.is_empty() {
                        "required"
                    } else {
                        "must be a UUID"
                    },
                );
                None
            }
        };
        let token_id = parse(&mut violations, "grant.token_id", &grant.token_id);
        let grantee = parse(
            &mut violations,
            "grant.grantee_account_id",
            &grant.grantee_account_id,
        );
        let data_source = parse(
            &mut violations,
            "grant.data_source_id",
            &grant.data_source_id,
        );
        let source = parse(
            &mut violations,
            "source_account_id",
            &request.source_account_id,
        );
        check_fingerprint(
            &mut violations,
            "grant.request_fingerprint",
            &grant.request_fingerprint,
        );
        violations.into_result()?;
        let (Some(token_id), Some(grantee), Some(data_source), Some(source)) =
            (token_id, grantee, data_source, source)
        else {
            unreachable!("violations are reported above");
        };
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "CreateTokenGrant";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let token = tokens::get(conn, token_id)
                    .await
                    .map_err(|e| not_found_as(e, "token", token_id))?;
                // I15: only the import's source account's own token is handed out, so an
                // import from one account cannot grant another account's token.
                if token.token.account_id != source {
                    return Err(ApiError::not_found("token", token_id).into());
                }
                if token.token.status == tokens::REVOKED {
                    return Err(ApiError::precondition(
                        "TOKEN_STATUS",
                        format!("tokens/{token_id}"),
                        "the token was revoked; nothing can be granted on it",
                    )
                    .into());
                }
                if token.token.account_id == grantee {
                    return Err(ApiError::invalid(
                        "grant.grantee_account_id",
                        "is the token's own account, whose data sources use it without a grant",
                    )
                    .into());
                }
                let stored = store::insert_or_get(
                    conn,
                    &GrantRow {
                        id: Uuid::now_v7(),
                        token_id,
                        grantee_account_id: grantee,
                        data_source_id: data_source,
                        create_time: Utc::now(),
                        request_fingerprint: grant.request_fingerprint.clone(),
                    },
                )
                .await?;
                if stored.grantee_account_id != grantee {
                    return Err(ApiError::invalid(
                        "grant.grantee_account_id",
                        "the data source already holds a grant on this token for another account",
                    )
                    .into());
                }
                let response = CreateTokenGrantResponse {
                    grant: Some(convert::grant(&stored)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    /// A grant the caller may see: service callers, and users of the token's or the
    /// grantee's account.
    async fn visible_grant(
        &self,
        caller: &trellis_platform::auth::Caller,
        id: Uuid,
    ) -> ApiResult<GrantRow> {
        let mut conn = self.conn().await?;
        let grant = store::get(&mut conn, id)
            .await
            .map_err(|e| missing(e, id))?;
        if caller.is_service() || caller.account()? == grant.grantee_account_id {
            return Ok(grant);
        }
        let token = tokens::get(&mut conn, grant.token_id).await?;
        require_account(caller, token.token.account_id)
            .map_err(|_| ApiError::not_found("grant", id))?;
        Ok(grant)
    }

    pub(super) async fn get_token_grant(
        &self,
        request: Request<GetTokenGrantRequest>,
    ) -> ApiResult<GetTokenGrantResponse> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let grant = self.visible_grant(&caller, id).await?;
        Ok(GetTokenGrantResponse {
            grant: Some(convert::grant(&grant)),
        })
    }

    pub(super) async fn list_token_grants(
        &self,
        request: Request<ListTokenGrantsRequest>,
    ) -> ApiResult<ListTokenGrantsResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let after = page
            .after
            .as_deref()
            .map(|key| {
                Uuid::parse_str(key)
                    .map_err(|_| ApiError::invalid("page_token", "not a token this service issued"))
            })
            .transpose()?;
        let mut conn = self.conn().await?;
        let (token_id, grantee) = match (
            request.token_id.is_empty(),
            request.grantee_account_id.is_empty(),
        ) {
            (false, true) => {
                let token_id = parse_id("token_id", &request.token_id)?;
                let token = tokens::get(&mut conn, token_id)
                    .await
                    .map_err(|e| ApiError::from(not_found_as(e, "token", token_id)))?;
                require_account(&caller, token.token.account_id)
                    .map_err(|_| ApiError::not_found("token", token_id))?;
                (Some(token_id), None)
            }
            (true, false) => {
                caller.require_service()?;
                (
                    None,
                    Some(parse_id("grantee_account_id", &request.grantee_account_id)?),
                )
            }
            _ => {
                return Err(ApiError::invalid(
                    "token_id",
                    "set exactly one of token_id and grantee_account_id",
                ));
            }
        };
        let mut rows = store::list(&mut conn, token_id, grantee, after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut rows, |r| r.id.to_string());
        Ok(ListTokenGrantsResponse {
            grants: rows.iter().map(convert::grant).collect(),
            next_page_token,
        })
    }

    pub(super) async fn delete_token_grant(
        &self,
        request: Request<DeleteTokenGrantRequest>,
    ) -> ApiResult<DeleteTokenGrantResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let id = parse_id("id", &request.id)?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "DeleteTokenGrant";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let grant = store::get(conn, id).await.map_err(|e| missing(e, id))?;
                let token = tokens::get(conn, grant.token_id).await?;
                // Only the token's account (or a service) takes its grants back.
                require_account(&caller, token.token.account_id)
                    .map_err(|_| ApiError::not_found("grant", id))?;
                check_etag(&request.etag, &grant.etag())?;
                store::delete(conn, id).await?;
                let response = DeleteTokenGrantResponse {};
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }
}

fn missing(error: StoreError, id: Uuid) -> ApiError {
    not_found_as(error, "grant", id).into()
}
