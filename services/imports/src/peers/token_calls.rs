//! Calls to the token service.

use tonic::Status;
use trellis_proto::tokens::v1 as tokens;
use uuid::Uuid;

use trellis_platform::pagination::collect_pages;

use super::{MAX_LISTED, PAGE, Peers, found};

impl Peers {
    // --- tokens

    pub async fn token(&self, account: Uuid, id: Uuid) -> Result<Option<tokens::Token>, Status> {
        let request = tokens::GetTokenRequest {
            id: id.to_string(),
            account_id: account.to_string(),
        };
        let answer = self
            .ask_tokens(request, async |mut t, r| t.get_token(r).await)
            .await;
        found(answer.map(|a| a.token.unwrap_or_default()))
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
        let request = tokens::CreateTokenGrantRequest {
            request_id,
            grant: Some(tokens::TokenGrant {
                token_id: token.to_string(),
                grantee_account_id: grantee.to_string(),
                data_source_id: data_source.to_string(),
                request_fingerprint: fingerprint.to_owned(),
                ..Default::default()
            }),
            source_account_id: source.to_string(),
        };
        let answer = self
            .ask_tokens(request, async |mut t, r| t.create_token_grant(r).await)
            .await?;
        Ok(answer.grant.unwrap_or_default())
    }

    /// Deletes a grant; NOT_FOUND counts as done.
    pub async fn revoke_grant(&self, request_id: String, id: Uuid) -> Result<(), Status> {
        let request = tokens::DeleteTokenGrantRequest {
            request_id,
            id: id.to_string(),
            etag: String::new(),
        };
        let answer = self
            .ask_tokens(request, async |mut t, r| t.delete_token_grant(r).await)
            .await;
        found(answer).map(drop)
    }

    pub async fn grants_to(&self, account: Uuid) -> Result<Vec<tokens::TokenGrant>, Status> {
        collect_pages(MAX_LISTED, |page_token| async move {
            let request = tokens::ListTokenGrantsRequest {
                token_id: String::new(),
                grantee_account_id: account.to_string(),
                page_size: PAGE,
                page_token,
            };
            let page = self
                .ask_tokens(request, async |mut t, r| t.list_token_grants(r).await)
                .await?;
            Ok((page.grants, page.next_page_token))
        })
        .await
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
        let request = tokens::CopyCredentialRequest {
            request_id,
            credential_id: credential.to_string(),
            destination_account_id: destination.to_string(),
            data_source_id: data_source.to_string(),
            source_account_id: source.to_string(),
            request_fingerprint: fingerprint.to_owned(),
        };
        let answer = self
            .ask_tokens(request, async |mut t, r| t.copy_credential(r).await)
            .await?;
        Ok(answer.credential.unwrap_or_default())
    }

    pub async fn credentials(&self, account: Uuid) -> Result<Vec<tokens::Credential>, Status> {
        collect_pages(MAX_LISTED, |page_token| async move {
            let request = tokens::ListCredentialsRequest {
                account_id: account.to_string(),
                page_size: PAGE,
                page_token,
            };
            let page = self
                .ask_tokens(request, async |mut t, r| t.list_credentials(r).await)
                .await?;
            Ok((page.credentials, page.next_page_token))
        })
        .await
    }

    /// Deletes a credential copy; NOT_FOUND counts as done.
    pub async fn delete_credential(
        &self,
        request_id: String,
        account: Uuid,
        id: Uuid,
    ) -> Result<(), Status> {
        let request = tokens::DeleteCredentialRequest {
            request_id,
            id: id.to_string(),
            account_id: account.to_string(),
            etag: String::new(),
        };
        let answer = self
            .ask_tokens(request, async |mut t, r| t.delete_credential(r).await)
            .await;
        found(answer).map(drop)
    }
}
