//! The email's text and HTML, built from a report with stale and fresh data sources.

use prost_types::value::Kind;

use super::text::number_text;
use super::*;
use trellis_proto::library::v1::{ComponentResult, DatumFreshness};

fn number(n: f64) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::NumberValue(n)),
    }
}

fn text(s: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StringValue(s.into())),
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn report() -> (Report, Uuid, Uuid) {
    let orders = Uuid::now_v7();
    let regions = Uuid::now_v7();
    let fetched = at("2026-12-07T06:59:30Z");
    let render = RenderedKlip {
        klip_id: Uuid::now_v7().to_string(),
        klip_version: 1,
        components: vec![
            ComponentResult {
                name: "Total".into(),
                values: Some(prost_types::ListValue {
                    values: vec![number(49.5)],
                }),
                error: String::new(),
            },
            ComponentResult {
                name: "Regions <b>".into(),
                values: Some(prost_types::ListValue {
                    values: vec![text("EU"), text("<script>")],
                }),
                error: String::new(),
            },
            ComponentResult {
                name: "Broken".into(),
                values: None,
                error: "binding @1 has no data yet".into(),
            },
        ],
        freshness: vec![
            DatumFreshness {
                binding_index: 0,
                data_source_id: orders.to_string(),
                instance_key: "k0".into(),
                fetch_time: Some(prost_types::Timestamp {
                    seconds: fetched.timestamp(),
                    nanos: 0,
                }),
                age: Some(prost_types::Duration {
                    seconds: 30,
                    nanos: 0,
                }),
            },
            DatumFreshness {
                binding_index: 1,
                data_source_id: regions.to_string(),
                instance_key: "k1".into(),
                fetch_time: None,
                age: None,
            },
        ],
        render_time: None,
    };
    let report = Report {
        title: "Weekly sales".into(),
        zone: "Europe/Berlin".parse().unwrap(),
        scheduled_time: at("2026-12-07T07:00:00Z"),
        rendered_at: at("2026-12-07T07:00:00Z"),
        klips: vec![
            KlipSection {
                name: "Sales".into(),
                render: Ok(render),
            },
            KlipSection {
                name: "Gone".into(),
                render: Err("the Klip no longer exists".into()),
            },
        ],
        missing_klips: 0,
        stale: vec![StaleSource {
            data_source_id: regions,
            instance_key: "k1".into(),
            fetch_time: None,
            reason: "the refresh failed: HTTP 500".into(),
        }],
        source_names: [
            (orders, "Orders".to_owned()),
            (regions, "Regions".to_owned()),
        ]
        .into_iter()
        .collect(),
    };
    (report, orders, regions)
}

#[test]
fn the_text_shows_values_freshness_and_what_is_stale() {
    let (report, _, _) = report();
    let text = report.text();
    assert!(text.starts_with("Weekly sales\nReport of 2026-12-07 08:00:00 CET (Europe/Berlin)\n"));
    assert!(text.contains(
        "Not all data could be refreshed before this report was sent:\n  - Regions: the refresh failed: HTTP 500; there is no data for it yet.\n"
    ));
    assert!(text.contains("== Sales ==\nTotal: 49.5\nRegions <b>: EU, <script>\n"));
    assert!(text.contains("Broken: (cannot be shown: binding @1 has no data yet)"));
    assert!(text.contains("Data: Orders, fetched 2026-12-07 07:59:30 CET (30 s old)\n"));
    assert!(text.contains(
        "Data: Regions, no data fetched yet - NOT REFRESHED for this report: the refresh failed: HTTP 500\n"
    ));
    assert!(text.contains("== Gone ==\n(the Klip no longer exists)"));
}

#[test]
fn the_html_escapes_everything_it_is_given() {
    let (report, _, _) = report();
    let html = report.html();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("<th style=\"text-align: left\">Regions &lt;b&gt;</th>"));
    assert!(html.contains("class=\"stale\""));
}

#[test]
fn the_message_has_both_alternatives() {
    let (report, _, _) = report();
    let from: Mailbox = "Trellis <reports@example.com>".parse().unwrap();
    let message = report
        .message(&from, &["ann@example.com".into(), "bo@example.com".into()])
        .unwrap();
    let formatted = String::from_utf8(message.formatted()).unwrap();
    assert!(formatted.contains("Subject: Weekly sales"));
    assert!(formatted.contains("multipart/alternative"));
    assert!(formatted.contains("text/plain"));
    assert!(formatted.contains("text/html"));
    assert_eq!(message.envelope().to().len(), 2);
}

#[test]
fn ages_and_numbers_read_naturally() {
    assert_eq!(age_text(42), "42 s");
    assert_eq!(age_text(300), "5 min");
    assert_eq!(age_text(7500), "2 h 5 min");
    assert_eq!(age_text(3 * 86_400 + 4 * 3600), "3 d 4 h");
    assert_eq!(number_text(49.0), "49");
    assert_eq!(number_text(18.15), "18.15");
}
