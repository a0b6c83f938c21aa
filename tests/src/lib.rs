//! Support for the tests across services (under `tests/tests/`).
//!
//! - [`reflect`]: calls any method by name with a JSON body, resolving its types through the
//!   server's reflection service, as grpcurl does. The README walkthrough test runs the
//!   README's own grpcurl commands with it.
//! - [`cluster`]: the four services as processes on their own databases, and a client of
//!   each.
//! - [`calls`]: the data sources and Klips tests make, and the numbers renders show.
//! - [`grpcurl`]: reads grpcurl command lines out of a Markdown text.
//! - [`rpcs`]: every RPC with a request naming the [`world`]'s resources, and who may call it.
//! - [`world`]: accounts, members and resources the RPC table names; every kind of caller.

pub mod calls;
pub mod cluster;
pub mod grpcurl;
pub mod reflect;
pub mod rpcs;
pub mod world;
