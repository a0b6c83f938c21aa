//! CopyCredential: an import's copy of a credential, scoped to one data source (I5, I15).

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use trellis_platform::error::StoreResultExt;
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use super::App;
use crate::store::credentials::{self as store, CredentialRow};

/// A copy as an import asks for it.
#[derive(Debug)]
pub struct CopyRequest {
    pub source_id: Uuid,
    /// The import's source account: only its own credentials are copied (I15).
    pub source_account: Uuid,
    pub destination: Uuid,
    pub data_source: Uuid,
    pub request_fingerprint: String,
}

impl App {
    /// Makes the copy, or brings the one the data source already has up to date (a
    /// re-import).
    pub async fn copy_credential(
        &self,
        conn: &mut AsyncPgConnection,
        asked: &CopyRequest,
    ) -> ApiResult<CredentialRow> {
        let source_id = asked.source_id;
        let source = store::get(conn, source_id)
            .await
            .about("credential", source_id)?;
        // I15: only a credential of the import's source account is copied, and never a
        // copy (a copy serves its one data source alone, I5).
        if source.account_id != asked.source_account || source.scoped_data_source_id.is_some() {
            return Err(ApiError::not_found("credential", source_id));
        }
        // The copy is sealed to its own row: the source's envelope would not open there.
        let secret = self.open_credential(&source)?;
        let (mut copy, existed) = match store::find_copy(conn, source_id, asked.data_source).await?
        {
            Some(copy) if copy.account_id != asked.destination => {
                return Err(ApiError::invalid(
                    "destination_account_id",
                    "the data source already has a copy of this credential in another account",
                ));
            }
            Some(copy) => (copy, true),
            None => {
                let now = Utc::now();
                let copy = CredentialRow {
                    id: Uuid::now_v7(),
                    account_id: asked.destination,
                    // I5: usable by this imported data source alone.
                    scoped_data_source_id: Some(asked.data_source),
                    source_credential_id: Some(source_id),
                    version: 1,
                    create_time: now,
                    update_time: now,
                    ..source.clone()
                };
                (copy, false)
            }
        };
        // Copying again (a re-import) brings the copy up to date.
        copy.display_name = source.display_name.clone();
        copy.username = source.username.clone();
        copy.api_key_placement = source.api_key_placement;
        copy.api_key_name = source.api_key_name.clone();
        // The flow and the limit too; the limit counts under the source's id (limit_key).
        copy.flow = source.flow.clone();
        copy.api_limit = source.api_limit.clone();
        copy.secret = self.seal_credential(copy.id, &secret);
        copy.request_fingerprint = asked.request_fingerprint.clone();
        if existed {
            Ok(store::update(conn, &copy).await?)
        } else {
            Ok(store::insert(conn, &copy).await?)
        }
    }
}
