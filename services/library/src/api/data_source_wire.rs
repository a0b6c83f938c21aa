//! Data sources on the wire: messages to definitions (with every violation named) and back.

use trellis_platform::error::{ApiResult, Violations};
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::data_source_auth::Method as AuthMethod;
use uuid::Uuid;

use super::convert::{duration, seconds, timestamp};
use super::source_options::{self, date_range_to_proto, limit_to_proto, pagination_to_proto};
use crate::domain::data_source::{Auth, DataSourceDefinition, Format, Header, Method};
use crate::domain::stored::DataSource;
use crate::domain::stored::Stored;

pub fn to_proto(data_source: &DataSource) -> pb::DataSource {
    let definition = &data_source.definition;
    pb::DataSource {
        id: data_source.id.to_string(),
        account_id: data_source.account_id.to_string(),
        name: definition.name.clone(),
        request: Some(pb::HttpRequestTemplate {
            method: method_to_proto(definition.method) as i32,
            url: definition.url.clone(),
            headers: headers_to_proto(&definition.headers),
            body: definition.body.clone(),
        }),
        format: format_to_proto(definition.format) as i32,
        auth: Some(auth_to_proto(definition.auth)),
        refresh_interval: duration(definition.refresh_interval_seconds),
        rate_limit_key: definition.rate_limit_key.clone(),
        version: data_source.version,
        fingerprint: data_source.fingerprint.clone(),
        template_properties: data_source.template_properties.clone(),
        etag: data_source.etag(),
        create_time: timestamp(data_source.created_at),
        update_time: timestamp(data_source.updated_at),
        pagination: definition.pagination.as_ref().map(pagination_to_proto),
        date_range: definition.date_range.as_ref().map(date_range_to_proto),
        rate_limit_key_limit: definition.rate_limit_key_limit.as_ref().map(limit_to_proto),
    }
}

pub fn method_to_proto(method: Method) -> pb::HttpMethod {
    match method {
        Method::Get => pb::HttpMethod::Get,
        Method::Post => pb::HttpMethod::Post,
        Method::Put => pb::HttpMethod::Put,
        Method::Patch => pb::HttpMethod::Patch,
    }
}

pub fn format_to_proto(format: Format) -> pb::DataFormat {
    match format {
        Format::Json => pb::DataFormat::Json,
        Format::Csv => pb::DataFormat::Csv,
    }
}

pub fn headers_to_proto(headers: &[Header]) -> Vec<pb::HttpHeader> {
    headers
        .iter()
        .map(|h| pb::HttpHeader {
            name: h.name.clone(),
            value: h.value.clone(),
        })
        .collect()
}

pub fn auth_to_proto(auth: Auth) -> pb::DataSourceAuth {
    let (kind, method) = match auth {
        Auth::None => (pb::AuthKind::None, AuthMethod::None(())),
        Auth::Credential(id) => (
            pb::AuthKind::Credential,
            AuthMethod::CredentialId(id.to_string()),
        ),
        Auth::OauthToken(id) => (
            pb::AuthKind::OauthToken,
            AuthMethod::TokenId(id.to_string()),
        ),
    };
    pb::DataSourceAuth {
        kind: kind as i32,
        method: Some(method),
    }
}

/// The definition a `DataSource` message describes, checked.
pub fn definition(message: &pb::DataSource, prefix: &str) -> ApiResult<DataSourceDefinition> {
    let mut violations = Violations::new();
    let auth = auth(
        &mut violations,
        message.auth.as_ref(),
        &format!("{prefix}.auth"),
    );
    let definition = Parts {
        name: &message.name,
        request: message.request.as_ref(),
        format: message.format,
        refresh_interval: message.refresh_interval.as_ref(),
        rate_limit_key: &message.rate_limit_key,
        pagination: message.pagination.as_ref(),
        date_range: message.date_range.as_ref(),
        rate_limit_key_limit: message.rate_limit_key_limit.as_ref(),
    }
    .definition(&mut violations, prefix, auth);
    violations.into_result()?;
    Ok(definition)
}

/// The fields of a definition apart from its auth, as a message carries them.
pub struct Parts<'a> {
    pub name: &'a str,
    pub request: Option<&'a pb::HttpRequestTemplate>,
    pub format: i32,
    pub refresh_interval: Option<&'a prost_types::Duration>,
    pub rate_limit_key: &'a str,
    pub pagination: Option<&'a pb::Pagination>,
    pub date_range: Option<&'a pb::DateRange>,
    pub rate_limit_key_limit: Option<&'a pb::SourceLimit>,
}

impl Parts<'_> {
    /// The definition with `auth`; every problem is added to `violations`.
    pub fn definition(
        &self,
        violations: &mut Violations,
        prefix: &str,
        auth: Auth,
    ) -> DataSourceDefinition {
        let request = self.request.cloned().unwrap_or_default();
        let method = match pb::HttpMethod::try_from(request.method) {
            Ok(pb::HttpMethod::Unspecified | pb::HttpMethod::Get) => Method::Get,
            Ok(pb::HttpMethod::Post) => Method::Post,
            Ok(pb::HttpMethod::Put) => Method::Put,
            Ok(pb::HttpMethod::Patch) => Method::Patch,
            Err(_) => {
                violations.add(format!("{prefix}.request.method"), "is not a known method");
                Method::Get
            }
        };
        let format = match pb::DataFormat::try_from(self.format) {
            Ok(pb::DataFormat::Json) => Format::Json,
            Ok(pb::DataFormat::Csv) => Format::Csv,
            Ok(pb::DataFormat::Unspecified) => {
                violations.add(
                    format!("{prefix}.format"),
                    "is required: DATA_FORMAT_JSON or DATA_FORMAT_CSV",
                );
                Format::Json
            }
            Err(_) => {
                violations.add(format!("{prefix}.format"), "is not a known format");
                Format::Json
            }
        };
        let interval_field = format!("{prefix}.refresh_interval");
        let refresh_interval_seconds = match seconds(&interval_field, self.refresh_interval) {
            Ok(seconds) => seconds,
            Err(_) => {
                violations.add(
                    &interval_field,
                    "must be a whole, positive number of seconds",
                );
                0
            }
        };
        let definition = DataSourceDefinition {
            name: self.name.to_owned(),
            method,
            url: request.url,
            headers: request
                .headers
                .into_iter()
                .map(|h| Header {
                    name: h.name,
                    value: h.value,
                })
                .collect(),
            body: request.body,
            format,
            auth,
            refresh_interval_seconds,
            rate_limit_key: self.rate_limit_key.to_owned(),
            pagination: source_options::pagination(
                violations,
                &format!("{prefix}.pagination"),
                self.pagination,
            ),
            date_range: source_options::date_range(self.date_range),
            rate_limit_key_limit: source_options::limit(self.rate_limit_key_limit),
        };
        definition.check(violations, prefix);
        definition
    }
}

/// The auth a message names; unset means none.
fn auth(violations: &mut Violations, auth: Option<&pb::DataSourceAuth>, field: &str) -> Auth {
    let mut id = |name: &str, text: &str| match Uuid::parse_str(text) {
        Ok(id) => Some(id),
        Err(_) => {
            violations.add(format!("{field}.{name}"), "must be a UUID");
            None
        }
    };
    match auth.and_then(|a| a.method.as_ref()) {
        None | Some(AuthMethod::None(())) => Auth::None,
        Some(AuthMethod::CredentialId(text)) => {
            id("credential_id", text).map_or(Auth::None, Auth::Credential)
        }
        Some(AuthMethod::TokenId(text)) => {
            id("token_id", text).map_or(Auth::None, Auth::OauthToken)
        }
    }
}
