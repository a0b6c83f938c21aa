//! Fetching a group of prepared jobs once, within the limits of the fetch (F5: token,
//! rate-limit key, credential, host; see [`super::limits`]), and settling the outcome:
//! success stores the data, what the fetch took and moves the schedule on, a
//! 429 defers (honouring a clamped Retry-After; past `TRELLIS_REFRESH_MAX_DEFERRALS` in a
//! row it counts as a failure), a failure backs off (F8).

use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncPgConnection;

use super::WorkerContext;
use super::limits::{LimitGate, fetch_limits};
use super::prepare::{Auth, Prepared, upstream_problem};
use super::settle::settle_problem;
use crate::domain::job::Lease;
use crate::domain::limits::LimitSpec;
use crate::fetch::{Body, Credentials, FetchOutcome};
use crate::store::limits::{self as limit_store, Permit, acquire_or_defer};
use crate::store::outcomes::{self, Fetched};
use crate::store::rows::{CachedData, FetchFigures};

pub(super) async fn fetch_group(
    context: &WorkerContext,
    ready: Vec<Prepared>,
) -> anyhow::Result<()> {
    let Some(group) = Group::new(context, &ready).await? else {
        return Ok(());
    };
    let leader = group.leader;
    let mut credentials = leader.auth.credentials();
    let mut returning = leader.job.defer_until.is_some();
    let mut retried_with_new_token = false;
    // Pages after the first take the limits' next slots (F5).
    let gate = LimitGate::new(context, &group.specs);
    loop {
        let Go::Fetch(permit) = group.permit(returning).await? else {
            return Ok(());
        };
        #[cfg(feature = "fault-injection")]
        crate::faults::before_fetch(&leader.request.url);
        let outcome = context
            .fetcher
            .fetch_pages(&leader.request, leader.paging.as_ref(), &credentials, &gate)
            .await;
        let mut conn = context.pool.get().await?;
        match outcome {
            FetchOutcome::Fetched(body) => {
                return group.succeed(&mut conn, permit, body, gate.waited()).await;
            }
            FetchOutcome::RateLimited { retry_after } => {
                return group.defer(&mut conn, permit, retry_after).await;
            }
            FetchOutcome::RateLimitedUnreadable { retry_after } => {
                return group.unreadable(&mut conn, permit, &retry_after).await;
            }
            FetchOutcome::Unauthorized => {
                if retried_with_new_token {
                    let message =
                        "HTTP 401 Unauthorized: the API refused a freshly refreshed access token";
                    return group.fail(&mut conn, permit, message).await;
                }
                retried_with_new_token = true;
                if let Some(holder) = permit {
                    outcomes::release_permit(&mut conn, holder).await?;
                }
                drop(conn);
                let Some(newer) = group.newer_token().await? else {
                    return Ok(());
                };
                credentials = newer;
                // It has a place in line already.
                returning = true;
            }
            FetchOutcome::Failed(message) => return group.fail(&mut conn, permit, &message).await,
        }
    }
}

/// Whether the group fetches now, and under which permit (none when no limit applies).
enum Go {
    Fetch(Option<Lease>),
    /// Deferred by a limit, or the lease is lost: nothing more to do here.
    Stop,
}

/// Identical requests fetched once: the jobs, their leases, and the limits they fetch under.
struct Group<'a> {
    context: &'a WorkerContext,
    ready: &'a [Prepared],
    /// The job whose request is sent and whose lease holds the limits' permits.
    leader: &'a Prepared,
    holder: Lease,
    leases: Vec<Lease>,
    /// The limits of the fetch: token, rate-limit key, credential, host (F5).
    specs: Vec<LimitSpec>,
    /// The limit keys a 429 holds back.
    hold_back_keys: Vec<String>,
}

impl<'a> Group<'a> {
    /// The group with its limits, or `None` when the limits cannot be read (the jobs are
    /// settled then).
    async fn new(
        context: &'a WorkerContext,
        ready: &'a [Prepared],
    ) -> anyhow::Result<Option<Self>> {
        let leader = &ready[0];
        let limits = match fetch_limits(context, leader).await {
            Ok(limits) => limits,
            Err(status) => {
                settle_all(context, ready, "reading the API limits", status).await?;
                return Ok(None);
            }
        };
        Ok(Some(Self {
            context,
            ready,
            leader,
            holder: leader.job.lease(),
            leases: ready.iter().map(|p| p.job.lease()).collect(),
            specs: limits.specs,
            hold_back_keys: limits.hold_back_keys,
        }))
    }

    /// A permit of every limit, or a deferral until one is free (`returning`: the group
    /// has a place in line already).
    async fn permit(&self, returning: bool) -> anyhow::Result<Go> {
        if self.specs.is_empty() {
            return Ok(Go::Fetch(None));
        }
        let mut conn = self.context.pool.get().await?;
        let holder = self.holder;
        Ok(
            match acquire_or_defer(&mut conn, holder, &self.leases, &self.specs, returning).await? {
                Permit::Granted => Go::Fetch(Some(holder)),
                Permit::Deferred { until } => {
                    tracing::debug!(job = %holder.job_id, %until, "refresh deferred by an API limit");
                    Go::Stop
                }
                Permit::LeaseLost => Go::Stop,
            },
        )
    }

    async fn succeed(
        &self,
        conn: &mut AsyncPgConnection,
        permit: Option<Lease>,
        body: Body,
        page_wait: Duration,
    ) -> anyhow::Result<()> {
        let figures = FetchFigures {
            duration: body.duration,
            bytes: body.size_bytes,
            pages: i32::try_from(body.pages).unwrap_or(i32::MAX),
            limit_wait: page_wait,
        };
        let data = CachedData {
            instance_key: self.leader.job.instance_key.clone(),
            format: body.format,
            data: body.data,
            content_hash: body.content_hash,
            size_bytes: body.size_bytes,
            fetch_time: Utc::now(),
        };
        let fetched: Vec<Fetched> = self
            .ready
            .iter()
            .map(|p| Fetched {
                lease: p.job.lease(),
                data_source_version: p.resolved.data_source_version,
            })
            .collect();
        let completed = outcomes::succeed_measured(conn, permit, &fetched, &data, &figures).await?;
        tracing::info!(
            instance = %self.leader.job.instance_key,
            jobs = completed.len(),
            bytes = data.size_bytes,
            pages = figures.pages,
            duration = ?figures.duration,
            page_wait = ?figures.limit_wait,
            "refreshed"
        );
        Ok(())
    }

    /// HTTP 429 with a usable Retry-After: the jobs wait, and so do the API's other requests.
    async fn defer(
        &self,
        conn: &mut AsyncPgConnection,
        permit: Option<Lease>,
        retry_after: Duration,
    ) -> anyhow::Result<()> {
        let until = crate::domain::clock::after(Utc::now(), retry_after);
        tracing::info!(job = %self.holder.job_id, ?retry_after, "the API answered 429; refresh deferred");
        let max = self.context.settings.max_deferrals;
        let message = format!(
            "HTTP 429 Too Many Requests after {max} deferrals in a row; the instance backs off"
        );
        outcomes::defer_or_fail(
            conn,
            permit,
            &self.leases,
            until,
            &self.hold_back_keys,
            max,
            &message,
            &self.context.policy,
        )
        .await?;
        Ok(())
    }

    /// HTTP 429 with a Retry-After that means nothing: the API's wish is unknown, so the
    /// instance backs off as after any failure, and the API's other requests wait the default
    /// deferral.
    async fn unreadable(
        &self,
        conn: &mut AsyncPgConnection,
        permit: Option<Lease>,
        retry_after: &str,
    ) -> anyhow::Result<()> {
        let message = format!(
            "HTTP 429 Too Many Requests with a Retry-After that is neither seconds nor a date (`{retry_after}`)"
        );
        self.fail(conn, permit, &message).await?;
        let until =
            crate::domain::clock::after(Utc::now(), self.context.settings.default_retry_after);
        limit_store::hold_back(conn, &self.hold_back_keys, until).await?;
        Ok(())
    }

    async fn fail(
        &self,
        conn: &mut AsyncPgConnection,
        permit: Option<Lease>,
        message: &str,
    ) -> anyhow::Result<()> {
        tracing::info!(job = %self.holder.job_id, %message, "refresh failed");
        outcomes::fail(
            conn,
            permit,
            &self.leases,
            message,
            true,
            &self.context.policy,
        )
        .await?;
        Ok(())
    }

    /// After a 401 the token may have been rotated or revoked: a newer access token, asked
    /// for once, or `None` when the registry has none (the jobs are settled then).
    async fn newer_token(&self) -> anyhow::Result<Option<Credentials>> {
        let Auth::Token {
            token_id,
            generation,
            ..
        } = &self.leader.auth
        else {
            // Only bearer tokens are reported as unauthorized; anything else fails as sent.
            let conn = &mut self.context.pool.get().await?;
            self.fail(conn, None, "HTTP 401 Unauthorized").await?;
            return Ok(None);
        };
        let job = &self.leader.job;
        match self
            .context
            .peers
            .access_token(
                token_id,
                job.account_id,
                job.data_source_id,
                &self.leader.resolved.fingerprint,
                *generation,
            )
            .await
        {
            Ok(access) => Ok(Some(Credentials::Bearer(access.access_token))),
            Err(status) => {
                let what = "refreshing the rejected access token";
                settle_all(self.context, self.ready, what, status).await?;
                Ok(None)
            }
        }
    }
}

/// Settles every job of the group after another service failed `what`.
async fn settle_all(
    context: &WorkerContext,
    ready: &[Prepared],
    what: &str,
    status: tonic::Status,
) -> anyhow::Result<()> {
    for prepared in ready {
        settle_problem(
            context,
            &prepared.job,
            upstream_problem(what, status.clone()),
        )
        .await?;
    }
    Ok(())
}
