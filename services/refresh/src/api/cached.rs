//! GetCachedData (the work is `crate::app::cached`), and the largest answer the service
//! sends. Fetches keep what they cache within `TRELLIS_REFRESH_MAX_CACHED_BYTES` and
//! `MAX_JSON_DEPTH`, so that every answer is one a client can decode.

use tonic::{Request, Response, Status};
use trellis_platform::request as fields;
use trellis_proto::refresh::v1::*;

use super::{MAX_INSTANCE_KEY_CHARS, MAX_USER_CHARS, RefreshApi, check_text, convert, open};
use crate::app::cached;
use crate::settings::Settings;

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
        let (caller, request) = open(request)?;
        check_text(&[
            (
                "instance_key",
                &request.instance_key,
                MAX_INSTANCE_KEY_CHARS,
            ),
            ("user_id", &request.user_id, MAX_USER_CHARS),
        ])?;
        let data_source_id = fields::id("data_source_id", &request.data_source_id)?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let wanted = cached::Wanted {
            data_source_id,
            account,
            instance_key: &request.instance_key,
            user_id: &request.user_id,
        };
        let (instance, data) =
            cached::cached_data(&self.pool, &self.peers, &self.settings, wanted).await?;
        Ok(Response::new(GetCachedDataResponse {
            cached_data: Some(convert::cached_data(&instance, &data, chrono::Utc::now())),
        }))
    }
}
