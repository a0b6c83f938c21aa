//! Following the pages of a paginated API, the pure parts: the URL of the first page and of
//! the page after one just read (by next link, page number, offset or cursor), when the
//! pages end, and the pages combined into one dataset (JSON: the first page with every
//! page's records at `items_path`; CSV: every page's rows under the first page's header).
//! Fetching them is `run`'s part.

use serde_json::Value;
use url::Url;

use super::parse::Bounds;
use super::secrets::same_destination;
use crate::domain::job::DataFormat;

/// Pages fetched at most when the data source says 0.
pub const DEFAULT_MAX_PAGES: u32 = 10;

/// How a data source's pages are followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub style: Style,
    /// Where a JSON page's records are (`data/items`); empty: the page is the array.
    pub items_path: String,
    /// Pages fetched at most (0: [`DEFAULT_MAX_PAGES`]); a page past it fails the fetch.
    pub max_pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// The next page's URL at `path` of the JSON page, or the `Link` header when empty.
    NextLink { path: String },
    /// `parameter` = `first_page`, `first_page` + 1, …
    PageNumber { parameter: String, first_page: i64 },
    /// `parameter` = 0, `page_size`, 2·`page_size`, … (and `limit_parameter` = `page_size`).
    Offset {
        parameter: String,
        limit_parameter: String,
        page_size: u32,
    },
    /// `parameter` = the cursor at `path` of the page before.
    Cursor { parameter: String, path: String },
}

/// `url` with `name=value` appended to its query, the rest of the query kept as it is.
pub fn append_query(url: &mut Url, name: &str, value: &str) {
    let pair = format!("{}={}", encode(name), encode(value));
    let query = match url.query() {
        Some(query) if !query.is_empty() => format!("{query}&{pair}"),
        _ => pair,
    };
    url.set_query(Some(&query));
}

/// `url` with every `name` parameter dropped and `name=value` appended.
pub fn set_query(url: &mut Url, name: &str, value: &str) {
    let kept: Vec<&str> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|piece| !piece.is_empty())
        .filter(|piece| {
            url::form_urlencoded::parse(piece.as_bytes())
                .next()
                .is_none_or(|(key, _)| key != name)
        })
        .collect();
    let kept = kept.join("&");
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.set_query(Some(&kept));
    }
    append_query(url, name, value);
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The value at a `/`-separated path (`data/items`; a number indexes an array); the value
/// itself for an empty path.
pub fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('/')
        .filter(|step| !step.is_empty())
        .try_fold(value, |value, step| match value {
            Value::Object(fields) => fields.get(step),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn at_path_mut<'v>(value: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    path.split('/')
        .filter(|step| !step.is_empty())
        .try_fold(value, |value, step| match value {
            Value::Object(fields) => fields.get_mut(step),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        })
}

/// The URL of the first page.
pub fn first_url(paging: Option<&Paging>, url: &Url) -> Url {
    let mut first = url.clone();
    match paging.map(|p| &p.style) {
        Some(Style::PageNumber {
            parameter,
            first_page,
        }) => set_query(&mut first, parameter, &first_page.to_string()),
        Some(Style::Offset {
            parameter,
            limit_parameter,
            page_size,
        }) => {
            set_query(&mut first, parameter, "0");
            if !limit_parameter.is_empty() {
                set_query(&mut first, limit_parameter, &page_size.to_string());
            }
        }
        Some(Style::NextLink { .. } | Style::Cursor { .. }) | None => {}
    }
    first
}

/// The records of a page (`number` counts from 1): the items at `items_path` of a JSON
/// page (none when missing or null), the rows after the header of a CSV page.
pub fn records(
    paging: &Paging,
    format: DataFormat,
    data: &Value,
    number: u32,
) -> Result<usize, String> {
    match format {
        DataFormat::Csv => Ok(data
            .as_array()
            .map_or(0, |rows| rows.len().saturating_sub(1))),
        DataFormat::Json => match at_path(data, &paging.items_path) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Array(items)) => Ok(items.len()),
            Some(_) => Err(format!(
                "page {number} of the response has no list of records at {}",
                items_place(&paging.items_path)
            )),
        },
    }
}

fn items_place(items_path: &str) -> String {
    if items_path.is_empty() {
        "its top level".to_owned()
    } else {
        format!("`{items_path}`")
    }
}

/// A page just read.
pub struct Seen<'a> {
    /// The data source's own URL: next links must stay at its host and port.
    pub origin: &'a Url,
    /// This page's URL.
    pub url: &'a Url,
    pub format: DataFormat,
    pub data: &'a Value,
    /// The values of the answer's `Link` headers.
    pub links: &'a [String],
    /// 1 for the first page.
    pub number: u32,
    pub records: usize,
}

/// The URL of the page after `seen`, or `None` when the pages end: an empty page always
/// ends them, as do a missing next link or cursor and a short page by offset.
pub fn next_url(paging: &Paging, seen: &Seen<'_>) -> Result<Option<Url>, String> {
    if seen.records == 0 {
        return Ok(None);
    }
    let mut next = seen.url.clone();
    match &paging.style {
        Style::NextLink { path } => {
            let link = if path.is_empty() {
                seen.links.iter().find_map(|value| next_link_header(value))
            } else {
                text_at(seen, path)
            };
            let Some(link) = link else {
                return Ok(None);
            };
            let Ok(link) = seen.url.join(&link) else {
                return Err(format!(
                    "page {} of the response has a next link that is not a URL",
                    seen.number
                ));
            };
            if &link == seen.url {
                return Ok(None);
            }
            if same_destination(seen.origin, &link).is_err() {
                return Err(format!(
                    "page {} of the response links to its next page at another destination ({}); pages are followed only at the data source's own host and port",
                    seen.number,
                    link.host_str().unwrap_or_default()
                ));
            }
            next = link;
        }
        Style::PageNumber {
            parameter,
            first_page,
        } => {
            let number = first_page.saturating_add(i64::from(seen.number));
            set_query(&mut next, parameter, &number.to_string());
        }
        Style::Offset {
            parameter,
            page_size,
            ..
        } => {
            if seen.records < *page_size as usize {
                return Ok(None);
            }
            let offset = u64::from(*page_size) * u64::from(seen.number);
            set_query(&mut next, parameter, &offset.to_string());
        }
        Style::Cursor { parameter, path } => {
            let Some(cursor) = text_at(seen, path) else {
                return Ok(None);
            };
            set_query(&mut next, parameter, &cursor);
        }
    }
    Ok(Some(next))
}

/// A non-empty string or number at `path` of a JSON page.
fn text_at(seen: &Seen<'_>, path: &str) -> Option<String> {
    if seen.format != DataFormat::Json {
        return None;
    }
    match at_path(seen.data, path)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The target of `rel="next"` in one `Link` header value (RFC 8288), if any.
pub fn next_link_header(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params = &after[close + 1..];
        let end = params.find('<').unwrap_or(params.len());
        let is_next = params[..end].split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches(|c| c == '"' || c == ',')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim().to_owned());
        }
        rest = &params[end..];
    }
    None
}

/// The pages combined as they are read.
pub struct Combined<'a> {
    paging: Option<&'a Paging>,
    format: DataFormat,
    bounds: &'a Bounds,
    data: Option<Value>,
    /// Records (JSON) or rows (CSV, the header included) kept so far.
    rows: usize,
    pages: u32,
}

impl<'a> Combined<'a> {
    pub fn new(paging: Option<&'a Paging>, format: DataFormat, bounds: &'a Bounds) -> Self {
        Self {
            paging,
            format,
            bounds,
            data: None,
            rows: 0,
            pages: 0,
        }
    }

    /// Adds page `number`, whose `records` were counted by [`records`].
    pub fn add(&mut self, page: Value, number: u32, records: usize) -> Result<(), String> {
        self.pages += 1;
        let Some(data) = &mut self.data else {
            self.rows = match self.format {
                DataFormat::Csv => page.as_array().map_or(0, Vec::len),
                DataFormat::Json => records,
            };
            self.data = Some(page);
            return Ok(());
        };
        if records == 0 {
            return Ok(());
        }
        self.rows = self.rows.saturating_add(records);
        if self.rows > self.bounds.max_rows {
            return Err(self.bounds.too_many_rows());
        }
        let items_path = self.paging.map_or("", |p| p.items_path.as_str());
        match self.format {
            DataFormat::Csv => {
                let (Value::Array(rows), Value::Array(mut more)) = (data, page) else {
                    return Ok(());
                };
                if rows.first() != more.first() {
                    return Err(format!(
                        "page {number} of the response has another CSV header than the first page"
                    ));
                }
                rows.extend(more.drain(1..));
            }
            DataFormat::Json => {
                let mut page = page;
                let more = at_path_mut(&mut page, items_path).map(Value::take);
                let target = at_path_mut(data, items_path);
                if let (Some(Value::Array(items)), Some(Value::Array(more))) = (target, more) {
                    items.extend(more);
                }
            }
        }
        Ok(())
    }

    /// The dataset, refused when it is larger than data as cached may be.
    pub fn finish(self) -> Result<Value, String> {
        let data = self.data.unwrap_or(Value::Null);
        // One page was parsed within the bound already.
        if self.pages > 1 && super::wire_size::value_len(&data) > self.bounds.max_bytes {
            return Err(self.bounds.too_large());
        }
        Ok(data)
    }
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
