//! The data behind each binding of a Klip: which data-source instance the viewer's property
//! values select (I13), and what the refresh service has cached for it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::{StreamExt, stream};
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use crate::app::resolving;
use crate::cached_data::RefreshClient;
use crate::domain::data_source::{Auth, Format};
use crate::domain::properties::PropertySources;
use crate::domain::render::{BindingState, BoundData};
use crate::domain::stored::{Account, Klip};
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

/// Resolves every binding of `klip` with `sources` at `now` in the account's time zone, as
/// ResolveDataSource does.
pub async fn plan(
    conn: &mut AsyncPgConnection,
    (account, now): (&Account, DateTime<Utc>),
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
        let Some(source) = data_sources::get(conn, account.id, id).await? else {
            plans.push(known(None, String::new(), BindingState::Dangling));
            continue;
        };
        let resolved = resolving::dates(&source, account, now, None)
            .and_then(|dates| source.definition.resolve(&values, &dates));
        plans.push(match resolved {
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
/// `concurrency` at a time, in the order the bindings first name them. Bindings reading the
/// same instance share one copy of its data. Once the instances read take more than
/// `max_bytes` (as received), the instance that went past and those after it are not used
/// (nor read): their bindings fail with the reason, the others still render.
pub async fn read(
    refresh: &RefreshClient,
    account: Uuid,
    plans: Vec<Plan>,
    concurrency: usize,
    max_bytes: usize,
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
    let mut reads = stream::iter(wanted)
        .map(|(id, key, format)| async move {
            let cached = refresh.cached_data(account, id, &key, format).await;
            ((id, key), cached)
        })
        .buffered(concurrency.max(1));
    let mut room = Room::new(max_bytes);
    let mut cache: HashMap<(Uuid, String), BindingState> = HashMap::new();
    while let Some((instance, cached)) = reads.next().await {
        let state = match cached? {
            None => BindingState::NoData,
            Some(cached) => match (room.take(cached.bytes), cached.data) {
                (Err(reason), _) | (Ok(()), Err(reason)) => BindingState::Unreadable {
                    reason,
                    fetched_at: cached.fetched_at,
                },
                (Ok(()), Ok(data)) => BindingState::Cached {
                    data: Arc::new(data),
                    fetched_at: cached.fetched_at.unwrap_or(DateTime::<Utc>::MIN_UTC),
                },
            },
        };
        cache.insert(instance, state);
        if room.is_full() {
            // The reads still running are dropped, and those not begun never start.
            break;
        }
    }
    drop(reads);
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
                    Some(state) => state.clone(),
                    None => BindingState::Unreadable {
                        reason: room.unread(),
                        fetched_at: None,
                    },
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

/// What is left of the cached data one render reads.
struct Room {
    max: usize,
    used: usize,
    full: bool,
}

impl Room {
    fn new(max: usize) -> Self {
        Room {
            max,
            used: 0,
            full: false,
        }
    }

    /// Counts `bytes` of one instance, or says why they do not fit (and the room is full).
    fn take(&mut self, bytes: usize) -> Result<(), String> {
        match self.used.checked_add(bytes) {
            Some(used) if used <= self.max && !self.full => {
                self.used = used;
                Ok(())
            }
            _ => {
                self.full = true;
                Err(format!(
                    "it takes {bytes} bytes, more than the {} left of the {} bytes of \
                     cached data one render reads",
                    self.max - self.used,
                    self.max
                ))
            }
        }
    }

    fn is_full(&self) -> bool {
        self.full
    }

    /// Why an instance not read for want of room is not used.
    fn unread(&self) -> String {
        format!(
            "the render's other bindings already read the {} bytes of cached data one \
             render reads",
            self.max
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Room;

    #[test]
    fn the_room_of_a_render_fills_and_stays_full() {
        let mut room = Room::new(100);
        assert_eq!(room.take(60), Ok(()));
        assert_eq!(room.take(40), Ok(()));
        assert!(!room.is_full());
        let reason = room.take(1).unwrap_err();
        assert_eq!(
            reason,
            "it takes 1 bytes, more than the 0 left of the 100 bytes of cached data one \
             render reads"
        );
        assert!(room.is_full());
        // Nothing more fits once full, however small.
        assert!(room.take(0).is_err());
        assert!(room.unread().contains("100 bytes"));
    }
}
