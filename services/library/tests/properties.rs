//! Company properties, variables, user values and property resolution (I13): the
//! account's company property, else the user's value, else the variable's default; a
//! variable's allowed values bound what a user may pick.

mod common;

use common::{failure, mask, start, violations, with};
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;

fn property(name: &str, value: &str) -> pb::SetCompanyPropertyRequest {
    pb::SetCompanyPropertyRequest {
        request_id: String::new(),
        property: Some(pb::CompanyProperty {
            name: name.into(),
            value: value.into(),
            ..Default::default()
        }),
    }
}

fn variable(name: &str, default: &str) -> pb::CreateVariableRequest {
    pb::CreateVariableRequest {
        request_id: String::new(),
        variable: Some(pb::Variable {
            name: name.into(),
            default_value: default.into(),
            ..Default::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn company_properties_are_set_read_listed_and_deleted_with_valid_names() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let admin = tokens::admin(account);

    let created = client
        .set_company_property(with(&admin, property("companyID", "4711")))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created);
    let first = created.property.unwrap();
    let replaced = client
        .set_company_property(with(&admin, property("companyID", "4712")))
        .await
        .unwrap()
        .into_inner();
    assert!(!replaced.created);
    let second = replaced.property.unwrap();
    assert_eq!(second.value, "4712");
    assert_ne!(second.etag, first.etag);

    // A stale etag is refused; editors do not set company properties.
    let mut stale = property("companyID", "1");
    stale.property.as_mut().unwrap().etag = first.etag.clone();
    failure(
        client.set_company_property(with(&admin, stale)).await,
        Code::Aborted,
    );
    failure(
        client
            .set_company_property(with(&tokens::editor(account), property("x", "1")))
            .await,
        Code::PermissionDenied,
    );

    for bad in ["1abc", "a-b", "", &"a".repeat(65)] {
        let found = violations(
            client
                .set_company_property(with(&admin, property(bad, "v")))
                .await,
        );
        assert_eq!(found[0].0, "property.name", "{bad}");
    }
    let oversized = violations(
        client
            .set_company_property(with(&admin, property("big", &"x".repeat(8 * 1024 + 1))))
            .await,
    );
    assert_eq!(oversized[0].0, "property.value");

    for name in ["b_region", "a_zone", "_hidden"] {
        client
            .set_company_property(with(&admin, property(name, "v")))
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

    let got = client
        .get_company_property(with(
            &tokens::viewer(account),
            pb::GetCompanyPropertyRequest {
                account_id: String::new(),
                name: "companyID".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .property
        .unwrap();
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
async fn variables_are_created_updated_and_deleted_with_their_user_values() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);

    let created = client
        .create_variable(with(&editor, variable("year", "2026")))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(created.default_value, "2026");
    failure(
        client
            .create_variable(with(&editor, variable("year", "1999")))
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(
        violations(
            client
                .create_variable(with(&editor, variable("9lives", "")))
                .await
        )[0]
        .0,
        "variable.name"
    );

    let updated = client
        .update_variable(with(
            &editor,
            pb::UpdateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "year".into(),
                    default_value: "2027".into(),
                    description: "ignored: not in the mask".into(),
                    etag: created.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["default_value"]),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(updated.default_value, "2027");
    assert_eq!(updated.description, "");
    let stale = client
        .update_variable(with(
            &editor,
            pb::UpdateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "year".into(),
                    default_value: "1".into(),
                    etag: created.etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["default_value"]),
            },
        ))
        .await;
    failure(stale, Code::Aborted);
    let rename = client
        .update_variable(with(
            &editor,
            pb::UpdateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "year".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
            },
        ))
        .await;
    assert_eq!(violations(rename)[0].0, "update_mask");

    library.member(account, "vera", Role::Viewer).await;
    let viewer = tokens::user_token(account, "vera", Role::Viewer);
    client
        .set_user_variable_value(with(
            &viewer,
            pb::SetUserVariableValueRequest {
                name: "year".into(),
                value: "2020".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        library
            .count("user_variable_values", "account_id", account)
            .await,
        1
    );

    let listed = client
        .list_variables(with(&viewer, pb::ListVariablesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.variables.len(), 1);
    client
        .delete_variable(with(
            &editor,
            pb::DeleteVariableRequest {
                name: "year".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        library
            .count("user_variable_values", "account_id", account)
            .await,
        0
    );
    failure(
        client
            .get_variable(with(
                &viewer,
                pb::GetVariableRequest {
                    account_id: String::new(),
                    name: "year".into(),
                },
            ))
            .await,
        Code::NotFound,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn properties_resolve_company_property_then_user_value_then_default() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let admin = tokens::admin(account);
    library.member(account, "ursula", Role::Viewer).await;
    library.member(account, "victor", Role::Editor).await;
    let ursula = tokens::user_token(account, "ursula", Role::Viewer);
    let victor = tokens::user_token(account, "victor", Role::Editor);

    for (name, default) in [("companyID", "0"), ("region", "eu"), ("year", "2026")] {
        client
            .create_variable(with(&admin, variable(name, default)))
            .await
            .unwrap();
    }
    client
        .set_company_property(with(&admin, property("companyID", "4711")))
        .await
        .unwrap();
    // Ursula picks a company and a region with user input controls.
    for (name, value) in [("companyID", "42"), ("region", "us")] {
        client
            .set_user_variable_value(with(
                &ursula,
                pb::SetUserVariableValueRequest {
                    name: name.into(),
                    value: value.into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
    }
    // Setting another user's value needs a service token; an unknown variable is NOT_FOUND.
    failure(
        client
            .set_user_variable_value(with(
                &victor,
                pb::SetUserVariableValueRequest {
                    user_id: "ursula".into(),
                    name: "region".into(),
                    value: "ap".into(),
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    failure(
        client
            .set_user_variable_value(with(
                &victor,
                pb::SetUserVariableValueRequest {
                    name: "nope".into(),
                    value: "1".into(),
                    ..Default::default()
                },
            ))
            .await,
        Code::NotFound,
    );

    let resolve = |token: String, user: &str| {
        let mut client = library.client();
        let request = pb::ResolvePropertiesRequest {
            account_id: if token == tokens::service() {
                account.to_string()
            } else {
                String::new()
            },
            user_id: user.into(),
            names: vec![
                "companyID".into(),
                "region".into(),
                "year".into(),
                "missing".into(),
            ],
        };
        async move {
            client
                .resolve_properties(with(&token, request))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let source_of = |response: &pb::ResolvePropertiesResponse, name: &str| {
        response
            .properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.value.clone(), p.source))
            .unwrap()
    };

    // The company property decides over Ursula's value; where the account has none, her
    // value does; else the default.
    let for_ursula = resolve(ursula.clone(), "").await;
    assert_eq!(
        source_of(&for_ursula, "companyID"),
        ("4711".into(), pb::PropertySource::CompanyProperty as i32)
    );
    assert_eq!(
        source_of(&for_ursula, "region"),
        ("us".into(), pb::PropertySource::UserValue as i32)
    );
    assert_eq!(
        source_of(&for_ursula, "year"),
        ("2026".into(), pb::PropertySource::VariableDefault as i32)
    );
    assert_eq!(for_ursula.values["companyID"], "4711");
    assert_eq!(for_ursula.unresolved, ["missing"]);

    // Her values are hers alone.
    let for_victor = resolve(victor, "").await;
    assert_eq!(for_victor.values["companyID"], "4711");
    assert_eq!(
        source_of(&for_victor, "region"),
        ("eu".into(), pb::PropertySource::VariableDefault as i32)
    );
    // A service resolves for no user, or for a named one.
    let no_user = resolve(tokens::service(), "").await;
    assert_eq!(no_user.values["companyID"], "4711");
    assert_eq!(no_user.values["region"], "eu");
    let as_ursula = resolve(tokens::service(), "ursula").await;
    assert_eq!(as_ursula.values["companyID"], "4711");
    assert_eq!(as_ursula.values["region"], "us");

    // Clearing Ursula's region brings the default back.
    client
        .set_user_variable_value(with(
            &ursula,
            pb::SetUserVariableValueRequest {
                name: "region".into(),
                clear: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        source_of(&resolve(ursula.clone(), "").await, "region"),
        ("eu".into(), pb::PropertySource::VariableDefault as i32)
    );
    // Without the company property, her company is used (a partner has none: there a
    // user input chooses).
    client
        .delete_company_property(with(
            &admin,
            pb::DeleteCompanyPropertyRequest {
                name: "companyID".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        source_of(&resolve(ursula, "").await, "companyID"),
        ("42".into(), pb::PropertySource::UserValue as i32)
    );
    assert_eq!(
        resolve(tokens::service(), "").await.values["companyID"],
        "0"
    );

    // Without names, everything the account defines resolves.
    let everything = client
        .resolve_properties(with(&admin, pb::ResolvePropertiesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let mut names: Vec<_> = everything.values.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["companyID", "region", "year"]);
    let bad_name = client
        .resolve_properties(with(
            &admin,
            pb::ResolvePropertiesRequest {
                names: vec!["ok".into(), "not ok".into()],
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(violations(bad_name)[0].0, "names[1]");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_values_are_held_to_the_variables_allowed_values() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let viewer = tokens::viewer(account);
    let regions = |default: &str, allowed: &[&str]| {
        let mut request = variable("region", default);
        request.variable.as_mut().unwrap().allowed_values =
            allowed.iter().map(|v| (*v).to_owned()).collect();
        request
    };

    // A default outside the allowed values is refused.
    let bad_default = violations(
        client
            .create_variable(with(&editor, regions("apac", &["eu", "us"])))
            .await,
    );
    assert_eq!(bad_default[0].0, "variable.default_value");
    assert_eq!(library.count("variables", "account_id", account).await, 0);
    let created = client
        .create_variable(with(&editor, regions("eu", &["eu", "us"])))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(created.allowed_values, ["eu", "us"]);
    // Nor may an update leave the default outside them.
    for (variable, paths) in [
        (
            pb::Variable {
                name: "region".into(),
                default_value: "apac".into(),
                ..Default::default()
            },
            &["default_value"],
        ),
        (
            pb::Variable {
                name: "region".into(),
                allowed_values: vec!["us".into()],
                ..Default::default()
            },
            &["allowed_values"],
        ),
    ] {
        let refused = violations(
            client
                .update_variable(with(
                    &editor,
                    pb::UpdateVariableRequest {
                        request_id: String::new(),
                        variable: Some(variable),
                        update_mask: mask(paths),
                    },
                ))
                .await,
        );
        assert_eq!(refused[0].0, "variable.default_value", "{paths:?}");
    }

    let set = |token: String, user: &str, value: &str| {
        let mut client = library.client();
        let request = pb::SetUserVariableValueRequest {
            account_id: if token == tokens::service() {
                account.to_string()
            } else {
                String::new()
            },
            user_id: user.into(),
            name: "region".into(),
            value: value.into(),
            ..Default::default()
        };
        async move { client.set_user_variable_value(with(&token, request)).await }
    };
    let region_for_viewer = || {
        let mut client = library.client();
        async move {
            let resolved = client
                .resolve_properties(with(
                    &tokens::viewer(account),
                    pb::ResolvePropertiesRequest {
                        names: vec!["region".into()],
                        ..Default::default()
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            let property = &resolved.properties[0];
            (property.value.clone(), property.source)
        }
    };

    // A user's value outside them is INVALID_ARGUMENT naming `value`, from the user or a
    // service alike, and nothing is stored.
    for (token, user) in [(viewer.clone(), ""), (tokens::service(), "viewer@test")] {
        let outside = violations(set(token, user, "apac").await);
        assert_eq!(outside.len(), 1, "{outside:?}");
        assert_eq!(outside[0].0, "value");
    }
    assert_eq!(
        library
            .count("user_variable_values", "account_id", account)
            .await,
        0
    );
    assert_eq!(
        region_for_viewer().await,
        ("eu".into(), pb::PropertySource::VariableDefault as i32)
    );

    // One of them is stored and resolves.
    set(viewer.clone(), "", "us").await.unwrap();
    assert_eq!(
        library
            .count("user_variable_values", "account_id", account)
            .await,
        1
    );
    assert_eq!(
        region_for_viewer().await,
        ("us".into(), pb::PropertySource::UserValue as i32)
    );
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
                property("companyID", company),
            ))
            .await
            .unwrap();
    }
    // As an import leaves it: the partner's user-input variable, and its data source.
    client
        .create_variable(with(&admin, variable("companyID", "all")))
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
        let mut client = library.client();
        let request = pb::ResolveDataSourceRequest {
            data_source_id: source.id.clone(),
            account_id: account,
            user_id: user.into(),
        };
        async move {
            client
                .resolve_data_source(with(&token, request))
                .await
                .unwrap()
                .into_inner()
                .resolved_request
                .unwrap()
        }
    };
    let before = resolve_source(viewer.clone(), String::new(), "").await;

    // The sibling's company, as a user value.
    client
        .set_user_variable_value(with(
            &viewer,
            pb::SetUserVariableValueRequest {
                name: "companyID".into(),
                value: "1002".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();

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
