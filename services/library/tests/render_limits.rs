//! The costs of a render are bounded: a formula past its budget fails alone with the
//! reason, a render stops evaluating once its caller has gone (deadline or cancel), and
//! cached data the library cannot use fails the components reading it, never the render.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;
mod world;

use std::time::Duration;

use common::{klip_of, with};
use serde_json::json;
use tonic::Code;
use trellis_library::cached_data::MAX_CACHED_DATA_BYTES;
use trellis_proto::library::v1 as pb;
use trellis_testkit::{eventually, tokens};
use world::{WAIT, World, errors, refresh_settings, values};

/// A Klip of `component` repeated as often as fits, over one binding.
fn heavy_klip(source: &str, component: &str) -> pb::Klip {
    let terms = (trellis_formula::MAX_FORMULA_CHARS - 10) / (component.len() + 1);
    let formula = format!("SUM({})", vec![component; terms].join(","));
    klip_of(None, "Heavy", &[&formula], &[source])
}

/// Budgets high enough that only the caller's going away stops the heavy formula.
fn unbounded() -> trellis_library::Settings {
    trellis_library::Settings {
        formula_max_steps: u64::MAX,
        formula_max_bytes: u64::MAX,
        ..Default::default()
    }
}

/// A world whose data source `/numbers.json` holds 90,000 numbers in no order, fetched,
/// and a heavy Klip over them (hundreds of sorts of their squares: far longer than any
/// deadline here).
async fn heavy_world() -> (World, uuid::Uuid, pb::Klip) {
    heavy_world_with(unbounded()).await
}

async fn heavy_world_with(settings: trellis_library::Settings) -> (World, uuid::Uuid, pb::Klip) {
    let world = World::start_with(settings).await;
    let account = world.library.standard().await;
    let numbers: Vec<u64> = (0..90_000u64).map(|i| i * 7_919 % 90_001).collect();
    world.api.set_json("/numbers.json", json!({ "n": numbers }));
    let source = world.data_source(account, "/numbers.json").await;
    world.fetch(account, &source).await;
    let klip = world
        .library
        .klip(
            &tokens::editor(account),
            heavy_klip(&source, "SUM(SORT(@0.n*@0.n))"),
        )
        .await;
    (world, account, klip)
}

fn render_request(token: &str, klip: &pb::Klip) -> tonic::Request<pb::RenderKlipRequest> {
    with(
        token,
        pb::RenderKlipRequest {
            klip_id: klip.id.clone(),
            ..Default::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_render_past_its_deadline_stops_evaluating() {
    let (world, account, klip) = heavy_world().await;
    let mut request = render_request(&tokens::viewer(account), &klip);
    request.set_timeout(Duration::from_secs(2));
    let status = world
        .client()
        .render_klip(request)
        .await
        .expect_err("the deadline passes first");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    // Whether or not the evaluation had begun when the deadline passed, nothing evaluates
    // for the gone caller any more, and nothing ran to its end.
    let counters = world.counters.clone();
    eventually("the evaluation to stop", WAIT, || {
        let counters = counters.clone();
        async move { (counters.running() == 0).then_some(()) }
    })
    .await;
    assert_eq!(world.counters.finished(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_render_stops_evaluating() {
    let (world, account, klip) = heavy_world().await;
    let mut client = world.client();
    let request = render_request(&tokens::viewer(account), &klip);
    let call = tokio::spawn(async move { client.render_klip(request).await });
    let counters = world.counters.clone();
    eventually("the evaluation to start", WAIT, || {
        let counters = counters.clone();
        async move { (counters.running() == 1).then_some(()) }
    })
    .await;
    // The caller goes away: its stream is reset, the server drops the call.
    call.abort();
    eventually("the evaluation to stop", WAIT, || {
        let counters = counters.clone();
        async move { (counters.running() == 0).then_some(()) }
    })
    .await;
    assert_eq!(world.counters.cancelled(), 1);
    assert_eq!(world.counters.finished(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn renders_past_the_concurrency_wait_and_stop_waiting_when_their_caller_goes() {
    let (world, account, klip) = heavy_world_with(trellis_library::Settings {
        render_concurrency: 1,
        ..unbounded()
    })
    .await;
    let counters = world.counters.clone();
    let until = |what: &'static str, done: fn(&trellis_library::RenderCounters) -> bool| {
        let counters = counters.clone();
        eventually(what, WAIT, move || {
            let counters = counters.clone();
            async move { done(&counters).then_some(()) }
        })
    };
    let spawn_render = || {
        let mut client = world.client();
        let request = render_request(&tokens::viewer(account), &klip);
        tokio::spawn(async move { client.render_klip(request).await })
    };
    let first = spawn_render();
    until("the first render to evaluate", |c| c.running() == 1).await;
    let second = spawn_render();
    until("the second render to wait", |c| c.waiting() == 1).await;
    assert_eq!(world.counters.running(), 1);
    // The waiting caller goes: it stops waiting, and never evaluates.
    second.abort();
    until("the second render to stop waiting", |c| c.waiting() == 0).await;
    assert_eq!(world.counters.running(), 1);
    first.abort();
    until("the first render to stop", |c| c.running() == 0).await;
    assert_eq!(world.counters.cancelled(), 1);
    assert_eq!(world.counters.finished(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quadratic_formula_is_a_component_error_and_the_others_render() {
    let world = World::start().await;
    let account = world.library.standard().await;
    world
        .api
        .set_json("/text.json", json!({ "t": "x".repeat(1_000_000) }));
    let source = world.data_source(account, "/text.json").await;
    world.fetch(account, &source).await;
    // 1,997 terms of a 1 MB text: about 2 GB if it were built.
    let concat = format!("CONCAT({})", vec!["@0.t"; 1997].join(","));
    let klip = world
        .library
        .klip(
            &tokens::editor(account),
            klip_of(None, "Big", &[&concat, "LEN(@0.t)", "1 + 1"], &[&source]),
        )
        .await;
    let rendered = world
        .render(&tokens::viewer(account), &klip.id)
        .await
        .expect("the render itself succeeds");
    let errors = errors(&rendered);
    assert_eq!(rendered.components[0].name, "c0");
    assert!(
        errors[0].starts_with("@0: the formula's values would take more than")
            && errors[0].ends_with("bytes (its byte budget)"),
        "{}",
        errors[0]
    );
    assert_eq!(values(&rendered, 1), json!([1_000_000]));
    assert_eq!(values(&rendered, 2), json!([2]));
    assert_eq!(world.counters.finished(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_data_past_the_library_limit_fails_its_components_alone() {
    // Refresh is let to keep more than the library reads (a misconfiguration the library
    // must survive); data between gRPC's default 4 MiB and the library's limit renders.
    let mut refresh = refresh_settings();
    refresh.max_response_bytes = 3 * MAX_CACHED_DATA_BYTES as u64;
    refresh.max_cached_bytes = 3 * MAX_CACHED_DATA_BYTES as u64;
    let world = World::start_configured(Default::default(), refresh).await;
    let account = world.library.standard().await;
    world.api.set_json(
        "/huge.json",
        json!({ "t": "h".repeat(MAX_CACHED_DATA_BYTES + 1000) }),
    );
    world
        .api
        .set_json("/large.json", json!({ "t": "l".repeat(6_000_000) }));
    let huge = world.data_source(account, "/huge.json").await;
    let large = world.data_source(account, "/large.json").await;
    world.fetch(account, &huge).await;
    world.fetch(account, &large).await;
    let klip = world
        .library
        .editor_klip(
            account,
            "Sizes",
            &["LEN(@0.t)", "LEN(@1.t)", "1 + 1"],
            &[&huge, &large],
        )
        .await;
    let rendered = world
        .render(&tokens::viewer(account), &klip.id)
        .await
        .expect("no INTERNAL: the render succeeds");
    assert_eq!(
        errors(&rendered)[0],
        format!(
            "binding @0: the cached data cannot be read: it is larger than the \
             {MAX_CACHED_DATA_BYTES} bytes the library reads"
        )
    );
    assert_eq!(values(&rendered, 1), json!([6_000_000]));
    assert_eq!(values(&rendered, 2), json!([2]));
    assert!(rendered.freshness[0].fetch_time.is_none());
    assert!(rendered.freshness[1].fetch_time.is_some());
}
