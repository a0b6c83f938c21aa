//! Refresh jobs and the data-source instances they refresh, as plain values: what a job is
//! in (its state), why it was queued (its trigger), the fencing token of a claim, and the
//! name and resolution of an instance.

use uuid::Uuid;

trellis_platform::text_enum! {
    /// The state of a refresh job.
    pub enum JobState {
        Queued = "queued",
        Deferred = "deferred",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

impl JobState {
    /// States in which a job holds its instance's one place in the queue (dedup).
    pub const ACTIVE: [JobState; 3] = [JobState::Queued, JobState::Deferred, JobState::Running];
}

trellis_platform::text_enum! {
    /// Why a job was queued.
    pub enum Trigger {
        /// An inactive account became active and the instance was due (F1).
        Activity = "activity",
        /// The instance came due while its account was active (F2).
        Schedule = "schedule",
        /// RefreshNow.
        Manual = "manual",
        /// An email report is about to be sent (F7).
        Report = "report",
    }
}

trellis_platform::text_enum! {
    /// How fetched data is parsed, and how it was (cached data's format).
    pub enum DataFormat {
        Json = "json",
        Csv = "csv",
    }
}

/// A worker's hold on a claimed job: completion, deferral and renewal count only while the
/// job's attempt is still this one (fencing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub job_id: Uuid,
    pub attempt: i32,
}

/// Names a data-source instance: a data source and the instance key of one resolved
/// request of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId {
    pub data_source_id: Uuid,
    pub instance_key: String,
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
