//! The calls tests make: the browser's part of the code flow, the whole flow, and the
//! reads the refresh service and the library make.

use trellis_platform::auth::Identity;
use trellis_platform::client::TracedChannel;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::{oauth, tokens};
use uuid::Uuid;

use crate::common::REDIRECT_URI;

/// What the browser does: GET the authorization URL and read where the provider redirects
/// (back to [`REDIRECT_URI`]). Returns the redirect's query parameters.
pub async fn follow_authorization_url(url: &str) -> std::collections::HashMap<String, String> {
    let redirect = oauth::follow(url).await;
    assert!(
        redirect.location.starts_with(REDIRECT_URI),
        "{}",
        redirect.location
    );
    redirect.query
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
    let begun = ask!(client.begin_authorization(
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
    .expect("BeginAuthorization");
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    assert_eq!(
        redirect.get("state"),
        Some(&begun.state),
        "the state comes back"
    );
    ask!(client.complete_authorization(
        CompleteAuthorizationRequest {
            request_id: Uuid::new_v4().to_string(),
            state: begun.state,
            code: redirect.get("code").cloned().expect("a code"),
            error: String::new(),
        },
        &admin,
    ))
    .expect("CompleteAuthorization")
}

/// A new token of `provider_id` in `account`, by the whole code flow.
pub async fn new_token(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
    provider_id: &str,
) -> Token {
    authorize(client, account, provider_id, None)
        .await
        .token
        .expect("a token")
}

/// GetAccessToken as the refresh service calls it.
pub async fn access_token(
    client: &mut TokenServiceClient<TracedChannel>,
    token_id: &str,
    account: Uuid,
    data_source: Uuid,
    rejected_generation: i64,
) -> Result<GetAccessTokenResponse, tonic::Status> {
    ask!(client.get_access_token(
        GetAccessTokenRequest {
            token_id: token_id.to_owned(),
            account_id: account.to_string(),
            data_source_id: data_source.to_string(),
            rejected_generation,
            ..Default::default()
        },
        &tokens::service_as(Identity::Refresh),
    ))
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
    ask!(client.get_token(
        GetTokenRequest {
            id: id.to_owned(),
            account_id: String::new(),
        },
        &tokens::admin(account),
    ))
    .expect("GetToken")
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
    let answer = ask!(client.check_data_source_auth(
        CheckDataSourceAuthRequest {
            account_id: account.to_string(),
            data_source_id: data_source.map(|id| id.to_string()).unwrap_or_default(),
            auth: Some(auth),
            ..Default::default()
        },
        &tokens::service_as(Identity::Library),
    ))
    .expect("CheckDataSourceAuth");
    AuthHolding::try_from(answer.holding).expect("a known holding")
}

/// A grant as an import from `source` makes it.
pub fn grant_request(
    token_id: &str,
    source: Uuid,
    grantee: Uuid,
    data_source: Uuid,
) -> CreateTokenGrantRequest {
    CreateTokenGrantRequest {
        request_id: format!("grant-{data_source}"),
        grant: Some(TokenGrant {
            token_id: token_id.to_owned(),
            grantee_account_id: grantee.to_string(),
            data_source_id: data_source.to_string(),
            ..Default::default()
        }),
        source_account_id: source.to_string(),
    }
}

/// The grants of a token, as its account lists them.
pub fn grants_of_token(token_id: impl Into<String>) -> ListTokenGrantsRequest {
    ListTokenGrantsRequest {
        token_id: token_id.into(),
        ..Default::default()
    }
}

/// The grants to an account, as a service lists them.
pub fn grants_to(grantee: Uuid) -> ListTokenGrantsRequest {
    ListTokenGrantsRequest {
        grantee_account_id: grantee.to_string(),
        ..Default::default()
    }
}

pub fn delete_grant(id: impl Into<String>) -> DeleteTokenGrantRequest {
    DeleteTokenGrantRequest {
        id: id.into(),
        ..Default::default()
    }
}

pub fn delete_token(id: impl Into<String>) -> DeleteTokenRequest {
    DeleteTokenRequest {
        id: id.into(),
        ..Default::default()
    }
}

/// GetToken of the caller's own account.
pub fn token_request(id: impl Into<String>) -> GetTokenRequest {
    GetTokenRequest {
        id: id.into(),
        account_id: String::new(),
    }
}

/// An import from account `source` into `destination` of one data source.
#[derive(Debug, Clone, Copy)]
pub struct Import {
    pub source: Uuid,
    pub destination: Uuid,
    pub data_source: Uuid,
}

impl Import {
    pub fn new(source: Uuid, destination: Uuid, data_source: Uuid) -> Self {
        Self {
            source,
            destination,
            data_source,
        }
    }

    /// CopyCredential as this import calls it.
    pub fn copy(&self, request_id: &str, credential_id: &str) -> CopyCredentialRequest {
        CopyCredentialRequest {
            request_id: request_id.to_owned(),
            credential_id: credential_id.to_owned(),
            destination_account_id: self.destination.to_string(),
            data_source_id: self.data_source.to_string(),
            source_account_id: self.source.to_string(),
            ..Default::default()
        }
    }
}

/// CompleteAuthorization with the redirect's `state` and `code`.
pub fn completion(request_id: &str, state: &str, code: &str) -> CompleteAuthorizationRequest {
    CompleteAuthorizationRequest {
        request_id: request_id.to_owned(),
        state: state.to_owned(),
        code: code.to_owned(),
        error: String::new(),
    }
}
