//! Memberships for tests (DESIGN.md section 3): the test users of [`crate::tokens`] become
//! members of an account through the library's own CreateMembership, as an operator would
//! make them; accounts are created the same way, with the operator's token.

use trellis_platform::auth::Role;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use uuid::Uuid;

use crate::tokens::{self, TEST_USERS};

/// Makes `user` a member of `account` with `role`.
pub async fn add(library: &TracedChannel, account: Uuid, user: &str, role: Role) {
    add_as(library, &tokens::service(), account, user, role).await;
}

/// Makes `user` a member of `account` with `role`, as the operator whose token is `operator`
/// (one signed with another key than the test secret).
pub async fn add_as(
    library: &TracedChannel,
    operator: &str,
    account: Uuid,
    user: &str,
    role: Role,
) {
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
            operator,
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

/// Creates an account as the operator does; returns its id.
pub async fn create_account(
    library: &TracedChannel,
    kind: library::AccountKind,
    parent: Option<Uuid>,
    name: &str,
) -> Uuid {
    create_account_as(library, &tokens::service(), kind, parent, name).await
}

/// Creates an account as the operator whose token is `operator` does; returns its id.
pub async fn create_account_as(
    library: &TracedChannel,
    operator: &str,
    kind: library::AccountKind,
    parent: Option<Uuid>,
    name: &str,
) -> Uuid {
    let created = LibraryServiceClient::new(library.clone())
        .create_account(authorized(
            library::CreateAccountRequest {
                request_id: String::new(),
                account: Some(library::Account {
                    kind: kind as i32,
                    parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                    display_name: name.to_owned(),
                    ..Default::default()
                }),
            },
            operator,
        ))
        .await
        .expect("an operator creates accounts")
        .into_inner();
    Uuid::parse_str(&created.account.expect("an account").id).expect("a UUID")
}

/// A new account of `kind` (a client of `parent`), created by the operator, with
/// `admin@test`, `editor@test` and `viewer@test` enrolled as its members.
pub async fn enrolled_account(
    library: &TracedChannel,
    kind: library::AccountKind,
    parent: Option<Uuid>,
) -> Uuid {
    let account = create_account(library, kind, parent, &format!("{kind:?} account")).await;
    enroll(library, account).await;
    account
}
