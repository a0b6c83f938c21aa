//! Scheduled email reports end to end (F7): a schedule's data sources are refreshed at the
//! front of the queue a lead time before the send, whatever the account's activity; the
//! report is rendered by the real library over the freshly cached data and delivered to a
//! real SMTP server on loopback, which the test reads; a report whose refresh failed is
//! still sent and says so; a send the relay refuses is retried. The library and the token
//! registry run in-process as the real services, the data sources' API is a real HTTP
//! server, and send times are a few seconds ahead (six-field cron expressions).

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use common::reports::*;
use common::*;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_refresh::Settings;
use trellis_testkit::data_api::Reply;
use trellis_testkit::smtp::{ReceivedMail, SmtpServer};
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;

const HOUR: Duration = Duration::from_secs(3600);

async fn first_mail(smtp: &SmtpServer, what: &str) -> ReceivedMail {
    eventually(what, WAIT, || {
        let first = smtp.messages().into_iter().next();
        async move { first }
    })
    .await
}

/// The last time the data API saw a request for `path`.
fn last_request(world: &World, path: &str) -> Instant {
    world
        .api
        .arrivals()
        .into_iter()
        .filter(|arrival| arrival.path == path)
        .map(|arrival| arrival.at)
        .max()
        .unwrap_or_else(|| panic!("{path} was never requested"))
}

/// The fetch time of a data source's (only) instance, as a report in `zone` prints it.
async fn printed_fetch_time(
    client: &mut refresh::refresh_service_client::RefreshServiceClient<
        trellis_platform::client::TracedChannel,
    >,
    account: Uuid,
    data_source: Uuid,
    zone: Tz,
) -> (DateTime<Utc>, String) {
    let status = refresh_status(client, account, data_source).await;
    let fetched = time(status.instances[0].last_fetch_time.as_ref());
    let printed = fetched
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string();
    (fetched, printed)
}

fn orders(totals: &[f64]) -> serde_json::Value {
    serde_json::json!({
        "orders": totals.iter().map(|total| serde_json::json!({"total": total})).collect::<Vec<_>>()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_refreshes_its_data_first_and_is_delivered_with_the_fresh_values_and_their_age() {
    let world = World::start().await;
    let smtp = SmtpServer::start().await;
    // Two replicas share the work; the report goes out once.
    let first = world.rendering_replica(report_settings(&smtp)).await;
    let _second = world.replica(report_settings(&smtp)).await;
    let mut client = refresh_client_at(&first.url);
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

    // The message: envelope, headers, both alternatives.
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
            "Data: data from {}, fetched {printed} (",
            api.url("/orders")
        )),
        "the orders' fetch time: {printed}\n{text}"
    );
    assert!(
        text.contains(&format!(
            "Data: data from {}, fetched {printed_regions} (",
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
    assert!(html.contains(&printed), "{html}");

    // The delivery is recorded, and the schedule moved on to tomorrow.
    let recorded = eventually("the delivery to be recorded as sent", WAIT, || {
        let client = client.clone();
        let id = schedule.id.clone();
        async move {
            let list = deliveries(&client, account, &id).await;
            list.into_iter()
                .find(|d| d.status == refresh::DeliveryStatus::Sent as i32)
        }
    })
    .await;
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
    let world = World::start().await;
    let smtp = SmtpServer::start().await;
    let api = &world.api;
    // No workers yet: the queue only fills.
    let queueing = world
        .rendering_replica(Settings {
            workers: 0,
            ..report_settings(&smtp)
        })
        .await;
    let mut client = refresh_client_at(&queueing.url);

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
    let klip = world
        .klip(
            quiet,
            "Values",
            &[("A", "@0.value"), ("B", "@1.value")],
            &[a, b],
        )
        .await;
    let (_, cron) = send_time(8, Tz::UTC);
    let schedule = create(
        &mut client,
        &tokens::admin(quiet),
        refresh::ReportSchedule {
            name: "Quiet".into(),
            cron_expression: cron,
            recipients: vec!["owner@example.com".into()],
            target: klips(&[klip]),
            lead_time: lead(7),
            ..Default::default()
        },
    )
    .await
    .expect("CreateReportSchedule");

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
    let sent = eventually("the delivery", WAIT, || {
        let client = client.clone();
        let id = schedule.id.clone();
        async move {
            deliveries(&client, quiet, &id)
                .await
                .into_iter()
                .find(|d| d.status == refresh::DeliveryStatus::Sent as i32)
        }
    })
    .await;
    assert!(sent.stale_data_sources.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_whose_refresh_failed_is_still_sent_and_says_so() {
    let world = World::start().await;
    let smtp = SmtpServer::start().await;
    let replica = world.rendering_replica(report_settings(&smtp)).await;
    let mut client = refresh_client_at(&replica.url);
    let api = &world.api;

    let account = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/good", serde_json::json!({"visits": 7}));
    api.set_json("/flaky", serde_json::json!({"signups": 3}));
    let good = world.data_source(account, &api.url("/good"), HOUR).await;
    let flaky = world.data_source(account, &api.url("/flaky"), HOUR).await;
    refresh_now(&mut client, account, flaky).await;
    wait_until_fetched(&client, account, &[flaky]).await;
    let (old_fetch, old_printed) = printed_fetch_time(&mut client, account, flaky, Tz::UTC).await;
    // The API has new numbers, but the report's request for them fails.
    api.set_json("/flaky", serde_json::json!({"signups": 99}));
    api.fail_next("/flaky", 1, Reply::status(500));

    let klip = world
        .klip(
            account,
            "Funnel",
            &[("Visits", "@0.visits"), ("Signups", "@1.signups")],
            &[good, flaky],
        )
        .await;
    let (due, cron) = send_time(5, Tz::UTC);
    let schedule = create(
        &mut client,
        &tokens::editor(account),
        refresh::ReportSchedule {
            name: "Funnel".into(),
            cron_expression: cron,
            recipients: vec!["ann@example.com".into()],
            target: klips(&[klip]),
            lead_time: lead(4),
            ..Default::default()
        },
    )
    .await
    .expect("CreateReportSchedule");

    let mail = first_mail(&smtp, "the report, sent anyway").await;
    assert_eq!(
        api.requests_for("/flaky"),
        2,
        "the report's refresh was tried"
    );
    assert!(last_request(&world, "/flaky") < mail.received_at);
    let text = mail.text().unwrap();
    // The older data, said to be older, with its age, and why.
    assert!(text.contains("Visits: 7\nSignups: 3\n"), "{text}");
    assert!(
        text.contains("Not all data could be refreshed before this report was sent:"),
        "{text}"
    );
    let flaky_name = format!("data from {}", api.url("/flaky"));
    assert!(
        text.contains(&format!(
            "  - {flaky_name}: the refresh failed: HTTP 500 Internal Server Error; the report shows data fetched {old_printed} ("
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("Data: {flaky_name}, fetched {old_printed} ("))
            && text.contains("NOT REFRESHED for this report: the refresh failed: HTTP 500"),
        "{text}"
    );
    assert!(mail.html().unwrap().contains("class=\"stale\""));

    let sent = eventually("the delivery", WAIT, || {
        let client = client.clone();
        let id = schedule.id.clone();
        async move {
            deliveries(&client, account, &id)
                .await
                .into_iter()
                .find(|d| d.status == refresh::DeliveryStatus::Sent as i32)
        }
    })
    .await;
    assert_eq!(time(sent.scheduled_time.as_ref()), due);
    assert_eq!(sent.stale_data_sources.len(), 1, "only the failed one");
    let stale = &sent.stale_data_sources[0];
    assert_eq!(stale.data_source_id, flaky.to_string());
    assert!(
        stale.reason.starts_with("the refresh failed: HTTP 500"),
        "{}",
        stale.reason
    );
    assert_eq!(time(stale.fetch_time.as_ref()), old_fetch);
    let status = refresh_status(&mut client, account, flaky).await;
    assert_eq!(
        status.instances[0].consecutive_failures, 1,
        "an ordinary failure (F8)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_the_relay_refuses_is_retried_with_backoff_and_recorded() {
    let world = World::start().await;
    let smtp = SmtpServer::start().await;
    let replica = world.rendering_replica(report_settings(&smtp)).await;
    let mut client = refresh_client_at(&replica.url);
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/kpi", serde_json::json!({"kpi": 5}));
    let source = world.data_source(account, &api.url("/kpi"), HOUR).await;
    let klip = world
        .klip(account, "KPI", &[("KPI", "@0.kpi")], &[source])
        .await;

    // The relay is over quota for the next two attempts (451, try again later).
    smtp.refuse_next(2, 451);
    let (due, cron) = send_time(3, Tz::UTC);
    let schedule = create(
        &mut client,
        &tokens::editor(account),
        refresh::ReportSchedule {
            name: "KPI".into(),
            cron_expression: cron,
            recipients: vec!["ann@example.com".into()],
            target: klips(&[klip]),
            lead_time: lead(2),
            ..Default::default()
        },
    )
    .await
    .expect("CreateReportSchedule");

    // Each refusal is recorded, with the next attempt's time.
    let failed = eventually("a refused attempt to be recorded", WAIT, || {
        let client = client.clone();
        let id = schedule.id.clone();
        async move {
            deliveries(&client, account, &id)
                .await
                .into_iter()
                .find(|d| d.status == refresh::DeliveryStatus::Failed as i32)
        }
    })
    .await;
    assert!(failed.attempts >= 1);
    assert!(failed.error.contains("451"), "{}", failed.error);
    assert!(failed.next_attempt_time.is_some(), "a retry is due");
    // The schedule moved on after the first attempt; the retries go on meanwhile.
    let moved_on = schedule_of(&client, account, &schedule.id).await;
    assert!(time(moved_on.next_send_time.as_ref()) > due);

    let mail = first_mail(&smtp, "the third attempt to be taken").await;
    let sent = eventually("the delivery to be recorded as sent", WAIT, || {
        let client = client.clone();
        let id = schedule.id.clone();
        async move {
            deliveries(&client, account, &id)
                .await
                .into_iter()
                .find(|d| d.status == refresh::DeliveryStatus::Sent as i32)
        }
    })
    .await;
    assert_eq!(sent.attempts, 3);
    assert_eq!(sent.error, "");
    assert!(sent.next_attempt_time.is_none());
    let refused = smtp.refused();
    assert_eq!(refused.len(), 2);
    // The same message every time, so a relay that took one of them late sees a duplicate
    // it can recognise.
    for (code, attempt) in &refused {
        assert_eq!(*code, 451);
        assert_eq!(attempt.header("Message-ID"), mail.header("Message-ID"));
    }
    let gaps: Vec<_> = refused
        .iter()
        .map(|(_, m)| m.received_at)
        .chain([mail.received_at])
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect();
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(350)),
        "retries wait their backoff: {gaps:?}"
    );
    let after = schedule_of(&client, account, &schedule.id).await;
    assert_eq!(
        time(after.last_send_time.as_ref()),
        time(sent.send_time.as_ref())
    );

    // A permanent refusal (554) is not retried.
    smtp.refuse_next(1, 554);
    let (_, cron) = send_time(2, Tz::UTC);
    let doomed = create(
        &mut client,
        &tokens::editor(account),
        refresh::ReportSchedule {
            name: "KPI, again".into(),
            cron_expression: cron,
            recipients: vec!["ann@example.com".into()],
            target: klips(&[klip]),
            lead_time: lead(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let failed = eventually("the permanent refusal to be recorded", WAIT, || {
        let client = client.clone();
        let id = doomed.id.clone();
        async move {
            deliveries(&client, account, &id)
                .await
                .into_iter()
                .find(|d| d.status == refresh::DeliveryStatus::Failed as i32)
        }
    })
    .await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.error.contains("554"), "{}", failed.error);
    assert!(failed.next_attempt_time.is_none(), "not retried");
    assert_eq!(smtp.refused().len(), 3);
}
