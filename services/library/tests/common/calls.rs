//! Any call of the library's API as a value, so that a test can list the calls it makes
//! (every write a viewer is refused, every read of another family's assets) and send them
//! in a loop, and short constructors for the calls such lists hold.

use tonic::Status;
use trellis_proto::library::v1 as pb;

use super::{Client, mask, with};

macro_rules! calls {
    ($($variant:ident($request:ident) => $method:ident;)*) => {
        /// One request of the library's API.
        #[derive(Debug, Clone)]
        pub enum Call {
            $($variant(pb::$request),)*
        }

        $(impl From<pb::$request> for Call {
            fn from(request: pb::$request) -> Self {
                Call::$variant(request)
            }
        })*

        impl Call {
            /// Sends the call with `token` as its bearer; the answer itself is dropped.
            pub async fn send(self, client: &mut Client, token: &str) -> Result<(), Status> {
                match self {
                    $(Call::$variant(request) => {
                        client.$method(with(token, request)).await.map(drop)
                    })*
                }
            }
        }
    };
}

calls! {
    CreateAccount(CreateAccountRequest) => create_account;
    GetAccount(GetAccountRequest) => get_account;
    ListAccounts(ListAccountsRequest) => list_accounts;
    UpdateAccount(UpdateAccountRequest) => update_account;
    DeleteAccount(DeleteAccountRequest) => delete_account;
    CreateMembership(CreateMembershipRequest) => create_membership;
    ListMemberships(ListMembershipsRequest) => list_memberships;
    DeleteMembership(DeleteMembershipRequest) => delete_membership;
    CheckMembership(CheckMembershipRequest) => check_membership;
    ListImportableAssets(ListImportableAssetsRequest) => list_importable_assets;
    SetCompanyProperty(SetCompanyPropertyRequest) => set_company_property;
    GetCompanyProperty(GetCompanyPropertyRequest) => get_company_property;
    ListCompanyProperties(ListCompanyPropertiesRequest) => list_company_properties;
    DeleteCompanyProperty(DeleteCompanyPropertyRequest) => delete_company_property;
    CreateVariable(CreateVariableRequest) => create_variable;
    GetVariable(GetVariableRequest) => get_variable;
    ListVariables(ListVariablesRequest) => list_variables;
    UpdateVariable(UpdateVariableRequest) => update_variable;
    DeleteVariable(DeleteVariableRequest) => delete_variable;
    SetUserVariableValue(SetUserVariableValueRequest) => set_user_variable_value;
    ResolveProperties(ResolvePropertiesRequest) => resolve_properties;
    CreateDataSource(CreateDataSourceRequest) => create_data_source;
    GetDataSource(GetDataSourceRequest) => get_data_source;
    ListDataSources(ListDataSourcesRequest) => list_data_sources;
    UpdateDataSource(UpdateDataSourceRequest) => update_data_source;
    DeleteDataSource(DeleteDataSourceRequest) => delete_data_source;
    ResolveDataSource(ResolveDataSourceRequest) => resolve_data_source;
    CreateKlip(CreateKlipRequest) => create_klip;
    GetKlip(GetKlipRequest) => get_klip;
    ListKlips(ListKlipsRequest) => list_klips;
    UpdateKlip(UpdateKlipRequest) => update_klip;
    DeleteKlip(DeleteKlipRequest) => delete_klip;
    RenderKlip(RenderKlipRequest) => render_klip;
    CreateDashboard(CreateDashboardRequest) => create_dashboard;
    GetDashboard(GetDashboardRequest) => get_dashboard;
    ListDashboards(ListDashboardsRequest) => list_dashboards;
    UpdateDashboard(UpdateDashboardRequest) => update_dashboard;
    DeleteDashboard(DeleteDashboardRequest) => delete_dashboard;
    CreateEmbed(CreateEmbedRequest) => create_embed;
    GetEmbed(GetEmbedRequest) => get_embed;
    ListEmbeds(ListEmbedsRequest) => list_embeds;
    DeleteEmbed(DeleteEmbedRequest) => delete_embed;
    ViewEmbed(ViewEmbedRequest) => view_embed;
    GetDependencyClosure(GetDependencyClosureRequest) => get_dependency_closure;
    BatchGetAssets(BatchGetAssetsRequest) => batch_get_assets;
    CloneAssets(CloneAssetsRequest) => clone_assets;
    ApplyKlipDefinitions(ApplyKlipDefinitionsRequest) => apply_klip_definitions;
    ApplyDataSourceDefinitions(ApplyDataSourceDefinitionsRequest) => apply_data_source_definitions;
}

/// The three kinds of asset, for the calls that are alike for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    DataSource,
    Klip,
    Dashboard,
}

impl Asset {
    pub const ALL: [Asset; 3] = [Asset::DataSource, Asset::Klip, Asset::Dashboard];
}

/// `pb::$message { fields, ..Default::default() }` (a message whose every field is given
/// takes the same form, so the update may have no effect).
macro_rules! message {
    ($message:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {
        #[allow(clippy::needless_update, reason = "the same form for every message")]
        pb::$message {
            $($field $(: $value)?,)*
            ..Default::default()
        }
    };
}

/// [`message!`] as a [`Call`].
macro_rules! call {
    ($($message:tt)*) => {
        Call::from(message!($($message)*))
    };
}

/// Get the asset `id` of `account_id` (empty: the signed-in account).
pub fn get(asset: Asset, id: &str, account_id: &str) -> Call {
    let (id, account_id) = (id.to_owned(), account_id.to_owned());
    match asset {
        Asset::DataSource => call!(GetDataSourceRequest { id, account_id }),
        Asset::Klip => call!(GetKlipRequest { id, account_id }),
        Asset::Dashboard => call!(GetDashboardRequest { id, account_id }),
    }
}

/// An update of `$message`'s id, account and name through `$request`'s `$field`.
macro_rules! renamed {
    ($request:ident, $message:ident, $field:ident, $named:expr, $mask:expr) => {{
        let mut message = pb::$message::default();
        (message.id, message.account_id, message.name) = $named;
        Call::from(pb::$request {
            $field: Some(message),
            update_mask: $mask,
            ..Default::default()
        })
    }};
}

/// Rename the asset `id` of `account_id` to `name` (the update mask names only `name`).
pub fn rename(asset: Asset, id: &str, account_id: &str, name: &str) -> Call {
    let named = (id.to_owned(), account_id.to_owned(), name.to_owned());
    let mask = mask(&["name"]);
    match asset {
        Asset::DataSource => {
            renamed!(
                UpdateDataSourceRequest,
                DataSource,
                data_source,
                named,
                mask
            )
        }
        Asset::Klip => renamed!(UpdateKlipRequest, Klip, klip, named, mask),
        Asset::Dashboard => renamed!(UpdateDashboardRequest, Dashboard, dashboard, named, mask),
    }
}

/// Delete the asset `id` of `account_id` (a data source with force, whatever binds it).
pub fn delete(asset: Asset, id: &str, account_id: &str) -> Call {
    let (id, account_id) = (id.to_owned(), account_id.to_owned());
    match asset {
        Asset::DataSource => call!(DeleteDataSourceRequest {
            id,
            account_id,
            force: true,
        }),
        Asset::Klip => call!(DeleteKlipRequest { id, account_id }),
        Asset::Dashboard => call!(DeleteDashboardRequest { id, account_id }),
    }
}

/// List the assets of `account_id`.
pub fn list(asset: Asset, account_id: &str) -> Call {
    let account_id = account_id.to_owned();
    match asset {
        Asset::DataSource => call!(ListDataSourcesRequest { account_id }),
        Asset::Klip => call!(ListKlipsRequest { account_id }),
        Asset::Dashboard => call!(ListDashboardsRequest { account_id }),
    }
}

/// Set the company property `name` of the signed-in account to `value`.
pub fn set_property(name: &str, value: &str) -> pb::SetCompanyPropertyRequest {
    pb::SetCompanyPropertyRequest {
        request_id: String::new(),
        property: Some(pb::CompanyProperty {
            name: name.into(),
            value: value.into(),
            ..Default::default()
        }),
    }
}

/// Create the variable `name` of the signed-in account with `default`.
pub fn new_variable(name: &str, default: &str) -> pb::CreateVariableRequest {
    pb::CreateVariableRequest {
        request_id: String::new(),
        variable: Some(pb::Variable {
            name: name.into(),
            default_value: default.into(),
            ..Default::default()
        }),
    }
}

impl super::Library {
    /// The data source `id` of the account `token` is signed into.
    pub async fn get_data_source(&self, token: &str, id: &str) -> pb::DataSource {
        let request = get(Asset::DataSource, id, "");
        let Call::GetDataSource(request) = request else {
            unreachable!("get builds a GetDataSource")
        };
        let response = self.client().get_data_source(with(token, request)).await;
        let found = response.expect("GetDataSource").into_inner().data_source;
        found.expect("a data source")
    }

    /// The Klip `id` of the account `token` is signed into.
    pub async fn get_klip(&self, token: &str, id: &str) -> pb::Klip {
        let Call::GetKlip(request) = get(Asset::Klip, id, "") else {
            unreachable!("get builds a GetKlip")
        };
        let response = self.client().get_klip(with(token, request)).await;
        response
            .expect("GetKlip")
            .into_inner()
            .klip
            .expect("a Klip")
    }

    /// The dashboard `id` of the account `token` is signed into.
    pub async fn get_dashboard(&self, token: &str, id: &str) -> pb::Dashboard {
        let Call::GetDashboard(request) = get(Asset::Dashboard, id, "") else {
            unreachable!("get builds a GetDashboard")
        };
        let response = self.client().get_dashboard(with(token, request)).await;
        let found = response.expect("GetDashboard").into_inner().dashboard;
        found.expect("a dashboard")
    }
}

/// Set the caller's own value of the variable `name`.
pub fn user_value(name: &str, value: &str) -> pb::SetUserVariableValueRequest {
    pb::SetUserVariableValueRequest {
        name: name.into(),
        value: value.into(),
        ..Default::default()
    }
}

impl super::Library {
    /// Sets the own value of the variable `name` of the user `token` signs in.
    pub async fn set_user_value(&self, token: &str, name: &str, value: &str) {
        let request = with(token, user_value(name, value));
        let response = self.client().set_user_variable_value(request).await;
        response.expect("SetUserVariableValue");
    }

    /// The company property `name` of the account `token` is signed into.
    pub async fn company_property(&self, token: &str, name: &str) -> pb::CompanyProperty {
        let request = pb::GetCompanyPropertyRequest {
            account_id: String::new(),
            name: name.into(),
        };
        let response = self
            .client()
            .get_company_property(with(token, request))
            .await;
        let found = response.expect("GetCompanyProperty").into_inner().property;
        found.expect("a company property")
    }

    /// A Klip of `formulas` over `sources`, created by the editor of `account`.
    pub async fn editor_klip(
        &self,
        account: uuid::Uuid,
        name: &str,
        formulas: &[&str],
        sources: &[&str],
    ) -> pb::Klip {
        let klip = super::klip_of(None, name, formulas, sources);
        self.klip(&trellis_testkit::tokens::editor(account), klip)
            .await
    }

    /// ResolveDataSource with `token`: the request the data source makes for the account
    /// and user that `request` names.
    pub async fn resolve_data_source(
        &self,
        token: &str,
        request: pb::ResolveDataSourceRequest,
    ) -> Result<pb::ResolvedRequest, Status> {
        let response = self
            .client()
            .resolve_data_source(with(token, request))
            .await?;
        let resolved = response.into_inner().resolved_request;
        Ok(resolved.expect("a resolved request"))
    }

    /// UpdateKlip with `token`: the Klip as it is after.
    pub async fn update_klip(
        &self,
        token: &str,
        request: pb::UpdateKlipRequest,
    ) -> Result<pb::Klip, Status> {
        let response = self.client().update_klip(with(token, request)).await?;
        Ok(response.into_inner().klip.expect("a Klip"))
    }

    /// UpdateDashboard with `token`: the dashboard as it is after.
    pub async fn update_dashboard(
        &self,
        token: &str,
        request: pb::UpdateDashboardRequest,
    ) -> Result<pb::Dashboard, Status> {
        let response = self.client().update_dashboard(with(token, request)).await?;
        Ok(response.into_inner().dashboard.expect("a dashboard"))
    }
}
