//! Fetching a group of prepared jobs once, within the limits of their token and rate-limit
//! key (F5), and settling the outcome: success stores the data and moves the schedule on, a
//! 429 defers (honouring a clamped Retry-After; past `TRELLIS_REFRESH_MAX_DEFERRALS` in a
//! row it counts as a failure), a failure backs off (F8).

use chrono::Utc;

use super::WorkerContext;
use super::prepare::{Auth, Prepared, upstream_problem};
use super::settle::settle_problem;
use crate::fetch::{Credentials, FetchOutcome};
use crate::limits::specs_for;
use crate::model::{CachedData, Lease};
use crate::store::limits::{self as limit_store, Permit, acquire_or_defer};
use crate::store::outcomes::{self, Fetched};

pub(super) async fn fetch_group(
    context: &WorkerContext,
    ready: Vec<Prepared>,
) -> anyhow::Result<()> {
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

        #[cfg(feature = "fault-injection")]
        crate::faults::before_fetch(&leader.request.url);
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
                let until = crate::clock::after(Utc::now(), retry_after);
                tracing::info!(job = %holder.job_id, ?retry_after, "the API answered 429; refresh deferred");
                let max = context.settings.max_deferrals;
                let message = format!(
                    "HTTP 429 Too Many Requests after {max} deferrals in a row; the instance backs off"
                );
                outcomes::defer_or_fail(
                    &mut conn,
                    permit,
                    &leases,
                    until,
                    &hold_back_keys,
                    max,
                    &message,
                    &context.policy,
                )
                .await?;
                return Ok(());
            }
            FetchOutcome::RateLimitedUnreadable { retry_after } => {
                // The API's wish is unknown: the instance backs off as after any failure,
                // and the API's other requests wait the default deferral.
                let message = format!(
                    "HTTP 429 Too Many Requests with a Retry-After that is neither seconds nor a date (`{retry_after}`)"
                );
                tracing::info!(job = %holder.job_id, %message, "refresh failed");
                outcomes::fail(&mut conn, permit, &leases, &message, true, &context.policy).await?;
                let until = crate::clock::after(Utc::now(), context.settings.default_retry_after);
                limit_store::hold_back(&mut conn, &hold_back_keys, until).await?;
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
