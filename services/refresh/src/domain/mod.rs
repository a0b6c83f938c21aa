//! The refresh service's rules and values as plain Rust, with no protobuf, Diesel or I/O.
//!
//! - `job`: refresh jobs' states and triggers, leases, data-source instances.
//! - `backoff`: backoff after failures (F8).
//! - `limits`: the arithmetic of API limits (F5).
//! - `clock`: time arithmetic that saturates instead of overflowing.
//! - `schedule`, `cron`: report schedules, their checks and timing, cron expressions (F7).
//! - `delivery`, `plan`: where a report delivery stands, and what it remembers between
//!   its steps (F7).

pub mod backoff;
pub mod clock;
pub mod cron;
pub mod delivery;
pub mod job;
pub mod limits;
pub mod plan;
pub mod schedule;
