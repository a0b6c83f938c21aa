//! Accounts created by services and partner admins, and deleted with what they hold.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn only_service_tokens_create_partners_and_standard_accounts() {
    let library = start().await;
    let mut client = library.client();
    let partner = library
        .account(pb::AccountKind::Partner, None, "Agency")
        .await;

    for kind in [pb::AccountKind::Partner, pb::AccountKind::Standard] {
        let by_admin = client
            .create_account(with(&tokens::admin(partner), new_account(kind, "", "Nope")))
            .await;
        failure(by_admin, Code::PermissionDenied);
    }
    let standard = client
        .create_account(with(
            &tokens::service(),
            new_account(pb::AccountKind::Standard, "", "Solo"),
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(standard.kind, pb::AccountKind::Standard as i32);
    assert!(standard.parent_id.is_empty());
    assert!(!standard.etag.is_empty());

    // A client needs a partner as parent; a standard account has none.
    let orphan = client
        .create_account(with(
            &tokens::service(),
            new_account(pb::AccountKind::Client, "", "Orphan"),
        ))
        .await;
    failure(orphan, Code::InvalidArgument);
    let under_standard = client
        .create_account(with(
            &tokens::service(),
            new_account(pb::AccountKind::Client, &standard.id, "Wrong parent"),
        ))
        .await;
    failure(under_standard, Code::FailedPrecondition);
    let unnamed = client
        .create_account(with(
            &tokens::service(),
            new_account(pb::AccountKind::Standard, "", ""),
        ))
        .await;
    assert_eq!(common::violations(unnamed)[0].0, "account.display_name");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_admin_creates_reads_updates_and_deletes_its_clients() {
    let library = start().await;
    let mut client = library.client();
    let partner = library
        .account(pb::AccountKind::Partner, None, "Agency")
        .await;
    let other_partner = library
        .account(pb::AccountKind::Partner, None, "Rival")
        .await;
    let admin = tokens::admin(partner);

    let created = client
        .create_account(with(
            &admin,
            new_account(pb::AccountKind::Client, "", "Acme"),
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(created.parent_id, partner.to_string());
    let client_id: Uuid = created.id.parse().unwrap();
    // The client's own people become its members (the partner's admin already acts in it).
    library.enroll(client_id).await;

    // Editors do not manage clients; nobody creates clients under another partner; a
    // client's admin creates no clients.
    let by_editor = client
        .create_account(with(
            &tokens::editor(partner),
            new_account(pb::AccountKind::Client, "", "x"),
        ))
        .await;
    failure(by_editor, Code::PermissionDenied);
    let elsewhere = client
        .create_account(with(
            &admin,
            new_account(pb::AccountKind::Client, &other_partner.to_string(), "x"),
        ))
        .await;
    failure(elsewhere, Code::PermissionDenied);
    let by_client = client
        .create_account(with(
            &tokens::admin(client_id),
            new_account(pb::AccountKind::Client, "", "x"),
        ))
        .await;
    failure(by_client, Code::PermissionDenied);

    let got = client
        .get_account(with(
            &admin,
            pb::GetAccountRequest {
                id: created.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(got.display_name, "Acme");
    let own = client
        .get_account(with(
            &tokens::viewer(client_id),
            pb::GetAccountRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(own.id, created.id);
    // The client's partner is not the client's business, nor the partner editor's the client.
    refused(
        client
            .get_account(with(
                &tokens::admin(client_id),
                pb::GetAccountRequest {
                    id: partner.to_string(),
                },
            ))
            .await,
        &["Agency"],
    );
    refused(
        client
            .get_account(with(
                &tokens::editor(partner),
                pb::GetAccountRequest {
                    id: created.id.clone(),
                },
            ))
            .await,
        &["Acme"],
    );

    let renamed = client
        .update_account(with(
            &admin,
            pb::UpdateAccountRequest {
                request_id: String::new(),
                account: Some(pb::Account {
                    id: created.id.clone(),
                    display_name: "Acme Dental".into(),
                    etag: got.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(renamed.display_name, "Acme Dental");
    assert_ne!(renamed.etag, got.etag);

    client
        .delete_account(with(
            &admin,
            pb::DeleteAccountRequest {
                id: created.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(library.count("accounts", "id", client_id).await, 0);
}

async fn fill(library: &Library, account: Uuid) {
    let token = tokens::service();
    let source = library
        .data_source(
            &token,
            json_source(Some(account), "s", "https://api.example.com/x"),
        )
        .await;
    let klip = library
        .klip(
            &token,
            klip_of(Some(account), "k", &["@0.a"], &[&source.id]),
        )
        .await;
    library
        .dashboard(&token, dashboard_of(Some(account), "d", &[&klip.id]))
        .await;
    let mut client = library.client();
    client
        .set_company_property(with(
            &token,
            pb::SetCompanyPropertyRequest {
                request_id: String::new(),
                property: Some(pb::CompanyProperty {
                    account_id: account.to_string(),
                    name: "companyID".into(),
                    value: "7".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("SetCompanyProperty");
    client
        .create_variable(with(
            &token,
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    account_id: account.to_string(),
                    name: "year".into(),
                    default_value: "2026".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("CreateVariable");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_account_refuses_holdings_unless_forced_and_takes_everything_with_it() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    fill(&library, family.partner).await;
    fill(&library, family.client_a).await;
    let delete = |id: Uuid, force: bool, token: String| {
        let mut client = library.client();
        let request = pb::DeleteAccountRequest {
            request_id: String::new(),
            id: id.to_string(),
            etag: String::new(),
            force,
        };
        async move { client.delete_account(with(&token, request)).await }
    };

    // A client's own admin does not delete it; its partner's admin does, with force when
    // it holds assets.
    failure(
        delete(family.client_a, true, tokens::admin(family.client_a)).await,
        Code::PermissionDenied,
    );
    let refused_delete = failure(
        delete(family.client_a, false, tokens::admin(family.partner)).await,
        Code::FailedPrecondition,
    );
    assert!(
        refused_delete.message().contains("data sources"),
        "{refused_delete:?}"
    );
    assert_eq!(library.asset_rows(family.client_a).await, [1, 1, 1, 1, 1]);
    delete(family.client_a, true, tokens::admin(family.partner))
        .await
        .unwrap();
    assert_eq!(library.asset_rows(family.client_a).await, [0; 5]);
    for table in ["company_properties", "variables", "accounts"] {
        let column = if table == "accounts" {
            "id"
        } else {
            "account_id"
        };
        assert_eq!(
            library.count(table, column, family.client_a).await,
            0,
            "{table}"
        );
    }
    // The partner is untouched.
    assert_eq!(library.asset_rows(family.partner).await, [1, 1, 1, 1, 1]);

    // A partner with clients: only a service deletes it, with force, and its clients go too.
    failure(
        delete(family.partner, true, tokens::admin(family.partner)).await,
        Code::PermissionDenied,
    );
    let has_clients = failure(
        delete(family.partner, false, tokens::service()).await,
        Code::FailedPrecondition,
    );
    assert!(has_clients.message().contains("client accounts"));
    delete(family.partner, true, tokens::service())
        .await
        .unwrap();
    for account in [family.partner, family.client_b] {
        assert_eq!(library.count("accounts", "id", account).await, 0);
        assert_eq!(library.asset_rows(account).await, [0; 5]);
    }
    let gone = client
        .get_account(with(
            &tokens::service(),
            pb::GetAccountRequest {
                id: family.partner.to_string(),
            },
        ))
        .await;
    failure(gone, Code::NotFound);

    // An empty standard account goes without force.
    let empty = library.standard().await;
    delete(empty, false, tokens::service()).await.unwrap();
}
