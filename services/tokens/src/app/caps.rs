//! T2 applied: every code exchange is counted in the `issued_tokens` ledger, and the tokens
//! the provider drops past its per-user limit are marked (rules in `crate::domain::caps`).

use diesel_async::AsyncPgConnection;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::caps::UserLimit;
use crate::domain::{TokenState, Warning};
use crate::store::providers::ProviderRow;
use crate::store::{issued, tokens};

#[derive(Debug, Default)]
pub struct CapOutcome {
    pub warnings: Vec<Warning>,
    /// Tokens whose provider token the provider will have dropped for this one.
    pub invalidated: Vec<Uuid>,
}

/// Counts the token just issued for `token_id` and applies the provider's limit. Runs in
/// the transaction that stores the token, under the external user's lock.
pub async fn count_issued(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    external_user_id: &str,
    token_id: Uuid,
) -> Result<CapOutcome, StoreError> {
    issued::lock_user(conn, provider.id, external_user_id).await?;
    issued::record(conn, provider.id, external_user_id, token_id).await?;
    let count = issued::count(conn, provider.id, external_user_id).await?;
    let limit = UserLimit {
        provider_name: &provider.name,
        max: provider.max_tokens_per_user,
        warn: provider.warn_tokens_per_user,
    };
    let mut outcome = CapOutcome::default();
    let excess = limit.excess(count);
    if excess > 0 {
        let dropped = issued::drop_oldest(conn, provider.id, external_user_id, excess).await?;
        for victim in dropped.into_iter().filter(|id| *id != token_id) {
            let message = limit.invalidation_message();
            tokens::set_status(
                conn,
                victim,
                TokenState::InvalidatedByProvider,
                &message,
                None,
            )
            .await?;
            tracing::warn!(token_id = %victim, provider = %provider.name, "token invalidated by the provider's per-user limit");
            outcome.invalidated.push(victim);
        }
    }
    outcome.warnings.extend(limit.warning(count));
    Ok(outcome)
}
