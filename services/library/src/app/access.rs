//! Who may act on which account (DESIGN.md section 3).
//!
//! Members act in the account they are signed into; viewers only read. A partner's admin
//! also acts on the partner's clients. Service tokens act on any account and must name it.
//! A member asking for any other account is refused with the same PERMISSION_DENIED
//! whether that account exists or not, so nothing is learned about other tenants.

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::{Caller, Role};
use trellis_platform::db::{DbConn, DbPool};
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::request as fields;
use uuid::Uuid;

use crate::store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any role.
    Read,
    /// Editors and admins.
    Write,
    /// Admins.
    Admin,
}

/// Checks the caller's role for `need`, before anything else is looked at.
pub fn role(caller: &Caller, need: Need) -> ApiResult<()> {
    match need {
        Need::Read => Ok(()),
        Need::Write => caller.require_writer(),
        Need::Admin => caller.require_admin(),
    }
}

/// A connection and the account a read names in `account_id`, once the caller may read it.
pub async fn reading(pool: &DbPool, caller: &Caller, requested: &str) -> ApiResult<(DbConn, Uuid)> {
    let mut conn = trellis_platform::db::connect(pool).await?;
    let account = account(&mut conn, caller, requested, "account_id", Need::Read).await?;
    Ok((conn, account))
}

/// The account a request names: the text sent in `field` (empty for the signed-in one)
/// and what the caller wants to do there.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub requested: &'a str,
    pub field: &'a str,
    pub need: Need,
}

impl<'a> Target<'a> {
    pub fn new(requested: &'a str, field: &'a str, need: Need) -> Self {
        Target {
            requested,
            field,
            need,
        }
    }

    /// The account, once the caller may act on it (see [`account`]).
    pub async fn resolve(self, conn: &mut AsyncPgConnection, caller: &Caller) -> ApiResult<Uuid> {
        account(conn, caller, self.requested, self.field, self.need).await
    }
}

/// The account a request acts on (`requested`, empty for the signed-in one), once the
/// caller is allowed to act on it with `need`. `field` names the request field.
pub async fn account(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    field: &str,
    need: Need,
) -> ApiResult<Uuid> {
    role(caller, need)?;
    if caller.is_service() {
        if requested.is_empty() {
            return Err(ApiError::invalid(field, "is required with a service token"));
        }
        let id = fields::id(field, requested)?;
        return match store::accounts::get(conn, id).await? {
            Some(_) => Ok(id),
            None => Err(ApiError::not_found("account", id)),
        };
    }
    let own = caller.account()?;
    let target = if requested.is_empty() {
        own
    } else {
        fields::id(field, requested)?
    };
    let found = store::accounts::get(conn, target).await?;
    if target == own {
        return match found {
            Some(_) => Ok(own),
            None => Err(ApiError::not_found("account", own)),
        };
    }
    let is_my_client = found.is_some_and(|account| account.parent_id == Some(own));
    if caller.role() == Role::Admin && is_my_client {
        Ok(target)
    } else {
        Err(denied(target))
    }
}

/// The refusal for an account the caller may not act on, existing or not.
pub fn denied(account: Uuid) -> ApiError {
    ApiError::PermissionDenied(format!("no access to account {account}"))
}

/// The longest user id (a token's `sub`) the tables hold.
pub const MAX_USER_ID_CHARS: usize = 256;

/// A user id the tables can hold: not too long, no control characters.
pub fn check_user_id_shape(field: &str, user: &str) -> ApiResult<()> {
    if user.chars().count() > MAX_USER_ID_CHARS || user.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {MAX_USER_ID_CHARS} characters without control characters"),
        ));
    }
    Ok(())
}

/// The user whose variable values apply: the caller by default; another user's only for
/// service tokens, which otherwise act for no user.
pub fn user<'a>(caller: &'a Caller, requested: &'a str) -> ApiResult<Option<&'a str>> {
    let user = if requested.is_empty() {
        caller.user()
    } else {
        requested
    };
    check_user_id_shape("user_id", user)?;
    if requested.is_empty() {
        return Ok((!caller.is_service()).then(|| caller.user()));
    }
    if caller.is_service() || requested == caller.user() {
        Ok(Some(requested))
    } else {
        Err(ApiError::PermissionDenied(
            "another user's values need a service token".into(),
        ))
    }
}

/// A client's company properties decide what its imported dynamic data sources fetch with
/// the partner's tokens (I13, I14): they are the agency's to set, not the client's own
/// admins'. Anyone may set them in a partner or standard account they administer.
pub async fn require_agency_for_client(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    account: Uuid,
) -> ApiResult<()> {
    if caller.is_service() {
        return Ok(());
    }
    let Some(found) = store::accounts::get(conn, account).await? else {
        return Ok(());
    };
    let Some(partner) = found.parent_id else {
        return Ok(());
    };
    let signed_into_partner = caller.account().is_ok_and(|own| own == partner);
    if signed_into_partner
        || store::memberships::admin_of_partner(conn, account, caller.user()).await?
    {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "a client's company properties are set by its partner's admins (I13)".into(),
        ))
    }
}
