//! Data-source instances: a dynamic data source resolves per user (I13), a changed one
//! retires its old instance.

use crate::common::*;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;

/// The cached data of `account`'s data source for `user` (empty: no user's values), read
/// as the services read it (GetCachedData takes no user's token).
async fn cached_json(
    client: &refresh::refresh_service_client::RefreshServiceClient<
        trellis_platform::client::TracedChannel,
    >,
    account: Uuid,
    data_source: Uuid,
    user: &str,
) -> prost_types::Value {
    client
        .clone()
        .get_cached_data(call(
            refresh::GetCachedDataRequest {
                data_source_id: data_source.to_string(),
                account_id: account.to_string(),
                instance_key: String::new(),
                user_id: user.to_owned(),
            },
            &tokens::service(),
        ))
        .await
        .expect("GetCachedData")
        .into_inner()
        .cached_data
        .unwrap()
        .data
        .unwrap()
}

fn text(value: &prost_types::Value) -> String {
    match &value.kind {
        Some(prost_types::value::Kind::StringValue(s)) => s.clone(),
        other => panic!("a string, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dynamic_data_source_resolves_with_each_users_values() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set_json("/sales/us", serde_json::json!("us sales"));
    api.set_json("/sales/eu", serde_json::json!("eu sales"));
    let partner = world.account(library::AccountKind::Partner, None).await;
    world.member(partner, "ann", Role::Editor).await;
    world.member(partner, "bob", Role::Viewer).await;
    let mut library_client = world.library_client();
    library_client
        .create_variable(call(
            library::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(library::Variable {
                    name: "region".into(),
                    default_value: "eu".into(),
                    ..Default::default()
                }),
            },
            &tokens::admin(partner),
        ))
        .await
        .expect("CreateVariable");
    // Ann picked "us" in a user input; Bob kept the default (I13).
    let ann = tokens::user_token(partner, "ann", Role::Editor);
    library_client
        .set_user_variable_value(call(
            library::SetUserVariableValueRequest {
                name: "region".into(),
                value: "us".into(),
                ..Default::default()
            },
            &ann,
        ))
        .await
        .expect("SetUserVariableValue");
    let source = world
        .data_source(partner, &api.url("/sales/{props.region}"), HOUR)
        .await;

    assert_eq!(login(&mut client, partner, "ann").await.queued_jobs, 1);
    wait_for_requests(api, "/sales/us", 1, "ann's instance to be fetched").await;
    assert_eq!(login(&mut client, partner, "bob").await.queued_jobs, 1);
    wait_for_requests(api, "/sales/eu", 1, "bob's instance to be fetched").await;
    let status = eventually("both instances to be stored", WAIT, || {
        let mut client = client.clone();
        async move {
            let status = refresh_status(&mut client, partner, source).await;
            (status.instances.len() == 2
                && status.instances.iter().all(|i| i.last_fetch_time.is_some()))
            .then_some(status)
        }
    })
    .await;
    let mut urls: Vec<String> = status.instances.iter().map(|i| i.url.clone()).collect();
    urls.sort();
    assert_eq!(
        urls,
        [api.url("/sales/eu"), api.url("/sales/us")],
        "one instance per distinct resolved request"
    );
    assert_eq!(
        text(&cached_json(&client, partner, source, "ann").await),
        "us sales"
    );
    assert_eq!(
        text(&cached_json(&client, partner, source, "bob").await),
        "eu sales"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_data_source_retires_its_old_instance() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set_json("/v1", serde_json::json!("old"));
    api.set_json("/v2", serde_json::json!("new"));
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let source = world.data_source(account, &api.url("/v1"), HOUR).await;
    login(&mut client, account, "ann").await;
    wait_until_fetched(&client, account, &[source]).await;

    // The URL changes; the old instance's next refresh resolves to a new request.
    world
        .library_client()
        .update_data_source(call(
            library::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(library::DataSource {
                    id: source.to_string(),
                    account_id: account.to_string(),
                    request: Some(library::HttpRequestTemplate {
                        method: library::HttpMethod::Get as i32,
                        url: api.url("/v2"),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["request.url".into()],
                }),
            },
            &tokens::admin(account),
        ))
        .await
        .expect("UpdateDataSource");
    age(&world.refresh_database, &[source], 2 * HOUR).await;
    wait_for_requests(api, "/v2", 1, "the new request to be fetched").await;
    let status = eventually("the old instance to be retired", WAIT, || {
        let mut client = client.clone();
        async move {
            let status = refresh_status(&mut client, account, source).await;
            (status.instances.len() == 1 && status.instances[0].last_fetch_time.is_some())
                .then_some(status)
        }
    })
    .await;
    assert_eq!(status.instances[0].url, api.url("/v2"));
    assert_eq!(
        api.requests_for("/v1"),
        1,
        "the old request is not sent again"
    );
    assert_eq!(
        text(&cached_json(&client, account, source, "").await),
        "new"
    );
}
