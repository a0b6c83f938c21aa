//! CreateTokenGrant, GetTokenGrant, ListTokenGrants, DeleteTokenGrant (I6).

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_platform::request::{caller, id, required};
use trellis_proto::tokens::v1::*;

use super::{TokensApi, convert, ids, viewer};
use crate::app::grants::{self as app, Grants, NewGrant};
use trellis_platform::replay::{self, RequestKey};

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
        let key = RequestKey::new(&caller, "CreateTokenGrant", &request.request_id)?;
        let grant = required("grant", request.grant)?;
        let mut violations = Violations::new();
        let parsed = ids(
            &mut violations,
            [
                ("grant.token_id", &grant.token_id),
                ("grant.grantee_account_id", &grant.grantee_account_id),
                ("grant.data_source_id", &grant.data_source_id),
                ("source_account_id", &request.source_account_id),
            ],
        );
        check_fingerprint(
            &mut violations,
            "grant.request_fingerprint",
            &grant.request_fingerprint,
        );
        violations.into_result()?;
        let [token_id, grantee, data_source, source_account] = parsed?;
        let new = NewGrant {
            token_id,
            grantee,
            data_source,
            source_account,
            request_fingerprint: grant.request_fingerprint,
        };
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = app::create(conn, &new).await?;
            Ok(CreateTokenGrantResponse {
                grant: Some(convert::grant(&stored)),
            })
        })
        .await
    }

    pub(super) async fn get_token_grant(
        &self,
        request: Request<GetTokenGrantRequest>,
    ) -> ApiResult<GetTokenGrantResponse> {
        let caller = caller(&request)?;
        let id = id("id", &request.get_ref().id)?;
        let grant = self.app.visible_grant(id, viewer(&caller)?).await?;
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
        let after = page.after_id()?;
        let of = match (
            request.token_id.as_str(),
            request.grantee_account_id.as_str(),
        ) {
            (token_id, "") if !token_id.is_empty() => Grants::OfToken {
                token_id: id("token_id", token_id)?,
                viewer: viewer(&caller)?,
            },
            ("", grantee) if !grantee.is_empty() => {
                caller.require_service()?;
                Grants::To {
                    grantee: id("grantee_account_id", grantee)?,
                }
            }
            _ => {
                return Err(ApiError::invalid(
                    "token_id",
                    "set exactly one of token_id and grantee_account_id",
                ));
            }
        };
        let mut rows = self.app.list_grants(of, after, page.fetch_limit()).await?;
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
        let key = RequestKey::new(&caller, "DeleteTokenGrant", &request.request_id)?;
        let id = id("id", &request.id)?;
        let viewer = viewer(&caller)?;
        replay::write(&self.app.pool, &key, async |conn| {
            app::delete(conn, id, viewer, &request.etag).await?;
            Ok(DeleteTokenGrantResponse {})
        })
        .await
    }
}
