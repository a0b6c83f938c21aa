//! The refresh service end to end, over real gRPC, with the library and the token registry
//! running as the real services and the data sources' APIs played by a real HTTP server on
//! loopback: activity and the schedule (F1, F2, F4, I13), the queue's order (F3), identical
//! requests fetched once, failures and backoff (F8), the size cap and the SSRF guard, and
//! the read methods.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod failures;
mod instances;
mod queue;
mod schedule;
