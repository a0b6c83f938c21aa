//! The import service over real gRPC, on a real PostgreSQL, with the library and token
//! services in-process (and, for crash recovery, the import service as its own process).

mod common;

mod crash;
mod families;
mod instances;
mod plans;
mod pool;
mod secrets;
mod updates;
mod walkthrough;
