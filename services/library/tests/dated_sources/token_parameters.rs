//! `{token.NAME}`: only with an OAuth token, left in the resolved request for the refresh
//! service, listed sorted and unique, never an unresolved property.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn token_parameters_need_an_oauth_token_and_are_listed_for_refresh() {
    let library = common::registry::start_with_tokens().await;
    let account = library.standard().await;
    let admin = tokens::admin(account);
    let token = library.oauth_token(account).await;
    let url = "{token.instance_url}/services/data/v58.0/query?org={token.org_id}&q={props.q}";
    let mut source = json_source(None, "Opportunities", url);
    source.request.as_mut().unwrap().headers = vec![pb::HttpHeader {
        name: "X-Org".into(),
        value: "{token.org_id}".into(),
    }];

    let found = violations(create(&library, &admin, source.clone()).await);
    assert!(
        found
            .iter()
            .any(|(f, d)| f == "data_source.request.url" && d.contains("needs an OAuth token")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(f, _)| f == "data_source.request.headers[0].value"),
        "{found:?}"
    );

    source.auth = common::auth_token(token);
    let created = create(&library, &admin, source).await.unwrap();
    assert_eq!(
        created.template_properties,
        ["q"],
        "tokens are not properties"
    );
    let resolved = resolve(&library, account, &created.id, None).await.unwrap();
    assert_eq!(resolved.unresolved_properties, ["q"]);
    library
        .client()
        .set_company_property(with(&admin, common::calls::set_property("q", "open deals")))
        .await
        .unwrap();
    let resolved = resolve(&library, account, &created.id, None).await.unwrap();
    assert_eq!(
        resolved.url,
        "{token.instance_url}/services/data/v58.0/query?org={token.org_id}&q=open%20deals"
    );
    assert_eq!(resolved.headers[0].value, "{token.org_id}");
    assert_eq!(resolved.token_parameters, ["instance_url", "org_id"]);
    assert!(resolved.unresolved_properties.is_empty());

    // A token parameter is filled at fetch time: it cannot name the rate-limit key.
    let keyed = update(
        &library,
        &admin,
        pb::DataSource {
            id: created.id.clone(),
            rate_limit_key: "sf:{token.org_id}".into(),
            ..Default::default()
        },
        &["rate_limit_key"],
    )
    .await;
    let found = violations(keyed);
    assert_eq!(found[0].0, "data_source.rate_limit_key", "{found:?}");
}
