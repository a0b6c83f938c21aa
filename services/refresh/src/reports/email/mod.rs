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
use trellis_proto::library::v1::RenderedKlip;
use uuid::Uuid;

use crate::domain::plan::StaleSource;
pub use text::{age_text, values_text};
use text::{escape, freshness_text, time_of};

#[cfg(test)]
mod tests;
mod text;

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
