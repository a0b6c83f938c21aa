//! Background loops (schedulers, workers, purgers, recovery) that stop cleanly.
//!
//! A service spawns each loop with [`Background::spawn`]; the loop watches
//! [`Background::token`] and, once it is cancelled, finishes the item in hand (or hands back
//! what it holds, such as a job's lease) and returns. The server drains them after it has
//! stopped taking calls on SIGTERM ([`crate::server::GrpcServer::serve`]), so a rolling
//! deploy leaves no job waiting out a lease and no half-done pass. A loop still running
//! when the drain's time is up is cut off, with a warning naming it.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The background loops of one server.
#[derive(Debug, Clone, Default)]
pub struct Background {
    token: CancellationToken,
    tasks: TaskTracker,
    running: Arc<Mutex<Vec<&'static str>>>,
}

impl Background {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancelled when the server stops; loops select on [`CancellationToken::cancelled`].
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// True once stopping has begun.
    pub fn is_stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Runs `task` until it returns; `name` says which loop a log line is about.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let running = self.running.clone();
        lock(&running).push(name);
        self.tasks.spawn(async move {
            task.await;
            let mut names = lock(&running);
            if let Some(at) = names.iter().position(|n| *n == name) {
                names.swap_remove(at);
            }
        });
    }

    /// Cancels every loop and waits up to `within` for all of them to return.
    pub async fn drain(&self, within: Duration) {
        self.token.cancel();
        self.tasks.close();
        if tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_err()
        {
            let left = lock(&self.running).clone();
            tracing::warn!(?left, ?within, "background loops cut off at stop");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn drain_cancels_loops_and_waits_for_their_last_step() {
        let background = Background::new();
        let finished = Arc::new(AtomicBool::new(false));
        let (started, ready) = tokio::sync::oneshot::channel();
        let token = background.token();
        let done = finished.clone();
        background.spawn("a loop", async move {
            let _ = started.send(());
            token.cancelled().await;
            // The item in hand is finished after the cancellation.
            tokio::task::yield_now().await;
            done.store(true, Ordering::SeqCst);
        });
        ready.await.unwrap();
        background.drain(Duration::from_secs(10)).await;
        assert!(finished.load(Ordering::SeqCst));
        assert!(background.is_stopping());
        assert!(lock(&background.running).is_empty());
    }

    #[tokio::test]
    async fn a_loop_that_ignores_the_stop_is_cut_off_after_the_drain_time() {
        let background = Background::new();
        background.spawn("stubborn", std::future::pending());
        background.drain(Duration::from_millis(10)).await;
        assert_eq!(*lock(&background.running), vec!["stubborn"]);
    }
}
