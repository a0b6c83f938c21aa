//! Calls to the library service.

use std::collections::HashMap;

use tonic::Status;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use super::{PAGE, Peers, found};
use crate::domain::asset::{AssetKind, AssetRef};

/// The most assets one BatchGetAssets call may name.
const BATCH_ASSETS: usize = 1000;

impl Peers {
    // --- library: accounts, closures, properties

    pub async fn account(&self, id: Uuid) -> Result<Option<library::Account>, Status> {
        found(
            self.library
                .clone()
                .get_account(self.library_call(library::GetAccountRequest { id: id.to_string() }))
                .await
                .map(|r| r.into_inner().account.unwrap_or_default()),
        )
    }

    /// Whether `user` is an admin of `account` (directly, or as an admin of its partner).
    pub async fn is_admin_of(&self, user: &str, account: Uuid) -> Result<bool, Status> {
        let answer = self
            .library
            .clone()
            .check_membership(self.library_call(library::CheckMembershipRequest {
                user_id: user.to_owned(),
                account_id: account.to_string(),
            }))
            .await?
            .into_inner();
        Ok(answer.role == library::MembershipRole::Admin as i32)
    }

    pub async fn closure(
        &self,
        account: Uuid,
        assets: Vec<library::AssetRef>,
    ) -> Result<library::GetDependencyClosureResponse, Status> {
        Ok(self
            .library
            .clone()
            .get_dependency_closure(self.library_call(library::GetDependencyClosureRequest {
                account_id: account.to_string(),
                assets,
            }))
            .await?
            .into_inner())
    }

    /// Resolves `names` in `account` for no user: company properties and variable defaults.
    pub async fn resolve_properties(
        &self,
        account: Uuid,
        names: Vec<String>,
    ) -> Result<library::ResolvePropertiesResponse, Status> {
        Ok(self
            .library
            .clone()
            .resolve_properties(self.library_call(library::ResolvePropertiesRequest {
                account_id: account.to_string(),
                user_id: String::new(),
                names,
            }))
            .await?
            .into_inner())
    }

    pub async fn variables(&self, account: Uuid) -> Result<Vec<library::Variable>, Status> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .library
                .clone()
                .list_variables(self.library_call(library::ListVariablesRequest {
                    account_id: account.to_string(),
                    page_size: PAGE,
                    page_token,
                }))
                .await?
                .into_inner();
            all.extend(page.variables);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    // --- library: assets

    pub async fn klip(&self, account: Uuid, id: Uuid) -> Result<Option<library::Klip>, Status> {
        found(
            self.library
                .clone()
                .get_klip(self.library_call(library::GetKlipRequest {
                    id: id.to_string(),
                    account_id: account.to_string(),
                }))
                .await
                .map(|r| r.into_inner().klip.unwrap_or_default()),
        )
    }

    pub async fn data_source(
        &self,
        account: Uuid,
        id: Uuid,
    ) -> Result<Option<library::DataSource>, Status> {
        found(
            self.library
                .clone()
                .get_data_source(self.library_call(library::GetDataSourceRequest {
                    id: id.to_string(),
                    account_id: account.to_string(),
                }))
                .await
                .map(|r| r.into_inner().data_source.unwrap_or_default()),
        )
    }

    pub async fn dashboard(
        &self,
        account: Uuid,
        id: Uuid,
    ) -> Result<Option<library::Dashboard>, Status> {
        found(
            self.library
                .clone()
                .get_dashboard(self.library_call(library::GetDashboardRequest {
                    id: id.to_string(),
                    account_id: account.to_string(),
                }))
                .await
                .map(|r| r.into_inner().dashboard.unwrap_or_default()),
        )
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
            let response = self
                .library
                .clone()
                .batch_get_assets(
                    self.library_call(library::BatchGetAssetsRequest {
                        assets: chunk
                            .iter()
                            .map(|(_, asset)| library::AssetRef {
                                kind: asset.kind.to_library() as i32,
                                id: asset.id.to_string(),
                            })
                            .collect(),
                    }),
                )
                .await?
                .into_inner();
            let found: HashMap<AssetRef, (Uuid, i64)> = response
                .assets
                .into_iter()
                .filter_map(|found| {
                    let asset = found.asset?;
                    let kind = AssetKind::from_library(asset.kind)?;
                    let id = Uuid::parse_str(&asset.id).ok()?;
                    let account = Uuid::parse_str(&found.account_id).ok()?;
                    Some((AssetRef::new(kind, id), (account, found.version)))
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
        Ok(self
            .library
            .clone()
            .clone_assets(self.library_call(request))
            .await?
            .into_inner())
    }

    /// Points an imported data source at its own credential copy (I5).
    pub async fn set_credential(
        &self,
        request_id: String,
        account: Uuid,
        data_source: Uuid,
        credential: Uuid,
    ) -> Result<library::DataSource, Status> {
        Ok(self
            .library
            .clone()
            .update_data_source(self.library_call(library::UpdateDataSourceRequest {
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
            }))
            .await?
            .into_inner()
            .data_source
            .unwrap_or_default())
    }

    pub async fn apply_klips(
        &self,
        request: library::ApplyKlipDefinitionsRequest,
    ) -> Result<library::ApplyKlipDefinitionsResponse, Status> {
        Ok(self
            .library
            .clone()
            .apply_klip_definitions(self.library_call(request))
            .await?
            .into_inner())
    }

    pub async fn apply_data_sources(
        &self,
        request: library::ApplyDataSourceDefinitionsRequest,
    ) -> Result<library::ApplyDataSourceDefinitionsResponse, Status> {
        Ok(self
            .library
            .clone()
            .apply_data_source_definitions(self.library_call(request))
            .await?
            .into_inner())
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
        let account_id = account.to_string();
        let id = asset.id.to_string();
        let mut library = self.library.clone();
        let result = match asset.kind {
            AssetKind::Dashboard => library
                .delete_dashboard(self.library_call(library::DeleteDashboardRequest {
                    request_id,
                    id,
                    account_id,
                    etag: String::new(),
                }))
                .await
                .map(drop),
            AssetKind::Klip => library
                .delete_klip(self.library_call(library::DeleteKlipRequest {
                    request_id,
                    id,
                    account_id,
                    etag: String::new(),
                }))
                .await
                .map(drop),
            AssetKind::DataSource => library
                .delete_data_source(self.library_call(library::DeleteDataSourceRequest {
                    request_id,
                    id,
                    account_id,
                    etag: String::new(),
                    force,
                }))
                .await
                .map(drop),
        };
        Ok(found(result)?.is_some())
    }

    /// True when a Klip of `account` binds the data source.
    pub async fn data_source_in_use(
        &self,
        account: Uuid,
        data_source: Uuid,
    ) -> Result<bool, Status> {
        let page = self
            .library
            .clone()
            .list_klips(self.library_call(library::ListKlipsRequest {
                account_id: account.to_string(),
                data_source_id: data_source.to_string(),
                page_size: 1,
                page_token: String::new(),
            }))
            .await?
            .into_inner();
        Ok(!page.klips.is_empty())
    }

    /// The Klips of `account` that bind the data source (ids).
    pub async fn klips_binding(
        &self,
        account: Uuid,
        data_source: Uuid,
    ) -> Result<Vec<Uuid>, Status> {
        let page = self
            .library
            .clone()
            .list_klips(self.library_call(library::ListKlipsRequest {
                account_id: account.to_string(),
                data_source_id: data_source.to_string(),
                page_size: PAGE,
                page_token: String::new(),
            }))
            .await?
            .into_inner();
        Ok(page
            .klips
            .iter()
            .filter_map(|k| Uuid::parse_str(&k.id).ok())
            .collect())
    }

    /// The dashboards of `account` that show the Klip (ids).
    pub async fn dashboards_showing(&self, account: Uuid, klip: Uuid) -> Result<Vec<Uuid>, Status> {
        let page = self
            .library
            .clone()
            .list_dashboards(self.library_call(library::ListDashboardsRequest {
                account_id: account.to_string(),
                klip_id: klip.to_string(),
                page_size: PAGE,
                page_token: String::new(),
            }))
            .await?
            .into_inner();
        Ok(page
            .dashboards
            .iter()
            .filter_map(|d| Uuid::parse_str(&d.id).ok())
            .collect())
    }
}
