//! Cached data from the refresh service, which owns the data cache (DESIGN.md section 2).
//!
//! The library reads it with `GetCachedData` under a short-lived service token: a render is
//! the library's own work, whoever asked for it, and the library has already decided that
//! the viewer may see the Klip. Reading the cache never queues a refresh and is not activity
//! (F2, F6).
//!
//! The refresh service limits what it caches at fetch time (rows, nesting, bytes); the
//! client here accepts answers up to [`MAX_CACHED_DATA_BYTES`], more than refresh keeps by
//! default. Cached data the library still cannot use (too large, too deep, not decodable)
//! makes the bindings that read it fail with the reason, in their components alone, rather
//! than the whole render.

use chrono::{DateTime, Utc};
use prost_types::value::Kind;
use tonic::Code;
use tonic_types::StatusExt;
use trellis_formula::Data;
use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::error::ApiError;
use trellis_platform::validate::{MAX_JSON_DEPTH, json_depth};
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use uuid::Uuid;

use crate::api::convert::value_to_json;
use crate::domain::data_source::Format;

/// The largest GetCachedData answer the library reads: 16 MiB (docs/library.md "Limits").
/// The refresh service's `TRELLIS_REFRESH_MAX_CACHED_BYTES` must not be larger.
pub const MAX_CACHED_DATA_BYTES: usize = 16 * 1024 * 1024;

/// The most cached data one render reads over all its instances, counted as received
/// (docs/library.md "Limits"): as much as one GetCachedData answer.
pub const MAX_RENDER_CACHED_BYTES: usize = MAX_CACHED_DATA_BYTES;

/// One instance's cached data, read as its format.
#[derive(Debug, Clone)]
pub struct CachedData {
    /// `None` when the answer could not be read at all.
    pub fetched_at: Option<DateTime<Utc>>,
    /// The data, or why it cannot be used.
    pub data: Result<Data, String>,
    /// The encoded size of the data as received (0 when none was).
    pub bytes: usize,
}

impl CachedData {
    fn unusable(reason: String) -> Self {
        CachedData {
            fetched_at: None,
            data: Err(reason),
            bytes: 0,
        }
    }
}

pub struct RefreshClient {
    client: RefreshServiceClient<TracedChannel>,
    tokens: ServiceTokens,
}

impl RefreshClient {
    pub fn new(refresh_url: &str, tokens: ServiceTokens) -> anyhow::Result<Self> {
        Ok(Self {
            client: RefreshServiceClient::new(client::channel(refresh_url)?)
                .max_decoding_message_size(MAX_CACHED_DATA_BYTES),
            tokens,
        })
    }

    /// The cached data of one data-source instance; `None` when nothing was fetched yet.
    /// `format` is the data source's, used when the cache does not say.
    pub async fn cached_data(
        &self,
        account: Uuid,
        data_source: Uuid,
        instance_key: &str,
        format: Format,
    ) -> Result<Option<CachedData>, ApiError> {
        let request = refresh::GetCachedDataRequest {
            data_source_id: data_source.to_string(),
            account_id: account.to_string(),
            instance_key: instance_key.to_owned(),
            user_id: String::new(),
        };
        let answer = self
            .client
            .clone()
            .get_cached_data(authorized(
                request,
                &self.tokens.bearer(ServiceKind::Refresh),
            ))
            .await;
        let cached = match answer {
            Ok(response) => response.into_inner().cached_data.unwrap_or_default(),
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => {
                return match unusable(&status) {
                    Some(reason) => {
                        tracing::warn!(
                            %data_source, instance_key, message = status.message(),
                            "cached data cannot be used"
                        );
                        Ok(Some(CachedData::unusable(reason)))
                    }
                    None => Err(unavailable(status)),
                };
            }
        };
        let fetched_at = cached
            .fetch_time
            .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let format = match refresh::DataFormat::try_from(cached.format) {
            Ok(refresh::DataFormat::Json) => Format::Json,
            Ok(refresh::DataFormat::Csv) => Format::Csv,
            _ => format,
        };
        let value = cached.data.unwrap_or_default();
        let bytes = prost::Message::encoded_len(&value);
        Ok(Some(CachedData {
            fetched_at: Some(fetched_at),
            data: to_data(format, value),
            bytes,
        }))
    }
}

/// Why an answer is about the data rather than the service: larger than the client reads,
/// nested past what protobuf decodes, or an entry refresh itself no longer serves (cached
/// under looser limits: FAILED_PRECONDITION). Such data will not become readable by
/// retrying, so it is a reason for the bindings that read it, not UNAVAILABLE or INTERNAL.
fn unusable(status: &tonic::Status) -> Option<String> {
    match status.code() {
        Code::FailedPrecondition => Some(
            status
                .get_details_precondition_failure()
                .and_then(|failure| failure.violations.into_iter().next())
                .map_or_else(|| status.message().to_owned(), |v| v.description),
        ),
        // The client's own limit (tonic reports a too-large message as OUT_OF_RANGE).
        Code::OutOfRange => Some(format!(
            "it is larger than the {MAX_CACHED_DATA_BYTES} bytes the library reads"
        )),
        Code::ResourceExhausted if status.message().contains("size limit") => Some(format!(
            "it is larger than the {MAX_CACHED_DATA_BYTES} bytes the library reads"
        )),
        Code::Internal
            if status
                .message()
                .starts_with("failed to decode Protobuf message") =>
        {
            Some(format!(
                "it cannot be decoded (nested deeper than {MAX_JSON_DEPTH} levels?)"
            ))
        }
        _ => None,
    }
}

/// The refresh service failed us: the render cannot be made now. Its own words go to the
/// log (once: an internal error is logged where it becomes a status), not to the viewer.
fn unavailable(status: tonic::Status) -> ApiError {
    if trellis_platform::peer::is_transient(&status) {
        tracing::warn!(code = ?status.code(), message = status.message(), "GetCachedData failed");
        ApiError::Unavailable("the data cache cannot be read now; retry later".into())
    } else {
        ApiError::internal(anyhow::anyhow!(
            "GetCachedData failed: {:?}: {}",
            status.code(),
            status.message()
        ))
    }
}

/// The refresh service's parsed data as formula data: JSON as it is; CSV as a list of rows
/// of strings, the header row first.
pub fn to_data(format: Format, value: prost_types::Value) -> Result<Data, String> {
    match format {
        Format::Json => {
            let json = value_to_json(&value)?;
            let depth = json_depth(&json);
            if depth > MAX_JSON_DEPTH {
                return Err(format!(
                    "it nests {depth} levels deep, more than the {MAX_JSON_DEPTH} allowed"
                ));
            }
            Ok(Data::Json(json))
        }
        Format::Csv => {
            let rows = match value.kind {
                Some(Kind::ListValue(rows)) => rows.values,
                None | Some(Kind::NullValue(_)) => vec![],
                _ => return Err("CSV data is not a list of rows".into()),
            };
            let mut rows = rows.into_iter().enumerate().map(|(i, row)| match row.kind {
                Some(Kind::ListValue(cells)) => Ok(cells.values.into_iter().map(cell).collect()),
                _ => Err(format!("CSV row {} is not a list of cells", i + 1)),
            });
            let headers = rows.next().transpose()?.unwrap_or_default();
            let rows = rows.collect::<Result<Vec<Vec<String>>, String>>()?;
            Ok(Data::Csv { headers, rows })
        }
    }
}

/// A CSV cell's text (the refresh service sends strings; anything else is written out).
fn cell(value: prost_types::Value) -> String {
    match value.kind {
        Some(Kind::StringValue(text)) => text,
        None | Some(Kind::NullValue(_)) => String::new(),
        Some(Kind::BoolValue(b)) => b.to_string(),
        Some(Kind::NumberValue(n)) => n.to_string(),
        _ => value_to_json(&value)
            .map(|json| json.to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::StringValue(s.into())),
        }
    }

    fn list(values: Vec<prost_types::Value>) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::ListValue(prost_types::ListValue { values })),
        }
    }

    #[test]
    fn csv_rows_become_a_table_with_the_first_row_as_header() {
        let value = list(vec![
            list(vec![text("Region"), text("Amount")]),
            list(vec![text("EU"), text("12")]),
        ]);
        assert_eq!(
            to_data(Format::Csv, value).unwrap(),
            Data::Csv {
                headers: vec!["Region".into(), "Amount".into()],
                rows: vec![vec!["EU".into(), "12".into()]],
            }
        );
        assert!(to_data(Format::Csv, text("a,b")).is_err());
    }

    #[test]
    fn data_too_deep_or_too_large_is_a_reason_not_a_failure() {
        let mut deep = text("x");
        for _ in 0..MAX_JSON_DEPTH {
            deep = list(vec![deep]);
        }
        let reason = to_data(Format::Json, deep).unwrap_err();
        assert!(reason.contains("more than the 32 allowed"), "{reason}");

        let too_large = tonic::Status::out_of_range("decoded message length too large");
        assert!(unusable(&too_large).unwrap().contains("16777216 bytes"));
        let undecodable = tonic::Status::internal("failed to decode Protobuf message: recursion");
        assert!(unusable(&undecodable).is_some());
        assert_eq!(unusable(&tonic::Status::internal("internal error")), None);
        let stale = tonic::Status::with_error_details(
            Code::FailedPrecondition,
            "failed precondition",
            tonic_types::ErrorDetails::with_precondition_failure_violation(
                "CACHED_DATA_TOO_LARGE",
                "instances/k",
                "the cached data takes 9000000 bytes, past the limit",
            ),
        );
        assert_eq!(
            unusable(&stale).as_deref(),
            Some("the cached data takes 9000000 bytes, past the limit")
        );
        assert_eq!(unusable(&tonic::Status::unavailable("down")), None);
    }

    #[test]
    fn json_stays_json() {
        let value = list(vec![text("a")]);
        assert_eq!(
            to_data(Format::Json, value).unwrap(),
            Data::Json(json!(["a"]))
        );
    }
}
