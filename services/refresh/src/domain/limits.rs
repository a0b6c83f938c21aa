//! API limits (F5): before a fetch, a worker takes a permit from every limit of the fetch:
//! its OAuth token's and its provider's rate-limit key, its saved credential's, its data
//! source's rate-limit key (sources without a token, counted across the account's family)
//! and its host's (an operator setting). Each limit holds rates (GCRA without burst, so
//! that no window of a rate's period ever holds more than the allowed requests) and a cap
//! on requests at once. The state lives in PostgreSQL ([`crate::store::limits`]) so every
//! replica shares it; this module holds the arithmetic. `crate::peers` reads the limits
//! from the token registry's and the library's answers into [`ApiLimit`].

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A rate: at most `requests` per `period`; a zero count or period is no rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    pub requests: i32,
    pub period: Duration,
}

/// A limit as a peer or a setting states it: rates that all hold at once (per second and
/// per day, say) and a cap on requests in flight; zero counts mean no such limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiLimit {
    /// The first is counted under the limit's own key, each further one under a key of its
    /// own (see [`specs_of`]).
    pub rates: Vec<Rate>,
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

/// The key of an OAuth token's own limit.
pub fn token_key(token_id: &str) -> String {
    format!("token:{token_id}")
}

/// The key of a provider's limit of a rate-limit key (sources with an OAuth token).
pub fn provider_key(provider_id: &str, rate_limit_key: &str) -> String {
    format!("key:{provider_id}:{rate_limit_key}")
}

/// The key of a saved credential's limit: `limit_key` names the credential its copies were
/// made from, so that every copy counts against one limit.
pub fn credential_key(limit_key: &str) -> String {
    format!("credential:{limit_key}")
}

/// The key of a data source's limit of its rate-limit key (sources without an OAuth token),
/// counted across the family of `scope_account_id` (a partner and its clients), so that one
/// family never throttles another that happens to use the same key.
pub fn family_key(scope_account_id: &str, rate_limit_key: &str) -> String {
    format!("key:family:{scope_account_id}:{rate_limit_key}")
}

/// The key of a host's limit (`TRELLIS_REFRESH_HOST_LIMITS`).
pub fn host_key(host: &str) -> String {
    format!("host:{host}")
}

/// One limit a fetch must respect, under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSpec {
    /// A limit's key (`token:<id>`, `key:<provider>:<key>`, `credential:<key>`,
    /// `key:family:<account>:<key>`, `host:<host>`), or `<key>#<period_ms>ms` for a further
    /// rate of it.
    pub key: String,
    /// The GCRA emission interval: at most one request starts per interval.
    pub emission_interval: Option<Duration>,
    /// Requests in flight at once.
    pub max_concurrent: Option<u32>,
}

/// The emission interval of `rate` with `margin` added to its period (see the
/// `limit_margin` setting); `None` when it limits nothing.
fn emission_interval(rate: &Rate, margin: Duration) -> Option<Duration> {
    // What a peer says is not trusted to stay in range: no overflow, no division by a
    // count that wrapped to zero.
    let per_period = u32::try_from(rate.requests).ok().filter(|n| *n > 0)?;
    (!rate.period.is_zero()).then(|| rate.period.saturating_add(margin) / per_period)
}

/// What `limit` under `key` comes to: the cap and the first rate on `key` itself, and each
/// further rate on `<key>#<period_ms>ms`, each paced on its own (so that no window of any
/// of the periods holds more than its count). Rates of the same period keep the stricter.
/// Empty when it limits nothing.
pub fn specs_of(key: &str, limit: &ApiLimit, margin: Duration) -> Vec<LimitSpec> {
    let mut specs = vec![LimitSpec {
        key: key.to_owned(),
        emission_interval: None,
        max_concurrent: u32::try_from(limit.max_concurrent).ok().filter(|n| *n > 0),
    }];
    let mut first_period = None;
    for rate in &limit.rates {
        let Some(interval) = emission_interval(rate, margin) else {
            continue;
        };
        let period_key = match first_period {
            None => {
                first_period = Some(rate.period.as_millis());
                key.to_owned()
            }
            Some(first) if first == rate.period.as_millis() => key.to_owned(),
            Some(_) => format!("{key}#{}ms", rate.period.as_millis()),
        };
        match specs.iter_mut().find(|s| s.key == period_key) {
            Some(spec) => {
                let stricter = spec.emission_interval.map_or(interval, |i| i.max(interval));
                spec.emission_interval = Some(stricter);
            }
            None => specs.push(LimitSpec {
                key: period_key,
                emission_interval: Some(interval),
                max_concurrent: None,
            }),
        }
    }
    specs.retain(|s| s.emission_interval.is_some() || s.max_concurrent.is_some());
    specs
}

/// Every spec of the limits of one fetch (each with its key), sorted by key: the order
/// their rows are locked in, so that two workers never deadlock. A key named twice keeps
/// its stricter rate and cap.
pub fn specs_for(limits: &[(String, ApiLimit)], margin: Duration) -> Vec<LimitSpec> {
    let mut specs: Vec<LimitSpec> = Vec::new();
    for (key, limit) in limits {
        for spec in specs_of(key, limit, margin) {
            match specs.iter_mut().find(|s| s.key == spec.key) {
                Some(known) => {
                    known.emission_interval = known.emission_interval.max(spec.emission_interval);
                    known.max_concurrent = match (known.max_concurrent, spec.max_concurrent) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => specs.push(spec),
            }
        }
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

/// The slot of a page after the first of a fetch that holds its permits already: the
/// earliest time every rate of `limits` allows a request, and the rates' arrival times once
/// it is taken. A page takes the next free slot, ahead of jobs promised later ones: it is
/// part of a fetch under way.
pub fn page_slot(
    now: DateTime<Utc>,
    limits: &[(LimitSpec, KeyState)],
) -> (DateTime<Utc>, Vec<(String, DateTime<Utc>)>) {
    let start = limits
        .iter()
        .filter(|(spec, _)| spec.emission_interval.is_some())
        .filter_map(|(_, state)| state.tat)
        .fold(now, DateTime::max);
    let tats = limits
        .iter()
        .filter_map(|(spec, _)| Some((spec.key.clone(), after(start, spec.emission_interval?))))
        .collect();
    (start, tats)
}

#[cfg(test)]
mod tests;
