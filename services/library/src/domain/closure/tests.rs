use std::collections::BTreeSet;

use super::*;
use crate::domain::data_source::Auth;
use crate::domain::fixtures;

#[test]
fn a_dashboard_brings_its_klips_their_sources_variables_and_secrets() {
    let mut graph = AssetGraph::default();
    let credential = Uuid::now_v7();
    let token = Uuid::now_v7();
    let a = fixtures::data_source(
        &mut graph,
        "https://x/{props.companyID}/{props.region}",
        Auth::Credential(credential),
    );
    let b = fixtures::data_source(&mut graph, "https://y/", Auth::OauthToken(token));
    let unused = fixtures::data_source(&mut graph, "https://z/", Auth::None);
    let k1 = fixtures::klip(&mut graph, &[Some(a), Some(b)], &["rate"]);
    let k2 = fixtures::klip(&mut graph, &[Some(b), None], &[]);
    let board = fixtures::dashboard(&mut graph, &[k1, k2]);

    let selection = Selection::from_refs(&[AssetRef {
        kind: AssetKind::Dashboard,
        id: board,
    }]);
    let defined: BTreeSet<String> = ["companyID".to_owned()].into();
    let closure = Closure::compute(&selection, &graph, &defined);

    let kinds: Vec<_> = closure.entries.iter().map(|e| e.asset.kind).collect();
    assert_eq!(
        kinds,
        [
            AssetKind::DataSource,
            AssetKind::DataSource,
            AssetKind::Klip,
            AssetKind::Klip,
            AssetKind::Dashboard
        ]
    );
    assert!(!closure.assets().any(|a| a.id == unused));
    let selected: Vec<_> = closure.entries.iter().filter(|e| e.selected).collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0].asset.id, board);
    assert_eq!(closure.variables, ["companyID", "rate"]);
    assert_eq!(closure.template_properties, ["companyID", "region"]);
    assert_eq!(closure.credential_ids, [credential]);
    assert_eq!(closure.token_ids, [token]);
    assert_eq!(
        closure.missing,
        [MissingAsset {
            kind: AssetKind::DataSource,
            id: None
        }]
    );
}

#[test]
fn unknown_selections_are_missing() {
    let graph = AssetGraph::default();
    let id = Uuid::now_v7();
    let selection = Selection::from_refs(&[AssetRef {
        kind: AssetKind::Klip,
        id,
    }]);
    let closure = Closure::compute(&selection, &graph, &BTreeSet::new());
    assert!(closure.entries.is_empty());
    assert_eq!(
        closure.missing,
        [MissingAsset {
            kind: AssetKind::Klip,
            id: Some(id)
        }]
    );
}
