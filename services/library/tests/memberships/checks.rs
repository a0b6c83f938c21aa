//! Deleted memberships, CheckMembership for services, importable assets.

use super::*;

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
    use pb::MembershipRole::{Admin, Editor, Unspecified, Viewer};
    for (user, account, role, through_partner) in [
        ("viewer@test", family.client_a, Viewer, false),
        ("editor@test", family.partner, Editor, false),
        // An admin membership of the partner makes an admin of each client.
        ("agnes", family.client_a, Admin, true),
        ("agnes", family.client_b, Admin, true),
        ("agnes", family.partner, Admin, false),
        // A direct admin of the client (the test user) is admin there without the partner.
        ("admin@test", family.client_a, Admin, false),
        ("nobody", family.client_a, Unspecified, false),
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
