//! One schedule's life, step by step over one world: created (a retry is the same
//! schedule), listed in pages, updated with a mask against its etag, paused and resumed,
//! and deleted by the account's editors, never by its viewers or another tenant.

use chrono::Timelike;
use tonic::Code;
use trellis_platform::client::TracedChannel;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::reports::*;
use crate::common::*;

/// An account with a Klip and a dashboard to report, and another tenant.
struct Account {
    client: RefreshServiceClient<TracedChannel>,
    account: Uuid,
    other: Uuid,
    klip: Uuid,
    board: Uuid,
    editor: String,
    viewer: String,
}

impl Account {
    fn schedule(&self, name: &str) -> refresh::ReportSchedule {
        refresh::ReportSchedule {
            name: name.into(),
            cron_expression: "30 7 * * *".into(),
            recipients: vec!["ann@example.com".into()],
            target: klips(&[self.klip]),
            ..Default::default()
        }
    }

    /// `changes` of the schedule `id`, under the field paths `mask`.
    async fn update(
        &mut self,
        token: &str,
        changes: refresh::ReportSchedule,
        mask: &[&str],
    ) -> Result<refresh::ReportSchedule, tonic::Status> {
        update(&mut self.client, token, changes, mask).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_created_read_listed_updated_and_deleted_by_the_accounts_editors() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    let other = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/x", serde_json::json!(1));
    let source = world.data_source(account, &api.url("/x"), HOUR).await;
    let klip = world.klip(account, "X", &[("X", "@0")], &[source]).await;
    let mut it = Account {
        client: refresh_client(&replica),
        account,
        other,
        klip,
        board: world.dashboard(account, "Board", &[klip]).await,
        editor: tokens::editor(account),
        viewer: tokens::viewer(account),
    };

    let first = a_retry_creates_no_second_schedule(&mut it).await;
    members_list_in_pages_and_other_tenants_see_nothing(&mut it, &first).await;
    an_update_writes_the_masked_fields_against_the_etag(&mut it, &first).await;
    let resumed = pausing_clears_the_next_send_and_resuming_sets_it(&mut it, &first).await;
    a_delete_needs_the_current_etag_and_takes_the_deliveries(&mut it, &first, &resumed).await;
}

/// A retry with the same request id gets the same schedule; its first send is 07:30 UTC.
async fn a_retry_creates_no_second_schedule(it: &mut Account) -> refresh::ReportSchedule {
    let morning = it.schedule("Morning");
    let request = |request_id: &str| refresh::CreateReportScheduleRequest {
        request_id: request_id.into(),
        schedule: Some(morning.clone()),
    };
    let mut created = Vec::new();
    for _ in 0..2 {
        let answer = it
            .client
            .create_report_schedule(call(request("create-1"), &it.editor))
            .await
            .unwrap()
            .into_inner();
        created.push(answer.schedule.unwrap());
    }
    let (first, again) = (&created[0], &created[1]);
    assert_eq!(first.id, again.id);
    assert_eq!(first.account_id, it.account.to_string());
    let next = time(first.next_send_time.as_ref());
    assert_eq!(
        (next.hour(), next.minute(), next.second()),
        (7, 30, 0),
        "UTC"
    );
    created.swap_remove(0)
}

/// Members read, in pages of two; another tenant sees none of it.
async fn members_list_in_pages_and_other_tenants_see_nothing(
    it: &mut Account,
    first: &refresh::ReportSchedule,
) {
    for name in ["Noon", "Evening"] {
        let schedule = it.schedule(name);
        create(&mut it.client, &it.editor, schedule).await.unwrap();
    }
    let page = |token: String| refresh::ListReportSchedulesRequest {
        account_id: String::new(),
        page_size: 2,
        page_token: token,
    };
    let one = it
        .client
        .list_report_schedules(call(page(String::new()), &it.viewer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.schedules.len(), 2);
    assert!(!one.next_page_token.is_empty());
    let two = it
        .client
        .list_report_schedules(call(page(one.next_page_token.clone()), &it.viewer))
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
    let theirs = get_schedule(&it.client, &tokens::viewer(it.other), &first.id)
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);
}

/// An update with a mask and the etag writes the masked fields only; a stale etag, a bad
/// value, a path that cannot be updated and a viewer are refused.
async fn an_update_writes_the_masked_fields_against_the_etag(
    it: &mut Account,
    first: &refresh::ReportSchedule,
) {
    let editor = it.editor.clone();
    let renamed = it
        .update(
            &editor,
            refresh::ReportSchedule {
                id: first.id.clone(),
                etag: first.etag.clone(),
                name: "Breakfast".into(),
                // Not in the mask: ignored.
                cron_expression: "nonsense".into(),
                ..Default::default()
            },
            &["name"],
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Breakfast");
    assert_eq!(renamed.cron_expression, "30 7 * * *");
    assert_ne!(renamed.etag, first.etag);
    assert_eq!(renamed.next_send_time, first.next_send_time);

    let id = || first.id.clone();
    let refusals = [
        (
            "a stale etag",
            &editor,
            refresh::ReportSchedule {
                id: id(),
                etag: first.etag.clone(),
                name: "Late".into(),
                ..Default::default()
            },
            &["name"][..],
            Code::Aborted,
            None,
        ),
        (
            "a bad value",
            &editor,
            refresh::ReportSchedule {
                id: id(),
                cron_expression: "0 8 * * Funday".into(),
                ..Default::default()
            },
            &["cron_expression"][..],
            Code::InvalidArgument,
            Some("schedule.cron_expression"),
        ),
        (
            "an unknown path",
            &editor,
            refresh::ReportSchedule {
                id: id(),
                ..Default::default()
            },
            &["next_send_time"][..],
            Code::InvalidArgument,
            None,
        ),
        (
            "a viewer",
            &it.viewer.clone(),
            refresh::ReportSchedule {
                id: id(),
                name: "Mine".into(),
                ..Default::default()
            },
            &["name"][..],
            Code::PermissionDenied,
            None,
        ),
    ];
    for (what, token, changes, mask, code, field) in refusals {
        let refused = it.update(token, changes, mask).await.unwrap_err();
        assert_eq!(refused.code(), code, "{what}");
        if let Some(field) = field {
            assert_eq!(violations(&refused)[0].0, field, "{what}");
        }
    }
}

/// Pausing clears the next send; resuming with a new time, zone and target sets it.
async fn pausing_clears_the_next_send_and_resuming_sets_it(
    it: &mut Account,
    first: &refresh::ReportSchedule,
) -> refresh::ReportSchedule {
    let editor = it.editor.clone();
    let paused = it
        .update(
            &editor,
            refresh::ReportSchedule {
                id: first.id.clone(),
                paused: true,
                ..Default::default()
            },
            &["paused"],
        )
        .await
        .unwrap();
    assert!(paused.paused && paused.next_send_time.is_none());
    let board = Some(Target::DashboardId(it.board.to_string()));
    let resumed = it
        .update(
            &editor,
            refresh::ReportSchedule {
                id: first.id.clone(),
                paused: false,
                cron_expression: "0 9 * * *".into(),
                time_zone: "Asia/Tokyo".into(),
                target: board.clone(),
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
        )
        .await
        .unwrap();
    let next = time(resumed.next_send_time.as_ref());
    assert_eq!((next.hour(), next.minute()), (0, 0), "09:00 in Tokyo");
    assert_eq!(resumed.target, board);
    assert_eq!(resumed.lead_time, lead(600));
    resumed
}

/// Delete: a stale etag is refused; then the schedule is gone with its deliveries.
async fn a_delete_needs_the_current_etag_and_takes_the_deliveries(
    it: &mut Account,
    first: &refresh::ReportSchedule,
    resumed: &refresh::ReportSchedule,
) {
    let delete = |etag: &str| refresh::DeleteReportScheduleRequest {
        request_id: String::new(),
        id: first.id.clone(),
        account_id: String::new(),
        etag: etag.into(),
    };
    let refused = it
        .client
        .delete_report_schedule(call(delete(&first.etag), &it.editor))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);
    it.client
        .delete_report_schedule(call(delete(&resumed.etag), &it.editor))
        .await
        .expect("deleted");
    let gone = get_schedule(&it.client, &it.viewer, &first.id)
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let no_deliveries = it
        .client
        .list_report_deliveries(call(
            refresh::ListReportDeliveriesRequest {
                schedule_id: first.id.clone(),
                ..Default::default()
            },
            &it.viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(no_deliveries.code(), Code::NotFound);
}
