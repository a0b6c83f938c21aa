//! Exactly one refresh per expiry, across concurrent callers and replicas, with rotating
//! single-use refresh tokens; invalid_grant handled without killing a rotated token.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tonic::Code;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use uuid::Uuid;

use crate::common::*;

/// A token whose access token has expired: issued with a lifetime inside the refresh
/// window, then expired at the provider too; refreshes issue hour-long ones.
pub(crate) async fn expired_token(fixture: &Fixture, account: Uuid) -> Token {
    let provider = fixture.provider(0, 0).await;
    fixture.oauth.set_access_token_ttl(Duration::from_secs(30));
    let token = authorize(&mut fixture.client.clone(), account, &provider.id, None)
        .await
        .token
        .unwrap();
    fixture.oauth.expire_access_tokens();
    fixture
        .oauth
        .set_access_token_ttl(Duration::from_secs(3600));
    token
}

/// Checks the answers of a burst: one refreshed, all the same valid access token.
pub(crate) fn one_refresh_for_all(fixture: &Fixture, answers: &[GetAccessTokenResponse]) {
    assert_eq!(
        fixture.oauth.refreshes(),
        1,
        "exactly one refresh at the provider"
    );
    assert_eq!(answers.iter().filter(|a| a.refreshed).count(), 1);
    let distinct: HashSet<&str> = answers.iter().map(|a| a.access_token.as_str()).collect();
    assert_eq!(distinct.len(), 1, "every caller gets the new access token");
    assert!(
        fixture
            .oauth
            .is_access_token_valid(answers[0].access_token.as_str())
    );
    assert!(answers.iter().all(|a| a.generation == 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_concurrent_calls_on_an_expired_token_refresh_once() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let account = fixture.account().await;
    let token = expired_token(&fixture, account).await;
    // Slow the provider a little so that the burst really overlaps the refresh.
    fixture
        .oauth
        .delay_next_token_requests(1, Duration::from_millis(200));

    let started = Instant::now();
    let calls = (0..100).map(|_| {
        let mut client = fixture.client.clone();
        let token_id = token.id.clone();
        async move {
            access_token(&mut client, &token_id, account, Uuid::new_v4(), 0)
                .await
                .expect("an access token")
        }
    });
    let answers = join_all(calls).await;
    println!(
        "100 concurrent GetAccessToken on one replica: {:?}",
        started.elapsed()
    );
    one_refresh_for_all(&fixture, &answers);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_one_database_refresh_once() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let second = fixture.replica().await;
    let account = fixture.account().await;
    let token = expired_token(&fixture, account).await;
    fixture
        .oauth
        .delay_next_token_requests(1, Duration::from_millis(200));

    let clients = [fixture.client.clone(), client(&second)];
    let started = Instant::now();
    let calls = (0..100).map(|i| {
        let mut client = clients[i % 2].clone();
        let token_id = token.id.clone();
        async move {
            access_token(&mut client, &token_id, account, Uuid::new_v4(), 0)
                .await
                .expect("an access token")
        }
    });
    let answers = join_all(calls).await;
    println!(
        "100 concurrent GetAccessToken over two replicas: {:?}",
        started.elapsed()
    );
    one_refresh_for_all(&fixture, &answers);

    // A data source that saw the new token rejected asks for the next one: one more
    // refresh for a burst of such rejections, on both replicas.
    let rejected = answers[0].generation;
    let calls = (0..20).map(|i| {
        let mut client = clients[i % 2].clone();
        let token_id = token.id.clone();
        async move {
            access_token(&mut client, &token_id, account, Uuid::new_v4(), rejected)
                .await
                .expect("an access token")
        }
    });
    let again = join_all(calls).await;
    assert_eq!(fixture.oauth.refreshes(), 2);
    assert!(again.iter().all(|a| a.generation == rejected + 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_single_use_refresh_tokens_survive_many_refreshes() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let account = fixture.account().await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let token = new_token(&mut client, account, &provider.id).await;
    let data_source = Uuid::new_v4();

    let mut current = access_token(&mut client, &token.id, account, data_source, 0)
        .await
        .unwrap();
    let mut seen = HashSet::from([current.access_token.clone()]);
    for round in 1..=25 {
        // The data source's request was rejected (401): refresh past that generation.
        let next = access_token(
            &mut client,
            &token.id,
            account,
            data_source,
            current.generation,
        )
        .await
        .unwrap_or_else(|e| panic!("refresh {round}: {e:?}"));
        assert!(next.refreshed);
        assert_eq!(next.generation, current.generation + 1);
        assert!(
            seen.insert(next.access_token.clone()),
            "a new access token each time"
        );
        assert!(fixture.oauth.is_access_token_valid(&next.access_token));
        current = next;
    }
    assert_eq!(fixture.oauth.refreshes(), 25);
    assert_eq!(
        fixture.oauth.counters().refused_refreshes,
        0,
        "no refresh token used twice"
    );
    let token = get_token(&mut client, account, &token.id).await;
    assert_eq!(token.status, TokenStatus::Active as i32);
    assert!(token.last_refresh_time.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_grant_after_a_concurrent_rotation_does_not_kill_the_token() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let second = fixture.replica().await;
    let account = fixture.account().await;
    let provider = fixture.provider(0, 0).await;
    let token = authorize(&mut fixture.client.clone(), account, &provider.id, None)
        .await
        .token
        .unwrap();
    let first = access_token(
        &mut fixture.client.clone(),
        &token.id,
        account,
        Uuid::new_v4(),
        0,
    )
    .await
    .unwrap();

    // Replica one starts a refresh; the provider holds it, then refuses it with
    // invalid_grant, as it would for a refresh token that was rotated meanwhile.
    let gate = fixture.oauth.hold_next_token_requests(1);
    fixture.oauth.fail_next_token_requests(1, "invalid_grant");
    let refreshing = {
        let mut client = fixture.client.clone();
        let token_id = token.id.clone();
        tokio::spawn(async move {
            access_token(
                &mut client,
                &token_id,
                account,
                Uuid::new_v4(),
                first.generation,
            )
            .await
        })
    };
    gate.wait_until_held(1).await;

    // Meanwhile, on replica two, the token's secrets are replaced (re-authorized).
    let reauthorized = authorize(&mut client(&second), account, "", Some(&token.id)).await;
    assert_eq!(reauthorized.token.unwrap().id, token.id);

    gate.release();
    let answer = refreshing
        .await
        .unwrap()
        .expect("the new secrets answer instead of an error");
    assert!(!answer.refreshed);
    assert!(answer.generation > first.generation);
    assert!(fixture.oauth.is_access_token_valid(&answer.access_token));
    let after = get_token(&mut fixture.client.clone(), account, &token.id).await;
    assert_eq!(
        after.status,
        TokenStatus::Active as i32,
        "{}",
        after.status_message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_grant_on_an_unchanged_token_asks_for_reauthorization() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let account = fixture.account().await;
    let token = expired_token(&fixture, account).await;
    let mut client = fixture.client.clone();

    // A provider failure that is not invalid_grant leaves the token alone.
    fixture
        .oauth
        .fail_next_token_requests(1, "temporarily_unavailable");
    let flaky = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .unwrap_err();
    assert_ne!(flaky.code(), Code::Internal, "{flaky:?}");
    assert_eq!(
        get_token(&mut client, account, &token.id).await.status,
        TokenStatus::Active as i32
    );

    fixture.oauth.fail_next_token_requests(1, "invalid_grant");
    let dead = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .unwrap_err();
    assert_eq!(dead.code(), Code::FailedPrecondition);
    let failure = details(&dead).precondition_failure().unwrap().clone();
    assert_eq!(failure.violations[0].r#type, "TOKEN_STATUS");
    let token = get_token(&mut client, account, &token.id).await;
    assert_eq!(token.status, TokenStatus::NeedsReauthorization as i32);
    assert!(token.status_message.contains("invalid_grant"));
    // No further calls reach the provider for a dead token.
    let requests = fixture.oauth.counters().token_requests;
    let still_dead = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .unwrap_err();
    assert_eq!(still_dead.code(), Code::FailedPrecondition);
    assert_eq!(fixture.oauth.counters().token_requests, requests);
}
