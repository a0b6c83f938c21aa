//! Data-source definitions: validation, template properties, the fingerprint (I10) and the
//! resolution of one data-source instance (I13).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use trellis_platform::error::Violations;
use uuid::Uuid;

use super::names::check_display_name;
use super::template;

pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_HEADERS: usize = 50;
pub const MAX_HEADER_NAME_CHARS: usize = 256;
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MIN_REFRESH_SECONDS: i64 = 60;
pub const MAX_REFRESH_SECONDS: i64 = 7 * 24 * 3600;
pub const MAX_RATE_LIMIT_KEY_CHARS: usize = 200;

/// Headers the HTTP client or the data source's auth sets; a template must not.
const RESERVED_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

trellis_platform::text_enum! {
    /// The HTTP method of a data source's request.
    #[derive(Serialize)]
    pub enum Method {
        #[serde(rename = "GET")]
        Get = "GET",
        #[serde(rename = "POST")]
        Post = "POST",
        #[serde(rename = "PUT")]
        Put = "PUT",
        #[serde(rename = "PATCH")]
        Patch = "PATCH",
    }
}

trellis_platform::text_enum! {
    /// How a data source's answer is read.
    #[derive(Serialize)]
    pub enum Format {
        #[serde(rename = "json")]
        Json = "json",
        #[serde(rename = "csv")]
        Csv = "csv",
    }
}

/// How a data source authenticates; the secrets themselves live in the token service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    None,
    /// A saved basic or API-key credential (copied per instance on import, I5).
    Credential(Uuid),
    /// An OAuth token (shared with instances through grants, I6).
    OauthToken(Uuid),
}

impl Auth {
    pub fn kind(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Credential(_) => "credential",
            Auth::OauthToken(_) => "oauth_token",
        }
    }

    pub fn credential_id(self) -> Option<Uuid> {
        match self {
            Auth::Credential(id) => Some(id),
            _ => None,
        }
    }

    pub fn token_id(self) -> Option<Uuid> {
        match self {
            Auth::OauthToken(id) => Some(id),
            _ => None,
        }
    }

    /// The stored form back: kind plus the id columns.
    pub fn from_columns(
        kind: &str,
        credential_id: Option<Uuid>,
        token_id: Option<Uuid>,
    ) -> Option<Self> {
        match (kind, credential_id, token_id) {
            ("none", None, None) => Some(Auth::None),
            ("credential", Some(id), None) => Some(Auth::Credential(id)),
            ("oauth_token", None, Some(id)) => Some(Auth::OauthToken(id)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Everything about a data source that its owner edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceDefinition {
    pub name: String,
    pub method: Method,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: String,
    pub format: Format,
    pub auth: Auth,
    /// 0 means never on schedule.
    pub refresh_interval_seconds: i64,
    pub rate_limit_key: String,
}

impl DataSourceDefinition {
    /// Checks every field; violations are named under `prefix` (`data_source`), with the
    /// request's fields under `prefix.request`.
    pub fn check(&self, violations: &mut Violations, prefix: &str) {
        check_display_name(violations, &format!("{prefix}.name"), &self.name);
        self.check_url(violations, &format!("{prefix}.request.url"));
        self.check_headers(violations, &format!("{prefix}.request.headers"));
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
            check_template(violations, &body_field, &self.body);
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
            check_template(violations, &key_field, &self.rate_limit_key);
        }
    }

    fn check_url(&self, violations: &mut Violations, field: &str) {
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
        // Every property stands for a plain value here: the URL must be absolute http(s)
        // whatever the values, so the scheme and the `//` cannot come from a property.
        if let Err(problem) = check_absolute_http(&template.with_placeholder("x")) {
            violations.add(field, problem);
        }
    }

    fn check_headers(&self, violations: &mut Violations, field: &str) {
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
                check_template(violations, &value_field, &header.value);
            }
        }
    }

    fn templates(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.url.as_str())
            .chain(self.headers.iter().map(|h| h.value.as_str()))
            .chain([self.body.as_str(), self.rate_limit_key.as_str()])
    }

    /// The `{props.NAME}` names of every template, sorted and unique. Meant for checked
    /// definitions; a template that does not parse contributes nothing.
    pub fn template_properties(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for text in self.templates() {
            if let Ok(template) = template::parse(text) {
                names.extend(template.properties().map(str::to_owned));
            }
        }
        names.into_iter().collect()
    }

    /// SHA-256 (hex) of what determines the fetched data: method, URL, headers, body,
    /// format, auth kind and token id, rate-limit key. Not the name or the refresh interval,
    /// and not the credential id: an import points each instance at its own copy of the
    /// credential (I5), which must not make the instance look changed (I10).
    pub fn fingerprint(&self) -> String {
        hash(&Canonical {
            rate_limit_key: Some(&self.rate_limit_key),
            ..Canonical::request(
                self.method,
                &self.url,
                &self.headers,
                &self.body,
                self.format,
                self.auth,
            )
        })
    }
}

/// What a hash of a request covers, serialized in this order: fingerprints and instance
/// keys are stored, so the names and order of the fields are part of them. A hash leaves
/// out `credential_id` or `rate_limit_key` where it does not cover it (`None`).
#[derive(Serialize)]
pub(super) struct Canonical<'a> {
    pub v: u8,
    pub method: Method,
    pub url: &'a str,
    pub headers: &'a [Header],
    pub body: &'a str,
    pub format: Format,
    pub auth_kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<Option<Uuid>>,
    pub token_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_key: Option<&'a str>,
}

impl<'a> Canonical<'a> {
    /// The request and its auth kind and token, neither optional field covered.
    pub fn request(
        method: Method,
        url: &'a str,
        headers: &'a [Header],
        body: &'a str,
        format: Format,
        auth: Auth,
    ) -> Self {
        Canonical {
            v: 1,
            method,
            url,
            headers,
            body,
            format,
            auth_kind: auth.kind(),
            credential_id: None,
            token_id: auth.token_id(),
            rate_limit_key: None,
        }
    }
}

pub(super) fn hash(canonical: &impl Serialize) -> String {
    let json = serde_json::to_vec(canonical).expect("plain structs serialize");
    hex::encode(Sha256::digest(json))
}

fn check_template(violations: &mut Violations, field: &str, text: &str) {
    if let Err(error) = template::parse(text) {
        violations.add(field, error.to_string());
    }
}

pub(super) fn check_absolute_http(url: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests;
