//! Test support for Trellis: real PostgreSQL, real gRPC over loopback, real tokens.
//!
//! - [`TestDatabase`]: an isolated database per test, created from a template database that
//!   is migrated once per migration set, and dropped when the test ends.
//! - [`InProcess`]: a service built as its binary builds it and served on `127.0.0.1:0`
//!   ([`TestServer`], with a channel to it), on a [`Port`] bound earlier where services
//!   call each other.
//! - [`data_api`]: a third-party data API on loopback with limits, knobs and counters.
//! - [`tokens`]: tokens minted for any account and role with the test secret.
//! - [`members`]: the test users made members of accounts, through the library.
//! - [`oauth`]: a real OAuth 2.0 authorization server on loopback, with knobs and counters,
//!   and the browser's part of the code flow ([`oauth::consent`]).
//! - [`otlp`]: an OTLP/gRPC receiver that collects the spans services export.
//! - [`smtp`]: a real SMTP server on loopback that keeps (or refuses) the mail it is sent.
//! - [`eventually`]: waiting on a condition with a deadline, instead of sleeping.
//!
//! The server to use comes from `TRELLIS_TEST_DATABASE_URL` (a URL of any database on it,
//! used for administration), defaulting to `postgres://postgres@127.0.0.1:5432/postgres`.
//! `make test` sets it when it starts a throwaway cluster.

pub mod data_api;
pub mod database;
pub mod members;
pub mod oauth;
pub mod otlp;
pub mod process;
pub mod server;
pub mod smtp;
pub mod tokens;
pub mod wait;

pub use database::TestDatabase;
pub use server::{InProcess, Port, RunningService, TestServer, test_config};
pub use wait::eventually;
