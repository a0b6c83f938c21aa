//! Klips: created, read, listed, changed and deleted in an account, bound only to data
//! sources of that account.

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiResult, Violations};
use uuid::Uuid;

use super::access::{self, Need};
use crate::domain::klip::KlipDefinition;
use crate::domain::stored::Klip;
use crate::store::{dashboards, data_sources, klips};

/// Adds a violation for every binding whose data source is not in `account`. The
/// description is the same whether the id exists elsewhere or not at all.
pub async fn check_bindings(
    conn: &mut AsyncPgConnection,
    violations: &mut Violations,
    account: Uuid,
    prefix: &str,
    definition: &KlipDefinition,
) -> ApiResult<()> {
    let wanted = definition.bindings.iter().flatten().copied().collect();
    let present = data_sources::existing(conn, account, &wanted).await?;
    for (i, binding) in definition.bindings.iter().enumerate() {
        if let Some(id) = binding
            && !present.contains(id)
        {
            violations.add(
                format!("{prefix}.bindings[{i}].data_source_id"),
                format!("no data source {id} in the Klip's account"),
            );
        }
    }
    Ok(())
}

/// The variables a definition uses, once it keeps its own rules (its name, its formulas).
pub fn check(definition: &KlipDefinition, mut violations: Violations) -> ApiResult<Vec<String>> {
    let variables = definition.check(&mut violations, "klip");
    violations.into_result()?;
    Ok(variables)
}

/// A new Klip in the account the caller names (`requested`, empty: its own), using
/// `variables`.
pub async fn create(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    definition: &KlipDefinition,
    variables: &[String],
) -> ApiResult<Klip> {
    let account = access::Target::new(requested, "klip.account_id", Need::Write)
        .resolve(conn, caller)
        .await?;
    let mut violations = Violations::new();
    check_bindings(conn, &mut violations, account, "klip", definition).await?;
    violations.into_result()?;
    Ok(klips::insert(conn, Uuid::now_v7(), account, definition, variables).await?)
}

/// Writes `change` (the caller's fields over the current definition, adding what does not
/// parse to the violations) over the Klip `id`, read at the caller's etag. The same
/// definition again writes nothing.
pub async fn update(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    (id, sent_etag): (Uuid, &str),
    change: impl FnOnce(&KlipDefinition, &mut Violations) -> KlipDefinition,
) -> ApiResult<Klip> {
    let account = access::Target::new(requested, "klip.account_id", Need::Write)
        .resolve(conn, caller)
        .await?;
    let current = super::locked::<Klip>(conn, account, &id, sent_etag).await?;
    let mut violations = Violations::new();
    let next = change(&current.definition, &mut violations);
    let variables = check(&next, violations)?;
    let mut violations = Violations::new();
    check_bindings(conn, &mut violations, account, "klip", &next).await?;
    violations.into_result()?;
    if next == current.definition {
        return Ok(current);
    }
    Ok(klips::overwrite(conn, account, id, &next, &variables).await?)
}

/// Deletes the Klip `id` of the account a delete names, at the caller's etag.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    (id, sent_etag): (Uuid, &str),
) -> ApiResult<()> {
    let account = access::Target::new(requested, "account_id", Need::Write)
        .resolve(conn, caller)
        .await?;
    super::locked::<Klip>(conn, account, &id, sent_etag).await?;
    // The dashboards showing it lose it (the foreign key cascades): a change of theirs.
    // Its embeds go the same way, revoked with their render caches (F6).
    dashboards::touch_showing(conn, id).await?;
    klips::delete(conn, account, id).await?;
    Ok(())
}
