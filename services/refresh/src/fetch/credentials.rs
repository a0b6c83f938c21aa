//! How a request authenticates, with the secrets the token registry gave: the kinds of
//! [`Credentials`] and the flows of the two-step ones (a login, OAuth client credentials)
//! and of signed requests. None of them prints a secret.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderName};

/// How a request authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    /// An OAuth access token, with the token's parameters for `{token.NAME}`.
    Bearer(OAuthToken),
    Basic {
        username: String,
        password: String,
    },
    ApiKeyHeader {
        name: String,
        key: String,
    },
    ApiKeyQuery {
        name: String,
        key: String,
    },
    /// A field of a JSON object body, else a form field.
    ApiKeyBody {
        name: String,
        key: String,
    },
    /// Two-step: a login request whose answer holds the token sent with the data request.
    Login(Box<Login>),
    /// OAuth 2.0 client credentials (RFC 6749 section 4.4).
    ClientCredentials(Box<ClientCredentials>),
    /// Every request signed with an HMAC.
    Signed(Box<Signed>),
}

/// An OAuth access token and the parameters the token endpoint answered with it (e.g.
/// Salesforce's `instance_url`), which fill `{token.NAME}` in the request.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OAuthToken {
    pub access_token: String,
    pub parameters: BTreeMap<String, String>,
}

impl From<String> for OAuthToken {
    fn from(access_token: String) -> Self {
        Self {
            access_token,
            parameters: BTreeMap::new(),
        }
    }
}

impl From<&str> for OAuthToken {
    fn from(access_token: &str) -> Self {
        access_token.to_owned().into()
    }
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The parameters are not secret; the token is.
        f.debug_struct("OAuthToken")
            .field("parameters", &self.parameters)
            .finish_non_exhaustive()
    }
}

/// The login request of a two-step credential, its defaults filled.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The token cache's key: the credential's id and a hash of its secret and settings, so
    /// a changed password or login request never reuses an old token.
    pub cache_key: String,
    pub username: String,
    pub password: String,
    pub url: String,
    /// With `{username}` and `{password}` to replace.
    pub body: String,
    pub content_type: String,
    /// Path of the token in the JSON answer (`data/token`).
    pub token_path: String,
    /// Path of the lifetime in seconds; empty means `token_ttl`.
    pub expires_in_path: String,
    pub token_ttl: Duration,
    pub header_name: String,
    pub header_prefix: String,
}

/// The token endpoint of a client-credentials credential.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// As [`Login::cache_key`].
    pub cache_key: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    /// The id and secret as form fields rather than HTTP basic authentication.
    pub credentials_in_body: bool,
}

/// Where a value of a signed request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Header(String),
    Query(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha256,
    HmacSha1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    EpochSeconds,
    EpochMillis,
    Rfc3339,
}

/// How a signed credential signs each request (every page of a paginated one).
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// The key id (the credential's username), for `{key_id}`.
    pub key_id: String,
    /// The shared secret.
    pub key: String,
    pub algorithm: Algorithm,
    /// The string signed, `\n` already a new line.
    pub string_to_sign: String,
    pub encoding: Encoding,
    pub signature: Placement,
    pub signature_prefix: String,
    /// Where the timestamp is sent; `None`: it is only signed.
    pub timestamp: Option<Placement>,
    pub timestamp_format: TimestampFormat,
    /// Where the key id is sent; `None`: it is not.
    pub key_id_placement: Option<Placement>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a secret.
        let kind = match self {
            Credentials::None => "None",
            Credentials::Bearer(_) => "Bearer(..)",
            Credentials::Basic { .. } => "Basic(..)",
            Credentials::ApiKeyHeader { .. } => "ApiKeyHeader(..)",
            Credentials::ApiKeyQuery { .. } => "ApiKeyQuery(..)",
            Credentials::ApiKeyBody { .. } => "ApiKeyBody(..)",
            Credentials::Login(_) => "Login(..)",
            Credentials::ClientCredentials(_) => "ClientCredentials(..)",
            Credentials::Signed(_) => "Signed(..)",
        };
        f.write_str(kind)
    }
}

impl Credentials {
    /// Every secret the credentials hold, to redact from messages. Tokens obtained while
    /// fetching (a session token, a client-credentials token, a signature) are added by the
    /// fetch that obtained them.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Credentials::None => vec![],
            Credentials::Bearer(token) => vec![&token.access_token],
            Credentials::Basic { password, .. } => vec![password],
            Credentials::ApiKeyHeader { key, .. }
            | Credentials::ApiKeyQuery { key, .. }
            | Credentials::ApiKeyBody { key, .. } => vec![key],
            Credentials::Login(login) => vec![&login.password],
            Credentials::ClientCredentials(flow) => vec![&flow.client_secret],
            Credentials::Signed(signed) => vec![&signed.key],
        }
    }

    /// The header these credentials set, which a header of the data source's own by the
    /// same name must not override.
    pub(super) fn header(&self) -> Option<HeaderName> {
        match self {
            Credentials::Bearer(_) | Credentials::Basic { .. } => Some(AUTHORIZATION),
            Credentials::ClientCredentials(_) => Some(AUTHORIZATION),
            Credentials::ApiKeyHeader { name, .. } => HeaderName::from_bytes(name.as_bytes()).ok(),
            Credentials::Login(login) => HeaderName::from_bytes(login.header_name.as_bytes()).ok(),
            Credentials::Signed(signed) => match &signed.signature {
                Placement::Header(name) => HeaderName::from_bytes(name.as_bytes()).ok(),
                Placement::Query(_) => None,
            },
            Credentials::None
            | Credentials::ApiKeyQuery { .. }
            | Credentials::ApiKeyBody { .. } => None,
        }
    }

    /// The OAuth token, for `{token.NAME}`.
    pub(super) fn oauth_token(&self) -> Option<&OAuthToken> {
        match self {
            Credentials::Bearer(token) => Some(token),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print_their_secret() {
        let login = Login {
            cache_key: "c".into(),
            username: "u".into(),
            password: "hunter2".into(),
            url: "https://api.example/login".into(),
            body: String::new(),
            content_type: String::new(),
            token_path: String::new(),
            expires_in_path: String::new(),
            token_ttl: Duration::from_secs(1),
            header_name: "Authorization".into(),
            header_prefix: "Bearer ".into(),
        };
        let mut parameters = BTreeMap::new();
        parameters.insert("instance_url".to_owned(), "https://na1.example".to_owned());
        for credentials in [
            Credentials::Basic {
                username: "u".into(),
                password: "hunter2".into(),
            },
            Credentials::Login(Box::new(login)),
            Credentials::Bearer(OAuthToken {
                access_token: "hunter2".into(),
                parameters,
            }),
            Credentials::ApiKeyBody {
                name: "key".into(),
                key: "hunter2".into(),
            },
        ] {
            assert!(!format!("{credentials:?}").contains("hunter2"));
            assert!(credentials.secrets().contains(&"hunter2"));
        }
        let token = OAuthToken {
            access_token: "hunter2".into(),
            parameters: BTreeMap::new(),
        };
        assert!(!format!("{token:?}").contains("hunter2"));
    }
}
