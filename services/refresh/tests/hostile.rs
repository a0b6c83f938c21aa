//! Callers' mistakes and abuse over gRPC: NUL and control characters in string fields,
//! report schedules with an out-of-range lead time, a cron that fires every second, lists
//! of ten thousand Klips or recipients, an account past its quota of schedules, logins in a
//! loop (an inactive account's activities too), a RefreshNow of an instance whose job
//! nobody runs, and fetched data the cache cannot hold (a NUL, 1,001 CSV columns, tiny
//! objects past the memory bound). Each gets a clear answer (never INTERNAL) or a bounded
//! cost.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use std::time::Duration;

use common::jobs::*;
use common::reports::*;
use common::*;
use diesel_async::RunQueryDsl;
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_testkit::tokens;
use uuid::Uuid;

fn fields(status: &tonic::Status) -> Vec<String> {
    violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_and_control_characters_are_invalid_arguments() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    world.api.set_json("/x", serde_json::json!(1));
    let source = world.data_source(account, &world.api.url("/x"), HOUR).await;

    let refused = client
        .refresh_now(call(
            refresh::RefreshNowRequest {
                request_id: String::new(),
                data_source_id: source.to_string(),
                account_id: String::new(),
                instance_key: "key\0".into(),
            },
            &tokens::editor(account),
        ))
        .await
        .expect_err("a NUL byte");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(fields(&refused), ["instance_key"]);

    for (instance_key, user_id, field) in [
        ("key\0", "", "instance_key"),
        ("key\u{7}", "", "instance_key"),
        ("", "ann\0", "user_id"),
    ] {
        let refused = client
            .get_cached_data(call(
                refresh::GetCachedDataRequest {
                    data_source_id: source.to_string(),
                    account_id: account.to_string(),
                    instance_key: instance_key.into(),
                    user_id: user_id.into(),
                },
                &tokens::service(),
            ))
            .await
            .expect_err("a control character");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(fields(&refused), [field]);
    }

    let klip = world.klip(account, "K", &[("X", "@0")], &[source]).await;
    // A service token, which may name a user: only the user id's characters are wrong.
    let refused = create(
        &mut client,
        &tokens::service(),
        refresh::ReportSchedule {
            account_id: account.to_string(),
            name: "Daily\0".into(),
            cron_expression: "0 8 * * \0".into(),
            time_zone: "Europe/\0".into(),
            recipients: vec!["ann\0@example.com".into()],
            target: klips(&[klip]),
            user_id: "\0".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("NUL bytes");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        fields(&refused),
        [
            "schedule.name",
            "schedule.cron_expression",
            "schedule.time_zone",
            "schedule.recipients[0]",
            "schedule.user_id",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn report_schedules_are_bounded_in_time_size_and_number() {
    let world = World::start().await;
    let replica = world
        .replica(Settings {
            report_max_schedules: 2,
            ..fast_settings()
        })
        .await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    world.api.set_json("/x", serde_json::json!(1));
    let source = world.data_source(account, &world.api.url("/x"), HOUR).await;
    let klip = world.klip(account, "K", &[("X", "@0")], &[source]).await;
    let editor = tokens::editor(account);
    let valid = || refresh::ReportSchedule {
        name: "Daily".into(),
        cron_expression: "0 8 * * *".into(),
        recipients: vec!["ann@example.com".into()],
        target: klips(&[klip]),
        ..Default::default()
    };

    for seconds in [i64::MIN, i64::MAX, -1] {
        let refused = create(
            &mut client,
            &editor,
            refresh::ReportSchedule {
                lead_time: Some(prost_types::Duration { seconds, nanos: 0 }),
                ..valid()
            },
        )
        .await
        .expect_err("out of range");
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{seconds}: {refused:?}"
        );
        assert_eq!(fields(&refused), ["schedule.lead_time"]);
    }

    let refused = create(
        &mut client,
        &editor,
        refresh::ReportSchedule {
            cron_expression: "* * * * * *".into(),
            ..valid()
        },
    )
    .await
    .expect_err("every second");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&refused),
        [(
            "schedule.cron_expression".to_owned(),
            "fires as often as every 1 second; a report may be sent at most every 5 minutes"
                .to_owned()
        )]
    );

    // Ten thousand ids: one violation for the list, and no library call per id.
    let many: Vec<Uuid> = (0..10_000).map(|_| Uuid::now_v7()).collect();
    let refused = create(
        &mut client,
        &editor,
        refresh::ReportSchedule {
            target: Some(Target::Klips(refresh::KlipList {
                klip_ids: many.iter().map(Uuid::to_string).collect(),
            })),
            recipients: (0..10_000).map(|i| format!("r{i}@example.com")).collect(),
            ..valid()
        },
    )
    .await
    .expect_err("too many");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&refused),
        ["schedule.recipients", "schedule.klips.klip_ids"]
    );

    the_quota_holds_and_an_update_is_checked_too(&mut client, &editor, valid()).await;
}

/// The quota (two schedules): then a clear refusal, then room again after a delete; and an
/// update is checked as a create is.
async fn the_quota_holds_and_an_update_is_checked_too(
    client: &mut Client,
    editor: &str,
    valid: refresh::ReportSchedule,
) {
    // The quota: two schedules, then a clear refusal, then room again after a delete.
    let first = create(client, editor, valid.clone()).await.expect("first");
    let second = create(client, editor, valid.clone()).await.expect("second");
    let refused = create(client, editor, valid.clone())
        .await
        .expect_err("past the quota");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("the most an account may have (2)"),
        "{refused:?}"
    );
    client
        .delete_report_schedule(call(
            refresh::DeleteReportScheduleRequest {
                request_id: String::new(),
                id: first.id.clone(),
                account_id: String::new(),
                etag: String::new(),
            },
            editor,
        ))
        .await
        .expect("DeleteReportSchedule");
    create(client, editor, valid).await.expect("room again");

    // An update is checked the same way.
    let out_of_range = refresh::ReportSchedule {
        id: second.id.clone(),
        lead_time: Some(prost_types::Duration {
            seconds: i64::MIN,
            nanos: 0,
        }),
        ..Default::default()
    };
    let refused = update(client, editor, out_of_range, &["lead_time"])
        .await
        .expect_err("out of range");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(fields(&refused), ["schedule.lead_time"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_in_a_loop_resolves_the_account_once_per_throttle() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    world.member(account, "bob", Role::Viewer).await;
    world.api.set_json("/a", serde_json::json!(1));
    world.api.set_json("/b", serde_json::json!(2));
    let a = world.data_source(account, &world.api.url("/a"), HOUR).await;
    assert_eq!(login(&mut client, account, "ann").await.queued_jobs, 1);
    wait_until_fetched(&client, account, &[a]).await;

    // A data source created since: a login of the same user within the throttle does not
    // resolve the account again, so it does not find it...
    let b = world.data_source(account, &world.api.url("/b"), HOUR).await;
    for _ in 0..20 {
        let again = login(&mut client, account, "ann").await;
        assert_eq!(again.queued_jobs, 0, "throttled");
        assert!(
            again.active_until.is_some(),
            "the activity is still recorded"
        );
    }
    assert_eq!(world.api.requests_for("/b"), 0);
    // ...while another user's first login does.
    assert_eq!(login(&mut client, account, "bob").await.queued_jobs, 1);
    wait_until_fetched(&client, account, &[b]).await;
}

/// A dashboard view by `user`: not a login, so only an inactive account syncs on it.
async fn view(client: &mut Client, account: Uuid, user: &str) -> refresh::RecordActivityResponse {
    activity(client, account, user, refresh::ActivityKind::DashboardView).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inactive_account_in_a_loop_resolves_once_per_throttle() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    world.api.set_json("/a", serde_json::json!(1));
    world.api.set_json("/b", serde_json::json!(2));
    let a = world.data_source(account, &world.api.url("/a"), HOUR).await;
    assert_eq!(view(&mut client, account, "ann").await.queued_jobs, 1);
    wait_until_fetched(&client, account, &[a]).await;

    // The account goes inactive; each activity of it claims the sync as a login does, so
    // calls within the throttle (concurrent ones among them) resolve nothing again.
    world.data_source(account, &world.api.url("/b"), HOUR).await;
    let mut conn = connect(&world.refresh_database).await;
    for _ in 0..5 {
        end_activity_window(&mut conn, account).await;
        let again = view(&mut client, account, "ann").await;
        assert_eq!(again.queued_jobs, 0, "throttled: {again:?}");
        assert!(again.active_until.is_some(), "the activity is recorded");
    }
    assert_eq!(world.api.requests_for("/b"), 0, "b was never resolved");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_now_never_answers_with_a_job_nobody_runs() {
    let world = World::start().await;
    let mut settings = fast_settings();
    settings.workers = 0;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    world.api.set_json("/x", serde_json::json!(1));
    let source = world
        .data_source(account, &world.api.url("/x"), Duration::ZERO)
        .await;
    let queued = refresh_now(&mut client, account, source).await;

    // A worker claimed it and died; no replica with workers is left to reclaim it.
    let mut conn = connect(&world.refresh_database).await;
    diesel::sql_query(
        "UPDATE refresh_jobs
         SET state = 'running', attempt = attempt + 1,
             lease_deadline = now() - interval '1 second'
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(&queued.id).unwrap())
    .execute(&mut conn)
    .await
    .expect("a dead worker's job");

    let again = refresh_now(&mut client, account, source).await;
    assert_eq!(again.id, queued.id, "still its one job");
    assert_eq!(
        again.state,
        refresh::RefreshJobState::Queued as i32,
        "back in line, not running forever: {again:?}"
    );
    assert!(again.front, "at the front, as a reclaimed job is");
}

#[tokio::test(flavor = "multi_thread")]
async fn fetched_data_the_cache_cannot_hold_fails_with_a_reason() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    let tiny_objects = vec![serde_json::json!({"": 0}); 100_000];
    world
        .api
        .set_json("/nul", serde_json::json!({"a": ["x\u{0}y"]}));
    world
        .api
        .set_json("/nul-key", serde_json::json!({"k\u{0}": 1}));
    world.api.set_csv("/nul.csv", "a,b\nx\0y,1\n");
    world
        .api
        .set_csv("/wide.csv", &format!("{}\n", ["c"; 1001].join(",")));
    world.api.set_json("/tiny", serde_json::json!(tiny_objects));
    let cases = [
        ("/nul", "NUL character"),
        ("/nul-key", "NUL character"),
        ("/nul.csv", "NUL character"),
        ("/wide.csv", "more than 1000 columns"),
        ("/tiny", "bytes of memory once parsed"),
    ];
    for (path, reason) in cases {
        let source = world
            .data_source(account, &world.api.url(path), Duration::ZERO)
            .await;
        let failed = refresh_to_the_end(&mut client, account, source).await;
        assert_eq!(failed.state, refresh::RefreshJobState::Failed as i32);
        assert!(failed.error.contains(reason), "{path}: {failed:?}");
        let instance = instance(&mut client, account, source).await;
        assert!(instance.last_error.contains(reason), "{path}: {instance:?}");
        assert_eq!(instance.consecutive_failures, 1, "{path}: {instance:?}");
        let missing = cached(&mut client, account, source).await.unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{path}");
        world.api.set_csv(path, "a,b\n1,2\n");
        if !path.ends_with(".csv") {
            world.api.set_json(path, serde_json::json!({"ok": 1}));
        }
        refreshes_again(&mut client, account, source).await;
    }
}
