//! Users and memberships (DESIGN.md section 3, I15).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::auth::Role;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::schema::{accounts, memberships, users};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub account_id: Uuid,
    pub user_id: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = memberships, check_for_backend(diesel::pg::Pg))]
struct MembershipRow {
    account_id: Uuid,
    user_id: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = StoreError;

    fn try_from(row: MembershipRow) -> Result<Self, StoreError> {
        let role = Role::parse_member(&row.role)
            .ok_or_else(|| super::corrupt(format!("membership role {:?}", row.role)))?;
        Ok(Membership {
            account_id: row.account_id,
            user_id: row.user_id,
            role,
            created_at: row.created_at,
        })
    }
}

/// Gives `user` `role` in `account`, replacing the role it had there.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
    role: Role,
) -> Result<Membership, StoreError> {
    diesel::insert_into(users::table)
        .values(users::id.eq(user))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    diesel::insert_into(memberships::table)
        .values((
            memberships::account_id.eq(account),
            memberships::user_id.eq(user),
            memberships::role.eq(role.as_str()),
        ))
        .on_conflict((memberships::account_id, memberships::user_id))
        .do_update()
        .set(memberships::role.eq(excluded(memberships::role)))
        .returning(MembershipRow::as_returning())
        .get_result(conn)
        .await?
        .try_into()
}

pub async fn delete(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::delete(memberships::table.find((account, user)))
        .execute(conn)
        .await?
        > 0)
}

/// Whose memberships a list reads, and after which key.
pub enum MembersOf {
    /// The members of an account, by user, after a user id.
    Account(Uuid, Option<String>),
    /// The accounts a user is a member of, by account id, after an account id.
    User(String, Option<Uuid>),
}

/// A page of memberships, `limit` at most, in the order of `of`'s key.
pub async fn list(
    conn: &mut AsyncPgConnection,
    of: MembersOf,
    limit: i64,
) -> Result<Vec<Membership>, StoreError> {
    let query = memberships::table
        .select(MembershipRow::as_select())
        .limit(limit)
        .into_boxed();
    let query = match of {
        MembersOf::Account(account, after) => {
            let query = query
                .filter(memberships::account_id.eq(account))
                .order(memberships::user_id);
            match after {
                Some(after) => query.filter(memberships::user_id.gt(after)),
                None => query,
            }
        }
        MembersOf::User(user, after) => {
            let query = query
                .filter(memberships::user_id.eq(user))
                .order(memberships::account_id);
            match after {
                Some(after) => query.filter(memberships::account_id.gt(after)),
                None => query,
            }
        }
    };
    query
        .load(conn)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// The role `user` holds in `account`: its own membership, or admin when it is an admin of
/// the account's partner (agency staff working in a client). The higher of the two, and
/// whether it came from the partner.
pub async fn effective_role(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
) -> Result<Option<(Role, bool)>, StoreError> {
    let direct = direct_role(conn, account, user).await?;
    if direct == Some(Role::Admin) {
        return Ok(Some((Role::Admin, false)));
    }
    let partner_admin = admin_of_partner(conn, account, user).await?;
    Ok(if partner_admin {
        Some((Role::Admin, true))
    } else {
        direct.map(|role| (role, false))
    })
}

/// True when `user` is an admin of the partner of `account` (a client).
pub async fn admin_of_partner(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        accounts::table
            .inner_join(
                memberships::table.on(memberships::account_id.nullable().eq(accounts::parent_id)),
            )
            .filter(accounts::id.eq(account))
            .filter(memberships::user_id.eq(user))
            .filter(memberships::role.eq(Role::Admin.as_str())),
    ))
    .get_result(conn)
    .await?)
}

/// The role `user` holds in `account` by a membership of its own (not through a partner).
pub async fn direct_role(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
) -> Result<Option<Role>, StoreError> {
    let role: Option<String> = memberships::table
        .find((account, user))
        .select(memberships::role)
        .first(conn)
        .await
        .optional()?;
    Ok(role.as_deref().and_then(Role::parse_member))
}

/// How many admins `account` has besides `user`.
pub async fn other_admins(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
) -> Result<i64, StoreError> {
    Ok(memberships::table
        .filter(memberships::account_id.eq(account))
        .filter(memberships::user_id.ne(user))
        .filter(memberships::role.eq(Role::Admin.as_str()))
        .count()
        .get_result(conn)
        .await?)
}
