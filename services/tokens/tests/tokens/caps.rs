//! T2: the provider's per-user token limit, warned about and enforced in Trellis's view.

use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use uuid::Uuid;

use crate::common::*;

fn kinds(response: &CompleteAuthorizationResponse) -> Vec<TokenWarningKind> {
    response
        .warnings
        .iter()
        .map(|w| TokenWarningKind::try_from(w.kind).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_limit_warns_then_marks_the_oldest_token_invalidated() {
    // Like Google's 100, scaled down: the provider keeps 3 tokens per user.
    let mut fixture = Fixture::start(OAuthServerConfig {
        max_tokens_per_user: Some(3),
        ..Default::default()
    })
    .await;
    let provider = fixture.provider(3, 2).await;
    let mut client = fixture.client.clone();
    let agency = fixture.account().await;
    let other = fixture.account().await;

    let first = authorize(&mut client, agency, &provider.id, None).await;
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    let second = authorize(&mut client, agency, &provider.id, None).await;
    assert_eq!(kinds(&second), [TokenWarningKind::NearLimit]);
    assert_eq!(second.warnings[0].token_count, 2);
    assert_eq!(second.warnings[0].token_limit, 3);
    // The same external user authorizes in another account: still the same count.
    let third = authorize(&mut client, other, &provider.id, None).await;
    assert_eq!(kinds(&third), [TokenWarningKind::NearLimit]);
    assert_eq!(third.warnings[0].token_count, 3);
    assert!(third.invalidated_token_ids.is_empty());

    // The library goes away (the registry knows the users' memberships by now), so the
    // uses of the token the provider drops next cannot be listed.
    fixture.library.stop().await;

    // One more: the provider drops the oldest, and Trellis marks it.
    let fourth = authorize(&mut client, agency, &provider.id, None).await;
    assert!(kinds(&fourth).contains(&TokenWarningKind::LimitExceeded));
    let first_id = first.token.unwrap().id;
    assert_eq!(
        fourth.invalidated_token_ids,
        std::slice::from_ref(&first_id)
    );
    assert_eq!(fixture.oauth.tokens_of_user("external-user-1"), 3);
    let invalidated = get_token(&mut client, agency, &first_id).await;
    assert_eq!(
        invalidated.status,
        TokenStatus::InvalidatedByProvider as i32
    );
    assert!(!invalidated.status_message.is_empty());
    let refused = access_token(&mut client, &first_id, agency, Uuid::new_v4(), 0)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    // Without the library to ask, the uses are unknown, and the response says so.
    assert!(fourth.invalidated_token_uses.is_empty());
    assert!(
        fourth
            .warnings
            .iter()
            .any(|w| w.message.contains("GetTokenUsage")),
        "{:?}",
        fourth.warnings
    );

    // The next one, by the other account, drops the agency's second token: marked, but not
    // named to a caller of another account.
    let fifth = authorize(&mut client, other, &provider.id, None).await;
    assert!(kinds(&fifth).contains(&TokenWarningKind::LimitExceeded));
    assert!(fifth.invalidated_token_ids.is_empty());
    let second_token = get_token(&mut client, agency, &second.token.unwrap().id).await;
    assert_eq!(
        second_token.status,
        TokenStatus::InvalidatedByProvider as i32
    );

    // Re-authorizing an invalidated token revives it (and counts as one more token).
    let revived = authorize(&mut client, agency, "", Some(&first_id)).await;
    assert_eq!(revived.token.unwrap().status, TokenStatus::Active as i32);
    assert!(
        access_token(&mut client, &first_id, agency, Uuid::new_v4(), 0)
            .await
            .is_ok()
    );

    // Another external user has a count of its own.
    fixture
        .oauth
        .set_user("external-user-2", "user2@example.test");
    let fresh = authorize(&mut client, agency, &provider.id, None).await;
    assert!(fresh.warnings.is_empty(), "{:?}", fresh.warnings);
}
