//! T2: providers keep a limited number of tokens per external user and OAuth client, and
//! silently invalidate the oldest when one more is created. Near the limit an answer warns;
//! past it the provider's victims are marked INVALIDATED_BY_PROVIDER.

use super::{Warning, WarningKind};

/// A provider's per-user limit; `max` 0 means none.
#[derive(Debug, Clone, Copy)]
pub struct UserLimit<'a> {
    pub provider_name: &'a str,
    pub max: i32,
    /// The count at which to warn; 0 means the limit less 10%.
    pub warn: i32,
}

impl UserLimit<'_> {
    /// The count at which to warn: the provider's setting, or the limit less 10%.
    pub fn warn_threshold(&self) -> i64 {
        let max = i64::from(self.max);
        match i64::from(self.warn) {
            0 => (max - max / 10).max(1),
            warn => warn,
        }
    }

    /// How many of the oldest tokens the provider has dropped once the user holds `count`.
    pub fn excess(&self, count: i64) -> i64 {
        match i64::from(self.max) {
            0 => 0,
            max => (count - max).max(0),
        }
    }

    /// The status message of a token the provider dropped for a newer one.
    pub fn invalidation_message(&self) -> String {
        format!(
            "{} keeps at most {} tokens per user; a newer authorization of the same user made \
             it drop this one",
            self.provider_name, self.max
        )
    }

    /// What to warn of once the user holds `count` tokens, if anything.
    pub fn warning(&self, count: i64) -> Option<Warning> {
        let max = i64::from(self.max);
        let name = self.provider_name;
        let (kind, message) = if max == 0 {
            return None;
        } else if count > max {
            (
                WarningKind::LimitExceeded,
                format!(
                    "this authorization made {count} tokens of {name} for this user, over its \
                     limit of {max}: the provider has invalidated the oldest, now marked \
                     INVALIDATED_BY_PROVIDER"
                ),
            )
        } else if count == max {
            (
                WarningKind::NearLimit,
                format!(
                    "this user now has {count} tokens of {name}, its limit: the next \
                     authorization will invalidate the oldest"
                ),
            )
        } else if count >= self.warn_threshold() {
            (
                WarningKind::NearLimit,
                format!("this user now has {count} tokens of {name}, close to its limit of {max}"),
            )
        } else {
            return None;
        };
        Some(Warning {
            kind,
            message,
            token_count: count as i32,
            token_limit: self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_near_the_limit_and_drops_past_it() {
        let limit = UserLimit {
            provider_name: "P",
            max: 10,
            warn: 0,
        };
        assert_eq!(limit.warn_threshold(), 9);
        assert_eq!(limit.warning(8), None);
        assert_eq!(
            limit.warning(9).map(|w| w.kind),
            Some(WarningKind::NearLimit)
        );
        assert_eq!(
            limit.warning(10).map(|w| w.kind),
            Some(WarningKind::NearLimit)
        );
        assert_eq!(
            limit.warning(11).map(|w| w.kind),
            Some(WarningKind::LimitExceeded)
        );
        assert_eq!((limit.excess(10), limit.excess(12)), (0, 2));
        let unlimited = UserLimit { max: 0, ..limit };
        assert_eq!((unlimited.warning(100), unlimited.excess(100)), (None, 0));
    }
}
