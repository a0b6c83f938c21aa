//! The Google Analytics case end to end (F5): a provider allowing 10 concurrent requests per
//! profile, and 30 data sources of one OAuth token reading one profile.

use std::sync::Arc;
use std::time::Duration;

use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_testkit::data_api::{Auth, Limits};
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};

use crate::common::*;
use crate::setup::{api_limit, fetch_all_on_two_replicas};

#[tokio::test(flavor = "multi_thread")]
async fn thirty_sources_on_one_profile_key_never_exceed_its_ten_at_once() {
    const SOURCES: usize = 30;
    const AT_ONCE: usize = 10;
    let world = World::start().await;
    let oauth = Arc::new(OAuthServer::start(OAuthServerConfig::default()).await);
    let api = &world.api;
    let checker = oauth.clone();
    api.require(Auth::Bearer(Arc::new(move |token: &str| {
        checker.is_access_token_valid(token)
    })));
    // Every request reads the one profile with the one token: per credential is per profile.
    api.limit_per_credential(Limits {
        max_concurrent: Some(AT_ONCE),
        per_second: Some(40),
    });

    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "analyst", Role::Viewer).await;
    // The catalogue's Google Analytics limit: 10 at once per profile, and a rate.
    let per_profile = api_limit(40, 1, &[], AT_ONCE as i32);
    let token = world
        .token_of_provider(&oauth, account, None, Some(per_profile))
        .await;
    let mut sources = Vec::new();
    for i in 0..SOURCES {
        let path = format!("/ga/v3/data/{i}");
        api.set_json(
            &path,
            serde_json::json!({"profile": "ga:1234", "report": i}),
        );
        // Long enough that the 16 worker slots would hold more than 10 at once.
        api.set_delay(&path, Duration::from_millis(500));
        let auth = Some(library::data_source_auth::Method::TokenId(token.clone()));
        sources.push(
            world
                .data_source_with(account, &api.url(&path), HOUR, auth, "ga:1234")
                .await,
        );
    }

    fetch_all_on_two_replicas(&world, account, &sources).await;

    let at_once = api.max_concurrency_per_credential();
    println!(
        "{} requests, at most {at_once} at once on the profile, {} 429s",
        api.requests(),
        api.rejected_429()
    );
    assert_eq!(api.requests(), SOURCES, "each data source fetched once");
    assert!(at_once <= AT_ONCE, "{at_once} at once on one profile");
    assert_eq!(api.rejected_429(), 0, "the API never had to answer 429");
    assert!(
        api.arrivals().iter().all(|a| a.status == 200),
        "every request answered"
    );
}
