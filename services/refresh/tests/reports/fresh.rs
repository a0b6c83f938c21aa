//! A report's data is refreshed first, at the front of the queue, and delivered with its
//! values and their age.

use crate::common::reports::*;
use crate::common::*;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::time::Duration;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::DeliveryStatus;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_refresh::Settings;
use trellis_testkit::data_api::DataApi;
use trellis_testkit::smtp::ReceivedMail;
use trellis_testkit::{eventually, tokens};

fn orders(totals: &[f64]) -> serde_json::Value {
    serde_json::json!({
        "orders": totals.iter().map(|total| serde_json::json!({"total": total})).collect::<Vec<_>>()
    })
}

/// The message of the sales report: envelope, headers, both alternatives, the values of
/// the freshly served data and their fetch times as printed (`orders`, `regions`).
fn the_mail_shows_the_fresh_values(
    mail: &ReceivedMail,
    api: &DataApi,
    (orders, regions): (&str, &str),
    due: DateTime<Utc>,
    zone: Tz,
) {
    assert_eq!(mail.from, "reports@trellis.test");
    assert_eq!(mail.to, ["ann@example.com", "bo@example.com"]);
    assert_eq!(mail.subject().as_deref(), Some("Weekly sales"));
    let text = mail.text().expect("a plain-text part");
    let html = mail.html().expect("an HTML part");
    // The values of the freshly served data, and their freshness.
    assert!(text.contains("== Sales =="), "{text}");
    assert!(text.contains("Total: 42.5\n"), "{text}");
    assert!(text.contains("Orders: 3\n"), "{text}");
    assert!(text.contains("Regions: EU, US\n"), "{text}");
    assert!(
        text.contains(&format!(
            "Data: data from {}, fetched {orders} (",
            api.url("/orders")
        )),
        "the orders' fetch time: {orders}\n{text}"
    );
    assert!(
        text.contains(&format!(
            "Data: data from {}, fetched {regions} (",
            api.url("/regions.csv")
        )),
        "{text}"
    );
    assert!(!text.contains("NOT REFRESHED") && !text.contains("Not all data"));
    assert!(text.contains(&format!(
        "Report of {} (Europe/Berlin)",
        due.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z")
    )));
    assert!(html.contains("<td>42.5</td>"), "{html}");
    assert!(html.contains(orders), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_refreshes_its_data_first_and_is_delivered_with_the_fresh_values_and_their_age() {
    // Two replicas share the work; the report goes out once.
    let (world, smtp, first) = reporting(report_settings).await;
    let _second = world.replica(report_settings(&smtp)).await;
    let mut client = refresh_client(&first);
    let api = &world.api;

    let account = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/orders", orders(&[10.0, 20.0]));
    api.set_csv("/regions.csv", "Region,Amount\nEU,3\nUS,4\n");
    let orders_source = world.data_source(account, &api.url("/orders"), HOUR).await;
    // No refresh interval: only reports (and RefreshNow) ever fetch it.
    let regions_source = world
        .data_source(account, &api.url("/regions.csv"), Duration::ZERO)
        .await;
    // Older data in the cache; the API has newer data by the time of the report.
    refresh_now(&mut client, account, orders_source).await;
    wait_until_fetched(&client, account, &[orders_source]).await;
    let (older, _) = printed_fetch_time(&mut client, account, orders_source, Tz::UTC).await;
    api.set_json("/orders", orders(&[10.0, 20.0, 12.5]));

    let sales = world
        .klip(
            account,
            "Sales",
            &[
                ("Total", "SUM(@0.orders.total)"),
                ("Orders", "COUNT(@0.orders)"),
                ("Regions", "GROUP(@1.Region)"),
            ],
            &[orders_source, regions_source],
        )
        .await;
    let board = world.dashboard(account, "Board", &[sales]).await;

    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let (due, cron) = send_time(6, zone);
    let schedule = create(
        &mut client,
        &tokens::editor(account),
        refresh::ReportSchedule {
            name: "Weekly sales".into(),
            cron_expression: cron,
            time_zone: zone.name().into(),
            recipients: vec!["ann@example.com".into(), "bo@example.com".into()],
            target: Some(Target::DashboardId(board.to_string())),
            lead_time: lead(4),
            ..Default::default()
        },
    )
    .await
    .expect("CreateReportSchedule");
    assert_eq!(time(schedule.next_send_time.as_ref()), due);

    let mail = first_mail(&smtp, "the report to reach the SMTP server").await;

    // Refreshed first: every data source was fetched again before the mail arrived.
    assert_eq!(
        api.requests_for("/orders"),
        2,
        "once before, once for the report"
    );
    assert_eq!(api.requests_for("/regions.csv"), 1);
    for path in ["/orders", "/regions.csv"] {
        assert!(
            last_request(&world, path) < mail.received_at,
            "{path} was fetched before the report was sent"
        );
    }
    // F7: whatever the activity. Nobody was ever active in the account.
    let status = refresh_status(&mut client, account, orders_source).await;
    assert!(status.account_active_until.is_none());
    let job = status.instances[0].job.clone().expect("the report's job");
    assert_eq!(job.trigger, refresh::RefreshTrigger::Report as i32);
    assert!(job.front);
    let (fresh, printed) = printed_fetch_time(&mut client, account, orders_source, zone).await;
    assert!(fresh > older, "the report's refresh is the newer fetch");
    let (_, printed_regions) = printed_fetch_time(&mut client, account, regions_source, zone).await;

    the_mail_shows_the_fresh_values(&mail, &world.api, (&printed, &printed_regions), due, zone);

    // The delivery is recorded, and the schedule moved on to tomorrow.
    let recorded = delivery_with(&client, account, &schedule.id, DeliveryStatus::Sent).await;
    assert_eq!(time(recorded.scheduled_time.as_ref()), due);
    assert!(time(recorded.send_time.as_ref()) >= due, "not sent early");
    assert!(recorded.stale_data_sources.is_empty());
    assert_eq!(recorded.recipients, ["ann@example.com", "bo@example.com"]);
    assert_eq!(recorded.attempts, 1);
    assert!(recorded.next_attempt_time.is_none());
    let moved_on = schedule_of(&client, account, &schedule.id).await;
    assert!(time(moved_on.next_send_time.as_ref()) > due + chrono::Duration::hours(22));
    assert_eq!(
        time(moved_on.last_send_time.as_ref()),
        time(recorded.send_time.as_ref())
    );
    assert_eq!(
        moved_on.etag, schedule.etag,
        "sending is not a change of the caller's"
    );
    assert_eq!(smtp.messages().len(), 1, "sent once by two replicas");
    assert_eq!(deliveries(&client, account, &schedule.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reports_data_sources_go_to_the_front_of_the_queue_whatever_the_activity() {
    // No workers yet: the queue only fills.
    let (world, smtp, queueing) = reporting(|smtp| Settings {
        workers: 0,
        ..report_settings(smtp)
    })
    .await;
    let api = &world.api;
    let mut client = refresh_client(&queueing);

    // A busy account, signed in: its data sources are queued first.
    let busy = world.account(library::AccountKind::Standard, None).await;
    world
        .member(busy, "bea", trellis_platform::auth::Role::Viewer)
        .await;
    for i in 0..4 {
        let path = format!("/busy/{i}");
        api.set_json(&path, serde_json::json!(i));
        world.data_source(busy, &api.url(&path), HOUR).await;
    }
    assert_eq!(login(&mut client, busy, "bea").await.queued_jobs, 4);

    // A report's account where nobody is active. One of its data sources was queued with
    // RefreshNow after the busy account's, at the back of the queue.
    let quiet = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/report/a", serde_json::json!({"value": 1}));
    api.set_json("/report/b", serde_json::json!({"value": 2}));
    let a = world.data_source(quiet, &api.url("/report/a"), HOUR).await;
    let b = world.data_source(quiet, &api.url("/report/b"), HOUR).await;
    let manual = refresh_now(&mut client, quiet, a).await;
    assert!(!manual.front);
    let values: KlipOf = ("Values", &[("A", "@0.value"), ("B", "@1.value")], &[a, b]);
    let (_, _, schedule) = reported_klip(&world, &mut client, quiet, values, (8, 7)).await;

    // A lead time before the send, both are at the head of the queue, ahead of the jobs
    // queued earlier; the waiting RefreshNow job was moved there.
    let positions = eventually("the report's refreshes at the front", WAIT, || {
        let mut client = client.clone();
        async move {
            let status = client
                .get_queue_status(call(
                    refresh::GetQueueStatusRequest {
                        account_id: quiet.to_string(),
                    },
                    &tokens::service(),
                ))
                .await
                .unwrap()
                .into_inner();
            (status.positions.len() == 2
                && status
                    .positions
                    .iter()
                    .all(|p| p.job.as_ref().unwrap().front))
            .then_some(status)
        }
    })
    .await;
    let ordered: Vec<_> = positions
        .positions
        .iter()
        .map(|p| (p.position, p.job.clone().unwrap()))
        .collect();
    assert_eq!(ordered[0].0, 1);
    assert_eq!(ordered[1].0, 2);
    assert_eq!(ordered[0].1.data_source_id, a.to_string());
    assert_eq!(
        ordered[0].1.id, manual.id,
        "the waiting job, moved to the front"
    );
    assert_eq!(ordered[1].1.data_source_id, b.to_string());
    assert_eq!(ordered[1].1.trigger, refresh::RefreshTrigger::Report as i32);
    let status = refresh_status(&mut client, quiet, a).await;
    assert!(status.account_active_until.is_none(), "still nobody active");

    // A worker replica starts: one fetch at a time, in queue order.
    let mut one_worker = report_settings(&smtp);
    one_worker.workers = 1;
    one_worker.batch_size = 1;
    let _worker = world.replica(one_worker).await;
    let mail = first_mail(&smtp, "the report").await;
    let paths = api.paths();
    assert_eq!(
        paths,
        [
            "/report/a",
            "/report/b",
            "/busy/0",
            "/busy/1",
            "/busy/2",
            "/busy/3"
        ],
        "the report's refreshes went first"
    );
    assert!(last_request(&world, "/report/b") < mail.received_at);
    let text = mail.text().unwrap();
    assert!(text.contains("A: 1\nB: 2\n"), "{text}");
    let sent = delivery_with(&client, quiet, &schedule.id, DeliveryStatus::Sent).await;
    assert!(sent.stale_data_sources.is_empty());
}
