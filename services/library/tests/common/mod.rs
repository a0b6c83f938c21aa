//! Shared setup for the library's integration tests: the service on its own database, a
//! client, families of accounts whose test users are members, sample assets, and error
//! details; for tests whose data sources name tokens or credentials, the real token
//! registry beside the library (with the test OAuth server as a provider).

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod calls;
pub mod registry;

use registry::TokenRegistry;

use std::sync::Arc;

use diesel_async::RunQueryDsl;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use trellis_library::{Clock, SystemClock};
use trellis_platform::auth::{Identity, Role};
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_testkit::{RunningService, members, tokens};
use uuid::Uuid;

pub type Client = LibraryServiceClient<TracedChannel>;

/// A port nothing listens on, for peers a test does not run: a service running on its
/// default port is never reached.
pub const NOWHERE: &str = "http://127.0.0.1:9";

pub struct Library {
    pub service: RunningService,
    pub client: Client,
    /// The token registry, when the test started one ([`start_with_tokens`]).
    pub tokens: Option<TokenRegistry>,
}

/// A partner with two clients.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub partner: Uuid,
    pub client_a: Uuid,
    pub client_b: Uuid,
}

/// The library alone: no refresh service (tests/world runs one) and no token registry
/// ([`start_with_tokens`] runs one), so no data source here may name a token or credential.
pub async fn start() -> Library {
    started(NOWHERE).await
}

/// The library alone with a standard account and the token of its editor.
pub async fn start_standard() -> (Library, Uuid, String) {
    let library = start().await;
    let account = library.standard().await;
    (library, account, tokens::editor(account))
}

/// The library alone with a standard account, a client and the token of its admin.
pub async fn start_admin() -> (Library, Client, Uuid, String) {
    let library = start().await;
    let client = library.client();
    let account = library.standard().await;
    (library, client, account, tokens::admin(account))
}

/// The library alone on `clock` (ResolveDataSource reads its dates on it).
pub async fn start_at(clock: Arc<dyn Clock>) -> Library {
    started_at(NOWHERE, clock).await
}

/// The library with its token registry at `tokens_url` (none for [`NOWHERE`]).
async fn started(tokens_url: &str) -> Library {
    started_at(tokens_url, Arc::new(SystemClock)).await
}

/// [`started`] on `clock`.
async fn started_at(tokens_url: &str, clock: Arc<dyn Clock>) -> Library {
    let service = RunningService::start(
        ServiceKind::Library,
        &trellis_library::SCHEMA,
        Default::default(),
        |common| {
            common.refresh_url = NOWHERE.into();
            common.tokens_url = tokens_url.into();
        },
        |context| trellis_library::build_with(context, clock),
    )
    .await;
    let client = LibraryServiceClient::new(service.server.channel());
    Library {
        service,
        client,
        tokens: None,
    }
}

/// `request` with `token` as its bearer.
pub fn with<T>(token: &str, request: T) -> tonic::Request<T> {
    authorized(request, token)
}

impl Library {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A channel to the library, for the test kit's helpers.
    pub fn channel(&self) -> TracedChannel {
        self.service.server.channel()
    }

    /// What an import does first (CloneAssets): copies the data source `id` of `source` into
    /// `destination`. Returns the copy's id.
    pub async fn import_data_source(&self, source: Uuid, destination: Uuid, id: &str) -> String {
        self.client()
            .clone_assets(with(
                &tokens::service_as(Identity::Imports),
                pb::CloneAssetsRequest {
                    request_id: format!("import-{destination}-{id}"),
                    source_account_id: source.to_string(),
                    destination_account_id: destination.to_string(),
                    assets: vec![pb::AssetRef {
                        kind: pb::AssetKind::DataSource as i32,
                        id: id.to_owned(),
                    }],
                    reuse_ids: std::collections::HashMap::new(),
                },
            ))
            .await
            .expect("CloneAssets")
            .into_inner()
            .mappings
            .into_iter()
            .find(|m| m.source_id == id)
            .expect("a mapping")
            .destination_id
    }

    /// Makes `user` a member of `account` with `role`, as an operator does.
    pub async fn member(&self, account: Uuid, user: &str, role: Role) {
        members::add(&self.channel(), account, user, role).await;
    }

    /// Makes the test users members of `account` with their roles.
    pub async fn enroll(&self, account: Uuid) {
        members::enroll(&self.channel(), account).await;
    }

    /// A new account, created by an operator, with the test users (`admin@test`,
    /// `editor@test`, `viewer@test`) enrolled as its members with those roles.
    pub async fn account(&self, kind: pb::AccountKind, parent: Option<Uuid>, name: &str) -> Uuid {
        let created = self
            .client()
            .create_account(with(
                &tokens::service(),
                pb::CreateAccountRequest {
                    request_id: String::new(),
                    account: Some(pb::Account {
                        kind: kind as i32,
                        parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                        display_name: name.into(),
                        ..Default::default()
                    }),
                },
            ))
            .await
            .expect("a service token creates accounts")
            .into_inner();
        let id = created
            .account
            .expect("an account")
            .id
            .parse()
            .expect("an account id");
        members::enroll(&self.service.server.channel(), id).await;
        id
    }

    pub async fn family(&self) -> Family {
        let partner = self.account(pb::AccountKind::Partner, None, "Agency").await;
        Family {
            partner,
            client_a: self
                .account(pb::AccountKind::Client, Some(partner), "Client A")
                .await,
            client_b: self
                .account(pb::AccountKind::Client, Some(partner), "Client B")
                .await,
        }
    }

    pub async fn standard(&self) -> Uuid {
        self.account(pb::AccountKind::Standard, None, "Solo").await
    }

    /// Creates a data source in the token's account (or `account` with a service token).
    pub async fn data_source(&self, token: &str, source: pb::DataSource) -> pb::DataSource {
        self.client()
            .create_data_source(with(
                token,
                pb::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(source),
                },
            ))
            .await
            .expect("the data source is created")
            .into_inner()
            .data_source
            .expect("a data source")
    }

    pub async fn klip(&self, token: &str, klip: pb::Klip) -> pb::Klip {
        self.client()
            .create_klip(with(
                token,
                pb::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(klip),
                },
            ))
            .await
            .expect("the Klip is created")
            .into_inner()
            .klip
            .expect("a Klip")
    }

    pub async fn dashboard(&self, token: &str, dashboard: pb::Dashboard) -> pb::Dashboard {
        self.client()
            .create_dashboard(with(
                token,
                pb::CreateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(dashboard),
                },
            ))
            .await
            .expect("the dashboard is created")
            .into_inner()
            .dashboard
            .expect("a dashboard")
    }

    /// Rows of `table` whose `column` is `value`, counted in the database itself.
    pub async fn count(&self, table: &str, column: &str, value: Uuid) -> i64 {
        let mut conn = self.service.database.connect().await;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "(SELECT count(*) FROM {table} WHERE {column} = '{value}')"
        )))
        .get_result(&mut conn)
        .await
        .expect("a count")
    }

    /// Rows of every asset table of `account`.
    pub async fn asset_rows(&self, account: Uuid) -> [i64; 5] {
        [
            self.count("data_sources", "account_id", account).await,
            self.count("klips", "account_id", account).await,
            self.count("klip_bindings", "account_id", account).await,
            self.count("dashboards", "account_id", account).await,
            self.count("dashboard_klips", "account_id", account).await,
        ]
    }
}

/// A JSON data source over `url`, in `account` when given.
pub fn json_source(account: Option<Uuid>, name: &str, url: &str) -> pb::DataSource {
    pb::DataSource {
        account_id: account.map(|a| a.to_string()).unwrap_or_default(),
        name: name.into(),
        request: Some(pb::HttpRequestTemplate {
            method: pb::HttpMethod::Get as i32,
            url: url.into(),
            headers: vec![],
            body: String::new(),
        }),
        format: pb::DataFormat::Json as i32,
        ..Default::default()
    }
}

pub fn auth_token(id: Uuid) -> Option<pb::DataSourceAuth> {
    Some(pb::DataSourceAuth {
        kind: 0,
        method: Some(pb::data_source_auth::Method::TokenId(id.to_string())),
    })
}

pub fn auth_credential(id: Uuid) -> Option<pb::DataSourceAuth> {
    Some(pb::DataSourceAuth {
        kind: 0,
        method: Some(pb::data_source_auth::Method::CredentialId(id.to_string())),
    })
}

/// A Klip with one component per formula and the given bindings.
pub fn klip_of(
    account: Option<Uuid>,
    name: &str,
    formulas: &[&str],
    bindings: &[&str],
) -> pb::Klip {
    pb::Klip {
        account_id: account.map(|a| a.to_string()).unwrap_or_default(),
        name: name.into(),
        components: formulas
            .iter()
            .enumerate()
            .map(|(i, formula)| pb::Component {
                name: format!("c{i}"),
                formula: (*formula).into(),
            })
            .collect(),
        bindings: bindings
            .iter()
            .map(|id| pb::Binding {
                data_source_id: (*id).into(),
            })
            .collect(),
        ..Default::default()
    }
}

pub fn dashboard_of(account: Option<Uuid>, name: &str, klip_ids: &[&str]) -> pb::Dashboard {
    pb::Dashboard {
        account_id: account.map(|a| a.to_string()).unwrap_or_default(),
        name: name.into(),
        klip_ids: klip_ids.iter().map(|id| (*id).to_owned()).collect(),
        layout: None,
        ..Default::default()
    }
}

pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// The status of a call that must fail with `code`.
pub fn failure<R: std::fmt::Debug>(result: Result<R, Status>, code: Code) -> Status {
    match result {
        Ok(response) => panic!("expected {code:?}, got {response:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// The BadRequest field violations of an INVALID_ARGUMENT, as (field, description).
pub fn violations<R: std::fmt::Debug>(result: Result<R, Status>) -> Vec<(String, String)> {
    let status = failure(result, Code::InvalidArgument);
    let bad_request = status
        .get_details_bad_request()
        .expect("INVALID_ARGUMENT carries a BadRequest");
    bad_request
        .field_violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

/// Asserts a refusal that says nothing about the resource: PERMISSION_DENIED or NOT_FOUND,
/// and none of `secrets` in the message or details.
pub fn refused<R: std::fmt::Debug>(result: Result<R, Status>, secrets: &[&str]) {
    match result {
        Ok(response) => panic!("expected a refusal, got {response:?}"),
        Err(status) => {
            assert!(
                matches!(status.code(), Code::PermissionDenied | Code::NotFound),
                "{status:?}"
            );
            let everything = format!("{} {:?}", status.message(), status.details());
            for secret in secrets {
                assert!(
                    !everything.contains(secret),
                    "{secret} leaked in {status:?}"
                );
            }
        }
    }
}
