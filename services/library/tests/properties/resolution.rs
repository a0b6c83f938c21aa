//! Resolution order: company property, then user value, then default.

use super::*;

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
            .create_variable(with(&admin, calls::new_variable(name, default)))
            .await
            .unwrap();
    }
    client
        .set_company_property(with(&admin, calls::set_property("companyID", "4711")))
        .await
        .unwrap();
    // Ursula picks a company and a region with user input controls.
    for (name, value) in [("companyID", "42"), ("region", "us")] {
        client
            .set_user_variable_value(with(&ursula, crate::common::calls::user_value(name, value)))
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
            .set_user_variable_value(with(&victor, crate::common::calls::user_value("nope", "1")))
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
