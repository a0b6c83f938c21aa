//! What a report schedule is (F7), how it is checked at save, and when it sends next. Plain
//! Rust: the handlers translate the protobuf message into a [`ScheduleDefinition`], and the
//! Klips and dashboards it names are checked against the library separately.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use trellis_platform::error::Violations;
use trellis_platform::validate::text_problem;
use uuid::Uuid;

use crate::domain::cron::Cron;

/// Recipients of one schedule, at most.
pub const MAX_RECIPIENTS: usize = 50;
/// Klips of one schedule, at most (a dashboard brings its own).
pub const MAX_KLIPS: usize = 50;
/// Characters of a schedule's name (also the email's subject), at most.
pub const MAX_NAME_CHARS: usize = 200;
/// Bounds of a schedule's lead time.
pub const MIN_LEAD_TIME: Duration = Duration::from_secs(1);
pub const MAX_LEAD_TIME: Duration = Duration::from_secs(24 * 3600);
/// Characters of a user id, at most (as the library accepts them).
const MAX_USER_CHARS: usize = 256;
/// Characters of a cron expression, a time zone's name and an email address, at most.
pub const MAX_CRON_CHARS: usize = 200;
pub const MAX_ZONE_CHARS: usize = 64;
pub const MAX_ADDRESS_CHARS: usize = 254;

/// What a report contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// These Klips, in report order.
    Klips(Vec<Uuid>),
    /// Every Klip of this dashboard, in its order at send time.
    Dashboard(Uuid),
}

/// The fields of a schedule a caller sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDefinition {
    pub name: String,
    pub cron_expression: String,
    /// IANA name; empty means UTC.
    pub time_zone: String,
    pub recipients: Vec<String>,
    pub target: Target,
    /// `None`: the service's default.
    pub lead_time: Option<Duration>,
    /// The user whose variable values render the report; empty for none.
    pub user_id: String,
    pub paused: bool,
}

impl ScheduleDefinition {
    /// Adds a field violation (under `schedule.`) for everything that is not valid.
    pub fn check(&self, violations: &mut Violations) {
        let name = self.name.trim();
        if name.is_empty() {
            violations.add("schedule.name", "required: it is the email's subject");
        } else if self.name.chars().count() > MAX_NAME_CHARS {
            violations.add(
                "schedule.name",
                format!("at most {MAX_NAME_CHARS} characters"),
            );
        } else if self.name.chars().any(char::is_control) {
            violations.add("schedule.name", "must not contain control characters");
        }

        if let Some(problem) = text_problem(&self.cron_expression, MAX_CRON_CHARS) {
            violations.add("schedule.cron_expression", problem);
        } else if let Err(error) = Cron::parse(&self.cron_expression) {
            violations.add("schedule.cron_expression", error.to_string());
        }
        if let Some(problem) = text_problem(&self.time_zone, MAX_ZONE_CHARS) {
            violations.add("schedule.time_zone", problem);
        } else if zone(&self.time_zone).is_none() {
            violations.add(
                "schedule.time_zone",
                format!(
                    "`{}` is not an IANA time zone such as Europe/Berlin or America/New_York",
                    self.time_zone
                ),
            );
        }

        check_recipients(&self.recipients, violations);

        match &self.target {
            Target::Klips(ids) => {
                if ids.is_empty() {
                    violations.add(
                        "schedule.target",
                        "set `klips` (at least one Klip) or `dashboard_id`",
                    );
                } else if ids.len() > MAX_KLIPS {
                    violations.add(
                        "schedule.klips.klip_ids",
                        format!("at most {MAX_KLIPS} Klips; a dashboard may hold more"),
                    );
                }
                let mut seen = HashSet::new();
                for (index, id) in ids.iter().enumerate() {
                    if !seen.insert(id) {
                        violations
                            .add(format!("schedule.klips.klip_ids[{index}]"), "appears twice");
                    }
                }
            }
            Target::Dashboard(_) => {}
        }

        if let Some(lead) = self.lead_time
            && !(MIN_LEAD_TIME..=MAX_LEAD_TIME).contains(&lead)
        {
            violations.add(
                "schedule.lead_time",
                "must be between one second and one day",
            );
        }
        if self.user_id.chars().count() > MAX_USER_CHARS
            || self.user_id.chars().any(char::is_control)
        {
            violations.add(
                "schedule.user_id",
                format!("at most {MAX_USER_CHARS} characters without control characters"),
            );
        }
    }

    /// Adds a violation when the cron expression fires more often than every `shortest`
    /// (a report a second would queue refreshes at the front of the queue every second).
    pub fn check_interval(&self, shortest: Duration, violations: &mut Violations) {
        let Ok(cron) = Cron::parse(&self.cron_expression) else {
            return;
        };
        let interval = cron.shortest_interval();
        if interval < shortest {
            violations.add(
                "schedule.cron_expression",
                format!(
                    "fires as often as every {}; a report may be sent at most every {}",
                    words(interval),
                    words(shortest)
                ),
            );
        }
    }

    /// The schedule's time zone; valid once [`Self::check`] passed.
    pub fn zone(&self) -> Tz {
        zone(&self.time_zone).unwrap_or(Tz::UTC)
    }

    /// The first send strictly after `after`; `None` while paused (or, for an expression
    /// that failed [`Self::check`], never).
    pub fn next_send(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.paused {
            return None;
        }
        Cron::parse(&self.cron_expression)
            .ok()?
            .next_after(after, self.zone())
    }

    /// The lead time in force: the schedule's own, else `default`.
    pub fn lead_time_or(&self, default: Duration) -> Duration {
        self.lead_time.unwrap_or(default)
    }

    /// The first send strictly after `after`, and when its data sources are due to be
    /// queued (the send time less the lead time in force).
    pub fn timing(
        &self,
        after: DateTime<Utc>,
        default_lead: Duration,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let next = self.next_send(after);
        let lead = self.lead_time_or(default_lead);
        (
            next,
            next.map(|send| crate::domain::clock::before(send, lead)),
        )
    }
}

/// An IANA zone by name; empty is UTC.
fn zone(name: &str) -> Option<Tz> {
    if name.is_empty() {
        return Some(Tz::UTC);
    }
    Tz::from_str(name).ok()
}

/// A duration in words: `1 second`, `90 seconds`, `5 minutes`, `2 hours`.
fn words(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (count, unit) = match seconds {
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

fn check_recipients(recipients: &[String], violations: &mut Violations) {
    if recipients.is_empty() {
        violations.add("schedule.recipients", "at least one email address");
        return;
    }
    if recipients.len() > MAX_RECIPIENTS {
        // One violation for the list, not one per address of an arbitrarily long one.
        violations.add(
            "schedule.recipients",
            format!("at most {MAX_RECIPIENTS} addresses"),
        );
        return;
    }
    let mut seen = HashSet::new();
    for (index, recipient) in recipients.iter().enumerate() {
        let field = format!("schedule.recipients[{index}]");
        if let Some(problem) = text_problem(recipient, MAX_ADDRESS_CHARS) {
            violations.add(field, problem);
        } else if lettre::Address::from_str(recipient).is_err() {
            violations.add(
                field,
                format!("`{recipient}` is not an email address such as ann@example.com"),
            );
        } else if !seen.insert(recipient.to_lowercase()) {
            violations.add(field, "appears twice");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ScheduleDefinition {
        ScheduleDefinition {
            name: "Weekly sales".into(),
            cron_expression: "0 8 * * Mon".into(),
            time_zone: "Europe/Berlin".into(),
            recipients: vec!["ann@example.com".into()],
            target: Target::Klips(vec![Uuid::now_v7()]),
            lead_time: None,
            user_id: String::new(),
            paused: false,
        }
    }

    fn fields(definition: &ScheduleDefinition) -> Vec<String> {
        let mut violations = Violations::new();
        definition.check(&mut violations);
        match violations.into_result() {
            Ok(()) => Vec::new(),
            Err(trellis_platform::ApiError::InvalidArgument(list)) => {
                list.into_iter().map(|v| v.field).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_valid_schedule_passes_and_sends_in_its_zone() {
        let schedule = valid();
        assert!(fields(&schedule).is_empty());
        let after = DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            schedule.next_send(after).unwrap().to_rfc3339(),
            "2026-12-07T07:00:00+00:00"
        );
        let paused = ScheduleDefinition {
            paused: true,
            ..valid()
        };
        assert_eq!(paused.next_send(after), None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let id = Uuid::now_v7();
        let bad = ScheduleDefinition {
            name: " ".into(),
            cron_expression: "0 25 * * *".into(),
            time_zone: "Mars/Olympus".into(),
            recipients: vec![
                "ann@example.com".into(),
                "not an address".into(),
                "ANN@example.com".into(),
            ],
            target: Target::Klips(vec![id, id]),
            lead_time: Some(Duration::ZERO),
            user_id: "a\nb".into(),
            paused: false,
        };
        assert_eq!(
            fields(&bad),
            [
                "schedule.name",
                "schedule.cron_expression",
                "schedule.time_zone",
                "schedule.recipients[1]",
                "schedule.recipients[2]",
                "schedule.klips.klip_ids[1]",
                "schedule.lead_time",
                "schedule.user_id",
            ]
        );
        let empty = ScheduleDefinition {
            recipients: vec![],
            target: Target::Klips(vec![]),
            ..valid()
        };
        assert_eq!(fields(&empty), ["schedule.recipients", "schedule.target"]);
        let many = ScheduleDefinition {
            recipients: (0..=MAX_RECIPIENTS)
                .map(|i| format!("r{i}@example.com"))
                .collect(),
            ..valid()
        };
        assert_eq!(fields(&many), ["schedule.recipients"]);
        let hostile = ScheduleDefinition {
            cron_expression: "0 8 * * \0".into(),
            time_zone: "Europe/\u{1}Berlin".into(),
            recipients: vec!["ann\0@example.com".into()],
            ..valid()
        };
        assert_eq!(
            fields(&hostile),
            [
                "schedule.cron_expression",
                "schedule.time_zone",
                "schedule.recipients[0]"
            ]
        );
    }

    #[test]
    fn reports_may_not_fire_more_often_than_the_minimum_interval() {
        let every = |cron: &str| {
            let mut violations = Violations::new();
            ScheduleDefinition {
                cron_expression: cron.into(),
                ..valid()
            }
            .check_interval(Duration::from_secs(300), &mut violations);
            match violations.into_result() {
                Ok(()) => None,
                Err(trellis_platform::ApiError::InvalidArgument(list)) => {
                    Some(format!("{}: {}", list[0].field, list[0].description))
                }
                Err(other) => panic!("{other}"),
            }
        };
        assert_eq!(
            every("* * * * * *").as_deref(),
            Some(
                "schedule.cron_expression: fires as often as every 1 second; a report may be sent at most every 5 minutes"
            )
        );
        assert!(every("*/4 * * * *").is_some());
        assert_eq!(every("*/5 * * * *"), None);
        assert_eq!(every("0 8 * * Mon"), None);
    }
}
