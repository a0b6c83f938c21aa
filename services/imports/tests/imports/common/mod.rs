//! What the tests share: the library, token and import services in-process on their own
//! databases, calling each other over real gRPC; families of accounts whose members are the
//! test users; assets; imports.

use std::time::Duration;

use tonic::{Code, Request, Status};
use trellis_platform::auth::Role;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_proto::imports::v1 as imp;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_proto::library::v1 as lib;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1 as tok;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::{InProcess, Port, RunningService, members, tokens};
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(20);

pub type Library = LibraryServiceClient<TracedChannel>;
pub type Tokens = TokenServiceClient<TracedChannel>;
pub type Imports = ImportServiceClient<TracedChannel>;

/// A request carrying `bearer`.
pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    authorized(message, bearer)
}

/// `admin@test` signed into `account`: [`account`] makes it an admin member of every
/// account it creates.
pub fn admin(account: Uuid) -> String {
    tokens::admin(account)
}

/// The agency's staff: an admin member of each family's partner and of nothing else, so an
/// admin of the partner's clients through the partner (I15). The imports of [`plan`],
/// [`execute`] and [`import`] are theirs.
pub const AGENCY_ADMIN: &str = "agency@test";

/// [`AGENCY_ADMIN`] signed into `account` (the partner or one of its clients).
pub fn agency(account: Uuid) -> String {
    tokens::user_token(account, AGENCY_ADMIN, Role::Admin)
}

pub fn request_id() -> String {
    Uuid::new_v4().to_string()
}

mod accounts;
mod assets;
mod calls;
mod secrets;
mod services;

pub use accounts::*;
pub use assets::*;
pub use calls::*;
pub use secrets::*;
pub use services::*;
