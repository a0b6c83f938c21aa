//! A credential's flows and limit between their protobuf messages and their stored form.
//! What the domain cannot hold (an unknown enum value, a duration out of range) is refused
//! here; the rest is checked by `domain::credentials::check_login`.

use std::time::Duration;

use trellis_platform::error::Violations;
use trellis_platform::validate;
use trellis_proto::tokens::v1 as wire;

use crate::api::convert;
use crate::api::validate::{check_limit, limit as stored_limit};
use crate::domain::credentials::{
    self as domain, Flows, MAX_TOKEN_TTL_MS, SignatureEncoding, SigningAlgorithm, TimestampFormat,
};
use crate::store::providers::Limit;

/// The flows a request's credential sets.
pub fn flows_of(v: &mut Violations, given: &wire::Credential) -> Flows {
    Flows {
        login: given.login.as_ref().map(|login| login_of(v, login)),
        client_credentials: given.client_credentials.as_ref().map(client_credentials_of),
        signing: given.signing.as_ref().map(|signing| signing_of(v, signing)),
    }
}

pub fn login_of(v: &mut Violations, login: &wire::LoginFlow) -> domain::LoginFlow {
    let ttl = login.token_ttl.as_ref().and_then(|ttl| {
        let max = Duration::from_millis(MAX_TOKEN_TTL_MS as u64);
        validate::duration(
            v,
            "credential.login.token_ttl",
            ttl,
            Duration::from_nanos(1),
            max,
        )
    });
    domain::LoginFlow {
        url: login.url.clone(),
        body: login.body.clone(),
        content_type: login.content_type.clone(),
        token_path: login.token_path.clone(),
        expires_in_path: login.expires_in_path.clone(),
        // Rounded up: a positive lifetime never becomes 0.
        token_ttl_ms: ttl.map(|ttl| ttl.as_nanos().div_ceil(1_000_000) as i64),
        header_name: login.header_name.clone(),
        header_prefix: login.header_prefix.clone(),
    }
}

pub fn client_credentials_of(flow: &wire::ClientCredentialsFlow) -> domain::ClientCredentialsFlow {
    domain::ClientCredentialsFlow {
        token_url: flow.token_url.clone(),
        client_id: flow.client_id.clone(),
        scopes: flow.scopes.clone(),
        credentials_in_body: flow.credentials_in_body,
    }
}

pub fn signing_of(v: &mut Violations, signing: &wire::SigningScheme) -> domain::SigningScheme {
    let field = |name: &str| format!("credential.signing.{name}");
    let algorithm = match wire::SigningAlgorithm::try_from(signing.algorithm) {
        Ok(wire::SigningAlgorithm::HmacSha1) => SigningAlgorithm::HmacSha1,
        Ok(_) => SigningAlgorithm::HmacSha256,
        Err(_) => {
            v.add(
                field("algorithm"),
                "unknown algorithm: HMAC_SHA256 or HMAC_SHA1",
            );
            SigningAlgorithm::default()
        }
    };
    let encoding = match wire::SignatureEncoding::try_from(signing.encoding) {
        Ok(wire::SignatureEncoding::Base64) => SignatureEncoding::Base64,
        Ok(_) => SignatureEncoding::Hex,
        Err(_) => {
            v.add(field("encoding"), "unknown encoding: HEX or BASE64");
            SignatureEncoding::default()
        }
    };
    let timestamp_format = match wire::TimestampFormat::try_from(signing.timestamp_format) {
        Ok(wire::TimestampFormat::EpochMillis) => TimestampFormat::EpochMillis,
        Ok(wire::TimestampFormat::Rfc3339) => TimestampFormat::Rfc3339,
        Ok(_) => TimestampFormat::EpochSeconds,
        Err(_) => {
            v.add(
                field("timestamp_format"),
                "unknown format: EPOCH_SECONDS, EPOCH_MILLIS or RFC3339",
            );
            TimestampFormat::default()
        }
    };
    domain::SigningScheme {
        algorithm,
        string_to_sign: signing.string_to_sign.clone(),
        encoding,
        signature_header: signing.signature_header.clone(),
        signature_parameter: signing.signature_parameter.clone(),
        signature_prefix: signing.signature_prefix.clone(),
        timestamp_header: signing.timestamp_header.clone(),
        timestamp_parameter: signing.timestamp_parameter.clone(),
        timestamp_format,
        key_id_header: signing.key_id_header.clone(),
        key_id_parameter: signing.key_id_parameter.clone(),
    }
}

/// A request's limit, checked as a provider's limits are; `None` when it sends none.
pub fn limit_of(v: &mut Violations, limit: Option<&wire::ApiLimit>) -> Option<Limit> {
    let limit = limit?;
    check_limit(v, "credential.limit", limit);
    Some(stored_limit(Some(limit)))
}

pub fn login(login: &domain::LoginFlow) -> wire::LoginFlow {
    wire::LoginFlow {
        url: login.url.clone(),
        body: login.body.clone(),
        content_type: login.content_type.clone(),
        token_path: login.token_path.clone(),
        expires_in_path: login.expires_in_path.clone(),
        token_ttl: login.token_ttl_ms.map(|ms| prost_types::Duration {
            seconds: ms / 1000,
            nanos: ((ms % 1000) * 1_000_000) as i32,
        }),
        header_name: login.header_name.clone(),
        header_prefix: login.header_prefix.clone(),
    }
}

pub fn client_credentials(flow: &domain::ClientCredentialsFlow) -> wire::ClientCredentialsFlow {
    wire::ClientCredentialsFlow {
        token_url: flow.token_url.clone(),
        client_id: flow.client_id.clone(),
        scopes: flow.scopes.clone(),
        credentials_in_body: flow.credentials_in_body,
    }
}

/// The scheme as stored, its enums at their effective values (never unspecified).
pub fn signing(signing: &domain::SigningScheme) -> wire::SigningScheme {
    let algorithm = match signing.algorithm {
        SigningAlgorithm::HmacSha256 => wire::SigningAlgorithm::HmacSha256,
        SigningAlgorithm::HmacSha1 => wire::SigningAlgorithm::HmacSha1,
    };
    let encoding = match signing.encoding {
        SignatureEncoding::Hex => wire::SignatureEncoding::Hex,
        SignatureEncoding::Base64 => wire::SignatureEncoding::Base64,
    };
    let timestamp_format = match signing.timestamp_format {
        TimestampFormat::EpochSeconds => wire::TimestampFormat::EpochSeconds,
        TimestampFormat::EpochMillis => wire::TimestampFormat::EpochMillis,
        TimestampFormat::Rfc3339 => wire::TimestampFormat::Rfc3339,
    };
    wire::SigningScheme {
        algorithm: algorithm as i32,
        string_to_sign: signing.string_to_sign.clone(),
        encoding: encoding as i32,
        signature_header: signing.signature_header.clone(),
        signature_parameter: signing.signature_parameter.clone(),
        signature_prefix: signing.signature_prefix.clone(),
        timestamp_header: signing.timestamp_header.clone(),
        timestamp_parameter: signing.timestamp_parameter.clone(),
        timestamp_format: timestamp_format as i32,
        key_id_header: signing.key_id_header.clone(),
        key_id_parameter: signing.key_id_parameter.clone(),
    }
}

/// The stored flows and limit as a resource's or a secret's answer's fields.
pub struct Shown {
    pub login: Option<wire::LoginFlow>,
    pub client_credentials: Option<wire::ClientCredentialsFlow>,
    pub signing: Option<wire::SigningScheme>,
    pub limit: Option<wire::ApiLimit>,
}

pub fn shown(flows: &Flows, limit: Option<&Limit>) -> Shown {
    Shown {
        login: flows.login.as_ref().map(login),
        client_credentials: flows.client_credentials.as_ref().map(client_credentials),
        signing: flows.signing.as_ref().map(signing),
        limit: limit.map(convert::limit),
    }
}
