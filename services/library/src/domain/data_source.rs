//! Data-source definitions: validation, template properties, the fingerprint (I10) and the
//! resolution of one data-source instance (I13).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::dates::DateRange;
use super::pagination::{Pagination, SourceLimit};
use super::template;

mod checks;

pub(super) use checks::check_absolute_http;

pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_HEADERS: usize = 50;
pub const MAX_HEADER_NAME_CHARS: usize = 256;
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MIN_REFRESH_SECONDS: i64 = 60;
pub const MAX_REFRESH_SECONDS: i64 = 7 * 24 * 3600;
pub const MAX_RATE_LIMIT_KEY_CHARS: usize = 200;

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
    /// Following the pages; `None`: one request.
    pub pagination: Option<Pagination>,
    /// The range of `{date.range.start}` and `{date.range.end}`.
    pub date_range: Option<DateRange>,
    /// The limit of `rate_limit_key` (sources without an OAuth token).
    pub rate_limit_key_limit: Option<SourceLimit>,
}

impl DataSourceDefinition {
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

    /// The `{token.NAME}` names of every template, sorted and unique (for checked
    /// definitions, like [`Self::template_properties`]).
    pub fn token_parameters(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for text in self.templates() {
            if let Ok(template) = template::parse(text) {
                names.extend(template.tokens().map(str::to_owned));
            }
        }
        names.into_iter().collect()
    }

    /// SHA-256 (hex) of what determines the fetched data: method, URL, headers, body,
    /// format, auth kind and token id, rate-limit key, pagination and date range. Not the
    /// name, the refresh interval or the rate-limit key's limit, and not the credential id:
    /// an import points each instance at its own copy of the credential (I5), which must not
    /// make the instance look changed (I10).
    pub fn fingerprint(&self) -> String {
        hash(&Canonical {
            rate_limit_key: Some(&self.rate_limit_key),
            date_range: self.date_range.as_ref(),
            ..Canonical::request(
                self.method,
                &self.url,
                &self.headers,
                &self.body,
                self.format,
                self.auth,
                self.pagination.as_ref(),
            )
        })
    }
}

/// What a hash of a request covers, serialized in this order: fingerprints and instance
/// keys are stored, so the names and order of the fields are part of them. A hash leaves
/// out `credential_id` or `rate_limit_key` where it does not cover it (`None`), and
/// `pagination` and `date_range` where there are none, so that the hashes of data sources
/// saved before those existed stay as they were.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<&'a Pagination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_range: Option<&'a DateRange>,
}

impl<'a> Canonical<'a> {
    /// The request, its pages and its auth kind and token, neither `credential_id` nor
    /// `rate_limit_key` nor `date_range` covered.
    pub fn request(
        method: Method,
        url: &'a str,
        headers: &'a [Header],
        body: &'a str,
        format: Format,
        auth: Auth,
        pagination: Option<&'a Pagination>,
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
            pagination,
            date_range: None,
        }
    }
}

pub(super) fn hash(canonical: &impl Serialize) -> String {
    let json = serde_json::to_vec(canonical).expect("plain structs serialize");
    hex::encode(Sha256::digest(json))
}

#[cfg(test)]
mod option_tests;
#[cfg(test)]
mod tests;
