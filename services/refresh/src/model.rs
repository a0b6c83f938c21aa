//! The refresh service's records, as stored: refresh jobs, data-source instances, cached
//! data, report schedules and deliveries. `api::convert` and `api::report_wire` turn them
//! into protobuf messages.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{cached_data, instances, refresh_jobs, report_deliveries, report_schedules};

/// The state of a refresh job (the `state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Deferred,
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Deferred => "deferred",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => JobState::Queued,
            "deferred" => JobState::Deferred,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
}

/// Why a job was queued (the `trigger` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An inactive account became active and the instance was due (F1).
    Activity,
    /// The instance came due while its account was active (F2).
    Schedule,
    /// RefreshNow.
    Manual,
    /// An email report is about to be sent (F7).
    Report,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Activity => "activity",
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Report => "report",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "activity" => Trigger::Activity,
            "schedule" => Trigger::Schedule,
            "manual" => Trigger::Manual,
            "report" => Trigger::Report,
            _ => return None,
        })
    }
}

/// One refresh job (a row of `refresh_jobs`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = refresh_jobs)]
pub struct RefreshJob {
    pub id: Uuid,
    pub seq: i64,
    pub data_source_id: Uuid,
    pub account_id: Uuid,
    pub instance_key: String,
    pub resolve_user_id: String,
    pub trigger: String,
    pub state: String,
    pub front: bool,
    pub enqueue_time: DateTime<Utc>,
    pub defer_until: Option<DateTime<Utc>>,
    pub deferred_on: Option<String>,
    pub attempt: i32,
    pub lease_deadline: Option<DateTime<Utc>>,
    pub finish_time: Option<DateTime<Utc>>,
    pub error: String,
    /// The W3C trace context of the call that queued it, if any.
    pub trace_context: Option<serde_json::Value>,
}

impl RefreshJob {
    pub fn state(&self) -> Option<JobState> {
        JobState::parse(&self.state)
    }

    /// The fencing token of this claim: the job as this worker holds it.
    pub fn lease(&self) -> Lease {
        Lease {
            job_id: self.id,
            attempt: self.attempt,
        }
    }
}

/// A worker's hold on a claimed job: completion, deferral and renewal count only while the
/// job's attempt is still this one (fencing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub job_id: Uuid,
    pub attempt: i32,
}

/// A job to put on the queue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = refresh_jobs)]
pub struct NewJob {
    pub id: Uuid,
    pub data_source_id: Uuid,
    pub account_id: Uuid,
    pub instance_key: String,
    pub resolve_user_id: String,
    pub trigger: String,
    pub state: String,
    pub front: bool,
    pub trace_context: Option<serde_json::Value>,
}

impl NewJob {
    pub fn new(
        instance: &InstanceId,
        account_id: Uuid,
        resolve_user_id: &str,
        trigger: Trigger,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            data_source_id: instance.data_source_id,
            account_id,
            instance_key: instance.instance_key.clone(),
            resolve_user_id: resolve_user_id.to_owned(),
            trigger: trigger.as_str().to_owned(),
            state: JobState::Queued.as_str().to_owned(),
            front: matches!(trigger, Trigger::Report),
            trace_context: None,
        }
    }

    /// The same job, continuing the trace of the call or task that queues it.
    pub fn traced(mut self, trace_context: Option<serde_json::Value>) -> Self {
        self.trace_context = trace_context;
        self
    }
}

/// Names a data-source instance: a data source and the instance key of one resolved
/// request of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId {
    pub data_source_id: Uuid,
    pub instance_key: String,
}

/// The schedule and failure state of one data-source instance (a row of `instances`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = instances)]
pub struct Instance {
    pub data_source_id: Uuid,
    pub instance_key: String,
    pub account_id: Uuid,
    pub resolve_user_id: String,
    pub url: String,
    pub data_source_version: i64,
    pub refresh_interval_ms: i64,
    pub last_fetch_time: Option<DateTime<Utc>>,
    pub fetched_version: i64,
    pub last_attempt_time: Option<DateTime<Utc>>,
    pub next_due_time: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub last_error: String,
    pub disabled: bool,
    pub backoff_until: Option<DateTime<Utc>>,
    pub fetch_count: i64,
}

/// What the library resolved a data source into, as the refresh service keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedInstance {
    pub id: InstanceId,
    pub account_id: Uuid,
    pub resolve_user_id: String,
    pub url: String,
    pub data_source_version: i64,
    pub refresh_interval_ms: i64,
}

/// How cached data was parsed (the `format` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    Json,
    Csv,
}

impl DataFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Json => "json",
            DataFormat::Csv => "csv",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "json" => Some(DataFormat::Json),
            "csv" => Some(DataFormat::Csv),
            _ => None,
        }
    }
}

/// The last successful fetch of an instance key (a row of `cached_data`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = cached_data)]
pub struct CachedData {
    pub instance_key: String,
    pub format: String,
    pub data: serde_json::Value,
    pub content_hash: String,
    pub size_bytes: i64,
    pub fetch_time: DateTime<Utc>,
}

/// A refresh interval in milliseconds; zero when unset (never on schedule).
pub fn interval_ms(interval: Option<&prost_types::Duration>) -> i64 {
    interval
        .and_then(crate::clock::from_proto)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
}

/// A report schedule (a row of `report_schedules`, F7).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = report_schedules)]
pub struct ReportSchedule {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub cron_expression: String,
    pub time_zone: String,
    pub recipients: Vec<String>,
    pub klip_ids: Vec<Uuid>,
    pub dashboard_id: Option<Uuid>,
    pub lead_time_ms: Option<i64>,
    pub user_id: String,
    pub paused: bool,
    pub next_send_time: Option<DateTime<Utc>>,
    pub prepare_at: Option<DateTime<Utc>>,
    pub last_send_time: Option<DateTime<Utc>>,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// Where a delivery is in its life (the `stage` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStage {
    /// Its data sources are to be queued at the front (F7).
    Prepare,
    /// To be sent at its scheduled time, or retried.
    Send,
    /// Sent, skipped, or failed for good.
    Done,
}

impl DeliveryStage {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "prepare" => DeliveryStage::Prepare,
            "send" => DeliveryStage::Send,
            "done" => DeliveryStage::Done,
            _ => return None,
        })
    }
}

/// What a delivery's recipients see of it (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Refreshing,
    Sent,
    Failed,
    Skipped,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Refreshing => "refreshing",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "refreshing" => DeliveryStatus::Refreshing,
            "sent" => DeliveryStatus::Sent,
            "failed" => DeliveryStatus::Failed,
            "skipped" => DeliveryStatus::Skipped,
            _ => return None,
        })
    }
}

/// One send of a report schedule (a row of `report_deliveries`), and the report loop's unit
/// of work.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = report_deliveries)]
pub struct ReportDelivery {
    pub id: Uuid,
    pub schedule_id: Uuid,
    pub account_id: Uuid,
    pub scheduled_time: DateTime<Utc>,
    pub stage: String,
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub refresh_deadline: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
    pub claim: i32,
    pub prepared_at: Option<DateTime<Utc>>,
    pub plan: Option<serde_json::Value>,
    pub recipients: Vec<String>,
    pub message: Option<Vec<u8>>,
    pub attempts: i32,
    pub send_time: Option<DateTime<Utc>>,
    pub stale_data_sources: serde_json::Value,
    pub error: String,
    pub create_time: DateTime<Utc>,
}

impl ReportDelivery {
    pub fn stage(&self) -> Option<DeliveryStage> {
        DeliveryStage::parse(&self.stage)
    }

    /// The fencing token of the replica that claimed it.
    pub fn hold(&self) -> DeliveryHold {
        DeliveryHold {
            id: self.id,
            claim: self.claim,
        }
    }
}

/// A replica's claim on a delivery: what it writes counts only while the claim is still
/// this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryHold {
    pub id: Uuid,
    pub claim: i32,
}
