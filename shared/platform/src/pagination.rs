//! `page_size` / `page_token` pagination (AIP-158).
//!
//! A page token is opaque to callers: the base64 of the last key of the previous page, so a
//! page is a keyset query (`WHERE key > last ORDER BY key LIMIT size + 1`), stable while rows
//! are added or removed. [`PageKey`] types the key ([`PageRequest::after_key`]), so a
//! handler never parses a token by hand; [`collect_pages`] pages through another service's
//! List call.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to return.
    pub size: i64,
    /// The key after which the page starts, if any.
    pub after: Option<String>,
}

impl PageRequest {
    /// `page_size` 0 means the default; negative is invalid; above the maximum is clamped.
    pub fn parse(page_size: i32, page_token: &str) -> ApiResult<Self> {
        if page_size < 0 {
            return Err(ApiError::invalid("page_size", "must not be negative"));
        }
        let size = match i64::from(page_size) {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let after =
            if page_token.is_empty() {
                None
            } else {
                let bytes = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| {
                    ApiError::invalid("page_token", "not a token this service issued")
                })?;
                Some(String::from_utf8(bytes).map_err(|_| {
                    ApiError::invalid("page_token", "not a token this service issued")
                })?)
            };
        Ok(Self { size, after })
    }

    /// The typed key after which the page starts; a token that does not hold one is the
    /// caller's mistake.
    pub fn after_key<K: PageKey>(&self) -> ApiResult<Option<K>> {
        self.after
            .as_deref()
            .map(|text| {
                K::from_token(text).ok_or_else(|| {
                    ApiError::invalid("page_token", "not a token this service issued")
                })
            })
            .transpose()
    }

    /// [`Self::after_key`] for lists keyed by id.
    pub fn after_id(&self) -> ApiResult<Option<Uuid>> {
        self.after_key()
    }

    /// [`Self::finish`] with a typed key.
    pub fn finish_keyed<T, K: PageKey>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> K) -> String {
        self.finish(rows, |row| key(row).to_token())
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.size + 1
    }

    /// Cuts `rows` (fetched with [`Self::fetch_limit`]) to the page and returns the token of
    /// the next page, empty when this is the last.
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            rows.last()
                .map(|row| URL_SAFE_NO_PAD.encode(key(row)))
                .unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// A list's sort key, as it travels inside a page token.
pub trait PageKey: Sized {
    fn to_token(&self) -> String;
    fn from_token(text: &str) -> Option<Self>;
}

impl PageKey for Uuid {
    fn to_token(&self) -> String {
        self.to_string()
    }
    fn from_token(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok()
    }
}

impl PageKey for String {
    fn to_token(&self) -> String {
        self.clone()
    }
    fn from_token(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl PageKey for i64 {
    fn to_token(&self) -> String {
        self.to_string()
    }
    fn from_token(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl PageKey for DateTime<Utc> {
    fn to_token(&self) -> String {
        self.timestamp_micros().to_string()
    }
    fn from_token(text: &str) -> Option<Self> {
        DateTime::from_timestamp_micros(text.parse().ok()?)
    }
}

/// Two keys, for lists sorted by one column and then by id: `a` and `b` joined by a unit
/// separator (which no key of the first kind holds).
impl<A: PageKey, B: PageKey> PageKey for (A, B) {
    fn to_token(&self) -> String {
        format!("{}\u{1f}{}", self.0.to_token(), self.1.to_token())
    }
    fn from_token(text: &str) -> Option<Self> {
        let (a, b) = text.rsplit_once('\u{1f}')?;
        Some((A::from_token(a)?, B::from_token(b)?))
    }
}

/// Every item of another service's List call, page after page: `page(token)` asks for the
/// page after `token` (empty: the first) and answers its items and the next token. Stops
/// after `max_items`, so a peer that never stops paging cannot hold the caller forever.
pub async fn collect_pages<T, E, F, Fut>(max_items: usize, mut page: F) -> Result<Vec<T>, E>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), E>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (mut batch, next) = page(token).await?;
        items.append(&mut batch);
        if next.is_empty() || items.len() >= max_items {
            items.truncate(max_items);
            return Ok(items);
        }
        token = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_the_last_page_has_none() {
        let first = PageRequest::parse(2, "").unwrap();
        let mut rows = vec!["a", "b", "c"];
        let token = first.finish(&mut rows, |r| r.to_string());
        assert_eq!(rows, ["a", "b"]);
        let next = PageRequest::parse(2, &token).unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        let mut last = vec!["c"];
        assert_eq!(next.finish(&mut last, |r| r.to_string()), "");
    }

    #[test]
    fn bad_sizes_and_tokens_are_invalid_arguments() {
        assert!(matches!(
            PageRequest::parse(-1, ""),
            Err(ApiError::InvalidArgument(_))
        ));
        assert!(matches!(
            PageRequest::parse(10, "%%%"),
            Err(ApiError::InvalidArgument(_))
        ));
        assert_eq!(PageRequest::parse(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(PageRequest::parse(5000, "").unwrap().size, MAX_PAGE_SIZE);
    }

    #[test]
    fn typed_keys_round_trip_and_foreign_tokens_are_refused() {
        let id = Uuid::new_v4();
        let page = PageRequest::parse(1, "").unwrap();
        let mut rows = vec![("b".to_owned(), id), ("c".to_owned(), Uuid::new_v4())];
        let token = page.finish_keyed(&mut rows, |row| row.clone());
        let next = PageRequest::parse(1, &token).unwrap();
        assert_eq!(
            next.after_key::<(String, Uuid)>().unwrap(),
            Some(("b".into(), id))
        );
        assert!(next.after_id().is_err(), "a composite key is no id");
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(DateTime::<Utc>::from_token(&at.to_token()), Some(at));
    }

    #[tokio::test]
    async fn collect_pages_follows_tokens_and_stops_at_the_cap() {
        let pages = |token: String| async move {
            let start: usize = token.parse().unwrap_or(0);
            Ok::<_, ()>((
                (start..start + 2).collect::<Vec<_>>(),
                (start + 2).to_string(),
            ))
        };
        assert_eq!(collect_pages(5, pages).await.unwrap(), vec![0, 1, 2, 3, 4]);
        let two = |token: String| async move {
            Ok::<_, ()>(if token.is_empty() {
                (vec![1], "next".to_owned())
            } else {
                (vec![2], String::new())
            })
        };
        assert_eq!(collect_pages(100, two).await.unwrap(), vec![1, 2]);
    }
}
