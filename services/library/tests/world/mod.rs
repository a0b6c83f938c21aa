//! The library with the real refresh service beside it, as deployed: the library reads
//! cached data from refresh (GetCachedData) and refresh resolves data sources through the
//! library, over real gRPC, each on its own database. A data API on loopback plays the third
//! party whose data refresh fetches. The library runs on a manual clock.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::Arc;
use std::time::Duration;

use prost_types::value::Kind;

use tonic::Status;
use trellis_library::{Clock, ManualClock, RenderCounters};
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_testkit::data_api::DataApi;
use trellis_testkit::{InProcess, Port, RunningService, eventually, tokens};
use uuid::Uuid;

use crate::common::{self, Library};

pub const WAIT: Duration = Duration::from_secs(60);
pub const THREE_HOURS: Duration = Duration::from_secs(3 * 3600);

pub struct World {
    pub library: Library,
    /// The refresh service, on a port bound before the library started.
    pub refresh: RunningService,
    pub api: DataApi,
    pub clock: Arc<ManualClock>,
    /// What the library's renderer has evaluated.
    pub counters: Arc<RenderCounters>,
}

/// How the test runs refresh: two workers polling often, loopback allowed.
pub fn refresh_settings() -> trellis_refresh::Settings {
    trellis_refresh::Settings {
        workers: 2,
        poll_interval: Duration::from_millis(200),
        // The data API is on loopback (DESIGN.md section 7: tests allow it).
        allow_private_networks: true,
        ..Default::default()
    }
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(trellis_library::Settings::default()).await
    }

    pub async fn start_with(settings: trellis_library::Settings) -> Self {
        Self::start_configured(settings, refresh_settings()).await
    }

    pub async fn start_configured(
        settings: trellis_library::Settings,
        refresh_settings: trellis_refresh::Settings,
    ) -> Self {
        // Each service calls the other: refresh's address is taken first, the library
        // starts pointing at it, then refresh is built pointing at the library.
        let port = Port::bind().await;
        let refresh_url = port.url();
        let clock = Arc::new(ManualClock::starting_now());
        let library_clock: Arc<dyn Clock> = clock.clone();
        let counters = Arc::new(RenderCounters::default());
        let library_counters = counters.clone();
        let service = RunningService::start(
            ServiceKind::Library,
            &trellis_library::SCHEMA,
            settings,
            |common| {
                common.refresh_url = refresh_url.clone();
                common.tokens_url = common::NOWHERE.into();
            },
            |context| trellis_library::build_counted(context, library_clock, library_counters),
        )
        .await;
        let client = LibraryServiceClient::new(service.server.channel());
        let library = Library {
            service,
            client,
            tokens: None,
        };

        let library_url = library.service.server.url();
        let refresh = InProcess::new(
            ServiceKind::Refresh,
            refresh_settings,
            trellis_refresh::build,
        )
        .configure(move |common| common.library_url = library_url)
        .on(port)
        .start(&trellis_refresh::SCHEMA)
        .await;
        Self {
            library,
            refresh,
            api: DataApi::start().await,
            clock,
            counters,
        }
    }

    pub fn client(&self) -> common::Client {
        self.library.client()
    }

    pub fn refresh_client(&self) -> RefreshServiceClient<TracedChannel> {
        RefreshServiceClient::new(self.refresh.server.channel())
    }

    /// A JSON or CSV data source of `account` over the data API's `path`, never refreshed on
    /// schedule.
    pub async fn data_source(&self, account: Uuid, path: &str) -> String {
        let mut source = common::json_source(Some(account), path, &self.api.url(path));
        if path.ends_with(".csv") {
            source.format = pb::DataFormat::Csv as i32;
        }
        self.library
            .data_source(&tokens::admin(account), source)
            .await
            .id
    }

    /// Has refresh fetch the data source now (RefreshNow with `bearer`, whose property
    /// values select the instance) and waits until the fetch succeeded.
    pub async fn fetch_as(&self, bearer: &str, account: Uuid, data_source: &str) {
        let mut client = self.refresh_client();
        let job = client
            .refresh_now(authorized(
                refresh::RefreshNowRequest {
                    request_id: String::new(),
                    data_source_id: data_source.to_owned(),
                    account_id: account.to_string(),
                    instance_key: String::new(),
                },
                bearer,
            ))
            .await
            .expect("RefreshNow")
            .into_inner()
            .job
            .expect("a job");
        eventually(&format!("refresh job {} to succeed", job.id), WAIT, || {
            let mut client = client.clone();
            let id = job.id.clone();
            async move {
                let job = client
                    .get_refresh_job(authorized(
                        refresh::GetRefreshJobRequest {
                            id,
                            account_id: account.to_string(),
                        },
                        &tokens::service(),
                    ))
                    .await
                    .expect("GetRefreshJob")
                    .into_inner()
                    .job
                    .expect("a job");
                match refresh::RefreshJobState::try_from(job.state) {
                    Ok(refresh::RefreshJobState::Succeeded) => Some(()),
                    Ok(refresh::RefreshJobState::Failed) => {
                        panic!("the refresh failed: {}", job.error)
                    }
                    _ => None,
                }
            }
        })
        .await;
    }

    /// Fetches the data source's instance for the account, without user values.
    pub async fn fetch(&self, account: Uuid, data_source: &str) {
        self.fetch_as(&tokens::service(), account, data_source)
            .await;
    }

    pub async fn render(&self, bearer: &str, klip_id: &str) -> Result<pb::RenderedKlip, Status> {
        self.render_for(bearer, klip_id, "").await
    }

    pub async fn render_for(
        &self,
        bearer: &str,
        klip_id: &str,
        user_id: &str,
    ) -> Result<pb::RenderedKlip, Status> {
        let response = self
            .client()
            .render_klip(authorized(
                pb::RenderKlipRequest {
                    klip_id: klip_id.to_owned(),
                    account_id: String::new(),
                    user_id: user_id.to_owned(),
                },
                bearer,
            ))
            .await?;
        Ok(response.into_inner().rendered_klip.expect("a render"))
    }

    pub async fn create_embed(&self, bearer: &str, embed: pb::Embed) -> Result<pb::Embed, Status> {
        let response = self
            .client()
            .create_embed(authorized(
                pb::CreateEmbedRequest {
                    request_id: String::new(),
                    embed: Some(embed),
                },
                bearer,
            ))
            .await?;
        Ok(response.into_inner().embed.expect("an embed"))
    }

    /// A view through the public web tier (a service token).
    pub async fn view(&self, embed_id: &str) -> Result<pb::ViewEmbedResponse, Status> {
        Ok(self
            .client()
            .view_embed(authorized(
                pb::ViewEmbedRequest {
                    embed_id: embed_id.to_owned(),
                },
                &tokens::service(),
            ))
            .await?
            .into_inner())
    }

    /// What a view may not change: jobs waiting, deferred and running in refresh's queue,
    /// and requests the data API received.
    pub async fn refresh_load(&self) -> (i64, i64, i64, usize) {
        let status = self
            .refresh_client()
            .get_queue_status(authorized(
                refresh::GetQueueStatusRequest {
                    account_id: String::new(),
                },
                &tokens::service(),
            ))
            .await
            .expect("GetQueueStatus")
            .into_inner();
        (
            status.depth,
            status.deferred_count,
            status.running_count,
            self.api.requests(),
        )
    }

    /// Until when refresh counts the account as active (F2); `None` when it never was.
    pub async fn active_until(&self, account: Uuid, data_source: &str) -> Option<i64> {
        self.refresh_client()
            .get_refresh_status(authorized(
                refresh::GetRefreshStatusRequest {
                    data_source_id: data_source.to_owned(),
                    account_id: account.to_string(),
                },
                &tokens::service(),
            ))
            .await
            .expect("GetRefreshStatus")
            .into_inner()
            .account_active_until
            .map(|t| t.seconds)
    }
}

/// A component's values as JSON.
pub fn values(rendered: &pb::RenderedKlip, component: usize) -> serde_json::Value {
    let result = &rendered.components[component];
    assert_eq!(
        result.error, "",
        "component {} ({}) failed",
        component, result.name
    );
    serde_json::Value::Array(
        result
            .values
            .as_ref()
            .map(|list| list.values.iter().map(json).collect())
            .unwrap_or_default(),
    )
}

/// Every component's error, in order.
pub fn errors(rendered: &pb::RenderedKlip) -> Vec<String> {
    rendered
        .components
        .iter()
        .map(|c| c.error.clone())
        .collect()
}

fn json(value: &prost_types::Value) -> serde_json::Value {
    use serde_json::Value;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        // Protobuf numbers are doubles; whole ones read as integers, as the renderer wrote them.
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9e15 => {
            serde_json::json!(*n as i64)
        }
        Some(Kind::NumberValue(n)) => serde_json::json!(n),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(json).collect()),
        Some(Kind::StructValue(fields)) => Value::Object(
            fields
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), json(v)))
                .collect(),
        ),
    }
}

/// Seconds of a protobuf duration, with its fraction.
pub fn seconds(duration: Option<&prost_types::Duration>) -> f64 {
    let duration = duration.expect("a duration");
    duration.seconds as f64 + f64::from(duration.nanos) / 1e9
}

/// The protobuf timestamp's whole seconds and nanoseconds, as chrono.
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    let t = timestamp.expect("a timestamp");
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).expect("a valid time")
}
