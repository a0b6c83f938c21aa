//! Helpers of the email report tests (F7): settings that send through the test SMTP
//! server, send times a few seconds ahead, and the report schedule calls.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use trellis_platform::client::TracedChannel;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::refresh::v1::report_schedule::Target;
use trellis_refresh::Settings;
use trellis_refresh::settings::SmtpTls;
use trellis_testkit::smtp::SmtpServer;
use trellis_testkit::tokens;
use uuid::Uuid;

use super::{call, fast_settings};

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

pub async fn schedule_of(
    client: &RefreshServiceClient<TracedChannel>,
    account: Uuid,
    id: &str,
) -> refresh::ReportSchedule {
    client
        .clone()
        .get_report_schedule(call(
            refresh::GetReportScheduleRequest {
                id: id.into(),
                account_id: String::new(),
            },
            &tokens::viewer(account),
        ))
        .await
        .expect("GetReportSchedule")
        .into_inner()
        .schedule
        .expect("a schedule")
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
