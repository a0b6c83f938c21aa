//! Requests read into typed values, once: asset references and lists of ids. Each parser
//! answers every violation it finds, and [`both`] / [`all`] join the violations of several
//! fields, so a caller hears about every bad field at once.

use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::request;
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use super::convert;
use crate::domain::asset::AssetRef;

/// Both values, or the violations of each that failed (other errors as they are).
pub fn both<A, B>(a: ApiResult<A>, b: ApiResult<B>) -> ApiResult<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(ApiError::InvalidArgument(mut first)), Err(ApiError::InvalidArgument(second))) => {
            first.extend(second);
            Err(ApiError::InvalidArgument(first))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

/// Every value, or the violations of all that failed.
pub fn all<T>(results: impl IntoIterator<Item = ApiResult<T>>) -> ApiResult<Vec<T>> {
    // Not `try_fold`: a failure must not hide the failures after it.
    let mut done = Ok(Vec::new());
    for next in results {
        done = both(done, next).map(|(mut done, next)| {
            done.push(next);
            done
        });
    }
    done
}

/// A required asset reference: a known kind and a UUID.
pub fn asset_ref(field: &str, asset: Option<&pb::AssetRef>) -> ApiResult<AssetRef> {
    let asset = request::required(field, asset)?;
    let kind = convert::asset_kind(asset.kind).ok_or_else(|| {
        ApiError::invalid(
            format!("{field}.kind"),
            "must be a dashboard, a Klip or a data source",
        )
    });
    let id = Uuid::parse_str(&asset.id).map_err(|_| {
        let problem = if asset.id.is_empty() {
            "required"
        } else {
            "must be a UUID"
        };
        ApiError::invalid(format!("{field}.id"), problem)
    });
    let (kind, id) = both(kind, id)?;
    Ok(AssetRef::new(kind, id))
}

/// A list of UUIDs, `field[i]` naming each that is not one.
pub fn ids(field: &str, texts: &[String]) -> ApiResult<Vec<Uuid>> {
    all(texts.iter().enumerate().map(|(i, text)| {
        Uuid::parse_str(text)
            .map_err(|_| ApiError::invalid(format!("{field}[{i}]"), "must be a UUID"))
    }))
}
