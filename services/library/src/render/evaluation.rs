//! A render's evaluation. Formulas over megabytes of data are CPU work, so they run on a
//! blocking thread, off the async workers. Dropping the future that waits for a blocking
//! thread does not stop the thread, so the evaluation's budget carries a cancellation flag
//! that the waiting future sets when it is dropped: when the caller cancels, or its deadline
//! passes and the server gives up on the call. The evaluation then stops within a few
//! formula steps instead of burning CPU for nobody.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use trellis_formula::Budget;
use trellis_platform::error::{ApiError, ApiResult};

use crate::domain::render::{BoundData, Cancelled, Render, RenderBudget, render};
use crate::domain::stored::Klip;

/// What the renderer's evaluations have done, since the service started.
#[derive(Debug, Default)]
pub struct RenderCounters {
    running: AtomicU64,
    finished: AtomicU64,
    cancelled: AtomicU64,
    steps: AtomicU64,
    waiting: AtomicU64,
}

impl RenderCounters {
    /// Evaluations on a blocking thread now.
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::SeqCst)
    }

    /// Evaluations that ran to their end (each component rendered or failed).
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::SeqCst)
    }

    /// Evaluations stopped because their caller had gone.
    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Renders waiting for their turn to evaluate (`TRELLIS_RENDER_CONCURRENCY`).
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Formula steps evaluated, over every render.
    pub fn steps(&self) -> u64 {
        self.steps.load(Ordering::SeqCst)
    }
}

/// Sets the flag when dropped: with the future waiting for the evaluation.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Counts one render as waiting for its turn while it lives.
struct Waiting<'a>(&'a RenderCounters);

impl<'a> Waiting<'a> {
    fn start(counters: &'a RenderCounters) -> Self {
        counters.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(counters)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts one evaluation as running while it lives, even if the evaluation panics.
struct Running<'a>(&'a RenderCounters);

impl<'a> Running<'a> {
    fn start(counters: &'a RenderCounters) -> Self {
        counters.running.fetch_add(1, Ordering::SeqCst);
        Running(counters)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Evaluates `klip` over `bound` on a blocking thread within `budget` (each component) and
/// `total` (all of them), once `turns` has a permit for it; dropping the returned future
/// stops the evaluation, or the wait for a permit.
#[allow(clippy::too_many_arguments, reason = "the parts of one render")]
pub(super) async fn evaluate(
    klip: Klip,
    bound: Vec<BoundData>,
    variables: BTreeMap<String, String>,
    now: DateTime<Utc>,
    (mut budget, total): (Budget, RenderBudget),
    turns: Arc<Semaphore>,
    counters: Arc<RenderCounters>,
) -> ApiResult<Render> {
    let permit = {
        let _waiting = Waiting::start(&counters);
        turns
            .acquire_owned()
            .await
            .map_err(|closed| ApiError::internal(anyhow::anyhow!(closed)))?
    };
    let flag = Arc::new(AtomicBool::new(false));
    budget.cancel = Some(flag.clone());
    let _cancel = CancelOnDrop(flag);
    let evaluation = tokio::task::spawn_blocking(move || {
        // The turn is held until the evaluation ends, even when nobody waits for it.
        let _permit = permit;
        let _running = Running::start(&counters);
        let rendering = render(&klip, bound, variables, now, &budget, total);
        counters.steps.fetch_add(rendering.steps, Ordering::SeqCst);
        let ended = match rendering.outcome {
            Ok(_) => &counters.finished,
            Err(Cancelled) => &counters.cancelled,
        };
        ended.fetch_add(1, Ordering::SeqCst);
        rendering.outcome
    });
    match evaluation.await {
        Ok(Ok(render)) => Ok(render),
        // Only a dropped future sets the flag, so nobody is waiting for this answer.
        Ok(Err(Cancelled)) => Err(ApiError::Aborted("the render was cancelled".into())),
        Err(panicked) => Err(ApiError::internal(panicked)),
    }
}
