//! A limit of several periods at once (F5): a token allowed 5 requests a second and 12 in
//! any 5 seconds, against an API that enforces both windows and answers 429 past either.

use std::sync::Arc;
use std::time::Duration;

use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_testkit::data_api::{Auth, Limits, Window};
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};

use crate::common::*;
use crate::setup::{api_limit, fetch_all_on_two_replicas, most_in};

#[tokio::test(flavor = "multi_thread")]
async fn a_token_limited_per_second_and_per_five_seconds_keeps_to_both_and_meets_no_429() {
    const SOURCES: usize = 20;
    let world = World::start().await;
    let oauth = Arc::new(OAuthServer::start(OAuthServerConfig::default()).await);
    let api = &world.api;
    let checker = oauth.clone();
    api.require(Auth::Bearer(Arc::new(move |token: &str| {
        checker.is_access_token_valid(token)
    })));
    api.limit_per_credential(Limits {
        max_concurrent: Some(3),
        per_second: Some(5),
    });
    api.limit_window(Window {
        count: 12,
        window: Duration::from_secs(5),
        per_credential: true,
    });

    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "analyst", Role::Viewer).await;
    // The same limits with the provider: 5/s, 12 per 5 s and 3 at once.
    let limit = api_limit(5, 1, &[(12, 5)], 3);
    let token = world
        .token_of_provider(&oauth, account, Some(limit), None)
        .await;
    let mut sources = Vec::new();
    for i in 0..SOURCES {
        let path = format!("/periods/{i}");
        api.set_json(&path, serde_json::json!({"i": i}));
        api.set_delay(
            &path,
            Duration::from_millis(if i % 3 == 0 { 400 } else { 20 }),
        );
        let auth = Some(library::data_source_auth::Method::TokenId(token.clone()));
        sources.push(
            world
                .data_source_with(account, &api.url(&path), HOUR, auth, "")
                .await,
        );
    }

    let took = fetch_all_on_two_replicas(&world, account, &sources).await;

    let arrivals = api.arrivals();
    let per_second = most_in(&arrivals, Duration::from_secs(1), |_| true);
    let per_five = most_in(&arrivals, Duration::from_secs(5), |_| true);
    println!(
        "{} requests in {:?}: at most {per_second} in a second, {per_five} in 5 s, {} at once, {} 429s",
        arrivals.len(),
        took,
        api.max_concurrency_per_credential(),
        api.rejected_429()
    );
    assert_eq!(api.rejected_429(), 0, "the API never had to answer 429");
    assert_eq!(arrivals.len(), SOURCES, "each data source fetched once");
    assert!(per_second <= 5, "{per_second} in one second");
    assert!(per_five <= 12, "{per_five} in five seconds");
    assert!(api.max_concurrency_per_credential() <= 3);
    // The second rate held on its own key beside the first.
    let keys = limit_keys(&world.refresh_database).await;
    assert!(
        keys.contains(&format!("token:{token}")) && keys.contains(&format!("token:{token}#5000ms")),
        "{keys:?}"
    );
}

/// The limit keys the refresh database holds state for.
pub async fn limit_keys(database: &trellis_testkit::TestDatabase) -> Vec<String> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        limit_key: String,
    }
    let mut conn = connect(database).await;
    diesel::sql_query("SELECT limit_key FROM api_limits ORDER BY limit_key")
        .load::<Key>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.limit_key)
        .collect()
}
