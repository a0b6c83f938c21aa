//! What the library and the token registry answer, read into the service's own values: a
//! resolved request as the instance it names, protobuf durations that a peer may send out
//! of range, and the limits of a token, a credential and a data source (F5).

use std::time::Duration;

use trellis_proto::library::v1::{ResolvedRequest, SourceLimit};
use trellis_proto::tokens::v1 as tokens;
use uuid::Uuid;

use crate::domain::job::{InstanceId, ResolvedInstance};
use crate::domain::limits::{ApiLimit, Rate, TokenLimits};

/// A protobuf duration from a peer as a `Duration`: `None` when negative or malformed.
/// (prost-types' own conversion negates the seconds of a negative duration, which
/// overflows for `i64::MIN`.)
pub fn duration(duration: &prost_types::Duration) -> Option<Duration> {
    let seconds = u64::try_from(duration.seconds).ok()?;
    let nanos = u32::try_from(duration.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)?;
    Some(Duration::new(seconds, nanos))
}

/// A refresh interval in milliseconds; zero when unset (never on schedule).
pub fn interval_ms(interval: Option<&prost_types::Duration>) -> i64 {
    interval
        .and_then(duration)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
}

/// The instance `resolved` names, of `account_id`, resolved for `resolve_user_id` (empty:
/// no user's values).
pub fn resolved_instance(
    data_source_id: Uuid,
    account_id: Uuid,
    resolve_user_id: &str,
    resolved: &ResolvedRequest,
) -> ResolvedInstance {
    ResolvedInstance {
        id: InstanceId {
            data_source_id,
            instance_key: resolved.instance_key.clone(),
        },
        account_id,
        resolve_user_id: resolve_user_id.to_owned(),
        url: resolved.url.clone(),
        data_source_version: resolved.data_source_version,
        refresh_interval_ms: interval_ms(resolved.refresh_interval.as_ref()),
    }
}

/// A limit of the token registry (a provider's or a credential's): its first rate and
/// every additional one.
pub fn api_limit(limit: &tokens::ApiLimit) -> ApiLimit {
    let first = Rate {
        requests: limit.requests_per_period,
        period: period(limit.period.as_ref()),
    };
    let further = limit.additional_rates.iter().map(|rate| Rate {
        requests: rate.requests,
        period: period(rate.period.as_ref()),
    });
    ApiLimit {
        rates: std::iter::once(first).chain(further).collect(),
        max_concurrent: limit.max_concurrent,
    }
}

/// A data source's limit of its rate-limit key, as the library resolved it.
pub fn source_limit(limit: &SourceLimit) -> ApiLimit {
    ApiLimit {
        rates: limit
            .rates
            .iter()
            .map(|rate| Rate {
                requests: rate.requests,
                period: period(rate.period.as_ref()),
            })
            .collect(),
        max_concurrent: limit.max_concurrent,
    }
}

/// A rate's period; zero (no rate) when unset or unreadable.
fn period(period: Option<&prost_types::Duration>) -> Duration {
    period.and_then(duration).unwrap_or_default()
}

pub fn token_limits(answer: &tokens::GetTokenLimitsResponse) -> TokenLimits {
    TokenLimits {
        provider_id: answer.provider_id.clone(),
        token_limit: answer.token_limit.as_ref().map(api_limit),
        rate_limit_key_limit: answer.rate_limit_key_limit.as_ref().map(api_limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peers_duration_out_of_range_is_none() {
        let proto = |seconds, nanos| duration(&prost_types::Duration { seconds, nanos });
        assert_eq!(proto(i64::MIN, 0), None);
        assert_eq!(proto(-1, 0), None);
        assert_eq!(proto(0, -1), None);
        assert_eq!(proto(0, 1_000_000_000), None);
        assert_eq!(
            proto(i64::MAX, 0),
            Some(Duration::from_secs(i64::MAX as u64))
        );
        assert_eq!(proto(2, 500_000_000), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn a_limit_keeps_every_rate_and_drops_none_it_cannot_read() {
        let second = |seconds| Some(prost_types::Duration { seconds, nanos: 0 });
        let limit = api_limit(&tokens::ApiLimit {
            requests_per_period: 5,
            period: second(1),
            max_concurrent: 2,
            additional_rates: vec![
                tokens::ApiRate {
                    requests: 12,
                    period: second(5),
                },
                tokens::ApiRate {
                    requests: 3,
                    period: second(i64::MIN),
                },
            ],
        });
        assert_eq!(limit.max_concurrent, 2);
        assert_eq!(
            limit.rates,
            vec![
                Rate {
                    requests: 5,
                    period: Duration::from_secs(1)
                },
                Rate {
                    requests: 12,
                    period: Duration::from_secs(5)
                },
                // Unreadable: a rate of no period, which limits nothing.
                Rate {
                    requests: 3,
                    period: Duration::ZERO
                },
            ]
        );
        let source = source_limit(&SourceLimit {
            rates: vec![trellis_proto::library::v1::Rate {
                requests: 10,
                period: second(1),
            }],
            max_concurrent: 10,
        });
        assert_eq!(source.rates.len(), 1);
        assert_eq!(source.max_concurrent, 10);
    }
}
