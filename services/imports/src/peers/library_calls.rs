//! Calls to the library service.

use std::collections::HashMap;

use tonic::Status;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use trellis_platform::pagination::collect_pages;

use super::{MAX_LISTED, PAGE, Peers, convert, found};
use crate::domain::asset::{AssetKind, AssetRef};

/// The most assets one BatchGetAssets call may name.
const BATCH_ASSETS: usize = 1000;

impl Peers {
    // --- library: accounts, closures, properties

    pub async fn account(&self, id: Uuid) -> Result<Option<library::Account>, Status> {
        let request = library::GetAccountRequest { id: id.to_string() };
        self.find_in_library(
            request,
            async |mut l, r| l.get_account(r).await,
            |a| a.account,
        )
        .await
    }

    /// Whether `user` is an admin of `account` (directly, or as an admin of its partner).
    pub async fn is_admin_of(&self, user: &str, account: Uuid) -> Result<bool, Status> {
        let request = library::CheckMembershipRequest {
            user_id: user.to_owned(),
            account_id: account.to_string(),
        };
        let answer = self
            .ask_library(request, async |mut l, r| l.check_membership(r).await)
            .await?;
        Ok(answer.role == library::MembershipRole::Admin as i32)
    }

    pub async fn closure(
        &self,
        account: Uuid,
        assets: Vec<library::AssetRef>,
    ) -> Result<library::GetDependencyClosureResponse, Status> {
        let request = library::GetDependencyClosureRequest {
            account_id: account.to_string(),
            assets,
        };
        self.ask_library(request, async |mut l, r| l.get_dependency_closure(r).await)
            .await
    }

    /// Resolves `names` in `account` for no user: company properties and variable defaults.
    pub async fn resolve_properties(
        &self,
        account: Uuid,
        names: Vec<String>,
    ) -> Result<library::ResolvePropertiesResponse, Status> {
        let request = library::ResolvePropertiesRequest {
            account_id: account.to_string(),
            user_id: String::new(),
            names,
        };
        self.ask_library(request, async |mut l, r| l.resolve_properties(r).await)
            .await
    }

    pub async fn variables(&self, account: Uuid) -> Result<Vec<library::Variable>, Status> {
        collect_pages(MAX_LISTED, |page_token| async move {
            let request = library::ListVariablesRequest {
                account_id: account.to_string(),
                page_size: PAGE,
                page_token,
            };
            let page = self
                .ask_library(request, async |mut l, r| l.list_variables(r).await)
                .await?;
            Ok((page.variables, page.next_page_token))
        })
        .await
    }

    // --- library: assets

    pub async fn klip(&self, account: Uuid, id: Uuid) -> Result<Option<library::Klip>, Status> {
        let request = library::GetKlipRequest {
            id: id.to_string(),
            account_id: account.to_string(),
        };
        self.find_in_library(request, async |mut l, r| l.get_klip(r).await, |a| a.klip)
            .await
    }

    pub async fn data_source(
        &self,
        account: Uuid,
        id: Uuid,
    ) -> Result<Option<library::DataSource>, Status> {
        let request = library::GetDataSourceRequest {
            id: id.to_string(),
            account_id: account.to_string(),
        };
        let call = async |mut l: super::Library, r| l.get_data_source(r).await;
        self.find_in_library(request, call, |a| a.data_source).await
    }

    pub async fn dashboard(
        &self,
        account: Uuid,
        id: Uuid,
    ) -> Result<Option<library::Dashboard>, Status> {
        let request = library::GetDashboardRequest {
            id: id.to_string(),
            account_id: account.to_string(),
        };
        let call = async |mut l: super::Library, r| l.get_dashboard(r).await;
        self.find_in_library(request, call, |a| a.dashboard).await
    }

    /// An asset's current version; `None` when it does not exist.
    pub async fn version(&self, account: Uuid, asset: AssetRef) -> Result<Option<i64>, Status> {
        Ok(match asset.kind {
            AssetKind::Klip => self.klip(account, asset.id).await?.map(|k| k.version),
            AssetKind::DataSource => self
                .data_source(account, asset.id)
                .await?
                .map(|d| d.version),
            AssetKind::Dashboard => self.dashboard(account, asset.id).await?.map(|d| d.version),
        })
    }

    /// The current versions of many assets, each in the account it must belong to, in
    /// order: `None` for one that does not exist there. One library call per
    /// [`BATCH_ASSETS`] assets.
    pub async fn versions(&self, assets: &[(Uuid, AssetRef)]) -> Result<Vec<Option<i64>>, Status> {
        let mut versions = Vec::with_capacity(assets.len());
        for chunk in assets.chunks(BATCH_ASSETS) {
            let request = library::BatchGetAssetsRequest {
                assets: chunk
                    .iter()
                    .map(|(_, asset)| convert::library_ref(*asset))
                    .collect(),
            };
            let response = self
                .ask_library(request, async |mut l, r| l.batch_get_assets(r).await)
                .await?;
            let found: HashMap<AssetRef, (Uuid, i64)> = response
                .assets
                .into_iter()
                .filter_map(|found| {
                    let asset = convert::asset_ref(&found.asset?)?;
                    let account = Uuid::parse_str(&found.account_id).ok()?;
                    Some((asset, (account, found.version)))
                })
                .collect();
            versions.extend(chunk.iter().map(|(account, asset)| {
                found
                    .get(asset)
                    .filter(|(owner, _)| owner == account)
                    .map(|(_, version)| *version)
            }));
        }
        Ok(versions)
    }

    pub async fn clone_assets(
        &self,
        request: library::CloneAssetsRequest,
    ) -> Result<library::CloneAssetsResponse, Status> {
        self.ask_library(request, async |mut l, r| l.clone_assets(r).await)
            .await
    }

    /// Points an imported data source at its own credential copy (I5).
    pub async fn set_credential(
        &self,
        request_id: String,
        account: Uuid,
        data_source: Uuid,
        credential: Uuid,
    ) -> Result<library::DataSource, Status> {
        let request = library::UpdateDataSourceRequest {
            request_id,
            data_source: Some(library::DataSource {
                id: data_source.to_string(),
                account_id: account.to_string(),
                auth: Some(library::DataSourceAuth {
                    kind: library::AuthKind::Credential as i32,
                    method: Some(library::data_source_auth::Method::CredentialId(
                        credential.to_string(),
                    )),
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["auth".into()],
            }),
        };
        let answer = self
            .ask_library(request, async |mut l, r| l.update_data_source(r).await)
            .await?;
        Ok(answer.data_source.unwrap_or_default())
    }

    pub async fn apply_klips(
        &self,
        request: library::ApplyKlipDefinitionsRequest,
    ) -> Result<library::ApplyKlipDefinitionsResponse, Status> {
        self.ask_library(request, async |mut l, r| l.apply_klip_definitions(r).await)
            .await
    }

    pub async fn apply_data_sources(
        &self,
        request: library::ApplyDataSourceDefinitionsRequest,
    ) -> Result<library::ApplyDataSourceDefinitionsResponse, Status> {
        let call = async |mut l: super::Library, r| l.apply_data_source_definitions(r).await;
        self.ask_library(request, call).await
    }

    /// Deletes an asset; `Ok(false)` when it did not exist (deleted already). A data source
    /// that Klips bind is refused with FAILED_PRECONDITION unless `force`.
    pub async fn delete(
        &self,
        request_id: String,
        account: Uuid,
        asset: AssetRef,
        force: bool,
    ) -> Result<bool, Status> {
        let (account_id, id, etag) = (account.to_string(), asset.id.to_string(), String::new());
        let result = match asset.kind {
            AssetKind::Dashboard => {
                let request = library::DeleteDashboardRequest {
                    request_id,
                    id,
                    account_id,
                    etag,
                };
                let call = async |mut l: super::Library, r| l.delete_dashboard(r).await;
                self.ask_library(request, call).await.map(drop)
            }
            AssetKind::Klip => {
                let request = library::DeleteKlipRequest {
                    request_id,
                    id,
                    account_id,
                    etag,
                };
                let call = async |mut l: super::Library, r| l.delete_klip(r).await;
                self.ask_library(request, call).await.map(drop)
            }
            AssetKind::DataSource => {
                let request = library::DeleteDataSourceRequest {
                    request_id,
                    id,
                    account_id,
                    etag,
                    force,
                };
                let call = async |mut l: super::Library, r| l.delete_data_source(r).await;
                self.ask_library(request, call).await.map(drop)
            }
        };
        Ok(found(result)?.is_some())
    }

    /// True when a Klip of `account` binds the data source.
    pub async fn data_source_in_use(
        &self,
        account: Uuid,
        data_source: Uuid,
    ) -> Result<bool, Status> {
        Ok(!self
            .klips_binding_page(account, data_source, 1)
            .await?
            .is_empty())
    }

    /// The Klips of `account` that bind the data source (ids).
    pub async fn klips_binding(
        &self,
        account: Uuid,
        data_source: Uuid,
    ) -> Result<Vec<Uuid>, Status> {
        let klips = self.klips_binding_page(account, data_source, PAGE).await?;
        Ok(klips
            .iter()
            .filter_map(|k| Uuid::parse_str(&k.id).ok())
            .collect())
    }

    /// The first `page_size` Klips of `account` that bind the data source.
    async fn klips_binding_page(
        &self,
        account: Uuid,
        data_source: Uuid,
        page_size: i32,
    ) -> Result<Vec<library::Klip>, Status> {
        let request = library::ListKlipsRequest {
            account_id: account.to_string(),
            data_source_id: data_source.to_string(),
            page_size,
            page_token: String::new(),
        };
        let page = self
            .ask_library(request, async |mut l, r| l.list_klips(r).await)
            .await?;
        Ok(page.klips)
    }

    /// The dashboards of `account` that show the Klip (ids).
    pub async fn dashboards_showing(&self, account: Uuid, klip: Uuid) -> Result<Vec<Uuid>, Status> {
        let request = library::ListDashboardsRequest {
            account_id: account.to_string(),
            klip_id: klip.to_string(),
            page_size: PAGE,
            page_token: String::new(),
        };
        let page = self
            .ask_library(request, async |mut l, r| l.list_dashboards(r).await)
            .await?;
        Ok(page
            .dashboards
            .iter()
            .filter_map(|d| Uuid::parse_str(&d.id).ok())
            .collect())
    }
}
