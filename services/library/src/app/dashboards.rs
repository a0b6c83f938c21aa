//! Dashboards: created, read, listed, changed and deleted in an account, showing only Klips
//! of that account.

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiResult, Violations};
use uuid::Uuid;

use super::access::{self, Need};
use crate::domain::dashboard::DashboardDefinition;
use crate::domain::stored::Dashboard;
use crate::store::{dashboards, klips};

/// A definition's own rules (its name, its layout), before anything is looked up.
pub fn check(definition: &DashboardDefinition, mut violations: Violations) -> ApiResult<()> {
    definition.check(&mut violations, "dashboard");
    violations.into_result()
}

/// Every Klip shown must be in the dashboard's account; the same description whether an id
/// exists elsewhere or not at all.
async fn check_klips(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    definition: &DashboardDefinition,
) -> ApiResult<()> {
    let wanted = definition.klip_ids.iter().copied().collect();
    let present = klips::existing(conn, account, &wanted).await?;
    let mut violations = Violations::new();
    for (i, id) in definition.klip_ids.iter().enumerate() {
        if !present.contains(id) {
            violations.add(
                format!("dashboard.klip_ids[{i}]"),
                format!("no Klip {id} in the dashboard's account"),
            );
        }
    }
    violations.into_result()
}

/// A new dashboard in the account the caller names (`requested`, empty: its own).
pub async fn create(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    definition: &DashboardDefinition,
) -> ApiResult<Dashboard> {
    let account = access::Target::new(requested, "dashboard.account_id", Need::Write)
        .resolve(conn, caller)
        .await?;
    check_klips(conn, account, definition).await?;
    Ok(dashboards::insert(conn, Uuid::now_v7(), account, definition).await?)
}

/// Writes `change` (the caller's fields over the current definition, adding what does not
/// parse to the violations) over the dashboard `id`, read at the caller's etag. The same
/// definition again writes nothing.
pub async fn update(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    (id, sent_etag): (Uuid, &str),
    change: impl FnOnce(&DashboardDefinition, &mut Violations) -> ApiResult<DashboardDefinition>,
) -> ApiResult<Dashboard> {
    let account = access::Target::new(requested, "dashboard.account_id", Need::Write)
        .resolve(conn, caller)
        .await?;
    let current = super::locked::<Dashboard>(conn, account, &id, sent_etag).await?;
    let mut violations = Violations::new();
    let next = change(&current.definition, &mut violations)?;
    check(&next, violations)?;
    check_klips(conn, account, &next).await?;
    if next == current.definition {
        return Ok(current);
    }
    Ok(dashboards::overwrite(conn, account, id, &next).await?)
}
