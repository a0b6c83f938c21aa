//! The tokens service over real gRPC, on a real PostgreSQL, against a real OAuth 2.0
//! server on loopback (trellis_testkit::oauth).

mod common;

mod authorization;
mod caps;
mod credentials;
mod grants;
mod refresh;
mod secrets;
mod usage;
