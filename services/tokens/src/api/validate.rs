//! Request validation shared by the handlers: field masks, URLs, limits, and the length and
//! character rules of every text a caller sends (docs/tokens.md, "Limits"). Text goes
//! through `trellis_platform::validate`, so a NUL byte or a control character is an
//! INVALID_ARGUMENT naming the field, never a database error.

use std::collections::HashMap;
use std::time::Duration;

use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::validate;
use trellis_proto::tokens::v1::{ApiLimit, Provider};

use crate::domain::providers::{
    MAX_TOKEN_PARAMETER_NAME_CHARS, MAX_TOKEN_PARAMETERS, is_parameter_name,
};
use crate::domain::providers_catalogue::{is_key, placeholders};
use crate::store::providers::{Limit, Rate};

pub use crate::domain::limits::*;

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
    if let Some(problem) = line_problem(value, MAX_URL_CHARS) {
        violations.add(field, problem);
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

/// A secret the caller sets (client secret, password, API key): it travels in HTTP
/// headers and forms, where a control character has no place.
pub fn check_secret(violations: &mut Violations, field: &str, value: &str) {
    validate::single_line(violations, field, value, MAX_SECRET_CHARS);
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
    for (name, value, required) in [
        ("authorization_url", &provider.authorization_url, true),
        ("token_url", &provider.token_url, true),
        ("revocation_url", &provider.revocation_url, false),
        ("userinfo_url", &provider.userinfo_url, false),
    ] {
        check_url(&mut v, &field(name), value, required);
        if !placeholders(value).is_empty() {
            v.add(
                field(name),
                "holds a placeholder such as {shop}: give this app's own URL",
            );
        }
    }
    // A catalogue provider is listed before an OAuth app is registered for it.
    if provider.client_id.trim().is_empty() {
        v.check(
            !provider.catalogue_key.is_empty(),
            &field("client_id"),
            "required",
        );
    } else {
        validate::single_line(
            &mut v,
            &field("client_id"),
            &provider.client_id,
            MAX_ID_CHARS,
        );
    }
    check_secret(&mut v, &field("client_secret"), &provider.client_secret);
    check_scopes(&mut v, &field, &provider.scopes);
    check_parameters(&mut v, &field, &provider.authorization_parameters);
    check_token_parameters(&mut v, &field, &provider.token_parameters);
    v.check(
        provider.catalogue_key.is_empty() || is_key(&provider.catalogue_key),
        &field("catalogue_key"),
        "a catalogue key is a lower-case word (letters, digits, `_`, `-`)",
    );
    check_counts(&mut v, &field, provider);
    if let Some(limit) = &provider.token_limit {
        check_limit(&mut v, &field("token_limit"), limit);
    }
    if let Some(limit) = &provider.rate_limit_key_limit {
        check_limit(&mut v, &field("rate_limit_key_limit"), limit);
    }
    v.into_result()
}

fn check_scopes(v: &mut Violations, field: &impl Fn(&str) -> String, scopes: &[String]) {
    validate::list_len(v, &field("scopes"), scopes.len(), MAX_SCOPES);
    for (i, scope) in scopes.iter().enumerate().take(MAX_SCOPES) {
        let scope_field = field(&format!("scopes[{i}]"));
        match line_problem(scope, MAX_SCOPE_CHARS) {
            Some(problem) => v.add(scope_field, problem),
            None => v.check(
                !scope.is_empty() && !scope.chars().any(char::is_whitespace),
                &scope_field,
                "a scope is a non-empty word without spaces",
            ),
        }
    }
}

fn check_parameters(
    v: &mut Violations,
    field: &impl Fn(&str) -> String,
    parameters: &HashMap<String, String>,
) {
    validate::list_len(
        v,
        &field("authorization_parameters"),
        parameters.len(),
        MAX_AUTHORIZATION_PARAMETERS,
    );
    for (name, value) in parameters.iter().take(MAX_AUTHORIZATION_PARAMETERS) {
        // A name that cannot be printed is not repeated in the field path.
        if let Some(problem) = line_problem(name, MAX_PARAMETER_NAME_CHARS) {
            v.add(
                field("authorization_parameters"),
                format!("a parameter name {problem}"),
            );
            continue;
        }
        let parameter = field(&format!("authorization_parameters[{name}]"));
        v.check(
            !name.is_empty() && !RESERVED_PARAMETERS.contains(&name.as_str()),
            &parameter,
            format!(
                "must be non-empty and not one the flow sets itself ({})",
                RESERVED_PARAMETERS.join(", ")
            ),
        );
        validate::single_line(v, &parameter, value, MAX_PARAMETER_VALUE_CHARS);
    }
}

/// Fields of the token answer that are read as what they are, never kept as parameters.
const RESERVED_TOKEN_FIELDS: [&str; 6] = [
    "access_token",
    "refresh_token",
    "id_token",
    "token_type",
    "expires_in",
    "scope",
];

fn check_token_parameters(v: &mut Violations, field: &impl Fn(&str) -> String, names: &[String]) {
    validate::list_len(
        v,
        &field("token_parameters"),
        names.len(),
        MAX_TOKEN_PARAMETERS,
    );
    for (i, name) in names.iter().enumerate().take(MAX_TOKEN_PARAMETERS) {
        let name_field = field(&format!("token_parameters[{i}]"));
        if !is_parameter_name(name) {
            v.add(
                name_field,
                format!(
                    "a word of letters, digits and `_`, not starting with a digit, of at \
                     most {MAX_TOKEN_PARAMETER_NAME_CHARS} characters"
                ),
            );
        } else if RESERVED_TOKEN_FIELDS.contains(&name.as_str()) {
            v.add(
                name_field,
                "the tokens themselves are never kept as parameters",
            );
        } else if names[..i].contains(name) {
            v.add(name_field, "named twice");
        }
    }
}

fn check_counts(v: &mut Violations, field: &impl Fn(&str) -> String, provider: &Provider) {
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
}

pub(crate) fn check_limit(v: &mut Violations, field: &str, limit: &ApiLimit) {
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
    let period = format!("{field}.period");
    let period_ms = match &limit.period {
        None => Some(0),
        Some(d) => validate::duration(v, &period, d, Duration::ZERO, MAX_LIMIT_PERIOD)
            .map(|d| d.as_millis() as i64),
    };
    if period_ms == Some(0) && limit.requests_per_period > 0 {
        v.add(period, "required when requests_per_period is set");
    }
    v.check(
        limit.additional_rates.len() <= MAX_ADDITIONAL_RATES,
        &format!("{field}.additional_rates"),
        format!("at most {MAX_ADDITIONAL_RATES} rates"),
    );
    for (i, rate) in limit.additional_rates.iter().enumerate() {
        let rate_field = format!("{field}.additional_rates[{i}]");
        v.check(
            rate.requests > 0,
            &format!("{rate_field}.requests"),
            "must be positive",
        );
        let period = format!("{rate_field}.period");
        match &rate.period {
            None => v.add(period, "required"),
            Some(d) => {
                validate::duration(v, &period, d, Duration::from_millis(1), MAX_LIMIT_PERIOD);
            }
        }
    }
}

/// Further rates a limit may hold beside its first.
pub const MAX_ADDITIONAL_RATES: usize = 4;

/// The period in milliseconds, 0 when absent or out of range (checked before).
fn period_ms(limit: &ApiLimit) -> i64 {
    duration_ms(limit.period.as_ref())
}

/// A checked duration in milliseconds, 0 when absent or out of range (checked before).
fn duration_ms(period: Option<&prost_types::Duration>) -> i64 {
    match period {
        Some(d) if d.seconds >= 0 && (0..1_000_000_000).contains(&d.nanos) => {
            let period = Duration::new(d.seconds as u64, d.nanos as u32).min(MAX_LIMIT_PERIOD);
            period.as_millis() as i64
        }
        _ => 0,
    }
}

/// A checked API limit as stored.
pub fn limit(limit: Option<&ApiLimit>) -> Limit {
    limit
        .map(|l| Limit {
            requests_per_period: l.requests_per_period,
            period_ms: period_ms(l),
            max_concurrent: l.max_concurrent,
            additional_rates: l
                .additional_rates
                .iter()
                .map(|rate| Rate {
                    requests: rate.requests,
                    period_ms: duration_ms(rate.period.as_ref()),
                })
                .collect(),
        })
        .unwrap_or_default()
}
