//! Rows and domain values to protobuf resources, and a checked provider to its row.
//! Secrets never cross: a resource says only whether one is stored.

use chrono::{DateTime, Utc};
use trellis_proto::tokens::v1::{
    ApiKeyPlacement, ApiLimit, ApiRate, Credential, CredentialKind, Provider, Token, TokenGrant,
    TokenStatus, TokenUse, TokenUseVia, TokenWarning, TokenWarningKind,
};
use uuid::Uuid;

use super::validate;
use crate::domain::credentials::{LoginKind, Placement};
use crate::domain::usage;
use crate::domain::{TokenState, Warning, WarningKind};
use crate::store::credentials::CredentialRow;
use crate::store::grants::GrantRow;
use crate::store::providers::{Limit, Limits, ProviderRow};
use crate::store::tokens::StoredToken;

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

pub fn limit(limit: &Limit) -> ApiLimit {
    let period = |ms: i64| {
        (ms > 0).then(|| prost_types::Duration {
            seconds: ms / 1000,
            nanos: ((ms % 1000) * 1_000_000) as i32,
        })
    };
    ApiLimit {
        requests_per_period: limit.requests_per_period,
        period: period(limit.period_ms),
        max_concurrent: limit.max_concurrent,
        additional_rates: limit
            .additional_rates
            .iter()
            .map(|rate| ApiRate {
                requests: rate.requests,
                period: period(rate.period_ms),
            })
            .collect(),
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
        catalogue_key: row.catalogue_key.clone(),
        owner_account_id: row
            .owner_account_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        token_parameters: row.token_parameters.clone(),
    }
}

pub fn token_status(status: TokenState) -> TokenStatus {
    match status {
        TokenState::Active => TokenStatus::Active,
        TokenState::NeedsReauthorization => TokenStatus::NeedsReauthorization,
        TokenState::InvalidatedByProvider => TokenStatus::InvalidatedByProvider,
        TokenState::Revoked => TokenStatus::Revoked,
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
        status: token_status(row.status) as i32,
        status_message: row.status_message.clone(),
        expire_time: stored.secrets.expire_time.map(timestamp),
        last_refresh_time: stored.secrets.last_refresh_time.map(timestamp),
        authorize_time: Some(timestamp(row.authorize_time)),
        etag: stored.etag(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        parameters: row.parameters().into_iter().collect(),
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

pub fn credential_kind(kind: LoginKind) -> CredentialKind {
    match kind {
        LoginKind::Basic => CredentialKind::Basic,
        LoginKind::ApiKey => CredentialKind::ApiKey,
        LoginKind::Login => CredentialKind::Login,
        LoginKind::ClientCredentials => CredentialKind::ClientCredentials,
        LoginKind::Signed => CredentialKind::Signed,
    }
}

pub fn placement(placement: Placement) -> ApiKeyPlacement {
    match placement {
        Placement::Header => ApiKeyPlacement::Header,
        Placement::QueryParameter => ApiKeyPlacement::QueryParameter,
        Placement::Body => ApiKeyPlacement::Body,
        Placement::None => ApiKeyPlacement::Unspecified,
    }
}

/// The stored placement of a request's.
pub fn placement_name(placement: ApiKeyPlacement) -> Placement {
    match placement {
        ApiKeyPlacement::Header => Placement::Header,
        ApiKeyPlacement::QueryParameter => Placement::QueryParameter,
        ApiKeyPlacement::Body => Placement::Body,
        ApiKeyPlacement::Unspecified => Placement::None,
    }
}

/// A credential as its readers see it: its flows and limit, never its secret.
pub fn credential(row: &CredentialRow) -> Credential {
    let shown = super::credentials::wire::shown(&row.flows(), row.limit().as_ref());
    Credential {
        id: row.id.to_string(),
        account_id: row.account_id.to_string(),
        display_name: row.display_name.clone(),
        kind: credential_kind(row.kind) as i32,
        username: row.username.clone(),
        api_key_placement: placement(row.api_key_placement) as i32,
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
        login: shown.login,
        client_credentials: shown.client_credentials,
        signing: shown.signing,
        limit: shown.limit,
    }
}

/// The stored form of a checked provider; the client secret is sealed to `id`. The owner
/// is the one the caller may set (checked before), not the message's text.
pub fn provider_row(
    id: Uuid,
    provider: &Provider,
    client_secret: Option<Vec<u8>>,
    owner_account_id: Option<Uuid>,
) -> ProviderRow {
    let limits = Limits {
        token: validate::limit(provider.token_limit.as_ref()),
        rate_limit_key: validate::limit(provider.rate_limit_key_limit.as_ref()),
    };
    let now = Utc::now();
    ProviderRow {
        id,
        name: provider.name.trim().to_owned(),
        authorization_url: provider.authorization_url.clone(),
        token_url: provider.token_url.clone(),
        revocation_url: provider.revocation_url.clone(),
        userinfo_url: provider.userinfo_url.clone(),
        client_id: provider.client_id.trim().to_owned(),
        client_secret,
        scopes: provider.scopes.clone(),
        authorization_parameters: serde_json::to_value(
            provider
                .authorization_parameters
                .iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap_or_default(),
        max_tokens_per_user: provider.max_tokens_per_user,
        warn_tokens_per_user: provider.warn_tokens_per_user,
        limits: serde_json::to_value(limits).unwrap_or_default(),
        version: 1,
        create_time: now,
        update_time: now,
        catalogue_key: provider.catalogue_key.clone(),
        owner_account_id,
        token_parameters: provider.token_parameters.clone(),
    }
}

pub fn warning(warning: Warning) -> TokenWarning {
    let kind = match warning.kind {
        WarningKind::ScopesReduced => TokenWarningKind::ScopesReduced,
        WarningKind::ExternalUserChanged => TokenWarningKind::ExternalUserChanged,
        WarningKind::NearLimit => TokenWarningKind::NearLimit,
        WarningKind::LimitExceeded => TokenWarningKind::LimitExceeded,
    };
    TokenWarning {
        kind: kind as i32,
        message: warning.message,
        token_count: warning.token_count,
        token_limit: warning.token_limit,
    }
}

pub fn token_use(found: usage::TokenUse) -> TokenUse {
    let via = if found.is_master() {
        TokenUseVia::Owner
    } else {
        TokenUseVia::Grant
    };
    TokenUse {
        account_id: found.account_id.to_string(),
        data_source_id: found.data_source_id.to_string(),
        data_source_name: found.data_source_name,
        via: via as i32,
        master: found.grant_id.is_none(),
        grant_id: found.grant_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

pub fn token_uses(found: Vec<usage::TokenUse>) -> Vec<TokenUse> {
    found.into_iter().map(token_use).collect()
}
