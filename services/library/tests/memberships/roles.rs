//! Tokens work for members with at most their role; partner admins; the last admin stays.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_token_works_only_for_a_member_with_at_most_its_role() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;

    // Not a member of the account its token is signed into: refused at the gate.
    failure(
        client
            .get_account(with(
                &tokens::user_token(family.client_a, "outsider@test", Role::Viewer),
                get_account(),
            ))
            .await,
        Code::PermissionDenied,
    );
    // A member of the partner only is no member of its client (unless the partner's admin).
    library.member(family.partner, "paula", Role::Editor).await;
    failure(
        client
            .get_account(with(
                &tokens::user_token(family.client_a, "paula", Role::Viewer),
                get_account(),
            ))
            .await,
        Code::PermissionDenied,
    );

    // A viewer member is a viewer: a token claiming more is refused, even for a read.
    library.member(family.client_a, "val", Role::Viewer).await;
    for role in [Role::Admin, Role::Editor] {
        failure(
            client
                .get_account(with(
                    &tokens::user_token(family.client_a, "val", role),
                    get_account(),
                ))
                .await,
            Code::PermissionDenied,
        );
    }
    let own = client
        .get_account(with(
            &tokens::user_token(family.client_a, "val", Role::Viewer),
            get_account(),
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(own.id, family.client_a.to_string());
    // A token of a lower role than the membership's works, with that lower role.
    failure(
        client
            .create_data_source(with(
                &tokens::user_token(family.client_a, "admin@test", Role::Viewer),
                pb::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(json_source(None, "x", "https://api.example.com/")),
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(library.asset_rows(family.client_a).await, [0; 5]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partners_admin_is_admin_of_its_clients_and_only_admins_manage_members() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let rival = library.family().await;

    // Agnes is an admin of the partner, and a member of no client.
    library.member(family.partner, "agnes", Role::Admin).await;
    let agnes_in_a = tokens::user_token(family.client_a, "agnes", Role::Admin);
    let got = client
        .get_account(with(&agnes_in_a, get_account()))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(got.id, family.client_a.to_string());
    // As the client's admin she makes members there...
    client
        .create_membership(with(
            &agnes_in_a,
            membership(family.client_a, "newcomer", pb::MembershipRole::Editor),
        ))
        .await
        .unwrap();
    let listed = client
        .list_memberships(with(
            &tokens::admin(family.client_a),
            pb::ListMembershipsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    let newcomer = listed
        .memberships
        .iter()
        .find(|m| m.user_id == "newcomer")
        .expect("the new member is listed");
    assert_eq!(newcomer.role, pb::MembershipRole::Editor as i32);
    assert!(
        listed.memberships.iter().all(|m| m.user_id != "agnes"),
        "her role comes from the partner, not from a membership of the client"
    );
    // ...but is nobody in another partner's client.
    failure(
        client
            .get_account(with(
                &tokens::user_token(rival.client_a, "agnes", Role::Admin),
                get_account(),
            ))
            .await,
        Code::PermissionDenied,
    );

    // A client's editor makes no members, nor does a partner's editor in its client.
    for (token, account) in [
        (tokens::editor(family.client_a), family.client_a),
        (tokens::editor(family.partner), family.client_a),
    ] {
        failure(
            client
                .create_membership(with(
                    &token,
                    membership(account, "intruder", pb::MembershipRole::Admin),
                ))
                .await,
            Code::PermissionDenied,
        );
    }
    // Nor does a client's admin in its partner or its sibling.
    library.member(family.client_a, "cleo", Role::Admin).await;
    for account in [family.partner, family.client_b] {
        failure(
            client
                .create_membership(with(
                    &tokens::user_token(family.client_a, "cleo", Role::Admin),
                    membership(account, "intruder", pb::MembershipRole::Admin),
                ))
                .await,
            Code::PermissionDenied,
        );
    }
    let intruder = client
        .check_membership(with(
            &tokens::service_as(Identity::Refresh),
            check("intruder", family.client_a),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(intruder.role, pb::MembershipRole::Unspecified as i32);
    failure(
        client
            .get_account(with(
                &tokens::user_token(family.client_a, "intruder", Role::Admin),
                get_account(),
            ))
            .await,
        Code::PermissionDenied,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_keeps_its_last_admin() {
    let library = start().await;
    let mut client = library.client();
    // A standard account whose only admin is `solo` (the test users are enrolled too, so
    // they are removed first, by `solo`).
    let account = library.standard().await;
    library.member(account, "solo", Role::Admin).await;
    let solo = tokens::user_token(account, "solo", Role::Admin);
    let remove = |user: &str| pb::DeleteMembershipRequest {
        request_id: String::new(),
        account_id: account.to_string(),
        user_id: user.into(),
    };
    for user in ["admin@test", "editor@test", "viewer@test"] {
        client
            .delete_membership(with(&solo, remove(user)))
            .await
            .unwrap();
    }

    // Neither removing nor demoting the last admin is possible, by anyone.
    for bearer in [&solo, &tokens::service()] {
        let refused = failure(
            client.delete_membership(with(bearer, remove("solo"))).await,
            Code::FailedPrecondition,
        );
        assert!(format!("{refused:?}").contains("LAST_ADMIN"), "{refused:?}");
        let demoted = pb::CreateMembershipRequest {
            request_id: String::new(),
            membership: Some(pb::Membership {
                user_id: "solo".into(),
                account_id: account.to_string(),
                role: pb::MembershipRole::Viewer as i32,
                create_time: None,
            }),
        };
        failure(
            client.create_membership(with(bearer, demoted)).await,
            Code::FailedPrecondition,
        );
    }
    client
        .get_account(with(&solo, get_account()))
        .await
        .expect("solo is still the admin");

    // With a second admin, the first may go.
    library.member(account, "second", Role::Admin).await;
    client
        .delete_membership(with(&solo, remove("solo")))
        .await
        .expect("another admin remains");
}
