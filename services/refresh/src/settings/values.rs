//! The values of settings that are more than a number or a duration: how the SMTP relay is
//! reached, a secret that never shows in logs, and the waits between report retries.

use std::time::Duration;

use super::parse_duration;

/// How the connection to the SMTP relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpTls {
    /// Plain text: only for a trusted relay on the same host or network.
    None,
    /// Plain text upgraded with STARTTLS, which is required.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// A secret setting: its `Debug` never shows it, so logging the settings leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret(text.to_owned()))
    }
}

/// The waits before each retry of a report send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryWaits(pub Vec<Duration>);

impl RetryWaits {
    /// The wait before retrying after `failed` failed attempts, or `None` when no retry is
    /// left.
    pub fn after(&self, failed: u32) -> Option<Duration> {
        let index = usize::try_from(failed).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }
}

impl std::str::FromStr for RetryWaits {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("none") {
            return Ok(RetryWaits(Vec::new()));
        }
        text.split(',')
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()
            .map(RetryWaits)
    }
}
