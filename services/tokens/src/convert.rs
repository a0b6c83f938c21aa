//! Rows to protobuf resources. Secrets never cross: a resource says only whether one is
//! stored.

use chrono::{DateTime, Utc};
use trellis_proto::tokens::v1::{
    ApiKeyPlacement, ApiLimit, Credential, CredentialKind, Provider, Token, TokenGrant, TokenStatus,
};

use crate::store::credentials::{self, CredentialRow};
use crate::store::grants::GrantRow;
use crate::store::providers::{Limit, ProviderRow};
use crate::store::tokens::{self, StoredToken};

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

pub fn limit(limit: &Limit) -> ApiLimit {
    ApiLimit {
        requests_per_period: limit.requests_per_period,
        period: (limit.period_ms > 0).then(|| prost_types::Duration {
            seconds: limit.period_ms / 1000,
            nanos: ((limit.period_ms % 1000) * 1_000_000) as i32,
        }),
        max_concurrent: limit.max_concurrent,
    }
}

pub fn provider(row: &ProviderRow) -> Provider {
    let limits = row.limits();
    Provider {
        id: row.id.to_string(),
        name: row.name.clone(),
        authorization_url: row.authorization_url.clone(),
        token_url: row.token_url.clone(),
        revocation_url: row.revocation_url.clone(),
        userinfo_url: row.userinfo_url.clone(),
        client_id: row.client_id.clone(),
        client_secret: String::new(),
        has_client_secret: row.client_secret.is_some(),
        scopes: row.scopes.clone(),
        authorization_parameters: row.authorization_parameters().into_iter().collect(),
        max_tokens_per_user: row.max_tokens_per_user,
        warn_tokens_per_user: row.warn_tokens_per_user,
        token_limit: Some(limit(&limits.token)),
        rate_limit_key_limit: Some(limit(&limits.rate_limit_key)),
        etag: row.version.to_string(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

pub fn token_status(status: &str) -> TokenStatus {
    match status {
        tokens::ACTIVE => TokenStatus::Active,
        tokens::NEEDS_REAUTHORIZATION => TokenStatus::NeedsReauthorization,
        tokens::INVALIDATED_BY_PROVIDER => TokenStatus::InvalidatedByProvider,
        tokens::REVOKED => TokenStatus::Revoked,
        _ => TokenStatus::Unspecified,
    }
}

pub fn token(stored: &StoredToken) -> Token {
    let row = &stored.token;
    Token {
        id: row.id.to_string(),
        account_id: row.account_id.to_string(),
        provider_id: row.provider_id.to_string(),
        display_name: row.display_name.clone(),
        external_user_id: row.external_user_id.clone(),
        external_user_name: row.external_user_name.clone(),
        scopes: row.scopes.clone(),
        status: token_status(&row.status) as i32,
        status_message: row.status_message.clone(),
        expire_time: stored.secrets.expire_time.map(timestamp),
        last_refresh_time: stored.secrets.last_refresh_time.map(timestamp),
        authorize_time: Some(timestamp(row.authorize_time)),
        etag: stored.etag(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

pub fn grant(row: &GrantRow) -> TokenGrant {
    TokenGrant {
        id: row.id.to_string(),
        token_id: row.token_id.to_string(),
        grantee_account_id: row.grantee_account_id.to_string(),
        data_source_id: row.data_source_id.to_string(),
        etag: row.etag(),
        create_time: Some(timestamp(row.create_time)),
        request_fingerprint: row.request_fingerprint.clone(),
    }
}

pub fn credential_kind(kind: &str) -> CredentialKind {
    match kind {
        credentials::BASIC => CredentialKind::Basic,
        credentials::API_KEY => CredentialKind::ApiKey,
        _ => CredentialKind::Unspecified,
    }
}

pub fn placement(placement: &str) -> ApiKeyPlacement {
    match placement {
        credentials::HEADER => ApiKeyPlacement::Header,
        credentials::QUERY_PARAMETER => ApiKeyPlacement::QueryParameter,
        _ => ApiKeyPlacement::Unspecified,
    }
}

pub fn placement_name(placement: ApiKeyPlacement) -> &'static str {
    match placement {
        ApiKeyPlacement::Header => credentials::HEADER,
        ApiKeyPlacement::QueryParameter => credentials::QUERY_PARAMETER,
        ApiKeyPlacement::Unspecified => "",
    }
}

pub fn credential(row: &CredentialRow) -> Credential {
    Credential {
        id: row.id.to_string(),
        account_id: row.account_id.to_string(),
        display_name: row.display_name.clone(),
        kind: credential_kind(&row.kind) as i32,
        username: row.username.clone(),
        api_key_placement: placement(&row.api_key_placement) as i32,
        api_key_name: row.api_key_name.clone(),
        scoped_data_source_id: row
            .scoped_data_source_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        source_credential_id: row
            .source_credential_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        etag: row.etag(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}
