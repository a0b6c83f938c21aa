use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use trellis_platform::error::{ApiError, Violations};

use super::*;
use crate::domain::dates::DateValues;

/// Dates on 2026-12-02 in UTC, without a range.
fn dates() -> DateValues {
    DateValues::at(
        Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap(),
        Tz::UTC,
    )
}

pub(crate) fn sample() -> DataSourceDefinition {
    DataSourceDefinition {
        name: "Sales".into(),
        method: Method::Post,
        url: "https://api.example.com/v1/sales?company={props.companyID}".into(),
        headers: vec![Header {
            name: "X-Region".into(),
            value: "{props.region}".into(),
        }],
        body: r#"{"filter": {"year": 2026}}"#.into(),
        format: Format::Json,
        auth: Auth::Credential(Uuid::nil()),
        refresh_interval_seconds: 3600,
        rate_limit_key: "ga:{props.profile}".into(),
        pagination: None,
        date_range: None,
        rate_limit_key_limit: None,
    }
}

fn violations_of(definition: &DataSourceDefinition) -> Vec<String> {
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

#[test]
fn a_sound_definition_passes_and_lists_its_properties() {
    let definition = sample();
    assert_eq!(violations_of(&definition), Vec::<String>::new());
    assert_eq!(
        definition.template_properties(),
        ["companyID", "profile", "region"]
    );
}

#[test]
fn bad_urls_are_named_with_the_reason() {
    for (url, expected) in [
        ("", "is required"),
        ("ftp://x/y", "must be http or https"),
        ("/relative", "not an absolute URL"),
        ("{props.scheme}://x", "must be http or https"),
        ("https://x/{props.a", "unterminated"),
        ("https://x/{props.9}", "bad property name"),
        ("https://u:p@x/", "credentials"),
        ("https://x/a b", "spaces"),
    ] {
        let definition = DataSourceDefinition {
            url: url.into(),
            ..sample()
        };
        let found = violations_of(&definition);
        assert!(
            found.len() == 1
                && found[0].starts_with("data_source.request.url: ")
                && found[0].contains(expected),
            "{url}: {found:?}"
        );
    }
    let long = DataSourceDefinition {
        url: format!("https://x/{}", "a".repeat(MAX_URL_CHARS)),
        ..sample()
    };
    assert!(violations_of(&long)[0].contains("at most 2048"));
}

#[test]
fn headers_body_interval_and_key_are_bounded() {
    let definition = DataSourceDefinition {
        method: Method::Get,
        headers: vec![
            Header {
                name: "Bad Name".into(),
                value: String::new(),
            },
            Header {
                name: "authorization".into(),
                value: "Bearer x".into(),
            },
            Header {
                name: "X-Ok".into(),
                value: "a\r\nb".into(),
            },
        ],
        refresh_interval_seconds: 59,
        rate_limit_key: "k".repeat(201),
        ..sample()
    };
    let found = violations_of(&definition);
    let fields: Vec<_> = found.iter().map(|v| v.split(':').next().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "data_source.request.headers[0].name",
            "data_source.request.headers[1].name",
            "data_source.request.headers[2].value",
            "data_source.request.body",
            "data_source.refresh_interval",
            "data_source.rate_limit_key",
        ],
        "{found:?}"
    );
    let oversized = DataSourceDefinition {
        body: "x".repeat(MAX_BODY_BYTES + 1),
        ..sample()
    };
    assert!(violations_of(&oversized)[0].contains("at most 65536"));
    let too_many = DataSourceDefinition {
        headers: vec![
            Header {
                name: "X".into(),
                value: String::new()
            };
            MAX_HEADERS + 1
        ],
        ..sample()
    };
    assert!(violations_of(&too_many)[0].contains("at most 50 headers"));
    for seconds in [0, 60, 7 * 24 * 3600] {
        let fine = DataSourceDefinition {
            refresh_interval_seconds: seconds,
            ..sample()
        };
        assert!(violations_of(&fine).is_empty(), "{seconds}");
    }
}

#[test]
fn the_fingerprint_ignores_name_interval_and_credential_copy() {
    let base = sample();
    let same = DataSourceDefinition {
        name: "Renamed".into(),
        refresh_interval_seconds: 60,
        auth: Auth::Credential(Uuid::now_v7()),
        ..sample()
    };
    assert_eq!(base.fingerprint(), same.fingerprint());
    assert_eq!(base.fingerprint().len(), 64);
    for changed in [
        DataSourceDefinition {
            url: "https://api.example.com/v2".into(),
            ..sample()
        },
        DataSourceDefinition {
            format: Format::Csv,
            ..sample()
        },
        DataSourceDefinition {
            auth: Auth::None,
            ..sample()
        },
        DataSourceDefinition {
            rate_limit_key: String::new(),
            ..sample()
        },
        DataSourceDefinition {
            body: String::new(),
            ..sample()
        },
    ] {
        assert_ne!(base.fingerprint(), changed.fingerprint(), "{changed:?}");
    }
    let token_a = DataSourceDefinition {
        auth: Auth::OauthToken(Uuid::now_v7()),
        ..sample()
    };
    let token_b = DataSourceDefinition {
        auth: Auth::OauthToken(Uuid::now_v7()),
        ..sample()
    };
    assert_ne!(token_a.fingerprint(), token_b.fingerprint());
}

#[test]
fn resolution_substitutes_encodes_and_reports_missing_names() {
    let definition = sample();
    let values: BTreeMap<String, String> = [("companyID", "4 7"), ("region", "eu")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let resolved = definition.resolve(&values, &dates()).unwrap();
    assert_eq!(
        resolved.url,
        "https://api.example.com/v1/sales?company=4%207"
    );
    assert_eq!(resolved.headers[0].value, "eu");
    assert_eq!(resolved.rate_limit_key, "ga:{props.profile}");
    assert_eq!(resolved.used, ["companyID", "region", "profile"]);
    assert_eq!(resolved.unresolved, ["profile"]);

    let other_company: BTreeMap<String, String> = [("companyID", "48"), ("region", "eu")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let other = definition.resolve(&other_company, &dates()).unwrap();
    assert_ne!(resolved.instance_key, other.instance_key);
    assert_eq!(
        other.instance_key,
        definition
            .resolve(&other_company, &dates())
            .unwrap()
            .instance_key
    );

    let broken: BTreeMap<String, String> = [("region", "a\nb")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(matches!(
        definition.resolve(&broken, &dates()),
        Err(ApiError::FailedPrecondition(_))
    ));
}

#[test]
fn a_url_value_of_dots_cannot_climb_out_of_the_path() {
    let definition = DataSourceDefinition {
        url: "https://api.example.com/clients/{props.companyID}/report".into(),
        ..sample()
    };
    let values = |company: &str| {
        BTreeMap::from([
            ("companyID".to_owned(), company.to_owned()),
            ("region".to_owned(), "eu".to_owned()),
            ("profile".to_owned(), "1".to_owned()),
        ])
    };
    for dots in [".", "..", "..."] {
        match definition.resolve(&values(dots), &dates()) {
            Err(ApiError::FailedPrecondition(found)) => {
                assert_eq!(found[0].subject, "props.companyID", "{dots}");
            }
            other => panic!("{dots}: {other:?}"),
        }
    }
    let resolved = definition
        .resolve(&values("a.b"), &dates())
        .expect("dots inside a value");
    assert_eq!(resolved.url, "https://api.example.com/clients/a.b/report");
}
