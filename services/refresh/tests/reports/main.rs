//! Scheduled email reports end to end (F7): a schedule's data sources are refreshed at the
//! front of the queue a lead time before the send, whatever the account's activity; the
//! report is rendered by the real library over the freshly cached data and delivered to a
//! real SMTP server on loopback, which the test reads; a report whose refresh failed is
//! still sent and says so; a send the relay refuses is retried. The library and the token
//! registry run in-process as the real services, the data sources' API is a real HTTP
//! server, and send times are a few seconds ahead (six-field cron expressions).
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod failures;
mod fresh;
