//! The tokens service over real gRPC, on a real PostgreSQL, against a real OAuth 2.0
//! server on loopback (trellis_testkit::oauth).
// Test code: a failed unwrap is a failed test (clippy.toml allows unwrap in tests).
#![cfg(test)]

/// One call of a client, with [`common::call`]'s bearer, answered by its message:
/// `ask!(client.get_token(request, &bearer))` is a `Result<GetTokenResponse, Status>`.
macro_rules! ask {
    ($client:ident . $method:ident ($request:expr, $bearer:expr $(,)?)) => {
        $client
            .$method($crate::common::call($request, $bearer))
            .await
            .map(tonic::Response::into_inner)
    };
    ($client:ident ($($argument:tt)*) . $method:ident ($request:expr, $bearer:expr $(,)?)) => {
        $client($($argument)*)
            .$method($crate::common::call($request, $bearer))
            .await
            .map(tonic::Response::into_inner)
    };
}

mod calls;
mod common;

mod authorization;
mod bad_input;
mod caps;
mod catalogue;
mod credential_copies;
mod credential_kinds;
mod credentials;
mod grants;
mod hostile;
mod refresh;
mod refresh_faults;
mod secrets;
mod usage;
