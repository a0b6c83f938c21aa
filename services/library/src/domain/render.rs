//! Rendering a Klip (DESIGN.md section 8): every component's formula evaluated over the
//! cached data of the Klip's bindings, resolved for the viewing account and user (I13). A
//! component that cannot be evaluated carries its own error; the others still render. Each
//! evaluation has the formula engine's budget; all of a render's values together have
//! [`MAX_RENDER_VALUE_BYTES`]; a render whose caller has gone stops.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trellis_formula::{Budget, Data, ErrorKind, EvalContext, Usage, evaluate_within, parse};
use uuid::Uuid;

use super::render_size::{MAX_RENDER_VALUE_BYTES, wire_bytes};
use super::stored::Klip;

/// What one binding (`@i`) offers a render.
#[derive(Debug, Clone)]
pub struct BoundData {
    /// The bound data source; `None` when a forced delete left the binding dangling.
    pub data_source_id: Option<Uuid>,
    /// The data-source instance the viewer's property values select (empty when none).
    pub instance_key: String,
    pub state: BindingState,
}

#[derive(Debug, Clone)]
pub enum BindingState {
    /// The data source was deleted with force.
    Dangling,
    /// `{props.NAME}` of the data source that resolve to nothing for this viewer, so no
    /// instance exists to have data.
    Unresolved(Vec<String>),
    /// A property value that cannot go into the request (why).
    Unresolvable(String),
    /// Nothing was fetched for the instance yet.
    NoData,
    /// Cached data that does not read as its format, or cannot be used at all (why). The
    /// fetch time is unknown when the data could not even be received.
    Unreadable {
        reason: String,
        fetched_at: Option<DateTime<Utc>>,
    },
    Cached {
        /// Shared by every binding reading the same instance.
        data: Arc<Data>,
        fetched_at: DateTime<Utc>,
    },
}

impl BindingState {
    fn fetched_at(&self) -> Option<DateTime<Utc>> {
        match self {
            BindingState::Cached { fetched_at, .. } => Some(*fetched_at),
            BindingState::Unreadable { fetched_at, .. } => *fetched_at,
            _ => None,
        }
    }

    /// Why a formula reading this binding cannot be evaluated, before the evaluator is
    /// asked. `NoData` is left to the evaluator, whose message is the documented one.
    fn problem(&self, index: usize) -> Option<String> {
        match self {
            BindingState::Dangling => Some(format!(
                "binding @{index} is not bound: its data source was deleted"
            )),
            BindingState::Unresolved(names) => Some(format!(
                "binding @{index}: the data source uses {} with no value in this account",
                names
                    .iter()
                    .map(|name| format!("{{props.{name}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            BindingState::Unresolvable(reason) => Some(format!("binding @{index}: {reason}")),
            BindingState::Unreadable { reason, .. } => Some(format!(
                "binding @{index}: the cached data cannot be read: {reason}"
            )),
            BindingState::NoData | BindingState::Cached { .. } => None,
        }
    }
}

/// A rendered Klip, as served and as kept in an embed's render cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Render {
    pub klip_id: Uuid,
    pub klip_version: i64,
    pub components: Vec<ComponentResult>,
    pub freshness: Vec<Freshness>,
    pub rendered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentResult {
    pub name: String,
    /// The formula's value as a JSON array; empty on error.
    pub values: Vec<serde_json::Value>,
    /// Empty on success.
    pub error: String,
}

/// How fresh the data behind one binding was when the Klip was rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    pub binding_index: usize,
    pub data_source_id: Option<Uuid>,
    pub instance_key: String,
    /// When the data used was fetched; `None` when there was none.
    pub fetched_at: Option<DateTime<Utc>>,
}

impl Freshness {
    /// The data's age at render time (never negative, whatever the clocks say).
    pub fn age(&self, rendered_at: DateTime<Utc>) -> Option<chrono::Duration> {
        self.fetched_at
            .map(|fetched| (rendered_at - fetched).max(chrono::Duration::zero()))
    }
}

/// The caller of a render went away while it was evaluating; nothing was rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// A render, or why there is none, and the formula steps it took.
#[derive(Debug)]
pub struct Rendering {
    pub outcome: Result<Render, Cancelled>,
    pub steps: u64,
}

/// What all the components of one render may spend together, beside each one's own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderBudget {
    pub max_steps: u64,
    pub max_bytes: u64,
}

impl RenderBudget {
    /// No limit beyond each component's budget.
    pub const UNLIMITED: RenderBudget = RenderBudget {
        max_steps: u64::MAX,
        max_bytes: u64::MAX,
    };
}

/// Evaluates every component of `klip` over `bindings` (one per binding, in order) with the
/// viewer's `variables`, at `now`, each component within `budget` (whose cancellation flag,
/// once set, stops the whole render) and all of them together within `total`: a component
/// that would go past what the earlier ones left fails with the render's budget as reason.
pub fn render(
    klip: &Klip,
    bindings: Vec<BoundData>,
    variables: BTreeMap<String, String>,
    now: DateTime<Utc>,
    budget: &Budget,
    total: RenderBudget,
) -> Rendering {
    let freshness = bindings
        .iter()
        .enumerate()
        .map(|(index, bound)| Freshness {
            binding_index: index,
            data_source_id: bound.data_source_id,
            instance_key: bound.instance_key.clone(),
            fetched_at: bound.state.fetched_at(),
        })
        .collect();
    let problems: Vec<Option<String>> = bindings
        .iter()
        .enumerate()
        .map(|(index, bound)| bound.state.problem(index))
        .collect();
    let context = EvalContext {
        bindings: bindings
            .into_iter()
            .map(|bound| match bound.state {
                BindingState::Cached { data, .. } => Some(data),
                _ => None,
            })
            .collect(),
        variables,
        now,
    };
    let mut steps = 0;
    let mut bytes = 0;
    let mut room = MAX_RENDER_VALUE_BYTES;
    let mut components = Vec::with_capacity(klip.definition.components.len());
    for component in &klip.definition.components {
        let left = Budget {
            max_steps: budget.max_steps.min(total.max_steps.saturating_sub(steps)),
            max_bytes: budget.max_bytes.min(total.max_bytes.saturating_sub(bytes)),
            cancel: budget.cancel.clone(),
        };
        let (outcome, spent) = evaluate_component(&component.formula, &problems, &context, &left);
        steps += spent.steps;
        bytes += spent.bytes;
        let outcome = outcome.map_err(|failure| failure.within(budget, &left, total));
        let outcome = match outcome {
            Err(Failure::Cancelled) => {
                return Rendering {
                    outcome: Err(Cancelled),
                    steps,
                };
            }
            Err(Failure::Error(error) | Failure::Budget(_, error)) => Err(error),
            Ok(values) => fit(values, &mut room),
        };
        components.push(match outcome {
            Ok(values) => ComponentResult {
                name: component.name.clone(),
                values,
                error: String::new(),
            },
            Err(error) => ComponentResult {
                name: component.name.clone(),
                values: vec![],
                error,
            },
        });
    }
    Rendering {
        outcome: Ok(Render {
            klip_id: klip.id,
            klip_version: klip.version,
            components,
            freshness,
            rendered_at: now,
        }),
        steps,
    }
}

/// `values` when they fit in what is left of the render's room for values.
fn fit(values: Vec<serde_json::Value>, room: &mut usize) -> Result<Vec<serde_json::Value>, String> {
    let size: usize = values.iter().map(wire_bytes).sum();
    if size > *room {
        return Err(format!(
            "the values take {size} bytes, more than the {room} bytes left of the \
             {MAX_RENDER_VALUE_BYTES} that one render returns"
        ));
    }
    *room -= size;
    Ok(values)
}

enum Failure {
    Error(String),
    /// Out of the steps or bytes of `left`.
    Budget(ErrorKind, String),
    Cancelled,
}

impl Failure {
    /// A budget failure names the render's budget when that, not the component's own, was
    /// what ran out.
    fn within(self, own: &Budget, left: &Budget, total: RenderBudget) -> Failure {
        match self {
            Failure::Budget(ErrorKind::Steps, _) if left.max_steps < own.max_steps => {
                Failure::Error(format!(
                    "the render's components together take more than {} steps (the \
                     render's step budget)",
                    total.max_steps
                ))
            }
            Failure::Budget(ErrorKind::Bytes, _) if left.max_bytes < own.max_bytes => {
                Failure::Error(format!(
                    "the render's components together build more than {} bytes of values \
                     (the render's byte budget)",
                    total.max_bytes
                ))
            }
            Failure::Budget(_, message) => Failure::Error(message),
            other => other,
        }
    }
}

fn evaluate_component(
    formula: &str,
    problems: &[Option<String>],
    context: &EvalContext,
    budget: &Budget,
) -> (Result<Vec<serde_json::Value>, Failure>, Usage) {
    // Formulas were parsed at save; one that no longer parses (a stricter engine) fails
    // alone.
    let formula = match parse(formula) {
        Ok(formula) => formula,
        Err(error) => {
            let message = format!(
                "the formula does not parse at line {}, column {}: {}",
                error.line, error.column, error.message
            );
            return (Err(Failure::Error(message)), Usage::default());
        }
    };
    for index in formula.bindings() {
        if let Some(Some(problem)) = problems.get(index) {
            return (Err(Failure::Error(problem.clone())), Usage::default());
        }
    }
    let (value, usage) = evaluate_within(&formula, context, budget);
    let outcome = match value {
        Ok(value) => match value.to_json() {
            serde_json::Value::Array(values) => Ok(values),
            single => Ok(vec![single]),
        },
        Err(error) => match error.kind() {
            ErrorKind::Cancelled => Err(Failure::Cancelled),
            kind @ (ErrorKind::Steps | ErrorKind::Bytes) => {
                Err(Failure::Budget(kind, error.message().to_owned()))
            }
            _ => Err(Failure::Error(error.message().to_owned())),
        },
    };
    (outcome, usage)
}

#[cfg(test)]
mod tests;
