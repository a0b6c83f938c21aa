//! `page_size` / `page_token` pagination (AIP-158).
//!
//! A page token is opaque to callers: the base64 of the last key of the previous page, so a
//! page is a keyset query (`WHERE key > last ORDER BY key LIMIT size + 1`), stable while rows
//! are added or removed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
}
