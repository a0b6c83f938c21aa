//! Data-source instances (I13): a definition resolved with one account's and user's
//! property values and the day in the account's time zone into a concrete request, named
//! by its instance key.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use trellis_platform::error::ApiError;

use super::data_source::{
    Canonical, DataSourceDefinition, Header, Method, check_absolute_http, hash,
};
use super::dates::{self, DateRange, DateSpan, DateValues};
use super::template::{self, Encoding, Values};

impl DataSourceDefinition {
    /// Today in `zone` at `now` and the range the templates' `{date.range.*}` stand for:
    /// the data source's own, or `narrow` within it. A narrowing that does not parse, lies
    /// outside the data source's range or has nothing to narrow is INVALID_ARGUMENT on
    /// `date_range`; an own range that starts after it ends (`start_of_month` to `yesterday`
    /// on the 1st) is FAILED_PRECONDITION.
    pub fn date_values(
        &self,
        now: DateTime<Utc>,
        zone: Tz,
        narrow: Option<&DateRange>,
    ) -> Result<DateValues, ApiError> {
        let mut values = DateValues::at(now, zone);
        let today = values.today;
        let Some(range) = &self.date_range else {
            return match narrow {
                None => Ok(values),
                Some(_) => Err(ApiError::invalid(
                    "date_range",
                    "the data source declares no date range to narrow",
                )),
            };
        };
        let own_end = |text: &str, end: &str| {
            dates::range_end(text, today, None).map_err(|problem| {
                ApiError::precondition(
                    "DATE_RANGE",
                    format!("data_source.date_range.{end}"),
                    problem,
                )
            })
        };
        let own = DateSpan {
            start: own_end(&range.start, "start")?,
            end: own_end(&range.end, "end")?,
        };
        if own.start > own.end {
            return Err(ApiError::precondition(
                "DATE_RANGE",
                "data_source.date_range",
                format!(
                    "on {today} in {zone} the range starts ({}) after it ends ({})",
                    own.start, own.end
                ),
            ));
        }
        let span = match narrow {
            None => own,
            Some(narrow) => {
                let end = |text: &str, end: &str| {
                    dates::range_end(text, today, Some(own))
                        .map_err(|problem| ApiError::invalid(format!("date_range.{end}"), problem))
                };
                let span = DateSpan {
                    start: end(&narrow.start, "start")?,
                    end: end(&narrow.end, "end")?,
                };
                if span.start > span.end {
                    return Err(ApiError::invalid(
                        "date_range",
                        format!("starts ({}) after it ends ({})", span.start, span.end),
                    ));
                }
                if !own.contains(&span) {
                    return Err(ApiError::invalid(
                        "date_range",
                        format!(
                            "must lie within the data source's range ({own} on {today} in \
                             {zone}); {span} does not"
                        ),
                    ));
                }
                span
            }
        };
        values.range = Some(span);
        Ok(values)
    }

    /// The concrete request of the instance that `values` and `dates` select (I13). Names
    /// without a value are reported and left in place, and so is every `{token.NAME}` (the
    /// refresh service fills them). A value that would break the request (a line break in
    /// a header, a URL that no longer parses) is FAILED_PRECONDITION.
    pub fn resolve(
        &self,
        values: &BTreeMap<String, String>,
        dates: &DateValues,
    ) -> Result<ResolvedRequest, ApiError> {
        let mut used = Vec::new();
        let mut unresolved = Vec::new();
        let context = Values {
            properties: values,
            dates,
        };
        let mut render = |field: &str, text: &str, encoding: Encoding| {
            // Stored definitions were checked, so their templates parse; one saved before a
            // placeholder syntax existed may not.
            let template = template::parse(text).map_err(|error| {
                ApiError::precondition(
                    "STORED_TEMPLATE",
                    field,
                    format!("the stored template no longer parses ({error}); save it again"),
                )
            })?;
            for name in template.properties() {
                if !used.iter().any(|n| n == name) {
                    used.push(name.to_owned());
                }
                check_value(name, values.get(name), encoding)?;
            }
            let rendered = template
                .render(context, encoding)
                .map_err(|problem| ApiError::precondition("DATE", field, problem))?;
            for name in rendered.unresolved {
                if !unresolved.contains(&name) {
                    unresolved.push(name);
                }
            }
            Ok::<_, ApiError>(rendered.text)
        };
        let url = render("request.url", &self.url, Encoding::UrlComponent)?;
        let headers = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let field = format!("request.headers[{i}].value");
                Ok(Header {
                    name: h.name.clone(),
                    value: render(&field, &h.value, Encoding::Raw)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let body = render("request.body", &self.body, Encoding::Raw)?;
        let rate_limit_key = render("rate_limit_key", &self.rate_limit_key, Encoding::Raw)?;
        let token_parameters = self.token_parameters();
        if unresolved.is_empty()
            && let Err(problem) = check_absolute_http(&url_shape(&url, &token_parameters))
        {
            return Err(ApiError::precondition(
                "RESOLVED_URL",
                "request.url",
                format!("with the account's property values the URL is not valid: {problem}"),
            ));
        }
        let instance_key = hash(&Canonical {
            credential_id: Some(self.auth.credential_id()),
            ..Canonical::request(
                self.method,
                &url,
                &headers,
                &body,
                self.format,
                self.auth,
                self.pagination.as_ref(),
            )
        });
        Ok(ResolvedRequest {
            method: self.method,
            url,
            headers,
            body,
            rate_limit_key,
            instance_key,
            used,
            unresolved,
            date_range: dates.range,
            token_parameters,
        })
    }
}

/// Refuses a property value that would change a URL's path or break a header or body.
fn check_value(name: &str, value: Option<&String>, encoding: Encoding) -> Result<(), ApiError> {
    // A URL value of dots alone would be a `.` or `..` path segment, which URL parsing
    // removes with the segment before it: the request would leave the path the data
    // source's author wrote (with its token, I14).
    if encoding == Encoding::UrlComponent
        && value.is_some_and(|v| !v.is_empty() && v.chars().all(|c| c == '.'))
    {
        return Err(ApiError::precondition(
            "PROPERTY_VALUE",
            format!("props.{name}"),
            "a value of dots alone cannot go into a URL: it would change the path",
        ));
    }
    if encoding == Encoding::Raw
        && value.is_some_and(|v| v.chars().any(|c| c.is_control() && c != '\t'))
    {
        return Err(ApiError::precondition(
            "PROPERTY_VALUE",
            format!("props.{name}"),
            "the value contains control characters, which a header, body or rate-limit key template cannot carry",
        ));
    }
    Ok(())
}

/// The resolved URL with each `{token.NAME}` standing for what it will be: a base URL at
/// the start, a plain value elsewhere (as the save-time check has it).
fn url_shape(url: &str, tokens: &[String]) -> String {
    let mut shape = url.to_owned();
    for name in tokens {
        let placeholder = format!("{{token.{name}}}");
        if shape.starts_with(&placeholder) {
            shape.replace_range(..placeholder.len(), "https://x");
        }
        shape = shape.replace(&placeholder, "x");
    }
    shape
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
    /// The days of `{date.range.*}`, when the data source has a range.
    pub date_range: Option<DateSpan>,
    /// `{token.NAME}` names left in the request, sorted and unique.
    pub token_parameters: Vec<String>,
}
