//! Variables and their user values, held to the allowed values.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn variables_are_created_updated_and_deleted_with_their_user_values() {
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();

    let created = client
        .create_variable(with(&editor, calls::new_variable("year", "2026")))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(created.default_value, "2026");
    failure(
        client
            .create_variable(with(&editor, calls::new_variable("year", "1999")))
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(
        violations(
            client
                .create_variable(with(&editor, calls::new_variable("9lives", "")))
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
            crate::common::calls::user_value("year", "2020"),
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
async fn user_values_are_held_to_the_variables_allowed_values() {
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();
    let viewer = tokens::viewer(account);
    let regions = |default: &str, allowed: &[&str]| {
        let mut request = calls::new_variable("region", default);
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

    // How many user values are stored, and what the viewer's region resolves to.
    let stored_and_resolved = async |rows: i64, region: &str, source: pb::PropertySource| {
        let stored = library.count("user_variable_values", "account_id", account);
        assert_eq!(stored.await, rows);
        assert_eq!(region_for_viewer().await, (region.into(), source as i32));
    };

    // A user's value outside them is INVALID_ARGUMENT naming `value`, from the user or a
    // service alike, and nothing is stored.
    for (token, user) in [(viewer.clone(), ""), (tokens::service(), "viewer@test")] {
        let outside = violations(set(token, user, "apac").await);
        assert_eq!(outside.len(), 1, "{outside:?}");
        assert_eq!(outside[0].0, "value");
    }
    stored_and_resolved(0, "eu", pb::PropertySource::VariableDefault).await;

    // One of them is stored and resolves.
    set(viewer.clone(), "", "us").await.unwrap();
    stored_and_resolved(1, "us", pb::PropertySource::UserValue).await;
}
