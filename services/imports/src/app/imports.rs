//! GetImport, ListImports: imports with their state and id mapping, for members of either
//! account.

use trellis_platform::auth::Caller;
use trellis_platform::db;
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use super::{App, member_of};
use crate::domain::import::Import;
use crate::store::imports::{self, ImportFilter};

impl App {
    pub async fn get_import(&self, caller: &Caller, id: Uuid) -> ApiResult<Import> {
        let mut conn = db::connect(&self.pool).await?;
        imports::get(&mut conn, id)
            .await?
            .filter(|i| {
                member_of(caller, i.destination_account_id)
                    || member_of(caller, i.source_account_id)
            })
            .ok_or_else(|| ApiError::not_found("import", id))
    }

    /// Imports into or out of the filter's accounts (a user's signed-in account as the
    /// destination when none is named), newest first after `before`, at most `limit`.
    pub async fn list_imports(
        &self,
        caller: &Caller,
        mut filter: ImportFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> ApiResult<Vec<Import>> {
        if filter.destination.is_none() && filter.source.is_none() {
            if caller.is_service() {
                return Err(ApiError::invalid(
                    "destination_account_id",
                    "set destination_account_id or source_account_id with a service token",
                ));
            }
            filter.destination = Some(caller.account()?);
        }
        let allowed = [filter.destination, filter.source]
            .into_iter()
            .flatten()
            .any(|account| member_of(caller, account));
        if !allowed {
            return Err(ApiError::PermissionDenied(
                "imports are listed for the signed-in account".into(),
            ));
        }
        let mut conn = db::connect(&self.pool).await?;
        Ok(imports::list(&mut conn, filter, before, limit).await?)
    }
}
