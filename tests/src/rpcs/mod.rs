//! Every RPC of every service, with a request that names the [`crate::world`]'s resources
//! and who may call it. The access matrix checks each row's callers against it; the
//! hostile suite starts from each row's request and spoils it one field at a time.
//!
//! A request body is JSON as grpcurl takes it, with `{A}`, `{B}`, `{P}`, `{DS}`… standing
//! for the world's ids ([`crate::world::World::body`]).

mod imports;
mod library;
mod refresh;
mod tokens;

use std::sync::LazyLock;

use trellis_platform::auth::Identity;
use trellis_platform::config::ServiceKind;

/// Who among the account's users may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Users {
    /// Any member: viewers, editors, admins.
    Read,
    /// Editors and admins.
    Write,
    /// Admins (own and agency).
    Admin,
    /// Only an agency admin: an import needs a membership of the source too (I15), and a
    /// client's company properties are its partner's to set (I13).
    Agency,
    /// No user: Trellis's identities only (or what the handler keeps to a partner).
    Nobody,
}

/// Whether a member of another account may call it about A's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cross {
    Denied,
    /// The method acts on the caller's own account or on shared, public resources
    /// (providers), whatever the request names.
    Own,
}

pub struct Row {
    pub service: &'static str,
    pub method: &'static str,
    pub users: Users,
    pub cross: Cross,
    /// The identities that get past authorization; every other is denied.
    pub services: &'static [Identity],
    /// The request, with `{A}`, `{B}`, `{P}`, `{DS}`… standing for the world's ids.
    pub body: &'static str,
}

pub const fn row(
    service: &'static str,
    method: &'static str,
    users: Users,
    services: &'static [Identity],
    body: &'static str,
) -> Row {
    Row {
        service,
        method,
        users,
        cross: Cross::Denied,
        services,
        body,
    }
}

pub const fn own(mut row: Row) -> Row {
    row.cross = Cross::Own;
    row
}

pub const L: &str = "trellis.library.v1.LibraryService";
pub const I: &str = "trellis.imports.v1.ImportService";
pub const T: &str = "trellis.tokens.v1.TokenService";
pub const R: &str = "trellis.refresh.v1.RefreshService";

/// The gRPC name of `kind`'s service, as a row's `service` names it.
pub fn service_name(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Library => L,
        ServiceKind::Imports => I,
        ServiceKind::Tokens => T,
        ServiceKind::Refresh => R,
    }
}

/// The service a row's `service` names.
pub fn service_kind(name: &str) -> ServiceKind {
    match name {
        L => ServiceKind::Library,
        I => ServiceKind::Imports,
        T => ServiceKind::Tokens,
        R => ServiceKind::Refresh,
        other => panic!("no Trellis service {other}"),
    }
}

/// Every RPC, service by service. Deletions come last, the library's very last (its final
/// row is the operator's DeleteAccount of A), so that what the other rows name still exists
/// when they run.
pub static ROWS: LazyLock<Vec<&'static Row>> = LazyLock::new(|| {
    [
        library::ROWS,
        imports::ROWS,
        tokens::ROWS,
        refresh::ROWS,
        refresh::DELETIONS,
        tokens::DELETIONS,
        imports::DELETIONS,
        library::DELETIONS,
    ]
    .into_iter()
    .flatten()
    .collect()
});
