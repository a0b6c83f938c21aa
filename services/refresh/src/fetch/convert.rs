//! What the library and the token registry say about a fetch, read into the fetch's own
//! values with their defaults filled: a data source's pagination, and a saved credential
//! with its secret. A peer may send anything, so every missing or contradictory part is a
//! clear error rather than a guess.

use std::time::Duration;

use prost::Message;
use sha2::{Digest, Sha256};
use trellis_proto::library::v1::{self as library, pagination};
use trellis_proto::tokens::v1::{
    self as tokens, ApiKeyPlacement, CredentialKind, GetCredentialSecretResponse,
};

use super::pages::{DEFAULT_MAX_PAGES, Paging, Style};
use super::session::DEFAULT_LOGIN_BODY;
use super::sign::DEFAULT_STRING_TO_SIGN;
use super::{
    Algorithm, ClientCredentials, Credentials, Encoding, Login, Placement, Signed, TimestampFormat,
};

/// Pages of one fetch at most, whatever a data source asks.
pub const MAX_PAGES: u32 = 1_000;

/// How long a login's token is kept when neither its answer nor the credential says.
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A data source's pagination; `None` for one request.
pub fn paging_of(pagination: Option<&library::Pagination>) -> Result<Option<Paging>, String> {
    let Some(pagination) = pagination else {
        return Ok(None);
    };
    let Some(style) = &pagination.style else {
        return Ok(None);
    };
    let parameter = |name: &str| {
        if name.is_empty() {
            Err("the data source's pagination names no query parameter".to_owned())
        } else {
            Ok(name.to_owned())
        }
    };
    let style = match style {
        pagination::Style::NextLink(next) => Style::NextLink {
            path: next.next_link_path.clone(),
        },
        pagination::Style::PageNumber(by_number) => Style::PageNumber {
            parameter: parameter(&by_number.parameter)?,
            first_page: if by_number.first_page == 0 {
                1
            } else {
                i64::from(by_number.first_page)
            },
        },
        pagination::Style::Offset(by_offset) => Style::Offset {
            parameter: parameter(&by_offset.parameter)?,
            limit_parameter: by_offset.limit_parameter.clone(),
            page_size: u32::try_from(by_offset.page_size)
                .ok()
                .filter(|size| *size > 0)
                .ok_or("the data source's pagination by offset has no positive page size")?,
        },
        pagination::Style::Cursor(by_cursor) => Style::Cursor {
            parameter: parameter(&by_cursor.parameter)?,
            path: by_cursor.cursor_path.clone(),
        },
    };
    let max_pages = match u32::try_from(pagination.max_pages) {
        Ok(0) | Err(_) => DEFAULT_MAX_PAGES,
        Ok(pages) => pages.min(MAX_PAGES),
    };
    Ok(Some(Paging {
        style,
        items_path: pagination.items_path.clone(),
        max_pages,
    }))
}

/// The credentials of a saved credential `credential_id`, from the token registry's answer.
pub fn credentials_of(
    credential_id: &str,
    secret: &GetCredentialSecretResponse,
) -> Result<Credentials, String> {
    // Tokens a credential obtains are kept per credential and version of its secret and
    // settings: a changed password or login request never reuses an old token.
    let cache_key = format!(
        "{credential_id}:{}",
        hex::encode(Sha256::digest(secret.encode_to_vec()))
    );
    match secret.kind() {
        CredentialKind::Basic => Ok(Credentials::Basic {
            username: secret.username.clone(),
            password: secret.password.clone(),
        }),
        CredentialKind::ApiKey => {
            let (name, key) = (secret.api_key_name.clone(), secret.api_key.clone());
            match secret.api_key_placement() {
                ApiKeyPlacement::Header => Ok(Credentials::ApiKeyHeader { name, key }),
                ApiKeyPlacement::QueryParameter => Ok(Credentials::ApiKeyQuery { name, key }),
                ApiKeyPlacement::Body => Ok(Credentials::ApiKeyBody { name, key }),
                ApiKeyPlacement::Unspecified => {
                    Err("the API key credential says nowhere to put the key".into())
                }
            }
        }
        CredentialKind::Login => {
            let flow = secret
                .login
                .as_ref()
                .ok_or("the login credential has no login request")?;
            Ok(Credentials::Login(Box::new(login(cache_key, secret, flow))))
        }
        CredentialKind::ClientCredentials => {
            let flow = secret
                .client_credentials
                .as_ref()
                .ok_or("the client-credentials credential has no token endpoint")?;
            Ok(Credentials::ClientCredentials(Box::new(
                ClientCredentials {
                    cache_key,
                    token_url: flow.token_url.clone(),
                    client_id: flow.client_id.clone(),
                    client_secret: secret.client_secret.clone(),
                    scopes: flow.scopes.clone(),
                    credentials_in_body: flow.credentials_in_body,
                },
            )))
        }
        CredentialKind::Signed => {
            let scheme = secret
                .signing
                .as_ref()
                .ok_or("the signed credential has no signing scheme")?;
            Ok(Credentials::Signed(Box::new(signed(secret, scheme)?)))
        }
        CredentialKind::Unspecified => Err("the saved credential has no kind".into()),
    }
}

fn or(text: &str, default: &str) -> String {
    if text.is_empty() {
        default.to_owned()
    } else {
        text.to_owned()
    }
}

fn login(
    cache_key: String,
    secret: &GetCredentialSecretResponse,
    flow: &tokens::LoginFlow,
) -> Login {
    let header_name = or(&flow.header_name, "Authorization");
    let header_prefix =
        if flow.header_prefix.is_empty() && header_name.eq_ignore_ascii_case("authorization") {
            "Bearer ".to_owned()
        } else {
            flow.header_prefix.clone()
        };
    Login {
        cache_key,
        username: secret.username.clone(),
        password: secret.password.clone(),
        url: flow.url.clone(),
        body: or(&flow.body, DEFAULT_LOGIN_BODY),
        content_type: or(&flow.content_type, "application/json"),
        token_path: or(&flow.token_path, "access_token"),
        expires_in_path: flow.expires_in_path.clone(),
        token_ttl: flow
            .token_ttl
            .as_ref()
            .and_then(crate::peers::convert::duration)
            .filter(|ttl| !ttl.is_zero())
            .unwrap_or(DEFAULT_TOKEN_TTL),
        header_name,
        header_prefix,
    }
}

/// A header if it is named, else a query parameter if that is, else nowhere.
fn placement(header: &str, parameter: &str) -> Option<Placement> {
    if !header.is_empty() {
        Some(Placement::Header(header.to_owned()))
    } else if !parameter.is_empty() {
        Some(Placement::Query(parameter.to_owned()))
    } else {
        None
    }
}

fn signed(
    secret: &GetCredentialSecretResponse,
    scheme: &tokens::SigningScheme,
) -> Result<Signed, String> {
    use tokens::{SignatureEncoding, SigningAlgorithm, TimestampFormat as Format};
    let signature = placement(&scheme.signature_header, &scheme.signature_parameter)
        .ok_or("the signed credential says nowhere to put the signature")?;
    Ok(Signed {
        key_id: secret.username.clone(),
        key: secret.signing_key.clone(),
        algorithm: match scheme.algorithm() {
            SigningAlgorithm::Unspecified | SigningAlgorithm::HmacSha256 => Algorithm::HmacSha256,
            SigningAlgorithm::HmacSha1 => Algorithm::HmacSha1,
        },
        string_to_sign: or(&scheme.string_to_sign, DEFAULT_STRING_TO_SIGN).replace("\\n", "\n"),
        encoding: match scheme.encoding() {
            SignatureEncoding::Unspecified | SignatureEncoding::Hex => Encoding::Hex,
            SignatureEncoding::Base64 => Encoding::Base64,
        },
        signature,
        signature_prefix: scheme.signature_prefix.clone(),
        timestamp: placement(&scheme.timestamp_header, &scheme.timestamp_parameter),
        timestamp_format: match scheme.timestamp_format() {
            Format::Unspecified | Format::EpochSeconds => TimestampFormat::EpochSeconds,
            Format::EpochMillis => TimestampFormat::EpochMillis,
            Format::Rfc3339 => TimestampFormat::Rfc3339,
        },
        key_id_placement: placement(&scheme.key_id_header, &scheme.key_id_parameter),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_defaults_are_filled_and_nonsense_refused() {
        let by_number = library::Pagination {
            style: Some(pagination::Style::PageNumber(
                library::PageNumberPagination {
                    parameter: "page".into(),
                    first_page: 0,
                },
            )),
            items_path: "data".into(),
            max_pages: 0,
        };
        let paging = paging_of(Some(&by_number)).unwrap().unwrap();
        assert_eq!(paging.max_pages, DEFAULT_MAX_PAGES);
        assert_eq!(
            paging.style,
            Style::PageNumber {
                parameter: "page".into(),
                first_page: 1
            }
        );
        let huge = library::Pagination {
            max_pages: i32::MAX,
            ..by_number.clone()
        };
        assert_eq!(
            paging_of(Some(&huge)).unwrap().unwrap().max_pages,
            MAX_PAGES
        );
        assert_eq!(paging_of(None).unwrap(), None);
        assert_eq!(
            paging_of(Some(&library::Pagination::default())).unwrap(),
            None
        );
        let no_size = library::Pagination {
            style: Some(pagination::Style::Offset(library::OffsetPagination {
                parameter: "offset".into(),
                limit_parameter: String::new(),
                page_size: -3,
            })),
            ..by_number
        };
        assert!(paging_of(Some(&no_size)).is_err());
    }

    #[test]
    fn login_and_signing_defaults_are_filled() {
        let secret = GetCredentialSecretResponse {
            kind: CredentialKind::Login as i32,
            username: "ann".into(),
            password: "pw".into(),
            login: Some(tokens::LoginFlow {
                url: "https://api.example/login".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Credentials::Login(login) = credentials_of("c1", &secret).unwrap() else {
            panic!("a login");
        };
        assert_eq!(login.body, DEFAULT_LOGIN_BODY);
        assert_eq!(login.header_name, "Authorization");
        assert_eq!(login.header_prefix, "Bearer ");
        assert_eq!(login.token_path, "access_token");
        assert_eq!(login.token_ttl, DEFAULT_TOKEN_TTL);
        assert!(login.cache_key.starts_with("c1:"));
        let changed = GetCredentialSecretResponse {
            password: "new".into(),
            ..secret.clone()
        };
        let Credentials::Login(other) = credentials_of("c1", &changed).unwrap() else {
            panic!("a login");
        };
        assert_ne!(
            login.cache_key, other.cache_key,
            "a new password, a new cache entry"
        );

        let signed = GetCredentialSecretResponse {
            kind: CredentialKind::Signed as i32,
            username: "key-1".into(),
            signing_key: "k".into(),
            signing: Some(tokens::SigningScheme {
                string_to_sign: "{method}\\n{path}".into(),
                signature_parameter: "sig".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Credentials::Signed(scheme) = credentials_of("c2", &signed).unwrap() else {
            panic!("signed");
        };
        assert_eq!(scheme.string_to_sign, "{method}\n{path}");
        assert_eq!(scheme.signature, Placement::Query("sig".into()));
        assert_eq!(scheme.algorithm, Algorithm::HmacSha256);
        assert_eq!(scheme.timestamp, None);
        let nowhere = GetCredentialSecretResponse {
            signing: Some(tokens::SigningScheme::default()),
            ..signed
        };
        assert!(credentials_of("c2", &nowhere).is_err());
    }
}
