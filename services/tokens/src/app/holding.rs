//! CheckDataSourceAuth's work: whether a data source of an account may name a token or a
//! credential, and whether what it borrows serves the query being saved.

use trellis_platform::error::{ApiResult, StoreError};
use uuid::Uuid;

use super::App;
use crate::domain::holding::{self, Holding};
use crate::store::{credentials, grants, tokens};

/// What a data source names.
#[derive(Debug, Clone, Copy)]
pub enum Named {
    Token(Uuid),
    Credential(Uuid),
}

/// Who asks: the data source (none when not yet created), its account and its query.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub account_id: Uuid,
    pub data_source_id: Option<Uuid>,
    pub request_fingerprint: &'a str,
}

impl App {
    /// How `asker` holds what it names, and whether a borrowed one serves its query.
    pub async fn holding(&self, asker: Asker<'_>, named: Named) -> ApiResult<(Holding, bool)> {
        let mut conn = self.conn().await?;
        let account = asker.account_id;
        let serves = |bound: &str| holding::serves(bound, asker.request_fingerprint);
        let (holding, serves_request) = match named {
            Named::Token(id) => match found(tokens::get(&mut conn, id).await)? {
                None => (Holding::None, false),
                Some(token) if token.token.account_id == account => (Holding::Owned, false),
                Some(_) => match asker.data_source_id {
                    Some(data_source) => grants::find(&mut conn, id, data_source)
                        .await?
                        .filter(|grant| grant.grantee_account_id == account)
                        .map_or((Holding::None, false), |grant| {
                            (Holding::Borrowed, serves(&grant.request_fingerprint))
                        }),
                    None => (Holding::None, false),
                },
            },
            Named::Credential(id) => match found(credentials::get(&mut conn, id).await)? {
                Some(credential) if credential.account_id == account => (
                    holding::of_credential(credential.scoped_data_source_id, asker.data_source_id),
                    serves(&credential.request_fingerprint),
                ),
                _ => (Holding::None, false),
            },
        };
        Ok((holding, holding == Holding::Borrowed && serves_request))
    }
}

fn found<T>(result: Result<T, StoreError>) -> ApiResult<Option<T>> {
    match result {
        Ok(row) => Ok(Some(row)),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}
