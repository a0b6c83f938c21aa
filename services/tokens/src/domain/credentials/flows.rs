//! The non-secret configuration of the credential kinds that make more than one header: the
//! login request of a LOGIN credential, the token endpoint of a CLIENT_CREDENTIALS one and the
//! signing scheme of a SIGNED one, stored as JSON in `credentials.flow`, and their rules.

use serde::{Deserialize, Serialize};
use trellis_platform::error::Violations;
use trellis_platform::validate;

use super::LoginKind;
use crate::domain::limits::{MAX_ID_CHARS, MAX_SCOPE_CHARS, MAX_SCOPES, MAX_URL_CHARS};

/// The longest login body and string to sign.
pub const MAX_TEMPLATE_CHARS: usize = 4096;
/// The longest content type, header prefix and signature prefix.
pub const MAX_SHORT_TEXT_CHARS: usize = 256;
/// The longest a LOGIN token is kept when the answer does not say: 30 days, in milliseconds.
pub const MAX_TOKEN_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// What a SIGNED credential's `string_to_sign` may hold between braces.
pub const SIGNING_PLACEHOLDERS: [&str; 7] = [
    "method",
    "path",
    "query",
    "body",
    "body_sha256",
    "timestamp",
    "key_id",
];
/// Headers that frame the HTTP message: never set by a credential.
const FRAMING_HEADERS: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

/// A credential's flow; only the one of its kind is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flows {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginFlow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_credentials: Option<ClientCredentialsFlow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningScheme>,
}

impl Flows {
    pub fn is_empty(&self) -> bool {
        self.login.is_none() && self.client_credentials.is_none() && self.signing.is_none()
    }
}

/// The login request of a LOGIN credential (proto `LoginFlow`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginFlow {
    pub url: String,
    pub body: String,
    pub content_type: String,
    pub token_path: String,
    pub expires_in_path: String,
    /// How long a token is kept when the answer does not say; `None` means an hour.
    pub token_ttl_ms: Option<i64>,
    pub header_name: String,
    pub header_prefix: String,
}

/// The token endpoint of a CLIENT_CREDENTIALS credential (proto `ClientCredentialsFlow`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientCredentialsFlow {
    pub token_url: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub credentials_in_body: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningAlgorithm {
    #[default]
    HmacSha256,
    HmacSha1,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    #[default]
    EpochSeconds,
    EpochMillis,
    Rfc3339,
}

/// How a SIGNED credential signs each request (proto `SigningScheme`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SigningScheme {
    pub algorithm: SigningAlgorithm,
    pub string_to_sign: String,
    pub encoding: SignatureEncoding,
    pub signature_header: String,
    pub signature_parameter: String,
    pub signature_prefix: String,
    pub timestamp_header: String,
    pub timestamp_parameter: String,
    pub timestamp_format: TimestampFormat,
    pub key_id_header: String,
    pub key_id_parameter: String,
}

impl SigningScheme {
    /// Whether the key id (the credential's `username`) is sent or signed.
    pub fn uses_key_id(&self) -> bool {
        !self.key_id_header.is_empty()
            || !self.key_id_parameter.is_empty()
            || self.string_to_sign.contains("{key_id}")
    }
}

/// Checks the flows of a credential of `kind`: the one of its kind is required, the others
/// refused. `field` makes a violation's field path from a name (`login.url`).
pub fn check_flows(
    v: &mut Violations,
    kind: LoginKind,
    flows: &Flows,
    field: &impl Fn(&str) -> String,
) {
    let mut slot = |name: &str, of: LoginKind, set: bool| match (kind == of, set) {
        (true, false) => v.add(field(name), format!("required for {}", kind_name(of))),
        (false, true) => v.add(
            field(name),
            format!("only for {} credentials", kind_name(of)),
        ),
        _ => {}
    };
    slot("login", LoginKind::Login, flows.login.is_some());
    slot(
        "client_credentials",
        LoginKind::ClientCredentials,
        flows.client_credentials.is_some(),
    );
    slot("signing", LoginKind::Signed, flows.signing.is_some());
    if let Some(login) = &flows.login {
        check_login_flow(v, login, &|name| field(&format!("login.{name}")));
    }
    if let Some(flow) = &flows.client_credentials {
        check_client_credentials(v, flow, &|name| {
            field(&format!("client_credentials.{name}"))
        });
    }
    if let Some(signing) = &flows.signing {
        check_signing(v, signing, &|name| field(&format!("signing.{name}")));
    }
}

/// The kind as the API names it.
pub fn kind_name(kind: LoginKind) -> &'static str {
    match kind {
        LoginKind::Basic => "BASIC",
        LoginKind::ApiKey => "API_KEY",
        LoginKind::Login => "LOGIN",
        LoginKind::ClientCredentials => "CLIENT_CREDENTIALS",
        LoginKind::Signed => "SIGNED",
    }
}

fn check_login_flow(v: &mut Violations, login: &LoginFlow, field: &impl Fn(&str) -> String) {
    check_http_url(v, &field("url"), &login.url);
    validate::text(v, &field("body"), &login.body, MAX_TEMPLATE_CHARS);
    // The password is sent from the sealed secret: one written into the body would be
    // stored and shown in clear.
    v.check(
        login.body.is_empty() || login.body.contains("{password}"),
        &field("body"),
        "must contain {password}; the password is the credential's secret, never part of the body",
    );
    if !login.content_type.is_empty() {
        validate::single_line(
            v,
            &field("content_type"),
            &login.content_type,
            MAX_SHORT_TEXT_CHARS,
        );
        v.check(
            is_media_type(&login.content_type),
            &field("content_type"),
            "must be a media type, e.g. application/json",
        );
    }
    check_path(v, &field("token_path"), &login.token_path);
    check_path(v, &field("expires_in_path"), &login.expires_in_path);
    if let Some(ttl) = login.token_ttl_ms {
        v.check(
            ttl > 0 && ttl <= MAX_TOKEN_TTL_MS,
            &field("token_ttl"),
            "must be more than 0 and at most 30 days",
        );
    }
    check_header_name(v, &field("header_name"), &login.header_name);
    validate::single_line(
        v,
        &field("header_prefix"),
        &login.header_prefix,
        MAX_SHORT_TEXT_CHARS,
    );
}

fn check_client_credentials(
    v: &mut Violations,
    flow: &ClientCredentialsFlow,
    field: &impl Fn(&str) -> String,
) {
    check_http_url(v, &field("token_url"), &flow.token_url);
    if flow.client_id.trim().is_empty() {
        v.add(field("client_id"), "required");
    } else {
        validate::single_line(v, &field("client_id"), &flow.client_id, MAX_ID_CHARS);
    }
    validate::list_len(v, &field("scopes"), flow.scopes.len(), MAX_SCOPES);
    for (i, scope) in flow.scopes.iter().enumerate().take(MAX_SCOPES) {
        let scope_field = field(&format!("scopes[{i}]"));
        validate::single_line(v, &scope_field, scope, MAX_SCOPE_CHARS);
        v.check(
            !scope.is_empty() && !scope.chars().any(char::is_whitespace),
            &scope_field,
            "a scope is a non-empty word without spaces",
        );
    }
}

fn check_signing(v: &mut Violations, signing: &SigningScheme, field: &impl Fn(&str) -> String) {
    let string_to_sign = field("string_to_sign");
    match validate::text_problem(&signing.string_to_sign, MAX_TEMPLATE_CHARS) {
        Some(problem) => v.add(&string_to_sign, problem),
        None => {
            for problem in placeholder_problems(&signing.string_to_sign) {
                v.add(&string_to_sign, problem);
            }
        }
    }
    validate::single_line(
        v,
        &field("signature_prefix"),
        &signing.signature_prefix,
        MAX_SHORT_TEXT_CHARS,
    );
    let header_or_parameter = |v: &mut Violations, what: &str, header: &str, parameter: &str| {
        let (header_field, parameter_field) = (
            field(&format!("{what}_header")),
            field(&format!("{what}_parameter")),
        );
        check_header_name(v, &header_field, header);
        check_parameter_name(v, &parameter_field, parameter);
        if !header.is_empty() && !parameter.is_empty() {
            let problem = format!("set at most one of {what}_header and {what}_parameter");
            v.add(&header_field, &problem);
            v.add(&parameter_field, problem);
        }
    };
    header_or_parameter(
        v,
        "signature",
        &signing.signature_header,
        &signing.signature_parameter,
    );
    v.check(
        !signing.signature_header.is_empty() || !signing.signature_parameter.is_empty(),
        &field("signature_header"),
        "required: the header or else the query parameter the signature is sent in",
    );
    header_or_parameter(
        v,
        "timestamp",
        &signing.timestamp_header,
        &signing.timestamp_parameter,
    );
    header_or_parameter(
        v,
        "key_id",
        &signing.key_id_header,
        &signing.key_id_parameter,
    );
}

/// What is wrong with the placeholders of a string to sign: each `{…}` must name one of
/// [`SIGNING_PLACEHOLDERS`].
pub fn placeholder_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            problems.push("a `{` is never closed by `}`".to_owned());
            break;
        };
        let name = &after[..close];
        if !SIGNING_PLACEHOLDERS.contains(&name) {
            let shown: String = name.chars().take(40).collect();
            let cut = if shown.len() < name.len() { "…" } else { "" };
            problems.push(format!(
                "unknown placeholder `{{{shown}{cut}}}`; known: {}",
                SIGNING_PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
            ));
        }
        rest = &after[close + 1..];
    }
    problems
}

/// An absolute http or https URL with a host and no user information.
pub fn check_http_url(v: &mut Violations, field: &str, value: &str) {
    if value.is_empty() {
        v.add(field, "required");
        return;
    }
    if let Some(problem) = validate::text_problem(value, MAX_URL_CHARS) {
        v.add(field, problem);
        return;
    }
    let problem = match url::Url::parse(value) {
        Err(_) => Some("must be an absolute http or https URL".to_owned()),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            Some(format!("must be http or https, not `{}`", url.scheme()))
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("needs a host".to_owned()),
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Some("must not contain a username or password".to_owned())
        }
        Ok(_) => None,
    };
    if let Some(problem) = problem {
        v.add(field, problem);
    }
}

/// An optional HTTP header name: an RFC 9110 token, not one that frames the message.
pub fn check_header_name(v: &mut Violations, field: &str, name: &str) {
    if name.is_empty() {
        return;
    }
    validate::single_line(v, field, name, MAX_ID_CHARS);
    if !is_header_name(name) {
        v.add(
            field,
            "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
        );
    } else if FRAMING_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        v.add(
            field,
            format!("{name} is set by the HTTP client, not a credential"),
        );
    }
}

/// An RFC 9110 token.
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// An optional query parameter name: no space or control character.
fn check_parameter_name(v: &mut Violations, field: &str, name: &str) {
    validate::single_line(v, field, name, MAX_ID_CHARS);
    v.check(
        !name.chars().any(|c| c.is_control() || c.is_whitespace()),
        field,
        "must not contain spaces or control characters",
    );
}

/// An optional path into a JSON answer: names separated by `/` (`data/token`), none empty
/// and none with a space or control character; a name of digits indexes an array.
fn check_path(v: &mut Violations, field: &str, path: &str) {
    if path.is_empty() {
        return;
    }
    validate::single_line(v, field, path, MAX_ID_CHARS);
    v.check(
        path.split('/').all(|step| {
            !step.is_empty() && !step.chars().any(|c| c.is_control() || c.is_whitespace())
        }),
        field,
        "must be names separated by `/` (e.g. data/token), none empty and none with spaces",
    );
}

/// `type/subtype`, optionally followed by `; parameters`.
fn is_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence
        .split_once('/')
        .is_some_and(|(kind, subtype)| is_header_name(kind) && is_header_name(subtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_placeholders_are_signed() {
        assert!(placeholder_problems("{method}\\n{path}\n{body_sha256}{key_id}").is_empty());
        let problems = placeholder_problems("{method}{secret}{");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("`{secret}`"), "{problems:?}");
        assert!(problems[1].contains("never closed"), "{problems:?}");
    }

    #[test]
    fn a_flow_of_another_kind_is_refused_and_its_own_required() {
        let flows = Flows {
            login: Some(LoginFlow {
                url: "https://api.example.test/login".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut v = Violations::new();
        check_flows(&mut v, LoginKind::Signed, &flows, &|name| name.to_owned());
        let shown = format!("{:?}", v.into_result().unwrap_err());
        assert!(shown.contains("only for LOGIN"), "{shown}");
        assert!(shown.contains("required for SIGNED"), "{shown}");
    }

    #[test]
    fn paths_and_media_types() {
        let mut v = Violations::new();
        check_path(&mut v, "ok", "data/items/0/token");
        assert!(v.is_empty());
        for bad in ["data//token", "/token", "token/", "a b"] {
            let mut v = Violations::new();
            check_path(&mut v, "bad", bad);
            assert!(!v.is_empty(), "{bad}");
        }
        assert!(is_media_type(
            "application/x-www-form-urlencoded; charset=utf-8"
        ));
        assert!(!is_media_type("json"));
    }
}
