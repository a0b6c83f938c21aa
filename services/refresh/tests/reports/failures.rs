//! A report is sent although a refresh failed, and a send the relay refuses is retried.

use crate::common::reports::*;
use crate::common::*;
use chrono_tz::Tz;
use std::time::Duration;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1::DeliveryStatus;
use trellis_testkit::data_api::Reply;
use trellis_testkit::tokens;

#[tokio::test(flavor = "multi_thread")]
async fn a_report_whose_refresh_failed_is_still_sent_and_says_so() {
    let (world, smtp, replica) = reporting(report_settings).await;
    let mut client = refresh_client(&replica);
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

    let funnel: KlipOf = (
        "Funnel",
        &[("Visits", "@0.visits"), ("Signups", "@1.signups")],
        &[good, flaky],
    );
    let (due, _, schedule) = reported_klip(&world, &mut client, account, funnel, (5, 4)).await;

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

    let sent = delivery_with(&client, account, &schedule.id, DeliveryStatus::Sent).await;
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
    let (world, smtp, replica) = reporting(report_settings).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    api.set_json("/kpi", serde_json::json!({"kpi": 5}));
    let source = world.data_source(account, &api.url("/kpi"), HOUR).await;
    // The relay is over quota for the next two attempts (451, try again later).
    smtp.refuse_next(2, 451);
    let kpi: KlipOf = ("KPI", &[("KPI", "@0.kpi")], &[source]);
    let (due, klip, schedule) = reported_klip(&world, &mut client, account, kpi, (3, 2)).await;

    // Each refusal is recorded, with the next attempt's time.
    let failed = delivery_with(&client, account, &schedule.id, DeliveryStatus::Failed).await;
    assert!(failed.attempts >= 1);
    assert!(failed.error.contains("451"), "{}", failed.error);
    assert!(failed.next_attempt_time.is_some(), "a retry is due");
    // The schedule moved on after the first attempt; the retries go on meanwhile.
    let moved_on = schedule_of(&client, account, &schedule.id).await;
    assert!(time(moved_on.next_send_time.as_ref()) > due);

    let mail = first_mail(&smtp, "the third attempt to be taken").await;
    let sent = delivery_with(&client, account, &schedule.id, DeliveryStatus::Sent).await;
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
        klip_report("KPI, again", cron, "ann@example.com", &[klip], 1),
    )
    .await
    .unwrap();
    let failed = delivery_with(&client, account, &doomed.id, DeliveryStatus::Failed).await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.error.contains("554"), "{}", failed.error);
    assert!(failed.next_attempt_time.is_none(), "not retried");
    assert_eq!(smtp.refused().len(), 3);
}
