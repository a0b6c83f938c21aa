//! Memberships (DESIGN.md section 3, I15): a user's token works only in an account the
//! user is a member of, with at most the membership's role; a partner's admin is admin of
//! its clients; memberships change at once; CheckMembership answers the other services;
//! ListImportableAssets lists only the accounts the caller belongs to.

mod common;

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
async fn a_deleted_membership_is_refused_at_the_next_call() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    library.member(account, "dora", Role::Editor).await;
    let dora = tokens::user_token(account, "dora", Role::Editor);
    client
        .get_account(with(&dora, get_account()))
        .await
        .expect("a member reads her account");

    client
        .delete_membership(with(
            &tokens::admin(account),
            pb::DeleteMembershipRequest {
                request_id: String::new(),
                account_id: String::new(),
                user_id: "dora".into(),
            },
        ))
        .await
        .unwrap();
    // At once: the library forgets what its gate remembered of the account.
    failure(
        client.get_account(with(&dora, get_account())).await,
        Code::PermissionDenied,
    );
    failure(
        client
            .create_klip(with(
                &dora,
                pb::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(klip_of(None, "late", &["1"], &[])),
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    let answer = client
        .check_membership(with(
            &tokens::service_as(Identity::Refresh),
            check("dora", account),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.role, pb::MembershipRole::Unspecified as i32);
    // Deleting it again finds nothing.
    failure(
        client
            .delete_membership(with(
                &tokens::admin(account),
                pb::DeleteMembershipRequest {
                    request_id: String::new(),
                    account_id: String::new(),
                    user_id: "dora".into(),
                },
            ))
            .await,
        Code::NotFound,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_membership_answers_the_services_alone_with_the_effective_role() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    library.member(family.partner, "agnes", Role::Admin).await;

    // Users, even admins, and operators are refused.
    for token in [
        tokens::admin(family.client_a),
        tokens::admin(family.partner),
        tokens::service(),
    ] {
        failure(
            client
                .check_membership(with(&token, check("viewer@test", family.client_a)))
                .await,
            Code::PermissionDenied,
        );
    }

    let refresh = tokens::service_as(Identity::Refresh);
    for (user, account, role, through_partner) in [
        (
            "viewer@test",
            family.client_a,
            pb::MembershipRole::Viewer,
            false,
        ),
        (
            "editor@test",
            family.partner,
            pb::MembershipRole::Editor,
            false,
        ),
        // An admin membership of the partner makes an admin of each client.
        ("agnes", family.client_a, pb::MembershipRole::Admin, true),
        ("agnes", family.client_b, pb::MembershipRole::Admin, true),
        ("agnes", family.partner, pb::MembershipRole::Admin, false),
        // A direct admin of the client (the test user) is admin there without the partner.
        (
            "admin@test",
            family.client_a,
            pb::MembershipRole::Admin,
            false,
        ),
        (
            "nobody",
            family.client_a,
            pb::MembershipRole::Unspecified,
            false,
        ),
    ] {
        let answer = client
            .check_membership(with(&refresh, check(user, account)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (answer.role, answer.through_partner),
            (role as i32, through_partner),
            "{user} in {account}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn importable_assets_are_those_of_accounts_the_caller_belongs_to() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let mut expected = vec![];
    for account in [family.partner, family.client_b] {
        let editor = tokens::editor(account);
        let source = library
            .data_source(
                &editor,
                json_source(None, "Sales", "https://api.example.com/sales"),
            )
            .await;
        let klip = library
            .klip(&editor, klip_of(None, "Revenue", &["@0.a"], &[&source.id]))
            .await;
        let dashboard = library
            .dashboard(&editor, dashboard_of(None, "Overview", &[&klip.id]))
            .await;
        let mut assets = vec![
            (pb::AssetKind::DataSource as i32, source.id, source.name),
            (pb::AssetKind::Klip as i32, klip.id, klip.name),
            (
                pb::AssetKind::Dashboard as i32,
                dashboard.id,
                dashboard.name,
            ),
        ];
        assets.sort();
        expected.push((account.to_string(), assets));
    }
    let listed = |token: String| {
        let mut client = library.client();
        async move {
            let sources = client
                .list_importable_assets(with(&token, pb::ListImportableAssetsRequest::default()))
                .await
                .unwrap()
                .into_inner()
                .sources;
            sources
                .into_iter()
                .map(|source| {
                    let mut assets: Vec<_> = source
                        .assets
                        .into_iter()
                        .map(|a| (a.kind, a.id, a.name))
                        .collect();
                    assets.sort();
                    (source.account.unwrap().id, assets)
                })
                .collect::<Vec<_>>()
        }
    };

    // Carla is client A's admin and a viewer of the partner, nothing of client B: she may
    // import from the partner, not from her sibling (I15).
    library.member(family.client_a, "carla", Role::Admin).await;
    library.member(family.partner, "carla", Role::Viewer).await;
    let carla = tokens::user_token(family.client_a, "carla", Role::Admin);
    assert_eq!(listed(carla).await, expected[..1]);
    // The partner's admin belongs to every client: partner first, then the sibling.
    assert_eq!(listed(tokens::admin(family.client_a)).await, expected);
    // A client's own admin of no other account has nothing to import.
    library.member(family.client_a, "solo", Role::Admin).await;
    assert!(
        listed(tokens::user_token(family.client_a, "solo", Role::Admin))
            .await
            .is_empty()
    );

    // Choosing what to import is for the destination's admins, and people only.
    for token in [tokens::editor(family.client_a), tokens::service()] {
        failure(
            client
                .list_importable_assets(with(
                    &token,
                    pb::ListImportableAssetsRequest {
                        account_id: family.client_a.to_string(),
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
    }
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
