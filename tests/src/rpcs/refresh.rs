//! The refresh service's RPCs: activity, refresh jobs and queue, cached data, report
//! schedules and deliveries.

use trellis_platform::auth::Identity::{Library, Operator};

use super::Users::{Nobody, Read, Write};
use super::{R, Row, own, row};

/// Every RPC of the service but its deletions.
pub const ROWS: &[Row] = &[
    own(row(
        R,
        "RecordActivity",
        Read,
        &[],
        r#"{"kind": "ACTIVITY_KIND_LOGIN"}"#,
    )),
    row(
        R,
        "RefreshNow",
        Write,
        &[Operator],
        r#"{"data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetRefreshJob",
        Read,
        &[Operator],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetQueueStatus",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetRefreshStatus",
        Read,
        &[Operator],
        r#"{"data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "GetCachedData",
        Nobody,
        &[Operator, Library],
        r#"{"data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "CreateReportSchedule",
        Write,
        &[Operator],
        r#"{"schedule": {"account_id": "{A}", "name": "Weekly", "cron_expression": "0 8 * * MON", "time_zone": "UTC", "recipients": ["boss@example.com"], "klips": {"klip_ids": ["{K}"]}}}"#,
    ),
    row(
        R,
        "GetReportSchedule",
        Read,
        &[Operator],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        R,
        "ListReportSchedules",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        R,
        "UpdateReportSchedule",
        Write,
        &[Operator],
        r#"{"schedule": {"id": "{RANDOM}", "account_id": "{A}", "name": "Renamed"}, "update_mask": "name"}"#,
    ),
    row(
        R,
        "ListReportDeliveries",
        Read,
        &[Operator],
        r#"{"schedule_id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
];

/// Its deletions, which run after every other row.
pub const DELETIONS: &[Row] = &[row(
    R,
    "DeleteReportSchedule",
    Write,
    &[Operator],
    r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
)];
