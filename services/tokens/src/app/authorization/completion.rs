//! The second half of a completion: the exchanged token stored (new, or new secrets under
//! a re-authorized token's id), counted against the provider's limit (T2), and the caller's
//! tokens that the provider invalidated for it named with their uses (T3).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use trellis_platform::error::ApiResult;
use trellis_platform::error::StoreResultExt;
use uuid::Uuid;

use super::{Completed, Exchanged};
use crate::app::{App, caps};
use crate::domain::access::expire_time;
use crate::domain::authorization as rules;
use crate::domain::{TokenState, Warning, columns, seal};
use crate::peers::oauth::{ExternalUser, IssuedToken};
use crate::store::authorizations::PendingRow;
use crate::store::providers::ProviderRow;
use crate::store::tokens::{self as token_store, SecretsRow, TokenRow};

impl App {
    /// Stores the exchanged token (a new one, or new secrets under a re-authorized one's
    /// id), counts it (T2) and tells which of the caller's tokens it invalidated.
    pub(super) async fn store_token(
        &self,
        conn: &mut AsyncPgConnection,
        pending: &PendingRow,
        exchanged: Exchanged,
        caller_account: Option<Uuid>,
    ) -> ApiResult<Completed> {
        let Exchanged {
            provider,
            issued,
            user,
        } = exchanged;
        let granted: Vec<String> = issued
            .scopes
            .clone()
            .unwrap_or_else(|| provider.scopes.clone());
        let mut warnings: Vec<Warning> = rules::scopes_reduced(&provider.scopes, &granted)
            .into_iter()
            .collect();
        let token_id = pending.token_id.unwrap_or_else(Uuid::now_v7);
        let secrets = self.sealed_secrets(token_id, issued);
        match pending.token_id {
            Some(token_id) => {
                let changed = reauthorize(conn, token_id, &user, &granted, secrets).await?;
                warnings.extend(changed.then(|| rules::user_changed(&user)));
            }
            None => {
                insert_token(conn, token_id, pending, &provider, &user, &granted, secrets).await?;
            }
        }
        let cap = caps::count_issued(conn, &provider, &user.id, token_id).await?;
        warnings.extend(cap.warnings);
        let mut completed = Completed {
            token: token_store::get(conn, token_id).await?,
            warnings,
            invalidated_token_ids: Vec::new(),
            invalidated_token_uses: Vec::new(),
        };
        self.tell_invalidated(
            conn,
            &mut completed,
            cap.invalidated,
            caller_account,
            provider.max_tokens_per_user,
        )
        .await?;
        Ok(completed)
    }

    /// Names the invalidated tokens of the caller's own account, with their uses (T3).
    async fn tell_invalidated(
        &self,
        conn: &mut AsyncPgConnection,
        completed: &mut Completed,
        invalidated: Vec<Uuid>,
        caller_account: Option<Uuid>,
        token_limit: i32,
    ) -> ApiResult<()> {
        for victim in invalidated {
            let owner = token_store::get(conn, victim).await?.token.account_id;
            if caller_account.is_some_and(|account| account != owner) {
                continue;
            }
            completed.invalidated_token_ids.push(victim);
            match self.uses(conn, victim, owner).await {
                Ok(uses) => completed.invalidated_token_uses.extend(uses),
                Err(error) => {
                    completed
                        .warnings
                        .push(rules::uses_unknown(victim, &error, token_limit))
                }
            }
        }
        Ok(())
    }

    fn sealed_secrets(&self, token_id: Uuid, issued: IssuedToken) -> Sealed {
        let id = token_id.to_string();
        Sealed {
            parameters: issued.parameters.clone(),
            token_type: issued.token_type.clone(),
            access: seal(
                &self.keyring,
                &issued.access_token,
                columns::ACCESS_TOKEN,
                &id,
            ),
            refresh: issued
                .refresh_token
                .as_ref()
                .map(|r| seal(&self.keyring, r, columns::REFRESH_TOKEN, &id)),
            expire_time: expire_time(issued.expires_in),
        }
    }
}

/// A token's secrets sealed to its row, with its parameters (not secret).
struct Sealed {
    parameters: BTreeMap<String, String>,
    token_type: String,
    access: Vec<u8>,
    refresh: Option<Vec<u8>>,
    expire_time: Option<DateTime<Utc>>,
}

/// I6: the same id, new secrets: every data source and instance using the token uses them
/// from now on. True when another user of the provider authorized it than before.
async fn reauthorize(
    conn: &mut AsyncPgConnection,
    token_id: Uuid,
    user: &ExternalUser,
    granted: &[String],
    secrets: Sealed,
) -> ApiResult<bool> {
    let previous = token_store::get_for_update(conn, token_id)
        .await
        .about("token", token_id)?;
    let change = token_store::Reauthorization {
        external_user_id: &user.id,
        external_user_name: &user.name,
        scopes: granted,
        parameters: &secrets.parameters,
        secrets: token_store::NewSecrets {
            access_token: secrets.access,
            refresh_token: secrets.refresh,
            token_type: &secrets.token_type,
            expire_time: secrets.expire_time,
        },
    };
    token_store::reauthorize(conn, token_id, change).await?;
    Ok(previous.token.external_user_id != user.id)
}

/// A new token of the pending authorization's account.
async fn insert_token(
    conn: &mut AsyncPgConnection,
    token_id: Uuid,
    pending: &PendingRow,
    provider: &ProviderRow,
    user: &ExternalUser,
    granted: &[String],
    secrets: Sealed,
) -> ApiResult<()> {
    let now = Utc::now();
    let token = TokenRow {
        id: token_id,
        account_id: pending.account_id,
        provider_id: provider.id,
        display_name: rules::display_name(&pending.display_name, &provider.name, user),
        external_user_id: user.id.clone(),
        external_user_name: user.name.clone(),
        scopes: granted.to_vec(),
        status: TokenState::Active,
        status_message: String::new(),
        authorize_time: now,
        version: 1,
        create_time: now,
        update_time: now,
        parameters: token_store::parameters_value(&secrets.parameters),
    };
    let secrets = SecretsRow {
        token_id,
        access_token: Some(secrets.access),
        refresh_token: secrets.refresh,
        token_type: secrets.token_type,
        expire_time: secrets.expire_time,
        generation: 1,
        last_refresh_time: None,
    };
    token_store::insert(conn, &token, &secrets).await?;
    Ok(())
}
