//! A data source without auth that limits its rate-limit key (F5): the key is paced across
//! the account's family (a partner and its clients), and another family using the same key
//! string is not throttled by it.

use std::time::Duration;

use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;

use crate::common::*;
use crate::periods::limit_keys;
use crate::setup::{most_in, source_limit};

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_paced_across_a_family_and_never_across_families() {
    const PER_ACCOUNT: usize = 4;
    let world = World::start().await;
    let api = &world.api;
    let partner = world.account(library::AccountKind::Partner, None).await;
    let client = world
        .account(library::AccountKind::Client, Some(partner))
        .await;
    let stranger = world.account(library::AccountKind::Standard, None).await;
    let mut sources = Vec::new();
    // 2 per second on the key "reports", in each family.
    for (name, account) in [
        ("partner", partner),
        ("client", client),
        ("stranger", stranger),
    ] {
        world.member(account, "ann", Role::Viewer).await;
        for i in 0..PER_ACCOUNT {
            let path = format!("/{name}/{i}");
            api.set_json(&path, serde_json::json!({"i": i}));
            let url = api.url(&path);
            let source = world
                .source_with_key_limit(account, &url, "reports", source_limit(2, 1, 0))
                .await;
            sources.push((account, source));
        }
    }

    let mut settings = fast_settings();
    settings.workers = 8;
    settings.batch_size = 8;
    let replica = world.replica(settings).await;
    let mut refresh = refresh_client(&replica);
    let started = std::time::Instant::now();
    for account in [partner, client, stranger] {
        assert_eq!(
            login(&mut refresh, account, "ann").await.queued_jobs,
            PER_ACCOUNT as i32
        );
    }
    for (account, source) in &sources {
        wait_until_fetched(&refresh, *account, &[*source]).await;
    }

    let arrivals = api.arrivals();
    let second = Duration::from_secs(1);
    let family = most_in(&arrivals, second, |a| !a.path.starts_with("/stranger/"));
    let other = most_in(&arrivals, second, |a| a.path.starts_with("/stranger/"));
    let together = most_in(&arrivals, second, |_| true);
    println!(
        "{} requests in {:?}: at most {family} a second in the family, {other} in the other, {together} together",
        arrivals.len(),
        started.elapsed()
    );
    assert_eq!(arrivals.len(), 3 * PER_ACCOUNT);
    assert!(
        family <= 2,
        "the partner and its client share the key: {family} in a second"
    );
    assert!(other <= 2, "{other} in a second");
    // The families are paced apart: together they went faster than one key allows.
    assert!(
        together > 2,
        "the other family was held back: {together} in a second"
    );
    let keys = limit_keys(&world.refresh_database).await;
    assert!(
        keys.contains(&format!("key:family:{partner}:reports"))
            && keys.contains(&format!("key:family:{stranger}:reports"))
            && !keys.iter().any(|k| k.contains(&client.to_string())),
        "one key per family, the client's counted in its partner's: {keys:?}"
    );
}
