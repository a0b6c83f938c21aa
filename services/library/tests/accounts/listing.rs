//! Accounts listed by visibility, filter and page; updates under etags and masks.

use super::*;

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
