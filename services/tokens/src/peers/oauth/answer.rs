//! Reading a provider's token answer.
//!
//! A code exchange's answer is checked whole before anything of it is stored: a text that
//! cannot be stored makes it an answer not understood, and the authorization fails with
//! nothing written. A refresh's answer cannot be refused that way: the provider may already
//! have rotated the refresh token, so refusing the answer would drop the new one, the next
//! refresh would present the old one, meet `invalid_grant`, and the token would need
//! re-authorization. A refresh's answer with an access token is therefore always taken:
//! its scopes are not read (a refresh does not store them), and a token type that cannot
//! be stored is taken as `Bearer`. Only an answer without an access token is refused.

use oauth2::TokenResponse;
use oauth2::basic::BasicTokenType;

use super::{IssuedToken, ProviderError, ProviderTokenResponse};
use crate::domain::providers::pick_parameters;
use crate::secret::Secret;

/// The most scopes a code exchange's answer may grant, and the longest text of an answer
/// that is stored as text (token type, scope, external user id and name).
pub const MAX_PROVIDER_SCOPES: usize = 1000;
pub const MAX_PROVIDER_TEXT_CHARS: usize = 1024;

/// The token type used when a refresh's answer names one that cannot be stored.
const FALLBACK_TOKEN_TYPE: &str = "Bearer";

/// Which grant an answer is for: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grant {
    Code,
    Refresh,
}

/// A text of the provider's answer that is stored: what cannot be stored is a malformed
/// answer, not a database error.
pub(super) fn provider_text(what: &str, value: String) -> Result<String, ProviderError> {
    match trellis_platform::validate::text_problem(&value, MAX_PROVIDER_TEXT_CHARS) {
        None if !value.contains(['\n', '\r']) => Ok(value),
        None => Err(ProviderError::Malformed(format!(
            "{what} must be on one line"
        ))),
        Some(problem) => Err(ProviderError::Malformed(format!("{what} {problem}"))),
    }
}

/// What the provider answered; `parameters` names the fields kept besides the tokens.
pub(super) fn issued(
    response: ProviderTokenResponse,
    grant: Grant,
    parameters: &[String],
) -> Result<IssuedToken, ProviderError> {
    if response.access_token().secret().is_empty() {
        return Err(ProviderError::Malformed(
            "the answer holds no access token".into(),
        ));
    }
    let token_type = match response.token_type() {
        BasicTokenType::Bearer => "Bearer".to_owned(),
        BasicTokenType::Mac => "MAC".to_owned(),
        BasicTokenType::Extension(other) => match provider_text("the token_type", other.clone()) {
            Ok(token_type) => token_type,
            Err(problem) if grant == Grant::Refresh => {
                tracing::warn!(error = %problem, "a refresh's token_type cannot be stored; taking it as {FALLBACK_TOKEN_TYPE}");
                FALLBACK_TOKEN_TYPE.to_owned()
            }
            Err(problem) => return Err(problem),
        },
    };
    let scopes = match (grant, response.scopes()) {
        (Grant::Refresh, _) | (Grant::Code, None) => None,
        (Grant::Code, Some(scopes)) if scopes.len() > MAX_PROVIDER_SCOPES => {
            return Err(ProviderError::Malformed(format!(
                "{} scopes granted, more than {MAX_PROVIDER_SCOPES}",
                scopes.len()
            )));
        }
        (Grant::Code, Some(scopes)) => Some(
            scopes
                .iter()
                .map(|scope| provider_text("a granted scope", scope.to_string()))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(IssuedToken {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|token| Secret::new(token.secret().clone())),
        token_type,
        expires_in: response.expires_in(),
        scopes,
        parameters: pick_parameters(&response.extra_fields().rest, parameters),
        id_token: response.extra_fields().id_token.clone().map(Secret::new),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(body: serde_json::Value) -> ProviderTokenResponse {
        serde_json::from_value(body).expect("a token answer")
    }

    /// What hostile providers put in an answer's texts.
    fn hostile_answers() -> Vec<(&'static str, serde_json::Value)> {
        let rotated = |token_type: String, scope: String| {
            json!({
                "access_token": "access-2",
                "refresh_token": "refresh-2",
                "token_type": token_type,
                "expires_in": 3600,
                "scope": scope,
            })
        };
        vec![
            (
                "a token_type with a line break",
                rotated("Bearer\r\nX-Injected: 1".into(), "read".into()),
            ),
            (
                "a token_type with a NUL",
                rotated("Bea\0rer".into(), "read".into()),
            ),
            (
                "a token_type too long",
                rotated("T".repeat(MAX_PROVIDER_TEXT_CHARS + 1), "read".into()),
            ),
            (
                "a scope with a control character",
                rotated("Bearer".into(), "read wri\u{7}te".into()),
            ),
            (
                "too many scopes",
                rotated(
                    "Bearer".into(),
                    vec!["s"; MAX_PROVIDER_SCOPES + 1].join(" "),
                ),
            ),
            (
                "a scope too long",
                rotated("Bearer".into(), "s".repeat(MAX_PROVIDER_TEXT_CHARS + 1)),
            ),
        ]
    }

    #[test]
    fn a_refresh_answer_with_hostile_texts_keeps_its_rotated_refresh_token() {
        for (what, body) in hostile_answers() {
            let issued = issued(answer(body), Grant::Refresh, &[])
                .unwrap_or_else(|e| panic!("{what}: refused ({e})"));
            assert_eq!(issued.access_token.expose(), "access-2", "{what}");
            assert_eq!(
                issued.refresh_token.as_ref().map(Secret::expose),
                Some("refresh-2"),
                "{what}: the rotated refresh token is kept"
            );
            assert_eq!(issued.token_type, "Bearer", "{what}");
            assert!(issued.scopes.is_none(), "{what}: scopes are not read");
        }
    }

    #[test]
    fn a_code_exchange_answer_with_hostile_texts_is_not_understood() {
        for (what, body) in hostile_answers() {
            let refused = issued(answer(body), Grant::Code, &[]);
            assert!(
                matches!(refused, Err(ProviderError::Malformed(_))),
                "{what}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_refresh_answer_keeps_a_storable_token_type() {
        let issued = issued(
            answer(json!({"access_token": "a", "token_type": "DPoP"})),
            Grant::Refresh,
            &[],
        )
        .expect("taken");
        assert_eq!(issued.token_type, "dpop", "as the oauth2 crate reads it");
        assert!(issued.refresh_token.is_none());
    }

    #[test]
    fn the_named_fields_of_an_answer_are_kept() {
        let issued = issued(
            answer(json!({
                "access_token": "a",
                "token_type": "Bearer",
                "instance_url": "https://eu1.my.salesforce.com",
                "id_token": "x.e30.",
                "other": "not named",
            })),
            Grant::Code,
            &["instance_url".to_owned(), "id_token".to_owned()],
        )
        .expect("taken");
        assert_eq!(
            issued.parameters.get("instance_url").map(String::as_str),
            Some("https://eu1.my.salesforce.com")
        );
        assert!(!issued.parameters.contains_key("other"));
        assert!(
            !issued.parameters.contains_key("id_token"),
            "the id_token is read as such, never kept as a parameter"
        );
    }

    #[test]
    fn an_answer_without_an_access_token_is_refused() {
        for grant in [Grant::Code, Grant::Refresh] {
            let refused = issued(
                answer(json!({
                    "access_token": "",
                    "refresh_token": "refresh-2",
                    "token_type": "Bearer",
                })),
                grant,
                &[],
            );
            assert!(
                matches!(refused, Err(ProviderError::Malformed(_))),
                "{grant:?}: {refused:?}"
            );
        }
    }
}
