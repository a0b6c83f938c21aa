//! The tokens service over real gRPC, on a real PostgreSQL, against a real OAuth 2.0
//! server on loopback (trellis_testkit::oauth).

mod calls;
mod common;

mod authorization;
mod caps;
mod credentials;
mod grants;
mod hostile;
mod refresh;
mod refresh_faults;
mod secrets;
mod usage;
