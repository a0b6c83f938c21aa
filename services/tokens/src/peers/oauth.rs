//! Talking to providers: authorization URLs with PKCE, code exchange, refresh, revocation
//! and the external user, through the oauth2 crate over reqwest.
//!
//! The HTTP client follows no redirects (a token endpoint that redirects is misconfigured,
//! and following would send the client secret elsewhere) and gives up after the configured
//! provider timeout, so a hanging provider cannot hold a token's refresh lock for long.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::store::providers::ProviderRow;

mod answer;

use answer::{Grant, issued, provider_text};
pub use answer::{MAX_PROVIDER_SCOPES, MAX_PROVIDER_TEXT_CHARS};

/// What a token response carries besides the standard fields: the OpenID Connect
/// `id_token`, and the rest, of which the provider's `token_parameters` are kept.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// The fields may hold secrets of the provider's (an `id_token`): never printed.
impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField(***)")
    }
}

impl ExtraTokenFields for IdTokenField {}

type ProviderTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type ProviderClient = Client<
    BasicErrorResponse,
    ProviderTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What a provider answered to a code exchange or a refresh.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: Secret,
    /// Absent when the provider keeps the previous refresh token valid (no rotation).
    pub refresh_token: Option<Secret>,
    pub token_type: String,
    pub expires_in: Option<Duration>,
    /// The granted scopes, when the provider says; never read from a refresh's answer
    /// (a refresh does not store them).
    pub scopes: Option<Vec<String>>,
    /// The provider's `token_parameters` the answer held (`instance_url`, …).
    pub parameters: BTreeMap<String, String>,
    id_token: Option<Secret>,
}

/// The provider's user behind a token (T2 counts tokens per this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUser {
    pub id: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// RFC 6749 `invalid_grant`: the code or refresh token is not (or no longer) valid.
    #[error("the provider answered invalid_grant{}", describe(.0))]
    InvalidGrant(String),
    /// Any other OAuth error response.
    #[error("the provider answered {error}{}", describe(.description))]
    Refused { error: String, description: String },
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider's answer is not understood: {0}")]
    Malformed(String),
}

fn describe(description: &str) -> String {
    if description.is_empty() {
        String::new()
    } else {
        // Provider descriptions are short texts meant for developers; never echo more.
        let printable = description.chars().filter(|c| !c.is_control());
        format!(" ({})", printable.take(200).collect::<String>())
    }
}

/// A begun authorization: where to send the user, and what to keep until completion.
#[derive(Debug)]
pub struct AuthorizationStart {
    pub url: url::Url,
    pub state: Secret,
    pub pkce_verifier: Secret,
}

/// Calls providers. Cheap to clone.
#[derive(Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
}

impl OAuthClient {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent("trellis-tokens")
            .build()?;
        Ok(Self { http })
    }

    /// The authorization URL with scopes, extra parameters, a fresh state and a PKCE S256
    /// challenge.
    pub fn authorization_url(
        provider: &ProviderRow,
        redirect_uri: &str,
    ) -> anyhow::Result<AuthorizationStart> {
        let client = client(provider, None, Some(redirect_uri))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(|| CsrfToken::new_random_len(32))
            .set_pkce_challenge(challenge)
            .add_scopes(provider.scopes.iter().cloned().map(Scope::new));
        let parameters = provider.authorization_parameters();
        for (name, value) in &parameters {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let (url, state) = request.url();
        Ok(AuthorizationStart {
            url,
            state: Secret::new(state.secret().clone()),
            pkce_verifier: Secret::new(verifier.secret().clone()),
        })
    }

    /// Exchanges an authorization code at the token endpoint.
    pub async fn exchange_code(
        &self,
        provider: &ProviderRow,
        client_secret: Option<&Secret>,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &Secret,
    ) -> Result<IssuedToken, ProviderError> {
        let client = client(provider, client_secret, Some(redirect_uri))
            .map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        issued(response, Grant::Code, &provider.token_parameters)
    }

    /// Exchanges a refresh token for a new access token (and, with rotating providers, a new
    /// refresh token).
    pub async fn refresh(
        &self,
        provider: &ProviderRow,
        client_secret: Option<&Secret>,
        refresh_token: &Secret,
    ) -> Result<IssuedToken, ProviderError> {
        let client = client(provider, client_secret, None)
            .map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let refresh_token = RefreshToken::new(refresh_token.expose().to_owned());
        let response = client
            .exchange_refresh_token(&refresh_token)
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        issued(response, Grant::Refresh, &provider.token_parameters)
    }

    /// Revokes a token at the provider's revocation endpoint (RFC 7009): the refresh token
    /// when there is one, since revoking it ends the whole grant, else the access token.
    ///
    /// Sent with reqwest rather than the oauth2 crate, which refuses any revocation URL
    /// but https; provider URLs are checked when the provider is registered (https, or
    /// http to a loopback host).
    pub async fn revoke(
        &self,
        provider: &ProviderRow,
        client_secret: Option<&Secret>,
        refresh_token: Option<&Secret>,
        access_token: Option<&Secret>,
    ) -> Result<(), ProviderError> {
        let (token, hint) = match (refresh_token, access_token) {
            (Some(refresh), _) => (refresh, "refresh_token"),
            (None, Some(access)) => (access, "access_token"),
            (None, None) => return Ok(()),
        };
        let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
        let mut request = self.http.post(&provider.revocation_url);
        match client_secret {
            // RFC 6749 2.3.1: HTTP basic with the form-encoded id and secret.
            Some(secret) => {
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                request =
                    request.basic_auth(encode(&provider.client_id), Some(encode(secret.expose())));
            }
            None => form.push(("client_id", provider.client_id.as_str())),
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(ProviderError::Refused {
            error: body
                .get("error")
                .and_then(|e| e.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}")),
            description: body
                .get("error_description")
                .and_then(|e| e.as_str())
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// Who authorized the token: the provider's userinfo endpoint when it has one, else the
    /// `sub` claim of the OpenID `id_token` received from the token endpoint over TLS, else
    /// the first of the provider's token parameters the answer held (HubSpot's `hub_id`,
    /// Stripe's `stripe_user_id`).
    pub async fn external_user(
        &self,
        provider: &ProviderRow,
        token: &IssuedToken,
    ) -> Result<ExternalUser, ProviderError> {
        let claims: serde_json::Value = if provider.userinfo_url.is_empty() {
            match &token.id_token {
                Some(id_token) => id_token_claims(id_token)?,
                None => {
                    let id = provider
                        .token_parameters
                        .iter()
                        .find_map(|name| token.parameters.get(name))
                        .ok_or_else(|| {
                            ProviderError::Malformed(
                                "the provider has no userinfo_url and returned no id_token".into(),
                            )
                        })?;
                    serde_json::json!({ "sub": id })
                }
            }
        } else {
            let response = self
                .http
                .get(&provider.userinfo_url)
                .bearer_auth(token.access_token.expose())
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(ProviderError::Refused {
                    error: format!("userinfo HTTP {}", response.status().as_u16()),
                    description: String::new(),
                });
            }
            response
                .json()
                .await
                .map_err(|e| ProviderError::Malformed(format!("userinfo: {}", e.without_url())))?
        };
        let text = |field: &str| match claims.get(field) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let id = text("sub").or_else(|| text("id")).ok_or_else(|| {
            ProviderError::Malformed("the external user has no `sub` or `id`".into())
        })?;
        let name = ["email", "name", "preferred_username", "login"]
            .iter()
            .find_map(|field| text(field))
            .unwrap_or_default();
        Ok(ExternalUser {
            id: provider_text("the external user's id", id)?,
            name: provider_text("the external user's name", name)?,
        })
    }
}

fn client(
    provider: &ProviderRow,
    client_secret: Option<&Secret>,
    redirect_uri: Option<&str>,
) -> anyhow::Result<ProviderClient> {
    let mut client = Client::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(AuthUrl::new(provider.authorization_url.clone())?)
        .set_token_uri(TokenUrl::new(provider.token_url.clone())?);
    if let Some(secret) = client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    if let Some(redirect_uri) = redirect_uri {
        client = client.set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned())?);
    }
    Ok(client)
}

fn token_error<E: std::error::Error>(
    error: RequestTokenError<E, BasicErrorResponse>,
) -> ProviderError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().cloned().unwrap_or_default();
            match response.error() {
                BasicErrorResponseType::InvalidGrant => ProviderError::InvalidGrant(description),
                other => ProviderError::Refused {
                    error: other.to_string(),
                    description,
                },
            }
        }
        RequestTokenError::Request(error) => ProviderError::Unreachable(error.to_string()),
        RequestTokenError::Parse(error, _) => ProviderError::Malformed(error.to_string()),
        RequestTokenError::Other(message) => ProviderError::Malformed(message),
    }
}

/// The claims of an id_token, read without checking its signature: it came straight from
/// the token endpoint over TLS (OpenID Connect Core 3.1.3.7 allows this).
fn id_token_claims(id_token: &Secret) -> Result<serde_json::Value, ProviderError> {
    let payload = id_token
        .expose()
        .split('.')
        .nth(1)
        .ok_or_else(|| ProviderError::Malformed("the id_token is not a JWT".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| ProviderError::Malformed("the id_token is not a JWT".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ProviderError::Malformed("the id_token's claims are not JSON".into()))
}
