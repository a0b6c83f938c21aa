//! NUL bytes and control characters in the strings of any RPC.

use crate::common::{json_source, start_admin, violations, with};
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;

/// The field of the first violation of a call that must be INVALID_ARGUMENT.
fn first_field<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) -> String {
    violations(result).remove(0).0
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_and_control_characters_are_invalid_in_every_rpc() {
    let (library, mut client, account, admin) = start_admin().await;
    let service = tokens::service();
    let (nul, bell) = ("a\0b".to_owned(), "a\u{7}b".to_owned());

    let mut found = vec![];
    found.push(first_field(
        client
            .get_account(with(&admin, pb::GetAccountRequest { id: nul.clone() }))
            .await,
    ));
    found.push(first_field(
        client
            .update_account(with(
                &admin,
                pb::UpdateAccountRequest {
                    request_id: String::new(),
                    account: Some(pb::Account {
                        id: account.to_string(),
                        display_name: bell.clone(),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .get_company_property(with(
                &admin,
                pb::GetCompanyPropertyRequest {
                    account_id: String::new(),
                    name: nul.clone(),
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .delete_variable(with(
                &admin,
                pb::DeleteVariableRequest {
                    name: "v".into(),
                    etag: nul.clone(),
                    ..Default::default()
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .set_user_variable_value(with(
                &service,
                pb::SetUserVariableValueRequest {
                    account_id: account.to_string(),
                    user_id: "u".into(),
                    name: "v".into(),
                    value: bell.clone(),
                    ..Default::default()
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .resolve_properties(with(
                &service,
                pb::ResolvePropertiesRequest {
                    account_id: account.to_string(),
                    user_id: String::new(),
                    names: vec!["a".into(), nul.clone()],
                },
            ))
            .await,
    ));
    let mut header = json_source(None, "s", "https://api.example.com/");
    header.request.as_mut().unwrap().headers = vec![pb::HttpHeader {
        name: "X-Note".into(),
        value: bell.clone(),
    }];
    found.push(first_field(
        client
            .create_data_source(with(
                &admin,
                pb::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(header),
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .resolve_data_source(with(
                &service,
                pb::ResolveDataSourceRequest {
                    data_source_id: uuid::Uuid::nil().to_string(),
                    account_id: account.to_string(),
                    user_id: nul.clone(),
                    date_range: None,
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .list_klips(with(
                &admin,
                pb::ListKlipsRequest {
                    data_source_id: bell.clone(),
                    ..Default::default()
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .render_klip(with(
                &admin,
                pb::RenderKlipRequest {
                    klip_id: uuid::Uuid::nil().to_string(),
                    account_id: String::new(),
                    user_id: nul.clone(),
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .create_dashboard(with(
                &admin,
                pb::CreateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(pb::Dashboard {
                        name: "d".into(),
                        klip_ids: vec![nul.clone()],
                        ..Default::default()
                    }),
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .view_embed(with(
                &service,
                pb::ViewEmbedRequest {
                    embed_id: bell.clone(),
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .delete_membership(with(
                &admin,
                pb::DeleteMembershipRequest {
                    user_id: nul.clone(),
                    ..Default::default()
                },
            ))
            .await,
    ));
    found.push(first_field(
        client
            .create_embed(with(
                &admin,
                pb::CreateEmbedRequest {
                    request_id: bell.clone(),
                    embed: Some(pb::Embed::default()),
                },
            ))
            .await,
    ));
    assert_eq!(
        found,
        [
            "id",
            "account.display_name",
            "name",
            "etag",
            "value",
            "names[1]",
            "data_source.request.headers[0].value",
            "user_id",
            "data_source_id",
            "user_id",
            "dashboard.klip_ids[0]",
            "embed_id",
            "user_id",
            "request_id",
        ]
    );

    // A page token carrying a user id with a NUL byte (base64url of "a\0b").
    let members = client
        .list_memberships(with(
            &admin,
            pb::ListMembershipsRequest {
                account_id: account.to_string(),
                page_token: "YQBi".into(),
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(first_field(members), "page_token");

    // A formula whose text would hold a NUL (renders are kept in PostgreSQL's JSON).
    let escaped = client
        .create_klip(with(
            &admin,
            pb::CreateKlipRequest {
                request_id: String::new(),
                klip: Some(crate::common::klip_of(None, "k", &["\"a\\u0000b\""], &[])),
            },
        ))
        .await;
    let found = violations(escaped);
    assert_eq!(found[0].0, "klip.components[0].formula");
    assert!(found[0].1.contains("NUL character"), "{}", found[0].1);
    assert_eq!(library.asset_rows(account).await, [0; 5]);
}
