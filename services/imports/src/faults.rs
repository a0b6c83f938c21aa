//! Faults only tests can cause (feature `fault-injection`, enabled by this crate's own
//! dev-dependency on itself, so never compiled into the service's binary): the process
//! aborts right after the import saga reaches a step, to prove that a restarted service
//! finishes the import and that a retry makes no second copy.

use std::sync::Mutex;

/// Where the process aborts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// The library answered CloneAssets; its answer is not recorded yet.
    Cloning,
    /// The clone's id mapping is recorded.
    Cloned,
    /// Token grants and credential copies are made and recorded.
    Granted,
    /// The links are recorded and the import succeeded; the caller has no answer yet.
    Linked,
}

impl FailPoint {
    /// The point named `name` (`cloning`, `cloned`, `granted`, `linked`).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Cloning, Self::Cloned, Self::Granted, Self::Linked]
            .into_iter()
            .find(|point| format!("{point:?}").eq_ignore_ascii_case(name))
    }
}

static ABORT_AFTER: Mutex<Option<FailPoint>> = Mutex::new(None);

/// Every import this process drives from now on aborts the process right after `point`.
pub fn abort_after(point: FailPoint) {
    tracing::warn!(
        ?point,
        "the process aborts mid-import (fault injected by a test)"
    );
    *ABORT_AFTER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(point);
}

/// Called by the saga after each step.
pub(crate) fn reached(point: FailPoint) {
    let armed = *ABORT_AFTER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if armed == Some(point) {
        tracing::error!(?point, "aborting the process (fault injected by a test)");
        std::process::abort();
    }
}
