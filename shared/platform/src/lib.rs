//! What every Trellis service shares.
//!
//! - [`config`]: configuration from environment variables and flags (DESIGN.md section 9).
//! - [`telemetry`]: logs (readable or JSON), OTLP export, W3C trace context across calls.
//! - [`db`]: the diesel-async connection pool and embedded migrations.
//! - [`server`]: a tonic server with health, reflection, a tower stack and graceful shutdown.
//! - [`auth`]: JWT claims (DESIGN.md section 3), identities, verification and minting.
//! - [`policy`]: which callers each RPC accepts, one table for every service.
//! - [`gate`]: authentication, the policy and membership checks in front of every service.
//! - [`client`]: channels to other Trellis services that carry trace context and credentials.
//! - [`error`]: the one error type handlers return, mapped to gRPC codes with details.
//! - [`service`]: the `serve` / `migrate` command line every service binary shares.
//! - [`session_lock`]: an advisory lock that outlives a transaction, on a pooled connection.
//! - [`wire`]: tonic's own decoding failures restated as the caller's mistakes.
//! - [`validate`]: checks of caller input (text, lists, durations, JSON depth).
//!
//! The request toolkit every handler uses, so that one who knows one service knows all four:
//! - [`request`]: a request's ids, required fields and account, read into typed values.
//! - [`replay`]: request ids (retry safety) around one transaction with the change.
//! - [`etag`]: etags and the optimistic-concurrency check.
//! - [`pagination`]: page requests, typed page tokens, paging through another service.
//! - [`peer`]: another service's errors classified (transient, the caller's, ours).
//! - [`text_enum!`]: closed-set text columns as typed enums.
//! - [`background`]: background loops that drain on stop.

pub mod auth;
pub mod background;
pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod etag;
pub mod gate;
pub mod idempotency;
pub mod pagination;
pub mod peer;
pub mod policy;
pub mod replay;
pub mod request;
pub mod server;
pub mod service;
pub mod session_lock;
pub mod telemetry;
pub mod text_enum;
pub mod validate;
pub mod wire;

pub use error::{ApiError, ApiResult};
