//! Accounts and the partner tree: CreateAccount, GetAccount, ListAccounts, UpdateAccount,
//! DeleteAccount.

use diesel_async::AsyncPgConnection;
use tonic_types::PreconditionViolation;
use trellis_platform::auth::{Caller, Role};
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::convert::timestamp;
use super::mask::Mask;
use crate::app::access::{self, Need, denied};
use crate::app::pages::Pager;
use crate::domain::account::{AccountKind, DEFAULT_TIME_ZONE, parse_time_zone};
use crate::domain::names::check_display_name;
use crate::domain::stored::Account;
use crate::domain::stored::Stored;
use crate::store::accounts;
use crate::store::accounts::{AccountFilter, NewAccount, Visibility};

pub fn to_proto(account: &Account) -> pb::Account {
    pb::Account {
        id: account.id.to_string(),
        kind: kind_to_proto(account.kind) as i32,
        parent_id: account.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        display_name: account.display_name.clone(),
        etag: account.etag(),
        create_time: timestamp(account.created_at),
        update_time: timestamp(account.updated_at),
        time_zone: account.time_zone.clone(),
    }
}

fn kind_to_proto(kind: AccountKind) -> pb::AccountKind {
    match kind {
        AccountKind::Partner => pb::AccountKind::Partner,
        AccountKind::Client => pb::AccountKind::Client,
        AccountKind::Standard => pb::AccountKind::Standard,
    }
}

/// The kind a request names; `None` for unspecified.
fn kind_from_proto(field: &str, value: i32) -> ApiResult<Option<AccountKind>> {
    match pb::AccountKind::try_from(value) {
        Ok(pb::AccountKind::Unspecified) => Ok(None),
        Ok(pb::AccountKind::Partner) => Ok(Some(AccountKind::Partner)),
        Ok(pb::AccountKind::Client) => Ok(Some(AccountKind::Client)),
        Ok(pb::AccountKind::Standard) => Ok(Some(AccountKind::Standard)),
        Err(_) => Err(ApiError::invalid(field, "is not a known account kind")),
    }
}

/// The kind an account to create or update names: required.
fn required_kind(wanted: &pb::Account) -> ApiResult<AccountKind> {
    kind_from_proto("account.kind", wanted.kind)?
        .ok_or_else(|| ApiError::invalid("account.kind", "is required"))
}

fn valid_display_name(wanted: &pb::Account) -> ApiResult<()> {
    let mut violations = Violations::new();
    check_display_name(
        &mut violations,
        "account.display_name",
        &wanted.display_name,
    );
    violations.into_result()
}

/// The time zone an account to create or update names, checked; empty means UTC.
fn valid_time_zone(wanted: &pb::Account) -> ApiResult<&str> {
    parse_time_zone(&wanted.time_zone)
        .map_err(|problem| ApiError::invalid("account.time_zone", problem))?;
    Ok(match wanted.time_zone.as_str() {
        "" => DEFAULT_TIME_ZONE,
        name => name,
    })
}

fn parent_of_non_client() -> ApiError {
    ApiError::invalid("account.parent_id", "only client accounts have a parent")
}

pub async fn create(
    pool: &DbPool,
    caller: &Caller,
    request: pb::CreateAccountRequest,
) -> ApiResult<pb::CreateAccountResponse> {
    let key = RequestKey::new(caller, "CreateAccount", &request.request_id)?;
    let wanted = request.account.unwrap_or_default();
    let kind = required_kind(&wanted)?;
    valid_display_name(&wanted)?;
    let time_zone = valid_time_zone(&wanted)?;

    replay::write(pool, &key, async |conn| {
        let parent_id = match kind {
            AccountKind::Partner | AccountKind::Standard => {
                // Signing up is a platform flow: only services create top-level accounts.
                caller.require_service()?;
                if !wanted.parent_id.is_empty() {
                    return Err(parent_of_non_client());
                }
                None
            }
            AccountKind::Client => Some(client_parent(conn, caller, &wanted.parent_id).await?),
        };
        let account = accounts::insert(
            conn,
            NewAccount {
                id: Uuid::now_v7(),
                kind,
                parent_id,
                display_name: &wanted.display_name,
                time_zone,
            },
        )
        .await?;
        Ok(pb::CreateAccountResponse {
            account: Some(to_proto(&account)),
        })
    })
    .await
}

/// The partner a new client goes under: any partner for a service token; for a partner's
/// admin, the signed-in partner itself.
async fn client_parent(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
) -> ApiResult<Uuid> {
    let parent_id = if caller.is_service() {
        fields::id("account.parent_id", requested)?
    } else {
        caller.require_admin()?;
        let own = caller.account()?;
        if !requested.is_empty() && fields::id("account.parent_id", requested)? != own {
            return Err(denied(fields::id("account.parent_id", requested)?));
        }
        own
    };
    let parent = accounts::get_for_share(conn, parent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account", parent_id))?;
    if parent.kind != AccountKind::Partner {
        return Err(if caller.is_service() {
            ApiError::precondition(
                "ACCOUNT_KIND",
                "account.parent_id",
                "the parent of a client must be a partner",
            )
        } else {
            ApiError::PermissionDenied("only a partner's admin creates client accounts".into())
        });
    }
    Ok(parent_id)
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetAccountRequest,
) -> ApiResult<pb::GetAccountResponse> {
    let mut conn = trellis_platform::db::connect(pool).await?;
    let id = access::Target::new(&request.id, "id", Need::Read)
        .resolve(&mut conn, caller)
        .await?;
    let account = accounts::get(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("account", id))?;
    Ok(pb::GetAccountResponse {
        account: Some(to_proto(&account)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListAccountsRequest,
) -> ApiResult<pb::ListAccountsResponse> {
    let pager = Pager::parse(request.page_size, &request.page_token)?;
    let kind = kind_from_proto("kind", request.kind)?;
    let parent_id = fields::optional_id("parent_id", &request.parent_id)?;
    let visibility = if caller.is_service() {
        Visibility::All
    } else {
        let own = caller.account()?;
        let admin = caller.role() == Role::Admin;
        if let Some(parent) = parent_id
            && (parent != own || !admin)
        {
            return Err(denied(parent));
        }
        Visibility::Member {
            account: own,
            with_clients: admin,
        }
    };
    let filter = AccountFilter {
        visibility,
        parent_id,
        kind,
    };
    let mut conn = trellis_platform::db::connect(pool).await?;
    let (accounts, next_page_token) = pager
        .fill(
            &mut conn,
            |a| a.id,
            to_proto,
            |conn, after, limit| Box::pin(accounts::list(conn, filter, after, limit)),
        )
        .await?;
    Ok(pb::ListAccountsResponse {
        accounts,
        next_page_token,
    })
}

pub async fn update(
    pool: &DbPool,
    caller: &Caller,
    request: pb::UpdateAccountRequest,
) -> ApiResult<pb::UpdateAccountResponse> {
    let key = RequestKey::new(caller, "UpdateAccount", &request.request_id)?;
    let wanted = request.account.unwrap_or_default();
    let mask = Mask::parse(
        request.update_mask.as_ref(),
        &[
            ("display_name", !wanted.display_name.is_empty()),
            ("kind", wanted.kind != 0),
            ("parent_id", !wanted.parent_id.is_empty()),
            ("time_zone", !wanted.time_zone.is_empty()),
        ],
    )?;
    access::role(caller, Need::Admin)?;

    replay::write(pool, &key, async |conn| {
        let id = access::Target::new(&wanted.id, "account.id", Need::Admin)
            .resolve(conn, caller)
            .await?;
        let current = accounts::get_for_update(conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found("account", id))?;
        trellis_platform::etag::require(&wanted.etag, &current.etag(), "account")?;
        let next = apply_mask(conn, caller, &current, &wanted, &mask).await?;
        let account = if (
            &next.kind,
            &next.parent_id,
            &next.display_name,
            &next.time_zone,
        ) == (
            &current.kind,
            &current.parent_id,
            &current.display_name,
            &current.time_zone,
        ) {
            current
        } else {
            accounts::update(conn, &next).await?
        };
        Ok(pb::UpdateAccountResponse {
            account: Some(to_proto(&account)),
        })
    })
    .await
}

/// The account with the masked fields of `wanted`. Moving an account between families
/// (kind, parent) needs a service token and must leave a consistent tree.
async fn apply_mask(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    current: &Account,
    wanted: &pb::Account,
    mask: &Mask,
) -> ApiResult<Account> {
    let mut next = current.clone();
    if mask.has("display_name") {
        valid_display_name(wanted)?;
        next.display_name = wanted.display_name.clone();
    }
    if mask.has("time_zone") {
        next.time_zone = valid_time_zone(wanted)?.to_owned();
    }
    if mask.has("kind") {
        next.kind = required_kind(wanted)?;
    }
    if mask.has("parent_id") {
        next.parent_id = fields::optional_id("account.parent_id", &wanted.parent_id)?;
    } else if next.kind != AccountKind::Client {
        next.parent_id = None;
    }
    if (next.kind, next.parent_id) == (current.kind, current.parent_id) {
        return Ok(next);
    }
    if !caller.is_service() {
        return Err(ApiError::PermissionDenied(
            "kind and parent_id change only with a service token".into(),
        ));
    }
    match (next.kind, next.parent_id) {
        (AccountKind::Client, None) => {
            return Err(ApiError::invalid(
                "account.parent_id",
                "a client needs a partner",
            ));
        }
        (AccountKind::Client, Some(parent)) => {
            let partner = accounts::get_for_share(conn, parent).await?;
            if parent == next.id || partner.is_none_or(|p| p.kind != AccountKind::Partner) {
                return Err(ApiError::precondition(
                    "ACCOUNT_KIND",
                    "account.parent_id",
                    "the parent of a client must be a partner",
                ));
            }
        }
        (_, Some(_)) => {
            return Err(parent_of_non_client());
        }
        (_, None) => {}
    }
    if current.kind == AccountKind::Partner
        && next.kind != AccountKind::Partner
        && accounts::holdings(conn, current.id).await?.clients > 0
    {
        return Err(ApiError::precondition(
            "CLIENTS",
            "account.kind",
            "a partner with clients stays a partner; move or delete its clients first",
        ));
    }
    Ok(next)
}

pub async fn delete(
    pool: &DbPool,
    caller: &Caller,
    request: pb::DeleteAccountRequest,
) -> ApiResult<pb::DeleteAccountResponse> {
    let key = RequestKey::new(caller, "DeleteAccount", &request.request_id)?;
    let id = fields::id("id", &request.id)?;
    access::role(caller, Need::Admin)?;

    replay::write(pool, &key, async |conn| {
        // A partner's admin deletes its clients; everything else is a platform flow.
        if !caller.is_service() {
            let own = caller.account()?;
            let found = accounts::get(conn, id).await?;
            if found.is_none_or(|account| account.parent_id != Some(own)) {
                return Err(denied(id));
            }
        }
        let current = accounts::get_for_update(conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found("account", id))?;
        trellis_platform::etag::require(&request.etag, &current.etag(), "account")?;
        let holdings = accounts::holdings(conn, id).await?;
        if !request.force {
            let mut refusals = Vec::new();
            for (count, what) in [
                (holdings.clients, "client accounts"),
                (holdings.data_sources, "data sources"),
                (holdings.klips, "Klips"),
                (holdings.dashboards, "dashboards"),
            ] {
                if count > 0 {
                    refusals.push(PreconditionViolation::new(
                        "NOT_EMPTY",
                        format!("accounts/{id}"),
                        format!("the account has {count} {what}; delete them or set force"),
                    ));
                }
            }
            if !refusals.is_empty() {
                return Err(ApiError::FailedPrecondition(refusals));
            }
        }
        accounts::delete(conn, id).await?;
        Ok(pb::DeleteAccountResponse {})
    })
    .await
}
