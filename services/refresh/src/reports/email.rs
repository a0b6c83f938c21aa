//! The email of a report: every Klip's components and values, and beside them the freshness
//! of the data they were computed from (when each data source was fetched and how old that
//! was), in plain text and in HTML. A data source that was not refreshed for the send is
//! named at the top and marked where it is used (F7: the report is sent anyway, and says
//! so). Pure: the caller renders the Klips and decides what is stale.
//!
//! Everything in a report comes from tenants and third-party APIs, so the HTML escapes all
//! of it; the subject and addresses go through lettre, which encodes headers.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use prost_types::value::Kind;
use trellis_proto::library::v1::RenderedKlip;
use uuid::Uuid;

use super::plan::StaleSource;

/// Values shown per component, at most; the rest are counted.
const MAX_VALUES: usize = 50;

/// One Klip of the report: rendered, or why it could not be.
#[derive(Debug, Clone)]
pub struct KlipSection {
    pub name: String,
    pub render: Result<RenderedKlip, String>,
}

/// Everything one report email says.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub zone: Tz,
    pub scheduled_time: DateTime<Utc>,
    /// When the report was rendered; stale data's age is measured from it.
    pub rendered_at: DateTime<Utc>,
    pub klips: Vec<KlipSection>,
    /// Klips of the schedule that no longer exist.
    pub missing_klips: usize,
    pub stale: Vec<StaleSource>,
    /// Data sources' names by id.
    pub source_names: HashMap<Uuid, String>,
}

/// The freshness of the data behind one binding, as the report states it.
struct Freshness {
    source: String,
    fetched: Option<String>,
    age: Option<String>,
    stale: Option<String>,
}

impl Report {
    fn local(&self, time: DateTime<Utc>) -> String {
        time.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }

    fn zone_name(&self) -> &str {
        self.zone.name()
    }

    fn source_name(&self, id: &str) -> String {
        Uuid::parse_str(id)
            .ok()
            .and_then(|id| self.source_names.get(&id).cloned())
            .unwrap_or_else(|| format!("data source {id}"))
    }

    fn stale_reason(&self, data_source_id: &str) -> Option<&str> {
        self.stale
            .iter()
            .find(|s| s.data_source_id.to_string() == data_source_id)
            .map(|s| s.reason.as_str())
    }

    fn freshness(&self, render: &RenderedKlip) -> Vec<Freshness> {
        let mut seen = Vec::new();
        render
            .freshness
            .iter()
            .filter(|datum| {
                let key = (datum.data_source_id.clone(), datum.instance_key.clone());
                let first = !seen.contains(&key);
                seen.push(key);
                first
            })
            .map(|datum| Freshness {
                source: self.source_name(&datum.data_source_id),
                fetched: datum.fetch_time.and_then(time_of).map(|t| self.local(t)),
                age: datum
                    .fetch_time
                    .is_some()
                    .then(|| datum.age.map(|age| age_text(age.seconds)))
                    .flatten(),
                stale: self.stale_reason(&datum.data_source_id).map(str::to_owned),
            })
            .collect()
    }

    /// The stale notice's lines: which data was not refreshed, why, and how old it is.
    fn stale_lines(&self) -> Vec<String> {
        self.stale
            .iter()
            .map(|stale| {
                let name = self.source_name(&stale.data_source_id.to_string());
                let data = match stale.fetch_time {
                    Some(fetched) => format!(
                        "the report shows data fetched {} ({} old)",
                        self.local(fetched),
                        age_text((self.rendered_at - fetched).num_seconds())
                    ),
                    None => "there is no data for it yet".to_owned(),
                };
                format!("{name}: {}; {data}.", stale.reason)
            })
            .collect()
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title);
        let _ = writeln!(
            out,
            "Report of {} ({})",
            self.local(self.scheduled_time),
            self.zone_name()
        );
        let stale = self.stale_lines();
        if !stale.is_empty() {
            let _ = writeln!(
                out,
                "\nNot all data could be refreshed before this report was sent:"
            );
            for line in &stale {
                let _ = writeln!(out, "  - {line}");
            }
        }
        for klip in &self.klips {
            let _ = writeln!(out, "\n== {} ==", klip.name);
            match &klip.render {
                Err(reason) => {
                    let _ = writeln!(out, "({reason})");
                }
                Ok(render) => {
                    for component in &render.components {
                        if component.error.is_empty() {
                            let _ = writeln!(
                                out,
                                "{}: {}",
                                component.name,
                                values_text(component.values.as_ref())
                            );
                        } else {
                            let _ = writeln!(
                                out,
                                "{}: (cannot be shown: {})",
                                component.name, component.error
                            );
                        }
                    }
                    for datum in self.freshness(render) {
                        let _ = writeln!(out, "Data: {}", freshness_text(&datum));
                    }
                }
            }
        }
        if self.missing_klips > 0 {
            let _ = writeln!(
                out,
                "\n{} Klip(s) of this report no longer exist and were left out.",
                self.missing_klips
            );
        }
        let _ = writeln!(
            out,
            "\n-- \nSent by Trellis: the scheduled report \"{}\".",
            self.title
        );
        out
    }

    pub fn html(&self) -> String {
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
        out.push_str(&escape(&self.title));
        out.push_str("</title></head>\n<body style=\"font-family: sans-serif\">\n");
        let _ = writeln!(out, "<h1>{}</h1>", escape(&self.title));
        let _ = writeln!(
            out,
            "<p>Report of {} ({})</p>",
            escape(&self.local(self.scheduled_time)),
            escape(self.zone_name())
        );
        let stale = self.stale_lines();
        if !stale.is_empty() {
            out.push_str(
                "<div class=\"stale\" style=\"border: 1px solid #c60; padding: 0.5em\">\n\
                 <p><strong>Not all data could be refreshed before this report was sent:</strong></p>\n<ul>\n",
            );
            for line in &stale {
                let _ = writeln!(out, "<li>{}</li>", escape(line));
            }
            out.push_str("</ul>\n</div>\n");
        }
        for klip in &self.klips {
            let _ = writeln!(out, "<h2>{}</h2>", escape(&klip.name));
            match &klip.render {
                Err(reason) => {
                    let _ = writeln!(out, "<p><em>{}</em></p>", escape(reason));
                }
                Ok(render) => {
                    out.push_str("<table>\n");
                    for component in &render.components {
                        let value = if component.error.is_empty() {
                            escape(&values_text(component.values.as_ref()))
                        } else {
                            format!("<em>cannot be shown: {}</em>", escape(&component.error))
                        };
                        let _ = writeln!(
                            out,
                            "<tr><th style=\"text-align: left\">{}</th><td>{value}</td></tr>",
                            escape(&component.name)
                        );
                    }
                    out.push_str("</table>\n<ul class=\"freshness\">\n");
                    for datum in self.freshness(render) {
                        let _ = writeln!(
                            out,
                            "<li><small>Data: {}</small></li>",
                            escape(&freshness_text(&datum))
                        );
                    }
                    out.push_str("</ul>\n");
                }
            }
        }
        if self.missing_klips > 0 {
            let _ = writeln!(
                out,
                "<p>{} Klip(s) of this report no longer exist and were left out.</p>",
                self.missing_klips
            );
        }
        let _ = writeln!(
            out,
            "<p><small>Sent by Trellis: the scheduled report &quot;{}&quot;.</small></p>\n</body></html>",
            escape(&self.title)
        );
        out
    }

    /// The email: plain text and HTML alternatives, from `from` to `recipients`.
    pub fn message(&self, from: &Mailbox, recipients: &[String]) -> anyhow::Result<Message> {
        let mut builder = Message::builder()
            .from(from.clone())
            .subject(self.title.clone())
            .date(self.rendered_at.into());
        for recipient in recipients {
            builder = builder.to(recipient.parse()?);
        }
        Ok(builder.multipart(MultiPart::alternative_plain_html(self.text(), self.html()))?)
    }
}

fn freshness_text(datum: &Freshness) -> String {
    let mut text = match (&datum.fetched, &datum.age) {
        (Some(fetched), Some(age)) => format!("{}, fetched {fetched} ({age} old)", datum.source),
        (Some(fetched), None) => format!("{}, fetched {fetched}", datum.source),
        _ => format!("{}, no data fetched yet", datum.source),
    };
    if let Some(reason) = &datum.stale {
        let _ = write!(text, " - NOT REFRESHED for this report: {reason}");
    }
    text
}

fn time_of(timestamp: prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(timestamp.seconds, timestamp.nanos.max(0) as u32)
}

/// An age such as `42 s`, `5 min`, `2 h 5 min`, `3 d 4 h`.
pub fn age_text(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => match (s / 3600, (s % 3600) / 60) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        },
        s => match (s / 86_400, (s % 86_400) / 3600) {
            (d, 0) => format!("{d} d"),
            (d, h) => format!("{d} d {h} h"),
        },
    }
}

/// A component's values, comma-separated; at most [`MAX_VALUES`].
pub fn values_text(values: Option<&prost_types::ListValue>) -> String {
    let values = values
        .map(|list| list.values.as_slice())
        .unwrap_or_default();
    if values.is_empty() {
        return "(no values)".into();
    }
    let mut shown: Vec<String> = values.iter().take(MAX_VALUES).map(value_text).collect();
    if values.len() > MAX_VALUES {
        shown.push(format!("... ({} more)", values.len() - MAX_VALUES));
    }
    shown.join(", ")
}

fn value_text(value: &prost_types::Value) -> String {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => "-".into(),
        Some(Kind::BoolValue(b)) => b.to_string(),
        Some(Kind::NumberValue(n)) => number_text(*n),
        Some(Kind::StringValue(s)) => s.clone(),
        Some(Kind::ListValue(list)) => format!(
            "[{}]",
            list.values
                .iter()
                .map(value_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(Kind::StructValue(fields)) => {
            let mut pairs: Vec<_> = fields.fields.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "{{{}}}",
                pairs
                    .into_iter()
                    .map(|(key, value)| format!("{key}: {}", value_text(value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

/// Whole numbers without a fraction (`49`, not `49.0`); others as Rust prints them
/// (shortest round trip: `18.15`).
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
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
        assert!(
            text.starts_with("Weekly sales\nReport of 2026-12-07 08:00:00 CET (Europe/Berlin)\n")
        );
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
}
