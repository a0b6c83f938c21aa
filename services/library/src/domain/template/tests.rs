use chrono::NaiveDate;
use chrono_tz::Tz;

use super::*;
use crate::domain::dates::DateSpan;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn dates() -> DateValues {
    DateValues {
        today: day(2026, 12, 2),
        zone: Tz::UTC,
        range: Some(DateSpan {
            start: day(2026, 11, 1),
            end: day(2026, 11, 30),
        }),
    }
}

fn render(text: &str, pairs: &[(&str, &str)], encoding: Encoding) -> Rendered {
    let properties: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let dates = dates();
    let values = Values {
        properties: &properties,
        dates: &dates,
    };
    parse(text).unwrap().render(values, encoding).unwrap()
}

#[test]
fn only_props_dates_and_tokens_are_templates() {
    let body = r#"{"query": {"company": "{props.companyID}", "x": "{prop.y}", "d": "{dates.x}"}}"#;
    let template = parse(body).unwrap();
    assert_eq!(template.properties().collect::<Vec<_>>(), ["companyID"]);
    let rendered = render(body, &[("companyID", "42")], Encoding::Raw);
    assert_eq!(
        rendered.text,
        r#"{"query": {"company": "42", "x": "{prop.y}", "d": "{dates.x}"}}"#
    );
    assert!(rendered.unresolved.is_empty());
}

#[test]
fn errors_name_the_position_of_the_brace() {
    let error = parse("https://x/é{props.a").unwrap_err();
    assert_eq!(error.position, 12);
    assert!(error.message.contains("unterminated"));
    let error = parse("ab{props.1x}").unwrap_err();
    assert_eq!(error.position, 3);
    assert!(error.message.contains("bad property name"));
    assert!(parse("{props.}").is_err());
    assert!(parse("{props.a.b}").is_err());
    let error = parse("x={date.today").unwrap_err();
    assert_eq!(error.position, 3);
    assert!(error.message.contains("unterminated `{date.`"), "{error}");
    let error = parse("{a}{date.someday}").unwrap_err();
    assert_eq!(error.position, 4);
    assert!(error.message.contains("unknown date expression `someday`"));
    let error = parse("{date.today|%Q}").unwrap_err();
    assert!(
        error.message.contains("not a valid strftime pattern"),
        "{error}"
    );
    let error = parse("{token.instance-url}").unwrap_err();
    assert!(
        error.message.contains("bad token parameter name"),
        "{error}"
    );
}

#[test]
fn unresolved_names_stay_in_place_once_each() {
    let rendered = render(
        "{props.a}/{props.b}/{props.b}",
        &[("a", "1")],
        Encoding::Raw,
    );
    assert_eq!(rendered.text, "1/{props.b}/{props.b}");
    assert_eq!(rendered.unresolved, ["b"]);
}

#[test]
fn url_values_cannot_change_the_url_structure() {
    let rendered = render(
        "https://api/x?c={props.c}",
        &[("c", "a&b=c/ é")],
        Encoding::UrlComponent,
    );
    assert_eq!(rendered.text, "https://api/x?c=a%26b%3Dc%2F%20%C3%A9");
}

#[test]
fn dates_resolve_and_are_encoded_like_values() {
    let url =
        "https://api/x?from={date.30_days_ago}&to={date.yesterday|iso}&d={date.today|%d/%m/%Y}";
    let rendered = render(url, &[], Encoding::UrlComponent);
    assert_eq!(
        rendered.text,
        "https://api/x?from=2026-11-02&to=2026-12-01&d=02%2F12%2F2026"
    );
    let body = r#"{"since": {date.range.start|epoch}, "until": "{date.range.end}"}"#;
    let rendered = render(body, &[], Encoding::Raw);
    assert_eq!(
        rendered.text,
        r#"{"since": 1793491200, "until": "2026-11-30"}"#
    );
    assert!(parse(body).unwrap().uses_range());
    assert!(!parse(url).unwrap().uses_range());
}

#[test]
fn tokens_stay_verbatim_and_are_not_properties() {
    let url = "{token.instance_url}/services/data?q={props.q}&org={token.org_id}";
    let template = parse(url).unwrap();
    assert_eq!(
        template.tokens().collect::<Vec<_>>(),
        ["instance_url", "org_id"]
    );
    assert_eq!(template.properties().collect::<Vec<_>>(), ["q"]);
    let rendered = render(url, &[("q", "a b")], Encoding::UrlComponent);
    assert_eq!(
        rendered.text,
        "{token.instance_url}/services/data?q=a%20b&org={token.org_id}"
    );
    assert!(rendered.unresolved.is_empty());
    assert_eq!(
        template.with_placeholder("x"),
        "https://x/services/data?q=x&org=x"
    );
}

#[test]
fn text_without_templates_is_one_literal() {
    let template = parse("plain {text}").unwrap();
    assert_eq!(template.properties().count(), 0);
    assert_eq!(template.with_placeholder("x"), "plain {text}");
    assert_eq!(parse("").unwrap().with_placeholder("x"), "");
}
