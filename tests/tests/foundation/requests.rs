//! What a call leaves behind: the caller's trace continued in the server's spans, and
//! answers to request ids, kept for a week and then purged.

use std::collections::HashMap;

use diesel_async::RunQueryDsl;
use tonic::codegen::http::uri::PathAndQuery;
use trellis_platform::client::authorized;
use trellis_platform::config::ServiceKind;
use trellis_testkit::otlp::OtlpReceiver;
use trellis_testkit::process::{ServiceProcess, binary};
use trellis_testkit::{InProcess, TestDatabase, eventually, tokens};
use uuid::Uuid;

use crate::WAIT;

#[tokio::test(flavor = "multi_thread")]
async fn a_client_traceparent_continues_in_the_server_spans() {
    let receiver = OtlpReceiver::start().await;
    let database = TestDatabase::new(&trellis_library::SCHEMA).await;
    let env = HashMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
    ]);
    let process = ServiceProcess::start(binary("trellis-library"), &database.url, &env).await;
    let channel = trellis_platform::client::channel(&process.url()).expect("channel");

    let trace_id = Uuid::new_v4().simple().to_string();
    let parent_span_id = &Uuid::new_v4().simple().to_string()[..16];
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("connects");
    let mut request = authorized((), &tokens::admin(Uuid::new_v4()));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_span_id}-01")
            .parse()
            .expect("metadata"),
    );
    let path = PathAndQuery::from_static("/trellis.library.v1.LibraryService/NoSuchMethod");
    let _ = grpc
        .unary(request, path, tonic_prost::ProstCodec::<(), ()>::default())
        .await;

    let spans = eventually("the server's span to be exported", WAIT, || {
        let spans = receiver.spans_of_trace(&trace_id);
        async move { (!spans.is_empty()).then_some(spans) }
    })
    .await;
    let root = spans
        .iter()
        .find(|span| span.parent_span_id == parent_span_id)
        .unwrap_or_else(|| panic!("a span whose parent is the caller's: {spans:?}"));
    assert_eq!(root.service, "library");
    assert!(
        root.name.contains("LibraryService/NoSuchMethod"),
        "{}",
        root.name
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_to_old_request_ids_are_purged_and_recent_ones_kept() {
    let database = TestDatabase::new(&trellis_library::SCHEMA).await;
    let mut conn = database.connect().await;
    diesel::sql_query(
        "INSERT INTO request_ids (scope, method, request_id, response, created_at) VALUES \
         ('test', 'CreateKlip', 'old', '', now() - interval '8 days'), \
         ('test', 'CreateKlip', 'recent', '', now() - interval '6 days')",
    )
    .execute(&mut conn)
    .await
    .expect("seed request ids");

    // The server purges at start, with the default retention of a week.
    let _server = InProcess::new(
        ServiceKind::Library,
        Default::default(),
        trellis_library::build,
    )
    .serve(&database)
    .await;
    let kept = eventually("the week-old answer to be purged", WAIT, || {
        let url = database.url.clone();
        async move {
            use diesel_async::AsyncConnection;
            let mut conn = diesel_async::AsyncPgConnection::establish(&url)
                .await
                .ok()?;
            let remaining: Vec<RequestId> =
                diesel::sql_query("SELECT request_id FROM request_ids ORDER BY request_id")
                    .load(&mut conn)
                    .await
                    .ok()?;
            (remaining.len() == 1).then_some(remaining)
        }
    })
    .await;
    assert_eq!(kept[0].request_id, "recent");
}

#[derive(diesel::QueryableByName)]
struct RequestId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    request_id: String,
}
