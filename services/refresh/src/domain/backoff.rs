//! Backoff after failed refreshes (F8): by default 5 minutes after 1 consecutive failure,
//! 30 minutes after 3, 6 hours after 5, and disabled after 20. Every number is a setting.

use std::str::FromStr;
use std::time::Duration;

/// `failures:duration` steps, sorted by failures: from that many consecutive failures on,
/// the instance waits that long before its next refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffSteps(pub Vec<(u32, Duration)>);

impl FromStr for BackoffSteps {
    type Err = String;

    /// Parses `1:5m,3:30m,5:6h`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut steps = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (failures, wait) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}` is not `failures:duration` (e.g. 3:30m)"))?;
            let failures: u32 = failures
                .trim()
                .parse()
                .map_err(|_| format!("`{failures}` is not a number of failures"))?;
            if failures == 0 {
                return Err("a backoff step starts at 1 failure or more".into());
            }
            steps.push((failures, crate::settings::parse_duration(wait)?));
        }
        steps.sort_by_key(|(failures, _)| *failures);
        Ok(BackoffSteps(steps))
    }
}

/// What happens to an instance after a failed refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Wait this long before the next scheduled refresh.
    BackOff(Duration),
    /// Too many consecutive failures: no more scheduled refreshes until RefreshNow.
    Disable,
}

#[derive(Debug, Clone)]
pub struct BackoffPolicy {
    steps: Vec<(u32, Duration)>,
    disable_after: u32,
}

impl BackoffPolicy {
    pub fn new(steps: BackoffSteps, disable_after: u32) -> Self {
        Self {
            steps: steps.0,
            disable_after: disable_after.max(1),
        }
    }

    pub fn disable_after(&self) -> u32 {
        self.disable_after
    }

    /// The consequence of reaching `failures` consecutive failures.
    pub fn after(&self, failures: u32) -> AfterFailure {
        if failures >= self.disable_after {
            return AfterFailure::Disable;
        }
        let wait = self
            .steps
            .iter()
            .rev()
            .find(|(from, _)| failures >= *from)
            .map(|(_, wait)| *wait)
            .unwrap_or_default();
        AfterFailure::BackOff(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> BackoffPolicy {
        BackoffPolicy::new("1:5m,3:30m,5:6h".parse().unwrap(), 20)
    }

    #[test]
    fn the_default_steps_are_those_of_f8() {
        let policy = default_policy();
        let minutes = |m: u64| AfterFailure::BackOff(Duration::from_secs(m * 60));
        assert_eq!(policy.after(1), minutes(5));
        assert_eq!(policy.after(2), minutes(5));
        assert_eq!(policy.after(3), minutes(30));
        assert_eq!(policy.after(4), minutes(30));
        assert_eq!(policy.after(5), minutes(360));
        assert_eq!(policy.after(19), minutes(360));
        assert_eq!(policy.after(20), AfterFailure::Disable);
        assert_eq!(policy.after(21), AfterFailure::Disable);
    }

    #[test]
    fn steps_parse_in_any_order_and_reject_nonsense() {
        let steps: BackoffSteps = "3:2s, 1:500ms".parse().unwrap();
        assert_eq!(
            steps.0,
            vec![(1, Duration::from_millis(500)), (3, Duration::from_secs(2))]
        );
        assert!("0:5m".parse::<BackoffSteps>().is_err());
        assert!("five:5m".parse::<BackoffSteps>().is_err());
        assert!("1-5m".parse::<BackoffSteps>().is_err());
    }
}
