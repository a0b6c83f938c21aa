//! gRPC handlers of `trellis.library.v1.LibraryService`, one module per resource group.
//! Each handler authorizes, validates, calls the domain and the store, and maps the result
//! to the wire. Rendering and embeds (`render`, `embeds`) are handed the [`Renderer`], which
//! also reaches the refresh service; the rest the database pool.

mod accounts;
mod apply;
mod batch;
mod clone;
mod closure;
mod company_properties;
pub(crate) mod convert;
mod dashboards;
mod data_source_wire;
mod data_sources;
mod embeds;
mod klip_wire;
mod klips;
mod mask;
pub mod memberships;
mod render;
mod render_wire;
mod resolution;
mod source_options;
mod strings;
mod variables;

pub use crate::app::pages::MAX_PAGE_BYTES;

use std::sync::Arc;

use tonic::{Request, Response, Status};
use trellis_platform::auth::{Caller, caller};
use trellis_platform::db::DbPool;
use trellis_platform::error::ApiResult;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::library_service_server::LibraryService;

use crate::Settings;
use crate::render::Renderer;
use crate::token_registry::TokenRegistry;

pub struct LibraryApi {
    pool: DbPool,
    renderer: Arc<Renderer>,
    members: memberships::Members,
    saving: data_sources::Saving,
    resolving: data_sources::Resolving,
}

impl LibraryApi {
    pub fn new(
        context: &ServiceContext<Settings>,
        renderer: Arc<Renderer>,
        registry: Arc<TokenRegistry>,
        memberships: Arc<trellis_platform::gate::MembershipCache>,
    ) -> Self {
        Self {
            pool: context.pool.clone(),
            members: memberships::Members {
                pool: context.pool.clone(),
                cache: memberships,
            },
            saving: data_sources::Saving {
                pool: context.pool.clone(),
                registry,
            },
            resolving: data_sources::Resolving {
                pool: context.pool.clone(),
                clock: renderer.clock(),
            },
            renderer,
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

/// The trait's methods, each handed to `module::function(pool, caller, message)`, or with
/// `via field` to `module::function(&self.field, caller, message)`, once every string in the
/// message is free of NUL and control characters (`strings`).
macro_rules! handlers {
    ($($method:ident($request:ident) -> $response:ident
        => $module:ident::$function:ident $(via $state:ident)?;)*) => {
        /// The full name of every request message the service takes.
        #[cfg(test)]
        pub(crate) const REQUEST_MESSAGES: &[&str] =
            &[$(concat!("trellis.library.v1.", stringify!($request))),*];

        #[tonic::async_trait]
        impl LibraryService for LibraryApi {
            $(
                async fn $method(
                    &self,
                    request: Request<pb::$request>,
                ) -> Result<Response<pb::$response>, Status> {
                    let (caller, message) = open(request)?;
                    let name = concat!("trellis.library.v1.", stringify!($request));
                    if let Err(error) = strings::check(name, &message) {
                        return answer(Err(error));
                    }
                    let state = handlers!(@state self $($state)?);
                    answer($module::$function(state, &caller, message).await)
                }
            )*
        }
    };
    (@state $self:ident) => { &$self.pool };
    (@state $self:ident $state:ident) => { &$self.$state };
}

handlers! {
    create_account(CreateAccountRequest) -> CreateAccountResponse => accounts::create;
    get_account(GetAccountRequest) -> GetAccountResponse => accounts::get;
    list_accounts(ListAccountsRequest) -> ListAccountsResponse => accounts::list;
    update_account(UpdateAccountRequest) -> UpdateAccountResponse => accounts::update;
    delete_account(DeleteAccountRequest) -> DeleteAccountResponse => accounts::delete;

    create_membership(CreateMembershipRequest) -> CreateMembershipResponse
        => memberships::create via members;
    list_memberships(ListMembershipsRequest) -> ListMembershipsResponse
        => memberships::list via members;
    delete_membership(DeleteMembershipRequest) -> DeleteMembershipResponse
        => memberships::delete via members;
    check_membership(CheckMembershipRequest) -> CheckMembershipResponse
        => memberships::check via members;
    list_importable_assets(ListImportableAssetsRequest) -> ListImportableAssetsResponse
        => memberships::importable via members;

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
        => data_sources::create via saving;
    get_data_source(GetDataSourceRequest) -> GetDataSourceResponse => data_sources::get;
    list_data_sources(ListDataSourcesRequest) -> ListDataSourcesResponse => data_sources::list;
    update_data_source(UpdateDataSourceRequest) -> UpdateDataSourceResponse
        => data_sources::update via saving;
    delete_data_source(DeleteDataSourceRequest) -> DeleteDataSourceResponse
        => data_sources::delete;
    resolve_data_source(ResolveDataSourceRequest) -> ResolveDataSourceResponse
        => data_sources::resolve via resolving;

    create_klip(CreateKlipRequest) -> CreateKlipResponse => klips::create;
    get_klip(GetKlipRequest) -> GetKlipResponse => klips::get;
    list_klips(ListKlipsRequest) -> ListKlipsResponse => klips::list;
    update_klip(UpdateKlipRequest) -> UpdateKlipResponse => klips::update;
    delete_klip(DeleteKlipRequest) -> DeleteKlipResponse => klips::delete;
    render_klip(RenderKlipRequest) -> RenderKlipResponse => render::render via renderer;

    create_dashboard(CreateDashboardRequest) -> CreateDashboardResponse => dashboards::create;
    get_dashboard(GetDashboardRequest) -> GetDashboardResponse => dashboards::get;
    list_dashboards(ListDashboardsRequest) -> ListDashboardsResponse => dashboards::list;
    update_dashboard(UpdateDashboardRequest) -> UpdateDashboardResponse => dashboards::update;
    delete_dashboard(DeleteDashboardRequest) -> DeleteDashboardResponse => dashboards::delete;

    create_embed(CreateEmbedRequest) -> CreateEmbedResponse => embeds::create via renderer;
    get_embed(GetEmbedRequest) -> GetEmbedResponse => embeds::get via renderer;
    list_embeds(ListEmbedsRequest) -> ListEmbedsResponse => embeds::list via renderer;
    delete_embed(DeleteEmbedRequest) -> DeleteEmbedResponse => embeds::delete via renderer;
    view_embed(ViewEmbedRequest) -> ViewEmbedResponse => render::view_embed via renderer;

    get_dependency_closure(GetDependencyClosureRequest) -> GetDependencyClosureResponse
        => closure::get;
    batch_get_assets(BatchGetAssetsRequest) -> BatchGetAssetsResponse => batch::batch_get;
    clone_assets(CloneAssetsRequest) -> CloneAssetsResponse => clone::clone;
    apply_klip_definitions(ApplyKlipDefinitionsRequest) -> ApplyKlipDefinitionsResponse
        => apply::apply_klips;
    apply_data_source_definitions(ApplyDataSourceDefinitionsRequest)
        -> ApplyDataSourceDefinitionsResponse => apply::apply_data_sources;
}
