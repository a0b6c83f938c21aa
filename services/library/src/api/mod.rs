//! gRPC handlers of `trellis.library.v1.LibraryService`, one module per resource group.
//! Each handler authorizes, validates, calls the domain and the store, and maps the result
//! to the wire. Rendering and embeds come with a later issue and answer UNIMPLEMENTED (the
//! generated default).

mod access;
mod accounts;
mod apply;
mod clone;
mod closure;
mod company_properties;
mod convert;
mod dashboards;
mod data_source_wire;
mod data_sources;
mod klip_wire;
mod klips;
mod mask;
mod replay;
mod resolution;
mod variables;

use tonic::{Request, Response, Status};
use trellis_platform::auth::{Caller, caller};
use trellis_platform::db::DbPool;
use trellis_platform::error::ApiResult;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::library_service_server::LibraryService;

use crate::Settings;

pub struct LibraryApi {
    pool: DbPool,
}

impl LibraryApi {
    pub fn new(context: &ServiceContext<Settings>) -> Self {
        Self {
            pool: context.pool.clone(),
        }
    }
}

fn open<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    let caller = caller(&request)?;
    Ok((caller, request.into_inner()))
}

fn answer<T>(outcome: ApiResult<T>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

/// The trait's methods, each handed to `module::function(pool, caller, message)`.
macro_rules! handlers {
    ($($method:ident($request:ident) -> $response:ident => $module:ident::$function:ident;)*) => {
        #[tonic::async_trait]
        impl LibraryService for LibraryApi {
            $(
                async fn $method(
                    &self,
                    request: Request<pb::$request>,
                ) -> Result<Response<pb::$response>, Status> {
                    let (caller, message) = open(request)?;
                    answer($module::$function(&self.pool, &caller, message).await)
                }
            )*
        }
    };
}

handlers! {
    create_account(CreateAccountRequest) -> CreateAccountResponse => accounts::create;
    get_account(GetAccountRequest) -> GetAccountResponse => accounts::get;
    list_accounts(ListAccountsRequest) -> ListAccountsResponse => accounts::list;
    update_account(UpdateAccountRequest) -> UpdateAccountResponse => accounts::update;
    delete_account(DeleteAccountRequest) -> DeleteAccountResponse => accounts::delete;

    set_company_property(SetCompanyPropertyRequest) -> SetCompanyPropertyResponse
        => company_properties::set;
    get_company_property(GetCompanyPropertyRequest) -> GetCompanyPropertyResponse
        => company_properties::get;
    list_company_properties(ListCompanyPropertiesRequest) -> ListCompanyPropertiesResponse
        => company_properties::list;
    delete_company_property(DeleteCompanyPropertyRequest) -> DeleteCompanyPropertyResponse
        => company_properties::delete;

    create_variable(CreateVariableRequest) -> CreateVariableResponse => variables::create;
    get_variable(GetVariableRequest) -> GetVariableResponse => variables::get;
    list_variables(ListVariablesRequest) -> ListVariablesResponse => variables::list;
    update_variable(UpdateVariableRequest) -> UpdateVariableResponse => variables::update;
    delete_variable(DeleteVariableRequest) -> DeleteVariableResponse => variables::delete;
    set_user_variable_value(SetUserVariableValueRequest) -> SetUserVariableValueResponse
        => resolution::set_user_value;
    resolve_properties(ResolvePropertiesRequest) -> ResolvePropertiesResponse
        => resolution::resolve;

    create_data_source(CreateDataSourceRequest) -> CreateDataSourceResponse
        => data_sources::create;
    get_data_source(GetDataSourceRequest) -> GetDataSourceResponse => data_sources::get;
    list_data_sources(ListDataSourcesRequest) -> ListDataSourcesResponse => data_sources::list;
    update_data_source(UpdateDataSourceRequest) -> UpdateDataSourceResponse
        => data_sources::update;
    delete_data_source(DeleteDataSourceRequest) -> DeleteDataSourceResponse
        => data_sources::delete;
    resolve_data_source(ResolveDataSourceRequest) -> ResolveDataSourceResponse
        => data_sources::resolve;

    create_klip(CreateKlipRequest) -> CreateKlipResponse => klips::create;
    get_klip(GetKlipRequest) -> GetKlipResponse => klips::get;
    list_klips(ListKlipsRequest) -> ListKlipsResponse => klips::list;
    update_klip(UpdateKlipRequest) -> UpdateKlipResponse => klips::update;
    delete_klip(DeleteKlipRequest) -> DeleteKlipResponse => klips::delete;

    create_dashboard(CreateDashboardRequest) -> CreateDashboardResponse => dashboards::create;
    get_dashboard(GetDashboardRequest) -> GetDashboardResponse => dashboards::get;
    list_dashboards(ListDashboardsRequest) -> ListDashboardsResponse => dashboards::list;
    update_dashboard(UpdateDashboardRequest) -> UpdateDashboardResponse => dashboards::update;
    delete_dashboard(DeleteDashboardRequest) -> DeleteDashboardResponse => dashboards::delete;

    get_dependency_closure(GetDependencyClosureRequest) -> GetDependencyClosureResponse
        => closure::get;
    clone_assets(CloneAssetsRequest) -> CloneAssetsResponse => clone::clone;
    apply_klip_definitions(ApplyKlipDefinitionsRequest) -> ApplyKlipDefinitionsResponse
        => apply::apply_klips;
    apply_data_source_definitions(ApplyDataSourceDefinitionsRequest)
        -> ApplyDataSourceDefinitionsResponse => apply::apply_data_sources;
}
