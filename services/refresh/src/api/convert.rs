//! Stored records as protobuf messages.

use chrono::{DateTime, Utc};
use prost_types::value::Kind;
use trellis_proto::refresh::v1 as pb;

use crate::domain::job::{DataFormat, JobState, Trigger};
use crate::store::fetch_samples::FetchMetrics;
use crate::store::queue_status::{Positioned, QueueFigures};
use crate::store::rows::{CachedData, FetchFigures, Instance, RefreshJob};

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

pub fn duration(span: chrono::Duration) -> prost_types::Duration {
    let span = span.max(chrono::Duration::zero());
    prost_types::Duration {
        seconds: span.num_seconds(),
        nanos: span.subsec_nanos(),
    }
}

pub fn job(job: &RefreshJob) -> pb::RefreshJob {
    let state = match job.state {
        JobState::Queued => pb::RefreshJobState::Queued,
        JobState::Deferred => pb::RefreshJobState::Deferred,
        JobState::Running => pb::RefreshJobState::Running,
        JobState::Succeeded => pb::RefreshJobState::Succeeded,
        JobState::Failed => pb::RefreshJobState::Failed,
    };
    let trigger = match job.trigger {
        Trigger::Activity => pb::RefreshTrigger::Activity,
        Trigger::Schedule => pb::RefreshTrigger::Schedule,
        Trigger::Manual => pb::RefreshTrigger::Manual,
        Trigger::Report => pb::RefreshTrigger::Report,
    };
    let running = state == pb::RefreshJobState::Running;
    let deferred = state == pb::RefreshJobState::Deferred;
    pb::RefreshJob {
        id: job.id.to_string(),
        data_source_id: job.data_source_id.to_string(),
        account_id: job.account_id.to_string(),
        instance_key: job.instance_key.clone(),
        state: state as i32,
        trigger: trigger as i32,
        front: job.front,
        enqueue_time: Some(timestamp(job.enqueue_time)),
        defer_until: job.defer_until.filter(|_| deferred).map(timestamp),
        attempt: job.attempt,
        lease_deadline: job.lease_deadline.filter(|_| running).map(timestamp),
        finish_time: job.finish_time.map(timestamp),
        error: job.error.clone(),
    }
}

pub fn instance_status(instance: &Instance, job: Option<&RefreshJob>) -> pb::InstanceRefreshStatus {
    pb::InstanceRefreshStatus {
        instance_key: instance.instance_key.clone(),
        url: instance.url.clone(),
        last_fetch_time: instance.last_fetch_time.map(timestamp),
        last_attempt_time: instance.last_attempt_time.map(timestamp),
        next_due_time: instance.next_due_time.map(timestamp),
        consecutive_failures: instance.consecutive_failures,
        last_error: instance.last_error.clone(),
        disabled: instance.disabled,
        backoff_until: instance.backoff_until.map(timestamp),
        job: job.map(self::job),
        last_fetch: instance.last_fetch().map(|figures| fetch_stats(&figures)),
    }
}

/// What one fetch took.
pub fn fetch_stats(figures: &FetchFigures) -> pb::FetchStats {
    pb::FetchStats {
        duration: Some(std_duration(figures.duration)),
        bytes: figures.bytes,
        pages: figures.pages,
        limit_wait: Some(std_duration(figures.limit_wait)),
    }
}

/// A data source's fetch metrics.
pub fn fetch_metrics(metrics: &FetchMetrics) -> pb::FetchMetrics {
    pb::FetchMetrics {
        fetches: metrics.fetches,
        p50_duration: Some(std_duration(metrics.p50_duration)),
        p95_duration: Some(std_duration(metrics.p95_duration)),
        p50_bytes: metrics.p50_bytes,
        total_limit_wait: Some(std_duration(metrics.total_limit_wait)),
    }
}

/// A duration as protobuf writes it, saturating at the longest it holds.
pub fn std_duration(span: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(span.as_secs()).unwrap_or(i64::MAX),
        nanos: span.subsec_nanos() as i32,
    }
}

pub fn cached_data(instance: &Instance, data: &CachedData, now: DateTime<Utc>) -> pb::CachedData {
    let format = match data.format {
        DataFormat::Json => pb::DataFormat::Json,
        DataFormat::Csv => pb::DataFormat::Csv,
    };
    pb::CachedData {
        data_source_id: instance.data_source_id.to_string(),
        instance_key: data.instance_key.clone(),
        data_source_version: instance.fetched_version,
        format: format as i32,
        data: Some(value(&data.data)),
        fetch_time: Some(timestamp(data.fetch_time)),
        content_hash: data.content_hash.clone(),
        age: Some(duration(now - data.fetch_time)),
        size_bytes: data.size_bytes,
    }
}

/// A JSON value as a `google.protobuf.Value`.
pub fn value(json: &serde_json::Value) -> prost_types::Value {
    use serde_json::Value as Json;
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(value).collect(),
        }),
        Json::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields.iter().map(|(k, v)| (k.clone(), value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A GetQueueStatus answer: the figures, and the positions of the account's jobs.
pub fn queue_status(
    figures: &QueueFigures,
    positions: &[Positioned],
) -> pb::GetQueueStatusResponse {
    pb::GetQueueStatusResponse {
        depth: figures.depth,
        deferred_count: figures.deferred,
        running_count: figures.running,
        oldest_wait: figures
            .oldest_enqueue_time
            .map(|oldest| duration(figures.now - oldest)),
        positions: positions
            .iter()
            .map(|p| pb::QueuePosition {
                job: Some(job(&p.job)),
                position: p.position,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_a_protobuf_value() {
        let converted = value(&serde_json::json!({"rows": [["a", 1], null, true]}));
        let Some(Kind::StructValue(fields)) = converted.kind else {
            panic!("an object is a struct");
        };
        let Some(Kind::ListValue(rows)) = fields.fields["rows"].kind.clone() else {
            panic!("an array is a list");
        };
        assert_eq!(rows.values.len(), 3);
        assert_eq!(rows.values[1].kind, Some(Kind::NullValue(0)));
    }
}
