//! A refresh under faults and limits: its caller goes away while the provider holds the
//! request, a burst of callers meets a small pool, a provider answers with lifetimes no
//! date can hold, a re-authorization lands while an expired token is being marked, and a
//! pool too small for a refresh is refused at start.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::sql_types::{BigInt, Integer};
use diesel_async::RunQueryDsl;
use futures::future::join_all;
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::{TestDatabase, eventually, tokens};
use uuid::Uuid;

use crate::common::*;
use crate::refresh::{expired_token, one_refresh_for_all};

const WAIT: Duration = Duration::from_secs(20);
const YEAR_SECS: i64 = 365 * 24 * 60 * 60;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_whose_caller_went_away_is_stored_all_the_same() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    // Its calls run at most two seconds: it drops a handler as a caller's deadline would.
    let impatient = fixture.impatient_replica(Duration::from_secs(2)).await;
    let account = fixture.account().await;
    let token = expired_token(&fixture, account).await;
    let mut client = fixture.client.clone();

    // The provider holds the refresh until the caller has been cut off.
    let gate = fixture.oauth.hold_next_token_requests(1);
    let cut = access_token(
        &mut crate::common::client(&impatient),
        &token.id,
        account,
        Uuid::new_v4(),
        0,
    )
    .await
    .expect_err("the call runs out of time while the provider holds the refresh");
    assert!(
        matches!(cut.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{cut:?}"
    );
    gate.wait_until_held(1).await;
    gate.release();

    // The provider rotated the refresh token; the new one is stored although nobody waits.
    eventually("the refresh to be stored", WAIT, || {
        let mut client = client.clone();
        let token_id = token.id.clone();
        async move {
            let token = get_token(&mut client, account, &token_id).await;
            token.last_refresh_time.is_some().then_some(())
        }
    })
    .await;
    let stored = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .expect("the stored access token, without re-authorization");
    assert!(!stored.refreshed);
    assert_eq!(stored.generation, 2);
    assert!(fixture.oauth.is_access_token_valid(&stored.access_token));
    assert_eq!(fixture.oauth.refreshes(), 1, "exactly one refresh");

    // The rotated refresh token is the one stored: the next refresh works with it.
    let next = access_token(
        &mut client,
        &token.id,
        account,
        Uuid::new_v4(),
        stored.generation,
    )
    .await
    .expect("a refresh with the rotated refresh token");
    assert!(next.refreshed);
    assert_eq!(next.generation, 3);
    assert_eq!(fixture.oauth.refreshes(), 2);
    assert_eq!(fixture.oauth.counters().refused_refreshes, 0);
    let after = get_token(&mut client, account, &token.id).await;
    assert_eq!(after.status, TokenStatus::Active as i32);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_callers_on_a_pool_of_four_refresh_once_and_leave_the_pool_to_others() {
    let fixture = Fixture::start_pooled(OAuthServerConfig::default(), settings(), 4).await;
    let account = fixture.account().await;
    let token = expired_token(&fixture, account).await;
    let mut client = fixture.client.clone();
    let other = authorize(&mut client, account, &token.provider_id, None)
        .await
        .token
        .expect("a second token, not expiring");

    let gate = fixture.oauth.hold_next_token_requests(1);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let mut client = fixture.client.clone();
            let token_id = token.id.clone();
            tokio::spawn(async move {
                access_token(&mut client, &token_id, account, Uuid::new_v4(), 0).await
            })
        })
        .collect();
    gate.wait_until_held(1).await;

    // While the refresh waits at the provider with a hundred callers behind it, the pool
    // still serves everything else.
    let mut request = call(
        GetAccessTokenRequest {
            token_id: other.id.clone(),
            account_id: account.to_string(),
            data_source_id: Uuid::new_v4().to_string(),
            ..Default::default()
        },
        &tokens::service_as(Identity::Refresh),
    );
    request.set_timeout(WAIT);
    let served = client
        .get_access_token(request)
        .await
        .expect("another token is served while a refresh waits")
        .into_inner();
    assert!(!served.refreshed);
    assert_eq!(gate.held(), 1, "the refresh is still held");

    gate.release();
    let answers: Vec<GetAccessTokenResponse> = join_all(calls)
        .await
        .into_iter()
        .map(|call| call.expect("the call's task").expect("an access token"))
        .collect();
    one_refresh_for_all(&fixture, &answers);
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_lifetimes_are_clamped_to_a_year_and_zero_expires_at_once() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let account = fixture.account().await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();

    // About 31 million years: more than any date can hold.
    fixture
        .oauth
        .set_access_token_ttl(Duration::from_secs(10u64.pow(15)));
    let token = authorize(&mut client, account, &provider.id, None)
        .await
        .token
        .expect("a token, whatever the lifetime");
    let clamped = |expire: Option<prost_types::Timestamp>| {
        let expire = expire.expect("an expiry").seconds;
        let now = now_secs();
        expire > now + YEAR_SECS - 3600 && expire <= now + YEAR_SECS + 60
    };
    assert!(clamped(token.expire_time), "{:?}", token.expire_time);
    let first = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .expect("the access token");
    assert!(!first.refreshed, "a year is far from the refresh window");
    let refreshed = access_token(
        &mut client,
        &token.id,
        account,
        Uuid::new_v4(),
        first.generation,
    )
    .await
    .expect("a refresh with the same lifetime");
    assert!(refreshed.refreshed);
    assert!(
        clamped(refreshed.expire_time),
        "{:?}",
        refreshed.expire_time
    );

    // A lifetime of zero expires at once: the caller gets the token, the next one
    // refreshes again, and nothing fails.
    fixture.oauth.set_access_token_ttl(Duration::ZERO);
    let zero = access_token(
        &mut client,
        &token.id,
        account,
        Uuid::new_v4(),
        refreshed.generation,
    )
    .await
    .expect("a refresh with a zero lifetime");
    assert!(zero.refreshed);
    assert!(zero.expire_time.expect("an expiry").seconds <= now_secs() + 1);
    let again = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .expect("another refresh");
    assert!(again.refreshed);
    assert_eq!(again.generation, zero.generation + 1);
    assert_eq!(fixture.oauth.counters().refused_refreshes, 0);
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_re_authorized_while_it_is_marked_dead_answers_with_its_new_secrets() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let account = fixture.account().await;
    let token = expired_token(&fixture, account).await;
    let token_id: Uuid = token.id.parse().expect("a token id");
    // A provider that gave no refresh token: the expired token can only be marked.
    let mut reauthorization = fixture.database.connect().await;
    diesel::sql_query("UPDATE token_secrets SET refresh_token = NULL WHERE token_id = $1")
        .bind::<diesel::sql_types::Uuid, _>(token_id)
        .execute(&mut reauthorization)
        .await
        .expect("no refresh token");

    // A re-authorization's new secrets, not committed yet: the same access token, now
    // valid for an hour, at the next generation.
    let pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut reauthorization)
        .await
        .expect("the re-authorization's backend")
        .pid;
    diesel::sql_query("BEGIN")
        .execute(&mut reauthorization)
        .await
        .expect("BEGIN");
    diesel::sql_query(
        "UPDATE token_secrets SET generation = generation + 1, \
         expire_time = now() + interval '1 hour' WHERE token_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(token_id)
    .execute(&mut reauthorization)
    .await
    .expect("the re-authorization's secrets");

    let call = tokio::spawn({
        let mut client = fixture.client.clone();
        let token_id = token.id.clone();
        async move { access_token(&mut client, &token_id, account, Uuid::new_v4(), 0).await }
    });
    // The mark read the old generation and now waits for the re-authorization to end.
    let watcher = Arc::new(tokio::sync::Mutex::new(fixture.database.connect().await));
    eventually("the mark to wait for the re-authorization", WAIT, || {
        let (watcher, finished) = (watcher.clone(), call.is_finished());
        async move {
            let blocked: Count = diesel::sql_query(
                "SELECT count(*) AS count FROM pg_stat_activity \
                 WHERE $1 = ANY(pg_blocking_pids(pid))",
            )
            .bind::<Integer, _>(pid)
            .get_result(&mut *watcher.lock().await)
            .await
            .expect("pg_stat_activity");
            (finished || blocked.count > 0).then_some(())
        }
    })
    .await;
    if call.is_finished() {
        panic!(
            "the call ended before the re-authorization did: {:?}",
            call.await
        );
    }
    diesel::sql_query("COMMIT")
        .execute(&mut reauthorization)
        .await
        .expect("COMMIT");

    let answer = call
        .await
        .expect("the call's task")
        .expect("the re-authorized token's access token, not NEEDS_REAUTHORIZATION");
    assert_eq!(answer.generation, 2);
    assert!(!answer.refreshed);
    let after = get_token(&mut fixture.client.clone(), account, &token.id).await;
    assert_eq!(after.status, TokenStatus::Active as i32, "{after:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_of_one_connection_is_refused_at_start() {
    let database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
    let refused = replica(settings(), NOWHERE)
        .pool_size(1)
        .build(&database)
        .await
        .err()
        .expect("a pool of one is refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("at least 2") && message.contains("TRELLIS_DB_POOL_SIZE is 1"),
        "{message}"
    );
    assert!(
        replica(settings(), NOWHERE)
            .pool_size(2)
            .build(&database)
            .await
            .is_ok(),
        "a pool of two runs"
    );
}
