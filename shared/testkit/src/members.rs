//! Memberships for tests (DESIGN.md section 3): the test users of [`crate::tokens`] become
//! members of an account through the library's own CreateMembership, as an operator would
//! make them.

use trellis_platform::auth::Role;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use uuid::Uuid;

use crate::tokens::{self, TEST_USERS};

/// Makes `user` a member of `account` with `role`.
pub async fn add(library: &TracedChannel, account: Uuid, user: &str, role: Role) {
    let role = trellis_platform::gate::role_to_wire(Some(role));
    LibraryServiceClient::new(library.clone())
        .create_membership(authorized(
            library::CreateMembershipRequest {
                request_id: String::new(),
                membership: Some(library::Membership {
                    user_id: user.to_owned(),
                    account_id: account.to_string(),
                    role: role as i32,
                    create_time: None,
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("an operator adds a membership");
}

/// Makes `admin@test`, `editor@test` and `viewer@test` members of `account` with those roles.
pub async fn enroll(library: &TracedChannel, account: Uuid) {
    for (user, role) in TEST_USERS {
        add(library, account, user, role).await;
    }
}
