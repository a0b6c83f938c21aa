//! Saved credentials (I5): created, read, changed under an etag, deleted; copied by an
//! import for one data source, and handed to the data source they serve.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use trellis_platform::error::StoreResultExt;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::etag;
use uuid::Uuid;

use super::App;
use crate::domain::credentials::{
    ClientCredentialsFlow, Login, LoginFlow, Placement, SentSecrets, SigningScheme, check_login,
};
use crate::domain::{check_bound, columns, open, seal};
use crate::secret::Secret;
use crate::store::credentials::{self as store, CredentialRow};
use crate::store::providers::Limit;

/// A credential as its account creates it.
#[derive(Debug)]
pub struct NewCredential<'a> {
    pub account_id: Uuid,
    pub login: Login<'a>,
    pub limit: Option<Limit>,
    pub secret: Secret,
}

/// The fields an update sets (none: unchanged; `Some(None)` clears a flow or the limit).
#[derive(Debug, Default)]
pub struct CredentialChange {
    pub display_name: Option<String>,
    pub username: Option<String>,
    pub api_key_placement: Option<Placement>,
    pub api_key_name: Option<String>,
    pub login: Option<Option<LoginFlow>>,
    pub client_credentials: Option<Option<ClientCredentialsFlow>>,
    pub signing: Option<Option<SigningScheme>>,
    pub limit: Option<Option<Limit>>,
    pub secrets: Option<SentSecrets>,
}

impl CredentialChange {
    /// More than a rename: how or where the secret is sent, the secret itself, or the
    /// limit (a copy's is its master's).
    fn changes_the_login(&self) -> bool {
        self.username.is_some()
            || self.api_key_placement.is_some()
            || self.api_key_name.is_some()
            || self.login.is_some()
            || self.client_credentials.is_some()
            || self.signing.is_some()
            || self.limit.is_some()
            || self.secrets.is_some()
    }
}

/// Where a credential is asked for: its id, account and the data source it serves.
#[derive(Debug, Clone, Copy)]
pub struct Use<'a> {
    pub credential_id: Uuid,
    pub account_id: Uuid,
    pub data_source_id: Uuid,
    pub request_fingerprint: &'a str,
}

/// Checks the non-secret fields of `row` as a whole.
pub fn check_row(row: &CredentialRow) -> ApiResult<()> {
    check_login(
        Login {
            display_name: &row.display_name,
            kind: row.kind,
            username: &row.username,
            api_key_placement: row.api_key_placement,
            api_key_name: &row.api_key_name,
            flows: &row.flows(),
        },
        "credential.",
    )
}

impl App {
    pub(super) fn seal_credential(&self, id: Uuid, secret: &Secret) -> Vec<u8> {
        seal(
            &self.keyring,
            secret,
            columns::CREDENTIAL_SECRET,
            &id.to_string(),
        )
    }

    pub(super) fn open_credential(&self, row: &CredentialRow) -> ApiResult<Secret> {
        open(
            &self.keyring,
            &row.secret,
            columns::CREDENTIAL_SECRET,
            &row.id.to_string(),
        )
    }

    /// The row of a new credential, checked, its secret sealed.
    pub fn credential_row(&self, new: NewCredential<'_>) -> ApiResult<CredentialRow> {
        check_login(new.login, "credential.")?;
        let id = Uuid::now_v7();
        let now = Utc::now();
        let mut row = CredentialRow {
            id,
            account_id: new.account_id,
            display_name: new.login.display_name.to_owned(),
            kind: new.login.kind,
            username: new.login.username.to_owned(),
            api_key_placement: new.login.api_key_placement,
            api_key_name: new.login.api_key_name.to_owned(),
            secret: self.seal_credential(id, &new.secret),
            scoped_data_source_id: None,
            source_credential_id: None,
            version: 1,
            create_time: now,
            update_time: now,
            request_fingerprint: String::new(),
            flow: None,
            api_limit: None,
        };
        row.set_flows(new.login.flows);
        row.set_limit(new.limit.as_ref());
        Ok(row)
    }

    /// Credential `id` of `account`; NOT_FOUND when it is not there, in that account.
    pub async fn credential_in(&self, id: Uuid, account: Uuid) -> ApiResult<CredentialRow> {
        let mut conn = self.conn().await?;
        let row = store::get(&mut conn, id).await.about("credential", id)?;
        if row.account_id != account {
            return Err(ApiError::not_found("credential", id));
        }
        Ok(row)
    }

    pub async fn list_credentials(
        &self,
        account: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> ApiResult<Vec<CredentialRow>> {
        let mut conn = self.conn().await?;
        Ok(store::list(&mut conn, account, after, limit).await?)
    }

    /// Changes credential `id` of `account` if `sent_etag` matches.
    pub async fn update_credential(
        &self,
        conn: &mut AsyncPgConnection,
        (id, account): (Uuid, Uuid),
        sent_etag: &str,
        change: &CredentialChange,
    ) -> ApiResult<CredentialRow> {
        let mut row = locked_in(conn, id, account, sent_etag).await?;
        // A copy is its master's login, made for one imported query (I5, I14): its holder
        // may rename it, not change how or where the secret is sent.
        if row.scoped_data_source_id.is_some() && change.changes_the_login() {
            return Err(ApiError::precondition(
                "CREDENTIAL_COPY",
                format!("credentials/{id}"),
                "a copy made by an import changes only with its master (re-import or update \
                 the instance); only its display_name can be edited",
            ));
        }
        let set = |field: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                value.clone_into(field);
            }
        };
        set(&mut row.display_name, &change.display_name);
        set(&mut row.username, &change.username);
        set(&mut row.api_key_name, &change.api_key_name);
        if let Some(placement) = change.api_key_placement {
            row.api_key_placement = placement;
        }
        let mut flows = row.flows();
        if let Some(login) = &change.login {
            flows.login.clone_from(login);
        }
        if let Some(flow) = &change.client_credentials {
            flows.client_credentials.clone_from(flow);
        }
        if let Some(signing) = &change.signing {
            flows.signing.clone_from(signing);
        }
        row.set_flows(&flows);
        if let Some(limit) = &change.limit {
            row.set_limit(limit.as_ref());
        }
        check_row(&row)?;
        if let Some(secret) = change.secrets.as_ref().and_then(|s| s.for_kind(row.kind)) {
            row.secret = self.seal_credential(id, &secret);
        }
        Ok(store::update(conn, &row).await?)
    }

    /// The secret of a credential for the data source it serves (I5, I14).
    pub async fn credential_secret(&self, asked: Use<'_>) -> ApiResult<(CredentialRow, Secret)> {
        let id = asked.credential_id;
        let mut conn = self.conn().await?;
        let row = store::get(&mut conn, id).await.about("credential", id)?;
        if row.account_id != asked.account_id {
            return Err(ApiError::PermissionDenied(format!(
                "credential {id} does not belong to account {}",
                asked.account_id
            )));
        }
        // I5: a copy made by an import serves its one data source, no other.
        if let Some(scoped) = row.scoped_data_source_id
            && scoped != asked.data_source_id
        {
            return Err(ApiError::PermissionDenied(format!(
                "credential {id} is scoped to another data source than {}",
                asked.data_source_id
            )));
        }
        check_bound(
            &row.request_fingerprint,
            asked.request_fingerprint,
            asked.data_source_id,
        )?;
        let secret = self.open_credential(&row)?;
        Ok((row, secret))
    }
}

pub async fn create(conn: &mut AsyncPgConnection, row: &CredentialRow) -> ApiResult<CredentialRow> {
    Ok(store::insert(conn, row).await?)
}

/// Deletes credential `id` of `account` if `sent_etag` matches.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    account: Uuid,
    sent_etag: &str,
) -> ApiResult<()> {
    locked_in(conn, id, account, sent_etag).await?;
    Ok(store::delete(conn, id).await?)
}

/// Credential `id` of `account`, locked, if `sent_etag` matches.
async fn locked_in(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    account: Uuid,
    sent_etag: &str,
) -> ApiResult<CredentialRow> {
    let row = store::get_for_update(conn, id)
        .await
        .about("credential", id)?;
    if row.account_id != account {
        return Err(ApiError::not_found("credential", id));
    }
    etag::require(sent_etag, &row.etag(), "credential")?;
    Ok(row)
}
