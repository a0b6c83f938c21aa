//! The import service over real gRPC, on a real PostgreSQL, with the library and token
//! services in-process (and, for crash recovery, the import service as its own process).
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

mod crash;
mod data_source_push;
mod families;
mod instances;
mod plan_requests;
mod plans;
mod pool;
mod repointing;
mod secrets;
mod siblings;
mod updates;
mod walkthrough;
