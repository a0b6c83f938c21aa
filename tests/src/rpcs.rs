//! Every RPC of every service, with a request that names the [`crate::world`]'s resources
//! and who may call it. The access matrix checks each row's callers against it; the
//! hostile suite starts from each row's request and spoils it one field at a time.
//!
//! A request body is JSON as grpcurl takes it, with `{A}`, `{B}`, `{P}`, `{DS}`… standing
//! for the world's ids ([`crate::world::World::body`]).

use trellis_platform::auth::Identity;
use trellis_platform::config::ServiceKind;

/// Who among the account's users may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Users {
    /// Any member: viewers, editors, admins.
    Read,
    /// Editors and admins.
    Write,
    /// Admins (own and agency).
    Admin,
    /// Only an agency admin: an import needs a membership of the source too (I15), and a
    /// client's company properties are its partner's to set (I13).
    Agency,
    /// No user: Trellis's identities only (or what the handler keeps to a partner).
    Nobody,
}

/// Whether a member of another account may call it about A's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cross {
    Denied,
    /// The method acts on the caller's own account or on shared, public resources
    /// (providers), whatever the request names.
    Own,
}

pub struct Row {
    pub service: &'static str,
    pub method: &'static str,
    pub users: Users,
    pub cross: Cross,
    /// The identities that get past authorization; every other is denied.
    pub services: &'static [Identity],
    /// The request, with `{A}`, `{B}`, `{P}`, `{DS}`… standing for the world's ids.
    pub body: &'static str,
}

use Identity::{Edge, Imports, Library, Operator, Refresh, Tokens};

pub const fn row(
    service: &'static str,
    method: &'static str,
    users: Users,
    services: &'static [Identity],
    body: &'static str,
) -> Row {
    Row {
        service,
        method,
        users,
        cross: Cross::Denied,
        services,
        body,
    }
}

pub const fn own(mut row: Row) -> Row {
    row.cross = Cross::Own;
    row
}

pub const L: &str = "trellis.library.v1.LibraryService";
pub const I: &str = "trellis.imports.v1.ImportService";
pub const T: &str = "trellis.tokens.v1.TokenService";
pub const R: &str = "trellis.refresh.v1.RefreshService";

/// The service a row's `service` names.
pub fn service_kind(name: &str) -> ServiceKind {
    match name {
        L => ServiceKind::Library,
        I => ServiceKind::Imports,
        T => ServiceKind::Tokens,
        R => ServiceKind::Refresh,
        other => panic!("no Trellis service {other}"),
    }
}

use Users::{Admin, Agency, Nobody, Read, Write};

/// Every RPC. Deletions come last, and the operator's DeleteAccount of A very last, so that
/// what the other rows name still exists when they run.
pub const ROWS: &[Row] = &[
    // The library.
    row(
        L,
        "CreateAccount",
        Nobody,
        &[Operator],
        r#"{"account": {"kind": "ACCOUNT_KIND_CLIENT", "parent_id": "{P}", "display_name": "Another client"}}"#,
    ),
    row(
        L,
        "GetAccount",
        Read,
        &[Operator, Imports],
        r#"{"id": "{A}"}"#,
    ),
    own(row(L, "ListAccounts", Read, &[Operator], r#"{}"#)),
    row(
        L,
        "UpdateAccount",
        Admin,
        &[Operator],
        r#"{"account": {"id": "{A}", "display_name": "Renamed"}, "update_mask": "displayName"}"#,
    ),
    row(
        L,
        "CreateMembership",
        Admin,
        &[Operator],
        r#"{"membership": {"user_id": "spare@test", "account_id": "{A}", "role": "MEMBERSHIP_ROLE_VIEWER"}}"#,
    ),
    row(
        L,
        "ListMemberships",
        Admin,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "CheckMembership",
        Nobody,
        &[Imports, Tokens, Refresh],
        r#"{"user_id": "viewer@test", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "ListImportableAssets",
        Admin,
        &[],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "SetCompanyProperty",
        Agency,
        &[Operator],
        r#"{"property": {"account_id": "{A}", "name": "region", "value": "eu"}}"#,
    ),
    row(
        L,
        "GetCompanyProperty",
        Read,
        &[Operator],
        r#"{"account_id": "{A}", "name": "companyID"}"#,
    ),
    row(
        L,
        "ListCompanyProperties",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "CreateVariable",
        Write,
        &[Operator],
        r#"{"variable": {"account_id": "{A}", "name": "spare", "default_value": "x"}}"#,
    ),
    row(
        L,
        "GetVariable",
        Read,
        &[Operator],
        r#"{"account_id": "{A}", "name": "companyID"}"#,
    ),
    row(
        L,
        "ListVariables",
        Read,
        &[Operator, Imports],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "UpdateVariable",
        Write,
        &[Operator],
        r#"{"variable": {"account_id": "{A}", "name": "companyID", "description": "d"}, "update_mask": "description"}"#,
    ),
    row(
        L,
        "SetUserVariableValue",
        Read,
        &[Operator],
        r#"{"account_id": "{A}", "name": "companyID", "value": "a"}"#,
    ),
    row(
        L,
        "ResolveProperties",
        Read,
        &[Operator, Imports, Refresh],
        r#"{"account_id": "{A}", "names": ["companyID"]}"#,
    ),
    row(
        L,
        "CreateDataSource",
        Write,
        &[Operator],
        r#"{"data_source": {"account_id": "{A}", "name": "n", "request": {"method": "HTTP_METHOD_GET", "url": "http://127.0.0.1:9/n.json"}, "format": "DATA_FORMAT_JSON"}}"#,
    ),
    row(
        L,
        "GetDataSource",
        Read,
        &[Operator, Imports, Refresh],
        r#"{"id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "ListDataSources",
        Read,
        &[Operator, Refresh, Tokens],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "UpdateDataSource",
        Write,
        &[Operator, Imports],
        r#"{"data_source": {"id": "{DS}", "account_id": "{A}", "name": "Renamed"}, "update_mask": "name"}"#,
    ),
    row(
        L,
        "ResolveDataSource",
        Read,
        &[Operator, Refresh],
        r#"{"data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "CreateKlip",
        Write,
        &[Operator],
        r#"{"klip": {"account_id": "{A}", "name": "k", "components": [{"name": "c", "formula": "1"}]}}"#,
    ),
    row(
        L,
        "GetKlip",
        Read,
        &[Operator, Imports, Refresh],
        r#"{"id": "{K}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "ListKlips",
        Read,
        &[Operator, Imports],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "UpdateKlip",
        Write,
        &[Operator],
        r#"{"klip": {"id": "{K}", "account_id": "{A}", "name": "Renamed"}, "update_mask": "name"}"#,
    ),
    row(
        L,
        "RenderKlip",
        Read,
        &[Operator, Refresh],
        r#"{"klip_id": "{K}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "CreateDashboard",
        Write,
        &[Operator],
        r#"{"dashboard": {"account_id": "{A}", "name": "d", "klip_ids": ["{K}"]}}"#,
    ),
    row(
        L,
        "GetDashboard",
        Read,
        &[Operator, Imports, Refresh],
        r#"{"id": "{D}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "ListDashboards",
        Read,
        &[Operator, Imports],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "UpdateDashboard",
        Write,
        &[Operator],
        r#"{"dashboard": {"id": "{D}", "account_id": "{A}", "name": "Renamed"}, "update_mask": "name"}"#,
    ),
    row(
        L,
        "CreateEmbed",
        Write,
        &[Operator],
        r#"{"embed": {"account_id": "{A}", "klip_id": "{K}"}}"#,
    ),
    row(
        L,
        "GetEmbed",
        Read,
        &[Operator],
        r#"{"id": "{E}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "ListEmbeds",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        L,
        "ViewEmbed",
        Nobody,
        &[Edge, Operator],
        r#"{"embed_id": "{E}"}"#,
    ),
    row(
        L,
        "GetDependencyClosure",
        Read,
        &[Imports],
        r#"{"account_id": "{A}", "assets": [{"kind": "ASSET_KIND_KLIP", "id": "{K}"}]}"#,
    ),
    row(
        L,
        "BatchGetAssets",
        Nobody,
        &[Imports],
        r#"{"assets": [{"kind": "ASSET_KIND_KLIP", "id": "{K}"}]}"#,
    ),
    row(
        L,
        "CloneAssets",
        Nobody,
        &[Imports],
        r#"{"request_id": "matrix-clone", "source_account_id": "{A}", "destination_account_id": "{B}", "assets": [{"kind": "ASSET_KIND_KLIP", "id": "{K}"}]}"#,
    ),
    row(
        L,
        "ApplyKlipDefinitions",
        Nobody,
        &[Imports],
        r#"{"request_id": "matrix-apply-klips", "updates": []}"#,
    ),
    row(
        L,
        "ApplyDataSourceDefinitions",
        Nobody,
        &[Imports],
        r#"{"request_id": "matrix-apply-sources", "updates": []}"#,
    ),
    // The import service.
    row(
        I,
        "CreateImportPlan",
        Agency,
        &[Operator],
        r#"{"destination_account_id": "{A}", "source_account_id": "{P}", "selection": [{"kind": "ASSET_KIND_KLIP", "id": "{PK}"}]}"#,
    ),
    row(
        I,
        "GetImportPlan",
        Read,
        &[Operator],
        r#"{"id": "{RANDOM}"}"#,
    ),
    row(
        I,
        "ExecuteImportPlan",
        Admin,
        &[Operator],
        r#"{"request_id": "matrix-execute", "plan_id": "{RANDOM}", "etag": "reviewed"}"#,
    ),
    row(I, "GetImport", Read, &[Operator], r#"{"id": "{RANDOM}"}"#),
    row(
        I,
        "ListImports",
        Read,
        &[Operator],
        r#"{"destination_account_id": "{A}"}"#,
    ),
    // Scoped to the caller: another account sees only its own masters' instances (none).
    own(row(
        I,
        "ListInstances",
        Read,
        &[Operator],
        r#"{"master": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}, "account_id": "{A}"}"#,
    )),
    row(
        I,
        "GetInstance",
        Read,
        &[Operator],
        r#"{"instance": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}}"#,
    ),
    row(
        I,
        "UpdateInstances",
        Admin,
        &[Operator],
        r#"{"master_klip_id": "{K}", "dry_run": true}"#,
    ),
    row(
        I,
        "ReimportInstance",
        Admin,
        &[Operator],
        r#"{"instance": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}}"#,
    ),
    // The token registry.
    row(
        T,
        "CreateProvider",
        Nobody,
        &[Operator],
        r#"{"provider": {"name": "Another", "authorization_url": "http://127.0.0.1:9/authorize", "token_url": "http://127.0.0.1:9/token", "client_id": "c", "client_secret": "s", "scopes": ["read"]}}"#,
    ),
    own(row(
        T,
        "GetProvider",
        Read,
        &[Operator],
        r#"{"id": "{PROVIDER}"}"#,
    )),
    own(row(T, "ListProviders", Read, &[Operator], r#"{}"#)),
    row(
        T,
        "UpdateProvider",
        Nobody,
        &[Operator],
        r#"{"provider": {"id": "{PROVIDER}", "name": "Renamed"}, "update_mask": "name"}"#,
    ),
    row(
        T,
        "BeginAuthorization",
        Write,
        &[],
        r#"{"account_id": "{A}", "provider_id": "{PROVIDER}", "redirect_uri": "http://127.0.0.1:9/callback"}"#,
    ),
    // The pending authorization its state names is the caller's or nothing.
    own(row(
        T,
        "CompleteAuthorization",
        Write,
        &[],
        r#"{"state": "{RANDOM}", "code": "x"}"#,
    )),
    row(
        T,
        "ListTokens",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        T,
        "GetToken",
        Read,
        &[Operator, Imports],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "UpdateToken",
        Write,
        &[Operator],
        r#"{"token": {"id": "{RANDOM}", "account_id": "{A}", "display_name": "Renamed"}, "update_mask": "displayName"}"#,
    ),
    row(
        T,
        "CreateTokenGrant",
        Nobody,
        &[Imports],
        r#"{"request_id": "matrix-grant", "grant": {"token_id": "{RANDOM}", "grantee_account_id": "{B}", "data_source_id": "{DS}"}, "source_account_id": "{A}"}"#,
    ),
    row(
        T,
        "GetTokenGrant",
        Read,
        &[Operator, Imports],
        r#"{"id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "ListTokenGrants",
        Read,
        &[Operator, Imports],
        r#"{"token_id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "GetAccessToken",
        Nobody,
        &[Refresh],
        r#"{"token_id": "{RANDOM}", "account_id": "{A}", "data_source_id": "{DS}"}"#,
    ),
    row(
        T,
        "GetTokenUsage",
        Read,
        &[Operator],
        r#"{"token_id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "GetTokenLimits",
        Nobody,
        &[Refresh],
        r#"{"token_id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "CreateCredential",
        Write,
        &[Operator],
        r#"{"credential": {"account_id": "{A}", "display_name": "c", "kind": "CREDENTIAL_KIND_BASIC", "username": "u"}, "secret": {"password": "p"}}"#,
    ),
    row(
        T,
        "GetCredential",
        Read,
        &[Operator],
        r#"{"id": "{CREDENTIAL}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "ListCredentials",
        Read,
        &[Operator, Imports],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        T,
        "UpdateCredential",
        Write,
        &[Operator],
        r#"{"credential": {"id": "{CREDENTIAL}", "account_id": "{A}", "display_name": "Renamed"}, "update_mask": "displayName"}"#,
    ),
    row(
        T,
        "CopyCredential",
        Nobody,
        &[Imports],
        r#"{"request_id": "matrix-copy", "credential_id": "{CREDENTIAL}", "destination_account_id": "{B}", "data_source_id": "{DS}", "source_account_id": "{A}"}"#,
    ),
    row(
        T,
        "GetCredentialSecret",
        Nobody,
        &[Refresh],
        r#"{"credential_id": "{CREDENTIAL}", "data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "CheckDataSourceAuth",
        Nobody,
        &[Library],
        r#"{"account_id": "{A}", "data_source_id": "{DS}", "credential_id": "{CREDENTIAL}"}"#,
    ),
    // The refresh service.
    own(row(
        R,
        "RecordActivity",
        Read,
        &[],
        r#"{"kind": "ACTIVITY_KIND_LOGIN"}"#,
    )),
    row(
        R,
        "RefreshNow",
        Write,
        &[Operator],
        r#"{"data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetRefreshJob",
        Read,
        &[Operator],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetQueueStatus",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetRefreshStatus",
        Read,
        &[Operator],
        r#"{"data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetCachedData",
        Nobody,
        &[Operator, Library],
        r#"{"data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "CreateReportSchedule",
        Write,
        &[Operator],
        r#"{"schedule": {"account_id": "{A}", "name": "Weekly", "cron_expression": "0 8 * * MON", "time_zone": "UTC", "recipients": ["boss@example.com"], "klips": {"klip_ids": ["{K}"]}}}"#,
    ),
    row(
        R,
        "GetReportSchedule",
        Read,
        &[Operator],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "ListReportSchedules",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        R,
        "UpdateReportSchedule",
        Write,
        &[Operator],
        r#"{"schedule": {"id": "{RANDOM}", "account_id": "{A}", "name": "Renamed"}, "update_mask": "name"}"#,
    ),
    row(
        R,
        "ListReportDeliveries",
        Read,
        &[Operator],
        r#"{"schedule_id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    // Deletions, last.
    row(
        R,
        "DeleteReportSchedule",
        Write,
        &[Operator],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "DeleteTokenGrant",
        Admin,
        &[Operator, Imports],
        r#"{"id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "DeleteToken",
        Write,
        &[Operator],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "DeleteCredential",
        Write,
        &[Operator, Imports],
        r#"{"id": "{CREDENTIAL2}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "DeleteProvider",
        Nobody,
        &[Operator],
        r#"{"id": "{PROVIDER2}"}"#,
    ),
    // Scoped to the caller, as ListInstances.
    own(row(
        I,
        "DeleteInstances",
        Admin,
        &[Operator],
        r#"{"master": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}, "account_ids": ["{B}"]}"#,
    )),
    row(
        L,
        "DeleteEmbed",
        Write,
        &[Operator],
        r#"{"id": "{E2}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "DeleteDashboard",
        Write,
        &[Operator, Imports],
        r#"{"id": "{D2}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "DeleteKlip",
        Write,
        &[Operator, Imports],
        r#"{"id": "{K2}", "account_id": "{A}"}"#,
    ),
    row(
        L,
        "DeleteDataSource",
        Write,
        &[Operator, Imports],
        r#"{"id": "{DS2}", "account_id": "{A}", "force": true}"#,
    ),
    row(
        L,
        "DeleteVariable",
        Write,
        &[Operator],
        r#"{"account_id": "{A}", "name": "spare"}"#,
    ),
    row(
        L,
        "DeleteCompanyProperty",
        Agency,
        &[Operator],
        r#"{"account_id": "{A}", "name": "region"}"#,
    ),
    row(
        L,
        "DeleteMembership",
        Admin,
        &[Operator],
        r#"{"account_id": "{A}", "user_id": "spare@test"}"#,
    ),
    row(
        L,
        "DeleteAccount",
        Nobody,
        &[Operator],
        r#"{"id": "{A}", "force": true}"#,
    ),
];
