//! The use cases: the work of each RPC, over the library and token services (`peers`) and
//! this service's own tables (`store`), with the rules of `domain`. They take typed requests
//! (read by `api`) and answer domain values; the handlers remember the answers on the wire
//! under request ids (DESIGN.md section 6), around the use cases that write. UpdateInstances
//! is the exception (see `updating`): its answer is a stream.
//!
//! Authorization (I2, DESIGN.md section 3): importing needs an admin signed into the
//! destination; updating and deleting instances an admin of the master's account; reading
//! needs membership of one of the accounts involved. Service tokens may do all of it and
//! must name the accounts. Something of another tenant is NOT_FOUND, as if it did not exist.

pub mod cleanup;
pub mod delete;
mod imports;
pub mod instances;
pub mod observe;
pub mod planning;
pub mod plans;
pub mod reimport;
pub mod saga;
pub mod updating;

use std::sync::Arc;

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::request;

use crate::Settings;
use crate::peers::Peers;
use saga::Saga;

/// What every use case works with.
pub struct App {
    pub pool: DbPool,
    pub peers: Peers,
    pub saga: Arc<Saga>,
    pub settings: Settings,
}

/// True when the caller may see what concerns `account`: a service, or a member signed
/// into it.
fn member_of(caller: &Caller, account: uuid::Uuid) -> bool {
    request::require_account(caller, account).is_ok()
}
