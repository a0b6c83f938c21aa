//! API limits (F5): before a fetch, a worker takes a permit from every limit of the job's
//! OAuth token and rate-limit key. Each limit is a rate (GCRA without burst, so that no
//! window of one period ever holds more than the allowed requests) and a cap on requests at
//! once. The state lives in PostgreSQL ([`crate::store::limits`]) so every replica shares
//! it; this module holds the arithmetic. `crate::peers` reads the limits from the token
//! registry's answer into [`TokenLimits`].

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A limit as the token registry states it; zero counts mean no such limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiLimit {
    /// Requests allowed per `period`.
    pub requests_per_period: i32,
    /// Zero when unset (or unreadable): then no rate.
    pub period: Duration,
    /// Requests allowed in flight at once.
    pub max_concurrent: i32,
}

/// The limits of a token and of a rate-limit key (F5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenLimits {
    /// The token's provider; rate-limit keys are counted per provider.
    pub provider_id: String,
    pub token_limit: Option<ApiLimit>,
    /// Unset when no key was given.
    pub rate_limit_key_limit: Option<ApiLimit>,
}

/// One limit a fetch must respect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSpec {
    /// `token:<id>` or `key:<provider>:<rate-limit key>`.
    pub key: String,
    /// The GCRA emission interval: at most one request starts per interval.
    pub emission_interval: Option<Duration>,
    /// Requests in flight at once.
    pub max_concurrent: Option<u32>,
}

impl LimitSpec {
    /// The limit `limit` under `key`, with `margin` added to its period (see the
    /// `limit_margin` setting); `None` when it limits nothing.
    pub fn from_api_limit(key: String, limit: &ApiLimit, margin: Duration) -> Option<Self> {
        let period = limit.period;
        // What a peer says is not trusted to stay in range: no overflow, no division by a
        // count that wrapped to zero.
        let per_period = u32::try_from(limit.requests_per_period).unwrap_or(u32::MAX);
        let emission_interval = (limit.requests_per_period > 0 && !period.is_zero())
            .then(|| period.saturating_add(margin) / per_period);
        let max_concurrent = (limit.max_concurrent > 0).then_some(limit.max_concurrent as u32);
        (emission_interval.is_some() || max_concurrent.is_some()).then_some(Self {
            key,
            emission_interval,
            max_concurrent,
        })
    }
}

/// The limits of a fetch with `token_id` (and `rate_limit_key`, if any), from the token
/// registry's answer: the token's own and its provider's limit for the key.
pub fn specs_for(
    token_id: &str,
    rate_limit_key: &str,
    limits: &TokenLimits,
    margin: Duration,
) -> Vec<LimitSpec> {
    let mut specs = Vec::new();
    if let Some(limit) = &limits.token_limit {
        specs.extend(LimitSpec::from_api_limit(
            format!("token:{token_id}"),
            limit,
            margin,
        ));
    }
    if !rate_limit_key.is_empty()
        && let Some(limit) = &limits.rate_limit_key_limit
    {
        specs.extend(LimitSpec::from_api_limit(
            format!("key:{}:{rate_limit_key}", limits.provider_id),
            limit,
            margin,
        ));
    }
    specs.sort_by(|a, b| a.key.cmp(&b.key));
    specs
}

/// The shared state of one limit key, as read under its row lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    /// GCRA theoretical arrival time: the next request may start then.
    pub tat: Option<DateTime<Utc>>,
    /// The start slot promised to the last job deferred by this rate.
    pub deferred_until: Option<DateTime<Utc>>,
    /// Unexpired permits held now.
    pub permits: u32,
    /// When the first of them expires.
    pub earliest_expiry: Option<DateTime<Utc>>,
}

/// What a worker may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send now. `tats` are the keys' new arrival times; a permit is taken for every key in
    /// `permits`.
    Grant {
        tats: Vec<(String, DateTime<Utc>)>,
        permits: Vec<String>,
    },
    /// Do not send; come back at `until`. `promised` are the slots promised to this job
    /// (the keys' new `deferred_until`); `waiting_on` the concurrency cap that blocks it,
    /// whose next release promotes it early.
    Defer {
        until: DateTime<Utc>,
        promised: Vec<(String, DateTime<Utc>)>,
        waiting_on: Option<String>,
    },
}

fn after(time: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    crate::domain::clock::after(time, interval)
}

/// Decides for a fetch over `limits` (each with its state) at `now`. `returning` is true
/// for a job that was deferred before: it was promised a slot, so the slots promised to
/// others do not hold it back.
pub fn decide(now: DateTime<Utc>, limits: &[(LimitSpec, KeyState)], returning: bool) -> Decision {
    let mut waiting_on = None;
    let mut concurrency_until: Option<DateTime<Utc>> = None;
    for (spec, state) in limits {
        if let Some(max) = spec.max_concurrent
            && state.permits >= max
        {
            let free_at = state.earliest_expiry.unwrap_or(now);
            concurrency_until = Some(concurrency_until.map_or(free_at, |u| u.max(free_at)));
            waiting_on.get_or_insert_with(|| spec.key.clone());
        }
    }

    // The earliest start each rate allows this job.
    let mut rate_until: Option<DateTime<Utc>> = None;
    let mut promised = Vec::new();
    for (spec, state) in limits {
        let Some(interval) = spec.emission_interval else {
            continue;
        };
        let mut slot = state.tat.unwrap_or(now);
        if !returning && let Some(promised_last) = state.deferred_until {
            slot = slot.max(after(promised_last, interval));
        }
        if slot > now {
            rate_until = Some(rate_until.map_or(slot, |u| u.max(slot)));
            if !returning {
                promised.push((spec.key.clone(), slot));
            }
        }
    }

    match (concurrency_until, rate_until) {
        (None, None) => Decision::Grant {
            tats: limits
                .iter()
                .filter_map(|(spec, state)| {
                    let interval = spec.emission_interval?;
                    Some((
                        spec.key.clone(),
                        after(state.tat.unwrap_or(now).max(now), interval),
                    ))
                })
                .collect(),
            permits: limits
                .iter()
                .filter(|(spec, _)| spec.max_concurrent.is_some())
                .map(|(spec, _)| spec.key.clone())
                .collect(),
        },
        (Some(conc), rate) => Decision::Defer {
            // Blocked by a cap: no slot is promised; a release promotes it.
            until: rate.map_or(conc, |r| r.max(conc)),
            promised: Vec::new(),
            waiting_on,
        },
        (None, Some(rate)) => Decision::Defer {
            until: rate,
            promised,
            waiting_on: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn rate(key: &str, interval_ms: u64) -> LimitSpec {
        LimitSpec {
            key: key.into(),
            emission_interval: Some(Duration::from_millis(interval_ms)),
            max_concurrent: None,
        }
    }

    fn cap(key: &str, max: u32) -> LimitSpec {
        LimitSpec {
            key: key.into(),
            emission_interval: None,
            max_concurrent: Some(max),
        }
    }

    #[test]
    fn a_limit_adds_the_margin_to_its_period() {
        let limit = ApiLimit {
            requests_per_period: 5,
            period: Duration::from_secs(1),
            max_concurrent: 2,
        };
        let spec = LimitSpec::from_api_limit("token:t".into(), &limit, Duration::from_millis(100))
            .unwrap();
        assert_eq!(spec.emission_interval, Some(Duration::from_millis(220)));
        assert_eq!(spec.max_concurrent, Some(2));
        assert_eq!(
            LimitSpec::from_api_limit("token:t".into(), &ApiLimit::default(), Duration::ZERO),
            None
        );
    }

    #[test]
    fn the_rate_spaces_grants_one_interval_apart() {
        let limits = [(rate("k", 200), KeyState::default())];
        let Decision::Grant { tats, .. } = decide(at(0), &limits, false) else {
            panic!("the first request goes");
        };
        assert_eq!(tats, vec![("k".to_string(), at(200))]);

        let state = KeyState {
            tat: Some(at(200)),
            ..KeyState::default()
        };
        let limits = [(rate("k", 200), state)];
        assert_eq!(
            decide(at(150), &limits, false),
            Decision::Defer {
                until: at(200),
                promised: vec![("k".into(), at(200))],
                waiting_on: None
            }
        );
        assert!(matches!(
            decide(at(200), &limits, false),
            Decision::Grant { .. }
        ));
    }

    #[test]
    fn deferred_jobs_are_promised_successive_slots_and_keep_them() {
        // One job was promised the slot at 400 already: the next fresh job gets 600.
        let state = KeyState {
            tat: Some(at(200)),
            deferred_until: Some(at(400)),
            ..KeyState::default()
        };
        let limits = [(rate("k", 200), state.clone())];
        assert_eq!(
            decide(at(100), &limits, false),
            Decision::Defer {
                until: at(600),
                promised: vec![("k".into(), at(600))],
                waiting_on: None
            }
        );
        // A fresh job cannot take a promised slot even when the rate would allow it...
        let limits = [(
            rate("k", 200),
            KeyState {
                tat: Some(at(200)),
                deferred_until: Some(at(400)),
                ..KeyState::default()
            },
        )];
        assert!(matches!(
            decide(at(450), &limits, false),
            Decision::Defer { .. }
        ));
        // ...but the job it was promised to can.
        assert!(matches!(
            decide(at(450), &limits, true),
            Decision::Grant { .. }
        ));
    }

    #[test]
    fn a_full_cap_defers_until_a_permit_expires_and_names_the_cap() {
        let full = KeyState {
            permits: 2,
            earliest_expiry: Some(at(5_000)),
            ..KeyState::default()
        };
        let limits = [(cap("c", 2), full), (rate("r", 100), KeyState::default())];
        assert_eq!(
            decide(at(0), &limits, false),
            Decision::Defer {
                until: at(5_000),
                promised: vec![],
                waiting_on: Some("c".into())
            }
        );
        let room = KeyState {
            permits: 1,
            ..KeyState::default()
        };
        let limits = [(cap("c", 2), room)];
        assert_eq!(
            decide(at(0), &limits, false),
            Decision::Grant {
                tats: vec![],
                permits: vec!["c".into()]
            }
        );
    }
}
