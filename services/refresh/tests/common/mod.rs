//! What the end-to-end tests share: the library and the token registry running in-process
//! as the real services, refresh replicas over one database, a data API and an OAuth server
//! on loopback, and helpers to create accounts (with the test users as members), data
//! sources and tokens.

#![allow(dead_code, reason = "each test file uses part of the harness")]

pub mod jobs;
pub mod reports;

use std::collections::HashMap;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::Request;
use trellis_platform::auth::Role;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_refresh::Settings;
use trellis_testkit::data_api::DataApi;
use trellis_testkit::oauth::OAuthServer;
use trellis_testkit::{
    RunningService, TestDatabase, TestServer, eventually, members, test_config, tokens,
};
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(60);

/// Settings for tests: short leases and intervals, loopback allowed.
pub fn fast_settings() -> Settings {
    Settings {
        workers: 4,
        batch_size: 4,
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(500),
        schedule_interval: Duration::from_millis(100),
        activity_window: Duration::from_secs(3600),
        resync_interval: Duration::from_secs(3600),
        allow_private_networks: true,
        default_retry_after: Duration::from_secs(1),
        ..Settings::default()
    }
}

pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    authorized(message, bearer)
}

/// The services around the refresh service, and the third parties.
pub struct World {
    pub library: RunningService,
    /// The token registry, served on an address the library was given before it started.
    pub tokens: ServedReplica,
    pub tokens_database: TestDatabase,
    pub refresh_database: TestDatabase,
    pub api: DataApi,
    /// Where the library reads cached data to render Klips: bound before the library
    /// started, served by [`World::rendering_replica`].
    refresh_listener: std::sync::Mutex<Option<TcpListener>>,
}

/// A service served on an address taken before it was built (the refresh replica the
/// library renders through, the token registry); stops when dropped.
pub struct ServedReplica {
    pub url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for ServedReplica {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Serves `server` on `listener` until the answer is dropped.
fn serve_on(listener: TcpListener, server: trellis_platform::server::GrpcServer) -> ServedReplica {
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    ServedReplica {
        url,
        shutdown: Some(shutdown),
    }
}

impl World {
    pub async fn start() -> Self {
        // The library and the token registry call each other (memberships, the auth of
        // data sources): the registry's address is taken first, the library starts pointing
        // at it, then the registry is built pointing at the library.
        let refresh_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let refresh_url = format!(
            "http://{}",
            refresh_listener.local_addr().expect("an address")
        );
        let tokens_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let tokens_url = format!(
            "http://{}",
            tokens_listener.local_addr().expect("an address")
        );
        let library = RunningService::start(
            ServiceKind::Library,
            &trellis_library::SCHEMA,
            Default::default(),
            |common| {
                common.tokens_url = tokens_url;
                common.refresh_url = refresh_url;
            },
            trellis_library::build,
        )
        .await;
        let tokens_database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
        let mut common = test_config(&tokens_database.url);
        common.library_url = library.server.url();
        let context = ServiceContext::new(
            ServiceKind::Tokens,
            common,
            trellis_tokens::Settings::default(),
            tokens_database.pool(),
        )
        .expect("a service context");
        let tokens = serve_on(
            tokens_listener,
            trellis_tokens::build(context)
                .await
                .expect("the token registry builds"),
        );
        Self {
            library,
            tokens,
            tokens_database,
            refresh_database: TestDatabase::new(&trellis_refresh::SCHEMA).await,
            api: DataApi::start().await,
            refresh_listener: std::sync::Mutex::new(Some(refresh_listener)),
        }
    }

    /// The refresh replica the library reads cached data from (RenderKlip, and so email
    /// reports); one per world.
    pub async fn rendering_replica(&self, settings: Settings) -> ServedReplica {
        let listener = self
            .refresh_listener
            .lock()
            .expect("the listener")
            .take()
            .expect("one rendering replica per world");
        let mut common = test_config(&self.refresh_database.url);
        common.library_url = self.library.server.url();
        common.tokens_url = self.tokens.url.clone();
        let pool = trellis_platform::db::pool(&self.refresh_database.url, 16).expect("a pool");
        let context = ServiceContext::new(ServiceKind::Refresh, common, settings, pool)
            .expect("a service context");
        serve_on(
            listener,
            trellis_refresh::build(context)
                .await
                .expect("refresh builds"),
        )
    }

    /// A refresh replica in-process over the shared refresh database, with its own pool.
    pub async fn replica(&self, settings: Settings) -> TestServer {
        let mut common = test_config(&self.refresh_database.url);
        common.library_url = self.library.server.url();
        common.tokens_url = self.tokens.url.clone();
        let pool = trellis_platform::db::pool(&self.refresh_database.url, 16).expect("a pool");
        let context = ServiceContext::new(ServiceKind::Refresh, common, settings, pool)
            .expect("a service context");
        TestServer::spawn(
            trellis_refresh::build(context)
                .await
                .expect("refresh builds"),
        )
        .await
    }

    /// The environment a refresh process needs to reach this world.
    pub fn process_env(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            ("TRELLIS_LIBRARY_URL", self.library.server.url()),
            ("TRELLIS_TOKENS_URL", self.tokens.url.clone()),
            ("TRELLIS_REFRESH_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
            ("TRELLIS_REFRESH_SCHEDULE_INTERVAL", "100ms".to_owned()),
            ("TRELLIS_REFRESH_POLL_INTERVAL", "500ms".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (key, value) in extra {
            env.insert((*key).to_owned(), (*value).to_owned());
        }
        env
    }

    pub fn library_client(&self) -> LibraryServiceClient<TracedChannel> {
        LibraryServiceClient::new(self.library.server.channel())
    }

    pub fn tokens_client(&self) -> TokenServiceClient<TracedChannel> {
        TokenServiceClient::new(
            trellis_platform::client::channel(&self.tokens.url).expect("a channel"),
        )
    }

    /// Makes `user` a member of `account` with `role` (an operator's CreateMembership).
    /// A user's calls are accepted only once they are a member, so this comes before them.
    pub async fn member(&self, account: Uuid, user: &str, role: Role) {
        members::add(&self.library.server.channel(), account, user, role).await;
    }

    /// An account of `kind` (a client under `parent`), created with an operator's token;
    /// `admin@test`, `editor@test` and `viewer@test` are its members.
    pub async fn account(&self, kind: library::AccountKind, parent: Option<Uuid>) -> Uuid {
        let created = self
            .library_client()
            .create_account(call(
                library::CreateAccountRequest {
                    request_id: String::new(),
                    account: Some(library::Account {
                        kind: kind as i32,
                        parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                        display_name: format!("{kind:?} account"),
                        ..Default::default()
                    }),
                },
                &tokens::service(),
            ))
            .await
            .expect("CreateAccount")
            .into_inner()
            .account
            .expect("an account");
        let account = Uuid::parse_str(&created.id).unwrap();
        members::enroll(&self.library.server.channel(), account).await;
        account
    }

    pub async fn set_property(&self, account: Uuid, name: &str, value: &str) {
        self.library_client()
            .set_company_property(call(
                library::SetCompanyPropertyRequest {
                    request_id: String::new(),
                    property: Some(library::CompanyProperty {
                        account_id: account.to_string(),
                        name: name.into(),
                        value: value.into(),
                        ..Default::default()
                    }),
                },
                &tokens::admin(account),
            ))
            .await
            .expect("SetCompanyProperty");
    }

    /// A data source of `account` fetching `url` every `interval` (zero: never on
    /// schedule).
    pub async fn data_source(&self, account: Uuid, url: &str, interval: Duration) -> Uuid {
        self.data_source_with(account, url, interval, None, "")
            .await
    }

    pub async fn data_source_with(
        &self,
        account: Uuid,
        url: &str,
        interval: Duration,
        auth: Option<library::data_source_auth::Method>,
        rate_limit_key: &str,
    ) -> Uuid {
        let format = if url.ends_with(".csv") {
            library::DataFormat::Csv
        } else {
            library::DataFormat::Json
        };
        let created = self
            .library_client()
            .create_data_source(call(
                library::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(library::DataSource {
                        account_id: account.to_string(),
                        name: format!("data from {url}"),
                        request: Some(library::HttpRequestTemplate {
                            method: library::HttpMethod::Get as i32,
                            url: url.to_owned(),
                            headers: vec![],
                            body: String::new(),
                        }),
                        format: format as i32,
                        auth: Some(library::DataSourceAuth {
                            kind: 0,
                            method: auth,
                        }),
                        refresh_interval: (!interval.is_zero()).then_some(prost_types::Duration {
                            seconds: interval.as_secs() as i64,
                            nanos: 0,
                        }),
                        rate_limit_key: rate_limit_key.to_owned(),
                        ..Default::default()
                    }),
                },
                &tokens::admin(account),
            ))
            .await
            .expect("CreateDataSource")
            .into_inner()
            .data_source
            .expect("a data source");
        Uuid::parse_str(&created.id).unwrap()
    }

    /// A Klip of `account` with named components (`(name, formula)`) over `bindings`.
    pub async fn klip(
        &self,
        account: Uuid,
        name: &str,
        components: &[(&str, &str)],
        bindings: &[Uuid],
    ) -> Uuid {
        let created = self
            .library_client()
            .create_klip(call(
                library::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(library::Klip {
                        name: name.into(),
                        components: components
                            .iter()
                            .map(|(name, formula)| library::Component {
                                name: (*name).into(),
                                formula: (*formula).into(),
                            })
                            .collect(),
                        bindings: bindings
                            .iter()
                            .map(|source| library::Binding {
                                data_source_id: source.to_string(),
                            })
                            .collect(),
                        ..Default::default()
                    }),
                },
                &tokens::editor(account),
            ))
            .await
            .expect("CreateKlip")
            .into_inner()
            .klip
            .expect("a Klip");
        Uuid::parse_str(&created.id).unwrap()
    }

    /// A dashboard of `account` showing `klips`.
    pub async fn dashboard(&self, account: Uuid, name: &str, klips: &[Uuid]) -> Uuid {
        let created = self
            .library_client()
            .create_dashboard(call(
                library::CreateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(library::Dashboard {
                        name: name.into(),
                        klip_ids: klips.iter().map(Uuid::to_string).collect(),
                        ..Default::default()
                    }),
                },
                &tokens::editor(account),
            ))
            .await
            .expect("CreateDashboard")
            .into_inner()
            .dashboard
            .expect("a dashboard");
        Uuid::parse_str(&created.id).unwrap()
    }

    /// A saved API-key credential of `account`, sent as the query parameter `name`.
    pub async fn api_key_in_query(&self, account: Uuid, name: &str, key: &str) -> String {
        self.tokens_client()
            .create_credential(call(
                tokens_pb::CreateCredentialRequest {
                    request_id: String::new(),
                    credential: Some(tokens_pb::Credential {
                        account_id: account.to_string(),
                        display_name: "API key".into(),
                        kind: tokens_pb::CredentialKind::ApiKey as i32,
                        api_key_placement: tokens_pb::ApiKeyPlacement::QueryParameter as i32,
                        api_key_name: name.into(),
                        ..Default::default()
                    }),
                    secret: Some(tokens_pb::CredentialSecret {
                        password: String::new(),
                        api_key: key.into(),
                    }),
                },
                &tokens::admin(account),
            ))
            .await
            .expect("CreateCredential")
            .into_inner()
            .credential
            .expect("a credential")
            .id
    }

    /// Registers `oauth` as a provider whose tokens allow `limit`, and runs the code flow for
    /// `account`'s admin. Returns the token's id.
    pub async fn oauth_token(
        &self,
        oauth: &OAuthServer,
        account: Uuid,
        limit: tokens_pb::ApiLimit,
    ) -> String {
        let mut client = self.tokens_client();
        let provider = client
            .create_provider(call(
                tokens_pb::CreateProviderRequest {
                    request_id: String::new(),
                    provider: Some(tokens_pb::Provider {
                        name: "Test Analytics".into(),
                        authorization_url: oauth.authorization_url(),
                        token_url: oauth.token_url(),
                        revocation_url: oauth.revocation_url(),
                        userinfo_url: oauth.userinfo_url(),
                        client_id: oauth.client_id(),
                        client_secret: oauth.client_secret(),
                        scopes: vec!["analytics.read".into()],
                        token_limit: Some(limit),
                        ..Default::default()
                    }),
                },
                &tokens::service(),
            ))
            .await
            .expect("CreateProvider")
            .into_inner()
            .provider
            .expect("a provider");

        let admin = tokens::admin(account);
        let redirect_uri = "http://127.0.0.1:9/oauth/callback";
        let begun = client
            .begin_authorization(call(
                tokens_pb::BeginAuthorizationRequest {
                    request_id: String::new(),
                    account_id: String::new(),
                    provider_id: provider.id.clone(),
                    redirect_uri: redirect_uri.into(),
                    display_name: "Analytics".into(),
                    token_id: String::new(),
                },
                &admin,
            ))
            .await
            .expect("BeginAuthorization")
            .into_inner();
        // The browser's part: the test server approves at once and redirects back.
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = browser
            .get(&begun.authorization_url)
            .send()
            .await
            .expect("the provider answers");
        let location = response
            .headers()
            .get("location")
            .expect("a redirect")
            .to_str()
            .unwrap()
            .to_owned();
        let query: HashMap<String, String> = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        client
            .complete_authorization(call(
                tokens_pb::CompleteAuthorizationRequest {
                    request_id: Uuid::new_v4().to_string(),
                    state: begun.state,
                    code: query.get("code").cloned().expect("a code"),
                    error: String::new(),
                },
                &admin,
            ))
            .await
            .expect("CompleteAuthorization")
            .into_inner()
            .token
            .expect("a token")
            .id
    }
}

pub fn refresh_client(server: &TestServer) -> RefreshServiceClient<TracedChannel> {
    RefreshServiceClient::new(server.channel())
}

pub fn refresh_client_at(url: &str) -> RefreshServiceClient<TracedChannel> {
    RefreshServiceClient::new(trellis_platform::client::channel(url).expect("a channel"))
}

/// An editor of `account` refreshes a data source now (RefreshNow).
pub async fn refresh_now(
    client: &mut RefreshServiceClient<TracedChannel>,
    account: Uuid,
    data_source: Uuid,
) -> refresh::RefreshJob {
    client
        .refresh_now(call(
            refresh::RefreshNowRequest {
                request_id: String::new(),
                data_source_id: data_source.to_string(),
                account_id: String::new(),
                instance_key: String::new(),
            },
            &tokens::editor(account),
        ))
        .await
        .expect("RefreshNow")
        .into_inner()
        .job
        .expect("a job")
}

/// A user of `account` signs in (a member of it: [`World::member`]).
pub async fn login(
    client: &mut RefreshServiceClient<TracedChannel>,
    account: Uuid,
    user: &str,
) -> refresh::RecordActivityResponse {
    client
        .record_activity(call(
            refresh::RecordActivityRequest {
                request_id: String::new(),
                kind: refresh::ActivityKind::Login as i32,
            },
            &tokens::user_token(account, user, trellis_platform::auth::Role::Viewer),
        ))
        .await
        .expect("RecordActivity")
        .into_inner()
}

pub async fn refresh_status(
    client: &mut RefreshServiceClient<TracedChannel>,
    account: Uuid,
    data_source: Uuid,
) -> refresh::GetRefreshStatusResponse {
    client
        .get_refresh_status(call(
            refresh::GetRefreshStatusRequest {
                data_source_id: data_source.to_string(),
                account_id: String::new(),
            },
            &tokens::viewer(account),
        ))
        .await
        .expect("GetRefreshStatus")
        .into_inner()
}

/// Waits until every data source has been fetched successfully `times` times or more, by
/// its jobs' states.
pub async fn wait_until_fetched(
    client: &RefreshServiceClient<TracedChannel>,
    account: Uuid,
    data_sources: &[Uuid],
) {
    for data_source in data_sources {
        eventually(
            &format!("data source {data_source} to be fetched"),
            WAIT,
            || {
                let mut client = client.clone();
                async move {
                    let status = refresh_status(&mut client, account, *data_source).await;
                    status
                        .instances
                        .iter()
                        .any(|i| i.last_fetch_time.is_some())
                        .then_some(())
                }
            },
        )
        .await;
    }
}

pub async fn connect(database: &TestDatabase) -> AsyncPgConnection {
    AsyncPgConnection::establish(&database.url)
        .await
        .expect("connect")
}

/// Moves the last fetch of these data sources' instances back by `by`, as if that much
/// time had passed since (the refresh interval's minimum is a minute).
pub async fn age(database: &TestDatabase, data_sources: &[Uuid], by: Duration) {
    let mut conn = connect(database).await;
    diesel::sql_query(
        "UPDATE instances
         SET last_fetch_time = last_fetch_time - $2,
             next_due_time = next_due_time - $2
         WHERE data_source_id = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(data_sources)
    .bind::<diesel::sql_types::Interval, _>(trellis_refresh::store::jobs::interval(by))
    .execute(&mut conn)
    .await
    .expect("age the instances");
}

/// Ends an account's activity window, as if nobody had been active in it for a while.
pub async fn go_inactive(database: &TestDatabase, account: Uuid) {
    let mut conn = connect(database).await;
    diesel::sql_query(
        "UPDATE account_activity SET active_until = now() - interval '1 second'
         WHERE account_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(account)
    .execute(&mut conn)
    .await
    .expect("end the activity window");
    // The window (an hour) has passed, so the last sync is older than the throttle too.
    diesel::sql_query(
        "UPDATE activity_syncs SET synced_at = synced_at - interval '1 hour'
         WHERE account_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(account)
    .execute(&mut conn)
    .await
    .expect("age the last sync");
}

/// Successful fetches stored per data source (a count no gRPC answer shows).
pub async fn fetch_counts(database: &TestDatabase) -> HashMap<Uuid, i64> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        data_source_id: Uuid,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        fetch_count: i64,
    }
    let mut conn = connect(database).await;
    diesel::sql_query("SELECT data_source_id, fetch_count FROM instances")
        .load::<Row>(&mut conn)
        .await
        .expect("read the instances")
        .into_iter()
        .map(|r| (r.data_source_id, r.fetch_count))
        .collect()
}

/// Every job of the refresh database: (data source, state, attempt).
pub async fn all_jobs(database: &TestDatabase) -> Vec<(Uuid, String, i32)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        data_source_id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempt: i32,
    }
    let mut conn = connect(database).await;
    diesel::sql_query("SELECT data_source_id, state, attempt FROM refresh_jobs ORDER BY seq")
        .load::<Row>(&mut conn)
        .await
        .expect("read the jobs")
        .into_iter()
        .map(|r| (r.data_source_id, r.state, r.attempt))
        .collect()
}
