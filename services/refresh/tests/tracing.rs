//! Trace context through the queue: the worker's fetch of a job continues the trace of the
//! call that queued it (RecordActivity, RefreshNow), so one trace spans "record activity →
//! queue → fetch → calls to the library and the token registry". The three services run as the real binaries, each in
//! its own process exporting spans over OTLP to a receiver in the test.

use std::collections::HashMap;
use std::time::Duration;

use tonic::Request;
use trellis_platform::auth::Role;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::data_api::{Auth, DataApi};
use trellis_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use trellis_testkit::process::{ServiceProcess, binary};
use trellis_testkit::{TestDatabase, eventually, members, tokens};
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

#[tokio::test(flavor = "multi_thread")]
async fn a_jobs_fetch_continues_the_trace_of_the_call_that_queued_it() {
    let receiver = OtlpReceiver::start().await;
    let api = DataApi::start().await;
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
    let tokens_process = ServiceProcess::start(
        binary("trellis-tokens"),
        &tokens_db.url,
        &otel(&[("TRELLIS_LIBRARY_URL", format!("http://{library_address}"))]),
    )
    .await;
    let library_db = TestDatabase::new(&trellis_library::SCHEMA).await;
    let library_process = ServiceProcess::start(
        binary("trellis-library"),
        &library_db.url,
        &otel(&[
            ("TRELLIS_LISTEN_ADDR", library_address.to_string()),
            ("TRELLIS_TOKENS_URL", tokens_process.url()),
        ]),
    )
    .await;
    let refresh_db = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let refresh_process = ServiceProcess::start(
        binary("trellis-refresh"),
        &refresh_db.url,
        &otel(&[
            ("TRELLIS_LIBRARY_URL", library_process.url()),
            ("TRELLIS_TOKENS_URL", tokens_process.url()),
            ("TRELLIS_REFRESH_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
            ("TRELLIS_REFRESH_POLL_INTERVAL", "500ms".to_owned()),
        ]),
    )
    .await;

    // An account with a data source that logs in with a saved API key: fetching it calls
    // the library (resolution) and the token registry (the key).
    let mut library_client = LibraryServiceClient::new(channel(&library_process));
    let account = library_client
        .create_account(authorized(
            library::CreateAccountRequest {
                request_id: String::new(),
                account: Some(library::Account {
                    kind: library::AccountKind::Standard as i32,
                    display_name: "Traced".into(),
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("CreateAccount")
        .into_inner()
        .account
        .expect("an account")
        .id;
    let account = Uuid::parse_str(&account).unwrap();
    // Its members: the test users, and Ann, who logs in below.
    members::enroll(&channel(&library_process), account).await;
    members::add(&channel(&library_process), account, "ann", Role::Admin).await;
    let credential = TokenServiceClient::new(channel(&tokens_process))
        .create_credential(authorized(
            tokens_pb::CreateCredentialRequest {
                request_id: String::new(),
                credential: Some(tokens_pb::Credential {
                    account_id: account.to_string(),
                    display_name: "API key".into(),
                    kind: tokens_pb::CredentialKind::ApiKey as i32,
                    api_key_placement: tokens_pb::ApiKeyPlacement::QueryParameter as i32,
                    api_key_name: "key".into(),
                    ..Default::default()
                }),
                secret: Some(tokens_pb::CredentialSecret {
                    password: String::new(),
                    api_key: "sesame".into(),
                }),
            },
            &tokens::admin(account),
        ))
        .await
        .expect("CreateCredential")
        .into_inner()
        .credential
        .expect("a credential")
        .id;
    api.require(Auth::ApiKeyQuery {
        name: "key".into(),
        key: "sesame".into(),
    });
    api.set_json("/traced", serde_json::json!({"ok": true}));
    let data_source = library_client
        .create_data_source(authorized(
            library::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(library::DataSource {
                    name: "Traced".into(),
                    request: Some(library::HttpRequestTemplate {
                        method: library::HttpMethod::Get as i32,
                        url: api.url("/traced"),
                        headers: vec![],
                        body: String::new(),
                    }),
                    format: library::DataFormat::Json as i32,
                    auth: Some(library::DataSourceAuth {
                        kind: 0,
                        method: Some(library::data_source_auth::Method::CredentialId(credential)),
                    }),
                    refresh_interval: Some(prost_types::Duration {
                        seconds: 3600,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
            },
            &tokens::admin(account),
        ))
        .await
        .expect("CreateDataSource")
        .into_inner()
        .data_source
        .expect("a data source")
        .id;

    // The caller's trace: a login carrying its W3C trace context.
    let trace_id = Uuid::new_v4().simple().to_string();
    let caller_span = &Uuid::new_v4().simple().to_string()[..16];
    let mut login = Request::new(refresh::RecordActivityRequest {
        request_id: String::new(),
        kind: refresh::ActivityKind::Login as i32,
    });
    let bearer = tokens::user_token(account, "ann", Role::Admin);
    login
        .metadata_mut()
        .insert("authorization", format!("Bearer {bearer}").parse().unwrap());
    login.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{caller_span}-01").parse().unwrap(),
    );
    // A channel that adds no trace context of its own.
    let plain = tonic::transport::Channel::from_shared(refresh_process.url())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut refresh_client = RefreshServiceClient::new(plain);
    let queued = refresh_client
        .record_activity(login)
        .await
        .expect("RecordActivity")
        .into_inner()
        .queued_jobs;
    assert_eq!(queued, 1);

    let find = |spans: &[ReceivedSpan], service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s.service == service && s.name.ends_with(name))
            .cloned()
    };
    let (activity, fetch, resolve, secret) = eventually(
        "the fetch and its calls in the caller's trace",
        WAIT,
        || {
            let spans = receiver.spans_of_trace(&trace_id);
            let found = (|| {
                let activity = find(&spans, "refresh", "RefreshService/RecordActivity")?;
                let fetch = find(&spans, "refresh", "refresh.fetch")?;
                let resolve = spans
                    .iter()
                    .find(|s| {
                        s.service == "library"
                            && s.name.ends_with("LibraryService/ResolveDataSource")
                            && s.parent_span_id == fetch.span_id
                    })
                    .cloned()?;
                let secret = spans
                    .iter()
                    .find(|s| {
                        s.service == "tokens"
                            && s.name.ends_with("TokenService/GetCredentialSecret")
                            && s.parent_span_id == fetch.span_id
                    })
                    .cloned()?;
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
    let mut now = Request::new(refresh::RefreshNowRequest {
        request_id: String::new(),
        data_source_id: data_source.clone(),
        account_id: String::new(),
        instance_key: String::new(),
    });
    now.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", tokens::editor(account))
            .parse()
            .unwrap(),
    );
    now.metadata_mut().insert(
        "traceparent",
        format!("00-{second_trace}-{caller_span}-01")
            .parse()
            .unwrap(),
    );
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
