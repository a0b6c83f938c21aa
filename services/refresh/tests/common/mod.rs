//! What the end-to-end tests share: the library and the token registry running in-process
//! as the real services, refresh replicas over one database, a data API and an OAuth server
//! on loopback, and helpers to create accounts (with the test users as members), data
//! sources and tokens.

#![allow(dead_code, reason = "each test file uses part of the harness")]

mod credentials;
mod db;
pub mod jobs;
pub mod reports;
mod tenants;

// Not every test binary reads the database directly, or builds its own data sources.
#[allow(unused_imports)]
pub use db::*;
#[allow(unused_imports)]
pub use tenants::source_of;

use std::collections::HashMap;
use std::time::Duration;

use tonic::Request;
use trellis_platform::auth::Role;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
pub use trellis_refresh::Settings;
use trellis_testkit::data_api::DataApi;
use trellis_testkit::{
    InProcess, Port, RunningService, TestDatabase, TestServer, eventually, members, tokens,
};
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(60);

pub const HOUR: Duration = Duration::from_secs(3600);

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

/// The library and the token registry as the tests reach them: the tenants and credentials
/// they create (`tenants`, `credentials`) go through these.
pub struct Services {
    pub library: TracedChannel,
    pub tokens: TracedChannel,
}

impl Services {
    pub fn library_client(&self) -> LibraryServiceClient<TracedChannel> {
        LibraryServiceClient::new(self.library.clone())
    }

    pub fn tokens_client(&self) -> TokenServiceClient<TracedChannel> {
        TokenServiceClient::new(self.tokens.clone())
    }

    /// Makes `user` a member of `account` with `role` (an operator's CreateMembership).
    /// A user's calls are accepted only once they are a member, so this comes before them.
    pub async fn member(&self, account: Uuid, user: &str, role: Role) {
        members::add(&self.library, account, user, role).await;
    }
}

/// The services around the refresh service, and the third parties. It derefs to the
/// [`Services`] that create tenants and credentials.
pub struct World {
    pub library: RunningService,
    /// The token registry, served on an address the library was given before it started.
    pub tokens: TestServer,
    pub tokens_database: TestDatabase,
    pub refresh_database: TestDatabase,
    pub api: DataApi,
    services: Services,
    /// Where the library reads cached data to render Klips: bound before the library
    /// started, served by [`World::rendering_replica`].
    refresh_port: std::sync::Mutex<Option<Port>>,
}

impl std::ops::Deref for World {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl World {
    pub async fn start() -> Self {
        // The library and the token registry call each other (memberships, the auth of
        // data sources): the registry's port is bound first, the library starts pointing
        // at it, then the registry is built pointing at the library.
        let refresh_port = Port::bind().await;
        let tokens_port = Port::bind().await;
        let (refresh_url, tokens_url) = (refresh_port.url(), tokens_port.url());
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
        let library_url = library.server.url();
        let tokens = InProcess::new(
            ServiceKind::Tokens,
            trellis_tokens::Settings::default(),
            trellis_tokens::build,
        )
        .configure(move |common| common.library_url = library_url)
        .on(tokens_port)
        .serve(&tokens_database)
        .await;
        let services = Services {
            library: library.server.channel(),
            tokens: tokens.channel(),
        };
        Self {
            library,
            tokens,
            tokens_database,
            refresh_database: TestDatabase::new(&trellis_refresh::SCHEMA).await,
            api: DataApi::start().await,
            services,
            refresh_port: std::sync::Mutex::new(Some(refresh_port)),
        }
    }

    /// A refresh replica in-process over the shared refresh database, with its own pool;
    /// on `port` when it was bound before.
    async fn serve_refresh(&self, settings: Settings, port: Option<Port>) -> TestServer {
        let mut replica = InProcess::new(ServiceKind::Refresh, settings, trellis_refresh::build)
            .configure(|common| {
                common.library_url = self.library.server.url();
                common.tokens_url = self.tokens.url();
            })
            .pool_size(16);
        if let Some(port) = port {
            replica = replica.on(port);
        }
        replica.serve(&self.refresh_database).await
    }

    /// The refresh replica the library reads cached data from (RenderKlip, and so email
    /// reports); one per world.
    pub async fn rendering_replica(&self, settings: Settings) -> TestServer {
        let port = self
            .refresh_port
            .lock()
            .expect("the port")
            .take()
            .expect("one rendering replica per world");
        self.serve_refresh(settings, Some(port)).await
    }

    /// A refresh replica in-process over the shared refresh database, with its own pool.
    pub async fn replica(&self, settings: Settings) -> TestServer {
        self.serve_refresh(settings, None).await
    }

    /// The environment a refresh process needs to reach this world.
    pub fn process_env(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            ("TRELLIS_LIBRARY_URL", self.library.server.url()),
            ("TRELLIS_TOKENS_URL", self.tokens.url()),
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

/// The queue positions of a GetQueueStatus answer: (data source, place in the queue).
pub fn positions(status: &refresh::GetQueueStatusResponse) -> Vec<(String, i64)> {
    status
        .positions
        .iter()
        .map(|p| {
            let job = p.job.as_ref().expect("a job");
            (job.data_source_id.clone(), p.position)
        })
        .collect()
}

/// A user of `account` signs in (a member of it: [`Services::member`]).
pub async fn login(
    client: &mut RefreshServiceClient<TracedChannel>,
    account: Uuid,
    user: &str,
) -> refresh::RecordActivityResponse {
    activity(client, account, user, refresh::ActivityKind::Login).await
}

/// An activity of `kind` of a user of `account` (RecordActivity).
pub async fn activity(
    client: &mut RefreshServiceClient<TracedChannel>,
    account: Uuid,
    user: &str,
    kind: refresh::ActivityKind,
) -> refresh::RecordActivityResponse {
    client
        .record_activity(call(
            refresh::RecordActivityRequest {
                request_id: String::new(),
                kind: kind as i32,
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

/// Waits for the first failed refresh of `data_source`'s instance; answers its error.
pub async fn first_failure(
    client: &RefreshServiceClient<TracedChannel>,
    account: Uuid,
    data_source: Uuid,
) -> String {
    let what = format!("a failed refresh of data source {data_source}");
    eventually(&what, WAIT, || {
        let mut client = client.clone();
        async move {
            let status = refresh_status(&mut client, account, data_source).await;
            let instance = status.instances.into_iter().next()?;
            (instance.consecutive_failures == 1).then_some(instance.last_error)
        }
    })
    .await
}

/// Waits until the data API has answered `count` requests for `path`; `what` says why.
pub async fn wait_for_requests(api: &DataApi, path: &str, count: usize, what: &str) {
    eventually(what, WAIT, || {
        let seen = api.requests_for(path);
        async move { (seen == count).then_some(()) }
    })
    .await;
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
