//! Faults of third parties against the real service: a data API (the test kit's, on
//! loopback) answering 429 with huge, far-future, past, negative or garbage Retry-After,
//! 429 for ever, an endless chunked body, a slow answer, an oversized body, JSON nested 100
//! levels, a million-row CSV and data at the size limit of a GetCachedData answer; a job that runs
//! past the job timeout; a job whose account was deleted. Each test shows that the job ends
//! (done, failed, or deferred within the clamp), that the instance says why, that nothing
//! panicked, and that the instance refreshes again once the API behaves.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

//!
//! - `retry_after`: 429s and their Retry-After.
//! - `bodies`: answers too long, too slow, too deep, too many rows, too large to serve.
//! - `jobs`: a job past the job timeout, a job of a deleted account.

mod bodies;
#[path = "../common/mod.rs"]
mod common;
mod jobs;
mod retry_after;

use std::time::Duration;

use trellis_proto::library::v1 as library;
use uuid::Uuid;

use common::*;

pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

pub fn settings() -> trellis_refresh::Settings {
    let mut settings = fast_settings();
    settings.max_retry_after = MAX_RETRY_AFTER;
    settings
}

/// An account with one data source per path (no refresh interval: only RefreshNow
/// refreshes them).
pub async fn sources(world: &World, paths: &[&str]) -> (Uuid, Vec<Uuid>) {
    let account = world.account(library::AccountKind::Standard, None).await;
    let mut sources = Vec::new();
    for path in paths {
        sources.push(
            world
                .data_source(account, &world.api.url(path), Duration::ZERO)
                .await,
        );
    }
    (account, sources)
}
