//! Dates, token parameters, pagination and limits in definitions and their resolution.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use trellis_platform::error::{ApiError, Violations};

use super::tests::sample;
use super::*;
use crate::domain::dates::DateValues;
use crate::domain::pagination::{PageStyle, Rate};

fn problems(definition: &DataSourceDefinition) -> Vec<String> {
    let mut violations = Violations::new();
    definition.check(&mut violations, "data_source");
    match violations.into_result() {
        Ok(()) => vec![],
        Err(ApiError::InvalidArgument(list)) => list
            .into_iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect(),
        Err(other) => panic!("unexpected {other}"),
    }
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn values() -> BTreeMap<String, String> {
    [("companyID", "47"), ("region", "eu"), ("profile", "9")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn ranged() -> DataSourceDefinition {
    DataSourceDefinition {
        url: "https://api.example.com/v1/sales?from={date.range.start}&to={date.range.end}".into(),
        date_range: Some(DateRange {
            start: "30_days_ago".into(),
            end: "yesterday".into(),
        }),
        ..sample()
    }
}

fn limit() -> SourceLimit {
    SourceLimit {
        rates: vec![Rate {
            requests: 10,
            period_seconds: 1,
            period_nanos: 0,
        }],
        max_concurrent: 2,
    }
}

#[test]
fn token_parameters_need_an_oauth_token_and_stay_out_of_the_key() {
    let url = "{token.instance_url}/services/data/v58.0/query?q={props.companyID}";
    let with_credential = DataSourceDefinition {
        url: url.into(),
        ..sample()
    };
    let found = problems(&with_credential);
    assert!(
        found.len() == 1
            && found[0].starts_with("data_source.request.url: ")
            && found[0].contains("needs an OAuth token"),
        "{found:?}"
    );
    let with_token = DataSourceDefinition {
        auth: Auth::OauthToken(Uuid::now_v7()),
        headers: vec![Header {
            name: "X-Org".into(),
            value: "{token.org_id}".into(),
        }],
        ..with_credential
    };
    assert_eq!(problems(&with_token), Vec::<String>::new());
    assert_eq!(with_token.token_parameters(), ["instance_url", "org_id"]);
    let in_key = DataSourceDefinition {
        rate_limit_key: "sf:{token.org_id}".into(),
        ..with_token.clone()
    };
    let found = problems(&in_key);
    assert!(
        found[0].starts_with("data_source.rate_limit_key: "),
        "{found:?}"
    );

    let resolved = with_token
        .resolve(&values(), &dates_at(at(2026, 12, 2, 9, 0)))
        .unwrap();
    assert_eq!(
        resolved.url,
        "{token.instance_url}/services/data/v58.0/query?q=47"
    );
    assert_eq!(resolved.headers[0].value, "{token.org_id}");
    assert_eq!(resolved.token_parameters, ["instance_url", "org_id"]);
    assert!(resolved.unresolved.is_empty(), "{:?}", resolved.unresolved);
}

fn dates_at(now: DateTime<Utc>) -> DateValues {
    DateValues::at(now, Tz::UTC)
}

#[test]
fn range_placeholders_need_a_range_and_ranges_are_checked() {
    let without = DataSourceDefinition {
        date_range: None,
        ..ranged()
    };
    let found = problems(&without);
    assert!(found[0].contains("need a date_range"), "{found:?}");
    assert_eq!(problems(&ranged()), Vec::<String>::new());
    let bad = DataSourceDefinition {
        date_range: Some(DateRange {
            start: "last_tuesday".into(),
            end: "range.end".into(),
        }),
        ..ranged()
    };
    let found = problems(&bad);
    assert!(
        found[0].starts_with("data_source.date_range.start: unknown"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("data_source.date_range.end: "),
        "{found:?}"
    );
    let body = DataSourceDefinition {
        body: r#"{"day": "{date.today|%Q}"}"#.into(),
        ..sample()
    };
    let found = problems(&body);
    assert!(
        found[0].starts_with("data_source.request.body: ") && found[0].contains("strftime"),
        "{found:?}"
    );
}

#[test]
fn ranges_resolve_in_the_zone_and_narrow_within() {
    let definition = ranged();
    let now = at(2026, 12, 1, 23, 30);
    let berlin = definition
        .date_values(now, Tz::Europe__Berlin, None)
        .unwrap();
    let resolved = definition.resolve(&values(), &berlin).unwrap();
    assert_eq!(
        resolved.url,
        "https://api.example.com/v1/sales?from=2026-11-02&to=2026-12-01"
    );
    let new_york = definition
        .date_values(now, Tz::America__New_York, None)
        .unwrap();
    let other = definition.resolve(&values(), &new_york).unwrap();
    assert_eq!(
        other.url,
        "https://api.example.com/v1/sales?from=2026-11-01&to=2026-11-30"
    );
    assert_ne!(resolved.instance_key, other.instance_key);

    let narrow = |start: &str, end: &str| {
        definition.date_values(
            now,
            Tz::UTC,
            Some(&DateRange {
                start: start.into(),
                end: end.into(),
            }),
        )
    };
    let week = narrow("7_days_ago", "range.end").unwrap().range.unwrap();
    assert_eq!(week.start.to_string(), "2026-11-24");
    assert_eq!(week.end.to_string(), "2026-11-30");
    for (start, end, field, phrase) in [
        ("60_days_ago", "yesterday", "date_range", "must lie within"),
        ("7_days_ago", "today", "date_range", "must lie within"),
        ("yesterday", "7_days_ago", "date_range", "after it ends"),
        ("whenever", "today", "date_range.start", "unknown"),
    ] {
        match narrow(start, end) {
            Err(ApiError::InvalidArgument(found)) => {
                assert_eq!(found[0].field, field, "{start}..{end}");
                assert!(found[0].description.contains(phrase), "{found:?}");
            }
            other => panic!("{start}..{end}: {other:?}"),
        }
    }
    let unranged = sample().date_values(
        now,
        Tz::UTC,
        Some(&DateRange {
            start: "today".into(),
            end: "today".into(),
        }),
    );
    assert!(matches!(unranged, Err(ApiError::InvalidArgument(_))));
}

#[test]
fn an_own_range_that_ends_before_it_starts_is_a_precondition() {
    let definition = DataSourceDefinition {
        date_range: Some(DateRange {
            start: "start_of_month".into(),
            end: "yesterday".into(),
        }),
        ..ranged()
    };
    let first = definition.date_values(at(2026, 12, 1, 12, 0), Tz::UTC, None);
    assert!(
        matches!(first, Err(ApiError::FailedPrecondition(_))),
        "{first:?}"
    );
    let second = definition
        .date_values(at(2026, 12, 2, 12, 0), Tz::UTC, None)
        .unwrap();
    assert_eq!(second.range.unwrap().start.to_string(), "2026-12-01");
}

#[test]
fn pagination_and_range_are_in_the_fingerprint_the_limit_is_not() {
    let base = DataSourceDefinition {
        rate_limit_key: "ga".into(),
        ..sample()
    };
    let paged = DataSourceDefinition {
        pagination: Some(Pagination {
            style: PageStyle::PageNumber {
                parameter: "page".into(),
                first_page: 0,
            },
            items_path: "data".into(),
            max_pages: 5,
        }),
        ..base.clone()
    };
    let limited = DataSourceDefinition {
        rate_limit_key_limit: Some(limit()),
        ..base.clone()
    };
    assert_ne!(base.fingerprint(), paged.fingerprint());
    assert_ne!(base.fingerprint(), ranged().fingerprint());
    assert_eq!(base.fingerprint(), limited.fingerprint());
    let dates = dates_at(at(2026, 12, 2, 9, 0));
    let key = |d: &DataSourceDefinition| d.resolve(&values(), &dates).unwrap().instance_key;
    assert_ne!(key(&base), key(&paged));
    assert_eq!(key(&base), key(&limited));
    // Data sources without the new fields hash as they did before those existed.
    let canonical = serde_json::to_string(&Canonical::request(
        base.method,
        &base.url,
        &base.headers,
        &base.body,
        base.format,
        base.auth,
        None,
    ))
    .unwrap();
    assert!(!canonical.contains("pagination") && !canonical.contains("date_range"));
}

#[test]
fn a_limit_needs_a_key_and_no_oauth_token() {
    let fine = DataSourceDefinition {
        rate_limit_key_limit: Some(limit()),
        ..sample()
    };
    assert_eq!(problems(&fine), Vec::<String>::new());
    let keyless = DataSourceDefinition {
        rate_limit_key: String::new(),
        ..fine.clone()
    };
    assert!(problems(&keyless)[0].contains("needs a rate_limit_key"));
    let oauth = DataSourceDefinition {
        auth: Auth::OauthToken(Uuid::now_v7()),
        ..fine
    };
    let found = problems(&oauth);
    assert!(
        found[0].starts_with("data_source.rate_limit_key_limit: ")
            && found[0].contains("provider's limit"),
        "{found:?}"
    );
}
