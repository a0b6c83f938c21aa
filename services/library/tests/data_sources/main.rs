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
