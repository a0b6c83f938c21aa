//! Accounts and the partner tree: who creates which kind, what a partner's admin manages,
//! pagination, updates with masks and etags, and what deleting an account takes with it.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod lifecycle;
mod listing;

use common::{Library, dashboard_of, failure, json_source, klip_of, mask, refused, start, with};
use tonic::Code;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

fn new_account(kind: pb::AccountKind, parent: &str, name: &str) -> pb::CreateAccountRequest {
    pb::CreateAccountRequest {
        request_id: String::new(),
        account: Some(pb::Account {
            kind: kind as i32,
            parent_id: parent.into(),
            display_name: name.into(),
            ..Default::default()
        }),
    }
}
