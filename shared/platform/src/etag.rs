//! Etags: opaque tokens that change with every change of a resource, and the optimistic
//! concurrency check of a change made against what the caller read (AIP-154).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// The etag of the resource identified by `key` at `revision`. The creation time is mixed
/// in so that a resource deleted and created again under the same name (a company property,
/// a variable) does not match an etag of its predecessor.
pub fn etag(key: &str, revision: i64, created_at: DateTime<Utc>) -> String {
    let digest = Sha256::digest(format!(
        "{key}\u{1f}{revision}\u{1f}{}",
        created_at.timestamp_micros()
    ));
    hex::encode(&digest[..8])
}

/// True when the caller sent no etag, or the current one.
pub fn matches(sent: &str, current: &str) -> bool {
    sent.is_empty() || sent == current
}

/// A change made against what the caller read: `sent` (the caller's etag, empty for none)
/// must still match `current`, or the call is ABORTED and changes nothing.
pub fn require(sent: &str, current: &str, what: &str) -> ApiResult<()> {
    if matches(sent, current) {
        Ok(())
    } else {
        Err(ApiError::Aborted(format!(
            "the {what} changed since it was read; read it again"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_changes_with_the_revision_and_the_creation() {
        let now = Utc::now();
        let first = etag("a", 1, now);
        assert_eq!(first, etag("a", 1, now));
        assert_ne!(first, etag("a", 2, now));
        assert_ne!(first, etag("a", 1, now + chrono::Duration::seconds(1)));
        assert!(matches("", &first));
        assert!(!matches("stale", &first));
    }

    #[test]
    fn a_stale_etag_is_aborted() {
        assert!(require("", "abc", "Klip").is_ok());
        assert!(require("abc", "abc", "Klip").is_ok());
        let error = require("old", "abc", "Klip").unwrap_err();
        assert_eq!(error.code(), tonic::Code::Aborted);
        assert!(error.to_string().contains("Klip"), "{error}");
    }
}
