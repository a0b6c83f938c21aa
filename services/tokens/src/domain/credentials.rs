//! Saved credentials (I5): which fields a credential of each kind has, and which of its
//! secret fields it uses.

use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::validate;

use super::limits::{MAX_ID_CHARS, check_name};

trellis_platform::text_enum! {
    /// How a credential logs in: a username and password, or an API key.
    pub enum LoginKind { Basic = "basic", ApiKey = "api_key" }
}

trellis_platform::text_enum! {
    /// Where an API key travels; none for a BASIC credential.
    pub enum Placement { None = "", Header = "header", QueryParameter = "query_parameter" }
}

/// The non-secret fields of a credential.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    pub display_name: &'a str,
    pub kind: LoginKind,
    pub username: &'a str,
    pub api_key_placement: Placement,
    pub api_key_name: &'a str,
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
    if login.kind == LoginKind::Basic {
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
        v.check(
            login.api_key_placement == Placement::None && login.api_key_name.is_empty(),
            &field("api_key_placement"),
            "BASIC credentials have no API key placement or name",
        );
    } else {
        v.check(
            login.api_key_placement != Placement::None,
            &field("api_key_placement"),
            "required for API_KEY: HEADER or QUERY_PARAMETER",
        );
        v.check(
            api_key_name_fits(login.api_key_placement, login.api_key_name),
            &field("api_key_name"),
            "required for API_KEY: a header name or query parameter name",
        );
        v.check(
            login.username.is_empty(),
            &field("username"),
            "API_KEY credentials have no username",
        );
    }
    v.into_result()
}

/// A header name is an HTTP token; a query parameter name has no space or control
/// character.
fn api_key_name_fits(placement: Placement, name: &str) -> bool {
    let header_name = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    !name.is_empty()
        && if placement == Placement::Header {
            name.chars().all(header_name)
        } else {
            !name.chars().any(|c| c.is_control() || c.is_whitespace())
        }
}

/// The secret field a credential of `kind` uses: a password for BASIC, else an API key.
pub fn secret_field(kind: LoginKind) -> &'static str {
    if kind == LoginKind::Basic {
        "password"
    } else {
        "api_key"
    }
}

/// The secrets a request sends; a credential takes the one of its kind. Its `Debug` shows
/// only which were sent, never their values.
#[derive(Clone, Default)]
pub struct SentSecrets {
    pub password: String,
    pub api_key: String,
}

impl std::fmt::Debug for SentSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |value: &String| if value.is_empty() { "" } else { "[redacted]" };
        f.debug_struct("SentSecrets")
            .field("password", &shown(&self.password))
            .field("api_key", &shown(&self.api_key))
            .finish()
    }
}

impl SentSecrets {
    /// The secret a credential of `kind` takes, if it was sent.
    pub fn for_kind(&self, kind: LoginKind) -> Option<crate::secret::Secret> {
        let value = if kind == LoginKind::Basic {
            &self.password
        } else {
            &self.api_key
        };
        (!value.is_empty()).then(|| crate::secret::Secret::new(value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_secrets_never_show_their_values() {
        let sent = SentSecrets {
            password: "hunter2".into(),
            api_key: String::new(),
        };
        let shown = format!("{sent:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
