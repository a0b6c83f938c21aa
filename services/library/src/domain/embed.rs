//! Embeds (F6): an unguessable id that is the capability to view one Klip, and the rule
//! that decides whether a view is served from the embed's render cache.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;

/// Random bytes in an embed id: 192 bits, well past the 128 the contract asks for, so ids
/// can be neither guessed nor enumerated.
pub const EMBED_ID_BYTES: usize = 24;
const _: () = assert!(
    EMBED_ID_BYTES * 8 >= 128,
    "the contract asks for 128 bits at least"
);
/// Characters of an embed id (base64url without padding).
pub const EMBED_ID_CHARS: usize = 32;
/// The shortest `max_age` an embed may set; shorter would render on nearly every view.
pub const MIN_MAX_AGE: Duration = Duration::from_secs(1);

/// A new embed id from the operating system's CSPRNG-seeded generator: URL-safe
/// (`A–Z a–z 0–9 - _`), so it goes into a web address as it is.
pub fn new_embed_id() -> String {
    let mut bytes = [0u8; EMBED_ID_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// True for text shaped like an id [`new_embed_id`] makes.
pub fn is_embed_id(text: &str) -> bool {
    text.len() == EMBED_ID_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks an embed's own `max_age`: at least [`MIN_MAX_AGE`], at most `limit`.
pub fn check_max_age(max_age: Duration, limit: Duration) -> Result<(), String> {
    if max_age < MIN_MAX_AGE {
        Err("must be at least 1 second".into())
    } else if max_age > limit {
        Err(format!("must be at most {} seconds", limit.as_secs()))
    } else {
        Ok(())
    }
}

/// An embed's cached render, as far as the serving rule cares.
#[derive(Debug, Clone, Copy)]
pub struct CachedRender {
    pub rendered_at: DateTime<Utc>,
    pub klip_version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheVerdict {
    /// Rendered less than `max_age` ago from the Klip as it is: serve it (F6).
    Fresh { age: Duration },
    /// Too old, or rendered from an earlier version of the Klip.
    Stale { age: Duration },
    /// Never rendered.
    Missing,
}

/// Whether `cached` may be served at `now`. A render of an older Klip version is stale
/// whatever its age: an updated Klip (I9) shows its new formulas at the next view rather
/// than up to `max_age` later.
pub fn verdict(
    cached: Option<CachedRender>,
    klip_version: i64,
    now: DateTime<Utc>,
    max_age: Duration,
) -> CacheVerdict {
    let Some(cached) = cached else {
        return CacheVerdict::Missing;
    };
    let age = (now - cached.rendered_at)
        .to_std()
        .unwrap_or(Duration::ZERO);
    if cached.klip_version == klip_version && age < max_age {
        CacheVerdict::Fresh { age }
    } else {
        CacheVerdict::Stale { age }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const THREE_HOURS: Duration = Duration::from_secs(3 * 3600);

    #[test]
    fn ids_are_url_safe_long_and_distinct() {
        let ids: HashSet<String> = (0..1000).map(|_| new_embed_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), EMBED_ID_CHARS);
            assert!(is_embed_id(id), "{id}");
        }
        assert!(!is_embed_id("not an id"));
        assert!(!is_embed_id(&"a".repeat(31)));
        assert!(!is_embed_id(&format!("{}=", "a".repeat(31))));
    }

    #[test]
    fn max_age_has_bounds() {
        let week = Duration::from_secs(7 * 86_400);
        assert!(check_max_age(THREE_HOURS, week).is_ok());
        assert!(check_max_age(Duration::from_millis(500), week).is_err());
        assert!(check_max_age(week + Duration::from_secs(1), week).is_err());
    }

    #[test]
    fn a_render_younger_than_max_age_is_served() {
        // F6: rendered within the last three hours -> the cached render.
        let now = Utc::now();
        let rendered = |ago: Duration| {
            Some(CachedRender {
                rendered_at: now - chrono::Duration::from_std(ago).unwrap(),
                klip_version: 2,
            })
        };
        let almost = THREE_HOURS - Duration::from_secs(1);
        assert_eq!(
            verdict(rendered(almost), 2, now, THREE_HOURS),
            CacheVerdict::Fresh { age: almost }
        );
        assert_eq!(
            verdict(rendered(THREE_HOURS), 2, now, THREE_HOURS),
            CacheVerdict::Stale { age: THREE_HOURS }
        );
        assert_eq!(verdict(None, 2, now, THREE_HOURS), CacheVerdict::Missing);
    }

    #[test]
    fn a_render_of_an_older_klip_version_is_stale() {
        let now = Utc::now();
        let cached = Some(CachedRender {
            rendered_at: now,
            klip_version: 1,
        });
        assert_eq!(
            verdict(cached, 2, now, THREE_HOURS),
            CacheVerdict::Stale {
                age: Duration::ZERO
            }
        );
    }

    #[test]
    fn a_render_from_the_future_counts_as_new() {
        let now = Utc::now();
        let cached = Some(CachedRender {
            rendered_at: now + chrono::Duration::minutes(1),
            klip_version: 1,
        });
        assert_eq!(
            verdict(cached, 1, now, THREE_HOURS),
            CacheVerdict::Fresh {
                age: Duration::ZERO
            }
        );
    }
}
