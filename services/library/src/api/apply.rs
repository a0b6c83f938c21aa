//! ApplyKlipDefinitions (I9) and ApplyDataSourceDefinitions: a batch of master definitions
//! written over instances in one transaction, keeping ids, with an outcome per item.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::etag;
use trellis_platform::replay::{self, RequestKey};
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::data_source_wire::Parts;
use super::klip_wire::{bindings, components};
use crate::app::klips::check_bindings;
use crate::domain::klip::KlipDefinition;
use crate::domain::stored::{DataSource, Klip, Stored};
use crate::store::owned::Owned;
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

/// Why an item is left as it is: its outcome and the message saying why.
type Skip = (pb::ApplyOutcome, String);

/// What an item's work comes to: how it was applied, or why it was skipped.
type Applied = ApiResult<Result<pb::ApplyOutcome, Skip>>;

/// The answer to one item of a batch.
trait ItemResult: Sized {
    type Update;
    /// The result naming the update's instance, before anything is known of it.
    fn naming(update: &Self::Update) -> Self;
    fn set(&mut self, outcome: pb::ApplyOutcome, error: String);
}

/// The answer to a batch.
trait BatchResponse: prost::Message + Default {
    type Item: ItemResult;
    fn of(results: Vec<Self::Item>) -> Self;
    fn mark_replayed(&mut self);
}

/// Applies `updates` one by one with `apply` in one transaction with the request id; each
/// item's outcome is written into its result.
async fn batch<B: BatchResponse>(
    pool: &DbPool,
    caller: &Caller,
    (method, request_id): (&'static str, &str),
    updates: &[<B::Item as ItemResult>::Update],
    defaults: &HashMap<String, String>,
    apply: impl AsyncFn(
        &mut AsyncPgConnection,
        &<B::Item as ItemResult>::Update,
        &HashMap<String, String>,
        &mut B::Item,
    ) -> Applied,
) -> ApiResult<B> {
    check_batch(caller, request_id, updates.len())?;
    let key = RequestKey::new(caller, method, request_id)?;
    replay::write_marking_replays(pool, &key, B::mark_replayed, async |conn| {
        let mut results = Vec::with_capacity(updates.len());
        for update in updates {
            let mut result = B::Item::naming(update);
            match apply(conn, update, defaults, &mut result).await? {
                Ok(outcome) => result.set(outcome, String::new()),
                Err((outcome, error)) => result.set(outcome, error),
            }
            results.push(result);
        }
        Ok(B::of(results))
    })
    .await
}

/// The instance `id` of `account` (both as sent), locked for the change.
async fn locked<T: Owned<Key = Uuid> + Stored>(
    conn: &mut AsyncPgConnection,
    id: &str,
    account: &str,
) -> ApiResult<Result<T, Skip>> {
    let (Ok(id), Ok(account)) = (Uuid::parse_str(id), Uuid::parse_str(account)) else {
        let error = "the instance id and account_id must be UUIDs".into();
        return Ok(Err((pb::ApplyOutcome::Invalid, error)));
    };
    Ok(match T::one(conn, account, &id, true).await? {
        Some(current) => Ok(current),
        None => {
            let error = format!("no {} {id} in account {account}", T::KIND);
            Err((pb::ApplyOutcome::NotFound, error))
        }
    })
}

/// Whether the caller read the instance at its current etag.
fn unchanged_since_read(sent: &str, current: &str) -> Result<(), Skip> {
    if etag::matches(sent, current) {
        return Ok(());
    }
    let error = "the instance changed since it was read".into();
    Err((pb::ApplyOutcome::EtagMismatch, error))
}

/// Whether an item's definition is valid.
fn valid(violations: Violations) -> Result<(), Skip> {
    match describe(violations) {
        None => Ok(()),
        Some(error) => Err((pb::ApplyOutcome::Invalid, error)),
    }
}

macro_rules! batch_types {
    ($response:ty, $result:ty, $update:ty, $id:ident) => {
        impl ItemResult for $result {
            type Update = $update;

            fn naming(update: &$update) -> Self {
                Self {
                    $id: update.$id.clone(),
                    ..Default::default()
                }
            }

            fn set(&mut self, outcome: pb::ApplyOutcome, error: String) {
                self.outcome = outcome as i32;
                self.error = error;
            }
        }

        impl BatchResponse for $response {
            type Item = $result;

            fn of(results: Vec<$result>) -> Self {
                Self {
                    results,
                    replayed: false,
                }
            }

            fn mark_replayed(&mut self) {
                self.replayed = true;
            }
        }
    };
}

batch_types!(
    pb::ApplyKlipDefinitionsResponse,
    pb::KlipDefinitionResult,
    pb::KlipDefinitionUpdate,
    klip_id
);
batch_types!(
    pb::ApplyDataSourceDefinitionsResponse,
    pb::DataSourceDefinitionResult,
    pb::DataSourceDefinitionUpdate,
    data_source_id
);

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
    let method = ("ApplyKlipDefinitions", request.request_id.as_str());
    let (updates, defaults) = (&request.updates, &request.variable_defaults);
    batch(pool, caller, method, updates, defaults, apply_klip).await
}

async fn apply_klip(
    conn: &mut AsyncPgConnection,
    update: &pb::KlipDefinitionUpdate,
    defaults: &HashMap<String, String>,
    result: &mut pb::KlipDefinitionResult,
) -> Applied {
    let current: Klip = match locked(conn, &update.klip_id, &update.account_id).await? {
        Ok(current) => current,
        Err(skip) => return Ok(Err(skip)),
    };
    let account = current.account_id;
    result.version = current.version;
    result.etag = current.etag();
    if let Err(skip) = unchanged_since_read(&update.etag, &result.etag) {
        return Ok(Err(skip));
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
    if let Err(skip) = valid(violations) {
        return Ok(Err(skip));
    }
    let outcome = if definition == current.definition {
        pb::ApplyOutcome::Unchanged
    } else {
        let applied = klips::overwrite(conn, account, current.id, &definition, &variables).await?;
        result.version = applied.version;
        result.etag = applied.etag();
        pb::ApplyOutcome::Applied
    };
    result.variables_created = create_variables(conn, account, variables.iter(), defaults).await?;
    Ok(Ok(outcome))
}

pub async fn apply_data_sources(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ApplyDataSourceDefinitionsRequest,
) -> ApiResult<pb::ApplyDataSourceDefinitionsResponse> {
    let method = ("ApplyDataSourceDefinitions", request.request_id.as_str());
    let (updates, defaults) = (&request.updates, &request.variable_defaults);
    batch(pool, caller, method, updates, defaults, apply_data_source).await
}

async fn apply_data_source(
    conn: &mut AsyncPgConnection,
    update: &pb::DataSourceDefinitionUpdate,
    defaults: &HashMap<String, String>,
    result: &mut pb::DataSourceDefinitionResult,
) -> Applied {
    let current: DataSource = match locked(conn, &update.data_source_id, &update.account_id).await?
    {
        Ok(current) => current,
        Err(skip) => return Ok(Err(skip)),
    };
    let account = current.account_id;
    result.version = current.version;
    result.fingerprint = current.fingerprint.clone();
    result.etag = current.etag();
    if let Err(skip) = unchanged_since_read(&update.etag, &result.etag) {
        return Ok(Err(skip));
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
        pagination: update.pagination.as_ref(),
        date_range: update.date_range.as_ref(),
        rate_limit_key_limit: update.rate_limit_key_limit.as_ref(),
    }
    .definition(&mut violations, "definition", current.definition.auth);
    if let Err(skip) = valid(violations) {
        return Ok(Err(skip));
    }
    let outcome = if definition == current.definition {
        pb::ApplyOutcome::Unchanged
    } else {
        let applied = data_sources::overwrite(conn, account, current.id, &definition).await?;
        result.version = applied.version;
        result.fingerprint = applied.fingerprint.clone();
        result.etag = applied.etag();
        pb::ApplyOutcome::Applied
    };
    // Only the master's variables: a template property the master does not define as a
    // variable is expected to be a company property of the instance's account (I13).
    let properties = definition.template_properties();
    let names = properties
        .iter()
        .filter(|name| defaults.contains_key(*name));
    result.variables_created = create_variables(conn, account, names, defaults).await?;
    Ok(Ok(outcome))
}
