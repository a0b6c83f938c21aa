//! The real token registry beside the library, for tests whose data sources name tokens or
//! credentials: started on its own database with the test OAuth server as a provider, and
//! the calls that give an account a credential, an OAuth token, a copy or a grant.

use std::sync::Arc;

use trellis_library::{Clock, SystemClock};
use trellis_platform::auth::Identity;
use trellis_platform::client::TracedChannel;
use trellis_platform::config::ServiceKind;
use trellis_proto::tokens::v1 as tk;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::oauth::{self, OAuthServer, OAuthServerConfig};
use trellis_testkit::{InProcess, Port, RunningService, tokens};
use uuid::Uuid;

use super::{Library, with};

/// Where the test OAuth server sends the browser back; nothing listens there, the test
/// reads the redirect instead of following it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// The real token registry on its own database, asking the library about memberships,
/// with the test OAuth server registered as a provider. Stops when dropped.
pub struct TokenRegistry {
    pub service: RunningService,
    pub oauth: OAuthServer,
    pub provider_id: String,
}

impl TokenRegistry {
    pub fn client(&self) -> TokenServiceClient<TracedChannel> {
        TokenServiceClient::new(self.service.server.channel())
    }
}

/// The library with the real token registry beside it, as deployed: the library asks the
/// registry whether a data source may name its token or credential (I14, I15), the
/// registry asks the library about memberships, over real gRPC, each on its own database.
pub async fn start_with_tokens() -> Library {
    start_with_tokens_at(Arc::new(SystemClock)).await
}

/// [`start_with_tokens`] with the library on `clock`.
pub async fn start_with_tokens_at(clock: Arc<dyn Clock>) -> Library {
    // Each service calls the other: the registry's address is taken first, the library
    // starts pointing at it, then the registry is built pointing at the library.
    let port = Port::bind().await;
    let mut library = super::started_at(&port.url(), clock).await;
    let library_url = library.service.server.url();
    let service = InProcess::new(
        ServiceKind::Tokens,
        trellis_tokens::Settings::default(),
        trellis_tokens::build,
    )
    .configure(move |common| common.library_url = library_url)
    .on(port)
    .start(&trellis_tokens::SCHEMA)
    .await;
    let mut registry = TokenRegistry {
        service,
        oauth: OAuthServer::start(OAuthServerConfig::default()).await,
        provider_id: String::new(),
    };
    registry.provider_id = create_provider(&registry).await;
    library.tokens = Some(registry);
    library
}

/// Registers the test OAuth server as a provider, as an operator does.
async fn create_provider(registry: &TokenRegistry) -> String {
    let oauth = &registry.oauth;
    registry
        .client()
        .create_provider(with(
            &tokens::service(),
            tk::CreateProviderRequest {
                request_id: String::new(),
                provider: Some(oauth.provider()),
            },
        ))
        .await
        .expect("an operator registers a provider")
        .into_inner()
        .provider
        .expect("a provider")
        .id
}

impl Library {
    /// The token registry [`start_with_tokens`] started.
    pub fn registry(&self) -> &TokenRegistry {
        self.tokens
            .as_ref()
            .expect("the test runs the token registry (start_with_tokens)")
    }

    /// A saved credential (an API key) of `account`, created by its editor.
    pub async fn credential(&self, account: Uuid) -> Uuid {
        self.registry()
            .client()
            .create_credential(with(
                &tokens::editor(account),
                tk::CreateCredentialRequest {
                    request_id: String::new(),
                    credential: Some(tk::Credential {
                        display_name: "Feed key".into(),
                        kind: tk::CredentialKind::ApiKey as i32,
                        api_key_placement: tk::ApiKeyPlacement::Header as i32,
                        api_key_name: "X-Api-Key".into(),
                        ..Default::default()
                    }),
                    secret: Some(tk::CredentialSecret {
                        password: String::new(),
                        api_key: "sk_test_key".into(),
                        ..Default::default()
                    }),
                },
            ))
            .await
            .expect("CreateCredential")
            .into_inner()
            .credential
            .expect("a credential")
            .id
            .parse()
            .expect("a credential id")
    }

    /// An OAuth token of `account`, connected by its admin through the whole code flow:
    /// begin, the browser at the test OAuth server, complete.
    pub async fn oauth_token(&self, account: Uuid) -> Uuid {
        let registry = self.registry();
        let mut client = registry.client();
        let admin = tokens::admin(account);
        let begun = client
            .begin_authorization(with(
                &admin,
                tk::BeginAuthorizationRequest {
                    request_id: String::new(),
                    account_id: String::new(),
                    provider_id: registry.provider_id.clone(),
                    redirect_uri: REDIRECT_URI.into(),
                    display_name: "Marketing GA".into(),
                    token_id: String::new(),
                },
            ))
            .await
            .expect("BeginAuthorization")
            .into_inner();
        let redirect = oauth::follow(&begun.authorization_url).await;
        assert!(
            redirect.location.starts_with(REDIRECT_URI),
            "{}",
            redirect.location
        );
        assert_eq!(redirect.query.get("state"), Some(&begun.state));
        client
            .complete_authorization(with(
                &admin,
                tk::CompleteAuthorizationRequest {
                    request_id: Uuid::new_v4().to_string(),
                    state: begun.state,
                    code: redirect.code(),
                    error: String::new(),
                },
            ))
            .await
            .expect("CompleteAuthorization")
            .into_inner()
            .token
            .expect("a token")
            .id
            .parse()
            .expect("a token id")
    }

    /// What an import does for an imported data source (`data_source` in `destination`,
    /// fetching what `fingerprint` says) whose master in `source` uses `credential`: a copy
    /// scoped to it (I5). Returns the copy's id.
    pub async fn copy_credential(
        &self,
        credential: Uuid,
        source: Uuid,
        destination: Uuid,
        data_source: &str,
        fingerprint: &str,
    ) -> Uuid {
        self.registry()
            .client()
            .copy_credential(with(
                &tokens::service_as(Identity::Imports),
                tk::CopyCredentialRequest {
                    request_id: format!("import-{destination}-{data_source}/credential"),
                    credential_id: credential.to_string(),
                    destination_account_id: destination.to_string(),
                    data_source_id: data_source.to_owned(),
                    source_account_id: source.to_string(),
                    request_fingerprint: fingerprint.to_owned(),
                },
            ))
            .await
            .expect("CopyCredential")
            .into_inner()
            .credential
            .expect("a copy")
            .id
            .parse()
            .expect("a credential id")
    }

    /// What an import does for an imported data source whose master in `source` uses
    /// `token`: a grant of the token to that data source alone (I6).
    pub async fn grant(
        &self,
        token: Uuid,
        source: Uuid,
        grantee: Uuid,
        data_source: &str,
        fingerprint: &str,
    ) {
        self.registry()
            .client()
            .create_token_grant(with(
                &tokens::service_as(Identity::Imports),
                tk::CreateTokenGrantRequest {
                    request_id: format!("import-{grantee}-{data_source}/grant"),
                    grant: Some(tk::TokenGrant {
                        token_id: token.to_string(),
                        grantee_account_id: grantee.to_string(),
                        data_source_id: data_source.to_owned(),
                        request_fingerprint: fingerprint.to_owned(),
                        ..Default::default()
                    }),
                    source_account_id: source.to_string(),
                },
            ))
            .await
            .expect("CreateTokenGrant");
    }
}
