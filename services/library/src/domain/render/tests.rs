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
        state: BindingState::Cached {
            data: Arc::new(data),
            fetched_at,
        },
    }
}

fn bound(state: BindingState) -> BoundData {
    BoundData {
        data_source_id: Some(Uuid::nil()),
        instance_key: "key".into(),
        state,
    }
}

fn rendered(
    klip: &Klip,
    bindings: Vec<BoundData>,
    variables: BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Render {
    render(
        klip,
        bindings,
        variables,
        now,
        &Budget::default(),
        RenderBudget::UNLIMITED,
    )
    .outcome
    .expect("not cancelled")
}

fn errors(render: &Render) -> Vec<&str> {
    render.components.iter().map(|c| c.error.as_str()).collect()
}

#[test]
fn components_evaluate_over_the_bindings_with_variables_and_the_clock() {
    let now = Utc::now();
    let fetched = now - chrono::Duration::minutes(5);
    let sales = Data::Json(json!({"orders": [{"total": 10}, {"total": 32.5}]}));
    let regions = Data::Csv {
        headers: vec!["Region".into(), "Amount".into()],
        rows: [["EU", "3"], ["US", "4"], ["EU", "5"]]
            .iter()
            .map(|row| row.iter().map(|cell| cell.to_string()).collect())
            .collect(),
    };
    let klip = klip(
        &[
            "SUM(@0.orders.total) * $rate",
            "SUMBY(@1.Amount, @1.Region)",
            "YEAR(TODAY())",
        ],
        2,
    );
    let variables = [("rate".to_owned(), "2".to_owned())].into();
    let render = rendered(
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
    let render = rendered(
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
    let render = rendered(
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
                fetched_at: Some(now),
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
    let render = rendered(
        &klip(&["[1, \"a\", null, true]"], 0),
        vec![],
        BTreeMap::new(),
        now,
    );
    let stored = serde_json::to_value(&render).unwrap();
    assert_eq!(serde_json::from_value::<Render>(stored).unwrap(), render);
}

#[test]
fn a_component_past_its_budget_fails_alone_with_the_reason() {
    let now = Utc::now();
    let text = Data::Json(json!({ "t": "x".repeat(1000) }));
    let klip = klip(
        &["CONCAT(@0.t, @0.t, @0.t)", "LEN(@0.t)", "SUM([1, 2, 3])"],
        1,
    );
    let budget = Budget {
        max_steps: 50,
        max_bytes: 2500,
        cancel: None,
    };
    let rendering = render(
        &klip,
        vec![cached(text, now)],
        BTreeMap::new(),
        now,
        &budget,
        RenderBudget::UNLIMITED,
    );
    let render = rendering.outcome.unwrap();
    let errors = errors(&render);
    assert!(errors[0].contains("byte budget"), "{}", errors[0]);
    assert_eq!(errors[1], "");
    assert_eq!(render.components[1].values, [json!(1000)]);
    assert_eq!(render.components[2].values, [json!(6)]);
    assert!(rendering.steps > 0);
}

#[test]
fn a_cancelled_render_renders_nothing() {
    let now = Utc::now();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let budget = Budget {
        cancel: Some(flag),
        ..Budget::default()
    };
    let rendering = render(
        &klip(&["1 + 1"], 0),
        vec![],
        BTreeMap::new(),
        now,
        &budget,
        RenderBudget::UNLIMITED,
    );
    assert_eq!(rendering.outcome.unwrap_err(), Cancelled);
}

#[test]
fn components_past_the_room_of_a_render_have_an_error_instead() {
    let now = Utc::now();
    let third = MAX_RENDER_VALUE_BYTES / 3;
    let text = Data::Json(json!({ "t": "x".repeat(third) }));
    let klip = klip(&["@0.t", "@0.t", "@0.t", "LEN(@0.t)"], 1);
    let render = rendered(&klip, vec![cached(text, now)], BTreeMap::new(), now);
    let errors = errors(&render);
    assert_eq!(errors[..2], ["", ""]);
    assert!(
        errors[2].contains("that one render returns"),
        "{}",
        errors[2]
    );
    assert!(render.components[2].values.is_empty());
    // What still fits is rendered.
    assert_eq!(render.components[3].values, [json!(third)]);
}

#[test]
fn the_components_of_a_render_share_its_budget() {
    let now = Utc::now();
    let numbers: Vec<u32> = (0..1000).collect();
    let data = Data::Json(json!({ "n": numbers }));
    let formulas = ["SUM(@0.n)"; 5];
    let alone = render(
        &klip(&formulas[..1], 1),
        vec![cached(data.clone(), now)],
        BTreeMap::new(),
        now,
        &Budget::default(),
        RenderBudget::UNLIMITED,
    )
    .steps;
    // Room for two and a half components: each fits its own budget, but the third one runs
    // out of what the first two left, and the later ones have nothing left.
    let total = RenderBudget {
        max_steps: alone * 5 / 2,
        max_bytes: u64::MAX,
    };
    let rendering = render(
        &klip(&formulas, 1),
        vec![cached(data, now)],
        BTreeMap::new(),
        now,
        &Budget::default(),
        total,
    );
    // The render stops near its budget (a step that goes past it is counted whole), far
    // below the five components' worth it would take alone.
    assert!(
        rendering.steps < alone * 3,
        "{} of {alone}",
        rendering.steps
    );
    let render = rendering.outcome.unwrap();
    let errors = errors(&render);
    assert_eq!(errors[..2], ["", ""]);
    assert_eq!(render.components[1].values, [json!(499_500)]);
    for error in &errors[2..] {
        assert_eq!(
            *error,
            format!(
                "the render's components together take more than {} steps (the render's \
                 step budget)",
                total.max_steps
            )
        );
    }
}

#[test]
fn the_components_of_a_render_share_its_byte_budget() {
    let now = Utc::now();
    let text = Data::Json(json!({ "t": "x".repeat(1000) }));
    let total = RenderBudget {
        max_steps: u64::MAX,
        max_bytes: 2500,
    };
    let rendering = render(
        &klip(&["LEN(@0.t)", "LEN(@0.t)", "LEN(@0.t)"], 1),
        vec![cached(text, now)],
        BTreeMap::new(),
        now,
        &Budget::default(),
        total,
    );
    let render = rendering.outcome.unwrap();
    let errors = errors(&render);
    assert_eq!(errors[..2], ["", ""]);
    assert!(
        errors[2].ends_with("(the render's byte budget)"),
        "{}",
        errors[2]
    );
}
