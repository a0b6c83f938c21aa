//! Credentials in the token registry: a saved API key, and an OAuth token obtained through
//! the code flow against a test provider.

use trellis_proto::tokens::v1 as tokens_pb;
use trellis_testkit::oauth::{self, OAuthServer};
use trellis_testkit::tokens;
use uuid::Uuid;

use super::{Services, call};

impl Services {
    pub async fn api_key_in_query(&self, account: Uuid, name: &str, key: &str) -> String {
        self.api_key_credential(account, name, key, None).await
    }

    /// An API key of `account` sent as the query parameter `name`, with the API's `limit`
    /// if any. Returns the credential's id.
    pub async fn api_key_credential(
        &self,
        account: Uuid,
        name: &str,
        key: &str,
        limit: Option<tokens_pb::ApiLimit>,
    ) -> String {
        self.tokens_client()
            .create_credential(call(
                tokens_pb::CreateCredentialRequest {
                    request_id: String::new(),
                    credential: Some(tokens_pb::Credential {
                        account_id: account.to_string(),
                        display_name: "API key".into(),
                        kind: tokens_pb::CredentialKind::ApiKey as i32,
                        api_key_placement: tokens_pb::ApiKeyPlacement::QueryParameter as i32,
                        api_key_name: name.into(),
                        limit,
                        ..Default::default()
                    }),
                    secret: Some(tokens_pb::CredentialSecret {
                        api_key: key.into(),
                        ..Default::default()
                    }),
                },
                &tokens::admin(account),
            ))
            .await
            .expect("CreateCredential")
            .into_inner()
            .credential
            .expect("a credential")
            .id
    }

    /// Registers `oauth` as a provider whose tokens allow `limit`, and runs the code flow for
    /// `account`'s admin. Returns the token's id.
    pub async fn oauth_token(
        &self,
        oauth: &OAuthServer,
        account: Uuid,
        limit: tokens_pb::ApiLimit,
    ) -> String {
        let provider = tokens_pb::Provider {
            token_limit: Some(limit),
            ..oauth.provider()
        };
        self.authorized_token(account, provider).await.id
    }

    /// Registers `provider` (its OAuth server approves at once) and runs the code flow for
    /// `account`'s admin. Returns the token.
    pub async fn authorized_token(
        &self,
        account: Uuid,
        provider: tokens_pb::Provider,
    ) -> tokens_pb::Token {
        let mut client = self.tokens_client();
        let provider = client
            .create_provider(call(
                tokens_pb::CreateProviderRequest {
                    request_id: String::new(),
                    provider: Some(provider),
                },
                &tokens::service(),
            ))
            .await
            .expect("CreateProvider")
            .into_inner()
            .provider
            .expect("a provider");

        let admin = tokens::admin(account);
        let begun = client
            .begin_authorization(call(
                tokens_pb::BeginAuthorizationRequest {
                    request_id: String::new(),
                    account_id: String::new(),
                    provider_id: provider.id,
                    redirect_uri: "http://127.0.0.1:9/oauth/callback".into(),
                    display_name: "Analytics".into(),
                    token_id: String::new(),
                },
                &admin,
            ))
            .await
            .expect("BeginAuthorization")
            .into_inner();
        // The browser's part: the test server approves at once and redirects back.
        let code = oauth::consent(&begun.authorization_url).await;
        client
            .complete_authorization(call(
                tokens_pb::CompleteAuthorizationRequest {
                    request_id: Uuid::new_v4().to_string(),
                    state: begun.state,
                    code,
                    error: String::new(),
                },
                &admin,
            ))
            .await
            .expect("CompleteAuthorization")
            .into_inner()
            .token
            .expect("a token")
    }
}
