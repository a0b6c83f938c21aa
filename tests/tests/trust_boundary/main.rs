//! The trust boundary between accounts, across the four processes (DESIGN.md section 3,
//! I13–I15): a client's editor cannot send its partner's secret to a server of its
//! choosing, a data API cannot redirect a secret elsewhere, and an RS256 deployment works
//! end to end with every service signing its own tokens.
//!
//! `calls` holds what both tests do through the services' APIs; `secrets` is the partner's
//! secret against a hostile client and data API, `rs256` the deployment with RSA keys.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod calls;
mod rs256;
mod secrets;

use std::time::Duration;

use trellis_platform::auth::{Role, TokenMinter};
use trellis_testkit::tokens;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);
const PARTNER_PASSWORD: &str = "partner-password-never-leaves";
const AGENCY: &str = "agency@test";

/// Signs as the users' identity provider and as operators.
pub(crate) struct Signers {
    users: TokenMinter,
    operator: String,
}

impl Signers {
    fn hs256() -> Self {
        Self {
            users: tokens::minter(),
            operator: tokens::service(),
        }
    }

    fn user(&self, account: Uuid, user: &str, role: Role) -> String {
        self.users
            .mint(user, Some(account), role, Duration::from_secs(3600))
    }
}
