//! Tokens and credentials: an OAuth token through the real code flow, saved credentials.

use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};

use super::*;

/// Where the provider sends the browser back; the test reads the redirect instead.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

pub async fn provider(tokens_client: &Tokens, oauth: &OAuthServer) -> tok::Provider {
    tokens_client
        .clone()
        .create_provider(call(
            tok::CreateProviderRequest {
                request_id: String::new(),
                provider: Some(oauth.provider()),
            },
            &tokens::service(),
        ))
        .await
        .expect("CreateProvider")
        .into_inner()
        .provider
        .unwrap()
}

/// The whole code flow for `account`'s admin: a new connected account.
pub async fn authorize(tokens_client: &Tokens, account: Uuid, provider_id: &str) -> tok::Token {
    let bearer = admin(account);
    let begun = tokens_client
        .clone()
        .begin_authorization(call(
            tok::BeginAuthorizationRequest {
                request_id: String::new(),
                account_id: String::new(),
                provider_id: provider_id.into(),
                redirect_uri: REDIRECT_URI.into(),
                display_name: "Agency GA".into(),
                token_id: String::new(),
            },
            &bearer,
        ))
        .await
        .expect("BeginAuthorization")
        .into_inner();
    let code = trellis_testkit::oauth::consent(&begun.authorization_url).await;
    tokens_client
        .clone()
        .complete_authorization(call(
            tok::CompleteAuthorizationRequest {
                request_id: request_id(),
                state: begun.state,
                code,
                error: String::new(),
            },
            &bearer,
        ))
        .await
        .expect("CompleteAuthorization")
        .into_inner()
        .token
        .unwrap()
}

/// A saved basic credential of `account`.
pub async fn credential(tokens_client: &Tokens, account: Uuid, password: &str) -> tok::Credential {
    tokens_client
        .clone()
        .create_credential(call(
            tok::CreateCredentialRequest {
                request_id: String::new(),
                credential: Some(tok::Credential {
                    display_name: "Zendesk login".into(),
                    kind: tok::CredentialKind::Basic as i32,
                    username: "agency@example.test".into(),
                    ..Default::default()
                }),
                secret: Some(tok::CredentialSecret {
                    password: password.into(),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("CreateCredential")
        .into_inner()
        .credential
        .unwrap()
}

pub fn token_auth(id: &str) -> Option<lib::data_source_auth::Method> {
    Some(lib::data_source_auth::Method::TokenId(id.into()))
}

pub fn credential_auth(id: &str) -> Option<lib::data_source_auth::Method> {
    Some(lib::data_source_auth::Method::CredentialId(id.into()))
}

/// The saved credentials `account`'s admin lists (credential copies among them).
pub async fn credentials_of(tokens_client: &Tokens, account: Uuid) -> Vec<tok::Credential> {
    tokens_client
        .clone()
        .list_credentials(call(
            tok::ListCredentialsRequest::default(),
            &admin(account),
        ))
        .await
        .expect("ListCredentials")
        .into_inner()
        .credentials
}

/// The grants made on `token`, as its account's admin lists them.
pub async fn grants_on(tokens_client: &Tokens, account: Uuid, token: &str) -> Vec<tok::TokenGrant> {
    tokens_client
        .clone()
        .list_token_grants(call(
            tok::ListTokenGrantsRequest {
                token_id: token.into(),
                ..Default::default()
            },
            &admin(account),
        ))
        .await
        .expect("ListTokenGrants")
        .into_inner()
        .grants
}

/// A master Klip in a family's partner over two data sources that borrow secrets when
/// imported: Analytics on an OAuth token (I6) and Helpdesk on a saved credential (I5).
pub struct Borrowing {
    pub oauth: OAuthServer,
    pub token: tok::Token,
    pub saved: tok::Credential,
    pub analytics: lib::DataSource,
    pub helpdesk: lib::DataSource,
    pub both: lib::Klip,
}

impl Borrowing {
    pub async fn create(world: &World, partner: Uuid) -> Self {
        let oauth = OAuthServer::start(OAuthServerConfig::default()).await;
        let library = &world.library;
        let provider = provider(&world.tokens, &oauth).await;
        let token = authorize(&world.tokens, partner, &provider.id).await;
        let saved = credential(&world.tokens, partner, "s3cret-password").await;
        let analytics = data_source(
            library,
            partner,
            "Analytics",
            "https://api.example.test/ga",
            token_auth(&token.id),
        )
        .await;
        let helpdesk = data_source(
            library,
            partner,
            "Helpdesk",
            "https://api.example.test/tickets",
            credential_auth(&saved.id),
        )
        .await;
        let both = klip(
            library,
            partner,
            "Support and traffic",
            &["COUNT(@0.visits)", "COUNT(@1.tickets)"],
            &[&analytics.id, &helpdesk.id],
        )
        .await;
        Self {
            oauth,
            token,
            saved,
            analytics,
            helpdesk,
            both,
        }
    }
}
