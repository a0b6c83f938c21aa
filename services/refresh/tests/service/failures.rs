//! Failures and backoff (F8), the size cap and the SSRF guard.

use crate::common::jobs::{cached, wait_for_job};
use crate::common::*;
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::data_api::Reply;
use trellis_testkit::{eventually, tokens};

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_data_source_backs_off_shows_its_error_without_the_secret_and_is_disabled() {
    let world = World::start().await;
    let replica = world
        .replica(Settings {
            backoff: "1:5m,3:30m,5:6h".parse().unwrap(),
            disable_after: 3,
            ..fast_settings()
        })
        .await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set("/broken", Reply::status(503));
    let account = world.account(library::AccountKind::Standard, None).await;
    let secret = "s3cret-api-key-value";
    let credential = world.api_key_in_query(account, "api_key", secret).await;
    let source = world
        .data_source_with(
            account,
            &api.url("/broken"),
            HOUR,
            Some(library::data_source_auth::Method::CredentialId(credential)),
            "",
        )
        .await;

    let editor = tokens::editor(account);
    let refresh_now = |request_id: &str| {
        let mut client = client.clone();
        let editor = editor.clone();
        let request = refresh::RefreshNowRequest {
            request_id: request_id.to_owned(),
            data_source_id: source.to_string(),
            ..Default::default()
        };
        async move {
            client
                .refresh_now(call(request, &editor))
                .await
                .expect("RefreshNow")
                .into_inner()
                .job
                .unwrap()
        }
    };

    let job = refresh_now("first").await;
    assert_eq!(job.trigger, refresh::RefreshTrigger::Manual as i32);
    let replayed = refresh_now("first").await;
    assert_eq!(
        replayed.id, job.id,
        "a retry with the same request id answers the same"
    );

    let failed = |failures: i32| {
        let client = client.clone();
        async move {
            eventually(&format!("{failures} failures"), WAIT, || {
                let mut client = client.clone();
                async move {
                    let status = refresh_status(&mut client, account, source).await;
                    let instance = status.instances.into_iter().next()?;
                    (instance.consecutive_failures == failures
                        && instance
                            .job
                            .as_ref()
                            .is_some_and(|j| j.state == refresh::RefreshJobState::Failed as i32))
                    .then_some(instance)
                }
            })
            .await
        }
    };
    let instance = failed(1).await;
    assert!(
        instance.last_error.contains("503"),
        "{}",
        instance.last_error
    );
    assert!(
        !instance.last_error.contains(secret),
        "{}",
        instance.last_error
    );
    let arrival = &api.arrivals()[0];
    assert!(
        arrival.query.contains("api_key="),
        "the key went in the query"
    );
    let wait =
        instance.backoff_until.unwrap().seconds - instance.last_attempt_time.unwrap().seconds;
    assert!(
        (295..=305).contains(&wait),
        "5 minutes after one failure, not {wait}s"
    );
    assert_eq!(instance.next_due_time, instance.backoff_until);
    assert!(!instance.disabled);

    refresh_now("second").await;
    failed(2).await;
    refresh_now("third").await;
    let instance = failed(3).await;
    assert!(instance.disabled, "disabled after 3 consecutive failures");
    assert!(instance.next_due_time.is_none());

    // RefreshNow re-enables it; this time the API answers.
    api.set_json("/broken", serde_json::json!({"fixed": true}));
    let job = refresh_now("fourth").await;
    let repaired = |state| state == refresh::RefreshJobState::Succeeded;
    wait_for_job(
        &client,
        account,
        &job.id,
        "the repaired data source to succeed",
        repaired,
    )
    .await;
    let instance = refresh_status(&mut client, account, source)
        .await
        .instances
        .remove(0);
    assert_eq!(instance.consecutive_failures, 0);
    assert!(!instance.disabled);
    assert!(instance.last_error.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_failures_message_carries_no_secret_either() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    let secret = "s3cret-api-key-value";
    let closed = world
        .api
        .url("/closed")
        .replace(&world.api.address.port().to_string(), "9");
    let credential = world.api_key_in_query(account, "api_key", secret).await;
    let unreachable = world
        .data_source_with(
            account,
            &closed,
            HOUR,
            Some(library::data_source_auth::Method::CredentialId(credential)),
            "",
        )
        .await;
    refresh_now(&mut client, account, unreachable).await;
    let error = first_failure(&client, account, unreachable).await;
    assert!(!error.is_empty());
    assert!(!error.contains(secret), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_over_the_size_cap_fails_the_refresh() {
    let world = World::start().await;
    let mut settings = fast_settings();
    settings.max_response_bytes = 64 * 1024;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    world.api.set("/huge", Reply::large(1024 * 1024).chunked());
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let source = world
        .data_source(account, &world.api.url("/huge"), HOUR)
        .await;
    login(&mut client, account, "ann").await;
    let error = first_failure(&client, account, source).await;
    assert!(
        error.contains("larger than the limit of 65536 bytes"),
        "{error}"
    );
    let missing = cached(&mut client, account, source)
        .await
        .expect_err("nothing cached");
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_destinations_are_refused_unless_allowed() {
    let world = World::start().await;
    let mut settings = fast_settings();
    settings.allow_private_networks = false;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    world
        .api
        .set_json("/internal", serde_json::json!("secret internal data"));
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let by_address = world
        .data_source(account, &world.api.url("/internal"), HOUR)
        .await;
    let by_name = world
        .data_source(account, &world.api.url_by_name("/internal"), HOUR)
        .await;
    let metadata = world
        .data_source(account, "http://169.254.169.254/latest/meta-data/", HOUR)
        .await;
    login(&mut client, account, "ann").await;
    for source in [by_address, by_name, metadata] {
        let error = first_failure(&client, account, source).await;
        assert!(error.contains("private, loopback or link-local"), "{error}");
    }
    assert_eq!(
        world.api.requests(),
        0,
        "nothing reached the internal server"
    );
}
