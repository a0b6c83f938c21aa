//! GetCachedData: the cached data of an instance, served only to an account whose data
//! source has an instance row for it, and only when it fits in an answer a client can
//! decode. Fetches keep what they cache within `TRELLIS_REFRESH_MAX_CACHED_BYTES` and
//! `MAX_JSON_DEPTH`; an entry cached under looser limits is refused with a clear reason
//! rather than sent as an answer the caller cannot read.

use tonic::{Request, Response, Status};
use trellis_platform::auth::caller;
use trellis_platform::error::ApiError;
use trellis_platform::validate::{MAX_JSON_DEPTH, json_depth};
use trellis_proto::refresh::v1::*;

use super::{
    MAX_INSTANCE_KEY_CHARS, MAX_USER_CHARS, RefreshApi, account_of, check_text, convert,
    library_error, parse_id,
};
use crate::fetch::wire_size::value_len;
use crate::model::InstanceId;
use crate::settings::Settings;
use crate::store::{cache, instances};

/// What a GetCachedData answer holds besides the data (ids, hash, times), generously.
pub const ANSWER_OVERHEAD: u64 = 64 * 1024;
/// What gRPC clients decode by default (the library decodes more, `settings::LIBRARY_DECODE_LIMIT`).
const CLIENT_DECODE_LIMIT: u64 = 4 * 1024 * 1024;

/// The largest answer this service sends: a GetCachedData answer at the cached-data limit,
/// and never less than what clients decode by default.
pub fn max_answer_bytes(settings: &Settings) -> usize {
    let bytes = settings
        .max_cached_bytes
        .saturating_add(ANSWER_OVERHEAD)
        .max(CLIENT_DECODE_LIMIT);
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

impl RefreshApi {
    pub(super) async fn cached_data(
        &self,
        request: Request<GetCachedDataRequest>,
    ) -> Result<Response<GetCachedDataResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        check_text(&[
            (
                "instance_key",
                &request.instance_key,
                MAX_INSTANCE_KEY_CHARS,
            ),
            ("user_id", &request.user_id, MAX_USER_CHARS),
        ])?;
        let data_source_id = parse_id("data_source_id", &request.data_source_id)?;
        let account = account_of(&caller, &request.account_id)?;
        let instance_key = if request.instance_key.is_empty() {
            self.peers
                // Only services read the cache (the library renders for people): resolve
                // with this service's own identity.
                .resolve(data_source_id, account, &request.user_id, None)
                .await
                .map_err(|status| library_error(status, data_source_id))?
                .instance_key
        } else {
            request.instance_key.clone()
        };
        let mut conn = self.conn().await?;
        let id = InstanceId {
            data_source_id,
            instance_key,
        };
        // The data is shared by instance key; the instance row proves this account's data
        // source is one that fetched it.
        let instance = match instances::get(&mut conn, &id)
            .await
            .map_err(ApiError::from)?
        {
            Some(instance) if instance.account_id == account => instance,
            _ => {
                return Err(ApiError::not_found(
                    "cached data of data-source instance",
                    &id.instance_key,
                )
                .into());
            }
        };
        let Some(data) = cache::get(&mut conn, &id.instance_key)
            .await
            .map_err(ApiError::from)?
            .filter(|_| instance.last_fetch_time.is_some())
        else {
            return Err(ApiError::not_found(
                "cached data of data-source instance",
                &id.instance_key,
            )
            .into());
        };
        let depth = json_depth(&data.data);
        let bytes = value_len(&data.data);
        if depth > MAX_JSON_DEPTH || bytes > self.settings.max_cached_bytes {
            return Err(ApiError::precondition(
                "CACHED_DATA_TOO_LARGE",
                format!("instances/{}", id.instance_key),
                format!(
                    "the cached data nests {depth} levels and takes {bytes} bytes, past the limits of {MAX_JSON_DEPTH} levels and {} bytes; it was cached under looser limits, and a refresh that fits replaces it",
                    self.settings.max_cached_bytes
                ),
            )
            .into());
        }
        Ok(Response::new(GetCachedDataResponse {
            cached_data: Some(convert::cached_data(&instance, &data, chrono::Utc::now())),
        }))
    }
}
