//! `TRELLIS_REFRESH_HOST_LIMITS`: an operator's limits per API host (F5), for APIs whose
//! limits hold whatever the credential, or that Trellis reaches without one.
//!
//! The value is a comma-separated list of `host=limit`; a limit is one or more parts
//! separated by `;`: rates `N/PERIOD` joined by `+`, and `max=N` for requests at once.
//!
//! ```text
//! api.example.com=10/1s+5000/1d;max=4,reports.example.org=max=2,127.0.0.1=30/1m
//! ```
//!
//! Periods are durations as every setting writes them (`500ms`, `1s`, `5m`, `1h`, `1d`).
//! Hosts are matched case-insensitively against the host of a data source's URL, without
//! its port.

use std::time::Duration;

use super::parse_duration;
use crate::domain::limits::{ApiLimit, Rate};

/// Hosts listed at most: the list is read for every fetch.
const MAX_HOSTS: usize = 1000;

/// The limits of each host named by the setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostLimits(Vec<(String, ApiLimit)>);

impl HostLimits {
    /// The limit of `host` (as a URL names it), if the setting names it.
    pub fn of(&self, host: &str) -> Option<&ApiLimit> {
        let host = host.to_ascii_lowercase();
        self.0
            .iter()
            .find(|(named, _)| *named == host)
            .map(|(_, limit)| limit)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::str::FromStr for HostLimits {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut hosts: Vec<(String, ApiLimit)> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (host, limit) = entry.split_once('=').ok_or_else(|| {
                format!("`{entry}` is not `host=limit`, e.g. `api.example.com=10/1s;max=4`")
            })?;
            let host = host_name(host.trim()).map_err(|why| format!("`{entry}`: {why}"))?;
            if hosts.iter().any(|(known, _)| *known == host) {
                return Err(format!("`{entry}`: the host `{host}` is named twice"));
            }
            let limit = limit_of(limit).map_err(|why| format!("`{entry}`: {why}"))?;
            hosts.push((host, limit));
        }
        if hosts.len() > MAX_HOSTS {
            return Err(format!(
                "{} hosts, more than the {MAX_HOSTS} allowed",
                hosts.len()
            ));
        }
        Ok(HostLimits(hosts))
    }
}

/// A host as a URL's host reads: a name or an IPv4 address, or an IPv6 address in brackets.
fn host_name(host: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let ipv6 = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        });
    if host.is_empty() || !(ipv6 || host.chars().all(allowed)) {
        return Err(format!(
            "`{host}` is not a host name such as `api.example.com` (no scheme, port or path)"
        ));
    }
    Ok(host.to_ascii_lowercase())
}

/// `10/1s+5000/1d;max=4`, `max=2` or `30/1m`.
fn limit_of(text: &str) -> Result<ApiLimit, String> {
    let mut limit = ApiLimit::default();
    for part in text.split(';').map(str::trim) {
        if let Some(max) = part.strip_prefix("max=") {
            if limit.max_concurrent > 0 {
                return Err("`max=` is given twice".into());
            }
            limit.max_concurrent = positive(max.trim(), "requests at once")?;
            continue;
        }
        if part.is_empty() {
            return Err("an empty part; write rates like `10/1s+5000/1d` and `max=N`".into());
        }
        for rate in part.split('+').map(str::trim) {
            limit.rates.push(rate_of(rate)?);
        }
    }
    Ok(limit)
}

/// `10/1s`: 10 requests per second.
fn rate_of(text: &str) -> Result<Rate, String> {
    let (requests, period) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a rate such as `10/1s` (requests/period)"))?;
    let requests = positive(requests.trim(), "requests of a rate")?;
    let period = parse_duration(period).map_err(|why| format!("`{text}`: {why}"))?;
    if period < Duration::from_millis(1) {
        return Err(format!("`{text}`: a rate's period is at least 1ms"));
    }
    Ok(Rate { requests, period })
}

fn positive(text: &str, what: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a positive number of {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(requests: i32, period: Duration) -> Rate {
        Rate { requests, period }
    }

    #[test]
    fn hosts_with_rates_and_caps_parse() {
        let limits: HostLimits = "api.example.com=10/1s+5000/1d;max=4, Reports.Example.org=max=2,127.0.0.1=30/1m,[::1]=1/500ms"
            .parse()
            .unwrap();
        assert_eq!(
            limits.of("API.example.com"),
            Some(&ApiLimit {
                rates: vec![
                    rate(10, Duration::from_secs(1)),
                    rate(5000, Duration::from_secs(86_400))
                ],
                max_concurrent: 4,
            })
        );
        assert_eq!(
            limits.of("reports.example.org"),
            Some(&ApiLimit {
                rates: vec![],
                max_concurrent: 2,
            })
        );
        assert_eq!(
            limits.of("127.0.0.1").map(|l| l.rates.clone()),
            Some(vec![rate(30, Duration::from_secs(60))])
        );
        assert!(limits.of("[::1]").is_some());
        assert_eq!(limits.of("example.com"), None);
        assert!("".parse::<HostLimits>().unwrap().is_empty());
        assert!(" , ".parse::<HostLimits>().unwrap().is_empty());
    }

    #[test]
    fn mistakes_are_refused_naming_the_entry() {
        let error = |text: &str| text.parse::<HostLimits>().unwrap_err();
        for (text, says) in [
            ("api.example.com", "is not `host=limit`"),
            ("https://api.example.com=1/1s", "is not a host name"),
            ("api.example.com:443=1/1s", "is not a host name"),
            ("=1/1s", "is not a host name"),
            ("a.com=10", "is not a rate"),
            ("a.com=0/1s", "not a positive number"),
            ("a.com=-1/1s", "not a positive number"),
            ("a.com=10/soon", "`10/soon`"),
            ("a.com=10/0s", "at least 1ms"),
            (
                "a.com=10/1s;max=0",
                "not a positive number of requests at once",
            ),
            ("a.com=max=1;max=2", "twice"),
            ("a.com=10/1s;", "an empty part"),
            ("a.com=10/1s+", "is not a rate"),
            ("a.com=1/1s,A.com=2/1s", "named twice"),
        ] {
            let message = error(text);
            assert!(message.contains(says), "{text}: {message}");
            let entry = text.split(',').next_back().unwrap();
            assert!(message.contains(entry), "{text}: {message} names the entry");
        }
    }
}
