//! Report schedules and deliveries between their protobuf messages and their stored and
//! domain forms.

use trellis_platform::error::Violations;
use trellis_platform::validate;
use trellis_proto::refresh::v1 as pb;
use trellis_proto::refresh::v1::report_schedule::Target as PbTarget;
use uuid::Uuid;

use super::convert::{duration, timestamp};
use crate::domain::delivery::{DeliveryStage, DeliveryStatus};
use crate::domain::plan::stale_from_json;
use crate::domain::schedule::{
    MAX_KLIPS, MAX_LEAD_TIME, MIN_LEAD_TIME, ScheduleDefinition, Target,
};
use crate::store::rows::{ReportDelivery, ReportSchedule};

/// Fields UpdateReportSchedule writes.
pub const UPDATABLE: [&str; 9] = [
    "name",
    "cron_expression",
    "time_zone",
    "recipients",
    "klips",
    "dashboard_id",
    "lead_time",
    "user_id",
    "paused",
];

/// The fields of `wanted` a caller set to non-default values: what an empty update mask
/// means.
pub fn implied_mask(wanted: &pb::ReportSchedule) -> Vec<&'static str> {
    let mut paths = Vec::new();
    let set = [
        (!wanted.name.is_empty(), "name"),
        (!wanted.cron_expression.is_empty(), "cron_expression"),
        (!wanted.time_zone.is_empty(), "time_zone"),
        (!wanted.recipients.is_empty(), "recipients"),
        (matches!(wanted.target, Some(PbTarget::Klips(_))), "klips"),
        (
            matches!(wanted.target, Some(PbTarget::DashboardId(_))),
            "dashboard_id",
        ),
        (wanted.lead_time.is_some(), "lead_time"),
        (!wanted.user_id.is_empty(), "user_id"),
        (wanted.paused, "paused"),
    ];
    for (is_set, path) in set {
        if is_set {
            paths.push(path);
        }
    }
    paths
}

/// A new schedule's definition from the request, with a violation for every id or duration
/// that cannot be read.
pub fn definition(wanted: &pb::ReportSchedule, violations: &mut Violations) -> ScheduleDefinition {
    ScheduleDefinition {
        name: wanted.name.clone(),
        cron_expression: wanted.cron_expression.clone(),
        time_zone: wanted.time_zone.clone(),
        recipients: wanted.recipients.clone(),
        target: target(wanted.target.as_ref(), violations),
        lead_time: lead_time(wanted.lead_time.as_ref(), violations),
        user_id: wanted.user_id.clone(),
        paused: wanted.paused,
    }
}

/// Overwrites the fields of `definition` that `has` names with those of `wanted`.
pub fn apply(
    wanted: &pb::ReportSchedule,
    has: impl Fn(&str) -> bool,
    definition: &mut ScheduleDefinition,
    violations: &mut Violations,
) {
    if has("name") {
        definition.name = wanted.name.clone();
    }
    if has("cron_expression") {
        definition.cron_expression = wanted.cron_expression.clone();
    }
    if has("time_zone") {
        definition.time_zone = wanted.time_zone.clone();
    }
    if has("recipients") {
        definition.recipients = wanted.recipients.clone();
    }
    if has("klips") || has("dashboard_id") {
        definition.target = target(wanted.target.as_ref(), violations);
    }
    if has("lead_time") {
        definition.lead_time = lead_time(wanted.lead_time.as_ref(), violations);
    }
    if has("user_id") {
        definition.user_id = wanted.user_id.clone();
    }
    if has("paused") {
        definition.paused = wanted.paused;
    }
}

fn target(target: Option<&PbTarget>, violations: &mut Violations) -> Target {
    match target {
        // Past the limit, the ids are not read one by one: the list's length is refused.
        Some(PbTarget::Klips(list)) => Target::Klips(
            list.klip_ids
                .iter()
                .take(MAX_KLIPS + 1)
                .enumerate()
                .filter_map(|(index, text)| match Uuid::parse_str(text) {
                    Ok(id) => Some(id),
                    Err(_) => {
                        violations.add(
                            format!("schedule.klips.klip_ids[{index}]"),
                            "must be a UUID",
                        );
                        None
                    }
                })
                .collect(),
        ),
        Some(PbTarget::DashboardId(text)) => match Uuid::parse_str(text) {
            Ok(id) => Target::Dashboard(id),
            Err(_) => {
                violations.add("schedule.dashboard_id", "must be a UUID");
                // Stands in for the unreadable id; the violation fails the call.
                Target::Dashboard(Uuid::nil())
            }
        },
        None => Target::Klips(Vec::new()),
    }
}

fn lead_time(
    lead: Option<&prost_types::Duration>,
    violations: &mut Violations,
) -> Option<std::time::Duration> {
    let lead = lead?;
    // Any seconds and nanos a caller sends are checked without overflow.
    let mut out_of_range = Violations::new();
    let lead = validate::duration(
        &mut out_of_range,
        "schedule.lead_time",
        lead,
        MIN_LEAD_TIME,
        MAX_LEAD_TIME,
    );
    if lead.is_none() {
        violations.add(
            "schedule.lead_time",
            "must be between one second and one day",
        );
    }
    lead
}

pub fn schedule(stored: &ReportSchedule) -> pb::ReportSchedule {
    let target = match stored.dashboard_id {
        Some(dashboard) => PbTarget::DashboardId(dashboard.to_string()),
        None => PbTarget::Klips(pb::KlipList {
            klip_ids: stored.klip_ids.iter().map(Uuid::to_string).collect(),
        }),
    };
    pb::ReportSchedule {
        id: stored.id.to_string(),
        account_id: stored.account_id.to_string(),
        name: stored.name.clone(),
        cron_expression: stored.cron_expression.clone(),
        time_zone: stored.time_zone.clone(),
        recipients: stored.recipients.clone(),
        target: Some(target),
        lead_time: stored
            .lead_time_ms
            .map(|ms| duration(crate::domain::clock::milliseconds(ms))),
        user_id: stored.user_id.clone(),
        paused: stored.paused,
        next_send_time: stored.next_send_time.map(timestamp),
        last_send_time: stored.last_send_time.map(timestamp),
        etag: stored.etag(),
        create_time: Some(timestamp(stored.create_time)),
        update_time: Some(timestamp(stored.update_time)),
    }
}

pub fn delivery(stored: &ReportDelivery) -> pb::ReportDelivery {
    let status = match stored.status {
        DeliveryStatus::Refreshing => pb::DeliveryStatus::Refreshing,
        DeliveryStatus::Sent => pb::DeliveryStatus::Sent,
        DeliveryStatus::Failed => pb::DeliveryStatus::Failed,
        DeliveryStatus::Skipped => pb::DeliveryStatus::Skipped,
    };
    let retrying = status == pb::DeliveryStatus::Failed && stored.stage == DeliveryStage::Send;
    pb::ReportDelivery {
        id: stored.id.to_string(),
        schedule_id: stored.schedule_id.to_string(),
        scheduled_time: Some(timestamp(stored.scheduled_time)),
        send_time: stored
            .send_time
            .filter(|_| status == pb::DeliveryStatus::Sent)
            .map(timestamp),
        status: status as i32,
        stale_data_sources: stale_from_json(&stored.stale_data_sources)
            .into_iter()
            .map(|stale| pb::StaleDataSource {
                data_source_id: stale.data_source_id.to_string(),
                instance_key: stale.instance_key,
                fetch_time: stale.fetch_time.map(timestamp),
                reason: stale.reason,
            })
            .collect(),
        recipients: stored.recipients.clone(),
        error: stored.error.clone(),
        attempts: stored.attempts,
        next_attempt_time: retrying.then(|| timestamp(stored.due_at)),
    }
}
