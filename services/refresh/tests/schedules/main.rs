//! Report schedules over gRPC (F7): checked whole at save, with a field violation per
//! problem (cron expression, time zone, recipients, Klips and dashboards of another tenant),
//! and read, listed, updated (mask, etag, pause) and deleted by the account's members as
//! their roles allow. The library runs in-process as the real service.
//!
//! - `checks`: what a save refuses, and who may save.
//! - `lifecycle`: one schedule created, read, listed, updated and deleted, step by step.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod checks;
#[path = "../common/mod.rs"]
mod common;
mod lifecycle;
