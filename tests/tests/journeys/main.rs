//! The main journeys as users meet them, across the four services running as separate
//! processes: build a partner's dashboard, import it into clients, update the instances,
//! re-authorize a token, refresh through activity, render an embed. Each journey sends one
//! W3C trace id with every call it makes, and checks what the services exported to an OTLP
//! receiver: every service the journey reaches has spans in that one trace, and every span of
//! it hangs from the journey's calls, so nothing was cut off into a trace of its own.
//!
//! The journeys build on one another: `building` makes the partner's dashboard, `instances`
//! imports it into clients and changes it, `refreshing` refreshes and renders what they see.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod building;
mod instances;
mod refreshing;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tonic::Request;
use trellis_e2e::cluster::{Clients, Cluster};
use trellis_platform::client::authorized;
use trellis_testkit::eventually;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use uuid::Uuid;

use building::build_a_partners_dashboard;
use instances::{import_it_into_clients, reauthorize_the_token, update_the_instances};
use refreshing::{refresh_through_activity, render_an_embed};

const WAIT: Duration = Duration::from_secs(30);
const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// One journey: one trace id, and a fresh parent span id for every call it makes.
pub(crate) struct Journey {
    name: &'static str,
    trace_id: String,
    client_spans: Vec<String>,
}

impl Journey {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            trace_id: Uuid::new_v4().simple().to_string(),
            client_spans: Vec::new(),
        }
    }

    /// A request as the journey's client sends it: its bearer token and its trace.
    fn request<T>(&mut self, message: T, bearer: &str) -> Request<T> {
        let span_id = Uuid::new_v4().simple().to_string()[..16].to_owned();
        let mut request = authorized(message, bearer);
        request.metadata_mut().insert(
            "traceparent",
            format!("00-{}-{span_id}-01", self.trace_id)
                .parse()
                .expect("a traceparent"),
        );
        self.client_spans.push(span_id);
        request
    }

    /// Waits until every call of the journey continued its trace in the server it reached,
    /// each of `services` exported spans in the trace, and every span of the trace hangs
    /// from one of the journey's calls.
    async fn check_trace(&self, receiver: &OtlpReceiver, services: &[&str]) -> Vec<ReceivedSpan> {
        let wanted: BTreeSet<&str> = services.iter().copied().collect();
        let spans = eventually(
            &format!("one connected trace across {wanted:?} for {}", self.name),
            WAIT,
            || {
                let spans = receiver.spans_of_trace(&self.trace_id);
                let seen: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
                let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
                let connected = spans.iter().all(|span| {
                    ids.contains(span.parent_span_id.as_str())
                        || self.client_spans.contains(&span.parent_span_id)
                });
                let every_call_continued = self
                    .client_spans
                    .iter()
                    .all(|client| spans.iter().any(|span| &span.parent_span_id == client));
                let done = wanted.iter().all(|service| seen.contains(service))
                    && connected
                    && every_call_continued;
                let result = done.then(|| spans.clone());
                async move { result }
            },
        )
        .await;
        let services_seen: BTreeSet<String> = spans.iter().map(|s| s.service.clone()).collect();
        println!(
            "{}: {} spans in trace {} from {services_seen:?}",
            self.name,
            spans.len(),
            self.trace_id
        );
        spans
    }
}

/// What the journeys build on one another.
pub(crate) struct World {
    partner: Uuid,
    clients: Vec<(Uuid, &'static str)>,
    token_id: String,
    sales_klip: String,
    dashboard: String,
    /// Acme's instance of the sales Klip, once imported.
    acme_klip: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn each_journey_across_the_four_processes_is_one_trace() {
    let receiver = OtlpReceiver::start().await;
    let env = HashMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
    ]);
    let cluster = Cluster::start(&env).await;
    let oauth = OAuthServer::start(OAuthServerConfig::default()).await;
    let data_server = trellis_demo::data_server::spawn("127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sales API starts");
    let mut clients = Clients::of(&cluster);

    let mut world = build_a_partners_dashboard(
        &mut clients,
        &receiver,
        &oauth,
        &format!("http://{data_server}"),
    )
    .await;
    import_it_into_clients(&mut clients, &receiver, &mut world).await;
    update_the_instances(&mut clients, &receiver, &world).await;
    reauthorize_the_token(&mut clients, &receiver, &oauth, &world).await;
    refresh_through_activity(&mut clients, &receiver, &mut world).await;
    render_an_embed(&mut clients, &receiver, &world).await;
}
