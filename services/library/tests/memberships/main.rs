//! Memberships (DESIGN.md section 3, I15): a user's token works only in an account the
//! user is a member of, with at most the membership's role; a partner's admin is admin of
//! its clients; memberships change at once; CheckMembership answers the other services;
//! ListImportableAssets lists only the accounts the caller belongs to.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod checks;
#[path = "../common/mod.rs"]
mod common;
mod roles;

use common::{dashboard_of, failure, json_source, klip_of, start, with};
use tonic::Code;
use trellis_platform::auth::{Identity, Role};
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

fn get_account() -> pb::GetAccountRequest {
    pb::GetAccountRequest::default()
}

fn membership(account: Uuid, user: &str, role: pb::MembershipRole) -> pb::CreateMembershipRequest {
    pb::CreateMembershipRequest {
        request_id: String::new(),
        membership: Some(pb::Membership {
            user_id: user.into(),
            account_id: account.to_string(),
            role: role as i32,
            create_time: None,
        }),
    }
}

fn check(user: &str, account: Uuid) -> pb::CheckMembershipRequest {
    pb::CheckMembershipRequest {
        user_id: user.into(),
        account_id: account.to_string(),
    }
}
