//! Request validation shared by the handlers: field masks, URLs, limits.

use trellis_platform::error::{ApiResult, Violations};
use trellis_proto::tokens::v1::{ApiLimit, Provider};

use crate::store::providers::Limit;

/// The paths of an update mask, checked against the updatable ones. An empty mask means
/// every updatable field for which `is_set` holds.
pub fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    updatable: &[&str],
    is_set: impl Fn(&str) -> bool,
) -> ApiResult<Vec<String>> {
    let paths: Vec<String> = mask.map(|m| m.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        return Ok(updatable
            .iter()
            .filter(|path| is_set(path))
            .map(|path| path.to_string())
            .collect());
    }
    let mut violations = Violations::new();
    for path in &paths {
        if !updatable.contains(&path.as_str()) {
            violations.add(
                "update_mask",
                format!(
                    "{path:?} cannot be updated; updatable: {}",
                    updatable.join(", ")
                ),
            );
        }
    }
    violations.into_result()?;
    Ok(paths)
}

pub fn check_url(violations: &mut Violations, field: &str, value: &str, required: bool) {
    if value.is_empty() {
        violations.check(!required, field, "required");
        return;
    }
    // Client secrets and tokens travel to these URLs: TLS, except to this machine.
    match url::Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => {}
        Ok(url) if url.scheme() == "http" => {
            violations.add(field, "must be https (http only to a loopback host)")
        }
        _ => violations.add(field, "must be an absolute https URL"),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub fn check_name(violations: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        violations.add(field, "required");
    } else if value.chars().count() > 200 {
        violations.add(field, "at most 200 characters");
    } else if value.chars().any(char::is_control) {
        violations.add(field, "must not contain control characters");
    }
}

/// Parameters the authorization request sets itself.
const RESERVED_PARAMETERS: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// Checks a whole provider (after an update's fields are applied).
pub fn check_provider(provider: &Provider, prefix: &str) -> ApiResult<()> {
    let field = |name: &str| format!("{prefix}{name}");
    let mut v = Violations::new();
    check_name(&mut v, &field("name"), &provider.name);
    check_url(
        &mut v,
        &field("authorization_url"),
        &provider.authorization_url,
        true,
    );
    check_url(&mut v, &field("token_url"), &provider.token_url, true);
    check_url(
        &mut v,
        &field("revocation_url"),
        &provider.revocation_url,
        false,
    );
    check_url(
        &mut v,
        &field("userinfo_url"),
        &provider.userinfo_url,
        false,
    );
    v.check(
        !provider.client_id.trim().is_empty(),
        &field("client_id"),
        "required",
    );
    for (i, scope) in provider.scopes.iter().enumerate() {
        v.check(
            !scope.is_empty() && !scope.chars().any(char::is_whitespace),
            &field(&format!("scopes[{i}]")),
            "a scope is a non-empty word without spaces",
        );
    }
    for name in provider.authorization_parameters.keys() {
        v.check(
            !name.is_empty() && !RESERVED_PARAMETERS.contains(&name.as_str()),
            &field(&format!("authorization_parameters[{name}]")),
            format!(
                "must be non-empty and not one the flow sets itself ({})",
                RESERVED_PARAMETERS.join(", ")
            ),
        );
    }
    v.check(
        provider.max_tokens_per_user >= 0,
        &field("max_tokens_per_user"),
        "must not be negative",
    );
    v.check(
        provider.warn_tokens_per_user >= 0,
        &field("warn_tokens_per_user"),
        "must not be negative",
    );
    if provider.max_tokens_per_user > 0 {
        v.check(
            provider.warn_tokens_per_user <= provider.max_tokens_per_user,
            &field("warn_tokens_per_user"),
            "must not exceed max_tokens_per_user",
        );
    }
    if let Some(limit) = &provider.token_limit {
        check_limit(&mut v, &field("token_limit"), limit);
    }
    if let Some(limit) = &provider.rate_limit_key_limit {
        check_limit(&mut v, &field("rate_limit_key_limit"), limit);
    }
    v.into_result()
}

fn check_limit(v: &mut Violations, field: &str, limit: &ApiLimit) {
    v.check(
        limit.requests_per_period >= 0,
        &format!("{field}.requests_per_period"),
        "must not be negative",
    );
    v.check(
        limit.max_concurrent >= 0,
        &format!("{field}.max_concurrent"),
        "must not be negative",
    );
    let period_ms = period_ms(limit);
    match period_ms {
        None => v.add(format!("{field}.period"), "must be a non-negative duration"),
        Some(0) if limit.requests_per_period > 0 => v.add(
            format!("{field}.period"),
            "required when requests_per_period is set",
        ),
        _ => {}
    }
}

fn period_ms(limit: &ApiLimit) -> Option<i64> {
    match &limit.period {
        None => Some(0),
        Some(d) if d.seconds < 0 || d.nanos < 0 || d.nanos >= 1_000_000_000 => None,
        Some(d) => d
            .seconds
            .checked_mul(1000)
            .map(|ms| ms + i64::from(d.nanos) / 1_000_000),
    }
}

/// A checked API limit as stored.
pub fn limit(limit: Option<&ApiLimit>) -> Limit {
    limit
        .map(|l| Limit {
            requests_per_period: l.requests_per_period,
            period_ms: period_ms(l).unwrap_or(0),
            max_concurrent: l.max_concurrent,
        })
        .unwrap_or_default()
}
