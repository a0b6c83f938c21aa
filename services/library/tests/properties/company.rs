//! Company properties (I13): set, read, listed and deleted; in a client they win over user values.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn company_properties_are_set_read_listed_and_deleted_with_valid_names() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let admin = tokens::admin(account);

    let created = client
        .set_company_property(with(&admin, calls::set_property("companyID", "4711")))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created);
    let first = created.property.unwrap();
    let replaced = client
        .set_company_property(with(&admin, calls::set_property("companyID", "4712")))
        .await
        .unwrap()
        .into_inner();
    assert!(!replaced.created);
    let second = replaced.property.unwrap();
    assert_eq!(second.value, "4712");
    assert_ne!(second.etag, first.etag);

    // A stale etag is refused; editors do not set company properties.
    let mut stale = calls::set_property("companyID", "1");
    stale.property.as_mut().unwrap().etag = first.etag.clone();
    failure(
        client.set_company_property(with(&admin, stale)).await,
        Code::Aborted,
    );
    failure(
        client
            .set_company_property(with(
                &tokens::editor(account),
                calls::set_property("x", "1"),
            ))
            .await,
        Code::PermissionDenied,
    );

    for bad in ["1abc", "a-b", "", &"a".repeat(65)] {
        let found = violations(
            client
                .set_company_property(with(&admin, calls::set_property(bad, "v")))
                .await,
        );
        assert_eq!(found[0].0, "property.name", "{bad}");
    }
    let oversized = violations(
        client
            .set_company_property(with(
                &admin,
                calls::set_property("big", &"x".repeat(8 * 1024 + 1)),
            ))
            .await,
    );
    assert_eq!(oversized[0].0, "property.value");

    for name in ["b_region", "a_zone", "_hidden"] {
        client
            .set_company_property(with(&admin, calls::set_property(name, "v")))
            .await
            .unwrap();
    }
    let page = client
        .list_company_properties(with(
            &tokens::viewer(account),
            pb::ListCompanyPropertiesRequest {
                page_size: 3,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = page.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["_hidden", "a_zone", "b_region"]);
    let rest = client
        .list_company_properties(with(
            &tokens::viewer(account),
            pb::ListCompanyPropertiesRequest {
                page_size: 3,
                page_token: page.next_page_token,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.properties.len(), 1);
    assert_eq!(rest.properties[0].name, "companyID");

    let got = library
        .company_property(&tokens::viewer(account), "companyID")
        .await;
    assert_eq!(got.value, "4712");
    client
        .delete_company_property(with(
            &admin,
            pb::DeleteCompanyPropertyRequest {
                name: "companyID".into(),
                etag: got.etag,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let gone = client
        .get_company_property(with(
            &admin,
            pb::GetCompanyPropertyRequest {
                account_id: String::new(),
                name: "companyID".into(),
            },
        ))
        .await;
    failure(gone, Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_client_the_company_property_wins_over_any_user_value() {
    // I13: a viewer of client A cannot point A's instance at client B's company by setting
    // a user value: the company property decides what is fetched.
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let admin = tokens::admin(family.client_a);
    let viewer = tokens::viewer(family.client_a);
    for (account, company) in [(family.client_a, "1001"), (family.client_b, "1002")] {
        client
            .set_company_property(with(
                &tokens::admin(account),
                calls::set_property("companyID", company),
            ))
            .await
            .unwrap();
    }
    // As an import leaves it: the partner's user-input variable, and its data source.
    client
        .create_variable(with(&admin, calls::new_variable("companyID", "all")))
        .await
        .unwrap();
    let source = library
        .data_source(
            &admin,
            common::json_source(
                None,
                "Sales",
                "https://api.example.com/sales?company={props.companyID}",
            ),
        )
        .await;
    let resolve_source = |token: String, account: String, user: &str| {
        let request = pb::ResolveDataSourceRequest {
            data_source_id: source.id.clone(),
            account_id: account,
            user_id: user.into(),
            date_range: None,
        };
        let library = &library;
        async move { library.resolve_data_source(&token, request).await.unwrap() }
    };
    let before = resolve_source(viewer.clone(), String::new(), "").await;

    // The sibling's company, as a user value.
    library.set_user_value(&viewer, "companyID", "1002").await;

    let properties = client
        .resolve_properties(with(
            &viewer,
            pb::ResolvePropertiesRequest {
                names: vec!["companyID".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(properties.values["companyID"], "1001");
    assert_eq!(
        properties.properties[0].source,
        pb::PropertySource::CompanyProperty as i32
    );
    // The viewer's own resolution, and the refresh service's for the viewer, fetch A's
    // data: the same instance as for nobody.
    let for_viewer = resolve_source(viewer.clone(), String::new(), "").await;
    let for_viewer_by_service = resolve_source(
        tokens::service(),
        family.client_a.to_string(),
        "viewer@test",
    )
    .await;
    let for_nobody = resolve_source(tokens::service(), family.client_a.to_string(), "").await;
    for resolved in [&for_viewer, &for_viewer_by_service, &for_nobody] {
        assert_eq!(resolved.url, "https://api.example.com/sales?company=1001");
        assert_eq!(
            resolved.properties[0].source,
            pb::PropertySource::CompanyProperty as i32
        );
        assert_eq!(resolved.instance_key, before.instance_key);
    }
}
