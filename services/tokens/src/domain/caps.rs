//! T2: providers keep a limited number of tokens per external user and OAuth client, and
//! silently invalidate the oldest when one more is created. Every code exchange is counted
//! in the `issued_tokens` ledger; near the limit the response warns, and past it the
//! provider's victims are marked INVALIDATED_BY_PROVIDER.

use diesel_async::AsyncPgConnection;
use trellis_proto::tokens::v1::{TokenWarning, TokenWarningKind};
use uuid::Uuid;

use crate::store::providers::ProviderRow;
use crate::store::{TxError, issued, tokens};

#[derive(Debug, Default)]
pub struct CapOutcome {
    pub warnings: Vec<TokenWarning>,
    /// Tokens whose provider token the provider will have dropped for this one.
    pub invalidated: Vec<Uuid>,
}

/// The count at which to warn: the provider's setting, or the limit less 10%.
pub fn warn_threshold(provider: &ProviderRow) -> i64 {
    let max = i64::from(provider.max_tokens_per_user);
    match i64::from(provider.warn_tokens_per_user) {
        0 => (max - max / 10).max(1),
        warn => warn,
    }
}

/// Counts the token just issued for `token_id` and applies the provider's limit. Runs in
/// the transaction that stores the token, under the external user's lock.
pub async fn count_issued(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    external_user_id: &str,
    token_id: Uuid,
) -> Result<CapOutcome, TxError> {
    issued::lock_user(conn, provider.id, external_user_id).await?;
    issued::record(conn, provider.id, external_user_id, token_id).await?;
    let count = issued::count(conn, provider.id, external_user_id).await?;
    let max = i64::from(provider.max_tokens_per_user);
    let mut outcome = CapOutcome::default();
    if max == 0 {
        return Ok(outcome);
    }
    if count > max {
        let dropped = issued::drop_oldest(conn, provider.id, external_user_id, count - max).await?;
        for victim in dropped.into_iter().filter(|id| *id != token_id) {
            tokens::set_status(
                conn,
                victim,
                tokens::INVALIDATED_BY_PROVIDER,
                &format!(
                    "{} keeps at most {max} tokens per user; a newer authorization of the same \
                     user made it drop this one",
                    provider.name
                ),
                None,
            )
            .await?;
            tracing::warn!(token_id = %victim, provider = %provider.name, "token invalidated by the provider's per-user limit");
            outcome.invalidated.push(victim);
        }
        outcome.warnings.push(TokenWarning {
            kind: TokenWarningKind::LimitExceeded as i32,
            message: format!(
                "this authorization made {count} tokens of {} for this user, over its limit of \
                 {max}: the provider has invalidated the oldest, now marked \
                 INVALIDATED_BY_PROVIDER",
                provider.name
            ),
            token_count: count as i32,
            token_limit: max as i32,
        });
    } else if count >= warn_threshold(provider) {
        let message = if count == max {
            format!(
                "this user now has {count} tokens of {}, its limit: the next authorization will \
                 invalidate the oldest",
                provider.name
            )
        } else {
            format!(
                "this user now has {count} tokens of {}, close to its limit of {max}",
                provider.name
            )
        };
        outcome.warnings.push(TokenWarning {
            kind: TokenWarningKind::NearLimit as i32,
            message,
            token_count: count as i32,
            token_limit: max as i32,
        });
    }
    Ok(outcome)
}
