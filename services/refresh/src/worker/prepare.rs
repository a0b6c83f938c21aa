//! Preparing a claimed job for its fetch: its data source resolved again for its account
//! and user (I13; a deleted data source or a request that now resolves differently retires
//! the instance), its pagination, and its credentials from the token registry (read into
//! the fetch's own values by `fetch::convert`).

use tonic::{Code, Status};
use trellis_platform::peer;
use trellis_proto::library::v1::data_source_auth::Method as AuthMethod;
use trellis_proto::library::v1::{self as library, ResolvedRequest};

use super::WorkerContext;
use crate::domain::job::DataFormat;
use crate::fetch::convert::{credentials_of, paging_of};
use crate::fetch::{Credentials, HttpRequest, OAuthToken, Paging};
use crate::store::rows::RefreshJob;

/// A job ready to fetch.
pub(super) struct Prepared {
    pub job: RefreshJob,
    pub resolved: ResolvedRequest,
    pub request: HttpRequest,
    /// How the request's pages are followed; `None`: one request.
    pub paging: Option<Paging>,
    pub auth: Auth,
    /// The saved credential's API limit and the key it is counted under (F5).
    pub credential_limit: Option<(String, trellis_proto::tokens::v1::ApiLimit)>,
}

pub(super) enum Auth {
    None,
    Credential(Credentials),
    Token {
        token_id: String,
        generation: i64,
        access_token: OAuthToken,
    },
}

impl Auth {
    pub(super) fn credentials(&self) -> Credentials {
        match self {
            Auth::None => Credentials::None,
            Auth::Credential(credentials) => credentials.clone(),
            Auth::Token { access_token, .. } => Credentials::Bearer(access_token.clone()),
        }
    }
}

/// Why a job cannot be fetched.
pub(super) enum Problem {
    /// Its data source is gone (or no longer readable): the instance is retired, and this
    /// is no failure of the data source.
    Gone(String),
    /// Its data source now resolves to another instance: this one is retired and the new
    /// one queued in its place.
    Superseded(ResolvedRequest),
    /// The data source's fault: counts as a failure (F8).
    Failure(String),
    /// A service Trellis depends on did not answer: retried soon, not a failure.
    Transient(String),
}

pub(super) async fn prepare(
    context: &WorkerContext,
    job: &RefreshJob,
) -> Result<Prepared, Problem> {
    let resolved = context
        .peers
        .resolve(
            job.data_source_id,
            job.account_id,
            &job.resolve_user_id,
            None,
        )
        .await
        .map_err(|status| match status.code() {
            Code::NotFound | Code::PermissionDenied => {
                Problem::Gone("the data source no longer exists or is no longer accessible".into())
            }
            _ => upstream_problem("resolving the data source", status),
        })?;
    if !resolved.unresolved_properties.is_empty() {
        return Err(Problem::Failure(format!(
            "unresolved properties: {} (set them as company properties or variables)",
            resolved.unresolved_properties.join(", ")
        )));
    }
    if resolved.instance_key != job.instance_key {
        return Err(Problem::Superseded(resolved));
    }
    let request = http_request(&resolved).map_err(Problem::Failure)?;
    let paging = paging_of(resolved.pagination.as_ref()).map_err(Problem::Failure)?;
    let mut credential_limit = None;
    let auth = match resolved.auth.as_ref().and_then(|auth| auth.method.as_ref()) {
        None | Some(AuthMethod::None(_)) => Auth::None,
        Some(AuthMethod::CredentialId(credential_id)) => {
            let secret = context
                .peers
                .credential_secret(
                    credential_id,
                    job.account_id,
                    job.data_source_id,
                    &resolved.fingerprint,
                )
                .await
                .map_err(|status| upstream_problem("getting the saved credential", status))?;
            credential_limit = secret
                .limit
                .clone()
                .map(|limit| (secret.limit_key.clone(), limit));
            Auth::Credential(credentials_of(credential_id, &secret).map_err(Problem::Failure)?)
        }
        Some(AuthMethod::TokenId(token_id)) => {
            let access = context
                .peers
                .access_token(
                    token_id,
                    job.account_id,
                    job.data_source_id,
                    &resolved.fingerprint,
                    0,
                )
                .await
                .map_err(|status| upstream_problem("getting an access token", status))?;
            Auth::Token {
                token_id: token_id.clone(),
                generation: access.generation,
                access_token: access.access_token,
            }
        }
    };
    Ok(Prepared {
        job: job.clone(),
        resolved,
        request,
        paging,
        auth,
        credential_limit,
    })
}

/// A failed call to a peer while preparing or fetching. A peer that is down, or a fault
/// inside Trellis (`peer::PeerFault::Ours`), is no fault of the data source: the job is
/// postponed, and only after `max_deferrals` in a row does it count as a failure (F8). What
/// the peer refused for the request's own sake is the data source's failure.
pub(super) fn upstream_problem(what: &str, status: Status) -> Problem {
    let message = format!("{what}: {}", status.message());
    if peer::is_retryable(&status) {
        Problem::Transient(message)
    } else {
        Problem::Failure(message)
    }
}

fn http_request(resolved: &ResolvedRequest) -> Result<HttpRequest, String> {
    use library::HttpMethod;
    let method = match resolved.method() {
        HttpMethod::Unspecified | HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
    };
    let format = match resolved.format() {
        library::DataFormat::Csv => DataFormat::Csv,
        library::DataFormat::Json | library::DataFormat::Unspecified => DataFormat::Json,
    };
    Ok(HttpRequest {
        method,
        url: resolved.url.clone(),
        headers: resolved
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect(),
        body: resolved.body.clone(),
        format,
    })
}
