//! The library's settings, beside the common ones (docs/library.md "Settings"). Each is an
//! environment variable and a flag (`trellis-library --help`). Durations are written like
//! `90s`, `15m`, `3h`, `7d`.

use std::time::Duration;

use trellis_platform::config::parse_duration;

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// How long an embed's render is served from the render cache when the embed sets no
    /// `max_age` of its own (F6: three hours).
    #[arg(long, env = "TRELLIS_EMBED_MAX_AGE", default_value = "3h", value_parser = parse_duration)]
    pub embed_max_age: Duration,

    /// The longest `max_age` an embed may set.
    #[arg(long, env = "TRELLIS_EMBED_MAX_AGE_LIMIT", default_value = "7d", value_parser = parse_duration)]
    pub embed_max_age_limit: Duration,

    /// How long a background re-render of a stale embed (stale-while-revalidate) keeps other
    /// views and replicas from starting another one.
    #[arg(long, env = "TRELLIS_EMBED_REVALIDATION_LEASE", default_value = "1m", value_parser = parse_duration)]
    pub embed_revalidation_lease: Duration,

    /// Bindings whose cached data one render reads from the refresh service at once.
    #[arg(long, env = "TRELLIS_RENDER_FETCH_CONCURRENCY", default_value_t = 8)]
    pub render_fetch_concurrency: usize,

    /// Formula steps one component's evaluation may take (docs/formulas.md "Limits"); past
    /// them the component has an error.
    #[arg(long, env = "TRELLIS_FORMULA_MAX_STEPS", default_value_t = trellis_formula::DEFAULT_MAX_STEPS)]
    pub formula_max_steps: u64,

    /// Bytes of values one component's evaluation may build; past them the component has an
    /// error.
    #[arg(long, env = "TRELLIS_FORMULA_MAX_BYTES", default_value_t = trellis_formula::DEFAULT_MAX_BYTES)]
    pub formula_max_bytes: u64,

    /// Formula steps all the components of one render may take together; the components
    /// past them have an error.
    #[arg(long, env = "TRELLIS_RENDER_MAX_STEPS", default_value_t = 100_000_000)]
    pub render_max_steps: u64,

    /// Bytes of values all the components of one render may build together.
    #[arg(long, env = "TRELLIS_RENDER_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub render_max_bytes: u64,

    /// Renders evaluating at once in this process (default: twice the CPUs); the others
    /// wait their turn, and stop waiting when their caller goes.
    #[arg(long, env = "TRELLIS_RENDER_CONCURRENCY", default_value_t = default_render_concurrency())]
    pub render_concurrency: usize,
}

fn default_render_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |cpus| cpus.get() * 2)
}

impl Settings {
    /// The budget of each component's evaluation.
    pub fn formula_budget(&self) -> trellis_formula::Budget {
        trellis_formula::Budget {
            max_steps: self.formula_max_steps,
            max_bytes: self.formula_max_bytes,
            cancel: None,
        }
    }
}

impl Settings {
    /// What all the components of one render may spend together.
    pub fn render_budget(&self) -> crate::domain::render::RenderBudget {
        crate::domain::render::RenderBudget {
            max_steps: self.render_max_steps,
            max_bytes: self.render_max_bytes,
        }
    }
}

impl Default for Settings {
    /// The defaults above (and whatever the environment sets).
    fn default() -> Self {
        trellis_platform::config::defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_render_cache_age_is_three_hours() {
        // F6: "rendered within the last three hours".
        assert_eq!(
            Settings::default().embed_max_age,
            Duration::from_secs(3 * 3600)
        );
    }
}
