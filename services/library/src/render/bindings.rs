//! The data behind each binding of a Klip: which data-source instance the viewer's property
//! values select (I13), and what the refresh service has cached for it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::{StreamExt, stream};
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use crate::cached_data::RefreshClient;
use crate::domain::data_source::{Auth, Format};
use crate::domain::properties::PropertySources;
use crate::domain::render::{BindingState, BoundData};
use crate::domain::stored::Klip;
use crate::store::data_sources;
use crate::token_registry::{Holding, TokenRegistry};

/// A binding once resolved: either known already, or an instance whose cache to read.
pub enum Plan {
    Known(BoundData),
    Read {
        data_source_id: Uuid,
        instance_key: String,
        format: Format,
        auth: Auth,
        fingerprint: String,
    },
}

/// Resolves every binding of `klip` with `sources`, as ResolveDataSource does.
pub async fn plan(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    klip: &Klip,
    sources: &PropertySources,
) -> ApiResult<Vec<Plan>> {
    let values = sources.values();
    let mut plans = Vec::with_capacity(klip.definition.bindings.len());
    for binding in &klip.definition.bindings {
        let known = |data_source_id, instance_key, state| {
            Plan::Known(BoundData {
                data_source_id,
                instance_key,
                state,
            })
        };
        let Some(id) = *binding else {
            plans.push(known(None, String::new(), BindingState::Dangling));
            continue;
        };
        let Some(source) = data_sources::get(conn, account, id).await? else {
            plans.push(known(None, String::new(), BindingState::Dangling));
            continue;
        };
        plans.push(match source.definition.resolve(&values) {
            Err(error) => known(
                Some(id),
                String::new(),
                BindingState::Unresolvable(reason(&error)),
            ),
            Ok(resolved) if !resolved.unresolved.is_empty() => known(
                Some(id),
                String::new(),
                BindingState::Unresolved(resolved.unresolved),
            ),
            Ok(resolved) => Plan::Read {
                data_source_id: id,
                instance_key: resolved.instance_key,
                format: source.definition.format,
                auth: source.definition.auth,
                fingerprint: source.fingerprint.clone(),
            },
        });
    }
    Ok(plans)
}

fn reason(error: &ApiError) -> String {
    match error {
        ApiError::FailedPrecondition(violations) => violations
            .iter()
            .map(|v| format!("{}: {}", v.subject, v.description))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Drops the reads of data sources whose token or credential the account no longer holds:
/// cached data is shared by instance key, so an instance whose grant or credential copy was
/// revoked would otherwise go on seeing what its master fetches (I6, I14).
pub async fn without_revoked(
    registry: &TokenRegistry,
    account: Uuid,
    plans: Vec<Plan>,
) -> ApiResult<Vec<Plan>> {
    let mut checked: HashMap<(Uuid, Auth), Holding> = HashMap::new();
    let mut kept = Vec::with_capacity(plans.len());
    for plan in plans {
        let Plan::Read {
            data_source_id,
            auth,
            fingerprint,
            ..
        } = &plan
        else {
            kept.push(plan);
            continue;
        };
        let (id, auth, fingerprint) = (*data_source_id, *auth, fingerprint.clone());
        let holding = match checked.get(&(id, auth)) {
            Some(holding) => *holding,
            None => {
                let holding = registry
                    .holding(account, Some(id), auth, &fingerprint)
                    .await?;
                checked.insert((id, auth), holding);
                holding
            }
        };
        kept.push(match holding {
            Holding::Refused | Holding::BorrowedForAnotherQuery => Plan::Known(BoundData {
                data_source_id: Some(id),
                instance_key: String::new(),
                state: BindingState::Unresolvable(
                    "its token or credential is no longer granted to this data source".into(),
                ),
            }),
            Holding::Own | Holding::Borrowed => plan,
        });
    }
    Ok(kept)
}

/// Reads the cached data of every planned instance, each distinct one once and up to
/// `concurrency` at a time.
pub async fn read(
    refresh: &RefreshClient,
    account: Uuid,
    plans: Vec<Plan>,
    concurrency: usize,
) -> ApiResult<Vec<BoundData>> {
    let mut wanted: Vec<(Uuid, String, Format)> = Vec::new();
    for plan in &plans {
        if let Plan::Read {
            data_source_id,
            instance_key,
            format,
            ..
        } = plan
            && !wanted
                .iter()
                .any(|(id, key, _)| id == data_source_id && key == instance_key)
        {
            wanted.push((*data_source_id, instance_key.clone(), *format));
        }
    }
    let read: Vec<_> = stream::iter(wanted)
        .map(|(id, key, format)| async move {
            let cached = refresh.cached_data(account, id, &key, format).await;
            ((id, key), cached)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut cache = HashMap::new();
    for (instance, cached) in read {
        cache.insert(instance, cached?);
    }
    Ok(plans
        .into_iter()
        .map(|plan| match plan {
            Plan::Known(bound) => bound,
            Plan::Read {
                data_source_id,
                instance_key,
                ..
            } => {
                let state = match cache.get(&(data_source_id, instance_key.clone())) {
                    Some(Some(cached)) => match &cached.data {
                        Ok(data) => BindingState::Cached {
                            data: data.clone(),
                            fetched_at: cached.fetched_at.unwrap_or(DateTime::<Utc>::MIN_UTC),
                        },
                        Err(reason) => BindingState::Unreadable {
                            reason: reason.clone(),
                            fetched_at: cached.fetched_at,
                        },
                    },
                    _ => BindingState::NoData,
                };
                BoundData {
                    data_source_id: Some(data_source_id),
                    instance_key,
                    state,
                }
            }
        })
        .collect())
}
