//! Accounts and the partner tree: who creates which kind, what a partner's admin manages,
//! pagination, updates with masks and etags, and what deleting an account takes with it.

mod common;

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

#[tokio::test(flavor = "multi_thread")]
async fn accounts_list_by_visibility_filter_and_page() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let extra = library
        .account(pb::AccountKind::Client, Some(family.partner), "Client C")
        .await;
    let stranger = library.standard().await;

    let list = |token: String, request: pb::ListAccountsRequest| {
        let mut client = library.client();
        async move {
            client
                .list_accounts(with(&token, request))
                .await
                .map(|r| r.into_inner())
        }
    };
    let ids = |response: &pb::ListAccountsResponse| -> Vec<String> {
        response.accounts.iter().map(|a| a.id.clone()).collect()
    };

    // A partner's admin sees itself and its clients; a viewer only its account.
    let admin_view = list(tokens::admin(family.partner), Default::default())
        .await
        .unwrap();
    assert_eq!(
        ids(&admin_view),
        [family.partner, family.client_a, family.client_b, extra].map(|i| i.to_string())
    );
    let viewer_view = list(tokens::viewer(family.partner), Default::default())
        .await
        .unwrap();
    assert_eq!(ids(&viewer_view), [family.partner.to_string()]);

    // Pages of two, in creation order, filtered by parent.
    let first = list(
        tokens::admin(family.partner),
        pb::ListAccountsRequest {
            parent_id: family.partner.to_string(),
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&first),
        [family.client_a, family.client_b].map(|i| i.to_string())
    );
    assert!(!first.next_page_token.is_empty());
    let second = list(
        tokens::admin(family.partner),
        pb::ListAccountsRequest {
            parent_id: family.partner.to_string(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&second), [extra.to_string()]);
    assert!(second.next_page_token.is_empty());

    // Another partner's clients are not listable; a service filters by kind.
    refused(
        client
            .list_accounts(with(
                &tokens::admin(stranger),
                pb::ListAccountsRequest {
                    parent_id: family.partner.to_string(),
                    ..Default::default()
                },
            ))
            .await,
        &[],
    );
    let standards = list(
        tokens::service(),
        pb::ListAccountsRequest {
            kind: pb::AccountKind::Standard as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&standards), [stranger.to_string()]);
    let bad_token = list(
        tokens::service(),
        pb::ListAccountsRequest {
            page_token: "garbage!".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(bad_token.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn account_updates_check_etag_mask_and_who_moves_accounts() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let other = library
        .account(pb::AccountKind::Partner, None, "Other")
        .await;
    let update = |token: String, account: pb::Account, paths: &[&str]| {
        let mut client = library.client();
        let request = pb::UpdateAccountRequest {
            request_id: String::new(),
            account: Some(account),
            update_mask: mask(paths),
        };
        async move { client.update_account(with(&token, request)).await }
    };
    let client_a = family.client_a.to_string();

    let stale = update(
        tokens::admin(family.client_a),
        pb::Account {
            id: client_a.clone(),
            display_name: "x".into(),
            etag: "stale".into(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await;
    failure(stale, Code::Aborted);
    let unknown_path = update(
        tokens::admin(family.client_a),
        pb::Account {
            id: client_a.clone(),
            ..Default::default()
        },
        &["etag"],
    )
    .await;
    assert_eq!(common::violations(unknown_path)[0].0, "update_mask");
    let by_editor = update(
        tokens::editor(family.client_a),
        pb::Account {
            id: client_a.clone(),
            display_name: "x".into(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await;
    failure(by_editor, Code::PermissionDenied);

    // Moving a client to another family is a platform operation.
    let moved = pb::Account {
        id: client_a.clone(),
        parent_id: other.to_string(),
        ..Default::default()
    };
    failure(
        update(tokens::admin(family.partner), moved.clone(), &["parent_id"]).await,
        Code::PermissionDenied,
    );
    let by_service = update(tokens::service(), moved, &["parent_id"])
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(by_service.parent_id, other.to_string());

    // A partner with clients stays a partner.
    let demote = update(
        tokens::service(),
        pb::Account {
            id: family.partner.to_string(),
            kind: pb::AccountKind::Standard as i32,
            ..Default::default()
        },
        &["kind"],
    )
    .await;
    failure(demote, Code::FailedPrecondition);

    // An unchanged update changes nothing, not even the etag.
    let current = client
        .get_account(with(
            &tokens::service(),
            pb::GetAccountRequest {
                id: client_a.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    let same = update(
        tokens::service(),
        pb::Account {
            id: client_a,
            display_name: current.display_name.clone(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await
    .unwrap()
    .into_inner()
    .account
    .unwrap();
    assert_eq!(same.etag, current.etag);
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
        .unwrap();
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
        .unwrap();
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
