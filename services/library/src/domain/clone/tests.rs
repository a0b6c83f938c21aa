use std::collections::BTreeSet;

use super::*;
use crate::domain::data_source::Auth;
use crate::domain::fixtures;
use trellis_platform::ApiError;

fn refs(kind: AssetKind, ids: &[Uuid]) -> Vec<AssetRef> {
    ids.iter().map(|id| AssetRef { kind, id: *id }).collect()
}

#[test]
fn references_are_rewritten_to_the_copies() {
    let mut graph = AssetGraph::default();
    let a = fixtures::data_source(&mut graph, "https://x/", Auth::None);
    let k = fixtures::klip(&mut graph, &[Some(a), None], &[]);
    let d = fixtures::dashboard(&mut graph, &[k]);
    let mut requested = refs(AssetKind::DataSource, &[a]);
    requested.extend(refs(AssetKind::Klip, &[k]));
    requested.extend(refs(AssetKind::Dashboard, &[d]));
    let closure = Closure::compute(&Selection::from_refs(&requested), &graph, &BTreeSet::new());
    let reused = Uuid::now_v7();
    let plan = ClonePlan::new(
        &requested,
        &graph,
        &closure,
        &[(k, reused)].into(),
        Uuid::now_v7,
    )
    .unwrap();

    assert_eq!(plan.mappings.len(), 3);
    assert_eq!(plan.reused, [reused].into());
    let new_a = plan.destination(AssetKind::DataSource, a).unwrap();
    assert_ne!(new_a, a);
    assert_eq!(plan.destination(AssetKind::Klip, k), Some(reused));
    let klip = plan.klip(&graph.klips[&k].definition);
    assert_eq!(klip.bindings, [Some(new_a), None]);
    let board = plan.dashboard(&graph.dashboards[&d].definition);
    assert_eq!(board.klip_ids, [reused]);
}

#[test]
fn an_open_selection_is_refused_naming_the_dependency() {
    let mut graph = AssetGraph::default();
    let a = fixtures::data_source(&mut graph, "https://x/", Auth::None);
    let k = fixtures::klip(&mut graph, &[Some(a)], &[]);
    let requested = refs(AssetKind::Klip, &[k]);
    let closure = Closure::compute(&Selection::from_refs(&requested), &graph, &BTreeSet::new());
    let error =
        ClonePlan::new(&requested, &graph, &closure, &BTreeMap::new(), Uuid::now_v7).unwrap_err();
    let ApiError::InvalidArgument(violations) = error else {
        panic!("expected invalid argument")
    };
    assert_eq!(violations[0].field, "assets");
    assert!(violations[0].description.contains(&a.to_string()));
}

#[test]
fn unknown_assets_and_stray_reuse_ids_are_refused() {
    let graph = AssetGraph::default();
    let ghost = Uuid::now_v7();
    let requested = refs(AssetKind::DataSource, &[ghost]);
    let closure = Closure::compute(&Selection::from_refs(&requested), &graph, &BTreeSet::new());
    let stray = Uuid::now_v7();
    let error = ClonePlan::new(
        &requested,
        &graph,
        &closure,
        &[(stray, Uuid::now_v7())].into(),
        Uuid::now_v7,
    )
    .unwrap_err();
    let ApiError::InvalidArgument(violations) = error else {
        panic!("expected invalid argument")
    };
    let fields: Vec<_> = violations.iter().map(|v| v.field.clone()).collect();
    assert_eq!(
        fields,
        ["assets[0]".to_owned(), format!("reuse_ids[{stray}]")]
    );
}
