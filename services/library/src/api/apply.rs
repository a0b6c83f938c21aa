//! ApplyKlipDefinitions (I9) and ApplyDataSourceDefinitions: a batch of master definitions
//! written over instances in one transaction, keeping ids, with an outcome per item.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::data_source_wire::Parts;
use super::klip_wire::{bindings, check_bindings, components};
use super::replay::{self, RequestKey};
use crate::domain::etag;
use crate::domain::klip::KlipDefinition;
use crate::store::variables::NewVariable;
use crate::store::{data_sources, klips, variables};

pub const MAX_UPDATES: usize = 1000;

fn check_batch(caller: &Caller, request_id: &str, updates: usize) -> ApiResult<()> {
    caller.require_service()?;
    if request_id.is_empty() {
        return Err(ApiError::invalid("request_id", "is required"));
    }
    if updates > MAX_UPDATES {
        return Err(ApiError::invalid(
            "updates",
            format!("at most {MAX_UPDATES} updates per call"),
        ));
    }
    Ok(())
}

/// Why an item is invalid, in one line.
fn describe(violations: Violations) -> Option<String> {
    match violations.into_result() {
        Ok(()) => None,
        Err(error) => Some(error.to_string()),
    }
}

fn ids(id: &str, account: &str) -> Result<(Uuid, Uuid), String> {
    match (Uuid::parse_str(id), Uuid::parse_str(account)) {
        (Ok(id), Ok(account)) => Ok((id, account)),
        _ => Err("the instance id and account_id must be UUIDs".into()),
    }
}

/// Creates the variables `names` that the account lacks, with the master's defaults
/// (empty where the master has none) (I4).
async fn create_variables(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    names: impl Iterator<Item = &String>,
    defaults: &HashMap<String, String>,
) -> ApiResult<Vec<String>> {
    let wanted: Vec<NewVariable<'_>> = names
        .map(|name| NewVariable {
            name,
            default_value: defaults.get(name).map_or("", String::as_str),
            description: "",
            allowed_values: &[],
        })
        .collect();
    Ok(variables::insert_missing(conn, account, &wanted).await?)
}

pub async fn apply_klips(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ApplyKlipDefinitionsRequest,
) -> ApiResult<pb::ApplyKlipDefinitionsResponse> {
    check_batch(caller, &request.request_id, request.updates.len())?;
    let key = RequestKey::new(caller, "ApplyKlipDefinitions", &request.request_id)?;
    let mark = |done: &mut pb::ApplyKlipDefinitionsResponse| done.replayed = true;
    replay::write_marking_replays(pool, &key, mark, async |conn| {
        let mut results = Vec::with_capacity(request.updates.len());
        for update in &request.updates {
            results.push(apply_klip(conn, update, &request.variable_defaults).await?);
        }
        Ok(pb::ApplyKlipDefinitionsResponse {
            results,
            replayed: false,
        })
    })
    .await
}

async fn apply_klip(
    conn: &mut AsyncPgConnection,
    update: &pb::KlipDefinitionUpdate,
    defaults: &HashMap<String, String>,
) -> ApiResult<pb::KlipDefinitionResult> {
    let mut result = pb::KlipDefinitionResult {
        klip_id: update.klip_id.clone(),
        ..Default::default()
    };
    let outcome = |result: &mut pb::KlipDefinitionResult, outcome: pb::ApplyOutcome, error| {
        result.outcome = outcome as i32;
        result.error = error;
    };
    let (id, account) = match ids(&update.klip_id, &update.account_id) {
        Ok(ids) => ids,
        Err(error) => {
            outcome(&mut result, pb::ApplyOutcome::Invalid, error);
            return Ok(result);
        }
    };
    let Some(current) = klips::get_for_update(conn, account, id).await? else {
        let error = format!("no Klip {id} in account {account}");
        outcome(&mut result, pb::ApplyOutcome::NotFound, error);
        return Ok(result);
    };
    result.version = current.version;
    result.etag = current.etag();
    if !etag::matches(&update.etag, &current.etag()) {
        let error = "the instance changed since it was read".into();
        outcome(&mut result, pb::ApplyOutcome::EtagMismatch, error);
        return Ok(result);
    }
    let mut violations = Violations::new();
    let definition = KlipDefinition {
        name: update.name.clone(),
        components: components(&update.components),
        bindings: bindings(&mut violations, "definition", &update.bindings),
    };
    let variables = definition.check(&mut violations, "definition");
    if violations.is_empty() {
        check_bindings(conn, &mut violations, account, "definition", &definition).await?;
    }
    if let Some(error) = describe(violations) {
        outcome(&mut result, pb::ApplyOutcome::Invalid, error);
        return Ok(result);
    }
    if definition == current.definition {
        outcome(&mut result, pb::ApplyOutcome::Unchanged, String::new());
    } else {
        let applied = klips::overwrite(conn, account, id, &definition, &variables).await?;
        result.version = applied.version;
        result.etag = applied.etag();
        outcome(&mut result, pb::ApplyOutcome::Applied, String::new());
    }
    result.variables_created = create_variables(conn, account, variables.iter(), defaults).await?;
    Ok(result)
}

pub async fn apply_data_sources(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ApplyDataSourceDefinitionsRequest,
) -> ApiResult<pb::ApplyDataSourceDefinitionsResponse> {
    check_batch(caller, &request.request_id, request.updates.len())?;
    let key = RequestKey::new(caller, "ApplyDataSourceDefinitions", &request.request_id)?;
    let mark = |done: &mut pb::ApplyDataSourceDefinitionsResponse| done.replayed = true;
    replay::write_marking_replays(pool, &key, mark, async |conn| {
        let mut results = Vec::with_capacity(request.updates.len());
        for update in &request.updates {
            results.push(apply_data_source(conn, update, &request.variable_defaults).await?);
        }
        Ok(pb::ApplyDataSourceDefinitionsResponse {
            results,
            replayed: false,
        })
    })
    .await
}

async fn apply_data_source(
    conn: &mut AsyncPgConnection,
    update: &pb::DataSourceDefinitionUpdate,
    defaults: &HashMap<String, String>,
) -> ApiResult<pb::DataSourceDefinitionResult> {
    let mut result = pb::DataSourceDefinitionResult {
        data_source_id: update.data_source_id.clone(),
        ..Default::default()
    };
    let outcome =
        |result: &mut pb::DataSourceDefinitionResult, outcome: pb::ApplyOutcome, error| {
            result.outcome = outcome as i32;
            result.error = error;
        };
    let (id, account) = match ids(&update.data_source_id, &update.account_id) {
        Ok(ids) => ids,
        Err(error) => {
            outcome(&mut result, pb::ApplyOutcome::Invalid, error);
            return Ok(result);
        }
    };
    let Some(current) = data_sources::get_for_update(conn, account, id).await? else {
        let error = format!("no data source {id} in account {account}");
        outcome(&mut result, pb::ApplyOutcome::NotFound, error);
        return Ok(result);
    };
    result.version = current.version;
    result.fingerprint = current.fingerprint.clone();
    result.etag = current.etag();
    if !etag::matches(&update.etag, &current.etag()) {
        let error = "the instance changed since it was read".into();
        outcome(&mut result, pb::ApplyOutcome::EtagMismatch, error);
        return Ok(result);
    }
    let mut violations = Violations::new();
    // The instance keeps its own auth: its credential copy (I5) or the master's token
    // through a grant (I6).
    let definition = Parts {
        name: &update.name,
        request: update.request.as_ref(),
        format: update.format,
        refresh_interval: update.refresh_interval.as_ref(),
        rate_limit_key: &update.rate_limit_key,
    }
    .definition(&mut violations, "definition", current.definition.auth);
    if let Some(error) = describe(violations) {
        outcome(&mut result, pb::ApplyOutcome::Invalid, error);
        return Ok(result);
    }
    if definition == current.definition {
        outcome(&mut result, pb::ApplyOutcome::Unchanged, String::new());
    } else {
        let applied = data_sources::overwrite(conn, account, id, &definition).await?;
        result.version = applied.version;
        result.fingerprint = applied.fingerprint.clone();
        result.etag = applied.etag();
        outcome(&mut result, pb::ApplyOutcome::Applied, String::new());
    }
    // Only the master's variables: a template property the master does not define as a
    // variable is expected to be a company property of the instance's account (I13).
    let properties = definition.template_properties();
    let names = properties
        .iter()
        .filter(|name| defaults.contains_key(*name));
    result.variables_created = create_variables(conn, account, names, defaults).await?;
    Ok(result)
}
