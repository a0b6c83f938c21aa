//! Variables and their per-user values.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::schema::{user_variable_values as uv, variables};
use crate::domain::stored::{UserVariableValue, Variable};

#[derive(Queryable, Selectable)]
#[diesel(table_name = variables, check_for_backend(diesel::pg::Pg))]
struct VariableRow {
    account_id: Uuid,
    name: String,
    default_value: String,
    description: String,
    revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    allowed_values: Vec<String>,
}

impl From<VariableRow> for Variable {
    fn from(row: VariableRow) -> Self {
        Variable {
            account_id: row.account_id,
            name: row.name,
            default_value: row.default_value,
            description: row.description,
            allowed_values: row.allowed_values,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Every variable of the account with its default, by name.
pub async fn defaults(
    conn: &mut AsyncPgConnection,
    account: Uuid,
) -> Result<BTreeMap<String, Variable>, StoreError> {
    Ok(variables::table
        .filter(variables::account_id.eq(account))
        .select(VariableRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(|row| (row.name.clone(), row.into()))
        .collect())
}

pub struct NewVariable<'a> {
    pub name: &'a str,
    pub default_value: &'a str,
    pub description: &'a str,
    pub allowed_values: &'a [String],
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    variable: &NewVariable<'_>,
) -> Result<Variable, StoreError> {
    Ok(diesel::insert_into(variables::table)
        .values((
            variables::account_id.eq(account),
            variables::name.eq(variable.name),
            variables::default_value.eq(variable.default_value),
            variables::description.eq(variable.description),
            variables::allowed_values.eq(variable.allowed_values),
        ))
        .returning(VariableRow::as_returning())
        .get_result(conn)
        .await?
        .into())
}

/// Creates the variables the account lacks and keeps the ones it has (I4); returns the
/// names created, sorted.
pub async fn insert_missing(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    wanted: &[NewVariable<'_>],
) -> Result<Vec<String>, StoreError> {
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let rows: Vec<_> = wanted
        .iter()
        .map(|v| {
            (
                variables::account_id.eq(account),
                variables::name.eq(v.name),
                variables::default_value.eq(v.default_value),
                variables::description.eq(v.description),
                variables::allowed_values.eq(v.allowed_values),
            )
        })
        .collect();
    let mut created: Vec<String> = diesel::insert_into(variables::table)
        .values(rows)
        .on_conflict((variables::account_id, variables::name))
        .do_nothing()
        .returning(variables::name)
        .get_results(conn)
        .await?;
    created.sort();
    Ok(created)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    variable: &Variable,
) -> Result<Variable, StoreError> {
    Ok(
        diesel::update(variables::table.find((variable.account_id, &variable.name)))
            .set((
                variables::default_value.eq(&variable.default_value),
                variables::description.eq(&variable.description),
                variables::allowed_values.eq(&variable.allowed_values),
                variables::revision.eq(variables::revision + 1),
                variables::updated_at.eq(diesel::dsl::now),
            ))
            .returning(VariableRow::as_returning())
            .get_result(conn)
            .await?
            .into(),
    )
}

/// The user's values in the account, by variable name.
pub async fn user_values(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
) -> Result<BTreeMap<String, String>, StoreError> {
    Ok(uv::table
        .filter(uv::account_id.eq(account))
        .filter(uv::user_id.eq(user))
        .select((uv::name, uv::value))
        .load::<(String, String)>(conn)
        .await?
        .into_iter()
        .collect())
}

pub async fn set_user_value(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
    name: &str,
    value: &str,
) -> Result<UserVariableValue, StoreError> {
    let (updated_at,): (DateTime<Utc>,) = diesel::insert_into(uv::table)
        .values((
            uv::account_id.eq(account),
            uv::user_id.eq(user),
            uv::name.eq(name),
            uv::value.eq(value),
        ))
        .on_conflict((uv::account_id, uv::user_id, uv::name))
        .do_update()
        .set((
            uv::value.eq(excluded(uv::value)),
            uv::updated_at.eq(diesel::dsl::now),
        ))
        .returning((uv::updated_at,))
        .get_result(conn)
        .await?;
    Ok(UserVariableValue {
        account_id: account,
        user_id: user.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
        updated_at,
    })
}

pub async fn clear_user_value(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: &str,
    name: &str,
) -> Result<(), StoreError> {
    diesel::delete(uv::table.find((account, user, name)))
        .execute(conn)
        .await?;
    Ok(())
}

named_rows!(variables, VariableRow, Variable);
