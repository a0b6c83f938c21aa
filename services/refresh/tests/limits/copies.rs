//! A saved credential's limit is shared by its copies (F5): a partner's API key copied into
//! a client's imported data sources counts against one limit, `credential:<the original>`.

use std::time::Duration;

use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_testkit::data_api::{Auth, Limits};

use crate::common::*;
use crate::periods::limit_keys;
use crate::setup::{api_limit, most_in};

#[tokio::test(flavor = "multi_thread")]
async fn data_sources_using_copies_of_one_credential_keep_to_its_limit_together() {
    const PER_ACCOUNT: usize = 5;
    let world = World::start().await;
    let api = &world.api;
    api.require(Auth::ApiKeyQuery {
        name: "key".into(),
        key: "k-123".into(),
    });
    // The API counts by key: every copy presents the same one.
    api.limit_per_credential(Limits {
        max_concurrent: Some(2),
        per_second: Some(4),
    });

    let partner = world.account(library::AccountKind::Partner, None).await;
    let client = world
        .account(library::AccountKind::Client, Some(partner))
        .await;
    for account in [partner, client] {
        world.member(account, "ann", Role::Viewer).await;
    }
    let credential = world
        .limited_api_key(partner, "key", "k-123", api_limit(4, 1, &[], 2))
        .await;
    let auth = || {
        Some(library::data_source_auth::Method::CredentialId(
            credential.clone(),
        ))
    };
    let mut masters = Vec::new();
    let mut clones = Vec::new();
    for i in 0..PER_ACCOUNT {
        let path = format!("/copies/{i}");
        api.set_json(&path, serde_json::json!({"i": i}));
        api.set_delay(
            &path,
            Duration::from_millis(if i % 2 == 0 { 600 } else { 20 }),
        );
        let url = api.url(&path);
        let master = world
            .data_source_with(partner, &url, HOUR, auth(), "")
            .await;
        // The import's clone: the same request, with a copy of the credential.
        let clone = world.data_source(client, &url, HOUR).await;
        world
            .copy_for_clone(&credential, (partner, master), (client, clone))
            .await;
        masters.push(master);
        clones.push(clone);
    }

    let mut settings = fast_settings();
    settings.workers = 8;
    settings.batch_size = 8;
    let replica = world.replica(settings).await;
    let mut refresh = refresh_client(&replica);
    let queued = login(&mut refresh, partner, "ann").await.queued_jobs
        + login(&mut refresh, client, "ann").await.queued_jobs;
    assert_eq!(queued, 2 * PER_ACCOUNT as i32);
    wait_until_fetched(&refresh, partner, &masters).await;
    wait_until_fetched(&refresh, client, &clones).await;

    let arrivals = api.arrivals();
    let per_second = most_in(&arrivals, Duration::from_secs(1), |_| true);
    let at_once = api.max_concurrency_per_credential();
    println!(
        "{} requests: at most {per_second} in a second, {at_once} at once, {} 429s",
        arrivals.len(),
        api.rejected_429()
    );
    assert_eq!(
        arrivals.len(),
        2 * PER_ACCOUNT,
        "each data source fetched once"
    );
    assert!(
        arrivals.iter().all(|a| a.status == 200),
        "the copies' key was accepted and nothing refused: {arrivals:?}"
    );
    assert_eq!(api.rejected_429(), 0);
    assert!(per_second <= 4, "{per_second} in one second");
    assert!(at_once <= 2, "{at_once} at once");
    // One limit for the original and its copies.
    let keys = limit_keys(&world.refresh_database).await;
    let credential_keys: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("credential:"))
        .collect();
    assert_eq!(
        credential_keys,
        [&format!("credential:{credential}")],
        "{keys:?}"
    );
}
