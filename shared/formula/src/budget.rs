//! What one evaluation may spend: steps (CPU) and bytes of values (memory), and a flag its
//! caller may set to stop it early.
//!
//! A **step** is one syntax node evaluated, or one value an operation reads or writes (a
//! path step over 1,000 items is 1,000 steps; sorting `n` values is `n·log₂n`). The
//! **bytes** of a value are 16 for each scalar plus the length of its text (an object
//! counts as its JSON text); every value an operation builds is charged when it is built,
//! so the count is what the evaluation copied, and it never shrinks. Operations that could
//! build one huge text (`&`, `CONCAT`, `JOIN`) check that it fits before they build it.
//! Running out of either is an [`EvalError`] of kind [`ErrorKind::Steps`] or
//! [`ErrorKind::Bytes`], never a panic.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value as Json;

use crate::error::{ErrorKind, EvalError};

/// Steps one evaluation may take unless its [`Budget`] says otherwise.
pub const DEFAULT_MAX_STEPS: u64 = 20_000_000;

/// Bytes of values one evaluation may build unless its [`Budget`] says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// What each scalar costs beside its text.
pub(crate) const SCALAR_BYTES: usize = 16;

/// The cancellation flag is read once per this many steps.
const CANCEL_CHECK_STEPS: u64 = 1024;

/// The limits of one evaluation.
#[derive(Debug, Clone)]
pub struct Budget {
    pub max_steps: u64,
    pub max_bytes: u64,
    /// When set (from any thread), the evaluation stops within a few steps with an error of
    /// kind [`ErrorKind::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for Budget {
    /// [`DEFAULT_MAX_STEPS`] and [`DEFAULT_MAX_BYTES`], not cancellable.
    fn default() -> Self {
        Budget {
            max_steps: DEFAULT_MAX_STEPS,
            max_bytes: DEFAULT_MAX_BYTES,
            cancel: None,
        }
    }
}

/// What an evaluation spent, counted up to the point where it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub steps: u64,
    /// Bytes of the values built (see the module documentation).
    pub bytes: u64,
}

/// The running count of one evaluation against its budget.
pub(crate) struct Meter<'b> {
    budget: &'b Budget,
    steps: Cell<u64>,
    bytes: Cell<u64>,
}

impl<'b> Meter<'b> {
    pub(crate) fn new(budget: &'b Budget) -> Self {
        Meter {
            budget,
            steps: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    pub(crate) fn usage(&self) -> Usage {
        Usage {
            steps: self.steps.get(),
            bytes: self.bytes.get(),
        }
    }

    /// Fails when the caller has cancelled the evaluation.
    pub(crate) fn check_cancel(&self) -> Result<(), EvalError> {
        match &self.budget.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(EvalError::of_kind(
                ErrorKind::Cancelled,
                "the evaluation was cancelled",
            )),
            _ => Ok(()),
        }
    }

    /// Counts `n` steps.
    pub(crate) fn steps(&self, n: usize) -> Result<(), EvalError> {
        let before = self.steps.get();
        let after = before.saturating_add(n as u64);
        self.steps.set(after);
        if after > self.budget.max_steps {
            return Err(EvalError::of_kind(
                ErrorKind::Steps,
                format!(
                    "the formula takes more than {} steps (its step budget)",
                    self.budget.max_steps
                ),
            ));
        }
        if before / CANCEL_CHECK_STEPS != after / CANCEL_CHECK_STEPS {
            self.check_cancel()?;
        }
        Ok(())
    }

    /// Fails when `n` more bytes would not fit, without counting them: for a value about to
    /// be built, so that it is never built past the budget.
    pub(crate) fn fits(&self, n: usize, context: &str) -> Result<(), EvalError> {
        if self.bytes.get().saturating_add(n as u64) > self.budget.max_bytes {
            return Err(EvalError::of_kind(
                ErrorKind::Bytes,
                format!(
                    "{context}: the formula's values would take more than {} bytes \
                     (its byte budget)",
                    self.budget.max_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Counts `n` bytes of a value built (or about to be).
    pub(crate) fn bytes(&self, n: usize, context: &str) -> Result<(), EvalError> {
        self.fits(n, context)?;
        self.bytes.set(self.bytes.get() + n as u64);
        Ok(())
    }
}

/// The bytes of a JSON value: its text's length, roughly (no whitespace, numbers as 8),
/// counted without recursion.
pub(crate) fn json_bytes(json: &Json) -> usize {
    let mut total = 0usize;
    let mut pending = vec![json];
    while let Some(json) = pending.pop() {
        total = total.saturating_add(match json {
            Json::Null | Json::Bool(_) => 4,
            Json::Number(_) => 8,
            Json::String(text) => text.len() + 2,
            Json::Array(items) => {
                pending.extend(items);
                2 + items.len()
            }
            Json::Object(fields) => {
                pending.extend(fields.values());
                2 + fields.keys().map(|key| key.len() + 4).sum::<usize>()
            }
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max_steps: u64, max_bytes: u64) -> Budget {
        Budget {
            max_steps,
            max_bytes,
            cancel: None,
        }
    }

    #[test]
    fn steps_and_bytes_stop_past_the_budget() {
        let budget = budget(10, 100);
        let meter = Meter::new(&budget);
        assert!(meter.steps(10).is_ok());
        assert_eq!(meter.steps(1).unwrap_err().kind(), ErrorKind::Steps);
        assert!(meter.bytes(60, "x").is_ok());
        let error = meter.fits(41, "CONCAT").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Bytes);
        assert!(error.message().starts_with("CONCAT: "), "{error}");
        // A refused value is not counted.
        assert_eq!(meter.usage().bytes, 60);
        assert!(meter.bytes(40, "x").is_ok());
    }

    #[test]
    fn a_set_flag_stops_at_the_next_check() {
        let flag = Arc::new(AtomicBool::new(false));
        let budget = Budget {
            cancel: Some(flag.clone()),
            ..Budget::default()
        };
        let meter = Meter::new(&budget);
        assert!(meter.steps(CANCEL_CHECK_STEPS as usize).is_ok());
        flag.store(true, Ordering::Relaxed);
        let error = meter.steps(CANCEL_CHECK_STEPS as usize).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Cancelled);
    }

    #[test]
    fn json_bytes_follow_the_text() {
        let json = serde_json::json!({"name": "abc", "n": [1, 2]});
        let text = json.to_string().len();
        let counted = json_bytes(&json);
        assert!(
            counted >= text / 2 && counted <= text * 2,
            "{counted} vs {text}"
        );
    }
}
