//! The access matrix (DESIGN.md section 3): every RPC of every service, found in the
//! contracts' descriptor set, called as every kind of caller, each answer checked against
//! one table ([`ROWS`]). An RPC added later without a row fails
//! `every_rpc_answers_every_caller_as_the_table_says`.
//!
//! The callers: no token; a viewer, editor and admin of the resource's own client account
//! (A); an agency admin (an admin of the partner, signed into A); an admin of A's sibling
//! client (B); an admin of another family (Q); a viewer of A whose token claims `admin`
//! (more than the membership); and each of Trellis's identities (`library`, `imports`,
//! `tokens`, `refresh`, `edge`, `operator`). Requests name A's own resources, so a refusal
//! of a sibling or a stranger is the tenant boundary at work.
//!
//! "Allowed" means the call got past authorization: any answer but PERMISSION_DENIED or
//! UNAUTHENTICATED (the request may still be refused for what it asks, e.g. NOT_FOUND for a
//! random id, which the table uses where creating the resource would need a third party).
//! "Denied" means PERMISSION_DENIED, or NOT_FOUND for another tenant (which leaks nothing).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use prost_reflect::DescriptorPool;
use tonic::Code;
use trellis_e2e::cluster::Cluster;
use trellis_e2e::reflect::ReflectionCaller;
use trellis_platform::auth::{Identity, Role, TokenMinter};
use trellis_platform::client::authorized;
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::members;
use trellis_testkit::tokens::{self, TEST_SECRET};
use uuid::Uuid;

/// Who among the account's users may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Users {
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
enum Cross {
    Denied,
    /// The method acts on the caller's own account or on shared, public resources
    /// (providers), whatever the request names.
    Own,
}

struct Row {
    service: &'static str,
    method: &'static str,
    users: Users,
    cross: Cross,
    /// The identities that get past authorization; every other is denied.
    services: &'static [Identity],
    /// The request, with `{A}`, `{B}`, `{P}`, `{DS}`… standing for the world's ids.
    body: &'static str,
}

use Identity::{Edge, Imports, Library, Operator, Refresh, Tokens};

const fn row(
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

const fn own(mut row: Row) -> Row {
    row.cross = Cross::Own;
    row
}

const L: &str = "trellis.library.v1.LibraryService";
const I: &str = "trellis.imports.v1.ImportService";
const T: &str = "trellis.tokens.v1.TokenService";
const R: &str = "trellis.refresh.v1.RefreshService";

use Users::{Admin, Agency, Nobody, Read, Write};

/// Every RPC. Deletions come last, and the operator's DeleteAccount of A very last, so that
/// what the other rows name still exists when they run.
const ROWS: &[Row] = &[
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

/// One caller of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    NoToken,
    Stranger,
    Sibling,
    Overreaching,
    Viewer,
    Editor,
    Admin,
    AgencyAdmin,
    Service(Identity),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Unauthenticated,
    Denied,
    /// Denied with PERMISSION_DENIED: a member of the account without the role.
    RoleDenied,
    Allowed,
}

fn expectation(row: &Row, caller: Caller) -> Expect {
    let role_allows = |role: Caller| {
        matches!(
            (row.users, role),
            (Users::Read, _)
                | (
                    Users::Write,
                    Caller::Editor | Caller::Admin | Caller::AgencyAdmin
                )
                | (Users::Admin, Caller::Admin | Caller::AgencyAdmin)
                | (Users::Agency, Caller::AgencyAdmin)
        )
    };
    match caller {
        Caller::NoToken => Expect::Unauthenticated,
        Caller::Overreaching => Expect::RoleDenied,
        Caller::Stranger | Caller::Sibling => match (row.users, row.cross) {
            (Users::Nobody, _) => Expect::RoleDenied,
            (_, Cross::Own) => Expect::Allowed,
            (_, Cross::Denied) => Expect::Denied,
        },
        Caller::Viewer | Caller::Editor | Caller::Admin | Caller::AgencyAdmin => {
            if role_allows(caller) {
                Expect::Allowed
            } else {
                Expect::RoleDenied
            }
        }
        Caller::Service(identity) if row.services.contains(&identity) => Expect::Allowed,
        Caller::Service(_) => Expect::RoleDenied,
    }
}

fn matches(expect: Expect, code: Code) -> bool {
    match expect {
        Expect::Unauthenticated => code == Code::Unauthenticated,
        Expect::RoleDenied => code == Code::PermissionDenied,
        Expect::Denied => matches!(code, Code::PermissionDenied | Code::NotFound),
        Expect::Allowed => !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
    }
}

/// The world the rows name: a partner P with clients A and B, another partner Q.
struct World {
    ids: BTreeMap<&'static str, String>,
    tokens: HashMap<&'static str, String>,
}

const STRANGER: &str = "stranger@test";
const SIBLING: &str = "sibling@test";
const AGENCY: &str = "agency@test";

async fn build_world(cluster: &Cluster) -> World {
    let library_channel = cluster.channel(ServiceKind::Library);
    let mut lib = LibraryServiceClient::new(library_channel.clone());
    let tok = TokenServiceClient::new(cluster.channel(ServiceKind::Tokens));
    let operator = tokens::service();
    let account = |kind: library::AccountKind, parent: Option<Uuid>, name: &str| {
        let mut lib = lib.clone();
        let operator = operator.clone();
        let name = name.to_owned();
        async move {
            let created = lib
                .create_account(authorized(
                    library::CreateAccountRequest {
                        request_id: String::new(),
                        account: Some(library::Account {
                            kind: kind as i32,
                            parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                            display_name: name,
                            ..Default::default()
                        }),
                    },
                    &operator,
                ))
                .await
                .expect("an operator creates accounts")
                .into_inner();
            Uuid::parse_str(&created.account.unwrap().id).unwrap()
        }
    };
    let partner = account(library::AccountKind::Partner, None, "Agency").await;
    let a = account(library::AccountKind::Client, Some(partner), "Client A").await;
    let b = account(library::AccountKind::Client, Some(partner), "Client B").await;
    let q = account(library::AccountKind::Partner, None, "Other agency").await;
    members::enroll(&library_channel, a).await;
    members::add(&library_channel, partner, AGENCY, Role::Admin).await;
    members::add(&library_channel, b, SIBLING, Role::Admin).await;
    members::add(&library_channel, q, STRANGER, Role::Admin).await;

    let admin = tokens::admin(a);
    let call = |token: &str, message| authorized(message, token);
    lib.create_variable(call(
        &admin,
        library::CreateVariableRequest {
            request_id: String::new(),
            variable: Some(library::Variable {
                account_id: a.to_string(),
                name: "companyID".into(),
                default_value: "a".into(),
                ..Default::default()
            }),
        },
    ))
    .await
    .expect("a variable");
    let source = |name: &str, account: Uuid| library::DataSource {
        account_id: account.to_string(),
        name: name.into(),
        request: Some(library::HttpRequestTemplate {
            method: library::HttpMethod::Get as i32,
            url: "http://127.0.0.1:9/data.json".into(),
            ..Default::default()
        }),
        format: library::DataFormat::Json as i32,
        ..Default::default()
    };
    let data_source = |token: String, source: library::DataSource| {
        let mut lib = lib.clone();
        async move {
            lib.create_data_source(authorized(
                library::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(source),
                },
                &token,
            ))
            .await
            .expect("a data source")
            .into_inner()
            .data_source
            .unwrap()
            .id
        }
    };
    let ds = data_source(admin.clone(), source("Sales", a)).await;
    let ds2 = data_source(admin.clone(), source("Spare", a)).await;
    let agency_in_partner = tokens::user_token(partner, AGENCY, Role::Admin);
    let pds = data_source(agency_in_partner.clone(), source("Master", partner)).await;
    let klip = |token: String, account: Uuid, source: String| {
        let mut lib = lib.clone();
        async move {
            lib.create_klip(authorized(
                library::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(library::Klip {
                        account_id: account.to_string(),
                        name: "Total".into(),
                        components: vec![library::Component {
                            name: "total".into(),
                            formula: "SUM(@0.amount)".into(),
                        }],
                        bindings: vec![library::Binding {
                            data_source_id: source,
                        }],
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await
            .expect("a Klip")
            .into_inner()
            .klip
            .unwrap()
            .id
        }
    };
    let k = klip(admin.clone(), a, ds.clone()).await;
    let k2 = klip(admin.clone(), a, ds.clone()).await;
    let pk = klip(agency_in_partner, partner, pds).await;
    let dashboard = |klip: String| {
        let mut lib = lib.clone();
        let admin = admin.clone();
        async move {
            lib.create_dashboard(authorized(
                library::CreateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(library::Dashboard {
                        account_id: a.to_string(),
                        name: "Overview".into(),
                        klip_ids: vec![klip],
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("a dashboard")
            .into_inner()
            .dashboard
            .unwrap()
            .id
        }
    };
    let d = dashboard(k.clone()).await;
    let d2 = dashboard(k.clone()).await;
    let embed = |klip: String| {
        let mut lib = lib.clone();
        let admin = admin.clone();
        async move {
            lib.create_embed(authorized(
                library::CreateEmbedRequest {
                    request_id: String::new(),
                    embed: Some(library::Embed {
                        account_id: a.to_string(),
                        klip_id: klip,
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("an embed")
            .into_inner()
            .embed
            .unwrap()
            .id
        }
    };
    let e = embed(k.clone()).await;
    let e2 = embed(k.clone()).await;
    let credential = |name: &str| {
        let mut tok = tok.clone();
        let admin = admin.clone();
        let name = name.to_owned();
        async move {
            tok.create_credential(authorized(
                tokens_pb::CreateCredentialRequest {
                    request_id: String::new(),
                    credential: Some(tokens_pb::Credential {
                        account_id: a.to_string(),
                        display_name: name,
                        kind: tokens_pb::CredentialKind::Basic as i32,
                        username: "reporting".into(),
                        ..Default::default()
                    }),
                    secret: Some(tokens_pb::CredentialSecret {
                        password: "hunter2".into(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("a credential")
            .into_inner()
            .credential
            .unwrap()
            .id
        }
    };
    let cred = credential("Reporting").await;
    let cred2 = credential("Spare").await;
    let provider = |name: &str| {
        let mut tok = tok.clone();
        let operator = operator.clone();
        let name = name.to_owned();
        async move {
            tok.create_provider(authorized(
                tokens_pb::CreateProviderRequest {
                    request_id: String::new(),
                    provider: Some(tokens_pb::Provider {
                        name,
                        authorization_url: "http://127.0.0.1:9/authorize".into(),
                        token_url: "http://127.0.0.1:9/token".into(),
                        client_id: "client".into(),
                        client_secret: "secret".into(),
                        scopes: vec!["read".into()],
                        ..Default::default()
                    }),
                },
                &operator,
            ))
            .await
            .expect("a provider")
            .into_inner()
            .provider
            .unwrap()
            .id
        }
    };
    let prov = provider("Analytics").await;
    let prov2 = provider("Spare").await;

    let ids = BTreeMap::from([
        ("{A}", a.to_string()),
        ("{B}", b.to_string()),
        ("{P}", partner.to_string()),
        ("{DS}", ds),
        ("{DS2}", ds2),
        ("{K}", k),
        ("{K2}", k2),
        ("{PK}", pk),
        ("{D}", d),
        ("{D2}", d2),
        ("{E}", e),
        ("{E2}", e2),
        ("{CREDENTIAL}", cred),
        ("{CREDENTIAL2}", cred2),
        ("{PROVIDER}", prov),
        ("{PROVIDER2}", prov2),
        ("{RANDOM}", Uuid::now_v7().to_string()),
    ]);
    let tokens = HashMap::from([
        ("viewer", tokens::viewer(a)),
        ("editor", tokens::editor(a)),
        ("admin", tokens::admin(a)),
        ("agency", tokens::user_token(a, AGENCY, Role::Admin)),
        ("sibling", tokens::user_token(b, SIBLING, Role::Admin)),
        ("stranger", tokens::user_token(q, STRANGER, Role::Admin)),
        (
            "overreaching",
            tokens::user_token(a, "viewer@test", Role::Admin),
        ),
    ]);
    World { ids, tokens }
}

impl World {
    fn body(&self, template: &str) -> String {
        self.ids
            .iter()
            .fold(template.to_owned(), |body, (key, id)| body.replace(key, id))
    }

    fn bearer(&self, caller: Caller) -> Option<String> {
        let user = |key: &str| Some(self.tokens[key].clone());
        match caller {
            Caller::NoToken => None,
            Caller::Stranger => user("stranger"),
            Caller::Sibling => user("sibling"),
            Caller::Overreaching => user("overreaching"),
            Caller::Viewer => user("viewer"),
            Caller::Editor => user("editor"),
            Caller::Admin => user("admin"),
            Caller::AgencyAdmin => user("agency"),
            Caller::Service(identity) => Some(
                TokenMinter::hs256(TEST_SECRET.as_bytes(), identity)
                    .service_token_for(&ServiceKind::ALL, Duration::from_secs(600)),
            ),
        }
    }
}

/// The order callers try a method: those that must be refused first, so that an allowed
/// change (a deletion) does not hide what a refusal would have shown.
fn callers(row: &Row) -> Vec<Caller> {
    let mut callers = vec![
        Caller::NoToken,
        Caller::Stranger,
        Caller::Sibling,
        Caller::Overreaching,
    ];
    let (allowed, denied): (Vec<Identity>, Vec<Identity>) = Identity::ALL
        .into_iter()
        .partition(|identity| row.services.contains(identity));
    callers.extend(denied.into_iter().map(Caller::Service));
    callers.extend([
        Caller::Viewer,
        Caller::Editor,
        Caller::Admin,
        Caller::AgencyAdmin,
    ]);
    callers.extend(allowed.into_iter().map(Caller::Service));
    callers
}

fn service_of(name: &str) -> ServiceKind {
    match name {
        L => ServiceKind::Library,
        I => ServiceKind::Imports,
        T => ServiceKind::Tokens,
        R => ServiceKind::Refresh,
        other => panic!("no Trellis service {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_has_exactly_one_row() {
    let pool = DescriptorPool::decode(trellis_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut missing = Vec::new();
    let mut methods = 0;
    for service in pool.services() {
        for method in service.methods() {
            methods += 1;
            let rows = ROWS
                .iter()
                .filter(|r| r.service == service.full_name() && r.method == method.name())
                .count();
            if rows != 1 {
                missing.push(format!(
                    "{}/{} has {rows} rows",
                    service.full_name(),
                    method.name()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "every RPC needs one row:\n{}",
        missing.join("\n")
    );
    assert_eq!(
        ROWS.len(),
        methods,
        "a row names an RPC the contracts do not have"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let cluster = Cluster::start(&HashMap::new()).await;
    let world = build_world(&cluster).await;
    let mut callers_of: HashMap<ServiceKind, ReflectionCaller> = ServiceKind::ALL
        .into_iter()
        .map(|kind| (kind, ReflectionCaller::new(cluster.channel(kind))))
        .collect();
    let mut wrong = Vec::new();
    let mut calls = 0;
    for row in ROWS {
        let body = world.body(row.body);
        let caller_of = callers_of
            .get_mut(&service_of(row.service))
            .expect("a caller per service");
        for caller in callers(row) {
            let expect = expectation(row, caller);
            let headers: Vec<(String, String)> = world
                .bearer(caller)
                .map(|bearer| vec![("authorization".to_owned(), format!("Bearer {bearer}"))])
                .unwrap_or_default();
            let method = format!("{}/{}", row.service, row.method);
            let code = match caller_of.call(&method, &body, &headers).await {
                Ok(_) => Code::Ok,
                Err(status) => status.code(),
            };
            calls += 1;
            if !matches(expect, code) {
                wrong.push(format!(
                    "{method} as {caller:?}: expected {expect:?}, got {code:?}"
                ));
            }
        }
    }
    println!("access matrix: {calls} calls over {} RPCs", ROWS.len());
    assert!(
        wrong.is_empty(),
        "{} answers differ from the table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
