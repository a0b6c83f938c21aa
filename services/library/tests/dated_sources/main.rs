//! Date ranges, pagination, the rate-limit key's limit and `{token.NAME}` in data sources,
//! and the accounts' time zones they resolve in: saved, checked, copied by imports and
//! resolved on a pinned clock.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod fields;
mod resolution;
mod time_zones;
mod token_parameters;

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use common::{Library, failure, json_source, mask, violations, with};
use tonic::{Code, Status};
use trellis_platform::auth::Identity;
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::pagination::Style;
use trellis_testkit::tokens;
use uuid::Uuid;

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn duration(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

fn cursor_pages() -> pb::Pagination {
    pb::Pagination {
        style: Some(Style::Cursor(pb::CursorPagination {
            parameter: "cursor".into(),
            cursor_path: "meta/next_cursor".into(),
        })),
        items_path: "data/items".into(),
        max_pages: 20,
    }
}

fn offset_pages() -> pb::Pagination {
    pb::Pagination {
        style: Some(Style::Offset(pb::OffsetPagination {
            parameter: "offset".into(),
            limit_parameter: "limit".into(),
            page_size: 100,
        })),
        items_path: String::new(),
        max_pages: 0,
    }
}

fn range(start: &str, end: &str) -> pb::DateRange {
    pb::DateRange {
        start: start.into(),
        end: end.into(),
    }
}

/// Ten a second and a thousand a day, two in flight.
fn limit() -> pb::SourceLimit {
    pb::SourceLimit {
        rates: vec![
            pb::Rate {
                requests: 10,
                period: duration(1),
            },
            pb::Rate {
                requests: 1000,
                period: duration(24 * 3600),
            },
        ],
        max_concurrent: 2,
    }
}

/// A JSON data source of `account` with every new field set: the last 30 days, by cursor,
/// under a limited key.
fn dated_source(account: Option<Uuid>) -> pb::DataSource {
    pb::DataSource {
        rate_limit_key: "reports:{props.companyID}".into(),
        pagination: Some(cursor_pages()),
        date_range: Some(range("30_days_ago", "yesterday")),
        rate_limit_key_limit: Some(limit()),
        ..json_source(
            account,
            "Last 30 days",
            "https://api.example.com/reports?from={date.range.start}&to={date.range.end}",
        )
    }
}

async fn create(
    library: &Library,
    token: &str,
    source: pb::DataSource,
) -> Result<pb::DataSource, Status> {
    let response = library
        .client()
        .create_data_source(with(
            token,
            pb::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(source),
            },
        ))
        .await?;
    Ok(response.into_inner().data_source.unwrap())
}

async fn update(
    library: &Library,
    token: &str,
    change: pb::DataSource,
    paths: &[&str],
) -> Result<pb::DataSource, Status> {
    let response = library
        .client()
        .update_data_source(with(
            token,
            pb::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(change),
                update_mask: mask(paths),
            },
        ))
        .await?;
    Ok(response.into_inner().data_source.unwrap())
}

/// ResolveDataSource of `id` in `account`, narrowed to `narrow` when given.
async fn resolve(
    library: &Library,
    account: Uuid,
    id: &str,
    narrow: Option<pb::DateRange>,
) -> Result<pb::ResolvedRequest, Status> {
    let response = library
        .client()
        .resolve_data_source(with(
            &tokens::service(),
            pb::ResolveDataSourceRequest {
                data_source_id: id.into(),
                account_id: account.to_string(),
                user_id: String::new(),
                date_range: narrow,
            },
        ))
        .await?;
    Ok(response.into_inner().resolved_request.unwrap())
}

/// An account of `kind` (under `parent`) in `time_zone`, created by an operator, with the
/// test users enrolled.
async fn account_in(
    library: &Library,
    kind: pb::AccountKind,
    parent: Option<Uuid>,
    time_zone: &str,
) -> Uuid {
    let created = library
        .client()
        .create_account(with(
            &tokens::service(),
            pb::CreateAccountRequest {
                request_id: String::new(),
                account: Some(pb::Account {
                    kind: kind as i32,
                    parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                    display_name: format!("In {time_zone}"),
                    time_zone: time_zone.into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    let id = created.id.parse().unwrap();
    library.enroll(id).await;
    id
}
