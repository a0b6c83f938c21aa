//! Dependency closures (I3, I4) and clones (I5, I7): exact copies with rewritten references,
//! variables merged by name, idempotent under the request id, inside one family only.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod copies;
mod locks;
mod rules;

use std::collections::HashMap;

use common::registry::start_with_tokens;
use common::{
    Library, auth_credential, auth_token, dashboard_of, failure, json_source, klip_of, start,
    violations, with,
};
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

/// A partner's dashboard of 10 Klips over 5 data sources (one using the partner's OAuth
/// token, one its credential), plus assets outside it.
struct Master {
    dashboard: pb::Dashboard,
    klips: Vec<pb::Klip>,
    sources: Vec<pb::DataSource>,
    token_id: Uuid,
    credential_id: Uuid,
}

async fn variable(library: &Library, account: Uuid, name: &str, default: &str) {
    library
        .client()
        .create_variable(with(
            &tokens::admin(account),
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: name.into(),
                    default_value: default.into(),
                    description: format!("the {name}"),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("CreateVariable");
}

async fn master(library: &Library, partner: Uuid) -> Master {
    let editor = tokens::editor(partner);
    // The partner's own token and credential (the library runs with the token registry).
    let token_id = library.oauth_token(partner).await;
    let credential_id = library.credential(partner).await;
    variable(library, partner, "companyID", "all").await;
    variable(library, partner, "year", "2026").await;
    variable(library, partner, "unused", "x").await;

    let mut sources = vec![];
    for i in 0..5 {
        let url = if i == 2 {
            "https://api.example.com/sales?company={props.companyID}&profile={props.gaProfile}"
                .to_owned()
        } else {
            format!("https://api.example.com/feed/{i}")
        };
        let mut source = json_source(None, &format!("Source {i}"), &url);
        source.auth = match i {
            0 => auth_token(token_id),
            1 => auth_credential(credential_id),
            _ => None,
        };
        sources.push(library.data_source(&editor, source).await);
    }
    let mut klips = vec![];
    for i in 0..10 {
        let formula = if i % 2 == 0 {
            "SUM(@0.amount) + SUM(@1.amount)"
        } else {
            "@0.amount & $year"
        };
        let bindings = [&sources[i % 5].id, &sources[(i + 1) % 5].id];
        let klip = klip_of(
            None,
            &format!("Klip {i}"),
            &[formula],
            &bindings.map(String::as_str),
        );
        klips.push(library.klip(&editor, klip).await);
    }
    let ids: Vec<&str> = klips.iter().map(|k| k.id.as_str()).collect();
    let dashboard = library
        .dashboard(&editor, dashboard_of(None, "Agency overview", &ids))
        .await;
    // Not part of the dashboard: must never be copied.
    let stray = library
        .data_source(
            &editor,
            json_source(None, "Stray", "https://stray.example.com/"),
        )
        .await;
    library
        .klip(&editor, klip_of(None, "Stray", &["@0.a"], &[&stray.id]))
        .await;
    Master {
        dashboard,
        klips,
        sources,
        token_id,
        credential_id,
    }
}

fn dashboard_ref(id: &str) -> pb::AssetRef {
    pb::AssetRef {
        kind: pb::AssetKind::Dashboard as i32,
        id: id.into(),
    }
}

async fn closure(
    library: &Library,
    account: Uuid,
    dashboard: &str,
) -> pb::GetDependencyClosureResponse {
    library
        .client()
        .get_dependency_closure(with(
            &tokens::admin(account),
            pb::GetDependencyClosureRequest {
                account_id: String::new(),
                assets: vec![dashboard_ref(dashboard)],
            },
        ))
        .await
        .expect("GetDependencyClosure")
        .into_inner()
}

fn clone_request(
    request_id: &str,
    source: Uuid,
    destination: Uuid,
    assets: Vec<pb::AssetRef>,
) -> pb::CloneAssetsRequest {
    pb::CloneAssetsRequest {
        request_id: request_id.into(),
        source_account_id: source.to_string(),
        destination_account_id: destination.to_string(),
        assets,
        reuse_ids: HashMap::new(),
    }
}

fn all_assets(closure: &pb::GetDependencyClosureResponse) -> Vec<pb::AssetRef> {
    closure
        .assets
        .iter()
        .map(|a| a.asset.clone().expect("a closure entry names its asset"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_closure_of_a_dashboard_lists_everything_it_needs() {
    let library = start_with_tokens().await;
    let family = library.family().await;
    let master = master(&library, family.partner).await;
    let found = closure(&library, family.partner, &master.dashboard.id).await;

    let kinds: Vec<i32> = found
        .assets
        .iter()
        .map(|a| a.asset.as_ref().unwrap().kind)
        .collect();
    let expected: Vec<i32> = [pb::AssetKind::DataSource; 5]
        .into_iter()
        .chain([pb::AssetKind::Klip; 10])
        .chain([pb::AssetKind::Dashboard])
        .map(|k| k as i32)
        .collect();
    assert_eq!(
        kinds, expected,
        "data sources, then Klips, then the dashboard"
    );
    let selected: Vec<_> = found.assets.iter().filter(|a| a.selected).collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0].asset.as_ref().unwrap().id, master.dashboard.id);
    assert_eq!(selected[0].dependencies.len(), 10);
    // I4: formula variables, and template properties the partner defines as variables.
    assert_eq!(found.variables, ["companyID", "year"]);
    assert_eq!(found.template_properties, ["companyID", "gaProfile"]);
    assert_eq!(found.token_ids, [master.token_id.to_string()]);
    assert_eq!(found.credential_ids, [master.credential_id.to_string()]);
    assert!(found.missing_assets.is_empty());
    let templated = found
        .assets
        .iter()
        .find(|a| a.asset.as_ref().unwrap().id == master.sources[2].id)
        .unwrap();
    assert_eq!(templated.fingerprint, master.sources[2].fingerprint);
    assert_eq!(templated.template_properties, ["companyID", "gaProfile"]);

    // A Klip alone brings its data sources; an unknown id is reported missing.
    let ghost = Uuid::now_v7().to_string();
    let klip_only = library
        .client()
        .get_dependency_closure(with(
            &tokens::viewer(family.partner),
            pb::GetDependencyClosureRequest {
                account_id: String::new(),
                assets: vec![
                    pb::AssetRef {
                        kind: pb::AssetKind::Klip as i32,
                        id: master.klips[0].id.clone(),
                    },
                    pb::AssetRef {
                        kind: pb::AssetKind::DataSource as i32,
                        id: ghost.clone(),
                    },
                ],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(klip_only.assets.len(), 3);
    assert_eq!(klip_only.missing_assets.len(), 1);
    assert_eq!(klip_only.missing_assets[0].id, ghost);
}
