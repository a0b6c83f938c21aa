//! Data sources: validation of the templated request, versions and fingerprints (I10),
//! the tokens and credentials they may name (I14, I15), resolution per account and user
//! (I13), "who uses this token" (T3), deletes.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod credentials;
mod resolution;
mod validation;
mod versions;

use std::collections::HashMap;

use common::registry::start_with_tokens;
use common::{
    Library, auth_credential, auth_token, failure, json_source, klip_of, mask, start,
    start_standard, violations, with,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;
use trellis_platform::auth::{Identity, Role};
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

fn create(source: pb::DataSource) -> pb::CreateDataSourceRequest {
    pb::CreateDataSourceRequest {
        request_id: String::new(),
        data_source: Some(source),
    }
}

fn update(source: pb::DataSource, paths: &[&str]) -> pb::UpdateDataSourceRequest {
    pb::UpdateDataSourceRequest {
        request_id: String::new(),
        data_source: Some(source),
        update_mask: mask(paths),
    }
}

/// UpdateDataSource of `change` (its id and the fields `paths` name) with `token`.
async fn update_source(
    library: &Library,
    token: &str,
    change: pb::DataSource,
    paths: &[&str],
) -> Result<pb::DataSource, Status> {
    let response = library
        .client()
        .update_data_source(with(token, update(change, paths)))
        .await?;
    Ok(response.into_inner().data_source.expect("a data source"))
}

/// What an import does first (CloneAssets): copies the data source `id` of `source` into
/// `destination`, naming what the master names. Returns the instance's id.
async fn import(library: &common::Library, source: Uuid, destination: Uuid, id: &str) -> String {
    library
        .client()
        .clone_assets(with(
            &tokens::service_as(Identity::Imports),
            pb::CloneAssetsRequest {
                request_id: format!("import-{destination}-{id}"),
                source_account_id: source.to_string(),
                destination_account_id: destination.to_string(),
                assets: vec![pb::AssetRef {
                    kind: pb::AssetKind::DataSource as i32,
                    id: id.to_owned(),
                }],
                reuse_ids: HashMap::new(),
            },
        ))
        .await
        .expect("CloneAssets")
        .into_inner()
        .mappings
        .into_iter()
        .find(|m| m.source_id == id)
        .expect("a mapping")
        .destination_id
}

/// The precondition types of a FAILED_PRECONDITION.
fn preconditions<R: std::fmt::Debug>(result: Result<R, Status>) -> Vec<String> {
    failure(result, Code::FailedPrecondition)
        .get_details_precondition_failure()
        .expect("FAILED_PRECONDITION carries a PreconditionFailure")
        .violations
        .into_iter()
        .map(|v| v.r#type)
        .collect()
}
