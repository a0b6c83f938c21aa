//! Calls to the token service.

use tonic::Status;
use trellis_proto::tokens::v1 as tokens;
use uuid::Uuid;

use super::{PAGE, Peers, found};

impl Peers {
    // --- tokens

    pub async fn token(&self, account: Uuid, id: Uuid) -> Result<Option<tokens::Token>, Status> {
        found(
            self.tokens
                .clone()
                .get_token(self.tokens_call(tokens::GetTokenRequest {
                    id: id.to_string(),
                    account_id: account.to_string(),
                }))
                .await
                .map(|r| r.into_inner().token.unwrap_or_default()),
        )
    }

    /// Lets one imported data source refresh with the master's token (I6).
    pub async fn grant(
        &self,
        request_id: String,
        token: Uuid,
        source: Uuid,
        grantee: Uuid,
        data_source: Uuid,
        fingerprint: &str,
    ) -> Result<tokens::TokenGrant, Status> {
        Ok(self
            .tokens
            .clone()
            .create_token_grant(self.tokens_call(tokens::CreateTokenGrantRequest {
                request_id,
                grant: Some(tokens::TokenGrant {
                    token_id: token.to_string(),
                    grantee_account_id: grantee.to_string(),
                    data_source_id: data_source.to_string(),
                    request_fingerprint: fingerprint.to_owned(),
                    ..Default::default()
                }),
                source_account_id: source.to_string(),
            }))
            .await?
            .into_inner()
            .grant
            .unwrap_or_default())
    }

    /// Deletes a grant; NOT_FOUND counts as done.
    pub async fn revoke_grant(&self, request_id: String, id: Uuid) -> Result<(), Status> {
        found(
            self.tokens
                .clone()
                .delete_token_grant(self.tokens_call(tokens::DeleteTokenGrantRequest {
                    request_id,
                    id: id.to_string(),
                    etag: String::new(),
                }))
                .await,
        )
        .map(drop)
    }

    pub async fn grants_to(&self, account: Uuid) -> Result<Vec<tokens::TokenGrant>, Status> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .tokens
                .clone()
                .list_token_grants(self.tokens_call(tokens::ListTokenGrantsRequest {
                    token_id: String::new(),
                    grantee_account_id: account.to_string(),
                    page_size: PAGE,
                    page_token,
                }))
                .await?
                .into_inner();
            all.extend(page.grants);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// Copies a credential into `destination`, scoped to one imported data source (I5).
    pub async fn copy_credential(
        &self,
        request_id: String,
        credential: Uuid,
        source: Uuid,
        destination: Uuid,
        data_source: Uuid,
        fingerprint: &str,
    ) -> Result<tokens::Credential, Status> {
        Ok(self
            .tokens
            .clone()
            .copy_credential(self.tokens_call(tokens::CopyCredentialRequest {
                request_id,
                credential_id: credential.to_string(),
                destination_account_id: destination.to_string(),
                data_source_id: data_source.to_string(),
                source_account_id: source.to_string(),
                request_fingerprint: fingerprint.to_owned(),
            }))
            .await?
            .into_inner()
            .credential
            .unwrap_or_default())
    }

    pub async fn credentials(&self, account: Uuid) -> Result<Vec<tokens::Credential>, Status> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .tokens
                .clone()
                .list_credentials(self.tokens_call(tokens::ListCredentialsRequest {
                    account_id: account.to_string(),
                    page_size: PAGE,
                    page_token,
                }))
                .await?
                .into_inner();
            all.extend(page.credentials);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// Deletes a credential copy; NOT_FOUND counts as done.
    pub async fn delete_credential(
        &self,
        request_id: String,
        account: Uuid,
        id: Uuid,
    ) -> Result<(), Status> {
        found(
            self.tokens
                .clone()
                .delete_credential(self.tokens_call(tokens::DeleteCredentialRequest {
                    request_id,
                    id: id.to_string(),
                    account_id: account.to_string(),
                    etag: String::new(),
                }))
                .await,
        )
        .map(drop)
    }
}
