//! Rendering a Klip (DESIGN.md section 8): every component's formula evaluated over the
//! cached data of the Klip's bindings, resolved for the viewing account and user (I13). A
//! component that cannot be evaluated carries its own error; the others still render.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trellis_formula::{Data, EvalContext, evaluate, parse};
use uuid::Uuid;

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
    /// Cached data that does not read as its format (why).
    Unreadable {
        reason: String,
        fetched_at: DateTime<Utc>,
    },
    Cached {
        data: Data,
        fetched_at: DateTime<Utc>,
    },
}

impl BindingState {
    fn fetched_at(&self) -> Option<DateTime<Utc>> {
        match self {
            BindingState::Cached { fetched_at, .. }
            | BindingState::Unreadable { fetched_at, .. } => Some(*fetched_at),
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

/// Evaluates every component of `klip` over `bindings` (one per binding, in order) with the
/// viewer's `variables`, at `now`.
pub fn render(
    klip: &Klip,
    bindings: Vec<BoundData>,
    variables: BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Render {
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
    let components = klip
        .definition
        .components
        .iter()
        .map(|component| {
            let outcome = evaluate_component(&component.formula, &problems, &context);
            match outcome {
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
            }
        })
        .collect();
    Render {
        klip_id: klip.id,
        klip_version: klip.version,
        components,
        freshness,
        rendered_at: now,
    }
}

fn evaluate_component(
    formula: &str,
    problems: &[Option<String>],
    context: &EvalContext,
) -> Result<Vec<serde_json::Value>, String> {
    // Formulas were parsed at save; one that no longer parses (a stricter engine) fails
    // alone.
    let formula = parse(formula).map_err(|error| {
        format!(
            "the formula does not parse at line {}, column {}: {}",
            error.line, error.column, error.message
        )
    })?;
    for index in formula.bindings() {
        if let Some(Some(problem)) = problems.get(index) {
            return Err(problem.clone());
        }
    }
    let value = evaluate(&formula, context).map_err(|error| error.message().to_owned())?;
    match value.to_json() {
        serde_json::Value::Array(values) => Ok(values),
        single => Ok(vec![single]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::klip::{Component, KlipDefinition};
    use serde_json::json;

    fn klip(formulas: &[&str], bindings: usize) -> Klip {
        Klip {
            id: Uuid::now_v7(),
            account_id: Uuid::now_v7(),
            definition: KlipDefinition {
                name: "Sales".into(),
                components: formulas
                    .iter()
                    .enumerate()
                    .map(|(i, formula)| Component {
                        name: format!("c{i}"),
                        formula: (*formula).into(),
                    })
                    .collect(),
                bindings: vec![Some(Uuid::nil()); bindings],
            },
            variables: vec![],
            version: 4,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn cached(data: Data, fetched_at: DateTime<Utc>) -> BoundData {
        BoundData {
            data_source_id: Some(Uuid::nil()),
            instance_key: "key".into(),
            state: BindingState::Cached { data, fetched_at },
        }
    }

    fn bound(state: BindingState) -> BoundData {
        BoundData {
            data_source_id: Some(Uuid::nil()),
            instance_key: "key".into(),
            state,
        }
    }

    fn errors(render: &Render) -> Vec<&str> {
        render.components.iter().map(|c| c.error.as_str()).collect()
    }

    #[test]
    fn components_evaluate_over_the_bindings_with_variables_and_the_clock() {
        let now = Utc::now();
        let fetched = now - chrono::Duration::minutes(5);
        let sales = Data::Json(json!({"orders": [{"total": 10}, {"total": 32.5}]}));
        let regions = Data::parse_csv("Region,Amount\nEU,3\nUS,4\nEU,5\n").unwrap();
        let klip = klip(
            &[
                "SUM(@0.orders.total) * $rate",
                "SUMBY(@1.Amount, @1.Region)",
                "YEAR(TODAY())",
            ],
            2,
        );
        let variables = [("rate".to_owned(), "2".to_owned())].into();
        let render = render(
            &klip,
            vec![cached(sales, fetched), cached(regions, fetched)],
            variables,
            now,
        );
        assert_eq!(render.klip_version, 4);
        assert_eq!(render.rendered_at, now);
        assert_eq!(render.components[0].values, [json!(85)]);
        assert_eq!(render.components[1].values, [json!(8), json!(4)]);
        assert_eq!(
            render.components[2].values,
            [json!(now.format("%Y").to_string().parse::<i64>().unwrap())]
        );
        assert_eq!(errors(&render), ["", "", ""]);
        assert_eq!(
            render.freshness[1].age(now),
            Some(chrono::Duration::minutes(5))
        );
    }

    #[test]
    fn a_failing_component_has_its_error_and_the_others_still_render() {
        let now = Utc::now();
        let data = Data::Json(json!({"items": [{"n": 1}, {"n": "abc"}]}));
        let klip = klip(
            &["COUNT(@0.items)", "SUM(@0.items.n)", "$missing", "@1.x"],
            2,
        );
        let render = render(
            &klip,
            vec![cached(data, now), bound(BindingState::NoData)],
            BTreeMap::new(),
            now,
        );
        assert_eq!(render.components[0].values, [json!(2)]);
        let errors = errors(&render);
        assert_eq!(errors[0], "");
        assert!(
            errors[1].contains("SUM: expected a number"),
            "{}",
            errors[1]
        );
        assert_eq!(errors[2], "variable $missing is not set");
        assert_eq!(errors[3], "binding @1 has no data yet");
        assert_eq!(render.freshness[1].fetched_at, None);
        assert_eq!(render.freshness[1].age(now), None);
    }

    #[test]
    fn bindings_without_an_instance_say_why() {
        let now = Utc::now();
        let klip = klip(&["@0.a", "@1.a", "@2.a", "@3.a", "1 + 1"], 4);
        let render = render(
            &klip,
            vec![
                BoundData {
                    data_source_id: None,
                    instance_key: String::new(),
                    state: BindingState::Dangling,
                },
                bound(BindingState::Unresolved(vec!["region".into()])),
                bound(BindingState::Unresolvable(
                    "a header cannot carry it".into(),
                )),
                bound(BindingState::Unreadable {
                    reason: "CSV line 2: quoted field is not closed".into(),
                    fetched_at: now,
                }),
            ],
            BTreeMap::new(),
            now,
        );
        let errors = errors(&render);
        assert_eq!(
            errors[0],
            "binding @0 is not bound: its data source was deleted"
        );
        assert!(errors[1].contains("{props.region}"), "{}", errors[1]);
        assert_eq!(errors[2], "binding @2: a header cannot carry it");
        assert!(errors[3].contains("cannot be read"), "{}", errors[3]);
        assert_eq!(render.components[4].values, [json!(2)]);
        assert_eq!(render.freshness[3].fetched_at, Some(now));
    }

    #[test]
    fn a_render_survives_the_render_cache_as_json() {
        let now = Utc::now();
        let render = render(
            &klip(&["[1, \"a\", null, true]"], 0),
            vec![],
            BTreeMap::new(),
            now,
        );
        let stored = serde_json::to_value(&render).unwrap();
        assert_eq!(serde_json::from_value::<Render>(stored).unwrap(), render);
    }
}
