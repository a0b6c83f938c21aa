//! Saved credentials (I5): which fields a credential of each kind has, and which of its
//! secret fields it uses. The flows of the kinds that need more than a header (LOGIN,
//! CLIENT_CREDENTIALS, SIGNED) are in `flows`.

mod flows;

use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::validate;

use super::limits::{MAX_ID_CHARS, check_name};
use crate::secret::Secret;

pub use flows::*;

trellis_platform::text_enum! {
    /// How a credential logs in: a username and password (HTTP basic, or a login request
    /// whose answer holds a token), an API key, an OAuth 2.0 client id and secret, or a
    /// shared key that signs each request.
    pub enum LoginKind {
        Basic = "basic",
        ApiKey = "api_key",
        Login = "login",
        ClientCredentials = "client_credentials",
        Signed = "signed",
    }
}

trellis_platform::text_enum! {
    /// Where an API key travels; none for the other kinds.
    pub enum Placement {
        None = "",
        Header = "header",
        QueryParameter = "query_parameter",
        Body = "body",
    }
}

/// The non-secret fields of a credential.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    pub display_name: &'a str,
    pub kind: LoginKind,
    pub username: &'a str,
    pub api_key_placement: Placement,
    pub api_key_name: &'a str,
    pub flows: &'a Flows,
}

/// Checks the non-secret fields of a credential of its kind; `prefix` starts the field
/// paths of the violations.
pub fn check_login(login: Login<'_>, prefix: &str) -> ApiResult<()> {
    let field = |name: &str| format!("{prefix}{name}");
    let mut v = Violations::new();
    check_name(&mut v, &field("display_name"), login.display_name);
    validate::single_line(&mut v, &field("username"), login.username, MAX_ID_CHARS);
    validate::single_line(
        &mut v,
        &field("api_key_name"),
        login.api_key_name,
        MAX_ID_CHARS,
    );
    match login.kind {
        LoginKind::Basic => {
            v.check(
                !login.username.is_empty(),
                &field("username"),
                "required for BASIC",
            );
            v.check(
                !login.username.contains(':') && !login.username.chars().any(char::is_control),
                &field("username"),
                "must not contain ':' or control characters",
            );
        }
        LoginKind::ApiKey => {
            v.check(
                login.api_key_placement != Placement::None,
                &field("api_key_placement"),
                "required for API_KEY: HEADER, QUERY_PARAMETER or BODY",
            );
            v.check(
                api_key_name_fits(login.api_key_placement, login.api_key_name),
                &field("api_key_name"),
                "required for API_KEY: a header, query parameter or body field name",
            );
        }
        LoginKind::Login => v.check(
            !login.username.is_empty(),
            &field("username"),
            "required for LOGIN: the login's username",
        ),
        LoginKind::ClientCredentials => {}
        LoginKind::Signed => {
            let uses_key_id = login
                .flows
                .signing
                .as_ref()
                .is_some_and(SigningScheme::uses_key_id);
            v.check(
                !uses_key_id || !login.username.is_empty(),
                &field("username"),
                "required: the key id the signing scheme sends or signs",
            );
        }
    }
    if matches!(login.kind, LoginKind::ApiKey | LoginKind::ClientCredentials) {
        v.check(
            login.username.is_empty(),
            &field("username"),
            format!("{} credentials have no username", kind_name(login.kind)),
        );
    }
    if login.kind != LoginKind::ApiKey {
        v.check(
            login.api_key_placement == Placement::None && login.api_key_name.is_empty(),
            &field("api_key_placement"),
            format!(
                "{} credentials have no API key placement or name",
                kind_name(login.kind)
            ),
        );
    }
    check_flows(&mut v, login.kind, login.flows, &field);
    v.into_result()
}

/// A header name is an HTTP token; a query parameter or body field name has no space or
/// control character.
fn api_key_name_fits(placement: Placement, name: &str) -> bool {
    !name.is_empty()
        && if placement == Placement::Header {
            is_header_name(name)
        } else {
            !name.chars().any(|c| c.is_control() || c.is_whitespace())
        }
}

/// The secret field a credential of `kind` uses.
pub fn secret_field(kind: LoginKind) -> &'static str {
    match kind {
        LoginKind::Basic | LoginKind::Login => "password",
        LoginKind::ApiKey => "api_key",
        LoginKind::ClientCredentials => "client_secret",
        LoginKind::Signed => "signing_key",
    }
}

/// The secrets a request sends; a credential takes the one of its kind. Its `Debug` shows
/// only which were sent, never their values.
#[derive(Clone, Default)]
pub struct SentSecrets {
    pub password: String,
    pub api_key: String,
    pub client_secret: String,
    pub signing_key: String,
}

impl std::fmt::Debug for SentSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |value: &String| if value.is_empty() { "" } else { "[redacted]" };
        f.debug_struct("SentSecrets")
            .field("password", &shown(&self.password))
            .field("api_key", &shown(&self.api_key))
            .field("client_secret", &shown(&self.client_secret))
            .field("signing_key", &shown(&self.signing_key))
            .finish()
    }
}

impl SentSecrets {
    /// The secret a credential of `kind` takes, if it was sent.
    pub fn for_kind(&self, kind: LoginKind) -> Option<Secret> {
        let value = match kind {
            LoginKind::Basic | LoginKind::Login => &self.password,
            LoginKind::ApiKey => &self.api_key,
            LoginKind::ClientCredentials => &self.client_secret,
            LoginKind::Signed => &self.signing_key,
        };
        (!value.is_empty()).then(|| Secret::new(value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_secrets_never_show_their_values() {
        let sent = SentSecrets {
            password: "hunter2".into(),
            signing_key: "signing-s3cret".into(),
            ..Default::default()
        };
        let shown = format!("{sent:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("signing-s3cret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
