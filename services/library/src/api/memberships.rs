//! Memberships (DESIGN.md section 3, I15): CreateMembership, ListMemberships,
//! DeleteMembership, CheckMembership, and ListImportableAssets, the "select the assets"
//! step of an import (I1, I15).
//!
//! Every service's gate asks CheckMembership (cached) whether a token's user may sign into
//! its account with its role; the library's own gate reads the same tables directly
//! ([`LocalMemberships`]). A change here makes the library forget what it remembered for
//! every account at once; the other services' caches expire within
//! `TRELLIS_MEMBERSHIP_CACHE`.

use std::sync::Arc;

use tonic::Status;
use trellis_platform::auth::{Caller, Role};
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::gate::{MembershipCache, MembershipDirectory, role_from_wire, role_to_wire};
use trellis_platform::pagination::PageRequest;
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_platform::validate::text_problem;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::convert::timestamp;
use crate::app::access::{self, MAX_USER_ID_CHARS, Need};
use crate::app::pages::Pager;
use crate::domain::account::AccountKind;
use crate::store::memberships::MembersOf;
use crate::store::{self, memberships};

/// The library's membership tables, and the cache its gate keeps of them.
#[derive(Clone)]
pub struct Members {
    pub pool: DbPool,
    pub cache: Arc<MembershipCache>,
}

/// The library's own membership directory: its tables.
pub struct LocalMemberships {
    pub pool: DbPool,
}

#[tonic::async_trait]
impl MembershipDirectory for LocalMemberships {
    async fn role_of(&self, user: &str, account: Uuid) -> Result<Option<Role>, Status> {
        let found = async {
            let mut conn = trellis_platform::db::connect(&self.pool).await?;
            memberships::effective_role(&mut conn, account, user).await
        }
        .await
        .map_err(|error| Status::from(ApiError::from(error)))?;
        Ok(found.map(|(role, _)| role))
    }
}

fn check_user_id(field: &str, user: &str) -> ApiResult<()> {
    if user.is_empty() {
        return Err(ApiError::invalid(field, "is required"));
    }
    access::check_user_id_shape(field, user)
}

fn to_proto(membership: &memberships::Membership) -> pb::Membership {
    pb::Membership {
        user_id: membership.user_id.clone(),
        account_id: membership.account_id.to_string(),
        role: role_to_wire(Some(membership.role)) as i32,
        create_time: timestamp(membership.created_at),
    }
}

/// A partner or standard account keeps at least one admin of its own: without one nobody
/// but an operator could sign in to manage it (a client keeps its partner's admins). The
/// account row is locked so that two concurrent removals cannot both pass.
async fn keep_an_admin(
    conn: &mut diesel_async::AsyncPgConnection,
    account: Uuid,
    user: &str,
    next: Option<Role>,
) -> ApiResult<()> {
    let Some(found) = store::accounts::get_for_update(conn, account).await? else {
        return Err(ApiError::not_found("account", account));
    };
    if found.kind == AccountKind::Client || next == Some(Role::Admin) {
        return Ok(());
    }
    if memberships::direct_role(conn, account, user).await? == Some(Role::Admin)
        && memberships::other_admins(conn, account, user).await? == 0
    {
        return Err(ApiError::precondition(
            "LAST_ADMIN",
            format!("accounts/{account}"),
            "this is the account's last admin; make another member admin first",
        ));
    }
    Ok(())
}

pub async fn create(
    members: &Members,
    caller: &Caller,
    request: pb::CreateMembershipRequest,
) -> ApiResult<pb::CreateMembershipResponse> {
    let key = RequestKey::new(caller, "CreateMembership", &request.request_id)?;
    access::role(caller, Need::Admin)?;
    let wanted = request.membership.unwrap_or_default();
    check_user_id("membership.user_id", &wanted.user_id)?;
    let role = pb::MembershipRole::try_from(wanted.role)
        .ok()
        .and_then(role_from_wire)
        .ok_or_else(|| {
            ApiError::invalid(
                "membership.role",
                "must be MEMBERSHIP_ROLE_ADMIN, _EDITOR or _VIEWER",
            )
        })?;
    let response = replay::write(&members.pool, &key, async |conn| {
        let account = access::Target::new(&wanted.account_id, "membership.account_id", Need::Admin)
            .resolve(conn, caller)
            .await?;
        keep_an_admin(conn, account, &wanted.user_id, Some(role)).await?;
        let stored = memberships::upsert(conn, account, &wanted.user_id, role).await?;
        Ok(pb::CreateMembershipResponse {
            membership: Some(to_proto(&stored)),
        })
    })
    .await?;
    // A partner's admins are admins of its clients too: forget every answer.
    members.cache.forget_all();
    Ok(response)
}

pub async fn list(
    members: &Members,
    caller: &Caller,
    request: pb::ListMembershipsRequest,
) -> ApiResult<pb::ListMembershipsResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let mut conn = trellis_platform::db::connect(&members.pool).await?;
    if !request.user_id.is_empty() {
        check_user_id("user_id", &request.user_id)?;
        if !caller.is_service() && caller.user() != request.user_id {
            return Err(ApiError::PermissionDenied(
                "another user's memberships are listed only by operators".into(),
            ));
        }
        let pager = Pager::new(&page)?;
        let (memberships, next_page_token) = pager
            .fill(
                &mut conn,
                |m| m.account_id,
                to_proto,
                |conn, after, limit| {
                    let of = MembersOf::User(request.user_id.clone(), after);
                    Box::pin(memberships::list(conn, of, limit))
                },
            )
            .await?;
        return Ok(pb::ListMembershipsResponse {
            memberships,
            next_page_token,
        });
    }
    let account = access::Target::new(&request.account_id, "account_id", Need::Admin)
        .resolve(&mut conn, caller)
        .await?;
    // The key is a user id, compared in SQL: one with a NUL byte was never issued.
    let pager = Pager::new(&page)?.refuse_unless(|user: &String| {
        !user.is_empty() && text_problem(user, MAX_USER_ID_CHARS).is_none()
    })?;
    let (memberships, next_page_token) = pager
        .fill(
            &mut conn,
            |m| m.user_id.clone(),
            to_proto,
            |conn, after, limit| {
                Box::pin(memberships::list(
                    conn,
                    MembersOf::Account(account, after),
                    limit,
                ))
            },
        )
        .await?;
    Ok(pb::ListMembershipsResponse {
        memberships,
        next_page_token,
    })
}

pub async fn delete(
    members: &Members,
    caller: &Caller,
    request: pb::DeleteMembershipRequest,
) -> ApiResult<pb::DeleteMembershipResponse> {
    let key = RequestKey::new(caller, "DeleteMembership", &request.request_id)?;
    access::role(caller, Need::Admin)?;
    check_user_id("user_id", &request.user_id)?;
    let response = replay::write(&members.pool, &key, async |conn| {
        let account = access::Target::new(&request.account_id, "account_id", Need::Admin)
            .resolve(conn, caller)
            .await?;
        keep_an_admin(conn, account, &request.user_id, None).await?;
        if !memberships::delete(conn, account, &request.user_id).await? {
            return Err(ApiError::not_found(
                "membership",
                format!("{account}/{}", request.user_id),
            ));
        }
        Ok(pb::DeleteMembershipResponse {})
    })
    .await?;
    members.cache.forget_all();
    Ok(response)
}

pub async fn check(
    members: &Members,
    caller: &Caller,
    request: pb::CheckMembershipRequest,
) -> ApiResult<pb::CheckMembershipResponse> {
    caller.require_service()?;
    check_user_id("user_id", &request.user_id)?;
    let account = fields::id("account_id", &request.account_id)?;
    let mut conn = trellis_platform::db::connect(&members.pool).await?;
    let found = memberships::effective_role(&mut conn, account, &request.user_id).await?;
    Ok(pb::CheckMembershipResponse {
        role: role_to_wire(found.map(|(role, _)| role)) as i32,
        through_partner: found.is_some_and(|(_, through)| through),
    })
}

/// The most assets of each kind listed per source account.
const MAX_LISTED: i64 = 1000;

pub async fn importable(
    members: &Members,
    caller: &Caller,
    request: pb::ListImportableAssetsRequest,
) -> ApiResult<pb::ListImportableAssetsResponse> {
    let mut conn = trellis_platform::db::connect(&members.pool).await?;
    let destination = access::Target::new(&request.account_id, "account_id", Need::Admin)
        .resolve(&mut conn, caller)
        .await?;
    let place = store::accounts::get(&mut conn, destination)
        .await?
        .ok_or_else(|| ApiError::not_found("account", destination))?
        .place();
    let Some(family) = place.family() else {
        return Ok(pb::ListImportableAssetsResponse { sources: vec![] });
    };
    let mut family_accounts = store::accounts::list(
        &mut conn,
        store::accounts::AccountFilter {
            visibility: store::accounts::Visibility::Member {
                account: family,
                with_clients: true,
            },
            parent_id: None,
            kind: None,
        },
        None,
        i64::MAX,
    )
    .await?;
    family_accounts.sort_by_key(|a| (a.kind != AccountKind::Partner, a.display_name.clone()));
    let mut sources = Vec::new();
    for account in family_accounts {
        if account.id == destination {
            continue;
        }
        // I15: only accounts the caller could sign into themselves.
        if memberships::effective_role(&mut conn, account.id, caller.user())
            .await?
            .is_none()
        {
            continue;
        }
        let assets = store::assets::named(&mut conn, account.id, MAX_LISTED).await?;
        sources.push(pb::ImportSource {
            account: Some(super::accounts::to_proto(&account)),
            assets: assets
                .into_iter()
                .map(|asset| pb::ImportableAsset {
                    kind: super::closure::kind_to_proto(asset.kind) as i32,
                    id: asset.id.to_string(),
                    name: asset.name,
                    version: asset.version,
                })
                .collect(),
        });
    }
    Ok(pb::ListImportableAssetsResponse { sources })
}
