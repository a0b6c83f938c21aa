//! GetCachedData: the cached data of an instance, served only to an account whose data
//! source has an instance row for it, and only when it fits in an answer a client can
//! decode (an entry cached under looser limits is refused with a clear reason).

use trellis_platform::db::{DbPool, connect};
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::validate::{MAX_JSON_DEPTH, json_depth};
use uuid::Uuid;

use super::library_error;
use crate::domain::job::InstanceId;
use crate::fetch::wire_size::value_len;
use crate::peers::Peers;
use crate::settings::Settings;
use crate::store::rows::{CachedData, Instance};
use crate::store::{cache, instances};

/// A GetCachedData, checked.
pub struct Wanted<'a> {
    pub data_source_id: Uuid,
    pub account: Uuid,
    /// Empty: the instance `user_id`'s values resolve the data source to.
    pub instance_key: &'a str,
    pub user_id: &'a str,
}

/// The instance and its cached data.
pub async fn cached_data(
    pool: &DbPool,
    peers: &Peers,
    settings: &Settings,
    wanted: Wanted<'_>,
) -> ApiResult<(Instance, CachedData)> {
    let Wanted {
        data_source_id,
        account,
        instance_key,
        user_id,
    } = wanted;
    let instance_key = if instance_key.is_empty() {
        peers
            // Only services read the cache (the library renders for people): resolve
            // with this service's own identity.
            .resolve(data_source_id, account, user_id, None)
            .await
            .map_err(|status| library_error(status, data_source_id))?
            .instance_key
    } else {
        instance_key.to_owned()
    };
    let mut conn = connect(pool).await?;
    let id = InstanceId {
        data_source_id,
        instance_key,
    };
    let not_found = || ApiError::not_found("cached data of data-source instance", &id.instance_key);
    // The data is shared by instance key; the instance row proves this account's data
    // source is one that fetched it.
    let instance = match instances::get(&mut conn, &id).await? {
        Some(instance) if instance.account_id == account => instance,
        _ => return Err(not_found()),
    };
    let Some(data) = cache::get(&mut conn, &id.instance_key)
        .await?
        .filter(|_| instance.last_fetch_time.is_some())
    else {
        return Err(not_found());
    };
    let depth = json_depth(&data.data);
    let bytes = value_len(&data.data);
    if depth > MAX_JSON_DEPTH || bytes > settings.max_cached_bytes {
        return Err(ApiError::precondition(
            "CACHED_DATA_TOO_LARGE",
            format!("instances/{}", id.instance_key),
            format!(
                "the cached data nests {depth} levels and takes {bytes} bytes, past the limits of {MAX_JSON_DEPTH} levels and {} bytes; it was cached under looser limits, and a refresh that fits replaces it",
                settings.max_cached_bytes
            ),
        ));
    }
    Ok((instance, data))
}
