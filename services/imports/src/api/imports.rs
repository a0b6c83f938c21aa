//! GetImport, ListImports: imports with their state and id mapping.

use tonic::Request;
use trellis_platform::error::ApiResult;
use trellis_platform::pagination::PageRequest;
use trellis_platform::request::{self, caller};
use trellis_proto::imports::v1 as pb;

use super::{ImportsApi, convert};
use crate::store::imports::ImportFilter;

impl ImportsApi {
    pub(super) async fn get_import(
        &self,
        request: Request<pb::GetImportRequest>,
    ) -> ApiResult<pb::GetImportResponse> {
        let caller = caller(&request)?;
        let id = request::id("id", &request.get_ref().id)?;
        let import = self.app.get_import(&caller, id).await?;
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
        let filter = ImportFilter {
            destination: request::optional_id(
                "destination_account_id",
                &request.destination_account_id,
            )?,
            source: request::optional_id("source_account_id", &request.source_account_id)?,
        };
        let mut found = self
            .app
            .list_imports(&caller, filter, page.after_id()?, page.fetch_limit())
            .await?;
        let next_page_token = page.finish_keyed(&mut found, |i| i.id);
        Ok(pb::ListImportsResponse {
            imports: found.iter().map(convert::import).collect(),
            next_page_token,
        })
    }
}
