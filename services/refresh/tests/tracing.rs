//! Trace context through the queue: the worker's fetch of a job continues the trace of the
//! call that queued it (RecordActivity, RefreshNow), so one trace spans "record activity →
//! queue → fetch → calls to the library and the token registry". The three services run as
//! the real binaries, each in its own process exporting spans over OTLP to a receiver in
//! the test.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use std::collections::HashMap;
use std::time::Duration;

use tonic::Request;
use trellis_platform::auth::Role;
use trellis_platform::client::TracedChannel;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_testkit::data_api::{Auth, DataApi};
use trellis_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use trellis_testkit::process::{ServiceProcess, binary};
use trellis_testkit::{TestDatabase, eventually, tokens};

use common::Services;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(60);

fn channel(process: &ServiceProcess) -> TracedChannel {
    trellis_platform::client::channel(&process.url()).expect("a channel")
}

/// A loopback address nothing listens on right now: the library and the token registry
/// call each other, so the library's port is chosen before either starts, and released.
fn free_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

/// The three services as processes exporting their spans to a receiver, with their
/// databases.
struct Processes {
    tokens: ServiceProcess,
    library: ServiceProcess,
    refresh: ServiceProcess,
    _databases: [TestDatabase; 3],
}

impl Processes {
    async fn start(receiver: &OtlpReceiver) -> Self {
        let otel = |extra: &[(&str, String)]| -> HashMap<String, String> {
            let mut env: HashMap<String, String> = [
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
                ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
                ("RUST_LOG", "info".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
            env
        };
        let library_address = free_address();
        let tokens_db = TestDatabase::new(&trellis_tokens::SCHEMA).await;
        let tokens = ServiceProcess::start(
            binary("trellis-tokens"),
            &tokens_db.url,
            &otel(&[("TRELLIS_LIBRARY_URL", format!("http://{library_address}"))]),
        )
        .await;
        let library_db = TestDatabase::new(&trellis_library::SCHEMA).await;
        let library = ServiceProcess::start(
            binary("trellis-library"),
            &library_db.url,
            &otel(&[
                ("TRELLIS_LISTEN_ADDR", library_address.to_string()),
                ("TRELLIS_TOKENS_URL", tokens.url()),
            ]),
        )
        .await;
        let refresh_db = TestDatabase::new(&trellis_refresh::SCHEMA).await;
        let refresh = ServiceProcess::start(
            binary("trellis-refresh"),
            &refresh_db.url,
            &otel(&[
                ("TRELLIS_LIBRARY_URL", library.url()),
                ("TRELLIS_TOKENS_URL", tokens.url()),
                ("TRELLIS_REFRESH_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
                ("TRELLIS_REFRESH_POLL_INTERVAL", "500ms".to_owned()),
            ]),
        )
        .await;
        Self {
            tokens,
            library,
            refresh,
            _databases: [tokens_db, library_db, refresh_db],
        }
    }
}

/// `message` with `bearer`, carrying the W3C trace context of a caller's span `parent` in
/// the trace `trace_id`.
fn traced<T>(message: T, bearer: &str, trace_id: &str, parent: &str) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", format!("Bearer {bearer}").parse().unwrap());
    metadata.insert(
        "traceparent",
        format!("00-{trace_id}-{parent}-01").parse().unwrap(),
    );
    request
}

/// The span of `service` whose name ends with `name`.
fn find(spans: &[ReceivedSpan], service: &str, name: &str) -> Option<ReceivedSpan> {
    spans
        .iter()
        .find(|s| s.service == service && s.name.ends_with(name))
        .cloned()
}

/// The span of `service` named `name` whose parent is `parent`.
fn child(
    spans: &[ReceivedSpan],
    service: &str,
    name: &str,
    parent: &ReceivedSpan,
) -> Option<ReceivedSpan> {
    spans
        .iter()
        .find(|s| {
            s.service == service && s.name.ends_with(name) && s.parent_span_id == parent.span_id
        })
        .cloned()
}

/// An account with a data source that logs in with a saved API key: fetching it calls the
/// library (resolution) and the token registry (the key). Its members: the test users, and
/// Ann, who logs in.
async fn traced_data_source(processes: &Processes, api: &DataApi) -> (Uuid, String) {
    let services = Services {
        library: channel(&processes.library),
        tokens: channel(&processes.tokens),
    };
    let account = services.account(library::AccountKind::Standard, None).await;
    services.member(account, "ann", Role::Admin).await;
    let credential = services.api_key_in_query(account, "key", "sesame").await;
    api.require(Auth::ApiKeyQuery {
        name: "key".into(),
        key: "sesame".into(),
    });
    api.set_json("/traced", serde_json::json!({"ok": true}));
    let data_source = services
        .data_source_with(
            account,
            &api.url("/traced"),
            Duration::from_secs(3600),
            Some(library::data_source_auth::Method::CredentialId(credential)),
            "",
        )
        .await
        .to_string();
    (account, data_source)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jobs_fetch_continues_the_trace_of_the_call_that_queued_it() {
    let receiver = OtlpReceiver::start().await;
    let api = DataApi::start().await;
    let processes = Processes::start(&receiver).await;

    let (account, data_source) = traced_data_source(&processes, &api).await;

    // The caller's trace: a login carrying its W3C trace context.
    let trace_id = Uuid::new_v4().simple().to_string();
    let caller_span = &Uuid::new_v4().simple().to_string()[..16];
    let login = refresh::RecordActivityRequest {
        request_id: String::new(),
        kind: refresh::ActivityKind::Login as i32,
    };
    let bearer = tokens::user_token(account, "ann", Role::Admin);
    // A channel that adds no trace context of its own.
    let plain = tonic::transport::Channel::from_shared(processes.refresh.url())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut refresh_client = RefreshServiceClient::new(plain);
    let queued = refresh_client
        .record_activity(traced(login, &bearer, &trace_id, caller_span))
        .await
        .expect("RecordActivity")
        .into_inner()
        .queued_jobs;
    assert_eq!(queued, 1);

    let (activity, fetch, resolve, secret) = eventually(
        "the fetch and its calls in the caller's trace",
        WAIT,
        || {
            let spans = receiver.spans_of_trace(&trace_id);
            let found = (|| {
                let activity = find(&spans, "refresh", "RefreshService/RecordActivity")?;
                let fetch = find(&spans, "refresh", "refresh.fetch")?;
                let resolve = child(
                    &spans,
                    "library",
                    "LibraryService/ResolveDataSource",
                    &fetch,
                )?;
                let secret = child(&spans, "tokens", "TokenService/GetCredentialSecret", &fetch)?;
                Some((activity, fetch, resolve, secret))
            })();
            async move { found }
        },
    )
    .await;

    assert_eq!(api.requests_for("/traced"), 1, "fetched with the key");
    // record activity → (queue) → fetch → library and token registry, one trace.
    assert_eq!(
        activity.parent_span_id, caller_span,
        "the call continues the caller"
    );
    assert_eq!(fetch.trace_id, trace_id);
    assert_eq!(
        fetch.parent_span_id, activity.span_id,
        "the fetch's parent is the call that queued its job"
    );
    assert_eq!(resolve.trace_id, trace_id);
    assert_eq!(secret.trace_id, trace_id);

    // RefreshNow: the same, in the trace of its own caller.
    let second_trace = Uuid::new_v4().simple().to_string();
    let now = refresh::RefreshNowRequest {
        request_id: String::new(),
        data_source_id: data_source,
        account_id: String::new(),
        instance_key: String::new(),
    };
    let now = traced(now, &tokens::editor(account), &second_trace, caller_span);
    refresh_client.refresh_now(now).await.expect("RefreshNow");
    let (call, fetch) = eventually(
        "the manual refresh's fetch in its caller's trace",
        WAIT,
        || {
            let spans = receiver.spans_of_trace(&second_trace);
            let found = find(&spans, "refresh", "RefreshService/RefreshNow").zip(find(
                &spans,
                "refresh",
                "refresh.fetch",
            ));
            async move { found }
        },
    )
    .await;
    assert_eq!(fetch.parent_span_id, call.span_id);
    assert_eq!(api.requests_for("/traced"), 2);
}
