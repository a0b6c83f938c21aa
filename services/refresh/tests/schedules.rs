//! Report schedules over gRPC (F7): checked whole at save, with a field violation per
//! problem (cron expression, time zone, recipients, Klips and dashboards of another tenant),
//! and read, listed, updated (mask, etag, pause) and deleted by the account's members as
//! their roles allow. The library runs in-process as the real service.

mod common;

use std::time::Duration;

use chrono::Timelike;
use common::reports::*;
use common::*;
use tonic::Code;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_testkit::tokens;
use uuid::Uuid;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_checked_at_save_with_a_violation_per_field() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    let other = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/x", serde_json::json!(1));
    let mine = world.data_source(account, &api.url("/x"), HOUR).await;
    let theirs = world.data_source(other, &api.url("/x"), HOUR).await;
    let my_klip = world.klip(account, "Mine", &[("X", "@0")], &[mine]).await;
    let their_klip = world.klip(other, "Theirs", &[("X", "@0")], &[theirs]).await;
    let their_board = world.dashboard(other, "Theirs", &[their_klip]).await;
    let editor = tokens::editor(account);
    let valid = || refresh::ReportSchedule {
        name: "Daily".into(),
        cron_expression: "0 8 * * Mon-Fri".into(),
        time_zone: "America/New_York".into(),
        recipients: vec!["ann@example.com".into()],
        target: klips(&[my_klip]),
        ..Default::default()
    };

    let created = create(&mut client, &editor, valid()).await.expect("valid");
    assert!(created.next_send_time.is_some());
    assert!(created.lead_time.is_none(), "unset: the service's default");

    let cases: Vec<(refresh::ReportSchedule, &str, &str)> = vec![
        (
            refresh::ReportSchedule {
                cron_expression: "0 25 * * *".into(),
                ..valid()
            },
            "schedule.cron_expression",
            "field 2 (hour): 25 is out of range 0-23",
        ),
        (
            refresh::ReportSchedule {
                cron_expression: "0 8 * *".into(),
                ..valid()
            },
            "schedule.cron_expression",
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, found 4",
        ),
        (
            refresh::ReportSchedule {
                time_zone: "Europe/Atlantis".into(),
                ..valid()
            },
            "schedule.time_zone",
            "`Europe/Atlantis` is not an IANA time zone such as Europe/Berlin or America/New_York",
        ),
        (
            refresh::ReportSchedule {
                recipients: vec!["ann@example.com".into(), "bob at example".into()],
                ..valid()
            },
            "schedule.recipients[1]",
            "`bob at example` is not an email address such as ann@example.com",
        ),
        (
            refresh::ReportSchedule {
                recipients: vec![],
                ..valid()
            },
            "schedule.recipients",
            "at least one email address",
        ),
        // Another tenant's Klip and a Klip that never existed get the same answer.
        (
            refresh::ReportSchedule {
                target: klips(&[their_klip]),
                ..valid()
            },
            "schedule.klips.klip_ids[0]",
            "no Klip with this id in the account",
        ),
        (
            refresh::ReportSchedule {
                target: klips(&[my_klip, Uuid::now_v7()]),
                ..valid()
            },
            "schedule.klips.klip_ids[1]",
            "no Klip with this id in the account",
        ),
        (
            refresh::ReportSchedule {
                target: Some(Target::DashboardId(their_board.to_string())),
                ..valid()
            },
            "schedule.dashboard_id",
            "no dashboard with this id in the account",
        ),
        (
            refresh::ReportSchedule {
                target: None,
                ..valid()
            },
            "schedule.target",
            "set `klips` (at least one Klip) or `dashboard_id`",
        ),
        (
            refresh::ReportSchedule {
                lead_time: lead(2 * 24 * 3600),
                ..valid()
            },
            "schedule.lead_time",
            "must be between one second and one day",
        ),
    ];
    for (schedule, field, description) in cases {
        let status = create(&mut client, &editor, schedule)
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert_eq!(
            violations(&status),
            [(field.to_owned(), description.to_owned())],
            "{field}"
        );
        assert!(
            !status.message().contains(&other.to_string()),
            "nothing about the other tenant"
        );
    }

    // Everything wrong at once: every field is named.
    let status = create(
        &mut client,
        &editor,
        refresh::ReportSchedule {
            name: String::new(),
            cron_expression: "61 * * * * *".into(),
            time_zone: "Nowhere".into(),
            recipients: vec!["x".into()],
            target: klips(&[their_klip]),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let fields: Vec<_> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "schedule.name",
            "schedule.cron_expression",
            "schedule.time_zone",
            "schedule.recipients[0]",
            "schedule.klips.klip_ids[0]",
        ]
    );

    // Viewers read but do not write; another user's values need a service.
    let denied = create(&mut client, &tokens::viewer(account), valid())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = create(
        &mut client,
        &editor,
        refresh::ReportSchedule {
            user_id: "someone-else".into(),
            ..valid()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let as_service = create(
        &mut client,
        &tokens::service(),
        refresh::ReportSchedule {
            account_id: account.to_string(),
            user_id: "someone-else".into(),
            ..valid()
        },
    )
    .await
    .expect("a service may");
    assert_eq!(as_service.user_id, "someone-else");
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_created_read_listed_updated_and_deleted_by_the_accounts_editors() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    let other = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/x", serde_json::json!(1));
    let source = world.data_source(account, &api.url("/x"), HOUR).await;
    let klip = world.klip(account, "X", &[("X", "@0")], &[source]).await;
    let board = world.dashboard(account, "Board", &[klip]).await;
    let editor = tokens::editor(account);
    let schedule = |name: &str| refresh::ReportSchedule {
        name: name.into(),
        cron_expression: "30 7 * * *".into(),
        recipients: vec!["ann@example.com".into()],
        target: klips(&[klip]),
        ..Default::default()
    };

    // A retry with the same request id gets the same schedule.
    let request = |request_id: &str| refresh::CreateReportScheduleRequest {
        request_id: request_id.into(),
        schedule: Some(schedule("Morning")),
    };
    let first = client
        .create_report_schedule(call(request("create-1"), &editor))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    let again = client
        .create_report_schedule(call(request("create-1"), &editor))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(first.account_id, account.to_string());
    let next = time(first.next_send_time.as_ref());
    assert_eq!(
        (next.hour(), next.minute(), next.second()),
        (7, 30, 0),
        "UTC"
    );
    for name in ["Noon", "Evening"] {
        create(&mut client, &editor, schedule(name)).await.unwrap();
    }

    // Members read; pages of two.
    let viewer = tokens::viewer(account);
    let page = |token: String| refresh::ListReportSchedulesRequest {
        account_id: String::new(),
        page_size: 2,
        page_token: token,
    };
    let one = client
        .list_report_schedules(call(page(String::new()), &viewer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.schedules.len(), 2);
    assert!(!one.next_page_token.is_empty());
    let two = client
        .list_report_schedules(call(page(one.next_page_token.clone()), &viewer))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = one
        .schedules
        .iter()
        .chain(&two.schedules)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["Morning", "Noon", "Evening"]);
    assert!(two.next_page_token.is_empty());
    // Another tenant sees none of it.
    let theirs = client
        .get_report_schedule(call(
            refresh::GetReportScheduleRequest {
                id: first.id.clone(),
                account_id: String::new(),
            },
            &tokens::viewer(other),
        ))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);

    // Update with a mask and the etag; a stale etag is refused.
    let update =
        |changes: refresh::ReportSchedule, paths: &[&str]| refresh::UpdateReportScheduleRequest {
            request_id: String::new(),
            schedule: Some(changes),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
    let renamed = client
        .update_report_schedule(call(
            update(
                refresh::ReportSchedule {
                    id: first.id.clone(),
                    etag: first.etag.clone(),
                    name: "Breakfast".into(),
                    // Not in the mask: ignored.
                    cron_expression: "nonsense".into(),
                    ..Default::default()
                },
                &["name"],
            ),
            &editor,
        ))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(renamed.name, "Breakfast");
    assert_eq!(renamed.cron_expression, "30 7 * * *");
    assert_ne!(renamed.etag, first.etag);
    assert_eq!(renamed.next_send_time, first.next_send_time);
    let stale = client
        .update_report_schedule(call(
            update(
                refresh::ReportSchedule {
                    id: first.id.clone(),
                    etag: first.etag.clone(),
                    name: "Late".into(),
                    ..Default::default()
                },
                &["name"],
            ),
            &editor,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let bad = client
        .update_report_schedule(call(
            update(
                refresh::ReportSchedule {
                    id: first.id.clone(),
                    cron_expression: "0 8 * * Funday".into(),
                    ..Default::default()
                },
                &["cron_expression"],
            ),
            &editor,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violations(&bad)[0].0, "schedule.cron_expression");
    let unknown = client
        .update_report_schedule(call(
            update(
                refresh::ReportSchedule {
                    id: first.id.clone(),
                    ..Default::default()
                },
                &["next_send_time"],
            ),
            &editor,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);

    // Pausing clears the next send; resuming with a new time, zone and target sets it.
    let paused = client
        .update_report_schedule(call(
            update(
                refresh::ReportSchedule {
                    id: first.id.clone(),
                    paused: true,
                    ..Default::default()
                },
                &["paused"],
            ),
            &editor,
        ))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert!(paused.paused && paused.next_send_time.is_none());
    let resumed = client
        .update_report_schedule(call(
            update(
                refresh::ReportSchedule {
                    id: first.id.clone(),
                    paused: false,
                    cron_expression: "0 9 * * *".into(),
                    time_zone: "Asia/Tokyo".into(),
                    target: Some(Target::DashboardId(board.to_string())),
                    lead_time: lead(600),
                    ..Default::default()
                },
                &[
                    "paused",
                    "cron_expression",
                    "time_zone",
                    "dashboard_id",
                    "lead_time",
                ],
            ),
            &editor,
        ))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    let next = time(resumed.next_send_time.as_ref());
    assert_eq!((next.hour(), next.minute()), (0, 0), "09:00 in Tokyo");
    assert_eq!(resumed.target, Some(Target::DashboardId(board.to_string())));
    assert_eq!(resumed.lead_time, lead(600));

    // Viewers cannot change or delete.
    let denied = client
        .update_report_schedule(call(
            update(
                refresh::ReportSchedule {
                    id: first.id.clone(),
                    name: "Mine".into(),
                    ..Default::default()
                },
                &["name"],
            ),
            &viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Delete: a stale etag is refused; then it is gone with its deliveries.
    let delete = |etag: &str| refresh::DeleteReportScheduleRequest {
        request_id: String::new(),
        id: first.id.clone(),
        account_id: String::new(),
        etag: etag.into(),
    };
    let refused = client
        .delete_report_schedule(call(delete(&first.etag), &editor))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);
    client
        .delete_report_schedule(call(delete(&resumed.etag), &editor))
        .await
        .expect("deleted");
    let gone = client
        .get_report_schedule(call(
            refresh::GetReportScheduleRequest {
                id: first.id.clone(),
                account_id: String::new(),
            },
            &viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let no_deliveries = client
        .list_report_deliveries(call(
            refresh::ListReportDeliveriesRequest {
                schedule_id: first.id.clone(),
                ..Default::default()
            },
            &viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(no_deliveries.code(), Code::NotFound);
}
