//! A schedule is checked whole at save, with a field violation per problem, and only the
//! account's editors (and services, for another user's values) may save one.

use tonic::Code;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::reports::*;
use crate::common::*;

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
