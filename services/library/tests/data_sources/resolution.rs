//! Resolution per account and user (I13), and who uses a token across accounts (T3).

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_dynamic_data_source_resolves_per_account_and_user() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let service = tokens::service();

    // The partner lets users pick a company (a variable set by a user input); each client
    // has its own company property (I13).
    let master = library
        .data_source(
            &tokens::editor(family.partner),
            json_source(
                None,
                "Sales",
                "https://api.example.com/sales?company={props.companyID}&q={props.query}",
            ),
        )
        .await;
    client
        .create_variable(with(
            &tokens::admin(family.partner),
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "companyID".into(),
                    default_value: "all".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    // Pat, a viewer of the partner, picks a company there (the partner has no company
    // property of that name, so a user value decides).
    library.member(family.partner, "pat", Role::Viewer).await;
    let picker = tokens::user_token(family.partner, "pat", Role::Viewer);
    library.set_user_value(&picker, "companyID", "a b&c").await;
    let resolve = |token: String, account: String, user: &str, id: String| {
        let request = pb::ResolveDataSourceRequest {
            data_source_id: id,
            account_id: account,
            user_id: user.into(),
            date_range: None,
        };
        let library = &library;
        async move { library.resolve_data_source(&token, request).await }
    };

    let for_pat = resolve(picker.clone(), String::new(), "", master.id.clone())
        .await
        .unwrap();
    assert_eq!(
        for_pat.url,
        "https://api.example.com/sales?company=a%20b%26c&q={props.query}"
    );
    assert_eq!(for_pat.unresolved_properties, ["query"]);
    assert_eq!(
        for_pat.properties[0].source,
        pb::PropertySource::UserValue as i32
    );
    assert_eq!(for_pat.data_source_version, 1);
    let for_nobody = resolve(
        service.clone(),
        family.partner.to_string(),
        "",
        master.id.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        for_nobody.url,
        "https://api.example.com/sales?company=all&q={props.query}"
    );
    assert_ne!(for_pat.instance_key, for_nobody.instance_key);

    // The same definition in each client resolves with the client's own property.
    let mut keys = vec![];
    for (client_account, company) in [(family.client_a, "1001"), (family.client_b, "1002")] {
        let copy = library
            .data_source(
                &tokens::editor(client_account),
                json_source(
                    None,
                    "Sales",
                    "https://api.example.com/sales?company={props.companyID}&q={props.query}",
                ),
            )
            .await;
        for (name, value) in [("companyID", company), ("query", "x")] {
            client
                .set_company_property(with(
                    &tokens::admin(client_account),
                    crate::common::calls::set_property(name, value),
                ))
                .await
                .unwrap();
        }
        let resolved = resolve(service.clone(), client_account.to_string(), "", copy.id)
            .await
            .unwrap();
        assert_eq!(
            resolved.url,
            format!("https://api.example.com/sales?company={company}&q=x")
        );
        assert!(resolved.unresolved_properties.is_empty());
        assert_eq!(resolved.method, pb::HttpMethod::Get as i32);
        keys.push(resolved.instance_key);
    }
    assert_ne!(keys[0], keys[1]);

    // A client cannot resolve the partner's data source.
    let denied = resolve(
        tokens::admin(family.client_a),
        family.partner.to_string(),
        "",
        master.id.clone(),
    )
    .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    // Nor resolve for another user.
    let other_user = resolve(
        tokens::admin(family.partner),
        String::new(),
        "pat",
        master.id,
    )
    .await;
    assert_eq!(other_user.unwrap_err().code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_finds_every_data_source_using_a_token_across_accounts() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let stranger = library.standard().await;

    // The partner's token: its own data source uses it, and so do the instances an import
    // made of that data source in both clients, each through a grant (I6).
    let token_id = library.oauth_token(family.partner).await;
    let mut master = json_source(None, "GA", "https://analytics.example.com/");
    master.auth = auth_token(token_id);
    let master = library
        .data_source(&tokens::editor(family.partner), master)
        .await;
    let mut expected = vec![master.id.clone()];
    for client_account in [family.client_a, family.client_b] {
        let instance = library
            .import_data_source(family.partner, client_account, &master.id)
            .await;
        library
            .grant(
                token_id,
                family.partner,
                client_account,
                &instance,
                &master.fingerprint,
            )
            .await;
        expected.push(instance);
    }
    // The stranger's data source uses a token of its own: not one of the partner's users.
    let stranger_token = library.oauth_token(stranger).await;
    let mut theirs = json_source(None, "GA", "https://analytics.example.com/");
    theirs.auth = auth_token(stranger_token);
    library.data_source(&tokens::editor(stranger), theirs).await;
    let credential_id = library.credential(family.client_b).await;
    let mut by_credential = json_source(None, "Basic", "https://basic.example.com/");
    by_credential.auth = auth_credential(credential_id);
    let credential_user = library
        .data_source(&tokens::editor(family.client_b), by_credential)
        .await;
    library
        .data_source(
            &tokens::editor(family.client_b),
            json_source(None, "Open", "https://open.example.com/"),
        )
        .await;

    // Paged, across every account (T3).
    let mut found = vec![];
    let mut page_token = String::new();
    loop {
        let page = client
            .list_data_sources(with(
                &tokens::service(),
                pb::ListDataSourcesRequest {
                    token_id: token_id.to_string(),
                    page_size: 2,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        found.extend(page.data_sources.into_iter().map(|d| d.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(found, expected);
    let credential_users = client
        .list_data_sources(with(
            &tokens::service(),
            pb::ListDataSourcesRequest {
                credential_id: credential_id.to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(credential_users.data_sources.len(), 1);
    assert_eq!(credential_users.data_sources[0].id, credential_user.id);

    // A member's filter stays inside its account.
    let own = client
        .list_data_sources(with(
            &tokens::viewer(family.client_a),
            pb::ListDataSourcesRequest {
                token_id: token_id.to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.data_sources.len(), 1);
    assert_eq!(own.data_sources[0].id, expected[1]);
    // A service without account or filter is told what is missing.
    let unscoped = client
        .list_data_sources(with(
            &tokens::service(),
            pb::ListDataSourcesRequest::default(),
        ))
        .await;
    assert_eq!(violations(unscoped)[0].0, "account_id");
}
