//! Shared setup for the library's integration tests: the service on its own database, a
//! client, families of accounts whose test users are members, sample assets, and error
//! details; for tests whose data sources name tokens or credentials, the real token
//! registry beside the library (with the test OAuth server as a provider).

#![allow(dead_code, reason = "each test binary uses a different part")]

use diesel_async::RunQueryDsl;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use trellis_platform::auth::{Identity, Role};
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1 as tk;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::{RunningService, TestDatabase, members, test_config, tokens};
use uuid::Uuid;

pub type Client = LibraryServiceClient<TracedChannel>;

/// A port nothing listens on, for peers a test does not run: a service running on its
/// default port is never reached.
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// Where the test OAuth server sends the browser back; nothing listens there, the test
/// reads the redirect instead of following it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

pub struct Library {
    pub service: RunningService,
    pub client: Client,
    /// The token registry, when the test started one ([`start_with_tokens`]).
    pub tokens: Option<TokenRegistry>,
}

/// The real token registry on its own database, asking the library about memberships,
/// with the test OAuth server registered as a provider. Stops when dropped.
pub struct TokenRegistry {
    pub url: String,
    pub database: TestDatabase,
    pub oauth: OAuthServer,
    pub provider_id: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TokenRegistry {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl TokenRegistry {
    pub fn client(&self) -> TokenServiceClient<TracedChannel> {
        TokenServiceClient::new(
            trellis_platform::client::channel(&self.url).expect("a channel to the registry"),
        )
    }
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
    let service = RunningService::start(
        ServiceKind::Library,
        &trellis_library::SCHEMA,
        Default::default(),
        |common| {
            common.refresh_url = NOWHERE.into();
            common.tokens_url = NOWHERE.into();
        },
        trellis_library::build,
    )
    .await;
    let client = LibraryServiceClient::new(service.server.channel());
    Library {
        service,
        client,
        tokens: None,
    }
}

/// The library with the real token registry beside it, as deployed: the library asks the
/// registry whether a data source may name its token or credential (I14, I15), the
/// registry asks the library about memberships, over real gRPC, each on its own database.
pub async fn start_with_tokens() -> Library {
    // Each service calls the other: the registry's address is taken first, the library
    // starts pointing at it, then the registry is built pointing at the library.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tokens_url = format!("http://{}", listener.local_addr().expect("an address"));
    let service = RunningService::start(
        ServiceKind::Library,
        &trellis_library::SCHEMA,
        Default::default(),
        |common| {
            common.refresh_url = NOWHERE.into();
            common.tokens_url = tokens_url.clone();
        },
        trellis_library::build,
    )
    .await;
    let client = LibraryServiceClient::new(service.server.channel());

    let database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
    let mut common = test_config(&database.url);
    common.library_url = service.server.url();
    // Development mode (the test kit's) seals secrets with the development key.
    let context = ServiceContext::new(
        ServiceKind::Tokens,
        common,
        trellis_tokens::Settings::default(),
        database.pool(),
    )
    .expect("a token registry context");
    let server = trellis_tokens::build(context)
        .await
        .expect("the token registry builds");
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    let mut registry = TokenRegistry {
        url: tokens_url,
        database,
        oauth: OAuthServer::start(OAuthServerConfig::default()).await,
        provider_id: String::new(),
        shutdown: Some(shutdown),
    };
    registry.provider_id = create_provider(&registry).await;
    Library {
        service,
        client,
        tokens: Some(registry),
    }
}

/// Registers the test OAuth server as a provider, as an operator does.
async fn create_provider(registry: &TokenRegistry) -> String {
    let oauth = &registry.oauth;
    registry
        .client()
        .create_provider(with(
            &tokens::service(),
            tk::CreateProviderRequest {
                request_id: String::new(),
                provider: Some(tk::Provider {
                    name: "Test Analytics".into(),
                    authorization_url: oauth.authorization_url(),
                    token_url: oauth.token_url(),
                    revocation_url: oauth.revocation_url(),
                    userinfo_url: oauth.userinfo_url(),
                    client_id: oauth.client_id(),
                    client_secret: oauth.client_secret(),
                    scopes: vec!["analytics.read".into()],
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("an operator registers a provider")
        .into_inner()
        .provider
        .expect("a provider")
        .id
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

    /// Makes `user` a member of `account` with `role`, as an operator does.
    pub async fn member(&self, account: Uuid, user: &str, role: Role) {
        members::add(&self.channel(), account, user, role).await;
    }

    /// Makes the test users members of `account` with their roles.
    pub async fn enroll(&self, account: Uuid) {
        members::enroll(&self.channel(), account).await;
    }

    /// The token registry [`start_with_tokens`] started.
    pub fn registry(&self) -> &TokenRegistry {
        self.tokens
            .as_ref()
            .expect("the test runs the token registry (start_with_tokens)")
    }

    /// A saved credential (an API key) of `account`, created by its editor.
    pub async fn credential(&self, account: Uuid) -> Uuid {
        self.registry()
            .client()
            .create_credential(with(
                &tokens::editor(account),
                tk::CreateCredentialRequest {
                    request_id: String::new(),
                    credential: Some(tk::Credential {
                        display_name: "Feed key".into(),
                        kind: tk::CredentialKind::ApiKey as i32,
                        api_key_placement: tk::ApiKeyPlacement::Header as i32,
                        api_key_name: "X-Api-Key".into(),
                        ..Default::default()
                    }),
                    secret: Some(tk::CredentialSecret {
                        password: String::new(),
                        api_key: "sk_test_key".into(),
                    }),
                },
            ))
            .await
            .expect("CreateCredential")
            .into_inner()
            .credential
            .expect("a credential")
            .id
            .parse()
            .expect("a credential id")
    }

    /// An OAuth token of `account`, connected by its admin through the whole code flow:
    /// begin, the browser at the test OAuth server, complete.
    pub async fn oauth_token(&self, account: Uuid) -> Uuid {
        let registry = self.registry();
        let mut client = registry.client();
        let admin = tokens::admin(account);
        let begun = client
            .begin_authorization(with(
                &admin,
                tk::BeginAuthorizationRequest {
                    request_id: String::new(),
                    account_id: String::new(),
                    provider_id: registry.provider_id.clone(),
                    redirect_uri: REDIRECT_URI.into(),
                    display_name: "Marketing GA".into(),
                    token_id: String::new(),
                },
            ))
            .await
            .expect("BeginAuthorization")
            .into_inner();
        let redirect = follow_authorization_url(&begun.authorization_url).await;
        assert_eq!(redirect.get("state"), Some(&begun.state));
        client
            .complete_authorization(with(
                &admin,
                tk::CompleteAuthorizationRequest {
                    request_id: Uuid::new_v4().to_string(),
                    state: begun.state,
                    code: redirect.get("code").cloned().expect("a code"),
                    error: String::new(),
                },
            ))
            .await
            .expect("CompleteAuthorization")
            .into_inner()
            .token
            .expect("a token")
            .id
            .parse()
            .expect("a token id")
    }

    /// What an import does for an imported data source (`data_source` in `destination`,
    /// fetching what `fingerprint` says) whose master in `source` uses `credential`: a copy
    /// scoped to it (I5). Returns the copy's id.
    pub async fn copy_credential(
        &self,
        credential: Uuid,
        source: Uuid,
        destination: Uuid,
        data_source: &str,
        fingerprint: &str,
    ) -> Uuid {
        self.registry()
            .client()
            .copy_credential(with(
                &tokens::service_as(Identity::Imports),
                tk::CopyCredentialRequest {
                    request_id: format!("import-{destination}-{data_source}/credential"),
                    credential_id: credential.to_string(),
                    destination_account_id: destination.to_string(),
                    data_source_id: data_source.to_owned(),
                    source_account_id: source.to_string(),
                    request_fingerprint: fingerprint.to_owned(),
                },
            ))
            .await
            .expect("CopyCredential")
            .into_inner()
            .credential
            .expect("a copy")
            .id
            .parse()
            .expect("a credential id")
    }

    /// What an import does for an imported data source whose master in `source` uses
    /// `token`: a grant of the token to that data source alone (I6).
    pub async fn grant(
        &self,
        token: Uuid,
        source: Uuid,
        grantee: Uuid,
        data_source: &str,
        fingerprint: &str,
    ) {
        self.registry()
            .client()
            .create_token_grant(with(
                &tokens::service_as(Identity::Imports),
                tk::CreateTokenGrantRequest {
                    request_id: format!("import-{grantee}-{data_source}/grant"),
                    grant: Some(tk::TokenGrant {
                        token_id: token.to_string(),
                        grantee_account_id: grantee.to_string(),
                        data_source_id: data_source.to_owned(),
                        request_fingerprint: fingerprint.to_owned(),
                        ..Default::default()
                    }),
                    source_account_id: source.to_string(),
                },
            ))
            .await
            .expect("CreateTokenGrant");
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
        let id = created.account.unwrap().id.parse().unwrap();
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
            .unwrap()
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
            .unwrap()
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
            .unwrap()
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
pub fn failure<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
) -> Status {
    match result {
        Ok(response) => panic!("expected {code:?}, got {:?}", response.into_inner()),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// The BadRequest field violations of an INVALID_ARGUMENT, as (field, description).
pub fn violations<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
) -> Vec<(String, String)> {
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
pub fn refused<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>, secrets: &[&str]) {
    match result {
        Ok(response) => panic!("expected a refusal, got {:?}", response.into_inner()),
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

/// What the browser does: GET the authorization URL and read where the provider redirects.
/// Returns the redirect's query parameters.
pub async fn follow_authorization_url(url: &str) -> std::collections::HashMap<String, String> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let response = browser.get(url).send().await.expect("the provider answers");
    assert!(
        response.status().is_redirection(),
        "the provider redirects back, got {}",
        response.status()
    );
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("a readable Location")
        .to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    url::Url::parse(&location)
        .expect("a redirect URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
