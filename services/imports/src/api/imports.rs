//! GetImport, ListImports: imports with their state and id mapping.

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::pagination::PageRequest;
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use super::{ImportsApi, caller, convert, member_of, parse_id};
use crate::store::imports::{self, ImportFilter};

impl ImportsApi {
    pub(super) async fn get_import(
        &self,
        request: Request<pb::GetImportRequest>,
    ) -> ApiResult<pb::GetImportResponse> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let mut conn = self.conn().await?;
        let import = imports::get(&mut conn, id)
            .await?
            .filter(|i| {
                member_of(&caller, i.destination_account_id)
                    || member_of(&caller, i.source_account_id)
            })
            .ok_or_else(|| ApiError::not_found("import", id))?;
        Ok(pb::GetImportResponse {
            import: Some(convert::import(&import)),
        })
    }

    pub(super) async fn list_imports(
        &self,
        request: Request<pb::ListImportsRequest>,
    ) -> ApiResult<pb::ListImportsResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let before = page
            .after
            .as_deref()
            .map(|key| {
                Uuid::parse_str(key)
                    .map_err(|_| ApiError::invalid("page_token", "not a token this service issued"))
            })
            .transpose()?;
        let optional = |field: &str, value: &str| {
            (!value.is_empty())
                .then(|| parse_id(field, value))
                .transpose()
        };
        let mut filter = ImportFilter {
            destination: optional("destination_account_id", &request.destination_account_id)?,
            source: optional("source_account_id", &request.source_account_id)?,
        };
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
            .any(|account| member_of(&caller, account));
        if !allowed {
            return Err(ApiError::PermissionDenied(
                "imports are listed for the signed-in account".into(),
            ));
        }
        let mut conn = self.conn().await?;
        let mut found = imports::list(&mut conn, filter, before, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut found, |i| i.id.to_string());
        Ok(pb::ListImportsResponse {
            imports: found.iter().map(convert::import).collect(),
            next_page_token,
        })
    }
}
