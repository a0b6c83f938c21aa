//! Helpers of the email report tests (F7): settings that send through the test SMTP
//! server, send times a few seconds ahead, and the report schedule calls.

use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use trellis_platform::client::TracedChannel;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_refresh::Settings;
use trellis_refresh::settings::SmtpTls;
use trellis_testkit::smtp::{ReceivedMail, SmtpServer};
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;

use super::{WAIT, World, call, fast_settings, refresh_status};
use trellis_testkit::TestServer;

/// Fast report settings that send through `smtp`.
pub fn report_settings(smtp: &SmtpServer) -> Settings {
    Settings {
        report_interval: Duration::from_millis(100),
        report_lead_time: Duration::from_secs(4),
        report_lease: Duration::from_secs(10),
        report_send_retries: "400ms,400ms,400ms".parse().unwrap(),
        smtp_host: smtp.host(),
        smtp_port: Some(smtp.port()),
        smtp_tls: SmtpTls::None,
        smtp_from: "Trellis reports <reports@trellis.test>".into(),
        smtp_timeout: Duration::from_secs(5),
        ..fast_settings()
    }
}

/// A send time `ahead` seconds from now (whole seconds), and a six-field cron expression
/// that names it, daily, in `zone`.
pub fn send_time(ahead: i64, zone: Tz) -> (DateTime<Utc>, String) {
    let time = DateTime::from_timestamp(Utc::now().timestamp() + ahead + 1, 0).unwrap();
    let local = time.with_timezone(&zone);
    let cron = format!(
        "{} {} {} * * *",
        local.second(),
        local.minute(),
        local.hour()
    );
    (time, cron)
}

pub fn time(timestamp: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    let timestamp = timestamp.expect("a timestamp");
    DateTime::from_timestamp(timestamp.seconds, timestamp.nanos as u32).unwrap()
}

pub fn lead(seconds: u64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: seconds as i64,
        nanos: 0,
    })
}

pub fn klips(ids: &[Uuid]) -> Option<Target> {
    Some(Target::Klips(refresh::KlipList {
        klip_ids: ids.iter().map(Uuid::to_string).collect(),
    }))
}

pub async fn create(
    client: &mut RefreshServiceClient<TracedChannel>,
    token: &str,
    schedule: refresh::ReportSchedule,
) -> Result<refresh::ReportSchedule, tonic::Status> {
    client
        .create_report_schedule(call(
            refresh::CreateReportScheduleRequest {
                request_id: String::new(),
                schedule: Some(schedule),
            },
            token,
        ))
        .await
        .map(|answer| answer.into_inner().schedule.expect("a schedule"))
}

/// UpdateReportSchedule of the fields `paths` to their values in `changes`.
pub async fn update(
    client: &mut RefreshServiceClient<TracedChannel>,
    token: &str,
    changes: refresh::ReportSchedule,
    paths: &[&str],
) -> Result<refresh::ReportSchedule, tonic::Status> {
    client
        .update_report_schedule(call(
            refresh::UpdateReportScheduleRequest {
                request_id: String::new(),
                schedule: Some(changes),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            },
            token,
        ))
        .await
        .map(|answer| answer.into_inner().schedule.expect("a schedule"))
}

pub async fn deliveries(
    client: &RefreshServiceClient<TracedChannel>,
    account: Uuid,
    schedule: &str,
) -> Vec<refresh::ReportDelivery> {
    client
        .clone()
        .list_report_deliveries(call(
            refresh::ListReportDeliveriesRequest {
                schedule_id: schedule.into(),
                account_id: String::new(),
                page_size: 0,
                page_token: String::new(),
            },
            &tokens::viewer(account),
        ))
        .await
        .expect("ListReportDeliveries")
        .into_inner()
        .deliveries
}

/// GetReportSchedule of `id` with `token`.
/// Waits for a delivery of `schedule` (of `account`) that has `status`.
pub async fn delivery_with(
    client: &RefreshServiceClient<TracedChannel>,
    account: Uuid,
    schedule: &str,
    status: refresh::DeliveryStatus,
) -> refresh::ReportDelivery {
    let what = format!("a delivery of schedule {schedule} with status {status:?}");
    eventually(&what, WAIT, || async move {
        deliveries(client, account, schedule)
            .await
            .into_iter()
            .find(|d| d.status == status as i32)
    })
    .await
}

pub async fn get_schedule(
    client: &RefreshServiceClient<TracedChannel>,
    token: &str,
    id: &str,
) -> Result<refresh::ReportSchedule, tonic::Status> {
    client
        .clone()
        .get_report_schedule(call(
            refresh::GetReportScheduleRequest {
                id: id.into(),
                account_id: String::new(),
            },
            token,
        ))
        .await
        .map(|answer| answer.into_inner().schedule.expect("a schedule"))
}

pub async fn schedule_of(
    client: &RefreshServiceClient<TracedChannel>,
    account: Uuid,
    id: &str,
) -> refresh::ReportSchedule {
    get_schedule(client, &tokens::viewer(account), id)
        .await
        .expect("GetReportSchedule")
}

pub fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// A world whose rendering replica, with `settings` for the test relay, sends reports.
pub async fn reporting(
    settings: impl FnOnce(&SmtpServer) -> Settings,
) -> (World, SmtpServer, TestServer) {
    let world = World::start().await;
    let smtp = SmtpServer::start().await;
    let replica = world.rendering_replica(settings(&smtp)).await;
    (world, smtp, replica)
}

/// What a report of one Klip shows: its name, its components (`(name, formula)`) and the
/// data sources it binds.
pub type KlipOf<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [Uuid]);

/// A Klip of `account`, and a schedule an editor made that sends it to ann@example.com
/// `ahead` seconds from now (UTC), queuing its data sources `lead_seconds` before. Returns
/// the send time, the Klip and the schedule.
pub async fn reported_klip(
    world: &World,
    client: &mut RefreshServiceClient<TracedChannel>,
    account: Uuid,
    (name, components, sources): KlipOf<'_>,
    (ahead, lead_seconds): (i64, u64),
) -> (DateTime<Utc>, Uuid, refresh::ReportSchedule) {
    let klip = world.klip(account, name, components, sources).await;
    let (due, cron) = send_time(ahead, Tz::UTC);
    let report = klip_report(name, cron, "ann@example.com", &[klip], lead_seconds);
    let schedule = create(client, &tokens::editor(account), report)
        .await
        .expect("CreateReportSchedule");
    (due, klip, schedule)
}

/// A schedule sending the Klips `klip_ids` to `recipient` at `cron` (UTC), queuing their data
/// sources `lead_seconds` before each send.
pub fn klip_report(
    name: &str,
    cron: String,
    recipient: &str,
    klip_ids: &[Uuid],
    lead_seconds: u64,
) -> refresh::ReportSchedule {
    refresh::ReportSchedule {
        name: name.into(),
        cron_expression: cron,
        recipients: vec![recipient.into()],
        target: klips(klip_ids),
        lead_time: lead(lead_seconds),
        ..Default::default()
    }
}

/// The first mail the SMTP server received, once it has.
pub async fn first_mail(smtp: &SmtpServer, what: &str) -> ReceivedMail {
    eventually(what, WAIT, || {
        let first = smtp.messages().into_iter().next();
        async move { first }
    })
    .await
}

/// The last time the data API saw a request for `path`.
pub fn last_request(world: &World, path: &str) -> Instant {
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
pub async fn printed_fetch_time(
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
