//! The calls tests make: the browser's part of the code flow, the whole flow, and the
//! reads the refresh service and the library make.

use trellis_platform::auth::Identity;
use trellis_platform::client::TracedChannel;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::{REDIRECT_URI, call};

/// What the browser does: GET the authorization URL and read where the provider redirects.
/// Returns the redirect's query parameters.
pub async fn follow_authorization_url(url: &str) -> std::collections::HashMap<String, String> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url).send().await.expect("the provider answers");
    assert!(
        response.status().is_redirection(),
        "the provider redirects back, got {}",
        response.status()
    );
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The whole code flow for `account`'s admin: begin, the browser, complete. With
/// `token_id`, a re-authorization.
pub async fn authorize(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
    provider_id: &str,
    token_id: Option<&str>,
) -> CompleteAuthorizationResponse {
    let admin = tokens::admin(account);
    let begun = client
        .begin_authorization(call(
            BeginAuthorizationRequest {
                request_id: String::new(),
                account_id: String::new(),
                provider_id: provider_id.to_owned(),
                redirect_uri: REDIRECT_URI.into(),
                display_name: "Marketing GA".into(),
                token_id: token_id.unwrap_or_default().to_owned(),
            },
            &admin,
        ))
        .await
        .expect("BeginAuthorization")
        .into_inner();
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    assert_eq!(
        redirect.get("state"),
        Some(&begun.state),
        "the state comes back"
    );
    client
        .complete_authorization(call(
            CompleteAuthorizationRequest {
                request_id: Uuid::new_v4().to_string(),
                state: begun.state,
                code: redirect.get("code").cloned().expect("a code"),
                error: String::new(),
            },
            &admin,
        ))
        .await
        .expect("CompleteAuthorization")
        .into_inner()
}

/// GetAccessToken as the refresh service calls it.
pub async fn access_token(
    client: &mut TokenServiceClient<TracedChannel>,
    token_id: &str,
    account: Uuid,
    data_source: Uuid,
    rejected_generation: i64,
) -> Result<GetAccessTokenResponse, tonic::Status> {
    client
        .get_access_token(call(
            GetAccessTokenRequest {
                token_id: token_id.to_owned(),
                account_id: account.to_string(),
                data_source_id: data_source.to_string(),
                rejected_generation,
                ..Default::default()
            },
            &tokens::service_as(Identity::Refresh),
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The google.rpc details of a failed call, for assertions.
pub fn details(status: &tonic::Status) -> tonic_types::ErrorDetails {
    use tonic_types::StatusExt;
    status.get_error_details()
}

/// The token as its account sees it.
pub async fn get_token(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
    id: &str,
) -> Token {
    client
        .get_token(call(
            GetTokenRequest {
                id: id.to_owned(),
                account_id: String::new(),
            },
            &tokens::admin(account),
        ))
        .await
        .expect("GetToken")
        .into_inner()
        .token
        .expect("a token")
}

/// CheckDataSourceAuth as the library asks it when `account` saves `data_source` (none
/// before it is created) naming `auth`.
pub async fn holding(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
    data_source: Option<Uuid>,
    auth: check_data_source_auth_request::Auth,
) -> AuthHolding {
    let answer = client
        .check_data_source_auth(call(
            CheckDataSourceAuthRequest {
                account_id: account.to_string(),
                data_source_id: data_source.map(|id| id.to_string()).unwrap_or_default(),
                auth: Some(auth),
                ..Default::default()
            },
            &tokens::service_as(Identity::Library),
        ))
        .await
        .expect("CheckDataSourceAuth")
        .into_inner();
    AuthHolding::try_from(answer.holding).expect("a known holding")
}
