//! Processing one claimed group of jobs: the jobs share an instance key, so their resolved
//! requests and credentials are identical and one fetch serves them all.
//!
//! For each job: resolve its data source again for its account and user (I13; a deleted
//! data source or a request that now resolves differently retires the instance), and get
//! its credentials from the token registry. Then take a permit of the limits of the token
//! and the rate-limit key or defer (F5), fetch, and settle: success stores the data and
//! moves the schedule on, a 429 defers (honouring Retry-After), a failure backs off (F8).
//! A heartbeat renews the leases meanwhile; if they are lost, the work is abandoned.

use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use tokio::sync::oneshot;
use tonic::{Code, Status};
use trellis_platform::db::DbPool;
use trellis_proto::library::v1::data_source_auth::Method as AuthMethod;
use trellis_proto::library::v1::{self as library, ResolvedRequest};
use trellis_proto::tokens::v1::{ApiKeyPlacement, CredentialKind};

use super::WorkerContext;
use crate::fetch::{Credentials, FetchOutcome, HttpRequest};
use crate::limits::specs_for;
use crate::model::{
    CachedData, DataFormat, InstanceId, Lease, NewJob, RefreshJob, ResolvedInstance, Trigger,
    interval_ms,
};
use crate::store::limits::{Permit, acquire_or_defer};
use crate::store::outcomes::{self, Fetched};
use crate::store::{instances, jobs};

/// A job ready to fetch.
struct Prepared {
    job: RefreshJob,
    resolved: ResolvedRequest,
    request: HttpRequest,
    auth: Auth,
}

enum Auth {
    None,
    Credential(Credentials),
    Token {
        token_id: String,
        generation: i64,
        access_token: String,
    },
}

impl Auth {
    fn credentials(&self) -> Credentials {
        match self {
            Auth::None => Credentials::None,
            Auth::Credential(credentials) => credentials.clone(),
            Auth::Token { access_token, .. } => Credentials::Bearer(access_token.clone()),
        }
    }
}

/// Why a job cannot be fetched.
enum Problem {
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

pub async fn run_group(context: &WorkerContext, group: Vec<RefreshJob>) {
    let leases: Vec<Lease> = group.iter().map(RefreshJob::lease).collect();
    let (lost, on_lost) = oneshot::channel();
    let heartbeat = tokio::spawn(heartbeat(
        context.pool.clone(),
        leases,
        context.settings.lease,
        lost,
    ));
    tokio::select! {
        result = process(context, group) => {
            if let Err(error) = result {
                tracing::warn!(error = format!("{error:#}"), "refresh job processing failed; its lease will expire and it will be retried");
            }
        }
        _ = on_lost => {
            tracing::warn!("lost the lease of refresh jobs; abandoning them to their new worker");
        }
    }
    heartbeat.abort();
}

/// Renews the group's leases every third of the lease; reports when none is held any more.
async fn heartbeat(pool: DbPool, leases: Vec<Lease>, lease: Duration, lost: oneshot::Sender<()>) {
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        let renewed = match pool.get().await {
            Ok(mut conn) => jobs::renew_leases(&mut conn, &leases, lease).await,
            Err(error) => Err(error.into()),
        };
        match renewed {
            Ok(held) if held.is_empty() => {
                let _ = lost.send(());
                return;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "renewing refresh job leases failed"),
        }
    }
}

async fn process(context: &WorkerContext, group: Vec<RefreshJob>) -> anyhow::Result<()> {
    let prepared = join_all(group.iter().map(|job| prepare(context, job))).await;
    let mut ready = Vec::new();
    for (job, outcome) in group.into_iter().zip(prepared) {
        match outcome {
            Ok(prepared) => ready.push(prepared),
            Err(problem) => settle_problem(context, &job, problem).await?,
        }
    }
    if ready.is_empty() {
        return Ok(());
    }
    fetch_group(context, ready).await
}

async fn prepare(context: &WorkerContext, job: &RefreshJob) -> Result<Prepared, Problem> {
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
            Auth::Credential(credentials_of(&secret).map_err(Problem::Failure)?)
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
        auth,
    })
}

fn upstream_problem(what: &str, status: Status) -> Problem {
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Aborted
        | Code::ResourceExhausted
        | Code::Unknown => Problem::Transient(format!("{what}: {}", status.message())),
        _ => Problem::Failure(format!("{what}: {}", status.message())),
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

fn credentials_of(
    secret: &trellis_proto::tokens::v1::GetCredentialSecretResponse,
) -> Result<Credentials, String> {
    match secret.kind() {
        CredentialKind::Basic => Ok(Credentials::Basic {
            username: secret.username.clone(),
            password: secret.password.clone(),
        }),
        CredentialKind::ApiKey => match secret.api_key_placement() {
            ApiKeyPlacement::Header => Ok(Credentials::ApiKeyHeader {
                name: secret.api_key_name.clone(),
                key: secret.api_key.clone(),
            }),
            ApiKeyPlacement::QueryParameter => Ok(Credentials::ApiKeyQuery {
                name: secret.api_key_name.clone(),
                key: secret.api_key.clone(),
            }),
            ApiKeyPlacement::Unspecified => {
                Err("the API key credential says nowhere to put the key".into())
            }
        },
        CredentialKind::Unspecified => Err("the saved credential has no kind".into()),
    }
}

async fn settle_problem(
    context: &WorkerContext,
    job: &RefreshJob,
    problem: Problem,
) -> anyhow::Result<()> {
    let mut conn = context.pool.get().await?;
    let lease = [job.lease()];
    let instance = InstanceId {
        data_source_id: job.data_source_id,
        instance_key: job.instance_key.clone(),
    };
    match problem {
        Problem::Gone(message) => {
            tracing::info!(job = %job.id, data_source = %job.data_source_id, %message, "retiring a refresh instance");
            if !outcomes::fail(&mut conn, None, &lease, &message, false, &context.policy)
                .await?
                .is_empty()
            {
                instances::retire(&mut conn, &instance).await?;
            }
        }
        Problem::Superseded(resolved) => {
            let message = format!(
                "the data source now resolves to instance {}; this instance is retired",
                resolved.instance_key
            );
            if outcomes::fail(&mut conn, None, &lease, &message, false, &context.policy)
                .await?
                .is_empty()
            {
                return Ok(());
            }
            instances::retire(&mut conn, &instance).await?;
            let successor = ResolvedInstance {
                id: InstanceId {
                    data_source_id: job.data_source_id,
                    instance_key: resolved.instance_key.clone(),
                },
                account_id: job.account_id,
                resolve_user_id: job.resolve_user_id.clone(),
                url: resolved.url.clone(),
                data_source_version: resolved.data_source_version,
                refresh_interval_ms: interval_ms(resolved.refresh_interval.as_ref()),
            };
            instances::upsert_resolved(&mut conn, std::slice::from_ref(&successor)).await?;
            // It waited its turn already: the successor goes to the front.
            let trigger = Trigger::parse(&job.trigger).unwrap_or(Trigger::Schedule);
            let mut next =
                NewJob::new(&successor.id, job.account_id, &job.resolve_user_id, trigger)
                    .traced(job.trace_context.clone());
            next.front = true;
            jobs::enqueue(&mut conn, &[next]).await?;
        }
        Problem::Failure(message) => {
            outcomes::fail(&mut conn, None, &lease, &message, true, &context.policy).await?;
        }
        Problem::Transient(message) => {
            tracing::warn!(job = %job.id, %message, "refresh job postponed");
            let until = Utc::now() + chrono_duration(context.settings.default_retry_after);
            outcomes::defer(&mut conn, None, &lease, until, &[]).await?;
        }
    }
    Ok(())
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

async fn fetch_group(context: &WorkerContext, ready: Vec<Prepared>) -> anyhow::Result<()> {
    let leader = &ready[0];
    let holder = leader.job.lease();
    let leases: Vec<Lease> = ready.iter().map(|p| p.job.lease()).collect();
    let rate_limit_key = leader.resolved.rate_limit_key.clone();

    // The limits of the token and of the rate-limit key (F5), and the keys a 429 holds back.
    let (specs, hold_back_keys) = match &leader.auth {
        Auth::Token { token_id, .. } => {
            match context.peers.token_limits(token_id, &rate_limit_key).await {
                Ok(limits) => {
                    let mut keys = vec![format!("token:{token_id}")];
                    if !rate_limit_key.is_empty() {
                        keys.push(format!("key:{}:{rate_limit_key}", limits.provider_id));
                    }
                    (
                        specs_for(
                            token_id,
                            &rate_limit_key,
                            &limits,
                            context.settings.limit_margin,
                        ),
                        keys,
                    )
                }
                Err(status) => {
                    for prepared in &ready {
                        settle_problem(
                            context,
                            &prepared.job,
                            upstream_problem("reading the API limits", status.clone()),
                        )
                        .await?;
                    }
                    return Ok(());
                }
            }
        }
        _ => (Vec::new(), Vec::new()),
    };

    let mut credentials = leader.auth.credentials();
    let mut returning = leader.job.defer_until.is_some();
    let mut retried_with_new_token = false;
    loop {
        let permit = if specs.is_empty() {
            None
        } else {
            let mut conn = context.pool.get().await?;
            match acquire_or_defer(&mut conn, holder, &leases, &specs, returning).await? {
                Permit::Granted => Some(holder),
                Permit::Deferred { until } => {
                    tracing::debug!(job = %holder.job_id, %until, "refresh deferred by an API limit");
                    return Ok(());
                }
                Permit::LeaseLost => return Ok(()),
            }
        };

        let outcome = context.fetcher.fetch(&leader.request, &credentials).await;
        let mut conn = context.pool.get().await?;
        match outcome {
            FetchOutcome::Fetched(body) => {
                let data = CachedData {
                    instance_key: leader.job.instance_key.clone(),
                    format: body.format.as_str().to_owned(),
                    data: body.data,
                    content_hash: body.content_hash,
                    size_bytes: body.size_bytes,
                    fetch_time: Utc::now(),
                };
                let fetched: Vec<Fetched> = ready
                    .iter()
                    .map(|p| Fetched {
                        lease: p.job.lease(),
                        data_source_version: p.resolved.data_source_version,
                    })
                    .collect();
                let completed = outcomes::succeed(&mut conn, permit, &fetched, &data).await?;
                tracing::info!(
                    instance = %leader.job.instance_key,
                    jobs = completed.len(),
                    bytes = data.size_bytes,
                    "refreshed"
                );
                return Ok(());
            }
            FetchOutcome::RateLimited { retry_after } => {
                let until = Utc::now() + chrono_duration(retry_after);
                tracing::info!(job = %holder.job_id, ?retry_after, "the API answered 429; refresh deferred");
                outcomes::defer(&mut conn, permit, &leases, until, &hold_back_keys).await?;
                return Ok(());
            }
            FetchOutcome::Unauthorized => {
                let Auth::Token {
                    token_id,
                    generation,
                    ..
                } = &leader.auth
                else {
                    unreachable!("only bearer tokens are reported as unauthorized");
                };
                if retried_with_new_token {
                    let message =
                        "HTTP 401 Unauthorized: the API refused a freshly refreshed access token";
                    outcomes::fail(&mut conn, permit, &leases, message, true, &context.policy)
                        .await?;
                    return Ok(());
                }
                retried_with_new_token = true;
                if let Some(holder) = permit {
                    outcomes::release_permit(&mut conn, holder).await?;
                }
                // The token may have been rotated or revoked: ask for a newer one once.
                match context
                    .peers
                    .access_token(
                        token_id,
                        leader.job.account_id,
                        leader.job.data_source_id,
                        &leader.resolved.fingerprint,
                        *generation,
                    )
                    .await
                {
                    Ok(access) => {
                        credentials = Credentials::Bearer(access.access_token);
                        // It has a place in line already.
                        returning = true;
                    }
                    Err(status) => {
                        for prepared in &ready {
                            settle_problem(
                                context,
                                &prepared.job,
                                upstream_problem(
                                    "refreshing the rejected access token",
                                    status.clone(),
                                ),
                            )
                            .await?;
                        }
                        return Ok(());
                    }
                }
            }
            FetchOutcome::Failed(message) => {
                tracing::info!(job = %holder.job_id, %message, "refresh failed");
                outcomes::fail(&mut conn, permit, &leases, &message, true, &context.policy).await?;
                return Ok(());
            }
        }
    }
}
