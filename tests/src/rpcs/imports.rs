//! The import service's RPCs: plans, imports and the instances they made.

use trellis_platform::auth::Identity::Operator;

use super::Users::{Admin, Agency, Read};
use super::{I, Row, own, row};

/// Every RPC of the service but its deletions.
pub const ROWS: &[Row] = &[
    row(
        I,
        "CreateImportPlan",
        Agency,
        &[Operator],
        r#"{"destination_account_id": "{A}", "source_account_id": "{P}", "selection": [{"kind": "ASSET_KIND_KLIP", "id": "{PK}"}]}"#,
    ),
    row(
        I,
        "GetImportPlan",
        Read,
        &[Operator],
        r#"{"id": "{RANDOM}"}"#,
    ),
    row(
        I,
        "ExecuteImportPlan",
        Admin,
        &[Operator],
        r#"{"request_id": "matrix-execute", "plan_id": "{RANDOM}", "etag": "reviewed"}"#,
    ),
    row(I, "GetImport", Read, &[Operator], r#"{"id": "{RANDOM}"}"#),
    row(
        I,
        "ListImports",
        Read,
        &[Operator],
        r#"{"destination_account_id": "{A}"}"#,
    ),
    // Scoped to the caller: another account sees only its own masters' instances (none).
    own(row(
        I,
        "ListInstances",
        Read,
        &[Operator],
        r#"{"master": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}, "account_id": "{A}"}"#,
    )),
    row(
        I,
        "GetInstance",
        Read,
        &[Operator],
        r#"{"instance": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}}"#,
    ),
    row(
        I,
        "UpdateInstances",
        Admin,
        &[Operator],
        r#"{"master_klip_id": "{K}", "dry_run": true}"#,
    ),
    row(
        I,
        "ReimportInstance",
        Admin,
        &[Operator],
        r#"{"instance": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}}"#,
    ),
];

/// Its deletions, which run after every other row.
pub const DELETIONS: &[Row] = &[
    // Scoped to the caller, as ListInstances.
    own(row(
        I,
        "DeleteInstances",
        Admin,
        &[Operator],
        r#"{"master": {"kind": "ASSET_KIND_KLIP", "id": "{K}"}, "account_ids": ["{B}"]}"#,
    )),
];
