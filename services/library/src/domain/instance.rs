//! Data-source instances (I13): a definition resolved with one account's and user's
//! property values into a concrete request, named by its instance key.

use std::collections::BTreeMap;

use trellis_platform::error::ApiError;

use super::data_source::{
    Auth, Canonical, DataSourceDefinition, Format, Header, Method, check_absolute_http, hash,
};
use super::template::{self, Encoding, Template};

impl DataSourceDefinition {
    /// The concrete request of the instance that `values` select (I13). Names without a
    /// value are reported and left in place. A value that would break the request (a line
    /// break in a header, a URL that no longer parses) is FAILED_PRECONDITION.
    pub fn resolve(&self, values: &BTreeMap<String, String>) -> Result<ResolvedRequest, ApiError> {
        let mut used = Vec::new();
        let mut unresolved = Vec::new();
        let mut render = |text: &str, encoding: Encoding| {
            // Stored definitions were checked, so their templates parse.
            let template = template::parse(text).unwrap_or_else(|_| literal());
            for name in template.properties() {
                if !used.iter().any(|n| n == name) {
                    used.push(name.to_owned());
                }
                // A URL value of dots alone would be a `.` or `..` path segment, which URL
                // parsing removes with the segment before it: the request would leave the
                // path the data source's author wrote (with its token, I14).
                if encoding == Encoding::UrlComponent
                    && values
                        .get(name)
                        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c == '.'))
                {
                    return Err(ApiError::precondition(
                        "PROPERTY_VALUE",
                        format!("props.{name}"),
                        "a value of dots alone cannot go into a URL: it would change the path",
                    ));
                }
                if encoding == Encoding::Raw
                    && values
                        .get(name)
                        .is_some_and(|v| v.chars().any(|c| c.is_control() && c != '\t'))
                {
                    return Err(ApiError::precondition(
                        "PROPERTY_VALUE",
                        format!("props.{name}"),
                        "the value contains control characters, which a header, body or rate-limit key template cannot carry",
                    ));
                }
            }
            let rendered = template.render(values, encoding);
            for name in rendered.unresolved {
                if !unresolved.contains(&name) {
                    unresolved.push(name);
                }
            }
            Ok(rendered.text)
        };
        let url = render(&self.url, Encoding::UrlComponent)?;
        let headers = self
            .headers
            .iter()
            .map(|h| {
                Ok(Header {
                    name: h.name.clone(),
                    value: render(&h.value, Encoding::Raw)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let body = render(&self.body, Encoding::Raw)?;
        let rate_limit_key = render(&self.rate_limit_key, Encoding::Raw)?;
        if unresolved.is_empty()
            && let Err(problem) = check_absolute_http(&url)
        {
            return Err(ApiError::precondition(
                "RESOLVED_URL",
                "request.url",
                format!("with the account's property values the URL is not valid: {problem}"),
            ));
        }
        let instance_key = instance_key(self.method, &url, &headers, &body, self.format, self.auth);
        Ok(ResolvedRequest {
            method: self.method,
            url,
            headers,
            body,
            rate_limit_key,
            instance_key,
            used,
            unresolved,
        })
    }
}

/// A data source's request for one account and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: String,
    pub rate_limit_key: String,
    /// Names the cached data-source instance: equal keys are identical fetches.
    pub instance_key: String,
    /// Property names used, in template order.
    pub used: Vec<String>,
    /// Names without a value.
    pub unresolved: Vec<String>,
}

/// SHA-256 (hex) of a resolved request and its auth identity (credential or token id).
fn instance_key(
    method: Method,
    url: &str,
    headers: &[Header],
    body: &str,
    format: Format,
    auth: Auth,
) -> String {
    hash(&Canonical {
        credential_id: Some(auth.credential_id()),
        ..Canonical::request(method, url, headers, body, format, auth)
    })
}

fn literal() -> Template<'static> {
    template::parse("").expect("the empty template parses")
}
