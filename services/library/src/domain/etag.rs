//! Etags: opaque tokens that change with every change of a resource.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

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
}
