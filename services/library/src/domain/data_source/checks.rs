//! Checks of data-source definitions: every field, with what each template may hold.

use trellis_platform::error::Violations;

use super::{
    Auth, DataSourceDefinition, MAX_BODY_BYTES, MAX_HEADER_NAME_CHARS, MAX_HEADER_VALUE_BYTES,
    MAX_HEADERS, MAX_RATE_LIMIT_KEY_CHARS, MAX_REFRESH_SECONDS, MAX_URL_CHARS, MIN_REFRESH_SECONDS,
    Method,
};
use crate::domain::names::check_display_name;
use crate::domain::{dates, template};

/// Headers the HTTP client or the data source's auth sets; a template must not.
const RESERVED_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Which placeholders a template may hold besides `{props.NAME}` and dates relative to today.
#[derive(Debug, Clone, Copy)]
struct Allowed {
    /// `{token.NAME}`: with an OAuth token, outside the rate-limit key.
    tokens: Result<(), &'static str>,
    /// `{date.range.start}` and `{date.range.end}`: with a date range.
    range: bool,
}

impl DataSourceDefinition {
    /// Checks every field; violations are named under `prefix` (`data_source`), with the
    /// request's fields under `prefix.request`.
    pub fn check(&self, violations: &mut Violations, prefix: &str) {
        let allowed = self.allowed();
        check_display_name(violations, &format!("{prefix}.name"), &self.name);
        self.check_url(violations, &format!("{prefix}.request.url"), allowed);
        self.check_headers(violations, &format!("{prefix}.request.headers"), allowed);
        let body_field = format!("{prefix}.request.body");
        if self.body.len() > MAX_BODY_BYTES {
            violations.add(
                &body_field,
                format!(
                    "is {} bytes; at most {MAX_BODY_BYTES} are allowed",
                    self.body.len()
                ),
            );
        } else if !self.body.is_empty() && self.method == Method::Get {
            violations.add(
                &body_field,
                "a GET request has no body; use POST, PUT or PATCH",
            );
        } else if self.body.contains('\0') {
            violations.add(&body_field, "must not contain NUL characters");
        } else {
            check_template(violations, &body_field, &self.body, allowed);
        }
        let interval = self.refresh_interval_seconds;
        if interval != 0 && !(MIN_REFRESH_SECONDS..=MAX_REFRESH_SECONDS).contains(&interval) {
            violations.add(
                format!("{prefix}.refresh_interval"),
                "must be unset (never on schedule) or between 1 minute and 7 days",
            );
        }
        let key_field = format!("{prefix}.rate_limit_key");
        if self.rate_limit_key.chars().count() > MAX_RATE_LIMIT_KEY_CHARS {
            violations.add(
                &key_field,
                format!("must be at most {MAX_RATE_LIMIT_KEY_CHARS} characters"),
            );
        } else if self.rate_limit_key.chars().any(char::is_control) {
            violations.add(&key_field, "must not contain control characters");
        } else {
            let tokens = Err("is filled at fetch time and cannot be part of the rate-limit key");
            let allowed = Allowed { tokens, ..allowed };
            check_template(violations, &key_field, &self.rate_limit_key, allowed);
        }
        self.check_options(violations, prefix);
    }

    /// Pagination, date range and the rate-limit key's limit.
    fn check_options(&self, violations: &mut Violations, prefix: &str) {
        if let Some(pagination) = &self.pagination {
            pagination.check(violations, &format!("{prefix}.pagination"), self.format);
        }
        if let Some(range) = &self.date_range {
            dates::check_range(violations, &format!("{prefix}.date_range"), range);
        }
        if let Some(limit) = &self.rate_limit_key_limit {
            let field = format!("{prefix}.rate_limit_key_limit");
            limit.check(violations, &field);
            if matches!(self.auth, Auth::OauthToken(_)) {
                violations.add(
                    &field,
                    "with an OAuth token the provider's limit applies; leave it unset",
                );
            } else if self.rate_limit_key.is_empty() {
                violations.add(&field, "needs a rate_limit_key to count requests under");
            }
        }
    }

    fn allowed(&self) -> Allowed {
        Allowed {
            tokens: match self.auth {
                Auth::OauthToken(_) => Ok(()),
                _ => Err("needs an OAuth token as the data source's auth"),
            },
            range: self.date_range.is_some(),
        }
    }

    fn check_url(&self, violations: &mut Violations, field: &str, allowed: Allowed) {
        let url = &self.url;
        if url.is_empty() {
            return violations.add(field, "is required");
        }
        if url.chars().count() > MAX_URL_CHARS {
            return violations.add(field, format!("must be at most {MAX_URL_CHARS} characters"));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return violations.add(field, "must not contain spaces or control characters");
        }
        let template = match template::parse(url) {
            Ok(template) => template,
            Err(error) => return violations.add(field, error.to_string()),
        };
        if let Err(problem) = check_placeholders(&template, allowed) {
            return violations.add(field, problem);
        }
        // Every property stands for a plain value here: the URL must be absolute http(s)
        // whatever the values, so the scheme and the `//` cannot come from a property.
        if let Err(problem) = check_absolute_http(&template.with_placeholder("x")) {
            violations.add(field, problem);
        }
    }

    fn check_headers(&self, violations: &mut Violations, field: &str, allowed: Allowed) {
        if self.headers.len() > MAX_HEADERS {
            return violations.add(field, format!("at most {MAX_HEADERS} headers are allowed"));
        }
        for (i, header) in self.headers.iter().enumerate() {
            let name_field = format!("{field}[{i}].name");
            let lower = header.name.to_ascii_lowercase();
            if header.name.is_empty() {
                violations.add(&name_field, "is required");
            } else if header.name.len() > MAX_HEADER_NAME_CHARS
                || !header.name.bytes().all(is_token_byte)
            {
                violations.add(
                    &name_field,
                    "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
                );
            } else if RESERVED_HEADERS.contains(&lower.as_str()) {
                violations.add(
                    &name_field,
                    format!(
                        "`{}` is set from the data source's auth or by the HTTP client",
                        header.name
                    ),
                );
            }
            let value_field = format!("{field}[{i}].value");
            if header.value.len() > MAX_HEADER_VALUE_BYTES {
                violations.add(
                    &value_field,
                    format!("must be at most {MAX_HEADER_VALUE_BYTES} bytes"),
                );
            } else if header.value.chars().any(|c| c.is_control() && c != '\t') {
                violations.add(&value_field, "must not contain control characters");
            } else {
                check_template(violations, &value_field, &header.value, allowed);
            }
        }
    }
}

fn check_template(violations: &mut Violations, field: &str, text: &str, allowed: Allowed) {
    let problem = match template::parse(text) {
        Ok(template) => check_placeholders(&template, allowed),
        Err(error) => Err(error.to_string()),
    };
    if let Err(problem) = problem {
        violations.add(field, problem);
    }
}

/// `{token.NAME}` and `{date.range.*}` only where `allowed`.
fn check_placeholders(template: &template::Template<'_>, allowed: Allowed) -> Result<(), String> {
    if let Some(name) = template.tokens().next()
        && let Err(problem) = allowed.tokens
    {
        return Err(format!("`{{token.{name}}}` {problem}"));
    }
    if !allowed.range && template.uses_range() {
        return Err(
            "`{date.range.start}` and `{date.range.end}` need a date_range on the data source"
                .into(),
        );
    }
    Ok(())
}

pub(in crate::domain) fn check_absolute_http(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|error| format!("not an absolute URL: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("must be http or https, not `{}`", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("needs a host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not contain credentials; use a saved credential".into());
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}
