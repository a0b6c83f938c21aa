//! The refresh service's rows, as stored: refresh jobs, data-source instances, cached data,
//! report schedules and deliveries. Closed-set columns hold the domain's enums
//! (`crate::domain`); `api::convert` and `api::report_wire` turn rows into messages.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::domain::delivery::{DeliveryHold, DeliveryStage, DeliveryStatus};
use crate::domain::job::{DataFormat, InstanceId, JobState, Lease, Trigger};
use crate::domain::schedule::{ScheduleDefinition, Target};
use crate::store::schema::{
    cached_data, instances, refresh_jobs, report_deliveries, report_schedules,
};

trellis_platform::text_column!(JobState);
trellis_platform::text_column!(Trigger);
trellis_platform::text_column!(DataFormat);
trellis_platform::text_column!(DeliveryStage);
trellis_platform::text_column!(DeliveryStatus);

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
    pub trigger: Trigger,
    pub state: JobState,
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
    /// The fencing token of this claim: the job as this worker holds it.
    pub fn lease(&self) -> Lease {
        Lease {
            job_id: self.id,
            attempt: self.attempt,
        }
    }

    /// The instance this job refreshes.
    pub fn instance(&self) -> InstanceId {
        InstanceId {
            data_source_id: self.data_source_id,
            instance_key: self.instance_key.clone(),
        }
    }
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
    pub trigger: Trigger,
    pub state: JobState,
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
            trigger,
            state: JobState::Queued,
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
    /// The last successful fetch's figures (see [`Instance::last_fetch`]).
    pub last_fetch_duration_us: Option<i64>,
    pub last_fetch_bytes: Option<i64>,
    pub last_fetch_pages: Option<i32>,
    pub last_fetch_limit_wait_us: Option<i64>,
}

impl Instance {
    /// What the last successful fetch took; `None` before the first.
    pub fn last_fetch(&self) -> Option<FetchFigures> {
        Some(FetchFigures {
            duration: micros(self.last_fetch_duration_us?),
            bytes: self.last_fetch_bytes?,
            pages: self.last_fetch_pages?,
            limit_wait: micros(self.last_fetch_limit_wait_us.unwrap_or(0)),
        })
    }
}

/// What one fetch took: from its first request to the last byte of its last page, the
/// bytes and pages read, and the time waited for API limits before and between requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchFigures {
    pub duration: Duration,
    pub bytes: i64,
    pub pages: i32,
    pub limit_wait: Duration,
}

/// A number of microseconds from the database; negative (never written) is zero.
pub fn micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

/// A duration in microseconds for the database, saturating.
pub fn as_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// The last successful fetch of an instance key (a row of `cached_data`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = cached_data)]
pub struct CachedData {
    pub instance_key: String,
    pub format: DataFormat,
    pub data: serde_json::Value,
    pub content_hash: String,
    pub size_bytes: i64,
    pub fetch_time: DateTime<Utc>,
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

impl ReportSchedule {
    /// A new schedule of `account_id` as `definition` sets it, first sent at
    /// `next_send_time` (its data sources queued at `prepare_at`).
    pub fn new(
        account_id: Uuid,
        definition: &ScheduleDefinition,
        (next_send_time, prepare_at): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        now: DateTime<Utc>,
    ) -> Self {
        let mut row = ReportSchedule {
            id: Uuid::now_v7(),
            account_id,
            name: String::new(),
            cron_expression: String::new(),
            time_zone: String::new(),
            recipients: Vec::new(),
            klip_ids: Vec::new(),
            dashboard_id: None,
            lead_time_ms: None,
            user_id: String::new(),
            paused: false,
            next_send_time,
            prepare_at,
            last_send_time: None,
            version: 1,
            create_time: now,
            update_time: now,
        };
        row.define(definition);
        row
    }

    /// Changes with every change a caller makes; a schedule deleted and created again never
    /// matches its predecessor's etags (new id).
    pub fn etag(&self) -> String {
        trellis_platform::etag::etag(&self.id.to_string(), self.version, self.create_time)
    }

    /// Writes every field a caller sets from `definition`.
    pub fn define(&mut self, definition: &ScheduleDefinition) {
        let (klip_ids, dashboard_id) = match &definition.target {
            Target::Klips(ids) => (ids.clone(), None),
            Target::Dashboard(id) => (Vec::new(), Some(*id)),
        };
        self.name = definition.name.clone();
        self.cron_expression = definition.cron_expression.trim().to_owned();
        self.time_zone = definition.time_zone.clone();
        self.recipients = definition.recipients.clone();
        self.klip_ids = klip_ids;
        self.dashboard_id = dashboard_id;
        self.lead_time_ms = definition
            .lead_time
            .map(|lead| lead.as_millis().min(i64::MAX as u128) as i64);
        self.user_id = definition.user_id.clone();
        self.paused = definition.paused;
    }
}

impl From<&ReportSchedule> for ScheduleDefinition {
    fn from(stored: &ReportSchedule) -> Self {
        ScheduleDefinition {
            name: stored.name.clone(),
            cron_expression: stored.cron_expression.clone(),
            time_zone: stored.time_zone.clone(),
            recipients: stored.recipients.clone(),
            target: match stored.dashboard_id {
                Some(dashboard) => Target::Dashboard(dashboard),
                None => Target::Klips(stored.klip_ids.clone()),
            },
            lead_time: stored
                .lead_time_ms
                .map(|ms| Duration::from_millis(ms.max(0) as u64)),
            user_id: stored.user_id.clone(),
            paused: stored.paused,
        }
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
    pub stage: DeliveryStage,
    pub status: DeliveryStatus,
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
    /// The fencing token of the replica that claimed it.
    pub fn hold(&self) -> DeliveryHold {
        DeliveryHold {
            id: self.id,
            claim: self.claim,
        }
    }
}
