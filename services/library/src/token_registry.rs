//! What the library asks the token registry: whether a data source may name the token or
//! credential it is saved with (I14, I15). The registry owns tokens, grants and credential
//! copies (DESIGN.md section 2); the library stores only their ids.

use tonic::Code;
use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::error::ApiError;
use trellis_proto::tokens::v1 as tokens;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use uuid::Uuid;

use crate::domain::data_source::Auth;

/// How a data source holds what its auth names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// No auth, or the account's own token or credential.
    Own,
    /// The master's token through a grant, or a scoped copy of the master's credential,
    /// for this data source, made for the query being saved (I14).
    Borrowed,
    /// Borrowed, but made for another query than the one being saved: the query no longer
    /// stands as imported (I14).
    BorrowedForAnotherQuery,
    /// Neither: another account's, or one that does not exist.
    Refused,
}

pub struct TokenRegistry {
    client: TokenServiceClient<TracedChannel>,
    tokens: ServiceTokens,
}

impl TokenRegistry {
    pub fn new(tokens_url: &str, tokens: ServiceTokens) -> anyhow::Result<Self> {
        Ok(Self {
            client: TokenServiceClient::new(client::channel(tokens_url)?),
            tokens,
        })
    }

    /// How a data source of `account` (`data_source`, none before it is created) holds
    /// `auth`, once saved with `fingerprint`.
    pub async fn holding(
        &self,
        account: Uuid,
        data_source: Option<Uuid>,
        auth: Auth,
        fingerprint: &str,
    ) -> Result<Holding, ApiError> {
        use tokens::check_data_source_auth_request::Auth as Named;
        let named = match auth {
            Auth::None => return Ok(Holding::Own),
            Auth::OauthToken(id) => Named::TokenId(id.to_string()),
            Auth::Credential(id) => Named::CredentialId(id.to_string()),
        };
        let request = tokens::CheckDataSourceAuthRequest {
            account_id: account.to_string(),
            data_source_id: data_source.map(|id| id.to_string()).unwrap_or_default(),
            auth: Some(named),
            request_fingerprint: fingerprint.to_owned(),
        };
        let answer = self
            .client
            .clone()
            .check_data_source_auth(authorized(
                request,
                &self.tokens.bearer(ServiceKind::Tokens),
            ))
            .await
            .map_err(|status| {
                tracing::warn!(code = ?status.code(), message = status.message(), "token registry call failed");
                match status.code() {
                    Code::InvalidArgument => ApiError::internal(anyhow::anyhow!(
                        "the token registry refused the library's check: {}",
                        status.message()
                    )),
                    _ => ApiError::Unavailable(
                        "the token registry is unavailable; retry later".into(),
                    ),
                }
            })?
            .into_inner();
        Ok(match tokens::AuthHolding::try_from(answer.holding) {
            Ok(tokens::AuthHolding::Owned) => Holding::Own,
            Ok(tokens::AuthHolding::Borrowed) if answer.serves_request => Holding::Borrowed,
            Ok(tokens::AuthHolding::Borrowed) => Holding::BorrowedForAnotherQuery,
            _ => Holding::Refused,
        })
    }
}
